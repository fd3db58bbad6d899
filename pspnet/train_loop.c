/* The iteration loop of pspnet-train (see train_run.h): steps, a log line
 * every --log-every iterations, whole-image validation every --val-every,
 * checkpoints at every --save-every, validation and the end; Ctrl-C saves. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "clock.h"
#include "progress.h"
#include "seg_eval.h"
#include "seg_metrics.h"
#include "train_run.h"

static facs_run_model checkpoint_of(ps_run *r) { return (facs_run_model){&r->sgd, &r->meta, (int64_t)r->o->seed}; }

static int64_t done(const ps_run *r) { return r->sgd.steps; }

/* The sums of the interval an interruption cut (none on a fresh start). */
static void restore_partial(const ps_run *r, ps_sums *s)
{
    json_int_t correct = 0, labelled = 0, steps = 0, images = 0;
    if (r->run.partial && json_unpack(r->run.partial, "{s:F, s:F, s:F, s:I, s:I, s:I, s:I}", "loss", &s->loss,
                                      "main_loss", &s->main_loss, "aux_loss", &s->aux_loss, "correct", &correct,
                                      "labelled", &labelled, "steps", &steps, "images", &images) == 0) {
        s->correct = correct;
        s->labelled = labelled;
        s->steps = steps;
        s->images = images;
    }
}

static json_t *partial_of(const ps_sums *s)
{
    return json_pack("{s:f, s:f, s:f, s:I, s:I, s:I, s:I}", "loss", s->loss, "main_loss", s->main_loss, "aux_loss",
                     s->aux_loss, "correct", (json_int_t)s->correct, "labelled", (json_int_t)s->labelled, "steps",
                     (json_int_t)s->steps, "images", (json_int_t)s->images);
}

static void show_progress(void *user, int done_images, int total)
{
    facs_progress_update(user, done_images, "");
    (void)total;
}

/* Whole-image validation on the val split into the record. */
static facs_status validate(ps_run *r, json_t *record)
{
    facs_confusion cm;
    FACS_TRY(facs_confusion_init(&cm, r->o->classes));
    facs_progress bar;
    facs_progress_begin(&bar, "val", r->val_set.count, 0, 1);
    facs_seg_eval_opts eo = facs_seg_eval_defaults();
    eo.ignore_label = r->o->ignore_index;
    eo.progress = show_progress;
    eo.progress_user = &bar;
    eo.comm = r->comm;
    facs_status s = facs_seg_eval_whole(r->ctx, r->model, &r->val_set, &eo, &cm);
    facs_progress_end(&bar);
    if (s == FACS_OK) {
        json_object_set_new(record, "val_miou", json_real(facs_confusion_miou(&cm)));
        json_object_set_new(record, "val_pixel_acc", json_real(facs_confusion_accuracy(&cm)));
        json_object_set_new(record, "val_iou", facs_seg_iou_json(&cm));
        printf("validation after iteration %lld: mIoU %.4f  pixel accuracy %.4f\n", (long long)done(r),
               facs_confusion_miou(&cm), facs_confusion_accuracy(&cm));
        if (done(r) == r->total_iters) {
            printf("\nper-class IoU on the val split:\n");
            facs_confusion_print_table(&cm, cm.classes == FACS_CITYSCAPES_CLASSES ? facs_cityscapes_class_names : NULL,
                                       stdout);
        }
    }
    facs_confusion_free(&cm);
    return s;
}

/* The log record of the interval that ends now (sums reset), validated when due. */
static facs_status end_interval(ps_run *r, ps_sums *s, double lr, int validating)
{
    int64_t it = done(r);
    double n = s->steps ? (double)s->steps : 1;
    json_t *record = json_pack("{s:I, s:I, s:f, s:f, s:f, s:f, s:f, s:f}", "iter", (json_int_t)it, "epoch",
                               (json_int_t)((it - 1) / r->batches_per_epoch + 1), "loss", s->loss / n, "main_loss",
                               s->main_loss / n, "aux_loss", s->aux_loss / n, "pixel_acc",
                               s->labelled ? (double)s->correct / s->labelled : 0.0, "lr", lr, "images_per_s",
                               s->seconds > 0 ? s->images / s->seconds : 0.0);
    if (!record)
        return facs_fail(FACS_ERR_MEMORY, "out of memory for the log record");
    printf("iter %lld/%lld  loss %.4f  main %.4f  aux %.4f  pixel_acc %.4f  lr %.6f\n", (long long)it,
           (long long)r->total_iters, s->loss / n, s->main_loss / n, s->aux_loss / n,
           s->labelled ? (double)s->correct / s->labelled : 0.0, lr);
    memset(s, 0, sizeof *s);
    facs_status st = validating ? validate(r, record) : FACS_OK;
    if (st != FACS_OK) {
        json_decref(record);
        return st;
    }
    FACS_TRY(facs_run_log_record(&r->run, record));
    return facs_run_writes(&r->run) ? ps_plot_curves(r->run.history, r->plot_path) : FACS_OK;
}

