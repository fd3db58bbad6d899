/* relu, relu6 and add as own loops; sigmoid through oneDNN's eltwise
 * primitive.
 *
 * The ReLUs follow PyTorch's NaN rules, which oneDNN's eltwise does not (its
 * relu(NaN) is 0): relu(NaN) = relu6(NaN) = NaN. Their gradients at a NaN
 * input differ in PyTorch 1.13: relu's threshold_backward zeroes it where
 * x <= 0, false for NaN, so dy passes; relu6's hardtanh_backward, in its
 * vectorised loop (every element but a scalar tail of under 16), keeps dy
 * where 0 < x < 6, false for NaN, so dx is 0.
 * oneDNN's logistic propagates NaN and Inf as PyTorch does. */
#include <stddef.h>

#include "cpu_ops.h"
#include "dnnl_util.h"

/* Below this many elements a single thread beats waking the pool. The if
 * clauses below name `parallel`: an unqualified one would also turn off the
 * simd of `parallel for simd` below the threshold (GCC then emits a branchy
 * scalar loop, 4x slower on MobileNet's small tensors). */
#define PARALLEL_MIN 32768

/* relu: x < 0 ? 0 : x keeps NaN (the comparison is false), unlike x > 0 ? x : 0;
 * relu6 clamps the same way. Selects, so the loops vectorise. */
static inline float relu_value(float v) { return v < 0.0f ? 0.0f : v; }
static inline float relu6_value(float v) { return v < 0.0f ? 0.0f : v > 6.0f ? 6.0f : v; }

static void relu_forward(int six, size_t count, const float *x, float *y)
{
    if (six) {
#pragma omp parallel for simd schedule(static) if (parallel : count >= PARALLEL_MIN)
        for (size_t i = 0; i < count; i++)
            y[i] = relu6_value(x[i]);
    } else {
#pragma omp parallel for simd schedule(static) if (parallel : count >= PARALLEL_MIN)
        for (size_t i = 0; i < count; i++)
            y[i] = relu_value(x[i]);
    }
}

/* PyTorch's gradient is 0 at the kinks (x = 0, x = 6); at NaN it is dy for
 * relu and 0 for relu6 (see the top of the file). dy is read unconditionally
 * so that the select vectorises (a conditional load stays a branch). */
static void relu_backward(int six, size_t count, const float *x, const float *dy, float *dx)
{
    if (six) {
#pragma omp parallel for simd schedule(static) if (parallel : count >= PARALLEL_MIN)
        for (size_t i = 0; i < count; i++) {
            const float g = dy[i];
            dx[i] = (x[i] > 0.0f) & (x[i] < 6.0f) ? g : 0.0f;
        }
    } else {
#pragma omp parallel for simd schedule(static) if (parallel : count >= PARALLEL_MIN)
        for (size_t i = 0; i < count; i++) {
            const float g = dy[i];
            dx[i] = x[i] <= 0.0f ? 0.0f : g;
        }
    }
}

/* Sigmoid's backward reads the output (oneDNN's *_use_dst_for_bwd form). */
static const dnnl_alg_kind_t sigmoid_alg = dnnl_eltwise_logistic_use_dst_for_bwd;

static facs_status sigmoid_forward_pd(const dnnl_memory_desc_t *md, dnnl_primitive_desc_t *pd)
{
    dnnl_eltwise_desc_t desc;
    FACS_TRY(facs_dnnl_check(dnnl_eltwise_forward_desc_init(&desc, dnnl_forward_training, sigmoid_alg, md, 0.0f, 0.0f),
                             "eltwise forward descriptor"));
    return facs_dnnl_check(dnnl_primitive_desc_create(pd, &desc, NULL, facs_dnnl_engine(), NULL),
                           "eltwise forward primitive");
}

facs_status facs_cpu_activation_forward(facs_ctx *ctx, facs_activation act, const facs_tensor *x, facs_tensor *y)
{
    (void)ctx;
    if (act != FACS_ACT_SIGMOID) {
        relu_forward(act == FACS_ACT_RELU6, facs_tensor_numel(x), facs_f32(x), facs_f32(y));
        return FACS_OK;
    }
    dnnl_memory_desc_t md;
    facs_dnnl_md_nhwc(&md, x);
    dnnl_primitive_desc_t pd;
    FACS_TRY(sigmoid_forward_pd(&md, &pd));
    facs_dnnl_arg args[] = {{DNNL_ARG_SRC, &md, x->data}, {DNNL_ARG_DST, &md, y->data}};
    facs_status s = facs_dnnl_execute(pd, 2, args, "eltwise forward");
    dnnl_primitive_desc_destroy(pd);
    return s;
}

facs_status facs_cpu_activation_backward(facs_ctx *ctx, facs_activation act, const facs_tensor *x,
                                         const facs_tensor *y, const facs_tensor *dy, facs_tensor *dx)
{
    (void)ctx;
    if (!dx)
        return FACS_OK;
    if (act != FACS_ACT_SIGMOID) {
        relu_backward(act == FACS_ACT_RELU6, facs_tensor_numel(x), facs_f32(x), facs_f32(dy), facs_f32(dx));
        return FACS_OK;
    }
    dnnl_memory_desc_t md;
    facs_dnnl_md_nhwc(&md, x);
    dnnl_primitive_desc_t hint, pd;
    FACS_TRY(sigmoid_forward_pd(&md, &hint));
    dnnl_eltwise_desc_t desc;
    facs_status s = facs_dnnl_check(dnnl_eltwise_backward_desc_init(&desc, sigmoid_alg, &md, &md, 0.0f, 0.0f),
                                    "eltwise backward descriptor");
    if (s == FACS_OK)
        s = facs_dnnl_check(dnnl_primitive_desc_create(&pd, &desc, NULL, facs_dnnl_engine(), hint),
                            "eltwise backward primitive");
    dnnl_primitive_desc_destroy(hint);
    if (s != FACS_OK)
        return s;
    facs_dnnl_arg args[] = {{DNNL_ARG_DST, &md, y->data},
                            {DNNL_ARG_DIFF_DST, &md, dy->data},
                            {DNNL_ARG_DIFF_SRC, &md, dx->data}};
    s = facs_dnnl_execute(pd, 3, args, "eltwise backward");
    dnnl_primitive_desc_destroy(pd);
    return s;
}

/* y = act(a + b) in one pass over memory: a residual block's add and ReLU. */
facs_status facs_cpu_add_forward(facs_ctx *ctx, const facs_tensor *a, const facs_tensor *b, facs_post_act act,
                                 facs_tensor *y)
{
    (void)ctx;
    const size_t count = facs_tensor_numel(a);
    const float *pa = facs_f32(a), *pb = facs_f32(b);
    float *py = facs_f32(y);
    if (act == FACS_POST_RELU6) {
#pragma omp parallel for simd schedule(static) if (parallel : count >= PARALLEL_MIN)
        for (size_t i = 0; i < count; i++)
            py[i] = relu6_value(pa[i] + pb[i]);
    } else if (act == FACS_POST_RELU) {
#pragma omp parallel for simd schedule(static) if (parallel : count >= PARALLEL_MIN)
        for (size_t i = 0; i < count; i++)
            py[i] = relu_value(pa[i] + pb[i]);
    } else {
#pragma omp parallel for simd schedule(static) if (parallel : count >= PARALLEL_MIN)
        for (size_t i = 0; i < count; i++)
            py[i] = pa[i] + pb[i];
    }
    return FACS_OK;
}
