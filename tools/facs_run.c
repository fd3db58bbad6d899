/* facs-run: runs any network of backbone/model.h (classifiers and PSPNet) from
 * a weights file on the images of an HDF5 file and writes the logits, and with
 * --grad-output the gradients of the input and of every parameter, so any run
 * can be compared with PyTorch.
 *
 * Files: --input holds /input (N, 3, H, W) float32 (float16 and float64 are
 * converted; integers, NaN and infinities refused); --output gets /output,
 * (N, classes) for a classifier and (N, classes, H, W) for PSPNet (its main
 * logits at the input's size), and for PSPNet in train mode also
 * /aux_output. With --grad-output G.h5 (holding /grad_output shaped like
 * /output, and optionally /grad_aux_output shaped like /aux_output) backward
 * runs from both and the file also gets /grad_input (N, 3, H, W) and
 * /grad/<state_dict key with '.' replaced by '/'> in PyTorch's shape. A
 * trainable entry that backward does not reach (a FACS block's unused bn1,
 * the aux head without /grad_aux_output) gets zeros, where PyTorch says None.
 *
 * The network is rebuilt from the weights file (backbone/model_file.h): its
 * architecture, classes, width, stem and fusion are what the file records.
 * An option may only fill in what the file does not say (an older or
 * converted file: --arch, --width, ...; classes default to the rows of its
 * classifier weight, then 1000); one that contradicts the file, or that does
 * not apply to the architecture (--fusion on a network without FACS), is
 * refused before anything is read. So is an --output that is one of the
 * input files (same path, link or inode). The output is written atomically.
 * --device cuda runs the network on a GPU: built and loaded on the CPU, then
 * moved (facs_cli_device_place). */
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <hdf5.h>

#include "atomic_file.h"
#include "autograd.h"
#include "cli_options.h"
#include "h5_array.h"
#include "h5_attr.h"
#include "model_file.h"

typedef struct {
    const char *weights, *input, *output, *grad_output;
    int training;
    facs_device_choice device;
    int dropout_given;        /* --dropout: not a file's option, it shapes no tensor */
    facs_model_options model; /* the values of the model options given */
    facs_model_given given;   /* which ones the command line gave */
} run_options;

typedef struct {
    const facs_tensor *logits, *aux, *x; /* aux: NULL unless PSPNet ran in train mode */
    int rank;                            /* of /output and /aux_output: 2 or 4 */
    const facs_param_list *params;
} results;

/* Zeros shaped like v: the gradient of a parameter backward did not reach. */
static facs_status write_zeros(hid_t file, const char *path, const char *name, const facs_tensor *v, int rank)
{
    float *zeros = calloc(facs_tensor_numel(v) ? facs_tensor_numel(v) : 1, sizeof *zeros);
    if (!zeros)
        return facs_fail(FACS_ERR_MEMORY, "%s: out of memory writing /%s", path, name);
    hsize_t dims[4] = {(hsize_t)v->n, (hsize_t)v->c, (hsize_t)v->h, (hsize_t)v->w};
    facs_status s = facs_h5_write_f32(file, path, name, rank, dims, zeros);
    free(zeros);
    return s;
}

/* Writes the logits and, when x has a gradient, the input and parameter
 * gradients into the open file. */
static facs_status fill_results(hid_t file, const char *path, const void *user)
{
    const results *r = user;
    FACS_TRY(facs_h5_write_tensor(file, path, "output", r->logits, r->rank));
    if (r->aux)
        FACS_TRY(facs_h5_write_tensor(file, path, "aux_output", r->aux, r->rank));
    if (!r->x->grad)
        return FACS_OK;
    FACS_TRY(facs_h5_write_tensor(file, path, "grad_input", r->x->grad, 4));
    for (int i = 0; i < r->params->count; i++) {
        const facs_param *p = r->params->items[i];
        if (p->kind != FACS_PARAM_TRAINABLE)
            continue;
        char name[512];
        int len = snprintf(name, sizeof name, "grad/%s", p->name);
        if (len < 0 || (size_t)len >= sizeof name)
            return facs_fail(FACS_ERR_IO, "%s: the name /grad/%s is too long", path, p->name);
        for (char *c = name; *c; c++)
            if (*c == '.')
                *c = '/';
        FACS_TRY(p->value->grad ? facs_h5_write_tensor(file, path, name, p->value->grad, p->torch_rank)
                                : write_zeros(file, path, name, p->value, p->torch_rank));
    }
    return FACS_OK;
}

