/* bench-facs: the FACS op against the 1x1 squeeze convolution it replaces, on
 * the squeeze layers of ResNet-50 (first block of each stage and the others),
 * forward and backward (dx and dW, as in training), on the CPU or a GPU
 * (--device). Prints
 *   {"library": "facs", "device": "cpu", ..., "shapes": [{"name": ..., "facs_fwd_ms": ...,
 *    "facs_bwd_ms": ..., "conv_fwd_ms": ..., "conv_bwd_ms": ...}, ...]}
 * bench/run_bench.sh facs compares it with bench/bench_facs_torch.py.
 *
 * With --floor (CPU), each shape also gets the FACS op's memory floor on
 * this machine: floor_fwd_ms and floor_bwd_ms, a plain loop on the same
 * threads that moves the bytes the op must move and does little else
 * (forward: x read, y written; backward: x and dy read, dx written), timed
 * like the ops. An option, as the PyTorch twin has no such entry to pair.
 *
 * On a GPU the FACS op is memory-bound, so each shape also gets its
 * bandwidth: the bytes the op cannot avoid moving (forward: x read once, y
 * written, w read, z and prob written; backward: x, dy, w, z and prob read,
 * dx written, dw read and written as it accumulates), over its time, as a
 * fraction of two ceilings: the card's datasheet peak (--peak-gbs, 4800 GB/s
 * for an H200's HBM3e) and the bandwidth of a device-to-device copy of a
 * --copy-mib buffer through the backend's copy entry (cudaMemcpy), counted
 * as read + write, what a streaming kernel can reach. Kernels run
 * asynchronously: a timed sample is `calls` back-to-back calls and one sync
 * (bench_util.h), the median of --runs samples reported. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench_util.h"
#include "impl_names.h"

typedef struct {
    const char *name;
    int ci, co, size;
} layer;

static const layer layers[] = {
    {"64->64 @56 (R=1)", 64, 64, 56},      {"256->64 @56 (R=4)", 256, 64, 56},
    {"256->128 @56 (R=2)", 256, 128, 56},  {"512->128 @28 (R=4)", 512, 128, 28},
    {"1024->256 @14 (R=4)", 1024, 256, 14}, {"2048->512 @7 (R=4)", 2048, 512, 7},
};

/* H200 SXM, HBM3e: NVIDIA's datasheet figure. */
#define DEFAULT_PEAK_GBS 4800.0
#define DEFAULT_COPY_MIB 1024

typedef struct {
    facs_device_choice device;
    double peak_gbs;
    int copy_mib;
    int iters; /* calls per timed sample; 0: chosen after the warm-up */
    int floor; /* --floor: time the memory floors too (CPU) */
} facs_bench;

typedef enum { FACS_OP, CONV_OP, FLOOR_OP } which_op;

/* The fusion every shape runs (paper Eq. 2, T = 0.5). */
static const facs_fuse_params kFusion = {FACS_FUSION_THRESHOLD, 0.5f};

typedef struct {
    facs_tensor *x, *w, *y, *z, *prob, *dy, *dx, *dw;
} buffers;

static const char ABOUT[] =
    "Times the FACS op vs the 1x1 squeeze conv on ResNet-50 shapes; prints JSON on stdout.\n"
    "  --device D      cpu (default), cuda or cuda:N\n"
    "  --iters N       calls per timed sample (N calls, then a device sync; its time / N); default 1 on the CPU,\n"
    "                  on a GPU as many as take about 25 ms after the warm-up\n"
    "  --floor         CPU: also time each shape's memory floor (floor_fwd_ms, floor_bwd_ms: a loop that only\n"
    "                  moves the op's bytes: x read and y written; x and dy read and dx written)\n"
    "GPU only (the bandwidth of the FACS op):\n"
    "  --peak-gbs G    the card's peak memory bandwidth, GB/s (default 4800: H200 HBM3e, datasheet)\n"
    "  --copy-mib M    size of the device-to-device copy that measures the achievable bandwidth (default 1024)";

