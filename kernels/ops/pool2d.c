/* Max and average pooling with PyTorch's output-size and padding rules. */
#include "op_impl.h"

typedef struct {
    facs_pool2d_params p;
    facs_tensor *x;
} pool_state;

/* Floor division (PyTorch's div_rtn): the numerator may be negative when the
 * window does not fit, which must give an output size below 1. */
static long floor_div(long a, long b) { return a >= 0 ? a / b : -((-a + b - 1) / b); }

/* Below 1 when no window fits (and 0 for a stride below 1); callers check. */
int facs_pool_out_size(int in, int kernel, int stride, int pad, int ceil_mode)
{
    if (stride < 1)
        return 0;
    long out = floor_div((long)in + 2L * pad - kernel + (ceil_mode ? stride - 1 : 0), stride) + 1;
    /* With ceil_mode the last window must start inside the input or the left
     * padding; one starting in the right padding is dropped. */
    if (ceil_mode && (out - 1) * stride >= (long)in + pad)
        out--;
    return (int)out;
}

static facs_status check_axis(const char *op, const char *axis, int in, int kernel, int stride, int pad)
{
    if (kernel < 1 || stride < 1 || pad < 0)
        return facs_fail(FACS_ERR_ARG, "%s: %s kernel %d, stride %d, pad %d (need kernel, stride >= 1, pad >= 0)", op,
                         axis, kernel, stride, pad);
    /* PyTorch's limit: it keeps every window inside the input at least partly. */
    if (pad > kernel / 2)
        return facs_fail(FACS_ERR_ARG, "%s: %s pad %d exceeds half the kernel %d", op, axis, pad, kernel);
    if (facs_pool_out_size(in, kernel, stride, pad, 0) < 1)
        return facs_fail(FACS_ERR_ARG, "%s: %s kernel %d does not fit the input %d with pad %d", op, axis, kernel,
                         in, pad);
    return FACS_OK;
}

static facs_status max_backward(facs_ctx *ctx, facs_node *node)
{
    pool_state *s = node->state;
    facs_tensor *dx;
    FACS_TRY(facs_grad_begin(ctx, s->x, &dx));
    FACS_TRY(ctx->backend->maxpool2d_backward(ctx, &s->p, s->x, node->out->grad, dx));
    return facs_grad_end(ctx, s->x, dx);
}

static facs_status avg_backward(facs_ctx *ctx, facs_node *node)
{
    pool_state *s = node->state;
    facs_tensor *dx;
    FACS_TRY(facs_grad_begin(ctx, s->x, &dx));
    FACS_TRY(ctx->backend->avgpool2d_backward(ctx, &s->p, node->out->grad, dx));
    return facs_grad_end(ctx, s->x, dx);
}

static facs_tensor *pool(facs_ctx *ctx, facs_tensor *x, const facs_pool2d_params *p, int is_max)
{
    const char *op = is_max ? "maxpool2d" : "avgpool2d";
    if (!x)
        return NULL;
    if (!p) {
        facs_fail(FACS_ERR_ARG, "%s: no pooling parameters", op);
        return NULL;
    }
    if (facs_check_device(ctx, op, 1, (const facs_tensor *const[]){x}) || facs_check_f32(op, "x", x))
        return NULL;
    if (is_max ? !FACS_HAS_ENTRY(ctx, maxpool2d_forward, op) : !FACS_HAS_ENTRY(ctx, avgpool2d_forward, op))
        return NULL;
    if (check_axis(op, "height", x->h, p->kernel_h, p->stride_h, p->pad_h) ||
        check_axis(op, "width", x->w, p->kernel_w, p->stride_w, p->pad_w))
        return NULL;
    int oh = facs_pool_out_size(x->h, p->kernel_h, p->stride_h, p->pad_h, p->ceil_mode);
    int ow = facs_pool_out_size(x->w, p->kernel_w, p->stride_w, p->pad_w, p->ceil_mode);
    facs_tensor *y = facs_ctx_tensor(ctx, FACS_F32, x->n, x->c, oh, ow);
    if (!y)
        return NULL;
    facs_status st = is_max ? ctx->backend->maxpool2d_forward(ctx, p, x, y)
                            : ctx->backend->avgpool2d_forward(ctx, p, x, y);
    if (st != FACS_OK)
        return NULL;
    facs_profile_op(ctx, op, 1, (const facs_tensor *const[]){x}, y, NULL);
    if (facs_needs_grad(ctx, 1, &x)) {
        pool_state *s = facs_tape_push(ctx, op, is_max ? max_backward : avg_backward, y, sizeof *s);
        if (!s)
            return NULL;
        s->p = *p;
        s->x = x;
    }
    return y;
}

facs_tensor *facs_maxpool2d(facs_ctx *ctx, facs_tensor *x, const facs_pool2d_params *p)
{
    return pool(ctx, x, p, 1);
}

facs_tensor *facs_avgpool2d(facs_ctx *ctx, facs_tensor *x, const facs_pool2d_params *p)
{
    return pool(ctx, x, p, 0);
}
