/* The meta device (tensor.h FACS_DEVICE_META): shapes without storage.
 *
 *   1. Memory: counting ResNet-50 at 4096x4096 and 8192x8192 (what
 *      facs-summary does) grows the process's peak RSS by less than 200 MB,
 *      although the same forward pass needs gigabytes on a real device (the
 *      meta context's arena peak says how many). Before the meta device
 *      facs-summary computed the network on the CPU: 4 min 24 s and 9.2 GB
 *      at 4096. Runs first, while the peak RSS is still the start-up one.
 *   2. The counts of backbone/flops.h are identical on the CPU and on meta
 *      (every layer's name, op, shape, parameters and FLOPs, both
 *      conventions) for several architectures, and ResNet-50's match the
 *      numbers the CPU gave at 224 and at 4096.
 *   3. The device itself: huge tensors cost nothing, downloads read zeros,
 *      devices are not mixed, every op gives the CPU's shapes (those the
 *      backbones do not use too), and a whole training step (forward,
 *      cross-entropy, backward, SGD) runs.
 *   4. facs_ctx_seed_step (ctx.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "flops.h"
#include "model.h"
#include "optim.h"
#include "test_util.h"

#define RSS_BOUND_KB (200L * 1024)

static long peak_rss_kb(void)
{
    struct rusage u;
    return getrusage(RUSAGE_SELF, &u) == 0 ? u.ru_maxrss : -1;
}

static facs_model *create(const char *arch, facs_device device, int classes)
{
    facs_model_options o;
    facs_model *m = NULL;
    if (!CHECK_OK(facs_model_options_for_arch(arch, &o)))
        return NULL;
    o.classes = classes;
    if (strncmp(arch, "facs_mobilenet", 14) == 0)
        o.fusion_bn = FACS_FUSION_BN_POST;
    CHECK(facs_model_create(&m, &o, device, 1) == FACS_OK, "%s on %s: %s", arch, facs_device_name(device),
          facs_last_error());
    return m;
}

/* ResNet-50's ptflops count at size on meta; -1 on failure. */
static int64_t resnet50_flops_on_meta(int size)
{
    facs_model *m = create("resnet50", FACS_DEVICE_META, 1000);
    facs_flops_count c;
    int64_t flops = -1;
    if (m && CHECK_OK(facs_flops_count_model(m, size, size, FACS_FLOPS_PTFLOPS, &c))) {
        CHECK(c.params == 25557032, "resnet50 at %d: %lld params", size, (long long)c.params);
        flops = c.flops;
        facs_flops_count_free(&c);
    }
    facs_model_free(m);
    return flops;
}

static void memory_bound(void)
{
    long start = peak_rss_kb();
    /* What the CPU counted at 4096 before the meta device (facs-summary --json). */
    int64_t f4096 = resnet50_flops_on_meta(4096);
    CHECK(f4096 == 1377554088936LL, "resnet50 at 4096: %lld FLOPs, the CPU counted 1377554088936",
          (long long)f4096);
    long after4096 = peak_rss_kb();
    printf("resnet50 at 4096 on meta: peak RSS %ld -> %ld KB\n", start, after4096);
    if (!CHECK(after4096 - start < RSS_BOUND_KB, "counting at 4096 grew the peak RSS by %ld KB (bound %ld)",
               after4096 - start, RSS_BOUND_KB))
        return; /* computing for real: 8192 would take four times as much */
    int64_t f8192 = resnet50_flops_on_meta(8192);
    CHECK(f8192 > 0 && (double)f8192 / (double)f4096 > 3.99 && (double)f8192 / (double)f4096 < 4.01,
          "resnet50 at 8192: %lld FLOPs, not about 4x those at 4096", (long long)f8192);

    /* The same pass at 8192 by hand: the arena accounts for gigabytes it never holds. */
    facs_model *m = create("resnet50", FACS_DEVICE_META, 1000);
    facs_ctx *ctx = facs_ctx_create(FACS_DEVICE_META);
    if (m && CHECK_PTR(ctx)) {
        facs_ctx_set_mode(ctx, 0, 0);
        facs_ctx_begin_step(ctx);
        facs_tensor *y = facs_model_forward(ctx, m, facs_ctx_zeros(ctx, FACS_F32, 1, 3, 8192, 8192));
        CHECK(y && y->n == 1 && y->c == 1000 && y->h == 1 && y->w == 1, "resnet50 forward on meta: %s",
              y ? "wrong shape" : facs_last_error());
        /* The stem's output alone is 64 x 4096 x 4096 floats. */
        CHECK(facs_ctx_peak_bytes(ctx) >= (size_t)64 * 4096 * 4096 * 4, "meta arena peak %zu bytes",
              facs_ctx_peak_bytes(ctx));
        printf("resnet50 at 8192 on meta: the arena accounts for %.1f GiB\n",
               facs_ctx_peak_bytes(ctx) / 1073741824.0);
    }
    facs_ctx_free(ctx);
    facs_model_free(m);
    long end = peak_rss_kb();
    printf("resnet50 at 8192 on meta: peak RSS %ld KB\n", end);
    CHECK(end - start < RSS_BOUND_KB, "counting at 8192 grew the peak RSS by %ld KB (bound %ld)", end - start,
          RSS_BOUND_KB);
}

