/* conv2d through cuDNN's graph (backend) API (contract in conv2d_graph.cuh).
 *
 * Why: for NHWC fp32 under FMA math, cuDNN 9.19's legacy API offers an H200
 * only the implicit GEMMs forward and algorithms 0 and 1 backward
 * (conv2d.cu). Its graph API reaches more engines for the same convolution.
 * FACS_CUDNN_ALGO=graph makes conv2d.cu come here first; every shape this
 * module refuses stays on the legacy API.
 *
 * Each key (shape, direction, beta) is an operation graph of one convolution
 * op on fp32 tensors described in N, C, H, W order with NHWC strides (filters
 * K, C, R, S with KRSC strides), so nothing is reordered. The heuristics (mode
 * A, then FALLBACK) list engine configs best first; the first one that
 * qualifies becomes the key's execution plan:
 *   - its engine's numerical notes name no tensor cores, no down-converted
 *     inputs and no reduced-precision reduction: plain fp32 FMA, never TF32,
 *     which would be far outside the 1e-5 at which we match the CPU;
 *   - it compiles nothing at run time (no NVRTC stall in the middle of a step);
 *   - its plan finalizes and needs at most the caller's workspace cap.
 * Deterministic engines are tried first; where a shape has none, the best
 * other one runs, with a warning, as in conv2d.cu. A timed key
 * (FACS_CUDNN_ALGO=graph_benchmark) runs each deterministic one that
 * qualifies, from both modes, on zeroed device buffers and keeps the fastest.
 *
 * The handle: cuDNN 9 deprecates the operation graph's and the execution
 * plan's handle attributes; since 9.8 neither is required. The device the
 * engines are chosen for is given instead as a device-properties descriptor
 * made from the handle and set on the heuristics, from which the engine
 * configs and their plans inherit it. The handle itself is only given to
 * cudnnBackendExecute, which runs the plan on the handle's stream.
 *
 * Grouped convolutions are refused: the backend may express them, but we do
 * not know that its fp32 engines take them in this layout, and the legacy API
 * runs them well.
 *
 * Plans, and the reasons for refusals, live in a small table like conv2d.cu's;
 * each call binds its pointers and workspace in a variant pack of its own. */
#include "conv2d_graph.cuh"

#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "cache_slot.h"
#include "cudnn_backend.cuh"

static_assert(CUDNN_VERSION >= 90800, "the graph path needs cuDNN 9.8 or newer (device-properties descriptors)");

