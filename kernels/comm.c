/* The communicator's dispatch and its single-process transport (comm.h). */
#include <stdlib.h>

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

static const facs_comm_ops single_ops = {"single",       single_sum,     single_broadcast, single_sum,
                                         single_nothing, single_nothing, single_abort,     single_close};

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

void facs_comm_close(facs_comm *comm)
{
    if (!comm)
        return;
    comm->ops->close(comm);
    free(comm);
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
