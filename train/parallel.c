/* Data-parallel training for the run layer (parallel.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "interrupt.h"
#include "parallel.h"

facs_comm *facs_parallel_open(const char *tool)
{
    facs_comm *comm = facs_comm_open_or_exit(tool, FACS_EXIT_ERROR);
    if (facs_comm_rank(comm) != 0 && !freopen("/dev/null", "w", stdout))
        fprintf(stderr, "%s: rank %d: /dev/null: cannot open\n", tool, facs_comm_rank(comm));
    return comm;
}

facs_status facs_parallel_check_batch(int batch, int ranks)
{
    if (batch % ranks != 0)
        return facs_fail(FACS_ERR_ARG, "--batch %d is the global batch and must split evenly over the %d ranks", batch,
                         ranks);
    if (batch / ranks < 2) /* per rank, SyncBN or not: the op normalises the values it holds */
        return facs_fail(FACS_ERR_ARG, "--batch %d%s: BatchNorm needs at least 2 images per batch in training", batch,
                         ranks > 1 ? " over the ranks gives each rank 1 image" : "");
    return FACS_OK;
}

facs_status facs_parallel_setup(facs_parallel *p, facs_comm *comm, facs_ctx *ctx, facs_param_list *params,
                                int sync_bn)
{
    memset(p, 0, sizeof *p);
    p->comm = comm;
    if (sync_bn)
        ctx->bn_comm = comm;
    if (facs_comm_size(comm) == 1)
        return FACS_OK;
    FACS_TRY(facs_comm_use_device(comm, ctx->device)); /* NCCL's setup, for CUDA tensors */
    FACS_TRY(facs_params_broadcast(comm, params));
    FACS_TRY(facs_grad_sync_create(comm, params, FACS_GRAD_BUCKET_BYTES, &p->gsync));
    facs_grad_sync_attach(p->gsync, ctx);
    return FACS_OK;
}

void facs_parallel_free(facs_parallel *p)
{
    facs_grad_sync_free(p->gsync);
    p->gsync = NULL;
}

facs_status facs_parallel_agree(facs_parallel *p, int64_t local, int64_t *global)
{
    int64_t v[2] = {local, facs_interrupted() ? 1 : 0};
    FACS_TRY(facs_comm_allreduce_sum(p->comm, v, 2, FACS_COMM_I64));
    *global = v[0];
    p->stopped = v[1] > 0;
    return FACS_OK;
}

facs_status facs_parallel_agree_text(facs_comm *comm, const char *text, char **rank0, int *same)
{
    *rank0 = NULL;
    *same = 1;
    int root = facs_comm_rank(comm) == 0;
    int64_t length = root ? (int64_t)strlen(text) : 0;
    FACS_TRY(facs_comm_broadcast(comm, &length, sizeof length, 0));
    if (!(*rank0 = malloc((size_t)length + 1)))
        return facs_fail(FACS_ERR_MEMORY, "out of memory for rank 0's %lld bytes of options", (long long)length);
    if (root)
        memcpy(*rank0, text, (size_t)length + 1);
    FACS_TRY(facs_comm_broadcast(comm, *rank0, (size_t)length + 1, 0));
    int64_t differ = strcmp(*rank0, text) != 0;
    FACS_TRY(facs_comm_allreduce_sum(comm, &differ, 1, FACS_COMM_I64));
    *same = differ == 0;
    return FACS_OK;
}

int facs_parallel_stop_requested(facs_parallel *p)
{
    int64_t asked = facs_interrupted() ? 1 : 0;
    if (facs_comm_allreduce_sum(p->comm, &asked, 1, FACS_COMM_I64) != FACS_OK)
        asked = 1; /* the ranks cannot talk: stopping is all that is left */
    return p->stopped = asked > 0;
}

int facs_parallel_stop_hook(void *user) { return facs_parallel_stop_requested(user); }

facs_tensor *facs_parallel_loss_seed(facs_ctx *ctx, int64_t local, int64_t global)
{
    if (local == global)
        return NULL;
    float share = (float)((double)local / (double)global);
    facs_tensor *g = facs_ctx_tensor(ctx, FACS_F32, 1, 1, 1, 1);
    if (g && facs_tensor_upload(g, &share, sizeof share) != FACS_OK)
        return NULL;
    return g;
}

facs_status facs_parallel_finish_grads(facs_parallel *p)
{
    return p->gsync ? facs_grad_sync_finish(p->gsync) : FACS_OK;
}

const char *facs_parallel_rank_label(int rank, int ranks)
{
    static char label[48];
    if (ranks <= 1)
        return "";
    snprintf(label, sizeof label, "rank %d of %d: ", rank, ranks);
    return label;
}

void facs_parallel_fail(facs_comm *comm, int rc)
{
    if (facs_comm_size(comm) > 1) {
        fflush(stderr);
        facs_comm_abort(comm, rc);
    }
}
