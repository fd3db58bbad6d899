/* The communicator's Open MPI transport (comm.h), compiled when CMake finds
 * MPI. CPU buffers only: GPU tensors go through NCCL, bootstrapped over this. */
#include <limits.h>
#include <mpi.h>
#include <stdlib.h>

#include "comm.h"

typedef struct {
    MPI_Request *pending; /* started sums not yet waited for */
    int count, capacity;
} mpi_state;

int facs_comm_mpi_launched(void)
{
    /* Open MPI's mpirun, a PMIx launcher (srun, prterun) or MPICH's hydra. */
    return getenv("OMPI_COMM_WORLD_SIZE") || getenv("PMIX_RANK") || getenv("PMI_RANK");
}

static facs_status check(int rc, const char *what)
{
    if (rc == MPI_SUCCESS)
        return FACS_OK;
    char text[MPI_MAX_ERROR_STRING];
    int len = 0;
    MPI_Error_string(rc, text, &len);
    return facs_fail(FACS_ERR_BACKEND, "MPI %s failed: %s", what, text);
}

static facs_status datatype_of(facs_comm_dtype dtype, size_t count, MPI_Datatype *out)
{
    if (count > INT_MAX)
        return facs_fail(FACS_ERR_ARG, "MPI: %zu elements in one call (at most %d)", count, INT_MAX);
    *out = dtype == FACS_COMM_F32 ? MPI_FLOAT : dtype == FACS_COMM_F64 ? MPI_DOUBLE : MPI_INT64_T;
    return FACS_OK;
}

static facs_status mpi_allreduce_sum(facs_comm *comm, void *buf, size_t count, facs_comm_dtype dtype)
{
    (void)comm;
    MPI_Datatype type = MPI_DATATYPE_NULL;
    FACS_TRY(datatype_of(dtype, count, &type));
    return check(MPI_Allreduce(MPI_IN_PLACE, buf, (int)count, type, MPI_SUM, MPI_COMM_WORLD), "all-reduce");
}

static facs_status mpi_broadcast(facs_comm *comm, void *buf, size_t bytes, int root)
{
    (void)comm;
    if (bytes > INT_MAX)
        return facs_fail(FACS_ERR_ARG, "MPI: %zu bytes in one broadcast (at most %d)", bytes, INT_MAX);
    return check(MPI_Bcast(buf, (int)bytes, MPI_BYTE, root, MPI_COMM_WORLD), "broadcast");
}

static facs_status mpi_start_sum(facs_comm *comm, void *buf, size_t count, facs_comm_dtype dtype)
{
    mpi_state *st = comm->impl;
    MPI_Datatype type = MPI_DATATYPE_NULL;
    FACS_TRY(datatype_of(dtype, count, &type));
    if (st->count == st->capacity) {
        int capacity = st->capacity ? 2 * st->capacity : 16;
        MPI_Request *grown = realloc(st->pending, (size_t)capacity * sizeof *grown);
        if (!grown)
            return facs_fail(FACS_ERR_MEMORY, "MPI: out of memory for requests");
        st->pending = grown;
        st->capacity = capacity;
    }
    return check(MPI_Iallreduce(MPI_IN_PLACE, buf, (int)count, type, MPI_SUM, MPI_COMM_WORLD,
                                &st->pending[st->count++]),
                 "non-blocking all-reduce");
}

static facs_status mpi_progress(facs_comm *comm)
{
    mpi_state *st = comm->impl;
    int done = 0;
    return st->count ? check(MPI_Testall(st->count, st->pending, &done, MPI_STATUSES_IGNORE), "test") : FACS_OK;
}

static facs_status mpi_wait_all(facs_comm *comm)
{
    mpi_state *st = comm->impl;
    int n = st->count;
    st->count = 0;
    return n ? check(MPI_Waitall(n, st->pending, MPI_STATUSES_IGNORE), "wait") : FACS_OK;
}

