/* The CPU emulation's device memory: cudaMalloc'ed allocations between red
 * zones, page-locked host memory (cudaHostAlloc), and the runtime's memory
 * and copy API, which checks every range and direction, and that the
 * page-locked source of a cudaMemcpyAsync holds still until a synchronising
 * call. Separate from the launches (cuda_emu_launch.cpp), which need only the
 * red zone check after a kernel, and from the device's properties and errors
 * (cuda_emu_runtime.cpp): what it shares is in cuda_emu_internal.h. */
#include "cuda_emu_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <map>
#include <mutex>
#include <vector>

using namespace facs_emu_runtime;

namespace {

constexpr size_t kRedZone = 256;             /* also cudaMalloc's alignment */
constexpr unsigned char kRedZoneByte = 0xFD; /* -4.2e37 as floats: huge if read */

/* ---- device memory ------------------------------------------------------ */

struct Alloc {
    size_t bytes;
};
std::map<uintptr_t, Alloc> allocs; /* by the pointer cudaMalloc returned */
size_t live_bytes;

/* The allocation holding [p, p + bytes) (bytes 0: p may be one past the
 * end), or allocs.end(). */
std::map<uintptr_t, Alloc>::iterator find_alloc(const void *p, size_t bytes)
{
    uintptr_t a = (uintptr_t)p;
    auto it = allocs.upper_bound(a);
    if (it == allocs.begin())
        return allocs.end();
    --it;
    if (a - it->first > it->second.bytes || bytes > it->second.bytes - (a - it->first))
        return allocs.end();
    return it;
}

/* Whether p points at a byte of some allocation. */
bool is_device(const void *p) { return find_alloc(p, 1) != allocs.end(); }

void check_red_zones(uintptr_t user, const Alloc &a, const char *when)
{
    const unsigned char *front = (const unsigned char *)user - kRedZone;
    const unsigned char *back = (const unsigned char *)user + a.bytes;
    for (size_t i = 0; i < kRedZone; i++) {
        if (front[i] != kRedZoneByte)
            fault("%s: a write to byte %zu before the %zu-byte allocation at %p", when, kRedZone - i, a.bytes,
                  (void *)user);
        if (back[i] != kRedZoneByte)
            fault("%s: a write to byte %zu past the end of the %zu-byte allocation at %p", when, i, a.bytes,
                  (void *)user);
    }
}

} // namespace

size_t facs_emu_runtime::memory_limit(void)
{
    static size_t limit = [] {
        const char *mb = getenv("FACS_CUDA_EMU_MEMORY_MB");
        size_t v = mb ? (size_t)strtoull(mb, NULL, 10) : 0;
        return (v ? v : 4096) << 20;
    }();
    return limit;
}

void facs_emu_runtime::check_all_red_zones(const char *when)
{
    for (const auto &kv : allocs)
        check_red_zones(kv.first, kv.second, when);
}

namespace {

/* The device range [p, p + bytes) of call, which must lie in one allocation. */
void require_device_range(const char *call, const char *role, const void *p, size_t bytes)
{
    if (find_alloc(p, bytes) != allocs.end())
        return;
    if (is_device(p))
        fault("%s: %s range %p + %zu bytes runs past the end of its allocation", call, role, p, bytes);
    fault("%s: %s %p is not device memory (a host pointer?)", call, role, p);
}

void require_host(const char *call, const char *role, const void *p)
{
    if (is_device(p))
        fault("%s: %s %p is device memory, but the copy's kind says host", call, role, p);
}

/* ---- page-locked host memory and asynchronous copies -------------------- */

std::map<uintptr_t, size_t> pinned; /* cudaHostAlloc's blocks by address */

/* Whether [p, p + bytes) lies in one page-locked block. */
bool is_pinned(const void *p, size_t bytes)
{
    uintptr_t a = (uintptr_t)p;
    auto it = pinned.upper_bound(a);
    if (it == pinned.begin())
        return false;
    --it;
    return a - it->first < it->second && bytes <= it->second - (a - it->first);
}

/* A cudaMemcpyAsync from page-locked memory that a GPU may not have run yet. */
struct PendingCopy {
    const unsigned char *src;
    size_t bytes;
    uint64_t hash; /* of the source when the copy was queued */
};
std::vector<PendingCopy> pending;

/* FNV-1a: any change of the bytes shows, short of a deliberate collision. */
uint64_t hash_bytes(const void *p, size_t bytes)
{
    const unsigned char *b = (const unsigned char *)p;
    uint64_t h = 14695981039346656037ull;
    for (size_t i = 0; i < bytes; i++)
        h = (h ^ b[i]) * 1099511628211ull;
    return h;
}

/* A call that returns after all queued work: the pending copies are done
 * from here on, and their sources must have held still until now. */
void complete_async_copies(const char *when)
{
    for (const PendingCopy &c : pending)
        if (hash_bytes(c.src, c.bytes) != c.hash)
            fault("%s: the page-locked source %p (%zu bytes) of a cudaMemcpyAsync changed before this synchronising "
                  "call; on a GPU the copy may read the new bytes",
                  when, (const void *)c.src, c.bytes);
    pending.clear();
}

} // namespace

