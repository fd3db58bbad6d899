/* The tape check of test_backend_ops: a case's op through its ops.h wrapper
 * (the family's tape hook) and the autograd tape (facs_backward_many from
 * every dy) must give what the backend's entries gave on the same data, bit
 * for bit: the wrappers and the tape add no arithmetic. The inputs are made
 * as a network makes them: parameter inputs (those with a BO_DPARAM) heap
 * tensors with is_param whose gradients start at the drawn starts, the
 * others arena tensors, requiring a gradient where the case has one. */
#include <stdlib.h>
#include <string.h>

#include "harness.h"

/* The gradient tensor of input i in pb, or -1. */
static int grad_of(const bo_problem *pb, int i)
{
    for (int j = 0; j < pb->count; j++)
        if (bo_is_grad(pb->t[j].role) && pb->t[j].of == i && !pb->t[j].absent)
            return j;
    return -1;
}

/* A tensor holding spec's host values: an arena tensor, or a heap one (param). */
static facs_tensor *make_tensor(facs_ctx *ctx, const bo_tensor *spec, int param)
{
    facs_tensor *t = param ? facs_tensor_create(ctx->device, spec->dtype, spec->n, spec->c, spec->h, spec->w)
                           : facs_ctx_tensor(ctx, spec->dtype, spec->n, spec->c, spec->h, spec->w);
    if (!bo_check(t != NULL, "tape: cannot make %s: %s", spec->name, facs_last_error()))
        return NULL;
    if (!bo_check_ok(facs_tensor_upload(t, spec->host, facs_tensor_bytes(t)), "tape: upload", spec->name)) {
        if (param)
            facs_tensor_free(t);
        return NULL;
    }
    return t;
}

/* The inputs, states and dy of the problem as the wrapper takes them; the
 * heap ones also into params (to free). Returns 0 on failure. */
static int make_inputs(const case_ctx *cc, facs_ctx *ctx, bo_call *c, facs_tensor **params)
{
    const bo_problem *pb = &cc->pb;
    for (int i = 0; i < pb->count; i++) {
        const bo_tensor *t = &pb->t[i];
        if (t->absent || t->role == BO_OUT || bo_is_grad(t->role))
            continue;
        const int g = cc->backward ? grad_of(pb, i) : -1;
        const int param = g >= 0 && pb->t[g].role == BO_DPARAM;
        facs_tensor *made = make_tensor(ctx, t, param);
        if (!made)
            return 0;
        c->t[i] = made;
        if (param)
            params[i] = made;
        if (g < 0)
            continue;
        made->requires_grad = 1;
        made->is_param = param;
        if (param && !(bo_check_ok(facs_tensor_ensure_grad(made), "tape: gradient", t->name) &&
                       bo_check_ok(facs_tensor_upload(made->grad, pb->t[g].host, facs_tensor_bytes(made)),
                                   "tape: upload of the start", pb->t[g].name)))
            return 0;
    }
    return 1;
}

/* t (spec's counterpart) against want, the entries' result, bit for bit. */
static void same_as_entries(const facs_tensor *t, const bo_tensor *spec, const float *want)
{
    if (!bo_check(t != NULL, "tape: the wrapper or the tape gave no %s", spec->name) ||
        !bo_check(facs_tensor_numel(t) == bo_numel(spec), "tape: %s has %zu elements, the case's %zu", spec->name,
                  facs_tensor_numel(t), bo_numel(spec)))
        return;
    size_t bytes = facs_tensor_bytes(t);
    void *got = bo_xmalloc(bytes);
    if (bo_check_ok(facs_tensor_download(t, got, bytes), "tape: download", spec->name))
        bo_check(!memcmp(got, want, bytes),
                 "tape: %s differs from the backend entries' (ops.h and the tape must add no arithmetic)",
                 spec->name);
    free(got);
}

/* Backward from every output the wrapper returned that has a dy; then each
 * gradient against the full backward's (res). */
static void tape_backward(const case_ctx *cc, facs_ctx *ctx, bo_call *c, const bo_result *res)
{
    const bo_problem *pb = &cc->pb;
    facs_tensor *outs[BO_MAX_TENSORS];
    const facs_tensor *grads[BO_MAX_TENSORS];
    int count = 0;
    for (int i = 0; i < pb->count; i++)
        if (pb->t[i].role == BO_DY && c->t[pb->t[i].of]) {
            outs[count] = c->t[pb->t[i].of];
            grads[count++] = c->t[i];
        }
    if (!bo_check(count > 0, "tape: the wrapper returned no output that has a dy") ||
        !bo_check_ok(facs_backward_many(ctx, count, outs, grads), "tape: facs_backward_many", NULL))
        return;
    for (int i = 0; i < pb->count; i++) {
        const bo_tensor *t = &pb->t[i];
        if (bo_is_grad(t->role) && !t->absent)
            same_as_entries(c->t[t->of]->grad, t, t->role == BO_DPARAM ? res->acc[i] : res->val[i]);
    }
}

void bo_tape_check(const case_ctx *cc, facs_ctx *ctx, const bo_result *res)
{
    if (!cc->f->tape)
        return;
    const bo_problem *pb = &cc->pb;
    facs_ctx_begin_step(ctx);
    bo_call c = {.ctx = ctx, .be = ctx->backend};
    facs_tensor *params[BO_MAX_TENSORS] = {0};
    if (make_inputs(cc, ctx, &c, params) &&
        bo_check_ok(cc->f->tape(cc->k, pb, &c), "tape: the ops.h wrapper", NULL)) {
        for (int i = 0; i < pb->count; i++)
            if (bo_is_fwd_result(pb->t[i].role) && c.t[i])
                same_as_entries(c.t[i], &pb->t[i], res->val[i]);
        if (cc->backward)
            tape_backward(cc, ctx, &c, res);
    }
    for (int i = 0; i < BO_MAX_TENSORS; i++)
        facs_tensor_free(params[i]);
}
