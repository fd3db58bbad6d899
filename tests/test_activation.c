/* relu, relu6, sigmoid and add through ops.h and the tape: parity with
 * PyTorch (act(x) + other, forward and both gradients). The backend contract
 * and finite differences of the activations (and of add's forward) live in
 * tests/backend_ops. */
#include <stdio.h>
#include <stdlib.h>

#include "test_util.h"

#define TORCH_TOL 1e-4

static facs_tensor *apply(facs_ctx *ctx, int act, facs_tensor *x)
{
    switch (act) {
    case FACS_ACT_RELU:
        return facs_relu(ctx, x);
    case FACS_ACT_RELU6:
        return facs_relu6(ctx, x);
    default:
        return facs_sigmoid(ctx, x);
    }
}

static void torch_parity(facs_ctx *ctx, h5_file *ref)
{
    char name[64];
    for (int k = 0;; k++) {
        snprintf(name, sizeof name, "/case%d", k);
        if (!h5_exists(ref, name))
            break;
        int act = (int)h5_attr_int(ref, name, "act", -1);
        int rank;
        size_t dims[8], count;
        char path[96];
        snprintf(path, sizeof path, "%s/x", name);
        free(h5_read_f32(ref, path, &rank, dims));
        if (!CHECK(rank == 4, "%s/x has rank %d, expected 4", name, rank))
            continue;
        float *x, *other, *y, *dy, *dx, *dother;
#define LOAD(var)                                        \
    snprintf(path, sizeof path, "%s/" #var, name);       \
    var = test_ref(ref, path, &count);
        LOAD(x) LOAD(other) LOAD(y) LOAD(dy) LOAD(dx) LOAD(dother)
#undef LOAD
        int n = (int)dims[0], c = (int)dims[1], h = (int)dims[2], w = (int)dims[3];
        facs_ctx_begin_step(ctx);
        facs_tensor *tx = test_tensor(ctx, n, c, h, w, x), *to = test_tensor(ctx, n, c, h, w, other);
        tx->requires_grad = to->requires_grad = 1;
        facs_tensor *ty = facs_add(ctx, apply(ctx, act, tx), to);
        if (CHECK_PTR(ty) && CHECK_OK(facs_backward(ctx, ty, test_tensor(ctx, n, c, h, w, dy)))) {
            float *got_y = test_nchw(ty), *got_dx = test_grad_nchw(tx), *got_do = test_grad_nchw(to);
            char what[96];
            snprintf(what, sizeof what, "%s act %d forward vs torch", name, act);
            test_close_f(what, got_y, y, count, TORCH_TOL);
            snprintf(what, sizeof what, "%s act %d dx vs torch", name, act);
            test_close_f(what, got_dx, dx, count, TORCH_TOL);
            snprintf(what, sizeof what, "%s act %d d(other) vs torch", name, act);
            test_close_f(what, got_do, dother, count, TORCH_TOL);
            free(got_y), free(got_dx), free(got_do);
        }
        free(x), free(other), free(y), free(dy), free(dx), free(dother);
    }
}

int main(int argc, char **argv)
{
    h5_file *ref = test_open_ref(argc, argv);
    facs_ctx *ctx = facs_ctx_create(FACS_DEVICE_CPU);
    torch_parity(ctx, ref);
    facs_ctx_free(ctx);
    h5_close(ref);
    return test_finish();
}
