/* The batch loader on a synthetic in-memory dataset: bit-identical batches with
 * 0, 1 and 4 workers, every index once per epoch, drop_last, a new order every
 * epoch, resume at an epoch, an error at one index surfacing with its message
 * (or, with skip_bad, left out and recorded), freeing mid-epoch (run under
 * AddressSanitizer in CI), and batches in a staging allocator's memory. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "loader.h"
#include "test_util.h"

#define COUNT 37
#define H 6
#define W 5
#define C 3
#define EPOCHS 3

typedef struct {
    uint8_t pixels[COUNT][H * W * C];
    int fail_index; /* -1: none */
    int fail_loads; /* how often fail_index was loaded */
    int slow;       /* make some samples slow, so workers finish out of order */
} synthetic;

static facs_status synthetic_load(const facs_dataset *self, int index, facs_image *out_image,
                                  facs_label *out_label)
{
    const synthetic *s = self->user;
    if (index == s->fail_index) {
        ((synthetic *)self->user)->fail_loads++;
        return facs_fail(FACS_ERR_FORMAT, "synthetic/sample_%d.png: corrupt PNG data", index);
    }
    if (s->slow && index % 3 == 0) {
        struct timespec ts = {0, 300000};
        nanosleep(&ts, NULL);
    }
    out_image->height = H;
    out_image->width = W;
    out_image->channels = C;
    out_image->pixels = malloc(H * W * C);
    if (!out_image->pixels)
        return facs_fail(FACS_ERR_MEMORY, "out of memory");
    memcpy(out_image->pixels, s->pixels[index], H * W * C);
    out_label->cls = index % 10;
    return FACS_OK;
}

/* Pad-and-crop with flips, so each sample's augmentation depends on (seed,
 * epoch, index) and any mix-up of those shows in the pixels. */
static facs_cls_aug test_aug(void)
{
    facs_cls_aug a = facs_cls_aug_cifar_train();
    a.out_height = H;
    a.out_width = W;
    a.pad = 2;
    return a;
}

static facs_loader_opts test_opts(const facs_cls_aug *aug, int workers, int shuffle, int drop_last)
{
    facs_loader_opts o = facs_loader_defaults();
    o.batch_size = 8;
    o.shuffle = shuffle;
    o.drop_last = drop_last;
    o.workers = workers;
    o.prefetch = workers > 1 ? 3 : 1;
    o.seed = 1234;
    o.height = H;
    o.width = W;
    o.channels = C;
    o.transform = facs_cls_transform;
    o.transform_opts = aug;
    return o;
}

/* Everything a run produced, batch after batch, for comparison. */
typedef struct {
    int batches;
    int n[64], epoch[64];
    int indices[64][8];
    int32_t labels[64][8];
    float images[64][8 * H * W * C];
} record;

/* Runs `epochs` epochs, checking the end-of-epoch signal; returns batches seen. */
static void run_epochs(const facs_dataset *ds, const facs_loader_opts *o, int epochs, record *r)
{
    memset(r, 0, sizeof *r);
    facs_loader *l;
    if (!CHECK_OK(facs_loader_create(ds, o, &l)))
        return;
    int per_epoch = facs_loader_batches_per_epoch(l);
    for (int e = 0; e < epochs; e++) {
        CHECK(facs_loader_epoch(l) == o->first_epoch + e, "epoch %d, expected %d", facs_loader_epoch(l),
              o->first_epoch + e);
        for (int b = 0; b <= per_epoch; b++) {
            const facs_batch *batch;
            if (!CHECK_OK(facs_loader_next(l, &batch)))
                break;
            if (b == per_epoch) {
                CHECK(batch == NULL, "epoch %d did not end after %d batches", e, per_epoch);
                break;
            }
            if (!CHECK(batch != NULL, "epoch %d ended after %d of %d batches", e, b, per_epoch))
                break;
            int k = r->batches++;
            r->n[k] = batch->n;
            r->epoch[k] = batch->epoch;
            CHECK(batch->batch == b && batch->height == H && batch->width == W && batch->channels == C,
                  "batch %d: number %d, shape %dx%dx%d", b, batch->batch, batch->height, batch->width,
                  batch->channels);
            memcpy(r->indices[k], batch->indices, sizeof(int) * batch->n);
            memcpy(r->labels[k], batch->labels, sizeof(int32_t) * batch->n);
            memcpy(r->images[k], batch->images, sizeof(float) * batch->n * H * W * C);
        }
    }
    facs_loader_free(l);
}

