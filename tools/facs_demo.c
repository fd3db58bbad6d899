/* facs-demo: trains the tiny FACS network (backbone/tinynet.h) on generated
 * images and prints the loss falling and the test accuracy rising.
 *
 * The data: four classes of 16x16 RGB images (horizontal, vertical and
 * diagonal stripes of random frequency and phase, and a blob at a random
 * place), each with a random colour tint and pixel noise, so the network must
 * learn shape, not colour. */
#include <getopt.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli_options.h"
#include "optim.h"
#include "rng.h"
#include "tinynet.h"

#define CLASSES 4
#define SIZE 16
#define PIXELS (3 * SIZE * SIZE)

typedef struct {
    int epochs, batch, train_count, test_count, width;
    double lr;
    uint64_t seed;
    facs_fuse_params fusion;
} demo_options;

/* One image in NCHW order and its label, from (seed, index) alone. */
static int make_image(uint64_t seed, uint64_t index, float *img)
{
    uint64_t s = seed * 1000003ULL + index;
    int label = (int)(facs_rng_uniform(s, 0) * CLASSES) % CLASSES;
    double freq = 0.5 + facs_rng_uniform(s, 1), phase = 6.2831853 * facs_rng_uniform(s, 2);
    double cx = 4 + 8 * facs_rng_uniform(s, 3), cy = 4 + 8 * facs_rng_uniform(s, 4);
    for (int y = 0; y < SIZE; y++)
        for (int x = 0; x < SIZE; x++) {
            double v;
            switch (label) {
            case 0:
                v = sin(freq * y + phase);
                break;
            case 1:
                v = sin(freq * x + phase);
                break;
            case 2:
                v = sin(freq * 0.7 * (x + y) + phase);
                break;
            default:
                v = 2.0 * exp(-((x - cx) * (x - cx) + (y - cy) * (y - cy)) / 8.0) - 1.0;
            }
            for (int c = 0; c < 3; c++) {
                double tint = 0.15 + 0.25 * facs_rng_uniform(s, 5 + c);
                double noise = 3.0 * (facs_rng_uniform(s, 8 + (uint64_t)(c * SIZE + y) * SIZE + x) - 0.5);
                img[(c * SIZE + y) * SIZE + x] = (float)(tint * v + noise);
            }
        }
    return label;
}

typedef struct {
    int correct;
    double loss_sum;
} batch_result;

