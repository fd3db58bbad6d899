/* The communicator's dispatch and its single-process transport (comm.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "comm.h"

static facs_status single_sum(facs_comm *comm, void *buf, size_t count, facs_comm_dtype dtype)
{
    (void)comm, (void)buf, (void)count, (void)dtype;
    return FACS_OK; /* the sum over one rank is its own buffer */
}

static facs_status single_broadcast(facs_comm *comm, void *buf, size_t bytes, int root)
{
    (void)comm, (void)buf, (void)bytes;
    return root == 0 ? FACS_OK : facs_fail(FACS_ERR_ARG, "broadcast from rank %d of a single process", root);
}

static facs_status single_gather(facs_comm *comm, const void *buf, size_t bytes, int root, void **out,
                                 size_t *out_bytes)
{
    (void)comm;
    if (root != 0)
        return facs_fail(FACS_ERR_ARG, "gather to rank %d of a single process", root);
    if (!(*out = malloc(bytes ? bytes : 1)))
        return facs_fail(FACS_ERR_MEMORY, "out of memory gathering %zu bytes", bytes);
    if (bytes)
        memcpy(*out, buf, bytes);
    *out_bytes = bytes;
    return FACS_OK;
}

static facs_status single_nothing(facs_comm *comm)
{
    (void)comm;
    return FACS_OK;
}

static void single_abort(facs_comm *comm, int code)
{
    (void)comm;
    exit(code);
}

static void single_close(facs_comm *comm) { (void)comm; }

static const facs_comm_ops single_ops = {.name = "single",
                                         .allreduce_sum = single_sum,
                                         .broadcast = single_broadcast,
                                         .gather = single_gather,
                                         .start_sum = single_sum,
                                         .progress = single_nothing,
                                         .wait_all = single_nothing,
                                         .abort = single_abort,
                                         .close = single_close};

facs_status facs_comm_open_single(facs_comm **out)
{
    *out = calloc(1, sizeof **out);
    if (!*out)
        return facs_fail(FACS_ERR_MEMORY, "out of memory for the communicator");
    (*out)->ops = &single_ops;
    (*out)->size = 1;
    return FACS_OK;
}

#ifndef FACS_WITH_MPI
int facs_comm_mpi_launched(void) { return 0; }

facs_status facs_comm_mpi_open(facs_comm *comm)
{
    (void)comm;
    return facs_fail(FACS_ERR_UNSUPPORTED, "this build has no MPI (configure with -DFACS_MPI=ON and Open MPI)");
}
#endif

facs_status facs_comm_open(facs_comm **out)
{
    FACS_TRY(facs_comm_open_single(out));
    if (!facs_comm_mpi_launched())
        return FACS_OK;
    facs_status s = facs_comm_mpi_open(*out);
    if (s != FACS_OK) {
        free(*out);
        *out = NULL;
    }
    return s;
}

facs_comm *facs_comm_open_or_exit(const char *who, int exit_code)
{
    facs_comm *comm;
    if (facs_comm_open(&comm) != FACS_OK) {
        fprintf(stderr, "%s: %s\n", who, facs_last_error());
        exit(exit_code);
    }
    return comm;
}

void facs_comm_close(facs_comm *comm)
{
    if (!comm)
        return;
    if (comm->device_ops && comm->device_ops != comm->ops)
        comm->device_ops->close(comm); /* NCCL first: it was bootstrapped over the host transport */
    comm->ops->close(comm);
    free(comm);
}

int facs_comm_local_rank(void)
{
    static const char *const names[] = {"OMPI_COMM_WORLD_LOCAL_RANK", "MPI_LOCALRANKID", "SLURM_LOCALID"};
    for (size_t i = 0; i < sizeof names / sizeof *names; i++) {
        const char *v = getenv(names[i]);
        char *end;
        long rank = v ? strtol(v, &end, 10) : -1;
        if (v && *v && !*end && rank >= 0 && rank < (1 << 20))
            return (int)rank;
    }
    return -1;
}

int facs_comm_rank(const facs_comm *comm) { return comm->rank; }
int facs_comm_size(const facs_comm *comm) { return comm->size; }
const char *facs_comm_transport(const facs_comm *comm) { return comm->ops->name; }

facs_status facs_comm_allreduce_sum(facs_comm *comm, void *buf, size_t count, facs_comm_dtype dtype)
{
    return comm->ops->allreduce_sum(comm, buf, count, dtype);
}

