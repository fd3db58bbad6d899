/* Segmentation metrics, tables and results.json (see seg_metrics.h). */
#include "seg_metrics.h"

#include <math.h>
#include <string.h>

#include "atomic_file.h"
#include "cityscapes.h"

facs_status facs_confusion_group(const facs_confusion *cm, const uint8_t *group_of, int groups, facs_confusion *out)
{
    for (int c = 0; c < cm->classes; c++)
        if (group_of[c] >= groups)
            return facs_fail(FACS_ERR_ARG, "class %d is in group %d, outside [0, %d)", c, group_of[c], groups);
    FACS_TRY(facs_confusion_init(out, groups));
    for (int t = 0; t < cm->classes; t++)
        for (int p = 0; p < cm->classes; p++)
            out->counts[(size_t)group_of[t] * groups + group_of[p]] += cm->counts[(size_t)t * cm->classes + p];
    for (int t = 0; t < cm->classes; t++)
        out->unmatched[group_of[t]] += cm->unmatched[t];
    return FACS_OK;
}

static int is_cityscapes(const facs_confusion *cm) { return cm->classes == FACS_CITYSCAPES_CLASSES; }

/* NaN (undefined) as JSON null. */
static json_t *number(double v) { return isnan(v) ? json_null() : json_real(v); }

/* name -> IoU of each class of cm; names NULL: the indices. */
static json_t *iou_object(const facs_confusion *cm, const char *const *names)
{
    json_t *o = json_object();
    for (int c = 0; o && c < cm->classes; c++) {
        char index[16];
        snprintf(index, sizeof index, "%d", c);
        if (json_object_set_new(o, names ? names[c] : index, number(facs_confusion_iou(cm, c))) != 0) {
            json_decref(o);
            return NULL;
        }
    }
    return o;
}

json_t *facs_seg_iou_json(const facs_confusion *cm)
{
    return iou_object(cm, is_cityscapes(cm) ? facs_cityscapes_class_names : NULL);
}

/* name -> iIoU of each class (category) with instances, null for the others. */
static json_t *iiou_object(const facs_cityscapes_instances *inst, const facs_confusion *cm, int n,
                           const char *const *names,
                           double (*score)(const facs_cityscapes_instances *, const facs_confusion *, int))
{
    json_t *o = json_object();
    for (int i = 0; o && i < n; i++)
        if (json_object_set_new(o, names[i], number(score(inst, cm, i))) != 0) {
            json_decref(o);
            return NULL;
        }
    return o;
}

/* The instance-level keys: null without instances. */
static void set_instance_keys(json_t *j, const facs_confusion *cm, const facs_cityscapes_instances *inst)
{
    int with = inst && is_cityscapes(cm);
    json_object_set_new(j, "miiou", with ? number(facs_cityscapes_miiou(inst, cm)) : json_null());
    json_object_set_new(j, "iiou", with ? iiou_object(inst, cm, FACS_CITYSCAPES_CLASSES, facs_cityscapes_class_names,
                                                      facs_cityscapes_iiou)
                                        : json_null());
    json_object_set_new(j, "category_miiou", with ? number(facs_cityscapes_category_miiou(inst, cm)) : json_null());
    json_object_set_new(j, "category_iiou",
                        with ? iiou_object(inst, cm, FACS_CITYSCAPES_CATEGORIES, facs_cityscapes_category_names,
                                           facs_cityscapes_category_iiou)
                             : json_null());
}

json_t *facs_seg_results_json(const facs_confusion *cm, const facs_cityscapes_instances *inst)
{
    facs_confusion cat = {0};
    int with_categories = is_cityscapes(cm) &&
                          facs_confusion_group(cm, facs_cityscapes_category_of, FACS_CITYSCAPES_CATEGORIES, &cat) ==
                              FACS_OK;
    json_t *j = json_object();
    if (j) {
        json_object_set_new(j, "miou", number(facs_confusion_miou(cm)));
        json_object_set_new(j, "iou", facs_seg_iou_json(cm));
        json_object_set_new(j, "category_miou", with_categories ? number(facs_confusion_miou(&cat)) : json_null());
        json_object_set_new(j, "category_iou",
                            with_categories ? iou_object(&cat, facs_cityscapes_category_names) : json_null());
        set_instance_keys(j, cm, inst);
        json_object_set_new(j, "pixel_acc", number(facs_confusion_accuracy(cm)));
        json_object_set_new(j, "mean_acc", number(facs_confusion_mean_class_accuracy(cm)));
        if (json_object_size(j) != 10) { /* a value that could not be made */
            json_decref(j);
            j = NULL;
        }
    }
    facs_confusion_free(&cat);
    return j;
}

