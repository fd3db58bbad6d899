/* The dx pass of the CPU FACS backward (kernels/cpu/facs.c), one pixel at a
 * time: facs_dx_chunks, the scalar loop for any chunk size R, and
 * facs_dx_pixel, which takes four chunks per step on SSE2 vectors at R = 1, 2
 * and 4 and gives the same bits. For facs.c only: FACS_INLINE comes from it,
 * and each function is meant to be inlined with R a compile-time constant. */
#ifndef FACS_CPU_FACS_DX_H
#define FACS_CPU_FACS_DX_H

#include <math.h>

#include "../facs_fusion_math.h"

/* dx: base (dz / HW) + cavg dy / R on every channel of a chunk + cmax dy on
 * its first maximum (or first NaN); cmax and cavg are the image's per-chunk
 * weights (facs.c fusion_weights). The channels without a share of cmax dy add -0,
 * which is exact, so that a select of the addend, not of the sum, is all
 * the data decides. */
FACS_INLINE void facs_dx_chunks(int r, int first, int end, const float *row, const float *cmax,
                                const float *cavg, const float *grad, const float *base, float *out)
{
    for (int i = first; i < end; i++) {
        const float *chunk = row + i * r;
        const float m = facs_chunk_max(chunk, r);
        const float share = cavg[i] * grad[i] / (float)r;
        float rest = cmax[i] * grad[i];
        for (int k = 0; k < r; k++) {
            const int hit = (chunk[k] == m) | isnan(chunk[k]);
            const float add = hit ? rest : -0.0f;
            rest = hit ? -0.0f : rest;
            out[i * r + k] = base[i * r + k] + share + add;
        }
    }
}

#ifdef __SSE2__
#include <emmintrin.h>

/* GCC compiles the compares and selects of facs_dx_chunks, like the running
 * argmax before them, to branches (it will not speculate a float operation
 * that may trap), which random data mispredicts: the pass ran 3x slower at
 * R = 4 than at R = 2 and 7x over its memory floor. For R = 1, 2 and 4
 * facs_dx_pixel takes four chunks per step on SSE2 vectors (part of every
 * x86-64 CPU): lane j of vector k holds channel k of chunk i + j, so that the
 * reductions over a chunk are compares and selects across vectors, with no
 * branch. It does facs_dx_chunks' arithmetic in the same order (division by
 * R = 1, 2 or 4 is multiplication by 1 / R, exactly), so the results are
 * bit-identical. */

#define CHUNKS_PER_STEP 4

FACS_INLINE int has_simd_path(int r) { return r == 1 || r == 2 || r == 4; }

/* v[k] = channel k of the 4 chunks at p; store_chunks is the inverse. */
FACS_INLINE void load_chunks(int r, const float *p, __m128 *v)
{
    if (r == 1) {
        v[0] = _mm_loadu_ps(p);
    } else if (r == 2) {
        const __m128 lo = _mm_loadu_ps(p), hi = _mm_loadu_ps(p + 4);
        v[0] = _mm_shuffle_ps(lo, hi, _MM_SHUFFLE(2, 0, 2, 0));
        v[1] = _mm_shuffle_ps(lo, hi, _MM_SHUFFLE(3, 1, 3, 1));
    } else {
        for (int k = 0; k < 4; k++)
            v[k] = _mm_loadu_ps(p + 4 * k);
        _MM_TRANSPOSE4_PS(v[0], v[1], v[2], v[3]);
    }
}

FACS_INLINE void store_chunks(int r, __m128 *v, float *p)
{
    if (r == 1) {
        _mm_storeu_ps(p, v[0]);
    } else if (r == 2) {
        _mm_storeu_ps(p, _mm_unpacklo_ps(v[0], v[1]));
        _mm_storeu_ps(p + 4, _mm_unpackhi_ps(v[0], v[1]));
    } else {
        _MM_TRANSPOSE4_PS(v[0], v[1], v[2], v[3]);
        for (int k = 0; k < 4; k++)
            _mm_storeu_ps(p + 4 * k, v[k]);
    }
}

/* Steps whose chunks hold a NaN go to facs_dx_chunks; without NaN, the first
 * maximum is the first channel equal to the maximum (max_ps(a, b) is
 * a > b ? a : b, as in facs_chunk_max). At R = 1 it is the chunk's one
 * channel whatever x holds, and x is not read. */
FACS_INLINE void facs_dx_pixel(int r, int co, const float *row, const float *cmax, const float *cavg,
                               const float *grad, const float *base, float *out)
{
    const __m128 minus_zero = _mm_set1_ps(-0.0f), all = _mm_castsi128_ps(_mm_set1_epi32(-1));
    int i = 0;
    for (; has_simd_path(r) && i + CHUNKS_PER_STEP <= co; i += CHUNKS_PER_STEP) {
        __m128 x[4], m = all;
        if (r > 1) {
            load_chunks(r, row + i * r, x);
            __m128 nan = _mm_cmpunord_ps(x[0], x[1]);
            if (r == 4)
                nan = _mm_or_ps(nan, _mm_cmpunord_ps(x[2], x[3]));
            if (_mm_movemask_ps(nan)) {
                facs_dx_chunks(r, i, i + CHUNKS_PER_STEP, row, cmax, cavg, grad, base, out);
                continue;
            }
            m = x[0];
            for (int k = 1; k < r; k++)
                m = _mm_max_ps(x[k], m);
        }
        const __m128 gv = _mm_loadu_ps(grad + i);
        const __m128 share = _mm_mul_ps(_mm_mul_ps(_mm_loadu_ps(cavg + i), gv), _mm_set1_ps(1.0f / (float)r));
        /* The addend first ? cmax dy : -0, as (first & (cmax dy ^ -0)) ^ -0. */
        const __m128 extra_flip = _mm_xor_ps(_mm_mul_ps(_mm_loadu_ps(cmax + i), gv), minus_zero);
        __m128 v[4], seen = _mm_setzero_ps();
        load_chunks(r, base + i * r, v);
        for (int k = 0; k < r; k++) {
            const __m128 hit = r == 1 ? all : _mm_cmpeq_ps(x[k], m);
            const __m128 first = _mm_andnot_ps(seen, hit);
            seen = _mm_or_ps(seen, hit);
            const __m128 add = _mm_xor_ps(_mm_and_ps(first, extra_flip), minus_zero);
            v[k] = _mm_add_ps(_mm_add_ps(v[k], share), add);
        }
        store_chunks(r, v, out + i * r);
    }
    facs_dx_chunks(r, i, co, row, cmax, cavg, grad, base, out);
}
#else
FACS_INLINE void facs_dx_pixel(int r, int co, const float *row, const float *cmax, const float *cavg,
                               const float *grad, const float *base, float *out)
{
    facs_dx_chunks(r, 0, co, row, cmax, cavg, grad, base, out);
}
#endif

#endif
