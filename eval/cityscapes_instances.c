/* cityscapesScripts' instance-level IoU (see cityscapes_instances.h). */
#include "cityscapes_instances.h"

#include <math.h>
#include <stdlib.h>

#define FIRST_INSTANCE_LABEL 24 /* person; the labels with instances are labelIds 24 .. 33 */
#define CATEGORY_HUMAN 5   /* in facs_cityscapes_category_names */
#define CATEGORY_VEHICLE 6
#define ID_SPACE 65536 /* 16-bit instanceIds */

/* evalPixelLevelSemanticLabeling's avgClassSize, by labelId 24 .. 33 (person,
 * rider, car, truck, bus, caravan, trailer, train, motorcycle, bicycle). */
static const double AVERAGE_SIZE[FACS_CITYSCAPES_LAST_LABEL_ID - FIRST_INSTANCE_LABEL + 1] = {
    3462.4756337644,  3930.4788056518, 12794.0202738185, 27855.1264367816, 35732.1511111111,
    36771.8241758242, 16926.9763313609, 67583.7075812274, 6298.7200839748,  4672.3249222261};

/* The category of a labelId with instances (human or vehicle), -1 for the others. */
static int instance_category(int label_id)
{
    if (label_id < FIRST_INSTANCE_LABEL || label_id > FACS_CITYSCAPES_LAST_LABEL_ID)
        return -1;
    return label_id <= 25 ? CATEGORY_HUMAN : CATEGORY_VEHICLE;
}

int facs_cityscapes_has_instances(int train_id)
{
    return train_id >= 0 && train_id < FACS_CITYSCAPES_CLASSES &&
           instance_category(facs_cityscapes_label_ids[train_id]) >= 0;
}

int facs_cityscapes_category_has_instances(int category)
{
    return category == CATEGORY_HUMAN || category == CATEGORY_VEHICLE;
}

/* The labelId of an instanceIds value: id / 1000 for an instance or a crowd id above 999, else the id. */
static int label_of(int id) { return id < 1000 ? id : id / 1000; }

facs_status facs_cityscapes_instances_add(facs_cityscapes_instances *inst, const uint16_t *instance_ids,
                                          const uint8_t *predicted, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        int label = label_of(instance_ids[i]);
        if (label > FACS_CITYSCAPES_LAST_LABEL_ID)
            return facs_fail(FACS_ERR_FORMAT, "instance id %d at pixel %zu: labelId %d is not a Cityscapes label (0..%d)",
                             instance_ids[i], i, label, FACS_CITYSCAPES_LAST_LABEL_ID);
        if (instance_ids[i] > 1000 && instance_category(label) < 0 && facs_cityscapes_train_id(label) != 255)
            return facs_fail(FACS_ERR_FORMAT, "instance id %d at pixel %zu: labelId %d has no instances",
                             instance_ids[i], i, label);
    }
    /* per instance id: its size, its pixels predicted as its label, and as its category */
    int64_t *size = calloc(ID_SPACE, sizeof *size), *hit = calloc(ID_SPACE, sizeof *hit);
    int64_t *category_hit = calloc(ID_SPACE, sizeof *category_hit);
    if (!size || !hit || !category_hit) {
        free(size);
        free(hit);
        free(category_hit);
        return facs_fail(FACS_ERR_MEMORY, "out of memory for the instances of a frame");
    }
    for (size_t i = 0; i < n; i++) {
        int id = instance_ids[i], truth = label_of(id), p = predicted[i];
        int truth_train = facs_cityscapes_train_id(truth), p_category = instance_category(p);
        if (id > 1000) {
            size[id]++;
            hit[id] += p == truth;
            category_hit[id] += p_category >= 0 && p_category == instance_category(truth);
        }
        if (truth_train != FACS_CITYSCAPES_IGNORE && p_category >= 0 && facs_cityscapes_train_id(p) == 255 &&
            facs_cityscapes_category_of[truth_train] != p_category)
            inst->category_extra_fp[p_category]++;
    }
    for (int id = 1001; id < ID_SPACE; id++) {
        int label = label_of(id), t = facs_cityscapes_train_id(label);
        if (!size[id] || t == FACS_CITYSCAPES_IGNORE) /* caravan and trailer are not evaluated */
            continue;
        double weight = AVERAGE_SIZE[label - FIRST_INSTANCE_LABEL] / (double)size[id];
        int g = instance_category(label);
        inst->tp[t] += (double)hit[id] * weight;
        inst->fn[t] += (double)(size[id] - hit[id]) * weight;
        inst->category_tp[g] += (double)category_hit[id] * weight;
        inst->category_fn[g] += (double)(size[id] - category_hit[id]) * weight;
    }
    inst->frames++;
    free(size);
    free(hit);
    free(category_hit);
    return FACS_OK;
}

/* Pixels predicted as trainId c whose truth is another evaluated class. */
static int64_t false_positives(const facs_confusion *cm, int c)
{
    int64_t fp = 0;
    for (int t = 0; t < cm->classes; t++)
        if (t != c)
            fp += cm->counts[(size_t)t * cm->classes + c];
    return fp;
}

static double ratio(double tp, double fp, double fn)
{
    double denominator = tp + fp + fn;
    return denominator > 0 ? tp / denominator : NAN;
}

double facs_cityscapes_iiou(const facs_cityscapes_instances *inst, const facs_confusion *cm, int c)
{
    if (!facs_cityscapes_has_instances(c) || cm->classes != FACS_CITYSCAPES_CLASSES)
        return NAN;
    return ratio(inst->tp[c], (double)false_positives(cm, c), inst->fn[c]);
}

double facs_cityscapes_category_iiou(const facs_cityscapes_instances *inst, const facs_confusion *cm, int g)
{
    if (!facs_cityscapes_category_has_instances(g) || cm->classes != FACS_CITYSCAPES_CLASSES)
        return NAN;
    int64_t fp = inst->category_extra_fp[g];
    for (int t = 0; t < cm->classes; t++)
        for (int p = 0; p < cm->classes; p++)
            if (facs_cityscapes_category_of[t] != g && facs_cityscapes_category_of[p] == g)
                fp += cm->counts[(size_t)t * cm->classes + p];
    return ratio(inst->category_tp[g], (double)fp, inst->category_fn[g]);
}

static double defined_mean(const facs_cityscapes_instances *inst, const facs_confusion *cm, int n,
                           double (*score)(const facs_cityscapes_instances *, const facs_confusion *, int))
{
    double sum = 0;
    int defined = 0;
    for (int i = 0; i < n; i++) {
        double v = score(inst, cm, i);
        if (!isnan(v)) {
            sum += v;
            defined++;
        }
    }
    return defined ? sum / defined : NAN;
}

double facs_cityscapes_miiou(const facs_cityscapes_instances *inst, const facs_confusion *cm)
{
    return defined_mean(inst, cm, FACS_CITYSCAPES_CLASSES, facs_cityscapes_iiou);
}

double facs_cityscapes_category_miiou(const facs_cityscapes_instances *inst, const facs_confusion *cm)
{
    return defined_mean(inst, cm, FACS_CITYSCAPES_CATEGORIES, facs_cityscapes_category_iiou);
}
