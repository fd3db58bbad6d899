/* The FACS op on the CPU (paper Eq. 1-3) as plain loops over NHWC data,
 * and SSE2 vectors for the backward's dx at R = 1, 2 and 4 (facs_dx.h). The
 * per-element arithmetic is facs_fusion_math.h's, shared with CUDA.
 *
 * Sums over pixels (z, and dprob in backward) run over fixed blocks of
 * PIXEL_BLOCK pixels whose partial sums land in scratch and are combined
 * afterwards: no atomics or locks, enough tasks for every thread even at
 * batch 1, and results that do not depend on the number of threads. */
#include <stddef.h>

#include "../facs_fusion_math.h"
#include "cpu_ops.h"

#define PIXEL_BLOCK 256

#define FACS_INLINE static inline __attribute__((always_inline))

/* The passes over x and dy are compiled three times, for AVX-512, AVX2 and
 * the x86-64 baseline (SSE2), and the loader picks the widest the CPU has
 * (GCC's target_clones): the baseline alone ran the op 30-40% slower at
 * batch 32 (docs/perf.md). All their arithmetic goes lane by lane (per
 * channel, per chunk), and ISO C mode does not contract a * b + c into an
 * FMA, so every clone computes the same numbers bit for bit (only the sign
 * of a NaN may differ). The one sum across lanes, W z (probabilities), is
 * not cloned, so that p does not depend on the CPU either. */
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define FACS_VECTOR_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define FACS_VECTOR_CLONES
#endif

typedef struct {
    int n, c, co, r;   /* batch, input channels, output channels, chunk size */
    ptrdiff_t hw;      /* pixels per image */
    ptrdiff_t blocks;  /* pixel blocks per image */
    int weighted;
    float threshold;
} facs_geom;

static facs_geom geometry(const facs_fuse_params *p, const facs_tensor *x, const facs_tensor *w)
{
    facs_geom g = {.n = x->n, .c = x->c, .co = w->n, .hw = (ptrdiff_t)x->h * x->w};
    g.r = g.c / g.co;
    g.blocks = (g.hw + PIXEL_BLOCK - 1) / PIXEL_BLOCK;
    g.weighted = p->fusion == FACS_FUSION_WEIGHTED;
    g.threshold = p->threshold;
    return g;
}

static void block_range(const facs_geom *g, ptrdiff_t task, ptrdiff_t *first, ptrdiff_t *end)
{
    ptrdiff_t img = task / g->blocks, k = task % g->blocks;
    *first = img * g->hw + k * PIXEL_BLOCK;
    *end = img * g->hw + (k + 1 < g->blocks ? (k + 1) * PIXEL_BLOCK : g->hw);
}

/* Both passes go over x twice: a sum over all of an image's pixels, then a
 * pass that needs that sum. They run a group of images at a time whose x
 * fits in the threads' caches (this machine: 2 MiB of L2 per core), so the
 * second read comes from cache: at batch 32 the forward at 256->64 @56 read
 * x from memory twice and took 2.6x its memory floor. Each image's
 * arithmetic is the same as over the whole batch, so grouping changes no bit. */
#define GROUP_BYTES ((size_t)4 << 20)

static int images_per_group(const facs_geom *g)
{
    size_t k = GROUP_BYTES / ((size_t)g->hw * g->c * sizeof(float));
    return k < 1 ? 1 : k > (size_t)g->n ? g->n : (int)k;
}

/* g narrowed to count images (the caller offsets every per-image pointer). */
static facs_geom image_group(const facs_geom *g, int count)
{
    facs_geom sub = *g;
    sub.n = count;
    return sub;
}

/* acc[ch] += x[ch] for every pixel of [first, end). */
FACS_INLINE void add_pixels(const float *x, int c, ptrdiff_t first, ptrdiff_t end, float *acc)
{
    for (ptrdiff_t q = first; q < end; q++) {
        const float *row = x + q * c;
#pragma omp simd
        for (int ch = 0; ch < c; ch++)
            acc[ch] += row[ch];
    }
}

/* out[img * len + j] = scale * sum over blocks of part[(img * blocks + k) * len + j]. */
static void combine_blocks(const facs_geom *g, const float *part, int len, float scale, float *out)
{
    for (int img = 0; img < g->n; img++) {
        float *o = out + (size_t)img * len;
        for (int j = 0; j < len; j++)
            o[j] = 0.0f;
        for (ptrdiff_t k = 0; k < g->blocks; k++) {
            const float *b = part + ((size_t)img * g->blocks + k) * len;
#pragma omp simd
            for (int j = 0; j < len; j++)
                o[j] += b[j];
        }
        for (int j = 0; j < len; j++)
            o[j] *= scale;
    }
}

