/* Collectives on device memory (comm.h "Collectives on tensor memory"), and
 * the gradient buckets and parameter broadcast on CUDA tensors (grad_sync.h).
 *
 * Built twice. Against the CUDA backend (CTest test_comm_device, label gpu):
 * NCCL, even on one rank, so one GPU runs every NCCL call and its stream
 * ordering; exits 77 (skipped) in a build without NCCL, without a GPU, or with
 * fewer GPUs than ranks on the machine. Against the CPU emulation of CUDA under mpirun -np 2 (label
 * cuda_emu): emulated device memory is host memory and goes through MPI, so
 * CI checks the bucket copies, the per-device dispatch and the broadcast of
 * device tensors without a GPU.
 *
 * Every value is a small integer or half, so sums over the ranks are exact
 * and compared with ==. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend.h"
#include "grad_sync.h"

static facs_comm *comm;
static int rank, ranks, failures;

#define EXPECT(cond, ...)                                               \
    do {                                                                \
        if (!(cond)) {                                                  \
            fprintf(stderr, "rank %d: %s:%d: ", rank, __FILE__, __LINE__); \
            fprintf(stderr, __VA_ARGS__);                               \
            fprintf(stderr, "\n");                                      \
            failures++;                                                 \
        }                                                               \
    } while (0)
#define EXPECT_OK(expr) EXPECT((expr) == FACS_OK, "%s: %s", #expr, facs_last_error())

static const facs_backend *cuda;

static void *device_copy_of(const void *host, size_t bytes)
{
    void *d = cuda->alloc(bytes);
    if (!d || cuda->copy_from_host(d, host, bytes) != FACS_OK) {
        fprintf(stderr, "rank %d: device buffer of %zu bytes: %s\n", rank, bytes, facs_last_error());
        exit(1);
    }
    return d;
}

/* Sums of every dtype, an odd count, on buffers the device filled. */
static void check_sums(void)
{
    enum { COUNT = 1031 };
    float f[COUNT];
    double d[COUNT];
    int64_t i64[COUNT];
    for (int i = 0; i < COUNT; i++) {
        f[i] = 0.5f * (float)rank + (float)i;
        d[i] = 0.25 * rank - i;
        i64[i] = ((int64_t)1 << 40) * rank + i;
    }
    float *df = device_copy_of(f, sizeof f);
    double *dd = device_copy_of(d, sizeof d);
    int64_t *di = device_copy_of(i64, sizeof i64);
    EXPECT_OK(facs_comm_sum_on(comm, FACS_DEVICE_CUDA, df, COUNT, FACS_COMM_F32));
    EXPECT_OK(facs_comm_sum_on(comm, FACS_DEVICE_CUDA, dd, COUNT, FACS_COMM_F64));
    EXPECT_OK(facs_comm_sum_on(comm, FACS_DEVICE_CUDA, di, COUNT, FACS_COMM_I64));
    EXPECT_OK(cuda->copy_to_host(f, df, sizeof f));
    EXPECT_OK(cuda->copy_to_host(d, dd, sizeof d));
    EXPECT_OK(cuda->copy_to_host(i64, di, sizeof i64));
    double rank_sum = ranks * (ranks - 1) / 2.0;
    for (int i = 0; i < COUNT; i++) {
        if (f[i] != (float)(0.5 * rank_sum + (double)ranks * i) || d[i] != 0.25 * rank_sum - (double)ranks * i ||
            i64[i] != ((int64_t)1 << 40) * (int64_t)rank_sum + (int64_t)ranks * i) {
            EXPECT(0, "sum at %d: f32 %g, f64 %g, i64 %lld", i, f[i], d[i], (long long)i64[i]);
            break;
        }
    }
    cuda->free(df), cuda->free(dd), cuda->free(di);
}

/* Started sums land before the kernels queued after wait_all: b += a there
 * must see both sums. */
