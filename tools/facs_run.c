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
 * The number of classes is --classes, else the weights file's "classes"
 * attribute, else the rows of its classifier weight (/model/fc/weight for a
 * ResNet), else 1000.
 * The fusion mode and threshold are the options, else the file's attributes,
 * else threshold 0.5. */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <hdf5.h>

#include "autograd.h"
#include "h5_atomic.h"
#include "model.h"
#include "weights.h"

typedef struct {
    const char *arch, *weights, *input, *output, *grad_output;
    int training, classes, cifar_stem;
    double width;
    int fusion;      /* -1: from the weights file */
    facs_fusion_bn fusion_bn;
    double threshold; /* < 0: from the weights file */
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

/* The class count the weights file implies: its "classes" attribute, else the
 * rows of /model/fc/weight; 0 when it says neither (or cannot be opened: the
 * load reports that with the file's name). */
/* Rows of the classifier weight in a weights file (a bare h5py file carries no
 * classes attribute); 0 when absent. */
static int file_head_rows(const char *path, const char *head_weight)
{
    char key[160] = "model/";
    strncat(key, head_weight, sizeof key - strlen(key) - 1);
    for (char *c = key; *c; c++)
        if (*c == '.')
            *c = '/';
    hid_t file = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    if (file < 0)
        return 0;
    long long rows = 0;
    H5E_BEGIN_TRY
    {
        hid_t ds = H5Dopen2(file, key, H5P_DEFAULT);
        hid_t space = ds >= 0 ? H5Dget_space(ds) : -1;
        hsize_t dims[8];
        int rank = space >= 0 ? H5Sget_simple_extent_ndims(space) : -1;
        if (rank >= 1 && rank <= 8 && H5Sget_simple_extent_dims(space, dims, NULL) >= 0)
            rows = (long long)dims[0];
        if (space >= 0)
            H5Sclose(space);
        if (ds >= 0)
            H5Dclose(ds);
    }
    H5E_END_TRY;
    H5Fclose(file);
    return rows > 0 && rows < (1 << 24) ? (int)rows : 0;
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

static facs_status fill_results(hid_t file, const char *path, void *user)
{
    const results *r = user;
    return write_results(file, path, r->logits, r->x, r->params);
}

/* Atomically, so a failed run leaves no partial file. */
static facs_status save_results(const char *path, const facs_tensor *logits, const facs_tensor *x,
                                const facs_param_list *params)
{
    results r = {logits, x, params};
    return facs_h5_write_atomic(path, fill_results, &r);
}

/* Builds the network with the file's classes and fusion (unless the command
 * line says otherwise) and loads the weights, printing the load report. */
static facs_status build(const run_options *o, facs_model **net)
{
    facs_model_options mo;
    FACS_TRY(facs_model_options_for_arch(o->arch, &mo));
    facs_weights_meta meta;
    FACS_TRY(facs_weights_read_meta(o->weights, &meta));
    int classes = o->classes > 0 ? o->classes
                  : meta.classes > 0 ? meta.classes
                                     : file_head_rows(o->weights, facs_model_arch_head_weight(o->arch));
    mo.classes = classes > 0 ? classes : 1000;
    mo.width = o->width;
    mo.cifar_stem = o->cifar_stem;
    mo.fusion_bn = o->fusion_bn;
    if (o->fusion >= 0)
        mo.fusion.fusion = (facs_fusion)o->fusion;
    else if (meta.fusion >= 0)
        mo.fusion.fusion = (facs_fusion)meta.fusion;
    if (o->threshold >= 0)
        mo.fusion.threshold = (float)o->threshold;
    else if (!isnan(meta.threshold))
        mo.fusion.threshold = meta.threshold;
    FACS_TRY(facs_model_create(net, &mo, FACS_DEVICE_CPU, 0));
    facs_weights_report report;
    facs_weights_load_options lo = facs_weights_load_defaults();
    lo.report = &report;
    facs_status s = facs_weights_load(o->weights, facs_model_params(*net), &lo, NULL);
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
                         (unsigned long long)in->dims[1], o->arch);
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
    return save_results(o->output, logits, x, facs_model_params(net));
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
    fprintf(out, "usage: facs-run --arch A --weights W.h5 --input X.h5 --output Y.h5 [options]\n"
                 "Runs a backbone (ResNet, VGG, MobileNet-v2 or a FACS variant) on /input (N, 3, H, W) and writes the logits to /output (N, classes).\n"
                 "  --arch A          any backbone: facs-summary --list prints the names\n"
                 "  --weights W.h5    weights file (backbone/weights.h), loaded strictly\n"
                 "  --input X.h5      file holding /input, float32 NCHW\n"
                 "  --output Y.h5     written atomically\n"
                 "  --mode M          eval (BN running statistics, default) or train (batch statistics;\n"
                 "                    the updated running statistics are not saved)\n"
                 "  --fusion F        threshold or weighted (default: the weights file's, else threshold)\n"
                 "  --threshold T     T_cf of threshold fusion (default: the file's, else 0.5)\n"
                 "  --fusion-bn B     FACS variants: none (default), pre (MobileNet-v2 only) or post: BN around the fusion\n"
                 "  --classes N       default: the file's classes attribute, else its fc.weight rows, else 1000\n"
                 "  --width W         width multiplier (default 1)\n"
                 "  --cifar-stem      3x3 stride-1 stem without max-pool\n"
                 "  --grad-output G.h5  backward from /grad_output (shaped like /output); also writes\n"
                 "                    /grad_input and /grad/<state_dict key, '.' as '/'>\n"
                 "  --help, --version\n");
}

static int bad_number(const char *opt, const char *arg, double *out)
{
    char *end;
    errno = 0;
    *out = strtod(arg, &end);
    if (errno || end == arg || *end) {
        fprintf(stderr, "facs-run: %s needs a number, not '%s'\n", opt, arg);
        return 1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    run_options o = {.width = 1.0, .fusion = -1, .threshold = -1};
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
    double v;
    while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        switch (c) {
        case 'a': o.arch = optarg; break;
        case 'W': o.weights = optarg; break;
        case 'i': o.input = optarg; break;
        case 'o': o.output = optarg; break;
        case 'g': o.grad_output = optarg; break;
        case 's': o.cifar_stem = 1; break;
        case 'm':
            if (strcmp(optarg, "eval") && strcmp(optarg, "train")) {
                fprintf(stderr, "facs-run: --mode must be eval or train, not '%s'\n", optarg);
                return 2;
            }
            o.training = !strcmp(optarg, "train");
            break;
        case 'f':
            if (strcmp(optarg, "threshold") && strcmp(optarg, "weighted")) {
                fprintf(stderr, "facs-run: --fusion must be threshold or weighted, not '%s'\n", optarg);
                return 2;
            }
            o.fusion = strcmp(optarg, "weighted") ? FACS_FUSION_THRESHOLD : FACS_FUSION_WEIGHTED;
            break;
        case 'T':
            if (bad_number("--threshold", optarg, &o.threshold) || o.threshold < 0 || o.threshold > 1) {
                fprintf(stderr, "facs-run: --threshold must lie in [0, 1]\n");
                return 2;
            }
            break;
        case 'c':
            if (bad_number("--classes", optarg, &v) || v < 1 || v > (1 << 24) || v != (int)v) {
                fprintf(stderr, "facs-run: --classes must be a positive integer\n");
                return 2;
            }
            o.classes = (int)v;
            break;
        case 'w':
            if (bad_number("--width", optarg, &o.width) || !(o.width > 0 && o.width <= 16)) {
                fprintf(stderr, "facs-run: --width must lie in (0, 16]\n");
                return 2;
            }
            break;
        case 'B':
            if (facs_fusion_bn_parse(optarg, &o.fusion_bn) != FACS_OK) {
                fprintf(stderr, "facs-run: --fusion-bn: %s\n", facs_last_error());
                return 2;
            }
            break;
        case 'h': usage(stdout); return 0;
        case 'V': puts("facs-run 0.1.0"); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (optind < argc || !o.arch || !o.weights || !o.input || !o.output) {
        fprintf(stderr, optind < argc ? "facs-run: unexpected argument '%s'\n"
                                      : "facs-run: --arch, --weights, --input and --output are required%s\n",
                optind < argc ? argv[optind] : "");
        usage(stderr);
        return 2;
    }
    /* HDF5's own error stack printing would bury our message. */
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    if (run(&o) != FACS_OK) {
        fprintf(stderr, "facs-run: %s\n", facs_last_error());
        return 1;
    }
    return 0;
}
