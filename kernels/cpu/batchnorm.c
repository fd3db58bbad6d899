/* batchnorm2d through oneDNN's batch normalization primitive (NHWC jit kernels).
 *
 * oneDNN works with the biased variance; we keep save_invstd = 1 / sqrt(var + eps)
 * like PyTorch, so backward rebuilds the variance oneDNN wants from it. The
 * running statistics follow PyTorch: momentum update with the unbiased variance.
 *
 * Training: the batch statistics come from sums in double (batchnorm_sync.h),
 * as PyTorch's CPU kernels accumulate them (oneDNN's float sums drift from
 * them by ~1e-5 on large maps), and go to oneDNN's forward as given
 * statistics; its backward in training mode takes them as the batch's.
 * Synchronised (ctx->bn_comm over more than one rank, training): the sums are
 * the global batch's; backward takes oneDNN's constant-statistics dx and adds
 * the terms through the statistics from the global sums. */
#include <math.h>

#include "batchnorm_sync.h"
#include "cpu_ops.h"
#include "dnnl_util.h"

/* Training normalises with batch statistics that it outputs; eval reads the
 * running statistics (use_global_stats), which also makes oneDNN's backward
 * treat mean and variance as constants: exactly the two formulas we need. */
static unsigned bnorm_flags(int training)
{
    return dnnl_use_scale | dnnl_use_shift | (training ? 0u : (unsigned)dnnl_use_global_stats);
}

static facs_status bnorm_forward_pd(const dnnl_memory_desc_t *md, float eps, int training, dnnl_primitive_desc_t *pd)
{
    dnnl_batch_normalization_desc_t desc;
    FACS_TRY(facs_dnnl_check(dnnl_batch_normalization_forward_desc_init(&desc, dnnl_forward_training, md, eps,
                                                                        bnorm_flags(training)),
                             "batchnorm forward descriptor"));
    return facs_dnnl_check(dnnl_primitive_desc_create(pd, &desc, NULL, facs_dnnl_engine(), NULL),
                           "batchnorm forward primitive");
}

static int synchronised(const facs_ctx *ctx, const facs_batchnorm_params *p)
{
    return p->training && ctx->bn_comm && facs_comm_size(ctx->bn_comm) > 1;
}

facs_status facs_cpu_batchnorm_forward(facs_ctx *ctx, const facs_batchnorm_params *p, const facs_tensor *x,
                                       const facs_tensor *gamma, const facs_tensor *beta, facs_tensor *running_mean,
                                       facs_tensor *running_var, facs_tensor *y, facs_tensor *save_mean,
                                       facs_tensor *save_invstd)
{
    const int C = x->c, sync = synchronised(ctx, p);
    int64_t m = (int64_t)x->n * x->h * x->w;
    float *mean = facs_f32(save_mean);
    float *var = p->training ? facs_ctx_scratch(ctx, (size_t)C * sizeof(float)) : facs_f32(running_var);
    if (!var)
        return FACS_ERR_MEMORY;
    if (p->training) { /* the batch statistics, from sums in double (the global batch's when synchronised) */
        double *work = facs_ctx_scratch(ctx, facs_cpu_bn_sums_doubles(x) * sizeof *work);
        if (!work)
            return FACS_ERR_MEMORY;
        if (sync) {
            FACS_TRY(facs_cpu_bn_sync_stats(ctx->bn_comm, x, work, mean, var, &m));
        } else {
            facs_cpu_bn_sums(x, work);
            facs_cpu_bn_stats_from_sums(work, C, mean, var);
        }
    }
    if (p->training && m < 2)
        return facs_fail(FACS_ERR_ARG, "batchnorm2d: training needs more than one value per channel (N*H*W = %lld)",
                         (long long)m);
    if (!p->training)
        for (int c = 0; c < C; c++)
            mean[c] = facs_f32(running_mean)[c];

    dnnl_memory_desc_t md, vec;
    facs_dnnl_md_nhwc(&md, x);
    facs_dnnl_md_vec(&vec, C);
    dnnl_primitive_desc_t pd;
    FACS_TRY(bnorm_forward_pd(&md, p->eps, 0, &pd)); /* the statistics are given: the batch's, or the running ones */
    facs_dnnl_arg args[] = {{DNNL_ARG_SRC, &md, x->data},
                            {DNNL_ARG_DST, &md, y->data},
                            {DNNL_ARG_SCALE, &vec, gamma->data},
                            {DNNL_ARG_SHIFT, &vec, beta->data},
                            {DNNL_ARG_MEAN, &vec, mean},
                            {DNNL_ARG_VARIANCE, &vec, var}};
    facs_status s = facs_dnnl_execute(pd, 6, args, "batchnorm forward");
    dnnl_primitive_desc_destroy(pd);
    if (s != FACS_OK)
        return s;

    float *invstd = facs_f32(save_invstd);
    for (int c = 0; c < C; c++)
        invstd[c] = (float)(1.0 / sqrt((double)var[c] + p->eps));
    if (p->training) {
        float *rm = facs_f32(running_mean), *rv = facs_f32(running_var);
        const double unbias = (double)m / (double)(m - 1), mom = p->momentum;
        for (int c = 0; c < C; c++) {
            rm[c] = (float)((1.0 - mom) * rm[c] + mom * mean[c]);
            rv[c] = (float)((1.0 - mom) * rv[c] + mom * var[c] * unbias);
        }
    }
    return FACS_OK;
}