/* Builds the network the weights file describes (with the options the file
 * leaves open) and loads the weights, printing the load report. */
static facs_status build(const run_options *o, facs_model **net)
{
    facs_model_options mo;
    FACS_TRY(facs_model_options_resolve(o->weights, &o->model, o->given, &mo));
    if (o->dropout_given)
        mo.dropout = o->model.dropout;
    FACS_TRY(facs_model_create(net, &mo, FACS_DEVICE_CPU, 0));
    facs_weights_report report;
    facs_weights_load_options lo = facs_weights_load_defaults();
    lo.report = &report;
    facs_status s = facs_model_load(o->weights, *net, &lo);
    /* After a failure before the name check (a missing file, a wrong shape)
     * the counts say nothing; the error message does. */
    char buf[2048];
    if (s == FACS_OK || report.missing || report.unexpected)
        fprintf(stderr, "facs-run: %s: %s\n", o->weights, facs_weights_report_str(&report, buf, sizeof buf));
    /* Inference (eval mode, no gradients asked for, BN's included): BN folded
     * into the convolutions, as in every inference tool. */
    if (s == FACS_OK)
        s = facs_cli_device_place(*net, &o->device, !o->training && !o->grad_output);
    return s;
}

/* FACS_OK when /name of path (a) has the shape of /like (rank, dims). */
static facs_status check_like(const char *path, const char *name, const char *like, const facs_h5_array *a, int rank,
                              const hsize_t *dims)
{
    int same = a->rank == rank;
    for (int i = 0; same && i < rank; i++)
        same = a->dims[i] == dims[i];
    if (same)
        return FACS_OK;
    char want[96], got[96];
    return facs_fail(FACS_ERR_FORMAT, "%s: /%s must be shaped like /%s %s, got %s", path, name, like,
                     facs_h5_dims_str(rank, dims, want, sizeof want), facs_h5_dims_str(a->rank, a->dims, got, sizeof got));
}

/* A tensor shaped like ref holding the values of a. */
static facs_tensor *tensor_of(facs_ctx *ctx, const facs_tensor *ref, const facs_h5_array *a)
{
    facs_tensor *t = facs_ctx_like(ctx, ref);
    if (t && facs_tensor_from_nchw(t, a->data, facs_tensor_numel(t)) != FACS_OK)
        return NULL;
    return t;
}

/* Forward (and backward) of input through net; writes the output file. gout
 * and gaux are NULL without --grad-output; gaux->data is NULL when the file
 * has no /grad_aux_output. */