static facs_status take_facs_option(void *user, const char *name, const char *v)
{
    facs_bench *f = user;
    if (!strcmp(name, "--device"))
        return facs_cli_device(v, &f->device);
    if (!strcmp(name, "--peak-gbs"))
        return bench_option_real(name, v, 1e-3, 1e6, &f->peak_gbs);
    if (!strcmp(name, "--copy-mib"))
        return bench_option_int(name, v, 1, 1 << 16, &f->copy_mib);
    if (!strcmp(name, "--floor")) {
        f->floor = 1;
        return FACS_OK;
    }
    return bench_option_int(name, v, 1, 1 << 20, &f->iters);
}

/* The memory floor (--floor): x of every pixel read and the pixel's outputs
 * written from a row sum (dy's in backward), which vectorises and leaves the
 * loop bound by memory. */
static facs_status cpu_floor(int backward, const buffers *b)
{
    const float *x = facs_f32(b->x), *in2 = backward ? facs_f32(b->dy) : x;
    float *out = facs_f32(backward ? b->dx : b->y);
    const int c = b->x->c, c2 = backward ? b->dy->c : 0, cout = backward ? c : b->y->c;
    const ptrdiff_t pixels = (ptrdiff_t)b->x->n * b->x->h * b->x->w;
#pragma omp parallel for schedule(static)
    for (ptrdiff_t q = 0; q < pixels; q++) {
        float s = 0.0f;
#pragma omp simd reduction(+ : s)
        for (int k = 0; k < c2; k++)
            s += in2[q * c2 + k];
        if (backward) {
#pragma omp simd
            for (int ch = 0; ch < c; ch++)
                out[q * c + ch] = x[q * c + ch] + s;
        } else {
#pragma omp simd reduction(+ : s)
            for (int ch = 0; ch < c; ch++)
                s += x[q * c + ch];
            for (int i = 0; i < cout; i++)
                out[q * cout + i] = s;
        }
    }
    return FACS_OK;
}

static facs_status run(facs_ctx *ctx, which_op op, int backward, buffers *b)
{
    if (op == FLOOR_OP)
        return cpu_floor(backward, b);
    facs_conv2d_params conv = facs_conv2d_defaults();
    const facs_backend *be = ctx->backend;
    if (op == FACS_OP)
        return backward ? be->facs_backward(ctx, &kFusion, b->x, b->w, b->z, b->prob, b->dy, b->dx, b->dw, NULL)
                        : be->facs_forward(ctx, &kFusion, b->x, b->w, NULL, b->y, b->z, b->prob);
    return backward ? be->conv2d_backward(ctx, &conv, b->x, b->w, b->dy, b->dx, b->dw, NULL)
                    : be->conv2d_forward(ctx, &conv, b->x, b->w, NULL, b->y);
}

typedef struct {
    facs_ctx *ctx;
    which_op op;
    int backward;
    buffers *b;
} op_call;

/* Each call starts a step, so the op's scratch is reused rather than piled up. */
static facs_status call_op(void *user)
{
    op_call *c = user;
    facs_ctx_begin_step(c->ctx);
    return run(c->ctx, c->op, c->backward, c->b);
}

typedef struct {
    const facs_backend *be;
    void *dst, *src;
    size_t bytes;
} copy_call;

static facs_status call_copy(void *user)
{
    copy_call *c = user;
    return c->be->copy(c->dst, c->src, c->bytes);
}

/* The device-to-device copy of --copy-mib: its median ms per copy. */
static bench_timing time_copy(const facs_backend *be, const facs_bench *f, const bench_options *o)
{
    bench_timing r = {-1.0, 1};
    copy_call c = {be, NULL, NULL, (size_t)f->copy_mib << 20};
    c.dst = be->alloc(c.bytes);
    c.src = be->alloc(c.bytes);
    /* Written once first, so no page is mapped during the timing. */
    if (c.dst && c.src && be->fill_zero(c.dst, c.bytes) == FACS_OK && be->fill_zero(c.src, c.bytes) == FACS_OK)
        r = bench_time_calls(call_copy, &c, f->device.device, f->iters, o);
    be->free(c.dst);
    be->free(c.src);
    return r;
}

