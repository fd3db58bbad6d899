/* bench-models: whole networks on the CPU, one configuration per process (so
 * that the process's peak RSS belongs to that configuration), printing one
 * JSON document on stdout:
 *   {"library": "facs", "mode": "infer", "threads": 2, "runs": 5, "warmup": 2,
 *    "shapes": [{"name": "resnet50 @224 b1", "forward_ms": ..., "images_per_s": ..., ...}, ...]}
 *
 *   --mode infer  eval-mode forward without the tape (the paper's Table 3):
 *                 batch 1 (latency), then --batch (throughput), in that order,
 *                 so the peaks reported after each are that batch's.
 *   --mode train  one SGD step: forward, cross-entropy, backward, facs_sgd
 *                 (Nesterov momentum 0.9, weight decay 1e-4 on every
 *                 parameter, as torch.optim.SGD applies it), zero_grad.
 *                 Segmentation models (PSPNet) get a label per pixel and
 *                 pspnet-train's loss: main cross-entropy + 0.4 x aux.
 *
 * cpu_ms is the median process CPU time (all threads) of a call: with one
 * thread it hardly depends on other load, so it compares the libraries on a
 * busy machine, where wall times do not. Memory per shape: the ctx arena's
 * peak (activations, gradients, scratch), the persistent state (parameters,
 * BN buffers, gradients, momentum) and the process's max RSS, plus the RSS
 * before the model was built. Warm up with
 * 2 calls or more: the arena settles only in the call after its first reset,
 * which maps its single new block afresh (page faults over the whole peak).
 * bench/run_bench.sh infer|train|pspnet compares it with bench/bench_models_torch.py. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "autograd.h"
#include "bench_util.h"
#include "cli_options.h"
#include "model.h"
#include "optim.h"
#include "pspnet.h"

static const char ABOUT[] =
    "Times whole networks on the CPU (one configuration per run); prints JSON on stdout.\n"
    "  --mode M          infer (batch 1, then --batch; eval mode) or train (one SGD step at --batch); default infer\n"
    "  --arch A          any facs-run architecture name (default resnet50)\n"
    "  --input-size S    input side S (square) or HxW, height first (512x1024: 512 rows of 1024); default 224\n"
    "  --classes K       classes (default: the architecture's, 1000; PSPNet 19)\n"
    "                    train mode: uniform random labels in [0, K), one per image, or one per pixel for\n"
    "                    segmentation models (loss: main cross-entropy + 0.4 x aux, ignore index 255)\n"
    "  --cifar-stem      ResNet 3x3 stride-1 stem without max-pool (for 32x32 inputs)\n"
    "  --profile         after timing, one more call at --batch split into phases and forward ops (stderr)\n"
    "  --weight-cache    keep reordered conv weights across calls (facs_ctx_set_weight_cache); off by default,\n"
    "                    as PyTorch's eager mode reorders per call too\n"
    "  --fold-bn         infer mode: BatchNorm folded into the convolutions, ReLU and residual adds fused\n"
    "                    (facs_model_fold_bn, what inference tools run); off by default, as PyTorch's eager mode";

typedef struct {
    int train, profile, weight_cache, fold_bn;
    facs_model_options model;
    int height, width; /* of the input images */
} model_bench;

/* pspnet-train's loss for segmentation models (semseg's recipe, pspnet/train_step.c). */
#define SEG_AUX_WEIGHT 0.4f
#define SEG_IGNORE_INDEX 255
#define CLS_IGNORE_INDEX -100 /* PyTorch's default: no label is ignored */

/* What the command line names before the architecture's options exist. */
typedef struct {
    model_bench *b;
    const char *arch, *mode;
    int classes, cifar_stem;
} model_args;