namespace {

using namespace facs_cudnn_backend;

/* Device-properties descriptors came with cuDNN 9.8; an older library at run
 * time gets a refusal instead of a crash. */
constexpr size_t kMinCudnnVersion = 90800;
/* One key per direction and beta: a network's shapes at a couple of batch
 * sizes, training and evaluating, take a few hundred. */
constexpr int kCacheSlots = 1024;
/* The alignment promised to cuDNN for every tensor pointer: cudaMalloc gives
 * 256 bytes, but the arena's sub-buffers only 64, so 16 always holds (runs
 * check it). */
constexpr int64_t kByteAlignment = 16;
/* A bound on the engine configs examined per heuristics mode: each may cost
 * a plan finalization. */
constexpr int64_t kMaxConfigs = 64;
/* The most plans a timed key runs, and how often each after a warm-up. */
constexpr size_t kMaxTimed = 8;
constexpr int kTimedRuns = 3;
constexpr int kDirections = 3;

const char *const kDirectionNames[kDirections] = {"forward", "backward data", "backward filter"};

/* Unique ids of a convolution's three tensors: the activation that is not
 * the output of the forward (x or dx), the filter (w or dw), the forward's
 * output (y or dy). */
constexpr int64_t kUidX = 1, kUidW = 2, kUidY = 3;

/* The run call's (a, b, out) per direction, as uids. */
const int64_t kRunUids[kDirections][3] = {
    {kUidX, kUidW, kUidY}, /* forward: x, w -> y */
    {kUidW, kUidY, kUidX}, /* backward data: w, dy -> dx */
    {kUidX, kUidY, kUidW}, /* backward filter: x, dy -> dw */
};

/* "x (n, c, h, w), w (co, c/g, kh, kw), stride ..., groups g" for messages. */
void describe_shape(const FacsConvGraphKey &k, char *buf, size_t size)
{
    snprintf(buf, size,
             "x (%d, %d, %d, %d), w (%d, %d, %d, %d), stride (%d, %d), padding (%d, %d), dilation (%d, %d), "
             "groups %d",
             k.n, k.c, k.h, k.w, k.co, k.groups > 0 ? k.c / k.groups : k.c, k.kh, k.kw, k.stride_h, k.stride_w,
             k.pad_h, k.pad_w, k.dil_h, k.dil_w, k.groups);
}

int64_t output_size(int in, int kernel, int stride, int pad, int dil)
{
    int64_t span = (int64_t)in + 2 * (int64_t)pad - (int64_t)dil * (kernel - 1) - 1;
    return span < 0 ? 0 : span / stride + 1;
}

/* FACS_ERR_ARG unless the key describes a real convolution: these are the
 * caller's mistakes, not shapes to leave to the legacy API. */
facs_status check_key(const FacsConvGraphKey &k)
{
    bool sizes = k.n > 0 && k.c > 0 && k.h > 0 && k.w > 0 && k.co > 0 && k.kh > 0 && k.kw > 0 && k.stride_h > 0 &&
                 k.stride_w > 0 && k.pad_h >= 0 && k.pad_w >= 0 && k.dil_h > 0 && k.dil_w > 0 && k.groups > 0;
    bool valid = sizes && k.c % k.groups == 0 && k.co % k.groups == 0 && k.direction >= 0 &&
                 k.direction < kDirections && (k.accumulate == 0 || k.accumulate == 1) &&
                 (k.timed == 0 || k.timed == 1) &&
                 k.oh == output_size(k.h, k.kh, k.stride_h, k.pad_h, k.dil_h) &&
                 k.ow == output_size(k.w, k.kw, k.stride_w, k.pad_w, k.dil_w);
    if (valid)
        return FACS_OK;
    char shape[256];
    describe_shape(k, shape, sizeof shape);
    return facs_fail(FACS_ERR_ARG,
                     "conv2d (cuda graph): inconsistent key: %s, output %d x %d, direction %d, accumulate %d, "
                     "timed %d",
                     shape, k.oh, k.ow, k.direction, k.accumulate, k.timed);
}

/* An fp32 tensor of logical shape (d0, d1, d2, d3) = (N, C, H, W) or
 * (K, C, R, S), stored with d1 innermost: NHWC for activations, KRSC (our
 * OHWI) for filters. */
bool make_tensor(int64_t uid, int d0, int d1, int d2, int d3, Descriptor *out, Reason *why)
{
    const int64_t dims[4] = {d0, d1, d2, d3};
    const int64_t strides[4] = {(int64_t)d2 * d3 * d1, 1, (int64_t)d3 * d1, d1};
    const cudnnDataType_t type = CUDNN_DATA_FLOAT;
    const bool is_virtual = false;
    return FACS_GRAPH_CREATE(*out, CUDNN_BACKEND_TENSOR_DESCRIPTOR, why) &&
           FACS_GRAPH_SET(*out, CUDNN_ATTR_TENSOR_DATA_TYPE, CUDNN_TYPE_DATA_TYPE, 1, &type, why) &&
           FACS_GRAPH_SET(*out, CUDNN_ATTR_TENSOR_DIMENSIONS, CUDNN_TYPE_INT64, 4, dims, why) &&
           FACS_GRAPH_SET(*out, CUDNN_ATTR_TENSOR_STRIDES, CUDNN_TYPE_INT64, 4, strides, why) &&
           FACS_GRAPH_SET(*out, CUDNN_ATTR_TENSOR_UNIQUE_ID, CUDNN_TYPE_INT64, 1, &uid, why) &&
           FACS_GRAPH_SET(*out, CUDNN_ATTR_TENSOR_BYTE_ALIGNMENT, CUDNN_TYPE_INT64, 1, &kByteAlignment, why) &&
           FACS_GRAPH_SET(*out, CUDNN_ATTR_TENSOR_IS_VIRTUAL, CUDNN_TYPE_BOOLEAN, 1, &is_virtual, why) &&
           finalize(*out, "finalizing a tensor descriptor", why);
}

/* Cross-correlation (as PyTorch's conv2d) accumulated in fp32, padded alike
 * on both sides. */
bool make_convolution(const FacsConvGraphKey &k, Descriptor *out, Reason *why)
{
    const cudnnDataType_t compute = CUDNN_DATA_FLOAT;
    const cudnnConvolutionMode_t mode = CUDNN_CROSS_CORRELATION;
    const int64_t spatial_dims = 2;
    const int64_t padding[2] = {k.pad_h, k.pad_w};
    const int64_t strides[2] = {k.stride_h, k.stride_w};
    const int64_t dilations[2] = {k.dil_h, k.dil_w};
    return FACS_GRAPH_CREATE(*out, CUDNN_BACKEND_CONVOLUTION_DESCRIPTOR, why) &&
           FACS_GRAPH_SET(*out, CUDNN_ATTR_CONVOLUTION_COMP_TYPE, CUDNN_TYPE_DATA_TYPE, 1, &compute, why) &&
           FACS_GRAPH_SET(*out, CUDNN_ATTR_CONVOLUTION_CONV_MODE, CUDNN_TYPE_CONVOLUTION_MODE, 1, &mode, why) &&
           FACS_GRAPH_SET(*out, CUDNN_ATTR_CONVOLUTION_SPATIAL_DIMS, CUDNN_TYPE_INT64, 1, &spatial_dims, why) &&
           FACS_GRAPH_SET(*out, CUDNN_ATTR_CONVOLUTION_PRE_PADDINGS, CUDNN_TYPE_INT64, 2, padding, why) &&
           FACS_GRAPH_SET(*out, CUDNN_ATTR_CONVOLUTION_POST_PADDINGS, CUDNN_TYPE_INT64, 2, padding, why) &&
           FACS_GRAPH_SET(*out, CUDNN_ATTR_CONVOLUTION_FILTER_STRIDES, CUDNN_TYPE_INT64, 2, strides, why) &&
           FACS_GRAPH_SET(*out, CUDNN_ATTR_CONVOLUTION_DILATIONS, CUDNN_TYPE_INT64, 2, dilations, why) &&
           finalize(*out, "finalizing the convolution descriptor", why);
}

/* A direction's operation descriptor and the names of its attributes. x is
 * the forward's input activation (dx backward data), w the filter (dw
 * backward filter), y the forward's output (dy backward). */
struct OperationKind {
    cudnnBackendDescriptorType_t type;
    cudnnBackendAttributeName_t alpha, beta, conv, x, w, y;
};

const OperationKind kOperations[kDirections] = {
    {CUDNN_BACKEND_OPERATION_CONVOLUTION_FORWARD_DESCRIPTOR, CUDNN_ATTR_OPERATION_CONVOLUTION_FORWARD_ALPHA,
     CUDNN_ATTR_OPERATION_CONVOLUTION_FORWARD_BETA, CUDNN_ATTR_OPERATION_CONVOLUTION_FORWARD_CONV_DESC,
     CUDNN_ATTR_OPERATION_CONVOLUTION_FORWARD_X, CUDNN_ATTR_OPERATION_CONVOLUTION_FORWARD_W,
     CUDNN_ATTR_OPERATION_CONVOLUTION_FORWARD_Y},
    {CUDNN_BACKEND_OPERATION_CONVOLUTION_BACKWARD_DATA_DESCRIPTOR, CUDNN_ATTR_OPERATION_CONVOLUTION_BWD_DATA_ALPHA,
     CUDNN_ATTR_OPERATION_CONVOLUTION_BWD_DATA_BETA, CUDNN_ATTR_OPERATION_CONVOLUTION_BWD_DATA_CONV_DESC,
     CUDNN_ATTR_OPERATION_CONVOLUTION_BWD_DATA_DX, CUDNN_ATTR_OPERATION_CONVOLUTION_BWD_DATA_W,
     CUDNN_ATTR_OPERATION_CONVOLUTION_BWD_DATA_DY},
    {CUDNN_BACKEND_OPERATION_CONVOLUTION_BACKWARD_FILTER_DESCRIPTOR,
     CUDNN_ATTR_OPERATION_CONVOLUTION_BWD_FILTER_ALPHA, CUDNN_ATTR_OPERATION_CONVOLUTION_BWD_FILTER_BETA,
     CUDNN_ATTR_OPERATION_CONVOLUTION_BWD_FILTER_CONV_DESC, CUDNN_ATTR_OPERATION_CONVOLUTION_BWD_FILTER_X,
     CUDNN_ATTR_OPERATION_CONVOLUTION_BWD_FILTER_DW, CUDNN_ATTR_OPERATION_CONVOLUTION_BWD_FILTER_DY},
};

/* The convolution op of k's direction. alpha and beta are floats, as the
 * backend wants them for an fp32 compute type; beta = 1 adds the result to
 * the output, beta = 0 overwrites it. */
bool make_operation(const FacsConvGraphKey &k, const Descriptor &conv, const Descriptor &x, const Descriptor &w,
                    const Descriptor &y, Descriptor *out, Reason *why)
{
    const OperationKind &op = kOperations[k.direction];
    const float alpha = 1.0f, beta = k.accumulate ? 1.0f : 0.0f;
    const cudnnBackendDescriptor_t conv_raw = conv.get(), x_raw = x.get(), w_raw = w.get(), y_raw = y.get();
    return create(out, op.type, "creating the convolution operation", why) &&
           set_attribute(*out, op.alpha, CUDNN_TYPE_FLOAT, 1, &alpha, "setting the operation's alpha", why) &&
           set_attribute(*out, op.beta, CUDNN_TYPE_FLOAT, 1, &beta, "setting the operation's beta", why) &&
           set_attribute(*out, op.conv, CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, &conv_raw,
                         "setting the operation's convolution descriptor", why) &&
           set_attribute(*out, op.x, CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, &x_raw, "setting the operation's x", why) &&
           set_attribute(*out, op.w, CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, &w_raw, "setting the operation's w", why) &&
           set_attribute(*out, op.y, CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, &y_raw, "setting the operation's y", why) &&
           finalize(*out, "finalizing the convolution operation", why);
}

/* The finalized operation graph of k with its parts, which stay alive until
 * planning is over, as cudnn_frontend keeps them beside its graph: the graph
 * may refer to them. */
struct Graph {
    Descriptor x, w, y, conv, op, graph;
};

bool make_graph(const FacsConvGraphKey &k, Graph *g, Reason *why)
{
    if (!make_tensor(kUidX, k.n, k.c, k.h, k.w, &g->x, why) ||
        !make_tensor(kUidW, k.co, k.c / k.groups, k.kh, k.kw, &g->w, why) ||
        !make_tensor(kUidY, k.n, k.co, k.oh, k.ow, &g->y, why) || !make_convolution(k, &g->conv, why) ||
        !make_operation(k, g->conv, g->x, g->w, g->y, &g->op, why))
        return false;
    const cudnnBackendDescriptor_t ops[1] = {g->op.get()};
    return FACS_GRAPH_CREATE(g->graph, CUDNN_BACKEND_OPERATIONGRAPH_DESCRIPTOR, why) &&
           FACS_GRAPH_SET(g->graph, CUDNN_ATTR_OPERATIONGRAPH_OPS, CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, ops, why) &&
           finalize(g->graph, "finalizing the operation graph", why);
}

/* The device the engines are chosen for: the handle's (what the deprecated
 * graph and plan handle attributes used to tell the heuristics), or one
 * described in cuDNN's JSON form (planning without that device). */
struct DeviceSource {
    cudnnHandle_t handle;
    const char *json;
};

bool make_device_properties(const DeviceSource &device, Descriptor *out, Reason *why)
{
    if (!FACS_GRAPH_CREATE(*out, CUDNN_BACKEND_DEVICEPROP_DESCRIPTOR, why))
        return false;
    const bool described =
        device.json ? FACS_GRAPH_SET(*out, CUDNN_ATTR_DEVICEPROP_JSON_REPRESENTATION, CUDNN_TYPE_CHAR,
                                     (int64_t)strlen(device.json), device.json, why)
                    : FACS_GRAPH_SET(*out, CUDNN_ATTR_DEVICEPROP_HANDLE, CUDNN_TYPE_HANDLE, 1, &device.handle, why);
    return described && finalize(*out, "finalizing the device properties", why);
}

/* The engine configs that the heuristics of mode offer for graph on device,
 * best first, at most kMaxConfigs. */
bool heuristic_configs(const Descriptor &graph, const Descriptor &device, cudnnBackendHeurMode_t mode,
                       std::vector<Descriptor> *configs, Reason *why)
{
    Descriptor heur;
    const cudnnBackendDescriptor_t graph_raw = graph.get(), device_raw = device.get();
    if (!FACS_GRAPH_CREATE(heur, CUDNN_BACKEND_ENGINEHEUR_DESCRIPTOR, why) ||
        !FACS_GRAPH_SET(heur, CUDNN_ATTR_ENGINEHEUR_OPERATION_GRAPH, CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, &graph_raw,
                        why) ||
        !FACS_GRAPH_SET(heur, CUDNN_ATTR_ENGINEHEUR_MODE, CUDNN_TYPE_HEUR_MODE, 1, &mode, why) ||
        !FACS_GRAPH_SET(heur, CUDNN_ATTR_ENGINEHEUR_DEVICEPROP, CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, &device_raw,
                        why) ||
        !finalize(heur, "finalizing the heuristics", why))
        return false;
    int64_t available = 0;
    if (!FACS_GRAPH_GET(heur, CUDNN_ATTR_ENGINEHEUR_RESULTS, CUDNN_TYPE_BACKEND_DESCRIPTOR, 0, &available, nullptr,
                        why))
        return false;
    int64_t wanted = available < kMaxConfigs ? available : kMaxConfigs;
    if (wanted <= 0) {
        configs->clear();
        return true;
    }
    /* The backend fills descriptors we made: one engine config each. */
    std::vector<Descriptor> made((size_t)wanted);
    std::vector<cudnnBackendDescriptor_t> raw((size_t)wanted);
    for (size_t i = 0; i < made.size(); i++) {
        if (!FACS_GRAPH_CREATE(made[i], CUDNN_BACKEND_ENGINECFG_DESCRIPTOR, why))
            return false;
        raw[i] = made[i].get();
    }
    int64_t returned = 0;
    if (!FACS_GRAPH_GET(heur, CUDNN_ATTR_ENGINEHEUR_RESULTS, CUDNN_TYPE_BACKEND_DESCRIPTOR, wanted, &returned,
                        raw.data(), why))
        return false;
    if (returned < wanted)
        made.resize(returned > 0 ? (size_t)returned : 0);
    *configs = std::move(made);
    return true;
}

/* What an engine config's notes and size say about it. */
struct EngineTraits {
    int64_t index = -1;      /* the engine's global index */
    bool exact_fp32 = false; /* no tensor cores, no down-converted inputs, no reduced-precision sums */
    char inexact[64] = "";   /* those of the three it has, in words */
    bool runtime_compiled = false;
    bool deterministic = true;
    int64_t workspace = 0; /* bytes, the config's own estimate */
};

template <class Note>
bool has_note(const Note *notes, int64_t count, Note wanted)
{
    for (int64_t i = 0; i < count; i++)
        if (notes[i] == wanted)
            return true;
    return false;
}

bool read_traits(const Descriptor &config, EngineTraits *out, Reason *why)
{
    Descriptor engine;
    if (!FACS_GRAPH_CREATE(engine, CUDNN_BACKEND_ENGINE_DESCRIPTOR, why))
        return false;
    cudnnBackendDescriptor_t engine_raw = engine.get();
    cudnnBackendNumericalNote_t numerical[CUDNN_NUMERICAL_NOTE_TYPE_COUNT];
    cudnnBackendBehaviorNote_t behavior[CUDNN_BEHAVIOR_NOTE_TYPE_COUNT];
    int64_t count = 0, numerical_count = 0, behavior_count = 0;
    if (!FACS_GRAPH_GET(config, CUDNN_ATTR_ENGINECFG_ENGINE, CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, &count, &engine_raw,
                        why) ||
        !FACS_GRAPH_GET(engine, CUDNN_ATTR_ENGINE_GLOBAL_INDEX, CUDNN_TYPE_INT64, 1, &count, &out->index, why) ||
        !FACS_GRAPH_GET(engine, CUDNN_ATTR_ENGINE_NUMERICAL_NOTE, CUDNN_TYPE_NUMERICAL_NOTE,
                        CUDNN_NUMERICAL_NOTE_TYPE_COUNT, &numerical_count, numerical, why) ||
        !FACS_GRAPH_GET(engine, CUDNN_ATTR_ENGINE_BEHAVIOR_NOTE, CUDNN_TYPE_BEHAVIOR_NOTE,
                        CUDNN_BEHAVIOR_NOTE_TYPE_COUNT, &behavior_count, behavior, why) ||
        !FACS_GRAPH_GET(config, CUDNN_ATTR_ENGINECFG_WORKSPACE_SIZE, CUDNN_TYPE_INT64, 1, &count, &out->workspace,
                        why))
        return false;
    if (numerical_count > CUDNN_NUMERICAL_NOTE_TYPE_COUNT)
        numerical_count = CUDNN_NUMERICAL_NOTE_TYPE_COUNT;
    if (behavior_count > CUDNN_BEHAVIOR_NOTE_TYPE_COUNT)
        behavior_count = CUDNN_BEHAVIOR_NOTE_TYPE_COUNT;
    const bool tensor_cores = has_note(numerical, numerical_count, CUDNN_NUMERICAL_NOTE_TENSOR_CORE);
    const bool down_converts = has_note(numerical, numerical_count, CUDNN_NUMERICAL_NOTE_DOWN_CONVERT_INPUTS);
    const bool reduced = has_note(numerical, numerical_count, CUDNN_NUMERICAL_NOTE_REDUCED_PRECISION_REDUCTION);
    out->exact_fp32 = !tensor_cores && !down_converts && !reduced;
    /* In the plan's name, so that a plan that is not plain fp32 says so. */
    snprintf(out->inexact, sizeof out->inexact, "%s%s%s", tensor_cores ? ", tensor cores" : "",
             down_converts ? ", down-converted inputs" : "", reduced ? ", reduced-precision sums" : "");
    out->deterministic = !has_note(numerical, numerical_count, CUDNN_NUMERICAL_NOTE_NONDETERMINISTIC);
    out->runtime_compiled = has_note(behavior, behavior_count, CUDNN_BEHAVIOR_NOTE_RUNTIME_COMPILATION);
    return true;
}

/* An engine config from the heuristics, with its traits read once for both
 * passes (deterministic engines, then the others). */
struct Candidate {
    Descriptor config;
    EngineTraits traits;
    bool readable = false;
};

/* Everything a run needs. The backend seems to copy what it is given, but
 * cudnn_frontend keeps a plan's engine config alive beside the plan, and so
 * do we, with the device properties the config was chosen for: if the plan
 * refers to either, it stays valid. All three go when the plan goes. */
struct GraphPlan {
    Descriptor device, config, plan;
    size_t workspace = 0;
    int64_t engine = -1;
    bool deterministic = true;
    char inexact[64] = ""; /* EngineTraits::inexact: empty unless the engine filter let such an engine through */
    int timed_among = 0;   /* key.timed: how many plans were timed (0: not timed) */
    float timed_ms = 0;    /* and this one's time */
    char name[160] = "";
};

/* What became of the configs examined, for the message of a refusal. */
struct Tally {
    int examined = 0, inexact = 0, compiled = 0, too_large = 0, failed = 0;
    Reason last_failure; /* the last config that could not be read or did not finalize */
    Reason heuristics;   /* the last heuristics query that failed */
};

/* Finalizes config's execution plan and reads its workspace. */
bool finalize_plan(const Descriptor &config, Descriptor *plan, int64_t *workspace, Reason *why)
{
    const cudnnBackendDescriptor_t config_raw = config.get();
    int64_t count = 0;
    return FACS_GRAPH_CREATE(*plan, CUDNN_BACKEND_EXECUTION_PLAN_DESCRIPTOR, why) &&
           FACS_GRAPH_SET(*plan, CUDNN_ATTR_EXECUTION_PLAN_ENGINE_CONFIG, CUDNN_TYPE_BACKEND_DESCRIPTOR, 1,
                          &config_raw, why) &&
           finalize(*plan, "finalizing the execution plan", why) &&
           FACS_GRAPH_GET(*plan, CUDNN_ATTR_EXECUTION_PLAN_WORKSPACE_SIZE, CUDNN_TYPE_INT64, 1, &count, workspace,
                          why);
}

bool fits(int64_t bytes, size_t cap) { return bytes >= 0 && (uint64_t)bytes <= (uint64_t)cap; }

/* Whether candidate c qualifies (see the file comment); its plan and
 * workspace where it does. Every candidate examined is counted in t. */
bool qualifies(Candidate &c, size_t cap, Descriptor *plan, int64_t *workspace, Tally *t)
{
    t->examined++;
    if (!c.readable) {
        t->failed++;
        return false;
    }
    if (!c.traits.exact_fp32) {
        t->inexact++;
        return false;
    }
    if (c.traits.runtime_compiled) {
        t->compiled++;
        return false;
    }
    if (!fits(c.traits.workspace, cap)) {
        t->too_large++;
        return false;
    }
    if (!finalize_plan(c.config, plan, workspace, &t->last_failure)) {
        /* A kernel the engine could not load stays CUDA's last error,
         * which the next launch check would report as its own. */
        (void)cudaGetLastError();
        t->failed++;
        return false;
    }
    if (!fits(*workspace, cap)) {
        t->too_large++;
        return false;
    }
    return true;
}

/* Whether c is one of the pass's candidates: the deterministic engines, or
 * (nondeterministic) the others. */
bool in_pass(const Candidate &c, bool nondeterministic)
{
    return c.readable ? c.traits.deterministic != nondeterministic : !nondeterministic;
}

/* out takes c, whose plan qualified. */
void take(Candidate &c, Descriptor &&plan, int64_t workspace, GraphPlan *out)
{
    out->config = std::move(c.config);
    out->plan = std::move(plan);
    out->workspace = (size_t)workspace;
    out->engine = c.traits.index;
    out->deterministic = c.traits.deterministic;
    snprintf(out->inexact, sizeof out->inexact, "%s", c.traits.inexact);
}

/* The first candidate, best first, that qualifies among the deterministic
 * ones, or with nondeterministic among the others. */
bool first_qualifying(std::vector<Candidate> &candidates, bool nondeterministic, size_t cap, GraphPlan *out,
                      Tally *t)
{
    for (Candidate &c : candidates) {
        if (!in_pass(c, nondeterministic))
            continue;
        Descriptor plan;
        int64_t workspace = 0;
        if (qualifies(c, cap, &plan, &workspace, t)) {
            take(c, std::move(plan), workspace, out);
            return true;
        }
    }
    return false;
}

/* Runs plan once on handle's stream: (a, b, out) in kRunUids' order of the
 * direction, and the workspace, in a variant pack of the call's own. */
bool execute(cudnnHandle_t handle, const Descriptor &plan, int direction, const void *a, const void *b, void *out,
             void *workspace, Reason *why)
{
    void *const pointers[3] = {const_cast<void *>(a), const_cast<void *>(b), out};
    Descriptor pack;
    return FACS_GRAPH_CREATE(pack, CUDNN_BACKEND_VARIANT_PACK_DESCRIPTOR, why) &&
           FACS_GRAPH_SET(pack, CUDNN_ATTR_VARIANT_PACK_UNIQUE_IDS, CUDNN_TYPE_INT64, 3, kRunUids[direction], why) &&
           FACS_GRAPH_SET(pack, CUDNN_ATTR_VARIANT_PACK_DATA_POINTERS, CUDNN_TYPE_VOID_PTR, 3, pointers, why) &&
           FACS_GRAPH_SET(pack, CUDNN_ATTR_VARIANT_PACK_WORKSPACE, CUDNN_TYPE_VOID_PTR, 1, &workspace, why) &&
           finalize(pack, "finalizing the variant pack", why) &&
           backend_ok(cudnnBackendExecute(handle, plan.get(), pack.get()), "cudnnBackendExecute", why);
}

/* Device memory for timing a key's plans: x, w and y (by uid; each direction
 * reads two and writes the third), zeroed, and the largest workspace. Freed
 * on every way out; a device too full for them is said in why. */
struct TimingBuffers {
    void *tensor[3] = {};
    void *workspace = nullptr;

