#include "finite.h"

#include <inttypes.h>
#include <stdio.h>

static int has_grad(const facs_param *p) { return p->kind == FACS_PARAM_TRAINABLE && p->value->grad; }

facs_status facs_check_finite_grads(facs_ctx *ctx, const facs_param_list *params)
{
    const facs_backend *be = ctx->backend;
    size_t bytes = (size_t)params->count * sizeof(int64_t);
    if (bytes == 0)
        return FACS_OK;
    /* One counter per parameter, on the device; the host copy from the context's host arena. */
    int64_t *counts = facs_ctx_scratch(ctx, bytes), *host = facs_ctx_host_alloc(ctx, bytes);
    if (!counts || !host) {
        char cause[512];
        snprintf(cause, sizeof cause, "%s", facs_last_error());
        return facs_fail(FACS_ERR_MEMORY, "no memory for %d gradient checks: %s", params->count, cause);
    }
    FACS_TRY(be->fill_zero(counts, bytes));
    for (int i = 0; i < params->count; i++) {
        const facs_param *p = params->items[i];
        if (!has_grad(p))
            continue;
        if (p->value->grad->device != ctx->device)
            return facs_fail(FACS_ERR_ARG, "the gradient of %s is on %s, the step's context on %s", p->name,
                             facs_device_name(p->value->grad->device), facs_device_name(ctx->device));
        FACS_TRY(be->count_non_finite(facs_tensor_numel(p->value->grad), facs_f32(p->value->grad), counts + i));
    }
    FACS_TRY(be->copy_to_host(host, counts, bytes));
    for (int i = 0; i < params->count; i++)
        if (has_grad(params->items[i]) && host[i])
            return facs_fail(FACS_ERR_ARG, "the gradient of %s has %" PRId64 " non-finite values",
                             params->items[i]->name, host[i]);
    return FACS_OK;
}
