/* Synchronised BatchNorm on CUDA tensors (ctx->bn_comm, kernels/cuda/
 * batchnorm.cu), run on the CPU emulation of CUDA under `mpirun -np 2` (alone
 * it still runs, and then checks the rank's batch against the CPU).
 *
 * Every rank draws the same global batch from the same seed and runs
 * batchnorm2d forward and backward in training mode on its slice, on a CUDA
 * context whose bn_comm is the run's communicator. The slices differ in size
 * (the remainder goes to the low ranks), so a count taken as ranks times the
 * local one shows. Each rank must get what the CPU backend computes on the
 * whole batch in one process-local context without bn_comm: its slice of y
 * and dx, the running statistics, and, summed over the ranks, dgamma and
 * dbeta (each rank's are its own sums, which gradient sync adds later; rank 0
 * starts them from drawn values, the others from zero, so a = in place of
 * += shows). A second run on the same inputs must reproduce every bit.
 *
 * Usage: test-sync-bn-emu   (FACS_TEST_SEED=n replays a run)
 * Prints "N passed, N failed" per rank; exits 1 on any failure. */
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "autograd.h"
#include "comm.h"
#include "ops.h"

/* Normwise relative error bound (max |got - want| / max |want|). The CPU
 * reference is oneDNN's float pass over the whole batch; the CUDA side sums
 * float runs of at most 256 values into double, ranks added in double, so
 * each side's statistics carry ~1e-7 relative error and the outputs a few
 * float roundings more. Measured over 8 seeds on 2 ranks and on 3: <= 8.6e-7
 * (y the largest). A statistic over one rank's pixels only, or a wrong
 * count, is off by 1e-2 or more at this batch size. */
#define TOL 1e-5

enum { PER_RANK = 2, C = 37, H = 5, W = 7 };

static facs_comm *comm;
static int rank, ranks, passed, failed;
static uint64_t rng_state;

