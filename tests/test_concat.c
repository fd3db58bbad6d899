/* Channel concatenation through ops.h and the tape: finite differences in
 * double precision against a naive NCHW reference for 4 and 5 inputs and 512
 * channels (tests/backend_ops has 2 or 3 inputs of at most 33 channels),
 * parity with torch.cat(dim=1), inputs that do not require a gradient, an
 * input used twice, and refused arguments. The backend contract and the
 * finite differences of 2 and 3 small inputs live in tests/backend_ops. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "test_util.h"

/* Forward and backward only copy floats, so they must match exactly. */
#define COPY_TOL 0.0
/* The loss is linear: central differences in double are exact to ~1e-9. */
#define GRAD_TOL 1e-6

#define MAX_INPUTS 5

typedef struct {
    int n, h, w, count, total;
    const int *channels;
    const double *r; /* weights of the loss sum_i r_i y_i */
    double *y;       /* scratch for the reference output */
} problem;

/* x holds the inputs' NCHW arrays back to back; y is NCHW. */
static void naive_concat(const problem *p, const double *x, double *y)
{
    const size_t hw = (size_t)p->h * p->w;
    int offset = 0;
    for (int i = 0; i < p->count; i++) {
        const int c = p->channels[i];
        for (int n = 0; n < p->n; n++)
            for (int k = 0; k < c; k++)
                for (size_t s = 0; s < hw; s++)
                    y[((size_t)n * p->total + offset + k) * hw + s] = x[((size_t)n * c + k) * hw + s];
        x += (size_t)p->n * c * hw;
        offset += c;
    }
}

static double loss_of(const double *x, void *user)
{
    problem *p = user;
    naive_concat(p, x, p->y);
    return test_dot(p->r, p->y, (size_t)p->n * p->total * p->h * p->w);
}

static void gradcheck(facs_ctx *ctx, int n, int h, int w, int count, const int *channels, const int *wants)
{
    const size_t hw = (size_t)h * w;
    int total = 0;
    for (int i = 0; i < count; i++)
        total += channels[i];
    const size_t nx = (size_t)n * total * hw, ny = nx;
    float *x = test_alloc(nx), *r = test_alloc(ny);
    test_fill(x, nx, -1, 1);
    test_fill(r, ny, -1, 1);
    test_poison_step(ctx);
    facs_tensor *ts[MAX_INPUTS];
    char what[128];
    int len = snprintf(what, sizeof what, "(%d,[", n);
    size_t start = 0;
    for (int i = 0; i < count; i++) {
        ts[i] = test_tensor(ctx, n, channels[i], h, w, x + start);
        ts[i]->requires_grad = wants[i] != 0;
        start += (size_t)n * channels[i] * hw;
        len += snprintf(what + len, sizeof what - len, "%s%d%s", i ? " " : "", channels[i], wants[i] ? "" : "*");
    }
    snprintf(what + len, sizeof what - len, "],%d,%d) (* = no grad)", h, w);
    facs_tensor *y = facs_concat(ctx, count, ts);
    if (CHECK_PTR(y) && CHECK(y->n == n && y->c == total && y->h == h && y->w == w, "%s: output shape", what) &&
        CHECK_OK(facs_backward(ctx, y, test_tensor(ctx, n, total, h, w, r)))) {
        double *xd = test_to_double(x, nx), *rd = test_to_double(r, ny);
        double *want_y = malloc(ny * sizeof *want_y), *want_dx = malloc(nx * sizeof *want_dx);
        problem p = {n, h, w, count, total, channels, rd, want_y};
        test_fd_gradient(loss_of, xd, nx, &p, 1e-6, want_dx);
        naive_concat(&p, xd, want_y);
        float *got_y = test_nchw(y);
        char label[192];
        snprintf(label, sizeof label, "%s forward vs double", what);
        test_close_d(label, got_y, want_y, ny, COPY_TOL);
        start = 0;
        for (int i = 0; i < count; i++) {
            size_t ni = (size_t)n * channels[i] * hw;
            if (wants[i]) {
                float *got_dx = test_grad_nchw(ts[i]);
                snprintf(label, sizeof label, "%s input %d backward vs finite differences", what, i);
                test_close_d(label, got_dx, want_dx + start, ni, GRAD_TOL);
                free(got_dx);
            } else {
                CHECK(ts[i]->grad == NULL, "%s: input %d got a gradient it did not ask for", what, i);
            }
            start += ni;
        }
        free(xd), free(rd), free(want_y), free(want_dx), free(got_y);
    }
    free(x), free(r);
}

