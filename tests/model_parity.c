#include "model_parity.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "autograd.h"
#include "test_util.h"

parity_stats parity_stats_init(const char *verbose_env)
{
    return (parity_stats){.tol = 1e-4, .tol_train = 3e-4, .verbose_env = verbose_env};
}

int parity_load_weights(h5_file *ref, const char *model, const char *case_name, facs_param_list *params)
{
    char prefix[96], bias_prefix[96], key[300];
    snprintf(prefix, sizeof prefix, "/%s/model", model);
    snprintf(bias_prefix, sizeof bias_prefix, "/%s/bias", case_name ? case_name : "");
    for (int i = 0; i < params->count; i++) {
        facs_param *p = params->items[i];
        test_h5_key(key, sizeof key, bias_prefix, p->name);
        if (!case_name || !h5_exists(ref, key))
            test_h5_key(key, sizeof key, prefix, p->name);
        size_t count;
        float *data = test_ref(ref, key, &count);
        int ok = CHECK(count == facs_tensor_numel(p->value), "%s: %zu values in the file, %zu in the net", key,
                       count, facs_tensor_numel(p->value)) &&
                 CHECK_OK(facs_tensor_from_nchw(p->value, data, count));
        free(data);
        if (!ok)
            return 0;
    }
    return 1;
}

void parity_compare(parity_stats *st, h5_file *ref, const char *key, const char *what, const float *got, size_t count,
                    int training)
{
    size_t want_count;
    float *want = test_ref(ref, key, &want_count);
    if (CHECK(want_count == count, "%s: %zu values, PyTorch's %zu", what, count, want_count)) {
        double spread = training ? h5_attr_double(ref, key, "spread", 0) : 0;
        double base = training ? st->tol_train : st->tol, tol = spread * 8 > base ? spread * 8 : base;
        double floor = h5_attr_double(ref, key, "floor", 0), e = test_rel_err_f(got, want, count);
        if (floor > 0) {
            double diff = 0, scale = floor;
            for (size_t i = 0; i < count; i++) {
                double d = fabs((double)got[i] - want[i]);
                diff = d <= diff ? diff : d; /* a NaN makes diff NaN, and the check below fails */
                scale = fabs(want[i]) > scale ? fabs(want[i]) : scale;
            }
            e = diff / scale;
        }
        st->widened += tol > base;
        if (tol == base && e > st->worst) {
            st->worst = e;
            snprintf(st->worst_what, sizeof st->worst_what, "%s", what);
        }
        if (st->verbose_env && getenv(st->verbose_env))
            printf("%-60s %.3g tol %.3g%s\n", what, e, tol, floor > 0 ? " (floor)" : "");
        CHECK(e <= tol, "%s: relative error %.3g > %.3g (%zu values)", what, e, tol, count);
    }
    free(want);
}

static void compare_params(parity_stats *st, h5_file *ref, const char *case_name, facs_param_list *params,
                           int training)
{
    char key[400], what[400];
    for (int i = 0; i < params->count; i++) {
        facs_param *p = params->items[i];
        if (p->kind == FACS_PARAM_BUFFER && !training)
            continue;
        size_t count = facs_tensor_numel(p->value);
        const char *part = p->kind == FACS_PARAM_TRAINABLE ? "grad" : "after";
        snprintf(what, sizeof what, "/%s/%s", case_name, part);
        test_h5_key(key, sizeof key, what, p->name);
        snprintf(what, sizeof what, "%s %s %s", case_name, part, p->name);
        float *got = p->kind == FACS_PARAM_BUFFER ? test_nchw(p->value)
                     : p->value->grad             ? test_grad_nchw(p->value)
                                                  : calloc(count, sizeof *got);
        if (h5_exists(ref, key)) {
            parity_compare(st, ref, key, what, got, count, training);
        } else if (p->kind == FACS_PARAM_BUFFER) {
            CHECK(0, "%s missing from the reference", key);
        } else {
            int nonzero = 0;
            for (size_t j = 0; j < count; j++)
                nonzero |= got[j] != 0;
            CHECK(!nonzero, "%s: PyTorch has no gradient, ours is non-zero", what);
        }
        free(got);
    }
}

/* Without the tape a forward pass frees each block's intermediates as it
 * goes (ctx.h facs_ctx_keep_only): the logits must be bit for bit those of
 * the taped pass. */
static void check_inference_path(facs_ctx *ctx, const char *case_name, parity_forward_fn forward, void *net,
                                 const float *x, const size_t dims[4], const float *taped)
{
    facs_ctx_set_mode(ctx, 0, 0);
    test_poison_step(ctx);
    facs_tensor *tx = test_tensor(ctx, (int)dims[0], (int)dims[1], (int)dims[2], (int)dims[3], x);
    facs_tensor *y = forward(ctx, net, tx);
    float *got = y ? test_nchw(y) : NULL;
    CHECK(got && memcmp(got, taped, facs_tensor_numel(y) * sizeof *got) == 0,
          "%s: the tape-free forward pass must give the taped pass's output exactly", case_name);
    free(got);
}

void parity_run_case(parity_stats *st, h5_file *ref, facs_ctx *ctx, const char *case_name, const char *model,
                     const char *x_key, facs_param_list *params, parity_forward_fn forward, void *net)
{
    char group[96], key[160], what[200];
    snprintf(group, sizeof group, "/%s", case_name);
    int training = (int)h5_attr_int(ref, group, "training", -1);
    int rank;
    size_t dims[8], count;
    if (x_key)
        snprintf(key, sizeof key, "%s", x_key);
    else
        snprintf(key, sizeof key, "/%s/x", model);
    float *x = h5_read_f32(ref, key, &rank, dims);
    float *grad_out = test_ref_in(ref, group, "grad_output", &count);
    facs_ctx_set_mode(ctx, training, 1);
    test_poison_step(ctx);
    facs_tensor *tx = CHECK(x && rank == 4, "%s missing from the reference", key)
                          ? test_tensor(ctx, (int)dims[0], (int)dims[1], (int)dims[2], (int)dims[3], x)
                          : NULL;
    if (tx)
        tx->requires_grad = 1;
    facs_tensor *y = tx ? forward(ctx, net, tx) : NULL;
    if (CHECK_PTR(y) &&
        CHECK(facs_tensor_numel(y) == count, "%s: output (%d, %d, %d, %d) has %zu values, PyTorch's %zu", case_name,
              y->n, y->c, y->h, y->w, facs_tensor_numel(y), count) &&
        CHECK_OK(facs_backward(ctx, y, test_tensor(ctx, y->n, y->c, y->h, y->w, grad_out)))) {
        float *got = test_nchw(y), *got_dx = test_grad_nchw(tx);
        snprintf(key, sizeof key, "%s/output", group);
        snprintf(what, sizeof what, "%s output", case_name);
        parity_compare(st, ref, key, what, got, facs_tensor_numel(y), training);
        snprintf(key, sizeof key, "%s/grad_x", group);
        snprintf(what, sizeof what, "%s grad_x", case_name);
        parity_compare(st, ref, key, what, got_dx, facs_tensor_numel(tx), training);
        compare_params(st, ref, case_name, params, training);
        if (!training)
            check_inference_path(ctx, case_name, forward, net, x, dims, got);
        free(got), free(got_dx);
    }
    free(x), free(grad_out);
}

void parity_print(const parity_stats *st)
{
    printf("worst error against PyTorch among tensors at the base tolerance (%g eval, %g train): %.3g (%s); %d "
           "tensors had a wider one (PyTorch's own layouts disagree)\n",
           st->tol, st->tol_train, st->worst, st->worst_what, st->widened);
}
