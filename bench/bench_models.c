/* bench-models: whole networks on the CPU or a GPU (--device), one
 * configuration per process (so that the process's peak RSS and arena peak
 * belong to that configuration), printing one JSON document on stdout:
 *   {"library": "facs", "device": "cpu", "mode": "infer", "threads": 2, "runs": 5, "warmup": 2,
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
 *   --mode floor  the conv floor of infer: the network's convolutions alone
 *                 (recorded from one eval forward), back to back, with the
 *                 reordered weights cached, at batch 1 then --batch; shapes
 *                 named as infer's, with floor_ms, cpu_ms, gflops_floor and
 *                 the count of convolutions, and the oneDNN ISA in the document.
 *
 * cpu_ms is the median process CPU time (all threads) of a call: with one
 * thread it hardly depends on other load, so it compares the libraries on a
 * busy machine, where wall times do not. Memory per shape: the ctx arena's
 * peak (activations, gradients, scratch), the persistent state (parameters,
 * BN buffers, gradients, momentum) and the process's max RSS, plus the RSS
 * before the model was built. Warm up with
 * 2 calls or more: the arena settles only in the call after its first reset,
 * which maps its single new block afresh (page faults over the whole peak).
 *
 * --device cuda[:N]: the model is built and initialised on the CPU (the same
 * weights as on the CPU), then moved (facs_model_to_device). Kernels run
 * asynchronously, so each timed sample is `calls` back-to-back calls and one
 * device sync (bench_util.h: after the warm-up, about 25 ms of calls unless
 * --iters fixes the count), and each shape adds calls_per_sample and
 * device_mib, the device memory the run held at its peak: the arena's peak
 * plus the model state. A training step syncs within each call anyway: the
 * cross-entropy reads its count of valid labels back to the host.
 * bench/run_bench.sh infer|train|pspnet compares it with bench/bench_models_torch.py
 * (infer also with --mode floor and the twin's --variant mkldnn). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <dnnl.h>

#include "autograd.h"
#include "bench_util.h"
#include "cli_options.h"
#include "model.h"
#include "optim.h"
#include "pspnet.h"

static const char ABOUT[] =
    "Times whole networks on the CPU (one configuration per run); prints JSON on stdout.\n"
    "  --mode M          infer (batch 1, then --batch; eval mode), train (one SGD step at --batch) or floor\n"
    "                    (infer's convolutions alone, back to back, weights cached: its lower bound); default infer\n"
    "  --arch A          any facs-run architecture name (default resnet50)\n"
    "  --input-size S    input side S (square) or HxW, height first (512x1024: 512 rows of 1024); default 224\n"
    "  --classes K       classes (default: the architecture's, 1000; PSPNet 19)\n"
    "                    train mode: uniform random labels in [0, K), one per image, or one per pixel for\n"
    "                    segmentation models (loss: main cross-entropy + 0.4 x aux, ignore index 255)\n"
    "  --cifar-stem      ResNet 3x3 stride-1 stem without max-pool (for 32x32 inputs)\n"
    "  --profile         after timing, one more call at --batch split into phases, forward ops and backward ops\n"
    "                    (stderr); on a GPU each op is followed by a sync, which the split's times include\n"
    "  --weight-cache    keep reordered conv weights across calls (facs_ctx_set_weight_cache); off by default,\n"
    "                    as PyTorch's eager mode reorders per call too; always on in floor mode\n"
    "  --fold-bn         infer mode: BatchNorm folded into the convolutions, ReLU and residual adds fused\n"
    "                    (facs_model_fold_bn, what inference tools run); off by default, as PyTorch's eager mode\n"
    "  --deep-base       ResNet backbones: semseg's deep base stem (3x3 convolutions 64-64-128), as PSPNet's\n"
    "                    published networks\n"
    "  --device D        cpu (default), cuda or cuda:N; the model is initialised on the CPU, then moved\n"
    "  --iters N         calls per timed sample (each sample: N calls, then a device sync; its time / N);\n"
    "                    default 1 on the CPU, on a GPU as many as take about 25 ms after the warm-up";

typedef struct {
    int train, floor, profile, weight_cache, fold_bn;
    int iters; /* calls per timed sample; 0: chosen after the warm-up */
    facs_device_choice device;
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
    int classes, cifar_stem, deep_stem, iters; /* iters -1: the device's default */
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
    else if (!strcmp(name, "--deep-base"))
        return facs_cli_stem(FACS_STEM_DEEP_BASE, &m->deep_stem);
    else if (!strcmp(name, "--device"))
        return facs_cli_device(v, &m->b->device);
    else if (!strcmp(name, "--iters"))
        return facs_cli_int("--iters", v, 1, 1 << 20, &m->iters);
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
                                       {"--weight-cache", 0}, {"--fold-bn", 0}, {"--deep-base", 0},
                                       {"--device", 1},       {"--iters", 1},   {NULL, 0}};
    model_args m = {b, "resnet50", "infer", 0 /* the architecture's */, 0, 0, -1};
    b->height = b->width = 224;
    b->profile = 0;
    b->weight_cache = 0;
    b->fold_bn = 0;
    b->device = (facs_device_choice){.device = FACS_DEVICE_CPU};
    int rc = bench_take_options(argc, argv, "bench-models", own, take_model_option, &m);
    if (rc >= 0)
        return rc;
    if (strcmp(m.mode, "infer") && strcmp(m.mode, "train") && strcmp(m.mode, "floor")) {
        fprintf(stderr, "bench-models: --mode must be infer, train or floor, not '%s'\n", m.mode);
        return 2;
    }
    b->train = !strcmp(m.mode, "train");
    b->floor = !strcmp(m.mode, "floor");
    if (b->train && b->fold_bn) {
        fprintf(stderr, "bench-models: --fold-bn is for --mode infer (training needs the unfolded model)\n");
        return 2;
    }
    if (b->floor && (b->fold_bn || b->profile)) {
        fprintf(stderr, "bench-models: --mode floor times the unfolded network's convolutions alone: "
                        "--fold-bn and --profile do not apply\n");
        return 2;
    }
    b->iters = m.iters > 0 ? m.iters : b->device.device == FACS_DEVICE_CPU ? 1 : 0;
    b->weight_cache |= b->floor; /* the floor's weights are reordered once, before timing */
    if (facs_model_options_for_arch(m.arch, &b->model) != FACS_OK) {
        fprintf(stderr, "bench-models: %s\n", facs_last_error());
        return 2;
    }
    if (m.classes)
        b->model.classes = m.classes;
    b->model.cifar_stem = m.cifar_stem;
    b->model.deep_stem = m.deep_stem;
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

