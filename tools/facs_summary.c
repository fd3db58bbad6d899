/* facs-summary: per-layer and total parameters and FLOPs of any backbone
 * (backbone/model.h) on one (1, 3, S, S) image.
 *
 * It counts by running one eval-mode forward pass without the tape, with the
 * context's profile hook (ctx.h) recording every op call; backbone/flops.h
 * gives each call its FLOPs under the chosen convention. A layer is named after
 * its weight's state_dict key without ".weight" ("layer1.0.conv1", "bn1");
 * ops without weights after the op and its running index ("relu#3").
 * Parameters are the trainable ones (BN running statistics are buffers). */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "flops.h"
#include "model.h"

typedef struct {
    char name[96];
    const char *op;
    int shape[4];
    int64_t params, flops;
} layer;

typedef struct {
    const facs_param_list *params;
    facs_flops_convention convention;
    layer *items;
    int count, capacity;
    int out_of_memory;
} collector;

/* The trainable parameter whose value is t, or NULL. */
static const facs_param *trainable_of(const facs_param_list *params, const facs_tensor *t)
{
    for (int i = 0; t && i < params->count; i++)
        if (params->items[i]->value == t && params->items[i]->kind == FACS_PARAM_TRAINABLE)
            return params->items[i];
    return NULL;
}

static void name_layer(collector *c, layer *l, const char *op, const facs_tensor *weight)
{
    const facs_param *p = trainable_of(c->params, weight);
    if (p) {
        size_t len = strlen(p->name), suffix = strlen(".weight");
        if (len > suffix && strcmp(p->name + len - suffix, ".weight") == 0)
            len -= suffix;
        snprintf(l->name, sizeof l->name, "%.*s", (int)len, p->name);
        return;
    }
    int index = 0; /* earlier calls of the same op */
    for (int i = 0; i < c->count; i++)
        index += strcmp(c->items[i].op, op) == 0;
    snprintf(l->name, sizeof l->name, "%s#%d", op, index);
}

static void profile(void *user, const char *op, const facs_tensor *const *inputs, int n_inputs,
                    const facs_tensor *out, const facs_tensor *weight)
{
    collector *c = user;
    if (c->count == c->capacity) {
        int capacity = c->capacity ? 2 * c->capacity : 256;
        layer *items = realloc(c->items, (size_t)capacity * sizeof *items);
        if (!items) {
            c->out_of_memory = 1;
            return;
        }
        c->items = items;
        c->capacity = capacity;
    }
    layer *l = &c->items[c->count];
    *l = (layer){.op = op, .shape = {out->n, out->c, out->h, out->w}};
    name_layer(c, l, op, weight);
    for (int i = 0; i < n_inputs; i++) {
        const facs_param *p = trainable_of(c->params, inputs[i]);
        if (p)
            l->params += (int64_t)facs_tensor_numel(p->value);
    }
    l->flops = facs_flops_of_op(c->convention, op, inputs, n_inputs, out);
    c->count++;
}

/* Runs the forward pass of net on a zero (1, 3, size, size) image under the hook. */
static facs_status collect(facs_model *net, int size, collector *c)
{
    facs_ctx *ctx = facs_ctx_create(FACS_DEVICE_CPU);
    if (!ctx)
        return FACS_ERR_BACKEND;
    facs_ctx_set_mode(ctx, 0, 0);
    facs_ctx_begin_step(ctx);
    ctx->profile = profile;
    ctx->profile_user = c;
    facs_tensor *x = facs_ctx_zeros(ctx, FACS_F32, 1, 3, size, size);
    facs_tensor *y = x ? facs_model_forward(ctx, net, x) : NULL;
    facs_ctx_free(ctx);
    if (c->out_of_memory)
        return facs_fail(FACS_ERR_MEMORY, "out of memory for the layer table");
    return y ? FACS_OK : FACS_ERR_ARG;
}

static void print_table(const char *arch, int size, const collector *c, int64_t params, int64_t flops)
{
    printf("%s on 1x3x%dx%d, FLOPs as %s (a multiply-add is one FLOP)\n", arch, size, size,
           facs_flops_convention_name(c->convention));
    printf("%-30s %-15s %-20s %12s %16s\n", "layer", "op", "output", "params", "FLOPs");
    for (int i = 0; i < c->count; i++) {
        const layer *l = &c->items[i];
        char shape[48];
        snprintf(shape, sizeof shape, "%dx%dx%dx%d", l->shape[0], l->shape[1], l->shape[2], l->shape[3]);
        printf("%-30s %-15s %-20s %12lld %16lld\n", l->name, l->op, shape, (long long)l->params,
               (long long)l->flops);
    }
    int64_t used = 0;
    for (int i = 0; i < c->count; i++)
        used += c->items[i].params;
    printf("total params: %lld (%.2f M)\n", (long long)params, params / 1e6);
    if (used != params)
        printf("  of which used by no op: %lld (registered for checkpoint compatibility)\n",
               (long long)(params - used));
    printf("total FLOPs: %lld (%.2f G)\n", (long long)flops, flops / 1e9);
}

/* Layer names and op names are state_dict keys and identifiers, but quote safely anyway. */
static void print_json_string(const char *s)
{
    putchar('"');
    for (; *s; s++) {
        if (*s == '"' || *s == '\\')
            printf("\\%c", *s);
        else if ((unsigned char)*s < 0x20)
            printf("\\u%04x", (unsigned)(unsigned char)*s);
        else
            putchar(*s);
    }
    putchar('"');
}

