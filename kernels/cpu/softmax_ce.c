#include "cpu_ops.h"
#define PLACEHOLDER_UNFINISHED return facs_fail(FACS_ERR_UNSUPPORTED, "unfinished")
#pragma GCC diagnostic ignored "-Wunused-parameter"
facs_status facs_cpu_softmax_ce_forward(facs_ctx *ctx, int ignore_index, const facs_tensor *logits,
                                        const facs_tensor *labels, facs_tensor *probs, facs_tensor *loss,
                                        int64_t *valid)
{ PLACEHOLDER_UNFINISHED; }

facs_status facs_cpu_softmax_ce_backward(facs_ctx *ctx, int ignore_index, const facs_tensor *probs,
                                         const facs_tensor *labels, float dloss, int64_t valid,
                                         facs_tensor *dlogits)
{ PLACEHOLDER_UNFINISHED; }