/* Time per op name: the time from the previous op's end (or the phase's
 * start) to this op's end, which charges the glue between ops (tiny) to the
 * op that follows it. Wall and CPU time. On a GPU each op's end is a sync
 * of the device, as its kernels run asynchronously. */
enum { MAX_OP_NAMES = 32 };
typedef struct {
    const char *op[MAX_OP_NAMES];
    double wall_ms[MAX_OP_NAMES], cpu_ms[MAX_OP_NAMES];
    int calls[MAX_OP_NAMES], count;
    double last_wall, last_cpu;
} op_times;

/* The forward ops' and the backward nodes' times (ctx->profile_user). */
typedef struct {
    facs_device device;
    op_times forward, backward;
    op_times *current; /* the phase that the last op belonged to */
} op_profile;

static void charge(op_profile *p, op_times *t, const char *op)
{
    (void)bench_sync(p->device); /* a failure here fails the call's own next sync too */
    double wall = bench_now_ms(), cpu = bench_cpu_now_ms();
    if (p->current != t) {
        /* backward's first node: its time runs from the end of the forward */
        t->last_wall = p->current->last_wall;
        t->last_cpu = p->current->last_cpu;
        p->current = t;
    }
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

static void time_op(void *user, const char *op, const facs_tensor *const *inputs, int n_inputs,
                    const facs_tensor *out, const facs_tensor *weight)
{
    (void)inputs, (void)n_inputs, (void)out, (void)weight;
    op_profile *p = user;
    charge(p, &p->forward, op);
}

static void time_backward_op(void *user, const char *op)
{
    op_profile *p = user;
    charge(p, &p->backward, op);
}

/* One phase's ops, each with its share of the phase's wall time (GPU) or CPU
 * time (CPU). */
static void print_ops(const char *phase, const op_times *t, double phase_ms, int gpu)
{
    for (int i = 0; i < t->count; i++)
        fprintf(stderr, "  %-8s %-22s %4d calls %9.1f / %9.1f ms  %5.1f%% of %s %s\n", phase, t->op[i], t->calls[i],
                t->wall_ms[i], t->cpu_ms[i], 100 * (gpu ? t->wall_ms[i] : t->cpu_ms[i]) / phase_ms, phase,
                gpu ? "wall" : "CPU");
}

/* One more call under the profile hooks; prints the split to stderr. The
 * loss's op (softmax_cross_entropy) is listed with the forward ops. */
static facs_status profile_call(facs_ctx *ctx, facs_model *m, facs_sgd *sgd, facs_tensor *x, const int *labels,
                                facs_device device)
{
    op_profile p = {.device = device};
    double wall[3], cpu[3];
    FACS_TRY(bench_sync(device));
    p.current = &p.forward;
    ctx->profile = time_op;
    ctx->profile_backward = time_backward_op;
    ctx->profile_user = &p;
    double wall0 = p.forward.last_wall = bench_now_ms(), cpu0 = p.forward.last_cpu = bench_cpu_now_ms();
    facs_status s = run_once(ctx, m, sgd, x, labels, NULL, wall, cpu);
    ctx->profile = NULL;
    ctx->profile_backward = NULL;
    if (s != FACS_OK)
        return s;
    int gpu = device != FACS_DEVICE_CPU;
    fprintf(stderr, "profile, wall / CPU ms: forward %.1f / %.1f, backward %.1f / %.1f, optimizer %.1f / %.1f%s\n",
            wall[0] - wall0, cpu[0] - cpu0, wall[1] - wall[0], cpu[1] - cpu[0], wall[2] - wall[1], cpu[2] - cpu[1],
            gpu ? " (a device sync after every op)" : "");
    print_ops("forward", &p.forward, gpu ? wall[0] - wall0 : cpu[0] - cpu0, gpu);
    print_ops("backward", &p.backward, gpu ? wall[1] - wall[0] : cpu[1] - cpu[0], gpu);
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
    facs_tensor *x = bench_random_tensor_on(b->device.device, n, 3, b->height, b->width, &seed);
    int *labels = sgd ? random_labels(m, b, n, &seed) : NULL;
    int calls = 1; /* per sample: 1 while warming up, then b->iters or the count chosen then */
    double *ms = malloc((size_t)o->runs * sizeof *ms), *cpu = malloc((size_t)o->runs * sizeof *cpu);
    double first_loss = 0;
    char size[32];
    size_label(b, size, sizeof size);
    int rc = 1;
    if (!x || (sgd && !labels) || !ms || !cpu) {
        fprintf(stderr, "bench-models: %s\n", x ? "out of memory" : facs_last_error());
        goto done;
    }
    for (int i = -o->warmup; i < o->runs; i++) {
        facs_tensor *loss = NULL;
        if (i == 0)
            calls = b->iters ? b->iters : o->warmup ? bench_calls_per_sample(ms[0]) : 1;
        double t0 = bench_now_ms(), c0 = bench_cpu_now_ms();
        facs_status s = FACS_OK;
        for (int k = 0; s == FACS_OK && k < calls; k++)
            s = run_once(ctx, m, sgd, x, labels, &loss, NULL, NULL);
        if (s == FACS_OK)
            s = bench_sync(b->device.device);
        double t1 = bench_now_ms(), c1 = bench_cpu_now_ms();
        float loss_value = 0;
        if (s == FACS_OK && loss)
            s = facs_tensor_download(loss, &loss_value, sizeof loss_value); /* after the clock: not timed */
        if (s != FACS_OK) {
            fprintf(stderr, "bench-models: %s: %s\n", b->model.arch, facs_last_error());
            goto done;
        }
        if (i >= -1) { /* ms[0] first holds the last warm-up call's time, which picks the calls per sample */
            ms[i < 0 ? 0 : i] = (t1 - t0) / calls;
            cpu[i < 0 ? 0 : i] = (c1 - c0) / calls;
        }
        if (i == -o->warmup)
            first_loss = loss_value; /* the initial weights' loss: ln(classes) x (1 + aux weight) for PSPNet */
        fprintf(stderr, "%s @%s b%d %s %d: %.1f ms", b->model.arch, size, n, sgd ? "step" : "forward", i,
                (t1 - t0) / calls);
        if (calls > 1)
            fprintf(stderr, " (mean of %d calls)", calls);
        if (sgd)
            fprintf(stderr, ", loss %.4f", (double)loss_value);
        fputc('\n', stderr);
    }
    if (b->profile && n == o->batch && profile_call(ctx, m, sgd, x, labels, b->device.device) != FACS_OK) {
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
    if (b->model.deep_stem)
        json_object_set_new(shape, "deep_stem", json_integer(b->model.deep_stem));
    double arena_mib = facs_ctx_peak_bytes(ctx) / 1048576.0, model_mib = state_mib(facs_model_params(m));
    json_object_set_new(shape, "arena_peak_mib", bench_json_real(arena_mib, 1));
    json_object_set_new(shape, "state_mib", bench_json_real(model_mib, 1));
    if (b->device.device != FACS_DEVICE_CPU) {
        json_object_set_new(shape, "calls_per_sample", json_integer(calls));
        json_object_set_new(shape, "device_mib", bench_json_real(arena_mib + model_mib, 1));
    }
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

/* --mode floor: the convolutions of one eval forward, recorded as the network
 * calls them (so the list follows the architecture: ResNet-50 has 53), then
 * timed alone, back to back. */
typedef struct {
    facs_conv2d_params p;   /* stride, pad, dilation, groups as the network passed them */
    facs_tensor *w, *b;     /* the model's own tensors: their cached reorders are reused */
    int c, h, w_in, oh, ow; /* input channels and size, output size, of one image */
} floor_conv;

typedef struct {
    facs_param_list *params; /* the model's, to map the backend's const pointers back to its tensors */
    floor_conv *items;
    int count, capacity;
} floor_convs;

/* A copy of the context's backend table whose conv2d_forward records each
 * call before running it. The table comes first so that the entry, which
 * gets only ctx, finds the recorder behind ctx->backend. */
typedef struct {
    facs_backend table;
    const facs_backend *real;
    floor_convs *list;
} conv_spy;

/* The model tensor t points to; NULL for NULL (no bias) and for a tensor the model does not own. */
static facs_tensor *model_tensor(facs_param_list *params, const facs_tensor *t)
{
    for (int i = 0; t && i < params->count; i++)
        if (params->items[i]->value == t)
            return params->items[i]->value;
    return NULL;
}

static facs_status floor_add(floor_convs *list, const facs_conv2d_params *p, const facs_tensor *x,
                             const facs_tensor *w, const facs_tensor *b, const facs_tensor *y)
{
    floor_conv c = {*p, model_tensor(list->params, w), model_tensor(list->params, b), x->c, x->h, x->w, y->h, y->w};
    if (!c.w || (b && !c.b))
        return facs_fail(FACS_ERR_ARG, "floor: a convolution's weight or bias is not a model parameter");
    if (list->count == list->capacity) {
        int capacity = list->capacity ? 2 * list->capacity : 64;
        floor_conv *grown = realloc(list->items, (size_t)capacity * sizeof *grown);
        if (!grown)
            return facs_fail(FACS_ERR_MEMORY, "floor: out of memory for the convolution list");
        list->items = grown;
        list->capacity = capacity;
    }
    list->items[list->count++] = c;
    return FACS_OK;
}

static facs_status record_conv(struct facs_ctx *ctx, const facs_conv2d_params *p, const facs_tensor *x,
                               const facs_tensor *w, const facs_tensor *b, facs_tensor *y)
{
    const conv_spy *spy = (const conv_spy *)ctx->backend; /* its first member: see conv_spy */
    FACS_TRY(floor_add(spy->list, p, x, w, b, y));
    return spy->real->conv2d_forward(ctx, p, x, w, b, y);
}

/* Fills list with the convolutions of one eval forward at batch 1 (their
 * parameters do not depend on the batch), which also reorders the weights
 * into the cache. */
static facs_status record_convs(facs_ctx *ctx, facs_model *m, const model_bench *b, floor_convs *list)
{
    unsigned seed = 1;
    facs_tensor *x = bench_random_tensor_on(b->device.device, 1, 3, b->height, b->width, &seed);
    if (!x)
        return facs_last_status();
    conv_spy spy = {*ctx->backend, ctx->backend, list};
    spy.table.conv2d_forward = record_conv;
    facs_ctx_begin_step(ctx);
    facs_ctx_set_mode(ctx, 0, 0);
    ctx->backend = &spy.table;
    facs_tensor *logits = facs_model_forward(ctx, m, x);
    ctx->backend = spy.real;
    facs_tensor_free(x);
    return logits ? FACS_OK : facs_last_status();
}

static int same_input(const floor_conv *a, const floor_conv *b)
{
    return a->c == b->c && a->h == b->h && a->w_in == b->w_in;
}

/* The index of the first conv whose input has conv i's shape. */
static int first_of_shape(const floor_convs *list, int i)
{
    int j = 0;
    while (!same_input(&list->items[j], &list->items[i]))
        j++;
    return j;
}

static void free_floor_inputs(const floor_convs *list, facs_tensor **in)
{
    for (int i = 0; in && i < list->count; i++)
        if (first_of_shape(list, i) == i)
            facs_tensor_free(in[i]);
    free(in);
}

/* Each conv's input at batch n: one random heap tensor per input shape,
 * shared by the convs of that shape (values do not change the time; sharing
 * bounds the memory at batch 32). NULL when out of memory. */
static facs_tensor **floor_inputs(const floor_convs *list, facs_device device, int n)
{
    facs_tensor **in = calloc((size_t)list->count, sizeof *in);
    unsigned seed = 1;
    for (int i = 0; in && i < list->count; i++) {
        const floor_conv *c = &list->items[i];
        int j = first_of_shape(list, i);
        in[i] = j < i ? in[j] : bench_random_tensor_on(device, n, c->c, c->h, c->w_in, &seed);
        if (!in[i]) {
            free_floor_inputs(list, in);
            return NULL;
        }
    }
    return in;
}

/* FLOPs (2 per multiply-add) of the convolutions at batch n. */
static double floor_gflop(const floor_convs *list, int n)
{
    double flop = 0;
    for (int i = 0; i < list->count; i++) {
        const floor_conv *c = &list->items[i];
        flop += 2.0 * n * c->oh * c->ow * c->w->n * c->w->c * c->w->h * c->w->w;
    }
    return flop * 1e-9;
}

/* One pass over the convolutions. Each output is dropped before the next
 * conv starts (the arena restarts), so the pass holds one output at a time
 * as a network's forward holds a few. */
static facs_status floor_pass(facs_ctx *ctx, const floor_convs *list, facs_tensor *const *in)
{
    for (int i = 0; i < list->count; i++) {
        const floor_conv *c = &list->items[i];
        facs_ctx_begin_step(ctx);
        if (!facs_conv2d(ctx, in[i], c->w, c->b, &c->p))
            return facs_last_status();
    }
    return FACS_OK;
}

/* Times the floor at batch n (one untimed pass to reorder the weights this
 * batch's primitives want, then --warmup, then --runs) and appends its entry. */
static int floor_batch(facs_ctx *ctx, const floor_convs *list, const model_bench *b, const bench_options *o, int n,
                       json_t *shapes)
{
    facs_tensor **in = floor_inputs(list, b->device.device, n);
    double *ms = malloc((size_t)o->runs * sizeof *ms), *cpu = malloc((size_t)o->runs * sizeof *cpu);
    char size[32], name[256];
    size_label(b, size, sizeof size);
    snprintf(name, sizeof name, "%s @%s b%d", b->model.arch, size, n);
    int rc = 1;
    if (!in || !ms || !cpu) {
        fprintf(stderr, "bench-models: out of memory\n");
        goto done;
    }
    for (int i = -o->warmup - 1; i < o->runs; i++) {
        double t0 = bench_now_ms(), c0 = bench_cpu_now_ms();
        facs_status s = floor_pass(ctx, list, in);
        if (s == FACS_OK)
            s = bench_sync(b->device.device);
        double t1 = bench_now_ms(), c1 = bench_cpu_now_ms();
        if (s != FACS_OK) {
            fprintf(stderr, "bench-models: %s floor: %s\n", b->model.arch, facs_last_error());
            goto done;
        }
        if (i >= 0) {
            ms[i] = t1 - t0;
            cpu[i] = c1 - c0;
        }
        fprintf(stderr, "%s floor %d: %.1f ms\n", name, i, t1 - t0);
    }
    /* One per weight and layout: a count above the conv count means batches wanted different layouts. */
    fprintf(stderr, "%s floor: %d reordered weights cached\n", name, facs_ctx_weight_cache_count(ctx));
    double median = bench_median(ms, o->runs);
    json_array_append_new(shapes, json_pack("{s:s, s:s, s:s, s:i, s:i, s:i, s:i, s:o, s:o, s:o}", "name", name,
                                            "mode", "floor", "arch", b->model.arch, "input_h", b->height, "input_w",
                                            b->width, "batch", n, "convs", list->count, "floor_ms",
                                            bench_json_real(median, 3), "cpu_ms",
                                            bench_json_real(bench_median(cpu, o->runs), 3), "gflops_floor",
                                            bench_json_real(floor_gflop(list, n) / (median * 1e-3), 1)));
    rc = 0;
done:
    free_floor_inputs(list, in);
    free(ms);
    free(cpu);
    return rc;
}

/* --mode floor: records the convolutions, then times them at batch 1 (when
 * --batch is above 1) and at --batch, as infer times the network. */
static int bench_floor(facs_ctx *ctx, facs_model *m, const model_bench *b, const bench_options *o, json_t *shapes)
{
    floor_convs list = {facs_model_params(m), NULL, 0, 0};
    int rc = 1;
    if (record_convs(ctx, m, b, &list) != FACS_OK)
        fprintf(stderr, "bench-models: %s floor: %s\n", b->model.arch, facs_last_error());
    else {
        fprintf(stderr, "%s floor: %d convolutions recorded from one eval forward\n", b->model.arch, list.count);
        rc = o->batch > 1 ? floor_batch(ctx, &list, b, o, 1, shapes) : 0;
        if (!rc)
            rc = floor_batch(ctx, &list, b, o, o->batch, shapes);
    }
    free(list.items);
    return rc;
}

/* The widest instruction set oneDNN may dispatch to here (ONEDNN_MAX_CPU_ISA
 * lowers it): whether the floor's kernels ran AVX-512 or AVX2. */
static const char *onednn_isa(void)
{
    switch (dnnl_get_effective_cpu_isa()) {
    case dnnl_cpu_isa_sse41: return "sse41";
    case dnnl_cpu_isa_avx: return "avx";
    case dnnl_cpu_isa_avx2: return "avx2";
    case dnnl_cpu_isa_avx2_vnni: return "avx2_vnni";
    case dnnl_cpu_isa_avx512_core: return "avx512_core";
    case dnnl_cpu_isa_avx512_core_vnni: return "avx512_core_vnni";
    case dnnl_cpu_isa_avx512_core_bf16: return "avx512_core_bf16";
    case dnnl_cpu_isa_avx512_core_amx: return "avx512_core_amx";
    default: return "other";
    }
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
    if (bench_device_select("bench-models", &b.device))
        return 1;
    facs_ctx *ctx = facs_ctx_create(b.device.device);
    facs_model *m = NULL;
    /* Built on the CPU and then moved, so every device runs the same initial weights. */
    if (!ctx || facs_ctx_set_weight_cache(ctx, b.weight_cache) != FACS_OK ||
        facs_model_create(&m, &b.model, FACS_DEVICE_CPU, 1) != FACS_OK ||
        facs_model_to_device(m, b.device.device) != FACS_OK || (b.fold_bn && facs_model_fold_bn(m) != FACS_OK)) {
        fprintf(stderr, "bench-models: %s\n", facs_last_error());
        facs_model_free(m);
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
    if (b.floor)
        rc = bench_floor(ctx, m, &b, &o, shapes);
    else {
        /* Inference reports latency at batch 1 before throughput at --batch. */
        rc = !b.train && o.batch > 1 ? bench_batch(ctx, m, NULL, &b, &o, 1, shapes, rss_start) : 0;
        if (!rc)
            rc = bench_batch(ctx, m, opt, &b, &o, o.batch, shapes, rss_start);
    }
    char device[32];
    json_t *doc = json_pack("{s:s, s:s, s:s, s:i, s:i, s:i, s:b, s:b, s:o}", "library", "facs", "device",
                            facs_cli_device_str(&b.device, device, sizeof device), "mode",
                            b.train ? "train" : b.floor ? "floor" : "infer", "threads", o.threads, "runs", o.runs,
                            "warmup", o.warmup, "weight_cache", b.weight_cache, "fold_bn", b.fold_bn, "shapes",
                            shapes);
    if (b.floor)
        json_object_set_new(doc, "onednn_isa", json_string(onednn_isa()));
    int out = bench_json_print(doc);
    rc = rc ? rc : out;
    if (opt)
        facs_sgd_free(opt);
    facs_model_free(m);
    facs_ctx_free(ctx);
    return rc;
}
