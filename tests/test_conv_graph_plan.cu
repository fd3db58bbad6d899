/* test_conv_graph_plan: cuDNN's graph API plans our convolutions
 * (kernels/cuda/conv2d_graph.cu, FACS_CUDNN_ALGO=graph) for an H200 that is
 * only described (cuDNN's JSON form of device properties), so that on a
 * machine without a GPU, CI's, the whole planning path runs: the tensors'
 * NHWC strides, the convolution and operation descriptors of each direction
 * and beta, the heuristics, the engine filter (plain fp32, no run-time
 * compilation, deterministic first) and plan finalization. A wrong attribute
 * type or a filter that lets nothing through fails here; only running a plan
 * needs the GPU (tools/gpu_check.sh, conv_graph).
 *
 * Every direction of ResNet-50's and PSPNet's convolution shapes must get a
 * deterministic plan; grouped convolutions, inconsistent keys and a device
 * description cuDNN cannot read must be refused with the right status. */
#include <stdio.h>
#include <string.h>

#include "conv2d_graph.cuh"

namespace {

/* An H200 as PyTorch and the driver report it (132 SMs, 60 MB of L2, 227 KB
 * of shared memory a block, compute capability 9.0, driver for CUDA 13.0). */
const char kH200[] =
    "{\"maxGridSize\":[2147483647,65535,65535],\"maxBlockSize\":[1024,1024,64],\"regsPerBlock\":65536,"
    "\"multiProcessorCount\":132,\"warpSize\":32,\"maxSharedMemoryPerBlock\":49152,"
    "\"maxSharedMemoryPerBlockOptin\":232448,\"reservedSharedMemoryPerBlock\":1024,\"maxRegistersPerSM\":65536,"
    "\"maxCtasPerSM\":32,\"maxThreadsPerBlock\":1024,\"maxThreadsPerSM\":2048,\"pciDeviceId\":0,\"isTccDriver\":0,"
    "\"supportCoopLaunch\":1,\"totalGlobalMem\":150754820096,\"smClockRateKHz\":1980000,\"memClockRateKHz\":3201000,"
    "\"l2CacheSize\":62914560,\"cudaDeviceId\":0,\"deviceVer\":900,\"driverVer\":13000,\"deviceName\":\"NVIDIA H200\"}";

constexpr size_t kCap = (size_t)2 << 30; /* conv2d.cu's workspace cap */

struct Shape {
    const char *what;
    int n, c, size, co, k, stride, dil;
};

/* ResNet-50 at batch 32 (bench-conv's layers), and PSPNet-101's dilated
 * layers and pyramid conv at a 713 crop, batch 2. */
const Shape kShapes[] = {
    {"7x7/2 3->64 @224", 32, 3, 224, 64, 7, 2, 1},      {"1x1 64->64 @56", 32, 64, 56, 64, 1, 1, 1},
    {"3x3 64->64 @56", 32, 64, 56, 64, 3, 1, 1},        {"1x1 64->256 @56", 32, 64, 56, 256, 1, 1, 1},
    {"1x1 256->128 @56", 32, 256, 56, 128, 1, 1, 1},    {"3x3/2 128->128 @56", 32, 128, 56, 128, 3, 2, 1},
    {"1x1 1024->256 @14", 32, 1024, 14, 256, 1, 1, 1},  {"3x3 512->512 @7", 32, 512, 7, 512, 3, 1, 1},
    {"1x1 2048->512 @7", 32, 2048, 7, 512, 1, 1, 1},    {"3x3 d2 256->256 @90", 2, 256, 90, 256, 3, 1, 2},
    {"3x3 d4 512->512 @90", 2, 512, 90, 512, 3, 1, 4},  {"3x3 4096->512 @90", 2, 4096, 90, 512, 3, 1, 1},
};

const char *const kDirections[] = {"forward", "backward data", "backward filter"};

FacsConvGraphKey key_of(const Shape &s, int direction, int accumulate, int groups)
{
    FacsConvGraphKey k;
    memset(&k, 0, sizeof k);
    const int pad = s.dil * (s.k / 2);
    k.n = s.n, k.c = s.c, k.h = s.size, k.w = s.size;
    k.co = s.co, k.kh = s.k, k.kw = s.k;
    k.stride_h = k.stride_w = s.stride;
    k.pad_h = k.pad_w = pad;
    k.dil_h = k.dil_w = s.dil;
    k.groups = groups;
    k.oh = k.ow = (s.size + 2 * pad - s.dil * (s.k - 1) - 1) / s.stride + 1;
    k.direction = direction;
    k.accumulate = accumulate;
    return k;
}

int failures = 0;

void check(bool ok, const char *fmt, const char *what, const char *detail)
{
    if (!ok) {
        printf("FAIL ");
        printf(fmt, what, detail);
        printf("\n");
        failures++;
    }
}

/* Each direction with the beta training gives it (forward also with beta 1,
 * the residual post-sum): a deterministic plan within the cap. */
int plan_every_direction(const Shape &s)
{
    int plans = 0;
    const int betas[][2] = {{0, 1}, {0, 0}, {1, 1}}; /* per direction: first and last beta */
    for (int dir = 0; dir < 3; dir++)
        for (int beta = betas[dir][0]; beta <= betas[dir][1]; beta++) {
            char name[160] = "";
            size_t bytes = 0;
            facs_status st = facs_cuda_conv_graph_plan_for_device(kH200, key_of(s, dir, beta, 1), kCap, &bytes,
                                                                  name, sizeof name);
            char what[128];
            snprintf(what, sizeof what, "%s %s beta %d", s.what, kDirections[dir], beta);
            if (st != FACS_OK) {
                check(false, "%s: no plan: %s", what, facs_last_error());
                continue;
            }
            printf("%-44s %s\n", what, name);
            check(!strncmp(name, "graph engine ", 13), "%s: plan named \"%s\"", what, name);
            check(!strstr(name, "nondeterministic"), "%s: only a nondeterministic engine (%s)", what, name);
            check(!strstr(name, "tensor cores") && !strstr(name, "down-converted") && !strstr(name, "reduced"),
                  "%s: an engine that is not plain fp32 (%s)", what, name);
            check(bytes <= kCap, "%s: workspace past the cap (%s)", what, name);
            plans++;
        }
    return plans;
}

void expect_refusal(const char *what, const char *json, const FacsConvGraphKey &k, facs_status want,
                    const char *words)
{
    facs_status st = facs_cuda_conv_graph_plan_for_device(json, k, kCap, nullptr, nullptr, 0);
    check(st == want && strstr(facs_last_error(), words), "%s: refused as \"%s\"", what, facs_last_error());
}

} // namespace

int main(void)
{
    int plans = 0;
    for (const Shape &s : kShapes)
        plans += plan_every_direction(s);
    const Shape &mid = kShapes[2];
    expect_refusal("grouped (32 groups)", kH200, key_of(mid, 0, 0, 32), FACS_ERR_UNSUPPORTED, "grouped");
    FacsConvGraphKey wrong = key_of(mid, 0, 0, 1);
    wrong.oh += 1;
    expect_refusal("an output size that is not the convolution's", kH200, wrong, FACS_ERR_ARG, "inconsistent key");
    expect_refusal("an unreadable device description", "{\"deviceName\": 7}", key_of(mid, 0, 0, 1),
                   FACS_ERR_UNSUPPORTED, "device properties");
    FacsConvGraphKey timed = key_of(mid, 0, 0, 1);
    timed.timed = 1;
    expect_refusal("timing on a described device", kH200, timed, FACS_ERR_ARG, "timing needs the device itself");
    printf("test_conv_graph_plan: %d plans, %d failures\n", plans, failures);
    return failures ? 1 : 0;
}
