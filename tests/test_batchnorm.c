/* batchnorm2d: finite differences in double precision against a naive
 * reference (training and eval formulas), the backend's =/+= contract, the
 * running-statistics update, argument checks, and parity with PyTorch. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "test_util.h"

/* The float forward differs from double by the rounding of the mean, the
 * variance (sums of up to ~1000 values) and the normalisation: <= 1.3e-6
 * measured over 30 seeds. */
#define FORWARD_TOL 1e-5
/* Central differences (eps 1e-6) of the double reference are exact to ~1e-9;
 * the float backward reduces sum(dy) and sum(dy xhat) over N*H*W values, which
 * cancel in the training formula: <= 1.3e-6 measured. */
#define GRAD_TOL 1e-5
/* Running statistics are one momentum update of float statistics: <= 7e-7. */
#define STATS_TOL 5e-6
#define TORCH_TOL 1e-4

typedef struct {
    int n, c, h, w, training;
    double eps;
    const double *rm, *rv; /* running statistics (eval) */
    const double *r;       /* weights of the loss sum_i r_i y_i */
} bn_problem;

static size_t at(const bn_problem *p, int n, int c, int i) { return ((size_t)n * p->c + c) * p->h * p->w + i; }

/* Naive NCHW batch norm of v = [x | gamma | beta] into y (count values); the
 * batch statistics go to mean and var (biased) when not NULL. */
static void naive_bn(const bn_problem *p, const double *v, double *y, double *mean_out, double *var_out)
{
    const int hw = p->h * p->w;
    const double m = (double)p->n * hw;
    const double *x = v, *gamma = v + (size_t)p->n * p->c * hw, *beta = gamma + p->c;
    for (int c = 0; c < p->c; c++) {
        double mean = 0.0, var = 0.0;
        for (int n = 0; n < p->n; n++)
            for (int i = 0; i < hw; i++)
                mean += x[at(p, n, c, i)];
        mean /= m;
        for (int n = 0; n < p->n; n++)
            for (int i = 0; i < hw; i++)
                var += (x[at(p, n, c, i)] - mean) * (x[at(p, n, c, i)] - mean);
        var /= m;
        if (mean_out)
            mean_out[c] = mean, var_out[c] = var;
        double mu = p->training ? mean : p->rm[c], sigma2 = p->training ? var : p->rv[c];
        double invstd = 1.0 / sqrt(sigma2 + p->eps);
        for (int n = 0; n < p->n; n++)
            for (int i = 0; i < hw; i++)
                y[at(p, n, c, i)] = (x[at(p, n, c, i)] - mu) * invstd * gamma[c] + beta[c];
    }
}

static double loss_of(const double *v, void *user)
{
    const bn_problem *p = user;
    size_t count = (size_t)p->n * p->c * p->h * p->w;
    double *y = malloc(count * sizeof *y);
    naive_bn(p, v, y, NULL, NULL);
    double s = test_dot(y, p->r, count);
    free(y);
    return s;
}

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

