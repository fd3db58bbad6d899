/* dropout2d: the wrapper's behaviour through ops.h and the tape (whole
 * channels, 1/(1-p) scaling, reproducible but fresh masks, identity in eval
 * and at p = 0, p = 1, refused probabilities), drop statistics, the u = p
 * boundary of the mask, and parity with PyTorch computing x * mask. The
 * backend's mask contract (facs_rng_uniform(seed, (offset + n) C + c) < prob
 * drops, bit for bit), its write rule and finite differences with the mask
 * fixed live in tests/backend_ops.
 *
 * PyTorch's own F.dropout2d draws from its RNG, so it cannot produce our
 * mask; the reference script instead reimplements facs_rng_uniform, builds the
 * mask from the same seed, and lets torch compute x * mask and its gradient. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "test_util.h"

/* The float scale 1/(1-p) is within 2^-24 (6e-8) of the double one and x * mask
 * adds one more rounding: <= 1.2e-7 relative by construction, 1e-7 measured. */
#define FORWARD_TOL 2e-7
#define TORCH_TOL 1e-4

static size_t nchw_at(int c, int hw, int n, int ch, int i) { return ((size_t)n * c + ch) * hw + i; }

/* The (n, c) mask value that the wrapper applied, read back from y / x; -1 when
 * the channel is neither dropped nor scaled by exactly one value. */
static double channel_factor(const float *x, const float *y, int c, int hw, int n, int ch)
{
    double factor = (double)y[nchw_at(c, hw, n, ch, 0)] / x[nchw_at(c, hw, n, ch, 0)];
    for (int k = 0; k < hw; k++) {
        size_t i = nchw_at(c, hw, n, ch, k);
        if (fabs(y[i] - factor * x[i]) > 1e-6 * fabs(y[i]))
            return -1.0;
    }
    return factor;
}

/* x away from zero, so y / x recovers the mask. */
static void fill_nonzero(float *x, size_t count)
{
    for (size_t i = 0; i < count; i++)
        x[i] = (float)((test_uniform(0, 1) < 0.5 ? -1 : 1) * test_uniform(0.5, 1.5));
}

/* Through facs_dropout2d: whole channels dropped, kept ones scaled by
 * 1/(1-p), backward dy * mask, a new mask per call, the same masks again for
 * the same seed. */
static void wrapper_check(facs_ctx *ctx, int n, int c, int h, int w, float prob)
{
    const int hw = h * w;
    const size_t count = (size_t)n * c * hw;
    float *x = test_alloc(count), *r = test_alloc(count);
    fill_nonzero(x, count);
    test_fill(r, count, -1, 1);
    double *factors[2];
    ctx->seed = 1234;
    ctx->rng_calls = 0;
    char what[128];
    for (int call = 0; call < 2; call++) {
        factors[call] = calloc((size_t)n * c, sizeof *factors[call]);
        facs_ctx_begin_step(ctx);
        facs_tensor *tx = test_tensor(ctx, n, c, h, w, x);
        tx->requires_grad = 1;
        facs_tensor *y = facs_dropout2d(ctx, tx, prob);
        if (!CHECK_PTR(y) || !CHECK_OK(facs_backward(ctx, y, test_tensor(ctx, n, c, h, w, r))))
            continue;
        CHECK(ctx->rng_calls == (uint64_t)call + 1, "dropout: each call advances ctx->rng_calls by one");
        float *got_y = test_nchw(y), *got_dx = test_grad_nchw(tx);
        double *want_dx = malloc(count * sizeof *want_dx);
        const double scale = 1.0 / (1.0 - prob);
        int whole = 1, scaled = 1;
        for (int i = 0; i < n; i++)
            for (int ch = 0; ch < c; ch++) {
                double f = channel_factor(x, got_y, c, hw, i, ch);
                factors[call][i * c + ch] = f;
                whole &= f >= 0;
                scaled &= f == 0.0 || fabs(f - scale) <= 1e-6 * scale;
                for (int k = 0; k < hw; k++)
                    want_dx[nchw_at(c, hw, i, ch, k)] = r[nchw_at(c, hw, i, ch, k)] * (f == 0.0 ? 0.0 : scale);
            }
        CHECK(whole, "dropout p %g (%d,%d,%d,%d): every channel is dropped or kept as a whole", prob, n, c, h, w);
        CHECK(scaled, "dropout p %g (%d,%d,%d,%d): kept channels are scaled by 1/(1-p)", prob, n, c, h, w);
        snprintf(what, sizeof what, "dropout p %g (%d,%d,%d,%d) backward is dy * mask", prob, n, c, h, w);
        test_close_d(what, got_dx, want_dx, count, FORWARD_TOL);
        free(got_y), free(got_dx), free(want_dx);
    }
    /* Masks are compared by which channels they drop: y / x carries rounding. */
    int differ = 0;
    for (int i = 0; i < n * c; i++)
        differ |= (factors[0][i] == 0.0) != (factors[1][i] == 0.0);
    CHECK(differ, "dropout p %g (%d,%d,%d,%d): consecutive calls draw different masks", prob, n, c, h, w);
    /* Deriving the call's seed as seed + k * call, with facs_rng_uniform's own
     * constant k, would make call 2's mask call 1's shifted by one channel. */
    int shifted = 1;
    for (int i = 0; i + 1 < n * c; i++)
        shifted &= (factors[1][i] == 0.0) == (factors[0][i + 1] == 0.0);
    CHECK(!shifted, "dropout p %g (%d,%d,%d,%d): call 2's mask is not call 1's shifted", prob, n, c, h, w);
    /* Same seed and call counter: the same mask as the first call. */
    ctx->rng_calls = 0;
    facs_ctx_begin_step(ctx);
    facs_tensor *tx = test_tensor(ctx, n, c, h, w, x);
    facs_tensor *y = facs_dropout2d(ctx, tx, prob);
    if (CHECK_PTR(y)) {
        float *got_y = test_nchw(y);
        int same = 1;
        for (int i = 0; i < n; i++)
            for (int ch = 0; ch < c; ch++)
                same &= channel_factor(x, got_y, c, hw, i, ch) == factors[0][i * c + ch];
        CHECK(same, "dropout p %g (%d,%d,%d,%d): the same seed and counter give the same mask", prob, n, c, h, w);
        free(got_y);
    }
    free(factors[0]), free(factors[1]), free(x), free(r);
}

