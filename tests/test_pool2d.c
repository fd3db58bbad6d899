/* Max and average pooling through ops.h and the tape: output sizes against
 * an enumeration of PyTorch's rule, refused parameters, finite differences in
 * double precision and first-maximum routing on ties for the combinations
 * tests/backend_ops lacks (see gradchecks), and parity with F.max_pool2d /
 * F.avg_pool2d. The backend contract (dx written over NaN, NULL dx) and the
 * finite differences of the other combinations live in tests/backend_ops. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "test_util.h"

/* Float pooling is a max (exact) or a sum of at most 9 terms divided by an
 * integer: a few float roundings of ~6e-8 relative each. */
#define FORWARD_TOL 1e-6
/* The loss is piecewise linear in x, so central differences in double are
 * exact up to rounding (~1e-10); the float backward adds ~1e-7. */
#define GRAD_TOL 1e-5
/* Max-pool dx against the naive routing: a float sum of a few dy values. */
#define ROUTE_TOL 1e-6
#define TORCH_TOL 1e-4

enum { OP_MAX = 0, OP_AVG = 1 };
/* Inputs: distinct values around 0, distinct values all below 0, or small
 * integers full of ties (max pool only; checked against the naive routing). */
enum { FILL_DISTINCT, FILL_NEGATIVE, FILL_TIES };

/* Output size by enumerating window starts, independently of the library's
 * closed form: floor mode keeps windows inside the padded input; ceil mode
 * keeps those hanging out by less than a stride whose start lies inside the
 * input or the left padding. 0 when no window fits. */
static int naive_out_size(int in, int k, int s, int p, int ceil_mode)
{
    if (in + 2 * p < k)
        return 0;
    int count = 0;
    for (int o = 0; o * s < in + 2 * p; o++)
        if (ceil_mode ? (o * s < in + 2 * p - k + s && o * s < in + p) : (o * s + k <= in + 2 * p))
            count++;
    return count;
}

typedef struct {
    int op;
    facs_pool2d_params p;
    int n, c, h, w, oh, ow;
    const double *r; /* loss = sum_o r_o y_o */
} pool_problem;

/* PyTorch's pooling over NCHW doubles, written from the definition: a window
 * position counts toward count_include_pad's divisor while it lies inside
 * [-pad, in + pad); it contributes a value only inside the input. */
static void naive_pool(const pool_problem *a, const double *x, double *y)
{
    const facs_pool2d_params *p = &a->p;
    for (int nc = 0; nc < a->n * a->c; nc++)
        for (int oh = 0; oh < a->oh; oh++)
            for (int ow = 0; ow < a->ow; ow++) {
                double best = -INFINITY, sum = 0.0;
                int inside = 0, padded = 0;
                for (int i = 0; i < p->kernel_h; i++)
                    for (int j = 0; j < p->kernel_w; j++) {
                        int ih = oh * p->stride_h - p->pad_h + i, iw = ow * p->stride_w - p->pad_w + j;
                        if (ih < a->h + p->pad_h && iw < a->w + p->pad_w)
                            padded++;
                        if (ih < 0 || iw < 0 || ih >= a->h || iw >= a->w)
                            continue;
                        double v = x[((size_t)nc * a->h + ih) * a->w + iw];
                        inside++;
                        sum += v;
                        if (v > best)
                            best = v;
                    }
                y[((size_t)nc * a->oh + oh) * a->ow + ow] =
                    a->op == OP_MAX ? best : sum / (p->count_include_pad ? padded : inside);
            }
}

/* First maximum of each window in scan order receives dy: PyTorch's routing,
 * which finite differences cannot see when values tie. */
