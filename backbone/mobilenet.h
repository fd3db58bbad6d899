/* MobileNet-v2 (torchvision 0.14 layout) and FACS-MobileNet-v2 (paper 3.5,
 * Table 5).
 *
 *     facs_mobilenet_options o;
 *     if (facs_mobilenet_options_for_arch("facs_mobilenet_v2", &o) != FACS_OK) ...  // message lists the names
 *     o.classes = 10;
 *     facs_mobilenet net;
 *     facs_mobilenet_create(&net, &o, FACS_DEVICE_CPU, seed);
 *     facs_tensor *logits = facs_mobilenet_forward(ctx, &net, x);   // (N, classes, 1, 1)
 *     facs_mobilenet_free(&net);
 *
 * Architectures: mobilenet_v2, facs_mobilenet_v2, and mobilenet_v2_full,
 * facs_mobilenet_v2_full: the second half of Table 5, where every depthwise
 * 3x3 conv (groups = channels) is a full 3x3 conv (groups 1) with the same
 * state_dict name; only that weight's shape changes.
 *
 * Layout (torchvision): features.0 = 3x3/2 conv (3 -> stem), BN, ReLU6; then
 * the inverted residual blocks features.1 .. features.17 of the (t, c, n, s)
 * table {1,16,1,1} {6,24,2,2} {6,32,3,2} {6,64,4,2} {6,96,3,1} {6,160,3,2}
 * {6,320,1,1} (the first of n blocks has stride s); features.18 = 1x1 conv
 * (-> last), BN, ReLU6; global average pool, classifier.0 = dropout,
 * classifier.1 = linear. A block with expansion t has hidden = round(in t):
 *   t != 1: conv.0.0 1x1 (in -> hidden), conv.0.1 BN, ReLU6,
 *           conv.1.0 3x3 depthwise with the block's stride, conv.1.1 BN, ReLU6,
 *           conv.2 1x1 projection (hidden -> out), conv.3 BN (no activation);
 *   t == 1: conv.0.0 depthwise, conv.0.1 BN, ReLU6, conv.1 projection, conv.2 BN.
 * A block with stride 1 and in == out adds its input (use_res_connect).
 * Channels: stem = d(32 width), stage c -> d(c width), last = d(1280 max(1, width)),
 * d = torchvision's _make_divisible(v, 8): v rounded to the nearest multiple
 * of 8, at least 8, and rounded up once more when that loses over 10% of v.
 *
 * net->params holds every tensor under its torchvision state_dict key
 * ("features.0.0.weight", "features.2.conv.1.1.running_var",
 * "classifier.1.bias"), BN running statistics as FACS_PARAM_BUFFER, so a
 * torchvision mobilenet_v2 checkpoint maps one to one; all four architectures
 * register the same keys.
 *
 * FACS variants: in every block with a residual connection and t = 6 (all
 * of them, except features.1 (t = 1) at widths below 0.375, where its 8
 * input channels equal its 8 output channels and torchvision adds the input
 * though there is nothing to squeeze), the projection conv.2 is replaced by the FACS op (ops.h facs_facs) with
 * conv.2's weight (out, hidden, 1, 1) as its blending weight and chunk
 * R = hidden / out = t = 6. options.fusion_bn places BatchNorm (Table 5):
 *   NONE  the fusion output goes straight to the residual add; conv.3 stays
 *         registered (a mobilenet_v2 checkpoint loads strictly) but is unused:
 *         no gradient, its running statistics never change;
 *   POST  conv.3 normalises the fusion output, where it normalised the
 *         projection (no activation, as in the baseline);
 *   PRE   the fusion's input is the depthwise stage's BN output conv.1.1
 *         itself: the ReLU6 that follows it in the baseline is left out, so a
 *         BatchNorm feeds the fusion directly. conv.3 is unused as with NONE.
 *         Why not a new BN over the hidden channels after the ReLU6: it
 *         would add 2 hidden parameters per FACS block (9,504 at width 1,
 *         Table 5 keeps 3.50M for all three rows) and state_dict keys that a
 *         torchvision checkpoint lacks, so strict loading would fail; the
 *         fusion input of a MobileNet block is already a BN output, and PRE
 *         makes it the fusion's input normaliser with the same parameters.
 * Plain architectures ignore fusion_bn and fusion (as the ResNets do).
 *
 * Options:
 *   width    torchvision's width_mult (round_nearest 8), see Channels;
 *   dropout  probability of classifier.0 (torchvision: 0.2), applied in
 *            training only, per element of the pooled (N, C, 1, 1) features
 *            (facs_dropout2d on a 1x1 map is nn.Dropout's per-element drop
 *            with its 1/(1-p) scaling); 0 leaves it out of the graph.
 * There is no CIFAR stem: facs_model's cifar_stem is refused (mobilenet_model.c).
 *
 * Initialisation (torchvision): convolutions Kaiming normal with fan-out
 * (std sqrt(2 / (out k k)), whatever the groups), BN weight 1 bias 0, running
 * mean 0 var 1, classifier.1 weight normal(0, 0.01) bias 0; drawn from seed. */