static facs_status run_net(const run_options *o, facs_model *net, facs_ctx *ctx, const facs_h5_array *in,
                           const facs_h5_array *gout, const facs_h5_array *gaux)
{
    const char *arch = facs_model_get_options(net)->arch;
    if (in->rank != 4)
        return facs_fail(FACS_ERR_FORMAT, "%s: /input has rank %d, expected 4 (N, 3, H, W)", o->input, in->rank);
    if (in->dims[1] != 3)
        return facs_fail(FACS_ERR_FORMAT, "%s: /input has %llu channels, %s takes 3 (RGB)", o->input,
                         (unsigned long long)in->dims[1], arch);
    if (in->dims[0] < 1 || in->dims[2] < 1 || in->dims[3] < 1 || in->dims[0] * in->dims[2] * in->dims[3] > 1u << 30)
        return facs_fail(FACS_ERR_FORMAT, "%s: /input has an empty or oversized shape", o->input);
    int segmentation = facs_model_is_segmentation(net), rank = segmentation ? 4 : 2;
    hsize_t out_dims[4] = {in->dims[0], (hsize_t)facs_model_get_options(net)->classes, in->dims[2], in->dims[3]};
    if (gout)
        FACS_TRY(check_like(o->grad_output, "grad_output", "output", gout, rank, out_dims));
    if (gaux && gaux->data) {
        if (!segmentation || !o->training)
            return facs_fail(FACS_ERR_ARG, "%s: holds /grad_aux_output, but %s has no auxiliary output%s",
                             o->grad_output, arch, segmentation ? " in eval mode (its aux head runs in --mode train)" : "");
        FACS_TRY(check_like(o->grad_output, "grad_aux_output", "aux_output", gaux, rank, out_dims));
    }
    facs_ctx_begin_step(ctx);
    facs_ctx_set_mode(ctx, o->training, gout != NULL);
    facs_tensor *x = facs_ctx_tensor(ctx, FACS_F32, (int)in->dims[0], 3, (int)in->dims[2], (int)in->dims[3]);
    if (!x)
        return FACS_ERR_MEMORY;
    FACS_TRY(facs_tensor_from_nchw(x, in->data, facs_tensor_numel(x)));
    x->requires_grad = gout != NULL;
    facs_tensor *logits = facs_model_forward(ctx, net, x);
    if (!logits)
        return FACS_ERR_ARG;
    facs_tensor *aux = facs_model_aux_output(net);
    if (gout) {
        facs_tensor *outs[2] = {logits, aux};
        const facs_tensor *grads[2] = {tensor_of(ctx, logits, gout), gaux->data ? tensor_of(ctx, aux, gaux) : NULL};
        if (!grads[0] || (gaux->data && !grads[1]))
            return facs_fail(FACS_ERR_MEMORY, "out of memory for the output gradients");
        FACS_TRY(facs_backward_many(ctx, gaux->data ? 2 : 1, outs, grads));
    }
    /* Atomically, so a failed run leaves no partial file. */
    results r = {logits, aux, x, rank, facs_model_params(net)};
    return facs_h5_write_atomic(o->output, fill_results, &r);
}

/* /input must hold floating-point values (float16, 32 or 64): integers are
 * most likely raw pixel bytes, which a network trained on normalised inputs
 * turns into plausible-looking nonsense. */
static facs_status check_input_type(const char *path)
{
    hid_t file = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    hid_t ds = file >= 0 ? H5Dopen2(file, "input", H5P_DEFAULT) : -1;
    hid_t type = ds >= 0 ? H5Dget_type(ds) : -1;
    H5T_class_t cls = type >= 0 ? H5Tget_class(type) : H5T_NO_CLASS;
    int bits = type >= 0 ? (int)H5Tget_size(type) * 8 : 0, is_signed = type >= 0 && H5Tget_sign(type) == H5T_SGN_2;
    if (type >= 0)
        H5Tclose(type);
    if (ds >= 0)
        H5Dclose(ds);
    if (file >= 0)
        H5Fclose(file);
    if (cls == H5T_INTEGER)
        return facs_fail(FACS_ERR_FORMAT, "%s: /input holds integers (%sint%d): facs-run takes float32 NCHW inputs, "
                         "normalised as the network was trained (e.g. (pixels / 255 - mean) / std)", path,
                         is_signed ? "" : "u", bits);
    return FACS_OK;
}

/* NaN and infinities in /input are refused, as the weights loader refuses
 * them in weights: the inference path (BN folded, ReLU fused into the
 * convolution) maps NaN to 0 and would give finite logits where PyTorch's
 * are NaN. */
