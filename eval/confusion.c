/* The confusion matrix of confusion.h. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "atomic_file.h"
#include "confusion.h"

/* K x K int64 must stay addressable; 46340^2 * 8 bytes is already 16 GiB. */
#define MAX_CLASSES 46340

facs_status facs_confusion_init(facs_confusion *cm, int classes)
{
    memset(cm, 0, sizeof *cm);
    if (classes < 1 || classes > MAX_CLASSES)
        return facs_fail(FACS_ERR_ARG, "confusion matrix: classes must be in [1, %d], got %d", MAX_CLASSES, classes);
    cm->counts = calloc((size_t)classes * (size_t)classes, sizeof *cm->counts);
    cm->label_ranks = calloc((size_t)classes, sizeof *cm->label_ranks);
    cm->unmatched = calloc((size_t)classes, sizeof *cm->unmatched);
    if (!cm->counts || !cm->label_ranks || !cm->unmatched) {
        facs_confusion_free(cm);
        return facs_fail(FACS_ERR_MEMORY, "out of memory for a %d-class confusion matrix", classes);
    }
    cm->classes = classes;
    return FACS_OK;
}

void facs_confusion_free(facs_confusion *cm)
{
    free(cm->counts);
    free(cm->label_ranks);
    free(cm->unmatched);
    memset(cm, 0, sizeof *cm);
}

void facs_confusion_reset(facs_confusion *cm)
{
    size_t k = (size_t)cm->classes;
    if (cm->counts)
        memset(cm->counts, 0, k * k * sizeof *cm->counts);
    if (cm->label_ranks)
        memset(cm->label_ranks, 0, k * sizeof *cm->label_ranks);
    if (cm->unmatched)
        memset(cm->unmatched, 0, k * sizeof *cm->unmatched);
    cm->ranked = 0;
}

static int in_range(const facs_confusion *cm, long v) { return v >= 0 && v < cm->classes; }

facs_status facs_confusion_add(facs_confusion *cm, int label, int predicted)
{
    if (!in_range(cm, label))
        return facs_fail(FACS_ERR_ARG, "confusion matrix: label %d outside [0, %d)", label, cm->classes);
    if (!in_range(cm, predicted))
        return facs_fail(FACS_ERR_ARG, "confusion matrix: predicted class %d outside [0, %d)", predicted,
                         cm->classes);
    cm->counts[(size_t)label * cm->classes + predicted]++;
    return FACS_OK;
}

int facs_label_rank(const float *logits, int classes, int label)
{
    int rank = 0;
    for (int k = 0; k < classes; k++)
        rank += logits[k] > logits[label] || (logits[k] == logits[label] && k < label);
    return rank;
}

facs_status facs_confusion_add_logits(facs_confusion *cm, const float *logits, const int32_t *labels, int n)
{
    int k = cm->classes;
    if (n < 0 || (n > 0 && (!logits || !labels)))
        return facs_fail(FACS_ERR_ARG, "confusion matrix: need n >= 0 logit rows and labels, got n = %d", n);
    for (int i = 0; i < n; i++) {
        if (!in_range(cm, labels[i]))
            return facs_fail(FACS_ERR_ARG, "confusion matrix: label %ld of sample %d outside [0, %d)",
                             (long)labels[i], i, k);
        for (int c = 0; c < k; c++)
            if (isnan(logits[(size_t)i * k + c]))
                return facs_fail(FACS_ERR_ARG, "confusion matrix: logit %d of sample %d is NaN", c, i);
    }
    for (int i = 0; i < n; i++) {
        const float *row = logits + (size_t)i * k;
        int predicted = 0;
        for (int c = 1; c < k; c++)
            if (row[c] > row[predicted])
                predicted = c;
        cm->counts[(size_t)labels[i] * k + predicted]++;
        cm->label_ranks[facs_label_rank(row, k, labels[i])]++;
    }
    cm->ranked += n;
    return FACS_OK;
}

facs_status facs_confusion_add_maps(facs_confusion *cm, const int32_t *truth, const int32_t *predicted,
                                    size_t count, int32_t ignore_label)
{
    if (count > 0 && (!truth || !predicted))
        return facs_fail(FACS_ERR_ARG, "confusion matrix: NULL label map");
    int use_ignore = ignore_label >= 0;
    for (size_t i = 0; i < count; i++) {
        if (use_ignore && truth[i] == ignore_label)
            continue;
        if (!in_range(cm, truth[i]))
            return facs_fail(FACS_ERR_ARG, "confusion matrix: true label %ld at pixel %zu outside [0, %d)%s",
                             (long)truth[i], i, cm->classes, use_ignore ? " and not the ignore label" : "");
        if (!in_range(cm, predicted[i]) && predicted[i] != FACS_CONFUSION_NONE)
            return facs_fail(FACS_ERR_ARG, "confusion matrix: predicted label %ld at pixel %zu outside [0, %d)",
                             (long)predicted[i], i, cm->classes);
    }
    size_t k = (size_t)cm->classes;
    for (size_t i = 0; i < count; i++) {
        if (use_ignore && truth[i] == ignore_label)
            continue;
        if (predicted[i] == FACS_CONFUSION_NONE)
            cm->unmatched[truth[i]]++;
        else
            cm->counts[(size_t)truth[i] * k + (size_t)predicted[i]]++;
    }
    return FACS_OK;
}

