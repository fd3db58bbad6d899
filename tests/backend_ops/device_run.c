/* Every check of test_backend_ops that needs no other backend, on one
 * backend's entries (harness.h lists them): the tensors live inside guarded
 * device buffers, outputs and activation gradients start as NaN, parameter
 * gradients at drawn values, and each entry runs several times: twice for
 * the reruns, once per gradient left out, once over other initial contents. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"

#define GUARD_BYTES 256
#define UNWRITTEN_BITS 0xFFFFFFFFu /* the NaN that 0xFF bytes make */

/* ---- Guarded device buffers --------------------------------------------- */

typedef struct {
    const facs_backend *be;
    unsigned char *base; /* NULL: the tensor is absent */
    facs_tensor t;
    size_t bytes;
    unsigned salt;
    const char *name;
} gbuf;

static unsigned gbuf_count; /* makes each buffer's sentinel pattern its own */

/* Floats in [1, 2) that vary with the position and the buffer: a kernel that
 * strays out of bounds and writes back what it read from a neighbour's margin,
 * or adds a small value to it, still changes these bytes. */
static void sentinel_fill(unsigned char *dst, size_t bytes, unsigned salt)
{
    for (size_t i = 0; i < bytes; i += 4) {
        float v = 1.0f + (float)((i / 4 * 37 + (size_t)salt * 101) % 977) / 1024.0f;
        memcpy(dst + i, &v, bytes - i < 4 ? bytes - i : 4);
    }
}

static int gbuf_set(gbuf *g, const void *host)
{
    return bo_check_ok(g->be->copy_from_host(g->t.data, host, g->bytes), "copy_from_host", g->name);
}

static int gbuf_get(const gbuf *g, void *host)
{
    return bo_check_ok(g->be->copy_to_host(host, g->t.data, g->bytes), "copy_to_host", g->name);
}

static int gbuf_pattern(gbuf *g, int byte)
{
    unsigned char *p = bo_xmalloc(g->bytes);
    memset(p, byte, g->bytes);
    int ok = gbuf_set(g, p);
    free(p);
    return ok;
}

/* Values no correct write would leave: the initial contents of an activation
 * gradient in the run that checks it is written (=), not accumulated. */
static int gbuf_garbage(gbuf *g)
{
    unsigned char *p = bo_xmalloc(g->bytes);
    sentinel_fill(p, g->bytes, g->salt + 7);
    int ok = gbuf_set(g, p);
    free(p);
    return ok;
}

static int gbuf_create(gbuf *g, const facs_backend *be, facs_device device, const bo_tensor *spec)
{
    *g = (gbuf){.be = be, .salt = gbuf_count++, .name = spec->name};
    g->t =
        (facs_tensor){.n = spec->n, .c = spec->c, .h = spec->h, .w = spec->w, .dtype = spec->dtype, .device = device};
    g->bytes = facs_tensor_bytes(&g->t);
    size_t total = g->bytes + 2 * GUARD_BYTES;
    g->base = be->alloc(total);
    if (!bo_check(g->base != NULL, "alloc of %s (%zu bytes) failed: %s", spec->name, total, facs_last_error()))
        return 0;
    g->t.data = g->base + GUARD_BYTES;
    unsigned char *pattern = bo_xmalloc(total);
    sentinel_fill(pattern, total, g->salt);
    int ok = bo_check_ok(be->copy_from_host(g->base, pattern, total), "copy_from_host", spec->name);
    free(pattern);
    return ok;
}

static void gbuf_free(gbuf *g)
{
    if (g->base)
        g->be->free(g->base);
    g->base = NULL;
}

static int gbuf_guards_intact(const gbuf *g, const char *when)
{
    if (!g->base)
        return 1;
    size_t total = g->bytes + 2 * GUARD_BYTES;
    unsigned char *got = bo_xmalloc(total), *want = bo_xmalloc(total);
    sentinel_fill(want, total, g->salt);
    int ok = bo_check_ok(g->be->copy_to_host(got, g->base, total), "copy_to_host", g->name);
    size_t before = 0, after = 0;
    for (size_t i = 0; ok && i < GUARD_BYTES; i++) {
        before += got[i] != want[i];
        after += got[GUARD_BYTES + g->bytes + i] != want[GUARD_BYTES + g->bytes + i];
    }
    ok = ok && bo_check(before == 0 && after == 0, "%s: %zu bytes before it and %zu after it overwritten by %s",
                        g->name, before, after, when);
    free(got);
    free(want);
    return ok;
}

/* ---- One case on one backend --------------------------------------------- */