/* The bytes the op must move at least (see the header), per direction. */
static double facs_bytes(const buffers *b, int backward)
{
    double x_b = facs_tensor_bytes(b->x), y_b = facs_tensor_bytes(b->y), w_b = facs_tensor_bytes(b->w);
    double zp_b = facs_tensor_bytes(b->z) + facs_tensor_bytes(b->prob);
    return backward ? 2 * x_b + y_b + 3 * w_b + zp_b : x_b + y_b + w_b + zp_b;
}

/* An output buffer: random on the CPU, as this benchmark always filled them;
 * zeros made on a GPU, as their values do not matter and drawing them on the
 * host at a GPU's batch takes seconds. */
static facs_tensor *output_tensor(facs_device device, int n, int c, int h, int w, unsigned *seed)
{
    if (device == FACS_DEVICE_CPU)
        return bench_random_tensor(n, c, h, w, seed);
    return facs_tensor_create(device, FACS_F32, n, c, h, w);
}

/* The bandwidth entries of a GPU shape: bytes, GB/s and the two fractions. */
static void add_bandwidth(json_t *shape, const char *dir, double bytes, double ms, const facs_bench *f,
                          double copy_gbs)
{
    char key[64];
    double gbs = bytes / (ms * 1e6);
    snprintf(key, sizeof key, "facs_%s_mb", dir);
    json_object_set_new(shape, key, bench_json_real(bytes / 1e6, 3));
    snprintf(key, sizeof key, "facs_%s_gbs", dir);
    json_object_set_new(shape, key, bench_json_real(gbs, 1));
    snprintf(key, sizeof key, "facs_%s_of_peak", dir);
    json_object_set_new(shape, key, bench_json_real(gbs / f->peak_gbs, 3));
    snprintf(key, sizeof key, "facs_%s_of_copy", dir);
    json_object_set_new(shape, key, bench_json_real(gbs / copy_gbs, 3));
}