static int same_record(const record *a, const record *b)
{
    if (a->batches != b->batches)
        return 0;
    for (int k = 0; k < a->batches; k++)
        if (a->n[k] != b->n[k] || a->epoch[k] != b->epoch[k] ||
            memcmp(a->indices[k], b->indices[k], sizeof(int) * a->n[k]) ||
            memcmp(a->labels[k], b->labels[k], sizeof(int32_t) * a->n[k]) ||
            memcmp(a->images[k], b->images[k], sizeof(float) * a->n[k] * H * W * C))
            return 0;
    return 1;
}

/* Each epoch holds every index exactly once (or the first 32 of the order with
 * drop_last), each sample is its index's label and augmentation, and epochs
 * are ordered differently (with shuffle) or 0..COUNT-1 (without). */
static void check_epochs(const facs_dataset *ds, const facs_cls_aug *aug, const record *r, int shuffle,
                         int drop_last)
{
    int per_epoch = drop_last ? COUNT / 8 : (COUNT + 7) / 8;
    if (!CHECK(r->batches == EPOCHS * per_epoch, "%d batches, expected %d", r->batches, EPOCHS * per_epoch))
        return;
    int orders[EPOCHS][COUNT];
    float *want = test_alloc(H * W * C);
    for (int e = 0; e < EPOCHS; e++) {
        int seen[COUNT] = {0}, pos = 0, wrong = 0;
        for (int b = 0; b < per_epoch; b++) {
            int k = e * per_epoch + b;
            int n_want = drop_last || b < per_epoch - 1 ? 8 : COUNT - 8 * (per_epoch - 1);
            CHECK(r->n[k] == n_want && r->epoch[k] == e, "epoch %d batch %d: n %d epoch %d", e, b, r->n[k],
                  r->epoch[k]);
            for (int j = 0; j < r->n[k]; j++) {
                int idx = r->indices[k][j];
                if (!CHECK(idx >= 0 && idx < COUNT, "index %d out of range", idx))
                    continue;
                seen[idx]++;
                orders[e][pos++] = idx;
                wrong += r->labels[k][j] != idx % 10;
                facs_image img = {W, H, C, ((synthetic *)ds->user)->pixels[idx]};
                CHECK_OK(facs_cls_augment(aug, &img, 1234, e, idx, want));
                wrong += memcmp(want, r->images[k] + j * H * W * C, sizeof(float) * H * W * C) != 0;
            }
        }
        int once = 0;
        for (int i = 0; i < COUNT; i++)
            once += seen[i] == 1;
        CHECK(once == (drop_last ? 32 : COUNT) && pos == once, "epoch %d: %d indices seen once of %d", e, once,
              pos);
        CHECK(wrong == 0, "epoch %d: %d samples differ from their index's label or augmentation", e, wrong);
        int identity = 1;
        for (int i = 0; i < pos; i++)
            identity &= orders[e][i] == i;
        CHECK(shuffle ? !identity : identity, "epoch %d order is %sthe identity", e, identity ? "" : "not ");
    }
    if (shuffle)
        CHECK(memcmp(orders[0], orders[1], sizeof orders[0]) && memcmp(orders[1], orders[2], sizeof orders[0]),
              "two epochs had the same order");
    free(want);
}