static void check_started_sums(void)
{
    enum { COUNT = 4099 };
    static float a[COUNT], b[COUNT];
    for (int i = 0; i < COUNT; i++) {
        a[i] = (float)(rank + 1);
        b[i] = (float)(i % 7);
    }
    float *da = device_copy_of(a, sizeof a), *db = device_copy_of(b, sizeof b);
    EXPECT_OK(facs_comm_start_sum_on(comm, FACS_DEVICE_CUDA, da, COUNT, FACS_COMM_F32));
    EXPECT_OK(facs_comm_start_sum_on(comm, FACS_DEVICE_CUDA, db, COUNT, FACS_COMM_F32));
    EXPECT_OK(facs_comm_progress_on(comm, FACS_DEVICE_CUDA));
    EXPECT_OK(facs_comm_wait_all_on(comm, FACS_DEVICE_CUDA));
    EXPECT_OK(cuda->axpy(COUNT, 1.0f, da, db));
    EXPECT_OK(cuda->copy_to_host(b, db, sizeof b));
    float sum_a = (float)(ranks * (ranks + 1) / 2);
    for (int i = 0; i < COUNT; i++)
        if (b[i] != (float)(ranks * (i % 7)) + sum_a) {
            EXPECT(0, "started sums: b[%d] = %g, want %g", i, b[i], (float)(ranks * (i % 7)) + sum_a);
            break;
        }
    cuda->free(da), cuda->free(db);
}

static void check_broadcast(void)
{
    for (int root = 0; root < ranks; root++) {
        char text[40];
        snprintf(text, sizeof text, "rank %d of %d", rank, ranks);
        char *d = device_copy_of(text, sizeof text);
        EXPECT_OK(facs_comm_broadcast_on(comm, FACS_DEVICE_CUDA, d, sizeof text, root));
        EXPECT_OK(cuda->copy_to_host(text, d, sizeof text));
        char want[40];
        snprintf(want, sizeof want, "rank %d of %d", root, ranks);
        EXPECT(strcmp(text, want) == 0, "broadcast from %d gave \"%s\"", root, text);
        cuda->free(d);
    }
}

static void upload_fill(facs_tensor *t, float base)
{
    size_t n = facs_tensor_numel(t);
    float *v = malloc(n * sizeof *v);
    for (size_t i = 0; i < n; i++)
        v[i] = base + (float)(i % 5);
    EXPECT_OK(facs_tensor_upload(t, v, n * sizeof *v));
    free(v);
}

/* The tensor's values are base * ranks' sum + ranks * (i % 5) (a sum over the
 * ranks of rank-dependent fills) or, sum == 0, base + i % 5. */
static void expect_values(const facs_tensor *t, const char *what, float base, int summed)
{
    size_t n = facs_tensor_numel(t);
    float *v = malloc(n * sizeof *v);
    EXPECT_OK(facs_tensor_download(t, v, n * sizeof *v));
    for (size_t i = 0; i < n; i++) {
        float want = summed ? base * (float)(ranks * (ranks + 1) / 2) + (float)(ranks * (int)(i % 5))
                            : base + (float)(i % 5);
        if (v[i] != want) {
            EXPECT(0, "%s[%zu] = %g, want %g", what, i, v[i], want);
            break;
        }
    }
    free(v);
}

/* Three trainable parameters (one without a gradient, as when no backward
 * reached it), a buffer and a frozen one; 64-byte buckets split them. */
