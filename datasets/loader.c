/* The batch loader of loader.h.
 *
 * Work is handed out per sample: a worker claims the next position of the
 * epoch's order, loads and transforms that sample straight into its place in a
 * batch buffer (a "slot"), and the slot is ready when all its samples are done.
 * Position p (of this loader's shard, see "Sharding" in loader.h) belongs to
 * batch batch_of[p], which starts at position first[batch] and lives in slot
 * batch % nslots; a worker may only claim a position whose batch is within
 * nslots of the oldest batch the caller has not given back, which bounds memory
 * and keeps a slot from being reused while it is read. One mutex guards all
 * bookkeeping; the pixels are written outside it, each sample to its own range. */
#include <malloc.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "loader.h"
#include "loader_skip.h"

#define MSG_LEN 1024

typedef struct {
    int batch;     /* batch of the current epoch this slot holds; -1: none */
    int remaining; /* samples of it not finished yet */
    int err_pos;   /* lowest failing position in it, -1: none */
    uint8_t *skipped; /* skip_bad: per position of the batch, whether its sample was left out */
    facs_status err;
    char msg[MSG_LEN];
    facs_batch b;
} slot;

struct facs_loader {
    const facs_dataset *ds;
    facs_loader_opts o;
    int nbatches, total; /* batches and samples of this shard per epoch */
    int used;            /* samples of the epoch in batches (all, or all but the dropped last batch's) */
    int max_batch;       /* samples of this shard's largest batch */
    size_t img_floats, label_ints;
    int *first;          /* nbatches + 1: the shard's position where each batch starts */
    int *batch_of;       /* total: the batch of each of the shard's positions */
    int *global_pos;     /* total: each shard position's position in the epoch's order */
    int *order;          /* the dataset's count: the epoch's order of all samples */
    int *perm;           /* total: the shard's samples, order[global_pos[p]] */
    int nslots;
    slot *slots;
    pthread_t *threads;
    int nthreads;
    pthread_mutex_t mu;
    pthread_cond_t work_cv, ready_cv;
    int epoch;
    int next_item; /* next position to claim */
    int delivered; /* batches handed out this epoch */
    int holding;   /* the caller holds batch delivered - 1 */
    int stop;
    facs_status failed;
    char fail_msg[MSG_LEN];
    facs_skip_list skips; /* skip_bad */
};

facs_loader_opts facs_loader_defaults(void)
{
    facs_loader_opts o;
    memset(&o, 0, sizeof o);
    o.batch_size = 1;
    o.prefetch = 2;
    o.shard_count = 1;
    return o;
}

facs_status facs_cls_transform(const void *opts, const facs_image *image, const facs_label *label,
                               uint64_t seed, int epoch, int index, float *out_image, int32_t *out_label)
{
    if (label->cls < 0)
        return facs_fail(FACS_ERR_FORMAT, "sample %d has the negative class %d", index, label->cls);
    FACS_TRY(facs_cls_augment(opts, image, seed, epoch, index, out_image));
    *out_label = label->cls;
    return FACS_OK;
}

facs_status facs_cls_transform_file(const void *opts, const facs_encoded *file, const facs_label *label,
                                    uint64_t seed, int epoch, int index, float *out_image, int32_t *out_label,
                                    int *bad_file)
{
    *bad_file = 0;
    if (label->cls < 0)
        return facs_fail(FACS_ERR_FORMAT, "sample %d has the negative class %d", index, label->cls);
    FACS_TRY(facs_cls_augment_file(opts, file->data, file->size, file->name, seed, epoch, index, out_image,
                                   bad_file));
    *out_label = label->cls;
    return FACS_OK;
}

facs_status facs_seg_transform(const void *opts, const facs_image *image, const facs_label *label,
                               uint64_t seed, int epoch, int index, float *out_image, int32_t *out_label)
{
    return facs_seg_augment(opts, image, &label->map, seed, epoch, index, out_image, out_label);
}

static int batch_len(const facs_loader *l, int b) { return l->first[b + 1] - l->first[b]; }

/* Whether samples go through the dataset's read and transform_file. */
static int reads_files(const facs_loader *l) { return l->ds->read && l->o.transform_file; }

/* Loads and transforms one sample into its place; on failure msg holds the
 * message, prefixed with the sample. With skip_bad a sample that does not
 * load is recorded and marked *skipped instead (a file that failed once is
 * not read again: it would fail the same way). Runs on any thread. */
