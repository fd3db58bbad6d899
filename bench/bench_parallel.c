/* bench-parallel: one data-parallel SGD step of a classifier under
 * `mpirun -np N` (one process without it), the global --batch split over the
 * ranks as facs-finetune splits it, and where the time goes. Rank 0 prints one
 * JSON document on stdout:
 *   {"library": "facs", "ranks": 2, "threads": 1, "arch": ..., "batch": 32, ...,
 *    "step_ms": ..., "backward_ms": ..., "grad_wait_ms": ..., "allreduce_ms": ...,
 *    "grad_mib": ..., "buckets": ..., "buckets_started_in_backward": ...}
 *
 *   step_ms       a whole step: forward, loss, backward with the bucketed sums
 *                 started inside it, waiting for them, SGD
 *   backward_ms   backward alone (the sums it starts run beside it)
 *   grad_wait_ms  the wait after backward for the sums still running: the
 *                 communication the step does not hide
 *   allreduce_ms  one blocking sum of every gradient, alone: the whole
 *                 communication of a step if nothing overlapped it
 * Medians over --runs after --warmup steps, rank 0's clock (the ranks wait for
 * each other in every sum, so their steps take the same time).
 * bench/run_parallel.sh runs it at 1 and 2 ranks with the threads split. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "autograd.h"
#include "bench_util.h"
#include "cli_options.h"
#include "model.h"
#include "optim.h"
#include "parallel.h"

static const char ABOUT[] =
    "Times one data-parallel SGD step under mpirun (the global --batch split over the ranks); JSON on stdout.\n"
    "  --arch A          a classifier architecture (default resnet50)\n"
    "  --input-size S    input side (default 224)\n"
    "  --cifar-stem      ResNet 3x3 stride-1 stem without max-pool (for 32x32 inputs), 10 classes\n"
    "  --sync-bn         BatchNorm statistics over all ranks";

typedef struct {
    char arch[64];
    int size, cifar_stem, sync_bn;
} parallel_bench;

static facs_status take_option(void *user, const char *name, const char *v)
{
    parallel_bench *b = user;
    if (!strcmp(name, "--arch")) {
        snprintf(b->arch, sizeof b->arch, "%s", v);
        return FACS_OK;
    }
    if (!strcmp(name, "--input-size"))
        return facs_cli_int("--input-size", v, 8, 4096, &b->size);
    if (!strcmp(name, "--cifar-stem"))
        b->cifar_stem = 1;
    if (!strcmp(name, "--sync-bn"))
        b->sync_bn = 1;
    return FACS_OK;
}

typedef struct {
    double step, backward, wait;
} step_times;

/* One step of rank's part (n of global images) of the batch x / labels. */
static facs_status step(facs_ctx *ctx, facs_model *m, facs_sgd *sgd, facs_parallel *par, facs_tensor *x,
                        const int *labels, int n, int global, step_times *t)
{
    double t0 = bench_now_ms();
    facs_ctx_begin_step(ctx);
    facs_ctx_set_mode(ctx, 1, 1);
    facs_tensor *logits = facs_model_forward(ctx, m, x);
    facs_tensor *target = facs_ctx_tensor(ctx, FACS_I32, n, 1, 1, 1);
    if (!logits || !target)
        return facs_last_status();
    FACS_TRY(facs_tensor_upload(target, labels, (size_t)n * sizeof *labels));
    facs_tensor *loss = facs_softmax_cross_entropy(ctx, logits, target, -100);
    facs_tensor *seed = facs_parallel_loss_seed(ctx, n, global);
    if (!loss || (!seed && n != global))
        return facs_last_status();
    double t1 = bench_now_ms();
    FACS_TRY(facs_backward(ctx, loss, seed));
    double t2 = bench_now_ms();
    FACS_TRY(facs_parallel_finish_grads(par));
    double t3 = bench_now_ms();
    FACS_TRY(facs_sgd_step(sgd));
    FACS_TRY(facs_sgd_zero_grad(sgd));
    *t = (step_times){bench_now_ms() - t0, t2 - t1, t3 - t2};
    return FACS_OK;
}

/* One blocking sum of a buffer as large as every gradient together, in ms. */
static facs_status time_allreduce(facs_comm *comm, float *buf, size_t floats, double *ms)
{
    double t0 = bench_now_ms();
    facs_status s = facs_comm_allreduce_sum(comm, buf, floats, FACS_COMM_F32);
    *ms = bench_now_ms() - t0;
    return s;
}

typedef struct {
    double *step, *backward, *wait, *allreduce;
} samples;

static facs_status build(const parallel_bench *b, facs_ctx **ctx, facs_model **m, facs_sgd *sgd)
{
    facs_model_options mo;
    FACS_TRY(facs_model_options_for_arch(b->arch, &mo));
    mo.cifar_stem = b->cifar_stem;
    if (b->cifar_stem)
        mo.classes = 10;
    if (!(*ctx = facs_ctx_create(FACS_DEVICE_CPU)))
        return facs_last_status();
    FACS_TRY(facs_model_create(m, &mo, FACS_DEVICE_CPU, 1));
    facs_sgd_options so = facs_sgd_defaults();
    so.lr = 0.01;
    so.momentum = 0.9;
    so.weight_decay = 1e-4;
    return facs_sgd_init(sgd, facs_model_params(*m), &so);
}

