/* conv2d on CUDA through cuDNN's convolution API (contract in backend.h).
 *
 * Activations are NHWC and weights OHWI, which cuDNN takes as they are:
 * CUDNN_TENSOR_NHWC tensors and a CUDNN_TENSOR_NHWC (KRSC) filter, so nothing
 * is reordered. Groups, stride, padding and dilation go into one convolution
 * descriptor (cross-correlation, as in PyTorch).
 *
 * Math is CUDNN_FMA_MATH: plain fp32 FMA kernels. CUDNN_DEFAULT_MATH would let
 * Ampere and newer cards run fp32 convolutions in TF32 on the tensor cores
 * (10 mantissa bits), far outside the 1e-5 at which we match the CPU.
 *
 * Algorithms come from cuDNN's heuristics (the _v7 queries, which run nothing
 * and need no memory): the first one that is supported, deterministic, FMA and
 * needs at most kWorkspaceCap of workspace (where a shape has no deterministic
 * one, the best other one, with a warning). FACS_CUDNN_ALGO=benchmark times
 * them instead and takes the fastest FMA one, deterministic or not;
 * FACS_CUDNN_ALGO=graph runs each shape the graph API plans for through it
 * (conv2d_graph.cu; graph_benchmark: its plans timed). The choice is kept per shape and direction in a small
 * table; its workspace comes from the context's arena.
 * For NHWC fp32 under FMA math, cuDNN 9.19 on an H200 offers only the implicit
 * GEMMs forward and algorithms 0 and 1 backward; 0 adds with atomics, so the
 * backward passes run algorithm 1. Its weight gradient sums N OH OW terms
 * about as a serial float loop would (8.7e-6 relative at 320k pixels).
 *
 * The bias and the inference post-ops (residual sum, ReLU) are one small
 * kernel after the convolution; the bias gradient is a fixed-order reduction
 * here rather than cudnnConvolutionBackwardBias, so that its determinism and
 * summation order are ours to state. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <mutex>

#include "../conv2d_impl.h"
#include "../env_word.h"
#include "cache_slot.h"
#include "conv2d_graph.cuh"
#include "pixel_sums.cuh"

namespace {

/* Larger workspaces would crowd the arena. The deterministic backward
 * algorithm needed more than 256 MiB for PSPNet-101's 3x3 4096 -> 512
 * pyramid conv at 90x90 and for a 1x1 256 -> 128 conv at batch 64 x 56x56. */
constexpr size_t kWorkspaceCap = (size_t)2 << 30;
constexpr int kCacheSlots = 256;
/* Room for the heuristics' answers; cuDNN may list an algorithm once per math
 * type, so this is more than the number of algorithms. */
constexpr int kMaxPerf = 32;

enum Direction { kForward = 0, kBackwardData = 1, kBackwardFilter = 2, kDirections = 3 };

const char *const kDirectionNames[kDirections] = {"forward", "backward data", "backward filter"};

/* Everything the descriptors are made of; all ints, so memcmp compares it. */
struct ConvKey {
    int n, c, h, w;
    int co, kh, kw;
    int stride_h, stride_w, pad_h, pad_w, dil_h, dil_w, groups;
};

struct Choice {
    bool ready;
    int algo;         /* the direction's cudnnConvolution*Algo_t */
    size_t workspace; /* bytes */
};

struct CacheEntry {
    ConvKey key;
    Choice choice[kDirections];
};

/* Contexts are single-threaded, but several contexts may run in threads of one
 * process and share this table. */
std::mutex g_cache_mutex;
CacheEntry g_cache[kCacheSlots];
int g_cache_used = 0;
int g_cache_next_victim = 0; /* round-robin once the table is full */

ConvKey key_of(const facs_conv2d_params *p, const facs_tensor *x, const facs_tensor *w)
{
    ConvKey k;
    memset(&k, 0, sizeof k);
    k.n = x->n;
    k.c = x->c;
    k.h = x->h;
    k.w = x->w;
    k.co = w->n;
    k.kh = w->h;
    k.kw = w->w;
    k.stride_h = p->stride_h;
    k.stride_w = p->stride_w;
    k.pad_h = p->pad_h;
    k.pad_w = p->pad_w;
    k.dil_h = p->dil_h;
    k.dil_w = p->dil_w;
    k.groups = p->groups;
    return k;
}

