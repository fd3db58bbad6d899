/* The FACS op through ops.h and the tape: finite differences in double
 * precision against a naive reference of Eq. 1-3 for what tests/backend_ops
 * lacks (weighted fusion with R = 1, whose dW and db must be exactly 0, and
 * 272 pixels, two of the CPU's pixel blocks), the weight as an activation of
 * the step, argument errors, a batch of large images run a group at a time,
 * the fusion's bits against Eq. 2-3 in whatever vector ISA the CPU runs it,
 * and parity with PyTorch. The backend's = / +=
 * contract, NULL gradients and the finite differences of the other cases live
 * in tests/backend_ops. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "facs_fusion_math.h"
#include "test_util.h"

/* The float op against double: means over at most a few hundred pixels and
 * dot products over at most 16 channels, each a few float roundings
 * (~1e-7 relative); measured up to 4.5e-7 over 300 seeds. */
#define FORWARD_TOL 2e-6
/* Central differences (eps 1e-6) of a smooth function in double are exact to
 * ~1e-9 here; the float backward's sums over pixels add ~1e-6 at most
 * (measured up to 1.4e-6 over 300 seeds). */
#define GRAD_TOL 1e-5
#define TORCH_TOL 1e-4
/* Inputs keep every chunk's values and every |p - T| at least this far apart,
 * so no finite-difference step (1e-6) crosses an argmax tie or the p = T
 * boundary of Eq. 2 and float and double pick the same branch. */
#define SAFE_GAP 1e-3

typedef struct {
    int n, c, r, h, w;
    facs_fusion fusion;
    float threshold;
    int bias;
} facs_case;

static int co_of(const facs_case *k) { return k->c / k->r; }

static size_t at(const facs_case *k, int n, int c, int h, int w)
{
    return (((size_t)n * k->c + c) * k->h + h) * k->w + w;
}

/* Eq. 1-3 in double on NCHW data; b may be NULL. */
static void naive_facs(const facs_case *k, const double *x, const double *w, const double *b, double *y,
                       double *prob)
{
    int co = co_of(k), hw = k->h * k->w;
    double *z = malloc((size_t)k->c * sizeof *z);
    for (int n = 0; n < k->n; n++) {
        for (int c = 0; c < k->c; c++) {
            double s = 0.0;
            for (int q = 0; q < hw; q++)
                s += x[at(k, n, c, 0, 0) + q];
            z[c] = s / hw;
        }
        for (int i = 0; i < co; i++) {
            double s = b ? b[i] : 0.0;
            for (int c = 0; c < k->c; c++)
                s += w[(size_t)i * k->c + c] * z[c];
            double p = 1.0 / (1.0 + exp(-s));
            prob[(size_t)n * co + i] = p;
            for (int h = 0; h < k->h; h++)
                for (int ww = 0; ww < k->w; ww++) {
                    double max = -INFINITY, sum = 0.0;
                    for (int j = 0; j < k->r; j++) {
                        double v = x[at(k, n, i * k->r + j, h, ww)];
                        max = v > max ? v : max;
                        sum += v;
                    }
                    double avg = sum / k->r;
                    double out;
                    if (k->fusion == FACS_FUSION_WEIGHTED)
                        out = p * max + (1.0 - p) * avg;
                    else
                        out = p <= k->threshold ? p * max : p * avg;
                    y[(((size_t)n * co + i) * k->h + h) * k->w + ww] = out;
                }
        }
    }
    free(z);
}

typedef struct {
    const facs_case *k;
    double *x, *w, *b, *r; /* r: weights of the loss sum r y */
    int which;             /* 0 x, 1 w, 2 b: the vector finite differences move */
    size_t ny;
} loss_args;

