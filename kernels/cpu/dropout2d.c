#include "cpu_ops.h"
#define PLACEHOLDER_UNFINISHED return facs_fail(FACS_ERR_UNSUPPORTED, "unfinished")
#pragma GCC diagnostic ignored "-Wunused-parameter"
facs_status facs_cpu_dropout2d_forward(facs_ctx *ctx, float prob, uint64_t seed, const facs_tensor *x,
                                       facs_tensor *mask, facs_tensor *y)
{ PLACEHOLDER_UNFINISHED; }

facs_status facs_cpu_dropout2d_backward(facs_ctx *ctx, const facs_tensor *mask, const facs_tensor *dy,
                                        facs_tensor *dx)
{ PLACEHOLDER_UNFINISHED; }
