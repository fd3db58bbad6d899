/* bench-conv: times the CPU conv2d (forward; backward = data + weights, no
 * bias, as in ResNet) on the ResNet-50 layer shapes and prints one JSON
 * document on stdout:
 *   {"library": "facs", "batch": 8, "threads": 2, "runs": 10,
 *    "shapes": [{"name": ..., "fwd_ms": ..., "bwd_ms": ..., "gflops_fwd": ..., "gflops_bwd": ...}, ...]}
 * Times are medians over --runs after --warmup calls; progress and the
 * oneDNN implementations go to stderr. bench/run_conv_bench.sh compares
 * the result with bench/bench_conv_torch.py. */
#include <getopt.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cpu/conv2d_impl.h"
#include "ops.h"

typedef struct {
    const char *name;
    int ci, size, co, k, stride;
} layer;

static const layer layers[] = {
    {"7x7/2 3->64 @224", 3, 224, 64, 7, 2},     {"1x1 64->64 @56", 64, 56, 64, 1, 1},
    {"3x3 64->64 @56", 64, 56, 64, 3, 1},       {"1x1 64->256 @56", 64, 56, 256, 1, 1},
    {"1x1 256->64 @56", 256, 56, 64, 1, 1},     {"3x3/2 128 @56->28", 128, 56, 128, 3, 2},
    {"1x1 512->128 @28", 512, 28, 128, 1, 1},   {"3x3 256->256 @14", 256, 14, 256, 3, 1},
    {"1x1 1024->256 @14", 1024, 14, 256, 1, 1}, {"3x3 512->512 @7", 512, 7, 512, 3, 1},
    {"1x1 2048->512 @7", 2048, 7, 512, 1, 1},
};

typedef struct {
    int batch, runs, warmup, threads;
} options;

static double now_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1e3 + t.tv_nsec * 1e-6;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

static facs_tensor *random_tensor(int n, int c, int h, int w, unsigned *seed)
{
    facs_tensor *t = facs_tensor_create(FACS_DEVICE_CPU, FACS_F32, n, c, h, w);
    for (size_t i = 0; t && i < facs_tensor_numel(t); i++)
        facs_f32(t)[i] = (float)rand_r(seed) / RAND_MAX * 2.0f - 1.0f;
    return t;
}

/* Times one layer; 0 on success, with the medians in ms. */
static int bench_layer(facs_ctx *ctx, const layer *l, const options *o, double *fwd_ms, double *bwd_ms)
{
    facs_conv2d_params p = facs_conv2d_defaults();
    p.stride_h = p.stride_w = l->stride;
    p.pad_h = p.pad_w = l->k / 2;
    int out = (l->size + 2 * p.pad_h - l->k) / l->stride + 1;
    unsigned seed = 1;
    facs_tensor *x = random_tensor(o->batch, l->ci, l->size, l->size, &seed);
    facs_tensor *w = random_tensor(l->co, l->ci, l->k, l->k, &seed);
    facs_tensor *dy = random_tensor(o->batch, l->co, out, out, &seed);
    facs_tensor *y = facs_tensor_create(FACS_DEVICE_CPU, FACS_F32, o->batch, l->co, out, out);
    facs_tensor *dx = facs_tensor_create(FACS_DEVICE_CPU, FACS_F32, o->batch, l->ci, l->size, l->size);
    facs_tensor *dw = facs_tensor_create(FACS_DEVICE_CPU, FACS_F32, l->co, l->ci, l->k, l->k);
    double *fwd = malloc((size_t)o->runs * sizeof *fwd), *bwd = malloc((size_t)o->runs * sizeof *bwd);
    int rc = 1;
    if (!x || !w || !dy || !y || !dx || !dw || !fwd || !bwd) {
        fprintf(stderr, "bench-conv: %s: out of memory\n", l->name);
        goto done;
    }
    facs_conv2d_impl impl;
    if (facs_cpu_conv2d_impl_names(&p, x, w, 0, &impl) == FACS_OK)
        fprintf(stderr, "%-20s forward %s, backward-data %s, backward-weights %s\n", l->name, impl.forward,
                impl.backward_data, impl.backward_weights);
    /* Forward and backward are timed in separate loops, as the PyTorch twin
     * does, so each finds the caches as its own previous call left them. */
    for (int pass = 0; pass < 2; pass++)
        for (int i = -o->warmup; i < o->runs; i++) {
            /* Each call is a step of its own: the arena's scratch starts empty. */
            facs_ctx_begin_step(ctx);
            double t0 = now_ms();
            facs_status s = pass == 0 ? ctx->backend->conv2d_forward(ctx, &p, x, w, NULL, y)
                                      : ctx->backend->conv2d_backward(ctx, &p, x, w, dy, dx, dw, NULL);
            double t1 = now_ms();
            if (s != FACS_OK) {
                fprintf(stderr, "bench-conv: %s: %s\n", l->name, facs_last_error());
                goto done;
            }
            if (i >= 0)
                (pass == 0 ? fwd : bwd)[i] = t1 - t0;
        }
    *fwd_ms = median(fwd, o->runs);
    *bwd_ms = median(bwd, o->runs);
    rc = 0;
done:
    facs_tensor_free(x), facs_tensor_free(w), facs_tensor_free(dy);
    facs_tensor_free(y), facs_tensor_free(dx), facs_tensor_free(dw);
    free(fwd), free(bwd);
    return rc;
}

