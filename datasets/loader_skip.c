/* The loader's record of skipped samples (see loader_skip.h). */
#include "loader_skip.h"

#include <stdlib.h>
#include <string.h>

int facs_skip_list_init(facs_skip_list *s, int dataset_count)
{
    memset(s, 0, sizeof *s);
    if (!(s->known = calloc((size_t)dataset_count / 8 + 1, 1)))
        return -1;
    pthread_mutex_init(&s->mu, NULL);
    return 0;
}

void facs_skip_list_free(facs_skip_list *s)
{
    if (!s->known)
        return;
    for (int i = 0; i < s->count; i++)
        free(s->items[i].message);
    free(s->items);
    free(s->known);
    pthread_mutex_destroy(&s->mu);
    memset(s, 0, sizeof *s);
}

int facs_skip_list_has(facs_skip_list *s, int index)
{
    pthread_mutex_lock(&s->mu);
    int has = (s->known[index / 8] >> (index % 8)) & 1;
    pthread_mutex_unlock(&s->mu);
    return has;
}

void facs_skip_list_add(facs_skip_list *s, int index, const char *message)
{
    pthread_mutex_lock(&s->mu);
    int grown = s->count < s->cap;
    if (!grown) { /* out of memory only loses the message, never the skip itself */
        int cap = s->cap ? 2 * s->cap : 16;
        facs_skipped *items = realloc(s->items, sizeof *items * (size_t)cap);
        if (items) {
            s->items = items;
            s->cap = cap;
            grown = 1;
        }
    }
    if (!((s->known[index / 8] >> (index % 8)) & 1) && grown) {
        int at = s->count;
        while (at > 0 && s->items[at - 1].index > index)
            at--;
        memmove(s->items + at + 1, s->items + at, sizeof *s->items * (size_t)(s->count - at));
        s->items[at] = (facs_skipped){index, strdup(message)};
        s->count++;
    }
    s->known[index / 8] |= (uint8_t)(1u << (index % 8));
    pthread_mutex_unlock(&s->mu);
}
