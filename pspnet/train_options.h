/* The options of pspnet-train, as parsed by train_main.c and read by every
 * part of the run (see `pspnet-train --help` and docs/pspnet.md). Defaults
 * are hszhao/semseg's Cityscapes recipe. */
#ifndef PS_TRAIN_OPTIONS_H
#define PS_TRAIN_OPTIONS_H

#include <stdint.h>

#include "cli_options.h"
#include "model_file.h"

typedef struct {
    const char *data;        /* a Cityscapes-layout root (leftImg8bit/, gtFine/) */
    const char *out;
    char arch[64];           /* pspnet_<backbone> */
    facs_model_given given;  /* model options the command line set */
    double width;
    int classes;             /* 19 */
    int output_stride;       /* 8 or 16 */
    int deep_stem;
    const char *init;        /* ImageNet backbone weights; NULL: from scratch */
    int crop_h, crop_w;      /* 713 x 713 */
    double scale_min, scale_max, rotate, blur, flip; /* [0.5, 2], +-10 deg (p 0.5), p 0.5, p 0.5 */
    int batch;               /* 16 */
    int64_t iters;           /* total iterations; 0: from epochs */
    int epochs;              /* used when iters is 0 (default 200, semseg's) */
    double lr, head_lr_mult, momentum, wd, power, aux_weight;
    int ignore_index;        /* 255 */
    int64_t val_every;       /* iterations between validations; 0: at the end only */
    int64_t log_every;       /* iterations between log lines */
    int64_t save_every;      /* iterations between checkpoints (also at each validation and the end) */
    int64_t stop_after;      /* stop after this iteration as if interrupted (0: run to the end) */
    int workers;
    uint64_t seed;
    int resume;
    int sync_bn;             /* data parallel: BatchNorm statistics over all ranks (default on) */
    facs_device_choice device; /* --device; not part of the model, so a resumed run may change it */
    int rank, ranks;         /* data parallel: this process among the run's (mpirun), not options */
} ps_options;

#endif
