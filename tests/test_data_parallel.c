/* Data parallel (comm.h, grad_sync.h, synchronised BatchNorm): run by ctest
 * under `mpirun -np 2` when MPI is built (and alone otherwise, where every
 * check still holds with one rank). Each rank draws the same global batch,
 * works on its slice, and must get what one process computes on the whole
 * batch in the same program: the rank's slice of y and dx, and summed over
 * the ranks, the parameter gradients and the running statistics. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "autograd.h"
#include "grad_sync.h"
#include "test_util.h"

/* Float sums over a different split (two halves summed in double, against one
 * oneDNN pass): <= 2e-6 measured for the statistics, the normalised outputs
 * and the gradients. */
#define TOL 1e-5

enum { N = 5, C = 5, H = 3, W = 4, CLASSES = 3 };

static facs_comm *comm;
static int rank, ranks;

/* The rank's rows [first, first + count) of a global batch of n: near-equal
 * parts, the remainder to the low ranks (so ranks get different sizes). */
static void slice_of(int n, int r, int *first, int *count)
{
    *count = n / ranks + (r < n % ranks);
    *first = r * (n / ranks) + (r < n % ranks ? r : n % ranks);
}

static void check_collectives(void)
{
    float f[3] = {1, 2, (float)rank};
    double d[2] = {0.5, (double)rank};
    int64_t i = (int64_t)rank + 1;
    CHECK_OK(facs_comm_allreduce_sum(comm, f, 3, FACS_COMM_F32));
    CHECK_OK(facs_comm_allreduce_sum(comm, d, 2, FACS_COMM_F64));
    CHECK_OK(facs_comm_allreduce_sum(comm, &i, 1, FACS_COMM_I64));
    double rank_sum = ranks * (ranks - 1) / 2.0;
    CHECK(f[0] == ranks && f[1] == 2 * ranks && f[2] == rank_sum, "f32 sum: %g %g %g", f[0], f[1], f[2]);
    CHECK(d[0] == 0.5 * ranks && d[1] == rank_sum, "f64 sum: %g %g", d[0], d[1]);
    CHECK(i == (int64_t)ranks * (ranks + 1) / 2, "i64 sum: %lld", (long long)i);
    char text[16];
    snprintf(text, sizeof text, "rank %d", rank);
    CHECK_OK(facs_comm_broadcast(comm, text, sizeof text, 0));
    CHECK(strcmp(text, "rank 0") == 0, "broadcast gave \"%s\"", text);
}

typedef struct {
    facs_param_list list;
    facs_param *w, *gamma, *beta, *mean, *var, *fc_w, *fc_b;
} net;

static facs_param *add(net *m, facs_param_kind kind, const char *name, int n, int c, int h, int w, const float *v)
{
    facs_param *p = facs_param_list_add(&m->list, kind, name, FACS_DEVICE_CPU, n, c, h, w);
    if (p && v)
        CHECK_OK(facs_tensor_from_nchw(p->value, v, facs_tensor_numel(p->value)));
    return p;
}

/* conv 3x3 (C -> C) -> BatchNorm -> ReLU -> global pool -> linear: the same values in every net built. */
static void build(net *m, const float *values)
{
    facs_param_list_init(&m->list);
    const float *v = values;
    m->w = add(m, FACS_PARAM_TRAINABLE, "conv.weight", C, C, 3, 3, v);
    v += C * C * 9;
    m->gamma = add(m, FACS_PARAM_TRAINABLE, "bn.weight", C, 1, 1, 1, v);
    m->beta = add(m, FACS_PARAM_TRAINABLE, "bn.bias", C, 1, 1, 1, v + C);
    m->mean = add(m, FACS_PARAM_BUFFER, "bn.running_mean", C, 1, 1, 1, NULL);
    m->var = add(m, FACS_PARAM_BUFFER, "bn.running_var", C, 1, 1, 1, v + 2 * C);
    v += 3 * C;
    m->fc_w = add(m, FACS_PARAM_TRAINABLE, "fc.weight", CLASSES, C, 1, 1, v);
    m->fc_b = add(m, FACS_PARAM_TRAINABLE, "fc.bias", CLASSES, 1, 1, 1, v + CLASSES * C);
}

