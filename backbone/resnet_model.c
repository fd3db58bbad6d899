/* ResNet / FACS-ResNet as a facs_model family (model_family.h). */
#include <stdlib.h>

#include "model_family.h"
#include "resnet.h"

static facs_status create(void **impl, facs_param_list **params, int *facs, const facs_model_options *o,
                          facs_device device, uint64_t seed)
{
    if (o->fusion_bn == FACS_FUSION_BN_PRE)
        return facs_fail(FACS_ERR_ARG, "%s: BN before the fusion exists only for MobileNet-v2; ResNets take post-BN",
                         o->arch);
    facs_resnet_options ro;
    FACS_TRY(facs_resnet_options_for_arch(o->arch, &ro));
    ro.classes = o->classes;
    ro.width = o->width;
    ro.cifar_stem = o->cifar_stem;
    ro.deep_stem = o->deep_stem;
    ro.output_stride = o->output_stride ? o->output_stride : 32;
    ro.post_bn = o->fusion_bn == FACS_FUSION_BN_POST;
    ro.fusion = o->fusion;
    facs_resnet *net = malloc(sizeof *net);
    if (!net)
        return facs_fail(FACS_ERR_MEMORY, "%s: out of memory", o->arch);
    facs_status s = facs_resnet_create(net, &ro, device, seed);
    if (s != FACS_OK) {
        free(net);
        return s;
    }
    *impl = net;
    *params = &net->params;
    *facs = net->facs;
    return FACS_OK;
}

static facs_tensor *forward(facs_ctx *ctx, void *impl, facs_tensor *x) { return facs_resnet_forward(ctx, impl, x); }

static const char *tap_name(void *impl, int index, char *buf, size_t size)
{
    return facs_resnet_tap_name(impl, index, buf, size);
}

static facs_tap *tap_slot(void *impl) { return &((facs_resnet *)impl)->tap; }

static facs_status fold_bn(void *impl) { return facs_resnet_fold_bn(impl); }

static void destroy(void *impl)
{
    facs_resnet_free(impl);
    free(impl);
}

const facs_model_family facs_resnet_family = {
    .names = facs_resnet_arch_names,
    .head_prefix = "fc.",
    .head_weight = "fc.weight",
    .dropout = -1.0, /* none */
    .create = create,
    .forward = forward,
    .destroy = destroy,
    .tap_name = tap_name,
    .tap_slot = tap_slot,
    .fold_bn = fold_bn,
};
