#include "model.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model_family.h"

#define BUILT_IN 4
#define MAX_FAMILIES (BUILT_IN + 8)
#define MAX_NAMES 128

/* The built-in families, then those registered (facs_model_register_family). */
static const facs_model_family *families[MAX_FAMILIES] = {
    &facs_resnet_family,
    &facs_vgg_family,
    &facs_mobilenet_family,
    &facs_pspnet_family,
};
static int family_count = BUILT_IN;
static const char *all_names[MAX_NAMES + 1]; /* every family's names, rebuilt when a family registers */

struct facs_model {
    const facs_model_family *family;
    facs_model_options options;
    void *impl;
    facs_param_list *params;
    int facs;
    int folded;           /* facs_model_fold_bn ran: an inference model */
    char default_tap[64]; /* facs_model_default_tap's answer, once asked */
};

static int count_names(const facs_model_family *family)
{
    int n = 0;
    for (const char *const *p = family->names(); *p; p++)
        n++;
    return n;
}

const char *const *facs_model_arch_names(void)
{
    if (!all_names[0]) {
        int n = 0;
        for (int f = 0; f < family_count; f++)
            for (const char *const *p = families[f]->names(); *p && n < MAX_NAMES; p++)
                all_names[n++] = *p;
        all_names[n] = NULL;
    }
    return all_names;
}

static const facs_model_family *family_of(const char *arch)
{
    for (int f = 0; f < family_count; f++)
        if (facs_arch_index(families[f]->names(), arch) >= 0)
            return families[f];
    return NULL;
}

facs_status facs_model_register_family(const facs_model_family *family)
{
    if (!family || !family->names || !family->create || !family->forward || !family->destroy)
        return facs_fail(FACS_ERR_ARG, "model: a family needs names, create, forward and destroy");
    int total = 0;
    for (int f = 0; f < family_count; f++) {
        if (families[f] == family)
            return FACS_OK;
        total += count_names(families[f]);
    }
    if (family_count == MAX_FAMILIES || total + count_names(family) > MAX_NAMES)
        return facs_fail(FACS_ERR_ARG, "model: no room for another family (%d families, %d names)", family_count,
                         total);
    for (const char *const *p = family->names(); *p; p++)
        if (family_of(*p))
            return facs_fail(FACS_ERR_ARG, "model: architecture '%s' is registered already", *p);
    families[family_count++] = family;
    all_names[0] = NULL;
    return FACS_OK;
}

int facs_arch_index(const char *const *names, const char *arch)
{
    for (int i = 0; arch && names[i]; i++)
        if (strcmp(names[i], arch) == 0)
            return i;
    return -1;
}

facs_status facs_arch_unknown(const char *family, const char *arch, const char *const *names)
{
    char list[1024] = "";
    for (int i = 0; names[i]; i++) {
        strncat(list, i ? ", " : "", sizeof list - strlen(list) - 1);
        strncat(list, names[i], sizeof list - strlen(list) - 1);
    }
    return facs_fail(FACS_ERR_ARG, "%s%sunknown architecture '%s'; valid names: %s", family ? family : "",
                     family ? ": " : "", arch ? arch : "(null)", list);
}

facs_status facs_expect_rgb(const char *family, const facs_tensor *x)
{
    if (x->c == 3)
        return FACS_OK;
    char shape[64];
    return facs_fail(FACS_ERR_ARG, "%s: input is %s; expected 3 channels (N, 3, H, W)", family,
                     facs_shape_str(x, shape, sizeof shape));
}

int facs_model_arch_is_segmentation(const char *arch)
{
    const facs_model_family *family = family_of(arch);
    return family && family->segmentation;
}

facs_status facs_model_options_for_arch(const char *arch, facs_model_options *options)
{
    const facs_model_family *family = family_of(arch);
    if (!family)
        return facs_arch_unknown(NULL, arch, facs_model_arch_names());
    *options = (facs_model_options){.classes = family->classes ? family->classes : 1000,
                                    .width = 1.0,
                                    .fusion = {FACS_FUSION_THRESHOLD, 0.5f},
                                    .output_stride = family->output_stride ? family->output_stride : 32,
                                    .dropout = -1.0};
    snprintf(options->arch, sizeof options->arch, "%s", arch);
    return FACS_OK;
}

