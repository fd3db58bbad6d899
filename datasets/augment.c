/* The deterministic building blocks of augment.h: float images, the per-sample
 * random stream, resize, crop, flip, normalize, rotation, blur, and their
 * nearest-neighbour counterparts for label maps. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "augment.h"
#include "rng.h"

void facs_fimage_free(facs_fimage *img)
{
    if (!img)
        return;
    free(img->data);
    memset(img, 0, sizeof *img);
}

facs_status facs_fimage_alloc(int height, int width, int channels, facs_fimage *out)
{
    memset(out, 0, sizeof *out);
    if (height <= 0 || width <= 0 || channels < 1 || channels > FACS_AUG_MAX_CHANNELS)
        return facs_fail(FACS_ERR_ARG, "augment: bad image size %dx%dx%d", height, width, channels);
    out->data = malloc(sizeof(float) * (size_t)height * width * channels);
    if (!out->data)
        return facs_fail(FACS_ERR_MEMORY, "augment: out of memory for a %dx%dx%d image", height, width,
                         channels);
    out->height = height;
    out->width = width;
    out->channels = channels;
    return FACS_OK;
}

facs_status facs_fimage_from_u8(const facs_image *in, facs_fimage *out)
{
    FACS_TRY(facs_fimage_alloc(in->height, in->width, in->channels, out));
    size_t n = (size_t)in->height * in->width * in->channels;
    for (size_t i = 0; i < n; i++)
        out->data[i] = (float)in->pixels[i];
    return FACS_OK;
}

/* ---- Random streams ---- */

facs_aug_rng facs_aug_rng_init(uint64_t seed, int epoch, int index)
{
    /* Nested mixing keeps (seed, epoch, index) triples apart: a bijective mix of
     * each stage before the next value enters. */
    uint64_t k = facs_rng_mix64(seed ^ 0x5851f42d4c957f2dULL);
    k = facs_rng_mix64(k ^ (uint64_t)(uint32_t)epoch);
    k = facs_rng_mix64(k ^ ((uint64_t)(uint32_t)index << 1 | 1));
    facs_aug_rng r = {k, 0};
    return r;
}

float facs_aug_uniform(facs_aug_rng *r)
{
    return facs_rng_uniform(r->key, r->counter++);
}

float facs_aug_uniform_range(facs_aug_rng *r, float lo, float hi)
{
    return lo + (hi - lo) * facs_aug_uniform(r);
}

uint64_t facs_aug_rand_below(facs_aug_rng *r, uint64_t n)
{
    uint64_t z = facs_rng_mix64(r->key + 0x9e3779b97f4a7c15ULL * (r->counter++ + 1));
    return z % n;
}

void facs_aug_permutation(uint64_t seed, int epoch, int *perm, int n)
{
    /* index -1 is never a sample index, so the shuffle stream is distinct from
     * every sample's augmentation stream. */
    facs_aug_rng r = facs_aug_rng_init(seed, epoch, -1);
    for (int i = 0; i < n; i++)
        perm[i] = i;
    for (int i = n - 1; i > 0; i--) {
        int j = (int)facs_aug_rand_below(&r, (uint64_t)i + 1);
        int t = perm[i];
        perm[i] = perm[j];
        perm[j] = t;
    }
}

/* ---- Resize ---- */

/* PyTorch's taps for align_corners=False: the scale in / out in float, the
 * source coordinate scale * (d + 0.5) - 0.5 clamped at 0 (here in double, which
 * matched torch 1.13's outputs to 1-2 ulp where float did to ~30), the weight of
 * the second tap its fractional part. */
static void linear_taps(int in, int out, int d, int *i0, int *i1, float *w0, float *w1)
{
    float scale = (float)in / (float)out;
    double src = (double)scale * (d + 0.5) - 0.5;
    if (src < 0)
        src = 0;
    *i0 = (int)src;
    if (*i0 > in - 1)
        *i0 = in - 1;
    *i1 = *i0 < in - 1 ? *i0 + 1 : *i0;
    float l1 = (float)(src - *i0);
    if (l1 > 1)
        l1 = 1;
    *w1 = l1;
    *w0 = 1.0f - l1;
}

