/* facs-summary: per-layer and total parameters and FLOPs of any backbone
 * (backbone/model.h) on one (1, 3, S, S) image.
 *
 * It counts with facs_flops_count_model (backbone/flops.h) on a model built
 * on the meta device (tensor.h: shapes, no storage): one eval-mode
 * forward pass runs there with the context's profile hook (ctx.h) recording
 * every op call, so the count follows the real forward pass, costs no
 * computation and a few MB at any input size. A layer is named after its
 * weight's state_dict key without ".weight" ("layer1.0.conv1", "bn1"); ops
 * without weights after the op and its running index ("relu#3"). Parameters
 * are the trainable ones (BN running statistics are buffers). */
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli_options.h"
#include "flops.h"
#include "model_file.h"

/* The largest --input-size: the meta device makes any size cheap; this one
 * keeps every shape product well inside the int and int64 arithmetic of the
 * ops' checks and of the FLOP counts. */
#define MAX_INPUT_SIZE 65536

static void print_table(const char *arch, int h, int w, const facs_flops_count *c)
{
    printf("%s on 1x3x%dx%d, FLOPs as %s (a multiply-add is one FLOP)\n", arch, h, w,
           facs_flops_convention_name(c->convention));
    printf("%-30s %-15s %-20s %12s %16s\n", "layer", "op", "output", "params", "FLOPs");
    for (int i = 0; i < c->count; i++) {
        const facs_flops_layer *l = &c->layers[i];
        char shape[48];
        snprintf(shape, sizeof shape, "%dx%dx%dx%d", l->shape[0], l->shape[1], l->shape[2], l->shape[3]);
        printf("%-30s %-15s %-20s %12lld %16lld\n", l->name, l->op, shape, (long long)l->params,
               (long long)l->flops);
    }
    printf("total params: %lld (%.2f M)\n", (long long)c->params, c->params / 1e6);
    if (c->used_params != c->params)
        printf("  of which used by no op: %lld (registered for checkpoint compatibility, or run in training only: "
               "PSPNet's aux head)\n",
               (long long)(c->params - c->used_params));
    printf("total FLOPs: %lld (%.2f G)\n", (long long)c->flops, c->flops / 1e9);
}

/* One object: arch, input_height, input_width, convention, params, flops, and one entry per layer. */
static void print_json(const char *arch, int h, int w, const facs_flops_count *c)
{
    json_t *layers = json_array();
    for (int i = 0; i < c->count; i++) {
        const facs_flops_layer *l = &c->layers[i];
        json_array_append_new(layers, json_pack("{s:s, s:s, s:[i, i, i, i], s:I, s:I}", "name", l->name, "op", l->op,
                                                "shape", l->shape[0], l->shape[1], l->shape[2], l->shape[3],
                                                "params", (json_int_t)l->params, "flops", (json_int_t)l->flops));
    }
    json_t *root = json_pack("{s:s, s:i, s:i, s:s, s:I, s:I, s:o}", "arch", arch, "input_height", h, "input_width", w,
                             "convention",
                             facs_flops_convention_name(c->convention), "params", (json_int_t)c->params, "flops",
                             (json_int_t)c->flops, "layers", layers);
    json_dumpf(root, stdout, JSON_INDENT(1));
    putchar('\n');
    json_decref(root);
}

static void usage(FILE *out)
{
    fprintf(out, "usage: facs-summary --arch A [options]\n"
                 "Prints the per-layer and total parameters and FLOPs of a network (eval mode: PSPNet's aux head is\n"
                 "counted among the parameters but runs in training only).\n"
                 "  --arch A            any backbone (--list prints the names)\n"
                 "  --input-size S|HxW  input size, each side 1 to 65536 (default 224); e.g. 1024x2048 for a Cityscapes frame\n"
                 "  --classes N         classifier outputs (default: the architecture's, 1000; PSPNet 19)\n"
                 "  --width W           width multiplier (default 1)\n"
                 "  --fusion-bn B       FACS variants: none (default), pre or post\n"
                 "  --output-stride S   ResNets and PSPNet: 32, 16 or 8 (default: the architecture's, 32; PSPNet 8)\n"
                 "  --deep-stem         ResNets and PSPNet: three 3x3 convs instead of the 7x7 conv (ResNet-v1c)\n"
                 "  --deep-base         ResNets and PSPNet: semseg's deep base (3x3 convs 64-64-128, layer1 on 128)\n"
                 "  --convention C      ptflops (default; the paper's tables) or appendix-a\n"
                 "  --json              one JSON object instead of the table\n"
                 "  --list              the architecture names, one a line\n"
                 "  --help, --version\n");
}