static void determinism(const facs_dataset *ds, const facs_cls_aug *aug)
{
    static record r0, r1, r4;
    for (int shuffle = 0; shuffle < 2; shuffle++)
        for (int drop_last = 0; drop_last < 2; drop_last++) {
            facs_loader_opts o = test_opts(aug, 0, shuffle, drop_last);
            run_epochs(ds, &o, EPOCHS, &r0);
            o = test_opts(aug, 1, shuffle, drop_last);
            run_epochs(ds, &o, EPOCHS, &r1);
            o = test_opts(aug, 4, shuffle, drop_last);
            run_epochs(ds, &o, EPOCHS, &r4);
            CHECK(same_record(&r0, &r1), "shuffle %d drop_last %d: 1 worker differs from 0", shuffle, drop_last);
            CHECK(same_record(&r0, &r4), "shuffle %d drop_last %d: 4 workers differ from 0", shuffle, drop_last);
            check_epochs(ds, aug, &r4, shuffle, drop_last);
        }
    /* Resume: starting at epoch 1 gives what epochs 1 and 2 of a full run gave. */
    facs_loader_opts o = test_opts(aug, 4, 1, 0);
    run_epochs(ds, &o, EPOCHS, &r0);
    o.first_epoch = 1;
    run_epochs(ds, &o, EPOCHS - 1, &r1);
    int per_epoch = (COUNT + 7) / 8;
    CHECK(r1.batches == 2 * per_epoch &&
              !memcmp(r1.indices, r0.indices[per_epoch], sizeof(r0.indices[0]) * 2 * per_epoch) &&
              !memcmp(r1.images, r0.images[per_epoch], sizeof(r0.images[0]) * 2 * per_epoch),
          "starting at epoch 1 differs from epoch 1 of a run from 0");
}

/* A failing sample: earlier batches come back, then the error with the file's
 * name, again on every later call, and the loader frees cleanly. */
static void error_surfaces(facs_dataset *ds, const facs_cls_aug *aug, int workers)
{
    synthetic *s = ds->user;
    s->fail_index = 13;
    facs_loader_opts o = test_opts(aug, workers, 1, 0);
    int perm[COUNT];
    facs_aug_permutation(o.seed, 0, perm, COUNT);
    int fail_batch = 0;
    for (int p = 0; p < COUNT; p++)
        if (perm[p] == 13)
            fail_batch = p / 8;
    facs_loader *l;
    if (CHECK_OK(facs_loader_create(ds, &o, &l))) {
        int good = 0;
        facs_status st;
        const facs_batch *b;
        while ((st = facs_loader_next(l, &b)) == FACS_OK && b)
            good++;
        CHECK(st == FACS_ERR_FORMAT && good == fail_batch, "%d workers: status %d after %d batches, expected %d",
              workers, (int)st, good, fail_batch);
        CHECK(strstr(facs_last_error(), "synthetic/sample_13.png: corrupt PNG data") != NULL &&
                  strstr(facs_last_error(), "sample 13") != NULL,
              "%d workers: message '%s'", workers, facs_last_error());
        facs_clear_error();
        CHECK(facs_loader_next(l, &b) == FACS_ERR_FORMAT && b == NULL &&
                  strstr(facs_last_error(), "sample_13.png") != NULL,
              "%d workers: the error is not repeated: '%s'", workers, facs_last_error());
        facs_loader_free(l);
    }
    s->fail_index = -1;
}

/* skip_bad: the failing sample is left out of its batch while every other
 * sample stays as in a run without the failure, with 0 and 4 workers; it is
 * recorded once with its message and loaded only once in three epochs. */