    TimingBuffers() = default;
    TimingBuffers(const TimingBuffers &) = delete;
    TimingBuffers &operator=(const TimingBuffers &) = delete;
    ~TimingBuffers()
    {
        for (void *p : tensor)
            (void)cudaFree(p);
        (void)cudaFree(workspace);
    }

    bool allocate(const FacsConvGraphKey &k, size_t workspace_bytes, Reason *why)
    {
        const size_t bytes[3] = {(size_t)k.n * k.c * k.h * k.w * sizeof(float),
                                 (size_t)k.co * (k.c / k.groups) * k.kh * k.kw * sizeof(float),
                                 (size_t)k.n * k.co * k.oh * k.ow * sizeof(float)};
        for (int i = 0; i < 3; i++) {
            cudaError_t err = cudaMalloc(&tensor[i], bytes[i]);
            if (err == cudaSuccess)
                err = cudaMemset(tensor[i], 0, bytes[i]);
            if (err != cudaSuccess) {
                (void)cudaGetLastError();
                why->say("%zu MiB for timing: %s", bytes[i] >> 20, cudaGetErrorString(err));
                return false;
            }
        }
        if (workspace_bytes && cudaMalloc(&workspace, workspace_bytes) != cudaSuccess) {
            (void)cudaGetLastError();
            why->say("%zu MiB of workspace for timing", workspace_bytes >> 20);
            return false;
        }
        return true;
    }

