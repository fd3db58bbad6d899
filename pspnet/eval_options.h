/* The options of pspnet-eval, as parsed by eval_main.c (see `pspnet-eval
 * --help` and docs/pspnet.md). */
#ifndef PS_EVAL_OPTIONS_H
#define PS_EVAL_OPTIONS_H

typedef struct {
    const char *weights;   /* a pspnet_* model file (pspnet-train's best.h5 / last.h5, a converted semseg file) */
    const char *data;      /* a Cityscapes-layout root: evaluate its split */
    const char *split;     /* "val" */
    const char *images;    /* or: a folder of unlabelled images to predict */
    const char *out;       /* results.json, confusion.csv (with --data) */
    const char *save_pred; /* trainid/, labelid/, color/, overlay/ */
    int base_size;         /* longer side the network sees; 0: each image's own size */
    int slide;             /* --mode slide (default) or whole */
    int crop_h, crop_w;    /* slide windows (713) */
    int stride_h, stride_w; /* between windows; 0: ceil(2/3 crop) */
    int flip;              /* --flip */
} ev_options;

#endif
