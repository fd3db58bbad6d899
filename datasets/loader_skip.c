/* The loader's record of skipped samples (see loader_skip.h). */
#include "loader_skip.h"

#include <stdlib.h>
#include <string.h>

#include "loader.h"

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

/* The list as bytes: each item's index (int32_t) and its message with its NUL. */
static facs_status serialise(facs_skip_list *s, char **out, size_t *bytes)
{
    pthread_mutex_lock(&s->mu);
    size_t n = 0;
    for (int i = 0; i < s->count; i++)
        n += sizeof(int32_t) + strlen(s->items[i].message ? s->items[i].message : "") + 1;
    char *buf = malloc(n ? n : 1), *at = buf;
    for (int i = 0; buf && i < s->count; i++) {
        int32_t index = s->items[i].index;
        const char *message = s->items[i].message ? s->items[i].message : "";
        size_t len = strlen(message) + 1;
        memcpy(at, &index, sizeof index);
        memcpy(at + sizeof index, message, len);
        at += sizeof index + len;
    }
    pthread_mutex_unlock(&s->mu);
    *out = buf;
    *bytes = n;
    return buf ? FACS_OK : facs_fail(FACS_ERR_MEMORY, "out of memory for the list of skipped files");
}

/* Walks the items of serialised bytes: the next one's index and message, or 0 at the end (-1: malformed). */
static int next_item(const char *data, size_t n, size_t *at, int *index, const char **message)
{
    if (*at == n)
        return 0;
    int32_t i;
    if (n - *at <= sizeof i)
        return -1;
    memcpy(&i, data + *at, sizeof i);
    const char *text = data + *at + sizeof i;
    size_t room = n - *at - sizeof i, len = strnlen(text, room);
    if (len == room || i < 0)
        return -1;
    *index = i;
    *message = text;
    *at += sizeof i + len + 1;
    return 1;
}

static facs_status merge(const char *data, size_t n, facs_skip_list *all)
{
    int index, last = -1, more;
    const char *message;
    size_t at = 0;
    while ((more = next_item(data, n, &at, &index, &message)) > 0)
        last = index > last ? index : last;
    if (more < 0)
        return facs_fail(FACS_ERR_FORMAT, "the ranks' lists of skipped files came back garbled");
    if (facs_skip_list_init(all, last + 1) != 0)
        return facs_fail(FACS_ERR_MEMORY, "out of memory for the list of skipped files");
    for (at = 0; next_item(data, n, &at, &index, &message) > 0;)
        facs_skip_list_add(all, index, message);
    return FACS_OK;
}

facs_status facs_skip_list_gather(facs_skip_list *mine, facs_comm *comm, int root, facs_skip_list *all)
{
    memset(all, 0, sizeof *all);
    char *bytes;
    size_t n;
    FACS_TRY(serialise(mine, &bytes, &n));
    void *gathered = bytes;
    size_t total = n;
    facs_status s = comm ? facs_comm_gather(comm, bytes, n, root, &gathered, &total) : FACS_OK;
    if (s == FACS_OK && (!comm || facs_comm_rank(comm) == root))
        s = merge(gathered, total, all);
    if (gathered != bytes)
        free(gathered);
    free(bytes);
    return s;
}

facs_status facs_loader_gather_skipped(facs_loader *l, facs_comm *comm, int root, facs_skip_list *all)
{
    int count = facs_loader_skipped_count(l), last = -1, index;
    for (int k = 0; k < count; k++)
        if (facs_loader_skipped(l, k, &index))
            last = index > last ? index : last;
    facs_skip_list mine;
    if (facs_skip_list_init(&mine, last + 1) != 0)
        return facs_fail(FACS_ERR_MEMORY, "out of memory for the list of skipped files");
    for (int k = 0; k < count; k++) {
        const char *message = facs_loader_skipped(l, k, &index);
        if (message)
            facs_skip_list_add(&mine, index, message);
    }
    facs_status s = facs_skip_list_gather(&mine, comm, root, all);
    facs_skip_list_free(&mine);
    return s;
}