static void naive_max_backward(const pool_problem *a, const double *x, const double *dy, double *dx)
{
    const facs_pool2d_params *p = &a->p;
    for (size_t i = 0; i < (size_t)a->n * a->c * a->h * a->w; i++)
        dx[i] = 0.0;
    for (int nc = 0; nc < a->n * a->c; nc++)
        for (int oh = 0; oh < a->oh; oh++)
            for (int ow = 0; ow < a->ow; ow++) {
                double best = -INFINITY;
                size_t arg = 0;
                for (int i = 0; i < p->kernel_h; i++)
                    for (int j = 0; j < p->kernel_w; j++) {
                        int ih = oh * p->stride_h - p->pad_h + i, iw = ow * p->stride_w - p->pad_w + j;
                        if (ih < 0 || iw < 0 || ih >= a->h || iw >= a->w)
                            continue;
                        size_t at = ((size_t)nc * a->h + ih) * a->w + iw;
                        if (x[at] > best) {
                            best = x[at];
                            arg = at;
                        }
                    }
                dx[arg] += dy[((size_t)nc * a->oh + oh) * a->ow + ow];
            }
}

static double loss_of(const double *x, void *user)
{
    const pool_problem *a = user;
    size_t count = (size_t)a->n * a->c * a->oh * a->ow;
    double *y = malloc(count * sizeof *y);
    naive_pool(a, x, y);
    double s = test_dot(a->r, y, count);
    free(y);
    return s;
}

static facs_tensor *run_pool(facs_ctx *ctx, int op, facs_tensor *x, const facs_pool2d_params *p)
{
    return op == OP_MAX ? facs_maxpool2d(ctx, x, p) : facs_avgpool2d(ctx, x, p);
}

static void describe(char *buf, size_t size, const pool_problem *a, const char *what)
{
    const facs_pool2d_params *p = &a->p;
    snprintf(buf, size, "%s (%d,%d,%d,%d) k%dx%d s%dx%d p%dx%d ceil %d cip %d: %s", a->op == OP_MAX ? "max" : "avg",
             a->n, a->c, a->h, a->w, p->kernel_h, p->kernel_w, p->stride_h, p->stride_w, p->pad_h, p->pad_w,
             p->ceil_mode, p->count_include_pad, what);
}

/* Distinct values 1/64 apart (exact in float, far beyond the FD step), so
 * every window's argmax is stable under the step; offset shifts them, e.g.
 * all below zero so that a padding that took part in the max would show. */
static void fill_distinct(float *x, size_t count, double offset)
{
    for (size_t i = 0; i < count; i++)
        x[i] = (float)((double)i / 64.0 + offset);
    for (size_t i = count - 1; i > 0; i--) {
        size_t j = (size_t)test_uniform(0, (double)(i + 1));
        float t = x[i];
        x[i] = x[j];
        x[j] = t;
    }
}

/* Runs the op through ops.h and the tape on a NaN-poisoned arena and compares
 * forward, dx and the tied-value routing with the naive ones. */
