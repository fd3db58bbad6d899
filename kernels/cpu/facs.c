#include "cpu_ops.h"
#define PLACEHOLDER_UNFINISHED return facs_fail(FACS_ERR_UNSUPPORTED, "unfinished")
#pragma GCC diagnostic ignored "-Wunused-parameter"
facs_status facs_cpu_facs_forward(facs_ctx *ctx, const facs_fuse_params *p, const facs_tensor *x,
                                  const facs_tensor *w, const facs_tensor *b, facs_tensor *y, facs_tensor *prob)
{ PLACEHOLDER_UNFINISHED; }

facs_status facs_cpu_facs_backward(facs_ctx *ctx, const facs_fuse_params *p, const facs_tensor *x,
                                   const facs_tensor *w, const facs_tensor *prob, const facs_tensor *dy,
                                   facs_tensor *dx, facs_tensor *dw, facs_tensor *db)
{ PLACEHOLDER_UNFINISHED; }
