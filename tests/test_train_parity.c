/* Ten SGD steps of the tiny FACS network (conv, BN, ReLU, max-pool, FACS,
 * residual add, global average pool, linear, cross-entropy) against PyTorch:
 * the loss of every step and every parameter and BN buffer after every step.
 *
 * Tolerance: each op matches PyTorch to ~1e-6 relative in float32; ten steps of
 * SGD with momentum feed each step's rounding into the next, and through BN's
 * batch statistics on a batch of 4 small rounding differences are amplified a
 * little. 1e-4 relative per tensor leaves a margin of ~10x over the errors seen
 * (reported below) while a wrong gradient anywhere (a missing += or a
 * transposed index) moves some tensor by 1e-2 or more within one step. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "optim.h"
#include "test_util.h"
#include "tinynet.h"

#define TOL 1e-4

static int load_weights(h5_file *ref, facs_param_list *params)
{
    for (int i = 0; i < params->count; i++) {
        facs_param *p = params->items[i];
        char key[256];
        test_h5_key(key, sizeof key, "/init", p->name);
        size_t count;
        float *data = test_ref(ref, key, &count);
        int ok = CHECK_OK(facs_tensor_from_nchw(p->value, data, count));
        free(data);
        if (!ok)
            return 0;
    }
    return 1;
}

static double worst_err;

static void compare_params(h5_file *ref, facs_param_list *params, int step)
{
    char prefix[32];
    snprintf(prefix, sizeof prefix, "/step%d", step);
    for (int i = 0; i < params->count; i++) {
        facs_param *p = params->items[i];
        char key[256], what[300];
        test_h5_key(key, sizeof key, prefix, p->name);
        size_t count;
        float *want = test_ref(ref, key, &count);
        float *got = test_nchw(p->value);
        double e = test_rel_err_f(got, want, count);
        if (e > worst_err)
            worst_err = e;
        snprintf(what, sizeof what, "step %d %s", step, p->name);
        test_close_f(what, got, want, count, TOL);
        free(want), free(got);
    }
}

static void train(h5_file *ref, facs_ctx *ctx, facs_tinynet *net, facs_sgd *sgd, const facs_lr_schedule *lr,
                  int steps)
{
    for (int step = 0; step < steps; step++) {
        char key[64];
        int rank;
        size_t dims[8], count;
        snprintf(key, sizeof key, "/batch%d/x", step);
        float *x = h5_read_f32(ref, key, &rank, dims);
        snprintf(key, sizeof key, "/batch%d/labels", step);
        int *labels = h5_read_i32(ref, key, &rank, (size_t[8]){0});
        snprintf(key, sizeof key, "/batch%d/loss", step);
        float *want_loss = test_ref(ref, key, &count);
        if (!CHECK(x && labels, "batch %d missing from the reference", step))
            return;
        facs_ctx_begin_step(ctx);
        int n = (int)dims[0];
        facs_tensor *tx = test_tensor(ctx, n, (int)dims[1], (int)dims[2], (int)dims[3], x);
        facs_tensor *tl = facs_ctx_tensor(ctx, FACS_I32, n, 1, 1, 1);
        CHECK_OK(facs_tensor_upload(tl, labels, (size_t)n * sizeof *labels));
        facs_tensor *loss = facs_softmax_cross_entropy(ctx, facs_tinynet_forward(ctx, net, tx), tl, -100);
        if (!CHECK_PTR(loss) || !CHECK_OK(facs_backward(ctx, loss, NULL)))
            return;
        float got_loss;
        CHECK_OK(facs_tensor_download(loss, &got_loss, sizeof got_loss));
        snprintf(key, sizeof key, "step %d loss", step);
        test_close_f(key, &got_loss, want_loss, 1, TOL);
        sgd->options.lr = facs_lr_at(lr, step);
        CHECK_OK(facs_sgd_step(sgd));
        CHECK_OK(facs_sgd_zero_grad(sgd));
        compare_params(ref, &net->params, step);
        free(x), free(labels), free(want_loss);
    }
}

int main(int argc, char **argv)
{
    h5_file *ref = test_open_ref(argc, argv);
    int steps = (int)h5_attr_int(ref, "/", "steps", 0);
    int width = (int)h5_attr_int(ref, "/", "width", 0), classes = (int)h5_attr_int(ref, "/", "classes", 0);
    facs_fuse_params fusion = {FACS_FUSION_THRESHOLD, 0.5f};
    facs_tinynet net;
    facs_ctx *ctx = facs_ctx_create(FACS_DEVICE_CPU);
    if (CHECK_OK(facs_tinynet_init(&net, FACS_DEVICE_CPU, 3, width, classes, &fusion, 1)) &&
        load_weights(ref, &net.params)) {
        facs_sgd_options o = facs_sgd_defaults();
        o.momentum = h5_attr_double(ref, "/", "momentum", 0);
        o.weight_decay = h5_attr_double(ref, "/", "weight_decay", 0);
        o.nesterov = 1;
        facs_lr_schedule lr = facs_lr_schedule_defaults(FACS_LR_COSINE, h5_attr_double(ref, "/", "lr", 0), steps);
        facs_sgd sgd;
        if (CHECK_OK(facs_sgd_init(&sgd, &net.params, &o))) {
            train(ref, ctx, &net, &sgd, &lr, steps);
            facs_sgd_free(&sgd);
        }
        printf("worst parameter error over %d steps: %.3g\n", steps, worst_err);
    }
    facs_tinynet_free(&net);
    facs_ctx_free(ctx);
    h5_close(ref);
    return test_finish();
}