enum { VALUES = C * C * 9 + 3 * C + CLASSES * C + CLASSES };

/* One training forward and backward of rows [first, first + n) of the global
 * batch, the loss seeded with n / N; returns the loss (the rows' mean). */
static float step(facs_ctx *ctx, net *m, const float *x_all, const int32_t *labels_all, int first, int n,
                  facs_tensor **bn_out, facs_tensor **dx)
{
    facs_ctx_begin_step(ctx);
    facs_ctx_set_mode(ctx, 1, 1);
    facs_tensor *x = test_tensor(ctx, n, C, H, W, x_all + (size_t)first * C * H * W);
    facs_tensor *t = facs_ctx_tensor(ctx, FACS_I32, n, 1, 1, 1);
    facs_tensor *seed = facs_ctx_tensor(ctx, FACS_F32, 1, 1, 1, 1);
    if (!CHECK_PTR(x) || !CHECK_PTR(t) || !CHECK_PTR(seed))
        return 0;
    x->requires_grad = 1; /* so that dx is computed and compared */
    memcpy(facs_i32(t), labels_all + first, (size_t)n * sizeof(int32_t));
    facs_f32(seed)[0] = (float)n / N;
    facs_conv2d_params cp = facs_conv2d_defaults();
    cp.pad_h = cp.pad_w = 1;
    facs_tensor *y = facs_conv2d(ctx, x, m->w->value, NULL, &cp);
    *bn_out = facs_batchnorm2d(ctx, y, m->gamma->value, m->beta->value, m->mean->value, m->var->value, NULL);
    facs_tensor *logits = facs_linear(ctx, facs_global_avgpool(ctx, facs_relu(ctx, *bn_out)), m->fc_w->value,
                                      m->fc_b->value);
    facs_tensor *loss = facs_softmax_cross_entropy(ctx, logits, t, -100);
    if (!CHECK_PTR(loss))
        return 0;
    facs_keep_grad(x);
    CHECK_OK(facs_backward(ctx, loss, seed));
    *dx = x->grad;
    return facs_f32(loss)[0];
}

static void check_close_vec(const char *what, facs_tensor *got, facs_tensor *want)
{
    float *g = test_nchw(got), *w = test_nchw(want);
    test_close_f(what, g, w, facs_tensor_numel(want), TOL);
    free(g);
    free(w);
}

/* The rank's slice of the single process's full-batch tensor. */
static void check_slice(const char *what, facs_tensor *got, facs_tensor *full, int first, int n)
{
    float *g = test_nchw(got), *w = test_nchw(full);
    size_t per = (size_t)full->c * full->h * full->w;
    test_close_f(what, g, w + first * per, n * per, TOL);
    free(g);
    free(w);
}