static facs_status take_model_option(void *user, const char *name, const char *v)
{
    model_args *m = user;
    if (!strcmp(name, "--cifar-stem"))
        m->cifar_stem = 1;
    else if (!strcmp(name, "--profile"))
        m->b->profile = 1;
    else if (!strcmp(name, "--weight-cache"))
        m->b->weight_cache = 1;
    else if (!strcmp(name, "--fold-bn"))
        m->b->fold_bn = 1;
    else if (!strcmp(name, "--mode"))
        m->mode = v;
    else if (!strcmp(name, "--arch"))
        m->arch = v;
    else if (!strcmp(name, "--input-size")) /* "S" (S x S) or "HxW", height first as in (N, C, H, W) */
        return facs_cli_size("--input-size", v, 1, 1 << 16, &m->b->height, &m->b->width);
    else
        return facs_cli_int("--classes", v, 1, 1 << 16, &m->classes);
    return FACS_OK;
}

/* Takes this benchmark's own options out of argv (bench_parse refuses options
 * it does not know) and fills b; returns -1 to go on, or the exit code. */
static int take_model_options(int *argc, char **argv, model_bench *b)
{
    static const bench_option own[] = {{"--mode", 1},       {"--arch", 1},    {"--input-size", 1},
                                       {"--classes", 1},    {"--cifar-stem", 0}, {"--profile", 0},
                                       {"--weight-cache", 0}, {"--fold-bn", 0}, {NULL, 0}};
    model_args m = {b, "resnet50", "infer", 0 /* the architecture's */, 0};
    b->height = b->width = 224;
    b->profile = 0;
    b->weight_cache = 0;
    b->fold_bn = 0;
    int rc = bench_take_options(argc, argv, "bench-models", own, take_model_option, &m);
    if (rc >= 0)
        return rc;
    if (strcmp(m.mode, "infer") && strcmp(m.mode, "train")) {
        fprintf(stderr, "bench-models: --mode must be infer or train, not '%s'\n", m.mode);
        return 2;
    }
    b->train = !strcmp(m.mode, "train");
    if (b->train && b->fold_bn) {
        fprintf(stderr, "bench-models: --fold-bn is for --mode infer (training needs the unfolded model)\n");
        return 2;
    }
    if (facs_model_options_for_arch(m.arch, &b->model) != FACS_OK) {
        fprintf(stderr, "bench-models: %s\n", facs_last_error());
        return 2;
    }
    if (m.classes)
        b->model.classes = m.classes;
    b->model.cifar_stem = m.cifar_stem;
    return -1;
}

/* Parameters and buffers, and the gradients and momentum buffers that exist. */
static double state_mib(facs_param_list *params)
{
    size_t bytes = 0;
    for (int i = 0; i < params->count; i++) {
        const facs_param *p = params->items[i];
        bytes += facs_tensor_bytes(p->value);
        if (p->value->grad)
            bytes += facs_tensor_bytes(p->value->grad);
        if (p->momentum)
            bytes += facs_tensor_bytes(p->momentum);
    }
    return bytes / 1048576.0;
}

/* The training loss of logits against labels: cross-entropy per image for
 * a classifier; for a segmentation model per pixel, plus 0.4 x that of the
 * aux head, as pspnet-train computes it (pspnet/train_step.c). NULL on error. */
static facs_tensor *train_loss(facs_ctx *ctx, const facs_model *m, facs_tensor *logits, const int *labels)
{
    /* One label per logits pixel: (N, 1, H, W), or (N, 1, 1, 1) for a classifier's (N, K, 1, 1). */
    facs_tensor *t = facs_ctx_tensor(ctx, FACS_I32, logits->n, 1, logits->h, logits->w);
    if (!t || facs_tensor_upload(t, labels, facs_tensor_bytes(t)) != FACS_OK)
        return NULL;
    if (!facs_model_is_segmentation(m))
        return facs_softmax_cross_entropy(ctx, logits, t, CLS_IGNORE_INDEX);
    facs_pspnet_loss loss;
    return facs_pspnet_train_loss(ctx, m, logits, t, SEG_AUX_WEIGHT, SEG_IGNORE_INDEX, &loss) == FACS_OK ? loss.total
                                                                                                        : NULL;
}

