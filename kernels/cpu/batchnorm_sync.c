/* BatchNorm's statistics from sums in double, and synchronised BatchNorm's
 * sums over the ranks (batchnorm_sync.h). */
#include <stdlib.h>
#include <string.h>

#include "batchnorm_sync.h"

/* Rows are summed in at most this many chunks, one partial per chunk. */
#define SUM_CHUNKS 64

size_t facs_cpu_bn_sums_doubles(const facs_tensor *x) { return ((size_t)SUM_CHUNKS + 1) * 2 * x->c + 1; }

void facs_cpu_bn_sums(const facs_tensor *x, double *work)
{
    const int C = x->c;
    const int64_t rows = (int64_t)x->n * x->h * x->w;
    const int64_t per_chunk = (rows + SUM_CHUNKS - 1) / SUM_CHUNKS;
    const int chunks = per_chunk ? (int)((rows + per_chunk - 1) / per_chunk) : 0;
    double *sums = work, *partial = work + 2 * C + 1;
    const float *v = facs_f32(x);
#pragma omp parallel for schedule(static)
    for (int k = 0; k < chunks; k++) {
        double *sum = partial + (size_t)k * 2 * C, *square = sum + C;
        memset(sum, 0, (size_t)2 * C * sizeof *sum);
        const int64_t end = (k + 1) * per_chunk < rows ? (k + 1) * per_chunk : rows;
        for (int64_t r = k * per_chunk; r < end; r++) {
            const float *row = v + r * C;
#pragma omp simd
            for (int c = 0; c < C; c++) {
                double a = row[c];
                sum[c] += a;
                square[c] += a * a;
            }
        }
    }
    memset(sums, 0, ((size_t)2 * C + 1) * sizeof *sums);
    for (int k = 0; k < chunks; k++)
        for (int i = 0; i < 2 * C; i++)
            sums[i] += partial[(size_t)k * 2 * C + i];
    sums[2 * C] = (double)rows;
}

void facs_cpu_bn_stats_from_sums(const double *sums, int C, float *mean, float *var)
{
    double m = sums[2 * C];
    for (int c = 0; c < C; c++) {
        double mu = sums[c] / m, var_c = sums[C + c] / m - mu * mu;
        mean[c] = (float)mu;
        var[c] = (float)(var_c < 0 ? 0 : var_c); /* rounding below 0 is 0; a NaN (inf - inf) stays NaN */
    }
}

facs_status facs_cpu_bn_sync_stats(facs_comm *comm, const facs_tensor *x, double *work, float *mean, float *var,
                                   int64_t *count)
{
    const int C = x->c;
    facs_cpu_bn_sums(x, work);
    FACS_TRY(facs_comm_allreduce_sum(comm, work, (size_t)2 * C + 1, FACS_COMM_F64));
    facs_cpu_bn_stats_from_sums(work, C, mean, var);
    *count = (int64_t)work[2 * C];
    return FACS_OK;
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