/* The cuDNN descriptors of one call, destroyed on every way out. y is the
 * output's shape (y or dy). */
struct ConvDescs {
    cudnnTensorDescriptor_t x = nullptr, y = nullptr;
    cudnnFilterDescriptor_t w = nullptr;
    cudnnConvolutionDescriptor_t conv = nullptr;

    ConvDescs() = default;
    ConvDescs(const ConvDescs &) = delete;
    ConvDescs &operator=(const ConvDescs &) = delete;

    ~ConvDescs()
    {
        if (conv)
            (void)cudnnDestroyConvolutionDescriptor(conv);
        if (w)
            (void)cudnnDestroyFilterDescriptor(w);
        if (y)
            (void)cudnnDestroyTensorDescriptor(y);
        if (x)
            (void)cudnnDestroyTensorDescriptor(x);
    }

    facs_status init(const facs_conv2d_params *p, const facs_tensor *xt, const facs_tensor *wt,
                     const facs_tensor *yt)
    {
        FACS_CUDNN_CHECK(cudnnCreateTensorDescriptor(&x));
        FACS_CUDNN_CHECK(
            cudnnSetTensor4dDescriptor(x, CUDNN_TENSOR_NHWC, CUDNN_DATA_FLOAT, xt->n, xt->c, xt->h, xt->w));
        FACS_CUDNN_CHECK(cudnnCreateTensorDescriptor(&y));
        FACS_CUDNN_CHECK(
            cudnnSetTensor4dDescriptor(y, CUDNN_TENSOR_NHWC, CUDNN_DATA_FLOAT, yt->n, yt->c, yt->h, yt->w));
        /* (O, I/groups, KH, KW) stored OHWI is cuDNN's NHWC (KRSC) filter. */
        FACS_CUDNN_CHECK(cudnnCreateFilterDescriptor(&w));
        FACS_CUDNN_CHECK(
            cudnnSetFilter4dDescriptor(w, CUDNN_DATA_FLOAT, CUDNN_TENSOR_NHWC, wt->n, wt->c, wt->h, wt->w));
        FACS_CUDNN_CHECK(cudnnCreateConvolutionDescriptor(&conv));
        FACS_CUDNN_CHECK(cudnnSetConvolution2dDescriptor(conv, p->pad_h, p->pad_w, p->stride_h, p->stride_w, p->dil_h,
                                                         p->dil_w, CUDNN_CROSS_CORRELATION, CUDNN_DATA_FLOAT));
        FACS_CUDNN_CHECK(cudnnSetConvolutionGroupCount(conv, p->groups));
        FACS_CUDNN_CHECK(cudnnSetConvolutionMathType(conv, CUDNN_FMA_MATH));
        return FACS_OK;
    }
};

/* How algorithms are chosen (FACS_CUDNN_ALGO, read once): heuristic (the
 * default) takes cuDNN's heuristics, deterministic algorithms first;
 * benchmark times every algorithm once per shape (cudnnFind*, as PyTorch's
 * cudnn.benchmark = True with deterministic = False) and runs the fastest,
 * deterministic or not; graph runs each shape through cuDNN's graph API
 * (conv2d_graph.cu: more engines, deterministic ones first), where it has a
 * plan for it, and through the heuristics' choice elsewhere; graph_benchmark
 * as graph, but the deterministic plain-fp32 plans are timed and the
 * fastest kept. */
enum Selection { kHeuristic = 0, kBenchmark = 1, kGraph = 2, kGraphBenchmark = 3 };

Selection selection(void)
{
    static const char *const words[] = {"heuristic", "benchmark", "graph", "graph_benchmark"};
    static const Selection chosen = (Selection)facs_env_word("FACS_CUDNN_ALGO", words, 4);
    return chosen;
}

bool on_graph(void) { return selection() == kGraph || selection() == kGraphBenchmark; }

bool benchmarking(void) { return selection() == kBenchmark; }

/* Index of the first answer we may run, or -1. Answers come best first.
 * A deterministic one when cuDNN has one for the shape (unless benchmarking);
 * otherwise the best FMA one. */