facs_status facs_confusion_merge(facs_confusion *into, const facs_confusion *from)
{
    if (into->classes != from->classes)
        return facs_fail(FACS_ERR_ARG, "confusion matrix: cannot merge %d classes into %d", from->classes,
                         into->classes);
    size_t k = (size_t)into->classes;
    for (size_t i = 0; i < k * k; i++)
        into->counts[i] += from->counts[i];
    for (size_t i = 0; i < k; i++) {
        into->label_ranks[i] += from->label_ranks[i];
        into->unmatched[i] += from->unmatched[i];
    }
    into->ranked += from->ranked;
    return FACS_OK;
}

int64_t facs_confusion_total(const facs_confusion *cm)
{
    int64_t total = 0;
    for (size_t i = 0; i < (size_t)cm->classes * cm->classes; i++)
        total += cm->counts[i];
    for (int c = 0; c < cm->classes; c++)
        total += cm->unmatched[c];
    return total;
}

int64_t facs_confusion_correct(const facs_confusion *cm)
{
    int64_t correct = 0;
    for (int c = 0; c < cm->classes; c++)
        correct += cm->counts[(size_t)c * cm->classes + c];
    return correct;
}

double facs_confusion_accuracy(const facs_confusion *cm)
{
    int64_t total = facs_confusion_total(cm);
    return total ? (double)facs_confusion_correct(cm) / total : NAN;
}

double facs_confusion_topk(const facs_confusion *cm, int k)
{
    if (!cm->ranked || k < 1)
        return NAN;
    int64_t hits = 0;
    for (int r = 0; r < k && r < cm->classes; r++)
        hits += cm->label_ranks[r];
    return (double)hits / cm->ranked;
}

/* Row c's sum (true samples of c, those predicted as none of the classes
 * included) and column c's sum (samples predicted c). */
static int64_t row_sum(const facs_confusion *cm, int c)
{
    int64_t s = cm->unmatched[c];
    for (int p = 0; p < cm->classes; p++)
        s += cm->counts[(size_t)c * cm->classes + p];
    return s;
}

static int64_t column_sum(const facs_confusion *cm, int c)
{
    int64_t s = 0;
    for (int t = 0; t < cm->classes; t++)
        s += cm->counts[(size_t)t * cm->classes + c];
    return s;
}

double facs_confusion_class_accuracy(const facs_confusion *cm, int c)
{
    if (!in_range(cm, c))
        return NAN;
    int64_t n = row_sum(cm, c);
    return n ? (double)cm->counts[(size_t)c * cm->classes + c] / n : NAN;
}

double facs_confusion_iou(const facs_confusion *cm, int c)
{
    if (!in_range(cm, c))
        return NAN;
    int64_t tp = cm->counts[(size_t)c * cm->classes + c];
    int64_t union_ = row_sum(cm, c) + column_sum(cm, c) - tp;
    return union_ ? (double)tp / union_ : NAN;
}

static double nan_mean(const facs_confusion *cm, double (*per_class)(const facs_confusion *, int))
{
    double sum = 0;
    int n = 0;
    for (int c = 0; c < cm->classes; c++) {
        double v = per_class(cm, c);
        if (!isnan(v)) {
            sum += v;
            n++;
        }
    }
    return n ? sum / n : NAN;
}

double facs_confusion_miou(const facs_confusion *cm) { return nan_mean(cm, facs_confusion_iou); }

double facs_confusion_mean_class_accuracy(const facs_confusion *cm)
{
    return nan_mean(cm, facs_confusion_class_accuracy);
}

int facs_confusion_most_confused(const facs_confusion *cm, int c, int64_t *count)
{
    int worst = -1;
    const int64_t *row = cm->counts + (size_t)c * cm->classes;
    for (int p = 0; p < cm->classes; p++)
        if (p != c && row[p] > 0 && (worst < 0 || row[p] > row[worst]))
            worst = p;
    if (count)
        *count = worst < 0 ? 0 : row[worst];
    return worst;
}