static void skip_bad(facs_dataset *ds, const facs_cls_aug *aug)
{
    synthetic *s = ds->user;
    static record clean;
    facs_loader_opts o = test_opts(aug, 0, 1, 0);
    run_epochs(ds, &o, EPOCHS, &clean);
    o.skip_bad = 1;
    for (int workers = 0; workers <= 4; workers += 4) {
        s->fail_index = 13;
        s->fail_loads = 0;
        o.workers = workers;
        facs_loader *l;
        if (!CHECK_OK(facs_loader_create(ds, &o, &l)))
            continue;
        const facs_batch *b;
        int k = 0, wrong = 0, left_out = 0;
        for (int e = 0; e < EPOCHS; e++)
            while (CHECK_OK(facs_loader_next(l, &b)) && b) {
                /* The clean batch without sample 13 must be this one. */
                int got = 0;
                for (int j = 0; j < clean.n[k]; j++) {
                    if (clean.indices[k][j] == 13) {
                        left_out++;
                        continue;
                    }
                    wrong += got >= b->n || b->indices[got] != clean.indices[k][j] ||
                             memcmp(b->images + got * H * W * C, clean.images[k] + j * H * W * C,
                                    sizeof(float) * H * W * C) != 0;
                    got++;
                }
                wrong += b->n != got;
                k++;
            }
        int index = -1;
        const char *msg = facs_loader_skipped(l, 0, &index);
        CHECK(wrong == 0 && k == clean.batches && left_out == EPOCHS,
              "%d workers, skip_bad: %d batches differ from the clean run's without sample 13 (%d batches, %d left out)",
              workers, wrong, k, left_out);
        CHECK(facs_loader_skipped_count(l) == 1 && index == 13 && msg && strstr(msg, "sample_13.png"),
              "%d workers: skipped %d, first %d '%s'", workers, facs_loader_skipped_count(l), index, msg ? msg : "");
        CHECK(s->fail_loads == 1, "%d workers: the bad file was read %d times in %d epochs", workers, s->fail_loads,
              EPOCHS);
        facs_loader_free(l);
    }
    s->fail_index = -1;
}

/* Freeing with workers busy or waiting, before and after the first batch. */
static void free_mid_epoch(const facs_dataset *ds, const facs_cls_aug *aug)
{
    for (int taken = 0; taken < 3; taken++) {
        facs_loader_opts o = test_opts(aug, 4, 1, 0);
        facs_loader *l;
        if (!CHECK_OK(facs_loader_create(ds, &o, &l)))
            continue;
        const facs_batch *b;
        for (int i = 0; i < taken; i++)
            CHECK_OK(facs_loader_next(l, &b));
        facs_loader_free(l);
    }
    facs_loader_free(NULL);
}

/* A staging allocator (facs_loader_opts.staging) that keeps its blocks. */
#define MAX_BLOCKS 16
typedef struct {
    void *blocks[MAX_BLOCKS];
    int made, live;
    int fail_at; /* the allocation (1, 2, ...) that fails; 0: none */
} counting;

static void *counting_alloc(void *user, size_t bytes)
{
    counting *c = user;
    if (c->made == MAX_BLOCKS || c->made + 1 == c->fail_at) {
        facs_fail(FACS_ERR_MEMORY, "counting: page-locked memory exhausted");
        return NULL;
    }
    void *p = malloc(bytes);
    if (p) {
        c->blocks[c->made++] = p;
        c->live++;
    }
    return p;
}

static void counting_free(void *user, void *ptr)
{
    counting *c = user;
    for (int i = 0; i < c->made; i++)
        if (c->blocks[i] == ptr) {
            c->blocks[i] = NULL;
            c->live--;
            free(ptr);
            return;
        }
    CHECK(0, "the loader freed %p, which the staging allocator did not give", ptr);
}

static int counting_has(const counting *c, const void *ptr)
{
    for (int i = 0; i < c->made; i++)
        if (ptr && c->blocks[i] == ptr)
            return 1;
    return 0;
}

/* Batches in the staging allocator's memory (images and labels, one block
 * each per slot, all freed through it) hold what malloc'd ones do; a failing
 * staging allocation fails the loader with its cause; the CPU's and meta's
 * staging memory (facs_device_host_allocator) is real host memory. */
