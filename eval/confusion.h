/* The confusion matrix over K classes and the numbers made from it: accuracy,
 * top-k, per-class accuracy (recall), per-class IoU, mIoU; a per-class table
 * and a CSV file. Classification and segmentation share it.
 *
 *     facs_confusion cm;
 *     FACS_TRY(facs_confusion_init(&cm, 10));
 *     // classification: logits of a batch (n x K, row-major) and its labels
 *     FACS_TRY(facs_confusion_add_logits(&cm, logits, labels, n));
 *     // segmentation: label maps of count pixels; truth 255 is not counted
 *     FACS_TRY(facs_confusion_add_maps(&cm, truth, predicted, count, 255));
 *     printf("top-1 %.4f top-5 %.4f mIoU %.4f\n", facs_confusion_accuracy(&cm),
 *            facs_confusion_topk(&cm, 5), facs_confusion_miou(&cm));
 *     facs_confusion_print_table(&cm, names, stdout);          // names: K strings, or NULL
 *     FACS_TRY(facs_confusion_write_csv(&cm, names, "run/confusion.csv"));
 *     facs_confusion_free(&cm);
 *
 * Counts are int64: row = true class, column = predicted class. Top-1 comes
 * from the matrix (its diagonal). Top-k needs the logits: add_logits also
 * records the rank of each sample's label among its logits (facs_label_rank),
 * so facs_confusion_topk works for any k; samples added with facs_confusion_add
 * or add_maps have no rank and are not part of top-k.
 *
 * Data parallel: each worker fills its own matrix, then facs_confusion_merge
 * sums them (counts and ranks), which gives what one matrix over all samples
 * would hold.
 *
 * Every add checks its whole input before counting anything, so on an error
 * (a label outside [0, K), naming the value and its position) the matrix is
 * unchanged.
 *
 * Undefined numbers are NaN, never a made-up 0: the accuracy of an empty
 * matrix, the accuracy of a class with no true sample, the IoU of a class absent
 * from both truth and prediction. Means (mIoU, mean class accuracy) skip NaN
 * classes; they are NaN when every class is. (hszhao/semseg divides by
 * union + 1e-10 instead, which scores an absent class 0 inside the mean; on a
 * whole Cityscapes validation set, where every class occurs, both agree.) */
#ifndef FACS_CONFUSION_H
#define FACS_CONFUSION_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "comm.h"
#include "status.h"

typedef struct {
    int classes;          /* K */
    int64_t *counts;      /* K x K: counts[true * K + predicted] */
    int64_t *label_ranks; /* K: label_ranks[r] = samples whose label ranked r among their logits (0 = top) */
    int64_t ranked;       /* samples added with logits (the sum of label_ranks) */
    int64_t *unmatched;   /* K: unmatched[true] = samples predicted as none of the K classes (add_maps) */
} facs_confusion;

/* A predicted label of add_maps that is none of the K classes: an external
 * prediction of a class that is not evaluated (cityscapesScripts counts a
 * Cityscapes labelId outside the 19 classes against the true class). */
#define FACS_CONFUSION_NONE (-1)

/* classes >= 1; the matrix starts at zero. */
facs_status facs_confusion_init(facs_confusion *cm, int classes);
/* Frees and zeroes (safe on a zeroed or freed matrix). */
void facs_confusion_free(facs_confusion *cm);
/* Back to zero counts and ranks, same K. */
void facs_confusion_reset(facs_confusion *cm);

/* Data parallel: every rank's matrix becomes the sum of the ranks' matrices
 * (each rank evaluated its shard), so every count is the whole split's. */
facs_status facs_confusion_allreduce(facs_confusion *cm, facs_comm *comm);

/* One sample: true class label, predicted class predicted (both in [0, K)). */
facs_status facs_confusion_add(facs_confusion *cm, int label, int predicted);

/* A batch of n classification samples: logits n x K row-major, labels n in
 * [0, K). Prediction = the first largest logit (argmax); the label's rank is
 * facs_label_rank. A NaN logit is refused (naming the sample): it has no rank. */
facs_status facs_confusion_add_logits(facs_confusion *cm, const float *logits, const int32_t *labels, int n);

/* The rank of label among logits[0..classes) (0: the largest). Ties are ordered
 * as a stable descending sort orders them: an equal logit counts against the
 * label only at a lower class index. So rank < k is "label in the top k", and
 * rank 0 is exactly "argmax (first largest) == label". */
int facs_label_rank(const float *logits, int classes, int label);

/* A segmentation batch: count pixels of true and predicted label maps (any
 * layout, the same for both). Pixels whose true label is ignore_label (255 for
 * Cityscapes trainIds; a negative value ignores nothing) are skipped; every
 * other true label must be in [0, K), every predicted label in [0, K) or
 * FACS_CONFUSION_NONE: that pixel counts in its true class's row (a miss: in
 * the total, the class's recall and its IoU's FN) but in no column. */
facs_status facs_confusion_add_maps(facs_confusion *cm, const int32_t *truth, const int32_t *predicted,
                                    size_t count, int32_t ignore_label);

/* into += from (counts and ranks); both must have the same K. */
facs_status facs_confusion_merge(facs_confusion *into, const facs_confusion *from);

/* Samples (or pixels) counted, and those on the diagonal. */
int64_t facs_confusion_total(const facs_confusion *cm);
int64_t facs_confusion_correct(const facs_confusion *cm);

/* Top-1 accuracy: correct / total; NaN when empty. The total includes the
 * samples predicted as none of the classes. */
double facs_confusion_accuracy(const facs_confusion *cm);

/* Fraction of the ranked samples whose label is among their k largest logits
 * (k >= 1; k >= K gives 1); NaN when no sample was added with logits. */
double facs_confusion_topk(const facs_confusion *cm, int k);

/* Accuracy of class c (recall): counts[c][c] / (row c's sum); NaN when class c
 * has no true sample. */
double facs_confusion_class_accuracy(const facs_confusion *cm, int c);

/* IoU of class c: TP / (TP + FP + FN) with TP = counts[c][c], FP = column c's
 * other entries, FN = row c's other entries; NaN when the class is absent from
 * both truth and prediction. */
double facs_confusion_iou(const facs_confusion *cm, int c);

/* Means over the classes whose number is not NaN (see above). */
double facs_confusion_miou(const facs_confusion *cm);
double facs_confusion_mean_class_accuracy(const facs_confusion *cm);

/* The class that true class c is most often predicted as, other than c
 * (lowest index on a tie), with its count in *count; -1 (and 0) when every
 * sample of c is right or c has none. */
int facs_confusion_most_confused(const facs_confusion *cm, int c, int64_t *count);

/* The per-class table: one line per class with its index, name, count (true
 * samples or pixels), correct, accuracy, IoU and the class it is most often
 * mistaken for ("name (count)", "-" when none); undefined numbers print as
 * "-". Then a line "all" with total, correct, accuracy, and the mean class
 * accuracy, the mIoU and, when samples were added with logits, top-5.
 * names: K strings, or NULL to name classes by their index. */
void facs_confusion_print_table(const facs_confusion *cm, const char *const *names, FILE *out);

/* The matrix as CSV, written whole or not at all (kernels/atomic_file.h):
 * header "true\predicted,<name 0>,...,<name K-1>", then per true class its name
 * and K counts; when some sample was predicted as none of the classes, a last
 * column "(none)" holds those per true class. A name holding a comma, a quote or a line break is quoted as
 * RFC 4180 says. names: K strings, or NULL for the class indices. */
facs_status facs_confusion_write_csv(const facs_confusion *cm, const char *const *names, const char *path);

#endif