template <class Perf>
int usable_among(const Perf *perf, int count, bool deterministic_only)
{
    for (int i = 0; i < count; i++) {
        bool tensor_cores =
            perf[i].mathType == CUDNN_TENSOR_OP_MATH || perf[i].mathType == CUDNN_TENSOR_OP_MATH_ALLOW_CONVERSION;
        bool deterministic = perf[i].determinism == CUDNN_DETERMINISTIC;
        if (perf[i].status == CUDNN_STATUS_SUCCESS && (deterministic || !deterministic_only) && !tensor_cores &&
            perf[i].memory <= kWorkspaceCap)
            return i;
    }
    return -1;
}

/* usable_among's choice. Falling back to a non-deterministic algorithm is the
 * only departure from bitwise reproducible runs (docs/cuda.md) that nobody
 * asked for, so the heuristic mode says it, once per shape. */
template <class Perf>
int first_usable(const Perf *perf, int count, Direction dir, const ConvKey &k, bool timed)
{
    int i = usable_among(perf, count, !timed);
    if (i >= 0 || timed)
        return i;
    i = usable_among(perf, count, false);
    if (i >= 0)
        fprintf(stderr,
                "warning: conv2d %s (cuda): cuDNN has no deterministic fp32 algorithm for x (%d, %d, %d, %d), "
                "w (%d, %d, %d, %d); using algorithm %d, whose sums may differ in the last bits from run to run\n",
                kDirectionNames[dir], k.n, k.c, k.h, k.w, k.co, k.c / k.groups, k.kh, k.kw, (int)perf[i].algo);
    return i;
}

facs_status no_algorithm(Direction dir, const ConvKey &k)
{
    return facs_fail(FACS_ERR_UNSUPPORTED,
                     "conv2d %s (cuda): cuDNN offers no fp32 (FMA) algorithm needing at most %zu MiB "
                     "of workspace for x (%d, %d, %d, %d), w (%d, %d, %d, %d), stride (%d, %d), padding (%d, %d), "
                     "dilation (%d, %d), groups %d",
                     kDirectionNames[dir], kWorkspaceCap >> 20, k.n, k.c, k.h, k.w, k.co, k.c / k.groups, k.kh, k.kw,
                     k.stride_h, k.stride_w, k.pad_h, k.pad_w, k.dil_h, k.dil_w, k.groups);
}

/* Each direction's cuDNN queries: the heuristics, the timing, the workspace. */
struct ForwardQueries {
    using Perf = cudnnConvolutionFwdAlgoPerf_t;
    static constexpr Direction dir = kForward;
    static cudnnStatus_t heuristic(cudnnHandle_t h, const ConvDescs &d, int *count, Perf *perf)
    {
        return cudnnGetConvolutionForwardAlgorithm_v7(h, d.x, d.w, d.conv, d.y, kMaxPerf, count, perf);
    }
    static cudnnStatus_t timed(cudnnHandle_t h, const ConvDescs &d, int *count, Perf *perf)
    {
        return cudnnFindConvolutionForwardAlgorithm(h, d.x, d.w, d.conv, d.y, kMaxPerf, count, perf);
    }
    static cudnnStatus_t workspace(cudnnHandle_t h, const ConvDescs &d, const Perf &p, size_t *bytes)
    {
        return cudnnGetConvolutionForwardWorkspaceSize(h, d.x, d.w, d.conv, d.y, p.algo, bytes);
    }
};

struct BackwardDataQueries {
    using Perf = cudnnConvolutionBwdDataAlgoPerf_t;
    static constexpr Direction dir = kBackwardData;
    static cudnnStatus_t heuristic(cudnnHandle_t h, const ConvDescs &d, int *count, Perf *perf)
    {
        return cudnnGetConvolutionBackwardDataAlgorithm_v7(h, d.w, d.y, d.conv, d.x, kMaxPerf, count, perf);
    }
    static cudnnStatus_t timed(cudnnHandle_t h, const ConvDescs &d, int *count, Perf *perf)
    {
        return cudnnFindConvolutionBackwardDataAlgorithm(h, d.w, d.y, d.conv, d.x, kMaxPerf, count, perf);
    }
    static cudnnStatus_t workspace(cudnnHandle_t h, const ConvDescs &d, const Perf &p, size_t *bytes)
    {
        return cudnnGetConvolutionBackwardDataWorkspaceSize(h, d.w, d.y, d.conv, d.x, p.algo, bytes);
    }
};

