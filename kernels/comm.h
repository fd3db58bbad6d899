/* The communicator of data-parallel training: the processes of one run (its
 * ranks) sum buffers and share rank 0's values. One implementation per
 * transport: a single process (no transport, every call returns at once) and
 * Open MPI (kernels/mpi/, built when CMake finds MPI: FACS_MPI=AUTO|ON|OFF).
 *
 *     facs_comm *comm;
 *     if (facs_comm_open(&comm) != FACS_OK) ... facs_last_error() ...
 *     if (facs_comm_rank(comm) == 0) ... only rank 0 writes files ...
 *     facs_comm_allreduce_sum(comm, grads, n, FACS_COMM_F32);  // every rank ends with the sum
 *     facs_comm_close(comm);
 *
 * facs_comm_open joins MPI only when the process was started by mpirun (Open
 * MPI's or PMIx's launch variables are set), so a plain run never initialises
 * MPI and a build without MPI behaves exactly like one process.
 *
 * Collectives must be called by every rank in the same order with the same
 * counts (MPI's rule); a rank that cannot go on calls facs_comm_abort, which
 * ends every rank (mpirun reports it), instead of leaving the others waiting.
 *
 * Non-blocking sums (gradient buckets, grad_sync.h): facs_comm_start_sum
 * starts one and returns at once; facs_comm_progress lets the transport move
 * the started ones along (Open MPI progresses inside its calls only), and
 * facs_comm_wait_all returns when every started sum has landed in its buffer.
 * A buffer must not be touched between its start and wait_all. */
#ifndef FACS_COMM_H
#define FACS_COMM_H

#include <stddef.h>
#include <stdint.h>

#include "status.h"
#include "tensor.h" /* facs_device */

typedef enum { FACS_COMM_F32, FACS_COMM_F64, FACS_COMM_I64 } facs_comm_dtype;

typedef struct facs_comm facs_comm;

/* The ranks of this run: MPI's world under mpirun, else this process alone. */
facs_status facs_comm_open(facs_comm **out);
/* facs_comm_open for a program's main: on failure prints "who: <error>" on
 * stderr and exits with exit_code. */
facs_comm *facs_comm_open_or_exit(const char *who, int exit_code);
/* A single-process communicator, whatever launched the process. */
facs_status facs_comm_open_single(facs_comm **out);
/* Leaves MPI (after which this process cannot rejoin); NULL is fine. */
void facs_comm_close(facs_comm *comm);

/* This process's rank among the run's processes on its machine, as the
 * launcher tells it (Open MPI, MPICH's hydra, Slurm), or -1 when none does:
 * which GPU a rank takes. */
int facs_comm_local_rank(void);

int facs_comm_rank(const facs_comm *comm);
int facs_comm_size(const facs_comm *comm);
/* "mpi" or "single", for logs. */
const char *facs_comm_transport(const facs_comm *comm);

/* In place: every rank's buf becomes the element-wise sum over the ranks. */
facs_status facs_comm_allreduce_sum(facs_comm *comm, void *buf, size_t count, facs_comm_dtype dtype);
/* In place: every rank's buf becomes rank root's. */
facs_status facs_comm_broadcast(facs_comm *comm, void *buf, size_t bytes, int root);
/* Every rank's bytes (any size, 0 too; each rank its own) one after the
 * other in rank order on rank root: *out (malloc'ed, the caller frees it)
 * holding *out_bytes; the other ranks get NULL and 0. For reports that only
 * rank 0 prints, such as the files each rank's loader skipped. */
facs_status facs_comm_gather(facs_comm *comm, const void *buf, size_t bytes, int root, void **out,
                             size_t *out_bytes);

facs_status facs_comm_start_sum(facs_comm *comm, void *buf, size_t count, facs_comm_dtype dtype);
facs_status facs_comm_progress(facs_comm *comm);
facs_status facs_comm_wait_all(facs_comm *comm);

/* Ends every rank of the run with exit code `code` (does not return). */
void facs_comm_abort(facs_comm *comm, int code);

/* Collectives on tensor memory (gradient buckets, synchronised BatchNorm,
 * parameter broadcast). The calls above take host memory; these take memory
 * of `device`, which facs_comm_use_device must have named first (once, every
 * rank the same). The CPU's memory goes through the host transport. CUDA
 * memory goes through NCCL (kernels/nccl/, built with CUDA and MPI when NCCL
 * is found), bootstrapped over the host transport; under the CPU emulation of
 * CUDA, device memory is host memory and takes the host transport too.
 *
 * CUDA ordering: a collective runs after the kernels already queued on the
 * default stream, and the kernels queued after facs_comm_sum_on (or after
 * facs_comm_wait_all_on, for started sums) see its result; the host does not
 * wait. facs_comm_start_sum_on runs on the transport's own stream, so it
 * overlaps the kernels queued after it until facs_comm_wait_all_on. */
facs_status facs_comm_use_device(facs_comm *comm, facs_device device);
facs_status facs_comm_sum_on(facs_comm *comm, facs_device device, void *buf, size_t count, facs_comm_dtype dtype);
facs_status facs_comm_broadcast_on(facs_comm *comm, facs_device device, void *buf, size_t bytes, int root);
facs_status facs_comm_start_sum_on(facs_comm *comm, facs_device device, void *buf, size_t count,
                                   facs_comm_dtype dtype);
facs_status facs_comm_progress_on(facs_comm *comm, facs_device device);
facs_status facs_comm_wait_all_on(facs_comm *comm, facs_device device);

/* The transport's entry points (comm.c dispatches to them). */
typedef struct {
    const char *name;
    facs_status (*allreduce_sum)(facs_comm *comm, void *buf, size_t count, facs_comm_dtype dtype);
    facs_status (*broadcast)(facs_comm *comm, void *buf, size_t bytes, int root);
    /* NULL where not offered (NCCL: the reports it serves are host data). */
    facs_status (*gather)(facs_comm *comm, const void *buf, size_t bytes, int root, void **out, size_t *out_bytes);
    facs_status (*start_sum)(facs_comm *comm, void *buf, size_t count, facs_comm_dtype dtype);
    facs_status (*progress)(facs_comm *comm);
    facs_status (*wait_all)(facs_comm *comm);
    void (*abort)(facs_comm *comm, int code);
    void (*close)(facs_comm *comm);
} facs_comm_ops;

struct facs_comm {
    const facs_comm_ops *ops;
    int rank, size;
    void *impl; /* the transport's own state */
    /* Tensor memory of device_kind (facs_comm_use_device): the host ops for
     * the CPU, NCCL's for CUDA (its state in device_impl). */
    facs_device device_kind;
    const facs_comm_ops *device_ops;
    void *device_impl;
};

/* Built with MPI: whether mpirun started this process, and joining its world. */
int facs_comm_mpi_launched(void);
facs_status facs_comm_mpi_open(facs_comm *comm);
/* Built with NCCL: the communicator's CUDA collectives (device_ops). */
facs_status facs_comm_nccl_open(facs_comm *comm);

#endif
