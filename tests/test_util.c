#include "test_util.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "flops.h"

static int checks_passed, checks_failed;

int test_check(int cond, const char *fmt, ...)
{
    if (cond) {
        checks_passed++;
        return 1;
    }
    checks_failed++;
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "FAIL: ");
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n");
    va_end(ap);
    return 0;
}

int test_finish(void)
{
    printf("%d passed, %d failed\n", checks_passed, checks_failed);
    return checks_failed == 0 && checks_passed > 0 ? 0 : 1;
}

static double rel_err(const float *got, const float *want_f, const double *want_d, size_t n)
{
    double num = 0.0, den = 1e-30;
    for (size_t i = 0; i < n; i++) {
        double g = got[i], w = want_f ? want_f[i] : want_d[i];
        if (!isfinite(g) || !isfinite(w))
            return INFINITY;
        double d = fabs(g - w);
        if (d > num)
            num = d;
        if (fabs(w) > den)
            den = fabs(w);
    }
    return num / den;
}

double test_rel_err_f(const float *got, const float *want, size_t n) { return rel_err(got, want, NULL, n); }
double test_rel_err_d(const float *got, const double *want, size_t n) { return rel_err(got, NULL, want, n); }

int test_close_f(const char *what, const float *got, const float *want, size_t n, double tol)
{
    double e = test_rel_err_f(got, want, n);
    return test_check(e <= tol, "%s: relative error %.3g > %.3g (%zu values)", what, e, tol, n);
}

int test_close_d(const char *what, const float *got, const double *want, size_t n, double tol)
{
    double e = test_rel_err_d(got, want, n);
    return test_check(e <= tol, "%s: relative error %.3g > %.3g (%zu values)", what, e, tol, n);
}

static uint64_t rng_state = 0x853c49e6748fea9bULL;

void test_seed_from_env(void)
{
    const char *env = getenv("FACS_TEST_SEED");
    uint64_t seed = env ? strtoull(env, NULL, 10) : (uint64_t)time(NULL);
    printf("seed %llu (set FACS_TEST_SEED to replay)\n", (unsigned long long)seed);
    rng_state = seed * 0x9e3779b97f4a7c15ULL + 1;
}

double test_uniform(double lo, double hi)
{
    /* xorshift64*: plenty for test inputs. */
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    uint64_t r = rng_state * 0x2545f4914f6cdd1dULL;
    return lo + (hi - lo) * ((double)(r >> 11) / 9007199254740992.0);
}

void test_fill(float *x, size_t n, double lo, double hi)
{
    for (size_t i = 0; i < n; i++)
        x[i] = (float)test_uniform(lo, hi);
}

float *test_alloc(size_t n)
{
    float *p = calloc(n ? n : 1, sizeof *p);
    if (!p) {
        fprintf(stderr, "out of memory\n");
        exit(2);
    }
    return p;
}

double *test_to_double(const float *x, size_t n)
{
    double *d = malloc((n ? n : 1) * sizeof *d);
    if (!d) {
        fprintf(stderr, "out of memory\n");
        exit(2);
    }
    for (size_t i = 0; i < n; i++)
        d[i] = x[i];
    return d;
}

void test_poison_step(facs_ctx *ctx)
{
    facs_ctx_begin_step(ctx);
    facs_tensor *t = facs_ctx_tensor(ctx, FACS_F32, 1, 1, 1, 1 << 20);
    if (t)
        for (size_t i = 0; i < facs_tensor_numel(t); i++)
            facs_f32(t)[i] = NAN;
    facs_ctx_begin_step(ctx);
}

facs_tensor *test_tensor(facs_ctx *ctx, int n, int c, int h, int w, const float *nchw)
{
    facs_tensor *t = facs_ctx_tensor(ctx, FACS_F32, n, c, h, w);
    if (t && nchw && facs_tensor_from_nchw(t, nchw, facs_tensor_numel(t)) != FACS_OK)
        return NULL;
    return t;
}

facs_tensor *test_param(int n, int c, int h, int w, const float *nchw)
{
    facs_tensor *t = facs_tensor_create(FACS_DEVICE_CPU, FACS_F32, n, c, h, w);
    if (!t)
        return NULL;
    t->is_param = 1;
    t->requires_grad = 1;
    if (nchw && facs_tensor_from_nchw(t, nchw, facs_tensor_numel(t)) != FACS_OK) {
        facs_tensor_free(t);
        return NULL;
    }
    return t;
}

float *test_nchw(const facs_tensor *t)
{
    float *out = test_alloc(facs_tensor_numel(t));
    if (facs_tensor_to_nchw(t, out, facs_tensor_numel(t)) != FACS_OK)
        fprintf(stderr, "test_nchw: %s\n", facs_last_error());
    return out;
}

float *test_grad_nchw(const facs_tensor *t)
{
    if (!t->grad) {
        test_check(0, "expected a gradient, found none");
        return test_alloc(facs_tensor_numel(t));
    }
    return test_nchw(t->grad);
}

