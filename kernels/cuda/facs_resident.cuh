/* The FACS op with its input resident in a cluster's shared memory
 * (facs_resident.cu; sm_90 and later): x comes from DRAM once per pass,
 * where the classic kernels (facs.cu) read it twice. facs.cu picks these
 * whenever facs_cuda_resident_plan says they fit; FACS_CUDA_FACS_KERNELS=
 * classic in the environment keeps the classic kernels (for benchmarks and
 * for the tests of both), =resident is the default. */
#ifndef FACS_CUDA_FACS_RESIDENT_CUH
#define FACS_CUDA_FACS_RESIDENT_CUH

#include "cuda_ops.h"

/* A cluster of `blocks` blocks takes `images` consecutive images; block r
 * holds their channels [r c / blocks, (r + 1) c / blocks) and computes the
 * output channels of those chunks. */
struct FacsResident {
    int n, hw, c, co, r;
    int blocks, images;
    int weighted;
    float threshold;
};

/* Fills plan for an op of n images of hw pixels, c -> co channels; false
 * where the resident kernels do not apply (no clusters on this device, an
 * image too large for a cluster's shared memory, or the environment asks for
 * the classic kernels). backward: plan the backward kernel. */
bool facs_cuda_resident_plan(int n, int hw, int c, int co, const facs_fuse_params *p, bool backward,
                             FacsResident *plan);

/* The forward: z (n x c), prob (n x co), y. */
facs_status facs_cuda_resident_forward(const FacsResident &s, const float *x, const float *w, const float *b,
                                       float *z, float *prob, float *y);

/* The backward's ds = dL/ds (n x co), and dx when dx is not NULL. */
facs_status facs_cuda_resident_backward(const FacsResident &s, const float *x, const float *w, const float *prob,
                                        const float *dy, float *ds, float *dx);

#endif
