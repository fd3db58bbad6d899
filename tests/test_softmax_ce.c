/* Softmax cross-entropy through ops.h and the tape: finite differences in
 * double precision against a naive reference for what tests/backend_ops
 * lacks (logits in +-60, whose far-off classes' probabilities underflow, and
 * an ignore_index inside [0, K)), the saved probabilities of logits in +-30,
 * parity with F.cross_entropy(ignore_index=..., label_smoothing=...)
 * (including the all-ignored case: NaN loss, zero gradient) and refused
 * labels and smoothing values. The backend contract, the all-ignored backend
 * call and the finite differences of the other cases live in
 * tests/backend_ops. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "test_util.h"

/* The kernel's softmax is float: a few ulp of each probability, and of the
 * loss (~2), the mean of -log of one probability per pixel. */
#define FORWARD_TOL 1e-6
/* Central differences with eps 1e-6 on a smooth loss of size ~2 are exact to
 * ~1e-10 absolute, ~1e-7 of gradients of size 1 / valid; the float backward
 * rounds each (p - onehot) dloss / valid once. */
#define GRAD_TOL 1e-5
#define TORCH_TOL 1e-4

typedef struct {
    int n, k, h, w, ignore_index;
    double smoothing; /* e: the target is (1 - e) onehot + e / K */
    double dloss;
    const int32_t *labels; /* NCHW with C = 1: plain (n, h, w) order */
} problem;

/* dloss * mean over non-ignored pixels of (1 - e) (lse(z) - z_label) + e / K
 * sum_k (lse(z) - z_k), lse = logsumexp; logits NCHW.
 * probs (NCHW) receives the softmax when not NULL. */
static double naive_loss(const problem *p, const double *z, double *probs, long *valid)
{
    const size_t hw = (size_t)p->h * p->w;
    double total = 0.0;
    long count = 0;
    for (int n = 0; n < p->n; n++)
        for (size_t s = 0; s < hw; s++) {
            const double *zp = z + (size_t)n * p->k * hw + s;
            double m = zp[0];
            for (int c = 1; c < p->k; c++)
                m = fmax(m, zp[c * hw]);
            double sum = 0.0;
            for (int c = 0; c < p->k; c++)
                sum += exp(zp[c * hw] - m);
            if (probs)
                for (int c = 0; c < p->k; c++)
                    probs[(size_t)n * p->k * hw + c * hw + s] = exp(zp[c * hw] - m) / sum;
            int label = p->labels[n * hw + s];
            if (label == p->ignore_index)
                continue;
            double lse = m + log(sum), smooth = 0.0;
            for (int c = 0; c < p->k; c++)
                smooth += lse - zp[c * hw];
            total += (1.0 - p->smoothing) * (lse - zp[label * hw]) + p->smoothing / p->k * smooth;
            count++;
        }
    if (valid)
        *valid = count;
    return p->dloss * total / (double)count;
}

static double loss_of(const double *z, void *user) { return naive_loss(user, z, NULL, NULL); }

static facs_tensor *label_tensor(facs_ctx *ctx, int n, int h, int w, const int32_t *labels)
{
    facs_tensor *t = facs_ctx_tensor(ctx, FACS_I32, n, 1, h, w);
    if (t && facs_tensor_upload(t, labels, facs_tensor_bytes(t)) != FACS_OK)
        return NULL;
    return t;
}

/* A (1, 1, 1, 1) tensor holding v: the gradient fed to the loss. */
static facs_tensor *scalar_tensor(facs_ctx *ctx, float v) { return test_tensor(ctx, 1, 1, 1, 1, &v); }

/* Logits uniform in [-range, range]; range 60 puts some labels' probabilities
 * below float's range, where the loss comes from the logits directly. */
