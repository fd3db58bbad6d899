/* relu, relu6, sigmoid and add: finite differences in double precision
 * against naive references, and parity with PyTorch (act(x) + other). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "test_util.h"

/* Float32 elementwise results differ from double by rounding only. */
#define FORWARD_TOL 1e-6
/* Central differences with eps 1e-6 in double are exact to ~1e-9; the float
 * backward adds rounding of ~1e-7 relative. */
#define GRAD_TOL 1e-5
#define TORCH_TOL 1e-4

static double naive_act(int act, double x)
{
    switch (act) {
    case FACS_ACT_RELU:
        return x > 0 ? x : 0;
    case FACS_ACT_RELU6:
        return x < 0 ? 0 : x > 6 ? 6 : x;
    default:
        return 1.0 / (1.0 + exp(-x));
    }
}

typedef struct {
    int act;
    const double *r; /* weights of the loss sum_i r_i act(x_i) */
    size_t count;
} loss_args;

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

static double loss_of(const double *x, void *user)
{
    const loss_args *a = user;
    double s = 0.0;
    for (size_t i = 0; i < a->count; i++)
        s += a->r[i] * naive_act(a->act, x[i]);
    return s;
}

static void gradcheck(facs_ctx *ctx, int act, int n, int c, int h, int w)
{
    size_t count = (size_t)n * c * h * w;
    float *x = test_alloc(count), *r = test_alloc(count);
    test_fill(x, count, -8, 8);
    test_fill(r, count, -1, 1);
    facs_ctx_begin_step(ctx);
    facs_tensor *tx = test_tensor(ctx, n, c, h, w, x);
    tx->requires_grad = 1;
    facs_tensor *y = apply(ctx, act, tx);
    facs_tensor *dy = test_tensor(ctx, n, c, h, w, r);
    if (CHECK_PTR(y) && CHECK_OK(facs_backward(ctx, y, dy))) {
        double *xd = test_to_double(x, count), *rd = test_to_double(r, count);
        double *want_y = malloc(count * sizeof *want_y), *want_dx = malloc(count * sizeof *want_dx);
        for (size_t i = 0; i < count; i++)
            want_y[i] = naive_act(act, xd[i]);
        loss_args args = {act, rd, count};
        test_fd_gradient(loss_of, xd, count, &args, 1e-6, want_dx);
        float *got_y = test_nchw(y), *got_dx = test_grad_nchw(tx);
        char what[96];
        snprintf(what, sizeof what, "act %d (%d,%d,%d,%d) forward vs double", act, n, c, h, w);
        test_close_d(what, got_y, want_y, count, FORWARD_TOL);
        snprintf(what, sizeof what, "act %d (%d,%d,%d,%d) backward vs finite differences", act, n, c, h, w);
        test_close_d(what, got_dx, want_dx, count, GRAD_TOL);
        free(xd), free(rd), free(want_y), free(want_dx), free(got_y), free(got_dx);
    }
    free(x), free(r);
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
    test_seed_from_env();
    facs_ctx *ctx = facs_ctx_create(FACS_DEVICE_CPU);
    const int shapes[][4] = {{1, 3, 7, 7}, {2, 5, 13, 17}, {3, 12, 4, 4}};
    for (int act = FACS_ACT_RELU; act <= FACS_ACT_SIGMOID; act++)
        for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++)
            gradcheck(ctx, act, shapes[s][0], shapes[s][1], shapes[s][2], shapes[s][3]);
    torch_parity(ctx, ref);
    facs_ctx_free(ctx);
    h5_close(ref);
    return test_finish();
}