facs_status facs_model_options_validate(const facs_model_options *o)
{
    if (o->classes <= 0)
        return facs_fail(FACS_ERR_ARG, "%s: classes must be positive (got %d)", o->arch, o->classes);
    if (!(o->width > 0.0 && o->width <= 64.0))
        return facs_fail(FACS_ERR_ARG, "%s: width multiplier %g must be in (0, 64]", o->arch, o->width);
    if (o->fusion.fusion != FACS_FUSION_THRESHOLD && o->fusion.fusion != FACS_FUSION_WEIGHTED)
        return facs_fail(FACS_ERR_ARG, "%s: unknown fusion mode %d", o->arch, (int)o->fusion.fusion);
    if (!isfinite(o->fusion.threshold))
        return facs_fail(FACS_ERR_ARG, "%s: fusion threshold %g is not finite", o->arch, (double)o->fusion.threshold);
    if (o->fusion_bn < FACS_FUSION_BN_NONE || o->fusion_bn > FACS_FUSION_BN_POST)
        return facs_fail(FACS_ERR_ARG, "%s: unknown fusion BN placement %d", o->arch, (int)o->fusion_bn);
    if (o->output_stride < 0)
        return facs_fail(FACS_ERR_ARG, "%s: output stride %d must be 32, 16 or 8 (0: the default)", o->arch,
                         o->output_stride);
    if (o->deep_stem < FACS_STEM_7X7 || o->deep_stem > FACS_STEM_DEEP_BASE)
        return facs_fail(FACS_ERR_ARG, "%s: deep_stem must be 0 (7x7), 1 (v1c) or 2 (deep base), not %d", o->arch,
                         o->deep_stem);
    if (!(o->dropout < 1.0)) /* NaN too */
        return facs_fail(FACS_ERR_ARG, "%s: dropout probability %g must be below 1 (negative: the default)", o->arch,
                         o->dropout);
    return FACS_OK;
}

/* o with the family's defaults in place of output_stride 0 and a negative
 * dropout; refuses a dropout the family has no layer for. */
static facs_status resolve_defaults(const facs_model_family *family, facs_model_options *o)
{
    if (o->output_stride == 0)
        o->output_stride = family->output_stride ? family->output_stride : 32;
    if (family->dropout < 0.0) {
        if (o->dropout > 0.0)
            return facs_fail(FACS_ERR_ARG, "%s has no dropout layer (dropout %g)", o->arch, o->dropout);
        o->dropout = 0.0;
    } else if (o->dropout < 0.0) {
        o->dropout = family->dropout;
    }
    return FACS_OK;
}

facs_status facs_model_create(facs_model **out, const facs_model_options *options, facs_device device,
                              uint64_t seed)
{
    *out = NULL;
    const facs_model_family *family = family_of(options->arch);
    if (!family)
        return facs_arch_unknown(NULL, options->arch, facs_model_arch_names());
    FACS_TRY(facs_model_options_validate(options));
    facs_model_options resolved = *options;
    FACS_TRY(resolve_defaults(family, &resolved));
    facs_model *m = calloc(1, sizeof *m);
    if (!m)
        return facs_fail(FACS_ERR_MEMORY, "%s: out of memory", options->arch);
    *m = (facs_model){.family = family, .options = resolved};
    facs_status s = family->create(&m->impl, &m->params, &m->facs, &m->options, device, seed);
    if (s != FACS_OK) {
        free(m);
        return s;
    }
    *out = m;
    return FACS_OK;
}

void facs_model_free(facs_model *model)
{
    if (!model)
        return;
    model->family->destroy(model->impl);
    free(model);
}

static facs_tap *tap_slot(const facs_model *model)
{
    return model->family->tap_slot ? model->family->tap_slot(model->impl) : NULL;
}

facs_tensor *facs_model_forward(facs_ctx *ctx, facs_model *model, facs_tensor *x)
{
    facs_tap *tap = tap_slot(model);
    if (tap)
        tap->tensor = NULL; /* never the previous step's map */
    if (!ctx) {
        facs_fail(FACS_ERR_ARG, "model forward: no context (a NULL facs_ctx: did facs_ctx_create fail?)");
        return NULL;
    }
    return model->family->forward(ctx, model->impl, x);
}

