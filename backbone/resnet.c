/* ResNet / FACS-ResNet construction: architecture table, options, parameter
 * registration in torchvision's state_dict order and initialisation. The
 * forward pass is in resnet_block.c. */
#include "resnet.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "layers.h"
#include "model_family.h"

/* How a bottleneck squeezes its input (conv1's place). */
typedef enum { SQUEEZE_CONV, SQUEEZE_FACS, SQUEEZE_DWP } squeeze_kind;

typedef struct {
    const char *name;
    int blocks[4];
    squeeze_kind squeeze_by;
    int squeeze; /* bottleneck width = block output channels / squeeze: 4 (He et al.), 8 (Table 2's R = 8 rows) */
    int se;      /* squeeze-and-excitation on each block's residual branch */
} arch_entry;

static const arch_entry ARCHS[] = {
    {"resnet26", {2, 2, 2, 2}, SQUEEZE_CONV, 4, 0},
    {"resnet50", {3, 4, 6, 3}, SQUEEZE_CONV, 4, 0},
    {"resnet101", {3, 4, 23, 3}, SQUEEZE_CONV, 4, 0},
    {"resnet152", {3, 8, 36, 3}, SQUEEZE_CONV, 4, 0},
    {"facs_resnet26", {2, 2, 2, 2}, SQUEEZE_FACS, 4, 0},
    {"facs_resnet50", {3, 4, 6, 3}, SQUEEZE_FACS, 4, 0},
    {"facs_resnet101", {3, 4, 23, 3}, SQUEEZE_FACS, 4, 0},
    {"facs_resnet152", {3, 8, 36, 3}, SQUEEZE_FACS, 4, 0},
    {"resnet50_r8", {3, 4, 6, 3}, SQUEEZE_CONV, 8, 0},
    {"facs_resnet50_r8", {3, 4, 6, 3}, SQUEEZE_FACS, 8, 0},
    {"se_resnet50", {3, 4, 6, 3}, SQUEEZE_CONV, 4, 1},
    {"se_facs_resnet50", {3, 4, 6, 3}, SQUEEZE_FACS, 4, 1},
    {"dwp_resnet50", {3, 4, 6, 3}, SQUEEZE_DWP, 4, 0},
};
#define ARCH_COUNT ((int)(sizeof ARCHS / sizeof ARCHS[0]))
#define SE_REDUCTION 16 /* Hu et al.'s r */

/* Same order as ARCHS; a separate constant list so callers can walk it. */
static const char *const NAMES[] = {
    "resnet26",    "resnet50",         "resnet101",    "resnet152",        "facs_resnet26",
    "facs_resnet50", "facs_resnet101", "facs_resnet152", "resnet50_r8",    "facs_resnet50_r8",
    "se_resnet50", "se_facs_resnet50", "dwp_resnet50", NULL};

const char *const *facs_resnet_arch_names(void) { return NAMES; }

_Static_assert(sizeof NAMES / sizeof NAMES[0] == ARCH_COUNT + 1, "NAMES must list every ARCHS entry");

static const arch_entry *find_arch(const char *arch)
{
    int i = facs_arch_index(NAMES, arch);
    return i < 0 ? NULL : &ARCHS[i];
}

facs_status facs_resnet_options_for_arch(const char *arch, facs_resnet_options *options)
{
    if (!find_arch(arch))
        return facs_arch_unknown("resnet", arch, NAMES);
    *options = (facs_resnet_options){.classes = 1000,
                                     .width = 1.0,
                                     .output_stride = 32,
                                     .fusion = {FACS_FUSION_THRESHOLD, 0.5f}};
    snprintf(options->arch, sizeof options->arch, "%s", arch);
    return FACS_OK;
}

/* The three convs and BNs of a deep stem: names and channels, in
 * registration (state_dict) order. */
typedef struct {
    const char *conv[3], *bn[3];
    int width[3]; /* output channels of each conv, in units of base / 2 */
} deep_stem_layout;

static const deep_stem_layout V1C = {{"conv1.0.weight", "conv1.3.weight", "conv1.6.weight"},
                                     {"conv1.1", "conv1.4", "bn1"}, {1, 1, 2}};
static const deep_stem_layout DEEP_BASE = {{"conv1.weight", "conv2.weight", "conv3.weight"}, {"bn1", "bn2", "bn3"},
                                           {2, 2, 4}};

/* Channels out of the stem: what layer1 takes. */
static int stem_channels(const facs_resnet_options *o, int base)
{
    return o->deep_stem == FACS_STEM_DEEP_BASE ? 2 * base : base;
}