static facs_status check_input_finite(const char *path, const facs_h5_array *in)
{
    size_t count = 1, bad = 0, first = 0;
    for (int i = 0; i < in->rank; i++)
        count *= (size_t)in->dims[i];
    for (size_t i = count; i-- > 0;)
        if (!isfinite(in->data[i]))
            bad++, first = i;
    if (!bad)
        return FACS_OK;
    hsize_t at[FACS_H5_ARRAY_MAX_RANK];
    for (int i = in->rank; i-- > 0; first /= (size_t)in->dims[i])
        at[i] = first % (size_t)in->dims[i];
    char where[96];
    return facs_fail(FACS_ERR_FORMAT, "%s: /input holds %zu non-finite value%s (NaN or infinity), the first at %s%s: "
                     "refused (PyTorch's logits would be NaN; a broken input, or a bad preprocessing step)", path, bad,
                     bad == 1 ? "" : "s", in->rank == 4 ? "(n, c, y, x) = " : "",
                     facs_h5_dims_str(in->rank, at, where, sizeof where));
}

static facs_status run(const run_options *o)
{
    facs_h5_array in, gout = {0}, gaux = {0};
    FACS_TRY(facs_h5_array_read(o->input, "input", 0, &in));
    facs_status s = check_input_type(o->input);
    if (s == FACS_OK)
        s = check_input_finite(o->input, &in);
    if (s == FACS_OK && o->grad_output) {
        s = facs_h5_array_read(o->grad_output, "grad_output", 0, &gout);
        if (s == FACS_OK)
            s = facs_h5_array_read(o->grad_output, "grad_aux_output", 1, &gaux);
    }
    facs_model *net = NULL;
    if (s == FACS_OK)
        s = build(o, &net);
    facs_ctx *ctx = s == FACS_OK ? facs_ctx_create(o->device.device) : NULL;
    if (s == FACS_OK && !ctx)
        s = FACS_ERR_BACKEND;
    if (s == FACS_OK)
        s = run_net(o, net, ctx, &in, o->grad_output ? &gout : NULL, o->grad_output ? &gaux : NULL);
    if (ctx)
        facs_ctx_free(ctx);
    facs_model_free(net);
    facs_h5_array_free(&in);
    facs_h5_array_free(&gout);
    facs_h5_array_free(&gaux);
    return s;
}

static void usage(FILE *out)
{
    fprintf(out, "usage: facs-run --weights W.h5 --input X.h5 --output Y.h5 [options]\n"
                 "Runs a network (ResNet, VGG, MobileNet-v2, a FACS variant, or PSPNet on any ResNet) on /input (N, 3, H, W)\n"
                 "and writes the logits to /output: (N, classes) for a classifier, (N, classes, H, W) for PSPNet.\n"
                 "The network is the one W.h5 was saved as; the model options below only fill in what the file does not\n"
                 "record (an older or converted file), and one that contradicts the file or does not apply is refused.\n"
                 "  --weights W.h5    weights file (backbone/weights.h), loaded strictly\n"
                 "  --input X.h5      file holding /input, float32 NCHW, normalised (finite; no integers)\n"
                 "  --output Y.h5     written atomically; must not be one of the input files\n"
                 "  --mode M          eval (BN running statistics, default) or train (batch statistics, dropout on;\n"
                 "                    the updated running statistics are not saved); PSPNet in train mode also\n"
                 "                    writes its aux head's logits to /aux_output\n"
                 "  --grad-output G.h5  backward from /grad_output (shaped like /output) and, if G.h5 holds it,\n"
                 "                    /grad_aux_output (shaped like /aux_output); also writes /grad_input and\n"
                 "                    /grad/<state_dict key, '.' as '/'>\n"
                 "  --dropout P       PSPNet, MobileNet-v2: the dropout probability in train mode (default 0.1 and\n"
                 "                    0.2; 0 makes train mode deterministic, for comparing with PyTorch)\n"
                 FACS_CLI_DEVICE_HELP("        ")
                 "model options (default: what the file records, else the architecture's default):\n"
                 "  --arch A          any backbone: facs-summary --list prints the names\n"
                 "  --classes N       default: the rows of the file's classifier weight, else 1000\n"
                 "  --width W         width multiplier (default 1)\n"
                 "  --cifar-stem      ResNets: 3x3 stride-1 stem without max-pool\n"
                 "  --output-stride S ResNets and PSPNet: 32, 16 or 8 (default 32; PSPNet 8)\n"
                 "  --deep-stem       ResNets and PSPNet: three 3x3 convs instead of the 7x7 conv (ResNet-v1c)\n"
                 "  --deep-base       ResNets and PSPNet: semseg's deep base (3x3 convs 64-64-128, layer1 on 128)\n"
                 "  --fusion F        FACS variants: threshold (default) or weighted\n"
                 "  --threshold T     FACS variants: T_cf of threshold fusion (default 0.5)\n"
                 "  --fusion-bn B     FACS variants: none (default), pre (MobileNet-v2 only) or post: BN around the fusion\n"
                 "  --help, --version\n");
}

