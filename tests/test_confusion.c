/* The confusion matrix of eval/confusion.h against tests/ref/ref_confusion.py.
 *
 * Classification: random logits with many ties; every sample's label rank, the
 * matrix and top-k for every k must equal the reference exactly (stable-sort
 * ranks from torch.sort(stable=True), predictions from np.argmax). The batch
 * is added in uneven chunks, so the counts must not depend on batching.
 *
 * Segmentation: two workers' label maps with ignore pixels, each counted in its
 * own matrix and merged; the summed matrix, per-class IoU and accuracy (NaN for
 * the absent class), mIoU, mean class accuracy and accuracy must match numpy.
 *
 * Then hand-made cases with exact expected text: the CSV file (with a name that
 * needs quoting) and the per-class table; and bad input, which must fail with a
 * message naming the value and leave the matrix unchanged. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "confusion.h"
#include "test_util.h"

static int same_counts(const facs_confusion *cm, const int *want)
{
    for (size_t i = 0; i < (size_t)cm->classes * cm->classes; i++)
        if (cm->counts[i] != want[i])
            return 0;
    return 1;
}

/* A number that must be NaN exactly where the reference is, and otherwise equal within 1e-12. */
static int same_number(double got, double want)
{
    return isnan(want) ? isnan(got) : fabs(got - want) <= 1e-12 * fmax(1, fabs(want));
}

static void classification_case(h5_file *ref, int index)
{
    char group[32], name[64];
    snprintf(group, sizeof group, "/cls%d", index);
    int k = (int)h5_attr_int(ref, group, "classes", 0), rank_dim;
    size_t dims[8];
    snprintf(name, sizeof name, "%s/logits", group);
    float *logits = h5_read_f32(ref, name, &rank_dim, dims);
    int n = logits ? (int)dims[0] : 0;
    snprintf(name, sizeof name, "%s/labels", group);
    int *labels = h5_read_i32(ref, name, &rank_dim, dims);
    snprintf(name, sizeof name, "%s/rank", group);
    int *ranks = h5_read_i32(ref, name, &rank_dim, dims);
    snprintf(name, sizeof name, "%s/matrix", group);
    int *matrix = h5_read_i32(ref, name, &rank_dim, dims);
    snprintf(name, sizeof name, "%s/topk", group);
    double *topk = h5_read_f64(ref, name, &rank_dim, dims);
    if (!CHECK(k >= 1 && logits && labels && ranks && matrix && topk, "%s: reference incomplete", group))
        goto done;
    int bad = 0;
    for (int i = 0; i < n; i++)
        bad += facs_label_rank(logits + (size_t)i * k, k, labels[i]) != ranks[i];
    CHECK(bad == 0, "%s: %d of %d label ranks differ from the stable sort's", group, bad, n);

    facs_confusion cm;
    if (!CHECK_OK(facs_confusion_init(&cm, k)))
        goto done;
    int32_t *lab32 = malloc((size_t)n * sizeof *lab32);
    for (int i = 0; i < n; i++)
        lab32[i] = labels[i];
    for (int start = 0, chunk = 1; start < n; start += chunk, chunk = chunk * 2 + 1) {
        int m = start + chunk > n ? n - start : chunk;
        CHECK_OK(facs_confusion_add_logits(&cm, logits + (size_t)start * k, lab32 + start, m));
    }
    CHECK(cm.ranked == n && facs_confusion_total(&cm) == n, "%s: counted %lld ranked, %lld in the matrix, want %d",
          group, (long long)cm.ranked, (long long)facs_confusion_total(&cm), n);
    CHECK(same_counts(&cm, matrix), "%s: confusion matrix differs from the reference", group);
    for (int j = 1; j <= k; j++)
        CHECK(facs_confusion_topk(&cm, j) == topk[j - 1], "%s: top-%d %.17g, want %.17g", group, j,
              facs_confusion_topk(&cm, j), topk[j - 1]);
    CHECK(facs_confusion_topk(&cm, k + 5) == 1.0, "%s: top-(K+5) must be 1", group);
    CHECK(facs_confusion_accuracy(&cm) == topk[0], "%s: accuracy from the matrix %.17g, top-1 %.17g", group,
          facs_confusion_accuracy(&cm), topk[0]);
    if (k >= 5)
        printf("%s: K=%d n=%d top-1 %.4f top-5 %.4f\n", group, k, n, facs_confusion_topk(&cm, 1),
               facs_confusion_topk(&cm, 5));
    free(lab32);
    facs_confusion_free(&cm);
done:
    free(logits);
    free(labels);
    free(ranks);
    free(matrix);
    free(topk);
}