static facs_status build_stem(facs_builder *b, facs_resnet *net, int base)
{
    const facs_resnet_options *o = &net->options;
    if (o->deep_stem != FACS_STEM_7X7) {
        const deep_stem_layout *l = o->deep_stem == FACS_STEM_DEEP ? &V1C : &DEEP_BASE;
        int in = 3;
        for (int i = 0; i < 3; i++) {
            int out = l->width[i] * base / 2 > 0 ? l->width[i] * base / 2 : 1;
            if (!(net->stem_conv[i] = facs_build_conv(b, l->conv[i], out, in, 3)))
                return FACS_ERR_MEMORY;
            FACS_TRY(facs_build_bn(b, &net->stem_bn[i], l->bn[i], out));
            in = out;
        }
        return FACS_OK;
    }
    if (!(net->stem_conv[0] = facs_build_conv(b, "conv1.weight", base, 3, o->cifar_stem ? 3 : 7)))
        return FACS_ERR_MEMORY;
    return facs_build_bn(b, &net->stem_bn[2], "bn1", base);
}

/* timm's SEModule names: se.fc1 (out -> out / 16, bias), se.fc2 (back, bias). */
static facs_status build_se(facs_builder *b, facs_resnet_block *blk, const char *prefix)
{
    char name[96];
    int reduced = blk->out / SE_REDUCTION > 0 ? blk->out / SE_REDUCTION : 1;
    snprintf(name, sizeof name, "%s.se.fc1.weight", prefix);
    if (!(blk->se_fc1 = facs_build_conv(b, name, reduced, blk->out, 1)))
        return FACS_ERR_MEMORY;
    snprintf(name, sizeof name, "%s.se.fc1.bias", prefix);
    if (!(blk->se_fc1_bias = facs_build_bias(b, name, reduced)))
        return FACS_ERR_MEMORY;
    snprintf(name, sizeof name, "%s.se.fc2.weight", prefix);
    if (!(blk->se_fc2 = facs_build_conv(b, name, blk->out, reduced, 1)))
        return FACS_ERR_MEMORY;
    snprintf(name, sizeof name, "%s.se.fc2.bias", prefix);
    return (blk->se_fc2_bias = facs_build_bias(b, name, blk->out)) ? FACS_OK : FACS_ERR_MEMORY;
}

static facs_status build_block(facs_builder *b, facs_resnet_block *blk, int stage, int index, squeeze_kind squeeze_by,
                               int se)
{
    char prefix[64], name[96];
    snprintf(prefix, sizeof prefix, "layer%d.%d", stage + 1, index);
#define NAME(suffix) (snprintf(name, sizeof name, "%s.%s", prefix, suffix), name)
    if (squeeze_by != SQUEEZE_DWP && !(blk->conv1 = facs_build_conv(b, NAME("conv1.weight"), blk->width, blk->in, 1)))
        return FACS_ERR_MEMORY;
    FACS_TRY(facs_build_bn(b, &blk->bn1, NAME("bn1"), blk->width));
    if (!(blk->conv2 = facs_build_conv(b, NAME("conv2.weight"), blk->width, blk->width, 3)))
        return FACS_ERR_MEMORY;
    FACS_TRY(facs_build_bn(b, &blk->bn2, NAME("bn2"), blk->width));
    if (!(blk->conv3 = facs_build_conv(b, NAME("conv3.weight"), blk->out, blk->width, 1)))
        return FACS_ERR_MEMORY;
    FACS_TRY(facs_build_bn(b, &blk->bn3, NAME("bn3"), blk->out));
    if (se)
        FACS_TRY(build_se(b, blk, prefix));
    if (blk->stride != 1 || blk->in != blk->out) {
        if (!(blk->down_conv = facs_build_conv(b, NAME("downsample.0.weight"), blk->out, blk->in, 1)))
            return FACS_ERR_MEMORY;
        FACS_TRY(facs_build_bn(b, &blk->down_bn, NAME("downsample.1"), blk->out));
    }
#undef NAME
    return FACS_OK;
}

/* Stride and dilation of each stage's conv2 for the output stride (semseg). */
static void stage_geometry(int output_stride, int stride[4], int dilation[4])
{
    static const int s32[4] = {1, 2, 2, 2}, d32[4] = {1, 1, 1, 1};
    static const int s16[4] = {1, 2, 2, 1}, d16[4] = {1, 1, 1, 2};
    static const int s8[4] = {1, 2, 1, 1}, d8[4] = {1, 1, 2, 4};
    const int *s = output_stride == 8 ? s8 : output_stride == 16 ? s16 : s32;
    const int *d = output_stride == 8 ? d8 : output_stride == 16 ? d16 : d32;
    memcpy(stride, s, 4 * sizeof *stride);
    memcpy(dilation, d, 4 * sizeof *dilation);
}

