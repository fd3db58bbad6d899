/* MobileNet-v2 / FACS-MobileNet-v2 construction: architecture names, options,
 * parameter registration in torchvision's state_dict order and
 * initialisation. The forward pass is in mobilenet_block.c. */
#include "mobilenet.h"

#include <stdio.h>
#include <string.h>

#include "model_family.h"

typedef struct {
    const char *name;
    int facs, full;
} arch_entry;

static const arch_entry ARCHS[] = {
    {"mobilenet_v2", 0, 0},
    {"facs_mobilenet_v2", 1, 0},
    {"mobilenet_v2_full", 0, 1},
    {"facs_mobilenet_v2_full", 1, 1},
};
#define ARCH_COUNT ((int)(sizeof ARCHS / sizeof ARCHS[0]))

/* Same order as ARCHS; a separate constant list so callers can walk it. */
static const char *const NAMES[] = {"mobilenet_v2", "facs_mobilenet_v2", "mobilenet_v2_full",
                                    "facs_mobilenet_v2_full", NULL};

/* The inverted residual table of Sandler et al.: expansion t, channels c, blocks n, first stride s. */
static const int SETTINGS[7][4] = {{1, 16, 1, 1}, {6, 24, 2, 2},  {6, 32, 3, 2}, {6, 64, 4, 2},
                                   {6, 96, 3, 1}, {6, 160, 3, 2}, {6, 320, 1, 1}};

const char *const *facs_mobilenet_arch_names(void) { return NAMES; }

_Static_assert(sizeof NAMES / sizeof NAMES[0] == ARCH_COUNT + 1, "NAMES must list every ARCHS entry");

static const arch_entry *find_arch(const char *arch)
{
    int i = facs_arch_index(NAMES, arch);
    return i < 0 ? NULL : &ARCHS[i];
}

facs_status facs_mobilenet_options_for_arch(const char *arch, facs_mobilenet_options *options)
{
    if (!find_arch(arch))
        return facs_arch_unknown("mobilenet", arch, NAMES);
    *options = (facs_mobilenet_options){
        .classes = 1000, .width = 1.0, .dropout = 0.2f, .fusion = {FACS_FUSION_THRESHOLD, 0.5f}};
    snprintf(options->arch, sizeof options->arch, "%s", arch);
    return FACS_OK;
}

/* torchvision's _make_divisible(v, 8). */
static int make_divisible(double v)
{
    int rounded = (int)(v + 4.0) / 8 * 8;
    if (rounded < 8)
        rounded = 8;
    if (rounded < 0.9 * v)
        rounded += 8;
    return rounded;
}

/* conv "<prefix>.weight" 3x3 or 1x1; groups = out for the depthwise convs. */
static facs_param *conv(facs_builder *b, const char *prefix, int out, int in, int k, int groups)
{
    char name[128];
    snprintf(name, sizeof name, "%s.weight", prefix);
    return facs_build_conv(b, name, out, in / groups, k);
}

/* torchvision's Conv2dNormActivation: the conv "<prefix>.0" and its BN "<prefix>.1" (ReLU6 has no tensors). */
static facs_status conv_bn(facs_builder *b, facs_param **w, facs_bn *bn, const char *prefix, int out, int in, int k,
                           int groups)
{
    char name[104];
    snprintf(name, sizeof name, "%s.0", prefix);
    if (!(*w = conv(b, name, out, in, k, groups)))
        return FACS_ERR_MEMORY;
    snprintf(name, sizeof name, "%s.1", prefix);
    return facs_build_bn(b, bn, name, out);
}

static facs_status build_block(facs_builder *b, facs_mobilenet_block *blk, int index, int full)
{
    char prefix[64], name[96];
    int step = 0; /* index of the next child of blk's "conv" Sequential */
    if (blk->hidden != blk->in) {
        snprintf(name, sizeof name, "features.%d.conv.%d", index, step++);
        FACS_TRY(conv_bn(b, &blk->expand_conv, &blk->expand_bn, name, blk->hidden, blk->in, 1, 1));
    }
    snprintf(name, sizeof name, "features.%d.conv.%d", index, step++);
    FACS_TRY(conv_bn(b, &blk->dw_conv, &blk->dw_bn, name, blk->hidden, blk->hidden, 3, full ? 1 : blk->hidden));
    snprintf(prefix, sizeof prefix, "features.%d.conv.%d", index, step++);
    if (!(blk->project_conv = conv(b, prefix, blk->out, blk->hidden, 1, 1)))
        return FACS_ERR_MEMORY;
    snprintf(prefix, sizeof prefix, "features.%d.conv.%d", index, step);
    return facs_build_bn(b, &blk->project_bn, prefix, blk->out);
}

