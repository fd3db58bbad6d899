/* Data-parallel training for the run layer: what every training tool does
 * under mpirun, so that facs-finetune and pspnet-train differ only in their
 * recipe (docs/design.md "Data parallel").
 *
 *     facs_comm *comm = facs_parallel_open("facs-finetune");    // exits on failure
 *     ... options; rank 0 alone keeps stdout ...
 *     facs_parallel par;
 *     FACS_TRY(facs_parallel_setup(&par, comm, ctx, params, sync_bn));  // after weights are loaded
 *     each step:
 *         FACS_TRY(facs_parallel_agree(&par, local_count, &global_count));
 *         if (par.stopped) break;                                       // Ctrl-C on some rank
 *         backward from facs_parallel_loss_seed(ctx, local_count, global_count);
 *         FACS_TRY(facs_parallel_finish_grads(&par));
 *         SGD step
 *     on an error: facs_parallel_fail(comm, rc) ends every rank
 *     facs_parallel_free(&par); facs_comm_close(comm);
 *
 * Evaluation (no gradients, so no setup): facs_parallel par = {.comm = comm},
 * and facs_parallel_stop_hook as seg_eval.h's stop, so that Ctrl-C on any rank
 * stops every rank after the same image.
 *
 * With one rank every call costs nothing and changes nothing. */
#ifndef FACS_PARALLEL_H
#define FACS_PARALLEL_H

#include <stdint.h>

#include "grad_sync.h"

typedef struct {
    facs_comm *comm;       /* borrowed */
    facs_grad_sync *gsync; /* more than one rank */
    int stopped;           /* some rank was asked to stop: every rank stops at the same point */
} facs_parallel;

/* The run's ranks (comm.h); ranks other than 0 send stdout to /dev/null, so
 * one report is printed. On failure prints "TOOL: message" and exits 1. */
facs_comm *facs_parallel_open(const char *tool);

/* Rank 0's text on every rank (*rank0, malloc'd) and whether every rank's own
 * text equals it (*same, the same answer on every rank): the ranks check that
 * they were started alike before their first collective on tensors, where a
 * rank with another model would overflow the others' buffers. */
facs_status facs_parallel_agree_text(facs_comm *comm, const char *text, char **rank0, int *same);

/* --batch is the global batch: refused unless it splits evenly over the ranks
 * into at least 2 images each (BatchNorm in training; pspnet-train failed at
 * its first iteration). */
facs_status facs_parallel_check_batch(int batch, int ranks);

/* Every rank takes rank 0's parameters, buffers and momenta, and sums its
 * gradients with the others' from now on (grad_sync.h); sync_bn makes ctx's
 * BatchNorm use the global batch's statistics. */
facs_status facs_parallel_setup(facs_parallel *p, facs_comm *comm, facs_ctx *ctx, facs_param_list *params,
                                int sync_bn);
void facs_parallel_free(facs_parallel *p);

/* Before a step: the sum over the ranks of local (the images, or labelled
 * pixels, the loss averages over), and whether any rank was asked to stop
 * (p->stopped). */
facs_status facs_parallel_agree(facs_parallel *p, int64_t local, int64_t *global);
/* Between epochs or intervals: whether any rank was asked to stop (sets p->stopped). */
int facs_parallel_stop_requested(facs_parallel *p);
/* The same as a callback (user: the facs_parallel), e.g. seg_eval.h's stop. */
int facs_parallel_stop_hook(void *user);

/* The gradient backward starts from for a loss averaged over the rank's local
 * of the global batch's global items: local / global (grad_sync.h
 * "Averaging"); NULL (the default 1) when they are equal, and on failure with
 * the last error set (check facs_last_status()). */
facs_tensor *facs_parallel_loss_seed(facs_ctx *ctx, int64_t local, int64_t global);

/* After backward: the gradients hold their sums over the ranks. */
facs_status facs_parallel_finish_grads(facs_parallel *p);

/* "rank 1 of 2: " for a message of a rank of several, "" for a single process. */
const char *facs_parallel_rank_label(int rank, int ranks);

/* After a rank's error (printed): ends every rank with code rc when there are
 * others, which would otherwise wait in their next sum. Returns with one rank. */
void facs_parallel_fail(facs_comm *comm, int rc);

#endif
