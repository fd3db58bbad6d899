/* BatchNorm's batch statistics on the CPU, from sums in double (as PyTorch's
 * CPU kernels accumulate them), and synchronised BatchNorm (ctx.h bn_comm):
 * the sums that make the batch statistics, and those that make their
 * gradients, are summed over the ranks, so N ranks with batch B normalise, and
 * differentiate, as one process with batch N * B. */
#ifndef FACS_CPU_BATCHNORM_SYNC_H
#define FACS_CPU_BATCHNORM_SYNC_H

#include "comm.h"
#include "tensor.h"

/* The doubles facs_cpu_bn_sums needs in work for x. */
size_t facs_cpu_bn_sums_doubles(const facs_tensor *x);

/* x's per-channel sums (work[c]) and sums of squares (work[C + c]) over its
 * N*H*W rows (NHWC), in double, and the row count (work[2C]); the rest of work
 * holds the chunks' partial sums: fixed chunks of rows summed in parallel and
 * added in chunk order, so the sums are the same for any number of threads. */
void facs_cpu_bn_sums(const facs_tensor *x, double *work);

/* The mean and biased variance of C channels from those sums (E[x^2] - E[x]^2,
 * in double: float would lose the variance to cancellation). */
void facs_cpu_bn_stats_from_sums(const double *sums, int C, float *mean, float *var);

/* The global batch's per-channel mean and biased variance of x (N*H*W rows of
 * C, NHWC), and the number of values per channel over all ranks; work as for
 * facs_cpu_bn_sums. */
facs_status facs_cpu_bn_sync_stats(facs_comm *comm, const facs_tensor *x, double *work, float *mean, float *var,
                                   int64_t *count);

/* Turns dx from the constant-statistics formula (gamma * invstd * dy) into the
 * batch-statistics one, given the rank's sums dgamma_local = sum dy * xhat and
 * dbeta_local = sum dy (as oneDNN returns them in that mode): subtracts
 * gamma * invstd * (sum dy + xhat * sum dy * xhat) / M with the sums and M over all ranks. */
facs_status facs_cpu_bn_sync_dx(facs_comm *comm, const facs_tensor *x, const float *gamma, const float *mean,
                                const float *invstd, const float *dgamma_local, const float *dbeta_local, float *dx);

#endif