facs_status facs_fimage_resize_window(const facs_fimage *in, int oh, int ow, facs_window win, facs_fimage *out)
{
    FACS_TRY(facs_fimage_alloc(win.height, win.width, in->channels, out));
    int c = in->channels;
    int *x0 = malloc(sizeof(int) * 2 * win.width);
    float *xw = malloc(sizeof(float) * 2 * win.width);
    if (!x0 || !xw) {
        free(x0);
        free(xw);
        facs_fimage_free(out);
        return facs_fail(FACS_ERR_MEMORY, "augment: out of memory resizing to %dx%d", oh, ow);
    }
    for (int x = 0; x < win.width; x++)
        linear_taps(in->width, ow, win.left + x, &x0[2 * x], &x0[2 * x + 1], &xw[2 * x], &xw[2 * x + 1]);
    for (int y = 0; y < win.height; y++) {
        int y0, y1;
        float hw0, hw1;
        linear_taps(in->height, oh, win.top + y, &y0, &y1, &hw0, &hw1);
        const float *r0 = in->data + (size_t)y0 * in->width * c;
        const float *r1 = in->data + (size_t)y1 * in->width * c;
        float *o = out->data + (size_t)y * win.width * c;
        for (int x = 0; x < win.width; x++) {
            int a = x0[2 * x] * c, b = x0[2 * x + 1] * c;
            float lw0 = xw[2 * x], lw1 = xw[2 * x + 1];
            for (int k = 0; k < c; k++) {
                /* PyTorch's order of operations: rows first, each a two-tap sum. */
                float top = r0[a + k] * lw0 + r0[b + k] * lw1;
                float bottom = r1[a + k] * lw0 + r1[b + k] * lw1;
                o[x * c + k] = top * hw0 + bottom * hw1;
            }
        }
    }
    free(x0);
    free(xw);
    return FACS_OK;
}

facs_status facs_fimage_resize(const facs_fimage *in, int oh, int ow, facs_fimage *out)
{
    facs_window all = {0, 0, oh, ow};
    return facs_fimage_resize_window(in, oh, ow, all, out);
}

facs_status facs_fimage_resize_shorter(const facs_fimage *in, int s, facs_fimage *out)
{
    if (s <= 0)
        return facs_fail(FACS_ERR_ARG, "augment: resize to a shorter side of %d", s);
    int h = in->height, w = in->width, oh, ow;
    facs_resize_shorter_size(h, w, s, &oh, &ow);
    if (oh == h && ow == w) {
        FACS_TRY(facs_fimage_alloc(h, w, in->channels, out));
        memcpy(out->data, in->data, sizeof(float) * (size_t)h * w * in->channels);
        return FACS_OK;
    }
    return facs_fimage_resize(in, oh, ow, out);
}

void facs_resize_shorter_size(int h, int w, int s, int *oh, int *ow)
{
    int short_side = h < w ? h : w, long_side = h < w ? w : h;
    /* torchvision: int(size * long / short), Python float division then truncation. */
    int new_long = (int)((double)s * long_side / short_side);
    *oh = h <= w ? s : new_long;
    *ow = h <= w ? new_long : s;
}

/* ---- Crop, flip, normalize ---- */

facs_status facs_fimage_crop(const facs_fimage *in, int top, int left, int h, int w, const float *fill,
                             facs_fimage *out)
{
    FACS_TRY(facs_fimage_alloc(h, w, in->channels, out));
    int c = in->channels;
    for (int y = 0; y < h; y++) {
        int sy = top + y;
        float *o = out->data + (size_t)y * w * c;
        for (int x = 0; x < w; x++) {
            int sx = left + x;
            int inside = sy >= 0 && sy < in->height && sx >= 0 && sx < in->width;
            const float *src = inside ? in->data + ((size_t)sy * in->width + sx) * c : NULL;
            for (int k = 0; k < c; k++)
                o[x * c + k] = inside ? src[k] : (fill ? fill[k] : 0.0f);
        }
    }
    return FACS_OK;
}

