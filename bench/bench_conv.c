/* bench-conv: times conv2d (forward; backward = data + weights, no bias, as
 * in ResNet) through the backend on the ResNet-50 layer shapes and prints
 * one JSON document on stdout:
 *   {"library": "facs", "device": "cpu", "batch": 8, "threads": 2, "runs": 10,
 *    "shapes": [{"name": ..., "fwd_ms": ..., "bwd_ms": ..., "gflops_fwd": ..., "gflops_bwd": ...,
 *                "impl": {"forward": ..., "backward_data": ..., "backward_weights": ...}}, ...]}
 * Times are medians over --runs samples after --warmup calls: on the CPU one
 * call a sample, on a GPU as many back-to-back calls as take about 25 ms and
 * one sync (bench_util.h). impl names what runs: oneDNN's implementations on
 * the CPU, cuDNN's algorithms on CUDA. bench/run_bench.sh conv compares the
 * result with bench/bench_conv_torch.py; bench/run_bench.sh gpu does the
 * same on a GPU. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "impl_names.h"
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

static const char ABOUT[] = "Times FACS's conv2d on ResNet-50 layer shapes; prints JSON on stdout.\n"
                            "  --device D      cpu (default), cuda or cuda:N\n"
                            "  --iters N       calls per timed sample (N calls, then a device sync; its time / N);\n"
                            "                  default 1 on the CPU, on a GPU as many as take about 25 ms";

typedef struct {
    facs_device_choice device;
    int iters;
} conv_bench;

static facs_status take_conv_option(void *user, const char *name, const char *v)
{
    conv_bench *c = user;
    if (!strcmp(name, "--device"))
        return facs_cli_device(v, &c->device);
    return bench_option_int(name, v, 1, 1 << 20, &c->iters);
}

typedef struct {
    facs_ctx *ctx;
    const facs_conv2d_params *p;
    facs_tensor *x, *w, *y, *dy, *dx, *dw;
    int backward;
} conv_call;

/* Each call is a step of its own: the arena's scratch starts empty. */
static facs_status call_conv(void *user)
{
    conv_call *c = user;
    facs_ctx_begin_step(c->ctx);
    const facs_backend *be = c->ctx->backend;
    return c->backward ? be->conv2d_backward(c->ctx, c->p, c->x, c->w, c->dy, c->dx, c->dw, NULL)
                       : be->conv2d_forward(c->ctx, c->p, c->x, c->w, NULL, c->y);
}

/* A layer that could not be timed: said on stderr and recorded in shapes
 * with the reason, so that the other layers' results still count. */
static int layer_failed(const layer *l, json_t *shapes)
{
    fprintf(stderr, "bench-conv: %s: %s\n", l->name, facs_last_error());
    json_array_append_new(shapes, json_pack("{s:s, s:s}", "name", l->name, "failed", facs_last_error()));
    return 1;
}

