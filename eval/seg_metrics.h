/* The numbers of a segmentation evaluation, from its summed confusion matrix
 * (confusion.h): per-class IoU and accuracy, mIoU, pixel accuracy, mean class
 * accuracy and, for the 19 Cityscapes trainIds, the category IoU of
 * cityscapesScripts (the matrix summed over the 7 categories of
 * facs_cityscapes_category_of, IoU per category, their mean). pspnet-eval's
 * table and results.json.
 *
 *     facs_seg_results_print(&cm, stdout);                 // tables and summary
 *     FACS_TRY(facs_seg_results_write(&cm, "out/results.json"));
 *
 * Undefined numbers stay NaN (confusion.h): a class absent from both the
 * prediction and the ground truth has no IoU, is reported as absent and left
 * out of the mean, as cityscapesScripts does; JSON writes it as null. */
#ifndef FACS_SEG_METRICS_H
#define FACS_SEG_METRICS_H

#include <jansson.h>
#include <stdint.h>
#include <stdio.h>

#include "cityscapes_instances.h"
#include "confusion.h"

/* out = cm with its classes merged into groups: out[g][h] sums cm[t][p] over
 * the classes t of group g and p of group h (group_of: one group in [0,
 * groups) per class of cm). IoU of out's class g is then cityscapesScripts'
 * category IoU when cm holds only evaluated classes. */
facs_status facs_confusion_group(const facs_confusion *cm, const uint8_t *group_of, int groups,
                                 facs_confusion *out);

/* Class name -> IoU of each class of cm (Cityscapes' names for 19 classes,
 * else the indices "0", "1", ...), null for a class absent from prediction
 * and ground truth: results.json's "iou" and pspnet-train's "val_iou". NULL
 * when out of memory. */
json_t *facs_seg_iou_json(const facs_confusion *cm);

/* The results object, keys in this order, values as fractions:
 *   miou, iou (class name -> IoU, null for an absent class), category_miou,
 *   category_iou (category name -> IoU), miiou, iiou (class name -> iIoU,
 *   null for a class without instances), category_miiou, category_iiou
 *   (cityscapes_instances.h; all four null when inst is NULL: no instanceIds),
 *   pixel_acc (correct / labelled pixels), mean_acc (mean recall over the
 *   classes with ground-truth pixels).
 * Class names are Cityscapes' for 19 classes, else the indices ("0", "1",
 * ...), and the category and instance keys are null. NULL when out of memory. */
json_t *facs_seg_results_json(const facs_confusion *cm, const facs_cityscapes_instances *inst);

/* results.json: facs_seg_results_json, indented, written whole or not at all. */
facs_status facs_seg_results_write(const facs_confusion *cm, const facs_cityscapes_instances *inst, const char *path);

/* The per-class table (facs_confusion_print_table), the classes absent from
 * prediction and ground truth, the category table, one summary line and,
 * with inst, the instance-level IoU of the classes and categories that have instances. */
void facs_seg_results_print(const facs_confusion *cm, const facs_cityscapes_instances *inst, FILE *out);

#endif
