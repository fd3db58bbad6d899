/* The driver of test_backend_ops: for each case of the table, draws its
 * data, runs it on the CPU (always: the reference of the others) and on
 * every other selected backend, and prints one line per case and backend. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"

/* Against the CPU unless a case says otherwise: float sums in another order
 * differ by a few ulp times sqrt(terms) of the largest value, a few 1e-6 at
 * most for these sizes (seen <= 3.3e-6 on an H200); a wrong index is O(1). */
#define DEFAULT_TOL_XB 1e-5

/* ---- Backends and the table --------------------------------------------- */

typedef struct {
    const char *name;
    facs_device device;
    const char *alloc_names; /* what the message of a failed alloc names */
    facs_ctx *ctx;           /* NULL: not available */
    const char *why;         /* why not */
    int selected;
} backend_slot;

/* The case tables, numbered as one: a case's data stream is seeded by its number. */
static const struct {
    const bo_case *rows;
    const size_t *count;
} tables[] = {{bo_cases, &bo_case_count}, {bo_large_cases, &bo_large_case_count}};

static size_t case_total(void)
{
    size_t n = 0;
    for (size_t t = 0; t < sizeof tables / sizeof tables[0]; t++)
        n += *tables[t].count;
    return n;
}

static const bo_case *case_at(size_t i)
{
    size_t t = 0;
    for (; i >= *tables[t].count; t++)
        i -= *tables[t].count;
    return &tables[t].rows[i];
}

static int missing_entry(const char *word, size_t len, const void *be)
{
    if (bo_entry_present_n(be, word, len))
        return 1;
    bo_check(0, "missing %.*s", (int)len, word);
    return 1;
}

static int has_missing(const case_ctx *cc, const facs_backend *be)
{
    int before = bo_run_failed;
    bo_each_word(cc->k->entries, missing_entry, be);
    return bo_run_failed && !before;
}

static void run_other(const case_ctx *cc, backend_slot *b, const bo_result *cpu, int cpu_ok)
{
#ifdef FACS_CUDA_EMULATION
    /* The CPU emulation of CUDA (tests/cuda_emu) runs our own kernels only:
     * the cuDNN entries are checked on a GPU. */
    if (b->ctx->device == FACS_DEVICE_CUDA && bo_word_in("conv2d_forward", 14, cc->k->entries)) {
        printf("%-52s %-4s not emulated (cuDNN): skipped\n", cc->label, b->name);
        bo_skipped++;
        return;
    }
#endif
    bo_run_begin(b->name);
    if (has_missing(cc, b->ctx->backend)) {
        bo_run_end(cc->label, "missing");
        return;
    }
    bo_result res;
    bo_result_alloc(&cc->pb, &res);
    bo_run_backend(cc, b->ctx, &res);
    if (res.ok)
        bo_tape_check(cc, b->ctx, &res);
    double err = NAN;
    if (bo_check(cpu_ok, "no cpu results to compare with (the cpu run failed)") && res.ok)
        err = bo_vs_cpu(cc, &res, cpu);
    bo_run_end(cc->label, "vs cpu %.1e", err);
    bo_result_free(&res);
}

static void draw_defaults(bo_problem *pb)
{
    for (int i = 0; i < pb->count; i++) {
        bo_tensor *t = &pb->t[i];
        size_t n = bo_numel(t);
        t->host = bo_xmalloc(n * 4);
        if (t->absent)
            continue;
        if (t->role == BO_DY)
            bo_fill(t->host, n, -1, 1);
        else if (t->role == BO_DPARAM)
            bo_fill(t->host, n, -0.5, 0.5);
    }
}

static int case_runs_backward(const bo_case *k)
{
    return k->family->bwd_entries && (!k->family->has_backward || k->family->has_backward(k));
}

/* Resolves the case's tolerances and label, declares its tensors and draws
 * their data; returns 0 when the family found no admissible draw. */
