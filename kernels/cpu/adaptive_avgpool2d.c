/* Adaptive average pooling on NHWC tensors with PyTorch's bin edges:
 * bin i of an axis of size in split into out bins covers
 * [floor(i in / out), ceil((i + 1) in / out)). Bins overlap when out does not
 * divide in, and repeat input rows when in < out. oneDNN has no adaptive
 * pooling, so these are own loops over contiguous channel vectors. */
#include <omp.h>

#include "cpu_ops.h"

/* Channel chunks of a forward task stay long and contiguous (reads of
 * 64 floats strided by a large C defeat the prefetcher); they are split only
 * to give every thread work when there are few bins, as in global pooling. */
#define CHUNK_MIN 256
/* Below this many input elements a single thread beats waking the pool. */
#define PARALLEL_MIN 32768

static int bin_start(int i, int in, int out) { return (int)((int64_t)i * in / out); }
static int bin_end(int i, int in, int out) { return (int)(((int64_t)(i + 1) * in + out - 1) / out); }

/* The bins containing input index j: [floor(j out / in), ceil((j + 1) out / in) - 1],
 * the mirror image of the bin edges above. */
static int first_bin(int j, int in, int out) { return bin_start(j, out, in); }
static int last_bin(int j, int in, int out) { return bin_end(j, out, in) - 1; }

/* Channels per forward task: whole rows when the bins alone give each thread
 * a few tasks, otherwise chunks of at least CHUNK_MIN (a multiple of 16, one
 * cache line of floats). */
static int forward_chunk(int C, long bins)
{
    long want = 4L * omp_get_max_threads();
    long chunks = bins >= want ? 1 : (want + bins - 1) / bins;
    long chunk = (C + chunks - 1) / chunks;
    chunk = (chunk + 15) / 16 * 16;
    return chunk < CHUNK_MIN ? (C < CHUNK_MIN ? C : CHUNK_MIN) : (chunk > C ? C : (int)chunk);
}

facs_status facs_cpu_adaptive_avgpool2d_forward(facs_ctx *ctx, const facs_tensor *x, facs_tensor *y)
{
    (void)ctx;
    const int N = x->n, C = x->c, H = x->h, W = x->w, OH = y->h, OW = y->w;
    const int chunk = forward_chunk(C, (long)N * OH * OW), chunks = (C + chunk - 1) / chunk;
    const float *xd = facs_f32(x);
    float *yd = facs_f32(y);
    const long tasks = (long)N * OH * OW * chunks;
#pragma omp parallel for schedule(static) if (facs_tensor_numel(x) >= PARALLEL_MIN && tasks > 1)
    for (long t = 0; t < tasks; t++) {
        const long bin = t / chunks;
        const int ow = (int)(bin % OW), oh = (int)(bin / OW % OH), n = (int)(bin / OW / OH);
        const int c0 = (int)(t % chunks) * chunk, cb = C - c0 < chunk ? C - c0 : chunk;
        const int h0 = bin_start(oh, H, OH), h1 = bin_end(oh, H, OH);
        const int w0 = bin_start(ow, W, OW), w1 = bin_end(ow, W, OW);
        float *out = yd + (size_t)bin * C + c0;
        for (int c = 0; c < cb; c++)
            out[c] = 0.0f;
        for (int h = h0; h < h1; h++)
            for (int w = w0; w < w1; w++) {
                const float *v = xd + ((size_t)(n * H + h) * W + w) * C + c0;
#pragma omp simd
                for (int c = 0; c < cb; c++)
                    out[c] += v[c];
            }
        const float count = (float)((h1 - h0) * (w1 - w0));
        for (int c = 0; c < cb; c++)
            out[c] /= count;
    }
    return FACS_OK;
}

/* A gather: each input pixel sums dy / bin size over the bins that contain
 * it, so every dx row is written once (=) by one thread, with no zeroing. */
facs_status facs_cpu_adaptive_avgpool2d_backward(facs_ctx *ctx, const facs_tensor *dy, facs_tensor *dx)
{
    (void)ctx;
    if (!dx)
        return FACS_OK;
    const int N = dx->n, C = dx->c, H = dx->h, W = dx->w, OH = dy->h, OW = dy->w;
    const float *dyd = facs_f32(dy);
    float *dxd = facs_f32(dx);
#pragma omp parallel for schedule(static) if (facs_tensor_numel(dx) >= PARALLEL_MIN)
    for (int t = 0; t < N * H; t++) {
        const int n = t / H, ih = t % H;
        const int oh0 = first_bin(ih, H, OH), oh1 = last_bin(ih, H, OH);
        for (int iw = 0; iw < W; iw++) {
            const int ow0 = first_bin(iw, W, OW), ow1 = last_bin(iw, W, OW);
            float *out = dxd + ((size_t)t * W + iw) * C;
            for (int c = 0; c < C; c++)
                out[c] = 0.0f;
            for (int oh = oh0; oh <= oh1; oh++) {
                const int kh = bin_end(oh, H, OH) - bin_start(oh, H, OH);
                for (int ow = ow0; ow <= ow1; ow++) {
                    const float count = (float)(kh * (bin_end(ow, W, OW) - bin_start(ow, W, OW)));
                    const float *g = dyd + ((size_t)(n * OH + oh) * OW + ow) * C;
#pragma omp simd
                    for (int c = 0; c < C; c++)
                        out[c] += g[c] / count;
                }
            }
        }
    }
    return FACS_OK;
}
