/* The epoch loop (see run.h and docs/finetune.md): train, evaluate, save
 * last.h5 (and best.h5), log, plot; Ctrl-C stops at the next batch boundary
 * with the state saved. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "plot.h"
#include "progress.h"
#include "run.h"
#include "step.h"

static volatile sig_atomic_t interrupted;

static void on_sigint(int sig)
{
    (void)sig;
    interrupted = 1;
}

/* The first Ctrl-C asks for a clean stop; a second one kills at once (the
 * files are replaced atomically, so that loses at most the current epoch). */
static void install_sigint(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_sigint;
    sa.sa_flags = SA_RESETHAND;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
}

static facs_status save_last(ft_run *r, int completed_epochs)
{
    facs_train_state state = {completed_epochs, r->info.seed};
    return ft_checkpoint_save(r->last_path, facs_model_params(r->model), &r->sgd, &r->meta, &state, &r->info);
}

typedef struct {
    double loss_sum;
    int64_t correct, seen;
    double seconds, lr;
} epoch_sums;

/* Trains the batches of one epoch from the loader; stops early on Ctrl-C. */
static facs_status train_epoch(ft_run *r, int epoch, float *logits, epoch_sums *e)
{
    ft_progress bar;
    ft_progress_begin(&bar, epoch + 1, r->o->epochs, r->batches_per_epoch, r->skip_batches, r->o->batch);
    facs_status s = FACS_OK;
    for (;;) {
        const facs_batch *b;
        if ((s = facs_loader_next(r->train_loader, &b)) != FACS_OK || !b)
            break;
        if (interrupted)
            break;
        if (b->batch < r->skip_batches)
            continue; /* trained before the interruption this run resumes */
        double t0 = ft_now();
        e->lr = facs_lr_at(&r->schedule, r->sgd.steps);
        r->sgd.options.lr = e->lr;
        ft_step_result res = {0, logits};
        if ((s = ft_step(r->ctx, r->model, &r->sgd, r->info.seed, b, r->classes, &res)) != FACS_OK)
            break;
        e->loss_sum += (double)res.loss * b->n;
        for (int i = 0; i < b->n; i++)
            e->correct += ft_label_rank(logits + (size_t)i * r->classes, r->classes, b->labels[i]) == 0;
        e->seen += b->n;
        e->seconds += ft_now() - t0;
        ft_progress_update(&bar, b->batch + 1, e->loss_sum / e->seen, (double)e->correct / e->seen);
    }
    ft_progress_end(&bar);
    return s;
}

/* After epoch `epoch` (0-based) has trained fully: evaluate, checkpoint, log, plot. */
static facs_status finish_epoch(ft_run *r, int epoch, const epoch_sums *e)
{
    FACS_TRY(ft_evaluate(r->ctx, r->model, r->test_loader, &r->eval));
    ft_epoch_record rec = {epoch + 1,
                           e->loss_sum / e->seen,
                           (double)e->correct / e->seen,
                           r->eval.loss_sum / r->eval.seen,
                           ft_eval_top1(&r->eval),
                           ft_eval_top5(&r->eval),
                           e->lr,
                           e->seconds > 0 ? e->seen / e->seconds : 0};
    int best = rec.test_top1 > r->info.best_top1;
    if (best) {
        r->info.best_top1 = rec.test_top1;
        r->info.best_epoch = epoch + 1;
    }
    r->info.partial_loss_sum = 0;
    r->info.partial_correct = r->info.partial_seen = 0;
    if (best) {
        facs_train_state state = {epoch + 1, r->info.seed};
        FACS_TRY(ft_checkpoint_save(r->best_path, facs_model_params(r->model), NULL, &r->meta, &state, &r->info));
    }
    FACS_TRY(save_last(r, epoch + 1));
    FACS_TRY(ft_log_append(r->log_path, &r->history, &rec));
    FACS_TRY(ft_plot_curves(&r->history, r->plot_path));
    printf("epoch %3d/%d  train_loss %.4f  train_acc %.4f  test_loss %.4f  test_top1 %.4f  test_top5 %.4f  lr %.5f  "
           "%.0f img/s%s\n",
           rec.epoch, r->o->epochs, rec.train_loss, rec.train_acc, rec.test_loss, rec.test_top1, rec.test_top5, rec.lr,
           rec.images_per_s, best ? "  (best)" : "");
    fflush(stdout);
    return FACS_OK;
}

