/* Element-wise ops on CUDA (contracts in backend.h): activations, add,
 * dropout2d and per-channel scaling, matching kernels/cpu at every edge case.
 *
 * The ReLUs keep PyTorch's NaN rules (see cpu/elementwise.c): relu(NaN) and
 * relu6(NaN) are NaN, relu's gradient passes dy at NaN and relu6's gives 0.
 * Dropout draws its mask with rng_math.h, the CPU's own generator, so both
 * devices drop the same channels. scale_channels' ds is a pixel reduction
 * taken in a fixed order (per-slice partials, then the slices added in
 * index order), so reruns reproduce every bit. */
#include <stddef.h>
#include <stdint.h>

#include "../facs_fusion_math.h"
#include "../rng_math.h"
#include "pixel_sums.cuh"

namespace {

__device__ inline size_t first_index() { return (size_t)blockIdx.x * blockDim.x + threadIdx.x; }
__device__ inline size_t grid_stride() { return (size_t)gridDim.x * blockDim.x; }

/* Comparisons written so that NaN takes the branch PyTorch's does (the false
 * side of each comparison). */
template <facs_activation Act>
__device__ inline float activate(float v)
{
    if constexpr (Act == FACS_ACT_RELU)
        return v < 0.0f ? 0.0f : v;
    else if constexpr (Act == FACS_ACT_RELU6)
        return v < 0.0f ? 0.0f : v > 6.0f ? 6.0f : v;
    else
        return facs_sigmoid_value(v);
}

/* Gradient 0 at the kinks (x = 0, x = 6); the sigmoid's comes from its output
 * (oneDNN's use_dst form: dy y (1 - y) in that order). Each form loads only
 * the tensor it needs. */
template <facs_activation Act>
__device__ inline float activate_grad(const float *__restrict__ x, const float *__restrict__ y, float g, size_t i)
{
    if constexpr (Act == FACS_ACT_RELU)
        return x[i] <= 0.0f ? 0.0f : g;
    else if constexpr (Act == FACS_ACT_RELU6)
        return (x[i] > 0.0f) & (x[i] < 6.0f) ? g : 0.0f;
    else
        return g * y[i] * (1.0f - y[i]);
}

template <facs_activation Act>
__global__ void activation_forward_kernel(const float *x, size_t count, float *y) /* may run in place */
{
    for (size_t i = first_index(); i < count; i += grid_stride())
        y[i] = activate<Act>(x[i]);
}

template <facs_activation Act>
__global__ void activation_backward_kernel(const float *__restrict__ x, const float *__restrict__ y,
                                           const float *__restrict__ dy, size_t count, float *__restrict__ dx)
{
    for (size_t i = first_index(); i < count; i += grid_stride())
        dx[i] = activate_grad<Act>(x, y, dy[i], i);
}

template <facs_activation Act>
facs_status launch_activation_forward(const float *x, size_t count, float *y)
{
    activation_forward_kernel<Act><<<facs_cuda_blocks(count), kFacsCudaThreads>>>(x, count, y);
    FACS_CUDA_CHECK_LAUNCH("activation_forward_kernel");
    return FACS_OK;
}

template <facs_activation Act>
facs_status launch_activation_backward(const float *x, const float *y, const float *dy, size_t count, float *dx)
{
    activation_backward_kernel<Act><<<facs_cuda_blocks(count), kFacsCudaThreads>>>(x, y, dy, count, dx);
    FACS_CUDA_CHECK_LAUNCH("activation_backward_kernel");
    return FACS_OK;
}

facs_status unknown_activation(facs_activation act)
{
    return facs_fail(FACS_ERR_ARG, "activation (cuda): unknown activation %d", (int)act);
}

/* y = act(a + b), the ReLUs as activate's. May run in place. */
template <facs_post_act Act>
__global__ void add_kernel(const float *a, const float *b, size_t count, float *y)
{
    for (size_t i = first_index(); i < count; i += grid_stride()) {
        const float v = a[i] + b[i];
        if constexpr (Act == FACS_POST_RELU)
            y[i] = activate<FACS_ACT_RELU>(v);
        else if constexpr (Act == FACS_POST_RELU6)
            y[i] = activate<FACS_ACT_RELU6>(v);
        else
            y[i] = v;
    }
}

template <facs_post_act Act>
facs_status launch_add(const float *a, const float *b, size_t count, float *y)
{
    add_kernel<Act><<<facs_cuda_blocks(count), kFacsCudaThreads>>>(a, b, count, y);
    FACS_CUDA_CHECK_LAUNCH("add_kernel");
    return FACS_OK;
}

/* mask[i] for the draws first + i: the CPU's expression, so the same bits. */
__global__ void dropout_mask_kernel(uint64_t seed, uint64_t first, size_t count, float prob, float keep_scale,
                                    float *__restrict__ mask)
{
    for (size_t i = first_index(); i < count; i += grid_stride())
        mask[i] = facs_rng_uniform_inline(seed, first + i) < prob ? 0.0f : keep_scale;
}

/* out = in * s for in/out (N, C, H, W) and s (N, C, 1, 1). */
__global__ void scale_rows_kernel(const float *__restrict__ in, const float *__restrict__ s, size_t image, int c,
                                  size_t count, float *__restrict__ out)
{
    for (size_t i = first_index(); i < count; i += grid_stride())
        out[i] = in[i] * s[(i / image) * c + i % c];
}

facs_status scale_rows(const facs_tensor *shape, const float *s, const float *in, float *out)
{
    size_t image = (size_t)shape->h * shape->w * shape->c, count = facs_tensor_numel(shape);
    scale_rows_kernel<<<facs_cuda_blocks(count), kFacsCudaThreads>>>(in, s, image, shape->c, count, out);
    FACS_CUDA_CHECK_LAUNCH("scale_rows_kernel");
    return FACS_OK;
}

/* dy * x at one pixel: its pixel sum is ds. */
struct ScaleGradTerm {
    const float *x, *dy;
    int hw, c;
    __device__ float operator()(int n, int pix, int ch) const
    {
        size_t at = ((size_t)n * hw + pix) * c + ch;
        return dy[at] * x[at];
    }
};

/* ds (N, C) = the pixel sums of dy * x. */
facs_status scale_grad(facs_ctx *ctx, const facs_tensor *x, const float *dy, float *ds)
{
    int hw = x->h * x->w;
    void *partial;
    FACS_TRY(facs_cuda_scratch(ctx, "scale_channels backward (cuda)",
                               facs_cuda_pixel_sum_floats(x->n, hw, x->c) * sizeof(float), &partial));
    return facs_cuda_pixel_sums(ScaleGradTerm{facs_f32(x), dy, hw, x->c}, x->n, hw, x->c, (float *)partial,
                                FacsSumStore{ds});
}

} // namespace