/* Over M = 20000 channels the dropped fraction has standard deviation
 * sqrt(p (1 - p) / M) <= 0.0036; a 6-sigma bound fails by chance with
 * probability ~2e-9. Two consecutive calls must agree on a channel with
 * probability p^2 + (1-p)^2 (independent masks), checked the same way. */
static void drop_statistics(facs_ctx *ctx, float prob)
{
    const int n = 50, c = 400, m = n * c;
    float *x = test_alloc(m);
    for (int i = 0; i < m; i++)
        x[i] = 1.0f;
    ctx->seed = 987654321;
    facs_ctx_begin_step(ctx);
    facs_tensor *tx = test_tensor(ctx, n, c, 1, 1, x);
    facs_tensor *y1 = facs_dropout2d(ctx, tx, prob), *y2 = facs_dropout2d(ctx, tx, prob);
    if (CHECK_PTR(y1) && CHECK_PTR(y2)) {
        int dropped = 0, agree = 0;
        for (int i = 0; i < m; i++) {
            dropped += facs_f32(y1)[i] == 0.0f;
            agree += (facs_f32(y1)[i] == 0.0f) == (facs_f32(y2)[i] == 0.0f);
        }
        double p = prob, q = p * p + (1 - p) * (1 - p);
        double frac = (double)dropped / m, agree_frac = (double)agree / m;
        double bound = 6 * sqrt(p * (1 - p) / m), agree_bound = 6 * sqrt(q * (1 - q) / m);
        CHECK(fabs(frac - p) <= bound, "dropout p %g: dropped fraction %.4f is not within %.4f of p", p, frac, bound);
        CHECK(fabs(agree_frac - q) <= agree_bound, "dropout p %g: two calls agree on %.4f of channels, expected %.4f",
              p, agree_frac, q);
    }
    free(x);
}

/* u is a multiple of 2^-24, exact in float: a prob equal to the channel's u
 * must keep it (u < prob drops), and the next float up must drop it. */
static void drop_boundary(facs_ctx *ctx)
{
    const uint64_t seed = 31337;
    const float u = facs_rng_uniform(seed, 0);
    const float probs[2] = {u, nextafterf(u, 1.0f)};
    for (int k = 0; k < 2; k++) {
        facs_ctx_begin_step(ctx);
        facs_tensor *x = test_tensor(ctx, 1, 1, 1, 1, (const float[]){1.0f});
        facs_tensor *y = facs_ctx_like(ctx, x), *mask = facs_ctx_like(ctx, x);
        if (CHECK_OK(ctx->backend->dropout2d_forward(ctx, probs[k], seed, x, mask, y)))
            CHECK((facs_f32(mask)[0] == 0.0f) == (k == 1), "dropout: u = %.9g with prob %.9g must be %s", u,
                  probs[k], k ? "dropped" : "kept");
    }
}

