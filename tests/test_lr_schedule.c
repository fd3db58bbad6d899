/* LR schedules: hand-checked values of the closed forms and argument checks,
 * then every lr of PyTorch's schedulers (CosineAnnealingLR, StepLR, LambdaLR
 * poly, LinearLR warm-up through SequentialLR) over 50 steps. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "optim.h"
#include "test_util.h"

/* Both sides compute in double. PyTorch updates recursively (each lr from the
 * previous one); the script measures its gap to the closed forms at <= 4e-14
 * relative (the cosine's ratio of 1 + cos terms near T_max loses a few digits),
 * and pow(gamma, k) rounds differently from k multiplications by ~1e-16. An
 * off-by-one step, a wrong milestone or a float-precision formula is >= 1e-8. */
#define TORCH_TOL 1e-12
/* Values computed by hand in double; only the last-bit rounding of cos and pow remains. */
#define EXACT_TOL 1e-15

static int near(double got, double want, double tol)
{
    return fabs(got - want) <= tol * fmax(fabs(want), 1e-300);
}

static void test_closed_forms(void)
{
    CHECK(facs_lr_cosine(0.1, 0.001, 40, 0) == 0.1, "cosine starts at base");
    CHECK(near(facs_lr_cosine(0.1, 0.001, 40, 20), 0.0505, EXACT_TOL), "cosine is halfway at T/2: %.17g",
          facs_lr_cosine(0.1, 0.001, 40, 20));
    CHECK(near(facs_lr_cosine(0.1, 0.001, 40, 40), 0.001, EXACT_TOL), "cosine reaches eta_min at T");
    CHECK(near(facs_lr_cosine(0.1, 0.001, 40, 50), facs_lr_cosine(0.1, 0.001, 40, 30), 1e-14),
          "cosine rises again past T, mirroring PyTorch");
    CHECK(facs_lr_poly(0.01, 100, 0.9, 0) == 0.01, "poly starts at base");
    CHECK(near(facs_lr_poly(0.01, 100, 0.9, 75), 0.01 * pow(0.25, 0.9), EXACT_TOL), "poly at 3T/4");
    CHECK(facs_lr_poly(0.01, 100, 0.9, 100) == 0.0 && facs_lr_poly(0.01, 100, 0.9, 150) == 0.0,
          "poly is 0 from T on");
    CHECK(facs_lr_step(0.1, 30, 0.1, 29) == 0.1, "step keeps base until step_size");
    CHECK(near(facs_lr_step(0.1, 30, 0.1, 30), 0.01, EXACT_TOL), "step decays at step_size");
    CHECK(near(facs_lr_step(0.1, 30, 0.1, 89), 0.001, EXACT_TOL), "step decays twice before 3 step_size");
    CHECK(near(facs_lr_step(0.1, 0, 0.1, 2), 0.001, EXACT_TOL), "step_size 0 counts as 1 (facs_lr_at's default)");
    CHECK(facs_lr_warmup_factor(0.25, 8, 0) == 0.25, "warm-up starts at start_factor");
    CHECK(near(facs_lr_warmup_factor(0.25, 8, 4), 0.625, EXACT_TOL), "warm-up is linear");
    CHECK(facs_lr_warmup_factor(0.25, 8, 8) == 1.0, "warm-up ends at 1");

    facs_lr_schedule s = facs_lr_schedule_defaults(FACS_LR_COSINE, 0.1, 100);
    s.warmup_iters = 10;
    CHECK_OK(facs_lr_schedule_check(&s));
    CHECK(facs_lr_at(&s, -3) == facs_lr_at(&s, 0) && near(facs_lr_at(&s, 0), 0.1 / 3.0, EXACT_TOL),
          "warm-up from LinearLR's default 1/3, negative t counts as 0");
    CHECK(facs_lr_at(&s, 10) == 0.1, "the main schedule restarts at base after the warm-up");
    CHECK(near(facs_lr_at(&s, 60), 0.05, EXACT_TOL), "the main schedule counts from the warm-up's end");
    facs_lr_schedule d = facs_lr_schedule_defaults(FACS_LR_STEP, 0.1, 90);
    CHECK(d.step_size == 30 && d.gamma == 0.1 && d.power == 0.9 && d.eta_min == 0.0 && d.warmup_iters == 0,
          "defaults: step_size T/3, gamma 0.1, power 0.9, eta_min 0, no warm-up");
    CHECK(facs_lr_schedule_check(&d) == FACS_OK, "the step defaults pass the check");

    facs_lr_schedule bad = s;
    bad.total_iters = 0;
    CHECK(facs_lr_schedule_check(&bad) == FACS_ERR_ARG, "cosine without a length is refused");
    bad = facs_lr_schedule_defaults(FACS_LR_POLY, 0.1, -5);
    CHECK(facs_lr_schedule_check(&bad) == FACS_ERR_ARG, "poly with a negative length is refused");
    bad = d, bad.step_size = 0;
    CHECK(facs_lr_schedule_check(&bad) == FACS_ERR_ARG, "step without step_size is refused");
    bad = s, bad.warmup_start_factor = 0.0;
    CHECK(facs_lr_schedule_check(&bad) == FACS_ERR_ARG, "warm-up from 0 is refused (LinearLR's rule)");
    bad = s, bad.warmup_start_factor = 1.5;
    CHECK(facs_lr_schedule_check(&bad) == FACS_ERR_ARG, "warm-up factor above 1 is refused");
    bad = s, bad.base_lr = -0.1;
    CHECK(facs_lr_schedule_check(&bad) == FACS_ERR_ARG, "a negative base lr is refused");
    bad = s, bad.policy = (facs_lr_policy)9;
    CHECK(facs_lr_schedule_check(&bad) == FACS_ERR_ARG, "an unknown policy is refused");
}