/* Times one layer's four (op, direction) pairs and appends its entry; 0 on success. */
static int bench_layer(facs_ctx *ctx, const layer *l, const facs_bench *f, const bench_options *o, double copy_gbs,
                       json_t *shapes)
{
    facs_device dev = f->device.device;
    unsigned seed = 1;
    buffers b = {
        .x = bench_random_tensor_on(dev, o->batch, l->ci, l->size, l->size, &seed),
        .w = bench_random_tensor_on(dev, l->co, l->ci, 1, 1, &seed),
        .y = output_tensor(dev, o->batch, l->co, l->size, l->size, &seed),
        .z = bench_random_tensor_on(dev, o->batch, l->ci, 1, 1, &seed),
        .prob = bench_random_tensor_on(dev, o->batch, l->co, 1, 1, &seed),
        .dy = bench_random_tensor_on(dev, o->batch, l->co, l->size, l->size, &seed),
        .dx = output_tensor(dev, o->batch, l->ci, l->size, l->size, &seed),
        .dw = output_tensor(dev, l->co, l->ci, 1, 1, &seed),
    };
    /* FACS, conv, then on the CPU the floor; forward, backward each. */
    bench_timing t[6] = {{-1, 1}, {-1, 1}, {-1, 1}, {-1, 1}, {0, 1}, {0, 1}};
    int floor = f->floor && dev == FACS_DEVICE_CPU, timed = floor ? 6 : 4;
    if (b.x && b.w && b.y && b.z && b.prob && b.dy && b.dx && b.dw)
        for (int k = 0; k < timed; k++) {
            op_call c = {ctx, k < 2 ? FACS_OP : k < 4 ? CONV_OP : FLOOR_OP, k % 2, &b};
            t[k] = bench_time_calls(call_op, &c, f->device.device, f->iters, o);
        }
    int rc = 0;
    if (t[0].ms < 0 || t[1].ms < 0 || t[2].ms < 0 || t[3].ms < 0 || t[4].ms < 0 || t[5].ms < 0) {
        fprintf(stderr, "bench-facs: %s: %s\n", l->name, facs_last_error());
        rc = 1;
    } else {
        fprintf(stderr, "%-22s FACS %.3f + %.3f ms, 1x1 conv %.3f + %.3f ms\n", l->name, t[0].ms, t[1].ms, t[2].ms,
                t[3].ms);
        json_t *shape = json_pack("{s:s, s:o, s:o, s:o, s:o}", "name", l->name, "facs_fwd_ms",
                                  bench_json_real(t[0].ms, 3), "facs_bwd_ms", bench_json_real(t[1].ms, 3),
                                  "conv_fwd_ms", bench_json_real(t[2].ms, 3), "conv_bwd_ms",
                                  bench_json_real(t[3].ms, 3));
        if (floor) {
            fprintf(stderr, "%-22s memory floor %.3f + %.3f ms\n", "", t[4].ms, t[5].ms);
            json_object_set_new(shape, "floor_fwd_ms", bench_json_real(t[4].ms, 3));
            json_object_set_new(shape, "floor_bwd_ms", bench_json_real(t[5].ms, 3));
        }
        if (dev != FACS_DEVICE_CPU) {
            /* The op timings above round to 1 us: the ratios come from the unrounded times. */
            json_object_set_new(shape, "facs_over_conv_fwd", bench_json_real(t[0].ms / t[2].ms, 3));
            json_object_set_new(shape, "facs_over_conv_bwd", bench_json_real(t[1].ms / t[3].ms, 3));
            char kernels[256];
            for (int backward = 0; backward < 2; backward++) {
                facs_facs_kernel_names(dev, o->batch, l->size * l->size, l->ci, l->co, &kFusion, backward, kernels,
                                       sizeof kernels);
                fprintf(stderr, "%-22s %s: %s\n", "", backward ? "backward" : "forward", kernels);
                json_object_set_new(shape, backward ? "facs_bwd_kernels" : "facs_fwd_kernels", json_string(kernels));
            }
            add_bandwidth(shape, "fwd", facs_bytes(&b, 0), t[0].ms, f, copy_gbs);
            add_bandwidth(shape, "bwd", facs_bytes(&b, 1), t[1].ms, f, copy_gbs);
            json_object_set_new(shape, "calls_per_sample",
                                json_pack("{s:i, s:i, s:i, s:i}", "facs_fwd", t[0].calls, "facs_bwd", t[1].calls,
                                          "conv_fwd", t[2].calls, "conv_bwd", t[3].calls));
        }
        json_array_append_new(shapes, shape);
    }
    facs_tensor *all[] = {b.x, b.w, b.y, b.z, b.prob, b.dy, b.dx, b.dw};
    for (size_t k = 0; k < sizeof all / sizeof all[0]; k++)
        facs_tensor_free(all[k]);
    return rc;
}

