/* The options of facs-finetune, as parsed by main.c and read by every part of
 * the run (see `facs-finetune --help` and docs/finetune.md). */
#ifndef FT_OPTIONS_H
#define FT_OPTIONS_H

#include <stdint.h>

#include "cli_options.h"
#include "model_file.h"

/* Input normalisation: CIFAR's statistics, or ImageNet's for ImageNet-pretrained weights. */
typedef enum { FT_NORM_CIFAR = 0, FT_NORM_IMAGENET = 1 } ft_norm;

typedef enum { FT_SCHEDULE_COSINE = 0, FT_SCHEDULE_STEP = 1 } ft_schedule;

/* Image folders: where JPEGs decode at the reduced size their crop allows (facs_cls_augment_file). */
typedef enum { FT_DRAFT_TRAIN = 0, FT_DRAFT_ALL = 1, FT_DRAFT_OFF = 2 } ft_jpeg_draft;

/* What --data holds (data.h's ft_data_detect). */
typedef enum { FT_LAYOUT_CIFAR = 0, FT_LAYOUT_FOLDER = 1 } ft_layout;


/* Each choice's spellings, indexed by its value; NULL-terminated. */
extern const char *const ft_dataset_names[];   /* cifar10, cifar100 */
extern const char *const ft_norm_names[];      /* ft_norm */
#define FT_INPUT_SIZE_MIN 8    /* --input-size, and what a file may record */
#define FT_INPUT_SIZE_MAX 1024
extern const char *const ft_schedule_names[];  /* ft_schedule */
extern const char *const ft_jpeg_draft_names[]; /* ft_jpeg_draft */

typedef struct {
    const char *data;     /* the extracted CIFAR folder, or an image folder's root (train/, val/) */
    int dataset;          /* CIFAR: 10, 100, or 0: detected */
    int layout;           /* ft_layout, detected */
    const char *classes_file; /* image folders: the class names, one per line, in class order */
    int skip_bad;         /* image folders: leave out files that do not decode, listing them */
    int jpeg_draft;       /* image folders: ft_jpeg_draft; -1: not given (train) */
    char arch[64];        /* facs_model_arch_names() */
    facs_model_given given; /* the model options the command line set (model_file.h) */
    double width;
    int cifar_stem;
    facs_fusion fusion;
    facs_fusion_bn fusion_bn; /* valid when given */
    double threshold;
    const char *init;     /* ImageNet-style weights, head replaced; NULL: from scratch */
    int input_size;       /* CIFAR: 32, or e.g. 224 to upscale; image folders: the crop side, 224 */
    int input_size_given; /* --input-size was on the command line */
    int norm;             /* ft_norm; -1: ImageNet's with --init or an image folder, else CIFAR's */
    int epochs;
    int stop_after;       /* stop after this epoch as if interrupted (0: run to --epochs) */
    int batch;
    double lr;            /* <= 0: 0.1 * batch / 256 */
    double momentum;
    int nesterov;
    double wd;
    double label_smoothing; /* e of the loss's target (1 - e) onehot + e / K */
    int schedule;         /* ft_schedule */
    double warmup;        /* epochs of linear warm-up (may be fractional) */
    uint64_t seed;
    int workers;
    const char *out;
    int resume;
    const char *eval;     /* evaluate this weights file instead of training */
    int sync_bn;          /* data parallel: BatchNorm statistics over all ranks */
    facs_device_choice device; /* --device; not part of the model, so a resumed run may change it */
    int rank, ranks;      /* data parallel: this process among the run's (mpirun), not options */
} ft_options;

#endif