void bo_result_alloc(const bo_problem *pb, bo_result *r)
{
    *r = (bo_result){0};
    for (int i = 0; i < pb->count; i++) {
        size_t n = bo_numel(&pb->t[i]);
        if (pb->t[i].absent)
            continue;
        if (bo_is_fwd_result(pb->t[i].role) || bo_is_grad(pb->t[i].role))
            r->val[i] = bo_floats(n);
        if (pb->t[i].role == BO_DPARAM)
            r->acc[i] = bo_floats(n);
    }
}

void bo_result_free(bo_result *r)
{
    for (int i = 0; i < BO_MAX_TENSORS; i++) {
        free(r->val[i]);
        free(r->acc[i]);
    }
}

static int same_bits(const void *a, const void *b, size_t bytes) { return memcmp(a, b, bytes) == 0; }

static size_t count_bits(const float *x, size_t count, uint32_t bits)
{
    size_t n = 0;
    for (size_t i = 0; i < count; i++) {
        uint32_t b;
        memcpy(&b, &x[i], sizeof b);
        n += b == bits;
    }
    return n;
}

/* Every element of an output or activation gradient written, and no NaN
 * where none may be (the comparisons judge the allowed ones). */
static void check_written(const bo_tensor *t, const float *x, const char *when)
{
    size_t n = bo_numel(t), unwritten = count_bits(x, n, UNWRITTEN_BITS), nans = 0;
    for (size_t i = 0; i < n; i++)
        nans += isnan(x[i]) != 0;
    bo_check(unwritten == 0, "%s: %zu of %zu elements left unwritten by %s", t->name, unwritten, n, when);
    bo_check(t->nan_ok || nans == unwritten, "%s: %zu NaN elements after %s", t->name, nans - unwritten, when);
}

static void make_call(const case_ctx *cc, facs_ctx *ctx, gbuf *g, bo_call *c)
{
    *c = (bo_call){.ctx = ctx, .be = ctx->backend};
    for (int i = 0; i < cc->pb.count; i++)
        c->t[i] = g[i].base ? &g[i].t : NULL;
}

static int all_guards_intact(const case_ctx *cc, const gbuf *g, const char *when)
{
    int ok = 1;
    for (int i = 0; i < cc->pb.count; i++)
        ok &= gbuf_guards_intact(&g[i], when);
    return ok;
}

/* Forward from fresh states and NaN outputs; the results into dst. */
static int forward_once(const case_ctx *cc, facs_ctx *ctx, gbuf *g, float *const *dst, int64_t *valid, const char *when)
{
    const bo_problem *pb = &cc->pb;
    for (int i = 0; i < pb->count; i++) {
        if (!g[i].base)
            continue;
        if (pb->t[i].role == BO_STATE && !gbuf_set(&g[i], pb->t[i].host))
            return 0;
        if (pb->t[i].role == BO_OUT && !gbuf_pattern(&g[i], 0xFF))
            return 0;
    }
    bo_call c;
    make_call(cc, ctx, g, &c);
    if (!bo_check_ok(cc->f->forward(cc->k, pb, &c), when, NULL) ||
        !bo_check_ok(ctx->backend->sync(), "sync after", when) || !all_guards_intact(cc, g, when))
        return 0;
    for (int i = 0; i < pb->count; i++)
        if (g[i].base && bo_is_fwd_result(pb->t[i].role) && !gbuf_get(&g[i], dst[i]))
            return 0;
    *valid = c.valid;
    return 1;
}

enum { DX_NAN, DX_GARBAGE };
enum { DPARAM_START, DPARAM_ZERO };

/* Backward with the gradients in skip passed as NULL; every gradient buffer
 * (passed or not) is read back into dst. */
static int backward_once(const case_ctx *cc, facs_ctx *ctx, gbuf *g, unsigned skip, int dx_init, int dparam_init,
                         int64_t valid, float *const *dst, const char *when)
{
    const bo_problem *pb = &cc->pb;
    for (int i = 0; i < pb->count; i++) {
        if (!g[i].base)
            continue;
        int ok = 1;
        if (pb->t[i].role == BO_DX)
            ok = dx_init == DX_NAN ? gbuf_pattern(&g[i], 0xFF) : gbuf_garbage(&g[i]);
        else if (pb->t[i].role == BO_DPARAM)
            ok = dparam_init == DPARAM_START ? gbuf_set(&g[i], pb->t[i].host) : gbuf_pattern(&g[i], 0);
        if (!ok)
            return 0;
    }
    bo_call c;
    make_call(cc, ctx, g, &c);
    c.valid = valid;
    for (int i = 0; i < pb->count; i++)
        if (skip & (1u << i))
            c.t[i] = NULL;
    if (!bo_check_ok(cc->f->backward(cc->k, pb, &c), when, NULL) ||
        !bo_check_ok(ctx->backend->sync(), "sync after", when) || !all_guards_intact(cc, g, when))
        return 0;
    for (int i = 0; i < pb->count; i++)
        if (g[i].base && bo_is_grad(pb->t[i].role) && !gbuf_get(&g[i], dst[i]))
            return 0;
    return 1;
}

