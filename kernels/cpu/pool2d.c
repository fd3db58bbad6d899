#include "cpu_ops.h"
#define PLACEHOLDER_UNFINISHED return facs_fail(FACS_ERR_UNSUPPORTED, "unfinished")
#pragma GCC diagnostic ignored "-Wunused-parameter"
facs_status facs_cpu_maxpool2d_forward(facs_ctx *ctx, const facs_pool2d_params *p, const facs_tensor *x,
                                       facs_tensor *y)
{ PLACEHOLDER_UNFINISHED; }

facs_status facs_cpu_maxpool2d_backward(facs_ctx *ctx, const facs_pool2d_params *p, const facs_tensor *x,
                                        const facs_tensor *dy, facs_tensor *dx)
{ PLACEHOLDER_UNFINISHED; }

facs_status facs_cpu_avgpool2d_forward(facs_ctx *ctx, const facs_pool2d_params *p, const facs_tensor *x,
                                       facs_tensor *y)
{ PLACEHOLDER_UNFINISHED; }

facs_status facs_cpu_avgpool2d_backward(facs_ctx *ctx, const facs_pool2d_params *p, const facs_tensor *dy,
                                        facs_tensor *dx)
{ PLACEHOLDER_UNFINISHED; }