static double ref_scalar(h5_file *ref, const char *name)
{
    int rank;
    size_t dims[8];
    double *v = h5_read_f64(ref, name, &rank, dims);
    double x = v ? v[0] : NAN;
    free(v);
    return x;
}

static void segmentation(h5_file *ref)
{
    int k = (int)h5_attr_int(ref, "/seg", "classes", 0), ignore = (int)h5_attr_int(ref, "/seg", "ignore", -1);
    int absent = (int)h5_attr_int(ref, "/seg", "absent", -1);
    int rank;
    size_t dims[8];
    facs_confusion part[2];
    for (int w = 0; w < 2; w++) {
        char name[64];
        snprintf(name, sizeof name, "/seg/truth%d", w);
        int *truth = h5_read_i32(ref, name, &rank, dims);
        size_t count = dims[0] * dims[1] * dims[2];
        snprintf(name, sizeof name, "/seg/pred%d", w);
        int *pred = h5_read_i32(ref, name, &rank, dims);
        CHECK_OK(facs_confusion_init(&part[w], k));
        if (CHECK(truth && pred, "reference maps of worker %d missing", w))
            CHECK_OK(facs_confusion_add_maps(&part[w], truth, pred, count, ignore));
        free(truth);
        free(pred);
    }
    CHECK_OK(facs_confusion_merge(&part[0], &part[1]));
    const facs_confusion *cm = &part[0];
    int *matrix = h5_read_i32(ref, "/seg/matrix", &rank, dims);
    double *iou = h5_read_f64(ref, "/seg/iou", &rank, dims);
    double *acc = h5_read_f64(ref, "/seg/class_acc", &rank, dims);
    if (CHECK(matrix && iou && acc, "segmentation reference incomplete")) {
        CHECK(same_counts(cm, matrix), "merged segmentation matrix differs from numpy's sum");
        for (int c = 0; c < k; c++) {
            CHECK(same_number(facs_confusion_iou(cm, c), iou[c]), "IoU of class %d: %.17g, want %.17g", c,
                  facs_confusion_iou(cm, c), iou[c]);
            CHECK(same_number(facs_confusion_class_accuracy(cm, c), acc[c]), "accuracy of class %d: %.17g, want %.17g",
                  c, facs_confusion_class_accuracy(cm, c), acc[c]);
        }
        CHECK(absent >= 0 && isnan(facs_confusion_iou(cm, absent)), "absent class %d must have IoU NaN", absent);
    }
    double miou = ref_scalar(ref, "/seg/miou"), macc = ref_scalar(ref, "/seg/mean_class_acc");
    double accuracy = ref_scalar(ref, "/seg/accuracy");
    CHECK(same_number(facs_confusion_miou(cm), miou), "mIoU %.17g, want %.17g", facs_confusion_miou(cm), miou);
    CHECK(same_number(facs_confusion_mean_class_accuracy(cm), macc), "mean class accuracy %.17g, want %.17g",
          facs_confusion_mean_class_accuracy(cm), macc);
    CHECK(same_number(facs_confusion_accuracy(cm), accuracy), "pixel accuracy %.17g, want %.17g",
          facs_confusion_accuracy(cm), accuracy);
    CHECK(isnan(facs_confusion_topk(cm, 1)), "top-k without logits must be NaN");
    printf("segmentation: %lld pixels, mIoU %.6f (numpy %.6f)\n", (long long)facs_confusion_total(cm),
           facs_confusion_miou(cm), miou);
    free(matrix);
    free(iou);
    free(acc);
    facs_confusion_free(&part[0]);
    facs_confusion_free(&part[1]);
}

static void hand_ranks(void)
{
    const float a[4] = {1, 3, 3, 2};
    CHECK(facs_label_rank(a, 4, 1) == 0 && facs_label_rank(a, 4, 2) == 1 && facs_label_rank(a, 4, 3) == 2 &&
              facs_label_rank(a, 4, 0) == 3,
          "ranks of {1, 3, 3, 2}: want 3 0 1 2");
    const float flat[10] = {0};
    for (int c = 0; c < 10; c++)
        CHECK(facs_label_rank(flat, 10, c) == c, "all logits equal: label %d must rank %d", c, c);
}