struct BackwardFilterQueries {
    using Perf = cudnnConvolutionBwdFilterAlgoPerf_t;
    static constexpr Direction dir = kBackwardFilter;
    static cudnnStatus_t heuristic(cudnnHandle_t h, const ConvDescs &d, int *count, Perf *perf)
    {
        return cudnnGetConvolutionBackwardFilterAlgorithm_v7(h, d.x, d.y, d.conv, d.w, kMaxPerf, count, perf);
    }
    static cudnnStatus_t timed(cudnnHandle_t h, const ConvDescs &d, int *count, Perf *perf)
    {
        return cudnnFindConvolutionBackwardFilterAlgorithm(h, d.x, d.y, d.conv, d.w, kMaxPerf, count, perf);
    }
    static cudnnStatus_t workspace(cudnnHandle_t h, const ConvDescs &d, const Perf &p, size_t *bytes)
    {
        return cudnnGetConvolutionBackwardFilterWorkspaceSize(h, d.x, d.y, d.conv, d.w, p.algo, bytes);
    }
};

/* The algorithm of one direction for the shape of d. Timing runs every
 * algorithm in buffers cuDNN allocates itself; where a full device refuses
 * them, or no timed algorithm may run, the shape takes the heuristics'
 * choice, with a note. */
template <class Q>
facs_status choose(cudnnHandle_t handle, const ConvDescs &d, const ConvKey &k, Choice *out)
{
    typename Q::Perf perf[kMaxPerf];
    int count = 0, i = -1;
    if (benchmarking()) {
        cudnnStatus_t st = Q::timed(handle, d, &count, perf);
        /* An allocation cuDNN was refused while timing stays CUDA's last
         * error, which the next kernel launch's check would report as its own. */
        (void)cudaGetLastError();
        if (st == CUDNN_STATUS_SUCCESS)
            i = first_usable(perf, count, Q::dir, k, true);
        if (i < 0)
            fprintf(stderr,
                    "note: conv2d %s (cuda): timing the algorithms for x (%d, %d, %d, %d), w (%d, %d, %d, %d) "
                    "gave none to run (%s); taking the heuristics' choice\n",
                    kDirectionNames[Q::dir], k.n, k.c, k.h, k.w, k.co, k.c / k.groups, k.kh, k.kw,
                    st == CUDNN_STATUS_SUCCESS ? "none of them is FMA, ran and fits the workspace cap"
                                               : cudnnGetErrorString(st));
    }
    if (i < 0) {
        FACS_CUDNN_CHECK(Q::heuristic(handle, d, &count, perf));
        i = first_usable(perf, count, Q::dir, k, false);
    }
    if (i < 0)
        return no_algorithm(Q::dir, k);
    size_t bytes = 0;
    FACS_CUDNN_CHECK(Q::workspace(handle, d, perf[i], &bytes));
    *out = Choice{true, (int)perf[i].algo, bytes};
    return FACS_OK;
}

/* The table's entry for k, made (evicting round-robin when full) if absent. */
CacheEntry *cache_entry(const ConvKey &k)
{
    for (int i = 0; i < g_cache_used; i++)
        if (memcmp(&g_cache[i].key, &k, sizeof k) == 0)
            return &g_cache[i];
    CacheEntry *e = &g_cache[facs_cache_slot(&g_cache_used, &g_cache_next_victim, kCacheSlots)];
    memset(e, 0, sizeof *e);
    e->key = k;
    return e;
}

/* The algorithm for one direction of k: from the table, or chosen now. */
facs_status choice_for(cudnnHandle_t handle, const ConvDescs &d, const ConvKey &k, Direction dir, Choice *out)
{
    std::lock_guard<std::mutex> lock(g_cache_mutex);
    CacheEntry *e = cache_entry(k);
    Choice *c = &e->choice[dir];
    if (!c->ready) {
        Choice fresh{};
        if (dir == kForward)
            FACS_TRY(choose<ForwardQueries>(handle, d, k, &fresh));
        else if (dir == kBackwardData)
            FACS_TRY(choose<BackwardDataQueries>(handle, d, k, &fresh));
        else
            FACS_TRY(choose<BackwardFilterQueries>(handle, d, k, &fresh));
        *c = fresh;
    }
    *out = *c;
    return FACS_OK;
}

