/* The tape: reverse-mode autograd over eager ops.
 *
 * While ctx->record is set, each op of ops.h whose inputs require a gradient
 * pushes a node holding its backward function and the tensors it saved.
 * facs_backward walks the nodes newest first. For every node whose output
 * received a gradient it calls the op's backward, which:
 *   - gets the buffer for an input's gradient from facs_grad_begin, writes it
 *     (=), then hands it back with facs_grad_end. If the input already had a
 *     gradient (it feeds several ops, like a residual), begin returns scratch
 *     and end adds it, so op backwards never need to know about fan-out;
 *   - accumulates parameter gradients (+=) straight into param->grad.
 *
 * After backward, activation gradients are dropped unless the tensor was
 * marked with facs_keep_grad (GradCAM reads the gradient of a feature map).
 *
 * Gradient readiness (data parallel, grad_sync.h): while recording, each
 * parameter is stamped with the index of the first node that consumed it in
 * this step (facs_tensor.tape_first). Backward runs nodes newest first, so
 * once it has run node k every parameter stamped k or later has its whole
 * gradient; ctx->grad_ready, when set, hears each k as it passes, and can
 * start summing those gradients over the ranks while backward goes on. */
#ifndef FACS_AUTOGRAD_H
#define FACS_AUTOGRAD_H

#include "ctx.h"

typedef facs_status (*facs_backward_fn)(facs_ctx *ctx, facs_node *node);

struct facs_node {
    facs_node *next;           /* the node recorded before this one */
    facs_backward_fn backward;
    const char *op;            /* op name, for error messages */
    facs_tensor *out;
    int index;                 /* position on this step's tape: 0 for the first node pushed */
    void *state;               /* op-specific saved tensors and parameters */
};

/* 1 if the tape should record an op with these inputs (NULLs are skipped). */
int facs_needs_grad(const facs_ctx *ctx, int count, facs_tensor *const *inputs);

/* Pushes a node for out with state_bytes of zeroed host state; marks out as
 * requiring a gradient. Returns the node's state, or NULL on failure. */
void *facs_tape_push(facs_ctx *ctx, const char *op, facs_backward_fn fn, facs_tensor *out, size_t state_bytes);

/* Runs backward from out with gradient grad_out (same shape), or ones when
 * grad_out is NULL (a scalar loss). It consumes the step's tape: a second
 * backward needs a new forward (as PyTorch without retain_graph). */
facs_status facs_backward(facs_ctx *ctx, facs_tensor *out, const facs_tensor *grad_out);

/* Backward from several outputs at once (PSPNet's main and aux logits): the
 * gradient of sum_i <outs[i], grads[i]>, one walk of the tape. Each grads[i]
 * is shaped like outs[i] (NULL: ones); the outputs must be distinct and none
 * may feed another (each is an end of the graph). */
facs_status facs_backward_many(facs_ctx *ctx, int count, facs_tensor *const *outs,
                               const facs_tensor *const *grads);

/* Gradient buffer protocol for op backwards (see above). begin sets *g to the
 * buffer to write, or to NULL when t is NULL or needs no gradient (the op then
 * skips that gradient); it fails only when memory runs out. */
facs_status facs_grad_begin(facs_ctx *ctx, facs_tensor *t, facs_tensor **g);
facs_status facs_grad_end(facs_ctx *ctx, facs_tensor *t, facs_tensor *g);

/* For parameter inputs: the persistent gradient (allocated on first use), or
 * NULL when t is NULL or needs no gradient. */
facs_tensor *facs_param_grad(facs_tensor *t);

/* For inputs whose gradient a backend accumulates (+=): weights, biases, BN
 * affine parameters. A parameter gets its persistent gradient; an activation
 * used in that role gets a zeroed buffer that accum_end hands to grad_end.
 * *g is NULL when t is NULL or needs no gradient. */
facs_status facs_accum_begin(facs_ctx *ctx, facs_tensor *t, facs_tensor **g);
facs_status facs_accum_end(facs_ctx *ctx, facs_tensor *t, facs_tensor *g);

/* Keeps t's gradient after backward (t must be an activation of this step). */
void facs_keep_grad(facs_tensor *t);

#endif