static void check_training_step(void)
{
    float *values = test_alloc(VALUES), *x = test_alloc((size_t)N * C * H * W);
    int32_t labels[N];
    test_fill(values, VALUES, -0.5, 0.5);
    for (int c = 0; c < C; c++)
        values[C * C * 9 + 2 * C + c] = 1.0f; /* running variance starts at 1, as PyTorch's */
    test_fill(x, (size_t)N * C * H * W, -2, 3);
    for (int i = 0; i < N; i++)
        labels[i] = (int)test_uniform(0, CLASSES - 1e-9);

    net full, part;
    build(&full, values);
    build(&part, values);
    facs_ctx *ref_ctx = facs_ctx_create(FACS_DEVICE_CPU), *ctx = facs_ctx_create(FACS_DEVICE_CPU);
    facs_grad_sync *gs = NULL;
    if (!CHECK_PTR(ref_ctx) || !CHECK_PTR(ctx) ||
        !CHECK_OK(facs_grad_sync_create(comm, &part.list, 64, &gs))) /* 64 bytes: one bucket per parameter or so */
        return;
    ctx->bn_comm = comm;
    facs_grad_sync_attach(gs, ctx);

    int first, n;
    slice_of(N, rank, &first, &n);
    facs_tensor *bn_full, *dx_full, *bn_part, *dx_part;
    double loss_full = step(ref_ctx, &full, x, labels, 0, N, &bn_full, &dx_full);
    double loss_part = step(ctx, &part, x, labels, first, n, &bn_part, &dx_part) * (double)n / N;
    CHECK_OK(facs_grad_sync_finish(gs));
    CHECK_OK(facs_comm_allreduce_sum(comm, &loss_part, 1, FACS_COMM_F64));
    CHECK(fabs(loss_part - loss_full) <= TOL * fabs(loss_full), "loss %.8g, one process %.8g", loss_part, loss_full);
    check_slice("BatchNorm output (the rank's rows)", bn_part, bn_full, first, n);
    check_slice("input gradient (the rank's rows)", dx_part, dx_full, first, n);
    facs_param *pairs[][2] = {{part.w, full.w}, {part.gamma, full.gamma}, {part.beta, full.beta},
                              {part.fc_w, full.fc_w}, {part.fc_b, full.fc_b}};
    for (size_t i = 0; i < sizeof pairs / sizeof *pairs; i++)
        check_close_vec(pairs[i][1]->name, pairs[i][0]->value->grad, pairs[i][1]->value->grad);
    check_close_vec("running mean", part.mean->value, full.mean->value);
    check_close_vec("running variance", part.var->value, full.var->value);
    CHECK(facs_grad_sync_buckets(gs) >= 3 && facs_grad_sync_started_early(gs) == facs_grad_sync_buckets(gs),
          "every one of the %d buckets starts during backward: %d did", facs_grad_sync_buckets(gs),
          facs_grad_sync_started_early(gs));

    facs_grad_sync_free(gs);
    facs_param_list_free(&full.list);
    facs_param_list_free(&part.list);
    facs_ctx_free(ctx);
    facs_ctx_free(ref_ctx);
    free(values);
    free(x);
}

/* Every rank ends with rank 0's parameters and momentum. */
static void check_broadcast(void)
{
    float *values = test_alloc(VALUES);
    test_fill(values, VALUES, -1, 1);
    values[0] = (float)rank;
    net m;
    build(&m, values);
    CHECK_OK(facs_param_ensure_momentum(m.w));
    facs_f32(m.w->momentum)[0] = 10.0f + (float)rank;
    CHECK_OK(facs_params_broadcast(comm, &m.list));
    CHECK(facs_f32(m.w->value)[0] == 0.0f && facs_f32(m.w->momentum)[0] == 10.0f,
          "rank %d holds %g and momentum %g after the broadcast", rank, facs_f32(m.w->value)[0],
          facs_f32(m.w->momentum)[0]);
    facs_param_list_free(&m.list);
    free(values);
}

int main(void)
{
    comm = facs_comm_open_or_exit("test_data_parallel", 1);
    rank = facs_comm_rank(comm);
    ranks = facs_comm_size(comm);
    /* Every rank draws the same inputs: rank 0's seed. */
    uint64_t seed = (uint64_t)time(NULL);
    if (getenv("FACS_TEST_SEED"))
        seed = strtoull(getenv("FACS_TEST_SEED"), NULL, 10);
    CHECK_OK(facs_comm_broadcast(comm, &seed, sizeof seed, 0));
    char text[32];
    snprintf(text, sizeof text, "%llu", (unsigned long long)seed);
    setenv("FACS_TEST_SEED", text, 1);
    test_seed_from_env();
    printf("rank %d of %d (%s)\n", rank, ranks, facs_comm_transport(comm));

    check_collectives();
    check_broadcast();
    check_training_step();
    int result = test_finish();
    facs_comm_close(comm);
    return result;
}