static facs_status run_item(facs_loader *l, int index, int epoch, float *img_out, int32_t *label_out, char *msg,
                            uint8_t *skipped)
{
    *skipped = l->o.skip_bad && facs_skip_list_has(&l->skips, index);
    if (*skipped)
        return FACS_OK;
    facs_image image = {0};
    facs_label label = {0, {0}};
    facs_status st;
    int bad_file = 1;
    if (reads_files(l)) {
        facs_encoded file;
        memset(&file, 0, sizeof file);
        st = l->ds->read(l->ds, index, &file, &label);
        if (st == FACS_OK)
            st = l->o.transform_file(l->o.transform_opts, &file, &label, l->o.seed, epoch, index, img_out,
                                     label_out, &bad_file);
        free(file.data);
    } else {
        st = l->ds->load(l->ds, index, &image, &label);
        if (st == FACS_OK) {
            bad_file = 0;
            st = l->o.transform(l->o.transform_opts, &image, &label, l->o.seed, epoch, index, img_out, label_out);
        }
    }
    if (st != FACS_OK && bad_file && l->o.skip_bad) {
        facs_skip_list_add(&l->skips, index, facs_last_error());
        *skipped = 1;
        st = FACS_OK;
    }
    if (st != FACS_OK)
        snprintf(msg, MSG_LEN, "loader: sample %d (epoch %d): %s", index, epoch, facs_last_error());
    facs_image_free(&image);
    facs_image_free(&label.map);
    return st;
}

static void start_epoch(facs_loader *l, int epoch)
{
    l->epoch = epoch;
    if (l->o.shuffle)
        facs_aug_permutation(l->o.seed, epoch, l->order, l->ds->count);
    else
        for (int i = 0; i < l->ds->count; i++)
            l->order[i] = i;
    for (int p = 0; p < l->total; p++)
        l->perm[p] = l->order[l->global_pos[p]];
    l->next_item = 0;
    l->delivered = 0;
    for (int s = 0; s < l->nslots; s++)
        l->slots[s].batch = -1;
}

static void *worker_main(void *arg)
{
    facs_loader *l = arg;
    char msg[MSG_LEN];
    pthread_mutex_lock(&l->mu);
    while (!l->stop) {
        int released = l->delivered - l->holding;
        if (l->failed != FACS_OK || l->next_item >= l->total ||
            l->batch_of[l->next_item] >= released + l->nslots) {
            pthread_cond_wait(&l->work_cv, &l->mu);
            continue;
        }
        int p = l->next_item++, b = l->batch_of[p], j = p - l->first[b], epoch = l->epoch, index = l->perm[p];
        slot *s = &l->slots[b % l->nslots];
        if (s->batch != b) {
            s->batch = b;
            s->remaining = batch_len(l, b);
            s->err_pos = -1;
        }
        s->b.indices[j] = index;
        pthread_mutex_unlock(&l->mu);
        facs_status st = run_item(l, index, epoch, s->b.images + j * l->img_floats,
                                  s->b.labels + j * l->label_ints, msg, &s->skipped[j]);
        pthread_mutex_lock(&l->mu);
        /* The lowest failing position wins, so the error does not depend on timing. */
        if (st != FACS_OK && (s->err_pos < 0 || p < s->err_pos)) {
            s->err_pos = p;
            s->err = st;
            memcpy(s->msg, msg, MSG_LEN);
        }
        if (--s->remaining == 0)
            pthread_cond_broadcast(&l->ready_cv);
    }
    pthread_mutex_unlock(&l->mu);
    return NULL;
}

/* Checks what can be checked of the built-in transforms' options against the
 * batch shape, so a mismatch is an error instead of a buffer overrun. */
static facs_status check_transform(const facs_loader_opts *o)
{
    if (o->transform == facs_cls_transform || o->transform_file == facs_cls_transform_file) {
        const facs_cls_aug *a = o->transform_opts;
        if (a->out_height != o->height || a->out_width != o->width || a->channels != o->channels ||
            o->dense_labels)
            return facs_fail(FACS_ERR_ARG,
                             "loader: classification transform makes %dx%dx%d with one label, batch is "
                             "%dx%dx%d%s",
                             a->out_height, a->out_width, a->channels, o->height, o->width, o->channels,
                             o->dense_labels ? " with dense labels" : "");
    } else if (o->transform == facs_seg_transform) {
        const facs_seg_aug *a = o->transform_opts;
        if (a->crop_height != o->height || a->crop_width != o->width || o->channels != 3 || !o->dense_labels)
            return facs_fail(FACS_ERR_ARG,
                             "loader: segmentation transform makes %dx%dx3 with dense labels, batch is "
                             "%dx%dx%d%s",
                             a->crop_height, a->crop_width, o->height, o->width, o->channels,
                             o->dense_labels ? "" : " with one label");
    }
    return FACS_OK;
}

