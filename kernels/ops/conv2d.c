/* 2-D convolution: argument checks, PyTorch's output size, the tape node. */
#include <limits.h>
#include <stdint.h>

#include "op_impl.h"

typedef struct {
    facs_conv2d_params p;
    facs_tensor *x, *w, *b;
} conv2d_state;

facs_conv2d_params facs_conv2d_defaults(void)
{
    return (facs_conv2d_params){
        .stride_h = 1, .stride_w = 1, .pad_h = 0, .pad_w = 0, .dil_h = 1, .dil_w = 1, .groups = 1};
}

static facs_status conv2d_backward(facs_ctx *ctx, facs_node *node)
{
    conv2d_state *s = node->state;
    facs_tensor *dx;
    FACS_TRY(facs_grad_begin(ctx, s->x, &dx));
    facs_tensor *dw = facs_param_grad(s->w), *db = facs_param_grad(s->b);
    /* facs_param_grad also answers NULL when the gradient cannot be allocated. */
    if ((s->w->requires_grad && !dw) || (s->b && s->b->requires_grad && !db))
        return FACS_ERR_MEMORY;
    FACS_TRY(ctx->backend->conv2d_backward(ctx, &s->p, s->x, s->w, node->out->grad, dx, dw, db));
    return facs_grad_end(ctx, s->x, dx);
}

/* Checks shapes and parameters and computes the output size. */
static facs_status check_args(const facs_tensor *x, const facs_tensor *w, const facs_tensor *b,
                              const facs_conv2d_params *p, int *oh, int *ow)
{
    char sx[64], sw[64], sb[64];
    if (!p)
        return facs_fail(FACS_ERR_ARG, "conv2d: no parameters (start from facs_conv2d_defaults())");
    if (p->stride_h < 1 || p->stride_w < 1 || p->dil_h < 1 || p->dil_w < 1 || p->pad_h < 0 || p->pad_w < 0 ||
        p->groups < 1)
        return facs_fail(FACS_ERR_ARG,
                         "conv2d: stride (%d, %d) and dilation (%d, %d) must be >= 1, padding (%d, %d) >= 0 "
                         "and groups (%d) >= 1",
                         p->stride_h, p->stride_w, p->dil_h, p->dil_w, p->pad_h, p->pad_w, p->groups);
    facs_shape_str(x, sx, sizeof sx);
    facs_shape_str(w, sw, sizeof sw);
    if (x->c % p->groups)
        return facs_fail(FACS_ERR_ARG, "conv2d: the %d input channels of x %s are not divisible by groups = %d",
                         x->c, sx, p->groups);
    if (w->n % p->groups)
        return facs_fail(FACS_ERR_ARG, "conv2d: the %d output channels of w %s are not divisible by groups = %d",
                         w->n, sw, p->groups);
    if (w->c * p->groups != x->c)
        return facs_fail(FACS_ERR_ARG,
                         "conv2d: w %s takes %d input channels per group (x %d groups = %d) but x %s has %d", sw,
                         w->c, p->groups, w->c * p->groups, sx, x->c);
    if (b && (b->n != w->n || b->c != 1 || b->h != 1 || b->w != 1))
        return facs_fail(FACS_ERR_ARG, "conv2d: bias %s must be (%d, 1, 1, 1) to match w %s",
                         facs_shape_str(b, sb, sizeof sb), w->n, sw);
    /* In 64 bits: a huge dilation or padding must be refused, not wrap around. */
    int64_t kh = (int64_t)p->dil_h * (w->h - 1) + 1, kw = (int64_t)p->dil_w * (w->w - 1) + 1;
    int64_t ph = x->h + 2 * (int64_t)p->pad_h, pw = x->w + 2 * (int64_t)p->pad_w;
    if (ph > INT_MAX || pw > INT_MAX)
        return facs_fail(FACS_ERR_ARG, "conv2d: x %s padded by (%d, %d) is too large", sx, p->pad_h, p->pad_w);
    if (ph < kh || pw < kw)
        return facs_fail(FACS_ERR_ARG,
                         "conv2d: x %s padded by (%d, %d) is %lldx%lld, smaller than the %lldx%lld extent of the "
                         "dilated kernel",
                         sx, p->pad_h, p->pad_w, (long long)ph, (long long)pw, (long long)kh, (long long)kw);
    *oh = (int)((ph - kh) / p->stride_h + 1);
    *ow = (int)((pw - kw) / p->stride_w + 1);
    return FACS_OK;
}

/* Runs the backend's forward into y. Its scratch (the reordered weight and
 * the primitive's scratchpad: about the weights' size again over a network)
 * is dead once the call returns, so it goes back to the arena at once rather
 * than at the end of the step. */
static facs_status forward(facs_ctx *ctx, const facs_conv2d_params *p, const facs_tensor *x, const facs_tensor *w,
                           const facs_tensor *b, facs_tensor *y)
{
    facs_arena_pos scratch = facs_arena_position(&ctx->data);
    facs_status s = ctx->backend->conv2d_forward(ctx, p, x, w, b, y);
    facs_arena_rewind(&ctx->data, scratch, NULL, 0);
    return s;
}

