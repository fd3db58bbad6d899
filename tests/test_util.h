/* The test harness: checks that count and report, random inputs, tensors
 * from host arrays, finite differences in double precision, and comparison
 * against PyTorch reference files (h5_io.h).
 *
 * Every test program ends with `return test_finish();`, which prints the
 * closing line "N passed, N failed" and exits non-zero on any failure.
 *
 * Error metric (all comparisons): max_i |got_i - want_i| / max(max_i |want_i|, 1e-30),
 * the normwise relative error; any NaN or Inf in got makes it infinite, so a
 * NaN never passes. */
#ifndef FACS_TEST_UTIL_H
#define FACS_TEST_UTIL_H

#include <stddef.h>
#include <stdint.h>

#include "fd_gradient.h" /* test_fd_gradient: central differences of a scalar function */
#include "h5_io.h"
#include "image.h"
#include "ops.h"
#include "param.h"

/* Records one check; prints the message on failure. Returns cond. */
int test_check(int cond, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
#define CHECK(cond, ...) test_check((cond), __VA_ARGS__)
/* A facs call that must succeed: prints facs_last_error() otherwise. */
#define CHECK_OK(expr) test_check((expr) == FACS_OK, "%s failed: %s", #expr, facs_last_error())
#define CHECK_PTR(expr) test_check((expr) != NULL, "%s failed: %s", #expr, facs_last_error())

int test_finish(void);

/* The bytes of the file at path (malloc'd, NULL when unreadable), their count in *len. */
uint8_t *test_read_file(const char *path, size_t *len);
/* Writes len bytes of data to path (errors ignored: the caller's checks see them). */
void test_write_file(const char *path, const void *data, size_t len);

double test_rel_err_f(const float *got, const float *want, size_t n);
double test_rel_err_d(const float *got, const double *want, size_t n);
/* Check that got matches want within tol (relative error as above). */
int test_close_f(const char *what, const float *got, const float *want, size_t n, double tol);
int test_close_d(const char *what, const float *got, const double *want, size_t n, double tol);

/* Deterministic generator for test inputs; the seed comes from FACS_TEST_SEED
 * or the clock, and is printed so a failure can be replayed. */
void test_seed_from_env(void);
double test_uniform(double lo, double hi);
void test_fill(float *x, size_t n, double lo, double hi);

/* Heap host copies. */
float *test_alloc(size_t n);
double *test_to_double(const float *x, size_t n);

/* Begins a step whose arena memory is NaN-filled (its first 4 MiB), so an
 * output or gradient that a kernel fails to write shows up as NaN. */
void test_poison_step(facs_ctx *ctx);

/* An arena tensor holding host NCHW data (NULL data leaves it uninitialised). */
facs_tensor *test_tensor(facs_ctx *ctx, int n, int c, int h, int w, const float *nchw);
/* A heap parameter (is_param, requires_grad) holding NCHW/OIHW data. */
facs_tensor *test_param(int n, int c, int h, int w, const float *nchw);
/* A malloc'd NCHW host copy of t (and of t->grad with test_grad_nchw). */
float *test_nchw(const facs_tensor *t);
float *test_grad_nchw(const facs_tensor *t);

/* sum_i a_i * b_i in double: the loss whose gradient w.r.t. a is b. */
double test_dot(const double *a, const double *b, size_t n);

/* Opens argv[1], the reference file written by tests/ref/ref_<name>.py. */
h5_file *test_open_ref(int argc, char **argv);
/* Reads a reference dataset that must exist, with its element count. */
float *test_ref(h5_file *f, const char *name, size_t *count);

/* Calls fn for every group /case<k> of ref (k = 0, 1, ... while it exists);
 * fails a check when there is none. Returns the number of cases. */
typedef void (*test_case_fn)(facs_ctx *ctx, h5_file *ref, const char *group, void *user);
int test_each_case(facs_ctx *ctx, h5_file *ref, test_case_fn fn, void *user);

/* PyTorch parity of a single-input op. Every group /case<k> of ref holds x, y,
 * dy and dx (NCHW) and the op's options as attributes; run applies the op to x
 * (reading its options from the group; out_h and out_w are y's size, for ops
 * that take an output size). Checks y's shape, runs backward from dy and
 * compares y and dx within tol. Returns the number of cases. */
typedef facs_tensor *(*test_unary_fn)(facs_ctx *ctx, facs_tensor *x, h5_file *ref, const char *group, int out_h,
                                      int out_w);
int test_unary_torch_parity(facs_ctx *ctx, h5_file *ref, test_unary_fn run, double tol);

/* What one op reports to the profiling hook that facs-summary counts FLOPs
 * with (ctx->profile): the calls of op and the FLOPs (flops.h) of its last
 * call under each convention. */
typedef struct {
    const char *op;
    int calls;
    int64_t flops[2]; /* ptflops, appendix-a; -1 until op is called */
} test_profile;
/* Hooks rec to ctx for op and begins a step; run op once after it. */
void test_profile_begin(facs_ctx *ctx, test_profile *rec, const char *op);
/* Unhooks rec and checks that y exists, op called the hook once and its
 * FLOPs are want_ptflops and want_appendix_a. */
void test_profile_check(facs_ctx *ctx, const test_profile *rec, const facs_tensor *y, int64_t want_ptflops,
                        int64_t want_appendix_a);

/* The dataset path of a state_dict key under prefix: "/init" and "fc.weight"
 * give "/init/fc/weight". */
void test_h5_key(char *out, size_t size, const char *prefix, const char *name);

/* test_ref of group/name (e.g. "/case3" and "dx"). */
/* An (H, W, C) uint8 reference array (a PIL image) as an image; {0} after a failed check. */
facs_image test_image_from_ref(h5_file *f, const char *name);
/* group/x and group/y as images (a PIL input and output); 1 when both loaded. */
int test_image_pair_from_ref(h5_file *f, const char *group, facs_image *x, facs_image *y);
/* Checks got == want byte for byte (sizes too); what names the case. */
int test_same_image(const char *what, const facs_image *got, const facs_image *want);

float *test_ref_in(h5_file *f, const char *group, const char *name, size_t *count);
/* Compares got with the reference group/name within tol, labelled
 * "<group> <what> vs torch". */
void test_close_ref(h5_file *f, const char *group, const char *name, const char *what, const float *got,
                    double tol);

/* Random running statistics and affine terms for every BatchNorm of params
 * (each prefix with a running_mean), so eval mode and folding have something
 * to get wrong. */
void test_randomize_bn(facs_param_list *params);

#endif
