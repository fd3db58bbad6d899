/* What the three files of the CPU emulation's CUDA runtime share, and nothing
 * else: cuda_emu_runtime.cpp (the lock, faults, statistics, the device's
 * properties and errors), cuda_emu_memory.cpp (device and page-locked memory,
 * copies) and cuda_emu_launch.cpp (fibers, launches, barriers, warp
 * collectives, clusters). Each keeps the rest file-local. Kernels never see
 * this: cuda_emu.h is their interface. */
#ifndef FACS_CUDA_EMU_INTERNAL_H
#define FACS_CUDA_EMU_INTERNAL_H

#include "cuda_emu.h"

#include <stddef.h>

#include <mutex>

namespace facs_emu_runtime {

/* Launch limits (cuda_emu_launch.cpp), which cudaGetDeviceProperties reports
 * (cuda_emu_runtime.cpp). */
constexpr unsigned kMaxThreads = 1024;
constexpr size_t kMaxDynamicShared = 48 * 1024;
constexpr size_t kMaxClusterShared = 227 * 1024; /* sm_90's opt-in per-block limit */
/* What fresh device and shared memory holds. */
constexpr unsigned char kPoison = 0xFF; /* every float of these bytes is a NaN */

/* The one mutex that serialises the runtime (cuda_emu_runtime.cpp). */
extern std::recursive_mutex api_mutex;

/* ---- faults and errors (cuda_emu_runtime.cpp) --------------------------- */

/* Stops with the message and where it happened (context_line). */
[[noreturn]] void fault(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Sets the runtime's last error to err and returns it. */
cudaError_t fail(cudaError_t err);

/* The running kernel and thread for a fault's message, or "" between
 * launches (cuda_emu_launch.cpp). */
void context_line(char *buf, size_t size);

/* ---- statistics and the banner (cuda_emu_runtime.cpp) ------------------- */

struct Stats {
    unsigned long long launches, blocks, threads, barriers, warp_ops, allocs, alloc_bytes;
    double seconds;
};
extern Stats stats;

double now(void);
/* FACS_CUDA_EMU_ORDER=reverse: threads and blocks run in reverse order; set
 * by start_once. */
extern bool reverse_order;
/* The banner and the environment, once, at the first call that needs them. */
void start_once(void);

/* ---- device limits ------------------------------------------------------ */

unsigned max_grid_yz(void); /* gridDim.y and z's (cuda_emu_runtime.cpp) */
size_t memory_limit(void);  /* the device memory's size (cuda_emu_memory.cpp) */

/* Stops at a write into the red zone of any allocation (cuda_emu_memory.cpp);
 * when: the call that checks, for the message. */
void check_all_red_zones(const char *when);

} // namespace facs_emu_runtime

#endif