static void modes_and_limits(facs_ctx *ctx)
{
    const int n = 2, c = 3, h = 4, w = 5;
    float x[120];
    fill_nonzero(x, 120);
    facs_ctx_begin_step(ctx);
    facs_tensor *tx = test_tensor(ctx, n, c, h, w, x);
    tx->requires_grad = 1;
    uint64_t calls = ctx->rng_calls;
    facs_ctx_set_mode(ctx, 0, 1);
    CHECK(facs_dropout2d(ctx, tx, 0.5f) == tx, "dropout: eval mode returns x itself");
    facs_ctx_set_mode(ctx, 1, 1);
    CHECK(facs_dropout2d(ctx, tx, 0.0f) == tx, "dropout: prob 0 returns x itself");
    CHECK(ctx->rng_calls == calls, "dropout: the identity draws no random numbers");
    CHECK(ctx->tape == NULL, "dropout: the identity records no tape node");
    facs_tensor *y = facs_dropout2d(ctx, tx, 1.0f);
    if (CHECK_PTR(y) && CHECK_OK(facs_backward(ctx, y, tx))) {
        int zero = 1;
        for (int i = 0; i < 120; i++)
            zero &= facs_f32(y)[i] == 0.0f && facs_f32(tx->grad)[i] == 0.0f;
        CHECK(zero, "dropout: prob 1 zeroes the output and the gradient, as in PyTorch");
    }
    const float bad[] = {-0.1f, 1.5f, NAN};
    for (int i = 0; i < 3; i++)
        CHECK(!facs_dropout2d(ctx, tx, bad[i]) && strstr(facs_last_error(), "probability"),
              "dropout: prob %g is refused (got \"%s\")", (double)bad[i], facs_last_error());
}

static void torch_case(facs_ctx *ctx, h5_file *ref, const char *g, void *user)
{
    (void)user;
    int rank;
    size_t dims[8], count;
    char path[96];
    snprintf(path, sizeof path, "%s/x", g);
    free(h5_read_f32(ref, path, &rank, dims));
    if (!CHECK(rank == 4, "%s/x has rank %d, expected 4", g, rank))
        return;
    int n = (int)dims[0], c = (int)dims[1], h = (int)dims[2], w = (int)dims[3];
    uint64_t seed = (uint64_t)h5_attr_int(ref, g, "seed", 0);
    float prob = (float)h5_attr_double(ref, g, "prob", -1);
    float *x = test_ref_in(ref, g, "x", &count), *dy = test_ref_in(ref, g, "dy", NULL), *want_mask = test_ref_in(ref, g, "mask", NULL);
    float *want_y = test_ref_in(ref, g, "y", NULL), *want_dx = test_ref_in(ref, g, "dx", NULL);
    facs_ctx_begin_step(ctx);
    facs_tensor *tx = test_tensor(ctx, n, c, h, w, x), *tdy = test_tensor(ctx, n, c, h, w, dy);
    facs_tensor *y = facs_ctx_like(ctx, tx), *dx = facs_ctx_like(ctx, tx);
    facs_tensor *mask = facs_ctx_tensor(ctx, FACS_F32, n, c, 1, 1);
    const facs_backend *be = ctx->backend;
    char what[128];
    if (CHECK_OK(be->dropout2d_forward(ctx, prob, seed, tx, mask, y)) &&
        CHECK_OK(be->dropout2d_backward(ctx, mask, tdy, dx))) {
        float *got_y = test_nchw(y), *got_dx = test_nchw(dx);
        snprintf(what, sizeof what, "%s mask vs the python twin of facs_rng_uniform", g);
        test_close_f(what, facs_f32(mask), want_mask, (size_t)n * c, TORCH_TOL);
        snprintf(what, sizeof what, "%s y vs torch", g);
        test_close_f(what, got_y, want_y, count, TORCH_TOL);
        snprintf(what, sizeof what, "%s dx vs torch", g);
        test_close_f(what, got_dx, want_dx, count, TORCH_TOL);
        free(got_y), free(got_dx);
    }
    free(x), free(dy), free(want_mask), free(want_y), free(want_dx);
}

int main(int argc, char **argv)
{
    h5_file *ref = test_open_ref(argc, argv);
    test_seed_from_env();
    facs_ctx *ctx = facs_ctx_create(FACS_DEVICE_CPU);
    wrapper_check(ctx, 2, 13, 7, 7, 0.5f);
    wrapper_check(ctx, 4, 19, 13, 17, 0.2f);
    wrapper_check(ctx, 8, 64, 1, 1, 0.7f);
    drop_statistics(ctx, 0.1f);
    drop_statistics(ctx, 0.5f);
    drop_statistics(ctx, 0.8f);
    drop_boundary(ctx);
    modes_and_limits(ctx);
    test_each_case(ctx, ref, torch_case, NULL);
    facs_ctx_free(ctx);
    h5_close(ref);
    return test_finish();
}
