/* FLOP counting conventions for one op call (facs-summary).
 *
 *     facs_flops_convention conv;
 *     if (facs_flops_convention_parse("ptflops", &conv) != FACS_OK) ...   // message lists the names
 *     int64_t f = facs_flops_of_op(conv, "conv2d", inputs, n_inputs, out);
 *
 * op, inputs and out are what the ctx->profile hook receives (ctx.h): the op's
 * tensor operands in argument order and its output. Both conventions count a
 * multiply-add as one FLOP.
 *
 * FACS_FLOPS_PTFLOPS reproduces ptflops 0.6 on torchvision models, which is how
 * the paper's Table 2 was counted:
 *   conv2d, linear   multiply-adds (out elements x in/groups x kh x kw), plus
 *                    out elements when there is a bias;
 *   batchnorm2d      2 per element (affine);  relu, relu6  1 per element;
 *   max/avg pooling, adaptive and global average pooling: input elements;
 *   resize_bilinear  output elements (ptflops' Upsample);
 *   facs             what ptflops sees of the PyTorch FACS module: its global
 *                    average pool (input elements) and its 1x1 blend conv on
 *                    the 1x1 descriptor (N x C/R x C, + N x C/R with a bias);
 *                    the sigmoid and the fusion itself count 0;
 *   sigmoid, add, concat, dropout2d, softmax_cross_entropy: 0;
 *   scale_channels, channel_pool: 0. ptflops hooks modules only, and SE's
 *                    x * s and DWP's x.view(N, C/R, R, H, W).amax(2) are
 *                    tensor operations, not modules.
 *
 * FACS_FLOPS_APPENDIX_A follows the paper's Appendix A (Eq. 4-9):
 *   conv2d, linear   as above (Eq. 4: H W N C k k);
 *   batchnorm2d      4 per element (Eq. 5);  relu, relu6  1 per element (Eq. 6);
 *   sigmoid          4 per element (Eq. 7);
 *   pooling          input elements (Eq. 8 for global pooling; the same for
 *                    windows, which the appendix does not treat);
 *   resize_bilinear  output elements;
 *   facs             global pooling C H W (Eq. 8) + blend C/R x C (A.7)
 *                    + sigmoid 4 C/R on the descriptor (Eq. 7)
 *                    + fusion C/R H W (Eq. 9), per image;
 *   scale_channels   1 per output element (the multiplication);
 *   channel_pool     per output element: the comparisons (max) or
 *                    additions (avg) of a group of R, counted like the
 *                    fusion of Eq. 9;
 *   add, concat, dropout2d, softmax_cross_entropy: 0 (not in the appendix). */
#ifndef FACS_FLOPS_H
#define FACS_FLOPS_H

#include <stdint.h>

#include "model.h"
#include "status.h"
#include "tensor.h"

typedef enum { FACS_FLOPS_PTFLOPS = 0, FACS_FLOPS_APPENDIX_A = 1 } facs_flops_convention;

/* "ptflops" or "appendix-a"; FACS_ERR_ARG naming both otherwise. */
facs_status facs_flops_convention_parse(const char *name, facs_flops_convention *convention);
const char *facs_flops_convention_name(facs_flops_convention convention);

/* FLOPs of one call of op; 0 for ops the convention does not count or does not know. */
int64_t facs_flops_of_op(facs_flops_convention convention, const char *op, const facs_tensor *const *inputs,
                         int n_inputs, const facs_tensor *out);

/* Whole-model counts (facs-summary): one eval-mode forward pass without the
 * tape on a zero (1, 3, height, width) image, with the context's profile hook
 * (ctx.h) recording every op call:
 *
 *     facs_model *m;
 *     facs_model_create(&m, &options, FACS_DEVICE_META, 1);   // shapes only (tensor.h)
 *     facs_flops_count c;
 *     if (facs_flops_count_model(m, 224, 224, FACS_FLOPS_PTFLOPS, &c) != FACS_OK) ...
 *     printf("%lld params, %lld FLOPs\n", (long long)c.params, (long long)c.flops);
 *     facs_flops_count_free(&c);
 *
 * The counts depend on shapes alone, so they are the same on every device; on
 * FACS_DEVICE_META nothing is stored or computed, so any input size answers
 * at once in a few MB (facs-summary counts there). */
typedef struct {
    /* The op's weight's state_dict key without ".weight" ("layer1.0.conv1",
     * "bn1"); for ops without a weight the op and its running index ("relu#3"). */
    char name[96];
    const char *op;      /* the op's name as the hook reports it (static storage) */
    int shape[4];        /* output (N, C, H, W) */
    int64_t params;      /* trainable parameters among the op's operands */
    int64_t flops;       /* facs_flops_of_op under the count's convention */
} facs_flops_layer;

typedef struct {
    facs_flops_convention convention;
    facs_flops_layer *layers; /* one per op call, in the order of the forward pass */
    int count, capacity;
    int64_t params;      /* every trainable parameter of the model, used by an op or not */
    int64_t used_params; /* the sum of the layers' params */
    int64_t flops;       /* the sum of the layers' FLOPs */
} facs_flops_count;

/* Counts model on its own device (that of its parameters) with a context of
 * that device. On failure *out is empty and the last error says why. */
facs_status facs_flops_count_model(facs_model *model, int height, int width, facs_flops_convention convention,
                                   facs_flops_count *out);

/* Frees the layer table; *count is empty afterwards. */
void facs_flops_count_free(facs_flops_count *count);

#endif
