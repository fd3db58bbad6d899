/* PSPNet (Zhao et al. 2017) as hszhao/semseg builds it, on any ResNet of
 * backbone/resnet.h, FACS-ResNets included.
 *
 *     facs_model_options o;
 *     facs_model_options_for_arch("pspnet_facs_resnet101", &o);   // classes 19, output stride 8, dropout 0.1
 *     facs_model *m;
 *     facs_model_create(&m, &o, FACS_DEVICE_CPU, seed);
 *     facs_model_load_backbone(m, "facs_resnet101_imagenet.h5", NULL);  // model_file.h
 *     facs_ctx_set_mode(ctx, 1, 1);
 *     facs_tensor *logits = facs_model_forward(ctx, m, x);   // (N, classes, H, W): x's size
 *     facs_tensor *aux = facs_model_aux_output(m);           // the same shape; training mode only
 *
 * Architectures: "pspnet_" + every name of facs_resnet_arch_names()
 * (pspnet_resnet26/50/101/152, pspnet_facs_resnet26/50/101/152, and the
 * Table 2 variants pspnet_resnet50_r8, pspnet_se_resnet50, ...): the backbone
 * is built by facs_resnet_create without its fc, so every ResNet of the family
 * is a backbone with nothing PSPNet-specific to add.
 *
 * Network, for images x (N, 3, H, W) (semseg's model/pspnet.py):
 *   layer0..layer4  the ResNet at output stride 8 (default: layer3 dilation 2,
 *                   layer4 dilation 4, no stride there) or 16; 7x7 stem or the
 *                   a deep stem (v1c, or semseg's deep base); C = its
 *                   output channels (2048 at width 1);
 *   ppm             for each bin b of 1, 2, 3, 6: adaptive average pooling to
 *                   b x b, 1x1 conv C -> C/4 (no bias), BN, ReLU, bilinear
 *                   upsampling (align_corners) to the layer4 size; concatenated
 *                   after the layer4 output: 2C channels;
 *   cls             3x3 conv (pad 1) 2C -> round(512 width) (no bias), BN,
 *                   ReLU, Dropout2d(dropout), 1x1 conv -> classes (bias);
 *                   upsampled bilinearly (align_corners) to H x W;
 *   aux             on layer3's output (C/2 channels), in training mode only:
 *                   3x3 conv (pad 1) -> round(256 width) (no bias), BN, ReLU,
 *                   Dropout2d(dropout), 1x1 conv -> classes (bias); upsampled
 *                   likewise. Its loss (weight 0.4 in semseg) is the trainer's.
 * Any H x W works (semseg asks for 8k + 1 and upsamples to that size; the
 * same thing here at those sizes).
 *
 * Tensor names are semseg's state_dict keys, in its order: layer0.0 (conv1),
 * layer0.1 (bn1); with a deep stem layer0.0, .1, .3, .4, .6, .7 (conv1.0,
 * conv1.1, conv1.3, conv1.4, conv1.6, bn1 of resnet.h's v1c stem; conv1,
 * bn1, conv2, bn2, conv3, bn3 of its deep base, which is semseg's own: its
 * released checkpoints need deep_stem FACS_STEM_DEEP_BASE); layer1..layer4 as
 * torchvision; ppm.features.<i>.1 (conv) and .2 (BN) for bins 1, 2, 3, 6;
 * cls.0, cls.1, cls.4 (weight, bias); aux.0, aux.1, aux.4. No fc. The aux
 * tensors exist in every mode, as in a semseg model built for training.
 *
 * Initialisation, what a PyTorch user gets from semseg's PSPNet: the backbone
 * as torchvision's ResNet (convs Kaiming normal, fan-out; BN weight 1, bias 0),
 * the heads as PyTorch's defaults: conv weights and the biases of cls.4 and
 * aux.4 uniform in +-1/sqrt(fan_in) (kaiming_uniform with a = sqrt(5)), BN
 * weight 1, bias 0. All drawn from the seed, per tensor (backbone/init.h).
 *
 * Options (facs_model_options, model.h): classes (default 19, Cityscapes),
 * width, output_stride (8 default, or 16; 32 is refused: a segmentation
 * backbone keeps at least 1/16 of the resolution), deep_stem (a facs_stem), dropout (0.1;
 * 0 to switch it off), fusion and fusion_bn none/post on the FACS backbones.
 * cifar_stem is refused. */
