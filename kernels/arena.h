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

/* A position in the arena, valid until the next reset: what is allocated
 * after it can be given back at once (inference frees a block's
 * intermediates so, see ctx.h facs_ctx_keep_only). */
typedef struct {
    const facs_arena_block *block; /* the newest block then (NULL: none yet) */
    size_t top, used;
} facs_arena_pos;

facs_arena_pos facs_arena_position(const facs_arena *a);

/* Where `bytes` would go if everything after pos were given back: pos
 * itself when its block can hold them there, else the start of the oldest
 * block chained since that can; NULL when none can. */
void *facs_arena_pos_address(const facs_arena *a, facs_arena_pos pos, size_t bytes);

/* 1 when p was handed out after pos (in pos's block past it, or in a block
 * chained since). */
int facs_arena_is_after(const facs_arena *a, facs_arena_pos pos, const void *p);

/* Gives back everything allocated after pos except `bytes` at kept (what
 * facs_arena_pos_address returned, where the caller has already moved what
 * it keeps), freeing the blocks chained after kept's block. kept NULL gives
 * back everything after pos. */
void facs_arena_rewind(facs_arena *a, facs_arena_pos pos, const void *kept, size_t bytes);

/* Blocks currently held: 1 in a steady loop (a number for tests and tools). */
int facs_arena_block_count(const facs_arena *a);

#endif