/* A 3-class matrix: cat 3 right, 1 as dog; dog 2 right, 2 as cat; no bird at all. */
static const char *const NAMES[3] = {"cat", "dog, big", "bird"};

static void fill_small(facs_confusion *cm)
{
    static const int pairs[][3] = {{0, 0, 3}, {0, 1, 1}, {1, 1, 2}, {1, 0, 2}};
    for (size_t p = 0; p < sizeof pairs / sizeof pairs[0]; p++)
        for (int i = 0; i < pairs[p][2]; i++)
            CHECK_OK(facs_confusion_add(cm, pairs[p][0], pairs[p][1]));
}

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    char *buf = calloc(1, 1 << 16);
    size_t n = fread(buf, 1, (1 << 16) - 1, f);
    buf[n] = '\0';
    fclose(f);
    return buf;
}

/* Pixels predicted as none of the classes (an external prediction of a class
 * that is not evaluated) are misses of their true class: in its row, its
 * recall, its IoU's FN and the total, but in no column; the CSV shows them in a
 * last "(none)" column. */
static void predicted_as_none(void)
{
    facs_confusion cm;
    if (!CHECK_OK(facs_confusion_init(&cm, 3)))
        return;
    fill_small(&cm);
    const int32_t truth[] = {0, 0, 1, 255}, pred[] = {FACS_CONFUSION_NONE, FACS_CONFUSION_NONE, 0, FACS_CONFUSION_NONE};
    CHECK_OK(facs_confusion_add_maps(&cm, truth, pred, 4, 255));
    CHECK(facs_confusion_total(&cm) == 11 && facs_confusion_correct(&cm) == 5, "total 11 (2 none), correct 5");
    CHECK(facs_confusion_class_accuracy(&cm, 0) == 0.5, "cat: 3 right of 6, got %.17g",
          facs_confusion_class_accuracy(&cm, 0));
    /* cat: TP 3, FN 1 (dog) + 2 (none), FP 3 (dogs as cat) */
    CHECK(facs_confusion_iou(&cm, 0) == 3.0 / 9.0, "cat IoU 3/9, got %.17g", facs_confusion_iou(&cm, 0));
    CHECK(facs_confusion_most_confused(&cm, 0, NULL) == 1, "none is no class to be confused with");
    char path[] = "/tmp/facs_confusion_none_XXXXXX";
    int fd = mkstemp(path);
    if (CHECK(fd >= 0, "mkstemp")) {
        close(fd);
        CHECK_OK(facs_confusion_write_csv(&cm, NAMES, path));
        char *csv = slurp(path);
        CHECK(csv && strcmp(csv, "true\\predicted,cat,\"dog, big\",bird,(none)\ncat,3,1,0,2\n\"dog, big\",3,2,0,0\n"
                                 "bird,0,0,0,0\n") == 0,
              "CSV with a (none) column:\n%s", csv ? csv : "(unreadable)");
        free(csv);
        unlink(path);
    }
    facs_confusion reset = cm;
    facs_confusion_reset(&reset);
    CHECK(facs_confusion_total(&reset) == 0, "reset clears the none counts too");
    facs_confusion_free(&cm);
}

