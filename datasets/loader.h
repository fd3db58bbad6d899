/* The batch loader: loads and augments samples into float NHWC batches, in the
 * calling thread or on a pool of pthread workers that prepare the next batches
 * while the current one trains.
 *
 *     facs_cls_aug aug = facs_cls_aug_cifar_train();
 *     facs_loader_opts o = facs_loader_defaults();
 *     o.batch_size = 128; o.shuffle = 1; o.workers = 2; o.seed = 42;
 *     o.transform = facs_cls_transform; o.transform_opts = &aug;
 *     o.height = 32; o.width = 32; o.channels = 3;
 *     facs_loader *l;
 *     if (facs_loader_create(&dataset, &o, &l) != FACS_OK) ... facs_last_error() ...
 *     for (;;) {
 *         const facs_batch *b;
 *         if (facs_loader_next(l, &b) != FACS_OK) ... facs_last_error() names the file ...
 *         if (!b) break;                     // end of the epoch; the next call starts the next one
 *         ... b->images (b->n x 32 x 32 x 3), b->labels, b->indices ...
 *     }
 *     facs_loader_free(l);
 *
 * Determinism: epoch e's order is a Fisher-Yates permutation keyed by (seed, e)
 * (or 0..count-1 without shuffle), and sample i's augmentation is keyed by
 * (seed, e, i), so batches are bit-identical for any number of workers and any
 * scheduling. Batches come back in order.
 *
 * Memory: prefetch + 1 batch buffers, allocated once: the batch the caller
 * holds and up to `prefetch` batches being prepared. A batch stays valid until
 * the next facs_loader_next or facs_loader_free. Every sample still allocates
 * its decoded image and intermediate crops, often above glibc's mmap threshold,
 * so by default each would be mapped afresh and page-faulted in (a third of
 * the image-folder pipeline's time went to page faults, bench-folder). The
 * first facs_loader_create therefore raises glibc's mmap and trim thresholds
 * (mallopt, to 32 MiB and 256 MiB) for the process: freed buffers are reused,
 * and the heap keeps up to its peak instead of shrinking after each sample.
 *
 * Staging memory: with an allocator in the options (a device's,
 * facs_device_host_allocator: page-locked on CUDA) the batches' images and
 * labels live in its memory, so they can go to the device asynchronously
 * (facs_tensor_upload_async). The caller must then make sure the device has
 * read a batch before the next facs_loader_next, which hands the batch's
 * buffers back to be refilled (the training steps do: their loss download
 * waits for the uploads; finetune/step.c, pspnet/train_step.c). The loader
 * frees them through the allocator, whose free waits for pending copies.
 *
 * Errors: a failing load or transform (a corrupt file) is returned by the
 * facs_loader_next that reaches its batch, with the dataset's message (which
 * names the file) prefixed by the sample index; every later call returns the
 * same error. facs_loader_free joins the workers at any point, mid-epoch too.
 *
 * Skipping (skip_bad): a sample whose load fails (a file that does not
 * decode) is left out of its batch instead, so that batch comes back smaller
 * (b->n; even 0), and recorded once (facs_loader_skipped); it is not read
 * again in later epochs. Nothing else moves: every other sample keeps its
 * batch, position order and augmentation, so runs stay deterministic and
 * resumable. A failing transform is still an error (it is not the file's
 * fault).
 *
 * Sharding (data parallel): with shard_count N > 1 the loader makes only
 * part shard_rank of every batch. Each batch of the epoch's order (batch_size
 * samples, the last one shorter or dropped as without sharding) is cut into N
 * contiguous parts whose sizes differ by one at most, the larger ones to the
 * lower ranks, so the N loaders of a run together load exactly the batches
 * one loader would, with the same augmentation (it depends only on the seed,
 * the epoch and the sample). A part may be empty (b->n == 0) when a batch has
 * fewer samples than ranks.
 *
 * Encoded files: a dataset that can hand out a sample's file undecoded (read)
 * and a loader given a transform_file have the transform decode it, so it can
 * decode only what its crop needs (facs_cls_transform_file: JPEG draft
 * decoding). A file that does not decode counts as a failing load. */
#ifndef FACS_LOADER_H
#define FACS_LOADER_H

#include <stdint.h>

#include "augment.h"
#include "image.h"
#include "status.h"
#include "tensor.h"

/* A sample's label: a class id (classification) or a 1-channel map (segmentation). */
typedef struct {
    int cls;
    facs_image map; /* left empty ({0}) by classification datasets */
} facs_label;

/* A dataset: count samples, each produced by load. load may run on several
 * threads at once (for different indices) and must not touch shared mutable
 * state without its own locking. It fills out_image (malloc'd pixels, freed by
 * the loader) and out_label, and on failure returns a status with a message
 * naming the file; whatever it filled before failing is freed by the loader. */
