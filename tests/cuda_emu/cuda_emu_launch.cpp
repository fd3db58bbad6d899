/* The CPU emulation's kernel launches ("How a launch runs" in cuda_emu.h):
 * every CUDA thread of a block, or of a thread-block cluster, is a fiber with
 * its own stack, and a scheduler runs them in turn between barriers and warp
 * collectives. Here are the fibers, the launch, the block and cluster
 * barriers, the warp collectives, cp.async copies and the cluster's shared
 * memory: what kernels call. Separate from the runtime API
 * (cuda_emu_memory.cpp, cuda_emu_runtime.cpp) because it is the execution
 * model itself; of those it uses only what cuda_emu_internal.h declares (the
 * lock, faults, statistics, the red zone check). */
#include "cuda_emu_internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <deque>
#include <mutex>
#include <string>
#include <vector>

#if defined(__x86_64__) && !defined(FACS_CUDA_EMU_UCONTEXT)
#define FACS_EMU_ASM_SWITCH 1
#else
#include <ucontext.h>
#endif

facs_emu_builtins facs_emu_builtin;
unsigned long long facs_emu_block_serial;
unsigned facs_emu_cluster_blocks = 1;

using namespace facs_emu_runtime;

namespace {

constexpr unsigned kMaxClusterBlocks = 16;     /* sm_90's non-portable cluster limit */
constexpr unsigned kMaxClusterThreads = 8192;  /* fibers of one cluster: the emulation's own limit */

/* ---- the running launch ------------------------------------------------- */

enum class State : unsigned char { Ready, AtBarrier, AtWarp, Done };

/* A cp.async copy that its thread has not waited for yet. */
struct AsyncCopy {
    void *dst;
    const void *src;
    size_t bytes;
};

/* One CUDA thread: its saved context, and what it waits in. */
struct Fiber {
    void *sp;
#ifndef FACS_EMU_ASM_SWITCH
    ucontext_t uc;
#endif
    uint3 tid, bid;
    unsigned rank; /* the block's rank in its cluster; fibers of block r start at r * threads */
    State state;
    int op, param, width;
    unsigned mask;
    uint64_t value, result;
    /* cp.async copies not waited for yet: those since the last commit, and
     * the committed groups, oldest first. */
    std::vector<AsyncCopy> uncommitted;
    std::deque<std::vector<AsyncCopy>> groups;
};

/* A barrier: __syncthreads of one block, or the cluster's. */
struct Barrier {
    unsigned arrived, opened; /* opened: how many times every thread has arrived */
    const char *file;
    int line, kind, count, result;
};

struct Launch {
    const char *kernel, *file;
    int line;
    dim3 grid, block;
    unsigned threads; /* per block */
    unsigned cluster; /* blocks that run together: a thread-block cluster, 1 for a plain launch */
    size_t shared_bytes, shared_stride; /* each block's dynamic shared memory and its slice's stride */
    void (*body)(void *);
    void *ctx;
    uint3 block_idx; /* the running cluster's first block */
    unsigned done;   /* threads of the running cluster that have returned */
    std::vector<unsigned> block_done;
    std::vector<Barrier> bars; /* each block's __syncthreads */
    Barrier cluster_bar;
};

Launch *launch;          /* the running launch, NULL between launches */
Fiber *current;          /* the running thread, NULL in the scheduler */
std::vector<Fiber> fibers;
std::vector<unsigned char> dynamic_shared; /* one slice per block of the running cluster */

} // namespace

/* ---- faults: where they happen ------------------------------------------ */

void facs_emu_runtime::context_line(char *buf, size_t size)
{
    buf[0] = '\0';
    if (!launch)
        return;
    int n = snprintf(buf, size,
                     "\n  in kernel %s launched at %s:%d, grid (%u,%u,%u) block (%u,%u,%u), running block (%u,%u,%u)",
                     launch->kernel, launch->file, launch->line, launch->grid.x, launch->grid.y, launch->grid.z,
                     launch->block.x, launch->block.y, launch->block.z, launch->block_idx.x, launch->block_idx.y,
                     launch->block_idx.z);
    if (current && n > 0 && (size_t)n < size)
        snprintf(buf + n, size - n, " thread (%u,%u,%u) of block (%u,%u,%u)", current->tid.x, current->tid.y,
                 current->tid.z, current->bid.x, current->bid.y, current->bid.z);
}