static void check_grad_sync(void)
{
    facs_param_list list;
    facs_param_list_init(&list);
    facs_param *a = facs_param_list_add(&list, FACS_PARAM_TRAINABLE, "a", FACS_DEVICE_CUDA, 7, 3, 1, 1);
    facs_param *unused = facs_param_list_add(&list, FACS_PARAM_TRAINABLE, "unused", FACS_DEVICE_CUDA, 5, 1, 1, 1);
    facs_param *buffer = facs_param_list_add(&list, FACS_PARAM_BUFFER, "buffer", FACS_DEVICE_CUDA, 4, 1, 1, 1);
    facs_param *b = facs_param_list_add(&list, FACS_PARAM_TRAINABLE, "b", FACS_DEVICE_CUDA, 3, 2, 3, 3);
    if (!a || !unused || !buffer || !b) {
        EXPECT(0, "parameters on CUDA: %s", facs_last_error());
        return;
    }
    facs_grad_sync *gs = NULL;
    EXPECT_OK(facs_grad_sync_create(comm, &list, 64, &gs));
    EXPECT(gs && facs_grad_sync_buckets(gs) >= 2, "expected at least 2 buckets");
    for (int step = 0; gs && step < 2; step++) {
        EXPECT_OK(facs_tensor_ensure_grad(a->value));
        EXPECT_OK(facs_tensor_ensure_grad(b->value));
        upload_fill(a->value->grad, (float)(rank + 1));
        upload_fill(b->value->grad, (float)(2 * (rank + 1)));
        EXPECT_OK(facs_grad_sync_finish(gs));
        expect_values(a->value->grad, "gradient of a", 1.0f, 1);
        expect_values(b->value->grad, "gradient of b", 2.0f, 1);
        EXPECT(unused->value->grad == NULL, "a gradient no rank produced appeared");
    }
    facs_grad_sync_free(gs);

    upload_fill(a->value, (float)(10 * rank));
    upload_fill(buffer->value, (float)(10 * rank + 1));
    EXPECT_OK(facs_param_ensure_momentum(b));
    upload_fill(b->momentum, (float)(10 * rank + 2));
    EXPECT_OK(facs_params_broadcast(comm, &list));
    expect_values(a->value, "a after the broadcast", 0.0f, 0);
    expect_values(buffer->value, "buffer after the broadcast", 1.0f, 0);
    expect_values(b->momentum, "momentum of b after the broadcast", 2.0f, 0);
    facs_param_list_free(&list);
}

static int gpus_for_every_rank(void)
{
#if defined(FACS_CUDA_EMULATION)
    return 1;
#elif !defined(FACS_WITH_NCCL)
    return 0; /* CUDA tensors cannot be summed over ranks without NCCL */
#else
    if (!facs_cuda_available())
        return 0;
    int local = facs_comm_local_rank();
    if (facs_device_select(FACS_DEVICE_CUDA, local > 0 ? local : 0) != FACS_OK)
        return 0;
    return 1;
#endif
}

int main(void)
{
    comm = facs_comm_open_or_exit("test_comm_device", 1);
    rank = facs_comm_rank(comm);
    ranks = facs_comm_size(comm);
    int usable = gpus_for_every_rank(), everywhere = usable;
    int64_t count = usable;
    if (facs_comm_allreduce_sum(comm, &count, 1, FACS_COMM_I64) == FACS_OK)
        everywhere = count == ranks;
    if (!everywhere) {
        printf("rank %d: skipped: no NCCL in this build, or a rank without a GPU of its own\n", rank);
        facs_comm_close(comm);
        return 77;
    }
    cuda = facs_backend_get(FACS_DEVICE_CUDA);
    EXPECT(cuda != NULL, "CUDA backend: %s", facs_last_error());
    EXPECT_OK(facs_comm_use_device(comm, FACS_DEVICE_CUDA));
    if (!failures) {
        EXPECT(facs_comm_use_device(comm, FACS_DEVICE_CPU) == FACS_ERR_ARG &&
                   strstr(facs_last_error(), "already serves cuda"),
               "a second device was accepted: %s", facs_last_error());
        check_sums();
        check_started_sums();
        check_broadcast();
        check_grad_sync();
    }
    printf("rank %d of %d (%s): %s\n", rank, ranks, facs_comm_transport(comm), failures ? "FAILED" : "all passed");
    facs_comm_close(comm);
    return failures ? 1 : 0;
}
