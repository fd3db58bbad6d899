/* conv2d through cuDNN's graph (backend) API: one convolution per operation
 * graph, its execution plan chosen once per shape and direction
 * (conv2d_graph.cu). conv2d.cu takes this path with FACS_CUDNN_ALGO=graph and
 * keeps its legacy cuDNN calls for any shape that facs_cuda_conv_graph_plan
 * refuses with FACS_ERR_UNSUPPORTED.
 *
 *     FacsConvGraphKey k = ...;   (memset to 0, then every field)
 *     size_t ws;
 *     char name[64];
 *     facs_cuda_conv_graph_plan(handle, k, cap, &ws, name, sizeof name);
 *     facs_cuda_conv_graph_run(handle, k, x, w, y, workspace, ws);
 *
 * Tensors are fp32: activations NHWC, filters OHWI (co, c / groups, kh, kw). */
#ifndef FACS_CUDA_CONV2D_GRAPH_CUH
#define FACS_CUDA_CONV2D_GRAPH_CUH

#include <stddef.h>

#include "cuda_check.h"

enum FacsConvGraphDirection {
    kFacsConvGraphForward = 0,        /* x, w -> y */
    kFacsConvGraphBackwardData = 1,   /* w, dy -> dx */
    kFacsConvGraphBackwardFilter = 2, /* x, dy -> dw */
};

/* One plan per key. All ints and no padding, so memcmp compares keys.
 * accumulate 1: the output gains the result (beta = 1); 0: it is overwritten
 * (beta = 0, the old contents are never read). timed 1: the deterministic
 * plain-fp32 engine configs are each run on the device and the fastest
 * kept (the heuristics' order is an estimate; another process may time
 * another one fastest, so its results may differ in the last bits); 0: the
 * heuristics' first. */
struct FacsConvGraphKey {
    int n, c, h, w;
    int co, kh, kw;
    int stride_h, stride_w, pad_h, pad_w, dil_h, dil_w, groups;
    int oh, ow;
    int direction;
    int accumulate;
    int timed;
};

static_assert(sizeof(FacsConvGraphKey) == 19 * sizeof(int), "FacsConvGraphKey must have no padding");

/* Builds the plan for key (once: the answer, plan or refusal, is kept in a
 * table) and gives its workspace size and a short name of the engine it runs
 * ("graph engine 12, 0 MiB workspace"; name may be NULL). FACS_ERR_UNSUPPORTED
 * with a message naming the shape and the reason when no engine qualifies
 * (fp32 FMA only, no run-time compilation, workspace at most workspace_cap)
 * or the backend refuses the graph, said on stderr the first time (the
 * caller runs such a shape on the legacy API); FACS_ERR_ARG for an
 * inconsistent key. */
facs_status facs_cuda_conv_graph_plan(cudnnHandle_t handle, const FacsConvGraphKey &key, size_t workspace_cap,
                                      size_t *workspace_bytes, char *name, size_t name_size);

/* What facs_cuda_conv_graph_plan would choose on another device, described
 * in cuDNN's JSON form of a device-properties descriptor, without that device
 * (nor any; key.timed must be 0): the plan is neither kept nor runnable. The tests plan for an
 * H200 this way on machines without a GPU, so that the graph, the heuristics
 * and the engine filter are checked in CI. */
facs_status facs_cuda_conv_graph_plan_for_device(const char *device_json, const FacsConvGraphKey &key,
                                                 size_t workspace_cap, size_t *workspace_bytes, char *name,
                                                 size_t name_size);

/* Runs the plan of key, which a successful facs_cuda_conv_graph_plan made
 * (planned again if the table has let it go since):
 * forward a = x, b = w, out = y; backward data a = w, b = dy, out = dx;
 * backward filter a = x, b = dy, out = dw. Device pointers, 16-byte aligned;
 * workspace_bytes at least the plan's. Enqueued on the handle's stream. */
facs_status facs_cuda_conv_graph_run(cudnnHandle_t handle, const FacsConvGraphKey &key, const void *a,
                                     const void *b, void *out, void *workspace, size_t workspace_bytes);

#endif