facs_status facs_seg_results_write(const facs_confusion *cm, const facs_cityscapes_instances *inst, const char *path)
{
    json_t *j = facs_seg_results_json(cm, inst);
    if (!j)
        return facs_fail(FACS_ERR_MEMORY, "%s: out of memory for the results", path);
    facs_atomic_file a;
    facs_status s = facs_atomic_open(&a, path);
    if (s == FACS_OK) {
        /* 17 digits: the values survive the text round trip exactly */
        if (json_dumpf(j, a.f, JSON_INDENT(2) | JSON_REAL_PRECISION(17)) != 0 || fputc('\n', a.f) == EOF) {
            facs_atomic_abort(&a);
            s = facs_fail(FACS_ERR_IO, "%s: cannot write the results", path);
        } else {
            s = facs_atomic_commit(&a);
        }
    }
    json_decref(j);
    return s;
}

/* "0.1234", or "-" when undefined. */
static const char *fraction(double v, char *buf, size_t size)
{
    if (isnan(v))
        return "-";
    snprintf(buf, size, "%.4f", v);
    return buf;
}

/* The classes absent from both prediction and ground truth, comma-separated. */
static void print_absent(const facs_confusion *cm, const char *const *names, FILE *out)
{
    int n = 0;
    for (int c = 0; c < cm->classes; c++) {
        if (!isnan(facs_confusion_iou(cm, c)))
            continue;
        if (n++)
            fputs(", ", out);
        if (names)
            fputs(names[c], out);
        else
            fprintf(out, "%d", c);
    }
}

/* The iIoU of the classes and categories with instances, and their means. */
static void print_instances(const facs_confusion *cm, const facs_cityscapes_instances *inst, FILE *out)
{
    char a[32], b[32];
    fprintf(out, "\n%-14s %9s\n", "instances", "iiou");
    for (int c = 0; c < FACS_CITYSCAPES_CLASSES; c++)
        if (facs_cityscapes_has_instances(c))
            fprintf(out, "%-14s %9s\n", facs_cityscapes_class_names[c],
                    fraction(facs_cityscapes_iiou(inst, cm, c), a, sizeof a));
    for (int g = 0; g < FACS_CITYSCAPES_CATEGORIES; g++)
        if (facs_cityscapes_category_has_instances(g))
            fprintf(out, "%-14s %9s  (category)\n", facs_cityscapes_category_names[g],
                    fraction(facs_cityscapes_category_iiou(inst, cm, g), a, sizeof a));
    fprintf(out, "iIoU %s  category iIoU %s\n", fraction(facs_cityscapes_miiou(inst, cm), a, sizeof a),
            fraction(facs_cityscapes_category_miiou(inst, cm), b, sizeof b));
}

void facs_seg_results_print(const facs_confusion *cm, const facs_cityscapes_instances *inst, FILE *out)
{
    const char *const *names = is_cityscapes(cm) ? facs_cityscapes_class_names : NULL;
    char a[32], b[32], c[32];
    facs_confusion_print_table(cm, names, out);
    int defined = 0;
    for (int k = 0; k < cm->classes; k++)
        defined += !isnan(facs_confusion_iou(cm, k));
    if (defined < cm->classes) {
        fprintf(out, "absent from prediction and ground truth, left out of the mean: ");
        print_absent(cm, names, out);
        fputc('\n', out);
    }
    facs_confusion cat = {0};
    if (is_cityscapes(cm) &&
        facs_confusion_group(cm, facs_cityscapes_category_of, FACS_CITYSCAPES_CATEGORIES, &cat) == FACS_OK) {
        fprintf(out, "\n%-14s %9s\n", "category", "iou");
        for (int g = 0; g < cat.classes; g++)
            fprintf(out, "%-14s %9s\n", facs_cityscapes_category_names[g],
                    fraction(facs_confusion_iou(&cat, g), a, sizeof a));
    }
    fprintf(out, "\nmIoU %s (%d of %d classes)  pixel accuracy %s  mean class accuracy %s",
            fraction(facs_confusion_miou(cm), a, sizeof a), defined, cm->classes,
            fraction(facs_confusion_accuracy(cm), b, sizeof b),
            fraction(facs_confusion_mean_class_accuracy(cm), c, sizeof c));
    if (cat.classes)
        fprintf(out, "  category mIoU %s", fraction(facs_confusion_miou(&cat), a, sizeof a));
    fputc('\n', out);
    facs_confusion_free(&cat);
    if (inst && is_cityscapes(cm))
        print_instances(cm, inst, out);
}