static void grads_alloc(const bo_problem *pb, float **dst)
{
    for (int i = 0; i < pb->count; i++)
        dst[i] = bo_is_grad(pb->t[i].role) && !pb->t[i].absent ? bo_floats(bo_numel(&pb->t[i])) : NULL;
}

static void grads_free(float **dst)
{
    for (int i = 0; i < BO_MAX_TENSORS; i++) {
        free(dst[i]);
        dst[i] = NULL;
    }
}

/* A gradient passed as NULL must keep its initial contents: all NaN bits for
 * an activation gradient, the drawn start for a parameter gradient. */
static void check_untouched(const bo_tensor *t, const float *got, const char *when)
{
    size_t n = bo_numel(t);
    int ok = t->role == BO_DX ? count_bits(got, n, UNWRITTEN_BITS) == n : same_bits(got, t->host, n * sizeof(float));
    bo_check(ok, "%s: changed by %s, which did not want it", t->name, when);
}

/* The others' bits must be those of the full backward (full); the skipped
 * ones untouched. */
static void check_partial(const case_ctx *cc, unsigned skip, float *const *got, float *const *full, const char *when)
{
    for (int i = 0; i < cc->pb.count; i++) {
        const bo_tensor *t = &cc->pb.t[i];
        if (!bo_is_grad(t->role) || t->absent)
            continue;
        size_t n = bo_numel(t);
        if (skip & (1u << i)) {
            check_untouched(t, got[i], when);
        } else if (skip && t->alone_rounds) {
            double e = bo_rel_err_f(got[i], full[i], n, 0);
            bo_check(e <= cc->tol_xb, "%s: %s is off by %.2g from the full backward", t->name, when, e);
        } else {
            bo_check(same_bits(got[i], full[i], n * sizeof(float)), "%s: %s gave other bits than the full backward",
                     t->name, when);
        }
    }
}

/* Returns 1 when res holds the gradients (the full backward and the one from
 * zero ran), whatever the checks said. */
static int backward_checks(const case_ctx *cc, facs_ctx *ctx, gbuf *g, bo_result *res)
{
    const bo_problem *pb = &cc->pb;
    /* The full backward: activation gradients over NaN, parameter gradients
     * onto their drawn starts. */
    float *full[BO_MAX_TENSORS] = {0}, *again[BO_MAX_TENSORS] = {0};
    for (int i = 0; i < pb->count; i++)
        full[i] = pb->t[i].role == BO_DPARAM ? res->acc[i] : res->val[i];
    if (!backward_once(cc, ctx, g, 0, DX_NAN, DPARAM_START, res->valid, full, "backward"))
        return 0;
    for (int i = 0; i < pb->count; i++)
        if (pb->t[i].role == BO_DX && !pb->t[i].absent)
            check_written(&pb->t[i], full[i], "backward");
    grads_alloc(pb, again);
    if (backward_once(cc, ctx, g, 0, DX_NAN, DPARAM_START, res->valid, again, "backward rerun"))
        check_partial(cc, 0, again, full, "a rerun");

    /* Each gradient alone NULL, each alone wanted, and all of them NULL:
     * with up to three gradients, every subset a caller can leave out. */
    unsigned all = 0;
    int grads = 0;
    for (int i = 0; i < pb->count; i++)
        if (bo_is_grad(pb->t[i].role) && !pb->t[i].absent) {
            all |= 1u << i;
            grads++;
        }
    char what[96];
    for (int i = 0; i < pb->count; i++) {
        if (!(all & (1u << i)))
            continue;
        snprintf(what, sizeof what, "backward with %s NULL", pb->t[i].name);
        if (backward_once(cc, ctx, g, 1u << i, DX_NAN, DPARAM_START, res->valid, again, what))
            check_partial(cc, 1u << i, again, full, what);
        if (grads < 3)
            continue; /* with two, wanting one alone is leaving the other out */
        snprintf(what, sizeof what, "backward with only %s wanted", pb->t[i].name);
        if (backward_once(cc, ctx, g, all & ~(1u << i), DX_NAN, DPARAM_START, res->valid, again, what))
            check_partial(cc, all & ~(1u << i), again, full, what);
    }
    if (grads > 1 &&
        backward_once(cc, ctx, g, all, DX_NAN, DPARAM_START, res->valid, again, "backward with every gradient NULL"))
        check_partial(cc, all, again, full, "backward with every gradient NULL");

    /* Activation gradients over other contents must come out the same (=);
     * parameter gradients from zero are the gradients alone. */
    for (int i = 0; i < pb->count; i++)
        if (pb->t[i].role == BO_DPARAM) {
            free(again[i]);
            again[i] = res->val[i];
        }
    int complete =
        backward_once(cc, ctx, g, 0, DX_GARBAGE, DPARAM_ZERO, res->valid, again, "backward over other contents");
    for (int i = 0; complete && i < pb->count; i++) {
        const bo_tensor *t = &pb->t[i];
        if (t->absent)
            continue;
        size_t n = bo_numel(t);
        if (t->role == BO_DX) {
            bo_check(same_bits(again[i], full[i], n * sizeof(float)),
                     "%s: depends on its initial contents (must be written, =)", t->name);
        } else if (t->role == BO_DPARAM) {
            /* start + gradient: exact when the backend adds its finished
             * gradient, within the cross-backend tolerance when it
             * accumulates along the way; = or a double add is O(1). */
            double *want = bo_xmalloc(n * sizeof *want);
            const float *start = t->host;
            for (size_t j = 0; j < n; j++)
                want[j] = (double)start[j] + res->val[i][j];
            double e = bo_rel_err_d(full[i], want, n, 0);
            bo_check(e <= cc->tol_xb, "%s: start + gradient off by %.2g (must accumulate, +=)", t->name, e);
            free(want);
        }
    }
    for (int i = 0; i < pb->count; i++)
        if (pb->t[i].role == BO_DPARAM)
            again[i] = NULL;
    grads_free(again);
    return complete;
}