    /* The direction's (a, b, out), in kRunUids' order. */
    void *of(int direction, int i) const { return tensor[kRunUids[direction][i] - 1]; }
};

/* A deterministic plain-fp32 plan of a timed key. */
struct Option {
    Candidate *candidate;
    Descriptor plan;
    int64_t workspace;
    float ms;
};

/* ms a run of plan takes on handle's stream: the least of kTimedRuns after a
 * warm-up; negative where a run fails. */
float time_plan(cudnnHandle_t handle, const FacsConvGraphKey &k, const Descriptor &plan, const TimingBuffers &buf)
{
    cudaStream_t stream = nullptr;
    cudaEvent_t start = nullptr, stop = nullptr;
    float best = -1.0f;
    Reason ignored;
    auto run = [&] {
        return execute(handle, plan, k.direction, buf.of(k.direction, 0), buf.of(k.direction, 1),
                       buf.of(k.direction, 2), buf.workspace, &ignored);
    };
    if (cudnnGetStream(handle, &stream) == CUDNN_STATUS_SUCCESS && cudaEventCreate(&start) == cudaSuccess &&
        cudaEventCreate(&stop) == cudaSuccess && run()) {
        for (int i = 0; i < kTimedRuns; i++) {
            float ms = 0;
            if (cudaEventRecord(start, stream) != cudaSuccess || !run() ||
                cudaEventRecord(stop, stream) != cudaSuccess || cudaEventSynchronize(stop) != cudaSuccess ||
                cudaEventElapsedTime(&ms, start, stop) != cudaSuccess) {
                best = -1.0f;
                break;
            }
            best = best < 0 || ms < best ? ms : best;
        }
    }
    (void)cudaEventDestroy(start);
    (void)cudaEventDestroy(stop);
    (void)cudaGetLastError();
    return best;
}

/* For a timed key: the fastest of the deterministic candidates that qualify
 * (at most kMaxTimed, best first by the heuristics, both modes), run on the
 * device with zeroed tensors. Where there is no memory to time them, the
 * heuristics' first, with a note. false where none qualifies. */
bool fastest_qualifying(cudnnHandle_t handle, const FacsConvGraphKey &k, std::vector<Candidate> *by_mode,
                        size_t cap, GraphPlan *out, Tally *t)
{
    std::vector<Option> options;
    for (int m = 0; m < 2; m++)
        for (Candidate &c : by_mode[m]) {
            Descriptor plan;
            int64_t workspace = 0;
            if (options.size() < kMaxTimed && in_pass(c, false) && qualifies(c, cap, &plan, &workspace, t))
                options.push_back(Option{&c, std::move(plan), workspace, -1.0f});
        }
    if (options.empty())
        return false;
    int64_t workspace = 0;
    for (const Option &o : options)
        workspace = o.workspace > workspace ? o.workspace : workspace;
    TimingBuffers buf;
    Reason why;
    size_t best = 0;
    if (buf.allocate(k, (size_t)workspace, &why)) {
        for (Option &o : options)
            o.ms = time_plan(handle, k, o.plan, buf);
        for (size_t i = 0; i < options.size(); i++)
            if (options[i].ms >= 0 && (options[best].ms < 0 || options[i].ms < options[best].ms))
                best = i;
    } else {
        char shape[256];
        describe_shape(k, shape, sizeof shape);
        fprintf(stderr, "note: conv2d %s (cuda graph): no device memory to time the plans for %s (%s); taking the "
                        "heuristics' first\n", kDirectionNames[k.direction], shape, why.text);
    }
    Option &chosen = options[best];
    take(*chosen.candidate, std::move(chosen.plan), chosen.workspace, out);
    out->timed_among = chosen.ms >= 0 ? (int)options.size() : 0;
    out->timed_ms = chosen.ms;
    return true;
}

std::vector<Candidate> candidates_of(const Graph &g, const Descriptor &device, cudnnBackendHeurMode_t mode,
                                     Tally *t)
{
    std::vector<Candidate> candidates;
    std::vector<Descriptor> configs;
    if (!heuristic_configs(g.graph, device, mode, &configs, &t->heuristics))
        return candidates;
    candidates.resize(configs.size());
    for (size_t i = 0; i < configs.size(); i++) {
        candidates[i].config = std::move(configs[i]);
        candidates[i].readable = read_traits(candidates[i].config, &candidates[i].traits, &t->last_failure);
    }
    return candidates;
}

void warn_nondeterministic(const FacsConvGraphKey &k, int64_t engine)
{
    char shape[256];
    describe_shape(k, shape, sizeof shape);
    fprintf(stderr,
            "warning: conv2d %s (cuda graph): cuDNN has no deterministic fp32 graph engine for %s; using graph "
            "engine %lld, whose sums may differ in the last bits from run to run\n",
            kDirectionNames[k.direction], shape, (long long)engine);
}

void summarize_refusal(const Tally &t, size_t cap, Reason *why)
{
    if (t.examined == 0) {
        why->say("the heuristics offered no engine config%s%s", t.heuristics.text[0] ? ": " : "",
                 t.heuristics.text);
        return;
    }
    why->say("none of %d engine configs qualifies: %d use tensor cores or reduced precision, %d compile at run "
             "time, %d need more than %zu MiB of workspace, %d could not be read or planned%s%s%s%s%s",
             t.examined, t.inexact, t.compiled, t.too_large, cap >> 20, t.failed,
             t.last_failure.text[0] ? " (last: " : "", t.last_failure.text, t.last_failure.text[0] ? ")" : "",
             t.heuristics.text[0] ? "; a heuristics query failed: " : "", t.heuristics.text);
}

/* k's plan: deterministic engines of mode A, then of FALLBACK (asked only
 * when A has none), then the other engines in the same order. */
bool build_plan(const DeviceSource &device, const FacsConvGraphKey &k, size_t cap, GraphPlan *out, Reason *why)
{
    Graph g;
    if (!make_graph(k, &g, why) || !make_device_properties(device, &out->device, why))
        return false;
    const cudnnBackendHeurMode_t modes[2] = {CUDNN_HEUR_MODE_A, CUDNN_HEUR_MODE_FALLBACK};
    std::vector<Candidate> by_mode[2];
    Tally tally;
    if (k.timed) {
        for (int m = 0; m < 2; m++)
            by_mode[m] = candidates_of(g, out->device, modes[m], &tally);
        if (fastest_qualifying(device.handle, k, by_mode, cap, out, &tally))
            return true;
    }
    for (int pass = 0; pass < 2; pass++) {
        const bool nondeterministic = pass == 1;
        for (int m = 0; m < 2; m++) {
            if (!nondeterministic && !k.timed)
                by_mode[m] = candidates_of(g, out->device, modes[m], &tally);
            if (first_qualifying(by_mode[m], nondeterministic, cap, out, &tally)) {
                if (nondeterministic)
                    warn_nondeterministic(k, out->engine);
                return true;
            }
        }
    }
    summarize_refusal(tally, cap, why);
    return false;
}

/* Refusals that need no heuristics: a library too old for this path, and
 * grouped convolutions (see the file comment). */
bool refused_outright(const FacsConvGraphKey &k, Reason *why)
{
    size_t version = cudnnGetVersion();
    if (version < kMinCudnnVersion) {
        why->say("cuDNN %zu at run time; the graph path needs 9.8 or newer", version);
        return true;
    }
    if (k.groups != 1) {
        why->say("grouped convolutions are left to the legacy API");
        return true;
    }
    return false;
}

/* A key and its answer: a plan, or the message of its refusal. Runs hold
 * their own reference, so an eviction never frees a plan in use. */
struct CacheEntry {
    FacsConvGraphKey key;
    std::shared_ptr<const GraphPlan> plan;
    std::string refusal;
};

/* Contexts are single-threaded, but several contexts may run in threads of
 * one process and share this table. */
std::mutex g_cache_mutex;
int g_cache_used = 0;
int g_cache_next_victim = 0; /* round-robin once the table is full */

/* Never destroyed: destroying plans at exit would call into cuDNN while the
 * CUDA runtime may already be gone. */
CacheEntry *cache_table()
{
    static CacheEntry *const table = new CacheEntry[kCacheSlots];
    return table;
}

CacheEntry *find_entry(const FacsConvGraphKey &k)
{
    CacheEntry *table = cache_table();
    for (int i = 0; i < g_cache_used; i++)
        if (memcmp(&table[i].key, &k, sizeof k) == 0)
            return &table[i];
    return nullptr;
}

CacheEntry *new_entry(const FacsConvGraphKey &k)
{
    CacheEntry *e = &cache_table()[facs_cache_slot(&g_cache_used, &g_cache_next_victim, kCacheSlots)];
    e->key = k;
    e->plan.reset();
    e->refusal.clear();
    return e;
}

/* k's plan for device, named, or null with the message of its refusal. */
std::shared_ptr<GraphPlan> plan_for(const DeviceSource &device, const FacsConvGraphKey &k, size_t cap,
                                    std::string *refusal)
{
    Reason why;
    auto plan = std::make_shared<GraphPlan>();
    if (!refused_outright(k, &why) && build_plan(device, k, cap, plan.get(), &why)) {
        char timing[64] = "";
        if (plan->timed_among)
            snprintf(timing, sizeof timing, ", fastest of %d (%.3f ms)", plan->timed_among, plan->timed_ms);
        snprintf(plan->name, sizeof plan->name, "graph engine %lld, %zu MiB workspace%s%s%s", (long long)plan->engine,
                 plan->workspace >> 20, plan->deterministic ? "" : ", nondeterministic", plan->inexact, timing);
        return plan;
    }
    char shape[256];
    describe_shape(k, shape, sizeof shape);
    char message[1024];
    snprintf(message, sizeof message, "conv2d %s (cuda graph, beta %d): no plan for %s: %s",
             kDirectionNames[k.direction], k.accumulate, shape, why.text);
    *refusal = message;
    return nullptr;
}

/* The plan's workspace and name where the caller wants them. */
void describe_plan(const GraphPlan &plan, size_t *workspace_bytes, char *name, size_t name_size)
{
    if (workspace_bytes)
        *workspace_bytes = plan.workspace;
    if (name && name_size)
        snprintf(name, name_size, "%s", plan.name);
}

/* The plan of k, or null where there is none. */
std::shared_ptr<const GraphPlan> planned(const FacsConvGraphKey &k)
{
    std::lock_guard<std::mutex> lock(g_cache_mutex);
    CacheEntry *e = find_entry(k);
    return e ? e->plan : nullptr;
}

bool aligned(const void *p) { return (uintptr_t)p % (uintptr_t)kByteAlignment == 0; }

} // namespace