/* z (N x C) = the spatial mean of x, Eq. 1. part holds N * blocks * C floats. */
FACS_VECTOR_CLONES static void spatial_mean(const facs_geom *g, const float *x, float *part, float *z)
{
    ptrdiff_t tasks = g->n * g->blocks;
#pragma omp parallel for schedule(static)
    for (ptrdiff_t t = 0; t < tasks; t++) {
        float *acc = part + t * g->c;
        for (int ch = 0; ch < g->c; ch++)
            acc[ch] = 0.0f;
        ptrdiff_t first, end;
        block_range(g, t, &first, &end);
        add_pixels(x, g->c, first, end, acc);
    }
    combine_blocks(g, part, g->c, 1.0f / (float)g->hw, z);
}

/* Calls fn(r, args) with r a compile-time constant for the chunk sizes of
 * FACS networks, so that the per-chunk loops of facs_fusion_math.h unroll
 * into branch-free code (the forward ran 2.4x faster at R = 4 than with r
 * known only at run time); any other r takes the generic path. */
#define FACS_BY_CHUNK(r, fn, ...)            \
    switch (r) {                             \
    case 1:                                  \
        fn(1, __VA_ARGS__);                  \
        break;                               \
    case 2:                                  \
        fn(2, __VA_ARGS__);                  \
        break;                               \
    case 4:                                  \
        fn(4, __VA_ARGS__);                  \
        break;                               \
    case 8:                                  \
        fn(8, __VA_ARGS__);                  \
        break;                               \
    default:                                 \
        fn(r, __VA_ARGS__);                  \
    }

#include "facs_dx.h"

/* y at one pixel: row holds its C inputs, out its C/R outputs. */
FACS_INLINE void fuse_pixel(int r, const facs_geom *g, const float *row, const float *prob, float *out)
{
    for (int i = 0; i < g->co; i++) {
        const float *chunk = row + i * r;
        out[i] = facs_fusion_value(g->weighted, g->threshold, prob[i], facs_chunk_max(chunk, r),
                                   facs_chunk_mean(chunk, r));
    }
}

/* acc[i] += dL/dy_i * dy_i/dp_i at one pixel. */
FACS_INLINE void dprob_pixel(int r, const facs_geom *g, const float *row, const float *prob, const float *grad,
                             float *acc)
{
    for (int i = 0; i < g->co; i++) {
        const float *chunk = row + i * r;
        acc[i] += grad[i] * facs_fusion_dprob(g->weighted, g->threshold, prob[i], facs_chunk_max(chunk, r),
                                              facs_chunk_mean(chunk, r));
    }
}

/* p = sigmoid(W z + b): a small N x C/R x C product next to the fusion.
 * Rows of W outer, images inner, so that each row is read once per group
 * while the group's z stays in cache; images outer read all of W per image
 * (4 MiB at 2048->512 @7): the op took 1.25x its present time at batch 32. */
static void probabilities(const facs_geom *g, const float *z, const float *w, const float *b, float *prob)
{
#pragma omp parallel for schedule(static)
    for (ptrdiff_t t = 0; t < (ptrdiff_t)g->n * g->co; t++) {
        const ptrdiff_t i = t / g->n, img = t % g->n;
        const float *zr = z + img * g->c, *wr = w + i * g->c;
        float s = 0.0f;
#pragma omp simd reduction(+ : s)
        for (int ch = 0; ch < g->c; ch++)
            s += wr[ch] * zr[ch];
        prob[img * g->co + i] = facs_sigmoid_value(b ? s + b[i] : s);
    }
}

/* y (Eq. 2-3) at every pixel of g's images. */
FACS_VECTOR_CLONES static void fuse_pixels(const facs_geom *g, const float *x, const float *prob, float *y)
{
    ptrdiff_t pixels = g->n * g->hw;
#pragma omp parallel for schedule(static)
    for (ptrdiff_t q = 0; q < pixels; q++)
        FACS_BY_CHUNK(g->r, fuse_pixel, g, x + q * g->c, prob + (q / g->hw) * g->co, y + q * g->co);
}

/* The forward of g's images: z, p = sigmoid(W z + b), then y (Eq. 1-3). */
static void forward_images(const facs_geom *g, const float *x, const float *w, const float *b, float *part, float *z,
                           float *prob, float *y)
{
    spatial_mean(g, x, part, z);
    probabilities(g, z, w, b, prob);
    fuse_pixels(g, x, prob, y);
}

