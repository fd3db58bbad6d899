/* PSPNet as a facs_model family (backbone/model_family.h), registered at run
 * time because backbone/ does not know pspnet/. */
#include <stdlib.h>

#include "model_family.h"
#include "pspnet.h"

static facs_status create(void **impl, facs_param_list **params, int *facs, const facs_model_options *o,
                          facs_device device, uint64_t seed)
{
    facs_pspnet *net = malloc(sizeof *net);
    if (!net)
        return facs_fail(FACS_ERR_MEMORY, "%s: out of memory", o->arch);
    facs_status s = facs_pspnet_create(net, o, device, seed);
    if (s != FACS_OK) {
        free(net);
        return s;
    }
    *impl = net;
    *params = &net->backbone.params;
    *facs = net->backbone.facs;
    return FACS_OK;
}

static facs_tensor *forward(facs_ctx *ctx, void *impl, facs_tensor *x) { return facs_pspnet_forward(ctx, impl, x); }

static void destroy(void *impl)
{
    facs_pspnet_free(impl);
    free(impl);
}

/* The backbone's taps (layer1.0 .. layer4.<last>): its layer4 output, the
 * default, is what the pyramid pools. */
static const char *tap_name(void *impl, int index, char *buf, size_t size)
{
    return facs_resnet_tap_name(&((facs_pspnet *)impl)->backbone, index, buf, size);
}

static facs_tap *tap_slot(void *impl) { return &((facs_pspnet *)impl)->backbone.tap; }

static facs_status fold_bn(void *impl) { return facs_pspnet_fold_bn(impl); }

static facs_tensor *aux_output(void *impl) { return ((facs_pspnet *)impl)->aux_logits; }

const facs_model_family facs_pspnet_family = {
    .names = facs_pspnet_arch_names,
    .head_prefix = "cls.",
    .head_weight = "cls.4.weight",
    .classes = 19,      /* Cityscapes */
    .output_stride = 8, /* semseg's */
    .segmentation = 1,
    .dropout = 0.1,
    .create = create,
    .forward = forward,
    .destroy = destroy,
    .aux_output = aux_output,
    .backbone_key = facs_pspnet_backbone_key,
    .backbone_head_prefix = "fc.",
    .tap_name = tap_name,
    .tap_slot = tap_slot,
    .fold_bn = fold_bn,
};