/* Times one layer and appends its entry to shapes; 0 on success. */
static int bench_layer(facs_ctx *ctx, const layer *l, const conv_bench *cb, const bench_options *o, json_t *shapes)
{
    facs_device dev = cb->device.device;
    facs_conv2d_params p = facs_conv2d_defaults();
    p.stride_h = p.stride_w = l->stride;
    p.pad_h = p.pad_w = l->k / 2;
    int out = (l->size + 2 * p.pad_h - l->k) / l->stride + 1;
    unsigned seed = 1;
    conv_call c = {
        .ctx = ctx,
        .p = &p,
        .x = bench_random_tensor_on(dev, o->batch, l->ci, l->size, l->size, &seed),
        .w = bench_random_tensor_on(dev, l->co, l->ci, l->k, l->k, &seed),
        .dy = bench_random_tensor_on(dev, o->batch, l->co, out, out, &seed),
        .y = facs_tensor_create(dev, FACS_F32, o->batch, l->co, out, out),
        .dx = facs_tensor_create(dev, FACS_F32, o->batch, l->ci, l->size, l->size),
        .dw = facs_tensor_create(dev, FACS_F32, l->co, l->ci, l->k, l->k),
    };
    int rc = 1;
    facs_conv2d_impl impl;
    bench_timing t[2] = {{-1, 1}, {-1, 1}};
    if (!c.x || !c.w || !c.dy || !c.y || !c.dx || !c.dw ||
        facs_conv2d_impl_names(dev, &p, c.x, c.w, 0, &impl) != FACS_OK) {
        rc = layer_failed(l, shapes);
        goto done;
    }
    fprintf(stderr, "%-20s forward %s; backward-data %s; backward-weights %s\n", l->name, impl.forward,
            impl.backward_data, impl.backward_weights);
    /* Forward and backward are timed in separate loops, as the PyTorch twin
     * does, so each finds the caches as its own previous call left them. */
    for (c.backward = 0; c.backward < 2; c.backward++) {
        t[c.backward] = bench_time_calls(call_conv, &c, dev, cb->iters, o);
        if (t[c.backward].ms < 0) {
            rc = layer_failed(l, shapes);
            goto done;
        }
    }
    double gflop = 2.0 * o->batch * l->co * out * out * l->ci * l->k * l->k * 1e-9;
    json_array_append_new(
        shapes, json_pack("{s:s, s:o, s:o, s:o, s:o, s:{s:s, s:s, s:s}, s:{s:i, s:i}}", "name", l->name, "fwd_ms",
                          bench_json_real(t[0].ms, 3), "bwd_ms", bench_json_real(t[1].ms, 3), "gflops_fwd",
                          bench_json_real(gflop / (t[0].ms * 1e-3), 1), "gflops_bwd",
                          bench_json_real(2.0 * gflop / (t[1].ms * 1e-3), 1), "impl", "forward", impl.forward,
                          "backward_data", impl.backward_data, "backward_weights", impl.backward_weights,
                          "calls_per_sample", "fwd", t[0].calls, "bwd", t[1].calls));
    rc = 0;
done:
    facs_tensor_free(c.x), facs_tensor_free(c.w), facs_tensor_free(c.dy);
    facs_tensor_free(c.y), facs_tensor_free(c.dx), facs_tensor_free(c.dw);
    return rc;
}

int main(int argc, char **argv)
{
    static const bench_option own[] = {{"--device", 1}, {"--iters", 1}, {NULL, 0}};
    conv_bench cb = {.device = {.device = FACS_DEVICE_CPU}};
    bench_options o;
    int rc = bench_take_options(&argc, argv, "bench-conv", own, take_conv_option, &cb);
    if (rc < 0)
        rc = bench_parse(argc, argv, "bench-conv", ABOUT, &o);
    if (rc >= 0)
        return rc;
    if (cb.device.device == FACS_DEVICE_CPU && !cb.iters)
        cb.iters = 1; /* one call per sample, as this benchmark always timed the CPU */
    if (bench_device_select("bench-conv", &cb.device))
        return 1;
    facs_ctx *ctx = facs_ctx_create(cb.device.device);
    if (!ctx) {
        fprintf(stderr, "bench-conv: %s\n", facs_last_error());
        return 1;
    }
    json_t *shapes = json_array();
    rc = 0;
    for (size_t i = 0; i < sizeof layers / sizeof layers[0]; i++)
        rc |= bench_layer(ctx, &layers[i], &cb, &o, shapes);
    facs_ctx_free(ctx);
    char device[32];
    int printed = bench_json_print(json_pack("{s:s, s:s, s:i, s:i, s:i, s:o}", "library", "facs", "device",
                                             facs_cli_device_str(&cb.device, device, sizeof device), "batch",
                                             o.batch, "threads", o.threads, "runs", o.runs, "shapes", shapes));
    return rc ? rc : printed;
}
