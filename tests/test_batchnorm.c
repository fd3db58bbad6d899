/* batchnorm2d through ops.h and the tape: argument checks, gamma and beta
 * as activations, and parity with PyTorch over two calls (y, dx, dgamma,
 * dbeta, the running statistics in training and eval), and the fused tail
 * act(bn(x) + residual) against the separate ops. The backend contract
 * (dx written, dgamma and dbeta accumulated, NULL gradients), the running
 * statistics of one call and finite differences live in tests/backend_ops. */
#include <math.h>
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

/* Bitwise equality, NaN equal to NaN. */
static int same_values(const float *a, const float *b, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!(a[i] == b[i] || (a[i] != a[i] && b[i] != b[i])) || signbit(a[i]) != signbit(b[i]))
            return 0;
    return 1;
}

typedef struct {
    float *y, *dx, *dgamma, *dbeta, *dres, *rm, *rv;
} tail_result;

static void tail_result_free(tail_result *r)
{
    free(r->y), free(r->dx), free(r->dgamma), free(r->dbeta), free(r->dres), free(r->rm), free(r->rv);
}

/* out = act(bn(x) + r) [+ r], fused or as the three separate ops; the outer
 * "+ r" (extra) makes r's gradient arrive in two parts. */
static tail_result run_tail(facs_ctx *ctx, int fused, int training, facs_post_act act, int residual, int extra,
                            const float *x, const float *r, const float *dy, const float *gv, const float *bv,
                            int n, int c, int h, int w)
{
    float zeros[8] = {0}, ones[8] = {1, 1, 1, 1, 1, 1, 1, 1};
    facs_tensor *gamma = test_param(c, 1, 1, 1, gv), *beta = test_param(c, 1, 1, 1, bv);
    facs_tensor *rm = buffer(c, zeros), *rv = buffer(c, ones);
    facs_batchnorm_params p = {1e-5f, 0.1f, training};
    facs_ctx_set_mode(ctx, training, 1);
    facs_ctx_begin_step(ctx);
    facs_tensor *tx = test_tensor(ctx, n, c, h, w, x), *tr = residual ? test_tensor(ctx, n, c, h, w, r) : NULL;
    tx->requires_grad = 1;
    if (tr)
        tr->requires_grad = residual == 1;
    facs_tensor *y;
    if (fused) {
        y = facs_batchnorm2d_act(ctx, tx, gamma, beta, rm, rv, &p, tr, act);
    } else {
        y = facs_batchnorm2d(ctx, tx, gamma, beta, rm, rv, &p);
        y = tr ? facs_add(ctx, y, tr) : y;
        y = act == FACS_POST_RELU ? facs_relu(ctx, y) : act == FACS_POST_RELU6 ? facs_relu6(ctx, y) : y;
    }
    facs_tensor *out = extra && tr ? facs_add(ctx, y, tr) : y;
    tail_result res = {0};
    if (CHECK_PTR(out) && CHECK_OK(facs_backward(ctx, out, test_tensor(ctx, n, c, h, w, dy)))) {
        res = (tail_result){test_nchw(y), test_grad_nchw(tx), test_grad_nchw(gamma), test_grad_nchw(beta),
                            tr && tr->requires_grad ? test_grad_nchw(tr) : NULL, test_nchw(rm), test_nchw(rv)};
    }
    facs_ctx_set_mode(ctx, 1, 1);
    facs_tensor_free(gamma), facs_tensor_free(beta), facs_tensor_free(rm), facs_tensor_free(rv);
    return res;
}

/* facs_batchnorm2d_act gives, bit for bit, the values, gradients and running
 * statistics of batchnorm2d, add and relu/relu6 run one after the other:
 * both activations and none, a residual with and without a gradient and one
 * whose gradient also arrives from elsewhere, training and eval. Inputs reach
 * both ReLU6 kinks, and one NaN in x and one in r follow PyTorch's rules. */
