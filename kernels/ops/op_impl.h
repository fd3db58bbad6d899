/* For the op implementations of kernels/ops/ only: the argument checks every
 * op shares and its single entry to the profiling hook. Not part of the
 * public API (ops.h); applications never need it. */
#ifndef FACS_OP_IMPL_H
#define FACS_OP_IMPL_H

#include "../ops.h"

/* Argument checks; each sets the last error naming op (and the operand). */
facs_status facs_check_device(facs_ctx *ctx, const char *op, int count, const facs_tensor *const *ts);
facs_status facs_check_f32(const char *op, const char *name, const facs_tensor *t);
/* act is one of the post-activations of backend.h (none, ReLU, ReLU6). */
facs_status facs_check_post_act(const char *op, facs_post_act act);
facs_status facs_unsupported(facs_ctx *ctx, const char *op);

/* True when the context's backend has the entry; otherwise sets the error. */
#define FACS_HAS_ENTRY(ctx, entry, op) ((ctx)->backend->entry ? 1 : (facs_unsupported((ctx), (op)), 0))

/* Calls ctx->profile (ctx.h) when it is set, after a successful forward. */
void facs_profile_op(facs_ctx *ctx, const char *op, int n_inputs, const facs_tensor *const *inputs,
                     const facs_tensor *out, const facs_tensor *weight);

#endif