#ifndef FACS_PSPNET_H
#define FACS_PSPNET_H

#include <stddef.h>
#include <stdint.h>

#include "model.h"
#include "resnet.h"

#define FACS_PSPNET_BINS 4 /* 1, 2, 3, 6 */

typedef struct {
    facs_param *conv; /* ppm.features.<i>.1 (C/4, C, 1, 1) */
    facs_bn bn;       /* ppm.features.<i>.2 */
    int bin;
} facs_pspnet_stage;

/* A 3x3 conv, BN, ReLU, Dropout2d, 1x1 conv with bias: cls and aux. */
typedef struct {
    facs_param *conv, *out, *out_bias; /* <name>.0, <name>.4.weight, <name>.4.bias */
    facs_bn bn;                        /* <name>.1 */
} facs_pspnet_head;

typedef struct {
    facs_model_options options; /* resolved: output_stride 8 or 16, dropout in [0, 1) */
    facs_resnet backbone;       /* no fc; its params hold every tensor of the network, in semseg's order */
    facs_pspnet_stage ppm[FACS_PSPNET_BINS];
    facs_pspnet_head cls, aux;
    int reduction, cls_width, aux_width; /* C/4, round(512 width), round(256 width) */
    facs_tensor *aux_logits;             /* of the last forward in training mode, else NULL */
} facs_pspnet;

/* NULL-terminated: "pspnet_" + each name of facs_resnet_arch_names(). */
const char *const *facs_pspnet_arch_names(void);

/* Builds options->arch (one of facs_pspnet_arch_names()) on device from seed;
 * output_stride 0 means 8 and a negative dropout 0.1. On failure net holds
 * nothing (facs_pspnet_free is still safe) and the last error says why. */
facs_status facs_pspnet_create(facs_pspnet *net, const facs_model_options *options, facs_device device,
                               uint64_t seed);
void facs_pspnet_free(facs_pspnet *net);

/* Main logits (N, classes, H, W) of x (N, 3, H, W); in training mode
 * (ctx->training) also the aux head's, kept in net->aux_logits (NULL in eval
 * mode). NULL on error. */
facs_tensor *facs_pspnet_forward(facs_ctx *ctx, facs_pspnet *net, facs_tensor *x);

/* The key in the weights file of the backbone's ImageNet ResNet (torchvision's
 * names; timm's conv1.0 ... for the v1c stem, semseg's conv1, bn1, conv2 ...
 * for the deep base) of the PSPNet tensor model_key
 * ("layer0.1.weight" -> "bn1.weight" or "conv1.1.weight"), into buf; NULL
 * for the tensors of ppm, cls and aux. The facs_model family's backbone_key. */
const char *facs_pspnet_backbone_key(const facs_model_options *options, const char *model_key, char *buf,
                                     size_t size);

/* semseg's training loss of the last forward of model in training mode:
 * cross-entropy of the main logits and of the aux head's against labels
 * (N, 1, H, W) int32, ignore_index skipped, and main + aux_weight * aux (0.4
 * in semseg). Each is a scalar tensor of ctx's step, on the tape. */
typedef struct {
    facs_tensor *main, *aux, *total;
} facs_pspnet_loss;

facs_status facs_pspnet_train_loss(facs_ctx *ctx, const facs_model *model, facs_tensor *logits,
                                   facs_tensor *labels, float aux_weight, int ignore_index, facs_pspnet_loss *out);

/* facs_resnet_fold_bn for the whole network: the backbone, the pyramid's
 * stages and both heads (their 3x3 conv + BN + ReLU). */
facs_status facs_pspnet_fold_bn(facs_pspnet *net);

/* The family of the "pspnet_*" names, one of backbone/model.c's built-in families. */
extern const facs_model_family facs_pspnet_family;

#endif