facs_status facs_cuda_conv_graph_plan(cudnnHandle_t handle, const FacsConvGraphKey &key, size_t workspace_cap,
                                      size_t *workspace_bytes, char *name, size_t name_size)
{
    FACS_TRY(check_key(key));
    std::lock_guard<std::mutex> lock(g_cache_mutex);
    CacheEntry *e = find_entry(key);
    if (!e) {
        e = new_entry(key);
        e->plan = plan_for(DeviceSource{handle, nullptr}, key, workspace_cap, &e->refusal);
        /* Said once, where the refusal is kept; later calls are refused at once. */
        if (!e->plan)
            fprintf(stderr, "note: %s; the legacy cuDNN API runs it\n", e->refusal.c_str());
    }
    if (!e->plan)
        return facs_fail(FACS_ERR_UNSUPPORTED, "%s", e->refusal.c_str());
    if (e->plan->workspace > workspace_cap)
        return facs_fail(FACS_ERR_UNSUPPORTED,
                         "conv2d %s (cuda graph): the plan made for this shape needs %zu MiB of workspace, more "
                         "than the %zu MiB now allowed",
                         kDirectionNames[key.direction], e->plan->workspace >> 20, workspace_cap >> 20);
    describe_plan(*e->plan, workspace_bytes, name, name_size);
    return FACS_OK;
}