/* What a call only reads must keep its bits: inputs and dy, and (outs not
 * NULL: after backward) the forward results that backward reads, which must
 * still be outs. */
static void check_inputs_unchanged(const case_ctx *cc, gbuf *g, float *const *outs, const char *when)
{
    const bo_problem *pb = &cc->pb;
    for (int i = 0; i < pb->count; i++) {
        const bo_tensor *t = &pb->t[i];
        const void *want = t->role == BO_IN || t->role == BO_DY ? t->host : t->role == BO_OUT && outs ? outs[i] : NULL;
        if (!g[i].base || !want)
            continue;
        unsigned char *got = bo_xmalloc(g[i].bytes);
        if (gbuf_get(&g[i], got))
            bo_check(same_bits(got, want, g[i].bytes), "%s: changed by %s, which only reads it", t->name, when);
        free(got);
    }
}

/* Every check that needs no other backend, on ctx's backend; the results into res. */
void bo_run_backend(const case_ctx *cc, facs_ctx *ctx, bo_result *res)
{
    const bo_problem *pb = &cc->pb;
    const facs_backend *be = ctx->backend;
    gbuf g[BO_MAX_TENSORS] = {{0}};
    float *again[BO_MAX_TENSORS] = {0};
    facs_ctx_begin_step(ctx);
    for (int i = 0; i < pb->count; i++) {
        const bo_tensor *t = &pb->t[i];
        if (t->absent)
            continue;
        if (!gbuf_create(&g[i], be, ctx->device, t))
            goto done;
        if ((t->role == BO_IN || t->role == BO_DY) && !gbuf_set(&g[i], t->host))
            goto done;
    }
    if (!forward_once(cc, ctx, g, res->val, &res->valid, "forward"))
        goto done;
    check_inputs_unchanged(cc, g, NULL, "forward");
    for (int i = 0; i < pb->count; i++)
        if (pb->t[i].role == BO_OUT && !pb->t[i].absent)
            check_written(&pb->t[i], res->val[i], "forward");
    for (int i = 0; i < pb->count; i++)
        if (res->val[i] && bo_is_fwd_result(pb->t[i].role))
            again[i] = bo_floats(bo_numel(&pb->t[i]));
    int64_t valid_again = -1;
    if (!forward_once(cc, ctx, g, again, &valid_again, "forward rerun"))
        goto done;
    for (int i = 0; i < pb->count; i++)
        if (again[i])
            bo_check(same_bits(again[i], res->val[i], bo_numel(&pb->t[i]) * sizeof(float)),
                     "%s: a second forward gave other bits", pb->t[i].name);
    bo_check(valid_again == res->valid, "a second forward counted %lld valid pixels, the first %lld",
             (long long)valid_again, (long long)res->valid);
    /* Backward reads the rerun's outputs. */
    int complete = !cc->backward || backward_checks(cc, ctx, g, res);
    check_inputs_unchanged(cc, g, again, "backward");
    res->ok = complete;
done:
    for (int i = 0; i < BO_MAX_TENSORS; i++) {
        gbuf_free(&g[i]);
        free(again[i]);
    }
}