/* One timed call: an eval forward, or a whole training step. When wall and
 * cpu are given they receive the times at which forward, backward and the
 * optimizer step (with zero_grad) ended. A training step leaves its loss in
 * *loss_out when given (an arena tensor, valid until the next call). */
static facs_status run_once(facs_ctx *ctx, facs_model *m, facs_sgd *sgd, facs_tensor *x, const int *labels,
                            facs_tensor **loss_out, double wall[3], double cpu[3])
{
    facs_ctx_begin_step(ctx);
    facs_ctx_set_mode(ctx, sgd != NULL, sgd != NULL);
    if (sgd)
        facs_ctx_seed_step(ctx, 1, sgd->steps); /* fresh dropout masks each step, as in training */
    facs_tensor *logits = facs_model_forward(ctx, m, x);
    if (!logits)
        return FACS_ERR_ARG;
    if (wall) {
        wall[0] = wall[1] = wall[2] = bench_now_ms();
        cpu[0] = cpu[1] = cpu[2] = bench_cpu_now_ms();
    }
    if (!sgd)
        return FACS_OK;
    facs_tensor *loss = train_loss(ctx, m, logits, labels);
    if (!loss)
        return facs_last_status();
    if (loss_out)
        *loss_out = loss;
    FACS_TRY(facs_backward(ctx, loss, NULL));
    if (wall) {
        wall[1] = bench_now_ms();
        cpu[1] = bench_cpu_now_ms();
    }
    FACS_TRY(facs_sgd_step(sgd));
    facs_status s = facs_sgd_zero_grad(sgd);
    if (wall) {
        wall[2] = bench_now_ms();
        cpu[2] = bench_cpu_now_ms();
    }
    return s;
}

/* Forward time per op name: the time from the previous op's end (or the
 * call's start) to this op's end, which charges the glue between ops (tiny)
 * to the op that follows it. Wall and CPU time. */
enum { MAX_OP_NAMES = 32 };
typedef struct {
    const char *op[MAX_OP_NAMES];
    double wall_ms[MAX_OP_NAMES], cpu_ms[MAX_OP_NAMES];
    int calls[MAX_OP_NAMES], count;
    double last_wall, last_cpu;
} op_times;

static void time_op(void *user, const char *op, const facs_tensor *const *inputs, int n_inputs,
                    const facs_tensor *out, const facs_tensor *weight)
{
    (void)inputs, (void)n_inputs, (void)out, (void)weight;
    op_times *t = user;
    double wall = bench_now_ms(), cpu = bench_cpu_now_ms();
    int i = 0;
    while (i < t->count && strcmp(t->op[i], op))
        i++;
    if (i == MAX_OP_NAMES)
        i--; /* more names than any model has: lump the rest into the last */
    else if (i == t->count)
        t->op[t->count++] = op;
    t->wall_ms[i] += wall - t->last_wall;
    t->cpu_ms[i] += cpu - t->last_cpu;
    t->calls[i]++;
    t->last_wall = wall;
    t->last_cpu = cpu;
}

/* One more call under the profile hook; prints the split to stderr. The
 * loss's op (softmax_cross_entropy) is listed with the forward ops. */
