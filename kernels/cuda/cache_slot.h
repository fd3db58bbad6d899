/* The per-shape tables of the CUDA backend (conv2d.cu's algorithm choices,
 * conv2d_graph.cu's plans) have a fixed number of slots; a new key takes the
 * next unused one, then, once all are used, evicts round-robin. */
#ifndef FACS_CUDA_CACHE_SLOT_H
#define FACS_CUDA_CACHE_SLOT_H

/* The slot of a new key in a table of `slots` entries, `used` of them taken
 * so far, `next_victim` the next to evict once all are. Callers hold the
 * table's lock. */
static inline int facs_cache_slot(int *used, int *next_victim, int slots)
{
    if (*used < slots)
        return (*used)++;
    int slot = *next_victim;
    *next_victim = (slot + 1) % slots;
    return slot;
}

#endif