facs_status facs_cuda_activation_forward(facs_ctx *ctx, facs_activation act, const facs_tensor *x, facs_tensor *y)
{
    (void)ctx;
    size_t count = facs_tensor_numel(x);
    switch (act) {
    case FACS_ACT_RELU:
        return launch_activation_forward<FACS_ACT_RELU>(facs_f32(x), count, facs_f32(y));
    case FACS_ACT_RELU6:
        return launch_activation_forward<FACS_ACT_RELU6>(facs_f32(x), count, facs_f32(y));
    case FACS_ACT_SIGMOID:
        return launch_activation_forward<FACS_ACT_SIGMOID>(facs_f32(x), count, facs_f32(y));
    }
    return unknown_activation(act);
}

facs_status facs_cuda_activation_backward(facs_ctx *ctx, facs_activation act, const facs_tensor *x,
                                          const facs_tensor *y, const facs_tensor *dy, facs_tensor *dx)
{
    (void)ctx;
    if (!dx)
        return FACS_OK;
    size_t count = facs_tensor_numel(dy);
    /* Only the form's own input is read; the other may be absent. */
    const float *xd = x ? facs_f32(x) : NULL, *yd = y ? facs_f32(y) : NULL;
    switch (act) {
    case FACS_ACT_RELU:
        return launch_activation_backward<FACS_ACT_RELU>(xd, yd, facs_f32(dy), count, facs_f32(dx));
    case FACS_ACT_RELU6:
        return launch_activation_backward<FACS_ACT_RELU6>(xd, yd, facs_f32(dy), count, facs_f32(dx));
    case FACS_ACT_SIGMOID:
        return launch_activation_backward<FACS_ACT_SIGMOID>(xd, yd, facs_f32(dy), count, facs_f32(dx));
    }
    return unknown_activation(act);
}

facs_status facs_cuda_add_forward(facs_ctx *ctx, const facs_tensor *a, const facs_tensor *b, facs_post_act act,
                                  facs_tensor *y)
{
    (void)ctx;
    size_t count = facs_tensor_numel(a);
    switch (act) {
    case FACS_POST_NONE:
        return launch_add<FACS_POST_NONE>(facs_f32(a), facs_f32(b), count, facs_f32(y));
    case FACS_POST_RELU:
        return launch_add<FACS_POST_RELU>(facs_f32(a), facs_f32(b), count, facs_f32(y));
    case FACS_POST_RELU6:
        return launch_add<FACS_POST_RELU6>(facs_f32(a), facs_f32(b), count, facs_f32(y));
    }
    return facs_fail(FACS_ERR_ARG, "add (cuda): unknown activation %d", (int)act);
}

facs_status facs_cuda_dropout2d_forward(facs_ctx *ctx, float prob, uint64_t seed, const facs_tensor *x,
                                        facs_tensor *mask, facs_tensor *y)
{
    /* prob = 1 drops every channel (PyTorch zeroes the output); never divide by 0. */
    const float keep_scale = prob < 1.0f ? 1.0f / (1.0f - prob) : 0.0f;
    const size_t count = (size_t)x->n * x->c;
    const uint64_t first = (uint64_t)((int64_t)ctx->batch_offset * x->c);
    dropout_mask_kernel<<<facs_cuda_blocks(count), kFacsCudaThreads>>>(seed, first, count, prob, keep_scale,
                                                                       facs_f32(mask));
    FACS_CUDA_CHECK_LAUNCH("dropout_mask_kernel");
    return scale_rows(x, facs_f32(mask), facs_f32(x), facs_f32(y));
}

facs_status facs_cuda_dropout2d_backward(facs_ctx *ctx, const facs_tensor *mask, const facs_tensor *dy,
                                         facs_tensor *dx)
{
    (void)ctx;
    return dx ? scale_rows(dy, facs_f32(mask), facs_f32(dy), facs_f32(dx)) : FACS_OK;
}

facs_status facs_cuda_scale_channels_forward(facs_ctx *ctx, const facs_tensor *x, const facs_tensor *s,
                                             facs_tensor *y)
{
    (void)ctx;
    return scale_rows(x, facs_f32(s), facs_f32(x), facs_f32(y));
}

facs_status facs_cuda_scale_channels_backward(facs_ctx *ctx, const facs_tensor *x, const facs_tensor *s,
                                              const facs_tensor *dy, facs_tensor *dx, facs_tensor *ds)
{
    if (dx)
        FACS_TRY(scale_rows(dy, facs_f32(s), facs_f32(dy), facs_f32(dx)));
    if (ds)
        FACS_TRY(scale_grad(ctx, x, facs_f32(dy), facs_f32(ds)));
    return FACS_OK;
}