static facs_status check_opts(const facs_dataset *ds, const facs_loader_opts *o)
{
    if (!ds || !ds->load || ds->count < 0)
        return facs_fail(FACS_ERR_ARG, "loader: the dataset has no load function or a negative count");
    if (o->batch_size < 1 || o->workers < 0 || o->prefetch < 1 || o->first_epoch < 0)
        return facs_fail(FACS_ERR_ARG, "loader: batch size %d, workers %d, prefetch %d, first epoch %d",
                         o->batch_size, o->workers, o->prefetch, o->first_epoch);
    if (o->shard_count < 1 || o->shard_rank < 0 || o->shard_rank >= o->shard_count)
        return facs_fail(FACS_ERR_ARG, "loader: shard %d of %d", o->shard_rank, o->shard_count);
    if (o->height < 1 || o->width < 1 || o->channels < 1 || !o->transform || !o->transform_opts)
        return facs_fail(FACS_ERR_ARG, "loader: output %dx%dx%d or no transform", o->height, o->width,
                         o->channels);
    if (o->staging.alloc && !o->staging.free)
        return facs_fail(FACS_ERR_ARG, "loader: a staging allocator without a free function");
    return check_transform(o);
}

/* The shard's part of every batch: the epoch's batches of batch_size (the last
 * one shorter, or dropped), each cut into shard_count contiguous parts whose
 * sizes differ by one at most, the larger parts to the lower ranks. */
static int whole_batch_len(const facs_loader *l, int b)
{
    int bs = l->o.batch_size;
    return l->used - b * bs < bs ? l->used - b * bs : bs;
}

/* Where the shard's part of batch b starts within the whole batch. */
static int part_offset(const facs_loader *l, int b)
{
    int size = whole_batch_len(l, b), parts = l->o.shard_count, rank = l->o.shard_rank;
    return rank * (size / parts) + (rank < size % parts ? rank : size % parts);
}

static facs_status plan_shard(facs_loader *l)
{
    const int count = l->ds->count, bs = l->o.batch_size, parts = l->o.shard_count, rank = l->o.shard_rank;
    const int nbatches = l->o.drop_last ? count / bs : (count + bs - 1) / bs;
    l->used = l->o.drop_last ? nbatches * bs : count;
    l->nbatches = nbatches;
    l->first = malloc(sizeof(int) * ((size_t)nbatches + 1));
    l->order = malloc(sizeof(int) * (count > 0 ? (size_t)count : 1));
    if (!l->first || !l->order)
        return facs_fail(FACS_ERR_MEMORY, "loader: out of memory");
    l->total = l->max_batch = 0;
    for (int b = 0; b < nbatches; b++) {
        int size = whole_batch_len(l, b);
        int len = size / parts + (rank < size % parts);
        l->first[b] = l->total;
        l->total += len;
        l->max_batch = len > l->max_batch ? len : l->max_batch;
    }
    l->first[nbatches] = l->total;
    size_t positions = l->total > 0 ? (size_t)l->total : 1;
    l->batch_of = malloc(sizeof(int) * positions);
    l->global_pos = malloc(sizeof(int) * positions);
    l->perm = malloc(sizeof(int) * positions);
    if (!l->batch_of || !l->global_pos || !l->perm)
        return facs_fail(FACS_ERR_MEMORY, "loader: out of memory");
    for (int b = 0; b < nbatches; b++) {
        int start = b * bs + part_offset(l, b);
        for (int p = l->first[b]; p < l->first[b + 1]; p++) {
            l->batch_of[p] = b;
            l->global_pos[p] = start + p - l->first[b];
        }
    }
    return FACS_OK;
}

/* A batch buffer (images, labels) from the staging allocator, or malloc. */
static void *alloc_batch_buffer(const facs_loader *l, size_t bytes)
{
    const facs_host_allocator *a = &l->o.staging;
    return a->alloc ? a->alloc(a->user, bytes) : malloc(bytes);
}

static void free_batch_buffer(const facs_loader *l, void *ptr)
{
    const facs_host_allocator *a = &l->o.staging;
    if (!ptr)
        return;
    if (a->alloc)
        a->free(a->user, ptr);
    else
        free(ptr);
}