double test_dot(const double *a, const double *b, size_t n)
{
    double s = 0.0;
    for (size_t i = 0; i < n; i++)
        s += a[i] * b[i];
    return s;
}

h5_file *test_open_ref(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: %s REFERENCE.h5 (written by tests/ref/)\n", argv[0]);
        exit(2);
    }
    h5_file *f = h5_open(argv[1]);
    if (!f)
        exit(2);
    return f;
}

float *test_ref(h5_file *f, const char *name, size_t *count)
{
    int rank;
    size_t dims[8];
    float *data = h5_read_f32(f, name, &rank, dims);
    if (!data) {
        fprintf(stderr, "reference dataset %s is missing\n", name);
        exit(2);
    }
    size_t c = 1;
    for (int i = 0; i < rank; i++)
        c *= dims[i];
    if (count)
        *count = c;
    return data;
}

static float *case_tensor(h5_file *ref, const char *group, const char *name, size_t dims[8])
{
    char path[160];
    int rank = 0;
    snprintf(path, sizeof path, "%s/%s", group, name);
    float *data = h5_read_f32(ref, path, &rank, dims);
    if (!test_check(data && rank == 4, "%s must be a 4-D dataset", path)) {
        free(data);
        return NULL;
    }
    return data;
}

int test_each_case(facs_ctx *ctx, h5_file *ref, test_case_fn fn, void *user)
{
    int cases = 0;
    for (;; cases++) {
        char group[32];
        snprintf(group, sizeof group, "/case%d", cases);
        if (!h5_exists(ref, group))
            break;
        fn(ctx, ref, group, user);
    }
    test_check(cases > 0, "no PyTorch cases in the reference file");
    return cases;
}

typedef struct {
    test_unary_fn run;
    double tol;
} unary_parity;

static void unary_case(facs_ctx *ctx, h5_file *ref, const char *group, void *user)
{
    const unary_parity *u = user;
    size_t xd[8], yd[8], dyd[8], dxd[8];
    float *x = case_tensor(ref, group, "x", xd), *y = case_tensor(ref, group, "y", yd);
    float *dy = case_tensor(ref, group, "dy", dyd), *dx = case_tensor(ref, group, "dx", dxd);
    if (x && y && dy && dx) {
        int n = (int)xd[0], c = (int)xd[1], oh = (int)yd[2], ow = (int)yd[3];
        test_poison_step(ctx);
        facs_tensor *tx = test_tensor(ctx, n, c, (int)xd[2], (int)xd[3], x);
        tx->requires_grad = 1;
        facs_tensor *ty = u->run(ctx, tx, ref, group, oh, ow);
        char what[160];
        snprintf(what, sizeof what, "%s (%d,%d,%zu,%zu) -> %dx%d", group, n, c, xd[2], xd[3], oh, ow);
        if (test_check(ty != NULL, "%s: %s", what, facs_last_error()) &&
            test_check(ty->n == n && ty->c == (int)yd[1] && ty->h == oh && ty->w == ow, "%s: output %dx%d", what,
                       ty->h, ty->w) &&
            test_check(facs_backward(ctx, ty, test_tensor(ctx, n, ty->c, oh, ow, dy)) == FACS_OK, "%s backward: %s",
                       what, facs_last_error())) {
            float *got_y = test_nchw(ty), *got_dx = test_grad_nchw(tx);
            char label[200];
            snprintf(label, sizeof label, "%s forward vs torch", what);
            test_close_f(label, got_y, y, facs_tensor_numel(ty), u->tol);
            snprintf(label, sizeof label, "%s dx vs torch", what);
            test_close_f(label, got_dx, dx, facs_tensor_numel(tx), u->tol);
            free(got_y), free(got_dx);
        }
    }
    free(x), free(y), free(dy), free(dx);
}

int test_unary_torch_parity(facs_ctx *ctx, h5_file *ref, test_unary_fn run, double tol)
{
    unary_parity u = {run, tol};
    return test_each_case(ctx, ref, unary_case, &u);
}

void test_h5_key(char *out, size_t size, const char *prefix, const char *name)
{
    snprintf(out, size, "%s/%s", prefix, name);
    for (char *c = out + strlen(prefix) + 1; *c; c++)
        if (*c == '.')
            *c = '/';
}

float *test_ref_in(h5_file *f, const char *group, const char *name, size_t *count)
{
    char path[160];
    snprintf(path, sizeof path, "%s/%s", group, name);
    return test_ref(f, path, count);
}

void test_close_ref(h5_file *f, const char *group, const char *name, const char *what, const float *got,
                    double tol)
{
    size_t count;
    float *want = test_ref_in(f, group, name, &count);
    char label[200];
    snprintf(label, sizeof label, "%s %s vs torch", group, what);
    test_close_f(label, got, want, count, tol);
    free(want);
}

