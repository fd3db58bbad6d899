/* The accuracy checks of test_backend_ops: the family's forward in double,
 * central finite differences of the projected loss L = sum(dy * y) through
 * it, and the comparisons of the CPU's results against both and of every
 * other backend's against the CPU's. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "fd_gradient.h"
#include "harness.h"

/* ---- The double reference and finite differences ------------------------ */

void bo_ref_alloc(const bo_problem *pb, ref_state *rs)
{
    *rs = (ref_state){0};
    for (int i = 0; i < pb->count; i++) {
        const bo_tensor *t = &pb->t[i];
        size_t n = bo_numel(t);
        rs->v[i] = bo_xmalloc(n * sizeof(double));
        if (t->absent || t->role == BO_OUT || bo_is_grad(t->role))
            continue;
        for (size_t j = 0; j < n; j++)
            rs->v[i][j] = t->dtype == FACS_I32 ? ((const int32_t *)t->host)[j] : ((const float *)t->host)[j];
    }
}

void bo_ref_free(ref_state *rs)
{
    for (int i = 0; i < BO_MAX_TENSORS; i++)
        free(rs->v[i]);
}

void bo_ref_forward(const case_ctx *cc, ref_state *rs)
{
    const bo_problem *pb = &cc->pb;
    for (int i = 0; i < pb->count; i++)
        if (pb->t[i].role == BO_STATE)
            for (size_t j = 0; j < bo_numel(&pb->t[i]); j++)
                rs->v[i][j] = ((const float *)pb->t[i].host)[j];
    cc->f->reference(cc->k, pb, rs->v, &rs->valid);
}

/* L = sum over each dy of dy * its output. */
static double projected_loss(const case_ctx *cc, ref_state *rs)
{
    bo_ref_forward(cc, rs);
    double sum = 0.0;
    for (int i = 0; i < cc->pb.count; i++) {
        const bo_tensor *t = &cc->pb.t[i];
        if (t->role != BO_DY)
            continue;
        const float *dy = t->host;
        for (size_t j = 0; j < bo_numel(t); j++)
            sum += dy[j] * rs->v[t->of][j];
    }
    return sum;
}

typedef struct {
    const case_ctx *cc;
    ref_state *rs;
} fd_point;

/* L where test_fd_gradient has moved one input element: the input it moves
 * is the reference's own copy, inside rs. */
static double projected_loss_at(const double *x, void *user)
{
    (void)x;
    const fd_point *at = user;
    return projected_loss(at->cc, at->rs);
}

/* Central differences of L in double for every gradient's input, into fd. */
void bo_finite_differences(const case_ctx *cc, ref_state *rs, double *const *fd)
{
    fd_point at = {cc, rs};
    for (int i = 0; i < cc->pb.count; i++) {
        const bo_tensor *t = &cc->pb.t[i];
        if (bo_is_grad(t->role) && !t->absent)
            test_fd_gradient(projected_loss_at, rs->v[t->of], bo_numel(t), &at, cc->f->fd_eps, fd[i]);
    }
}

/* ---- Comparisons -------------------------------------------------------- */

/* Exact tensors: float(ref) bit for bit. */
static double exact_err(const float *got, const double *want, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        float w = (float)want[i];
        if (memcmp(&got[i], &w, sizeof w))
            return INFINITY;
    }
    return 0.0;
}

static double exact_err_f(const float *got, const float *want, size_t n)
{
    return memcmp(got, want, n * sizeof(float)) ? INFINITY : 0.0;
}

/* The CPU's forward results against the double reference; returns the worst error. */
double bo_cpu_vs_reference(const case_ctx *cc, const bo_result *res, const ref_state *ref)
{
    double worst = 0.0;
    for (int i = 0; i < cc->pb.count; i++) {
        const bo_tensor *t = &cc->pb.t[i];
        if (t->absent || !bo_is_fwd_result(t->role))
            continue;
        size_t n = bo_numel(t);
        double e = t->exact ? exact_err(res->val[i], ref->v[i], n) : bo_rel_err_d(res->val[i], ref->v[i], n, t->nan_ok);
        if (t->exact)
            bo_check(e == 0.0, "%s: differs from the reference (must match bit for bit)", t->name);
        else
            bo_check(e <= cc->tol_fwd, "%s: relative error %.3g > %.3g against the double reference", t->name, e,
                     cc->tol_fwd);
        worst = fmax(worst, e);
    }
    bo_check(res->valid == ref->valid, "valid pixels %lld, reference %lld", (long long)res->valid,
             (long long)ref->valid);
    return worst;
}

double bo_cpu_vs_fd(const case_ctx *cc, const bo_result *res, double *const *fd)
{
    double worst = 0.0;
    for (int i = 0; i < cc->pb.count; i++) {
        const bo_tensor *t = &cc->pb.t[i];
        if (t->absent || !bo_is_grad(t->role))
            continue;
        double e = bo_rel_err_d(res->val[i], fd[i], bo_numel(t), 0);
        bo_check(e <= cc->tol_fd, "%s: relative error %.3g > %.3g against %s", t->name, e, cc->tol_fd,
                 cc->k->no_fd ? "the expected gradient" : "finite differences");
        worst = fmax(worst, e);
    }
    return worst;
}

double bo_vs_cpu(const case_ctx *cc, const bo_result *res, const bo_result *cpu)
{
    double worst = 0.0;
    for (int i = 0; i < cc->pb.count; i++) {
        const bo_tensor *t = &cc->pb.t[i];
        if (t->absent || !res->val[i])
            continue;
        size_t n = bo_numel(t);
        double e =
            t->exact ? exact_err_f(res->val[i], cpu->val[i], n) : bo_rel_err_f(res->val[i], cpu->val[i], n, t->nan_ok);
        if (t->exact)
            bo_check(e == 0.0, "%s: differs from the cpu's (must match bit for bit)", t->name);
        else
            bo_check(e <= cc->tol_xb, "%s: relative error %.3g > %.3g against the cpu", t->name, e, cc->tol_xb);
        worst = fmax(worst, e);
    }
    bo_check(res->valid == cpu->valid, "valid pixels %lld, cpu %lld", (long long)res->valid, (long long)cpu->valid);
    return worst;
}