static void same_counts(facs_model *cpu, facs_model *meta, const char *arch, int size, facs_flops_convention conv)
{
    facs_flops_count a = {0}, b = {0};
    const char *cn = facs_flops_convention_name(conv);
    if (CHECK_OK(facs_flops_count_model(cpu, size, size, conv, &a)) &&
        CHECK_OK(facs_flops_count_model(meta, size, size, conv, &b))) {
        CHECK(a.count == b.count && a.count > 0, "%s %s: %d layers on the CPU, %d on meta", arch, cn, a.count,
              b.count);
        int differ = 0;
        for (int i = 0; i < a.count && i < b.count; i++) {
            const facs_flops_layer *x = &a.layers[i], *y = &b.layers[i];
            if (strcmp(x->name, y->name) || strcmp(x->op, y->op) || memcmp(x->shape, y->shape, sizeof x->shape) ||
                x->params != y->params || x->flops != y->flops)
                differ += CHECK(0, "%s %s layer %d: %s %s %lld %lld on the CPU, %s %s %lld %lld on meta", arch, cn,
                                i, x->name, x->op, (long long)x->params, (long long)x->flops, y->name, y->op,
                                (long long)y->params, (long long)y->flops) == 0;
            if (differ > 3)
                break;
        }
        CHECK(a.params == b.params && a.used_params == b.used_params && a.flops == b.flops,
              "%s %s: totals %lld/%lld/%lld on the CPU, %lld/%lld/%lld on meta", arch, cn, (long long)a.params,
              (long long)a.used_params, (long long)a.flops, (long long)b.params, (long long)b.used_params,
              (long long)b.flops);
        printf("%-20s %4d %-10s %3d layers, %lld params, %lld FLOPs on both devices\n", arch, size, cn, a.count,
               (long long)a.params, (long long)a.flops);
        if (strcmp(arch, "resnet50") == 0 && size == 224 && conv == FACS_FLOPS_PTFLOPS)
            CHECK(b.params == 25557032 && b.flops == 4121925096LL, "resnet50 at 224: %lld params, %lld FLOPs",
                  (long long)b.params, (long long)b.flops);
    }
    facs_flops_count_free(&a);
    facs_flops_count_free(&b);
}

