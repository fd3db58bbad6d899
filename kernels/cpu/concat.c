#include "cpu_ops.h"
#define PLACEHOLDER_UNFINISHED return facs_fail(FACS_ERR_UNSUPPORTED, "unfinished")
#pragma GCC diagnostic ignored "-Wunused-parameter"
facs_status facs_cpu_concat_forward(facs_ctx *ctx, int count, const facs_tensor *const *xs, facs_tensor *y)
{ PLACEHOLDER_UNFINISHED; }

facs_status facs_cpu_concat_backward(facs_ctx *ctx, int count, const facs_tensor *dy, facs_tensor *const *dxs)
{ PLACEHOLDER_UNFINISHED; }