static void staging(const facs_dataset *ds, const facs_cls_aug *aug)
{
    static record plain, staged;
    for (int workers = 0; workers <= 2; workers += 2) {
        facs_loader_opts o = test_opts(aug, workers, 1, 0);
        run_epochs(ds, &o, 2, &plain);
        counting c = {0};
        o.staging = (facs_host_allocator){.alloc = counting_alloc, .free = counting_free, .user = &c};
        run_epochs(ds, &o, 2, &staged);
        int slots = workers > 0 ? o.prefetch + 1 : 1;
        CHECK(same_record(&plain, &staged), "%d workers: staged batches differ from malloc'd ones", workers);
        CHECK(c.made == 2 * slots && c.live == 0, "%d workers: %d staging blocks made for %d slots, %d not freed",
              workers, c.made, slots, c.live);

        counting in = {0};
        o.staging.user = &in;
        facs_loader *l;
        const facs_batch *b;
        if (CHECK_OK(facs_loader_create(ds, &o, &l))) {
            for (int k = 0; k < 2 * slots && CHECK_OK(facs_loader_next(l, &b)) && b; k++)
                CHECK(counting_has(&in, b->images) && counting_has(&in, b->labels),
                      "%d workers: batch %d is not in staging memory", workers, k);
            facs_loader_free(l);
        }
        CHECK(in.live == 0, "%d workers: %d staging blocks not freed", workers, in.live);

        counting failing = {.fail_at = 2};
        o.staging.user = &failing;
        CHECK(facs_loader_create(ds, &o, &l) == FACS_ERR_MEMORY && l == NULL &&
                  strstr(facs_last_error(), "page-locked memory exhausted"),
              "%d workers: a failing staging allocation gave: %s", workers, facs_last_error());
        CHECK(failing.live == 0, "%d workers: %d staging blocks left after a failed create", workers, failing.live);
    }
    facs_loader_opts o = test_opts(aug, 0, 1, 0);
    o.staging = (facs_host_allocator){.alloc = counting_alloc};
    facs_loader *l;
    CHECK(facs_loader_create(ds, &o, &l) == FACS_ERR_ARG, "a staging allocator without free is refused");
    facs_device devices[] = {FACS_DEVICE_CPU, FACS_DEVICE_META};
    for (int d = 0; d < 2; d++) {
        o = test_opts(aug, 2, 1, 0);
        if (!CHECK_OK(facs_device_host_allocator(devices[d], &o.staging)))
            continue;
        run_epochs(ds, &o, 2, &staged);
        CHECK(same_record(&plain, &staged), "%s's staging memory: batches differ", facs_device_name(devices[d]));
    }
}

static facs_status seg_load(const facs_dataset *self, int index, facs_image *out_image, facs_label *out_label)
{
    (void)self;
    int h = 20 + index % 5, w = 24;
    uint8_t *pixels = malloc((size_t)h * w * 3), *labels = malloc((size_t)h * w);
    if (!pixels || !labels) {
        free(pixels);
        free(labels);
        return facs_fail(FACS_ERR_MEMORY, "out of memory");
    }
    *out_image = (facs_image){w, h, 3, pixels};
    out_label->map = (facs_image){w, h, 1, labels};
    for (int i = 0; i < h * w; i++) {
        out_label->map.pixels[i] = (uint8_t)((i / 7 + index) % 19);
        for (int c = 0; c < 3; c++)
            out_image->pixels[i * 3 + c] = (uint8_t)(i * 3 + c + index);
    }
    return FACS_OK;
}

/* Segmentation through the loader: dense labels, same batches with 0 and 3
 * workers, and a transform whose size does not match the batch is refused. */
