/* cityscapesScripts' instance-level IoU (iIoU): IoU in which each ground-truth
 * instance's true positives and false negatives are weighted by the class's
 * average instance size over the instance's own size, so that small objects
 * count as much as large ones. As evalPixelLevelSemanticLabeling computes it:
 *
 *     facs_cityscapes_instances inst = {0};
 *     // per frame: gtFine instanceIds (16-bit) and the predicted labelIds
 *     FACS_TRY(facs_cityscapes_instances_add(&inst, instance_ids, predicted_label_ids, pixels));
 *     ...
 *     double car = facs_cityscapes_iiou(&inst, &cm, 13);     // cm: the trainId confusion of the same frames
 *
 * An instance is a value id > 1000 of the instanceIds image (the class's
 * labelId is id / 1000; other values are a labelId, or a crowd region, with no
 * instance). Its size is its pixel count, its weight the official average size
 * of its class (evalPixelLevelSemanticLabeling's avgClassSize) over that size.
 * For class c: TP = weighted pixels of c's instances predicted c, FN = the rest
 * of those instances weighted; FP = unweighted pixels predicted c whose ground
 * truth is another evaluated class (the confusion matrix's column). iIoU =
 * TP / (TP + FP + FN). For the two categories whose classes all have instances
 * (human: person, rider; vehicle: car .. bicycle, caravan and trailer included
 * as the official script includes them) the same over the category's labelIds.
 * Classes without instances (road, sky, ...) have no iIoU (NaN). */
#ifndef FACS_CITYSCAPES_INSTANCES_H
#define FACS_CITYSCAPES_INSTANCES_H

#include <stddef.h>
#include <stdint.h>

#include "cityscapes.h"
#include "confusion.h"

typedef struct {
    double tp[FACS_CITYSCAPES_CLASSES], fn[FACS_CITYSCAPES_CLASSES]; /* weighted, per trainId */
    double category_tp[FACS_CITYSCAPES_CATEGORIES], category_fn[FACS_CITYSCAPES_CATEGORIES];
    /* Pixels of an evaluated class outside category g predicted as one of g's
     * labelIds that is not evaluated (caravan, trailer): a false positive of
     * g's iIoU in the official script, which the trainId matrix cannot see. */
    int64_t category_extra_fp[FACS_CITYSCAPES_CATEGORIES];
    int frames; /* frames added */
} facs_cityscapes_instances;

/* One frame: instance_ids (gtFine instanceIds) and predicted (labelIds 0..33)
 * of n pixels. Fails (changing nothing) on an instanceIds value whose labelId
 * is above 33, naming the value and its pixel. */
facs_status facs_cityscapes_instances_add(facs_cityscapes_instances *inst, const uint16_t *instance_ids,
                                          const uint8_t *predicted, size_t n);

/* 1 for the trainIds whose labels have instances (person, rider, car, truck,
 * bus, train, motorcycle, bicycle), 0 for the others. */
int facs_cityscapes_has_instances(int train_id);
/* 1 for the categories whose every label has instances (human, vehicle). */
int facs_cityscapes_category_has_instances(int category);

/* iIoU of trainId c and of category g; cm is the 19-class trainId confusion
 * of the same frames (predictions outside the 19 as FACS_CONFUSION_NONE).
 * NaN for a class or category without instances, and when TP + FP + FN = 0. */
double facs_cityscapes_iiou(const facs_cityscapes_instances *inst, const facs_confusion *cm, int c);
double facs_cityscapes_category_iiou(const facs_cityscapes_instances *inst, const facs_confusion *cm, int g);

/* The means over the classes (categories) whose iIoU is defined; NaN when none is. */
double facs_cityscapes_miiou(const facs_cityscapes_instances *inst, const facs_confusion *cm);
double facs_cityscapes_category_miiou(const facs_cityscapes_instances *inst, const facs_confusion *cm);

#endif