static void fused_tail(facs_ctx *ctx)
{
    const int n = 2, c = 5, h = 3, w = 4;
    const size_t count = (size_t)n * c * h * w;
    float *x = test_alloc(count), *r = test_alloc(count), *dy = test_alloc(count), gv[5], bv[5];
    fill_input(x, n, c, h * w);
    test_fill(r, count, -7, 7);
    test_fill(dy, count, -1, 1);
    test_fill(gv, c, 0.5, 3);
    test_fill(bv, c, -1, 1);
    const facs_post_act acts[] = {FACS_POST_NONE, FACS_POST_RELU, FACS_POST_RELU6};
    for (int nan = 0; nan < 2; nan++) {
        if (nan)
            x[7] = r[30] = NAN;
        for (int training = 0; training < 2; training++)
            for (int a = 0; a < 3; a++)
                for (int residual = 0; residual < 3; residual++) /* none, with a gradient, without */
                    for (int extra = 0; extra < 1 + (residual == 1); extra++) {
                        tail_result want = run_tail(ctx, 0, training, acts[a], residual, extra, x, r, dy, gv, bv,
                                                    n, c, h, w);
                        tail_result got = run_tail(ctx, 1, training, acts[a], residual, extra, x, r, dy, gv, bv,
                                                   n, c, h, w);
                        const char *names[] = {"y", "dx", "dgamma", "dbeta", "dresidual", "running_mean",
                                               "running_var"};
                        float *const gs[] = {got.y, got.dx, got.dgamma, got.dbeta, got.dres, got.rm, got.rv};
                        float *const ws[] = {want.y, want.dx, want.dgamma, want.dbeta, want.dres, want.rm, want.rv};
                        const size_t sizes[] = {count, count, c, c, count, c, c};
                        for (int k = 0; k < 7; k++)
                            CHECK((!gs[k] && !ws[k]) || (gs[k] && ws[k] && same_values(gs[k], ws[k], sizes[k])),
                                  "bn_act: %s of the fused op differs from the separate ops (nan %d, training %d, "
                                  "act %d, residual %d, extra %d)",
                                  names[k], nan, training, (int)acts[a], residual, extra);
                        tail_result_free(&want), tail_result_free(&got);
                    }
    }
    facs_ctx_begin_step(ctx);
    float ones[5] = {1, 1, 1, 1, 1};
    facs_tensor *gamma = test_param(c, 1, 1, 1, ones), *beta = test_param(c, 1, 1, 1, ones);
    facs_tensor *rm = buffer(c, ones), *rv = buffer(c, ones);
    facs_tensor *tx = test_tensor(ctx, n, c, h, w, x), *other = test_tensor(ctx, n, c, h + 1, w, NULL);
    CHECK(!facs_batchnorm2d_act(ctx, tx, gamma, beta, rm, rv, NULL, tx, FACS_POST_RELU) &&
              strstr(facs_last_error(), "residual is x"),
          "bn_act: x as its own residual is refused (got \"%s\")", facs_last_error());
    CHECK(!facs_batchnorm2d_act(ctx, tx, gamma, beta, rm, rv, NULL, other, FACS_POST_RELU) &&
              strstr(facs_last_error(), "residual is"),
          "bn_act: a residual of another shape is refused (got \"%s\")", facs_last_error());
    CHECK(!facs_batchnorm2d_act(ctx, tx, gamma, beta, rm, rv, NULL, NULL, (facs_post_act)7) &&
              strstr(facs_last_error(), "activation"),
          "bn_act: an unknown activation is refused (got \"%s\")", facs_last_error());
    facs_tensor_free(gamma), facs_tensor_free(beta), facs_tensor_free(rm), facs_tensor_free(rv);
    free(x), free(r), free(dy);
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
    fused_tail(ctx);
    test_each_case(ctx, ref, torch_case, NULL);
    facs_ctx_free(ctx);
    h5_close(ref);
    return test_finish();
}
