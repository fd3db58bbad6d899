#include "arena.h"

#include <stdint.h>
#include <stdlib.h>

#include "status.h"

#define ARENA_ALIGN 64

struct facs_arena_block {
    facs_arena_block *next;
    char *base;
    size_t size, top;
};

void facs_arena_init(facs_arena *a, void *(*alloc)(size_t), void (*free_fn)(void *), size_t min_block)
{
    *a = (facs_arena){.alloc = alloc, .free = free_fn, .min_block = min_block};
}

static void free_blocks(facs_arena *a)
{
    while (a->blocks) {
        facs_arena_block *b = a->blocks;
        a->blocks = b->next;
        a->free(b->base);
        free(b);
    }
}

void facs_arena_release(facs_arena *a)
{
    free_blocks(a);
    a->used = 0;
}

static facs_arena_block *new_block(facs_arena *a, size_t size)
{
    facs_arena_block *b = malloc(sizeof *b);
    if (!b) {
        facs_fail(FACS_ERR_MEMORY, "out of host memory for an arena block header");
        return NULL;
    }
    b->base = a->alloc(size);
    if (!b->base) {
        free(b);
        return NULL;
    }
    b->size = size;
    b->top = 0;
    b->next = a->blocks;
    a->blocks = b;
    return b;
}

static size_t rounded_size(size_t bytes)
{
    size_t rounded = (bytes + ARENA_ALIGN - 1) / ARENA_ALIGN * ARENA_ALIGN;
    return rounded ? rounded : ARENA_ALIGN;
}

void *facs_arena_alloc(facs_arena *a, size_t bytes)
{
    if (bytes > SIZE_MAX / 2) { /* rounding, or a block twice the size, would wrap around */
        facs_fail(FACS_ERR_MEMORY, "out of memory: %zu bytes asked of one arena", bytes);
        return NULL;
    }
    size_t rounded = rounded_size(bytes);
    facs_arena_block *b = a->blocks;
    if (!b || b->size - b->top < rounded) {
        size_t size = rounded > a->min_block ? rounded : a->min_block;
        /* Grow geometrically so a step that keeps allocating makes few blocks. */
        if (b && size < b->size * 2)
            size = b->size * 2;
        b = new_block(a, size);
        if (!b)
            return NULL;
    }
    void *p = b->base + b->top;
    b->top += rounded;
    a->used += rounded;
    if (a->used > a->peak)
        a->peak = a->used;
    return p;
}

void facs_arena_reset(facs_arena *a)
{
    /* A rewind may have freed the chained blocks of a step that outgrew the
     * one block: the peak still says how large the next step's block must be. */
    if (a->blocks && (a->blocks->next || a->blocks->size < a->peak)) {
        free_blocks(a);
        /* One block as large as the peak: the next step fits without growing.
         * A failed allocation here is harmless; alloc retries on demand. */
        new_block(a, a->peak > a->min_block ? a->peak : a->min_block);
    } else if (a->blocks) {
        a->blocks->top = 0;
    }
    a->used = 0;
}

int facs_arena_block_count(const facs_arena *a)
{
    int count = 0;
    for (const facs_arena_block *b = a->blocks; b; b = b->next)
        count++;
    return count;
}

facs_arena_pos facs_arena_position(const facs_arena *a)
{
    return (facs_arena_pos){a->blocks, a->blocks ? a->blocks->top : 0, a->used};
}

/* pos's block in the chain: the oldest one for a position taken before any block existed. */
static facs_arena_block *pos_block(const facs_arena *a, facs_arena_pos pos)
{
    facs_arena_block *b = a->blocks;
    while (b && b != pos.block && (pos.block || b->next))
        b = b->next;
    return b;
}

/* The block holding p, or NULL. */
static facs_arena_block *block_of(const facs_arena *a, const void *p)
{
    const char *c = p;
    for (facs_arena_block *b = a->blocks; b; b = b->next)
        if (c >= b->base && c < b->base + b->size)
            return b;
    return NULL;
}

void *facs_arena_pos_address(const facs_arena *a, facs_arena_pos pos, size_t bytes)
{
    facs_arena_block *target = pos_block(a, pos);
    size_t rounded = rounded_size(bytes);
    if (!target)
        return NULL;
    if (target->size - pos.top >= rounded)
        return target->base + pos.top;
    /* The blocks chained since, oldest first: the chain runs newest first. */
    char *found = NULL;
    for (facs_arena_block *b = a->blocks; b != target; b = b->next)
        if (b->size >= rounded)
            found = b->base;
    return found;
}

int facs_arena_is_after(const facs_arena *a, facs_arena_pos pos, const void *p)
{
    const facs_arena_block *target = pos_block(a, pos);
    for (const facs_arena_block *b = a->blocks; b; b = b->next) {
        const char *c = p;
        if (c >= b->base && c < b->base + b->size)
            return b != target || c >= b->base + pos.top;
        if (b == target)
            break;
    }
    return 0;
}

void facs_arena_rewind(facs_arena *a, facs_arena_pos pos, const void *kept, size_t bytes)
{
    facs_arena_block *keep = kept ? block_of(a, kept) : pos_block(a, pos);
    if (!keep)
        return; /* nothing was ever allocated */
    while (a->blocks != keep) {
        facs_arena_block *newer = a->blocks;
        a->blocks = newer->next;
        a->free(newer->base);
        free(newer);
    }
    if (kept) {
        keep->top = (size_t)((const char *)kept - keep->base) + rounded_size(bytes);
        a->used = pos.used + rounded_size(bytes);
    } else {
        keep->top = pos.block ? pos.top : 0;
        a->used = pos.used;
    }
}