static double loss_of(const double *v, void *user)
{
    const loss_args *a = user;
    const double *x = a->which == 0 ? v : a->x, *w = a->which == 1 ? v : a->w;
    const double *b = a->which == 2 ? v : a->b;
    double *y = malloc(a->ny * sizeof *y), *prob = malloc((size_t)a->k->n * co_of(a->k) * sizeof *prob);
    naive_facs(a->k, x, w, b, y, prob);
    double l = test_dot(a->r, y, a->ny);
    free(y), free(prob);
    return l;
}

/* Random x whose chunks have pairwise gaps >= SAFE_GAP; a per-channel offset
 * spreads z so that p falls on both sides of T. */
static void fill_separated(const facs_case *k, float *x)
{
    float *offset = test_alloc((size_t)k->c);
    test_fill(offset, (size_t)k->c, -1, 1);
    for (int n = 0; n < k->n; n++)
        for (int i = 0; i < co_of(k); i++)
            for (int h = 0; h < k->h; h++)
                for (int w = 0; w < k->w; w++) {
                    int ok = 0;
                    while (!ok) {
                        ok = 1;
                        for (int j = 0; j < k->r; j++) {
                            int c = i * k->r + j;
                            float v = (float)test_uniform(-1, 1) + offset[c];
                            for (int m = 0; m < j; m++)
                                ok &= fabsf(v - x[at(k, n, i * k->r + m, h, w)]) >= SAFE_GAP;
                            x[at(k, n, c, h, w)] = v;
                        }
                    }
                }
    free(offset);
}

/* Draws w and b until every |p - T| >= SAFE_GAP and, for T strictly inside
 * (0, 1) with several p, both branches of Eq. 2 occur. */
static int draw_weights(const facs_case *k, const float *x, float *w, float *b)
{
    size_t nx = (size_t)k->n * k->c * k->h * k->w, np = (size_t)k->n * co_of(k);
    size_t ny = np * k->h * k->w;
    double *xd = test_to_double(x, nx), *y = malloc(ny * sizeof *y), *prob = malloc(np * sizeof *prob);
    int ok = 0;
    for (int attempt = 0; attempt < 1000 && !ok; attempt++) {
        test_fill(w, (size_t)co_of(k) * k->c, -3.0 / sqrt(k->c), 3.0 / sqrt(k->c));
        test_fill(b, (size_t)co_of(k), -1, 1);
        double *wd = test_to_double(w, (size_t)co_of(k) * k->c), *bd = test_to_double(b, (size_t)co_of(k));
        naive_facs(k, xd, wd, k->bias ? bd : NULL, y, prob);
        ok = 1;
        if (k->fusion == FACS_FUSION_THRESHOLD) {
            int below = 0;
            for (size_t j = 0; j < np; j++) {
                ok &= fabs(prob[j] - k->threshold) >= SAFE_GAP;
                below += prob[j] <= k->threshold;
            }
            if (k->threshold > 0 && k->threshold < 1 && np > 1)
                ok &= below > 0 && below < (int)np;
        }
        free(wd), free(bd);
    }
    free(xd), free(y), free(prob);
    return CHECK(ok, "could not draw weights with p away from T = %g", (double)k->threshold);
}

static void describe(char *buf, size_t size, const facs_case *k, const char *what)
{
    snprintf(buf, size, "facs (%d,%d,%d,%d) R=%d %s T=%g%s: %s", k->n, k->c, k->h, k->w, k->r,
             k->fusion == FACS_FUSION_WEIGHTED ? "weighted" : "threshold", (double)k->threshold,
             k->bias ? " bias" : "", what);
}

typedef struct {
    float *x, *w, *b, *dy;
    double *y, *prob, *dx, *dw, *db; /* naive forward and finite differences */
} reference;

/* With R = 1 the weighted fusion is p x + (1 - p) x = x, so p has no effect
 * and the exact dW and db vanish; finite differences see only the loss's
 * rounding (~1e-16 |L| / eps, about 1e-8 here). */