static facs_status build(facs_builder *b, facs_mobilenet *net)
{
    const facs_mobilenet_options *o = &net->options;
    int in = make_divisible(32.0 * o->width);
    FACS_TRY(conv_bn(b, &net->stem_conv, &net->stem_bn, "features.0", in, 3, 3, 1));
    int k = 0;
    for (int s = 0; s < 7; s++) {
        int t = SETTINGS[s][0], out = make_divisible(SETTINGS[s][1] * o->width);
        for (int i = 0; i < SETTINGS[s][2]; i++, k++) {
            facs_mobilenet_block *blk = &net->blocks[k];
            int stride = i == 0 ? SETTINGS[s][3] : 1;
            /* int(round(in t)): t is an integer, so the product is exact. */
            *blk = (facs_mobilenet_block){
                .in = in, .hidden = in * t, .out = out, .stride = stride, .residual = stride == 1 && in == out};
            blk->facs = net->facs && blk->residual && t != 1;
            FACS_TRY(build_block(b, blk, k + 1, net->full));
            in = out;
        }
    }
    net->out_channels = make_divisible(1280.0 * (o->width > 1.0 ? o->width : 1.0));
    FACS_TRY(conv_bn(b, &net->head_conv, &net->head_bn, "features.18", net->out_channels, in, 1, 1));
    return facs_build_linear(b, &net->fc_weight, &net->fc_bias, "classifier.1", o->classes, net->out_channels, 0.01);
}

static facs_status check_options(const facs_mobilenet_options *o)
{
    if (!find_arch(o->arch))
        return facs_arch_unknown("mobilenet", o->arch, NAMES);
    if (o->classes <= 0)
        return facs_fail(FACS_ERR_ARG, "mobilenet: classes must be positive (got %d)", o->classes);
    if (!(o->width > 0.0 && o->width <= 64.0))
        return facs_fail(FACS_ERR_ARG, "mobilenet: width multiplier %g must be in (0, 64]", o->width);
    if (!(o->dropout >= 0.0f && o->dropout < 1.0f))
        return facs_fail(FACS_ERR_ARG, "mobilenet: dropout probability %g must be in [0, 1)", (double)o->dropout);
    if (o->fusion.fusion != FACS_FUSION_THRESHOLD && o->fusion.fusion != FACS_FUSION_WEIGHTED)
        return facs_fail(FACS_ERR_ARG, "mobilenet: unknown fusion mode %d", (int)o->fusion.fusion);
    if (o->fusion_bn < FACS_FUSION_BN_NONE || o->fusion_bn > FACS_FUSION_BN_POST)
        return facs_fail(FACS_ERR_ARG, "mobilenet: unknown fusion BN placement %d", (int)o->fusion_bn);
    return FACS_OK;
}

facs_status facs_mobilenet_create(facs_mobilenet *net, const facs_mobilenet_options *options, facs_device device,
                                  uint64_t seed)
{
    *net = (facs_mobilenet){.options = *options};
    facs_param_list_init(&net->params);
    facs_param_list_init(&net->folded);
    FACS_TRY(check_options(options));
    const arch_entry *arch = find_arch(options->arch);
    net->facs = arch->facs;
    net->full = arch->full;
    facs_builder b = {&net->params, device, seed};
    facs_status s = build(&b, net);
    if (s != FACS_OK)
        facs_mobilenet_free(net);
    return s;
}

void facs_mobilenet_free(facs_mobilenet *net)
{
    facs_mobilenet_options options = net->options;
    facs_param_list_free(&net->params);
    facs_param_list_free(&net->folded);
    *net = (facs_mobilenet){.options = options};
    facs_param_list_init(&net->params);
    facs_param_list_init(&net->folded);
}

facs_status facs_mobilenet_fold_bn(facs_mobilenet *net)
{
    if (net->folded.count > 0)
        return FACS_OK;
    facs_param_list *store = &net->folded;
    FACS_TRY(facs_bn_fold(store, net->stem_conv, &net->stem_bn));
    for (int k = 0; k < FACS_MOBILENET_BLOCKS; k++) {
        facs_mobilenet_block *b = &net->blocks[k];
        if (b->expand_conv)
            FACS_TRY(facs_bn_fold(store, b->expand_conv, &b->expand_bn));
        FACS_TRY(facs_bn_fold(store, b->dw_conv, &b->dw_bn));
        if (!b->facs) /* a FACS block has no projection convolution */
            FACS_TRY(facs_bn_fold(store, b->project_conv, &b->project_bn));
    }
    return facs_bn_fold(store, net->head_conv, &net->head_bn);
}
