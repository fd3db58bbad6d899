/* bench-conv: times the CPU conv2d (forward; backward = data + weights, no
 * bias, as in ResNet) on the ResNet-50 layer shapes and prints one JSON
 * document on stdout:
 *   {"library": "facs", "batch": 8, "threads": 2, "runs": 10,
 *    "shapes": [{"name": ..., "fwd_ms": ..., "bwd_ms": ..., "gflops_fwd": ..., "gflops_bwd": ...}, ...]}
 * Times are medians over --runs after --warmup calls; progress and the
 * oneDNN implementations go to stderr. bench/run_bench.sh conv compares
 * the result with bench/bench_conv_torch.py. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cpu/conv2d_impl.h"
#include "bench_util.h"

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

/* Times one layer; 0 on success, with the medians in ms. */
static int bench_layer(facs_ctx *ctx, const layer *l, const bench_options *o, double *fwd_ms, double *bwd_ms)
{
    facs_conv2d_params p = facs_conv2d_defaults();
    p.stride_h = p.stride_w = l->stride;
    p.pad_h = p.pad_w = l->k / 2;
    int out = (l->size + 2 * p.pad_h - l->k) / l->stride + 1;
    unsigned seed = 1;
    facs_tensor *x = bench_random_tensor(o->batch, l->ci, l->size, l->size, &seed);
    facs_tensor *w = bench_random_tensor(l->co, l->ci, l->k, l->k, &seed);
    facs_tensor *dy = bench_random_tensor(o->batch, l->co, out, out, &seed);
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
            double t0 = bench_now_ms();
            facs_status s = pass == 0 ? ctx->backend->conv2d_forward(ctx, &p, x, w, NULL, y)
                                      : ctx->backend->conv2d_backward(ctx, &p, x, w, dy, dx, dw, NULL);
            double t1 = bench_now_ms();
            if (s != FACS_OK) {
                fprintf(stderr, "bench-conv: %s: %s\n", l->name, facs_last_error());
                goto done;
            }
            if (i >= 0)
                (pass == 0 ? fwd : bwd)[i] = t1 - t0;
        }
    *fwd_ms = bench_median(fwd, o->runs);
    *bwd_ms = bench_median(bwd, o->runs);
    rc = 0;
done:
    facs_tensor_free(x), facs_tensor_free(w), facs_tensor_free(dy);
    facs_tensor_free(y), facs_tensor_free(dx), facs_tensor_free(dw);
    free(fwd), free(bwd);
    return rc;
}

int main(int argc, char **argv)
{
    bench_options o;
    int rc = bench_parse(argc, argv, "bench-conv", "Times FACS's CPU conv2d on ResNet-50 layer shapes; prints JSON on stdout.", &o);
    if (rc >= 0)
        return rc;
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
    json_t *shapes = json_array();
    for (int i = 0; i < COUNT; i++) {
        const layer *l = &layers[i];
        int out = (l->size + 2 * (l->k / 2) - l->k) / l->stride + 1;
        double gflop = 2.0 * o.batch * l->co * out * out * l->ci * l->k * l->k * 1e-9;
        json_array_append_new(shapes, json_pack("{s:s, s:o, s:o, s:o, s:o}", "name", l->name, "fwd_ms",
                                                bench_json_real(fwd[i], 3), "bwd_ms", bench_json_real(bwd[i], 3),
                                                "gflops_fwd", bench_json_real(gflop / (fwd[i] * 1e-3), 1),
                                                "gflops_bwd", bench_json_real(2.0 * gflop / (bwd[i] * 1e-3), 1)));
    }
    facs_ctx_free(ctx);
    return bench_json_print(json_pack("{s:s, s:i, s:i, s:i, s:o}", "library", "facs", "batch", o.batch, "threads",
                                      o.threads, "runs", o.runs, "shapes", shapes));
}
