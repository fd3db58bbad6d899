/* bench-seg: whole-frame segmentation inference as pspnet-eval runs it
 * (eval/seg_infer.h: normalisation, the network in evaluation mode without a
 * tape, softmax, sliding windows, the argmax), on one random RGB frame of
 * --input-size (default Cityscapes' 1024x2048), in whole or slide mode.
 * Prints JSON on stdout (bench_util.h); the time of a frame is forward_ms, so
 * images_per_s = 1000 / forward_ms. Peak RSS (max_rss_mib) is the process's:
 * one configuration per process.
 *
 * bench/run_bench.sh seg compares it with bench/bench_seg_torch.py (the
 * PyTorch twin running semseg's test procedure). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench_util.h"
#include "cli_options.h"
#include "model.h"
#include "seg_infer.h"

static const char ABOUT[] =
    "Times pspnet-eval's inference on one random frame (one configuration per run); prints JSON on stdout.\n"
    "  --arch A          a pspnet_* architecture (default pspnet_resnet50), random weights, 19 classes\n"
    "  --input-size HxW  the frame, height first (default 1024x2048)\n"
    "  --seg-mode M      whole (the frame at once) or slide (windows of --crop every ceil(2/3 crop)); default whole\n"
    "  --crop S          slide windows (default 713)\n"
    "  --flip            also the mirrored frame or window (semseg's net_process)\n"
    "  (--batch is ignored: one frame at a time, as pspnet-eval)";

typedef struct {
    const char *arch;
    int height, width, slide, crop, flip;
} seg_bench;

static facs_status take_seg_option(void *user, const char *name, const char *v)
{
    seg_bench *b = user;
    if (!strcmp(name, "--flip"))
        b->flip = 1;
    else if (!strcmp(name, "--arch"))
        b->arch = v;
    else if (!strcmp(name, "--input-size"))
        return facs_cli_size("--input-size", v, 8, 1 << 14, &b->height, &b->width);
    else if (!strcmp(name, "--crop"))
        return facs_cli_int("--crop", v, 8, 1 << 14, &b->crop);
    else if (!strcmp(v, "whole") || !strcmp(v, "slide"))
        b->slide = !strcmp(v, "slide");
    else
        return facs_fail(FACS_ERR_ARG, "--seg-mode must be whole or slide, not '%s'", v);
    return FACS_OK;
}

/* Takes this benchmark's options out of argv; returns -1 to go on, or the exit code. */
static int take_seg_options(int *argc, char **argv, seg_bench *b)
{
    static const bench_option own[] = {{"--arch", 1}, {"--input-size", 1}, {"--seg-mode", 1}, {"--crop", 1},
                                       {"--flip", 0},  {NULL, 0}};
    *b = (seg_bench){"pspnet_resnet50", 1024, 2048, 0, 713, 0};
    return bench_take_options(argc, argv, "bench-seg", own, take_seg_option, b);
}

/* A frame of uniform random bytes. */
static facs_image random_frame(int height, int width)
{
    facs_image img = {width, height, 3, malloc((size_t)width * height * 3)};
    unsigned seed = 1;
    for (size_t i = 0; img.pixels && i < (size_t)width * height * 3; i++)
        img.pixels[i] = (uint8_t)(rand_r(&seed) & 0xff);
    return img;
}

/* Times --warmup + --runs frames; the JSON shape into *shape. 0 on success. */
static int time_frames(facs_ctx *ctx, facs_model *m, const seg_bench *b, const bench_options *o, json_t **shape)
{
    facs_image img = random_frame(b->height, b->width);
    int32_t *pred = malloc((size_t)b->width * b->height * sizeof *pred);
    double *ms = malloc((size_t)o->runs * sizeof *ms), *cpu = malloc((size_t)o->runs * sizeof *cpu);
    facs_seg_infer_opts io = facs_seg_infer_defaults();
    if (b->slide) {
        io.crop_h = io.crop_w = b->crop;
        io.stride_h = io.stride_w = facs_seg_default_stride(b->crop);
    }
    io.flip = b->flip;
    int rc = 1;
    if (!img.pixels || !pred || !ms || !cpu) {
        fprintf(stderr, "bench-seg: out of memory\n");
        goto done;
    }
    char name[256];
    snprintf(name, sizeof name, "%s @%dx%d %s%s", b->arch, b->height, b->width, b->slide ? "slide" : "whole",
             b->flip ? " flip" : "");
    for (int i = -o->warmup; i < o->runs; i++) {
        double t0 = bench_now_ms(), c0 = bench_cpu_now_ms();
        if (facs_seg_predict(ctx, m, &img, &io, pred, NULL) != FACS_OK) {
            fprintf(stderr, "bench-seg: %s\n", facs_last_error());
            goto done;
        }
        double t1 = bench_now_ms(), c1 = bench_cpu_now_ms();
        if (i >= 0) {
            ms[i] = t1 - t0;
            cpu[i] = c1 - c0;
        }
        fprintf(stderr, "%s %d: %.1f ms\n", name, i, t1 - t0);
    }
    double median = bench_median(ms, o->runs);
    *shape = json_pack("{s:s, s:s, s:s, s:i, s:i, s:i, s:s, s:i, s:i}", "name", name, "mode", "infer", "arch", b->arch,
                       "input_h", b->height, "input_w", b->width, "batch", 1, "procedure", b->slide ? "slide" : "whole",
                       "crop", b->slide ? b->crop : 0, "flip", b->flip);
    json_object_set_new(*shape, "forward_ms", bench_json_real(median, 3));
    json_object_set_new(*shape, "cpu_ms", bench_json_real(bench_median(cpu, o->runs), 3));
    json_object_set_new(*shape, "images_per_s", bench_json_real(1e3 / median, 3));
    json_object_set_new(*shape, "max_rss_mib", bench_json_real(bench_max_rss_mib(), 1));
    rc = *shape ? 0 : 1;
done:
    facs_image_free(&img);
    free(pred);
    free(ms);
    free(cpu);
    return rc;
}

int main(int argc, char **argv)
{
    seg_bench b;
    bench_options o;
    int rc = take_seg_options(&argc, argv, &b);
    if (rc < 0)
        rc = bench_parse(argc, argv, "bench-seg", ABOUT, &o);
    if (rc >= 0)
        return rc;
    facs_model_options mo;
    facs_ctx *ctx = facs_ctx_create(FACS_DEVICE_CPU);
    facs_model *m = NULL;
    if (!ctx || facs_model_options_for_arch(b.arch, &mo) != FACS_OK ||
        facs_model_create(&m, &mo, FACS_DEVICE_CPU, 1) != FACS_OK ||
        facs_model_fold_bn(m) != FACS_OK || facs_ctx_set_weight_cache(ctx, 1) != FACS_OK) { /* as pspnet-eval */
        fprintf(stderr, "bench-seg: %s\n", facs_last_error());
        facs_model_free(m);
        facs_ctx_free(ctx);
        return 1;
    }
    json_t *shape = NULL;
    rc = time_frames(ctx, m, &b, &o, &shape);
    if (!rc)
        rc = bench_json_print(json_pack("{s:s, s:s, s:i, s:i, s:i, s:[o]}", "library", "facs", "mode", "infer",
                                        "threads", o.threads, "runs", o.runs, "warmup", o.warmup, "shapes", shape));
    facs_model_free(m);
    facs_ctx_free(ctx);
    return rc;
}