/* cuDNN's name of a direction's algorithm (the enum without its prefix). */
const char *algorithm_name(Direction dir, int algo)
{
    static const char *const forward[] = {"IMPLICIT_GEMM", "IMPLICIT_PRECOMP_GEMM", "GEMM", "DIRECT",
                                          "FFT", "FFT_TILING", "WINOGRAD", "WINOGRAD_NONFUSED"};
    static const char *const data[] = {"ALGO_0", "ALGO_1", "FFT", "FFT_TILING", "WINOGRAD", "WINOGRAD_NONFUSED"};
    static const char *const filter[] = {"ALGO_0", "ALGO_1",           "FFT",       "ALGO_3",
                                         "WINOGRAD", "WINOGRAD_NONFUSED", "FFT_TILING"};
    static_assert(sizeof forward / sizeof *forward == CUDNN_CONVOLUTION_FWD_ALGO_COUNT &&
                      sizeof data / sizeof *data == CUDNN_CONVOLUTION_BWD_DATA_ALGO_COUNT &&
                      sizeof filter / sizeof *filter == CUDNN_CONVOLUTION_BWD_FILTER_ALGO_COUNT,
                  "one name per cuDNN algorithm");
    const char *const *names = dir == kForward ? forward : dir == kBackwardData ? data : filter;
    int count = dir == kForward       ? (int)CUDNN_CONVOLUTION_FWD_ALGO_COUNT
                : dir == kBackwardData ? (int)CUDNN_CONVOLUTION_BWD_DATA_ALGO_COUNT
                                       : (int)CUDNN_CONVOLUTION_BWD_FILTER_ALGO_COUNT;
    return algo >= 0 && algo < count ? names[algo] : "unknown";
}

facs_status workspace_for(facs_ctx *ctx, const char *op, size_t bytes, void **out)
{
    *out = nullptr;
    return bytes ? facs_cuda_scratch(ctx, op, bytes, out) : FACS_OK;
}

/* The graph module's key for one direction of the call; accumulate: beta 1. */
FacsConvGraphKey graph_key(const facs_conv2d_params *p, const facs_tensor *x, const facs_tensor *w,
                           const facs_tensor *y, FacsConvGraphDirection dir, bool accumulate)
{
    FacsConvGraphKey k;
    memset(&k, 0, sizeof k);
    k.n = x->n, k.c = x->c, k.h = x->h, k.w = x->w;
    k.co = w->n, k.kh = w->h, k.kw = w->w;
    k.stride_h = p->stride_h, k.stride_w = p->stride_w, k.pad_h = p->pad_h, k.pad_w = p->pad_w;
    k.dil_h = p->dil_h, k.dil_w = p->dil_w, k.groups = p->groups;
    k.oh = y->h, k.ow = y->w;
    k.direction = dir;
    k.accumulate = accumulate;
    k.timed = selection() == kGraphBenchmark;
    return k;
}

/* Whether a call's tensors meet the alignment the graph plans promise cuDNN
 * (16 bytes). Views that start inside a buffer (a batch slice of an odd-sized
 * image) may not; the legacy API runs them. */
bool graph_aligned(const void *a, const void *b, const void *c)
{
    return ((uintptr_t)a | (uintptr_t)b | (uintptr_t)c) % 16 == 0;
}

/* With FACS_CUDNN_ALGO=graph, whether the graph API has a plan for k (its
 * workspace in *bytes) and the call's tensors are aligned for it. A shape it
 * refuses (the module says so once) runs on the legacy API. */
bool graph_planned(cudnnHandle_t handle, const FacsConvGraphKey &k, bool aligned, size_t *bytes)
{
    *bytes = 0;
    if (!on_graph() || !aligned)
        return false;
    if (facs_cuda_conv_graph_plan(handle, k, kWorkspaceCap, bytes, nullptr, 0) == FACS_OK)
        return true;
    facs_clear_error();
    return false;
}

/* y = y + b[channel], then the post-op activation: max(0, .) or the clip
 * to [0, 6]. The comparisons are the activation ops' (elementwise.cu): NaN
 * fails both, so it stays NaN, as PyTorch's relu and relu6 keep it. */
