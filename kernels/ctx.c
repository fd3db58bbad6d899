#include "ctx.h"

#include <stdlib.h>
#include <string.h>

#include "rng.h"

#define DATA_BLOCK_MIN ((size_t)64 << 20)
#define HOST_BLOCK_MIN ((size_t)1 << 20)

static void *host_alloc(size_t bytes)
{
    void *p = aligned_alloc(64, (bytes + 63) / 64 * 64);
    if (!p)
        facs_fail(FACS_ERR_MEMORY, "out of host memory (%zu bytes)", bytes);
    return p;
}

facs_ctx *facs_ctx_create(facs_device device)
{
    const facs_backend *be = facs_backend_get(device);
    if (!be)
        return NULL;
    facs_ctx *ctx = calloc(1, sizeof *ctx);
    if (!ctx) {
        facs_fail(FACS_ERR_MEMORY, "out of host memory for a context");
        return NULL;
    }
    ctx->device = device;
    ctx->backend = be;
    facs_arena_init(&ctx->data, be->alloc, be->free, DATA_BLOCK_MIN);
    facs_arena_init(&ctx->grads, be->alloc, be->free, DATA_BLOCK_MIN);
    facs_arena_init(&ctx->host, host_alloc, free, HOST_BLOCK_MIN);
    ctx->training = 1;
    ctx->record = 1;
    return ctx;
}

void facs_ctx_free(facs_ctx *ctx)
{
    if (!ctx)
        return;
    facs_ctx_set_weight_cache(ctx, 0);
    facs_arena_release(&ctx->data);
    facs_arena_release(&ctx->grads);
    facs_arena_release(&ctx->host);
    free(ctx);
}

void facs_ctx_set_mode(facs_ctx *ctx, int training, int record)
{
    if (!ctx) /* facs_ctx_create failed: the first op says so */
        return;
    ctx->training = training;
    ctx->record = record;
}

void facs_ctx_begin_step(facs_ctx *ctx)
{
    if (!ctx) /* facs_ctx_create failed: the first op says so */
        return;
    facs_arena_reset(&ctx->data);
    facs_arena_reset(&ctx->grads);
    facs_arena_reset(&ctx->host);
    ctx->tape = NULL;
    ctx->free_grads = NULL;
    ctx->step_id++;
    ctx->tape_len = 0;
}

void facs_ctx_seed_step(facs_ctx *ctx, uint64_t seed, int64_t step)
{
    ctx->seed = facs_rng_mix64(seed ^ facs_rng_mix64((uint64_t)step));
    ctx->rng_calls = 0;
}

void *facs_ctx_scratch(facs_ctx *ctx, size_t bytes) { return facs_arena_alloc(&ctx->data, bytes); }

void *facs_ctx_host_alloc(facs_ctx *ctx, size_t bytes)
{
    void *p = facs_arena_alloc(&ctx->host, bytes);
    if (p)
        memset(p, 0, bytes);
    return p;
}

facs_tensor *facs_ctx_tensor(facs_ctx *ctx, facs_dtype dtype, int n, int c, int h, int w)
{
    if (facs_check_shape(dtype, n, c, h, w) != FACS_OK)
        return NULL;
    facs_tensor *t = facs_ctx_host_alloc(ctx, sizeof *t);
    if (!t)
        return NULL;
    *t = (facs_tensor){.n = n, .c = c, .h = h, .w = w, .dtype = dtype, .device = ctx->device};
    t->data = facs_arena_alloc(&ctx->data, facs_tensor_bytes(t));
    if (!t->data) /* which tensor: an op's output of a shape the caller did not expect, often */
        facs_fail(facs_last_status(), "a (%d, %d, %d, %d) tensor: %s", n, c, h, w, facs_last_error());
    return t->data ? t : NULL;
}

facs_tensor *facs_ctx_zeros(facs_ctx *ctx, facs_dtype dtype, int n, int c, int h, int w)
{
    facs_tensor *t = facs_ctx_tensor(ctx, dtype, n, c, h, w);
    if (t && ctx->backend->fill_zero(t->data, facs_tensor_bytes(t)) != FACS_OK)
        return NULL;
    return t;
}

facs_tensor *facs_ctx_like(facs_ctx *ctx, const facs_tensor *t)
{
    return facs_ctx_tensor(ctx, t->dtype, t->n, t->c, t->h, t->w);
}

size_t facs_ctx_peak_bytes(const facs_ctx *ctx) { return ctx->data.peak + ctx->grads.peak; }

/* A released gradient buffer (the entry lives in the host arena). */
struct facs_free_grad {
    facs_free_grad *next;
    void *data;
    size_t bytes;
};

facs_tensor *facs_ctx_grad_like(facs_ctx *ctx, const facs_tensor *t)
{
    facs_tensor *g = facs_ctx_host_alloc(ctx, sizeof *g);
    if (!g)
        return NULL;
    *g = (facs_tensor){.n = t->n, .c = t->c, .h = t->h, .w = t->w, .dtype = t->dtype, .device = ctx->device};
    size_t bytes = facs_tensor_bytes(g);
    for (facs_free_grad **link = &ctx->free_grads; *link; link = &(*link)->next)
        if ((*link)->bytes == bytes) {
            g->data = (*link)->data;
            *link = (*link)->next;
            return g;
        }
    g->data = facs_arena_alloc(&ctx->grads, bytes);
    return g->data ? g : NULL;
}

void facs_ctx_grad_release(facs_ctx *ctx, facs_tensor *g)
{
    facs_free_grad *entry = g ? facs_ctx_host_alloc(ctx, sizeof *entry) : NULL;
    if (!entry)
        return; /* out of host memory: the buffer is merely not reused */
    *entry = (facs_free_grad){ctx->free_grads, g->data, facs_tensor_bytes(g)};
    ctx->free_grads = entry;
}

