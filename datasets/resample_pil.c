/* PIL's bilinear resize of 8-bit images (see augment.h), computed the way
 * Pillow 9.4 computes it, because torchvision's transforms on PIL images
 * (ImageFolder's default) resize with it. The facts that make it PIL's: the
 * triangle filter's support widens with the downscale factor (so it averages
 * instead of skipping pixels), each output's weights are normalised to sum 1
 * and rounded to 22-bit fixed point, the horizontal pass runs first over the
 * rows the vertical pass reads, and each pass rounds to 8 bits with
 * clipping. Float resampling would differ by a level here and there; the
 * tests compare with PIL byte for byte. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "augment.h"

#define PRECISION_BITS (32 - 8 - 2)

/* One pass's taps: output i reads `count[i]` inputs from `first[i]` with the
 * weights k[i * ksize ...]. */
typedef struct {
    int ksize;
    int *first, *count;
    int32_t *k;
} taps;

static void taps_free(taps *t)
{
    free(t->first);
    free(t->count);
    free(t->k);
}

static double triangle(double x)
{
    x = x < 0 ? -x : x;
    return x < 1.0 ? 1.0 - x : 0.0;
}

/* The taps of one pass: [in0, in1) of an in_size line -> out_size; taps near
 * the ends may read outside [in0, in1), up to the line's ends (PIL's box). */
static facs_status taps_make(int in_size, double in0, double in1, int out_size, taps *t)
{
    double scale = (in1 - in0) / out_size, filterscale = scale < 1.0 ? 1.0 : scale;
    double support = 1.0 * filterscale;
    t->ksize = (int)ceil(support) * 2 + 1;
    t->first = malloc(sizeof(int) * (size_t)out_size);
    t->count = malloc(sizeof(int) * (size_t)out_size);
    t->k = calloc((size_t)out_size * (size_t)t->ksize, sizeof(int32_t));
    double *w = malloc(sizeof(double) * (size_t)t->ksize);
    if (!t->first || !t->count || !t->k || !w) {
        free(w);
        taps_free(t);
        return facs_fail(FACS_ERR_MEMORY, "resize: out of memory for %d taps", out_size);
    }
    for (int o = 0; o < out_size; o++) {
        double center = in0 + (o + 0.5) * scale, sum = 0.0, ss = 1.0 / filterscale;
        int lo = (int)(center - support + 0.5), hi = (int)(center + support + 0.5);
        lo = lo < 0 ? 0 : lo;
        hi = (hi > in_size ? in_size : hi) - lo;
        for (int x = 0; x < hi; x++)
            sum += w[x] = triangle((x + lo - center + 0.5) * ss);
        for (int x = 0; x < hi; x++) {
            double v = sum != 0.0 ? w[x] / sum : w[x];
            t->k[o * t->ksize + x] = (int32_t)(v < 0 ? -0.5 + v * (1 << PRECISION_BITS)
                                                     : 0.5 + v * (1 << PRECISION_BITS));
        }
        t->first[o] = lo;
        t->count[o] = hi;
    }
    free(w);
    return FACS_OK;
}

static uint8_t clip8(int32_t v)
{
    if (v >= (1 << PRECISION_BITS << 8))
        return 255;
    return v <= 0 ? 0 : (uint8_t)(v >> PRECISION_BITS);
}

/* Output pixel o = sum over its taps j of src[first + j - shift] * k[j]; src
 * pixels `stride` bytes apart, c channels. */
static void apply(const taps *t, int o, int shift, const uint8_t *src, size_t stride, int c, uint8_t *dst)
{
    const int32_t *k = t->k + (size_t)o * t->ksize;
    const uint8_t *p = src + (size_t)(t->first[o] - shift) * stride;
    for (int ch = 0; ch < c; ch++) {
        int32_t ss = 1 << (PRECISION_BITS - 1);
        for (int j = 0; j < t->count[o]; j++)
            ss += p[(size_t)j * stride + ch] * k[j];
        dst[ch] = clip8(ss);
    }
}

/* PIL's ImagingResample: [x0, x1) x [y0, y1) of the in_w x in_h pixels at
 * origin (rows in_row bytes apart, c channels) to oh x ow. */