static facs_status profile_call(facs_ctx *ctx, facs_model *m, facs_sgd *sgd, facs_tensor *x, const int *labels)
{
    op_times t = {.count = 0};
    double wall[3], cpu[3];
    ctx->profile = time_op;
    ctx->profile_user = &t;
    double wall0 = t.last_wall = bench_now_ms(), cpu0 = t.last_cpu = bench_cpu_now_ms();
    facs_status s = run_once(ctx, m, sgd, x, labels, NULL, wall, cpu);
    ctx->profile = NULL;
    if (s != FACS_OK)
        return s;
    fprintf(stderr, "profile, wall / CPU ms: forward %.1f / %.1f, backward %.1f / %.1f, optimizer %.1f / %.1f\n",
            wall[0] - wall0, cpu[0] - cpu0, wall[1] - wall[0], cpu[1] - cpu[0], wall[2] - wall[1], cpu[2] - cpu[1]);
    for (int i = 0; i < t.count; i++)
        fprintf(stderr, "  %-22s %4d calls %9.1f / %9.1f ms  %5.1f%% of forward CPU\n", t.op[i], t.calls[i],
                t.wall_ms[i], t.cpu_ms[i], 100 * t.cpu_ms[i] / (cpu[0] - cpu0));
    return FACS_OK;
}

/* The input size in shape names: "224" when square, else "512x1024" (HxW). */
static void size_label(const model_bench *b, char *buf, size_t size)
{
    if (b->height == b->width)
        snprintf(buf, size, "%d", b->height);
    else
        snprintf(buf, size, "%dx%d", b->height, b->width);
}

/* Uniform random training labels in [0, classes): one per image, or one per
 * pixel of the input for a segmentation model; NULL when out of memory. */
static int *random_labels(const facs_model *m, const model_bench *b, int n, unsigned *seed)
{
    size_t count = (size_t)n * (facs_model_is_segmentation(m) ? (size_t)b->height * b->width : 1);
    int *labels = malloc(count * sizeof *labels);
    for (size_t i = 0; labels && i < count; i++)
        labels[i] = rand_r(seed) % b->model.classes;
    return labels;
}

/* Times batch n and appends its JSON entry to shapes; 0 on success. */
static int bench_batch(facs_ctx *ctx, facs_model *m, facs_sgd *sgd, const model_bench *b, const bench_options *o,
                       int n, json_t *shapes, double rss_start)
{
    unsigned seed = 1;
    facs_tensor *x = bench_random_tensor(n, 3, b->height, b->width, &seed);
    int *labels = sgd ? random_labels(m, b, n, &seed) : NULL;
    double *ms = malloc((size_t)o->runs * sizeof *ms), *cpu = malloc((size_t)o->runs * sizeof *cpu);
    double first_loss = 0;
    char size[32];
    size_label(b, size, sizeof size);
    int rc = 1;
    if (!x || (sgd && !labels) || !ms || !cpu) {
        fprintf(stderr, "bench-models: out of memory\n");
        goto done;
    }
    for (int i = -o->warmup; i < o->runs; i++) {
        facs_tensor *loss = NULL;
        double t0 = bench_now_ms(), c0 = bench_cpu_now_ms();
        facs_status s = run_once(ctx, m, sgd, x, labels, &loss, NULL, NULL);
        double t1 = bench_now_ms(), c1 = bench_cpu_now_ms();
        float loss_value = 0;
        if (s == FACS_OK && loss)
            s = facs_tensor_download(loss, &loss_value, sizeof loss_value); /* after the clock: not timed */
        if (s != FACS_OK) {
            fprintf(stderr, "bench-models: %s: %s\n", b->model.arch, facs_last_error());
            goto done;
        }
        if (i >= 0) {
            ms[i] = t1 - t0;
            cpu[i] = c1 - c0;
        }
        if (i == -o->warmup)
            first_loss = loss_value; /* the initial weights' loss: ln(classes) x (1 + aux weight) for PSPNet */
        fprintf(stderr, "%s @%s b%d %s %d: %.1f ms", b->model.arch, size, n, sgd ? "step" : "forward", i, t1 - t0);
        if (sgd)
            fprintf(stderr, ", loss %.4f", (double)loss_value);
        fputc('\n', stderr);
    }
    if (b->profile && n == o->batch && profile_call(ctx, m, sgd, x, labels) != FACS_OK) {
        fprintf(stderr, "bench-models: %s: %s\n", b->model.arch, facs_last_error());
        goto done;
    }
    double median = bench_median(ms, o->runs);
    char name[256];
    snprintf(name, sizeof name, "%s @%s b%d", b->model.arch, size, n);
    json_t *shape = json_pack("{s:s, s:s, s:s, s:i, s:i, s:i, s:i, s:i}", "name", name, "mode",
                              sgd ? "train" : "infer", "arch", b->model.arch, "input_h", b->height, "input_w",
                              b->width, "batch", n, "classes", b->model.classes, "cifar_stem", b->model.cifar_stem);
    json_object_set_new(shape, sgd ? "step_ms" : "forward_ms", bench_json_real(median, 3));
    json_object_set_new(shape, "cpu_ms", bench_json_real(bench_median(cpu, o->runs), 3));
    json_object_set_new(shape, "images_per_s", bench_json_real(n * 1e3 / median, 2));
    if (sgd)
        json_object_set_new(shape, "first_loss", bench_json_real(first_loss, 4));
    json_object_set_new(shape, "arena_peak_mib", bench_json_real(facs_ctx_peak_bytes(ctx) / 1048576.0, 1));
    json_object_set_new(shape, "state_mib", bench_json_real(state_mib(facs_model_params(m)), 1));
    json_object_set_new(shape, "max_rss_mib", bench_json_real(bench_max_rss_mib(), 1));
    json_object_set_new(shape, "rss_before_model_mib", bench_json_real(rss_start, 1));
    json_array_append_new(shapes, shape);
    rc = 0;
done:
    facs_tensor_free(x);
    free(labels);
    free(ms);
    free(cpu);
    return rc;
}