static void torch_parity(h5_file *ref)
{
    int cases = 0;
    for (int k = 0;; k++, cases++) {
        char name[32], path[48];
        snprintf(name, sizeof name, "/case%d", k);
        if (!h5_exists(ref, name))
            break;
        facs_lr_schedule s = {
            .policy = (facs_lr_policy)h5_attr_int(ref, name, "policy", -1),
            .base_lr = h5_attr_double(ref, name, "base_lr", NAN),
            .total_iters = h5_attr_int(ref, name, "total_iters", -1),
            .eta_min = h5_attr_double(ref, name, "eta_min", NAN),
            .power = h5_attr_double(ref, name, "power", NAN),
            .step_size = h5_attr_int(ref, name, "step_size", -1),
            .gamma = h5_attr_double(ref, name, "gamma", NAN),
            .warmup_iters = h5_attr_int(ref, name, "warmup_iters", -1),
            .warmup_start_factor = h5_attr_double(ref, name, "warmup_start_factor", NAN),
        };
        if (!CHECK_OK(facs_lr_schedule_check(&s)))
            continue;
        int rank;
        size_t dims[8];
        snprintf(path, sizeof path, "%s/lr", name);
        double *want = h5_read_f64(ref, path, &rank, dims);
        size_t count = want && rank == 1 ? dims[0] : 0;
        if (!CHECK(want && count == (size_t)h5_attr_int(ref, name, "steps", 0), "%s is missing or short", path)) {
            free(want);
            continue;
        }
        double worst = 0.0;
        for (size_t t = 0; t < count; t++) {
            double got = facs_lr_at(&s, (int64_t)t);
            double e = want[t] != 0.0 ? fabs(got - want[t]) / fabs(want[t]) : fabs(got);
            worst = isnan(e) ? INFINITY : fmax(worst, e);
            CHECK(e <= TORCH_TOL, "%s policy %d t %zu: lr %.17g, torch %.17g (relative error %.3g)", name,
                  (int)s.policy, t, got, want[t], e);
        }
        printf("%s policy %d warm-up %lld: max relative error vs torch %.3g (torch's recursion vs closed form "
               "%.3g)\n",
               name, (int)s.policy, (long long)s.warmup_iters, worst,
               h5_attr_double(ref, name, "closed_vs_recursive", NAN));
        free(want);
    }
    CHECK(cases >= 9, "the reference file holds %d cases, expected 9", cases);
}

int main(int argc, char **argv)
{
    h5_file *ref = test_open_ref(argc, argv);
    test_closed_forms();
    torch_parity(ref);
    h5_close(ref);
    return test_finish();
}