static void gradcheck(facs_ctx *ctx, int op, const facs_pool2d_params *p, const int shape[4], int fill)
{
    pool_problem a = {op, *p, shape[0], shape[1], shape[2], shape[3], 0, 0, NULL};
    a.oh = naive_out_size(a.h, p->kernel_h, p->stride_h, p->pad_h, p->ceil_mode);
    a.ow = naive_out_size(a.w, p->kernel_w, p->stride_w, p->pad_w, p->ceil_mode);
    size_t count = (size_t)a.n * a.c * a.h * a.w, ocount = (size_t)a.n * a.c * a.oh * a.ow;
    float *x = test_alloc(count), *r = test_alloc(ocount);
    if (fill == FILL_TIES)
        for (size_t i = 0; i < count; i++)
            x[i] = (float)floor(test_uniform(0, 3));
    else if (op == OP_MAX)
        fill_distinct(x, count, fill == FILL_NEGATIVE ? -(double)count / 64.0 - 1.0 : -(double)count / 128.0);
    else
        test_fill(x, count, -1, 1);
    test_fill(r, ocount, -1, 1);
    test_poison_step(ctx);
    facs_tensor *tx = test_tensor(ctx, a.n, a.c, a.h, a.w, x);
    tx->requires_grad = 1;
    facs_tensor *y = run_pool(ctx, op, tx, p);
    facs_tensor *dy = test_tensor(ctx, a.n, a.c, a.oh, a.ow, r);
    char what[160];
    if (CHECK_PTR(y) && CHECK(y->h == a.oh && y->w == a.ow, "output %dx%d, expected %dx%d", y->h, y->w, a.oh, a.ow) &&
        CHECK_OK(facs_backward(ctx, y, dy))) {
        double *xd = test_to_double(x, count), *rd = test_to_double(r, ocount);
        double *want_y = malloc(ocount * sizeof *want_y), *want_dx = malloc(count * sizeof *want_dx);
        a.r = rd;
        naive_pool(&a, xd, want_y);
        /* With distinct values the routing is the exact gradient, which the
         * FILL_DISTINCT run of the same case checks by finite differences. */
        if (op == OP_MAX && fill != FILL_DISTINCT)
            naive_max_backward(&a, xd, rd, want_dx);
        else
            test_fd_gradient(loss_of, xd, count, &a, 1e-6, want_dx);
        float *got_y = test_nchw(y), *got_dx = test_grad_nchw(tx);
        double dx_tol = op == OP_MAX && fill != FILL_DISTINCT ? ROUTE_TOL : GRAD_TOL;
        describe(what, sizeof what, &a, "forward vs double");
        test_close_d(what, got_y, want_y, ocount, FORWARD_TOL);
        describe(what, sizeof what, &a, fill == FILL_DISTINCT ? "dx vs finite differences" : "dx vs first-max routing");
        test_close_d(what, got_dx, want_dx, count, dx_tol);
        free(xd), free(rd), free(want_y), free(want_dx), free(got_y), free(got_dx);
    }
    free(x), free(r);
}

static facs_pool2d_params params(int kh, int kw, int sh, int sw, int ph, int pw, int ceil_mode, int cip)
{
    return (facs_pool2d_params){kh, kw, sh, sw, ph, pw, ceil_mode, cip};
}

/* Max pooling with every fill, then average pooling both ways of
 * count_include_pad. */
static void gradcheck_both(facs_ctx *ctx, const facs_pool2d_params *config, const int shape[4])
{
    for (int fill = FILL_DISTINCT; fill <= FILL_TIES; fill++)
        gradcheck(ctx, OP_MAX, config, shape, fill);
    facs_pool2d_params p = *config;
    for (p.count_include_pad = 0; p.count_include_pad <= 1; p.count_include_pad++)
        gradcheck(ctx, OP_AVG, &p, shape, FILL_DISTINCT);
}

/* What tests/backend_ops lacks: 70 channels (its pooling cases have at most
 * 7; max pooling takes channels in blocks of 64, oneDNN's average in vector
 * blocks), on every configuration; 2x2/2 pad 1 in ceil mode, whose last
 * window would start in the padding and is dropped; average pooling without
 * count_include_pad where ceil mode widens oneDNN's right padding (2x2/2 on
 * odd sizes); and the asymmetric 3x2/(2,1) average with count_include_pad. */
static void gradchecks(facs_ctx *ctx)
{
    const facs_pool2d_params configs[] = {
        params(3, 3, 2, 2, 1, 1, 0, 1), params(3, 3, 2, 2, 1, 1, 1, 1), params(2, 2, 2, 2, 0, 0, 0, 1),
        params(2, 2, 2, 2, 0, 0, 1, 1), params(3, 3, 1, 1, 1, 1, 0, 1), params(2, 2, 2, 2, 1, 1, 1, 1),
        params(3, 2, 2, 1, 1, 0, 1, 1),
    };
    const int wide[4] = {1, 70, 3, 4};
    for (size_t k = 0; k < sizeof configs / sizeof configs[0]; k++)
        gradcheck_both(ctx, &configs[k], wide);
    const facs_pool2d_params dropped = params(2, 2, 2, 2, 1, 1, 1, 1), widened = params(2, 2, 2, 2, 0, 0, 1, 0);
    const facs_pool2d_params asymmetric = params(3, 2, 2, 1, 1, 0, 1, 1);
    const int shapes[][4] = {{2, 3, 7, 7}, {1, 3, 13, 17}};
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
        gradcheck_both(ctx, &dropped, shapes[s]);
        gradcheck(ctx, OP_AVG, &widened, shapes[s], FILL_DISTINCT);
        gradcheck(ctx, OP_AVG, &asymmetric, shapes[s], FILL_DISTINCT);
    }
}