facs_ctx_mark facs_ctx_get_mark(const facs_ctx *ctx)
{
    return (facs_ctx_mark){facs_arena_position(&ctx->data), facs_arena_position(&ctx->host)};
}

/* The smallest shift move_down copies block by block: the CPU backend's copy
 * splits over the threads from 1 MiB (cpu_backend.c), and a smaller shift
 * would mean many small copies. */
#define MOVE_BLOCK_MIN ((size_t)1 << 20)

/* Moves bytes from src down to dst < src on the CPU where the two overlap:
 * as plain copies of blocks as long as the shift, in order (block k lands
 * where block k - 1 was read from), so that each goes through the backend's
 * copy, which uses every thread; memmove, on one, when the shift is small. */
static facs_status move_down(facs_ctx *ctx, char *dst, const char *src, size_t bytes)
{
    const size_t shift = (size_t)(src - dst);
    if (shift < MOVE_BLOCK_MIN) {
        memmove(dst, src, bytes);
        return FACS_OK;
    }
    for (size_t at = 0; at < bytes; at += shift)
        FACS_TRY(ctx->backend->copy(dst + at, src + at, bytes - at < shift ? bytes - at : shift));
    return FACS_OK;
}

facs_tensor *facs_ctx_keep_only(facs_ctx *ctx, facs_ctx_mark mark, facs_tensor *keep)
{
    if (!keep || ctx->record)
        return keep;
    size_t bytes = facs_tensor_bytes(keep);
    char *dst = facs_arena_pos_address(&ctx->data, mark.data, bytes), *src = keep->data;
    facs_tensor *header = facs_arena_pos_address(&ctx->host, mark.host, sizeof *header);
    int overlap = dst && dst < src + bytes && src < dst + bytes;
    /* keep must come after the mark; a device copy may not overlap its source. */
    if (!dst || !header || !facs_arena_is_after(&ctx->data, mark.data, src) ||
        (overlap && ctx->device != FACS_DEVICE_CPU))
        return keep;
    facs_tensor moved = *keep;
    moved.data = dst;
    if (dst != src) {
        if ((overlap ? move_down(ctx, dst, src, bytes) : ctx->backend->copy(dst, src, bytes)) != FACS_OK)
            return NULL;
        if (ctx->profile)
            ctx->profile(ctx->profile_user, FACS_PROFILE_MOVE, (const facs_tensor *const[]){keep}, 1, &moved, NULL);
    }
    facs_arena_rewind(&ctx->data, mark.data, dst, bytes);
    facs_arena_rewind(&ctx->host, mark.host, header, sizeof *header);
    *header = moved;
    return header;
}

typedef struct {
    const facs_tensor *w;
    uint64_t version;
    void *key;
    size_t key_bytes;
    void *data; /* device memory (the backend's alloc) */
    size_t bytes;
} cached_weight;

struct facs_weight_cache {
    cached_weight *items;
    int count, capacity;
};

facs_status facs_ctx_set_weight_cache(facs_ctx *ctx, int on)
{
    facs_weight_cache *c = ctx->weight_cache;
    if (on && !c) {
        ctx->weight_cache = calloc(1, sizeof *ctx->weight_cache);
        return ctx->weight_cache ? FACS_OK : facs_fail(FACS_ERR_MEMORY, "out of host memory for a weight cache");
    }
    if (!on && c) {
        for (int i = 0; i < c->count; i++) {
            ctx->backend->free(c->items[i].data);
            free(c->items[i].key);
        }
        free(c->items);
        free(c);
        ctx->weight_cache = NULL;
    }
    return FACS_OK;
}

int facs_ctx_weight_cache_count(const facs_ctx *ctx) { return ctx->weight_cache ? ctx->weight_cache->count : 0; }

static cached_weight *find_cached(facs_weight_cache *c, const facs_tensor *w, const void *key, size_t key_bytes)
{
    for (int i = 0; i < c->count; i++) {
        cached_weight *e = &c->items[i];
        if (e->w == w && e->key_bytes == key_bytes && memcmp(e->key, key, key_bytes) == 0)
            return e;
    }
    return NULL;
}

static cached_weight *add_cached(facs_ctx *ctx, const facs_tensor *w, const void *key, size_t key_bytes,
                                 size_t bytes)
{
    facs_weight_cache *c = ctx->weight_cache;
    if (c->count == c->capacity) {
        int capacity = c->capacity ? 2 * c->capacity : 64;
        cached_weight *items = realloc(c->items, (size_t)capacity * sizeof *items);
        if (!items)
            return NULL;
        c->items = items;
        c->capacity = capacity;
    }
    cached_weight e = {w, 0, malloc(key_bytes), key_bytes, ctx->backend->alloc(bytes), bytes};
    if (!e.key || !e.data) {
        free(e.key);
        if (e.data)
            ctx->backend->free(e.data);
        return NULL;
    }
    memcpy(e.key, key, key_bytes);
    c->items[c->count] = e;
    return &c->items[c->count++];
}

void *facs_ctx_weight_cache(facs_ctx *ctx, const facs_tensor *w, const void *key, size_t key_bytes, size_t bytes,
                            int *fill)
{
    *fill = 1;
    if (!ctx->weight_cache || !w->version)
        return NULL;
    cached_weight *e = find_cached(ctx->weight_cache, w, key, key_bytes);
    if (!e && !(e = add_cached(ctx, w, key, key_bytes, bytes)))
        return NULL;
    if (e->bytes != bytes)
        return NULL; /* the same layout key always has the same size; never expected */
    *fill = e->version != w->version;
    e->version = w->version;
    return e->data;
}
