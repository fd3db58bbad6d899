/* The loader's record of skipped samples (facs_loader_opts.skip_bad; see
 * loader.h): which dataset indices failed to load and why, each kept once,
 * in index order, so that the report does not depend on which worker met a
 * file first. Thread-safe; internal to the loader. */
#ifndef FACS_LOADER_SKIP_H
#define FACS_LOADER_SKIP_H

#include <pthread.h>
#include <stdint.h>

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

#endif
