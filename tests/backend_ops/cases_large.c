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
};

const size_t bo_large_case_count = sizeof bo_large_cases / sizeof bo_large_cases[0];
