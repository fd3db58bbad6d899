/* CIFAR-10 and CIFAR-100 in their binary on-disk formats, and synthetic data
 * written in the same formats.
 *
 *     facs_cifar ds;
 *     if (facs_cifar_load("data/cifar-10-batches-bin", FACS_CIFAR_AUTO, FACS_CIFAR_TRAIN, &ds) != FACS_OK)
 *         fprintf(stderr, "%s\n", facs_last_error());   // names the file and what is wrong
 *     ... ds.images[((i * 32 + y) * 32 + x) * 3 + c], ds.labels[i], ds.class_names[ds.labels[i]] ...
 *     facs_cifar_free(&ds);
 *
 * The folders, as distributed:
 *   CIFAR-10  (cifar-10-batches-bin): data_batch_1.bin .. data_batch_5.bin (train, read in that order),
 *             test_batch.bin, batches.meta.txt (10 class names, one a line; trailing empty lines allowed).
 *             A record: 1 label byte, then 3072 bytes: the R, G and B planes of 32x32, each row-major.
 *   CIFAR-100 (cifar-100-binary): train.bin, test.bin, fine_label_names.txt (100 names),
 *             coarse_label_names.txt (20 names). A record: coarse label byte, fine label byte, 3072 bytes.
 *
 * Loading validates everything it reads: every file present, each data file a whole
 * number of records (and not empty), every label in range, the right number of class
 * names. Errors come back as a facs_status with a message (facs_last_error()) that
 * names the file and the problem. */
#ifndef FACS_CIFAR_H
#define FACS_CIFAR_H

#include <stddef.h>
#include <stdint.h>

#include "loader.h"
#include "status.h"

#define FACS_CIFAR_SIDE 32
#define FACS_CIFAR_PIXELS (3 * FACS_CIFAR_SIDE * FACS_CIFAR_SIDE) /* bytes of one image */
#define FACS_CIFAR10_BATCHES 5                                     /* data_batch_1..5.bin */

/* kind: the number of (fine) classes, or AUTO to detect it from the folder. */
enum { FACS_CIFAR_AUTO = 0, FACS_CIFAR_10 = 10, FACS_CIFAR_100 = 100 };

typedef enum { FACS_CIFAR_TRAIN = 0, FACS_CIFAR_TEST = 1 } facs_cifar_split;

/* One split of a dataset, entirely in memory. Owns every pointer. */
typedef struct {
    int kind;               /* 10 or 100 */
    int count;              /* images in the split */
    int num_classes;        /* fine classes: 10 or 100 */
    int num_coarse;         /* 20 for CIFAR-100, 0 for CIFAR-10 */
    uint8_t *images;        /* count x 32 x 32 x 3 (HWC, RGB), converted from the planar file layout */
    uint8_t *labels;        /* count fine labels, each < num_classes */
    uint8_t *coarse_labels; /* count coarse labels, each < 20 (CIFAR-100); NULL for CIFAR-10 */
    char **class_names;     /* num_classes names from the folder's names file */
    char **coarse_names;    /* num_coarse names (CIFAR-100), else NULL */
} facs_cifar;

/* Which dataset dir holds, from the files present: *kind = 10 or 100, or 0 when
 * none of either kind's files is there (not an error, so callers can probe).
 * FACS_ERR_IO when dir cannot be read; FACS_ERR_FORMAT when it holds files of
 * both, and (with *kind = 0) when dir is a folder a user plausibly meant instead
 * of a CIFAR one, the message saying what to pass: the folder an archive was
 * extracted into ("DIR: not a CIFAR folder, but found DIR/cifar-10-batches-bin
 * inside: pass that folder", likewise cifar-100-binary), or the Python (pickle)
 * version of either dataset (cifar-10-batches-py, cifar-100-python, or their
 * files), naming the binary archive to get. */
facs_status facs_cifar_detect(const char *dir, int *kind);

/* The files a CIFAR folder is recognised by, for messages ("looked for ..."). */
const char *facs_cifar_expected_files(void);

/* Loads one split of the dataset in dir. kind is FACS_CIFAR_10, FACS_CIFAR_100 or
 * FACS_CIFAR_AUTO. On failure *ds is left empty (safe to free). */
facs_status facs_cifar_load(const char *dir, int kind, facs_cifar_split split, facs_cifar *ds);

/* Parses one data file held in memory (len bytes, e.g. a whole data_batch_1.bin
 * or train.bin) of the given kind (10 or 100, not AUTO) with the same checks and
 * messages as facs_cifar_load, naming `name`: a whole, non-zero number of records,
 * every label in range. Fills count, images, labels and (CIFAR-100)
 * coarse_labels; class_names and coarse_names stay NULL, since the names live in
 * files of their own. On failure *ds is left empty (safe to free). */
facs_status facs_cifar_parse(const uint8_t *buf, size_t len, int kind, const char *name, facs_cifar *ds);

/* Releases what a load allocated and zeroes *ds; NULL and zeroed structs are fine. */
void facs_cifar_free(facs_cifar *ds);

/* The loader's view of the loaded split ds (borrowed: it must outlive the
 * dataset): count images; load hands the loader a copy of image i (which the
 * loader frees) and its fine label. */
void facs_cifar_dataset(const facs_cifar *ds, facs_dataset *dataset);

/* Writes a synthetic dataset of the given kind (10 or 100) into out_dir (created
 * when missing) in the real on-disk format, with the real class names (and, for
 * CIFAR-100, the real fine -> coarse mapping). Each class has its own recipe:
 * stripe orientation and frequency, blob position and size, colour palette, over
 * per-image random phase, jitter and pixel noise, so a small network learns it
 * well above chance. CIFAR-10's train images are split across the five batches
 * as evenly as possible. Labels are balanced (each class appears when n >= kind)
 * and shuffled. The result depends only on (kind, n_train, n_test, seed). Each
 * file is written whole or not at all (kernels/atomic_file.h: a temporary in
 * out_dir, fsynced and renamed), so a failure or crash leaves every file of
 * out_dir either as it was or complete. Files already in out_dir are replaced
 * without asking; facs-data refuses a non-empty folder unless --force.
 * Needs n_train >= 5 for CIFAR-10 (no batch may be empty), n_train >= 1 and n_test >= 1. */
facs_status facs_cifar_synth(const char *out_dir, int kind, int n_train, int n_test, uint64_t seed);

/* The real class names: kind 10 (10 names), kind 100 (100 fine names). NULL when out of range. */
const char *facs_cifar_class_name(int kind, int label);
/* CIFAR-100's 20 coarse names; NULL when out of range. */
const char *facs_cifar100_coarse_name(int coarse);
/* The coarse class of a CIFAR-100 fine class (the dataset's own mapping), -1 when out of range. */
int facs_cifar100_coarse_of(int fine);

#endif