static void small_numbers_and_files(void)
{
    facs_confusion cm;
    if (!CHECK_OK(facs_confusion_init(&cm, 3)))
        return;
    CHECK(isnan(facs_confusion_accuracy(&cm)) && isnan(facs_confusion_miou(&cm)), "an empty matrix has no accuracy");
    fill_small(&cm);
    CHECK(facs_confusion_total(&cm) == 8 && facs_confusion_correct(&cm) == 5, "total 8, correct 5");
    CHECK(facs_confusion_accuracy(&cm) == 0.625, "accuracy 5/8");
    CHECK(facs_confusion_iou(&cm, 0) == 0.5 && facs_confusion_iou(&cm, 1) == 0.4 && isnan(facs_confusion_iou(&cm, 2)),
          "IoU 3/6, 2/5, NaN: got %g %g %g", facs_confusion_iou(&cm, 0), facs_confusion_iou(&cm, 1),
          facs_confusion_iou(&cm, 2));
    CHECK(fabs(facs_confusion_miou(&cm) - 0.45) < 1e-15, "mIoU (0.5 + 0.4) / 2, got %.17g", facs_confusion_miou(&cm));
    CHECK(facs_confusion_mean_class_accuracy(&cm) == 0.625, "mean class accuracy (0.75 + 0.5) / 2");
    int64_t n;
    CHECK(facs_confusion_most_confused(&cm, 1, &n) == 0 && n == 2, "dog is most often taken for cat (2)");
    CHECK(facs_confusion_most_confused(&cm, 2, &n) == -1 && n == 0, "bird has no confusion");

    char dir[] = "/tmp/facs-test-confusion.XXXXXX", path[256];
    if (!CHECK(mkdtemp(dir) != NULL, "mkdtemp failed"))
        return;
    snprintf(path, sizeof path, "%s/confusion.csv", dir);
    CHECK_OK(facs_confusion_write_csv(&cm, NAMES, path));
    char *csv = slurp(path);
    const char *want = "true\\predicted,cat,\"dog, big\",bird\n"
                       "cat,3,1,0\n"
                       "\"dog, big\",2,2,0\n"
                       "bird,0,0,0\n";
    CHECK(csv && strcmp(csv, want) == 0, "CSV content:\n%s\nwant:\n%s", csv ? csv : "(missing)", want);
    free(csv);
    CHECK_OK(facs_confusion_write_csv(&cm, NULL, path));
    csv = slurp(path);
    want = "true\\predicted,0,1,2\n0,3,1,0\n1,2,2,0\n2,0,0,0\n";
    CHECK(csv && strcmp(csv, want) == 0, "CSV without names:\n%s\nwant:\n%s", csv ? csv : "(missing)", want);
    free(csv);
    snprintf(path, sizeof path, "%s/missing/confusion.csv", dir);
    CHECK(facs_confusion_write_csv(&cm, NAMES, path) == FACS_ERR_IO, "a CSV into a missing folder must fail");
    snprintf(path, sizeof path, "%s/confusion.csv", dir);
    unlink(path);
    rmdir(dir);

    char *table = NULL;
    size_t size = 0;
    FILE *mem = open_memstream(&table, &size);
    facs_confusion_print_table(&cm, NAMES, mem);
    fclose(mem);
    const char *want_table =
        "class  name                      count    correct  accuracy       iou  most confused with\n"
        "    0  cat                           4          3    0.7500    0.5000  dog, big (1)\n"
        "    1  dog, big                      4          2    0.5000    0.4000  cat (2)\n"
        "    2  bird                          0          0         -         -  -\n"
        "  all                                8          5    0.6250    0.4500  mean class accuracy 0.6250\n";
    CHECK(table && strcmp(table, want_table) == 0, "table:\n%s\nwant:\n%s", table ? table : "", want_table);
    free(table);

    /* Names outside ASCII take one column per character, not per byte. */
    const char *const accented[] = {"ch\xc3\xa2teau", "\xc3\xbc", "bird"};
    table = NULL;
    mem = open_memstream(&table, &size);
    facs_confusion_print_table(&cm, accented, mem);
    fclose(mem);
    CHECK(table && strstr(table, "    0  ch\xc3\xa2teau                       4          3"),
          "a name with a 2-byte character is padded by characters:\n%s", table ? table : "");
    free(table);

    /* With logits: the "all" line adds top-5. */
    facs_confusion_reset(&cm);
    CHECK(facs_confusion_total(&cm) == 0 && cm.ranked == 0, "reset empties the matrix");
    const float logits[2 * 3] = {0.1f, 0.9f, 0.0f, 2.0f, 1.0f, 3.0f};
    const int32_t labels[2] = {1, 0};
    CHECK_OK(facs_confusion_add_logits(&cm, logits, labels, 2));
    CHECK(cm.counts[1 * 3 + 1] == 1 && cm.counts[0 * 3 + 2] == 1, "logits: sample 0 right, sample 1 taken for bird");
    CHECK(facs_confusion_topk(&cm, 1) == 0.5 && facs_confusion_topk(&cm, 2) == 1.0, "top-1 1/2, top-2 2/2");
    table = NULL;
    mem = open_memstream(&table, &size);
    facs_confusion_print_table(&cm, NULL, mem);
    fclose(mem);
    const char *last = table ? strstr(table, "  all") : NULL;
    CHECK(last && strcmp(last, "  all                                2          1    0.5000    0.3333  "
                               "mean class accuracy 0.5000, top-5 1.0000\n") == 0,
          "table's last line with logits: %s", last ? last : "(missing)");
    CHECK(table && strstr(table, "    0  0                             1          0    0.0000    0.0000  2 (1)\n"),
          "table without names names classes by index:\n%s", table ? table : "");
    free(table);
    facs_confusion_free(&cm);
}