/* torchvision's centre offset along one axis: padding first when the crop is
 * larger, then round((size - crop) / 2) with Python's ties-to-even. */
static int center_offset(int size, int crop)
{
    if (crop > size)
        return -((crop - size) / 2);
    return (int)nearbyint((size - crop) / 2.0);
}

facs_status facs_fimage_center_crop(const facs_fimage *in, int h, int w, facs_fimage *out)
{
    if (h <= 0 || w <= 0)
        return facs_fail(FACS_ERR_ARG, "augment: center crop to %dx%d", h, w);
    return facs_fimage_crop(in, center_offset(in->height, h), center_offset(in->width, w), h, w, NULL, out);
}

void facs_fimage_hflip(facs_fimage *img)
{
    int c = img->channels;
    for (int y = 0; y < img->height; y++) {
        float *row = img->data + (size_t)y * img->width * c;
        for (int a = 0, b = img->width - 1; a < b; a++, b--)
            for (int k = 0; k < c; k++) {
                float t = row[a * c + k];
                row[a * c + k] = row[b * c + k];
                row[b * c + k] = t;
            }
    }
}

void facs_fimage_normalize(facs_fimage *img, const float *mean, const float *std)
{
    int c = img->channels;
    size_t n = (size_t)img->height * img->width;
    for (size_t i = 0; i < n; i++)
        for (int k = 0; k < c; k++) {
            float v = img->data[i * c + k] / 255.0f;
            img->data[i * c + k] = (v - mean[k]) / std[k];
        }
}

/* ---- Rotation and blur ---- */

/* The source point of output pixel (x, y) under OpenCV's rotation matrix about
 * (w / 2, h / 2): warpAffine samples src at M^-1 (x, y), and the inverse of a
 * rotation by deg is the rotation by -deg. */
typedef struct {
    double cx, cy, cs, sn;
} rotation;

static rotation rotation_of(int h, int w, float deg)
{
    double a = (double)deg * 3.14159265358979323846 / 180.0;
    rotation r = {w / 2.0, h / 2.0, cos(a), sin(a)};
    return r;
}

static void rotation_source(const rotation *r, int x, int y, double *sx, double *sy)
{
    /* M = [[c, s], [-s, c]] about the centre; its inverse is [[c, -s], [s, c]]. */
    double dx = x - r->cx, dy = y - r->cy;
    *sx = r->cs * dx - r->sn * dy + r->cx;
    *sy = r->sn * dx + r->cs * dy + r->cy;
}

facs_window facs_rotate_source_window(int frame_h, int frame_w, float deg, facs_window out_win)
{
    /* The map is affine, so the window's corners bound its sources; one pixel
     * of margin covers the second bilinear tap and rounding. */
    rotation r = rotation_of(frame_h, frame_w, deg);
    double y_lo = 1e300, y_hi = -1e300, x_lo = 1e300, x_hi = -1e300;
    for (int k = 0; k < 4; k++) {
        double sx, sy;
        rotation_source(&r, out_win.left + (k & 1) * (out_win.width - 1), out_win.top + (k >> 1) * (out_win.height - 1),
                        &sx, &sy);
        x_lo = sx < x_lo ? sx : x_lo;
        x_hi = sx > x_hi ? sx : x_hi;
        y_lo = sy < y_lo ? sy : y_lo;
        y_hi = sy > y_hi ? sy : y_hi;
    }
    int top = (int)floor(y_lo) - 1, left = (int)floor(x_lo) - 1;
    int bottom = (int)floor(y_hi) + 3, right = (int)floor(x_hi) + 3;
    top = top < 0 ? 0 : top;
    left = left < 0 ? 0 : left;
    bottom = bottom > frame_h ? frame_h : bottom;
    right = right > frame_w ? frame_w : right;
    facs_window w = {top, left, bottom > top ? bottom - top : 0, right > left ? right - left : 0};
    return w;
}

