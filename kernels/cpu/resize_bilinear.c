#include "cpu_ops.h"
#define PLACEHOLDER_UNFINISHED return facs_fail(FACS_ERR_UNSUPPORTED, "unfinished")
#pragma GCC diagnostic ignored "-Wunused-parameter"
facs_status facs_cpu_resize_bilinear_forward(facs_ctx *ctx, int align_corners, const facs_tensor *x,
                                             facs_tensor *y)
{ PLACEHOLDER_UNFINISHED; }

facs_status facs_cpu_resize_bilinear_backward(facs_ctx *ctx, int align_corners, const facs_tensor *dy,
                                              facs_tensor *dx)
{ PLACEHOLDER_UNFINISHED; }
