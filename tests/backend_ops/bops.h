/* test_backend_ops: one table of op cases run against every backend's entries
 * directly (in the manner of ggml's test-backend-ops). This header is what the
 * parts share: the description of a case's tensors (bo_problem), an op
 * family's hooks (bo_family), the case table (cases.c) and small helpers.
 *
 * Data flow of one case (harness.c, device_run.c, reference.c; harness.h
 * lists the checks): the family declares the tensors and draws their host
 * values (storage order, NHWC); every backend runs forward and backward on
 * guarded device copies; the CPU's results are checked against the family's
 * double-precision forward (outputs) and central finite differences of it
 * (gradients); every other backend's results against the CPU's. */
#ifndef FACS_BOPS_H
#define FACS_BOPS_H

#include <stddef.h>
#include <stdint.h>

#include "ops.h"

#define BO_MAX_TENSORS 16

/* What a tensor is to the op; decides its initial contents on the device and
 * the checks that apply to it. */
typedef enum {
    BO_IN,     /* read only: must hold its initial bits after every call */
    BO_STATE,  /* updated in place by forward (running statistics, axpy's y, post_sum's residual):
                  reset to its initial values before every forward */
    BO_OUT,    /* written by forward: starts as NaN, every element must be written */
    BO_DY,     /* read by backward: the gradient of output `of`, and the weights of the
                  projection L = sum(dy * y) whose finite differences check the gradients */
    BO_DX,     /* activation gradient of input `of`, written (=): starts as NaN */
    BO_DPARAM, /* parameter gradient of input `of`, accumulated (+=): starts at random values */
} bo_role;

typedef struct {
    const char *name;
    bo_role role;
    int n, c, h, w;
    facs_dtype dtype;
    int of;                /* BO_DY: its output; BO_DX, BO_DPARAM: their input */
    unsigned absent : 1; /* optional operand not given (no bias): the entry receives NULL */
    unsigned nan_ok : 1; /* may hold NaN where the reference does (an all-ignored loss) */
    unsigned exact : 1;  /* discrete values (dropout mask, copies): bit for bit everywhere */
    /* A gradient a backend may compute another way when another one is not
     * wanted: then within the cross-backend tolerance, not bit for bit. */
    unsigned alone_rounds : 1;
    void *host;            /* initial values, storage order (float, or int32 for FACS_I32) */
} bo_tensor;

typedef struct {
    int count;
    bo_tensor t[BO_MAX_TENSORS];
} bo_problem;

/* One call of a family's forward or backward: the device tensors (NULL where
 * absent or where a gradient is not wanted) and the scalar the softmax loss
 * hands from forward to backward. */
typedef struct {
    facs_ctx *ctx;
    const facs_backend *be;
    facs_tensor *t[BO_MAX_TENSORS];
    int64_t valid;
} bo_call;

/* ---- Per-family case parameters ---------------------------------------- */

typedef struct {
    int co, kh, kw, sh, sw, ph, pw, dh, dw, groups, bias;
    /* Inference post-ops: forward only. */
    int post_sum;
    facs_post_act post_act;
} bo_conv_args;

typedef struct {
    int training;
    float eps, momentum;
} bo_bn_args;

typedef struct {
    facs_activation act;
    int kinks; /* x holds the kinks themselves (0, 6): no finite differences */
} bo_act_args;

typedef struct {
    facs_post_act act; /* add's activation of the sum */
} bo_add_args;

typedef struct {
    int kh, kw, sh, sw, ph, pw, ceil_mode, count_include_pad;
    int ties; /* max pooling on values with ties: the first maximum must win everywhere */
} bo_pool_args;

typedef struct {
    int oh, ow;        /* output size (adaptive pooling, resize) */
    int align_corners; /* resize */
} bo_resize_args;

typedef struct {
    int count;
    int c[3]; /* each input's channels */
} bo_concat_args;

typedef struct {
    float prob;
    uint64_t seed;
    int batch_offset; /* ctx->batch_offset: the first sample's index in the whole batch */
} bo_dropout_args;

typedef struct {
    int out, bias;
} bo_linear_args;

typedef struct {
    int ignore_index;
    float smoothing;
    double ignore_frac; /* share of pixels labelled ignore_index (1: all of them) */
} bo_softmax_args;

typedef struct {
    facs_channel_pool_mode mode;
    int r;
} bo_cpool_args;

typedef struct {
    facs_fusion fusion;
    float threshold;
    int r, bias;
} bo_facs_args;

typedef struct {
    float alpha;     /* axpy */
    int byte_offset; /* fill_zero: zero bytes [offset, size - offset) of the tensor */
} bo_mem_args;

typedef struct {
    float lr, weight_decay, momentum, damp_keep;
    int nesterov, first;
} bo_sgd_args;

/* ---- Families and cases ------------------------------------------------- */

typedef struct bo_case bo_case;