facs_status facs_comm_broadcast(facs_comm *comm, void *buf, size_t bytes, int root)
{
    return comm->ops->broadcast(comm, buf, bytes, root);
}

facs_status facs_comm_gather(facs_comm *comm, const void *buf, size_t bytes, int root, void **out,
                             size_t *out_bytes)
{
    *out = NULL;
    *out_bytes = 0;
    return comm->ops->gather(comm, buf, bytes, root, out, out_bytes);
}

facs_status facs_comm_start_sum(facs_comm *comm, void *buf, size_t count, facs_comm_dtype dtype)
{
    return comm->ops->start_sum(comm, buf, count, dtype);
}

facs_status facs_comm_progress(facs_comm *comm) { return comm->ops->progress(comm); }
facs_status facs_comm_wait_all(facs_comm *comm) { return comm->ops->wait_all(comm); }

void facs_comm_abort(facs_comm *comm, int code)
{
    comm->ops->abort(comm, code);
    exit(code); /* a transport's abort does not return either; this keeps the promise if one did */
}

#if !defined(FACS_WITH_NCCL)
facs_status facs_comm_nccl_open(facs_comm *comm)
{
    (void)comm;
    return facs_fail(FACS_ERR_UNSUPPORTED, "sums over ranks of CUDA tensors need NCCL: this build has none "
                     "(configure with CUDA, MPI and NCCL found: FACS_CUDA, FACS_MPI, FACS_NCCL)");
}
#endif

facs_status facs_comm_use_device(facs_comm *comm, facs_device device)
{
    if (comm->device_ops && comm->device_kind == device)
        return FACS_OK;
    if (comm->device_ops)
        return facs_fail(FACS_ERR_ARG, "the communicator already serves %s tensors, not %s",
                         facs_device_name(comm->device_kind), facs_device_name(device));
    /* Emulated CUDA memory is host memory. A single rank opens NCCL too: the
     * tools never ask for it then, and a test on one GPU can. */
    int host_memory = device == FACS_DEVICE_CPU;
#ifdef FACS_CUDA_EMULATION
    host_memory = 1;
#endif
    if (device == FACS_DEVICE_META)
        return facs_fail(FACS_ERR_ARG, "collectives over meta tensors (they hold no values)");
    if (host_memory)
        comm->device_ops = comm->ops;
    else
        FACS_TRY(facs_comm_nccl_open(comm));
    comm->device_kind = device;
    return FACS_OK;
}

/* The ops serving device's memory, or NULL with the error. */
static const facs_comm_ops *device_ops(facs_comm *comm, facs_device device)
{
    if (!comm->device_ops || comm->device_kind != device) {
        facs_fail(FACS_ERR_ARG, "collective over %s tensors: facs_comm_use_device(%s) was not called",
                  facs_device_name(device), facs_device_name(device));
        return NULL;
    }
    return comm->device_ops;
}

facs_status facs_comm_sum_on(facs_comm *comm, facs_device device, void *buf, size_t count, facs_comm_dtype dtype)
{
    const facs_comm_ops *ops = device_ops(comm, device);
    return ops ? ops->allreduce_sum(comm, buf, count, dtype) : FACS_ERR_ARG;
}

facs_status facs_comm_broadcast_on(facs_comm *comm, facs_device device, void *buf, size_t bytes, int root)
{
    const facs_comm_ops *ops = device_ops(comm, device);
    return ops ? ops->broadcast(comm, buf, bytes, root) : FACS_ERR_ARG;
}

facs_status facs_comm_start_sum_on(facs_comm *comm, facs_device device, void *buf, size_t count,
                                   facs_comm_dtype dtype)
{
    const facs_comm_ops *ops = device_ops(comm, device);
    return ops ? ops->start_sum(comm, buf, count, dtype) : FACS_ERR_ARG;
}

facs_status facs_comm_progress_on(facs_comm *comm, facs_device device)
{
    const facs_comm_ops *ops = device_ops(comm, device);
    return ops ? ops->progress(comm) : FACS_ERR_ARG;
}

facs_status facs_comm_wait_all_on(facs_comm *comm, facs_device device)
{
    const facs_comm_ops *ops = device_ops(comm, device);
    return ops ? ops->wait_all(comm) : FACS_ERR_ARG;
}