static facs_status resample(const uint8_t *origin, size_t in_row, int in_w, int in_h, int c, const double box[4],
                            int oh, int ow, facs_image *out)
{
    taps th = {0}, tv = {0};
    FACS_TRY(taps_make(in_w, box[0], box[2], ow, &th));
    facs_status s = taps_make(in_h, box[1], box[3], oh, &tv);
    /* PIL's horizontal pass covers only the rows the vertical pass reads. */
    int need_h = ow != in_w || box[0] != 0.0 || box[2] != in_w;
    int need_v = oh != in_h || box[1] != 0.0 || box[3] != in_h;
    int y0 = tv.first ? tv.first[0] : 0, y1 = tv.first ? tv.first[oh - 1] + tv.count[oh - 1] : 0;
    if (!need_v)
        y0 = 0, y1 = in_h;
    uint8_t *tmp = s == FACS_OK && need_h ? malloc((size_t)(y1 - y0) * ow * c) : NULL;
    uint8_t *dst = s == FACS_OK ? malloc((size_t)oh * ow * c) : NULL;
    if (s == FACS_OK && (!dst || (need_h && !tmp)))
        s = facs_fail(FACS_ERR_MEMORY, "resize: out of memory for %dx%d pixels", oh, ow);
    if (s == FACS_OK) {
        /* What the vertical pass reads: the input itself, or the horizontal
         * pass's rows, whose first is row y0 of the input. */
        const uint8_t *src = origin;
        size_t src_row = in_row;
        int shift = 0;
        if (need_h) {
            for (int y = y0; y < y1; y++)
                for (int x = 0; x < ow; x++)
                    apply(&th, x, 0, origin + (size_t)y * in_row, (size_t)c, c, tmp + ((size_t)(y - y0) * ow + x) * c);
            src = tmp;
            src_row = (size_t)ow * c;
            shift = y0;
        }
        for (int y = 0; y < oh; y++)
            for (int x = 0; x < ow; x++) {
                uint8_t *d = dst + ((size_t)y * ow + x) * c;
                if (need_v)
                    apply(&tv, y, shift, src + (size_t)x * c, src_row, c, d);
                else
                    memcpy(d, src + (size_t)(y - shift) * src_row + (size_t)x * c, (size_t)c);
            }
        *out = (facs_image){ow, oh, c, dst};
        dst = NULL;
    }
    free(dst);
    free(tmp);
    taps_free(&th);
    taps_free(&tv);
    return s;
}

facs_status facs_image_resize_pil(const facs_image *in, facs_window box, int oh, int ow, facs_image *out)
{
    memset(out, 0, sizeof *out);
    int c = in->channels;
    if (box.top < 0 || box.left < 0 || box.height < 1 || box.width < 1 || box.top + box.height > in->height ||
        box.left + box.width > in->width || oh < 1 || ow < 1)
        return facs_fail(FACS_ERR_ARG, "resize: box (%d, %d, %d, %d) of a %dx%d image to %dx%d", box.top, box.left,
                         box.height, box.width, in->height, in->width, oh, ow);
    /* The crop is an image of its own: no tap reads outside it. */
    size_t in_row = (size_t)in->width * c;
    const uint8_t *origin = in->pixels + (size_t)box.top * in_row + (size_t)box.left * c;
    const double whole[4] = {0.0, 0.0, box.width, box.height};
    return resample(origin, in_row, box.width, box.height, c, whole, oh, ow, out);
}

facs_status facs_image_resize_pil_box(const facs_image *in, const double box[4], int oh, int ow, facs_image *out)
{
    memset(out, 0, sizeof *out);
    if (!(box[0] >= 0.0 && box[1] >= 0.0 && box[2] > box[0] && box[3] > box[1] && box[2] <= in->width &&
          box[3] <= in->height) || oh < 1 || ow < 1)
        return facs_fail(FACS_ERR_ARG, "resize: box (%g, %g, %g, %g) of a %dx%d image to %dx%d", box[0], box[1],
                         box[2], box[3], in->height, in->width, oh, ow);
    return resample(in->pixels, (size_t)in->width * in->channels, in->width, in->height, in->channels, box, oh, ow,
                    out);
}