const char *facs_model_tap_name(const facs_model *model, int index, char *buf, size_t size)
{
    if (!model->family->tap_name || index < 0)
        return NULL;
    return model->family->tap_name(model->impl, index, buf, size);
}

facs_status facs_model_set_tap(facs_model *model, const char *name)
{
    facs_tap *tap = tap_slot(model);
    if (!tap)
        return name ? facs_fail(FACS_ERR_ARG, "%s has no feature taps (asked for '%s')", model->options.arch, name)
                    : FACS_OK;
    *tap = (facs_tap){0};
    if (!name)
        return FACS_OK;
    char buf[64], list[768] = "";
    for (int i = 0; facs_model_tap_name(model, i, buf, sizeof buf); i++) {
        if (strcmp(buf, name) == 0) {
            *tap = (facs_tap){.on = 1, .index = i};
            return FACS_OK;
        }
        if (strlen(list) + strlen(buf) + 8 < sizeof list)
            strcat(strcat(list, i ? ", " : ""), buf);
        else if (!strstr(list, ", ..."))
            strcat(list, ", ...");
    }
    return facs_fail(FACS_ERR_ARG, "%s has no layer '%s' to tap; valid names: %s", model->options.arch, name, list);
}

facs_tensor *facs_model_tap(const facs_model *model)
{
    facs_tap *tap = tap_slot(model);
    return tap ? tap->tensor : NULL;
}

const char *facs_model_default_tap(facs_model *model)
{
    char buf[sizeof model->default_tap];
    int count = 0;
    while (facs_model_tap_name(model, count, buf, sizeof buf))
        count++;
    return count ? facs_model_tap_name(model, count - 1, model->default_tap, sizeof model->default_tap) : NULL;
}

facs_tensor *facs_model_aux_output(const facs_model *model)
{
    return model->family->aux_output ? model->family->aux_output(model->impl) : NULL;
}

const facs_model_family *facs_model_family_of(const facs_model *model) { return model->family; }

int facs_model_is_segmentation(const facs_model *model) { return model->family->segmentation; }

facs_param_list *facs_model_params(facs_model *model) { return model->params; }
const facs_model_options *facs_model_get_options(const facs_model *model) { return &model->options; }
int facs_model_is_facs(const facs_model *model) { return model->facs; }
int facs_model_is_folded(const facs_model *model) { return model->folded; }

facs_status facs_model_fold_bn(facs_model *model)
{
    /* Folding twice would scale the weights twice; a family without the hook has nothing folded. */
    if (model->folded || !model->family->fold_bn)
        return FACS_OK;
    FACS_TRY(model->family->fold_bn(model->impl));
    model->folded = 1;
    return FACS_OK;
}

facs_device facs_model_device(const facs_model *model)
{
    return model->params->count ? model->params->items[0]->value->device : FACS_DEVICE_CPU;
}

facs_status facs_model_to_device(facs_model *model, facs_device device)
{
    /* The folded biases live in the family's own lists, which this does not
     * reach: fold after moving. */
    if (model->folded && facs_model_device(model) != device)
        return facs_fail(FACS_ERR_ARG, "a folded model cannot move to %s: move it first, then fold",
                         facs_device_name(device));
    return facs_param_list_to_device(model->params, device);
}
const char *facs_model_head_prefix(const facs_model *model) { return model->family->head_prefix; }

const char *facs_model_arch_head_weight(const char *arch)
{
    const facs_model_family *family = family_of(arch);
    return family ? family->head_weight : NULL;
}

static const char *const FUSION_BN_NAMES[] = {"none", "pre", "post"};

const char *facs_fusion_bn_name(facs_fusion_bn placement)
{
    return placement >= FACS_FUSION_BN_NONE && placement <= FACS_FUSION_BN_POST ? FUSION_BN_NAMES[placement] : "?";
}

facs_status facs_fusion_bn_parse(const char *name, facs_fusion_bn *out)
{
    static const char *const *const NAMES = FUSION_BN_NAMES;
    for (int i = 0; i < 3; i++)
        if (name && strcmp(name, NAMES[i]) == 0) {
            *out = (facs_fusion_bn)i;
            return FACS_OK;
        }
    return facs_fail(FACS_ERR_ARG, "fusion BN placement must be none, pre or post, not '%s'", name ? name : "(null)");
}