static void check_param_grad(const facs_case *k, const char *what, const float *got, const double *fd, size_t n)
{
    if (k->fusion != FACS_FUSION_WEIGHTED || k->r != 1) {
        test_close_d(what, got, fd, n, GRAD_TOL);
        return;
    }
    double worst = 0.0, noise = 0.0;
    for (size_t j = 0; j < n; j++) {
        worst = fmax(worst, fabs(got[j]));
        noise = fmax(noise, fabs(fd[j]));
    }
    CHECK(worst == 0.0 && noise < 1e-6, "%s: expected exactly 0, got %g (finite differences %g)", what, worst, noise);
}

/* A weight that is an activation of the step (not a parameter) gets its
 * gradient through the tape's write-then-hand-back protocol instead. */
static void check_weight_activation(facs_ctx *ctx, const facs_case *k, const reference *ref)
{
    int co = co_of(k);
    size_t nw = (size_t)co * k->c;
    test_poison_step(ctx);
    facs_tensor *x = test_tensor(ctx, k->n, k->c, k->h, k->w, ref->x);
    facs_tensor *w = test_tensor(ctx, co, k->c, 1, 1, ref->w);
    facs_tensor *b = k->bias ? test_tensor(ctx, co, 1, 1, 1, ref->b) : NULL;
    facs_fuse_params p = {k->fusion, k->threshold};
    w->requires_grad = 1;
    facs_keep_grad(w);
    facs_tensor *y = facs_facs(ctx, x, w, b, &p);
    if (CHECK_PTR(y) && CHECK_OK(facs_backward(ctx, y, test_tensor(ctx, k->n, co, k->h, k->w, ref->dy)))) {
        CHECK(x->grad == NULL && (!b || b->grad == NULL), "facs: an input that needs no gradient received one");
        float *got_dw = test_grad_nchw(w);
        char what[160];
        describe(what, sizeof what, k, "dw of an activation weight vs finite differences");
        check_param_grad(k, what, got_dw, ref->dw, nw);
        free(got_dw);
    }
}

static void gradcheck(facs_ctx *ctx, const facs_case *k)
{
    int co = co_of(k);
    size_t nx = (size_t)k->n * k->c * k->h * k->w, nw = (size_t)co * k->c, np = (size_t)k->n * co;
    size_t ny = np * k->h * k->w;
    reference ref = {.x = test_alloc(nx), .w = test_alloc(nw), .b = test_alloc((size_t)co), .dy = test_alloc(ny)};
    fill_separated(k, ref.x);
    /* Positive loss weights: in the weighted fusion dprob = sum dy (max - mean)
     * then has no cancellation, which would otherwise amplify the float sums'
     * rounding beyond GRAD_TOL when a case has a single p (seen 1 in 300). */
    test_fill(ref.dy, ny, 0.5, 1.5);
    if (!draw_weights(k, ref.x, ref.w, ref.b))
        goto done;
    /* Without a bias the backend's db is still the gradient at b = 0. */
    if (!k->bias)
        memset(ref.b, 0, (size_t)co * sizeof *ref.b);

    double *xd = test_to_double(ref.x, nx), *wd = test_to_double(ref.w, nw);
    double *bd = test_to_double(ref.b, (size_t)co), *rd = test_to_double(ref.dy, ny);
    ref.y = malloc(ny * sizeof(double));
    ref.prob = malloc(np * sizeof(double));
    ref.dx = malloc(nx * sizeof(double));
    ref.dw = malloc(nw * sizeof(double));
    ref.db = malloc((size_t)co * sizeof(double));
    naive_facs(k, xd, wd, bd, ref.y, ref.prob);
    loss_args args = {k, xd, wd, bd, rd, 0, ny};
    test_fd_gradient(loss_of, xd, nx, &args, 1e-6, ref.dx);
    args.which = 1;
    test_fd_gradient(loss_of, wd, nw, &args, 1e-6, ref.dw);
    args.which = 2;
    test_fd_gradient(loss_of, bd, (size_t)co, &args, 1e-6, ref.db);

    test_poison_step(ctx);
    facs_tensor *w = test_param(co, k->c, 1, 1, ref.w), *b = k->bias ? test_param(co, 1, 1, 1, ref.b) : NULL;
    facs_tensor *x = test_tensor(ctx, k->n, k->c, k->h, k->w, ref.x);
    facs_fuse_params p = {k->fusion, k->threshold};
    x->requires_grad = 1;
    facs_tensor *y = facs_facs(ctx, x, w, b, &p);
    char what[160];
    if (CHECK_PTR(y) && CHECK_OK(facs_backward(ctx, y, test_tensor(ctx, k->n, co, k->h, k->w, ref.dy)))) {
        float *got_y = test_nchw(y), *got_dx = test_grad_nchw(x), *got_dw = test_grad_nchw(w);
        describe(what, sizeof what, k, "forward vs double");
        test_close_d(what, got_y, ref.y, ny, FORWARD_TOL);
        describe(what, sizeof what, k, "dx vs finite differences");
        test_close_d(what, got_dx, ref.dx, nx, GRAD_TOL);
        describe(what, sizeof what, k, "dw vs finite differences");
        check_param_grad(k, what, got_dw, ref.dw, nw);
        if (b) {
            float *got_db = test_grad_nchw(b);
            describe(what, sizeof what, k, "db vs finite differences");
            check_param_grad(k, what, got_db, ref.db, (size_t)co);
            free(got_db);
        }
        free(got_y), free(got_dx), free(got_dw);
    }
    facs_tensor_free(w);
    facs_tensor_free(b);
    check_weight_activation(ctx, k, &ref);
    free(xd), free(wd), free(bd), free(rd);
    free(ref.y), free(ref.prob), free(ref.dx), free(ref.dw), free(ref.db);
done:
    free(ref.x), free(ref.w), free(ref.b), free(ref.dy);
}

