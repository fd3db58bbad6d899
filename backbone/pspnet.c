/* PSPNet construction: architecture names, the backbone under semseg's names,
 * the heads, and the forward pass (see pspnet.h). The facs_model family is in
 * pspnet_model.c. */
#include "pspnet.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "init.h"
#include "layers.h"
#include "model_family.h"

#define PREFIX "pspnet_"
#define MAX_ARCHS 32

static const int BINS[FACS_PSPNET_BINS] = {1, 2, 3, 6};

const char *const *facs_pspnet_arch_names(void)
{
    static char storage[MAX_ARCHS][32];
    static const char *names[MAX_ARCHS + 1];
    if (!names[0]) {
        int n = 0;
        for (const char *const *p = facs_resnet_arch_names(); *p && n < MAX_ARCHS; p++, n++) {
            snprintf(storage[n], sizeof storage[n], PREFIX "%s", *p);
            names[n] = storage[n];
        }
        names[n] = NULL;
    }
    return names;
}

/* ---- semseg's names for the backbone's stem ---- */

typedef struct {
    const char *resnet, *semseg; /* name prefixes */
} stem_name;

static const stem_name STEM_7X7[] = {{"conv1.", "layer0.0."}, {"bn1.", "layer0.1."}, {NULL, NULL}};
static const stem_name STEM_DEEP[] = {{"conv1.0.", "layer0.0."}, {"conv1.1.", "layer0.1."},
                                      {"conv1.3.", "layer0.3."}, {"conv1.4.", "layer0.4."},
                                      {"conv1.6.", "layer0.6."}, {"bn1.", "layer0.7."},
                                      {NULL, NULL}};

/* name with the prefix from (resnet_side: the ResNet's) replaced by the other
 * side's, into buf; name itself when no prefix matches; NULL when buf is too small. */
static const char *rename_stem(const stem_name *table, int resnet_side, const char *name, char *buf, size_t size)
{
    for (const stem_name *e = table; e->resnet; e++) {
        const char *from = resnet_side ? e->resnet : e->semseg, *to = resnet_side ? e->semseg : e->resnet;
        size_t len = strlen(from);
        if (strncmp(name, from, len) == 0)
            return snprintf(buf, size, "%s%s", to, name + len) < (int)size ? buf : NULL;
    }
    return name;
}

static const stem_name STEM_DEEP_BASE[] = {{"conv1.", "layer0.0."}, {"bn1.", "layer0.1."},
                                           {"conv2.", "layer0.3."}, {"bn2.", "layer0.4."},
                                           {"conv3.", "layer0.6."}, {"bn3.", "layer0.7."},
                                           {NULL, NULL}};

static const stem_name *stem_table(const facs_model_options *o)
{
    return o->deep_stem == FACS_STEM_DEEP ? STEM_DEEP : o->deep_stem == FACS_STEM_DEEP_BASE ? STEM_DEEP_BASE : STEM_7X7;
}

/* The ResNet registered its stem under torchvision's (or timm's) names:
 * semseg's layer0.* instead, in place, so the order stays the state_dict's. */
static facs_status rename_backbone(facs_pspnet *net)
{
    facs_param_list *list = &net->backbone.params;
    for (int i = 0; i < list->count; i++) {
        facs_param *p = list->items[i];
        char buf[160];
        const char *name = rename_stem(stem_table(&net->options), 1, p->name, buf, sizeof buf);
        if (!name)
            return facs_fail(FACS_ERR_ARG, "pspnet: name %s too long", p->name);
        if (name == p->name)
            continue;
        char *copy = strdup(name);
        if (!copy)
            return facs_fail(FACS_ERR_MEMORY, "pspnet: out of memory");
        free(p->name);
        p->name = copy;
    }
    return FACS_OK;
}

const char *facs_pspnet_backbone_key(const facs_model_options *o, const char *model_key, char *buf, size_t size)
{
    if (strncmp(model_key, "layer", 5) != 0 || !(model_key[5] >= '0' && model_key[5] <= '4') || model_key[6] != '.')
        return NULL; /* ppm, cls, aux */
    return rename_stem(stem_table(o), 0, model_key, buf, size);
}

/* ---- building ---- */

/* PyTorch's default for a conv (kaiming_uniform with a = sqrt(5)) and its
 * bias: both uniform in +-1/sqrt(fan_in), fan_in = in k k. */
static facs_param *default_conv(facs_builder *b, const char *name, int out, int in, int k)
{
    return facs_param_add_init(b->params, FACS_PARAM_TRAINABLE, name, b->device, out, in, k, k, FACS_INIT_UNIFORM,
                               1.0 / sqrt((double)in * k * k), b->seed);
}

