/* facs-run: runs any backbone (backbone/model.h) from a weights file on the images of
 * an HDF5 file and writes the logits, and with --grad-output the gradients of
 * the input and of every parameter, so any run can be compared with PyTorch.
 *
 * Files: --input holds /input (N, 3, H, W) float32; --output gets /output
 * (N, classes), and with --grad-output G.h5 (holding /grad_output shaped like
 * /output) also /grad_input (N, 3, H, W) and /grad/<state_dict key with '.'
 * replaced by '/'> in PyTorch's shape. A trainable entry that backward does
 * not reach (a FACS block's unused bn1) gets zeros, where PyTorch says None.
 *
 * The network is rebuilt from the weights file (backbone/model_file.h): its
 * architecture, classes, width, stem and fusion are what the file records.
 * An option may only fill in what the file does not say (an older or
 * converted file: --arch, --width, ...; classes default to the rows of its
 * classifier weight, then 1000); one that contradicts the file, or that does
 * not apply to the architecture (--fusion on a network without FACS), is
 * refused before anything is read. So is an --output that is one of the
 * input files (same path, link or inode). The output is written atomically. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <hdf5.h>

#include "atomic_file.h"
#include "autograd.h"
#include "cli_options.h"
#include "h5_attr.h"
#include "model_file.h"
#include "pspnet.h"

typedef struct {
    const char *weights, *input, *output, *grad_output;
    int training;
    facs_model_options model; /* the values of the model options given */
    facs_model_given given;   /* which ones the command line gave */
} run_options;

typedef struct {
    float *data;
    int rank;
    hsize_t dims[4];
} array;

/* Reads dataset name of path as float32, rank 1..4. */
static facs_status read_array(const char *path, const char *name, array *a)
{
    memset(a, 0, sizeof *a);
    hid_t file = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    if (file < 0)
        return facs_fail(FACS_ERR_IO, "%s: cannot open as HDF5 (missing, unreadable or not an HDF5 file)", path);
    facs_status s = FACS_OK;
    hid_t ds = H5Lexists(file, name, H5P_DEFAULT) > 0 ? H5Dopen2(file, name, H5P_DEFAULT) : -1;
    hid_t space = ds >= 0 ? H5Dget_space(ds) : -1;
    hid_t type = ds >= 0 ? H5Dget_type(ds) : -1;
    int rank = space >= 0 ? H5Sget_simple_extent_ndims(space) : -1;
    if (ds < 0)
        s = facs_fail(FACS_ERR_FORMAT, "%s: no dataset /%s", path, name);
    else if (H5Tget_class(type) != H5T_FLOAT && H5Tget_class(type) != H5T_INTEGER)
        s = facs_fail(FACS_ERR_FORMAT, "%s: dataset /%s is not numeric", path, name);
    else if (rank < 1 || rank > 4)
        s = facs_fail(FACS_ERR_FORMAT, "%s: dataset /%s has rank %d, expected 1 to 4", path, name, rank);
    if (s == FACS_OK) {
        a->rank = rank;
        H5Sget_simple_extent_dims(space, a->dims, NULL);
        size_t count = 1;
        for (int i = 0; i < rank; i++)
            count *= a->dims[i];
        a->data = malloc((count ? count : 1) * sizeof(float));
        if (!a->data)
            s = facs_fail(FACS_ERR_MEMORY, "%s: out of memory reading %s", path, name);
        else if (H5Dread(ds, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, a->data) < 0)
            s = facs_fail(FACS_ERR_FORMAT, "%s: cannot read dataset /%s (truncated file?)", path, name);
    }
    if (type >= 0)
        H5Tclose(type);
    if (space >= 0)
        H5Sclose(space);
    if (ds >= 0)
        H5Dclose(ds);
    H5Fclose(file);
    if (s != FACS_OK) {
        free(a->data);
        a->data = NULL;
    }
    return s;
}

/* Writes data (rank, dims) at name, creating the groups above it. */
static int write_array(hid_t file, const char *name, int rank, const hsize_t *dims, const float *data)
{
    hid_t lcpl = H5Pcreate(H5P_LINK_CREATE);
    hid_t space = H5Screate_simple(rank, dims, NULL);
    int ok = lcpl >= 0 && space >= 0 && H5Pset_create_intermediate_group(lcpl, 1) >= 0;
    hid_t ds = ok ? H5Dcreate2(file, name, H5T_IEEE_F32LE, space, lcpl, H5P_DEFAULT, H5P_DEFAULT) : -1;
    ok = ds >= 0 && H5Dwrite(ds, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, data) >= 0;
    if (ds >= 0)
        H5Dclose(ds);
    if (space >= 0)
        H5Sclose(space);
    if (lcpl >= 0)
        H5Pclose(lcpl);
    return ok;
}

