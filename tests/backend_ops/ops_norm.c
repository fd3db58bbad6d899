/* Family batchnorm: training (batch statistics, running statistics updated
 * in place) and eval (running statistics as constants). */
#include <math.h>
#include <stdio.h>

#include "bops.h"

enum { BX, BGAMMA, BBETA, BRMEAN, BRVAR, BY, BSMEAN, BSINV, BDY, BDX, BDGAMMA, BDBETA };

static void bn_declare(const bo_case *k, bo_problem *pb)
{
    const int c = k->c;
    bo_declare(pb, BX, "x", BO_IN, k->n, c, k->h, k->w);
    bo_declare(pb, BGAMMA, "gamma", BO_IN, c, 1, 1, 1);
    bo_declare(pb, BBETA, "beta", BO_IN, c, 1, 1, 1);
    bo_declare(pb, BRMEAN, "running_mean", BO_STATE, c, 1, 1, 1);
    bo_declare(pb, BRVAR, "running_var", BO_STATE, c, 1, 1, 1);
    bo_declare(pb, BY, "y", BO_OUT, k->n, c, k->h, k->w);
    bo_declare(pb, BSMEAN, "save_mean", BO_OUT, c, 1, 1, 1);
    bo_declare(pb, BSINV, "save_invstd", BO_OUT, c, 1, 1, 1);
    bo_declare_like(pb, BDY, "dy", BO_DY, BY);
    bo_declare_like(pb, BDX, "dx", BO_DX, BX);
    bo_declare_like(pb, BDGAMMA, "dgamma", BO_DPARAM, BGAMMA);
    bo_declare_like(pb, BDBETA, "dbeta", BO_DPARAM, BBETA);
}

/* Each channel gets its own offset, so the means differ from 0 and from each
 * other, and its own spread, so do the variances. */
static int bn_draw(const bo_case *k, bo_problem *pb)
{
    float *x = bo_f32(pb, BX);
    const size_t pixels = (size_t)k->n * k->h * k->w;
    for (int c = 0; c < k->c; c++) {
        double offset = bo_uniform(-1, 1), spread = bo_uniform(0.5, 1.5);
        for (size_t q = 0; q < pixels; q++)
            x[q * k->c + c] = (float)(offset + spread * bo_uniform(k->lo, k->hi));
    }
    bo_fill(bo_f32(pb, BGAMMA), k->c, 0.5, 1.5);
    bo_fill(bo_f32(pb, BBETA), k->c, -0.5, 0.5);
    bo_fill(bo_f32(pb, BRMEAN), k->c, -0.5, 0.5);
    bo_fill(bo_f32(pb, BRVAR), k->c, 0.5, 2.0);
    return 1;
}

static facs_batchnorm_params bn_params(const bo_case *k)
{
    return (facs_batchnorm_params){.eps = k->bn.eps, .momentum = k->bn.momentum, .training = k->bn.training};
}

static facs_status bn_forward(const bo_case *k, const bo_problem *pb, bo_call *c)
{
    (void)pb;
    facs_batchnorm_params p = bn_params(k);
    facs_tensor **t = c->t;
    return c->be->batchnorm_forward(c->ctx, &p, t[BX], t[BGAMMA], t[BBETA], t[BRMEAN], t[BRVAR], t[BY], t[BSMEAN],
                                    t[BSINV]);
}

static facs_status bn_backward(const bo_case *k, const bo_problem *pb, bo_call *c)
{
    (void)pb;
    facs_batchnorm_params p = bn_params(k);
    facs_tensor **t = c->t;
    return c->be->batchnorm_backward(c->ctx, &p, t[BX], t[BGAMMA], t[BSMEAN], t[BSINV], t[BDY], t[BDX], t[BDGAMMA],
                                     t[BDBETA]);
}

static facs_status bn_tape(const bo_case *k, const bo_problem *pb, bo_call *c)
{
    (void)pb;
    facs_batchnorm_params p = bn_params(k);
    facs_tensor **t = c->t;
    t[BY] = facs_batchnorm2d(c->ctx, t[BX], t[BGAMMA], t[BBETA], t[BRMEAN], t[BRVAR], &p);
    return bo_wrapped(t[BY]);
}

/* PyTorch's BatchNorm2d: the biased variance normalises, the unbiased one
 * enters the running variance. */
static void bn_reference(const bo_case *k, const bo_problem *pb, double *const *v, int64_t *valid)
{
    (void)pb, (void)valid;
    const int C = k->c;
    const size_t m = (size_t)k->n * k->h * k->w;
    const double eps = k->bn.eps, mom = k->bn.momentum;
    const double *x = v[BX];
    for (int c = 0; c < C; c++) {
        double mean, invstd;
        if (k->bn.training) {
            double sum = 0.0, sq = 0.0;
            for (size_t q = 0; q < m; q++)
                sum += x[q * C + c];
            mean = sum / (double)m;
            for (size_t q = 0; q < m; q++)
                sq += (x[q * C + c] - mean) * (x[q * C + c] - mean);
            double var = sq / (double)m;
            invstd = 1.0 / sqrt(var + eps);
            v[BRMEAN][c] = (1.0 - mom) * v[BRMEAN][c] + mom * mean;
            v[BRVAR][c] = (1.0 - mom) * v[BRVAR][c] + mom * sq / (double)(m - 1);
        } else {
            mean = v[BRMEAN][c];
            invstd = 1.0 / sqrt(v[BRVAR][c] + eps);
        }
        v[BSMEAN][c] = mean;
        v[BSINV][c] = invstd;
        for (size_t q = 0; q < m; q++)
            v[BY][q * C + c] = v[BGAMMA][c] * (x[q * C + c] - mean) * invstd + v[BBETA][c];
    }
}

static void bn_describe(const bo_case *k, char *buf, size_t size)
{
    snprintf(buf, size, "%s x(%d,%d,%d,%d) eps %g momentum %g", k->bn.training ? "train" : "eval", k->n, k->c, k->h,
             k->w, (double)k->bn.eps, (double)k->bn.momentum);
}

/* Forward: per-channel sums over N H W <= 221 values (the CPU's oneDNN
 * kernels accumulate in float): the statistics and y err by a few ulp
 * (seen <= 6.1e-7 over 200 seeds). Gradients: dgamma and dbeta sum N H W
 * products over 3 to 33 channels, which may all cancel below their terms;
 * training's dx subtracts two such sums from dy (seen <= 2.8e-6 where
 * N H W >= 45; the tiny batches of the table say more). eps 1e-3 on a
 * smooth function of inputs of size ~1: truncation (eps^2 |f'''| / 6) and
 * double rounding (1e-16 |L| / eps) both stay below 1e-8 relative. */
const bo_family bo_batchnorm = {
    .name = "batchnorm",
    .fwd_entries = "batchnorm_forward",
    .bwd_entries = "batchnorm_backward",
    .tol_fwd = 1.5e-6,
    .tol_fd = 8e-6,
    .fd_eps = 1e-3,
    .declare = bn_declare,
    .draw = bn_draw,
    .forward = bn_forward,
    .backward = bn_backward,
    .reference = bn_reference,
    .describe = bn_describe,
    .tape = bn_tape,
};
