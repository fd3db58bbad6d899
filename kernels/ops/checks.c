/* Argument checks shared by every op of ops.h. */
#include "op_impl.h"

facs_status facs_check_device(facs_ctx *ctx, const char *op, int count, const facs_tensor *const *ts)
{
    if (!ctx)
        return facs_fail(FACS_ERR_ARG, "%s: no context (a NULL facs_ctx: did facs_ctx_create fail?)", op);
    for (int i = 0; i < count; i++)
        if (ts[i] && ts[i]->device != ctx->device)
            return facs_fail(FACS_ERR_ARG, "%s: operand %d is on %s but the context runs on %s", op, i,
                             facs_device_name(ts[i]->device), facs_device_name(ctx->device));
    return FACS_OK;
}

facs_status facs_check_f32(const char *op, const char *name, const facs_tensor *t)
{
    if (t && t->dtype != FACS_F32)
        return facs_fail(FACS_ERR_ARG, "%s: %s must be float32", op, name);
    return FACS_OK;
}

facs_status facs_check_post_act(const char *op, facs_post_act act)
{
    if (act != FACS_POST_NONE && act != FACS_POST_RELU && act != FACS_POST_RELU6)
        return facs_fail(FACS_ERR_ARG, "%s: unknown activation %d (FACS_POST_NONE, _RELU or _RELU6)", op, (int)act);
    return FACS_OK;
}

facs_status facs_unsupported(facs_ctx *ctx, const char *op)
{
    return facs_fail(FACS_ERR_UNSUPPORTED, "%s is not available on the %s backend", op, ctx->backend->name);
}

void facs_profile_op(facs_ctx *ctx, const char *op, int n_inputs, const facs_tensor *const *inputs,
                     const facs_tensor *out, const facs_tensor *weight)
{
    if (ctx->profile)
        ctx->profile(ctx->profile_user, op, inputs, n_inputs, out, weight);
}
