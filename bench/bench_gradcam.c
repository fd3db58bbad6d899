/* bench-gradcam: what one class activation map costs (eval/cam.h, as
 * facs-gradcam computes it: the forward in eval mode with the tape, the
 * backward from the class logit down to the tapped layer only, the map and its
 * normalisation to the input's size) beside one plain forward of the same
 * model (eval mode, no tape): map_over_forward is their ratio. Random weights
 * and a random image; batch 1, as facs-gradcam. Prints JSON on stdout
 * (bench_util.h).
 *
 * bench/run_bench.sh gradcam compares it with bench/bench_gradcam_torch.py. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench_util.h"
#include "cam.h"
#include "cli_options.h"
#include "model.h"

static const char ABOUT[] =
    "Times one GradCAM map against one forward pass (one configuration per run); prints JSON on stdout.\n"
    "  --arch A          a classifier architecture (default resnet50), random weights, 1000 classes\n"
    "  --input-size S    the image side, S or HxW (default 224)\n"
    "  --method M        gradcam (default), gradcam++ or layercam\n"
    "  (--batch is ignored: one image at a time, as facs-gradcam)";

typedef struct {
    const char *arch;
    int height, width, method;
} cam_bench;

static facs_status take_cam_option(void *user, const char *name, const char *v)
{
    cam_bench *b = user;
    if (!strcmp(name, "--arch"))
        b->arch = v;
    else if (!strcmp(name, "--input-size"))
        return facs_cli_size("--input-size", v, 8, 1 << 14, &b->height, &b->width);
    else
        return facs_cli_choice("--method", v, facs_cam_method_names, &b->method);
    return FACS_OK;
}

static int take_cam_options(int *argc, char **argv, cam_bench *b)
{
    static const bench_option own[] = {{"--arch", 1}, {"--input-size", 1}, {"--method", 1}, {NULL, 0}};
    *b = (cam_bench){"resnet50", 224, 224, FACS_CAM_GRADCAM};
    return bench_take_options(argc, argv, "bench-gradcam", own, take_cam_option, b);
}

/* One map: gradients to the tap, raw map, normalised map. */
static facs_status one_map(facs_ctx *ctx, facs_model *m, const cam_bench *b, const float *image, float *raw,
                           float *cam)
{
    facs_cam_grads g;
    FACS_TRY(facs_cam_gradients(ctx, m, image, b->height, b->width, &(facs_cam_target){.cls = -1}, &g));
    facs_status s = facs_cam_raw((facs_cam_method)b->method, g.channels, g.height, g.width, g.activations,
                                 g.gradients, raw);
    if (s == FACS_OK)
        s = facs_cam_normalise(raw, g.height, g.width, b->height, b->width, cam);
    facs_cam_grads_free(&g);
    return s;
}

/* One forward in eval mode without the tape. */
static facs_status one_forward(facs_ctx *ctx, facs_model *m, facs_tensor *x)
{
    facs_ctx_begin_step(ctx);
    facs_ctx_set_mode(ctx, 0, 0);
    return facs_model_forward(ctx, m, x) ? FACS_OK : facs_last_status();
}

/* The median ms of --runs calls of the map (forward 0) or the forward (1) after --warmup. */
static int time_calls(facs_ctx *ctx, facs_model *m, const cam_bench *b, const bench_options *o, int forward,
                      const float *image, facs_tensor *x, float *raw, float *cam, double *median)
{
    double *ms = malloc((size_t)o->runs * sizeof *ms);
    if (!ms)
        return 1;
    for (int i = -o->warmup; i < o->runs; i++) {
        double t0 = bench_now_ms();
        facs_status s = forward ? one_forward(ctx, m, x) : one_map(ctx, m, b, image, raw, cam);
        double t1 = bench_now_ms();
        if (s != FACS_OK) {
            fprintf(stderr, "bench-gradcam: %s\n", facs_last_error());
            free(ms);
            return 1;
        }
        if (i >= 0)
            ms[i] = t1 - t0;
        fprintf(stderr, "%s @%dx%d %s %d: %.1f ms\n", b->arch, b->height, b->width, forward ? "forward" : "map", i,
                t1 - t0);
    }
    *median = bench_median(ms, o->runs);
    free(ms);
    return 0;
}

int main(int argc, char **argv)
{
    cam_bench b;
    bench_options o;
    int rc = take_cam_options(&argc, argv, &b);
    if (rc < 0)
        rc = bench_parse(argc, argv, "bench-gradcam", ABOUT, &o);
    if (rc >= 0)
        return rc;
    facs_model_options mo;
    facs_model *m = NULL;
    facs_ctx *ctx = facs_ctx_create(FACS_DEVICE_CPU);
    unsigned seed = 1;
    facs_tensor *x = bench_random_tensor(1, 3, b.height, b.width, &seed);
    size_t pixels = (size_t)b.height * b.width;
    float *image = malloc(pixels * 3 * sizeof *image), *raw = malloc(pixels * sizeof *raw);
    float *cam = malloc(pixels * sizeof *cam);
    rc = 1;
    if (!ctx || !x || !image || !raw || !cam || facs_model_options_for_arch(b.arch, &mo) != FACS_OK ||
        facs_model_create(&m, &mo, FACS_DEVICE_CPU, 1) != FACS_OK || facs_model_fold_bn(m) != FACS_OK ||
        facs_model_set_tap(m, facs_model_default_tap(m)) != FACS_OK ||
        facs_ctx_set_weight_cache(ctx, 1) != FACS_OK || /* fixed weights, BN folded, as facs-gradcam */
        facs_tensor_download(x, image, pixels * 3 * sizeof *image) != FACS_OK) {
        fprintf(stderr, "bench-gradcam: %s\n", facs_last_error());
        goto done;
    }
    facs_cam_freeze(m);
    double map_ms, forward_ms;
    if (time_calls(ctx, m, &b, &o, 0, image, x, raw, cam, &map_ms) ||
        time_calls(ctx, m, &b, &o, 1, image, x, raw, cam, &forward_ms))
        goto done;
    char name[256];
    snprintf(name, sizeof name, "%s @%dx%d %s at %s", b.arch, b.height, b.width, facs_cam_method_names[b.method],
             facs_model_default_tap(m));
    json_t *shape = json_pack("{s:s, s:s, s:s, s:i, s:i, s:i, s:s, s:s}", "name", name, "mode", "gradcam", "arch",
                              b.arch, "input_h", b.height, "input_w", b.width, "batch", 1, "method",
                              facs_cam_method_names[b.method], "layer", facs_model_default_tap(m));
    json_object_set_new(shape, "map_ms", bench_json_real(map_ms, 3));
    json_object_set_new(shape, "forward_ms", bench_json_real(forward_ms, 3));
    json_object_set_new(shape, "map_over_forward", bench_json_real(map_ms / forward_ms, 3));
    json_object_set_new(shape, "max_rss_mib", bench_json_real(bench_max_rss_mib(), 1));
    rc = bench_json_print(json_pack("{s:s, s:s, s:i, s:i, s:i, s:[o]}", "library", "facs", "mode", "gradcam",
                                    "threads", o.threads, "runs", o.runs, "warmup", o.warmup, "shapes", shape));
done:
    facs_tensor_free(x);
    free(image);
    free(raw);
    free(cam);
    facs_model_free(m);
    facs_ctx_free(ctx);
    return rc;
}
