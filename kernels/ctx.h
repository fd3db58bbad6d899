/* The execution context: one device, its arena, the tape, the mode.
 *
 *     facs_ctx *ctx = facs_ctx_create(FACS_DEVICE_CPU);
 *     for each step:
 *         facs_ctx_begin_step(ctx);          // arena and tape start empty
 *         facs_tensor *x = facs_ctx_tensor(ctx, FACS_F32, n, c, h, w);
 *         ... ops from ops.h build y and the loss, recording the tape ...
 *         facs_backward(ctx, loss, NULL);    // autograd.h
 *         facs_sgd_step(...);                // optim.h
 *     facs_ctx_free(ctx);
 *
 * Tensors returned by facs_ctx_tensor and by ops live until the next
 * facs_ctx_begin_step. Not thread-safe: one context per thread. */
#ifndef FACS_CTX_H
#define FACS_CTX_H

#include <stdint.h>

#include "arena.h"
#include "backend.h"
#include "tensor.h"

typedef struct facs_node facs_node;
typedef struct facs_free_grad facs_free_grad;
typedef struct facs_weight_cache facs_weight_cache;

/* Called by every op of ops.h after a successful forward (facs-summary counts
 * parameters and FLOPs with it). inputs are the op's tensor operands in
 * argument order, NULL where an optional one is absent (conv2d, linear, facs:
 * x, w, b; batchnorm2d: x, gamma, beta, running_mean, running_var); weight is
 * the op's weight (conv2d, linear, facs: w; batchnorm2d: gamma) or NULL. */
typedef void (*facs_profile_fn)(void *user, const char *op, const facs_tensor *const *inputs, int n_inputs,
                                const facs_tensor *out, const facs_tensor *weight);

/* Called by backward after each node's backward with the node's op name
 * (ctx->profile_backward: timing profiles split backward by op). */
typedef void (*facs_profile_backward_fn)(void *user, const char *op);

/* Called by backward after each node's backward (autograd.h "Gradient readiness"). */
typedef facs_status (*facs_grad_ready_fn)(void *user, int node_index);

struct facs_comm;

typedef struct facs_ctx {
    facs_device device;
    const facs_backend *backend;
    facs_arena data;   /* device memory: activations, scratch */
    facs_arena grads;  /* device memory: activation gradients, reused through free_grads */
    facs_arena host;   /* host memory: tensor headers, tape nodes */
    facs_free_grad *free_grads; /* released gradient buffers, for the next of the same size */
    facs_weight_cache *weight_cache; /* NULL: off (facs_ctx_set_weight_cache) */
    facs_node *tape;   /* newest node first */
    int training;      /* batch-norm uses batch statistics; dropout drops */
    int record;        /* ops record the tape (needed for backward) */
    uint64_t seed;     /* base seed of stochastic ops (dropout) */
    uint64_t rng_calls; /* stochastic ops drawn since the seed was set */
    /* Data parallel: the position of this rank's first sample in the step's
     * whole batch, so per-sample draws (dropout masks) are the single
     * process's whatever the number of ranks; 0 in one process. */
    int batch_offset;
    facs_profile_fn profile; /* NULL: off */
    facs_profile_backward_fn profile_backward; /* NULL: off */
    void *profile_user;      /* passed to profile and profile_backward */
    uint64_t step_id;  /* counts begin_step calls, so stamps of an earlier step are told apart */
    int tape_len;      /* nodes pushed this step: the next node's index */
    facs_grad_ready_fn grad_ready; /* NULL: off (grad_sync.h sets it) */
    void *grad_ready_user;
    /* Synchronised BatchNorm: training-mode batch statistics and their
     * gradients are summed over these ranks (comm.h); NULL: this process's batch. */
    struct facs_comm *bn_comm;
} facs_ctx;

/* NULL (with last error) if the device's backend is missing. */
facs_ctx *facs_ctx_create(facs_device device);
void facs_ctx_free(facs_ctx *ctx);

/* training: BN batch statistics and dropout; record: keep the tape for backward.
 * Evaluating a gradient in eval mode (GradCAM, facs-run --mode eval) is training 0, record 1. */
void facs_ctx_set_mode(facs_ctx *ctx, int training, int record);

/* Resets the arena and the tape: every tensor of the previous step is gone. */
void facs_ctx_begin_step(facs_ctx *ctx);