static void bad_input(void)
{
    facs_confusion cm, other;
    CHECK(facs_confusion_init(&cm, 0) == FACS_ERR_ARG, "0 classes must be refused");
    if (!CHECK_OK(facs_confusion_init(&cm, 19)) || !CHECK_OK(facs_confusion_init(&other, 10)))
        return;
    CHECK_OK(facs_confusion_add(&cm, 3, 4));
    CHECK(facs_confusion_add(&cm, 19, 0) == FACS_ERR_ARG && strstr(facs_last_error(), "19"),
          "label 19 of 19 classes: %s", facs_last_error());
    CHECK(facs_confusion_add(&cm, 0, -1) == FACS_ERR_ARG && strstr(facs_last_error(), "-1"),
          "predicted -1: %s", facs_last_error());
    const int32_t truth[6] = {1, 255, 2, 254, 3, 4}, pred[6] = {1, 7, 2, 2, 3, 4};
    CHECK(facs_confusion_add_maps(&cm, truth, pred, 6, 255) == FACS_ERR_ARG && strstr(facs_last_error(), "254") &&
              strstr(facs_last_error(), "pixel 3"),
          "true label 254 must be named with its pixel: %s", facs_last_error());
    const int32_t pred_bad[6] = {1, 0, 2, 0, 3, 19};
    const int32_t truth_ok[6] = {1, 255, 2, 0, 3, 4};
    CHECK(facs_confusion_add_maps(&cm, truth_ok, pred_bad, 6, 255) == FACS_ERR_ARG &&
              strstr(facs_last_error(), "predicted label 19"),
          "predicted 19 must be refused: %s", facs_last_error());
    const float logits[2 * 19] = {[19 + 5] = NAN};
    const int32_t labels[2] = {0, 1}, labels_bad[2] = {0, 42};
    CHECK(facs_confusion_add_logits(&cm, logits, labels, 2) == FACS_ERR_ARG && strstr(facs_last_error(), "NaN"),
          "a NaN logit must be refused: %s", facs_last_error());
    CHECK(facs_confusion_add_logits(&cm, logits, labels_bad, 2) == FACS_ERR_ARG && strstr(facs_last_error(), "42"),
          "label 42 must be refused: %s", facs_last_error());
    CHECK(facs_confusion_total(&cm) == 1 && cm.counts[3 * 19 + 4] == 1 && cm.ranked == 0,
          "failed adds must leave the matrix as it was");
    CHECK(facs_confusion_merge(&cm, &other) == FACS_ERR_ARG, "merging 10 classes into 19 must fail");
    /* 255 counts as a class when nothing is ignored (a 256-class matrix). */
    facs_confusion big;
    if (CHECK_OK(facs_confusion_init(&big, 256))) {
        CHECK_OK(facs_confusion_add_maps(&big, truth, pred, 6, -1));
        CHECK(facs_confusion_total(&big) == 6 && big.counts[255 * 256 + 7] == 1, "ignore -1 counts every pixel");
        facs_confusion_free(&big);
    }
    facs_confusion_free(&cm);
    facs_confusion_free(&other);
    facs_confusion_free(&other); /* a second free is harmless */
}

int main(int argc, char **argv)
{
    h5_file *ref = test_open_ref(argc, argv);
    hand_ranks();
    int cases = 0;
    for (char group[32]; snprintf(group, sizeof group, "/cls%d", cases), h5_exists(ref, group); cases++)
        classification_case(ref, cases);
    CHECK(cases >= 4, "reference has %d classification cases, want 4", cases);
    segmentation(ref);
    small_numbers_and_files();
    predicted_as_none();
    bad_input();
    h5_close(ref);
    return test_finish();
}