/* MPI counts bytes in int: every rank checks the same sizes, so all refuse together instead of leaving root waiting. */
static facs_status gather_layout(int ranks, const int64_t *sizes, int *counts, int *offsets, size_t *total)
{
    int64_t sum = 0;
    for (int r = 0; r < ranks; r++) {
        offsets[r] = (int)sum;
        counts[r] = (int)sizes[r];
        sum += sizes[r];
        if (sum > INT_MAX)
            return facs_fail(FACS_ERR_ARG, "MPI: gathering more than %d bytes in one call", INT_MAX);
    }
    *total = (size_t)sum;
    return FACS_OK;
}

static facs_status mpi_gather(facs_comm *comm, const void *buf, size_t bytes, int root, void **out,
                              size_t *out_bytes)
{
    int ranks = comm->size, is_root = comm->rank == root;
    int64_t mine = bytes > INT_MAX ? (int64_t)INT_MAX + 1 : (int64_t)bytes;
    int64_t *sizes = malloc(sizeof *sizes * (size_t)ranks);
    int *counts = malloc(sizeof *counts * (size_t)ranks), *offsets = malloc(sizeof *offsets * (size_t)ranks);
    facs_status s = sizes && counts && offsets ? FACS_OK : facs_fail(FACS_ERR_MEMORY, "MPI: out of memory");
    /* A failure before the gather leaves the others waiting in it: the caller ends the run (facs_comm_abort). */
    if (s == FACS_OK)
        s = check(MPI_Allgather(&mine, 1, MPI_INT64_T, sizes, 1, MPI_INT64_T, MPI_COMM_WORLD), "gather of sizes");
    size_t total = 0;
    if (s == FACS_OK)
        s = gather_layout(ranks, sizes, counts, offsets, &total);
    char *all = NULL;
    if (s == FACS_OK && is_root && !(all = malloc(total ? total : 1)))
        s = facs_fail(FACS_ERR_MEMORY, "MPI: out of memory gathering %zu bytes", total);
    if (s == FACS_OK)
        s = check(MPI_Gatherv(buf, (int)bytes, MPI_BYTE, all, counts, offsets, MPI_BYTE, root, MPI_COMM_WORLD),
                  "gather");
    free(sizes);
    free(counts);
    free(offsets);
    if (s != FACS_OK) {
        free(all);
        return s;
    }
    *out = all;
    *out_bytes = is_root ? total : 0;
    return FACS_OK;
}

static void mpi_abort(facs_comm *comm, int code)
{
    (void)comm;
    MPI_Abort(MPI_COMM_WORLD, code);
}

static void mpi_close(facs_comm *comm)
{
    mpi_state *st = comm->impl;
    free(st->pending);
    free(st);
    MPI_Finalize();
}

static const facs_comm_ops mpi_ops = {.name = "mpi",
                                      .allreduce_sum = mpi_allreduce_sum,
                                      .broadcast = mpi_broadcast,
                                      .gather = mpi_gather,
                                      .start_sum = mpi_start_sum,
                                      .progress = mpi_progress,
                                      .wait_all = mpi_wait_all,
                                      .abort = mpi_abort,
                                      .close = mpi_close};

facs_status facs_comm_mpi_open(facs_comm *comm)
{
    mpi_state *st = calloc(1, sizeof *st);
    if (!st)
        return facs_fail(FACS_ERR_MEMORY, "out of memory for the communicator");
    /* Only the thread that calls the library talks to MPI (OpenMP and loader threads never do). */
    int provided = 0;
    facs_status s = check(MPI_Init_thread(NULL, NULL, MPI_THREAD_FUNNELED, &provided), "initialisation");
    if (s != FACS_OK) {
        free(st);
        return s;
    }
    /* Errors come back as codes, so the message names the call instead of MPI printing and aborting. */
    MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
    MPI_Comm_rank(MPI_COMM_WORLD, &comm->rank);
    MPI_Comm_size(MPI_COMM_WORLD, &comm->size);
    comm->ops = &mpi_ops;
    comm->impl = st;
    return FACS_OK;
}