static int run(const facs_model_options *o, int h, int w, int json, facs_flops_convention convention)
{
    facs_model *net;
    if (facs_model_create(&net, o, FACS_DEVICE_META, 1) != FACS_OK) {
        fprintf(stderr, "facs-summary: %s\n", facs_last_error());
        return 1;
    }
    facs_flops_count c;
    int rc = 0;
    if (facs_flops_count_model(net, h, w, convention, &c) != FACS_OK) {
        fprintf(stderr, "facs-summary: %s at input size %dx%d: %s\n", o->arch, h, w, facs_last_error());
        rc = 1;
    } else {
        (json ? print_json : print_table)(o->arch, h, w, &c);
        facs_flops_count_free(&c);
    }
    facs_model_free(net);
    return rc;
}

/* A refused option value: facs_cli_* said why. */
static int bad_option(void)
{
    fprintf(stderr, "facs-summary: %s\n", facs_last_error());
    return 2;
}

static int list_archs(void)
{
    for (const char *const *name = facs_model_arch_names(); *name; name++)
        puts(*name);
    return 0;
}

int main(int argc, char **argv)
{
    facs_cli_program_name(argv);
    const char *arch = NULL;
    int h = 224, w = 224, json = 0, classes = 0, output_stride = 0, deep_stem = 0; /* 0: the architecture's default */
    double width = 1.0;
    facs_fusion_bn fusion_bn = FACS_FUSION_BN_NONE;
    facs_flops_convention convention = FACS_FLOPS_PTFLOPS;
    facs_model_given given = 0; /* the model options given, for the check that they apply */
    static const struct option longopts[] = {
        {"arch", required_argument, 0, 'a'},       {"input-size", required_argument, 0, 's'},
        {"convention", required_argument, 0, 'c'}, {"json", no_argument, 0, 'j'},
        {"classes", required_argument, 0, 'n'},    {"width", required_argument, 0, 'w'},
        {"fusion-bn", required_argument, 0, 'B'},  {"list", no_argument, 0, 'l'},
        {"help", no_argument, 0, 'h'},             {"version", no_argument, 0, 'V'},
        {"output-stride", required_argument, 0, 'S'}, {"deep-stem", no_argument, 0, 'D'},
        {"deep-base", no_argument, 0, 'E'},
        {0, 0, 0, 0}};
    int opt;
    while ((opt = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        switch (opt) {
        case 'a': arch = optarg; break;
        case 's':
            if (facs_cli_size("--input-size", optarg, 1, MAX_INPUT_SIZE, &h, &w) != FACS_OK)
                return bad_option();
            break;
        case 'S': {
            static const char *const STRIDES[] = {"32", "16", "8", NULL};
            int choice;
            if (facs_cli_choice("--output-stride", optarg, STRIDES, &choice) != FACS_OK)
                return bad_option();
            output_stride = 32 >> choice; /* 32, 16, 8 */
            given |= FACS_MODEL_GIVEN(OUTPUT_STRIDE);
            break;
        }
        case 'D':
        case 'E':
            if (facs_cli_stem(opt == 'D' ? FACS_STEM_DEEP : FACS_STEM_DEEP_BASE, &deep_stem) != FACS_OK)
                return bad_option();
            given |= FACS_MODEL_GIVEN(DEEP_STEM);
            break;
        case 'n':
            if (facs_cli_int("--classes", optarg, 1, 1 << 24, &classes) != FACS_OK)
                return bad_option();
            break;
        case 'w':
            if (facs_cli_real("--width", optarg, 0, 16, &width) != FACS_OK)
                return bad_option();
            if (!(width > 0)) {
                fprintf(stderr, "facs-summary: --width must lie in (0, 16], not '%s'\n", optarg);
                return 2;
            }
            break;
        case 'B':
            if (facs_fusion_bn_parse(optarg, &fusion_bn) != FACS_OK) {
                fprintf(stderr, "facs-summary: --fusion-bn: %s\n", facs_last_error());
                return 2;
            }
            given |= FACS_MODEL_GIVEN(FUSION_BN);
            break;
        case 'c':
            if (facs_flops_convention_parse(optarg, &convention) != FACS_OK) {
                fprintf(stderr, "facs-summary: %s\n", facs_last_error());
                return 2;
            }
            break;
        case 'j': json = 1; break;
        case 'l': return list_archs();
        case 'h': usage(stdout); return 0;
        case 'V': puts("facs-summary 0.1.0"); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (!arch || optind < argc) { /* what is wrong first: the usage alone does not say */
        if (optind < argc)
            fprintf(stderr, "facs-summary: unexpected argument '%s'\n", argv[optind]);
        else
            fprintf(stderr, "facs-summary: --arch is required (facs-summary --list prints the names)\n");
        usage(stderr);
        return 2;
    }
    facs_model_options o;
    if (facs_model_options_for_arch(arch, &o) != FACS_OK)
        return bad_option();
    if (classes)
        o.classes = classes;
    o.width = width;
    o.fusion_bn = fusion_bn;
    if (output_stride)
        o.output_stride = output_stride;
    o.deep_stem = deep_stem;
    /* As facs-run: an option the architecture has no use for is refused, not ignored (--fusion-bn on resnet50). */
    if (facs_model_options_check_applicable(&o, given) != FACS_OK)
        return bad_option();
    return run(&o, h, w, json, convention);
}
