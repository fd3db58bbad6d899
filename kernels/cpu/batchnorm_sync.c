/* Synchronised BatchNorm's sums over the ranks (batchnorm_sync.h). The local
 * sums are accumulated in double: the variance comes from E[x^2] - E[x]^2,
 * which float would lose to cancellation. */
#include <stdlib.h>

#include "batchnorm_sync.h"

facs_status facs_cpu_bn_sync_stats(facs_comm *comm, const facs_tensor *x, float *mean, float *var,
                                   int64_t *count)
{
    const int C = x->c;
    const int64_t rows = (int64_t)x->n * x->h * x->w;
    /* sum[C], sum of squares[C], values per channel */
    double *sums = calloc((size_t)2 * C + 1, sizeof *sums);
    if (!sums)
        return facs_fail(FACS_ERR_MEMORY, "batchnorm2d: out of memory for the synchronised statistics");
    const float *v = facs_f32(x);
    for (int64_t r = 0; r < rows; r++)
        for (int c = 0; c < C; c++) {
            double a = v[r * C + c];
            sums[c] += a;
            sums[C + c] += a * a;
        }
    sums[2 * C] = (double)rows;
    facs_status s = facs_comm_allreduce_sum(comm, sums, (size_t)2 * C + 1, FACS_COMM_F64);
    if (s == FACS_OK) {
        double m = sums[2 * C];
        for (int c = 0; c < C; c++) {
            double mu = sums[c] / m, var_c = sums[C + c] / m - mu * mu;
            mean[c] = (float)mu;
            var[c] = (float)(var_c > 0 ? var_c : 0);
        }
        *count = (int64_t)m;
    }
    free(sums);
    return s;
}

facs_status facs_cpu_bn_sync_dx(facs_comm *comm, const facs_tensor *x, const float *gamma, const float *mean,
                                const float *invstd, const float *dgamma_local, const float *dbeta_local, float *dx)
{
    const int C = x->c;
    const int64_t rows = (int64_t)x->n * x->h * x->w;
    /* sum dy * xhat[C], sum dy[C], values per channel */
    double *sums = malloc(((size_t)2 * C + 1) * sizeof *sums);
    float *coef = malloc((size_t)2 * C * sizeof *coef); /* per channel: dx -= coef[c] + coef[C + c] * (x - mean) */
    if (!sums || !coef) {
        free(sums);
        free(coef);
        return facs_fail(FACS_ERR_MEMORY, "batchnorm2d: out of memory for the synchronised gradient");
    }
    for (int c = 0; c < C; c++) {
        sums[c] = dgamma_local[c];
        sums[C + c] = dbeta_local[c];
    }
    sums[2 * C] = (double)rows;
    facs_status s = facs_comm_allreduce_sum(comm, sums, (size_t)2 * C + 1, FACS_COMM_F64);
    if (s == FACS_OK) {
        double m = sums[2 * C];
        for (int c = 0; c < C; c++) {
            double k = (double)gamma[c] * invstd[c] / m;
            coef[c] = (float)(k * sums[C + c]);
            coef[C + c] = (float)(k * invstd[c] * sums[c]);
        }
        const float *v = facs_f32(x);
#pragma omp parallel for schedule(static)
        for (int64_t r = 0; r < rows; r++)
            for (int c = 0; c < C; c++)
                dx[r * C + c] -= coef[c] + coef[C + c] * (v[r * C + c] - mean[c]);
    }
    free(coef);
    free(sums);
    return s;
}