facs_tensor *facs_conv2d(facs_ctx *ctx, facs_tensor *x, facs_tensor *w, facs_tensor *b,
                         const facs_conv2d_params *p)
{
    if (!x || !w)
        return NULL;
    if (facs_check_device(ctx, "conv2d", 3, (const facs_tensor *const[]){x, w, b}) ||
        facs_check_f32("conv2d", "x", x) || facs_check_f32("conv2d", "w", w) || facs_check_f32("conv2d", "b", b) ||
        !FACS_HAS_ENTRY(ctx, conv2d_forward, "conv2d"))
        return NULL;
    int oh = 0, ow = 0;
    if (check_args(x, w, b, p, &oh, &ow) != FACS_OK)
        return NULL;
    if (p->post_sum || p->post_act != FACS_POST_NONE) {
        facs_fail(FACS_ERR_ARG, "conv2d: post-ops are for inference: use facs_conv2d_fused");
        return NULL;
    }
    facs_tensor *y = facs_ctx_tensor(ctx, FACS_F32, x->n, w->n, oh, ow);
    if (!y || forward(ctx, p, x, w, b, y) != FACS_OK)
        return NULL;
    facs_profile_op(ctx, "conv2d", 3, (const facs_tensor *const[]){x, w, b}, y, w);
    if (facs_needs_grad(ctx, 3, (facs_tensor *const[]){x, w, b})) {
        if (!FACS_HAS_ENTRY(ctx, conv2d_backward, "conv2d backward"))
            return NULL;
        conv2d_state *s = facs_tape_push(ctx, "conv2d", conv2d_backward, y, sizeof *s);
        if (!s)
            return NULL;
        s->p = *p;
        s->x = x;
        s->w = w;
        s->b = b;
    }
    return y;
}

/* facs_conv2d_fused into a new tensor, or over the residual (over). */
static facs_tensor *conv2d_fused(facs_ctx *ctx, facs_tensor *x, facs_tensor *w, facs_tensor *b,
                                 const facs_conv2d_params *p, facs_tensor *residual, facs_post_act act, int over)
{
    if (!x || !w)
        return NULL;
    if (facs_check_post_act("conv2d_fused", act) ||
        facs_check_device(ctx, "conv2d_fused", 4, (const facs_tensor *const[]){x, w, b, residual}) ||
        facs_check_f32("conv2d_fused", "x", x) || facs_check_f32("conv2d_fused", "w", w) ||
        facs_check_f32("conv2d_fused", "b", b) || facs_check_f32("conv2d_fused", "residual", residual) ||
        !FACS_HAS_ENTRY(ctx, conv2d_forward, "conv2d"))
        return NULL;
    if (facs_needs_grad(ctx, 4, (facs_tensor *const[]){x, w, b, residual})) {
        facs_fail(FACS_ERR_ARG, "conv2d_fused: inference only, but a gradient would be recorded");
        return NULL;
    }
    int oh = 0, ow = 0;
    if (check_args(x, w, b, p, &oh, &ow) != FACS_OK)
        return NULL;
    char sr[64];
    if (residual && (residual->n != x->n || residual->c != w->n || residual->h != oh || residual->w != ow)) {
        facs_fail(FACS_ERR_ARG, "conv2d_fused: residual %s is not the output's shape (%d, %d, %d, %d)",
                  facs_shape_str(residual, sr, sizeof sr), x->n, w->n, oh, ow);
        return NULL;
    }
    if (over && (!residual || residual == x)) {
        facs_fail(FACS_ERR_ARG, "conv2d_fused_over: %s", residual ? "the residual is the input x" : "no residual");
        return NULL;
    }
    facs_tensor *y = over ? residual : facs_ctx_tensor(ctx, FACS_F32, x->n, w->n, oh, ow);
    if (!y || (residual && !over && ctx->backend->copy(y->data, residual->data, facs_tensor_bytes(y)) != FACS_OK))
        return NULL;
    facs_conv2d_params fused = *p;
    fused.post_sum = residual != NULL;
    fused.post_act = (facs_post_act)act;
    if (forward(ctx, &fused, x, w, b, y) != FACS_OK)
        return NULL;
    facs_profile_op(ctx, "conv2d_fused", 4, (const facs_tensor *const[]){x, w, b, residual}, y, w);
    return y;
}

facs_tensor *facs_conv2d_fused(facs_ctx *ctx, facs_tensor *x, facs_tensor *w, facs_tensor *b,
                               const facs_conv2d_params *p, facs_tensor *residual, facs_post_act act)
{
    return conv2d_fused(ctx, x, w, b, p, residual, act, 0);
}

facs_tensor *facs_conv2d_fused_over(facs_ctx *ctx, facs_tensor *x, facs_tensor *w, facs_tensor *b,
                                    const facs_conv2d_params *p, facs_tensor *residual, facs_post_act act)
{
    return conv2d_fused(ctx, x, w, b, p, residual, act, 1);
}
