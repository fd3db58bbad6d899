/* Softmax cross-entropy over the channels of NHWC logits, whose K values per
 * pixel are contiguous. Labels (N, 1, H, W) int32 are one per pixel in storage
 * order. */
#include <math.h>

#include "../facs_fusion_math.h"
#include "../softmax_ce_math.h"
#include "cpu_ops.h"
#include "dnnl_util.h"

/* Pixels per call below which threads cost more than they save. */
#define PARALLEL_MIN_PIXELS 1024
/* Below this a float probability has lost digits to underflow (FLT_MIN is
 * 1.2e-38), so such a pixel's loss is recomputed from its logits. */
#define TINY_PROB 1e-30f

static facs_status check_labels(int ignore_index, int K, const facs_tensor *labels)
{
    const int32_t *lab = facs_i32(labels);
    const int64_t pixels = (int64_t)facs_tensor_numel(labels);
    int64_t bad = pixels;
#pragma omp parallel for schedule(static) reduction(min : bad) if (pixels > PARALLEL_MIN_PIXELS)
    for (int64_t p = 0; p < pixels; p++)
        if (lab[p] != ignore_index && (lab[p] < 0 || lab[p] >= K) && p < bad)
            bad = p;
    if (bad == pixels)
        return FACS_OK;
    const int w = (int)(bad % labels->w), h = (int)(bad / labels->w % labels->h);
    const int n = (int)(bad / ((int64_t)labels->w * labels->h));
    return facs_fail(FACS_ERR_ARG,
                     "softmax_cross_entropy: label %d at (n %d, h %d, w %d) is outside [0, %d) and is not the "
                     "ignore_index %d",
                     (int)lab[bad], n, h, w, K, ignore_index);
}

/* True when PyTorch's softmax of the K logits at z is NaN throughout: a NaN
 * or +Inf logit, or all of them -Inf (x - max is then NaN somewhere). oneDNN's
 * softmax makes only the offending entries NaN (its max drops NaN) and leaves
 * the others finite. The NaN-propagating max is the FACS op's chunk max. */
static int softmax_is_nan(const float *z, int K) { return !isfinite(facs_chunk_max(z, K)); }

/* The softmax is oneDNN's (its jit kernels subtract the max and pick the
 * machine's widest vectors at run time); the loss then reads one probability
 * per pixel: -log(p) is as precise as p while p is a normal float well above
 * underflow. A pixel whose softmax PyTorch makes NaN gets NaN probabilities,
 * so that its loss and its gradient are NaN, as PyTorch's (even when the
 * pixel is ignored: log_softmax's backward multiplies its zero gradient by
 * the NaN probabilities). */
static facs_status softmax_probs(const facs_tensor *logits, facs_tensor *probs)
{
    dnnl_memory_desc_t md;
    facs_dnnl_md_nhwc(&md, logits);
    dnnl_softmax_v2_desc_t desc;
    FACS_TRY(facs_dnnl_check(dnnl_softmax_v2_forward_desc_init(&desc, dnnl_forward_inference, dnnl_softmax_accurate,
                                                               &md, &md, 1),
                             "softmax descriptor"));
    dnnl_primitive_desc_t pd;
    FACS_TRY(facs_dnnl_check(dnnl_primitive_desc_create(&pd, &desc, NULL, facs_dnnl_engine(), NULL),
                             "softmax primitive"));
    facs_dnnl_arg args[] = {{DNNL_ARG_SRC, &md, logits->data}, {DNNL_ARG_DST, &md, probs->data}};
    facs_status s = facs_dnnl_execute(pd, 2, args, "softmax forward");
    dnnl_primitive_desc_destroy(pd);
    return s;
}

/* sum_k -log softmax(z)_k = K logsumexp(z) - sum_k z_k, in double from the
 * logits (probabilities of far-off classes underflow); the smoothing term. A
 * NaN or +Inf logit makes it NaN and a -Inf one +Inf, as PyTorch's sum of
 * log_softmax. */
static double sum_nll(const float *z, int K)
{
    float zmax = facs_chunk_max(z, K);
    double e = 0.0, sum_z = 0.0;
    for (int k = 0; k < K; k++) {
        e += exp((double)z[k] - zmax);
        sum_z += z[k];
    }
    return K * (log(e) + zmax) - sum_z;
}

facs_status facs_cpu_softmax_ce_forward(facs_ctx *ctx, int ignore_index, float smoothing, const facs_tensor *logits,
                                        const facs_tensor *labels, facs_tensor *probs, facs_tensor *loss,
                                        int64_t *valid)
{
    (void)ctx;
    const int K = logits->c;
    FACS_TRY(check_labels(ignore_index, K, labels));
    FACS_TRY(softmax_probs(logits, probs));
    const int64_t pixels = (int64_t)logits->n * logits->h * logits->w;
    const float *z = facs_f32(logits);
    float *q = facs_f32(probs);
    const int32_t *lab = facs_i32(labels);
    /* The loss is a sum over up to millions of pixels: double keeps it exact
     * to float precision whatever the order the threads add in. */
    double total = 0.0;
    int64_t count = 0;
#pragma omp parallel for schedule(static) reduction(+ : total, count) if (pixels > PARALLEL_MIN_PIXELS)
    for (int64_t p = 0; p < pixels; p++) {
        if (softmax_is_nan(z + p * K, K))
            for (int k = 0; k < K; k++)
                q[p * K + k] = NAN;
        if (lab[p] == ignore_index)
            continue;
        const float prob = q[p * K + lab[p]];
        double nll = prob > TINY_PROB ? -(double)logf(prob)
                     : isnan(prob)    ? NAN
                                      : facs_ce_exact_nll(z + p * K, K, lab[p]);
        /* Only with smoothing, so that e = 0 leaves the plain loss bit for bit. */
        total += smoothing > 0 ? (1.0 - smoothing) * nll + smoothing / K * sum_nll(z + p * K, K) : nll;
        count++;
    }
    facs_f32(loss)[0] = count > 0 ? (float)(total / (double)count) : NAN;
    *valid = count;
    return FACS_OK;
}

facs_status facs_cpu_softmax_ce_backward(facs_ctx *ctx, int ignore_index, float smoothing, const facs_tensor *probs,
                                         const facs_tensor *labels, float dloss, int64_t valid,
                                         facs_tensor *dlogits)
{
    (void)ctx;
    if (!dlogits)
        return FACS_OK;
    const int K = probs->c;
    const int64_t pixels = (int64_t)probs->n * probs->h * probs->w;
    const float *q_all = facs_f32(probs);
    const int32_t *lab = facs_i32(labels);
    float *d_all = facs_f32(dlogits);
    /* With no valid pixel every pixel is ignored and every gradient is 0. */
    const float scale = valid > 0 ? dloss / (float)valid : 0.0f;
    /* The target: off = e / K on every class, on = 1 - e + e / K on the label. */
    const float off = smoothing / (float)K, on = 1.0f - smoothing + off;
#pragma omp parallel for schedule(static) if (pixels > PARALLEL_MIN_PIXELS)
    for (int64_t p = 0; p < pixels; p++) {
        float *d = d_all + p * K;
        const float *q = q_all + p * K;
        if (lab[p] == ignore_index) {
            /* 0, or NaN where the forward made the probabilities NaN. */
#pragma omp simd
            for (int k = 0; k < K; k++)
                d[k] = 0.0f * q[k];
            continue;
        }
#pragma omp simd
        for (int k = 0; k < K; k++)
            d[k] = scale * (q[k] - off);
        d[lab[p]] = scale * (q[lab[p]] - on);
    }
    return FACS_OK;
}