/* facs_facs on shapes (n, c, 3, 3) x (o, i, kh, kw) must fail with a message
 * naming the op and containing key. */
static void expect_error(facs_ctx *ctx, int c, int o, int i, int kh, int bias_n, facs_fusion fusion, float threshold,
                         const char *key)
{
    test_poison_step(ctx);
    facs_tensor *x = test_tensor(ctx, 2, c, 3, 3, NULL);
    facs_tensor *w = test_tensor(ctx, o, i, kh, kh, NULL);
    facs_tensor *b = bias_n ? test_tensor(ctx, bias_n, 1, 1, 1, NULL) : NULL;
    facs_fuse_params p = {fusion, threshold};
    facs_clear_error();
    facs_tensor *y = facs_facs(ctx, x, w, b, &p);
    const char *msg = facs_last_error();
    CHECK(!y && strstr(msg, "facs:") && strstr(msg, key), "facs x C=%d, w (%d,%d,%d,%d): expected an error with '%s', got '%s'",
          c, o, i, kh, kh, key, y ? "(success)" : msg);
}

static void argument_errors(facs_ctx *ctx)
{
    expect_error(ctx, 6, 4, 6, 1, 0, FACS_FUSION_THRESHOLD, 0.5f, "not divisible");
    expect_error(ctx, 6, 2, 5, 1, 0, FACS_FUSION_THRESHOLD, 0.5f, "does not fit");
    expect_error(ctx, 6, 2, 6, 3, 0, FACS_FUSION_THRESHOLD, 0.5f, "does not fit");
    expect_error(ctx, 6, 2, 6, 1, 3, FACS_FUSION_THRESHOLD, 0.5f, "bias");
    expect_error(ctx, 6, 2, 6, 1, 0, FACS_FUSION_THRESHOLD, NAN, "not finite");
    expect_error(ctx, 6, 2, 6, 1, 0, (facs_fusion)5, 0.5f, "unknown fusion");
}