facs_status facs_cpu_facs_forward(facs_ctx *ctx, const facs_fuse_params *p, const facs_tensor *x,
                                  const facs_tensor *w, const facs_tensor *b, facs_tensor *y, facs_tensor *z,
                                  facs_tensor *prob)
{
    facs_geom g = geometry(p, x, w);
    const int group = images_per_group(&g);
    float *part = facs_ctx_scratch(ctx, (size_t)group * g.blocks * g.c * sizeof *part);
    if (!part)
        return facs_fail(FACS_ERR_MEMORY, "facs forward: out of scratch memory");
    const float *xd = facs_f32(x), *wd = facs_f32(w), *bd = b ? facs_f32(b) : NULL;
    float *zd = facs_f32(z), *pd = facs_f32(prob), *yd = facs_f32(y);
    for (int img = 0; img < g.n; img += group) {
        const facs_geom sub = image_group(&g, g.n - img < group ? g.n - img : group);
        forward_images(&sub, xd + img * g.hw * g.c, wd, bd, part, zd + (size_t)img * g.c, pd + (size_t)img * g.co,
                       yd + img * g.hw * g.co);
    }
    return FACS_OK;
}

/* One pass over x and dy per pixel block: partial sums of dprob = sum dy
 * dy/dp (part_dp, blocks x C/R per image). */
FACS_VECTOR_CLONES static void backward_sums(const facs_geom *g, const float *x, const float *prob, const float *dy,
                                             float *part_dp)
{
    ptrdiff_t tasks = g->n * g->blocks;
#pragma omp parallel for schedule(static)
    for (ptrdiff_t t = 0; t < tasks; t++) {
        const float *pr = prob + (t / g->blocks) * g->co;
        float *acc = part_dp + t * g->co;
        for (int i = 0; i < g->co; i++)
            acc[i] = 0.0f;
        ptrdiff_t first, end;
        block_range(g, t, &first, &end);
        for (ptrdiff_t q = first; q < end; q++)
            FACS_BY_CHUNK(g->r, dprob_pixel, g, x + q * g->c, pr, dy + q * g->co, acc);
    }
}

/* The two small matrix products of the backward, dz = W^T ds and
 * dW += ds^T z, go over strips of STRIP channels whose sums stay in
 * registers along the long dimension (C/R outputs, or images); each sum
 * takes its terms in the order of the plain loops. */
#define STRIP 16

/* out[j] = init[j] + sum over k < count of coef[k * coef_step] * v[k * v_step + j],
 * for the j < len of one strip (init NULL: 0). */
FACS_INLINE void strip_sums(int len, int count, const float *coef, size_t coef_step, const float *v, size_t v_step,
                            const float *init, float *out)
{
    float acc[STRIP];
    for (int j = 0; j < len; j++)
        acc[j] = init ? init[j] : 0.0f;
    for (int k = 0; k < count; k++) {
        const float d = coef[k * coef_step], *vk = v + k * v_step;
#pragma omp simd
        for (int j = 0; j < len; j++)
            acc[j] += d * vk[j];
    }
    for (int j = 0; j < len; j++)
        out[j] = acc[j];
}

/* strip_sums over the strips of C channels; whole strips take a
 * compile-time length, which keeps their sums in registers. */
FACS_INLINE void channel_sums(int c, int count, const float *coef, size_t coef_step, const float *v, size_t v_step,
                              const float *init, float *out)
{
    int ch = 0;
    for (; ch + STRIP <= c; ch += STRIP)
        strip_sums(STRIP, count, coef, coef_step, v + ch, v_step, init ? init + ch : NULL, out + ch);
    if (ch < c)
        strip_sums(c - ch, count, coef, coef_step, v + ch, v_step, init ? init + ch : NULL, out + ch);
}

/* Channels per task of mean_gradient. */
#define DZ_CHANNELS 256

/* dz = W^T ds, pre-divided by HW: the mean's gradient per pixel. ds_hw
 * (N x C/R) receives ds / HW. Tasks split the channels and each goes over
 * all images: enough tasks for the threads at batch 1 too. */
FACS_VECTOR_CLONES static void mean_gradient(const facs_geom *g, const float *w, const float *ds, float *ds_hw,
                                             float *dz)
{
    const float inv_hw = 1.0f / (float)g->hw;
    for (size_t t = 0; t < (size_t)g->n * g->co; t++)
        ds_hw[t] = ds[t] * inv_hw;
    const int tasks = (g->c + DZ_CHANNELS - 1) / DZ_CHANNELS;
#pragma omp parallel for schedule(static)
    for (int t = 0; t < tasks; t++) {
        const int ch0 = t * DZ_CHANNELS, len = g->c - ch0 < DZ_CHANNELS ? g->c - ch0 : DZ_CHANNELS;
        for (int img = 0; img < g->n; img++)
            channel_sums(len, g->co, ds_hw + (size_t)img * g->co, 1, w + ch0, (size_t)g->c, NULL,
                         dz + (size_t)img * g->c + ch0);
    }
}

