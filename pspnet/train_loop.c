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

static int64_t done(const ps_run *r) { return r->sgd.steps; }

static int sum_of_losses(double v) { return isfinite(v) && v >= 0.0; }

/* The sums of the interval an interruption cut (none on a fresh start); sums
 * that its iterations cannot give mean a corrupt last.h5. */
static facs_status restore_partial(const ps_run *r, ps_sums *s)
{
    json_int_t correct = 0, labelled = 0, steps = 0, images = 0;
    if (!r->run.partial)
        return FACS_OK;
    if (json_unpack(r->run.partial, "{s:F, s:F, s:F, s:I, s:I, s:I, s:I}", "loss", &s->loss, "main_loss",
                    &s->main_loss, "aux_loss", &s->aux_loss, "correct", &correct, "labelled", &labelled, "steps",
                    &steps, "images", &images) != 0 ||
        !sum_of_losses(s->loss) || !sum_of_losses(s->main_loss) || !sum_of_losses(s->aux_loss) || correct < 0 ||
        correct > labelled || steps < 0 || steps > done(r) || images != steps * r->o->batch)
        return facs_fail(FACS_ERR_FORMAT, "--resume: %s: the sums of the log interval in run_state are not those "
                         "of its iterations (the file is corrupt)", r->run.last_path);
    s->correct = correct;
    s->labelled = labelled;
    s->steps = steps;
    s->images = images;
    return FACS_OK;
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

/* last.h5 after done(r) iterations with the sums of the log interval not yet
 * recorded (and best.h5 first when candidate and the latest record's val_miou
 * is the best so far); never weights that diverged. */
static facs_status save_checkpoint(ps_run *r, const ps_sums *s, int candidate)
{
    FACS_TRY(ps_check_finite_weights(r));
    facs_run_model m = {&r->sgd, &r->meta, (int64_t)r->o->seed};
    int best;
    return facs_run_save(&r->run, &m, done(r), partial_of(s), candidate, &best);
}

/* The validation's numbers into the record, and its line. A val split without
 * labelled pixels has none: null in the log (as pspnet-eval's results.json)
 * and a line that says why, rather than NaN. */
static void record_validation(const ps_run *r, const facs_confusion *cm, json_t *record)
{
    double miou = facs_confusion_miou(cm), acc = facs_confusion_accuracy(cm);
    int labelled = !isnan(acc);
    json_object_set_new(record, "val_miou", labelled ? json_real(miou) : json_null());
    json_object_set_new(record, "val_pixel_acc", labelled ? json_real(acc) : json_null());
    json_object_set_new(record, "val_iou", facs_seg_iou_json(cm));
    if (!labelled) {
        printf("validation after iteration %lld: the val split has no labelled pixels (every label is the ignore "
               "label %d), so no mIoU, and no best.h5 from it\n",
               (long long)done(r), r->o->ignore_index);
        return;
    }
    printf("validation after iteration %lld: mIoU %.4f  pixel accuracy %.4f\n", (long long)done(r), miou, acc);
    if (done(r) == r->total_iters) {
        printf("\nper-class IoU on the val split:\n");
        facs_confusion_print_table(cm, cm->classes == FACS_CITYSCAPES_CLASSES ? facs_cityscapes_class_names : NULL,
                                   stdout);
    }
}

/* Whole-image validation on the val split into the record. last.h5 already
 * holds the weights (end_interval), which a failure says, with how to go on. */
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
    if (s == FACS_OK)
        record_validation(r, &cm, record);
    facs_confusion_free(&cm);
    if (s == FACS_OK)
        return FACS_OK;
    char why[2048];
    snprintf(why, sizeof why, "%s", facs_last_error());
    if (strstr(why, FACS_SEG_NOT_FINITE)) /* finite weights can still overflow in evaluation mode */
        return facs_fail(s, "validation after iteration %lld: %s: training diverged; lower --lr%s", (long long)done(r),
                         why, r->run.best_record > 0 ? " (best.h5 keeps the best earlier validation)" : "");
    return facs_fail(s, "validation after iteration %lld: %s. The weights of iteration %lld are saved in %s: fix the "
                        "cause and continue with --resume, which validates them first",
                     (long long)done(r), why, (long long)done(r), r->run.last_path);
}

/* The log record of the interval that ends at done(r), its line printed. */
static json_t *interval_record(const ps_run *r, const ps_sums *s, double lr)
{
    int64_t it = done(r);
    double n = s->steps ? (double)s->steps : 1, acc = s->labelled ? (double)s->correct / s->labelled : 0.0;
    printf("iter %lld/%lld  loss %.4f  main %.4f  aux %.4f  pixel_acc %.4f  lr %.6f\n", (long long)it,
           (long long)r->total_iters, s->loss / n, s->main_loss / n, s->aux_loss / n, acc, lr);
    return json_pack("{s:I, s:I, s:f, s:f, s:f, s:f, s:f, s:f}", "iter", (json_int_t)it, "epoch",
                     (json_int_t)((it - 1) / r->batches_per_epoch + 1), "loss", s->loss / n, "main_loss",
                     s->main_loss / n, "aux_loss", s->aux_loss / n, "pixel_acc", acc, "lr", lr, "images_per_s",
                     s->seconds > 0 ? s->images / s->seconds : 0.0);
}

