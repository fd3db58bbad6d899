/* pspnet-eval --score: predictions made elsewhere (labelId or trainId PNGs)
 * scored against a Cityscapes split as cityscapesScripts scores them
 * (eval/cityscapes_score.h), with the same tables, results.json and
 * confusion.csv as an evaluation of a model. */
#include <stdio.h>

#include "cityscapes_score.h"
#include "clock.h"
#include "eval_run.h"
#include "seg_metrics.h"

/* The progress bar, begun at the first frame, when the split's size is known. */
typedef struct {
    facs_progress bar;
    const char *split;
    int frames;
} score_progress;

static void show_progress(void *user, int done, int total)
{
    score_progress *p = user;
    if (!p->frames)
        facs_progress_begin(&p->bar, p->split, total, 0, 1);
    p->frames = done;
    facs_progress_update(&p->bar, done, "");
}

facs_status ev_score(const ev_options *o)
{
    facs_run_dir out = {.lock_fd = -1};
    facs_confusion cm = {0};
    facs_cityscapes_instances inst = {0};
    score_progress progress = {.split = o->split};
    int with_instances = 0;
    facs_status s = facs_cityscapes_check_output(o->data, "--out", o->out);
    if (s == FACS_OK)
        s = facs_run_dir_open(&out, "--out", o->out);
    if (s == FACS_OK)
        s = facs_confusion_init(&cm, FACS_CITYSCAPES_CLASSES);
    if (s == FACS_OK) {
        printf("scoring the %s predictions under %s against %s, split %s\n", o->score_train_ids ? "trainId" : "labelId",
               o->score, o->data, o->split);
        fflush(stdout);
        facs_cityscapes_score_opts so = {o->score, o->data, o->split, o->score_train_ids, show_progress, &progress};
        double start = facs_clock_seconds();
        s = facs_cityscapes_score(&so, &cm, &inst, &with_instances);
        if (progress.frames)
            facs_progress_end(&progress.bar);
        if (s == FACS_OK)
            printf("%d frames in %.1f s%s\n\n", progress.frames, facs_clock_seconds() - start,
                   with_instances ? "" : " (no gtFine instanceIds: no instance-level IoU)");
    }
    if (s == FACS_OK) {
        facs_seg_results_print(&cm, with_instances ? &inst : NULL, stdout);
        s = ev_write_results(&out, &cm, with_instances ? &inst : NULL);
    }
    facs_confusion_free(&cm);
    facs_run_dir_close(&out);
    return s;
}
