/* torch.optim.SGD over a facs_param_list (optim.h). */
#include <math.h>

#include "backend.h"
#include "optim.h"
#include "sgd_math.h"

facs_sgd_options facs_sgd_defaults(void) { return (facs_sgd_options){.lr = 0.01}; }

static facs_status check_options(const facs_sgd_options *o)
{
    if (!isfinite(o->lr) || o->lr < 0.0)
        return facs_fail(FACS_ERR_ARG, "sgd: invalid learning rate %g", o->lr);
    if (!isfinite(o->momentum) || o->momentum < 0.0)
        return facs_fail(FACS_ERR_ARG, "sgd: invalid momentum %g", o->momentum);
    if (!isfinite(o->dampening))
        return facs_fail(FACS_ERR_ARG, "sgd: invalid dampening %g", o->dampening);
    if (!isfinite(o->weight_decay) || o->weight_decay < 0.0)
        return facs_fail(FACS_ERR_ARG, "sgd: invalid weight decay %g", o->weight_decay);
    if (o->nesterov && (o->momentum <= 0.0 || o->dampening != 0.0))
        return facs_fail(FACS_ERR_ARG, "sgd: nesterov momentum needs momentum > 0 and dampening 0 (got %g, %g)",
                         o->momentum, o->dampening);
    return FACS_OK;
}

facs_status facs_sgd_init(facs_sgd *sgd, facs_param_list *params, const facs_sgd_options *options)
{
    if (!params || !options)
        return facs_fail(FACS_ERR_ARG, "sgd: init needs a parameter list and options");
    FACS_TRY(check_options(options));
    *sgd = (facs_sgd){.options = *options, .params = params};
    return FACS_OK;
}

void facs_sgd_free(facs_sgd *sgd)
{
    if (sgd->params)
        for (int i = 0; i < sgd->params->count; i++) {
            facs_param *p = sgd->params->items[i];
            facs_tensor_free(p->momentum);
            p->momentum = NULL;
        }
    sgd->params = NULL;
}

facs_status facs_sgd_zero_grad(facs_sgd *sgd)
{
    if (!sgd->params)
        return facs_fail(FACS_ERR_ARG, "sgd: zero_grad on an optimizer without parameters");
    return facs_param_list_zero_grad(sgd->params);
}

static facs_sgd_coeffs coeffs_of(const facs_sgd_options *o, const facs_param *p)
{
    /* Products in double, then one rounding: what PyTorch does with a param
     * group's Python-float lr before the kernel converts it. */
    double wd = o->no_decay_exempt && p->no_decay ? 0.0 : o->weight_decay;
    return (facs_sgd_coeffs){.lr = (float)(o->lr * p->lr_mult),
                             .weight_decay = (float)wd,
                             .momentum = (float)o->momentum,
                             .damp_keep = (float)(1.0 - o->dampening),
                             .nesterov = o->nesterov};
}

/* The update of sgd_math.h rewritten as axpy chains over whole tensors: every
 * term that reads the old p is applied before p changes. */
static facs_status step_portable(const facs_backend *be, const facs_sgd_coeffs *k, int first, facs_param *p)
{
    float *value = facs_f32(p->value);
    const float *grad = facs_f32(p->value->grad);
    size_t count = facs_tensor_numel(p->value);
    float lr = k->lr, wd = k->weight_decay, m = k->momentum;
    if (m == 0.0f) {
        if (wd != 0.0f)
            FACS_TRY(be->axpy(count, -lr * wd, value, value));
        return be->axpy(count, -lr, grad, value);
    }
    float *buf = facs_f32(p->momentum);
    if (first) {
        FACS_TRY(be->copy(buf, grad, count * sizeof *buf));
        if (wd != 0.0f)
            FACS_TRY(be->axpy(count, wd, value, buf));
    } else {
        FACS_TRY(be->axpy(count, m - 1.0f, buf, buf));
        FACS_TRY(be->axpy(count, k->damp_keep, grad, buf));
        if (wd != 0.0f)
            FACS_TRY(be->axpy(count, k->damp_keep * wd, value, buf));
    }
    if (!k->nesterov)
        return be->axpy(count, -lr, buf, value);
    if (wd != 0.0f)
        FACS_TRY(be->axpy(count, -lr * wd, value, value));
    FACS_TRY(be->axpy(count, -lr, grad, value));
    return be->axpy(count, -lr * m, buf, value);
}

static facs_status step(facs_sgd *sgd, int portable)
{
    if (!sgd->params)
        return facs_fail(FACS_ERR_ARG, "sgd: step on an optimizer without parameters");
    FACS_TRY(check_options(&sgd->options));
    facs_param_list *list = sgd->params;
    for (int i = 0; i < list->count; i++) /* before any update: a refused step changes nothing */
        if (!(list->items[i]->lr_mult >= 0.0 && isfinite(list->items[i]->lr_mult))) /* NaN: weights NaN; < 0: uphill */
            return facs_fail(FACS_ERR_ARG, "sgd: %s has learning-rate multiplier %g; it must be finite and >= 0",
                             list->items[i]->name, list->items[i]->lr_mult);
    for (int i = 0; i < list->count; i++) {
        facs_param *p = list->items[i];
        if (p->kind != FACS_PARAM_TRAINABLE || p->frozen || !p->value->grad)
            continue;
        if (!facs_tensor_same_shape(p->value, p->value->grad))
            return facs_fail(FACS_ERR_ARG, "sgd: gradient of %s does not match the parameter", p->name);
        facs_sgd_coeffs k = coeffs_of(&sgd->options, p);
        int first = k.momentum != 0.0f && !p->momentum;
        if (first)
            FACS_TRY(facs_param_ensure_momentum(p));
        facs_tensor_touch(p->value);
        const facs_backend *be = facs_backend_get(p->value->device);
        if (!be)
            return FACS_ERR_BACKEND;
        if (be->sgd_update && !portable) {
            float *buf = k.momentum != 0.0f ? facs_f32(p->momentum) : NULL;
            FACS_TRY(be->sgd_update(k, first, facs_tensor_numel(p->value), facs_f32(p->value),
                                    facs_f32(p->value->grad), buf));
            continue;
        }
        FACS_TRY(step_portable(be, &k, first, p));
    }
    sgd->steps++;
    return FACS_OK;
}

facs_status facs_sgd_step(facs_sgd *sgd) { return step(sgd, 0); }
facs_status facs_sgd_step_portable(facs_sgd *sgd) { return step(sgd, 1); }