facs_status facs_cuda_conv_graph_plan_for_device(const char *device_json, const FacsConvGraphKey &key,
                                                 size_t workspace_cap, size_t *workspace_bytes, char *name,
                                                 size_t name_size)
{
    FACS_TRY(check_key(key));
    if (key.timed)
        return facs_fail(FACS_ERR_ARG, "conv2d (cuda graph): timing needs the device itself, not its description");
    std::string refusal;
    std::shared_ptr<GraphPlan> plan = plan_for(DeviceSource{nullptr, device_json}, key, workspace_cap, &refusal);
    if (!plan)
        return facs_fail(FACS_ERR_UNSUPPORTED, "%s", refusal.c_str());
    describe_plan(*plan, workspace_bytes, name, name_size);
    return FACS_OK;
}

facs_status facs_cuda_conv_graph_run(cudnnHandle_t handle, const FacsConvGraphKey &key, const void *a,
                                     const void *b, void *out, void *workspace, size_t workspace_bytes)
{
    FACS_TRY(check_key(key));
    const char *dir = kDirectionNames[key.direction];
    std::shared_ptr<const GraphPlan> plan = planned(key);
    if (!plan) {
        /* Evicted since the caller planned it (another key took its slot):
         * planned again, within the workspace the caller has. */
        FACS_TRY(facs_cuda_conv_graph_plan(handle, key, workspace_bytes, nullptr, nullptr, 0));
        plan = planned(key);
    }
    if (!plan) {
        char shape[256];
        describe_shape(key, shape, sizeof shape);
        return facs_fail(FACS_ERR_ARG, "conv2d %s (cuda graph): no plan for %s; facs_cuda_conv_graph_plan must "
                         "succeed for this key first", dir, shape);
    }
    if (workspace_bytes < plan->workspace)
        return facs_fail(FACS_ERR_ARG, "conv2d %s (cuda graph): %zu bytes of workspace given, the plan needs %zu",
                         dir, workspace_bytes, plan->workspace);
    if (!aligned(a) || !aligned(b) || !aligned(out))
        return facs_fail(FACS_ERR_ARG, "conv2d %s (cuda graph): a tensor is not %lld-byte aligned (%p, %p, %p)",
                         dir, (long long)kByteAlignment, a, b, (const void *)out);

    Reason why;
    if (execute(handle, plan->plan, key.direction, a, b, out, workspace, &why))
        return FACS_OK;
    return facs_fail(FACS_ERR_BACKEND, "conv2d %s (cuda graph, %s): %s", dir, plan->name, why.text);
}
