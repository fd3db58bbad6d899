/* batchnorm2d through ops.h and the tape: argument checks, gamma and beta
 * as activations, and parity with PyTorch over two calls (y, dx, dgamma,
 * dbeta, the running statistics in training and eval). The backend contract
 * (dx written, dgamma and dbeta accumulated, NULL gradients), the running
 * statistics of one call and finite differences live in tests/backend_ops. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "test_util.h"

#define TORCH_TOL 1e-4

/* A heap buffer tensor (not a parameter) holding per-channel values. */
static facs_tensor *buffer(int c, const float *values)
{
    facs_tensor *t = facs_tensor_create(FACS_DEVICE_CPU, FACS_F32, c, 1, 1, 1);
    if (t)
        memcpy(t->data, values, (size_t)c * sizeof(float));
    return t;
}

/* Channels get different offsets and scales so a wrong channel stride or a
 * mean taken over the wrong axis cannot go unnoticed. */
static void fill_input(float *x, int n, int c, int hw)
{
    for (int j = 0; j < c; j++) {
        double offset = test_uniform(-3, 3), scale = test_uniform(0.5, 2);
        for (int i = 0; i < n; i++)
            for (int k = 0; k < hw; k++)
                x[((size_t)i * c + j) * hw + k] = (float)(offset + scale * test_uniform(-1, 1));
    }
}

static void argument_checks(facs_ctx *ctx)
{
    float ones[8] = {1, 1, 1, 1, 1, 1, 1, 1};
    facs_tensor *gamma = test_param(4, 1, 1, 1, ones), *beta = test_param(4, 1, 1, 1, ones);
    facs_tensor *rm = buffer(4, ones), *rv = buffer(4, ones), *wrong = buffer(3, ones);
    facs_ctx_begin_step(ctx);
    facs_tensor *x = test_tensor(ctx, 2, 4, 3, 3, NULL), *single = test_tensor(ctx, 1, 4, 1, 1, ones);
    facs_batchnorm_params train = {1e-5f, 0.1f, 1}, eval = {1e-5f, 0.1f, 0};
    CHECK(!facs_batchnorm2d(ctx, x, wrong, beta, rm, rv, &train) && strstr(facs_last_error(), "gamma"),
          "bn: a 3-channel gamma on 4 channels is refused (got \"%s\")", facs_last_error());
    CHECK(!facs_batchnorm2d(ctx, x, gamma, beta, rm, wrong, &train) && strstr(facs_last_error(), "running_var"),
          "bn: a 3-channel running_var is refused (got \"%s\")", facs_last_error());
    CHECK(!facs_batchnorm2d(ctx, single, gamma, beta, rm, rv, &train),
          "bn: training on one value per channel is refused, as in PyTorch");
    CHECK(facs_batchnorm2d(ctx, single, gamma, beta, rm, rv, &eval) != NULL,
          "bn: eval on one value per channel works: %s", facs_last_error());
    facs_tensor_free(gamma), facs_tensor_free(beta), facs_tensor_free(rm), facs_tensor_free(rv);
    facs_tensor_free(wrong);
}

/* gamma and beta may be activations (requires_grad, not parameters): their
 * gradients must equal those that parameters receive, also when they feed
 * two ops (the second gradient is added by the tape, so sums are ordered
 * differently: a few float roundings). */
static void activation_affine(facs_ctx *ctx)
{
    const int n = 2, c = 5, h = 3, w = 7;
    const size_t count = (size_t)n * c * h * w;
    float *x = test_alloc(count), *dy = test_alloc(count), gv[5], bv[5];
    fill_input(x, n, c, h * w);
    test_fill(dy, count, -1, 1);
    test_fill(gv, c, 0.5, 2);
    test_fill(bv, c, -1, 1);
    float rm[5] = {0, 0, 0, 0, 0}, rv[5] = {1, 1, 1, 1, 1};
    facs_tensor *trm = buffer(c, rm), *trv = buffer(c, rv);
    facs_tensor *pg = test_param(c, 1, 1, 1, gv), *pb = test_param(c, 1, 1, 1, bv);
    float *want[2] = {NULL, NULL};
    for (int as_param = 1; as_param >= 0; as_param--) {
        facs_ctx_begin_step(ctx);
        facs_tensor *tx = test_tensor(ctx, n, c, h, w, x);
        facs_tensor *g = as_param ? pg : test_tensor(ctx, c, 1, 1, 1, gv);
        facs_tensor *b = as_param ? pb : test_tensor(ctx, c, 1, 1, 1, bv);
        g->requires_grad = b->requires_grad = 1;
        facs_tensor *y = facs_add(ctx, facs_batchnorm2d(ctx, tx, g, b, trm, trv, NULL),
                                  facs_batchnorm2d(ctx, tx, g, b, trm, trv, NULL));
        if (!CHECK_PTR(y) || !CHECK_OK(facs_backward(ctx, y, test_tensor(ctx, n, c, h, w, dy))))
            break;
        float *got_g = test_grad_nchw(g), *got_b = test_grad_nchw(b);
        if (as_param) {
            want[0] = got_g, want[1] = got_b;
            continue;
        }
        test_close_f("bn: dgamma of an activation gamma", got_g, want[0], c, 1e-6);
        test_close_f("bn: dbeta of an activation beta", got_b, want[1], c, 1e-6);
        free(got_g), free(got_b);
    }
    free(want[0]), free(want[1]), free(x), free(dy);
    facs_tensor_free(trm), facs_tensor_free(trv), facs_tensor_free(pg), facs_tensor_free(pb);
}

