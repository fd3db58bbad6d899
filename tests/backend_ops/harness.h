/* The internals shared by the parts of test_backend_ops. Each case of the
 * table runs on every backend through its entries, on tensors that live inside larger device
 * buffers, and applies the checks every op shares:
 *
 *   guards     every tensor sits GUARD_BYTES into a buffer whose margins hold a
 *              sentinel pattern; after every call the margins must be intact;
 *   unwritten  outputs and activation gradients start as NaN (all bits set);
 *              an element still holding that pattern was never written;
 *   write rule activation gradients must not depend on their initial contents
 *              (=), parameter gradients must land on their starting values (+=);
 *   NULL       backward with each gradient pointer NULL, with each alone not
 *              NULL, and with all of them NULL must succeed, leave the unwanted
 *              ones untouched and give the wanted ones the full backward's bits;
 *   reruns     the same call on the same data reproduces every bit;
 *   inputs     no call may change what it only reads;
 *   tape       the op through its ops.h wrapper and facs_backward_many gives
 *              the entries' results bit for bit (tape.c);
 *   accuracy   the CPU against the family's double forward and central finite
 *              differences of it; every other backend against the CPU.
 *
 * Once per backend, outside the table (backend_checks.c): a failed allocation
 * and copies of odd byte counts at odd addresses.
 *
 * Error metric everywhere (as tests/test_util.h): the normwise relative error
 * max_i |got_i - want_i| / max_i |want_i|, infinite for a NaN or Inf where the
 * reference has none. */
#ifndef FACS_BOPS_HARNESS_H
#define FACS_BOPS_HARNESS_H

#include "bops.h"

static inline int bo_is_grad(bo_role r) { return r == BO_DX || r == BO_DPARAM; }
static inline int bo_is_fwd_result(bo_role r) { return r == BO_OUT || r == BO_STATE; }

/* One case as the harness runs it: its problem and resolved tolerances. */
typedef struct {
    const bo_case *k;
    const bo_family *f;
    bo_problem pb;
    int backward;
    char label[192];
    double tol_fwd, tol_fd, tol_xb;
} case_ctx;

/* What a backend produced: forward results of BO_OUT and BO_STATE; BO_DX after
 * backward; BO_DPARAM's gradient alone (from zero) in val and its value after
 * accumulating onto the drawn start in acc. ok: every call ran and the
 * results are complete (the checks may still have failed). */
typedef struct {
    float *val[BO_MAX_TENSORS];
    float *acc[BO_MAX_TENSORS];
    int64_t valid;
    int ok;
} bo_result;

/* Every tensor of a problem in double, and the reference's valid count. */
typedef struct {
    double *v[BO_MAX_TENSORS];
    int64_t valid;
} ref_state;

/* ---- util.c ---- */

void bo_seed_case(uint64_t seed, size_t index);
float *bo_floats(size_t count);
/* The index of the backend entry named by name[0, len) in util.c's table
 * (-1: no such entry), and whether be sets it. */
int bo_entry_index(const char *name, size_t len);
int bo_entry_present_n(const facs_backend *be, const char *name, size_t len);
/* Calls fn for every word of a space-separated list; stops at the first 0. */
int bo_each_word(const char *list, int (*fn)(const char *word, size_t len, const void *user), const void *user);
int bo_word_in(const char *word, size_t len, const void *list);

/* The run of one case on one backend: bo_check records a failed check with a
 * detail line; bo_run_end prints the case's line and counts it. */
extern int bo_passed, bo_failed, bo_skipped;
extern int bo_run_failed;
extern const char *bo_run_backend_name;
void bo_run_begin(const char *backend);
int bo_check(int cond, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* A call that must succeed; tensor names what it was about, or NULL. */
int bo_check_ok(facs_status s, const char *what, const char *tensor);
void bo_run_end(const char *label, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* The normwise relative error; nan_ok: NaN where want is NaN counts as equal. */
double bo_rel_err_d(const float *got, const double *want, size_t count, int nan_ok);
double bo_rel_err_f(const float *got, const float *want, size_t count, int nan_ok);

/* ---- device_run.c ---- */

void bo_result_alloc(const bo_problem *pb, bo_result *r);
void bo_result_free(bo_result *r);
/* Every check that needs no other backend, on ctx's backend; the results into res. */
void bo_run_backend(const case_ctx *cc, facs_ctx *ctx, bo_result *res);

/* ---- tape.c ---- */

/* The tape check on ctx's backend, against that backend's results res. */
void bo_tape_check(const case_ctx *cc, facs_ctx *ctx, const bo_result *res);

/* ---- backend_checks.c ---- */

/* How many of the whole-backend checks op selects (bo_run_all's op). */
size_t bo_backend_checks_selected(const char *op);
/* Runs them on ctx's backend (named backend), printing a line each; alloc_names is what
 * a failed alloc's message names on it. */
void bo_run_backend_checks(const char *op, const char *backend, facs_ctx *ctx, const char *alloc_names);

/* ---- reference.c ---- */

void bo_ref_alloc(const bo_problem *pb, ref_state *rs);
void bo_ref_free(ref_state *rs);
void bo_ref_forward(const case_ctx *cc, ref_state *rs);
/* Central differences of L = sum(dy * y) for every gradient's input, into fd. */
void bo_finite_differences(const case_ctx *cc, ref_state *rs, double *const *fd);
/* The comparisons, each returning its worst error and failing checks over tolerance. */
double bo_cpu_vs_reference(const case_ctx *cc, const bo_result *res, const ref_state *ref);
double bo_cpu_vs_fd(const case_ctx *cc, const bo_result *res, double *const *fd);
double bo_vs_cpu(const case_ctx *cc, const bo_result *res, const bo_result *cpu);

#endif
