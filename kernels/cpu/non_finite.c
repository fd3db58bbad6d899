/* count_non_finite on the CPU (backend.h). */
#include <math.h>

#include "cpu_ops.h"

facs_status facs_cpu_count_non_finite(size_t count, const float *x, int64_t *counter)
{
    int64_t bad = 0;
#pragma omp parallel for schedule(static) reduction(+ : bad) if (count > 65536)
    for (size_t i = 0; i < count; i++)
        bad += !isfinite(x[i]);
    *counter += bad;
    return FACS_OK;
}