/* A tensor's values in NCHW order (malloc'd), or NULL with the error set. */
static float *to_host(const facs_tensor *t)
{
    size_t count = facs_tensor_numel(t);
    float *host = malloc(count * sizeof *host);
    if (!host) {
        facs_fail(FACS_ERR_MEMORY, "out of memory");
        return NULL;
    }
    if (facs_tensor_to_nchw(t, host, count) != FACS_OK) {
        free(host);
        return NULL;
    }
    return host;
}

/* Writes the logits and, when x has a gradient, the input and parameter
 * gradients into the open file. */
static facs_status write_results(hid_t file, const char *path, const facs_tensor *logits, const facs_tensor *x,
                                 const facs_param_list *params)
{
    float *host = to_host(logits);
    if (!host)
        return FACS_ERR_MEMORY;
    hsize_t dims[4] = {(hsize_t)logits->n, (hsize_t)logits->c, 1, 1};
    int ok = write_array(file, "output", 2, dims, host);
    free(host);
    if (!ok)
        return facs_fail(FACS_ERR_IO, "%s: cannot write /output", path);
    if (!x->grad)
        return FACS_OK;
    host = to_host(x->grad);
    if (!host)
        return FACS_ERR_MEMORY;
    hsize_t xdims[4] = {(hsize_t)x->n, (hsize_t)x->c, (hsize_t)x->h, (hsize_t)x->w};
    ok = write_array(file, "grad_input", 4, xdims, host);
    free(host);
    if (!ok)
        return facs_fail(FACS_ERR_IO, "%s: cannot write /grad_input", path);
    for (int i = 0; i < params->count; i++) {
        const facs_param *p = params->items[i];
        if (p->kind != FACS_PARAM_TRAINABLE)
            continue;
        const facs_tensor *v = p->value;
        size_t count = facs_tensor_numel(v);
        host = p->value->grad ? to_host(p->value->grad) : calloc(count, sizeof *host);
        if (!host)
            return facs_fail(FACS_ERR_MEMORY, "out of memory");
        hsize_t pdims[4] = {(hsize_t)v->n, (hsize_t)v->c, (hsize_t)v->h, (hsize_t)v->w};
        char name[512];
        int len = snprintf(name, sizeof name, "grad/%s", p->name);
        for (char *c = name; *c; c++)
            if (*c == '.')
                *c = '/';
        ok = len > 0 && (size_t)len < sizeof name && write_array(file, name, p->torch_rank, pdims, host);
        free(host);
        if (!ok)
            return facs_fail(FACS_ERR_IO, "%s: cannot write /grad/%s", path, p->name);
    }
    return FACS_OK;
}

typedef struct {
    const facs_tensor *logits, *x;
    const facs_param_list *params;
} results;

static facs_status fill_results(hid_t file, const char *path, const void *user)
{
    const results *r = user;
    return write_results(file, path, r->logits, r->x, r->params);
}

/* Builds the network the weights file describes (with the options the file
 * leaves open) and loads the weights, printing the load report. */
static facs_status build(const run_options *o, facs_model **net)
{
    facs_model_options mo;
    FACS_TRY(facs_model_options_resolve(o->weights, &o->model, o->given, &mo));
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
    return s;
}

