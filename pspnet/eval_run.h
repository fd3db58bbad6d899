/* A pspnet-eval run: set up (every check that can fail early, before any
 * output is written), then evaluated over the images (eval/seg_eval.h), the
 * predictions saved on the way (eval_predictions.c) and the results written.
 * Under mpirun each rank evaluates its share of the images and saves their
 * predictions; the confusion matrices are summed and rank 0 alone prints and
 * writes --out (docs/design.md "Data parallel"). */
#ifndef PS_EVAL_RUN_H
#define PS_EVAL_RUN_H

#include "cityscapes.h"
#include "eval_options.h"
#include "image_walk.h"
#include "progress.h"
#include "parallel.h"
#include "run_dir.h"
#include "cityscapes_instances.h"
#include "seg_eval.h"

/* Where each image's predictions go (--save-pred). */
typedef struct {
    const char *dir;     /* --save-pred */
    const char *weights; /* an input no prediction may overwrite */
    int cityscapes;      /* 1: trainid/, color/ and overlay/ take the file name alone, labelid/ keeps the city */
    int probabilities;   /* --save-prob: prob/NAME.h5 too */
    facs_strings files;  /* per image: its file */
    facs_strings names;  /* per image: its path under the image root, without extension ("city/name") */
} ev_saver;

/* The folders --save-pred DIR writes into, NULL-terminated: trainid, labelid, color, overlay, prob. */
extern const char *const ev_prediction_folders[];

/* Adds image file `file`, known as rel under its root ("city/x_leftImg8bit.png"). */
facs_status ev_saver_add(ev_saver *s, const char *file, const char *rel);
/* Refuses two images whose predictions would have the same name (a.jpg and a.png), naming both. */
facs_status ev_saver_check_unique(const ev_saver *s);
/* seg_eval.h's on_prediction: writes the image's four PNGs and, with
 * probabilities, its HDF5 file (user: the ev_saver). */
facs_status ev_save_prediction(void *user, const facs_seg_prediction *p);
void ev_saver_free(ev_saver *s);

typedef struct {
    const ev_options *o;
    facs_run_dir out;
    facs_cityscapes_pairs index;  /* --data */
    facs_dataset images;          /* --data's split, or --images' files (the saver's) */
    facs_model *model;
    facs_ctx *ctx;
    ev_saver saver;
    facs_progress bar;
    facs_comm *comm;              /* the run's ranks (one without mpirun); borrowed */
    facs_parallel par;            /* Ctrl-C on any rank stops every rank after the same image */
    int writes;                   /* rank 0: prints the results and writes --out */
} ev_run;

facs_status ev_run_setup(ev_run *r, const ev_options *o, facs_comm *comm);
/* --images DIR (eval_images.c): every .jpg, .jpeg and .png under it, hidden
 * files and folders left out, other files skipped and counted in one line
 * (rank 0 prints it), each added to the saver and r->images over them. */
facs_status ev_list_images(ev_run *r);
/* Refuses a --save-pred whose prediction folders would lie inside --images,
 * or hold it, naming both: a prediction named as an input would overwrite it,
 * and the next run would read the others as images. */
facs_status ev_check_save_pred_outside(const char *images, const char *save_pred);
/* --out's results.json and confusion.csv (inst NULL: no instance-level IoU). */
facs_status ev_write_results(facs_run_dir *out, const facs_confusion *cm, const facs_cityscapes_instances *inst);
/* seg_eval.h's progress callback over a facs_progress bar. */
void ev_show_progress(void *user, int done, int total);
/* --score: predictions made elsewhere scored against --data (eval_score.c). */
facs_status ev_score(const ev_options *o);
/* Evaluates or predicts every image, prints the tables and writes the
 * results: FACS_EXIT_OK, FACS_EXIT_INTERRUPTED (Ctrl-C: no results written)
 * or FACS_EXIT_ERROR (facs_last_error() says why). */
int ev_run_evaluate(ev_run *r);
void ev_run_free(ev_run *r);

#endif