/* Adds count floats of src into dst (parameter gradients accumulate). */
static void accumulate(float *dst, const float *src, int count)
{
    for (int i = 0; i < count; i++)
        dst[i] += src[i];
}

facs_status facs_cpu_batchnorm_backward(facs_ctx *ctx, const facs_batchnorm_params *p, const facs_tensor *x,
                                        const facs_tensor *gamma, const facs_tensor *save_mean,
                                        const facs_tensor *save_invstd, const facs_tensor *dy, facs_tensor *dx,
                                        facs_tensor *dgamma, facs_tensor *dbeta)
{
    if (!dx && !dgamma && !dbeta)
        return FACS_OK;
    const int C = x->c, sync = synchronised(ctx, p), training = p->training && !sync;
    /* oneDNN writes (=) every gradient it computes, so the parameter gradients go
     * through scratch and are added afterwards. An unwanted dx (rare: BN's input
     * almost always needs its gradient) also lands in scratch. */
    float *var = facs_ctx_scratch(ctx, (size_t)C * sizeof(float));
    float *dg = facs_ctx_scratch(ctx, (size_t)C * sizeof(float));
    float *db = facs_ctx_scratch(ctx, (size_t)C * sizeof(float));
    /* oneDNN 2.6's backward with use_shift insists on a shift argument that the
     * math never reads; it gets zeros, as beta is not part of our backward. */
    float *shift = facs_ctx_scratch(ctx, (size_t)C * sizeof(float));
    void *dx_data = dx ? dx->data : facs_ctx_scratch(ctx, facs_tensor_bytes(x));
    if (!var || !dg || !db || !shift || !dx_data)
        return FACS_ERR_MEMORY;
    /* Inverting invstd in double keeps var + eps (what oneDNN uses) within an ulp. */
    for (int c = 0; c < C; c++) {
        double is = facs_f32(save_invstd)[c];
        var[c] = (float)(1.0 / (is * is) - p->eps);
        shift[c] = 0.0f;
    }

    dnnl_memory_desc_t md, vec;
    facs_dnnl_md_nhwc(&md, x);
    facs_dnnl_md_vec(&vec, C);
    dnnl_primitive_desc_t hint, pd;
    FACS_TRY(bnorm_forward_pd(&md, p->eps, training, &hint));
    dnnl_batch_normalization_desc_t desc;
    facs_status s = facs_dnnl_check(
        dnnl_batch_normalization_backward_desc_init(&desc, dnnl_backward, &md, &md, p->eps, bnorm_flags(training)),
        "batchnorm backward descriptor");
    if (s == FACS_OK)
        s = facs_dnnl_check(dnnl_primitive_desc_create(&pd, &desc, NULL, facs_dnnl_engine(), hint),
                            "batchnorm backward primitive");
    dnnl_primitive_desc_destroy(hint);
    if (s != FACS_OK)
        return s;
    facs_dnnl_arg args[] = {{DNNL_ARG_SRC, &md, x->data},
                            {DNNL_ARG_MEAN, &vec, save_mean->data},
                            {DNNL_ARG_VARIANCE, &vec, var},
                            {DNNL_ARG_SCALE, &vec, gamma->data},
                            {DNNL_ARG_SHIFT, &vec, shift},
                            {DNNL_ARG_DIFF_DST, &md, dy->data},
                            {DNNL_ARG_DIFF_SRC, &md, dx_data},
                            {DNNL_ARG_DIFF_SCALE, &vec, dg},
                            {DNNL_ARG_DIFF_SHIFT, &vec, db}};
    s = facs_dnnl_execute(pd, 9, args, "batchnorm backward");
    dnnl_primitive_desc_destroy(pd);
    if (s == FACS_OK && sync && dx)
        s = facs_cpu_bn_sync_dx(ctx->bn_comm, x, facs_f32(gamma), facs_f32(save_mean), facs_f32(save_invstd), dg, db,
                                dx_data);
    if (s != FACS_OK)
        return s;
    if (dgamma)
        accumulate(facs_f32(dgamma), dg, C);
    if (dbeta)
        accumulate(facs_f32(dbeta), db, C);
    return FACS_OK;
}