/* Runs one batch of images [first, first + n) of the split; trains when sgd is given. */
static facs_status run_batch(facs_ctx *ctx, facs_tinynet *net, facs_sgd *sgd, uint64_t seed, uint64_t first, int n,
                             float *images, int *labels, batch_result *r)
{
    for (int i = 0; i < n; i++)
        labels[i] = make_image(seed, first + (uint64_t)i, images + (size_t)i * PIXELS);
    facs_ctx_begin_step(ctx);
    facs_ctx_set_mode(ctx, sgd != NULL, sgd != NULL);
    facs_tensor *x = facs_ctx_tensor(ctx, FACS_F32, n, 3, SIZE, SIZE);
    facs_tensor *t = facs_ctx_tensor(ctx, FACS_I32, n, 1, 1, 1);
    if (!x || !t)
        return FACS_ERR_MEMORY;
    FACS_TRY(facs_tensor_from_nchw(x, images, (size_t)n * PIXELS));
    FACS_TRY(facs_tensor_upload(t, labels, (size_t)n * sizeof *labels));
    facs_tensor *logits = facs_tinynet_forward(ctx, net, x);
    facs_tensor *loss = facs_softmax_cross_entropy(ctx, logits, t, -100);
    if (!loss)
        return FACS_ERR_ARG;
    float host_loss, host_logits[64 * CLASSES];
    FACS_TRY(facs_tensor_download(loss, &host_loss, sizeof host_loss));
    FACS_TRY(facs_tensor_download(logits, host_logits, (size_t)n * CLASSES * sizeof(float)));
    if (!isfinite(host_loss))
        return facs_fail(FACS_ERR_ARG, "the loss became %f: lower --lr", host_loss);
    r->loss_sum += (double)host_loss * n;
    for (int i = 0; i < n; i++) {
        int best = 0;
        for (int k = 1; k < CLASSES; k++)
            if (host_logits[i * CLASSES + k] > host_logits[i * CLASSES + best])
                best = k;
        r->correct += best == labels[i];
    }
    if (!sgd)
        return FACS_OK;
    FACS_TRY(facs_backward(ctx, loss, NULL));
    FACS_TRY(facs_sgd_step(sgd));
    return facs_sgd_zero_grad(sgd);
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static facs_status train(const demo_options *o)
{
    facs_ctx *ctx = facs_ctx_create(FACS_DEVICE_CPU);
    if (!ctx)
        return FACS_ERR_BACKEND;
    facs_tinynet net;
    facs_status s = facs_tinynet_init(&net, FACS_DEVICE_CPU, 3, o->width, CLASSES, &o->fusion, o->seed);
    if (s != FACS_OK) {
        facs_ctx_free(ctx);
        return s;
    }
    facs_sgd_options so = facs_sgd_defaults();
    so.momentum = 0.9;
    so.nesterov = 1;
    so.weight_decay = 1e-4;
    so.no_decay_exempt = 1;
    facs_sgd sgd;
    int steps_per_epoch = o->train_count / o->batch;
    facs_lr_schedule lr = facs_lr_schedule_defaults(FACS_LR_COSINE, o->lr, (int64_t)o->epochs * steps_per_epoch);
    float *images = malloc((size_t)o->batch * PIXELS * sizeof *images);
    int *labels = malloc((size_t)o->batch * sizeof *labels);
    s = images && labels ? facs_sgd_init(&sgd, &net.params, &so) : FACS_ERR_MEMORY;
    printf("tiny FACS network, width %d, %zu parameters; %d training and %d test images of 16x16, %d classes\n",
           o->width, facs_param_list_numel(&net.params, FACS_PARAM_TRAINABLE), o->train_count, o->test_count,
           CLASSES);
    printf("epoch  train_loss  train_acc  test_loss  test_acc  images/s\n");
    for (int epoch = 0; s == FACS_OK && epoch < o->epochs; epoch++) {
        batch_result tr = {0}, te = {0};
        double t0 = now_s();
        for (int b = 0; s == FACS_OK && b < steps_per_epoch; b++) {
            sgd.options.lr = facs_lr_at(&lr, sgd.steps);
            /* A fresh permutation per epoch would need the data in memory; drawing
             * the images at (epoch, index) gives new samples of the same classes. */
            uint64_t first = ((uint64_t)epoch * steps_per_epoch + b) * o->batch;
            s = run_batch(ctx, &net, &sgd, o->seed, first, o->batch, images, labels, &tr);
        }
        double rate = steps_per_epoch * o->batch / (now_s() - t0);
        for (int b = 0; s == FACS_OK && b * o->batch < o->test_count; b++)
            s = run_batch(ctx, &net, NULL, o->seed + 1, (uint64_t)b * o->batch, o->batch, images, labels, &te);
        int tested = (o->test_count / o->batch) * o->batch;
        if (s == FACS_OK)
            printf("%5d  %10.4f  %9.3f  %9.4f  %8.3f  %8.0f\n", epoch + 1, tr.loss_sum / (steps_per_epoch * o->batch),
                   (double)tr.correct / (steps_per_epoch * o->batch), te.loss_sum / tested,
                   (double)te.correct / tested, rate);
        fflush(stdout);
    }
    printf("peak activation memory: %.1f MiB\n", facs_ctx_peak_bytes(ctx) / 1048576.0);
    free(images);
    free(labels);
    facs_sgd_free(&sgd);
    facs_tinynet_free(&net);
    facs_ctx_free(ctx);
    return s;
}

static void usage(FILE *out)
{
    fprintf(out, "usage: facs-demo [options]\n"
                 "Trains a tiny FACS network on generated 16x16 images of 4 classes.\n"
                 "  --epochs N       training epochs (default 10)\n"
                 "  --batch N        batch size, at most 64 (default 32)\n"
                 "  --train N        training images per epoch (default 4096)\n"
                 "  --test N         test images (default 512)\n"
                 "  --width N        network width, a multiple of 4 (default 32)\n"
                 "  --lr X           base learning rate, cosine schedule (default 0.05)\n"
                 "  --fusion F       threshold or weighted (default threshold)\n"
                 "  --threshold T    T_cf of threshold fusion (default 0.5)\n"
                 "  --seed N         seed of data and weights (default 1)\n"
                 "  --help, --version\n");
}

/* One option's value, checked by train/cli_options.h or facs_fusion_parse. */
static facs_status parse_option(int c, const char *arg, demo_options *o)
{
    double real;
    int64_t seed;
    switch (c) {
    case 'e': return facs_cli_int("--epochs", arg, 1, 100000, &o->epochs);
    case 'b': return facs_cli_int("--batch", arg, 1, 64, &o->batch);
    case 'n': return facs_cli_int("--train", arg, 1, 1 << 24, &o->train_count);
    case 't': return facs_cli_int("--test", arg, 1, 1 << 24, &o->test_count);
    case 'w':
        FACS_TRY(facs_cli_int("--width", arg, 4, 4096, &o->width));
        return o->width % 4 ? facs_fail(FACS_ERR_ARG, "--width must be a multiple of 4, not '%s'", arg) : FACS_OK;
    case 'l':
        FACS_TRY(facs_cli_real("--lr", arg, 0, 100, &o->lr));
        return o->lr > 0 ? FACS_OK : facs_fail(FACS_ERR_ARG, "--lr must be above 0, not '%s'", arg);
    case 'T':
        FACS_TRY(facs_cli_real("--threshold", arg, 0, 1, &real));
        o->fusion.threshold = (float)real;
        return FACS_OK;
    case 's':
        FACS_TRY(facs_cli_int64("--seed", arg, 0, INT64_MAX, &seed));
        o->seed = (uint64_t)seed;
        return FACS_OK;
    case 'f':
        if (facs_fusion_parse(arg, &o->fusion.fusion) == FACS_OK)
            return FACS_OK;
        char why[256]; /* facs_fail writes the buffer that holds the message being wrapped */
        snprintf(why, sizeof why, "%s", facs_last_error());
        return facs_fail(FACS_ERR_ARG, "--fusion: %s", why);
    }
    return facs_fail(FACS_ERR_ARG, "unknown option");
}

int main(int argc, char **argv)
{
    facs_cli_program_name(argv);
    demo_options o = {.epochs = 10, .batch = 32, .train_count = 4096, .test_count = 512, .width = 32, .lr = 0.05,
                      .seed = 1, .fusion = {FACS_FUSION_THRESHOLD, 0.5f}};
    static const struct option longopts[] = {
        {"epochs", required_argument, 0, 'e'}, {"batch", required_argument, 0, 'b'},
        {"train", required_argument, 0, 'n'},  {"test", required_argument, 0, 't'},
        {"width", required_argument, 0, 'w'},  {"lr", required_argument, 0, 'l'},
        {"fusion", required_argument, 0, 'f'}, {"threshold", required_argument, 0, 'T'},
        {"seed", required_argument, 0, 's'},   {"help", no_argument, 0, 'h'},
        {"version", no_argument, 0, 'V'},      {0, 0, 0, 0}};
    int c;
    while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        switch (c) {
        case 'h': usage(stdout); return 0;
        case 'V': puts("facs-demo 0.1.0"); return 0;
        case '?': usage(stderr); return 2;
        default:
            if (parse_option(c, optarg, &o) != FACS_OK) {
                fprintf(stderr, "facs-demo: %s\n", facs_last_error());
                return 2;
            }
        }
    }
    if (optind < argc) {
        usage(stderr);
        return 2;
    }
    if (o.train_count < o.batch || o.test_count < o.batch) {
        fprintf(stderr, "facs-demo: --train (%d) and --test (%d) need at least one batch (%d) each\n",
                o.train_count, o.test_count, o.batch);
        return 2;
    }
    if (train(&o) != FACS_OK) {
        fprintf(stderr, "facs-demo: %s\n", facs_last_error());
        return 1;
    }
    return 0;
}