/* Two forward calls (x, then x2) through the same running statistics, then
 * backward of the first output: what nn.BatchNorm2d does over two steps. */
static void torch_case(facs_ctx *ctx, h5_file *ref, const char *g, void *user)
{
    (void)user;
    int rank;
    size_t dims[8], count, c_count;
    char path[96];
    snprintf(path, sizeof path, "%s/x", g);
    free(h5_read_f32(ref, path, &rank, dims));
    if (!CHECK(rank == 4, "%s/x has rank %d, expected 4", g, rank))
        return;
    int n = (int)dims[0], c = (int)dims[1], h = (int)dims[2], w = (int)dims[3];
    int training = (int)h5_attr_int(ref, g, "training", -1), explicit_params = (int)h5_attr_int(ref, g, "params", 0);
    facs_batchnorm_params p = {(float)h5_attr_double(ref, g, "eps", 0), (float)h5_attr_double(ref, g, "momentum", 0),
                               training};
    float *x = test_ref_in(ref, g, "x", &count), *x2 = test_ref_in(ref, g, "x2", NULL), *dy = test_ref_in(ref, g, "dy", NULL);
    float *gv = test_ref_in(ref, g, "gamma", &c_count), *bv = test_ref_in(ref, g, "beta", NULL);
    float *rm0 = test_ref_in(ref, g, "running_mean0", NULL), *rv0 = test_ref_in(ref, g, "running_var0", NULL);
    facs_tensor *gamma = test_param(c, 1, 1, 1, gv), *beta = test_param(c, 1, 1, 1, bv);
    facs_tensor *rm = buffer(c, rm0), *rv = buffer(c, rv0);
    facs_ctx_set_mode(ctx, training, 1);
    facs_ctx_begin_step(ctx);
    facs_tensor *tx = test_tensor(ctx, n, c, h, w, x);
    tx->requires_grad = 1;
    const facs_batchnorm_params *pp = explicit_params ? &p : NULL;
    facs_tensor *y = facs_batchnorm2d(ctx, tx, gamma, beta, rm, rv, pp);
    if (CHECK_PTR(y) && CHECK_OK(facs_backward(ctx, y, test_tensor(ctx, n, c, h, w, dy)))) {
        float *got = test_nchw(y);
        test_close_ref(ref, g, "y", "y", got, TORCH_TOL);
        free(got);
        got = test_grad_nchw(tx);
        test_close_ref(ref, g, "dx", "dx", got, TORCH_TOL);
        free(got);
        got = test_grad_nchw(gamma);
        test_close_ref(ref, g, "dgamma", "dgamma", got, TORCH_TOL);
        free(got);
        got = test_grad_nchw(beta);
        test_close_ref(ref, g, "dbeta", "dbeta", got, TORCH_TOL);
        free(got);
        test_close_ref(ref, g, "running_mean1", "running_mean after 1 call", facs_f32(rm), TORCH_TOL);
        test_close_ref(ref, g, "running_var1", "running_var after 1 call", facs_f32(rv), TORCH_TOL);
        facs_tensor *y2 = facs_batchnorm2d(ctx, test_tensor(ctx, n, c, h, w, x2), gamma, beta, rm, rv, pp);
        if (CHECK_PTR(y2)) {
            got = test_nchw(y2);
            test_close_ref(ref, g, "y2", "y of call 2", got, TORCH_TOL);
            free(got);
            test_close_ref(ref, g, "running_mean2", "running_mean after 2 calls", facs_f32(rm), TORCH_TOL);
            test_close_ref(ref, g, "running_var2", "running_var after 2 calls", facs_f32(rv), TORCH_TOL);
        }
    }
    facs_ctx_set_mode(ctx, 1, 1);
    facs_tensor_free(gamma), facs_tensor_free(beta), facs_tensor_free(rm), facs_tensor_free(rv);
    free(x), free(x2), free(dy), free(gv), free(bv), free(rm0), free(rv0);
}

int main(int argc, char **argv)
{
    h5_file *ref = test_open_ref(argc, argv);
    test_seed_from_env();
    facs_ctx *ctx = facs_ctx_create(FACS_DEVICE_CPU);
    argument_checks(ctx);
    activation_affine(ctx);
    test_each_case(ctx, ref, torch_case, NULL);
    facs_ctx_free(ctx);
    h5_close(ref);
    return test_finish();
}