static void usage(FILE *f)
{
    fprintf(f, "usage: bench-conv [--batch N] [--runs N] [--warmup N] [--threads N]\n"
               "Times FACS's CPU conv2d on ResNet-50 layer shapes; prints JSON on stdout.\n"
               "  --batch N    batch size (default 8)\n"
               "  --runs N     timed runs per shape; the median is reported (default 10)\n"
               "  --warmup N   untimed runs first (default 3)\n"
               "  --threads N  OpenMP threads (default OMP_NUM_THREADS, else 2)\n");
}

static int parse_int(const char *arg, const char *name, int min, int *out)
{
    char *end;
    long v = strtol(arg, &end, 10);
    if (!*arg || *end || v < min || v > 1 << 20) {
        fprintf(stderr, "bench-conv: --%s wants an integer >= %d, got '%s'\n", name, min, arg);
        return 0;
    }
    *out = (int)v;
    return 1;
}

int main(int argc, char **argv)
{
    const char *env = getenv("OMP_NUM_THREADS");
    options o = {.batch = 8, .runs = 10, .warmup = 3, .threads = env && atoi(env) > 0 ? atoi(env) : 2};
    static const struct option longopts[] = {{"batch", required_argument, NULL, 'b'},
                                              {"runs", required_argument, NULL, 'r'},
                                              {"warmup", required_argument, NULL, 'w'},
                                              {"threads", required_argument, NULL, 't'},
                                              {"help", no_argument, NULL, 'h'},
                                              {"version", no_argument, NULL, 'V'},
                                              {NULL, 0, NULL, 0}};
    int c, ok = 1;
    while (ok && (c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        switch (c) {
        case 'b':
            ok = parse_int(optarg, "batch", 1, &o.batch);
            break;
        case 'r':
            ok = parse_int(optarg, "runs", 1, &o.runs);
            break;
        case 'w':
            ok = parse_int(optarg, "warmup", 0, &o.warmup);
            break;
        case 't':
            ok = parse_int(optarg, "threads", 1, &o.threads);
            break;
        case 'h':
            usage(stdout);
            return 0;
        case 'V':
            printf("bench-conv (facs) 0.1.0\n");
            return 0;
        default:
            usage(stderr);
            return 2;
        }
    }
    if (!ok)
        return 2;
    if (optind < argc) {
        fprintf(stderr, "bench-conv: unexpected argument '%s'\n", argv[optind]);
        usage(stderr);
        return 2;
    }
    omp_set_num_threads(o.threads);
    facs_ctx *ctx = facs_ctx_create(FACS_DEVICE_CPU);
    if (!ctx) {
        fprintf(stderr, "bench-conv: %s\n", facs_last_error());
        return 1;
    }
    enum { COUNT = sizeof layers / sizeof layers[0] };
    double fwd[COUNT], bwd[COUNT];
    for (int i = 0; i < COUNT; i++)
        if (bench_layer(ctx, &layers[i], &o, &fwd[i], &bwd[i])) {
            facs_ctx_free(ctx);
            return 1;
        }
    printf("{\"library\": \"facs\", \"batch\": %d, \"threads\": %d, \"runs\": %d, \"shapes\": [", o.batch,
           o.threads, o.runs);
    for (int i = 0; i < COUNT; i++) {
        const layer *l = &layers[i];
        int out = (l->size + 2 * (l->k / 2) - l->k) / l->stride + 1;
        double gflop = 2.0 * o.batch * l->co * out * out * l->ci * l->k * l->k * 1e-9;
        printf("%s\n  {\"name\": \"%s\", \"fwd_ms\": %.3f, \"bwd_ms\": %.3f, \"gflops_fwd\": %.1f, "
               "\"gflops_bwd\": %.1f}",
               i ? "," : "", l->name, fwd[i], bwd[i], gflop / (fwd[i] * 1e-3), 2.0 * gflop / (bwd[i] * 1e-3));
    }
    printf("\n]}\n");
    facs_ctx_free(ctx);
    return 0;
}
