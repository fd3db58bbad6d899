/* MobileNet-v2 / FACS-MobileNet-v2 as a facs_model family (model_family.h). */
#include <stdio.h>
#include <stdlib.h>

#include "mobilenet.h"
#include "model_family.h"

static facs_status create(void **impl, facs_param_list **params, int *facs, const facs_model_options *o,
                          facs_device device, uint64_t seed)
{
    if (o->cifar_stem)
        return facs_fail(FACS_ERR_ARG,
                         "%s: MobileNet-v2 has no CIFAR stem; train it on 224x224 inputs (or upscaled CIFAR images)",
                         o->arch);
    if (o->output_stride != 0 && o->output_stride != 32)
        return facs_fail(FACS_ERR_ARG, "%s: MobileNet-v2 has output stride 32 only (dilation exists for ResNets), "
                                       "not %d", o->arch, o->output_stride);
    if (o->deep_stem)
        return facs_fail(FACS_ERR_ARG, "%s: MobileNet-v2 has no deep stem (it exists for ResNets)", o->arch);
    facs_mobilenet_options mo;
    FACS_TRY(facs_mobilenet_options_for_arch(o->arch, &mo));
    if (o->dropout >= 0.0)
        mo.dropout = (float)o->dropout;
    mo.classes = o->classes;
    mo.width = o->width;
    mo.fusion_bn = o->fusion_bn;
    mo.fusion = o->fusion;
    facs_mobilenet *net = malloc(sizeof *net);
    if (!net)
        return facs_fail(FACS_ERR_MEMORY, "%s: out of memory", o->arch);
    facs_status s = facs_mobilenet_create(net, &mo, device, seed);
    if (s != FACS_OK) {
        free(net);
        return s;
    }
    *impl = net;
    *params = &net->params;
    *facs = net->facs;
    return FACS_OK;
}

static facs_tensor *forward(facs_ctx *ctx, void *impl, facs_tensor *x) { return facs_mobilenet_forward(ctx, impl, x); }

static const char *tap_name(void *impl, int index, char *buf, size_t size)
{
    (void)impl;
    if (index < 0 || index > FACS_MOBILENET_BLOCKS + 1) /* the stem, the blocks, the last 1x1 conv */
        return NULL;
    snprintf(buf, size, "features.%d", index);
    return buf;
}

static facs_tap *tap_slot(void *impl) { return &((facs_mobilenet *)impl)->tap; }

static facs_status fold_bn(void *impl) { return facs_mobilenet_fold_bn(impl); }

static void destroy(void *impl)
{
    facs_mobilenet_free(impl);
    free(impl);
}

const facs_model_family facs_mobilenet_family = {
    .names = facs_mobilenet_arch_names,
    .head_prefix = "classifier.",
    .dropout = 0.2, /* torchvision's classifier.0 */
    .create = create,
    .forward = forward,
    .destroy = destroy,
    .tap_name = tap_name,
    .tap_slot = tap_slot,
    .fold_bn = fold_bn,
};
