/* Scoring predictions made elsewhere against a Cityscapes split, as
 * cityscapesScripts' evalPixelLevelSemanticLabeling does (pspnet-eval --score):
 *
 *     facs_cityscapes_score_opts o = {.pred_dir = "results/", .root = "cityscapes", .split = "val"};
 *     facs_confusion cm;                       // 19 trainIds
 *     facs_cityscapes_instances inst = {0};
 *     int with_instances;
 *     FACS_TRY(facs_confusion_init(&cm, FACS_CITYSCAPES_CLASSES));
 *     FACS_TRY(facs_cityscapes_score(&o, &cm, &inst, &with_instances));
 *
 * Each frame of the split (gtFine labelIds or labelTrainIds) takes its
 * prediction as the official script finds it: the one PNG under pred_dir,
 * searched recursively, whose file name starts with the frame's
 * "<city>_<seq>_<frame>". The prediction holds labelIds 0..33 (or, with
 * train_ids, trainIds 0..18 and 255 for none); a palette PNG counts by its
 * indices, as mmsegmentation writes them. A predicted labelId outside the 19
 * evaluated classes is a miss of the true class (FACS_CONFUSION_NONE), as in
 * the official confusion matrix; ground truth outside the 19 is not counted.
 * When every frame has its gtFine _instanceIds.png, the instance-level IoU is
 * accumulated too (cityscapes_instances.h) and *with_instances is 1.
 *
 * Refused with a message naming the file: a frame with no prediction or with
 * more than one, a PNG under pred_dir that belongs to no frame of the split, a
 * prediction of another size than its ground truth, a value outside the label
 * set (naming it and its pixel), instanceIds files for some frames only, and
 * whatever the PNG reader refuses. */
#ifndef FACS_CITYSCAPES_SCORE_H
#define FACS_CITYSCAPES_SCORE_H

#include "cityscapes_instances.h"
#include "confusion.h"

typedef struct {
    const char *pred_dir; /* the predictions (searched recursively) */
    const char *root;     /* the Cityscapes root: gtFine/{split}/ */
    const char *split;    /* "val" */
    int train_ids;        /* 1: predictions hold trainIds, not labelIds */
    /* Called after each frame with (done, total), e.g. for a progress bar; may be NULL. */
    void (*progress)(void *user, int done, int total);
    void *progress_user;
} facs_cityscapes_score_opts;

/* Adds every frame of the split to cm (19 classes) and, when the split has
 * instanceIds, to inst. Frames are checked as they are scored: on an error, cm
 * and inst hold the frames before it. */
facs_status facs_cityscapes_score(const facs_cityscapes_score_opts *o, facs_confusion *cm,
                                  facs_cityscapes_instances *inst, int *with_instances);

#endif