/* Seeds the stochastic ops (dropout) of one training step: ctx->seed becomes
 * a hash of (seed, step) and the step's draws restart (ctx->rng_calls = 0), so
 * step k draws the same masks whether the run got there directly or resumed
 * from a checkpoint. Call it before the step's forward pass. */
void facs_ctx_seed_step(facs_ctx *ctx, uint64_t seed, int64_t step);

/* An uninitialised arena tensor; NULL (with last error) on failure. */
facs_tensor *facs_ctx_tensor(facs_ctx *ctx, facs_dtype dtype, int n, int c, int h, int w);
/* Same, zero-filled. */
facs_tensor *facs_ctx_zeros(facs_ctx *ctx, facs_dtype dtype, int n, int c, int h, int w);
/* An uninitialised tensor shaped like t. */
facs_tensor *facs_ctx_like(facs_ctx *ctx, const facs_tensor *t);

/* Scratch device memory for backends, valid until the next begin_step. */
void *facs_ctx_scratch(facs_ctx *ctx, size_t bytes);
/* Host memory for tape state, valid until the next begin_step. */
void *facs_ctx_host_alloc(facs_ctx *ctx, size_t bytes);

/* Inference memory. Without a tape nothing refers to a network block's
 * intermediate tensors once the block has returned, so a forward pass can
 * give them back at every block boundary:
 *
 *     facs_ctx_mark m = facs_ctx_get_mark(ctx);
 *     y = block(ctx, x);                  // x was allocated before the mark
 *     y = facs_ctx_keep_only(ctx, m, y);  // y moved down to the mark; the rest is free again
 *
 * With the tape on (ctx->record) keep_only returns keep untouched, as it does
 * when the arena chained a new block since the mark (the first step of a
 * context) or when keep would overlap its new place on a device without
 * overlapping copies. Either way the result is keep's values; only its
 * address may change, and every other tensor allocated after the mark is
 * gone. A move is reported to ctx->profile as op FACS_PROFILE_MOVE (input
 * and output: keep before and after), so that timing profiles charge the
 * copy to itself rather than to the op that follows. */
#define FACS_PROFILE_MOVE "keep_only"
typedef struct {
    facs_arena_pos data, host;
} facs_ctx_mark;

facs_ctx_mark facs_ctx_get_mark(const facs_ctx *ctx);
facs_tensor *facs_ctx_keep_only(facs_ctx *ctx, facs_ctx_mark mark, facs_tensor *keep);

/* Activation gradients. Backward frees each one as soon as the op that
 * produced its tensor has run its backward (autograd.c), so a step holds only
 * the gradients still to be consumed; a released buffer serves the next
 * request of the same size. Valid until the next begin_step. */
facs_tensor *facs_ctx_grad_like(facs_ctx *ctx, const facs_tensor *t);
void facs_ctx_grad_release(facs_ctx *ctx, facs_tensor *g);

/* Weights in the backends' own layouts, kept across steps. Off by default: a
 * convolution then reorders its weight at every call (a quarter of a batch-1
 * ResNet-50 forward). On, each reordered weight is kept, keyed by the weight
 * tensor, its version (tensor.h: renewed by uploads and SGD steps, so a
 * training loop refills after every step) and the layout. Code that writes
 * weights through facs_f32 must call facs_tensor_touch, or turn the cache off.
 * Turning it off frees it. Returns FACS_OK or an allocation error. */
facs_status facs_ctx_set_weight_cache(facs_ctx *ctx, int on);

/* Weights held in the cache (0 when off): one per weight and layout. */
int facs_ctx_weight_cache_count(const facs_ctx *ctx);

/* For backends: the cached copy of w in the layout named by key (key_bytes
 * bytes, compared as bytes), `bytes` long. *fill is 1 when the caller must
 * (re)write it. NULL when the cache is off or memory ran out (then the caller
 * uses scratch as without a cache). */
void *facs_ctx_weight_cache(facs_ctx *ctx, const facs_tensor *w, const void *key, size_t key_bytes, size_t bytes,
                            int *fill);

/* Peak bytes of the device arenas (activations and scratch, plus gradients) since creation. */
size_t facs_ctx_peak_bytes(const facs_ctx *ctx);

#endif