static void gradcheck(facs_ctx *ctx, int n, int k, int h, int w, double range, int ignore_index, double ignored,
                      double dloss, float smoothing)
{
    const size_t nz = (size_t)n * k * h * w, npix = (size_t)n * h * w;
    float *z = test_alloc(nz);
    test_fill(z, nz, -range, range);
    int32_t *labels = malloc(npix * sizeof *labels);
    for (size_t i = 0; i < npix; i++)
        labels[i] = test_uniform(0, 1) < ignored ? ignore_index : (int32_t)test_uniform(0, k);
    labels[0] = k - 1; /* at least one valid pixel, and the last class used */
    test_poison_step(ctx);
    facs_tensor *tz = test_tensor(ctx, n, k, h, w, z);
    tz->requires_grad = 1;
    facs_tensor *loss =
        facs_softmax_cross_entropy_smoothed(ctx, tz, label_tensor(ctx, n, h, w, labels), ignore_index, smoothing);
    char what[128];
    snprintf(what, sizeof what, "(%d,%d,%d,%d) range %g ignore %d dloss %g smoothing %g", n, k, h, w, range,
             ignore_index, dloss, (double)smoothing);
    facs_tensor *grad_out = dloss == 1.0 ? NULL : scalar_tensor(ctx, (float)dloss);
    if (CHECK_PTR(loss) &&
        CHECK(loss->n == 1 && loss->c == 1 && loss->h == 1 && loss->w == 1, "%s: loss shape", what) &&
        CHECK_OK(facs_backward(ctx, loss, grad_out))) {
        double *zd = test_to_double(z, nz), *want_dz = malloc(nz * sizeof *want_dz);
        problem p = {n, k, h, w, ignore_index, smoothing, dloss, labels};
        test_fd_gradient(loss_of, zd, nz, &p, 1e-6, want_dz);
        p.dloss = 1.0;
        double want_loss = naive_loss(&p, zd, NULL, NULL);
        float got_loss = facs_f32(loss)[0];
        float *got_dz = test_grad_nchw(tz);
        char label[192];
        snprintf(label, sizeof label, "%s loss vs double", what);
        test_close_d(label, &got_loss, &want_loss, 1, FORWARD_TOL);
        snprintf(label, sizeof label, "%s backward vs finite differences", what);
        test_close_d(label, got_dz, want_dz, nz, GRAD_TOL);
        free(zd), free(want_dz), free(got_dz);
    }
    free(z), free(labels);
}

/* The softmax the kernel saves for backward, checked directly on its own. */
static void probs_check(facs_ctx *ctx)
{
    const int n = 2, k = 19, h = 5, w = 7;
    const size_t nz = (size_t)n * k * h * w, npix = (size_t)n * h * w;
    float *z = test_alloc(nz);
    test_fill(z, nz, -30, 30);
    int32_t *labels = malloc(npix * sizeof *labels);
    for (size_t i = 0; i < npix; i++)
        labels[i] = (int32_t)(i % k);
    facs_ctx_begin_step(ctx);
    facs_tensor *tz = test_tensor(ctx, n, k, h, w, z), *tl = label_tensor(ctx, n, h, w, labels);
    facs_tensor *probs = test_tensor(ctx, n, k, h, w, NULL), *loss = test_tensor(ctx, 1, 1, 1, 1, NULL);
    int64_t valid = -1;
    if (CHECK_OK(ctx->backend->softmax_ce_forward(ctx, 255, 0.0f, tz, tl, probs, loss, &valid))) {
        double *zd = test_to_double(z, nz), *want = malloc(nz * sizeof *want);
        problem p = {n, k, h, w, 255, 0.0, 1.0, labels};
        long want_valid;
        naive_loss(&p, zd, want, &want_valid);
        float *got = test_nchw(probs);
        test_close_d("softmax probabilities vs double", got, want, nz, FORWARD_TOL);
        CHECK(valid == want_valid, "valid count %lld, expected %ld", (long long)valid, want_valid);
        free(zd), free(want), free(got);
    }
    free(z), free(labels);
}

static void refused(facs_ctx *ctx, int bad_label, int ignore_index)
{
    const int n = 2, k = 19, h = 4, w = 6;
    int32_t labels[2 * 4 * 6];
    for (int i = 0; i < n * h * w; i++)
        labels[i] = i % 3 ? i % k : ignore_index;
    labels[(1 * h + 2) * w + 3] = bad_label; /* (n 1, h 2, w 3) */
    labels[(1 * h + 3) * w + 5] = bad_label; /* a later one: the first is named */
    facs_ctx_begin_step(ctx);
    facs_tensor *tz = test_tensor(ctx, n, k, h, w, NULL);
    for (size_t i = 0; i < facs_tensor_numel(tz); i++)
        facs_f32(tz)[i] = 0.0f;
    char label_text[32];
    snprintf(label_text, sizeof label_text, "label %d ", bad_label);
    facs_tensor *loss = facs_softmax_cross_entropy(ctx, tz, label_tensor(ctx, n, h, w, labels), ignore_index);
    const char *msg = facs_last_error();
    CHECK(loss == NULL && strstr(msg, label_text) && strstr(msg, "(n 1, h 2, w 3)") &&
              strstr(msg, "softmax_cross_entropy"),
          "label %d (ignore_index %d) is refused with a message naming it and its position (got \"%s\")", bad_label,
          ignore_index, msg);
}

