/* test_facs_plan_emu: the resident FACS kernels' plans (kernels/cuda/
 * facs_resident.cu) on the emulated device (16 SMs of 228 KB, 2048 threads
 * and 64K registers, 227 KB of shared memory per block): which shapes take
 * them, with how many blocks and images per cluster, and which take the
 * classic kernels; by default, with FACS_CUDA_RESIDENT_IMAGES=3 in the
 * environment (CTest facs_plan_cuda_emu_groups), under which the backend-ops
 * cases run again to reach groups of several images, and with GPCs of 4 SMs
 * (FACS_CUDA_EMU_GPC_SMS=4, facs_plan_cuda_emu_gpc4), where clusters of 16
 * blocks never run and the plans take smaller ones. The backend-ops cases
 * rely on these choices to reach both paths and every kind of cluster; this
 * pins them, so that a plan that stopped choosing the resident kernels (or
 * stopped falling back) would not leave both paths' tests running one of
 * them.
 *
 * Usage: test_facs_plan_emu   (exit 1 on any wrong plan) */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "facs_kernels.h"
#include "facs_resident.cuh"

namespace {

struct Expected {
    const char *what;
    int n, hw, c, co;
    int blocks;
    int images, images_by_3; /* by default and with FACS_CUDA_RESIDENT_IMAGES=3; 0: the classic kernels */
    int gpc4_blocks, gpc4_images; /* with FACS_CUDA_EMU_GPC_SMS=4: clusters of more than 8 blocks never run */
};

const Expected kPlans[] = {
    {"backend-ops, 16 blocks: small images, two blocks an SM (registers), groups of 2 and 1; GPCs of 4 SMs: "
     "clusters of 8 (4 at a time: 32 blocks, as 8 clusters of 4)", 3, 99, 64, 16, 16, 2, 3, 8, 1},
    {"backend-ops, 8 blocks: groups of 2, 2 and 1; by 3, groups of 3 and 2", 5, 42, 16, 8, 8, 2, 3, 8, 2},
    {"backend-ops, 17 outputs (prime): one block; by 3, both images", 2, 15, 544, 17, 1, 1, 2, 1, 1},
    {"backend-ops, one output", 3, 15, 4, 1, 1, 1, 3, 1, 1},
    {"backend-ops fallback: 242 KB a block for one image", 1, 930, 512, 8, 0, 0, 0, 0, 0},
    {"ResNet-50 64->64 @56, batch 64: 2 images fit two blocks an SM, 2 clusters at a time", 64, 3136, 64, 64, 16,
     2, 3, 8, 1},
    {"ResNet-50 256->64 @56, batch 64: 203 KB an image, one cluster each; GPCs of 4 SMs: no cluster that holds an "
     "image runs", 64, 3136, 256, 64, 16, 1, 1, 0, 0},
    {"ResNet-50 2048->512 @7, batch 64: W too large for two blocks an SM; 4 (the most) fit one; GPCs of 4 SMs: "
     "clusters of 4, 2 images each", 64, 49, 2048, 512, 16, 4, 3, 4, 2},
    {"PSPNet layer1 at 713 (179 x 179): far too large", 2, 179 * 179, 256, 64, 0, 0, 0, 0, 0},
};

} // namespace

int main(void)
{
    const char *requested = getenv("FACS_CUDA_RESIDENT_IMAGES"), *gpc = getenv("FACS_CUDA_EMU_GPC_SMS");
    const bool by_3 = requested && !strcmp(requested, "3"), gpc4 = gpc && !strcmp(gpc, "4");
    if ((requested && !by_3) || (gpc && !gpc4) || (by_3 && gpc4)) {
        printf("test_facs_plan_emu: pins plans by default, with FACS_CUDA_RESIDENT_IMAGES=3 and with "
               "FACS_CUDA_EMU_GPC_SMS=4, one at a time\n");
        return 1;
    }
    int failures = 0;
    for (int fusion = 0; fusion < 2; fusion++) {
        facs_fuse_params p = {fusion ? FACS_FUSION_WEIGHTED : FACS_FUSION_THRESHOLD, 0.5f};
        for (const Expected &e : kPlans)
            for (int backward = 0; backward < 2; backward++) {
                FacsResident plan = {};
                bool resident = facs_cuda_resident_plan(e.n, e.hw, e.c, e.co, &p, backward, &plan);
                const int images = gpc4 ? e.gpc4_images : by_3 ? e.images_by_3 : e.images;
                const int blocks = gpc4 ? e.gpc4_blocks : e.blocks;
                bool want = images > 0;
                bool ok = resident == want &&
                          (!want || (plan.blocks == blocks && plan.images == images && plan.r == e.c / e.co &&
                                     plan.weighted == fusion && plan.threshold == 0.5f));
                if (!ok) {
                    printf("FAIL %s (%s): got %s, %d blocks, %d images; want %s, %d blocks, %d images\n", e.what,
                           backward ? "backward" : "forward", resident ? "resident" : "classic", plan.blocks,
                           plan.images, want ? "resident" : "classic", blocks, images);
                    failures++;
                }
            }
    }
    /* The plan in words, as bench-facs records it (facs_kernels.h). */
    const facs_fuse_params threshold = {FACS_FUSION_THRESHOLD, 0.5f};
    char words[256];
    facs_cuda_facs_kernels(64, 3136, 256, 64, &threshold, 0, words, sizeof words);
    const char *want = gpc4 ? "classic kernels (no cluster of up to 16 blocks both holds an image and runs"
                            : "resident kernels, clusters of 16 blocks taking 1 images, 203104 bytes";
    if (strncmp(words, want, strlen(want))) {
        printf("FAIL the words of the 256->64 @56 plan: \"%s\", want \"%s...\"\n", words, want);
        failures++;
    }
    facs_cuda_facs_kernels(2, 179 * 179, 256, 64, &threshold, 1, words, sizeof words);
    want = "classic kernels (no cluster of up to 16 blocks both holds an image and runs";
    if (strncmp(words, want, strlen(want))) {
        printf("FAIL the words of PSPNet's layer1 plan: \"%s\", want \"%s...\"\n", words, want);
        failures++;
    }
    printf("test_facs_plan_emu: %d plans checked, %d wrong\n", (int)(2 * 2 * sizeof kPlans / sizeof *kPlans),
           failures);
    return failures ? 1 : 0;
}