/* Forward (and backward) of input through net; writes the output file. */
static facs_status run_net(const run_options *o, facs_model *net, facs_ctx *ctx, const array *in,
                           const array *gout)
{
    if (in->rank != 4)
        return facs_fail(FACS_ERR_FORMAT, "%s: /input has rank %d, expected 4 (N, 3, H, W)", o->input, in->rank);
    if (in->dims[1] != 3)
        return facs_fail(FACS_ERR_FORMAT, "%s: /input has %llu channels, %s takes 3 (RGB)", o->input,
                         (unsigned long long)in->dims[1], facs_model_get_options(net)->arch);
    if (in->dims[0] < 1 || in->dims[2] < 1 || in->dims[3] < 1 || in->dims[0] * in->dims[2] * in->dims[3] > 1u << 30)
        return facs_fail(FACS_ERR_FORMAT, "%s: /input has an empty or oversized shape", o->input);
    int n = (int)in->dims[0], classes = facs_model_get_options(net)->classes;
    if (gout && (gout->rank != 2 || gout->dims[0] != (hsize_t)n || gout->dims[1] != (hsize_t)classes))
        return facs_fail(FACS_ERR_FORMAT, "%s: /grad_output must be shaped like /output (%d, %d), got rank %d (%llu, %llu)",
                         o->grad_output, n, classes, gout->rank, (unsigned long long)gout->dims[0],
                         gout->rank > 1 ? (unsigned long long)gout->dims[1] : 0ULL);
    facs_ctx_begin_step(ctx);
    facs_ctx_set_mode(ctx, o->training, gout != NULL);
    facs_tensor *x = facs_ctx_tensor(ctx, FACS_F32, n, 3, (int)in->dims[2], (int)in->dims[3]);
    if (!x)
        return FACS_ERR_MEMORY;
    FACS_TRY(facs_tensor_from_nchw(x, in->data, facs_tensor_numel(x)));
    x->requires_grad = gout != NULL;
    facs_tensor *logits = facs_model_forward(ctx, net, x);
    if (!logits)
        return FACS_ERR_ARG;
    if (gout) {
        facs_tensor *g = facs_ctx_like(ctx, logits);
        if (!g)
            return FACS_ERR_MEMORY;
        FACS_TRY(facs_tensor_from_nchw(g, gout->data, facs_tensor_numel(g)));
        FACS_TRY(facs_backward(ctx, logits, g));
    }
    /* Atomically, so a failed run leaves no partial file. */
    results r = {logits, x, facs_model_params(net)};
    return facs_h5_write_atomic(o->output, fill_results, &r);
}

static facs_status run(const run_options *o)
{
    array in, gout = {0};
    FACS_TRY(read_array(o->input, "input", &in));
    facs_status s = o->grad_output ? read_array(o->grad_output, "grad_output", &gout) : FACS_OK;
    facs_model *net = NULL;
    if (s == FACS_OK)
        s = build(o, &net);
    facs_ctx *ctx = s == FACS_OK ? facs_ctx_create(FACS_DEVICE_CPU) : NULL;
    if (s == FACS_OK && !ctx)
        s = FACS_ERR_BACKEND;
    if (s == FACS_OK)
        s = run_net(o, net, ctx, &in, o->grad_output ? &gout : NULL);
    if (ctx)
        facs_ctx_free(ctx);
    facs_model_free(net);
    free(in.data);
    free(gout.data);
    return s;
}

static void usage(FILE *out)
{
    fprintf(out, "usage: facs-run --weights W.h5 --input X.h5 --output Y.h5 [options]\n"
                 "Runs a backbone (ResNet, VGG, MobileNet-v2 or a FACS variant) on /input (N, 3, H, W) and writes the logits to /output (N, classes).\n"
                 "The network is the one W.h5 was saved as; the model options below only fill in what the file does not\n"
                 "record (an older or converted file), and one that contradicts the file or does not apply is refused.\n"
                 "  --weights W.h5    weights file (backbone/weights.h), loaded strictly\n"
                 "  --input X.h5      file holding /input, float32 NCHW\n"
                 "  --output Y.h5     written atomically; must not be one of the input files\n"
                 "  --mode M          eval (BN running statistics, default) or train (batch statistics;\n"
                 "                    the updated running statistics are not saved)\n"
                 "  --grad-output G.h5  backward from /grad_output (shaped like /output); also writes\n"
                 "                    /grad_input and /grad/<state_dict key, '.' as '/'>\n"
                 "model options (default: what the file records, else the architecture's default):\n"
                 "  --arch A          any backbone: facs-summary --list prints the names\n"
                 "  --classes N       default: the rows of the file's classifier weight, else 1000\n"
                 "  --width W         width multiplier (default 1)\n"
                 "  --cifar-stem      ResNets: 3x3 stride-1 stem without max-pool\n"
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
    facs_pspnet_register();
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
        {0, 0, 0, 0}};
    int c;
    while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
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
        case 'a': case 'c': case 'w': case 's': case 'f': case 'T': case 'B':
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
    if (facs_check_output_not_input("--output", o.output, inputs, 3) != FACS_OK) {
        fprintf(stderr, "facs-run: %s\n", facs_last_error());
        return 2;
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