__global__ void bias_activation(float *__restrict__ y, const float *__restrict__ b, size_t total, int co,
                                facs_post_act act)
{
    for (size_t idx = (size_t)blockIdx.x * blockDim.x + threadIdx.x; idx < total;
         idx += (size_t)gridDim.x * blockDim.x) {
        float v = y[idx];
        if (b)
            v += b[idx % co];
        if (act != FACS_POST_NONE && v < 0.0f)
            v = 0.0f;
        if (act == FACS_POST_RELU6 && v > 6.0f)
            v = 6.0f;
        y[idx] = v;
    }
}

/* db += the sum of dy over N, OH and OW: the batch's pixels as one image. */
facs_status bias_grad(facs_ctx *ctx, const char *op, const facs_tensor *dy, facs_tensor *db)
{
    int rows = dy->n * dy->h * dy->w;
    void *partial;
    FACS_TRY(facs_cuda_scratch(ctx, op, facs_cuda_pixel_sum_floats(1, rows, dy->c) * sizeof(float), &partial));
    return facs_cuda_pixel_sums(FacsPixelValue{facs_f32(dy), rows, dy->c}, 1, rows, dy->c, (float *)partial,
                                FacsSumAccumulate{facs_f32(db)});
}

} // namespace

facs_status facs_cuda_conv2d_forward(facs_ctx *ctx, const facs_conv2d_params *p, const facs_tensor *x,
                                     const facs_tensor *w, const facs_tensor *b, facs_tensor *y)
{
    size_t total = facs_tensor_numel(y);
    if (total == 0)
        return FACS_OK;
    const char *op = "conv2d forward (cuda)";
    cudnnHandle_t handle;
    FACS_TRY(facs_cuda_cudnn(&handle));
    /* beta = 1 adds the residual that post_sum leaves in y; beta = 0 never
     * reads y, so whatever it held (even NaN) is overwritten. */
    const FacsConvGraphKey graph = graph_key(p, x, w, y, kFacsConvGraphForward, p->post_sum);
    size_t graph_bytes;
    void *ws;
    if (graph_planned(handle, graph, graph_aligned(x->data, w->data, y->data), &graph_bytes)) {
        FACS_TRY(workspace_for(ctx, op, graph_bytes, &ws));
        FACS_TRY(facs_cuda_conv_graph_run(handle, graph, x->data, w->data, y->data, ws, graph_bytes));
    } else {
        ConvDescs d;
        FACS_TRY(d.init(p, x, w, y));
        Choice c;
        FACS_TRY(choice_for(handle, d, key_of(p, x, w), kForward, &c));
        FACS_TRY(workspace_for(ctx, op, c.workspace, &ws));
        const float one = 1.0f, zero = 0.0f;
        FACS_CUDNN_CHECK(cudnnConvolutionForward(handle, &one, d.x, x->data, d.w, w->data, d.conv,
                                                 (cudnnConvolutionFwdAlgo_t)c.algo, ws, c.workspace,
                                                 p->post_sum ? &one : &zero, d.y, y->data));
    }
    if (b || p->post_act != FACS_POST_NONE) {
        bias_activation<<<facs_cuda_blocks(total), kFacsCudaThreads>>>(facs_f32(y), b ? facs_f32(b) : nullptr, total,
                                                                       y->c, p->post_act);
        FACS_CUDA_CHECK_LAUNCH("bias_activation");
    }
    return FACS_OK;
}