static void gradcheck(facs_ctx *ctx, int n, int c, int h, int w, int training)
{
    const size_t count = (size_t)n * c * h * w, total = count + 2 * (size_t)c;
    const float eps = 1e-3f, momentum = 0.25f;
    float *v = test_alloc(total), *r = test_alloc(count), *rm = test_alloc(c), *rv = test_alloc(c);
    fill_input(v, n, c, h * w);
    test_fill(v + count, c, 0.5, 2);  /* gamma */
    test_fill(v + count + c, c, -1, 1); /* beta */
    test_fill(r, count, -1, 1);
    test_fill(rm, c, -1, 1);
    test_fill(rv, c, 0.5, 2);
    facs_tensor *gamma = test_param(c, 1, 1, 1, v + count), *beta = test_param(c, 1, 1, 1, v + count + c);
    facs_tensor *trm = buffer(c, rm), *trv = buffer(c, rv);
    facs_batchnorm_params params = {eps, momentum, training};
    facs_ctx_begin_step(ctx);
    facs_tensor *tx = test_tensor(ctx, n, c, h, w, v);
    tx->requires_grad = 1;
    facs_tensor *y = facs_batchnorm2d(ctx, tx, gamma, beta, trm, trv, &params);
    char what[128];
    if (CHECK_PTR(y) && CHECK_OK(facs_backward(ctx, y, test_tensor(ctx, n, c, h, w, r)))) {
        double *vd = test_to_double(v, total), *rd = test_to_double(r, count);
        double *rmd = test_to_double(rm, c), *rvd = test_to_double(rv, c);
        bn_problem prob = {n, c, h, w, training, eps, rmd, rvd, rd};
        double *want_y = malloc(count * sizeof *want_y), *want_g = malloc(total * sizeof *want_g);
        double *mean = malloc(c * sizeof *mean), *var = malloc(c * sizeof *var);
        naive_bn(&prob, vd, want_y, mean, var);
        test_fd_gradient(loss_of, vd, total, &prob, 1e-6, want_g);
        float *got_y = test_nchw(y), *got_dx = test_grad_nchw(tx);
        const char *mode = training ? "train" : "eval";
        snprintf(what, sizeof what, "bn %s (%d,%d,%d,%d) forward vs double", mode, n, c, h, w);
        test_close_d(what, got_y, want_y, count, FORWARD_TOL);
        snprintf(what, sizeof what, "bn %s (%d,%d,%d,%d) dx vs finite differences", mode, n, c, h, w);
        test_close_d(what, got_dx, want_g, count, GRAD_TOL);
        float *got_dg = test_grad_nchw(gamma), *got_db = test_grad_nchw(beta);
        snprintf(what, sizeof what, "bn %s (%d,%d,%d,%d) dgamma vs finite differences", mode, n, c, h, w);
        test_close_d(what, got_dg, want_g + count, c, GRAD_TOL);
        snprintf(what, sizeof what, "bn %s (%d,%d,%d,%d) dbeta vs finite differences", mode, n, c, h, w);
        test_close_d(what, got_db, want_g + count + c, c, GRAD_TOL);
        free(got_dg), free(got_db);
        /* PyTorch's update: the unbiased variance, m = N*H*W; eval leaves them alone. */
        double m = (double)n * h * w;
        for (int j = 0; j < c && training; j++) {
            rmd[j] = (1 - momentum) * rm[j] + momentum * mean[j];
            rvd[j] = (1 - momentum) * rv[j] + momentum * var[j] * m / (m - 1);
        }
        snprintf(what, sizeof what, "bn %s (%d,%d,%d,%d) running_mean", mode, n, c, h, w);
        test_close_d(what, facs_f32(trm), rmd, c, STATS_TOL);
        snprintf(what, sizeof what, "bn %s (%d,%d,%d,%d) running_var", mode, n, c, h, w);
        test_close_d(what, facs_f32(trv), rvd, c, STATS_TOL);
        free(vd), free(rd), free(rmd), free(rvd), free(want_y), free(want_g), free(mean), free(var);
        free(got_y), free(got_dx);
    }
    facs_tensor_free(gamma), facs_tensor_free(beta), facs_tensor_free(trm), facs_tensor_free(trv);
    free(v), free(r), free(rm), free(rv);
}

static void fill_tensor(facs_tensor *t, float value)
{
    for (size_t i = 0; i < facs_tensor_numel(t); i++)
        facs_f32(t)[i] = value;
}

/* Calls the backend entry directly: dx must be written whatever it held,
 * dgamma and dbeta must be added to, and NULL gradients must be skipped. */
