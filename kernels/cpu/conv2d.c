#include "cpu_ops.h"
#define PLACEHOLDER_UNFINISHED return facs_fail(FACS_ERR_UNSUPPORTED, "unfinished")
#pragma GCC diagnostic ignored "-Wunused-parameter"
facs_status facs_cpu_conv2d_forward(facs_ctx *ctx, const facs_conv2d_params *p, const facs_tensor *x,
                                    const facs_tensor *w, const facs_tensor *b, facs_tensor *y)
{ PLACEHOLDER_UNFINISHED; }

facs_status facs_cpu_conv2d_backward(facs_ctx *ctx, const facs_conv2d_params *p, const facs_tensor *x,
                                     const facs_tensor *w, const facs_tensor *dy, facs_tensor *dx, facs_tensor *dw,
                                     facs_tensor *db)
{ PLACEHOLDER_UNFINISHED; }
