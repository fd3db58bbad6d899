#include "cpu_ops.h"
#define PLACEHOLDER_UNFINISHED return facs_fail(FACS_ERR_UNSUPPORTED, "unfinished")
#pragma GCC diagnostic ignored "-Wunused-parameter"
facs_status facs_cpu_batchnorm_forward(facs_ctx *ctx, const facs_batchnorm_params *p, const facs_tensor *x,
                                       const facs_tensor *gamma, const facs_tensor *beta, facs_tensor *running_mean,
                                       facs_tensor *running_var, facs_tensor *y, facs_tensor *save_mean,
                                       facs_tensor *save_invstd)
{ PLACEHOLDER_UNFINISHED; }

facs_status facs_cpu_batchnorm_backward(facs_ctx *ctx, const facs_batchnorm_params *p, const facs_tensor *x,
                                        const facs_tensor *gamma, const facs_tensor *save_mean,
                                        const facs_tensor *save_invstd, const facs_tensor *dy, facs_tensor *dx,
                                        facs_tensor *dgamma, facs_tensor *dbeta)
{ PLACEHOLDER_UNFINISHED; }