static void backend_contract(facs_ctx *ctx, int training)
{
    const int n = 2, c = 5, h = 3, w = 7;
    const size_t count = (size_t)n * c * h * w;
    facs_ctx_begin_step(ctx);
    facs_tensor *x = test_tensor(ctx, n, c, h, w, NULL), *dy = test_tensor(ctx, n, c, h, w, NULL);
    facs_tensor *vec[8];
    for (int i = 0; i < 8; i++)
        vec[i] = test_tensor(ctx, c, 1, 1, 1, NULL);
    facs_tensor *gamma = vec[0], *beta = vec[1], *rm = vec[2], *rv = vec[3], *mean = vec[4], *invstd = vec[5];
    facs_tensor *dg = vec[6], *db = vec[7];
    fill_input(facs_f32(x), n, c, h * w);
    test_fill(facs_f32(dy), count, -1, 1);
    test_fill(facs_f32(gamma), c, 0.5, 2);
    test_fill(facs_f32(beta), c, -1, 1);
    test_fill(facs_f32(rm), c, -1, 1);
    test_fill(facs_f32(rv), c, 0.5, 2);
    facs_tensor *y = facs_ctx_like(ctx, x), *dx1 = facs_ctx_like(ctx, x), *dx2 = facs_ctx_like(ctx, x);
    facs_batchnorm_params p = {1e-5f, 0.1f, training};
    const facs_backend *be = ctx->backend;
    if (!CHECK_OK(be->batchnorm_forward(ctx, &p, x, gamma, beta, rm, rv, y, mean, invstd)))
        return;
    fill_tensor(dx1, 0.0f), fill_tensor(dg, 0.0f), fill_tensor(db, 0.0f);
    CHECK_OK(be->batchnorm_backward(ctx, &p, x, gamma, mean, invstd, dy, dx1, dg, db));
    float g1[5], b1[5];
    memcpy(g1, dg->data, sizeof g1), memcpy(b1, db->data, sizeof b1);
    fill_tensor(dx2, 1e3f);
    CHECK_OK(be->batchnorm_backward(ctx, &p, x, gamma, mean, invstd, dy, dx2, dg, db));
    CHECK_OK(be->batchnorm_backward(ctx, &p, x, gamma, mean, invstd, dy, NULL, dg, db));
    float g3[5], b3[5];
    for (int j = 0; j < c; j++)
        g3[j] = 3 * g1[j], b3[j] = 3 * b1[j];
    const char *mode = training ? "train" : "eval";
    char what[96];
    snprintf(what, sizeof what, "bn %s backend: dx is written, not added", mode);
    test_close_f(what, facs_f32(dx2), facs_f32(dx1), count, 0.0);
    snprintf(what, sizeof what, "bn %s backend: dgamma accumulates over 3 calls", mode);
    test_close_f(what, facs_f32(dg), g3, c, 1e-6);
    snprintf(what, sizeof what, "bn %s backend: dbeta accumulates over 3 calls", mode);
    test_close_f(what, facs_f32(db), b3, c, 1e-6);
    fill_tensor(dx2, 1e3f);
    CHECK_OK(be->batchnorm_backward(ctx, &p, x, gamma, mean, invstd, dy, dx2, NULL, NULL));
    snprintf(what, sizeof what, "bn %s backend: dx alone", mode);
    test_close_f(what, facs_f32(dx2), facs_f32(dx1), count, 0.0);
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
    const int shapes[][4] = {{2, 3, 7, 7}, {1, 5, 13, 17}, {3, 12, 4, 4}, {4, 19, 1, 1}, {2, 9, 3, 5}};
    for (int training = 1; training >= 0; training--)
        for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++)
            gradcheck(ctx, shapes[s][0], shapes[s][1], shapes[s][2], shapes[s][3], training);
    backend_contract(ctx, 1);
    backend_contract(ctx, 0);
    argument_checks(ctx);
    activation_affine(ctx);
    test_each_case(ctx, ref, torch_case, NULL);
    facs_ctx_free(ctx);
    h5_close(ref);
    return test_finish();
}