/* Parses a model option (its getopt code c) into o->model and marks it given. */
static facs_status parse_model_option(int c, const char *arg, run_options *o)
{
    static const char *const FUSIONS[] = {"threshold", "weighted", NULL};
    facs_model_options *m = &o->model;
    int choice;
    switch (c) {
    case 'a':
        if (strlen(arg) >= sizeof m->arch)
            return facs_fail(FACS_ERR_ARG, "--arch '%s' is too long to be an architecture name", arg);
        snprintf(m->arch, sizeof m->arch, "%s", arg);
        o->given |= FACS_MODEL_GIVEN(ARCH);
        return FACS_OK;
    case 'c':
        o->given |= FACS_MODEL_GIVEN(CLASSES);
        return facs_cli_int("--classes", arg, 1, 1 << 24, &m->classes);
    case 'w':
        o->given |= FACS_MODEL_GIVEN(WIDTH);
        FACS_TRY(facs_cli_real("--width", arg, 0, 16, &m->width));
        return m->width > 0 ? FACS_OK : facs_fail(FACS_ERR_ARG, "--width needs a number in (0, 16], not '%s'", arg);
    case 's':
        o->given |= FACS_MODEL_GIVEN(CIFAR_STEM);
        m->cifar_stem = 1;
        return FACS_OK;
    case 'S':
        o->given |= FACS_MODEL_GIVEN(OUTPUT_STRIDE);
        FACS_TRY(facs_cli_int("--output-stride", arg, 8, 32, &m->output_stride));
        return m->output_stride == 8 || m->output_stride == 16 || m->output_stride == 32
                   ? FACS_OK
                   : facs_fail(FACS_ERR_ARG, "--output-stride must be 8, 16 or 32, not '%s'", arg);
    case 'D':
    case 'E':
        o->given |= FACS_MODEL_GIVEN(DEEP_STEM);
        return facs_cli_stem(c == 'D' ? FACS_STEM_DEEP : FACS_STEM_DEEP_BASE, &m->deep_stem);
    case 'P':
        o->dropout_given = 1;
        FACS_TRY(facs_cli_real("--dropout", arg, 0, 1, &m->dropout));
        return m->dropout < 1 ? FACS_OK : facs_fail(FACS_ERR_ARG, "--dropout needs a probability in [0, 1), not '%s'", arg);
    case 'f':
        o->given |= FACS_MODEL_GIVEN(FUSION);
        FACS_TRY(facs_cli_choice("--fusion", arg, FUSIONS, &choice));
        m->fusion.fusion = choice ? FACS_FUSION_WEIGHTED : FACS_FUSION_THRESHOLD;
        return FACS_OK;
    case 'T': {
        double t;
        o->given |= FACS_MODEL_GIVEN(THRESHOLD);
        FACS_TRY(facs_cli_real("--threshold", arg, 0, 1, &t));
        m->fusion.threshold = (float)t;
        return FACS_OK;
    }
    case 'B':
        o->given |= FACS_MODEL_GIVEN(FUSION_BN);
        if (facs_fusion_bn_parse(arg, &m->fusion_bn) != FACS_OK)
            return facs_fail(FACS_ERR_ARG, "--fusion-bn must be none, pre or post, not '%s'", arg);
        return FACS_OK;
    default: return facs_fail(FACS_ERR_ARG, "unknown option");
    }
}