static facs_status alloc_slots(facs_loader *l)
{
    l->slots = calloc((size_t)l->nslots, sizeof *l->slots);
    if (!l->slots)
        return facs_fail(FACS_ERR_MEMORY, "loader: out of memory");
    size_t bs = l->max_batch > 0 ? (size_t)l->max_batch : 1;
    for (int s = 0; s < l->nslots; s++) {
        facs_batch *b = &l->slots[s].b;
        b->images = alloc_batch_buffer(l, sizeof(float) * bs * l->img_floats);
        b->labels = b->images ? alloc_batch_buffer(l, sizeof(int32_t) * bs * l->label_ints) : NULL;
        if (!b->labels && l->o.staging.alloc) {
            char cause[512];
            snprintf(cause, sizeof cause, "%s", facs_last_error());
            return facs_fail(FACS_ERR_MEMORY, "loader: no staging memory for %d batches of %zu floats: %s",
                             l->nslots, bs * l->img_floats, cause);
        }
        b->indices = malloc(sizeof(int) * bs);
        l->slots[s].skipped = calloc(bs, 1);
        if (!b->images || !b->labels || !b->indices || !l->slots[s].skipped)
            return facs_fail(FACS_ERR_MEMORY, "loader: out of memory for %d batches of %zu floats", l->nslots,
                             bs * l->img_floats);
    }
    return FACS_OK;
}

static void free_memory(facs_loader *l)
{
    for (int s = 0; l->slots && s < l->nslots; s++) {
        free_batch_buffer(l, l->slots[s].b.images);
        free_batch_buffer(l, l->slots[s].b.labels);
        free(l->slots[s].b.indices);
        free(l->slots[s].skipped);
    }
    facs_skip_list_free(&l->skips);
    free(l->slots);
    free(l->first);
    free(l->batch_of);
    free(l->global_pos);
    free(l->order);
    free(l->perm);
    free(l->threads);
    free(l);
}

/* See "Memory" in loader.h. 32 MiB is glibc's largest mmap threshold on 64-bit. */
static void keep_freed_buffers(void)
{
    mallopt(M_MMAP_THRESHOLD, 32 << 20);
    mallopt(M_TRIM_THRESHOLD, 256 << 20);
}

facs_status facs_loader_create(const facs_dataset *ds, const facs_loader_opts *opts, facs_loader **out)
{
    static pthread_once_t malloc_tuned = PTHREAD_ONCE_INIT;
    pthread_once(&malloc_tuned, keep_freed_buffers);
    *out = NULL;
    FACS_TRY(check_opts(ds, opts));
    facs_loader *l = calloc(1, sizeof *l);
    if (!l)
        return facs_fail(FACS_ERR_MEMORY, "loader: out of memory");
    l->ds = ds;
    l->o = *opts;
    l->img_floats = (size_t)opts->height * opts->width * opts->channels;
    l->label_ints = opts->dense_labels ? (size_t)opts->height * opts->width : 1;
    l->nslots = opts->workers > 0 ? opts->prefetch + 1 : 1;
    facs_status st = plan_shard(l);
    if (st == FACS_OK)
        st = alloc_slots(l);
    if (st == FACS_OK && opts->skip_bad && facs_skip_list_init(&l->skips, ds->count) != 0)
        st = facs_fail(FACS_ERR_MEMORY, "loader: out of memory");
    if (st != FACS_OK) {
        free_memory(l);
        return st;
    }
    start_epoch(l, opts->first_epoch);
    if (opts->workers == 0) {
        *out = l;
        return FACS_OK;
    }
    l->threads = malloc(sizeof(pthread_t) * opts->workers);
    if (!l->threads) {
        free_memory(l);
        return facs_fail(FACS_ERR_MEMORY, "loader: out of memory");
    }
    pthread_mutex_init(&l->mu, NULL);
    pthread_cond_init(&l->work_cv, NULL);
    pthread_cond_init(&l->ready_cv, NULL);
    for (; l->nthreads < opts->workers; l->nthreads++)
        if (pthread_create(&l->threads[l->nthreads], NULL, worker_main, l) != 0) {
            facs_loader_free(l);
            return facs_fail(FACS_ERR_MEMORY, "loader: could not start worker thread %d of %d",
                             l->nthreads + 1, opts->workers);
        }
    *out = l;
    return FACS_OK;
}

/* Moves the samples that were not skipped to the front of the batch; their count. */
static int drop_skipped(const facs_loader *l, slot *s, int len)
{
    int kept = 0;
    for (int j = 0; j < len; j++) {
        if (s->skipped[j])
            continue;
        if (kept != j) {
            memmove(s->b.images + kept * l->img_floats, s->b.images + j * l->img_floats,
                    sizeof(float) * l->img_floats);
            memmove(s->b.labels + kept * l->label_ints, s->b.labels + j * l->label_ints,
                    sizeof(int32_t) * l->label_ints);
            s->b.indices[kept] = s->b.indices[j];
        }
        kept++;
    }
    return kept;
}