static facs_status build_head(facs_builder *b, facs_pspnet_head *h, const char *name, int in, int mid, int classes)
{
    char key[64];
    snprintf(key, sizeof key, "%s.0.weight", name);
    if (!(h->conv = default_conv(b, key, mid, in, 3)))
        return FACS_ERR_MEMORY;
    snprintf(key, sizeof key, "%s.1", name);
    FACS_TRY(facs_build_bn(b, &h->bn, key, mid));
    snprintf(key, sizeof key, "%s.4.weight", name);
    if (!(h->out = default_conv(b, key, classes, mid, 1)))
        return FACS_ERR_MEMORY;
    snprintf(key, sizeof key, "%s.4.bias", name);
    h->out_bias = facs_param_add_init(b->params, FACS_PARAM_TRAINABLE, key, b->device, classes, 1, 1, 1,
                                      FACS_INIT_UNIFORM, 1.0 / sqrt((double)mid), b->seed);
    if (!h->out_bias)
        return FACS_ERR_MEMORY;
    h->out_bias->no_decay = 1;
    return FACS_OK;
}

static int scaled(double width, int channels)
{
    int c = (int)lround(channels * width);
    return c < 1 ? 1 : c;
}

static facs_status build(facs_pspnet *net, facs_device device, uint64_t seed)
{
    const facs_model_options *o = &net->options;
    facs_resnet_options ro;
    FACS_TRY(facs_resnet_options_for_arch(o->arch + strlen(PREFIX), &ro));
    ro.width = o->width;
    ro.deep_stem = o->deep_stem;
    ro.output_stride = o->output_stride;
    ro.no_head = 1;
    ro.post_bn = o->fusion_bn == FACS_FUSION_BN_POST;
    ro.fusion = o->fusion;
    FACS_TRY(facs_resnet_create(&net->backbone, &ro, device, seed));
    FACS_TRY(rename_backbone(net));
    int c = net->backbone.out_channels;
    net->reduction = c / FACS_PSPNET_BINS; /* semseg: int(fea_dim / len(bins)); C = 32 base divides */
    net->cls_width = scaled(o->width, 512);
    net->aux_width = scaled(o->width, 256);
    /* The heads continue the backbone's list: semseg's state_dict order, and
     * each tensor's initial values keep depending on its index alone. */
    facs_builder b = {&net->backbone.params, device, seed};
    for (int i = 0; i < FACS_PSPNET_BINS; i++) {
        char key[64];
        net->ppm[i].bin = BINS[i];
        snprintf(key, sizeof key, "ppm.features.%d.1.weight", i);
        if (!(net->ppm[i].conv = default_conv(&b, key, net->reduction, c, 1)))
            return FACS_ERR_MEMORY;
        snprintf(key, sizeof key, "ppm.features.%d.2", i);
        FACS_TRY(facs_build_bn(&b, &net->ppm[i].bn, key, net->reduction));
    }
    FACS_TRY(build_head(&b, &net->cls, "cls", 2 * c, net->cls_width, o->classes));
    return build_head(&b, &net->aux, "aux", net->backbone.layer3_channels, net->aux_width, o->classes);
}

static facs_status check_options(const facs_model_options *o)
{
    if (facs_arch_index(facs_pspnet_arch_names(), o->arch) < 0)
        return facs_arch_unknown("pspnet", o->arch, facs_pspnet_arch_names());
    if (o->classes <= 0)
        return facs_fail(FACS_ERR_ARG, "%s: classes must be positive (got %d)", o->arch, o->classes);
    if (o->output_stride != 8 && o->output_stride != 16)
        return facs_fail(FACS_ERR_ARG, "%s: output stride %d; PSPNet's backbone runs at output stride 8 or 16",
                         o->arch, o->output_stride);
    if (o->cifar_stem)
        return facs_fail(FACS_ERR_ARG, "%s: PSPNet takes the 7x7 stem or the deep stem, not the CIFAR stem", o->arch);
    if (o->fusion_bn == FACS_FUSION_BN_PRE)
        return facs_fail(FACS_ERR_ARG, "%s: BN before the fusion exists only for MobileNet-v2; ResNets take post-BN",
                         o->arch);
    if (!(o->dropout >= 0.0 && o->dropout < 1.0))
        return facs_fail(FACS_ERR_ARG, "%s: dropout probability %g must be in [0, 1)", o->arch, o->dropout);
    return FACS_OK;
}

