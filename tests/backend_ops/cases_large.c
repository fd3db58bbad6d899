/* Cases past the tiles of the CUDA kernels' reductions (kernels/cuda/
 * pixel_sums.cuh: 32 channels by 256-pixel slices per block): several pixel
 * slices (H W > 256) and several channel blocks (C / R > 32), the shapes
 * that facs-cuda-selftest ran before it became part of this test. Too large
 * for finite differences over every input (no_fd): the CPU is checked
 * against the double forward, every other backend against the CPU; the
 * gradients' formulas are checked on the small cases of cases.c. */
#include "bops.h"

const bo_case bo_large_cases[] = {
    {.family = &bo_facs, .entries = "facs_forward facs_backward", .n = 3, .c = 136, .h = 19, .w = 37, .lo = -1,
     .hi = 1, .no_fd = 1, .fa = {.fusion = FACS_FUSION_THRESHOLD, .threshold = 0.5f, .r = 4, .bias = 1}},
    {.family = &bo_facs, .entries = "facs_forward facs_backward", .n = 3, .c = 136, .h = 19, .w = 37, .lo = -1,
     .hi = 1, .no_fd = 1, .fa = {.fusion = FACS_FUSION_WEIGHTED, .r = 4}},
    {.family = &bo_facs, .entries = "facs_forward facs_backward", .n = 1, .c = 10, .h = 23, .w = 29, .lo = -1,
     .hi = 1, .no_fd = 1, .fa = {.fusion = FACS_FUSION_THRESHOLD, .threshold = 0.0f, .r = 2, .bias = 1}},
    {.family = &bo_facs, .entries = "facs_forward facs_backward", .n = 1, .c = 10, .h = 23, .w = 29, .lo = -1,
     .hi = 1, .no_fd = 1, .fa = {.fusion = FACS_FUSION_THRESHOLD, .threshold = 1.0f, .r = 2}},
    /* The resident kernels' plans (kernels/cuda/facs_resident.cu; the
     * emulated device has 16 SMs; tests/cuda_emu/test_facs_plan_emu.cu pins
     * them): clusters of 16 blocks, one float4 per pixel row each; clusters
     * of 8 (with FACS_CUDA_RESIDENT_IMAGES=3, as backend_ops_cuda_emu_facs_
     * groups runs them, in groups of 3 and 2 images); one block of more
     * channels (544) than threads (17 outputs, a prime); and an image too
     * large for a cluster's shared memory (242 KB for each of its 8 blocks,
     * past sm_90's 227 KB), which takes the classic kernels. One image and 8
     * outputs: dW then rests on 8 pixel sums, not on one or on a
     * difference across images, either of which can come near 0 and make
     * the two backends' summation orders look far apart. Its 930-pixel sums
     * still differ by up to 7.9e-6 between the emulated classic kernels and
     * the CPU (320 seeds at 870 pixels), near the family's 1e-5: 3e-5 here. */
    {.family = &bo_facs, .entries = "facs_forward facs_backward", .n = 3, .c = 64, .h = 9, .w = 11, .lo = -1,
     .hi = 1, .no_fd = 1, .fa = {.fusion = FACS_FUSION_WEIGHTED, .r = 4, .bias = 1}},
    {.family = &bo_facs, .entries = "facs_forward facs_backward", .n = 5, .c = 16, .h = 6, .w = 7, .lo = -1,
     .hi = 1, .no_fd = 1, .fa = {.fusion = FACS_FUSION_THRESHOLD, .threshold = 0.5f, .r = 2}},
    /* s = W z here sums 544 terms: the float forward is up to 1.7e-6 from the double one (400 seeds), past the
     * family's 1.5e-6 for at most 221-term sums. */
    {.family = &bo_facs, .entries = "facs_forward facs_backward", .n = 2, .c = 544, .h = 3, .w = 5, .lo = -1,
     .hi = 1, .no_fd = 1, .tol_fwd = 4e-6, .fa = {.fusion = FACS_FUSION_WEIGHTED, .r = 32}},
    /* Clusters of 16 blocks of 96 channels (R = 32, 48 outputs), the resident kernels' W steps as on 2048 -> 512
     * @ 7: W z in 10 slices of the channels, the last one busy; W^T ds in 5 phases of the outputs, 8 loads at a
     * time, then the rest. s = W z sums 1536 terms: the float forward is up to 1.2e-5 from the double one (500
     * seeds), the emulated kernels (both paths) up to 9.6e-6 from the CPU (240 runs): 3e-5 for both. */
    {.family = &bo_facs, .entries = "facs_forward facs_backward", .n = 2, .c = 1536, .h = 2, .w = 3, .lo = -1,
     .hi = 1, .no_fd = 1, .tol_fwd = 3e-5, .tol_xb = 3e-5,
     .fa = {.fusion = FACS_FUSION_THRESHOLD, .threshold = 0.5f, .r = 32, .bias = 1}},
    {.family = &bo_facs, .entries = "facs_forward facs_backward", .n = 1, .c = 512, .h = 30, .w = 31, .lo = -1,
     .hi = 1, .no_fd = 1, .tol_xb = 3e-5, .fa = {.fusion = FACS_FUSION_WEIGHTED, .r = 64}},
    /* Training statistics over 20200 values per channel: summed in float (oneDNN's own statistics), the CPU's
     * forward was 1.7e-6 to 2.2e-6 from the double one (3 seeds), past the family's 1.5e-6; from sums in double,
     * as PyTorch's CPU kernels make them, 1.3e-7 to 1.8e-7. */
    {.family = &bo_batchnorm, .entries = "batchnorm_forward batchnorm_backward", .n = 2, .c = 36, .h = 100,
     .w = 101, .lo = -1, .hi = 3, .no_fd = 1, .bn = {.training = 1, .eps = 1e-5f, .momentum = 0.1f}},
};

const size_t bo_large_case_count = sizeof bo_large_cases / sizeof bo_large_cases[0];