int ps_run_train(ps_run *r)
{
    const ps_options *o = r->o;
    int64_t last = o->stop_after > 0 && o->stop_after < r->total_iters ? o->stop_after : r->total_iters;
    printf("%s: %s, %d classes, %d training and %d val images, crop %dx%d, batch %d, %lld iterations, %s\n", o->out,
           r->meta.arch, o->classes, r->train_index.count, r->val_index.count, o->crop_w, o->crop_h, o->batch,
           (long long)r->total_iters, o->resume ? "resumed" : "from the start");
    fflush(stdout);
    ps_sums sums = {0};
    restore_partial(r, &sums);
    facs_run_model m = checkpoint_of(r);
    facs_status s = FACS_OK;
    int skip = (int)(done(r) % r->batches_per_epoch), best = 0;
    char label[64], where[96];
    facs_progress bar = {0};
    while (s == FACS_OK && done(r) < last && !r->par.stopped) {
        const facs_batch *b;
        if ((s = facs_loader_next(r->loader, &b)) != FACS_OK || !b)
            continue; /* the end of an epoch: the loader moves on */
        if (b->batch < skip)
            continue; /* trained before the interruption this run resumes */
        skip = 0;
        int64_t labelled;
        if ((s = facs_parallel_agree(&r->par, ps_labelled_pixels(r, b), &labelled)) != FACS_OK || r->par.stopped)
            break;
        if (b->batch == 0 || !bar.total) {
            facs_progress_end(&bar);
            snprintf(label, sizeof label, "epoch %d", b->epoch + 1);
            facs_progress_begin(&bar, label, r->batches_per_epoch, b->batch, o->batch);
        }
        double t0 = facs_clock_seconds(), lr = facs_lr_at(&r->schedule, r->sgd.steps);
        r->sgd.options.lr = lr;
        snprintf(where, sizeof where, "iteration %lld (epoch %d, batch %d)", (long long)done(r) + 1, b->epoch + 1,
                 b->batch + 1);
        if ((s = ps_step(r, b, labelled, where, &sums)) != FACS_OK)
            break;
        sums.seconds += facs_clock_seconds() - t0;
        facs_progress_update(&bar, b->batch + 1, "");
        int64_t it = done(r);
        int validating = it == r->total_iters || (o->val_every > 0 && it % o->val_every == 0);
        if (it % o->log_every == 0 || validating) { /* a --stop-after point saves its sums as partial */
            facs_progress_end(&bar);
            bar.total = 0;
            if ((s = end_interval(r, &sums, lr, validating)) != FACS_OK)
                break;
        }
        if (validating || it % o->save_every == 0 || it == last)
            s = facs_run_save(&r->run, &m, it, partial_of(&sums), validating, &best);
    }
    facs_progress_end(&bar);
    if (s == FACS_OK && r->par.stopped && done(r) < last) {
        s = facs_run_save(&r->run, &m, done(r), partial_of(&sums), 0, &best);
        if (s == FACS_OK)
            printf("interrupted after iteration %lld: saved %s; continue with --resume\n", (long long)done(r),
                   r->run.last_path);
        return s == FACS_OK ? FACS_EXIT_INTERRUPTED : FACS_EXIT_ERROR;
    }
    if (s != FACS_OK)
        return FACS_EXIT_ERROR;
    if (last < r->total_iters)
        printf("stopped after iteration %lld of %lld (--stop-after); continue with --resume\n", (long long)last,
               (long long)r->total_iters);
    else if (r->run.best_record > 0)
        printf("best val mIoU %.4f (record %lld): %s\n", r->run.best_value, (long long)r->run.best_record,
               r->run.best_path);
    return FACS_EXIT_OK;
}