int main(int argc, char **argv)
{
    facs_cli_program_name(argv);
    static const char *const MODES[] = {"eval", "train", NULL};
    run_options o = {0};
    static const struct option longopts[] = {
        {"arch", required_argument, 0, 'a'},   {"weights", required_argument, 0, 'W'},
        {"input", required_argument, 0, 'i'},  {"output", required_argument, 0, 'o'},
        {"mode", required_argument, 0, 'm'},   {"fusion", required_argument, 0, 'f'},
        {"threshold", required_argument, 0, 'T'}, {"classes", required_argument, 0, 'c'},
        {"width", required_argument, 0, 'w'},  {"cifar-stem", no_argument, 0, 's'},
        {"grad-output", required_argument, 0, 'g'}, {"help", no_argument, 0, 'h'},
        {"fusion-bn", required_argument, 0, 'B'}, {"version", no_argument, 0, 'V'},
        {"output-stride", required_argument, 0, 'S'}, {"deep-stem", no_argument, 0, 'D'},
        {"dropout", required_argument, 0, 'P'}, {"deep-base", no_argument, 0, 'E'},
        {"device", required_argument, 0, 'd'},
        {0, 0, 0, 0}};
    int c;
    while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        switch (c) {
        case 'W': o.weights = optarg; break;
        case 'i': o.input = optarg; break;
        case 'o': o.output = optarg; break;
        case 'g': o.grad_output = optarg; break;
        case 'm':
            if (facs_cli_choice("--mode", optarg, MODES, &o.training) != FACS_OK) {
                fprintf(stderr, "facs-run: %s\n", facs_last_error());
                return 2;
            }
            break;
        case 'd':
            if (facs_cli_device(optarg, &o.device) != FACS_OK) {
                fprintf(stderr, "facs-run: %s\n", facs_last_error());
                return 2;
            }
            break;
        case 'a': case 'c': case 'w': case 's': case 'f': case 'T': case 'B': case 'S': case 'D': case 'E': case 'P':
            if (parse_model_option(c, optarg, &o) != FACS_OK) {
                fprintf(stderr, "facs-run: %s\n", facs_last_error());
                return 2;
            }
            break;
        case 'h': usage(stdout); return 0;
        case 'V': puts("facs-run 0.2.0"); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (optind < argc || !o.weights || !o.input || !o.output) {
        fprintf(stderr, optind < argc ? "facs-run: unexpected argument '%s'\n"
                                      : "facs-run: --weights, --input and --output are required%s\n",
                optind < argc ? argv[optind] : "");
        usage(stderr);
        return 2;
    }
    /* Before anything is read: the output must not overwrite an input. */
    const char *inputs[] = {o.input, o.weights, o.grad_output};
    if (facs_check_output_not_input("--output", o.output, inputs, 3) != FACS_OK ||
        facs_check_output_file("--output", o.output) != FACS_OK) {
        fprintf(stderr, "facs-run: %s\n", facs_last_error());
        return 2;
    }
    if (facs_cli_device_use(&o.device, 1) != FACS_OK) {
        fprintf(stderr, "facs-run: %s\n", facs_last_error());
        return 1;
    }
    /* HDF5's own error stack printing would bury our message. */
    facs_h5_quiet quiet = facs_h5_quiet_begin();
    facs_status s = run(&o);
    facs_h5_quiet_end(quiet);
    if (s != FACS_OK) {
        fprintf(stderr, "facs-run: %s\n", facs_last_error());
        return 1;
    }
    return 0;
}