static int case_init(case_ctx *cc, const bo_case *k, size_t index, uint64_t seed)
{
    *cc = (case_ctx){.k = k, .f = k->family, .backward = case_runs_backward(k)};
    cc->tol_fwd = k->tol_fwd > 0 ? k->tol_fwd : k->family->tol_fwd;
    cc->tol_fd = k->tol_fd > 0 ? k->tol_fd : k->family->tol_fd;
    cc->tol_xb = k->tol_xb > 0 ? k->tol_xb : DEFAULT_TOL_XB;
    char params[160];
    k->family->describe(k, params, sizeof params);
    snprintf(cc->label, sizeof cc->label, "%s %s", k->family->name, params);
    /* Each case draws from its own stream: -o replays a case's data exactly. */
    bo_seed_case(seed, index);
    cc->f->declare(k, &cc->pb);
    draw_defaults(&cc->pb);
    return cc->f->draw(k, &cc->pb);
}

/* The CPU's results against the double reference and, for its gradients,
 * against finite differences (or the family's expected gradient where a
 * case has no derivative); prints the CPU's line. */
static void report_cpu(const case_ctx *cc, const bo_result *res)
{
    ref_state ref;
    bo_ref_alloc(&cc->pb, &ref);
    double fwd = NAN;
    char grads[48] = "";
    if (res->ok) {
        bo_ref_forward(cc, &ref);
        fwd = bo_cpu_vs_reference(cc, res, &ref);
    }
    if (res->ok && cc->backward && (!cc->k->no_fd || cc->f->grad_reference)) {
        double *want[BO_MAX_TENSORS] = {0};
        for (int i = 0; i < cc->pb.count; i++)
            if (bo_is_grad(cc->pb.t[i].role))
                want[i] = bo_xmalloc(bo_numel(&cc->pb.t[i]) * sizeof(double));
        if (cc->k->no_fd)
            cc->f->grad_reference(cc->k, &cc->pb, want);
        else
            bo_finite_differences(cc, &ref, want);
        double err = bo_cpu_vs_fd(cc, res, want);
        for (int i = 0; i < BO_MAX_TENSORS; i++)
            free(want[i]);
        snprintf(grads, sizeof grads, " %s %.1e", cc->k->no_fd ? "grad" : "fd", err);
    } else if (cc->backward) {
        snprintf(grads, sizeof grads, " fd skipped");
    }
    bo_run_end(cc->label, "fwd %.1e%s", fwd, grads);
    bo_ref_free(&ref);
}

/* The CPU runs every case, selected or not: it is the others' reference. */
static void run_case(const bo_case *k, size_t index, uint64_t seed, backend_slot *slots, int nslots)
{
    case_ctx cc;
    int drawn = case_init(&cc, k, index, seed);
    bo_result cpu_res;
    bo_result_alloc(&cc.pb, &cpu_res);
    int cpu_ok = 0;
    bo_run_begin(slots[0].name);
    if (!bo_check(drawn, "could not draw admissible inputs (see the family's draw)")) {
        for (int b = 0; b < nslots; b++)
            if (slots[b].selected) {
                bo_run_backend_name = slots[b].name;
                bo_run_end(cc.label, "no inputs");
            }
        goto done;
    }
    if (!has_missing(&cc, slots[0].ctx->backend)) {
        bo_run_backend(&cc, slots[0].ctx, &cpu_res);
        cpu_ok = cpu_res.ok;
        if (cpu_ok && slots[0].selected)
            bo_tape_check(&cc, slots[0].ctx, &cpu_res);
    }
    if (slots[0].selected)
        report_cpu(&cc, &cpu_res);
    else if (!cpu_ok)
        printf("    (the cpu reference run of this case failed)\n");
    for (int b = 1; b < nslots; b++) {
        if (!slots[b].selected)
            continue;
        if (!slots[b].ctx) {
            bo_skipped++;
            continue;
        }
        run_other(&cc, &slots[b], &cpu_res, cpu_ok);
    }
done:
    bo_result_free(&cpu_res);
    for (int i = 0; i < cc.pb.count; i++)
        free(cc.pb.t[i].host);
}

/* ---- Table consistency -------------------------------------------------- */