/* A class's name: names[c], or its index when there are no names. */
static const char *name_of(const char *const *names, int c, char buf[16])
{
    if (names && names[c])
        return names[c];
    snprintf(buf, 16, "%d", c);
    return buf;
}

/* A number of the table: "-" when undefined. */
static const char *fraction(double v, char buf[32])
{
    if (isnan(v))
        return "-";
    snprintf(buf, 32, "%.4f", v);
    return buf;
}

/* name left-aligned in a column of width characters: UTF-8 counted by code
 * points (bytes other than continuation bytes), so "ü" takes one column. */
static void print_padded(FILE *out, const char *name, int width)
{
    int chars = 0;
    for (const unsigned char *p = (const unsigned char *)name; *p; p++)
        chars += (*p & 0xC0) != 0x80;
    fprintf(out, "%s%*s", name, chars < width ? width - chars : 0, "");
}

void facs_confusion_print_table(const facs_confusion *cm, const char *const *names, FILE *out)
{
    fprintf(out, "%5s  %-20s %10s %10s %9s %9s  %s\n", "class", "name", "count", "correct", "accuracy", "iou",
            "most confused with");
    for (int c = 0; c < cm->classes; c++) {
        char nb[16], wb[16], ab[32], ib[32], confused[128] = "-";
        int64_t n;
        int worst = facs_confusion_most_confused(cm, c, &n);
        if (worst >= 0)
            snprintf(confused, sizeof confused, "%s (%lld)", name_of(names, worst, wb), (long long)n);
        fprintf(out, "%5d  ", c);
        print_padded(out, name_of(names, c, nb), 20);
        fprintf(out, " %10lld %10lld %9s %9s  %s\n", (long long)row_sum(cm, c),
                (long long)cm->counts[(size_t)c * cm->classes + c],
                fraction(facs_confusion_class_accuracy(cm, c), ab), fraction(facs_confusion_iou(cm, c), ib),
                confused);
    }
    char ab[32], mb[32], ib[32], tb[32];
    fprintf(out, "%5s  %-20s %10lld %10lld %9s %9s  mean class accuracy %s", "all", "",
            (long long)facs_confusion_total(cm), (long long)facs_confusion_correct(cm),
            fraction(facs_confusion_accuracy(cm), ab), fraction(facs_confusion_miou(cm), ib),
            fraction(facs_confusion_mean_class_accuracy(cm), mb));
    if (cm->ranked)
        fprintf(out, ", top-5 %s", fraction(facs_confusion_topk(cm, 5), tb));
    fputc('\n', out);
}

/* A CSV field, quoted when it needs to be (RFC 4180). */
static void csv_field(FILE *f, const char *s)
{
    if (!strpbrk(s, ",\"\r\n")) {
        fputs(s, f);
        return;
    }
    fputc('"', f);
    for (; *s; s++) {
        if (*s == '"')
            fputc('"', f);
        fputc(*s, f);
    }
    fputc('"', f);
}

typedef struct {
    const facs_confusion *cm;
    const char *const *names;
} csv_args;

static void print_csv(FILE *f, const void *user)
{
    const facs_confusion *cm = ((const csv_args *)user)->cm;
    const char *const *names = ((const csv_args *)user)->names;
    char buf[16];
    int none = 0;
    for (int c = 0; c < cm->classes; c++)
        none |= cm->unmatched[c] != 0;
    fputs("true\\predicted", f);
    for (int p = 0; p < cm->classes; p++) {
        fputc(',', f);
        csv_field(f, name_of(names, p, buf));
    }
    fputs(none ? ",(none)\n" : "\n", f);
    for (int t = 0; t < cm->classes; t++) {
        csv_field(f, name_of(names, t, buf));
        for (int p = 0; p < cm->classes; p++)
            fprintf(f, ",%lld", (long long)cm->counts[(size_t)t * cm->classes + p]);
        if (none)
            fprintf(f, ",%lld", (long long)cm->unmatched[t]);
        fputc('\n', f);
    }
}

facs_status facs_confusion_write_csv(const facs_confusion *cm, const char *const *names, const char *path)
{
    csv_args args = {cm, names};
    return facs_atomic_write_text(path, print_csv, &args);
}

facs_status facs_confusion_allreduce(facs_confusion *cm, facs_comm *comm)
{
    size_t k = (size_t)cm->classes;
    FACS_TRY(facs_comm_allreduce_sum(comm, cm->counts, k * k, FACS_COMM_I64));
    FACS_TRY(facs_comm_allreduce_sum(comm, cm->label_ranks, k, FACS_COMM_I64));
    FACS_TRY(facs_comm_allreduce_sum(comm, &cm->ranked, 1, FACS_COMM_I64));
    return facs_comm_allreduce_sum(comm, cm->unmatched, k, FACS_COMM_I64);
}
