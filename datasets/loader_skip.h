/* The loader's record of skipped samples (facs_loader_opts.skip_bad; see
 * loader.h): which dataset indices failed to load and why, each kept once,
 * in index order, so that the report does not depend on which worker met a
 * file first. Thread-safe; internal to the loader, except for the report of
 * a data-parallel run, which gathers every rank's (facs_loader_gather_skipped). */
#ifndef FACS_LOADER_SKIP_H
#define FACS_LOADER_SKIP_H

#include <pthread.h>
#include <stdint.h>

#include "comm.h"

typedef struct {
    int index;
    char *message; /* the load's error, which names the file */
} facs_skipped;

typedef struct {
    pthread_mutex_t mu;
    uint8_t *known;      /* one bit per dataset index: skipped before, not loaded again */
    facs_skipped *items; /* sorted by index */
    int count, cap;
} facs_skip_list;

/* 0 on success, -1 when out of memory. */
int facs_skip_list_init(facs_skip_list *s, int dataset_count);
void facs_skip_list_free(facs_skip_list *s);

/* Whether index was recorded before (its file need not be read again: it fails the same way). */
int facs_skip_list_has(facs_skip_list *s, int index);
/* Records index with its message (copied), unless already there. */
void facs_skip_list_add(facs_skip_list *s, int index, const char *message);

/* Data parallel (comm.h): each rank's loader reads its own shard, so meets
 * its own bad files. Every rank's list merged on rank root into *all
 * (initialised here): index order, each index once whichever ranks met it
 * (epochs shard differently); the other ranks' *all is empty. Every rank calls
 * it; comm NULL merges mine alone. Free *all with facs_skip_list_free. */
facs_status facs_skip_list_gather(facs_skip_list *mine, facs_comm *comm, int root, facs_skip_list *all);
/* The same for the samples loader l skipped so far (facs_loader_skipped). */
struct facs_loader;
facs_status facs_loader_gather_skipped(struct facs_loader *l, facs_comm *comm, int root, facs_skip_list *all);

#endif