static int run(facs_comm *comm, const parallel_bench *b, const bench_options *o, facs_model *m, facs_ctx *ctx,
               facs_sgd *sgd, samples *t, json_t *doc)
{
    int ranks = facs_comm_size(comm), rank = facs_comm_rank(comm);
    if (facs_parallel_check_batch(o->batch, ranks) != FACS_OK) {
        fprintf(stderr, "bench-parallel: %s\n", facs_last_error());
        return 2;
    }
    int n = o->batch / ranks, classes = facs_model_get_options(m)->classes;
    unsigned seed = 1u + (unsigned)rank;
    facs_tensor *x = bench_random_tensor(n, 3, b->size, b->size, &seed);
    int *labels = malloc((size_t)n * sizeof *labels);
    size_t floats = facs_param_list_numel(facs_model_params(m), FACS_PARAM_TRAINABLE);
    float *grads = calloc(floats, sizeof *grads);
    facs_parallel par;
    facs_status s = x && labels && grads ? facs_parallel_setup(&par, comm, ctx, facs_model_params(m), b->sync_bn)
                                         : facs_fail(FACS_ERR_MEMORY, "out of memory for the batch");
    for (int i = 0; labels && i < n; i++)
        labels[i] = (int)(rand_r(&seed) % (unsigned)classes);
    for (int i = -o->warmup; s == FACS_OK && i < o->runs; i++) {
        step_times st = {0, 0, 0};
        double reduce_ms = 0;
        s = step(ctx, m, sgd, &par, x, labels, n, o->batch, &st);
        if (s == FACS_OK)
            s = time_allreduce(comm, grads, floats, &reduce_ms);
        if (s == FACS_OK && i >= 0) {
            t->step[i] = st.step;
            t->backward[i] = st.backward;
            t->wait[i] = st.wait;
            t->allreduce[i] = reduce_ms;
        }
        if (rank == 0)
            fprintf(stderr, "%s b%d on %d ranks, step %d: %.1f ms (backward %.1f, wait %.1f, all-reduce alone %.1f)\n",
                    b->arch, o->batch, ranks, i, st.step, st.backward, st.wait, reduce_ms);
    }
    if (s == FACS_OK) {
        json_object_set_new(doc, "step_ms", bench_json_real(bench_median(t->step, o->runs), 3));
        json_object_set_new(doc, "backward_ms", bench_json_real(bench_median(t->backward, o->runs), 3));
        json_object_set_new(doc, "grad_wait_ms", bench_json_real(bench_median(t->wait, o->runs), 3));
        json_object_set_new(doc, "allreduce_ms", bench_json_real(bench_median(t->allreduce, o->runs), 3));
        json_object_set_new(doc, "grad_mib", bench_json_real(floats * 4.0 / 1048576.0, 2));
        json_object_set_new(doc, "buckets", json_integer(par.gsync ? facs_grad_sync_buckets(par.gsync) : 0));
        json_object_set_new(doc, "buckets_started_in_backward",
                            json_integer(par.gsync ? facs_grad_sync_started_early(par.gsync) : 0));
        json_object_set_new(doc, "images_per_s",
                            bench_json_real(o->batch * 1e3 / bench_median(t->step, o->runs), 2));
    } else {
        fprintf(stderr, "bench-parallel: rank %d: %s\n", rank, facs_last_error());
    }
    if (x && labels && grads)
        facs_parallel_free(&par);
    facs_tensor_free(x);
    free(labels);
    free(grads);
    return s == FACS_OK ? 0 : 1;
}

int main(int argc, char **argv)
{
    static const bench_option own[] = {{"--arch", 1}, {"--input-size", 1}, {"--cifar-stem", 0}, {"--sync-bn", 0},
                                       {NULL, 0}};
    parallel_bench b = {"resnet50", 224, 0, 0};
    bench_options o;
    int rc = bench_take_options(&argc, argv, "bench-parallel", own, take_option, &b);
    if (rc < 0)
        rc = bench_parse(argc, argv, "bench-parallel", ABOUT, &o);
    if (rc >= 0)
        return rc;
    facs_comm *comm = facs_parallel_open("bench-parallel");
    facs_ctx *ctx = NULL;
    facs_model *m = NULL;
    facs_sgd sgd;
    if (build(&b, &ctx, &m, &sgd) != FACS_OK) {
        fprintf(stderr, "bench-parallel: %s\n", facs_last_error());
        facs_comm_abort(comm, 1);
    }
    samples t = {calloc((size_t)o.runs, sizeof(double)), calloc((size_t)o.runs, sizeof(double)),
                 calloc((size_t)o.runs, sizeof(double)), calloc((size_t)o.runs, sizeof(double))};
    json_t *doc = json_pack("{s:s, s:i, s:i, s:s, s:i, s:b, s:i, s:b, s:i, s:i, s:s}", "library", "facs", "ranks",
                            facs_comm_size(comm), "threads", o.threads, "arch", b.arch, "input_size", b.size,
                            "cifar_stem", b.cifar_stem, "batch", o.batch, "sync_bn", b.sync_bn, "runs", o.runs,
                            "warmup", o.warmup, "transport", facs_comm_transport(comm));
    rc = t.step && t.backward && t.wait && t.allreduce ? run(comm, &b, &o, m, ctx, &sgd, &t, doc) : 1;
    if (rc)
        facs_comm_abort(comm, rc);
    if (facs_comm_rank(comm) == 0)
        rc = bench_json_print(doc);
    else
        json_decref(doc);
    free(t.step);
    free(t.backward);
    free(t.wait);
    free(t.allreduce);
    facs_sgd_free(&sgd);
    facs_model_free(m);
    facs_ctx_free(ctx);
    facs_comm_close(comm);
    return rc;
}
