/* The parts of facs-gradcam (tools/facs_gradcam.c: the command line):
 * gradcam_session.c opens what a run needs (the model from its file, tapped
 * and frozen, the normalisation, class names, the classes asked for);
 * gradcam_maps.c explains one image and writes its files. */
#ifndef FACS_GRADCAM_TOOL_H
#define FACS_GRADCAM_TOOL_H

#include "cam.h"
#include "cam_input.h"
#include "cli_options.h"

#define MAX_CLASSES 64 /* --class given, or --top */
#define GC_CLASS_FILE_NAME 64 /* bytes of a class name kept in file names (a file name holds 255) */

/* The command line. */
typedef struct {
    const char *weights, *image, *out;
    const char *layer, *class_names, *arch; /* NULL when not given */
    const char *compare;                    /* --compare W2.h5, NULL when not given */
    const char *classes[MAX_CLASSES];       /* --class, as given (index or name) */
    int n_classes, top;                     /* top: 0 with --class */
    int method;                             /* a facs_cam_method */
    int height, width;                      /* --input-size; 0: not given */
    int save_cam;
    facs_device_choice device;              /* --device: where the networks run */
} gc_options;

typedef struct {
    const gc_options *o;
    facs_model *model; /* tapped at layer, frozen */
    facs_ctx *ctx;
    const char *layer; /* --layer, else the model's default tap */
    char **names;      /* classes names; NULL: classes go by index */
    /* With names: each class's part of the output names, distinct (letters,
     * digits, '-' and '.' kept, anything else '_', cut to GC_CLASS_FILE_NAME
     * bytes; "<index>_<name>" where two would coincide); NULL: the index. */
    char **file_names;
    int classes;
    int height, width; /* the input size: --input-size, else the one the file was trained at; 0: each image's own */
    int wanted[MAX_CLASSES], n_wanted; /* --class resolved */
    int several;       /* more than one class per image: the .cam.h5 names carry the class too */
    int quiet;         /* no line per map (a progress bar is shown) */
    float mean[3], std[3];
} gc_session;

/* Opens everything but the images; on failure what was opened stays in *s for
 * gc_session_close. Without --input-size, a file that records the input size
 * it was trained at (facs-finetune's run options) sets it, which a line on
 * stdout says. */
facs_status gc_session_open(const gc_options *o, gc_session *s);
void gc_session_close(gc_session *s);

/* Opens --compare's model as a second session on the same options (its own
 * default layer unless --layer is given) and the first's input size; refused
 * when its class count is not that of the first, or when both files record
 * class names and they differ. */
facs_status gc_session_open_second(const gc_session *first, gc_options *o2, gc_session *s2);

/* Refuses --weights, --compare or --class-names lying in --out under a name
 * that ends as the maps written there do (W.cam.h5 with --save-cam): checked
 * before any map is written, where the per-file check would come after some. */
facs_status gc_check_inputs_not_output_names(const gc_options *o);

/* Every asked class of one image (a --class list, else the --top K; a
 * segmentation model's classes predicted nowhere are left out): the maps'
 * pictures and, with --save-cam, their files. stem names the outputs. With
 * second (else NULL) the same class ids are explained by its model too and
 * <stem>_<class>_compare.png shows the image and both overlays, labelled. */
facs_status gc_explain_image(const gc_session *s, const gc_session *second, const char *image, const char *stem);

#endif