/* Every op on both devices: the same output shapes (or the same refusal). */
static void op_shapes(void)
{
    facs_ctx *ctxs[2] = {facs_ctx_create(FACS_DEVICE_CPU), facs_ctx_create(FACS_DEVICE_META)};
    facs_tensor *outs[2][8] = {{0}};
    for (int d = 0; d < 2; d++) {
        facs_ctx *ctx = ctxs[d];
        facs_device dev = ctx->device;
        facs_ctx_set_mode(ctx, 1, 1);
        facs_ctx_begin_step(ctx);
        facs_tensor *w = facs_tensor_create(dev, FACS_F32, 8, 4, 3, 3), *sw = facs_tensor_create(dev, FACS_F32, 4, 16, 1, 1);
        facs_tensor *x = facs_ctx_zeros(ctx, FACS_F32, 2, 4, 9, 7);
        if (!CHECK_PTR(w) || !CHECK_PTR(sw) || !CHECK_PTR(x))
            return;
        w->requires_grad = w->is_param = sw->requires_grad = sw->is_param = 1;
        x->requires_grad = 1;
        facs_conv2d_params cp = facs_conv2d_defaults();
        cp.stride_h = 2;
        cp.pad_w = 1;
        facs_pool2d_params pp = {3, 2, 2, 1, 1, 0, 1, 1};
        facs_tensor *y = facs_relu6(ctx, facs_conv2d(ctx, x, w, NULL, &cp));
        facs_tensor *r = facs_resize_bilinear(ctx, y, 11, 5, 0);
        facs_tensor *cat = facs_concat(ctx, 2, (facs_tensor *[]){r, facs_sigmoid(ctx, r)});
        facs_tensor *f = facs_facs(ctx, facs_dropout2d(ctx, cat, 0.5f), sw, NULL,
                                   &(facs_fuse_params){FACS_FUSION_WEIGHTED, 0.5f});
        facs_tensor *p = facs_avgpool2d(ctx, facs_maxpool2d(ctx, f, &pp), &pp);
        facs_tensor *a = facs_adaptive_avgpool2d(ctx, f, 2, 3);
        facs_tensor *s = facs_scale_channels(ctx, a, facs_global_avgpool(ctx, a));
        facs_tensor *q = facs_channel_pool(ctx, s, 2, FACS_CHANNEL_POOL_MAX);
        facs_tensor *labels = facs_ctx_zeros(ctx, FACS_I32, 2, 1, 2, 3);
        facs_tensor *loss = facs_softmax_cross_entropy(ctx, q, labels, 255);
        facs_tensor *got[8] = {y, r, cat, f, p, a, q, loss};
        memcpy(outs[d], got, sizeof got);
        CHECK(loss != NULL, "op chain on %s: %s", facs_device_name(dev), facs_last_error());
        if (loss) {
            CHECK_OK(facs_backward(ctx, loss, NULL));
            CHECK(w->grad && sw->grad && w->grad->device == dev, "backward on %s left no weight gradients",
                  facs_device_name(dev));
        }
        if (d == 1) {
            for (int i = 0; i < 8; i++)
                CHECK(outs[0][i] && outs[1][i] && outs[0][i]->n == outs[1][i]->n && outs[0][i]->c == outs[1][i]->c &&
                          outs[0][i]->h == outs[1][i]->h && outs[0][i]->w == outs[1][i]->w &&
                          outs[1][i]->device == FACS_DEVICE_META,
                      "op %d: shapes differ between the CPU and meta", i);
        }
        facs_tensor_free(w);
        facs_tensor_free(sw);
    }
    facs_ctx_free(ctxs[0]);
    facs_ctx_free(ctxs[1]);
}

static void device_basics(void)
{
    const facs_backend *be = facs_backend_get(FACS_DEVICE_META);
    CHECK(be && strcmp(be->name, "meta") == 0, "no meta backend");
    CHECK(strcmp(facs_device_name(FACS_DEVICE_META), "meta") == 0, "device name");
    long start = peak_rss_kb();
    /* A terabyte: a shape, nothing more. */
    facs_tensor *huge = facs_tensor_create(FACS_DEVICE_META, FACS_F32, 1, 64, 65536, 65536);
    facs_param_list params;
    facs_param_list_init(&params);
    CHECK(CHECK_PTR(huge) && huge->data != NULL, "meta tensor without an address");
    CHECK(facs_param_list_add(&params, FACS_PARAM_TRAINABLE, "w", FACS_DEVICE_META, 4096, 4096, 3, 3) != NULL,
          "meta parameter: %s", facs_last_error());
    CHECK(peak_rss_kb() - start < 16 * 1024, "meta tensors took %ld KB", peak_rss_kb() - start);
    facs_tensor_free(huge);
    facs_param_list_free(&params);

    facs_tensor *t = facs_tensor_create(FACS_DEVICE_META, FACS_F32, 2, 3, 4, 5);
    float host[120], nchw[120];
    for (int i = 0; i < 120; i++)
        host[i] = nchw[i] = 7.0f;
    if (CHECK_PTR(t)) {
        CHECK_OK(facs_tensor_from_nchw(t, host, 120));
        CHECK(facs_tensor_from_nchw(t, host, 119) == FACS_ERR_ARG, "a wrong count is still refused");
        CHECK_OK(facs_tensor_download(t, host, sizeof host));
        CHECK_OK(facs_tensor_to_nchw(t, nchw, 120));
        int zeros = 1;
        for (int i = 0; i < 120; i++)
            zeros &= host[i] == 0.0f && nchw[i] == 0.0f;
        CHECK(zeros, "a meta tensor must read as zeros");
    }
    /* A meta tensor in a CPU context is refused, naming both devices. */
    facs_ctx *cpu = facs_ctx_create(FACS_DEVICE_CPU);
    facs_ctx_begin_step(cpu);
    CHECK(facs_relu(cpu, t) == NULL && strstr(facs_last_error(), "meta") && strstr(facs_last_error(), "cpu"),
          "mixing devices: '%s'", facs_last_error());
    facs_ctx_free(cpu);
    facs_tensor_free(t);
}

