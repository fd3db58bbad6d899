#include "finite.h"

#include <math.h>
#include <stdlib.h>

/* Non-finite values of t (downloaded, so any device works). */
static facs_status count_non_finite(const facs_tensor *t, float **buf, size_t *cap, size_t *bad)
{
    size_t n = facs_tensor_numel(t);
    if (n > *cap) {
        float *grown = realloc(*buf, n * sizeof *grown);
        if (!grown)
            return facs_fail(FACS_ERR_MEMORY, "out of memory checking gradients");
        *buf = grown;
        *cap = n;
    }
    FACS_TRY(facs_tensor_download(t, *buf, n * sizeof **buf));
    *bad = 0;
    for (size_t i = 0; i < n; i++)
        *bad += !isfinite((*buf)[i]);
    return FACS_OK;
}

facs_status facs_check_finite_grads(const facs_param_list *params)
{
    float *buf = NULL;
    size_t cap = 0, bad = 0;
    facs_status s = FACS_OK;
    for (int i = 0; s == FACS_OK && i < params->count; i++) {
        const facs_param *p = params->items[i];
        if (p->kind != FACS_PARAM_TRAINABLE || !p->value->grad)
            continue;
        s = count_non_finite(p->value->grad, &buf, &cap, &bad);
        if (s == FACS_OK && bad)
            s = facs_fail(FACS_ERR_ARG, "the gradient of %s has %zu non-finite values", p->name, bad);
    }
    free(buf);
    return s;
}