facs_status facs_cuda_conv2d_backward(facs_ctx *ctx, const facs_conv2d_params *p, const facs_tensor *x,
                                      const facs_tensor *w, const facs_tensor *dy, facs_tensor *dx, facs_tensor *dw,
                                      facs_tensor *db)
{
    if (facs_tensor_numel(dy) == 0) {
        /* No outputs: dx is 0 and the parameter gradients gain nothing. */
        if (dx)
            FACS_CUDA_CHECK(cudaMemset(dx->data, 0, facs_tensor_bytes(dx)));
        return FACS_OK;
    }
    const char *op = "conv2d backward (cuda)";
    if (db)
        FACS_TRY(bias_grad(ctx, op, dy, db));
    if (!dx && !dw)
        return FACS_OK;

    cudnnHandle_t handle;
    FACS_TRY(facs_cuda_cudnn(&handle));
    ConvDescs d;
    FACS_TRY(d.init(p, x, w, dy));
    ConvKey key = key_of(p, x, w);
    /* dx is written (beta 0), dw accumulates (beta 1). Each direction runs
     * on the graph API where it has a plan, else on the legacy one. */
    const FacsConvGraphKey graph_data = graph_key(p, x, w, dy, kFacsConvGraphBackwardData, false);
    const FacsConvGraphKey graph_filter = graph_key(p, x, w, dy, kFacsConvGraphBackwardFilter, true);
    size_t data_graph_bytes = 0, filter_graph_bytes = 0;
    const bool data_on_graph =
        dx && graph_planned(handle, graph_data, graph_aligned(w->data, dy->data, dx->data), &data_graph_bytes);
    const bool filter_on_graph =
        dw && graph_planned(handle, graph_filter, graph_aligned(x->data, dy->data, dw->data), &filter_graph_bytes);
    Choice data{}, filter{};
    if (dx && !data_on_graph)
        FACS_TRY(choice_for(handle, d, key, kBackwardData, &data));
    if (dw && !filter_on_graph)
        FACS_TRY(choice_for(handle, d, key, kBackwardFilter, &filter));
    const size_t data_bytes = data_on_graph ? data_graph_bytes : data.workspace;
    const size_t filter_bytes = filter_on_graph ? filter_graph_bytes : filter.workspace;
    /* The stream runs the two calls one after the other, so they share one
     * workspace. */
    void *ws;
    FACS_TRY(workspace_for(ctx, op, data_bytes > filter_bytes ? data_bytes : filter_bytes, &ws));

    const float one = 1.0f, zero = 0.0f;
    if (data_on_graph)
        FACS_TRY(facs_cuda_conv_graph_run(handle, graph_data, w->data, dy->data, dx->data, ws, data_bytes));
    else if (dx)
        FACS_CUDNN_CHECK(cudnnConvolutionBackwardData(handle, &one, d.w, w->data, d.y, dy->data, d.conv,
                                                      (cudnnConvolutionBwdDataAlgo_t)data.algo, ws, data_bytes,
                                                      &zero, d.x, dx->data));
    if (filter_on_graph)
        FACS_TRY(facs_cuda_conv_graph_run(handle, graph_filter, x->data, dy->data, dw->data, ws, filter_bytes));
    else if (dw)
        FACS_CUDNN_CHECK(cudnnConvolutionBackwardFilter(handle, &one, d.x, x->data, d.y, dy->data, d.conv,
                                                        (cudnnConvolutionBwdFilterAlgo_t)filter.algo, ws,
                                                        filter_bytes, &one, d.w, dw->data));
    return FACS_OK;
}

facs_status facs_cuda_conv2d_impl_names(const facs_conv2d_params *p, const facs_tensor *x, const facs_tensor *w,
                                        facs_conv2d_impl *out)
{
    cudnnHandle_t handle;
    FACS_TRY(facs_cuda_cudnn(&handle));
    const facs_tensor y = facs_conv2d_impl_output(p, x, w);
    ConvDescs d;
    FACS_TRY(d.init(p, x, w, &y));
    const ConvKey key = key_of(p, x, w);
    char *const names[kDirections] = {out->forward, out->backward_data, out->backward_weights};
    for (int dir = 0; dir < kDirections; dir++) {
        /* The beta each direction runs with when it trains (no post-sum). */
        const FacsConvGraphKey graph = graph_key(p, x, w, &y, (FacsConvGraphDirection)dir, dir == kBackwardFilter);
        size_t bytes;
        if (graph_planned(handle, graph, true, &bytes)) {
            FACS_TRY(facs_cuda_conv_graph_plan(handle, graph, kWorkspaceCap, &bytes, names[dir], sizeof out->forward));
            continue;
        }
        Choice c;
        FACS_TRY(choice_for(handle, d, key, (Direction)dir, &c));
        snprintf(names[dir], sizeof out->forward, "%s, %zu MiB workspace", algorithm_name((Direction)dir, c.algo),
                 c.workspace >> 20);
    }
    return FACS_OK;
}
