/* A bump allocator for one training step's activations and gradients.
 *
 * Allocations are 64-byte aligned and never freed one by one: facs_arena_reset
 * releases everything at once. Memory comes from a backend's alloc function,
 * so the same code serves host and device memory. When a step outgrows the
 * current block a new block is chained (pointers already handed out stay
 * valid); the next reset replaces the chain by one block as large as the
 * peak, so a steady training loop calls the system allocator only in its
 * first steps. */
#ifndef FACS_ARENA_H
#define FACS_ARENA_H

#include <stddef.h>

typedef struct facs_arena_block facs_arena_block;

typedef struct facs_arena {
    void *(*alloc)(size_t bytes);
    void (*free)(void *ptr);
    facs_arena_block *blocks; /* newest first */
    size_t used;              /* bytes handed out since the last reset */
    size_t peak;              /* largest `used` ever seen */
    size_t min_block;         /* smallest block to request */
} facs_arena;

void facs_arena_init(facs_arena *a, void *(*alloc)(size_t), void (*free_fn)(void *), size_t min_block);
void facs_arena_release(facs_arena *a); /* frees every block */

/* NULL (with last error) when the backend allocation fails. */
void *facs_arena_alloc(facs_arena *a, size_t bytes);

void facs_arena_reset(facs_arena *a);

/* Blocks currently held: 1 in a steady loop (a number for tests and tools). */
int facs_arena_block_count(const facs_arena *a);

#endif
