/* The communicator's CUDA collectives through NCCL (comm.h "Collectives on
 * tensor memory"), built with CUDA and MPI when NCCL is found. One NCCL
 * communicator per run, bootstrapped over the host transport: rank 0 makes
 * the unique id and broadcasts it.
 *
 * Streams: every NCCL call runs on one stream of its own, created
 * non-blocking so that the legacy default stream (where every kernel of the
 * backend runs) does not serialise with it. A call first makes that stream
 * wait for what the default stream has queued (the buffer's producer); a sum
 * that must be seen at once (sum_on, broadcast_on) then makes the default
 * stream wait for the NCCL stream; started sums leave that to wait_all, so
 * the kernels queued meanwhile (the rest of backward) overlap them. One
 * stream keeps the calls in the order they were made, the same on every
 * rank, as NCCL requires. */
#include <cuda_runtime.h>
#include <nccl.h>
#include <stdlib.h>

#include "comm.h"

typedef struct {
    ncclComm_t nccl;
    cudaStream_t stream;
    cudaEvent_t queued; /* recorded on the default stream: what NCCL's stream waits for */
    cudaEvent_t landed; /* recorded on NCCL's stream: what the default stream waits for */
} nccl_state;

static nccl_state *state_of(facs_comm *comm) { return comm->device_impl; }

static facs_status nccl_check(ncclResult_t rc, const nccl_state *st, const char *what)
{
    if (rc == ncclSuccess)
        return FACS_OK;
    const char *detail = st && st->nccl ? ncclGetLastError(st->nccl) : "";
    return facs_fail(FACS_ERR_BACKEND, "NCCL %s failed: %s%s%s", what, ncclGetErrorString(rc),
                     detail && *detail ? ": " : "", detail ? detail : "");
}

static facs_status cuda_check(cudaError_t rc, const char *what)
{
    return rc == cudaSuccess ? FACS_OK
                             : facs_fail(FACS_ERR_BACKEND, "NCCL transport: %s failed: %s", what, cudaGetErrorString(rc));
}

static ncclDataType_t nccl_type(facs_comm_dtype dtype)
{
    return dtype == FACS_COMM_F32 ? ncclFloat32 : dtype == FACS_COMM_F64 ? ncclFloat64 : ncclInt64;
}

/* NCCL's stream waits for the default stream's queued work. */
static facs_status after_default_stream(nccl_state *st)
{
    FACS_TRY(cuda_check(cudaEventRecord(st->queued, 0), "cudaEventRecord"));
    return cuda_check(cudaStreamWaitEvent(st->stream, st->queued, 0), "cudaStreamWaitEvent");
}

/* The default stream's later work waits for everything NCCL's stream holds. */
static facs_status nccl_wait_all(facs_comm *comm)
{
    nccl_state *st = state_of(comm);
    FACS_TRY(cuda_check(cudaEventRecord(st->landed, st->stream), "cudaEventRecord"));
    return cuda_check(cudaStreamWaitEvent(0, st->landed, 0), "cudaStreamWaitEvent");
}

static facs_status nccl_start_sum(facs_comm *comm, void *buf, size_t count, facs_comm_dtype dtype)
{
    nccl_state *st = state_of(comm);
    FACS_TRY(after_default_stream(st));
    return nccl_check(ncclAllReduce(buf, buf, count, nccl_type(dtype), ncclSum, st->nccl, st->stream), st,
                      "all-reduce");
}

static facs_status nccl_sum(facs_comm *comm, void *buf, size_t count, facs_comm_dtype dtype)
{
    FACS_TRY(nccl_start_sum(comm, buf, count, dtype));
    return nccl_wait_all(comm);
}

static facs_status nccl_broadcast(facs_comm *comm, void *buf, size_t bytes, int root)
{
    nccl_state *st = state_of(comm);
    FACS_TRY(after_default_stream(st));
    FACS_TRY(nccl_check(ncclBroadcast(buf, buf, bytes, ncclUint8, root, st->nccl, st->stream), st, "broadcast"));
    return nccl_wait_all(comm);
}

/* NCCL moves its operations along on the GPU: nothing to do on the host. */
static facs_status nccl_progress(facs_comm *comm)
{
    (void)comm;
    return FACS_OK;
}

static void release(nccl_state *st, int abort)
{
    if (st->nccl) {
        if (abort)
            ncclCommAbort(st->nccl);
        else if (ncclCommFinalize(st->nccl) == ncclSuccess)
            ncclCommDestroy(st->nccl);
        else
            ncclCommAbort(st->nccl);
    }
    if (st->queued)
        cudaEventDestroy(st->queued);
    if (st->landed)
        cudaEventDestroy(st->landed);
    if (st->stream)
        cudaStreamDestroy(st->stream);
    free(st);
}

/* Stops NCCL's kernels (a peer may never arrive) before the host transport ends every rank. */
static void nccl_abort(facs_comm *comm, int code)
{
    release(state_of(comm), 1);
    comm->device_impl = NULL;
    comm->ops->abort(comm, code);
}

static void nccl_close(facs_comm *comm)
{
    release(state_of(comm), 0);
    comm->device_impl = NULL;
}

static const facs_comm_ops nccl_ops = {.name = "nccl",
                                       .allreduce_sum = nccl_sum,
                                       .broadcast = nccl_broadcast,
                                       .start_sum = nccl_start_sum,
                                       .progress = nccl_progress,
                                       .wait_all = nccl_wait_all,
                                       .abort = nccl_abort,
                                       .close = nccl_close};

static facs_status open_state(facs_comm *comm, nccl_state *st)
{
    FACS_TRY(cuda_check(cudaStreamCreateWithFlags(&st->stream, cudaStreamNonBlocking), "cudaStreamCreate"));
    FACS_TRY(cuda_check(cudaEventCreateWithFlags(&st->queued, cudaEventDisableTiming), "cudaEventCreate"));
    FACS_TRY(cuda_check(cudaEventCreateWithFlags(&st->landed, cudaEventDisableTiming), "cudaEventCreate"));
    ncclUniqueId id = {0};
    if (comm->rank == 0)
        FACS_TRY(nccl_check(ncclGetUniqueId(&id), NULL, "unique id"));
    FACS_TRY(comm->ops->broadcast(comm, &id, sizeof id, 0));
    return nccl_check(ncclCommInitRank(&st->nccl, comm->size, id, comm->rank), NULL, "communicator setup");
}

facs_status facs_comm_nccl_open(facs_comm *comm)
{
    nccl_state *st = calloc(1, sizeof *st);
    if (!st)
        return facs_fail(FACS_ERR_MEMORY, "out of memory for the NCCL communicator");
    facs_status s = open_state(comm, st);
    if (s != FACS_OK) {
        release(st, 1);
        return s;
    }
    comm->device_ops = &nccl_ops;
    comm->device_impl = st;
    return FACS_OK;
}