/* The log record of the interval that ends now (sums reset), validated when
 * due. Before validating, last.h5 gets this iteration's weights and the
 * interval's sums: a validation that fails (a bad val label) then loses no
 * training, and --resume validates first (finish_pending_validation). */
static facs_status end_interval(ps_run *r, ps_sums *s, double lr, int validating)
{
    json_t *record = interval_record(r, s, lr);
    if (!record)
        return facs_fail(FACS_ERR_MEMORY, "out of memory for the log record");
    facs_status st = validating ? save_checkpoint(r, s, 0) : FACS_OK;
    memset(s, 0, sizeof *s);
    if (st == FACS_OK && validating)
        st = validate(r, record);
    if (st != FACS_OK) {
        json_decref(record);
        return st;
    }
    FACS_TRY(facs_run_log_record(&r->run, record));
    return facs_run_writes(&r->run) ? ps_plot_curves(r->run.history, r->plot_path) : FACS_OK;
}

static int validation_due(const ps_run *r, int64_t it)
{
    return it == r->total_iters || (r->o->val_every > 0 && it % r->o->val_every == 0);
}

/* What the iteration that just ended is due: a log record every --log-every
 * and at each validation, validation every --val-every and at the end, a
 * checkpoint every --save-every, after each validation and at the leg's last
 * iteration (whose sums are saved as partial, for --stop-after). */
static facs_status after_step(ps_run *r, ps_sums *s, double lr, int64_t last, facs_progress *bar)
{
    int64_t it = done(r);
    int validating = validation_due(r, it);
    if (it % r->o->log_every == 0 || validating) {
        facs_progress_end(bar);
        bar->total = 0;
        FACS_TRY(end_interval(r, s, lr, validating));
    }
    if (validating || it % r->o->save_every == 0 || it == last)
        return save_checkpoint(r, s, validating);
    return FACS_OK;
}

/* A checkpoint holds unrecorded sums at a validation point only when it was
 * saved just before a validation that failed: the resumed leg validates
 * first, then goes on as if it had not failed. */
static facs_status finish_pending_validation(ps_run *r, ps_sums *s)
{
    if (s->steps == 0 || !validation_due(r, done(r)))
        return FACS_OK;
    FACS_TRY(end_interval(r, s, facs_lr_at(&r->schedule, done(r) - 1), 1));
    return save_checkpoint(r, s, 1);
}

int ps_run_train(ps_run *r)
{
    const ps_options *o = r->o;
    int64_t last = o->stop_after > 0 && o->stop_after < r->total_iters ? o->stop_after : r->total_iters;
    printf("%s: %s, %d classes, %d training and %d val image%s, crop %dx%d, batch %d, %lld iterations, %s\n",
           o->out, r->meta.arch, o->classes, r->train_index.count, r->val_index.count,
           r->val_index.count == 1 ? "" : "s", o->crop_h, o->crop_w, o->batch, (long long)r->total_iters,
           o->resume ? "resumed" : "from the start");
    if (o->resume && done(r) >= r->total_iters)
        printf("the run has finished its %lld iterations already\n", (long long)r->total_iters);
    ps_sums sums = {0};
    facs_status s = restore_partial(r, &sums);
    if (s == FACS_OK)
        s = finish_pending_validation(r, &sums);
    int skip = (int)(done(r) % r->batches_per_epoch);
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
        s = after_step(r, &sums, lr, last, &bar);
    }
    facs_progress_end(&bar);
    if (s == FACS_OK && r->par.stopped && done(r) < last) {
        s = save_checkpoint(r, &sums, 0);
        if (s == FACS_OK)
            printf("interrupted after iteration %lld: saved %s; continue with --resume\n", (long long)done(r),
                   r->run.last_path);
        return s == FACS_OK ? FACS_EXIT_INTERRUPTED : FACS_EXIT_ERROR;
    }
    if (s != FACS_OK)
        return FACS_EXIT_ERROR;
    if (last < r->total_iters)
        printf("stopped after iteration %lld of %lld (--stop-after); continue with --resume\n", (long long)done(r),
               (long long)r->total_iters);
    else if (r->run.best_record > 0)
        printf("best val mIoU %.4f (record %lld): %s\n", r->run.best_value, (long long)r->run.best_record,
               r->run.best_path);
    else
        printf("no best.h5: no validation had labelled pixels\n");
    return FACS_EXIT_OK;
}