/* The closed form against the enumeration over a sweep of sizes, and the
 * wrapper's refusal of what PyTorch refuses. */
static void output_sizes(facs_ctx *ctx)
{
    int wrong = 0;
    for (int in = 1; in <= 20; in++)
        for (int k = 1; k <= 5; k++)
            for (int s = 1; s <= 4; s++)
                for (int p = 0; p <= k / 2; p++)
                    for (int c = 0; c <= 1; c++) {
                        int want = naive_out_size(in, k, s, p, c);
                        if (want > 0 && facs_pool_out_size(in, k, s, p, c) != want && wrong++ < 5)
                            CHECK(0, "pool_out_size(%d, k %d, s %d, p %d, ceil %d) = %d, expected %d", in, k, s, p, c,
                                  facs_pool_out_size(in, k, s, p, c), want);
                    }
    CHECK(wrong == 0, "%d output sizes differ from the enumeration", wrong);
    facs_ctx_begin_step(ctx);
    facs_tensor *x = test_tensor(ctx, 1, 2, 5, 5, NULL);
    facs_pool2d_params too_much_pad = params(2, 2, 2, 2, 2, 2, 0, 1), too_big = params(4, 4, 1, 1, 0, 0, 0, 1);
    facs_pool2d_params no_stride = params(2, 2, 0, 2, 0, 0, 0, 1);
    CHECK(!facs_maxpool2d(ctx, x, &too_much_pad), "maxpool2d accepted pad 2 with kernel 2");
    CHECK(!facs_avgpool2d(ctx, test_tensor(ctx, 1, 2, 3, 3, NULL), &too_big), "avgpool2d accepted kernel 4 on 3x3");
    CHECK(!facs_maxpool2d(ctx, x, &no_stride), "maxpool2d accepted stride 0");
}

static facs_tensor *pool_case(facs_ctx *ctx, facs_tensor *x, h5_file *ref, const char *group, int oh, int ow)
{
    (void)oh, (void)ow;
    facs_pool2d_params p = {
        .kernel_h = (int)h5_attr_int(ref, group, "kh", 0), .kernel_w = (int)h5_attr_int(ref, group, "kw", 0),
        .stride_h = (int)h5_attr_int(ref, group, "sh", 0), .stride_w = (int)h5_attr_int(ref, group, "sw", 0),
        .pad_h = (int)h5_attr_int(ref, group, "ph", 0), .pad_w = (int)h5_attr_int(ref, group, "pw", 0),
        .ceil_mode = (int)h5_attr_int(ref, group, "ceil", 0),
        .count_include_pad = (int)h5_attr_int(ref, group, "cip", 1),
    };
    return run_pool(ctx, (int)h5_attr_int(ref, group, "op", -1), x, &p);
}

int main(int argc, char **argv)
{
    h5_file *ref = test_open_ref(argc, argv);
    test_seed_from_env();
    facs_ctx *ctx = facs_ctx_create(FACS_DEVICE_CPU);
    output_sizes(ctx);
    gradchecks(ctx);
    test_unary_torch_parity(ctx, ref, pool_case, TORCH_TOL);
    facs_ctx_free(ctx);
    h5_close(ref);
    return test_finish();
}