static void print_json(const char *arch, int size, const collector *c, int64_t params, int64_t flops)
{
    printf("{\"arch\": ");
    print_json_string(arch);
    printf(", \"input_size\": %d, \"convention\": \"%s\", \"params\": %lld, \"flops\": %lld, \"layers\": [", size,
           facs_flops_convention_name(c->convention), (long long)params, (long long)flops);
    for (int i = 0; i < c->count; i++) {
        const layer *l = &c->items[i];
        printf("%s\n  {\"name\": ", i ? "," : "");
        print_json_string(l->name);
        printf(", \"op\": ");
        print_json_string(l->op);
        printf(", \"shape\": [%d, %d, %d, %d], \"params\": %lld, \"flops\": %lld}", l->shape[0], l->shape[1],
               l->shape[2], l->shape[3], (long long)l->params, (long long)l->flops);
    }
    printf("\n]}\n");
}

static void usage(FILE *out)
{
    fprintf(out, "usage: facs-summary --arch A [options]\n"
                 "Prints the per-layer and total parameters and FLOPs of a backbone.\n"
                 "  --arch A            any backbone (--list prints the names)\n"
                 "  --input-size S      square input size (default 224)\n"
                 "  --classes N         classifier outputs (default 1000)\n"
                 "  --width W           width multiplier (default 1)\n"
                 "  --fusion-bn B       FACS variants: none (default), pre or post\n"
                 "  --convention C      ptflops (default; the paper's tables) or appendix-a\n"
                 "  --json              one JSON object instead of the table\n"
                 "  --list              the architecture names, one a line\n"
                 "  --help, --version\n");
}

static int run(const facs_model_options *o, int size, int json, facs_flops_convention convention)
{
    facs_model *net;
    if (facs_model_create(&net, o, FACS_DEVICE_CPU, 1) != FACS_OK) {
        fprintf(stderr, "facs-summary: %s\n", facs_last_error());
        return 1;
    }
    const facs_param_list *list = facs_model_params(net);
    collector c = {.params = list, .convention = convention};
    int rc = 0;
    if (collect(net, size, &c) != FACS_OK) {
        fprintf(stderr, "facs-summary: %s at input size %d: %s\n", o->arch, size, facs_last_error());
        rc = 1;
    } else {
        int64_t params = (int64_t)facs_param_list_numel(list, FACS_PARAM_TRAINABLE), flops = 0;
        for (int i = 0; i < c.count; i++)
            flops += c.items[i].flops;
        (json ? print_json : print_table)(o->arch, size, &c, params, flops);
    }
    free(c.items);
    facs_model_free(net);
    return rc;
}

static int list_archs(void)
{
    for (const char *const *name = facs_model_arch_names(); *name; name++)
        puts(*name);
    return 0;
}

int main(int argc, char **argv)
{
    const char *arch = NULL;
    int size = 224, json = 0, classes = 1000;
    double width = 1.0;
    facs_fusion_bn fusion_bn = FACS_FUSION_BN_NONE;
    facs_flops_convention convention = FACS_FLOPS_PTFLOPS;
    static const struct option longopts[] = {
        {"arch", required_argument, 0, 'a'},       {"input-size", required_argument, 0, 's'},
        {"convention", required_argument, 0, 'c'}, {"json", no_argument, 0, 'j'},
        {"classes", required_argument, 0, 'n'},    {"width", required_argument, 0, 'w'},
        {"fusion-bn", required_argument, 0, 'B'},  {"list", no_argument, 0, 'l'},
        {"help", no_argument, 0, 'h'},             {"version", no_argument, 0, 'V'},
        {0, 0, 0, 0}};
    int opt;
    char *end;
    while ((opt = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        switch (opt) {
        case 'a': arch = optarg; break;
        case 's':
            size = (int)strtol(optarg, &end, 10);
            if (*end || size < 1 || size > 4096) {
                fprintf(stderr, "facs-summary: --input-size must be an integer in [1, 4096], not '%s'\n", optarg);
                return 2;
            }
            break;
        case 'n':
            classes = (int)strtol(optarg, &end, 10);
            if (*end || classes < 1 || classes > (1 << 24)) {
                fprintf(stderr, "facs-summary: --classes must be a positive integer, not '%s'\n", optarg);
                return 2;
            }
            break;
        case 'w':
            width = strtod(optarg, &end);
            if (*end || !(width > 0 && width <= 16)) {
                fprintf(stderr, "facs-summary: --width must lie in (0, 16], not '%s'\n", optarg);
                return 2;
            }
            break;
        case 'B':
            if (facs_fusion_bn_parse(optarg, &fusion_bn) != FACS_OK) {
                fprintf(stderr, "facs-summary: --fusion-bn: %s\n", facs_last_error());
                return 2;
            }
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
    if (!arch || optind < argc) {
        usage(stderr);
        return 2;
    }
    facs_model_options o;
    if (facs_model_options_for_arch(arch, &o) != FACS_OK) {
        fprintf(stderr, "facs-summary: %s\n", facs_last_error());
        return 2;
    }
    o.classes = classes;
    o.width = width;
    o.fusion_bn = fusion_bn;
    return run(&o, size, json, convention);
}