/* dW += ds^T z (C/R x C), z the spatial mean of x. */
FACS_VECTOR_CLONES static void weight_gradient(const facs_geom *g, const float *ds, const float *z, float *dw)
{
#pragma omp parallel for schedule(static)
    for (int i = 0; i < g->co; i++) {
        float *row = dw + (size_t)i * g->c;
        channel_sums(g->c, g->n, ds + i, (size_t)g->co, z, (size_t)g->c, row, row);
    }
}

/* cmax and cavg (N x C/R) of every chunk: they depend on the image's p
 * only, so they are found once rather than per pixel, where the test of
 * threshold fusion would be a branch on random p. */
static void fusion_weights(const facs_geom *g, const float *prob, float *cmax, float *cavg)
{
    for (ptrdiff_t t = 0; t < (ptrdiff_t)g->n * g->co; t++)
        facs_fusion_coeffs(g->weighted, g->threshold, prob[t], &cmax[t], &cavg[t]);
}

/* dx = dz / HW broadcast over pixels + the fusion's own gradient. */
FACS_VECTOR_CLONES static void fusion_dx(const facs_geom *g, const float *x, const float *cmax, const float *cavg,
                                         const float *dy, const float *dz_hw, float *dx)
{
    ptrdiff_t pixels = g->n * g->hw;
#pragma omp parallel for schedule(static)
    for (ptrdiff_t q = 0; q < pixels; q++) {
        ptrdiff_t img = q / g->hw;
        FACS_BY_CHUNK(g->r, facs_dx_pixel, g->co, x + q * g->c, cmax + img * g->co, cavg + img * g->co, dy + q * g->co,
                      dz_hw + img * g->c, dx + q * g->c);
    }
}

facs_status facs_cpu_facs_backward(facs_ctx *ctx, const facs_fuse_params *p, const facs_tensor *x,
                                   const facs_tensor *w, const facs_tensor *z, const facs_tensor *prob,
                                   const facs_tensor *dy, facs_tensor *dx, facs_tensor *dw, facs_tensor *db)
{
    if (!dx && !dw && !db)
        return FACS_OK;
    facs_geom g = geometry(p, x, w);
    size_t nco = (size_t)g.n * g.co, nc = (size_t)g.n * g.c;
    const int group = images_per_group(&g);
    float *part_dp = facs_ctx_scratch(ctx, (size_t)group * g.co * g.blocks * sizeof(float));
    float *ds = facs_ctx_scratch(ctx, nco * sizeof(float));
    /* For dx: ds / HW, cmax and cavg (N x C/R each), then dz (N x C). */
    float *ds_hw = dx ? facs_ctx_scratch(ctx, (3 * nco + nc) * sizeof(float)) : NULL;
    if (!part_dp || !ds || (dx && !ds_hw))
        return facs_fail(FACS_ERR_MEMORY, "facs backward: out of scratch memory");
    const float *xd = facs_f32(x), *wd = facs_f32(w), *pd = facs_f32(prob), *gd = facs_f32(dy);

    float *cmax = dx ? ds_hw + nco : NULL, *cavg = dx ? cmax + nco : NULL, *dz = dx ? cavg + nco : NULL;
    for (int img = 0; img < g.n; img += group) {
        const facs_geom sub = image_group(&g, g.n - img < group ? g.n - img : group);
        const size_t at = (size_t)img * g.co, pixel = (size_t)img * g.hw;
        backward_sums(&sub, xd + pixel * g.c, pd + at, gd + pixel * g.co, part_dp);
        combine_blocks(&sub, part_dp, g.co, 1.0f, ds + at);
        /* Through the sigmoid: ds = dprob p (1 - p). */
        for (size_t t = at; t < at + (size_t)sub.n * g.co; t++)
            ds[t] *= pd[t] * (1.0f - pd[t]);
        if (dx) {
            mean_gradient(&sub, wd, ds + at, ds_hw + at, dz + (size_t)img * g.c);
            fusion_weights(&sub, pd + at, cmax + at, cavg + at);
            fusion_dx(&sub, xd + pixel * g.c, cmax + at, cavg + at, gd + pixel * g.co, dz + (size_t)img * g.c,
                      facs_f32(dx) + pixel * g.c);
        }
    }
    if (db) {
        float *dbd = facs_f32(db);
        for (int i = 0; i < g.co; i++) {
            float s = 0.0f;
            for (int img = 0; img < g.n; img++)
                s += ds[(size_t)img * g.co + i];
            dbd[i] += s;
        }
    }
    if (dw)
        weight_gradient(&g, ds, facs_f32(z), facs_f32(dw));
    return FACS_OK;
}