#ifndef FACS_MOBILENET_H
#define FACS_MOBILENET_H

#include <stdint.h>

#include "layers.h"
#include "model.h"
#include "ops.h"
#include "param.h"

#define FACS_MOBILENET_BLOCKS 17

typedef struct {
    char arch[32];            /* one of facs_mobilenet_arch_names() */
    int classes;              /* 1000 */
    double width;             /* 1.0 */
    float dropout;            /* 0.2 */
    facs_fusion_bn fusion_bn; /* FACS only: NONE */
    facs_fuse_params fusion;  /* FACS only: threshold 0.5 */
} facs_mobilenet_options;

typedef struct {
    int in, hidden, out, stride;
    int residual;                 /* stride 1 and in == out: adds the input */
    int facs;                     /* FACS variant, residual and t = 6: the fusion replaces the projection */
    facs_param *expand_conv;      /* NULL when t == 1 */
    facs_param *dw_conv, *project_conv;
    facs_bn expand_bn, dw_bn, project_bn;
} facs_mobilenet_block;

typedef struct {
    facs_mobilenet_options options;
    int facs;                 /* the architecture is a FACS variant */
    int full;                 /* full 3x3 convs instead of depthwise ones */
    facs_param_list params;
    facs_param_list folded; /* the biases of BN folded into convolutions (facs_mobilenet_fold_bn); never saved */
    facs_param *stem_conv, *head_conv; /* features.0.0, features.18.0 */
    facs_bn stem_bn, head_bn;
    facs_mobilenet_block blocks[FACS_MOBILENET_BLOCKS];
    int out_channels;         /* of features.18 */
    facs_param *fc_weight, *fc_bias; /* classifier.1 */
    facs_tap tap;             /* tap point i: the output of features.<i>, 0..18 */
} facs_mobilenet;

/* NULL-terminated list of the architecture names. */
const char *const *facs_mobilenet_arch_names(void);

/* Default options for arch; FACS_ERR_ARG naming the valid architectures when
 * arch is unknown. */
facs_status facs_mobilenet_options_for_arch(const char *arch, facs_mobilenet_options *options);

/* Builds and initialises the network on device from seed. On failure net holds
 * nothing (facs_mobilenet_free is still safe) and the last error says why. */
facs_status facs_mobilenet_create(facs_mobilenet *net, const facs_mobilenet_options *options, facs_device device,
                                  uint64_t seed);
void facs_mobilenet_free(facs_mobilenet *net);

/* For inference: folds every BN that follows a convolution into it (layers.h
 * facs_bn_fold), depthwise ones included, so that in eval mode each
 * convolution runs with its BN, ReLU6 and the block's residual add as one
 * fused primitive (facs_conv2d_fused, FACS_POST_RELU6). The BN after a FACS
 * fusion (fusion_bn POST) stays. The network then refuses training mode; its
 * parameters hold the folded weights. */
facs_status facs_mobilenet_fold_bn(facs_mobilenet *net);

/* The features.18 output (N, out_channels, H/32, W/32) of images x (N, 3, H, W); NULL on error. */
facs_tensor *facs_mobilenet_features(facs_ctx *ctx, facs_mobilenet *net, facs_tensor *x);

/* Logits (N, classes, 1, 1); NULL on error. */
facs_tensor *facs_mobilenet_forward(facs_ctx *ctx, facs_mobilenet *net, facs_tensor *x);

#endif