/* concat(a, b, a): a's gradient is the sum of its two slices of dy. */
static void duplicate_input(facs_ctx *ctx)
{
    const int n = 2, ca = 3, cb = 5, h = 5, w = 4, total = 2 * ca + cb;
    const size_t hw = (size_t)h * w, na = (size_t)n * ca * hw, ny = (size_t)n * total * hw;
    float *a = test_alloc(na), *b = test_alloc((size_t)n * cb * hw), *r = test_alloc(ny), *want = test_alloc(na);
    test_fill(a, na, -1, 1);
    test_fill(b, (size_t)n * cb * hw, -1, 1);
    test_fill(r, ny, -1, 1);
    for (int in = 0; in < n; in++)
        for (int k = 0; k < ca; k++)
            for (size_t s = 0; s < hw; s++)
                want[((size_t)in * ca + k) * hw + s] = r[((size_t)in * total + k) * hw + s] +
                                                       r[((size_t)in * total + ca + cb + k) * hw + s];
    test_poison_step(ctx);
    facs_tensor *ta = test_tensor(ctx, n, ca, h, w, a), *tb = test_tensor(ctx, n, cb, h, w, b);
    ta->requires_grad = 1;
    facs_tensor *y = facs_concat(ctx, 3, (facs_tensor *const[]){ta, tb, ta});
    if (CHECK_PTR(y) && CHECK_OK(facs_backward(ctx, y, test_tensor(ctx, n, total, h, w, r)))) {
        float *got = test_grad_nchw(ta);
        /* Each element is one float sum, rounded the same way here. */
        test_close_f("concat(a, b, a): gradient of a", got, want, na, COPY_TOL);
        CHECK(tb->grad == NULL, "concat(a, b, a): b got a gradient it did not ask for");
        free(got);
    }
    free(a), free(b), free(r), free(want);
}

static void bad_arguments(facs_ctx *ctx)
{
    facs_ctx_begin_step(ctx);
    facs_tensor *a = test_tensor(ctx, 2, 3, 5, 5, NULL), *b = test_tensor(ctx, 2, 4, 5, 6, NULL);
    CHECK(facs_concat(ctx, 2, (facs_tensor *const[]){a, b}) == NULL && strstr(facs_last_error(), "concat"),
          "inputs of different W are refused with a message naming the op (got \"%s\")", facs_last_error());
    CHECK(facs_concat(ctx, 0, (facs_tensor *const[]){a}) == NULL, "zero inputs are refused");
    CHECK(facs_concat(ctx, 2, (facs_tensor *const[]){a, NULL}) == NULL, "a NULL input gives NULL");
    /* Shapes alone (the meta device): 2^30 + 2^30 channels wrapped around in int. */
    facs_ctx *meta = facs_ctx_create(FACS_DEVICE_META);
    if (CHECK_PTR(meta)) {
        facs_ctx_begin_step(meta);
        facs_tensor *big = facs_ctx_tensor(meta, FACS_F32, 1, 1 << 30, 1, 1);
        CHECK(big && facs_concat(meta, 2, (facs_tensor *const[]){big, big}) == NULL &&
                  strstr(facs_last_error(), "too many"),
              "2^31 channels are refused (got \"%s\")", facs_last_error());
        facs_ctx_free(meta);
    }
}

