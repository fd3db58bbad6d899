/* The JSON-lines log and the in-memory history (see run_log.h). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "out_file.h"
#include "run_log.h"

/* Written and parsed with the same format, so the file is its own schema. */
#define LINE_FORMAT                                                                                                \
    "{\"epoch\": %d, \"train_loss\": %lf, \"train_acc\": %lf, \"test_loss\": %lf, \"test_top1\": %lf, "             \
    "\"test_top5\": %lf, \"lr\": %lf, \"images_per_s\": %lf}"

static void write_line(FILE *f, const ft_epoch_record *r)
{
    fprintf(f,
            "{\"epoch\": %d, \"train_loss\": %.6f, \"train_acc\": %.6f, \"test_loss\": %.6f, \"test_top1\": %.6f, "
            "\"test_top5\": %.6f, \"lr\": %.9g, \"images_per_s\": %.1f}\n",
            r->epoch, r->train_loss, r->train_acc, r->test_loss, r->test_top1, r->test_top5, r->lr, r->images_per_s);
}

void ft_history_free(ft_history *h)
{
    free(h->records);
    memset(h, 0, sizeof *h);
}

static facs_status history_add(ft_history *h, const ft_epoch_record *r)
{
    if (h->count == h->capacity) {
        int cap = h->capacity ? 2 * h->capacity : 64;
        ft_epoch_record *grown = realloc(h->records, (size_t)cap * sizeof *grown);
        if (!grown)
            return facs_fail(FACS_ERR_MEMORY, "out of memory for the epoch history");
        h->records = grown;
        h->capacity = cap;
    }
    h->records[h->count++] = *r;
    return FACS_OK;
}

static void print_history(FILE *f, const void *user)
{
    const ft_history *h = user;
    for (int i = 0; i < h->count; i++)
        write_line(f, &h->records[i]);
}

/* Writes h's records to path, whole or not at all. */
static facs_status rewrite(const char *path, const ft_history *h)
{
    return ft_write_text_atomic(path, print_history, h);
}

facs_status ft_log_start(const char *path, ft_history *h)
{
    memset(h, 0, sizeof *h);
    return rewrite(path, h);
}

facs_status ft_log_resume(const char *path, int epochs, ft_history *h)
{
    memset(h, 0, sizeof *h);
    FILE *f = fopen(path, "r");
    if (f) {
        char line[1024];
        while (fgets(line, sizeof line, f)) {
            ft_epoch_record r;
            if (sscanf(line, LINE_FORMAT, &r.epoch, &r.train_loss, &r.train_acc, &r.test_loss, &r.test_top1,
                       &r.test_top5, &r.lr, &r.images_per_s) == 8 &&
                r.epoch == h->count + 1 && r.epoch <= epochs) {
                facs_status s = history_add(h, &r);
                if (s != FACS_OK) {
                    fclose(f);
                    return s;
                }
            }
        }
        fclose(f);
    } else if (errno != ENOENT) {
        return facs_fail(FACS_ERR_IO, "%s: cannot read: %s", path, strerror(errno));
    }
    return rewrite(path, h);
}

facs_status ft_log_append(const char *path, ft_history *h, const ft_epoch_record *r)
{
    FILE *f = fopen(path, "a");
    if (!f)
        return facs_fail(FACS_ERR_IO, "%s: cannot append: %s", path, strerror(errno));
    write_line(f, r);
    int ok = !ferror(f);
    ok &= fclose(f) == 0;
    if (!ok)
        return facs_fail(FACS_ERR_IO, "%s: cannot append: %s", path, strerror(errno));
    return history_add(h, r);
}