typedef struct {
    const char *name;        /* the -o filter and the first word of a case's line */
    const char *fwd_entries; /* backend entries forward calls, space separated */
    const char *bwd_entries; /* and backward; NULL: the family has no backward */
    /* Defaults, each justified where the family defines it: the CPU's outputs
     * against the double reference, its gradients against finite differences
     * (step fd_eps), and the entries' fixed write rules (accumulation). */
    double tol_fwd, tol_fd, fd_eps;
    /* Declares the tensors (bo_declare); host memory comes from the harness. */
    void (*declare)(const bo_case *k, bo_problem *pb);
    /* Draws the inputs (BO_IN, BO_STATE; dy and the gradients' starting values
     * are already drawn). Returns 0 when no admissible draw was found. */
    int (*draw)(const bo_case *k, bo_problem *pb);
    /* Whether this case runs backward (NULL: whenever bwd_entries is set). */
    int (*has_backward)(const bo_case *k);
    facs_status (*forward)(const bo_case *k, const bo_problem *pb, bo_call *c);
    facs_status (*backward)(const bo_case *k, const bo_problem *pb, bo_call *c);
    /* The op in double: reads v[i] of the inputs and states, writes v[i] of the
     * outputs and states (v holds every tensor of pb, in double), and the
     * softmax loss's valid count. */
    void (*reference)(const bo_case *k, const bo_problem *pb, double *const *v, int64_t *valid);
    /* The gradients where finite differences cannot tell (no_fd cases): NULL
     * leaves the CPU's gradients to the other checks. g[i] for the gradient
     * tensors i. */
    void (*grad_reference)(const bo_case *k, const bo_problem *pb, double *const *g);
    void (*describe)(const bo_case *k, char *buf, size_t size);
    /* The op through its ops.h wrapper, for the tape check (tape.c): sets
     * c->t[i] of the outputs the wrapper returns (bo_wrapped gives the
     * status) from c->t[] of the inputs, states and parameters, which the
     * harness made as ops.h wants them. NULL: the family has no wrapper. */
    facs_status (*tape)(const bo_case *k, const bo_problem *pb, bo_call *c);
} bo_family;

struct bo_case {
    const bo_family *family;
    /* The backend entries the case calls, space separated: the coverage check
     * (tools/check_backend_ops_coverage.sh) reads them, and a backend with one
     * of them NULL fails the case as "missing". */
    const char *entries;
    int n, c, h, w; /* the main input's shape */
    double lo, hi;  /* the main input's range */
    int no_fd;      /* no finite differences: say why in the table */
    double tol_fwd, tol_fd, tol_xb; /* 0: the family's (tol_xb: 1e-5) */
    union {
        bo_conv_args conv;
        bo_bn_args bn;
        bo_act_args act;
        bo_add_args add;
        bo_pool_args pool;
        bo_resize_args rs;
        bo_concat_args cat;
        bo_dropout_args drop;
        bo_linear_args lin;
        bo_softmax_args ce;
        bo_cpool_args cp;
        bo_facs_args fa;
        bo_mem_args mem;
        bo_sgd_args sgd;
    };
};

/* The case tables: cases.c's, and cases_large.c's (sizes past the CUDA
 * kernels' tiles, too large for finite differences). */
extern const bo_case bo_cases[], bo_large_cases[];
extern const size_t bo_case_count, bo_large_case_count;

extern const bo_family bo_conv2d, bo_batchnorm, bo_activation, bo_add, bo_maxpool2d, bo_avgpool2d,
    bo_adaptive_avgpool2d, bo_resize_bilinear, bo_concat, bo_dropout2d, bo_linear, bo_softmax_ce,
    bo_scale_channels, bo_channel_pool, bo_facs, bo_axpy, bo_copy, bo_fill_zero, bo_memory, bo_count_non_finite,
    bo_sgd_update;

/* ---- Helpers (util.c; bo_run_all in harness.c) --------------------------- */

/* The generator of test data, reseeded per case so that -o replays a case's
 * data exactly. */
double bo_uniform(double lo, double hi);
void bo_fill(float *x, size_t count, double lo, double hi);
/* count distinct values spread evenly over [lo, hi], in random order. */
void bo_fill_distinct(float *x, size_t count, double lo, double hi);

/* Declares tensor index of pb (FACS_F32, role, shape). */
bo_tensor *bo_declare(bo_problem *pb, int index, const char *name, bo_role role, int n, int c, int h, int w);
/* Declares tensor index shaped like tensor of (a dy like its output, a
 * gradient like its input), absent when that one is. */
bo_tensor *bo_declare_like(bo_problem *pb, int index, const char *name, bo_role role, int of);
size_t bo_numel(const bo_tensor *t);
static inline float *bo_f32(const bo_problem *pb, int i) { return (float *)pb->t[i].host; }
static inline int32_t *bo_i32(const bo_problem *pb, int i) { return (int32_t *)pb->t[i].host; }

void *bo_xmalloc(size_t bytes);

/* A tape hook's status: FACS_OK when the wrapper returned its output y. */
facs_status bo_wrapped(const facs_tensor *y);

/* Runs the whole table (main.c parses the command line). op: a family name or
 * an entry name, NULL for all; backend: "cpu" or "cuda", NULL for all.
 * Returns the process exit status. */
int bo_run_all(const char *op, const char *backend, uint64_t seed);

#endif
