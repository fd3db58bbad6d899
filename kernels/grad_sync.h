/* Data-parallel gradients: after backward every rank holds the sum over the
 * ranks of the parameter gradients (comm.h), as one process computing the
 * whole global batch would.
 *
 *     facs_grad_sync *gs;
 *     facs_grad_sync_create(comm, &model->params, FACS_GRAD_BUCKET_BYTES, &gs);
 *     facs_grad_sync_attach(gs, ctx);
 *     facs_params_broadcast(comm, &model->params);   // every rank starts from rank 0's state
 *     each step:
 *         forward; backward from the loss seeded with n_local / n_global (see below);
 *         facs_grad_sync_finish(gs);                  // the sums are in the gradients
 *         facs_sgd_step(...);
 *
 * Buckets: the trainable parameters in reverse registration order (the order
 * backward produces their gradients), cut into buckets of about bucket_bytes.
 * A bucket's sum starts as soon as backward has finished every gradient in it
 * (autograd.h "Gradient readiness"), so communication overlaps the rest of
 * backward; finish starts the remaining buckets, waits and copies the sums
 * back. Every rank runs the same graph, so buckets start in the same order on
 * all of them, as MPI requires.
 *
 * Averaging is the caller's choice of loss seed: backward seeded with
 * n_local / n_global (the rank's share of the global batch) makes the summed
 * gradient the gradient of the global batch's mean loss, also when the ranks'
 * batches differ in size, and makes every activation gradient the one the
 * single process has, which synchronised BatchNorm relies on (ctx.h bn_comm).
 *
 * The parameters share one device: CPU tensors go through the host transport
 * (MPI), CUDA tensors through NCCL (comm.h "Collectives on tensor memory"). */
#ifndef FACS_GRAD_SYNC_H
#define FACS_GRAD_SYNC_H

#include "comm.h"
#include "ctx.h"
#include "param.h"

/* Small enough that the first bucket starts early in backward, large enough
 * that per-call latency does not dominate. */
#define FACS_GRAD_BUCKET_BYTES ((size_t)4 << 20)

typedef struct facs_grad_sync facs_grad_sync;

/* The bucket plan covers the parameters that are trainable and not frozen now. */
facs_status facs_grad_sync_create(facs_comm *comm, facs_param_list *params, size_t bucket_bytes,
                                  facs_grad_sync **out);
void facs_grad_sync_free(facs_grad_sync *gs);

/* Listens to ctx's backward (ctx->grad_ready); NULL detaches. */
void facs_grad_sync_attach(facs_grad_sync *gs, facs_ctx *ctx);

/* After backward: every gradient holds its sum over the ranks. */
facs_status facs_grad_sync_finish(facs_grad_sync *gs);

/* Buckets, and those started during the last backward before finish (for tests and benchmarks). */
int facs_grad_sync_buckets(const facs_grad_sync *gs);
int facs_grad_sync_started_early(const facs_grad_sync *gs);

/* Every rank's parameters, buffers and momentum become rank 0's. The ranks
 * must hold the same list (the same model); momentum must exist on all or none. */
facs_status facs_params_broadcast(facs_comm *comm, facs_param_list *params);

#endif
