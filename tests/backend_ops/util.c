/* Helpers of test_backend_ops: the data generator, problem declarations, the
 * backend entries by name, reporting and the error metric. */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"

#define MAX_DETAILS 8 /* detail lines per case and backend */

/* ---- Random numbers ----------------------------------------------------- */

static uint64_t rng_state;

static uint64_t next_u64(void)
{
    uint64_t z = (rng_state += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

void bo_seed_case(uint64_t seed, size_t index) { rng_state = seed ^ (0xd1b54a32d192ed03ULL * (index + 1)); }

double bo_uniform(double lo, double hi) { return lo + (hi - lo) * (double)(next_u64() >> 11) * 0x1.0p-53; }

void bo_fill(float *x, size_t count, double lo, double hi)
{
    for (size_t i = 0; i < count; i++)
        x[i] = (float)bo_uniform(lo, hi);
}

void bo_fill_distinct(float *x, size_t count, double lo, double hi)
{
    size_t *perm = bo_xmalloc(count * sizeof *perm);
    for (size_t i = 0; i < count; i++)
        perm[i] = i;
    for (size_t i = count; i > 1; i--) {
        size_t j = (size_t)(next_u64() % i), t = perm[i - 1];
        perm[i - 1] = perm[j];
        perm[j] = t;
    }
    for (size_t i = 0; i < count; i++)
        x[i] = (float)(lo + (hi - lo) * ((double)perm[i] + 0.5) / (double)count);
    free(perm);
}

void *bo_xmalloc(size_t bytes)
{
    void *p = calloc(1, bytes ? bytes : 1);
    if (!p) {
        fprintf(stderr, "test_backend_ops: out of host memory (%zu bytes)\n", bytes);
        exit(1);
    }
    return p;
}

float *bo_floats(size_t count) { return bo_xmalloc(count * sizeof(float)); }

facs_status bo_wrapped(const facs_tensor *y)
{
    if (y)
        return FACS_OK;
    facs_status s = facs_last_status();
    return s != FACS_OK ? s : facs_fail(FACS_ERR_BACKEND, "the op returned no output");
}

/* ---- Problems ----------------------------------------------------------- */

bo_tensor *bo_declare(bo_problem *pb, int index, const char *name, bo_role role, int n, int c, int h, int w)
{
    if (index >= pb->count)
        pb->count = index + 1;
    bo_tensor *t = &pb->t[index];
    *t = (bo_tensor){.name = name, .role = role, .n = n, .c = c, .h = h, .w = w, .dtype = FACS_F32, .of = -1};
    return t;
}

bo_tensor *bo_declare_like(bo_problem *pb, int index, const char *name, bo_role role, int of)
{
    const bo_tensor *src = &pb->t[of];
    bo_tensor *t = bo_declare(pb, index, name, role, src->n, src->c, src->h, src->w);
    t->of = of;
    t->absent = src->absent;
    return t;
}

size_t bo_numel(const bo_tensor *t) { return (size_t)t->n * t->c * t->h * t->w; }

/* ---- Backend entries by name -------------------------------------------- */

#define ENTRY(f) {#f, offsetof(facs_backend, f)}
static const struct {
    const char *name;
    size_t offset;
} entry_table[] = {
    ENTRY(alloc),
    ENTRY(free),
    ENTRY(copy_from_host),
    ENTRY(copy_to_host),
    ENTRY(copy),
    ENTRY(fill_zero),
    ENTRY(axpy),
    ENTRY(sync),
    ENTRY(host_alloc),
    ENTRY(host_free),
    ENTRY(copy_from_host_async),
    ENTRY(count_non_finite),
    ENTRY(sgd_update),
    ENTRY(conv2d_forward),
    ENTRY(conv2d_backward),
    ENTRY(batchnorm_forward),
    ENTRY(batchnorm_backward),
    ENTRY(activation_forward),
    ENTRY(activation_backward),
    ENTRY(add_forward),
    ENTRY(maxpool2d_forward),
    ENTRY(maxpool2d_backward),
    ENTRY(avgpool2d_forward),
    ENTRY(avgpool2d_backward),
    ENTRY(adaptive_avgpool2d_forward),
    ENTRY(adaptive_avgpool2d_backward),
    ENTRY(resize_bilinear_forward),
    ENTRY(resize_bilinear_backward),
    ENTRY(concat_forward),
    ENTRY(concat_backward),
    ENTRY(dropout2d_forward),
    ENTRY(dropout2d_backward),
    ENTRY(linear_forward),
    ENTRY(linear_backward),
    ENTRY(softmax_ce_forward),
    ENTRY(softmax_ce_backward),
    ENTRY(scale_channels_forward),
    ENTRY(scale_channels_backward),
    ENTRY(channel_pool_forward),
    ENTRY(channel_pool_backward),
    ENTRY(facs_forward),
    ENTRY(facs_backward),
};
#undef ENTRY

int bo_entry_index(const char *name, size_t len)
{
    for (size_t i = 0; i < sizeof entry_table / sizeof entry_table[0]; i++)
        if (strlen(entry_table[i].name) == len && !strncmp(entry_table[i].name, name, len))
            return (int)i;
    return -1;
}

int bo_entry_present_n(const facs_backend *be, const char *name, size_t len)
{
    int i = bo_entry_index(name, len);
    if (i < 0)
        return 0;
    void (*fn)(void);
    memcpy(&fn, (const char *)be + entry_table[i].offset, sizeof fn);
    return fn != NULL;
}

int bo_each_word(const char *list, int (*fn)(const char *word, size_t len, const void *user), const void *user)
{
    for (const char *p = list; p && *p;) {
        while (*p == ' ')
            p++;
        size_t len = strcspn(p, " ");
        if (len && !fn(p, len, user))
            return 0;
        p += len;
    }
    return 1;
}

int bo_word_in(const char *word, size_t len, const void *list)
{
    for (const char *p = list; p && *p;) {
        while (*p == ' ')
            p++;
        size_t l = strcspn(p, " ");
        if (l == len && !strncmp(p, word, len))
            return 1;
        p += l;
    }
    return 0;
}

/* ---- Reporting ---------------------------------------------------------- */

int bo_passed, bo_failed, bo_skipped;
int bo_run_failed;
static int run_details; /* the current (case, backend)'s detail lines */
const char *bo_run_backend_name = "";

void bo_run_begin(const char *backend)
{
    bo_run_failed = 0;
    run_details = 0;
    bo_run_backend_name = backend;
}

int bo_check(int cond, const char *fmt, ...)
{
    if (cond)
        return 1;
    bo_run_failed = 1;
    if (run_details++ < MAX_DETAILS) {
        va_list ap;
        va_start(ap, fmt);
        printf("    %s: ", bo_run_backend_name);
        vprintf(fmt, ap);
        putchar('\n');
        va_end(ap);
    } else if (run_details == MAX_DETAILS + 1) {
        printf("    %s: (more failures of this case not shown)\n", bo_run_backend_name);
    }
    return 0;
}

int bo_check_ok(facs_status s, const char *what, const char *tensor)
{
    return bo_check(s == FACS_OK, "%s%s%s failed: %s", what, tensor ? " of " : "", tensor ? tensor : "",
                    facs_last_error());
}

void bo_run_end(const char *label, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    printf("%-52s %-4s ", label, bo_run_backend_name);
    vprintf(fmt, ap);
    printf(" %s\n", bo_run_failed ? "FAIL" : "ok");
    va_end(ap);
    fflush(stdout);
    if (bo_run_failed)
        bo_failed++;
    else
        bo_passed++;
}

/* ---- Errors ------------------------------------------------------------- */

static int both_nan_ok(int nan_ok, double got, double want) { return nan_ok && isnan(got) && isnan(want); }

/* Max-norm relative error of got against want_d (double) or, when that is
 * NULL, want_f (float). */
static double rel_err(const float *got, const double *want_d, const float *want_f, size_t count, int nan_ok)
{
    double diff = 0.0, scale = 1e-30;
    for (size_t i = 0; i < count; i++) {
        double want = want_d ? want_d[i] : (double)want_f[i];
        if (both_nan_ok(nan_ok, got[i], want))
            continue;
        if (!isfinite(got[i]) || !isfinite(want))
            return INFINITY;
        diff = fmax(diff, fabs((double)got[i] - want));
        scale = fmax(scale, fabs(want));
    }
    return diff / scale;
}

double bo_rel_err_d(const float *got, const double *want, size_t count, int nan_ok)
{
    return rel_err(got, want, NULL, count, nan_ok);
}

double bo_rel_err_f(const float *got, const float *want, size_t count, int nan_ok)
{
    return rel_err(got, NULL, want, count, nan_ok);
}