namespace {

/* ---- fibers ------------------------------------------------------------- */

size_t stack_bytes(void)
{
    static size_t bytes = [] {
        const char *kb = getenv("FACS_CUDA_EMU_STACK_KB");
        size_t v = kb ? (size_t)strtoull(kb, NULL, 10) : 0;
        return (v ? v : 64) << 10;
    }();
    return bytes;
}

/* kMaxClusterThreads stacks, each with an inaccessible guard page below it, so that
 * a kernel overflowing its stack crashes instead of corrupting a neighbour.
 * Reserved once; only the pages a stack touches take memory. */
char *stack_area;
size_t stack_stride;

char *stack_top(unsigned t)
{
    if (!stack_area) {
        size_t page = (size_t)sysconf(_SC_PAGESIZE);
        stack_stride = (stack_bytes() + page - 1) / page * page + page;
        void *area = mmap(NULL, stack_stride * kMaxClusterThreads, PROT_READ | PROT_WRITE,
                          MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
        if (area == MAP_FAILED)
            fault("cannot reserve %zu bytes of fiber stacks: %s", stack_stride * kMaxClusterThreads, strerror(errno));
        stack_area = (char *)area;
        for (unsigned i = 0; i < kMaxClusterThreads; i++)
            if (mprotect(stack_area + i * stack_stride, page, PROT_NONE))
                fault("cannot protect a fiber stack's guard page: %s", strerror(errno));
    }
    return stack_area + (size_t)(t + 1) * stack_stride;
}

void do_copies(const std::vector<AsyncCopy> &copies)
{
    for (const AsyncCopy &c : copies)
        memcpy(c.dst, c.src, c.bytes);
}

/* Does the thread's committed groups of cp.async copies but the `keep` most
 * recent (its wait), oldest first. */
void complete_groups(Fiber *f, size_t keep)
{
    while (f->groups.size() > keep) {
        do_copies(f->groups.front());
        f->groups.pop_front();
    }
}

/* Does every held-back copy of the thread, committed or not: when it returns. */
void complete_copies(Fiber *f)
{
    complete_groups(f, 0);
    do_copies(f->uncommitted);
    f->uncommitted.clear();
}

/* A thread's whole life. A block of a cluster that has returned no longer has
 * shared memory: its slice is poisoned, so a neighbour that reads it later (a
 * missing cluster barrier before the exit) reads NaN. */
void fiber_body(Fiber *f)
{
    launch->body(launch->ctx);
    complete_copies(f);
    f->state = State::Done;
    launch->done++;
    if (++launch->block_done[f->rank] == launch->threads && launch->cluster > 1)
        memset(dynamic_shared.data() + f->rank * launch->shared_stride, kPoison, launch->shared_bytes);
}

#ifdef FACS_EMU_ASM_SWITCH
void *scheduler_sp;

/* Saves the callee-saved registers on the current stack, stores the stack
 * pointer in *save, switches to load and restores its registers. A new
 * fiber's stack is laid out so that the first switch "returns" into
 * facs_emu_trampoline with the Fiber in r12. */
extern "C" void facs_emu_switch(void **save, void *load);
extern "C" void facs_emu_trampoline(void);
extern "C" __attribute__((visibility("hidden"), used, noreturn)) void facs_emu_fiber_main(Fiber *f);

asm(R"(
    .text
    .p2align 4
    .type facs_emu_switch, @function
facs_emu_switch:
    pushq %rbp
    pushq %rbx
    pushq %r12
    pushq %r13
    pushq %r14
    pushq %r15
    movq %rsp, (%rdi)
    movq %rsi, %rsp
    popq %r15
    popq %r14
    popq %r13
    popq %r12
    popq %rbx
    popq %rbp
    ret
    .size facs_emu_switch, .-facs_emu_switch
    .p2align 4
    .type facs_emu_trampoline, @function
facs_emu_trampoline:
    movq %r12, %rdi
    call facs_emu_fiber_main
    ud2
    .size facs_emu_trampoline, .-facs_emu_trampoline
)");

extern "C" void facs_emu_fiber_main(Fiber *f)
{
    fiber_body(f);
    facs_emu_switch(&f->sp, scheduler_sp);
    __builtin_unreachable();
}

void fiber_start(Fiber *f, unsigned t)
{
    /* 16-byte aligned top; after the six pops and the ret, rsp is aligned as
     * a call site needs it. */
    void **sp = (void **)(((uintptr_t)stack_top(t)) & ~(uintptr_t)15) - 9;
    sp[0] = sp[1] = sp[2] = nullptr; /* r15, r14, r13 */
    sp[3] = f;                       /* r12 */
    sp[4] = sp[5] = nullptr;         /* rbx, rbp */
    sp[6] = (void *)facs_emu_trampoline;
    f->sp = sp;
}

void fiber_resume(Fiber *f) { facs_emu_switch(&scheduler_sp, f->sp); }
void fiber_yield(Fiber *f) { facs_emu_switch(&f->sp, scheduler_sp); }
#else
ucontext_t scheduler_uc;

void fiber_entry(unsigned hi, unsigned lo)
{
    Fiber *f = (Fiber *)(((uintptr_t)hi << 32) | (uintptr_t)lo);
    fiber_body(f);
    swapcontext(&f->uc, &scheduler_uc);
    abort();
}

void fiber_start(Fiber *f, unsigned t)
{
    if (getcontext(&f->uc))
        fault("getcontext failed: %s", strerror(errno));
    f->uc.uc_stack.ss_sp = stack_top(t) - stack_stride + (size_t)sysconf(_SC_PAGESIZE);
    f->uc.uc_stack.ss_size = stack_stride - (size_t)sysconf(_SC_PAGESIZE);
    f->uc.uc_link = nullptr;
    uintptr_t p = (uintptr_t)f;
    makecontext(&f->uc, (void (*)(void))fiber_entry, 2, (unsigned)(p >> 32), (unsigned)(p & 0xffffffffu));
}

void fiber_resume(Fiber *f) { swapcontext(&scheduler_uc, &f->uc); }
void fiber_yield(Fiber *f) { swapcontext(&f->uc, &scheduler_uc); }
#endif

Fiber *running(const char *what)
{
    if (!current)
        fault("%s called outside a kernel", what);
    return current;
}

/* ---- the block barrier and warp collectives ----------------------------- */

const char *op_name(int op)
{
    static const char *const names[] = {"__syncwarp", "__shfl_sync", "__shfl_up_sync", "__shfl_down_sync",
                                        "__shfl_xor_sync", "__ballot_sync", "__any_sync", "__all_sync",
                                        "__reduce_add_sync", "__reduce_min_sync", "__reduce_max_sync",
                                        "__reduce_min_sync", "__reduce_max_sync", "__reduce_and_sync",
                                        "__reduce_or_sync", "__reduce_xor_sync"};
    return op >= 0 && op < (int)(sizeof names / sizeof *names) ? names[op] : "?";
}

/* The thread's index in its block. */
unsigned local_index(const Fiber *f) { return (unsigned)(f - fibers.data()) - f->rank * launch->threads; }

/* The lanes of warp w that exist in the block (the last warp may be partial). */
unsigned warp_lanes(unsigned w)
{
    unsigned left = launch->threads - w * 32;
    return left >= 32 ? 0xffffffffu : (1u << left) - 1u;
}

/* The source lane of lane l's shuffle, or l itself where CUDA returns the
 * lane's own value. */
unsigned shuffle_source(const Fiber &f, unsigned l)
{
    unsigned w = (unsigned)f.width, seg = l & ~(w - 1);
    long long param = f.param;
    switch (f.op) {
    case FACS_EMU_SHFL_IDX:
        return seg + ((unsigned)f.param & (w - 1));
    case FACS_EMU_SHFL_UP:
        return param >= 0 && (long long)(l & (w - 1)) >= param ? l - (unsigned)param : l;
    case FACS_EMU_SHFL_DOWN:
        return param >= 0 && (long long)(l & (w - 1)) + param < (long long)w ? l + (unsigned)param : l;
    default: {
        unsigned src = l ^ (unsigned)f.param;
        return src >= seg + w ? l : src;
    }
    }
}

void release_warp(unsigned base, unsigned part)
{
    uint64_t ballot = 0, sum = 0, and_all = ~0ull, or_all = 0, xor_all = 0;
    int64_t min_s = INT32_MAX, max_s = INT32_MIN;
    uint64_t min_u = UINT32_MAX, max_u = 0;
    for (unsigned l = 0; l < 32; l++) {
        if (!(part >> l & 1u))
            continue;
        uint64_t v = fibers[base + l].value;
        int64_t s = (int32_t)(uint32_t)v;
        ballot |= (uint64_t)(v != 0) << l;
        sum += v, and_all &= v, or_all |= v, xor_all ^= v;
        min_s = s < min_s ? s : min_s, max_s = s > max_s ? s : max_s;
        min_u = v < min_u ? v : min_u, max_u = v > max_u ? v : max_u;
    }
    for (unsigned l = 0; l < 32; l++) {
        if (!(part >> l & 1u))
            continue;
        Fiber &f = fibers[base + l];
        switch (f.op) {
        case FACS_EMU_WARP_SYNC: f.result = 0; break;
        case FACS_EMU_VOTE_BALLOT: f.result = ballot; break;
        case FACS_EMU_VOTE_ANY: f.result = ballot != 0; break;
        case FACS_EMU_VOTE_ALL: f.result = ballot == part; break;
        case FACS_EMU_REDUCE_ADD: f.result = (uint32_t)sum; break;
        case FACS_EMU_REDUCE_MIN_S: f.result = (uint32_t)(int32_t)min_s; break;
        case FACS_EMU_REDUCE_MAX_S: f.result = (uint32_t)(int32_t)max_s; break;
        case FACS_EMU_REDUCE_MIN_U: f.result = min_u; break;
        case FACS_EMU_REDUCE_MAX_U: f.result = max_u; break;
        case FACS_EMU_REDUCE_AND: f.result = (uint32_t)and_all; break;
        case FACS_EMU_REDUCE_OR: f.result = or_all; break;
        case FACS_EMU_REDUCE_XOR: f.result = xor_all; break;
        default: {
            unsigned src = shuffle_source(f, l);
            f.result = src < 32 && (part >> src & 1u) ? fibers[base + src].value : ~0ull;
        }
        }
        f.state = State::Ready;
    }
}

/* Stops with what every thread of the block is doing when none can run. */
[[noreturn]] void deadlock(void)
{
    std::string lines;
    char buf[256];
    unsigned done = 0, at_bar = 0, n = launch->cluster * launch->threads;
    for (unsigned t = 0; t < n; t++) {
        const Fiber &f = fibers[t];
        if (f.state == State::Done)
            done++;
        else if (f.state == State::AtBarrier)
            at_bar++;
    }
    snprintf(buf, sizeof buf, "\n  %u of %u threads have returned", done, n);
    lines += buf;
    if (at_bar) {
        snprintf(buf, sizeof buf, "\n  %u wait at a barrier", at_bar);
        lines += buf;
        for (const Barrier &b : launch->bars)
            if (b.arrived) {
                snprintf(buf, sizeof buf, " (__syncthreads at %s:%d)", b.file, b.line);
                lines += buf;
                break;
            }
        if (launch->cluster_bar.arrived) {
            snprintf(buf, sizeof buf, " (the cluster barrier at %s:%d)", launch->cluster_bar.file,
                     launch->cluster_bar.line);
            lines += buf;
        }
    }
    int shown = 0;
    for (unsigned t = 0; t < n && shown < 8; t++) {
        const Fiber &f = fibers[t];
        if (f.state != State::AtWarp)
            continue;
        unsigned local = local_index(&f), base = t - local % 32, part = f.mask & warp_lanes(local / 32), missing = 0;
        for (unsigned l = 0; l < 32; l++)
            if (part >> l & 1u && fibers[base + l].state != State::AtWarp)
                missing |= 1u << l;
        snprintf(buf, sizeof buf, "\n  thread %u (warp %u lane %u) waits in %s(mask 0x%08x) for lanes 0x%08x",
                 local, local / 32, local % 32, op_name(f.op), f.mask, missing);
        lines += buf;
        shown++;
    }
    current = nullptr;
    fault("deadlock: no thread of the block can go on (a barrier or warp collective that some threads never "
          "reach: an early return, a divergent branch, a mask naming lanes that take another path)%s",
          lines.c_str());
}

/* Runs the threads of block `rank` of the running cluster until none can go
 * on (all wait at the cluster barrier or have returned) or the cluster
 * barrier opens; whether any ran. The first block of a cluster thus runs as
 * far ahead of the others as it can, so a missing cluster barrier shows: a
 * block returns (its shared memory poisoned) or overwrites its shared memory
 * before the others read it. */
bool run_block_ahead(unsigned rank)
{
    unsigned first = rank * launch->threads, count = launch->threads, opened = launch->cluster_bar.opened;
    bool ran = false, progress = true;
    while (progress && launch->cluster_bar.opened == opened) {
        progress = false;
        for (unsigned k = 0; k < count && launch->cluster_bar.opened == opened; k++) {
            Fiber &f = fibers[first + (reverse_order ? count - 1 - k : k)];
            if (f.state != State::Ready)
                continue;
            current = &f;
            facs_emu_builtin.thread_idx = f.tid;
            facs_emu_builtin.block_idx = f.bid;
            fiber_resume(&f);
            current = nullptr;
            ran = progress = true;
        }
    }
    return ran;
}

/* Runs the blocks of one cluster (one block for a plain launch), from
 * launch->block_idx on along x, to completion: their threads interleave at
 * every barrier. */
void run_cluster(void)
{
    unsigned n = launch->cluster * launch->threads;
    facs_emu_block_serial++;
    if (!dynamic_shared.empty())
        memset(dynamic_shared.data(), kPoison, dynamic_shared.size());
    launch->done = 0;
    launch->block_done.assign(launch->cluster, 0);
    launch->bars.assign(launch->cluster, Barrier{});
    launch->cluster_bar = Barrier{};
    for (unsigned t = 0; t < n; t++) {
        Fiber &f = fibers[t];
        unsigned bx = launch->block.x, by = launch->block.y, local = t % launch->threads;
        f.rank = t / launch->threads;
        f.tid = uint3{local % bx, local / bx % by, local / (bx * by)};
        f.bid = uint3{launch->block_idx.x + f.rank, launch->block_idx.y, launch->block_idx.z};
        f.state = State::Ready;
        fiber_start(&f, t);
    }
    while (launch->done < n) {
        bool ran = false;
        unsigned opened = launch->cluster_bar.opened;
        for (unsigned b = 0; b < launch->cluster && launch->cluster_bar.opened == opened; b++)
            ran |= run_block_ahead(reverse_order ? launch->cluster - 1 - b : b);
        if (!ran)
            deadlock();
    }
}

/* Waits at barrier b, which the threads [first, first + count) must all
 * reach at the same line; returns the barrier's reduction of pred. */
int wait_at(Fiber *f, Barrier &b, unsigned first, unsigned count, const char *what, int kind, int pred,
            const char *file, int line)
{
    if (b.arrived == 0) {
        b.file = file, b.line = line, b.kind = kind, b.count = 0;
    } else if (b.line != line || strcmp(b.file, file) || b.kind != kind) {
        fault("threads of one %s wait at different barriers: %s:%d and %s:%d (every thread must reach the same "
              "barrier)",
              what, b.file, b.line, file, line);
    }
    b.count += pred;
    f->state = State::AtBarrier;
    stats.barriers++;
    if (++b.arrived == count) {
        switch (kind) {
        case FACS_EMU_BAR_COUNT: b.result = b.count; break;
        case FACS_EMU_BAR_AND: b.result = b.count == (int)count; break;
        case FACS_EMU_BAR_OR: b.result = b.count != 0; break;
        default: b.result = 0;
        }
        for (unsigned t = first; t < first + count; t++)
            fibers[t].state = State::Ready;
        b.arrived = 0;
        b.opened++;
    }
    fiber_yield(f);
    return b.result;
}

} // namespace

/* ---- what cuda_emu.h declares ------------------------------------------- */

int facs_emu_syncthreads(int kind, int pred, const char *file, int line)
{
    Fiber *f = running("__syncthreads");
    Launch &l = *launch;
    return wait_at(f, l.bars[f->rank], f->rank * l.threads, l.threads, "block", kind, pred, file, line);
}

void facs_emu_cluster_sync(const char *file, int line)
{
    Fiber *f = running("the cluster barrier");
    Launch &l = *launch;
    (void)wait_at(f, l.cluster_bar, 0, l.cluster * l.threads, "cluster", FACS_EMU_BAR_PLAIN, 0, file, line);
}

void facs_emu_pipeline_copy(void *dst, const void *src, size_t bytes)
{
    Fiber *f = running("__pipeline_memcpy_async");
    if ((bytes != 4 && bytes != 8 && bytes != 16) || (uintptr_t)dst % bytes || (uintptr_t)src % bytes)
        fault("__pipeline_memcpy_async of %zu bytes from %p to %p (4, 8 or 16 bytes, both aligned to the size)",
              bytes, src, dst);
    f->uncommitted.push_back(AsyncCopy{dst, src, bytes});
}

void facs_emu_pipeline_commit(void)
{
    Fiber *f = running("__pipeline_commit");
    f->groups.push_back(std::move(f->uncommitted));
    f->uncommitted.clear();
}

void facs_emu_pipeline_wait(size_t prior) { complete_groups(running("__pipeline_wait_prior"), prior); }

unsigned facs_emu_cluster_rank(void) { return running("the cluster rank")->rank; }

void *facs_emu_cluster_map(const void *ptr, unsigned rank)
{
    Fiber *f = running("the cluster's shared memory map");
    const Launch &l = *launch;
    const unsigned char *own = dynamic_shared.data() + f->rank * l.shared_stride, *p = (const unsigned char *)ptr;
    if (rank >= l.cluster)
        fault("a cluster's shared memory map to rank %u of a %u-block cluster", rank, l.cluster);
    if (p < own || p > own + l.shared_bytes)
        fault("a cluster's shared memory map of %p, which is not in the block's dynamic shared memory", ptr);
    return dynamic_shared.data() + rank * l.shared_stride + (p - own);
}

void facs_emu_static_shared_in_cluster(void)
{
    fault("a static __shared__ variable in a cluster launch (the emulation keeps one copy for all blocks; use "
          "dynamic shared memory)");
}

uint64_t facs_emu_warp_op(int op, unsigned mask, uint64_t value, int param, int width)
{
    Fiber *f = running(op_name(op));
    unsigned t = (unsigned)(f - fibers.data()), local = local_index(f), lane = local % 32, base = t - lane;
    if (!(mask >> lane & 1u))
        fault("%s with mask 0x%08x, which does not name the calling lane %u", op_name(op), mask, lane);
    if (width < 1 || width > 32 || (width & (width - 1)))
        fault("%s with width %d (a power of 2 up to 32)", op_name(op), width);
    f->op = op, f->mask = mask, f->value = value, f->param = param, f->width = width;
    f->state = State::AtWarp;
    stats.warp_ops++;
    unsigned part = mask & warp_lanes(local / 32);
    bool all = true;
    for (unsigned l = 0; l < 32; l++) {
        if (!(part >> l & 1u) || l == lane)
            continue;
        const Fiber &g = fibers[base + l];
        if (g.state != State::AtWarp) {
            all = false;
        } else if (g.mask != mask || g.op != op) {
            fault("lanes %u and %u of warp %u meet in different warp collectives: %s(mask 0x%08x) and %s(mask "
                  "0x%08x)",
                  l, lane, local / 32, op_name(g.op), g.mask, op_name(op), mask);
        }
    }
    if (all)
        release_warp(base, part);
    fiber_yield(f);
    return f->result;
}

unsigned facs_emu_activemask(void)
{
    Fiber *f = running("__activemask");
    unsigned t = (unsigned)(f - fibers.data()), local = local_index(f), base = t - local % 32, mask = 0;
    for (unsigned l = 0; l < 32; l++)
        if (warp_lanes(local / 32) >> l & 1u && fibers[base + l].state != State::Done)
            mask |= 1u << l;
    return mask;
}

long long facs_emu_clock64(void) { return (long long)(now() * 1e9); }

void *facs_emu_dynamic_shared(void)
{
    Fiber *f = running("extern __shared__");
    return dynamic_shared.empty() ? nullptr : dynamic_shared.data() + f->rank * launch->shared_stride;
}

void facs_emu_run(const char *kernel, const char *file, int line, dim3 grid, dim3 block, size_t shared_bytes,
                  unsigned cluster, void (*body)(void *), void *ctx)
{
    std::lock_guard<std::recursive_mutex> lock(api_mutex);
    start_once();
    if (launch)
        fault("kernel %s launched from inside a kernel (dynamic parallelism is not emulated)", kernel);
    unsigned long long threads = (unsigned long long)block.x * block.y * block.z;
    if (!threads || threads > kMaxThreads || block.x > 1024 || block.y > 1024 || block.z > 64 || !grid.x ||
        !grid.y || !grid.z || grid.x > 2147483647u || grid.y > max_grid_yz() || grid.z > max_grid_yz()) {
        fail(cudaErrorInvalidConfiguration);
        return;
    }
    /* cluster 0: a <<<>>> launch, whose shared memory stays within the default limit */
    size_t max_shared = cluster ? kMaxClusterShared : kMaxDynamicShared;
    cluster = cluster ? cluster : 1;
    if (cluster > kMaxClusterBlocks || grid.x % cluster || cluster * threads > kMaxClusterThreads) {
        fail(cudaErrorInvalidConfiguration);
        return;
    }
    if (shared_bytes > max_shared) {
        fail(cudaErrorInvalidValue);
        return;
    }
    double t0 = now();
    Launch l{};
    l.kernel = kernel, l.file = file, l.line = line, l.grid = grid, l.block = block;
    l.threads = (unsigned)threads, l.cluster = cluster, l.body = body, l.ctx = ctx;
    l.shared_bytes = shared_bytes, l.shared_stride = (shared_bytes + 15) / 16 * 16;
    if (fibers.size() < cluster * threads)
        fibers.resize(cluster * threads);
    dynamic_shared.assign(cluster * l.shared_stride, kPoison);
    launch = &l;
    facs_emu_cluster_blocks = cluster;
    facs_emu_builtin.block_dim = block;
    facs_emu_builtin.grid_dim = grid;
    unsigned long long clusters = (unsigned long long)grid.x / cluster * grid.y * grid.z, per_row = grid.x / cluster;
    for (unsigned long long k = 0; k < clusters; k++) {
        unsigned long long c = reverse_order ? clusters - 1 - k : k;
        l.block_idx = uint3{(unsigned)(c % per_row * cluster), (unsigned)(c / per_row % grid.y),
                            (unsigned)(c / per_row / grid.y)};
        run_cluster();
    }
    facs_emu_cluster_blocks = 1;
    unsigned long long blocks = clusters * cluster;
    launch = nullptr;
    char when[512];
    snprintf(when, sizeof when, "after kernel %s launched at %s:%d", kernel, file, line);
    check_all_red_zones(when);
    stats.launches++;
    stats.blocks += blocks;
    stats.threads += blocks * threads;
    stats.seconds += now() - t0;
}
