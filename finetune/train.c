/* The epoch loop (see ft_run.h and docs/finetune.md): train, evaluate, save
 * best.h5 and last.h5, log, plot; Ctrl-C stops at the next batch boundary
 * with the state saved. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "curves.h"
#include "finite.h"
#include "ft_run.h"
#include "interrupt.h"
#include "progress.h"
#include "step.h"

static facs_run_model checkpoint_of(ft_run *r) { return (facs_run_model){&r->sgd, &r->meta, (int64_t)r->o->seed}; }

typedef struct {
    double loss_sum;
    int64_t correct, seen;
    double seconds, lr;
} epoch_sums;

/* The sums of the batches trained before an interruption (none on a fresh
 * epoch). They are the ranks' total, so rank 0 alone starts from them; sums
 * that those batches cannot give mean a corrupt last.h5. */
static facs_status restore_partial(const ft_run *r, epoch_sums *e)
{
    json_t *p = r->o->rank == 0 ? r->run.partial : NULL;
    json_int_t correct = 0, seen = 0;
    if (!p)
        return FACS_OK;
    if (json_unpack(p, "{s:F, s:I, s:I}", "loss_sum", &e->loss_sum, "correct", &correct, "seen", &seen) != 0 ||
        !(isfinite(e->loss_sum) && e->loss_sum >= 0.0) || correct < 0 || correct > seen ||
        seen > (json_int_t)r->skip_batches * r->o->batch)
        return facs_fail(FACS_ERR_FORMAT, "--resume: %s: the sums of the epoch's first %d batches in run_state are "
                         "not theirs (the file is corrupt)", r->run.last_path, r->skip_batches);
    e->correct = correct;
    e->seen = seen;
    return FACS_OK;
}

/* The epoch's sums over the ranks (each rank sums its own samples). */
static facs_status global_sums(const ft_run *r, const epoch_sums *e, epoch_sums *g)
{
    *g = *e;
    int64_t counts[2] = {e->correct, e->seen};
    FACS_TRY(facs_comm_allreduce_sum(r->comm, &g->loss_sum, 1, FACS_COMM_F64));
    FACS_TRY(facs_comm_allreduce_sum(r->comm, counts, 2, FACS_COMM_I64));
    g->correct = counts[0];
    g->seen = counts[1];
    return FACS_OK;
}

/* Trains the batches of one epoch from the loader; stops early on Ctrl-C. */
static facs_status train_epoch(ft_run *r, int epoch, float *logits, epoch_sums *e)
{
    char label[64], where[64], metrics[64];
    snprintf(label, sizeof label, "epoch %d/%d", epoch + 1, r->o->epochs);
    facs_progress bar;
    facs_progress_begin(&bar, label, r->batches_per_epoch, r->skip_batches, r->o->batch);
    facs_status s = FACS_OK;
    for (;;) {
        const facs_batch *b;
        int64_t global_n;
        if ((s = facs_loader_next(r->train_loader, &b)) != FACS_OK || !b)
            break;
        if (b->batch < r->skip_batches)
            continue; /* trained before the interruption this run resumes */
        if ((s = facs_parallel_agree(&r->par, b->n, &global_n)) != FACS_OK || r->par.stopped)
            break;
        if (b->n == 0) {
            s = facs_fail(FACS_ERR_FORMAT, "epoch %d, batch %d: every file of the batch was skipped (--skip-bad): "
                          "too many files of %s do not decode", epoch + 1, b->batch + 1, r->train.where);
            break;
        }
        if (b->n == 1) { /* the batch holds at least 2 (ft_run_setup): the others did not decode */
            s = facs_fail(FACS_ERR_FORMAT, "epoch %d, batch %d: --skip-bad left one image of the batch (its other "
                          "files do not decode), and BatchNorm needs at least 2 images per batch in training: remove "
                          "the files of %s that do not decode, or give a larger --batch", epoch + 1, b->batch + 1,
                          r->train.where);
            break;
        }
        double t0 = facs_clock_seconds();
        e->lr = facs_lr_at(&r->schedule, r->sgd.steps);
        r->sgd.options.lr = e->lr;
        snprintf(where, sizeof where, "epoch %d, batch %d", epoch + 1, b->batch + 1);
        ft_step_result res = {0, logits};
        if ((s = ft_step(r->ctx, r->model, &r->sgd, &r->par, r->o->seed, (float)r->o->label_smoothing, b, global_n,
                         r->classes, where, &res)) != FACS_OK)
            break;
        e->loss_sum += (double)res.loss * b->n;
        for (int i = 0; i < b->n; i++)
            e->correct += facs_label_rank(logits + (size_t)i * r->classes, r->classes, b->labels[i]) == 0;
        e->seen += b->n;
        e->seconds += facs_clock_seconds() - t0;
        snprintf(metrics, sizeof metrics, "loss %.4f  acc %.4f", e->loss_sum / e->seen, (double)e->correct / e->seen);
        facs_progress_update(&bar, b->batch + 1, metrics);
    }
    facs_progress_end(&bar);
    return s;
}

