/* linear through ops.h and the tape: argument checks, w and b as
 * activations, and parity with F.linear (forward, dx, dw, db; up to a
 * ResNet-50 head and 1000 classes). The backend's =/+= contract, NULL
 * gradients and finite differences live in tests/backend_ops. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "test_util.h"

/* 2048-term sums in another order than PyTorch's differ by <= 3e-6. */
#define TORCH_TOL 1e-4

static void argument_checks(facs_ctx *ctx)
{
    facs_tensor *w = test_param(5, 12, 1, 1, NULL), *b = test_param(4, 1, 1, 1, NULL);
    facs_ctx_begin_step(ctx);
    facs_tensor *spatial = test_tensor(ctx, 2, 12, 3, 3, NULL), *x = test_tensor(ctx, 2, 12, 1, 1, NULL);
    facs_tensor *x13 = test_tensor(ctx, 2, 13, 1, 1, NULL);
    CHECK(!facs_linear(ctx, spatial, w, NULL) && strstr(facs_last_error(), "H = W = 1"),
          "linear: a (2, 12, 3, 3) input is refused with a clear message (got \"%s\")", facs_last_error());
    CHECK(!facs_linear(ctx, x13, w, NULL) && strstr(facs_last_error(), "w is"),
          "linear: IN mismatch is refused (got \"%s\")", facs_last_error());
    CHECK(!facs_linear(ctx, x, w, b) && strstr(facs_last_error(), "b is"),
          "linear: a 4-value bias for 5 outputs is refused (got \"%s\")", facs_last_error());
    facs_tensor_free(w), facs_tensor_free(b);
}

/* w and b may be activations (requires_grad, not parameters): their gradients
 * must equal those that parameters receive, also when they feed two ops (the
 * second gradient is added by the tape, so sums are ordered differently: a
 * few float roundings). */
static void activation_weights(facs_ctx *ctx)
{
    const int n = 3, in = 9, out = 4;
    float x[27], wv[36], bv[4], dy[12];
    test_fill(x, 27, -1, 1), test_fill(wv, 36, -1, 1), test_fill(bv, 4, -1, 1), test_fill(dy, 12, -1, 1);
    facs_tensor *pw = test_param(out, in, 1, 1, wv), *pb = test_param(out, 1, 1, 1, bv);
    float *want[2] = {NULL, NULL};
    for (int as_param = 1; as_param >= 0; as_param--) {
        facs_ctx_begin_step(ctx);
        facs_tensor *tx = test_tensor(ctx, n, in, 1, 1, x);
        facs_tensor *w = as_param ? pw : test_tensor(ctx, out, in, 1, 1, wv);
        facs_tensor *b = as_param ? pb : test_tensor(ctx, out, 1, 1, 1, bv);
        w->requires_grad = b->requires_grad = 1;
        facs_tensor *y = facs_add(ctx, facs_linear(ctx, tx, w, b), facs_linear(ctx, tx, w, b));
        if (!CHECK_PTR(y) || !CHECK_OK(facs_backward(ctx, y, test_tensor(ctx, n, out, 1, 1, dy))))
            break;
        float *got_w = test_grad_nchw(w), *got_b = test_grad_nchw(b);
        if (as_param) {
            want[0] = got_w, want[1] = got_b;
            continue;
        }
        test_close_f("linear: dw of an activation w", got_w, want[0], (size_t)out * in, 1e-6);
        test_close_f("linear: db of an activation b", got_b, want[1], out, 1e-6);
        free(got_w), free(got_b);
    }
    free(want[0]), free(want[1]);
    facs_tensor_free(pw), facs_tensor_free(pb);
}

static void torch_case(facs_ctx *ctx, h5_file *ref, const char *g, void *user)
{
    (void)user;
    int n = (int)h5_attr_int(ref, g, "n", 0), in = (int)h5_attr_int(ref, g, "in", 0);
    int out = (int)h5_attr_int(ref, g, "out", 0), bias = (int)h5_attr_int(ref, g, "bias", 0);
    float *x = test_ref_in(ref, g, "x", NULL), *wv = test_ref_in(ref, g, "w", NULL), *dy = test_ref_in(ref, g, "dy", NULL);
    float *bv = bias ? test_ref_in(ref, g, "b", NULL) : NULL;
    facs_tensor *w = test_param(out, in, 1, 1, wv), *b = bias ? test_param(out, 1, 1, 1, bv) : NULL;
    facs_ctx_begin_step(ctx);
    facs_tensor *tx = test_tensor(ctx, n, in, 1, 1, x);
    tx->requires_grad = 1;
    facs_tensor *y = facs_linear(ctx, tx, w, b);
    if (CHECK_PTR(y) && CHECK_OK(facs_backward(ctx, y, test_tensor(ctx, n, out, 1, 1, dy)))) {
        float *got = test_nchw(y);
        test_close_ref(ref, g, "y", "y", got, TORCH_TOL);
        free(got);
        got = test_grad_nchw(tx);
        test_close_ref(ref, g, "dx", "dx", got, TORCH_TOL);
        free(got);
        got = test_grad_nchw(w);
        test_close_ref(ref, g, "dw", "dw", got, TORCH_TOL);
        free(got);
        if (bias) {
            got = test_grad_nchw(b);
            test_close_ref(ref, g, "db", "db", got, TORCH_TOL);
            free(got);
        }
    }
    facs_tensor_free(w), facs_tensor_free(b);
    free(x), free(wv), free(dy), free(bv);
}

int main(int argc, char **argv)
{
    h5_file *ref = test_open_ref(argc, argv);
    test_seed_from_env();
    facs_ctx *ctx = facs_ctx_create(FACS_DEVICE_CPU);
    argument_checks(ctx);
    activation_weights(ctx);
    test_each_case(ctx, ref, torch_case, NULL);
    facs_ctx_free(ctx);
    h5_close(ref);
    return test_finish();
}