static void torch_parity(facs_ctx *ctx, h5_file *ref)
{
    char name[64], path[96];
    int cases = 0;
    for (int k = 0;; k++) {
        snprintf(name, sizeof name, "/case%d", k);
        if (!h5_exists(ref, name))
            break;
        int count = (int)h5_attr_int(ref, name, "count", 0);
        if (!CHECK(count >= 1 && count <= MAX_INPUTS, "%s: bad input count %d", name, count))
            continue;
        float *xs[MAX_INPUTS];
        int wants[MAX_INPUTS];
        facs_tensor *ts[MAX_INPUTS];
        size_t dims[MAX_INPUTS][8], counts[MAX_INPUTS], ny;
        int rank;
        test_poison_step(ctx);
        for (int i = 0; i < count; i++) {
            char attr[32];
            snprintf(attr, sizeof attr, "requires_grad%d", i);
            wants[i] = (int)h5_attr_int(ref, name, attr, 0);
            snprintf(path, sizeof path, "%s/x%d", name, i);
            xs[i] = h5_read_f32(ref, path, &rank, dims[i]);
            if (!xs[i] || rank != 4) {
                fprintf(stderr, "%s is missing or not 4-D\n", path);
                exit(2);
            }
            counts[i] = dims[i][0] * dims[i][1] * dims[i][2] * dims[i][3];
            ts[i] = test_tensor(ctx, (int)dims[i][0], (int)dims[i][1], (int)dims[i][2], (int)dims[i][3], xs[i]);
            ts[i]->requires_grad = wants[i] != 0;
        }
        snprintf(path, sizeof path, "%s/y", name);
        float *y = test_ref(ref, path, &ny);
        snprintf(path, sizeof path, "%s/dy", name);
        float *dy = test_ref(ref, path, NULL);
        facs_tensor *ty = facs_concat(ctx, count, ts);
        if (CHECK_PTR(ty) &&
            CHECK_OK(facs_backward(ctx, ty, test_tensor(ctx, ty->n, ty->c, ty->h, ty->w, dy)))) {
            char what[128];
            float *got_y = test_nchw(ty);
            snprintf(what, sizeof what, "%s (%d inputs) forward vs torch", name, count);
            test_close_f(what, got_y, y, ny, COPY_TOL);
            free(got_y);
            for (int i = 0; i < count; i++) {
                if (!wants[i]) {
                    CHECK(ts[i]->grad == NULL, "%s: input %d got a gradient it did not ask for", name, i);
                    continue;
                }
                snprintf(path, sizeof path, "%s/dx%d", name, i);
                float *dx = test_ref(ref, path, NULL);
                float *got_dx = test_grad_nchw(ts[i]);
                snprintf(what, sizeof what, "%s input %d dx vs torch", name, i);
                test_close_f(what, got_dx, dx, counts[i], COPY_TOL);
                free(dx), free(got_dx);
            }
        }
        for (int i = 0; i < count; i++)
            free(xs[i]);
        free(y), free(dy);
        cases++;
    }
    CHECK(cases >= 7, "expected at least 7 reference cases, found %d", cases);
}

int main(int argc, char **argv)
{
    h5_file *ref = test_open_ref(argc, argv);
    test_seed_from_env();
    facs_ctx *ctx = facs_ctx_create(FACS_DEVICE_CPU);
    gradcheck(ctx, 1, 2, 3, 3, (const int[]){3, 512, 5}, (const int[]){1, 1, 1});
    gradcheck(ctx, 2, 5, 6, 5, (const int[]){3, 5, 4, 2, 7}, (const int[]){1, 0, 1, 0, 0});
    gradcheck(ctx, 2, 4, 3, 4, (const int[]){1, 2, 3, 4}, (const int[]){0, 0, 0, 1});
    duplicate_input(ctx);
    bad_arguments(ctx);
    torch_parity(ctx, ref);
    facs_ctx_free(ctx);
    h5_close(ref);
    return test_finish();
}