/* ---- the runtime API: memory and copies --------------------------------- */

void facs_emu_check_argument(const char *kernel, const char *file, int line, int index, const void *ptr)
{
    std::lock_guard<std::recursive_mutex> lock(api_mutex);
    if (!ptr || find_alloc(ptr, 0) != allocs.end())
        return;
    fault("kernel %s launched at %s:%d: argument %d (%p) is not device memory (a host pointer, or freed)", kernel,
          file, line, index, ptr);
}

cudaError_t cudaMalloc(void **ptr, size_t bytes)
{
    std::lock_guard<std::recursive_mutex> lock(api_mutex);
    start_once();
    if (!ptr)
        return fail(cudaErrorInvalidValue);
    *ptr = nullptr;
    if (bytes == 0)
        return cudaSuccess;
    if (bytes > memory_limit() - live_bytes)
        return fail(cudaErrorMemoryAllocation);
    size_t total = kRedZone + (bytes + kRedZone - 1) / kRedZone * kRedZone + kRedZone;
    unsigned char *base = (unsigned char *)aligned_alloc(kRedZone, total);
    if (!base)
        return fail(cudaErrorMemoryAllocation);
    unsigned char *user = base + kRedZone;
    memset(base, kRedZoneByte, kRedZone);
    memset(user, kPoison, bytes);
    memset(user + bytes, kRedZoneByte, total - kRedZone - bytes);
    allocs[(uintptr_t)user] = Alloc{bytes};
    live_bytes += bytes;
    stats.allocs++;
    stats.alloc_bytes += bytes;
    *ptr = user;
    return cudaSuccess;
}

cudaError_t cudaFree(void *ptr)
{
    std::lock_guard<std::recursive_mutex> lock(api_mutex);
    if (!ptr)
        return cudaSuccess;
    auto it = allocs.find((uintptr_t)ptr);
    if (it == allocs.end())
        return fail(cudaErrorInvalidValue);
    check_red_zones(it->first, it->second, "cudaFree");
    live_bytes -= it->second.bytes;
    allocs.erase(it);
    free((unsigned char *)ptr - kRedZone);
    return cudaSuccess;
}

cudaError_t cudaHostAlloc(void **ptr, size_t bytes, unsigned int flags)
{
    std::lock_guard<std::recursive_mutex> lock(api_mutex);
    if (!ptr || flags & ~(unsigned)(cudaHostAllocPortable | cudaHostAllocMapped | cudaHostAllocWriteCombined))
        return fail(cudaErrorInvalidValue);
    /* Whole pages, as the driver pins them; a size the rounding would wrap cannot be pinned. */
    size_t page = (size_t)sysconf(_SC_PAGESIZE), rounded = bytes ? (bytes + page - 1) / page * page : page;
    *ptr = bytes > SIZE_MAX - page ? nullptr : aligned_alloc(page, rounded);
    if (!*ptr)
        return fail(cudaErrorMemoryAllocation);
    pinned[(uintptr_t)*ptr] = rounded;
    return cudaSuccess;
}

cudaError_t cudaMallocHost(void **ptr, size_t bytes) { return cudaHostAlloc(ptr, bytes, cudaHostAllocDefault); }

cudaError_t cudaFreeHost(void *ptr)
{
    std::lock_guard<std::recursive_mutex> lock(api_mutex);
    if (!ptr)
        return cudaSuccess;
    auto it = pinned.find((uintptr_t)ptr);
    if (it == pinned.end())
        return fail(cudaErrorInvalidValue);
    for (const PendingCopy &c : pending)
        if ((uintptr_t)c.src < it->first + it->second && it->first < (uintptr_t)c.src + c.bytes)
            fault("cudaFreeHost(%p): a cudaMemcpyAsync from it (source %p, %zu bytes) may still be running; "
                  "synchronise before freeing its source",
                  ptr, (const void *)c.src, c.bytes);
    pinned.erase(it);
    free(ptr);
    return cudaSuccess;
}

