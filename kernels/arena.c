#include "arena.h"

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

void *facs_arena_alloc(facs_arena *a, size_t bytes)
{
    size_t rounded = (bytes + ARENA_ALIGN - 1) / ARENA_ALIGN * ARENA_ALIGN;
    if (rounded == 0)
        rounded = ARENA_ALIGN;
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
    if (a->blocks && a->blocks->next) {
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
