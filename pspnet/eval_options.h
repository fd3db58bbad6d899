/* The options of pspnet-eval, as parsed by eval_main.c (see `pspnet-eval
 * --help` and docs/pspnet.md). */
#ifndef PS_EVAL_OPTIONS_H
#define PS_EVAL_OPTIONS_H

#include "cli_options.h"
#include "seg_infer.h"

typedef struct {
    const char *weights;   /* a pspnet_* model file (pspnet-train's best.h5 / last.h5, a converted semseg file) */
    const char *data;      /* a Cityscapes-layout root: evaluate its split */
    const char *split;     /* "val" */
    const char *images;    /* or: a folder of unlabelled images to predict */
    const char *score;     /* or: a folder of predictions made elsewhere, scored against --data */
    int score_train_ids;   /* --pred-format trainid */
    const char *out;       /* results.json, confusion.csv (with --data) */
    const char *save_pred; /* trainid/, labelid/, color/, overlay/ */
    int save_prob;         /* --save-prob: prob/NAME.h5 under save_pred too */
    int slide;             /* --mode slide (default) or whole */
    facs_device_choice device; /* --device: where the network runs */
    int device_given;
    /* --base-size, --crop, --stride, --flip, --scales; in whole mode crop_h = crop_w = 0 */
    facs_seg_infer_opts infer;
} ev_options;

#endif