int ft_run_train(ft_run *r)
{
    const ft_options *o = r->o;
    int last = o->stop_after > 0 && o->stop_after < o->epochs ? o->stop_after : o->epochs;
    float *logits = malloc((size_t)o->batch * r->classes * sizeof *logits);
    if (!logits) {
        facs_fail(FACS_ERR_MEMORY, "out of memory for the logits");
        return FT_EXIT_ERROR;
    }
    printf("%s: %s, %d classes, %d training and %d test images of %dx%d, %d batches of %d per epoch, %s\n", o->out,
           r->meta.arch, r->classes, r->train.split.count, r->test.split.count, o->input_size, o->input_size,
           r->batches_per_epoch, o->batch, o->resume ? "resumed" : "from the start");
    if (o->resume && r->first_epoch >= o->epochs)
        printf("the run has finished all %d epochs already\n", o->epochs);
    else if (o->resume)
        printf("resuming at epoch %d, batch %d of %d\n", r->first_epoch + 1, r->skip_batches, r->batches_per_epoch);
    fflush(stdout);
    install_sigint();
    facs_status s = FACS_OK;
    int epoch;
    for (epoch = r->first_epoch; s == FACS_OK && epoch < last && !interrupted; epoch++) {
        epoch_sums e = {0, 0, 0, 0, facs_lr_at(&r->schedule, r->sgd.steps)};
        if (epoch == r->first_epoch) { /* the sums of the batches trained before an interruption */
            e.loss_sum = r->info.partial_loss_sum;
            e.correct = r->info.partial_correct;
            e.seen = r->info.partial_seen;
        }
        s = train_epoch(r, epoch, logits, &e);
        r->skip_batches = 0;
        int trained = (int)(r->sgd.steps - (int64_t)epoch * r->batches_per_epoch);
        if (s == FACS_OK && trained < r->batches_per_epoch) {
            /* Ctrl-C mid-epoch: keep the steps and sums so far; the resume continues at this batch. */
            r->info.partial_loss_sum = e.loss_sum;
            r->info.partial_correct = e.correct;
            r->info.partial_seen = e.seen;
            s = save_last(r, epoch);
            if (s == FACS_OK)
                printf("interrupted in epoch %d after batch %d of %d: saved %s; continue with --resume\n", epoch + 1,
                       trained, r->batches_per_epoch, r->last_path);
            break;
        }
        if (s == FACS_OK)
            s = finish_epoch(r, epoch, &e);
    }
    free(logits);
    if (s != FACS_OK)
        return FT_EXIT_ERROR;
    if (interrupted) {
        if (epoch > r->first_epoch && r->sgd.steps == (int64_t)epoch * r->batches_per_epoch)
            printf("interrupted after epoch %d: saved %s; continue with --resume\n", epoch, r->last_path);
        return FT_EXIT_INTERRUPTED;
    }
    if (last < o->epochs) {
        printf("stopped after epoch %d of %d (--stop-after); continue with --resume\n", last, o->epochs);
        return FT_EXIT_OK;
    }
    if (r->eval.seen == 0) /* resumed a finished run: nothing evaluated in this process yet */
        if ((s = ft_evaluate(r->ctx, r->model, r->test_loader, &r->eval)) != FACS_OK)
            return FT_EXIT_ERROR;
    printf("\nper-class test accuracy (%s, after epoch %d; best top-1 %.4f at epoch %lld):\n", r->last_path, o->epochs,
           r->info.best_top1, (long long)r->info.best_epoch);
    ft_eval_print_table(&r->eval, &r->test.split, stdout);
    if (ft_eval_write_confusion(&r->eval, &r->test.split, r->confusion_path) != FACS_OK)
        return FT_EXIT_ERROR;
    printf("confusion matrix: %s\n", r->confusion_path);
    return FT_EXIT_OK;
}
