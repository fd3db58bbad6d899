/* test_facs_plan_emu: the resident FACS kernels' plans (kernels/cuda/
 * facs_resident.cu) on the emulated device (16 SMs, 227 KB of shared memory
 * per block): which shapes take them, with how many blocks and images per
 * cluster, and which take the classic kernels. The backend-ops cases rely on
 * these choices to reach both paths and every kind of cluster; this pins
 * them, so that a plan that stopped choosing the resident kernels (or stopped
 * falling back) would not leave both paths' tests running one of them.
 *
 * Usage: test_facs_plan_emu   (exit 1 on any wrong plan) */
#include <stdio.h>

#include "facs_resident.cuh"

namespace {

struct Expected {
    const char *what;
    int n, hw, c, co;
    int blocks, images; /* 0 images: the classic kernels */
};

const Expected kPlans[] = {
    {"backend-ops, 16 blocks, all 3 images in one cluster", 3, 99, 64, 16, 16, 3},
    {"backend-ops, 8 blocks, groups of 3 and 2 (2 clusters fill the 16 SMs)", 5, 42, 16, 8, 8, 3},
    {"backend-ops, 17 outputs (prime): one block, one image a cluster", 2, 15, 544, 17, 1, 1},
    {"backend-ops, one output", 3, 15, 4, 1, 1, 1},
    {"backend-ops fallback: 223 KB a block for one image", 1, 870, 512, 8, 0, 0},
    {"ResNet-50 256->64 @56, batch 64: 201 KB an image, one cluster each", 64, 3136, 256, 64, 16, 1},
    {"ResNet-50 2048->512 @7, batch 64: 7 fit, 10 waves of one cluster, 7 images each", 64, 49, 2048, 512, 16, 7},
    {"PSPNet layer1 at 713 (179 x 179): far too large", 2, 179 * 179, 256, 64, 0, 0},
};

} // namespace

int main(void)
{
    int failures = 0;
    for (int fusion = 0; fusion < 2; fusion++) {
        facs_fuse_params p = {fusion ? FACS_FUSION_WEIGHTED : FACS_FUSION_THRESHOLD, 0.5f};
        for (const Expected &e : kPlans)
            for (int backward = 0; backward < 2; backward++) {
                FacsResident plan = {};
                bool resident = facs_cuda_resident_plan(e.n, e.hw, e.c, e.co, &p, backward, &plan);
                bool want = e.images > 0;
                bool ok = resident == want &&
                          (!want || (plan.blocks == e.blocks && plan.images == e.images && plan.r == e.c / e.co &&
                                     plan.weighted == fusion && plan.threshold == 0.5f));
                if (!ok) {
                    printf("FAIL %s (%s): got %s, %d blocks, %d images; want %s, %d blocks, %d images\n", e.what,
                           backward ? "backward" : "forward", resident ? "resident" : "classic", plan.blocks,
                           plan.images, want ? "resident" : "classic", e.blocks, e.images);
                    failures++;
                }
            }
    }
    printf("test_facs_plan_emu: %d plans checked, %d wrong\n", (int)(2 * 2 * sizeof kPlans / sizeof *kPlans),
           failures);
    return failures ? 1 : 0;
}
