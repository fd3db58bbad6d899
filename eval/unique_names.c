/* Distinct output names (unique_names.h). Sorting finds the shared names in
 * O(n log n): a folder may hold a hundred thousand images. */
#include "unique_names.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_ROUNDS 8

typedef struct {
    const char *name;
    int index;
} entry;

/* By name, then by index: the entries sharing a name end up together, in index order. */
static int by_name(const void *a, const void *b)
{
    const entry *x = a, *y = b;
    int c = strcmp(x->name, y->name);
    return c ? c : (x->index > y->index) - (x->index < y->index);
}

char *facs_name_with_rank(const char *name, int rank)
{
    size_t size = strlen(name) + 16;
    char *out = malloc(size);
    if (out)
        snprintf(out, size, "%s~%d", name, rank);
    return out;
}

/* One pass: every name shared with another is renamed; *renamed counts them.
 * In the pass past the last one a shared name is an error instead. */
static facs_status rename_shared(char **names, int count, entry *order, int round, facs_rename_fn rename,
                                 const void *user, int *renamed)
{
    for (int i = 0; i < count; i++)
        order[i] = (entry){names[i], i};
    qsort(order, (size_t)count, sizeof *order, by_name);
    char **fresh = calloc((size_t)count, sizeof *fresh);
    if (!fresh)
        return facs_fail(FACS_ERR_MEMORY, "out of memory naming %d outputs", count);
    facs_status s = FACS_OK;
    *renamed = 0;
    for (int start = 0, end; s == FACS_OK && start < count; start = end) {
        for (end = start + 1; end < count && strcmp(order[end].name, order[start].name) == 0; end++)
            ;
        if (end - start > 1 && round == MAX_ROUNDS)
            s = facs_fail(FACS_ERR_ARG, "cannot give %d outputs distinct names in %d passes ('%s' still shared)",
                          count, MAX_ROUNDS, order[start].name);
        for (int k = start; end - start > 1 && k < end && s == FACS_OK; k++, ++*renamed) {
            int i = order[k].index;
            if (!(fresh[i] = rename(i, round, k - start + 1, names[i], user)))
                s = facs_fail(FACS_ERR_MEMORY, "out of memory naming %d outputs", count);
        }
    }
    /* Replaced only now: order[] points into the old names until the pass is over. */
    for (int i = 0; i < count; i++)
        if (fresh[i] && s == FACS_OK) {
            free(names[i]);
            names[i] = fresh[i];
        } else {
            free(fresh[i]);
        }
    free(fresh);
    return s;
}

facs_status facs_unique_names(char **names, int count, facs_rename_fn rename, const void *user)
{
    if (count < 2)
        return FACS_OK;
    entry *order = malloc((size_t)count * sizeof *order);
    if (!order)
        return facs_fail(FACS_ERR_MEMORY, "out of memory naming %d outputs", count);
    facs_status s = FACS_OK;
    int renamed = 1;
    for (int round = 0; s == FACS_OK && renamed && round <= MAX_ROUNDS; round++)
        s = rename_shared(names, count, order, round, rename, user, &renamed);
    free(order);
    return s;
}