facs_status facs_pspnet_create(facs_pspnet *net, const facs_model_options *options, facs_device device,
                               uint64_t seed)
{
    memset(net, 0, sizeof *net);
    facs_param_list_init(&net->backbone.params);
    net->options = *options;
    if (net->options.output_stride == 0)
        net->options.output_stride = 8;
    if (net->options.dropout < 0.0)
        net->options.dropout = 0.1;
    FACS_TRY(check_options(&net->options));
    facs_status s = build(net, device, seed);
    if (s != FACS_OK)
        facs_pspnet_free(net);
    return s;
}

void facs_pspnet_free(facs_pspnet *net)
{
    facs_model_options options = net->options;
    facs_resnet_free(&net->backbone);
    memset(net, 0, sizeof *net);
    net->options = options;
    facs_param_list_init(&net->backbone.params);
}

facs_status facs_pspnet_fold_bn(facs_pspnet *net)
{
    if (net->cls.bn.fold_bias)
        return FACS_OK;
    facs_param_list *store = &net->backbone.folded;
    FACS_TRY(facs_resnet_fold_bn(&net->backbone));
    for (int i = 0; i < FACS_PSPNET_BINS; i++)
        FACS_TRY(facs_bn_fold(store, net->ppm[i].conv, &net->ppm[i].bn));
    FACS_TRY(facs_bn_fold(store, net->aux.conv, &net->aux.bn));
    return facs_bn_fold(store, net->cls.conv, &net->cls.bn);
}

/* ---- forward ---- */

/* 3x3 conv, BN, ReLU, Dropout2d (training only), 1x1 conv with bias. */
static facs_tensor *head(facs_ctx *ctx, const facs_pspnet_head *h, facs_tensor *x, double dropout)
{
    facs_tensor *y = facs_conv_bn(ctx, x, h->conv, &h->bn, 1, 1, 1, 1, NULL, FACS_POST_RELU);
    if (ctx->training && dropout > 0.0)
        y = facs_dropout2d(ctx, y, (float)dropout);
    return facs_conv_forward(ctx, y, h->out, h->out_bias, 1, 0, 1, 1);
}

/* The layer4 features with the pyramid after them: (N, 2C, h, w). */
static facs_tensor *pyramid(facs_ctx *ctx, const facs_pspnet *net, facs_tensor *f)
{
    if (!f)
        return NULL;
    facs_tensor *parts[1 + FACS_PSPNET_BINS] = {f};
    for (int i = 0; i < FACS_PSPNET_BINS; i++) {
        const facs_pspnet_stage *st = &net->ppm[i];
        facs_tensor *p = facs_adaptive_avgpool2d(ctx, f, st->bin, st->bin);
        p = facs_conv_bn(ctx, p, st->conv, &st->bn, 1, 0, 1, 1, NULL, FACS_POST_RELU);
        if (!(parts[1 + i] = facs_resize_bilinear(ctx, p, f->h, f->w, 1)))
            return NULL;
    }
    return facs_concat(ctx, 1 + FACS_PSPNET_BINS, parts);
}

facs_tensor *facs_pspnet_forward(facs_ctx *ctx, facs_pspnet *net, facs_tensor *x)
{
    net->aux_logits = NULL;
    if (!x || facs_expect_rgb("pspnet", x) != FACS_OK)
        return NULL;
    /* In eval mode without the tape each stage's output replaces what came
     * before it (ctx.h facs_ctx_keep_only): the features give way to the
     * pyramid, the pyramid to the cls logits. Training mode keeps layer3 for
     * the aux head. */
    int training = ctx->training;
    facs_ctx_mark mark = facs_ctx_get_mark(ctx);
    facs_tensor *layer3 = NULL;
    facs_tensor *f = facs_resnet_features(ctx, &net->backbone, x, training ? &layer3 : NULL);
    facs_tensor *y = pyramid(ctx, net, f);
    if (!training)
        y = facs_ctx_keep_only(ctx, mark, y);
    y = head(ctx, &net->cls, y, net->options.dropout);
    if (!training)
        y = facs_ctx_keep_only(ctx, mark, y);
    y = facs_resize_bilinear(ctx, y, x->h, x->w, 1);
    if (!y || !ctx->training)
        return y;
    facs_tensor *aux = facs_resize_bilinear(ctx, head(ctx, &net->aux, layer3, net->options.dropout), x->h, x->w, 1);
    if (!aux)
        return NULL;
    net->aux_logits = aux;
    return y;
}
