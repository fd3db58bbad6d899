/* bench-facs: the FACS op against the 1x1 squeeze convolution it replaces, on
 * the squeeze layers of ResNet-50 (first block of each stage and the others),
 * forward and backward (dx and dW, as in training), on the CPU. Prints
 *   {"library": "facs", ..., "shapes": [{"name": ..., "facs_fwd_ms": ...,
 *    "facs_bwd_ms": ..., "conv_fwd_ms": ..., "conv_bwd_ms": ...}, ...]}
 * bench/run_bench.sh facs compares it with bench/bench_facs_torch.py. */
#include <stdio.h>
#include <stdlib.h>

#include "bench_util.h"

typedef struct {
    const char *name;
    int ci, co, size;
} layer;

static const layer layers[] = {
    {"64->64 @56 (R=1)", 64, 64, 56},      {"256->64 @56 (R=4)", 256, 64, 56},
    {"256->128 @56 (R=2)", 256, 128, 56},  {"512->128 @28 (R=4)", 512, 128, 28},
    {"1024->256 @14 (R=4)", 1024, 256, 14}, {"2048->512 @7 (R=4)", 2048, 512, 7},
};

typedef enum { FACS_OP, CONV_OP } which_op;

typedef struct {
    facs_tensor *x, *w, *y, *prob, *dy, *dx, *dw;
} buffers;

static facs_status run(facs_ctx *ctx, which_op op, int backward, buffers *b)
{
    static const facs_fuse_params fusion = {FACS_FUSION_THRESHOLD, 0.5f};
    facs_conv2d_params conv = facs_conv2d_defaults();
    const facs_backend *be = ctx->backend;
    if (op == FACS_OP)
        return backward ? be->facs_backward(ctx, &fusion, b->x, b->w, b->prob, b->dy, b->dx, b->dw, NULL)
                        : be->facs_forward(ctx, &fusion, b->x, b->w, NULL, b->y, b->prob);
    return backward ? be->conv2d_backward(ctx, &conv, b->x, b->w, b->dy, b->dx, b->dw, NULL)
                    : be->conv2d_forward(ctx, &conv, b->x, b->w, NULL, b->y);
}

/* Median ms of one (op, direction); < 0 on failure. */
static double time_op(facs_ctx *ctx, which_op op, int backward, buffers *b, const bench_options *o)
{
    double *t = malloc((size_t)o->runs * sizeof *t), result = -1.0;
    if (!t)
        return -1.0;
    for (int i = -o->warmup; i < o->runs; i++) {
        facs_ctx_begin_step(ctx);
        double t0 = bench_now_ms();
        if (run(ctx, op, backward, b) != FACS_OK)
            goto done;
        if (i >= 0)
            t[i] = bench_now_ms() - t0;
    }
    result = bench_median(t, o->runs);
done:
    free(t);
    return result;
}

int main(int argc, char **argv)
{
    bench_options o;
    int rc = bench_parse(argc, argv, "bench-facs",
                         "Times the FACS op vs the 1x1 squeeze conv on ResNet-50 shapes; prints JSON on stdout.", &o);
    if (rc >= 0)
        return rc;
    facs_ctx *ctx = facs_ctx_create(FACS_DEVICE_CPU);
    if (!ctx) {
        fprintf(stderr, "bench-facs: %s\n", facs_last_error());
        return 1;
    }
    json_t *shapes = json_array();
    rc = 0;
    for (size_t i = 0; rc == 0 && i < sizeof layers / sizeof layers[0]; i++) {
        const layer *l = &layers[i];
        unsigned seed = 1;
        buffers b = {
            .x = bench_random_tensor(o.batch, l->ci, l->size, l->size, &seed),
            .w = bench_random_tensor(l->co, l->ci, 1, 1, &seed),
            .y = bench_random_tensor(o.batch, l->co, l->size, l->size, &seed),
            .prob = bench_random_tensor(o.batch, l->co, 1, 1, &seed),
            .dy = bench_random_tensor(o.batch, l->co, l->size, l->size, &seed),
            .dx = bench_random_tensor(o.batch, l->ci, l->size, l->size, &seed),
            .dw = bench_random_tensor(l->co, l->ci, 1, 1, &seed),
        };
        double ms[4] = {-1, -1, -1, -1};
        if (b.x && b.w && b.y && b.prob && b.dy && b.dx && b.dw)
            for (int k = 0; k < 4; k++)
                ms[k] = time_op(ctx, k < 2 ? FACS_OP : CONV_OP, k % 2, &b, &o);
        if (ms[0] < 0 || ms[1] < 0 || ms[2] < 0 || ms[3] < 0) {
            fprintf(stderr, "bench-facs: %s: %s\n", l->name, facs_last_error());
            rc = 1;
        } else {
            fprintf(stderr, "%-22s FACS %.2f + %.2f ms, 1x1 conv %.2f + %.2f ms\n", l->name, ms[0], ms[1], ms[2],
                    ms[3]);
            json_array_append_new(shapes, json_pack("{s:s, s:o, s:o, s:o, s:o}", "name", l->name, "facs_fwd_ms",
                                                    bench_json_real(ms[0], 3), "facs_bwd_ms", bench_json_real(ms[1], 3),
                                                    "conv_fwd_ms", bench_json_real(ms[2], 3), "conv_bwd_ms",
                                                    bench_json_real(ms[3], 3)));
        }
        facs_tensor *all[] = {b.x, b.w, b.y, b.prob, b.dy, b.dx, b.dw};
        for (size_t k = 0; k < sizeof all / sizeof all[0]; k++)
            facs_tensor_free(all[k]);
    }
    facs_ctx_free(ctx);
    int out = bench_json_print(json_pack("{s:s, s:i, s:i, s:i, s:o}", "library", "facs", "batch", o.batch, "threads",
                                         o.threads, "runs", o.runs, "shapes", shapes));
    return rc ? rc : out;
}