facs_status facs_fimage_rotate_window(const facs_fimage *in, facs_window in_win, int frame_h, int frame_w, float deg,
                                      const float *fill, facs_window out_win, facs_fimage *out)
{
    int c = in->channels;
    FACS_TRY(facs_fimage_alloc(out_win.height, out_win.width, c, out));
    rotation r = rotation_of(frame_h, frame_w, deg);
    for (int y = 0; y < out_win.height; y++)
        for (int x = 0; x < out_win.width; x++) {
            double sx, sy;
            rotation_source(&r, out_win.left + x, out_win.top + y, &sx, &sy);
            int x0 = (int)floor(sx), y0 = (int)floor(sy);
            float fx = (float)(sx - x0), fy = (float)(sy - y0);
            const float *tap[4];
            for (int t = 0; t < 4; t++) {
                int ty = y0 + (t >> 1), tx = x0 + (t & 1);
                int inside = ty >= 0 && ty < frame_h && tx >= 0 && tx < frame_w;
                tap[t] = inside ? in->data + ((size_t)(ty - in_win.top) * in_win.width + (tx - in_win.left)) * c
                                : fill;
            }
            float *o = out->data + ((size_t)y * out_win.width + x) * c;
            for (int k = 0; k < c; k++) {
                float top = tap[0][k] * (1 - fx) + tap[1][k] * fx;
                float bottom = tap[2][k] * (1 - fx) + tap[3][k] * fx;
                o[k] = top * (1 - fy) + bottom * fy;
            }
        }
    return FACS_OK;
}

facs_status facs_fimage_rotate(const facs_fimage *in, float deg, const float *fill, facs_fimage *out)
{
    facs_window all = {0, 0, in->height, in->width};
    return facs_fimage_rotate_window(in, all, in->height, in->width, deg, fill, all, out);
}

/* Reflect-101 index: -1 -> 1, n -> n - 2; a single row or column stays at 0. */
static int reflect101(int i, int n)
{
    if (n == 1)
        return 0;
    while (i < 0 || i >= n)
        i = i < 0 ? -i : 2 * (n - 1) - i;
    return i;
}

facs_status facs_fimage_blur5_window(const facs_fimage *in, facs_window in_win, int frame_h, int frame_w,
                                     facs_window out_win, facs_fimage *out)
{
    static const float k5[5] = {0.0625f, 0.25f, 0.375f, 0.25f, 0.0625f};
    int c = in->channels, w = out_win.width;
    /* Horizontal pass over the input rows, vertical pass into the output. */
    facs_fimage tmp;
    FACS_TRY(facs_fimage_alloc(in_win.height, w, c, &tmp));
    facs_status st = facs_fimage_alloc(out_win.height, w, c, out);
    if (st != FACS_OK) {
        facs_fimage_free(&tmp);
        return st;
    }
    for (int y = 0; y < in_win.height; y++)
        for (int x = 0; x < w; x++)
            for (int k = 0; k < c; k++) {
                float s = 0;
                for (int t = -2; t <= 2; t++) {
                    int sx = reflect101(out_win.left + x + t, frame_w) - in_win.left;
                    s += k5[t + 2] * in->data[((size_t)y * in_win.width + sx) * c + k];
                }
                tmp.data[((size_t)y * w + x) * c + k] = s;
            }
    for (int y = 0; y < out_win.height; y++)
        for (int x = 0; x < w; x++)
            for (int k = 0; k < c; k++) {
                float s = 0;
                for (int t = -2; t <= 2; t++) {
                    int sy = reflect101(out_win.top + y + t, frame_h) - in_win.top;
                    s += k5[t + 2] * tmp.data[((size_t)sy * w + x) * c + k];
                }
                out->data[((size_t)y * w + x) * c + k] = s;
            }
    facs_fimage_free(&tmp);
    return FACS_OK;
}