/* Every weight and BatchNorm statistic finite before a checkpoint: a run can
 * diverge with every loss and gradient finite (running variances past float's
 * range), and its checkpoints must keep the last good state. */
static facs_status check_finite_model(ft_run *r, int epoch)
{
    char where[32];
    snprintf(where, sizeof where, "epoch %d", epoch + 1);
    return facs_check_finite_values(r->ctx, facs_model_params(r->model), where);
}

/* After epoch `epoch` (0-based) has trained fully: evaluate, checkpoint, log, plot. */
static facs_status finish_epoch(ft_run *r, int epoch, const epoch_sums *rank_sums)
{
    char where[64];
    snprintf(where, sizeof where, "evaluation after epoch %d", epoch + 1);
    epoch_sums all, *e = &all;
    FACS_TRY(global_sums(r, rank_sums, &all));
    FACS_TRY(ft_evaluate(r->ctx, r->model, r->test_loader, r->comm, where, &r->eval));
    double test_loss = ft_eval_loss(&r->eval), top1 = facs_confusion_accuracy(&r->eval.matrix),
           top5 = facs_confusion_topk(&r->eval.matrix, 5);
    json_t *record = json_pack("{s:f, s:f, s:f, s:f, s:f, s:f, s:f}", "train_loss", e->loss_sum / e->seen, "train_acc",
                               (double)e->correct / e->seen, "test_loss", test_loss, "test_top1", top1, "test_top5",
                               top5, "lr", e->lr, "images_per_s", e->seconds > 0 ? e->seen / e->seconds : 0);
    facs_status finite = check_finite_model(r, epoch);
    if (finite != FACS_OK) {
        json_decref(record);
        return finite;
    }
    facs_run_model m = checkpoint_of(r);
    int best;
    FACS_TRY(facs_run_epoch_done(&r->run, record, &m, &best));
    if (facs_run_writes(&r->run))
        FACS_TRY(ft_plot_curves(r->run.history, r->plot_path));
    printf("epoch %3d/%d  train_loss %.4f  train_acc %.4f  test_loss %.4f  test_top1 %.4f  test_top5 %.4f  lr %.5f  "
           "%.0f img/s%s\n",
           epoch + 1, r->o->epochs, e->loss_sum / e->seen, (double)e->correct / e->seen, test_loss, top1, top5, e->lr,
           e->seconds > 0 ? e->seen / e->seconds : 0, best ? "  (best)" : "");
    fflush(stdout);
    return FACS_OK;
}

/* Ctrl-C inside epoch `epoch`: keep the steps and sums so far; the resume continues at the next batch. */
static facs_status save_interrupted(ft_run *r, int epoch, const epoch_sums *rank_sums, int trained)
{
    epoch_sums all, *e = &all;
    FACS_TRY(global_sums(r, rank_sums, &all));
    json_t *partial = json_pack("{s:f, s:I, s:I}", "loss_sum", e->loss_sum, "correct", (json_int_t)e->correct, "seen",
                                (json_int_t)e->seen);
    facs_status finite = check_finite_model(r, epoch);
    if (finite != FACS_OK) {
        json_decref(partial);
        return finite;
    }
    facs_run_model m = checkpoint_of(r);
    int best;
    FACS_TRY(facs_run_save(&r->run, &m, r->run.done, partial, 0, &best));
    printf("interrupted in epoch %d after batch %d of %d: saved %s; continue with --resume\n", epoch + 1, trained,
           r->batches_per_epoch, r->run.last_path);
    return FACS_OK;
}

