/* One interface over every network (ResNet, VGG, MobileNet-v2 and their FACS
 * variants; PSPNet on any ResNet of the family, backbone/pspnet.h),
 * for the tools that take any --arch: facs-run, facs-summary, facs-finetune,
 * pspnet-train, the benchmarks.
 *
 *     facs_model_options o;
 *     if (facs_model_options_for_arch("facs_vgg16_r2", &o) != FACS_OK) ...  // message lists every name
 *     o.classes = 10;
 *     facs_model *m;
 *     if (facs_model_create(&m, &o, FACS_DEVICE_CPU, seed) != FACS_OK) ... facs_last_error() ...
 *     facs_tensor *logits = facs_model_forward(ctx, m, x);   // (N, classes, 1, 1)
 *     facs_model_save(path, m, NULL, NULL, NULL, 0);         // model_file.h: weights + every option
 *     facs_model_free(m);
 *
 * A weights file can record every option, so the network is rebuilt from the
 * file alone: backbone/model_file.h.
 *
 * Each family (backbone/model_family.h) owns a set of architecture names and
 * reads the options that apply to it; an option that a family cannot honour
 * (a CIFAR stem on MobileNet-v2, BN before the fusion on ResNet, an output
 * stride on VGG) is refused at create with a message, never ignored.
 *
 * Segmentation models (PSPNet) return (N, classes, H, W) logits at the
 * input's size, and in training mode also auxiliary logits
 * (facs_model_aux_output). */
#ifndef FACS_MODEL_H
#define FACS_MODEL_H

#include <stddef.h>
#include <stdint.h>

#include "ops.h"
#include "param.h"

/* Where BatchNorm sits around a FACS op (Table 5's "BatchNorm" column). */
typedef enum {
    FACS_FUSION_BN_NONE = 0, /* the fusion output goes straight on (DESIGN.md's default) */
    FACS_FUSION_BN_PRE = 1,  /* a BN on the fusion's input (MobileNet-v2 only) */
    FACS_FUSION_BN_POST = 2  /* the replaced conv's BN (+ activation where it had one) after the fusion */
} facs_fusion_bn;

/* "none", "pre" or "post"; FACS_ERR_ARG naming the three otherwise. */
facs_status facs_fusion_bn_parse(const char *name, facs_fusion_bn *out);
/* The name facs_fusion_bn_parse reads ("none", "pre", "post"); "?" for another value. */
const char *facs_fusion_bn_name(facs_fusion_bn placement);

/* The stems of a ResNet backbone (deep_stem below; resnet.h draws them). */
typedef enum { FACS_STEM_7X7 = 0, FACS_STEM_DEEP = 1, FACS_STEM_DEEP_BASE = 2 } facs_stem;

/* Every field but dropout shapes the network, so weights files record each
 * one: a new field needs its line in weights.h's FACS_WEIGHTS_MODEL_FIELDS.
 * facs_model_options_for_arch fills the architecture's defaults. */
typedef struct {
    char arch[32];
    int classes;              /* 1000 (PSPNet: 19, Cityscapes) */
    double width;             /* channel multiplier, 1.0 */
    int cifar_stem;           /* ResNet: 3x3 stride-1 stem, no max-pool; VGG refuses it (no stem; 32x32 works as is) */
    facs_fusion_bn fusion_bn; /* FACS variants only */
    facs_fuse_params fusion;  /* FACS variants only: threshold, T_cf 0.5 */
    /* ResNet backbones (classification and PSPNet): 32, 16 or 8 (resnet.h:
     * layer4, then also layer3, dilated instead of strided); 0 = the family's
     * default, 32 for classification, 8 for PSPNet. VGG and MobileNet-v2 take
     * only 32. */
    int output_stride;
    int deep_stem;            /* ResNet backbones: a facs_stem of resnet.h (0 7x7, 1 v1c, 2 semseg's deep base); others refuse it */
    /* Dropout probability of the family's dropout layers (MobileNet-v2's
     * classifier, PSPNet's cls and aux heads); negative = the family's default
     * (0.2 and 0.1). Families without dropout (ResNet, VGG) refuse a value
     * above 0. Not recorded in files: it shapes no tensor. */
    double dropout;
} facs_model_options;

typedef struct facs_model facs_model;
typedef struct facs_model_family facs_model_family; /* model_family.h */

/* NULL-terminated list of every architecture name, family by family. */
const char *const *facs_model_arch_names(void);
/* 1 when arch names a segmentation network (the pspnet_ family), 0 for a
 * classifier or an unknown name. */
int facs_model_arch_is_segmentation(const char *arch);

/* Defaults for arch (see facs_model_options); FACS_ERR_ARG listing the valid names when arch is unknown. */
facs_status facs_model_options_for_arch(const char *arch, facs_model_options *options);

/* Refuses options no family builds (classes, width, fusion, stride, stem,
 * dropout out of range), as facs_model_create does first. */
facs_status facs_model_options_validate(const facs_model_options *options);

/* Builds and initialises (torchvision's initialisation, drawn from seed).
 * On failure *out is NULL and the last error says why. The model keeps the
 * options with the family defaults resolved (output_stride 0 and a negative
 * dropout become the family's values; facs_model_get_options). */
facs_status facs_model_create(facs_model **out, const facs_model_options *options, facs_device device,
                              uint64_t seed);
void facs_model_free(facs_model *model);

/* Logits of images (N, 3, H, W): (N, classes, 1, 1) for classification,
 * (N, classes, H, W) for segmentation (PSPNet's main head); NULL on error. */