/* A sample's file as stored (a PNG or JPEG), its name for messages. */
typedef struct {
    uint8_t *data; /* malloc'd, freed by the loader */
    size_t size;
    char name[4096];
} facs_encoded;

typedef struct facs_dataset {
    int count;
    facs_status (*load)(const struct facs_dataset *self, int index, facs_image *out_image,
                        facs_label *out_label);
    void *user;
    /* Optional (NULL), with the same rules as load: the sample's file undecoded. */
    facs_status (*read)(const struct facs_dataset *self, int index, facs_encoded *out_file, facs_label *out_label);
} facs_dataset;

/* Turns a loaded sample into one batch entry: out_image (height * width *
 * channels floats, HWC) and out_label (1 int32, or height * width for dense
 * labels). Randomness must come only from (seed, epoch, index). */
typedef facs_status (*facs_transform_fn)(const void *opts, const facs_image *image, const facs_label *label,
                                         uint64_t seed, int epoch, int index, float *out_image,
                                         int32_t *out_label);

/* A transform of the encoded file (see "Encoded files"); *bad_file = 1 when the
 * failure is that the file does not decode. */
typedef facs_status (*facs_file_transform_fn)(const void *opts, const facs_encoded *file, const facs_label *label,
                                              uint64_t seed, int epoch, int index, float *out_image,
                                              int32_t *out_label, int *bad_file);

/* Ready-made transforms: opts is a facs_cls_aug (label = cls; checked to be >= 0)
 * or a facs_seg_aug (label = the augmented map). */
facs_status facs_cls_transform(const void *opts, const facs_image *image, const facs_label *label,
                               uint64_t seed, int epoch, int index, float *out_image, int32_t *out_label);
facs_status facs_seg_transform(const void *opts, const facs_image *image, const facs_label *label,
                               uint64_t seed, int epoch, int index, float *out_image, int32_t *out_label);
/* facs_cls_transform of the encoded file through facs_cls_augment_file. */
facs_status facs_cls_transform_file(const void *opts, const facs_encoded *file, const facs_label *label,
                                    uint64_t seed, int epoch, int index, float *out_image, int32_t *out_label,
                                    int *bad_file);

typedef struct {
    int batch_size;
    int shuffle;                 /* a new permutation every epoch */
    int drop_last;               /* drop the last batch when smaller than batch_size */
    int workers;                 /* 0: load in the calling thread; N: N pthread workers */
    int prefetch;                /* batches prepared ahead (>= 1) */
    uint64_t seed;
    int first_epoch;             /* the epoch the loader starts at (resume) */
    int height, width, channels; /* the transform's output size */
    int dense_labels;            /* 1: height * width labels per sample; 0: one */
    int skip_bad;                /* leave out samples that fail to load, recording them (above) */
    int shard_rank, shard_count; /* "Sharding": this loader's part of each batch (0 of 1: all of it) */
    facs_transform_fn transform;
    facs_file_transform_fn transform_file; /* optional: used instead for datasets that can read */
    const void *transform_opts;  /* must outlive the loader; the options of both transforms */
    facs_host_allocator staging; /* of images and labels ("Staging memory"); alloc NULL: malloc */
} facs_loader_opts;

/* batch_size 1, no shuffle, keep the last batch, 0 workers, prefetch 2, seed 0, no sharding, malloc'd batches. */
facs_loader_opts facs_loader_defaults(void);

typedef struct {
    int n;                          /* samples in this batch */
    int height, width, channels;
    float *images;                  /* n x height x width x channels (NHWC), contiguous */
    int32_t *labels;                /* n, or n x height x width when dense */
    int *indices;                   /* the n dataset indices */
    int epoch, batch;               /* which epoch, which batch of it */
    int offset;                     /* sharded: the position of this part's first sample in the whole batch */
} facs_batch;

typedef struct facs_loader facs_loader;

/* The dataset and transform_opts are borrowed and must outlive the loader. */
facs_status facs_loader_create(const facs_dataset *ds, const facs_loader_opts *opts, facs_loader **out);

/* The next batch of the current epoch in *batch, or *batch = NULL at the end of
 * the epoch (after which the loader moves to the next epoch). */
facs_status facs_loader_next(facs_loader *l, const facs_batch **batch);

/* Batches per epoch (after drop_last). */
int facs_loader_batches_per_epoch(const facs_loader *l);
/* The epoch the next batch belongs to. */
int facs_loader_epoch(const facs_loader *l);

/* skip_bad: the samples skipped so far, each once, sorted by dataset index;
 * facs_loader_skipped gives the k-th one's message (it names the file; valid
 * until facs_loader_free) and its index. Safe while workers run. */
int facs_loader_skipped_count(facs_loader *l);
const char *facs_loader_skipped(facs_loader *l, int k, int *index);

/* Stops and joins the workers and frees everything; NULL is fine. */
void facs_loader_free(facs_loader *l);

#endif