int main(int argc, char **argv)
{
    double rss_start = bench_max_rss_mib();
    model_bench b;
    bench_options o;
    int rc = take_model_options(&argc, argv, &b);
    if (rc < 0)
        rc = bench_parse(argc, argv, "bench-models", ABOUT, &o);
    if (rc >= 0)
        return rc;
    facs_ctx *ctx = facs_ctx_create(FACS_DEVICE_CPU);
    facs_model *m = NULL;
    if (!ctx || facs_ctx_set_weight_cache(ctx, b.weight_cache) != FACS_OK ||
        facs_model_create(&m, &b.model, FACS_DEVICE_CPU, 1) != FACS_OK ||
        (b.fold_bn && facs_model_fold_bn(m) != FACS_OK)) {
        fprintf(stderr, "bench-models: %s\n", facs_last_error());
        facs_ctx_free(ctx);
        return 1;
    }
    facs_sgd sgd, *opt = NULL;
    if (b.train) {
        facs_sgd_options so = facs_sgd_defaults();
        so.lr = 0.1;
        so.momentum = 0.9;
        so.nesterov = 1;
        so.weight_decay = 1e-4;
        if (facs_sgd_init(&sgd, facs_model_params(m), &so) != FACS_OK) {
            fprintf(stderr, "bench-models: %s\n", facs_last_error());
            facs_model_free(m);
            facs_ctx_free(ctx);
            return 1;
        }
        opt = &sgd;
    }
    json_t *shapes = json_array();
    /* Inference reports latency at batch 1 before throughput at --batch. */
    rc = !b.train && o.batch > 1 ? bench_batch(ctx, m, NULL, &b, &o, 1, shapes, rss_start) : 0;
    if (!rc)
        rc = bench_batch(ctx, m, opt, &b, &o, o.batch, shapes, rss_start);
    int out = bench_json_print(json_pack("{s:s, s:s, s:i, s:i, s:i, s:b, s:b, s:o}", "library", "facs", "mode",
                                         b.train ? "train" : "infer", "threads", o.threads, "runs", o.runs, "warmup",
                                         o.warmup, "weight_cache", b.weight_cache, "fold_bn", b.fold_bn, "shapes",
                                         shapes));
    rc = rc ? rc : out;
    if (opt)
        facs_sgd_free(opt);
    facs_model_free(m);
    facs_ctx_free(ctx);
    return rc;
}