facs_tensor *facs_model_forward(facs_ctx *ctx, facs_model *model, facs_tensor *x);

/* The auxiliary logits of the last facs_model_forward when it ran in training
 * mode (ctx->training): PSPNet's aux head on layer3, (N, classes, H, W) like
 * the main logits, an arena tensor of that step (recorded on the tape, so a
 * loss on it backpropagates). NULL for families without one, and after a
 * forward in eval mode. */
facs_tensor *facs_model_aux_output(const facs_model *model);

/* Feature taps: the activation of a named layer, for explaining a network
 * (GradCAM, eval/cam.h) or reading features:
 *
 *     facs_model_set_tap(m, "layer4.2");          // or facs_model_default_tap(m)
 *     facs_ctx_set_mode(ctx, 0, 1);               // eval mode, tape on
 *     facs_tensor *logits = facs_model_forward(ctx, m, x);
 *     facs_tensor *a = facs_model_tap(m);         // (N, K, h, w), recorded on the tape
 *     facs_keep_grad(a);                          // autograd.h
 *     facs_backward(ctx, logits, one_hot);        // a->grad: d score / d a
 *
 * Names are state_dict prefixes of the layer whose output is tapped:
 * ResNets (and PSPNet's backbone) "layer<s>.<i>", each bottleneck's output
 * after the residual add and ReLU; VGG "features.<i>" of each 3x3 conv's ReLU
 * and each max-pool, as the twin's nn.Sequential numbers them; MobileNet-v2
 * "features.<i>", the stem (0), each inverted residual block (1..17) and
 * the last 1x1 conv (18). The default is the last one of the family, its
 * last feature block: layer4.<last>, VGG's last max-pool, features.18;
 * PSPNet's is layer4.<last> too, the backbone's output before the pyramid.
 *
 * With the tape on the tapped activation is marked as requiring a gradient,
 * so with every parameter frozen (facs_param_set_frozen) backward computes
 * only the gradients from the output down to the tap. Without the tape the
 * tapped map survives the forward's inference-memory reuse all the same. */

/* Taps name on every following forward; NULL switches the tap off. Refuses
 * (FACS_ERR_ARG) a name the network does not have, listing the valid ones,
 * and any name for a family without taps. */
facs_status facs_model_set_tap(facs_model *model, const char *name);
/* The tapped activation of the last facs_model_forward (an arena tensor of
 * that step); NULL when no tap is set or the forward failed before it. */
facs_tensor *facs_model_tap(const facs_model *model);
/* The name of the family's default tap for this network, NULL for a family
 * without taps. Valid while the model lives. */
const char *facs_model_default_tap(facs_model *model);
/* The name of tap point index (0, 1, ... in forward order) into buf; NULL
 * past the last one, to list them. */
const char *facs_model_tap_name(const facs_model *model, int index, char *buf, size_t size);

/* Adds a family (model_family.h) after the built-in ones and those added
 * before: its names become architecture names of every function here. For
 * families that backbone/ cannot name: a floor above it, or a program's own.
 * Registering the same family again does nothing. Refuses (FACS_ERR_ARG) a
 * family whose names clash with known ones and a full table (8 families).
 * Not thread-safe: call it at start, before any other thread uses models. */
facs_status facs_model_register_family(const facs_model_family *family);

/* Every tensor under its torchvision state_dict key, in registration order. */
facs_param_list *facs_model_params(facs_model *model);
const facs_model_options *facs_model_get_options(const facs_model *model);
/* 1 when the architecture uses the FACS op. */
int facs_model_is_facs(const facs_model *model);
/* For inference after the weights are loaded: folds eval-mode BatchNorm into
 * the convolutions before it, so an eval forward without a tape runs each
 * ResNet block as three fused convolutions (BN folded, ReLU and the residual
 * add as oneDNN post-ops), and MobileNet-v2's with ReLU6 as a clip post-op;
 * logits equal the unfolded model's to rounding (1e-5 relative, test_fold).
 * The model then refuses training mode and facs_model_save (its tensors hold
 * folded weights). Families without the hook are unchanged. */
facs_status facs_model_fold_bn(facs_model *model);

/* Moves every parameter and buffer to device in place (kernels/param.h), so a
 * model built and loaded on the CPU runs on a GPU; run it with a context of
 * that device (facs_ctx_create). Fold (facs_model_fold_bn) after moving: a
 * folded model refuses to move. */
facs_status facs_model_to_device(facs_model *model, facs_device device);
/* Where the model's tensors live. */
facs_device facs_model_device(const facs_model *model);
int facs_model_is_folded(const facs_model *model);
/* 1 for segmentation networks, whose logits are (N, classes, H, W) at the
 * input's size; 0 for classifiers, (N, classes, 1, 1). */
int facs_model_is_segmentation(const facs_model *model);
/* State-dict prefix of the classifier ("fc." for ResNet, "classifier." for
 * VGG and MobileNet-v2, "cls." for PSPNet, whose aux head depends on the
 * classes too): what a fine-tuning run skips when loading weights trained for
 * other classes. To initialise from an ImageNet backbone file:
 * facs_model_load_backbone (model_file.h). */
const char *facs_model_head_prefix(const facs_model *model);

/* The classifier weight's state-dict key for arch ("fc.weight",
 * "classifier.1.weight"): its rows in a weights file are the file's classes.
 * NULL for an unknown arch. */
const char *facs_model_arch_head_weight(const char *arch);

#endif