static void segmentation(void)
{
    facs_dataset ds = {.count = 11, .load = seg_load};
    facs_seg_aug aug = facs_seg_aug_train(16, 18);
    facs_loader_opts o = facs_loader_defaults();
    o.batch_size = 4;
    o.shuffle = 1;
    o.seed = 5;
    o.height = 16;
    o.width = 18;
    o.channels = 3;
    o.dense_labels = 1;
    o.transform = facs_seg_transform;
    o.transform_opts = &aug;
    size_t img_n = 4 * 16 * 18 * 3, lab_n = 4 * 16 * 18;
    float *images[2] = {test_alloc(img_n * 3), test_alloc(img_n * 3)};
    int32_t *labels[2] = {malloc(sizeof(int32_t) * lab_n * 3), malloc(sizeof(int32_t) * lab_n * 3)};
    for (int run = 0; run < 2; run++) {
        o.workers = run ? 3 : 0;
        facs_loader *l;
        if (!CHECK_OK(facs_loader_create(&ds, &o, &l)))
            continue;
        const facs_batch *b;
        for (int k = 0; k < 3; k++)
            if (CHECK_OK(facs_loader_next(l, &b)) && CHECK(b && b->n == (k < 2 ? 4 : 3), "segmentation batch %d", k)) {
                memcpy(images[run] + k * img_n, b->images, sizeof(float) * b->n * 16 * 18 * 3);
                memcpy(labels[run] + k * lab_n, b->labels, sizeof(int32_t) * b->n * 16 * 18);
            }
        facs_loader_free(l);
    }
    int bad_label = 0;
    for (size_t i = 0; i < lab_n * 3 - lab_n / 4; i++)
        bad_label += !(labels[0][i] >= 0 && labels[0][i] < 19) && labels[0][i] != 255;
    CHECK(bad_label == 0, "segmentation: %d labels outside 0..18 and 255", bad_label);
    CHECK(!memcmp(images[0], images[1], sizeof(float) * (img_n * 3 - img_n / 4)) &&
              !memcmp(labels[0], labels[1], sizeof(int32_t) * (lab_n * 3 - lab_n / 4)),
          "segmentation: 3 workers differ from 0");
    for (int run = 0; run < 2; run++) {
        free(images[run]);
        free(labels[run]);
    }
    o.width = 17;
    facs_loader *l;
    CHECK(facs_loader_create(&ds, &o, &l) == FACS_ERR_ARG && l == NULL &&
              strstr(facs_last_error(), "16x18x3") != NULL,
          "a batch shape unlike the transform's is refused: '%s'", facs_last_error());
}

/* The N shards of a run, batch by batch, put together are the unsharded run,
 * the last (partial) batch too; their parts differ in size by one at most. */
static void sharding(const facs_dataset *ds, const facs_cls_aug *aug)
{
    static record whole, part[3];
    for (int ranks = 2; ranks <= 3; ranks++)
        for (int drop_last = 0; drop_last <= 1; drop_last++) {
            facs_loader_opts o = test_opts(aug, drop_last ? 2 : 0, 1, drop_last);
            run_epochs(ds, &o, 2, &whole);
            o.shard_count = ranks;
            for (int r = 0; r < ranks; r++) {
                o.shard_rank = r;
                run_epochs(ds, &o, 2, &part[r]);
            }
            for (int k = 0; k < whole.batches; k++) {
                int at = 0, ok = 1;
                for (int r = 0; r < ranks && ok; r++) {
                    const record *p = &part[r];
                    int n = p->n[k];
                    ok = p->batches == whole.batches && p->epoch[k] == whole.epoch[k] && at + n <= whole.n[k] &&
                         abs(n - whole.n[k] / ranks) <= 1 &&
                         (r == 0 || n <= part[r - 1].n[k]) &&
                         !memcmp(p->indices[k], whole.indices[k] + at, sizeof(int) * n) &&
                         !memcmp(p->images[k], whole.images[k] + (size_t)at * H * W * C,
                                 sizeof(float) * n * H * W * C);
                    at += n;
                }
                CHECK(ok && at == whole.n[k], "%d shards (drop_last %d), batch %d: not the unsharded batch", ranks,
                      drop_last, k);
            }
        }
    facs_loader_opts o = test_opts(aug, 0, 1, 0);
    o.shard_count = 2;
    o.shard_rank = 2;
    facs_loader *l;
    CHECK(facs_loader_create(ds, &o, &l) == FACS_ERR_ARG, "shard 2 of 2 is refused");
}

int main(void)
{
    static synthetic s;
    for (int i = 0; i < COUNT; i++)
        for (int p = 0; p < H * W * C; p++)
            s.pixels[i][p] = (uint8_t)(i * 29 + p * 7);
    s.fail_index = -1;
    s.slow = 1;
    facs_dataset ds = {.count = COUNT, .load = synthetic_load, .user = &s};
    facs_cls_aug aug = test_aug();
    determinism(&ds, &aug);
    for (int workers = 0; workers <= 4; workers += 2)
        error_surfaces(&ds, &aug, workers);
    skip_bad(&ds, &aug);
    free_mid_epoch(&ds, &aug);
    staging(&ds, &aug);
    sharding(&ds, &aug);
    segmentation();
    return test_finish();
}