static int check(int cond, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int check(int cond, const char *fmt, ...)
{
    if (cond) {
        passed++;
        return 1;
    }
    failed++;
    printf("rank %d FAIL: ", rank);
    va_list args;
    va_start(args, fmt);
    vprintf(fmt, args);
    va_end(args);
    printf("\n");
    return 0;
}

static int check_ok(facs_status s, const char *what)
{
    return check(s == FACS_OK, "%s: %s", what, facs_last_error());
}

/* SplitMix64: replayable from the seed, the same on every rank. */
static double uniform(double lo, double hi)
{
    uint64_t z = (rng_state += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    z ^= z >> 31;
    return lo + (hi - lo) * (double)(z >> 11) * (1.0 / 9007199254740992.0);
}

static float *alloc_floats(size_t count)
{
    float *p = calloc(count, sizeof *p);
    if (!p) {
        fprintf(stderr, "out of memory\n");
        facs_comm_abort(comm, 1);
    }
    return p;
}

static float *drawn(size_t count, double lo, double hi)
{
    float *p = alloc_floats(count);
    for (size_t i = 0; i < count; i++)
        p[i] = (float)uniform(lo, hi);
    return p;
}

/* The whole batch (NCHW) and the parameters, as every rank draws them. */
typedef struct {
    float *x, *dy;
    float *gamma, *beta, *running_mean, *running_var, *dgamma0, *dbeta0;
} problem;

static problem draw_problem(int n)
{
    problem p;
    size_t per_channel = (size_t)n * H * W;
    p.x = alloc_floats(per_channel * C);
    /* Channels with their own offset and spread, so that a channel mixed up
     * with another shows. */
    for (int c = 0; c < C; c++) {
        double offset = uniform(-2, 2), spread = uniform(0.5, 2);
        for (int i = 0; i < n; i++)
            for (int k = 0; k < H * W; k++)
                p.x[((size_t)i * C + c) * H * W + k] = (float)(offset + spread * uniform(-1, 1));
    }
    p.dy = drawn(per_channel * C, -1, 1);
    p.gamma = drawn(C, 0.5, 1.5);
    p.beta = drawn(C, -0.5, 0.5);
    p.running_mean = drawn(C, -0.2, 0.2);
    p.running_var = drawn(C, 0.5, 1.5);
    p.dgamma0 = drawn(C, -1, 1);
    p.dbeta0 = drawn(C, -1, 1);
    return p;
}

static void free_problem(problem *p)
{
    float *all[] = {p->x, p->dy, p->gamma, p->beta, p->running_mean, p->running_var, p->dgamma0, p->dbeta0};
    for (size_t i = 0; i < sizeof all / sizeof *all; i++)
        free(all[i]);
}

/* What one run returns, NCHW on the host: y and dx of its rows, the running
 * statistics after the step, dgamma and dbeta. */
typedef struct {
    float *y, *dx, *running_mean, *running_var, *dgamma, *dbeta;
} result;

static void free_result(result *r)
{
    float *all[] = {r->y, r->dx, r->running_mean, r->running_var, r->dgamma, r->dbeta};
    for (size_t i = 0; i < sizeof all / sizeof *all; i++)
        free(all[i]);
}

static facs_tensor *channel_vector(facs_device device, const float *values, int param)
{
    facs_tensor *t = facs_tensor_create(device, FACS_F32, C, 1, 1, 1);
    if (!t || facs_tensor_from_nchw(t, values, C) != FACS_OK) {
        facs_tensor_free(t);
        return NULL;
    }
    t->is_param = t->requires_grad = (unsigned)param;
    return t;
}

static float *host_copy(const facs_tensor *t)
{
    float *p = alloc_floats(facs_tensor_numel(t));
    check_ok(facs_tensor_to_nchw(t, p, facs_tensor_numel(t)), "download");
    return p;
}

/* The heap tensors of a run: gamma and beta (parameters), the running
 * statistics. */
enum { GAMMA, BETA, MEAN, VAR, TENSORS };

/* batchnorm2d forward (training) and backward on rows [first, first + n) of
 * p, on ctx. */
static result step(facs_ctx *ctx, facs_tensor *const *t, const problem *p, int first, int n)
{
    result r = {0};
    facs_ctx_begin_step(ctx);
    facs_ctx_set_mode(ctx, 1, 1);
    size_t offset = (size_t)first * C * H * W, count = (size_t)n * C * H * W;
    facs_tensor *x = facs_ctx_tensor(ctx, FACS_F32, n, C, H, W), *dy = facs_ctx_tensor(ctx, FACS_F32, n, C, H, W);
    if (!check(x && dy, "input tensors: %s", facs_last_error()) ||
        !check_ok(facs_tensor_from_nchw(x, p->x + offset, count), "x upload") ||
        !check_ok(facs_tensor_from_nchw(dy, p->dy + offset, count), "dy upload"))
        return r;
    x->requires_grad = 1;
    facs_tensor *y = facs_batchnorm2d(ctx, x, t[GAMMA], t[BETA], t[MEAN], t[VAR], NULL);
    if (!check(y != NULL, "batchnorm2d forward: %s", facs_last_error()))
        return r;
    facs_keep_grad(x);
    if (check_ok(facs_backward(ctx, y, dy), "batchnorm2d backward"))
        r = (result){host_copy(y),      host_copy(x->grad),      host_copy(t[MEAN]),
                     host_copy(t[VAR]), host_copy(t[GAMMA]->grad), host_copy(t[BETA]->grad)};
    return r;
}

/* step on a context of device with bn_comm, on fresh parameters from p; the
 * parameter gradients start at p's dgamma0 and dbeta0 when start_grads is
 * set, else at zero. */
static result run(facs_device device, facs_comm *bn_comm, const problem *p, int first, int n, int start_grads)
{
    result r = {0};
    facs_ctx *ctx = facs_ctx_create(device);
    float *zeros = alloc_floats(C);
    facs_tensor *t[TENSORS] = {channel_vector(device, p->gamma, 1), channel_vector(device, p->beta, 1),
                               channel_vector(device, p->running_mean, 0),
                               channel_vector(device, p->running_var, 0)};
    if (check(ctx && t[GAMMA] && t[BETA] && t[MEAN] && t[VAR], "context and parameters: %s", facs_last_error()) &&
        check_ok(facs_tensor_ensure_grad(t[GAMMA]), "dgamma") && check_ok(facs_tensor_ensure_grad(t[BETA]), "dbeta") &&
        check_ok(facs_tensor_from_nchw(t[GAMMA]->grad, start_grads ? p->dgamma0 : zeros, C), "dgamma upload") &&
        check_ok(facs_tensor_from_nchw(t[BETA]->grad, start_grads ? p->dbeta0 : zeros, C), "dbeta upload")) {
        ctx->bn_comm = bn_comm;
        r = step(ctx, t, p, first, n);
    }
    for (int i = 0; i < TENSORS; i++)
        facs_tensor_free(t[i]);
    facs_ctx_free(ctx);
    free(zeros);
    if (!r.y && ranks > 1) {
        /* The other ranks may wait in a collective this one will not reach. */
        printf("rank %d: ending every rank\n", rank);
        fflush(stdout);
        facs_comm_abort(comm, 1);
    }
    return r;
}

static double rel_err(const float *got, const float *want, size_t count)
{
    double err = 0, scale = 1e-30;
    for (size_t i = 0; i < count; i++) {
        double d = fabs((double)got[i] - want[i]);
        err = d > err || isnan(d) ? d : err; /* a NaN sticks */
        scale = fmax(scale, fabs((double)want[i]));
    }
    return isnan(err) ? INFINITY : err / scale;
}

static void check_close(const char *what, const float *got, const float *want, size_t count)
{
    double e = rel_err(got, want, count);
    if (check(e <= TOL, "%s: relative error %.3g > %.3g", what, e, TOL))
        printf("rank %d: %-28s relative error %.3g\n", rank, what, e);
}

static void check_same_bits(const char *what, const float *a, const float *b, size_t count)
{
    check(memcmp(a, b, count * sizeof *a) == 0, "%s: a rerun gave other bits", what);
}

/* Rows [first, first + count) of a global batch of n: near-equal parts, the
 * remainder to the low ranks. */
static void slice_of(int n, int r, int *first, int *count)
{
    *count = n / ranks + (r < n % ranks);
    *first = r * (n / ranks) + (r < n % ranks ? r : n % ranks);
}

static void check_synchronised(void)
{
    const int n_all = PER_RANK * ranks + 1;
    problem p = draw_problem(n_all);
    int first, n;
    slice_of(n_all, rank, &first, &n);
    printf("rank %d of %d: rows %d..%d of %d, C %d, H %d, W %d\n", rank, ranks, first, first + n - 1, n_all, C, H, W);

    result want = run(FACS_DEVICE_CPU, NULL, &p, 0, n_all, 1);
    result got = run(FACS_DEVICE_CUDA, comm, &p, first, n, rank == 0);
    result again = run(FACS_DEVICE_CUDA, comm, &p, first, n, rank == 0);
    size_t row = (size_t)C * H * W, rows = (size_t)n * row;

    if (check(want.y && got.y && again.y, "a run failed: nothing to compare")) {
        check_same_bits("y", again.y, got.y, rows);
        check_same_bits("dx", again.dx, got.dx, rows);
        check_same_bits("running mean", again.running_mean, got.running_mean, C);
        check_same_bits("running variance", again.running_var, got.running_var, C);
        check_same_bits("dgamma", again.dgamma, got.dgamma, C);
        check_same_bits("dbeta", again.dbeta, got.dbeta, C);
        check_close("y (the rank's rows)", got.y, want.y + first * row, rows);
        check_close("dx (the rank's rows)", got.dx, want.dx + first * row, rows);
        check_close("running mean", got.running_mean, want.running_mean, C);
        check_close("running variance", got.running_var, want.running_var, C);
        check_ok(facs_comm_allreduce_sum(comm, got.dgamma, C, FACS_COMM_F32), "dgamma sum over ranks");
        check_ok(facs_comm_allreduce_sum(comm, got.dbeta, C, FACS_COMM_F32), "dbeta sum over ranks");
        check_close("dgamma (summed over ranks)", got.dgamma, want.dgamma, C);
        check_close("dbeta (summed over ranks)", got.dbeta, want.dbeta, C);
    }
    free_result(&want);
    free_result(&got);
    free_result(&again);
    free_problem(&p);
}

int main(void)
{
    comm = facs_comm_open_or_exit("test_sync_bn_emu", 1);
    rank = facs_comm_rank(comm);
    ranks = facs_comm_size(comm);
    uint64_t seed = 20240601;
    if (getenv("FACS_TEST_SEED"))
        seed = strtoull(getenv("FACS_TEST_SEED"), NULL, 10);
    if (facs_comm_broadcast(comm, &seed, sizeof seed, 0) != FACS_OK) {
        fprintf(stderr, "%s\n", facs_last_error());
        facs_comm_abort(comm, 1);
    }
    printf("rank %d of %d (%s), seed %llu (set FACS_TEST_SEED to replay)\n", rank, ranks, facs_comm_transport(comm),
           (unsigned long long)seed);
    rng_state = seed * 0x9e3779b97f4a7c15ULL + 1;

    check_synchronised();

    printf("rank %d: %d passed, %d failed\n", rank, passed, failed);
    facs_comm_close(comm);
    return failed ? 1 : 0;
}