/* A training step of a small network on meta, seeded per step. */
static void training_step(void)
{
    facs_model *m = create("facs_resnet26", FACS_DEVICE_META, 10);
    facs_ctx *ctx = facs_ctx_create(FACS_DEVICE_META);
    facs_sgd sgd;
    facs_sgd_options so = facs_sgd_defaults();
    so.momentum = 0.9;
    if (!m || !CHECK_PTR(ctx) || !CHECK_OK(facs_sgd_init(&sgd, facs_model_params(m), &so))) {
        facs_ctx_free(ctx);
        facs_model_free(m);
        return;
    }
    for (int step = 0; step < 2; step++) {
        facs_ctx_begin_step(ctx);
        facs_ctx_set_mode(ctx, 1, 1);
        facs_ctx_seed_step(ctx, 42, step);
        facs_tensor *x = facs_ctx_tensor(ctx, FACS_F32, 4, 3, 64, 64);
        facs_tensor *labels = facs_ctx_tensor(ctx, FACS_I32, 4, 1, 1, 1);
        facs_tensor *loss = facs_softmax_cross_entropy(ctx, facs_model_forward(ctx, m, x), labels, -100);
        CHECK(loss && loss->n == 1 && loss->c == 1, "meta training forward: %s", facs_last_error());
        if (loss)
            CHECK_OK(facs_backward(ctx, loss, NULL));
        CHECK_OK(facs_sgd_step(&sgd));
        CHECK_OK(facs_sgd_zero_grad(&sgd));
    }
    facs_param_list *params = facs_model_params(m);
    int with_grad = 0, trainable = 0;
    for (int i = 0; i < params->count; i++)
        if (params->items[i]->kind == FACS_PARAM_TRAINABLE) {
            trainable++;
            with_grad += params->items[i]->value->grad != NULL;
        }
    /* The unused bn1 of each FACS bottleneck gets no gradient (docs/design.md). */
    CHECK(with_grad > trainable / 2, "only %d of %d trainable tensors got a gradient", with_grad, trainable);
    CHECK(sgd.steps == 2, "sgd steps %lld", (long long)sgd.steps);
    facs_sgd_free(&sgd);
    facs_ctx_free(ctx);
    facs_model_free(m);
}

static void seed_step(void)
{
    facs_ctx *ctx = facs_ctx_create(FACS_DEVICE_META);
    if (!CHECK_PTR(ctx))
        return;
    ctx->rng_calls = 9;
    facs_ctx_seed_step(ctx, 1234, 77);
    CHECK(ctx->seed == facs_rng_mix64(1234 ^ facs_rng_mix64(77)) && ctx->rng_calls == 0,
          "facs_ctx_seed_step: seed %llu, rng_calls %llu", (unsigned long long)ctx->seed,
          (unsigned long long)ctx->rng_calls);
    uint64_t s77 = ctx->seed;
    facs_ctx_seed_step(ctx, 1234, 78);
    CHECK(ctx->seed != s77, "steps 77 and 78 share a seed");
    facs_ctx_free(ctx);
}

int main(void)
{
    memory_bound();
    device_basics();
    seed_step();
    op_shapes();
    training_step();
    static const struct {
        const char *arch;
        int size, classes;
    } cases[] = {{"resnet50", 224, 1000},    {"facs_resnet50", 96, 1000}, {"se_facs_resnet50", 64, 10},
                 {"dwp_resnet50", 64, 10},   {"facs_vgg16_r2", 64, 10},   {"facs_mobilenet_v2", 96, 100}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        facs_model *cpu = create(cases[i].arch, FACS_DEVICE_CPU, cases[i].classes);
        facs_model *meta = create(cases[i].arch, FACS_DEVICE_META, cases[i].classes);
        for (int conv = 0; cpu && meta && conv < 2; conv++)
            same_counts(cpu, meta, cases[i].arch, cases[i].size, (facs_flops_convention)conv);
        facs_model_free(cpu);
        facs_model_free(meta);
    }
    return test_finish();
}