static void bad_arguments(facs_ctx *ctx)
{
    facs_ctx_begin_step(ctx);
    facs_tensor *z = test_tensor(ctx, 2, 3, 4, 5, NULL);
    facs_tensor *wrong_shape = facs_ctx_zeros(ctx, FACS_I32, 2, 1, 4, 4);
    facs_tensor *wrong_type = facs_ctx_zeros(ctx, FACS_F32, 2, 1, 4, 5);
    CHECK(facs_softmax_cross_entropy(ctx, z, wrong_shape, 255) == NULL && strstr(facs_last_error(), "labels"),
          "labels of the wrong shape are refused (got \"%s\")", facs_last_error());
    CHECK(facs_softmax_cross_entropy(ctx, z, wrong_type, 255) == NULL && strstr(facs_last_error(), "int32"),
          "float labels are refused (got \"%s\")", facs_last_error());
    facs_tensor *labels = facs_ctx_zeros(ctx, FACS_I32, 2, 1, 4, 5);
    static const float bad_smoothing[] = {-0.1f, 1.0f, NAN};
    for (int i = 0; i < 3; i++)
        CHECK(facs_softmax_cross_entropy_smoothed(ctx, z, labels, 255, bad_smoothing[i]) == NULL &&
                  strstr(facs_last_error(), "smoothing"),
              "label smoothing %g is refused (got \"%s\")", (double)bad_smoothing[i], facs_last_error());
}

static void torch_parity(facs_ctx *ctx, h5_file *ref)
{
    char name[64], path[96];
    int cases = 0;
    for (int c = 0;; c++) {
        snprintf(name, sizeof name, "/case%d", c);
        if (!h5_exists(ref, name))
            break;
        int ignore_index = (int)h5_attr_int(ref, name, "ignore_index", -100);
        float smoothing = (float)h5_attr_double(ref, name, "smoothing", 0.0);
        float dloss = (float)h5_attr_double(ref, name, "dloss", 1.0);
        int rank;
        size_t dims[8], nz, nl;
        snprintf(path, sizeof path, "%s/logits", name);
        float *z = h5_read_f32(ref, path, &rank, dims);
        if (!CHECK(z && rank == 4, "%s: logits missing or not 4-D", name)) {
            free(z);
            continue;
        }
        int n = (int)dims[0], k = (int)dims[1], h = (int)dims[2], w = (int)dims[3];
        nz = (size_t)n * k * h * w;
        snprintf(path, sizeof path, "%s/labels", name);
        int *labels = h5_read_i32(ref, path, &rank, dims);
        nl = labels ? dims[0] * dims[1] * dims[2] : 0;
        snprintf(path, sizeof path, "%s/loss", name);
        float *want_loss = test_ref(ref, path, NULL);
        snprintf(path, sizeof path, "%s/dlogits", name);
        float *want_dz = test_ref(ref, path, NULL);
        if (CHECK(labels && rank == 3 && nl == (size_t)n * h * w, "%s: labels missing or mis-shaped", name)) {
            test_poison_step(ctx);
            facs_tensor *tz = test_tensor(ctx, n, k, h, w, z);
            tz->requires_grad = 1;
            facs_tensor *loss = facs_softmax_cross_entropy_smoothed(ctx, tz, label_tensor(ctx, n, h, w, labels),
                                                                    ignore_index, smoothing);
            if (CHECK_PTR(loss) && CHECK_OK(facs_backward(ctx, loss, scalar_tensor(ctx, dloss)))) {
                char what[128];
                float got_loss = facs_f32(loss)[0];
                snprintf(what, sizeof what, "%s (%d,%d,%d,%d) ignore %d smoothing %g loss vs torch", name, n, k,
                         h, w, ignore_index, (double)smoothing);
                if (isnan(want_loss[0]))
                    CHECK(isnan(got_loss), "%s: got %g, torch gives NaN", what, got_loss);
                else
                    test_close_f(what, &got_loss, want_loss, 1, TORCH_TOL);
                float *got_dz = test_grad_nchw(tz);
                snprintf(what, sizeof what, "%s (%d,%d,%d,%d) ignore %d smoothing %g dlogits vs torch", name, n,
                         k, h, w, ignore_index, (double)smoothing);
                test_close_f(what, got_dz, want_dz, nz, TORCH_TOL);
                free(got_dz);
            }
        }
        free(z), free(labels), free(want_loss), free(want_dz);
        cases++;
    }
    CHECK(cases >= 12, "expected at least 12 reference cases, found %d", cases);
}

int main(int argc, char **argv)
{
    h5_file *ref = test_open_ref(argc, argv);
    test_seed_from_env();
    facs_ctx *ctx = facs_ctx_create(FACS_DEVICE_CPU);
    gradcheck(ctx, 2, 4, 3, 5, 4, 0, 0.0, 1.0, 0.0f);     /* ignore_index 0, a class */
    gradcheck(ctx, 2, 7, 3, 5, 60, 255, 0.2, 1.0, 0.0f);  /* probabilities below float's range */
    gradcheck(ctx, 2, 7, 3, 5, 60, 255, 0.2, 1.0, 0.05f); /* far-off classes' -log p from the logits */
    probs_check(ctx);
    refused(ctx, 19, 255);
    refused(ctx, -1, 255);
    refused(ctx, 255, -100);
    bad_arguments(ctx);
    torch_parity(ctx, ref);
    facs_ctx_free(ctx);
    h5_close(ref);
    return test_finish();
}