static int report_unknown(const char *word, size_t len, const void *label)
{
    if (bo_entry_index(word, len) < 0)
        printf("table error: %s: unknown backend entry '%.*s'\n", (const char *)label, (int)len, word);
    return bo_entry_index(word, len) >= 0;
}

typedef struct {
    const char *entries, *label;
} tag_check;

static int report_untagged(const char *word, size_t len, const void *user)
{
    const tag_check *tc = user;
    if (!bo_word_in(word, len, tc->entries))
        printf("table error: %s calls %.*s but its entries do not name it\n", tc->label, (int)len, word);
    return bo_word_in(word, len, tc->entries);
}

/* Every case's entries name real entries, and every entry its family calls. */
static int table_consistent(void)
{
    int ok = 1;
    for (size_t i = 0; i < case_total(); i++) {
        const bo_case *k = case_at(i);
        char label[32];
        snprintf(label, sizeof label, "case %zu (%s)", i, k->family->name);
        ok &= bo_each_word(k->entries, report_unknown, label);
        tag_check tc = {k->entries, label};
        ok &= bo_each_word(k->family->fwd_entries, report_untagged, &tc);
        if (case_runs_backward(k))
            ok &= bo_each_word(k->family->bwd_entries, report_untagged, &tc);
    }
    return ok;
}

static int case_selected(const bo_case *k, const char *op)
{
    return !op || !strcmp(op, k->family->name) || bo_word_in(op, strlen(op), k->entries);
}

int bo_run_all(const char *op, const char *backend, uint64_t seed)
{
    if (!table_consistent())
        return 1;
    size_t matched = bo_backend_checks_selected(op);
    for (size_t i = 0; i < case_total(); i++)
        matched += case_selected(case_at(i), op);
    if (!matched) {
        fprintf(stderr, "test_backend_ops: no case exercises '%s' (an op family or backend entry name)\n", op);
        return 2;
    }
    backend_slot slots[] = {{"cpu", FACS_DEVICE_CPU, "out of host memory", NULL, NULL, 0},
                            {"cuda", FACS_DEVICE_CUDA, "cudaMalloc", NULL, NULL, 0}};
    const int nslots = (int)(sizeof slots / sizeof slots[0]);
    for (int b = 0; b < nslots; b++) {
        slots[b].selected = !backend || !strcmp(backend, slots[b].name);
        if (slots[b].device == FACS_DEVICE_CUDA && !facs_cuda_available()) {
            slots[b].why = "no CUDA device in this process (or a build without CUDA)";
            continue;
        }
        if (b > 0 && !slots[b].selected)
            continue;
        slots[b].ctx = facs_ctx_create(slots[b].device);
        if (!slots[b].ctx) {
            printf("%s: cannot create a context: %s\n", slots[b].name, facs_last_error());
            if (b == 0)
                return 1;
            bo_failed++;
            slots[b].selected = 0;
        }
    }
    int asked_for_missing = 0; /* -b named a backend this process cannot run */
    for (int b = 1; b < nslots; b++)
        if (slots[b].selected && !slots[b].ctx && slots[b].why) {
            printf("%s: %s; its cases are skipped\n", slots[b].name, slots[b].why);
            asked_for_missing |= backend != NULL;
        }
    for (int b = 0; b < nslots; b++)
        if (slots[b].selected && slots[b].ctx)
            bo_run_backend_checks(op, slots[b].name, slots[b].ctx, slots[b].alloc_names);
        else if (slots[b].selected)
            bo_skipped += (int)bo_backend_checks_selected(op);
    for (size_t i = 0; i < case_total(); i++)
        if (case_selected(case_at(i), op))
            run_case(case_at(i), i, seed, slots, nslots);
    for (int b = 0; b < nslots; b++)
        if (slots[b].ctx)
            facs_ctx_free(slots[b].ctx);
    printf("%d passed, %d failed, %d skipped\n", bo_passed, bo_failed, bo_skipped);
    return bo_failed ? 1 : asked_for_missing ? 77 : 0;
}