/* The GPU document's bandwidth ceilings: the datasheet peak and the measured copy. */
static void add_ceilings(json_t *doc, const facs_bench *f, bench_timing copy, double copy_gbs)
{
    json_object_set_new(doc, "peak_gbs", bench_json_real(f->peak_gbs, 1));
    json_object_set_new(doc, "peak_source",
                        json_string(f->peak_gbs == DEFAULT_PEAK_GBS
                                        ? "datasheet: NVIDIA H200 HBM3e, 4.8 TB/s (the default of --peak-gbs)"
                                        : "given by --peak-gbs"));
    json_object_set_new(doc, "copy", json_pack("{s:i, s:o, s:o, s:i, s:s}", "mib", f->copy_mib, "ms",
                                               bench_json_real(copy.ms, 3), "gbs", bench_json_real(copy_gbs, 1),
                                               "calls_per_sample", copy.calls, "counted",
                                               "device-to-device copy through the backend's copy entry "
                                               "(cudaMemcpy); bytes read + bytes written = 2 x size"));
    json_object_set_new(doc, "bytes_counted",
                        json_string("what the op must move at least: forward x read + y written + w read + z and "
                                    "prob written; backward x + dy + w + z + prob read, dx written, dw read and "
                                    "written (accumulated); MB and GB are 1e6 and 1e9 bytes"));
    const char *kernels = getenv("FACS_CUDA_FACS_KERNELS");
    json_object_set_new(doc, "facs_kernels",
                        json_string(kernels && !strcmp(kernels, "classic")
                                        ? "classic (kernels/cuda/facs.cu; FACS_CUDA_FACS_KERNELS=classic)"
                                        : "resident (kernels/cuda/facs_resident.cu) where an image fits a "
                                          "cluster's shared memory, else classic"));
    const char *images = getenv("FACS_CUDA_RESIDENT_IMAGES");
    json_object_set_new(doc, "resident_images",
                        images ? json_string(images) : json_string("the plan's (FACS_CUDA_RESIDENT_IMAGES unset)"));
    json_object_set_new(doc, "cache_note",
                        json_string("back-to-back calls on the same tensors: a shape whose bytes fit the L2 cache "
                                    "(tens of MB on an H100/H200) can show more than the memory bandwidth"));
}

int main(int argc, char **argv)
{
    static const bench_option own[] = {{"--device", 1}, {"--peak-gbs", 1}, {"--copy-mib", 1},
                                       {"--iters", 1},  {"--floor", 0},    {NULL, 0}};
    facs_bench f = {.device = {.device = FACS_DEVICE_CPU}, .peak_gbs = DEFAULT_PEAK_GBS, .copy_mib = DEFAULT_COPY_MIB};
    bench_options o;
    int rc = bench_take_options(&argc, argv, "bench-facs", own, take_facs_option, &f);
    if (rc < 0)
        rc = bench_parse(argc, argv, "bench-facs", ABOUT, &o);
    if (rc >= 0)
        return rc;
    if (f.device.device == FACS_DEVICE_CPU && !f.iters)
        f.iters = 1; /* one call per sample, as this benchmark always timed the CPU */
    if (bench_device_select("bench-facs", &f.device))
        return 1;
    facs_ctx *ctx = facs_ctx_create(f.device.device);
    if (!ctx) {
        fprintf(stderr, "bench-facs: %s\n", facs_last_error());
        return 1;
    }
    int gpu = f.device.device != FACS_DEVICE_CPU;
    bench_timing copy = {-1.0, 1};
    double copy_gbs = 0;
    rc = 0;
    if (gpu) {
        copy = time_copy(ctx->backend, &f, &o);
        if (copy.ms < 0) {
            fprintf(stderr, "bench-facs: the %d MiB device copy: %s\n", f.copy_mib, facs_last_error());
            rc = 1;
        } else {
            copy_gbs = 2.0 * ((size_t)f.copy_mib << 20) / (copy.ms * 1e6);
            fprintf(stderr, "device copy of %d MiB: %.3f ms, %.1f GB/s (read + write); datasheet peak %.1f GB/s\n",
                    f.copy_mib, copy.ms, copy_gbs, f.peak_gbs);
        }
    }
    json_t *shapes = json_array();
    for (size_t i = 0; rc == 0 && i < sizeof layers / sizeof layers[0]; i++)
        rc = bench_layer(ctx, &layers[i], &f, &o, copy_gbs, shapes);
    facs_ctx_free(ctx);
    char device[32];
    json_t *doc = json_pack("{s:s, s:s, s:i, s:i, s:i, s:o}", "library", "facs", "device",
                            facs_cli_device_str(&f.device, device, sizeof device), "batch", o.batch, "threads",
                            o.threads, "runs", o.runs, "shapes", shapes);
    if (gpu && doc)
        add_ceilings(doc, &f, copy, copy_gbs);
    int out = bench_json_print(doc);
    return rc ? rc : out;
}