static facs_status build(facs_builder *b, facs_resnet *net, const arch_entry *arch)
{
    const facs_resnet_options *o = &net->options;
    int base = (int)lround(64.0 * o->width);
    if (base < 1)
        base = 1;
    FACS_TRY(build_stem(b, net, base));
    int stride[4], dilation[4], in = stem_channels(o, base);
    stage_geometry(o->output_stride, stride, dilation);
    for (int s = 0; s < 4; s++)
        net->block_count += arch->blocks[s];
    net->blocks = calloc((size_t)net->block_count, sizeof *net->blocks);
    if (!net->blocks)
        return facs_fail(FACS_ERR_MEMORY, "resnet: out of memory for %d blocks", net->block_count);
    int k = 0;
    for (int s = 0; s < 4; s++) {
        net->stage_blocks[s] = arch->blocks[s];
        int out = 4 * (base << s), width = out / arch->squeeze;
        for (int i = 0; i < arch->blocks[s]; i++, k++) {
            facs_resnet_block *blk = &net->blocks[k];
            *blk = (facs_resnet_block){.in = in, .width = width, .out = out,
                                       .stride = i == 0 ? stride[s] : 1, .dilation = dilation[s]};
            /* Small width multipliers can leave no channel, or (FACS) a width that does not divide the input into
             * equal chunks; the standard squeeze 4 always divides, squeeze 8 needs an even base. */
            if (width < 1 || (arch->squeeze_by != SQUEEZE_CONV && in % width != 0))
                return facs_fail(FACS_ERR_ARG,
                                 "resnet: %s with width multiplier %g: layer%d.%d squeezes %d channels to %d%s",
                                 arch->name, o->width, s + 1, i, in, width,
                                 width < 1 ? "" : ", which cannot be split into equal chunks");
            FACS_TRY(build_block(b, blk, s, i, arch->squeeze_by, arch->se));
            in = blk->out;
        }
        if (s == 2)
            net->layer3_channels = in;
    }
    net->out_channels = in;
    if (o->no_head)
        return FACS_OK;
    return facs_build_linear(b, &net->fc_weight, &net->fc_bias, "fc", o->classes, in, 0);
}

static facs_status check_options(const facs_resnet_options *o)
{
    if (!find_arch(o->arch))
        return facs_arch_unknown("resnet", o->arch, NAMES);
    if (!o->no_head && o->classes <= 0)
        return facs_fail(FACS_ERR_ARG, "resnet: classes must be positive (got %d)", o->classes);
    if (!(o->width > 0.0 && o->width <= 64.0))
        return facs_fail(FACS_ERR_ARG, "resnet: width multiplier %g must be in (0, 64]", o->width);
    if (o->output_stride != 32 && o->output_stride != 16 && o->output_stride != 8)
        return facs_fail(FACS_ERR_ARG, "resnet: output stride %d must be 32, 16 or 8", o->output_stride);
    if (o->cifar_stem && o->deep_stem)
        return facs_fail(FACS_ERR_ARG, "resnet: cifar_stem and deep_stem exclude each other");
    if (o->deep_stem < FACS_STEM_7X7 || o->deep_stem > FACS_STEM_DEEP_BASE)
        return facs_fail(FACS_ERR_ARG, "resnet: deep_stem %d is none of 0 (7x7), 1 (v1c), 2 (deep base)", o->deep_stem);
    if (o->fusion.fusion != FACS_FUSION_THRESHOLD && o->fusion.fusion != FACS_FUSION_WEIGHTED)
        return facs_fail(FACS_ERR_ARG, "resnet: unknown fusion mode %d", (int)o->fusion.fusion);
    return FACS_OK;
}

facs_status facs_resnet_create(facs_resnet *net, const facs_resnet_options *options, facs_device device,
                               uint64_t seed)
{
    *net = (facs_resnet){.options = *options};
    facs_param_list_init(&net->params);
    facs_param_list_init(&net->folded);
    FACS_TRY(check_options(options));
    const arch_entry *arch = find_arch(options->arch);
    net->facs = arch->squeeze_by == SQUEEZE_FACS;
    net->dwp = arch->squeeze_by == SQUEEZE_DWP;
    facs_builder b = {&net->params, device, seed};
    facs_status s = build(&b, net, arch);
    if (s != FACS_OK)
        facs_resnet_free(net);
    return s;
}

void facs_resnet_free(facs_resnet *net)
{
    facs_resnet_options options = net->options;
    facs_param_list_free(&net->params);
    facs_param_list_free(&net->folded);
    free(net->blocks);
    *net = (facs_resnet){.options = options};
    facs_param_list_init(&net->params);
    facs_param_list_init(&net->folded);
}

facs_status facs_resnet_fold_bn(facs_resnet *net)
{
    if (net->folded.count > 0)
        return FACS_OK;
    int stems = net->options.deep_stem ? 3 : 1;
    for (int i = 0; i < stems; i++) /* the single stem conv's BN is stem_bn[2] */
        FACS_TRY(facs_bn_fold(&net->folded, net->stem_conv[i], &net->stem_bn[stems == 3 ? i : 2]));
    for (int k = 0; k < net->block_count; k++) {
        facs_resnet_block *b = &net->blocks[k];
        if (!net->facs && !net->dwp)
            FACS_TRY(facs_bn_fold(&net->folded, b->conv1, &b->bn1));
        FACS_TRY(facs_bn_fold(&net->folded, b->conv2, &b->bn2));
        FACS_TRY(facs_bn_fold(&net->folded, b->conv3, &b->bn3));
        if (b->down_conv)
            FACS_TRY(facs_bn_fold(&net->folded, b->down_conv, &b->down_bn));
    }
    return FACS_OK;
}
