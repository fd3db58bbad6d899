#include "finite.h"

#include <inttypes.h>
#include <stdio.h>

/* The tensor of p a check counts: its gradient, or its value. */
typedef const facs_tensor *(*picked_fn)(const facs_param *p);

static const facs_tensor *trainable_grad(const facs_param *p)
{
    return p->kind == FACS_PARAM_TRAINABLE ? p->value->grad : NULL;
}

static const facs_tensor *value(const facs_param *p) { return p->value; }

/* Counts the non-finite values of each picked tensor on ctx's device (one
 * counter per parameter, one download for all); FACS_ERR_ARG naming the first
 * tensor (in list order) with any, as "<what> of <name> has N non-finite values". */
static facs_status check_picked(facs_ctx *ctx, const facs_param_list *params, picked_fn pick, const char *what)
{
    const facs_backend *be = ctx->backend;
    size_t bytes = (size_t)params->count * sizeof(int64_t);
    if (bytes == 0)
        return FACS_OK;
    int64_t *counts = facs_ctx_scratch(ctx, bytes), *host = facs_ctx_host_alloc(ctx, bytes);
    if (!counts || !host) {
        char cause[512];
        snprintf(cause, sizeof cause, "%s", facs_last_error());
        return facs_fail(FACS_ERR_MEMORY, "no memory for %d checks of the %ss: %s", params->count, what, cause);
    }
    FACS_TRY(be->fill_zero(counts, bytes));
    for (int i = 0; i < params->count; i++) {
        const facs_param *p = params->items[i];
        const facs_tensor *t = pick(p);
        if (!t)
            continue;
        if (t->device != ctx->device)
            return facs_fail(FACS_ERR_ARG, "the %s of %s is on %s, the step's context on %s", what, p->name,
                             facs_device_name(t->device), facs_device_name(ctx->device));
        FACS_TRY(be->count_non_finite(facs_tensor_numel(t), facs_f32(t), counts + i));
    }
    FACS_TRY(be->copy_to_host(host, counts, bytes));
    for (int i = 0; i < params->count; i++)
        if (pick(params->items[i]) && host[i])
            return facs_fail(FACS_ERR_ARG, "the %s of %s has %" PRId64 " non-finite values", what,
                             params->items[i]->name, host[i]);
    return FACS_OK;
}

facs_status facs_check_finite_grads(facs_ctx *ctx, const facs_param_list *params)
{
    return check_picked(ctx, params, trainable_grad, "gradient");
}

facs_status facs_check_finite_values(facs_ctx *ctx, const facs_param_list *params, const char *where)
{
    facs_status s = check_picked(ctx, params, value, "value");
    if (s != FACS_ERR_ARG)
        return s;
    char why[512];
    snprintf(why, sizeof why, "%s", facs_last_error());
    return facs_fail(s, "%s: %s: training diverged; lower --lr (checkpoints already written are kept)", where, why);
}