/* The end of a finished run: the per-class table and confusion.csv. */
static facs_status report(ft_run *r)
{
    if (facs_confusion_total(&r->eval.matrix) == 0) /* resumed a finished run: nothing evaluated in this process yet */
        FACS_TRY(ft_evaluate(r->ctx, r->model, r->test_loader, r->comm, "the final evaluation", &r->eval));
    printf("\nper-class test accuracy (%s, after epoch %d; best top-1 %.4f at epoch %lld):\n", r->run.last_path,
           r->o->epochs, r->run.best_value, (long long)r->run.best_record);
    facs_confusion_print_table(&r->eval.matrix, (const char *const *)r->test.class_names, stdout);
    if (!facs_run_writes(&r->run))
        return FACS_OK;
    FACS_TRY(facs_confusion_write_csv(&r->eval.matrix, (const char *const *)r->test.class_names, r->confusion_path));
    printf("confusion matrix: %s\n", r->confusion_path);
    return FACS_OK;
}

int ft_run_train(ft_run *r)
{
    const ft_options *o = r->o;
    int first = (int)r->run.done;
    int last = o->stop_after > 0 && o->stop_after < o->epochs ? o->stop_after : o->epochs;
    float *logits = malloc((size_t)o->batch * r->classes * sizeof *logits);
    if (!logits) {
        facs_fail(FACS_ERR_MEMORY, "out of memory for the logits");
        return FACS_EXIT_ERROR;
    }
    printf("%s: %s, %d classes, %d training and %d test images at %dx%d, %d batch%s of %d per epoch, %s\n", o->out,
           r->meta.arch, r->classes, r->train.count, r->test.count, o->input_size, o->input_size, r->batches_per_epoch,
           r->batches_per_epoch == 1 ? "" : "es", o->batch, o->resume ? "resumed" : "from the start");
    if (o->resume && first >= o->epochs)
        printf("the run has finished %s %d epoch%s already\n", o->epochs == 1 ? "its" : "all", o->epochs,
               o->epochs == 1 ? "" : "s");
    else if (o->resume)
        printf("resuming at epoch %d, batch %d of %d\n", first + 1, r->skip_batches, r->batches_per_epoch);
    fflush(stdout);
    facs_status s = FACS_OK;
    int epoch, saved_mid_epoch = 0;
    for (epoch = first; s == FACS_OK && epoch < last && !facs_parallel_stop_requested(&r->par); epoch++) {
        epoch_sums e = {0, 0, 0, 0, facs_lr_at(&r->schedule, r->sgd.steps)};
        if (epoch == first && (s = restore_partial(r, &e)) != FACS_OK)
            break;
        s = train_epoch(r, epoch, logits, &e);
        r->skip_batches = 0;
        int trained = (int)(r->sgd.steps - (int64_t)epoch * r->batches_per_epoch);
        if (s == FACS_OK && trained < r->batches_per_epoch) {
            if (trained > 0) /* else last.h5 already holds this position */
                s = save_interrupted(r, epoch, &e, trained);
            saved_mid_epoch = trained > 0;
            break;
        }
        if (s == FACS_OK)
            s = finish_epoch(r, epoch, &e);
    }
    free(logits);
    /* Gathered only when every rank got here: a rank that failed ends the run instead (facs_parallel_fail). */
    if (s == FACS_OK)
        s = ft_print_skipped(r->comm, r->train_loader, r->test_loader);
    else
        ft_print_skipped(NULL, r->train_loader, r->test_loader);
    if (s != FACS_OK)
        return FACS_EXIT_ERROR;
    if (r->par.stopped) {
        if (epoch > first && r->sgd.steps == (int64_t)epoch * r->batches_per_epoch)
            printf("interrupted after epoch %d: saved %s; continue with --resume\n", epoch, r->run.last_path);
        else if (!saved_mid_epoch && o->resume) /* stopped before its first batch: nothing new to save */
            printf("interrupted before the first batch: %s is as it was; continue with --resume\n", r->run.last_path);
        else if (!saved_mid_epoch)
            printf("interrupted before the first batch: nothing trained, nothing saved\n");
        return FACS_EXIT_INTERRUPTED;
    }
    if (last < o->epochs) {
        printf("stopped after epoch %d of %d (--stop-after); continue with --resume\n", last, o->epochs);
        return FACS_EXIT_OK;
    }
    return report(r) == FACS_OK ? FACS_EXIT_OK : FACS_EXIT_ERROR;
}