/* The copy of both cudaMemcpy calls, done at once; with_host: the call
 * returns only when the copy is done, so every copy queued before it is too
 * (the legacy default stream's order). */
static cudaError_t copy_now(const char *call, void *dst, const void *src, size_t bytes, cudaMemcpyKind kind,
                            bool with_host)
{
    std::lock_guard<std::recursive_mutex> lock(api_mutex);
    start_once();
    if (bytes == 0)
        return cudaSuccess;
    if (!dst || !src)
        return fail(cudaErrorInvalidValue);
    if (kind == cudaMemcpyDefault)
        kind = (cudaMemcpyKind)((is_device(src) ? 2 : 0) + (is_device(dst) ? 1 : 0));
    if (with_host && kind != cudaMemcpyDeviceToDevice)
        complete_async_copies(call);
    char when[64];
    switch (kind) {
    case cudaMemcpyHostToHost:
        require_host(call, "destination", dst), require_host(call, "source", src);
        break;
    case cudaMemcpyHostToDevice:
        require_device_range(call, "destination", dst, bytes), require_host(call, "source", src);
        break;
    case cudaMemcpyDeviceToHost:
        require_host(call, "destination", dst), require_device_range(call, "source", src, bytes);
        snprintf(when, sizeof when, "%s to the host", call);
        check_all_red_zones(when);
        break;
    case cudaMemcpyDeviceToDevice:
        require_device_range(call, "destination", dst, bytes);
        require_device_range(call, "source", src, bytes);
        if ((const char *)dst < (const char *)src + bytes && (const char *)src < (const char *)dst + bytes)
            fault("%s: device ranges %p and %p of %zu bytes overlap (undefined in CUDA)", call, dst, src, bytes);
        break;
    default:
        return fail(cudaErrorInvalidMemcpyDirection);
    }
    memcpy(dst, src, bytes);
    return cudaSuccess;
}

cudaError_t cudaMemcpy(void *dst, const void *src, size_t bytes, cudaMemcpyKind kind)
{
    return copy_now("cudaMemcpy", dst, src, bytes, kind, true);
}

/* Done at once like every copy here, but a page-locked source is recorded:
 * on a GPU the copy reads it later, so it must not change before a
 * synchronising call (complete_async_copies). A pageable source is staged
 * before the call returns, on a GPU too. */
cudaError_t cudaMemcpyAsync(void *dst, const void *src, size_t bytes, cudaMemcpyKind kind, cudaStream_t stream)
{
    (void)stream;
    std::lock_guard<std::recursive_mutex> lock(api_mutex);
    cudaError_t err = copy_now("cudaMemcpyAsync", dst, src, bytes, kind, false);
    if (err == cudaSuccess && bytes && is_pinned(src, bytes))
        pending.push_back(PendingCopy{(const unsigned char *)src, bytes, hash_bytes(src, bytes)});
    return err;
}

cudaError_t cudaMemset(void *dst, int value, size_t bytes)
{
    std::lock_guard<std::recursive_mutex> lock(api_mutex);
    start_once();
    if (bytes == 0)
        return cudaSuccess;
    require_device_range("cudaMemset", "destination", dst, bytes);
    memset(dst, value, bytes);
    return cudaSuccess;
}

cudaError_t cudaMemsetAsync(void *dst, int value, size_t bytes, cudaStream_t stream)
{
    (void)stream;
    return cudaMemset(dst, value, bytes);
}

cudaError_t cudaMemGetInfo(size_t *free_bytes, size_t *total_bytes)
{
    std::lock_guard<std::recursive_mutex> lock(api_mutex);
    if (free_bytes)
        *free_bytes = memory_limit() - live_bytes;
    if (total_bytes)
        *total_bytes = memory_limit();
    return cudaSuccess;
}

cudaError_t cudaDeviceSynchronize(void)
{
    std::lock_guard<std::recursive_mutex> lock(api_mutex);
    start_once();
    check_all_red_zones("cudaDeviceSynchronize");
    complete_async_copies("cudaDeviceSynchronize");
    return cudaSuccess;
}

cudaError_t cudaStreamSynchronize(cudaStream_t stream)
{
    (void)stream;
    return cudaDeviceSynchronize();
}

cudaError_t facs_emu_copy_symbol(void *dst, const void *src, size_t bytes)
{
    memcpy(dst, src, bytes);
    return cudaSuccess;
}
