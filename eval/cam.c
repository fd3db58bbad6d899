/* The maps of cam.h from activations and gradients: the three methods'
 * weights, pytorch-grad-cam's normalisation and its overlay picture. The
 * model pass that gives the activations and gradients is cam_gradients.c. */
#include "cam.h"

#include <math.h>
#include <stdlib.h>

#include "augment.h"
#include "colormap.h"

const char *const facs_cam_method_names[] = {"gradcam", "gradcam++", "layercam", NULL};

#define GRADCAM_PP_EPS 1e-6 /* pytorch-grad-cam's grad_cam_plusplus.py */
#define NORMALISE_EPS 1e-7  /* its scale_cam_image */

/* GradCAM++'s weight of one channel: sum_ij ReLU(g) alpha_ij. */
static double gradcam_pp_weight(const float *a, const float *g, size_t plane)
{
    double sum_a = 0, weight = 0;
    for (size_t i = 0; i < plane; i++)
        sum_a += a[i];
    for (size_t i = 0; i < plane; i++) {
        double g1 = g[i], g2 = g1 * g1;
        if (g1 > 0) /* ReLU(g) is 0 elsewhere, alpha's G != 0 condition included */
            weight += g1 * g2 / (2 * g2 + sum_a * g2 * g1 + GRADCAM_PP_EPS);
    }
    return weight;
}

static double gradcam_weight(const float *g, size_t plane)
{
    double sum = 0;
    for (size_t i = 0; i < plane; i++)
        sum += g[i];
    return sum / (double)plane;
}

facs_status facs_cam_raw(facs_cam_method method, int channels, int height, int width, const float *activations,
                         const float *gradients, float *raw)
{
    if (channels < 1 || height < 1 || width < 1 || !activations || !gradients || !raw)
        return facs_fail(FACS_ERR_ARG, "cam: no map to weight (%d channels of %dx%d)", channels, height, width);
    if (method < FACS_CAM_GRADCAM || method > FACS_CAM_LAYERCAM)
        return facs_fail(FACS_ERR_ARG, "cam: unknown method %d", (int)method);
    size_t plane = (size_t)height * width;
    double *sum = calloc(plane, sizeof *sum);
    if (!sum)
        return facs_fail(FACS_ERR_MEMORY, "cam: out of memory for a %dx%d map", height, width);
    for (int k = 0; k < channels; k++) {
        const float *a = activations + k * plane, *g = gradients + k * plane;
        if (method == FACS_CAM_LAYERCAM) {
            for (size_t i = 0; i < plane; i++)
                sum[i] += g[i] > 0 ? (double)g[i] * a[i] : 0.0;
            continue;
        }
        double w = method == FACS_CAM_GRADCAM ? gradcam_weight(g, plane) : gradcam_pp_weight(a, g, plane);
        for (size_t i = 0; i < plane; i++)
            sum[i] += w * a[i];
    }
    for (size_t i = 0; i < plane; i++)
        raw[i] = (float)sum[i];
    free(sum);
    return FACS_OK;
}

/* scale_cam_image's step: (v - min) / (1e-7 + max(v - min)), in place; with
 * relu, negative values count as 0 first. */
static void min_max(float *v, size_t n, int relu)
{
    double lo = INFINITY, hi = -INFINITY;
    for (size_t i = 0; i < n; i++) {
        if (relu && !(v[i] > 0))
            v[i] = 0; /* a NaN too: a map never carries one on */
        lo = v[i] < lo ? v[i] : lo;
        hi = v[i] > hi ? v[i] : hi;
    }
    double scale = 1.0 / (NORMALISE_EPS + (hi - lo));
    for (size_t i = 0; i < n; i++)
        v[i] = (float)((v[i] - lo) * scale);
}

facs_status facs_cam_normalise(const float *raw, int height, int width, int out_h, int out_w, float *cam)
{
    if (height < 1 || width < 1 || out_h < 1 || out_w < 1 || !raw || !cam)
        return facs_fail(FACS_ERR_ARG, "cam: cannot normalise a %dx%d map to %dx%d", height, width, out_h, out_w);
    facs_fimage small, big;
    FACS_TRY(facs_fimage_alloc(height, width, 1, &small));
    for (size_t i = 0; i < (size_t)height * width; i++)
        small.data[i] = raw[i];
    min_max(small.data, (size_t)height * width, 1);
    /* torch's align_corners=False bilinear, which cv2.resize's INTER_LINEAR is too (half-pixel centres). */
    facs_status s = facs_fimage_resize(&small, out_h, out_w, &big);
    facs_fimage_free(&small);
    FACS_TRY(s);
    size_t n = (size_t)out_h * out_w;
    min_max(big.data, n, 1);
    for (size_t i = 0; i < n; i++)
        cam[i] = big.data[i];
    facs_fimage_free(&big);
    return FACS_OK;
}

facs_status facs_cam_overlay(const facs_image *rgb, const float *cam, facs_image *out)
{
    *out = (facs_image){0};
    if (!rgb || !rgb->pixels || rgb->channels != 3 || !cam)
        return facs_fail(FACS_ERR_ARG, "cam overlay: needs an RGB image and a map of its size");
    FACS_TRY(facs_jet_to_rgb(cam, rgb->width, rgb->height, out));
    size_t n = (size_t)rgb->width * rgb->height * 3;
    float *mix = malloc(n * sizeof *mix), top = 0;
    if (!mix) {
        facs_image_free(out);
        return facs_fail(FACS_ERR_MEMORY, "cam overlay: out of memory for a %dx%d image", rgb->width, rgb->height);
    }
    /* show_cam_on_image in float32: (1 - 0.5) heat / 255 + 0.5 img / 255, over its maximum. */
    for (size_t i = 0; i < n; i++) {
        mix[i] = 0.5f * ((float)out->pixels[i] / 255.0f) + 0.5f * ((float)rgb->pixels[i] / 255.0f);
        top = mix[i] > top ? mix[i] : top;
    }
    for (size_t i = 0; i < n; i++)
        out->pixels[i] = (uint8_t)(255.0f * (mix[i] / top)); /* np.uint8 truncates; top >= the darkest JET 0.25 */
    free(mix);
    return FACS_OK;
}