facs_status facs_fimage_blur5(const facs_fimage *in, facs_fimage *out)
{
    facs_window all = {0, 0, in->height, in->width};
    return facs_fimage_blur5_window(in, all, in->height, in->width, all, out);
}

/* ---- Label maps ---- */

static facs_status label_alloc(int h, int w, facs_image *out)
{
    memset(out, 0, sizeof *out);
    if (h <= 0 || w <= 0)
        return facs_fail(FACS_ERR_ARG, "augment: bad label size %dx%d", h, w);
    out->pixels = malloc((size_t)h * w);
    if (!out->pixels)
        return facs_fail(FACS_ERR_MEMORY, "augment: out of memory for a %dx%d label map", h, w);
    out->height = h;
    out->width = w;
    out->channels = 1;
    return FACS_OK;
}

static int nearest_index(int in, int out, int d)
{
    int s = (int)floor(((double)d + 0.5) * in / out);
    return s < in ? s : in - 1;
}

facs_status facs_label_resize_window(const facs_image *in, int oh, int ow, facs_window win, facs_image *out)
{
    FACS_TRY(label_alloc(win.height, win.width, out));
    for (int y = 0; y < win.height; y++) {
        const uint8_t *row = in->pixels + (size_t)nearest_index(in->height, oh, win.top + y) * in->width;
        for (int x = 0; x < win.width; x++)
            out->pixels[(size_t)y * win.width + x] = row[nearest_index(in->width, ow, win.left + x)];
    }
    return FACS_OK;
}

facs_status facs_label_resize(const facs_image *in, int oh, int ow, facs_image *out)
{
    facs_window all = {0, 0, oh, ow};
    return facs_label_resize_window(in, oh, ow, all, out);
}

facs_status facs_label_rotate_window(const facs_image *in, facs_window in_win, int frame_h, int frame_w, float deg,
                                     uint8_t fill, facs_window out_win, facs_image *out)
{
    FACS_TRY(label_alloc(out_win.height, out_win.width, out));
    rotation r = rotation_of(frame_h, frame_w, deg);
    for (int y = 0; y < out_win.height; y++)
        for (int x = 0; x < out_win.width; x++) {
            double sx, sy;
            rotation_source(&r, out_win.left + x, out_win.top + y, &sx, &sy);
            int nx = (int)floor(sx + 0.5), ny = (int)floor(sy + 0.5);
            int inside = nx >= 0 && nx < frame_w && ny >= 0 && ny < frame_h;
            out->pixels[(size_t)y * out_win.width + x] =
                inside ? in->pixels[(size_t)(ny - in_win.top) * in_win.width + (nx - in_win.left)] : fill;
        }
    return FACS_OK;
}

facs_status facs_label_rotate(const facs_image *in, float deg, uint8_t fill, facs_image *out)
{
    facs_window all = {0, 0, in->height, in->width};
    return facs_label_rotate_window(in, all, in->height, in->width, deg, fill, all, out);
}

facs_status facs_label_crop(const facs_image *in, int top, int left, int h, int w, uint8_t fill,
                            facs_image *out)
{
    FACS_TRY(label_alloc(h, w, out));
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            int sy = top + y, sx = left + x;
            int inside = sy >= 0 && sy < in->height && sx >= 0 && sx < in->width;
            out->pixels[(size_t)y * w + x] = inside ? in->pixels[(size_t)sy * in->width + sx] : fill;
        }
    return FACS_OK;
}

void facs_label_hflip(facs_image *img)
{
    for (int y = 0; y < img->height; y++) {
        uint8_t *row = img->pixels + (size_t)y * img->width;
        for (int a = 0, b = img->width - 1; a < b; a++, b--) {
            uint8_t t = row[a];
            row[a] = row[b];
            row[b] = t;
        }
    }
}