static const facs_batch *finish_batch(facs_loader *l, slot *s, int b)
{
    s->b.n = l->o.skip_bad ? drop_skipped(l, s, batch_len(l, b)) : batch_len(l, b);
    s->b.height = l->o.height;
    s->b.width = l->o.width;
    s->b.channels = l->o.channels;
    s->b.epoch = l->epoch;
    s->b.batch = b;
    s->b.offset = part_offset(l, b);
    l->delivered++;
    return &s->b;
}

/* workers == 0: the batch is made here, in order. */
static facs_status next_inline(facs_loader *l, const facs_batch **batch)
{
    if (l->failed != FACS_OK)
        return facs_fail(l->failed, "%s", l->fail_msg);
    if (l->delivered == l->nbatches) {
        start_epoch(l, l->epoch + 1);
        return FACS_OK;
    }
    int b = l->delivered;
    slot *s = &l->slots[0];
    for (int j = 0; j < batch_len(l, b); j++) {
        int index = l->perm[l->first[b] + j];
        s->b.indices[j] = index;
        facs_status st = run_item(l, index, l->epoch, s->b.images + j * l->img_floats,
                                  s->b.labels + j * l->label_ints, l->fail_msg, &s->skipped[j]);
        if (st != FACS_OK) {
            l->failed = st;
            return facs_fail(st, "%s", l->fail_msg);
        }
    }
    *batch = finish_batch(l, s, b);
    return FACS_OK;
}

facs_status facs_loader_next(facs_loader *l, const facs_batch **batch)
{
    *batch = NULL;
    if (l->nthreads == 0)
        return next_inline(l, batch);
    pthread_mutex_lock(&l->mu);
    if (l->holding) {
        l->holding = 0;
        pthread_cond_broadcast(&l->work_cv);
    }
    facs_status st = l->failed;
    if (st == FACS_OK && l->delivered == l->nbatches) {
        /* Every batch of the epoch was handed out and given back, so no worker is
         * busy: the next epoch can start, and its batches are prepared while the
         * caller does its end-of-epoch work. */
        start_epoch(l, l->epoch + 1);
        pthread_cond_broadcast(&l->work_cv);
    } else if (st == FACS_OK) {
        int b = l->delivered;
        slot *s = &l->slots[b % l->nslots];
        while (s->batch != b || s->remaining > 0)
            pthread_cond_wait(&l->ready_cv, &l->mu);
        if (s->err_pos >= 0) {
            st = l->failed = s->err;
            memcpy(l->fail_msg, s->msg, MSG_LEN);
            pthread_cond_broadcast(&l->work_cv);
        } else {
            *batch = finish_batch(l, s, b);
            l->holding = 1;
        }
    }
    pthread_mutex_unlock(&l->mu);
    /* fail_msg is only written by this thread, so it is read outside the lock. */
    return st == FACS_OK ? FACS_OK : facs_fail(st, "%s", l->fail_msg);
}

int facs_loader_batches_per_epoch(const facs_loader *l)
{
    return l->nbatches;
}

int facs_loader_epoch(const facs_loader *l)
{
    return l->epoch;
}

int facs_loader_skipped_count(facs_loader *l)
{
    if (!l->o.skip_bad)
        return 0;
    pthread_mutex_lock(&l->skips.mu);
    int n = l->skips.count;
    pthread_mutex_unlock(&l->skips.mu);
    return n;
}

const char *facs_loader_skipped(facs_loader *l, int k, int *index)
{
    if (!l->o.skip_bad)
        return NULL;
    pthread_mutex_lock(&l->skips.mu);
    const facs_skipped *item = k >= 0 && k < l->skips.count ? &l->skips.items[k] : NULL;
    const char *message = item ? item->message : NULL; /* never moved or freed before facs_loader_free */
    if (item && index)
        *index = item->index;
    pthread_mutex_unlock(&l->skips.mu);
    return message;
}

void facs_loader_free(facs_loader *l)
{
    if (!l)
        return;
    if (l->threads) {
        pthread_mutex_lock(&l->mu);
        l->stop = 1;
        pthread_cond_broadcast(&l->work_cv);
        pthread_mutex_unlock(&l->mu);
        for (int t = 0; t < l->nthreads; t++)
            pthread_join(l->threads[t], NULL);
        pthread_mutex_destroy(&l->mu);
        pthread_cond_destroy(&l->work_cv);
        pthread_cond_destroy(&l->ready_cv);
    }
    free_memory(l);
}