static void torch_parity(facs_ctx *ctx, h5_file *ref)
{
    char name[64], path[96], what[128];
    for (int k = 0;; k++) {
        snprintf(name, sizeof name, "/case%d", k);
        if (!h5_exists(ref, name))
            break;
        facs_fuse_params p = {(facs_fusion)h5_attr_int(ref, name, "fusion", -1),
                              (float)h5_attr_double(ref, name, "threshold", NAN)};
        int bias = (int)h5_attr_int(ref, name, "bias", 0), co = (int)h5_attr_int(ref, name, "co", 0);
        int rank;
        size_t dims[8], nx, ny, nw, np, nb = 0;
        snprintf(path, sizeof path, "%s/x", name);
        free(h5_read_f32(ref, path, &rank, dims));
        if (!CHECK(rank == 4, "%s/x has rank %d, expected 4", name, rank))
            continue;
        float *x, *w, *b = NULL, *y, *prob, *dy, *dx, *dw, *db = NULL;
#define LOAD(var, count)                           \
    snprintf(path, sizeof path, "%s/" #var, name); \
    var = test_ref(ref, path, &count);
        LOAD(x, nx) LOAD(w, nw) LOAD(y, ny) LOAD(prob, np) LOAD(dy, ny) LOAD(dx, nx) LOAD(dw, nw)
        if (bias) {
            LOAD(b, nb) LOAD(db, nb)
        }
#undef LOAD
        int n = (int)dims[0], c = (int)dims[1], h = (int)dims[2], wd = (int)dims[3];
        test_poison_step(ctx);
        facs_tensor *tw = test_param(co, c, 1, 1, w), *tb = bias ? test_param(co, 1, 1, 1, b) : NULL;
        facs_tensor *tx = test_tensor(ctx, n, c, h, wd, x);
        tx->requires_grad = 1;
        facs_tensor *ty = facs_facs(ctx, tx, tw, tb, &p);
        if (CHECK_PTR(ty) && CHECK_OK(facs_backward(ctx, ty, test_tensor(ctx, n, co, h, wd, dy)))) {
            float *got_y = test_nchw(ty), *got_dx = test_grad_nchw(tx), *got_dw = test_grad_nchw(tw);
            snprintf(what, sizeof what, "%s (%d,%d,%d,%d) R=%d fusion %d: ", name, n, c, h, wd, c / co, p.fusion);
            size_t len = strlen(what);
            snprintf(what + len, sizeof what - len, "y vs torch");
            test_close_f(what, got_y, y, ny, TORCH_TOL);
            snprintf(what + len, sizeof what - len, "dx vs torch");
            test_close_f(what, got_dx, dx, nx, TORCH_TOL);
            snprintf(what + len, sizeof what - len, "dw vs torch");
            test_close_f(what, got_dw, dw, nw, TORCH_TOL);
            if (tb) {
                float *got_db = test_grad_nchw(tb);
                snprintf(what + len, sizeof what - len, "db vs torch");
                test_close_f(what, got_db, db, nb, TORCH_TOL);
                free(got_db);
            }
            facs_tensor *tp = test_tensor(ctx, n, co, 1, 1, NULL), *ty2 = test_tensor(ctx, n, co, h, wd, NULL),
                        *tz = test_tensor(ctx, n, c, 1, 1, NULL);
            if (CHECK_PTR(ty2) && CHECK_PTR(tz) &&
                CHECK_OK(ctx->backend->facs_forward(ctx, &p, tx, tw, tb, ty2, tz, tp))) {
                float *got_p = test_nchw(tp);
                snprintf(what + len, sizeof what - len, "prob vs torch");
                test_close_f(what, got_p, prob, np, TORCH_TOL);
                free(got_p);
            }
            free(got_y), free(got_dx), free(got_dw);
        }
        facs_tensor_free(tw);
        facs_tensor_free(tb);
        free(x), free(w), free(b), free(y), free(prob), free(dy), free(dx), free(dw), free(db);
    }
    CHECK(h5_exists(ref, "/case0"), "the reference file holds no cases");
}

/* y, dx, dW and db of x's images [first, first + count) through the tape,
 * into malloc'd NCHW arrays (out[0..3]). */
static void run_images(facs_ctx *ctx, const facs_case *k, const float *x, const float *w, const float *b,
                       const float *dy, int first, int count, float **out)
{
    const size_t image = (size_t)k->c * k->h * k->w, out_image = image / k->r;
    facs_tensor *tw = test_param(co_of(k), k->c, 1, 1, w), *tb = test_param(co_of(k), 1, 1, 1, b);
    facs_ctx_begin_step(ctx);
    facs_tensor *tx = test_tensor(ctx, count, k->c, k->h, k->w, x + first * image);
    tx->requires_grad = 1;
    facs_fuse_params p = {k->fusion, k->threshold};
    facs_tensor *y = facs_facs(ctx, tx, tw, tb, &p);
    memset(out, 0, 4 * sizeof *out);
    if (CHECK_PTR(y) &&
        CHECK_OK(facs_backward(ctx, y, test_tensor(ctx, count, co_of(k), k->h, k->w, dy + first * out_image)))) {
        out[0] = test_nchw(y);
        out[1] = test_grad_nchw(tx);
        out[2] = test_grad_nchw(tw);
        out[3] = test_grad_nchw(tb);
    }
    facs_tensor_free(tw), facs_tensor_free(tb);
}

/* The CPU runs a batch of large images a cache-sized group at a time
 * (kernels/cpu/facs.c GROUP_BYTES: 4 MiB; each image here is 2.4 MB, so a
 * group of one): every image's y and dx must be, bit for bit, what the image
 * gets alone; dW and db are sums over the images, equal to the sum of the
 * single-image ones up to float reassociation. */
static void image_groups(facs_ctx *ctx)
{
    const facs_case k = {3, 256, 4, 48, 48, FACS_FUSION_THRESHOLD, 0.5f, 1};
    const size_t image = (size_t)k.c * k.h * k.w, out_image = image / k.r;
    const size_t wn = (size_t)co_of(&k) * k.c;
    float *x = test_alloc(k.n * image), *dy = test_alloc(k.n * out_image), *w = test_alloc(wn), b[64];
    test_fill(x, k.n * image, -1, 1);
    test_fill(dy, k.n * out_image, -1, 1);
    test_fill(w, wn, -0.1, 0.1);
    test_fill(b, co_of(&k), -0.5, 0.5);
    float *whole[4], *alone[4];
    run_images(ctx, &k, x, w, b, dy, 0, k.n, whole);
    double *dw_sum = calloc(wn + co_of(&k), sizeof *dw_sum);
    for (int img = 0; img < k.n && whole[0]; img++) {
        run_images(ctx, &k, x, w, b, dy, img, 1, alone);
        if (!alone[0])
            break;
        CHECK(!memcmp(whole[0] + img * out_image, alone[0], out_image * sizeof(float)),
              "facs groups: y of image %d differs from the image alone", img);
        CHECK(!memcmp(whole[1] + img * image, alone[1], image * sizeof(float)),
              "facs groups: dx of image %d differs from the image alone", img);
        for (size_t i = 0; i < wn; i++)
            dw_sum[i] += alone[2][i];
        for (int i = 0; i < co_of(&k); i++)
            dw_sum[wn + i] += alone[3][i];
        for (int i = 0; i < 4; i++)
            free(alone[i]);
    }
    if (whole[0]) {
        test_close_d("facs groups: dW against the sum over single images", whole[2], dw_sum, wn, 1e-6);
        test_close_d("facs groups: db against the sum over single images", whole[3], dw_sum + wn, co_of(&k), 1e-6);
    }
    for (int i = 0; i < 4; i++)
        free(whole[i]);
    free(dw_sum), free(x), free(dy), free(w);
}

/* The CPU's fusion pass runs in the widest vector clone the CPU has
 * (kernels/cpu/facs.c, target_clones). y must be, bit for bit, Eq. 2-3 of
 * facs_fusion_math.h evaluated here one chunk at a time (this file is built
 * for the x86-64 baseline) from the op's own p: for the chunk sizes the op
 * specialises and one it does not, both fusions, 35 pixels (no whole number
 * of vectors), ties, signed zeros and values far apart in magnitude. */
static void fusion_bits(facs_ctx *ctx)
{
    const int sizes[] = {1, 2, 3, 4, 8};
    const int n = 2, c = 48, h = 5, w = 7, pixels = h * w;
    float x[2 * 48 * 35], wt[48 * 48], b[48];
    for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++)
        for (int weighted = 0; weighted < 2; weighted++) {
            const int r = sizes[s], co = c / r;
            test_fill(x, sizeof x / sizeof x[0], -1, 1);
            for (size_t i = 0; i < sizeof x / sizeof x[0]; i += 3)
                x[i] = roundf(x[i] * 2) / 2; /* ties within chunks */
            x[5] = -0.0f, x[6] = 0.0f, x[40] = 3e30f, x[41] = -3e-30f;
            test_fill(wt, (size_t)co * c, -0.2, 0.2);
            test_fill(b, co, -0.5, 0.5);
            facs_tensor *tw = test_param(co, c, 1, 1, wt), *tb = test_param(co, 1, 1, 1, b);
            facs_ctx_begin_step(ctx);
            facs_tensor *tx = test_tensor(ctx, n, c, h, w, x), *y = facs_ctx_tensor(ctx, FACS_F32, n, co, h, w),
                        *z = facs_ctx_tensor(ctx, FACS_F32, n, c, 1, 1),
                        *prob = facs_ctx_tensor(ctx, FACS_F32, n, co, 1, 1);
            const facs_fuse_params p = {weighted ? FACS_FUSION_WEIGHTED : FACS_FUSION_THRESHOLD, 0.5f};
            if (CHECK_PTR(tw) && CHECK_PTR(tb) && CHECK_PTR(tx) && CHECK_PTR(y) && CHECK_PTR(z) && CHECK_PTR(prob) &&
                CHECK_OK(ctx->backend->facs_forward(ctx, &p, tx, tw, tb, y, z, prob))) {
                const float *xd = facs_f32(tx), *yd = facs_f32(y), *pd = facs_f32(prob); /* NHWC */
                int differ = 0;
                for (int q = 0; q < n * pixels; q++)
                    for (int i = 0; i < co; i++) {
                        const float *chunk = xd + (size_t)q * c + i * r;
                        const float want = facs_fusion_value(weighted, p.threshold, pd[(q / pixels) * co + i],
                                                             facs_chunk_max(chunk, r), facs_chunk_mean(chunk, r));
                        differ += memcmp(&want, yd + (size_t)q * co + i, sizeof want) != 0;
                    }
                CHECK(differ == 0, "facs fusion, R = %d, %s: %d of %d outputs differ from Eq. 2-3 in their bits", r,
                      weighted ? "weighted" : "threshold", differ, n * pixels * co);
            }
            facs_tensor_free(tw), facs_tensor_free(tb);
        }
}

int main(int argc, char **argv)
{
    h5_file *ref = test_open_ref(argc, argv);
    test_seed_from_env();
    facs_ctx *ctx = facs_ctx_create(FACS_DEVICE_CPU);
    const facs_fusion W = FACS_FUSION_WEIGHTED;
    const facs_case cases[] = {
        {3, 5, 1, 3, 4, W, 0.0f, 1},   /* y = x: dW and db exactly 0 */
        {1, 4, 2, 17, 16, W, 0.0f, 1}, /* 272 pixels: two pixel blocks */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        gradcheck(ctx, &cases[i]);
    argument_errors(ctx);
    image_groups(ctx);
    fusion_bits(ctx);
    torch_parity(ctx, ref);
    facs_ctx_free(ctx);
    h5_close(ref);
    return test_finish();
}
