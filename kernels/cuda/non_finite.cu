/* count_non_finite on CUDA (backend.h): every block counts its share of x in
 * a grid-stride loop, sums the count over its threads (warp shuffles, then
 * the warps' sums) and adds it to the counter with one integer atomic. An
 * integer sum is exact in any order, so the count is deterministic even
 * though the blocks' atomics land in any order. */
#include <stddef.h>
#include <stdint.h>

#include "cuda_ops.h"

namespace {

constexpr unsigned kWarps = kFacsCudaThreads / 32;
/* Enough blocks to fill a large GPU; more would only add atomics. */
constexpr size_t kMaxBlocks = 1024;

/* NaN and infinities are the floats whose exponent bits are all ones. */
__device__ __forceinline__ unsigned long long is_non_finite(float v)
{
    return (__float_as_uint(v) & 0x7f800000u) == 0x7f800000u;
}

__global__ void count_non_finite_kernel(size_t count, const float *__restrict__ x,
                                        unsigned long long *__restrict__ counter)
{
    __shared__ unsigned long long warp_sums[kWarps];
    unsigned long long bad = 0;
    for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < count; i += (size_t)gridDim.x * blockDim.x)
        bad += is_non_finite(x[i]);
    for (int offset = 16; offset > 0; offset /= 2)
        bad += __shfl_down_sync(0xffffffffu, bad, offset);
    if (threadIdx.x % 32 == 0)
        warp_sums[threadIdx.x / 32] = bad;
    __syncthreads();
    if (threadIdx.x == 0) {
        unsigned long long block = 0;
        for (unsigned w = 0; w < kWarps; w++)
            block += warp_sums[w];
        if (block)
            atomicAdd(counter, block);
    }
}

} // namespace

facs_status facs_cuda_count_non_finite(size_t count, const float *x, int64_t *counter)
{
    if (count == 0)
        return FACS_OK;
    size_t blocks = facs_cuda_blocks(count);
    if (blocks > kMaxBlocks)
        blocks = kMaxBlocks;
    /* CUDA's 64-bit atomicAdd is unsigned; a count below 2^63 has the same bits either way. */
    unsigned long long *sum = reinterpret_cast<unsigned long long *>(counter);
    count_non_finite_kernel<<<(unsigned)blocks, kFacsCudaThreads>>>(count, x, sum);
    FACS_CUDA_CHECK_LAUNCH("count_non_finite_kernel");
    return FACS_OK;
}