static void record_profiled_op(void *user, const char *op, const facs_tensor *const *inputs, int n_inputs,
                               const facs_tensor *out, const facs_tensor *weight)
{
    (void)weight;
    test_profile *rec = user;
    if (strcmp(op, rec->op) != 0)
        return;
    rec->calls++;
    rec->flops[0] = facs_flops_of_op(FACS_FLOPS_PTFLOPS, op, inputs, n_inputs, out);
    rec->flops[1] = facs_flops_of_op(FACS_FLOPS_APPENDIX_A, op, inputs, n_inputs, out);
}

void test_profile_begin(facs_ctx *ctx, test_profile *rec, const char *op)
{
    *rec = (test_profile){op, 0, {-1, -1}};
    ctx->profile = record_profiled_op;
    ctx->profile_user = rec;
    facs_ctx_begin_step(ctx);
}

void test_profile_check(facs_ctx *ctx, const test_profile *rec, const facs_tensor *y, int64_t want_ptflops,
                        int64_t want_appendix_a)
{
    ctx->profile = NULL;
    ctx->profile_user = NULL;
    CHECK(y && rec->calls == 1, "%s calls the profiling hook once (%d calls)", rec->op, rec->calls);
    CHECK(rec->flops[0] == want_ptflops && rec->flops[1] == want_appendix_a,
          "%s FLOPs: ptflops %lld (expected %lld), appendix-a %lld (expected %lld)", rec->op,
          (long long)rec->flops[0], (long long)want_ptflops, (long long)rec->flops[1], (long long)want_appendix_a);
}

uint8_t *test_read_file(const char *path, size_t *len)
{
    *len = 0;
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long size = ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *buf = size >= 0 ? malloc((size_t)size + 1) : NULL;
    if (buf)
        *len = fread(buf, 1, (size_t)size, f);
    fclose(f);
    return buf;
}

void test_write_file(const char *path, const void *data, size_t len)
{
    FILE *f = fopen(path, "wb");
    if (f) {
        fwrite(data, 1, len, f);
        fclose(f);
    }
}

/* PIL arrays hold uint8 values, which h5_read_i32 widens. */
facs_image test_image_from_ref(h5_file *f, const char *name)
{
    int rank;
    size_t d[8];
    int *v = h5_read_i32(f, name, &rank, d);
    facs_image img = {0};
    if (!CHECK(v != NULL && rank == 3, "%s: missing or not (H, W, C)", name)) {
        free(v);
        return img;
    }
    size_t n = d[0] * d[1] * d[2];
    img = (facs_image){(int)d[1], (int)d[0], (int)d[2], malloc(n)};
    for (size_t i = 0; i < n; i++)
        img.pixels[i] = (uint8_t)v[i];
    free(v);
    return img;
}

int test_same_image(const char *what, const facs_image *got, const facs_image *want)
{
    if (!test_check(got->height == want->height && got->width == want->width && got->channels == want->channels,
                    "%s: %dx%dx%d, expected %dx%dx%d", what, got->height, got->width, got->channels, want->height,
                    want->width, want->channels))
        return 0;
    size_t n = (size_t)got->height * got->width * got->channels, wrong = 0;
    for (size_t i = 0; i < n; i++)
        wrong += got->pixels[i] != want->pixels[i];
    return test_check(wrong == 0, "%s: %zu of %zu bytes differ", what, wrong, n);
}

int test_image_pair_from_ref(h5_file *f, const char *group, facs_image *x, facs_image *y)
{
    char name[256];
    snprintf(name, sizeof name, "%s/x", group);
    *x = test_image_from_ref(f, name);
    snprintf(name, sizeof name, "%s/y", group);
    *y = test_image_from_ref(f, name);
    return x->pixels && y->pixels;
}

/* Random statistics and affine terms for every BN (a prefix with a
 * running_mean), so folding has something to fold. */
void test_randomize_bn(facs_param_list *params)
{
    static const struct {
        const char *suffix;
        double lo, hi;
    } terms[] = {{"weight", 0.5, 1.5}, {"bias", -0.3, 0.3}, {"running_mean", -0.3, 0.3}, {"running_var", 0.3, 2.0}};
    for (int i = 0; i < params->count; i++) {
        const char *name = params->items[i]->name, *end = strstr(name, ".running_mean");
        if (!end || end[strlen(".running_mean")])
            continue;
        for (int t = 0; t < 4; t++) {
            char key[256];
            snprintf(key, sizeof key, "%.*s.%s", (int)(end - name), name, terms[t].suffix);
            facs_param *p = facs_param_list_find(params, key);
            if (CHECK(p != NULL, "%s: no %s", name, key)) {
                test_fill(facs_f32(p->value), facs_tensor_numel(p->value), terms[t].lo, terms[t].hi);
                facs_tensor_touch(p->value);
            }
        }
    }
}
