/* semseg's training loss, shared by pspnet-train and the benchmarks. */
#include "pspnet.h"

facs_status facs_pspnet_train_loss(facs_ctx *ctx, const facs_model *model, facs_tensor *logits,
                                   facs_tensor *labels, float aux_weight, int ignore_index, facs_pspnet_loss *out)
{
    *out = (facs_pspnet_loss){0};
    facs_tensor *aux_logits = facs_model_aux_output(model);
    if (!logits)
        return facs_last_status();
    if (!aux_logits)
        return facs_fail(FACS_ERR_ARG, "%s has no auxiliary output (its forward did not run in training mode)",
                         facs_model_get_options(model)->arch);
    facs_tensor *w = facs_ctx_tensor(ctx, FACS_F32, 1, 1, 1, 1);
    if (!w)
        return facs_last_status();
    FACS_TRY(facs_tensor_upload(w, &aux_weight, sizeof aux_weight));
    out->main = facs_softmax_cross_entropy(ctx, logits, labels, ignore_index);
    out->aux = facs_softmax_cross_entropy(ctx, aux_logits, labels, ignore_index);
    /* main + aux_weight * aux: no op multiplies by a float, so the weight is a constant 1-channel scale. */
    out->total = facs_add(ctx, out->main, facs_scale_channels(ctx, out->aux, w));
    return out->total ? FACS_OK : facs_last_status();
}
