/* Learning-rate schedules in closed form (optim.h). Each expression keeps the
 * operation order of PyTorch's closed forms, so the two round alike. */
#include <math.h>

#include "optim.h"

static const double pi = 3.14159265358979323846;

facs_lr_schedule facs_lr_schedule_defaults(facs_lr_policy policy, double base_lr, int64_t total_iters)
{
    return (facs_lr_schedule){.policy = policy,
                              .base_lr = base_lr,
                              .total_iters = total_iters,
                              .power = 0.9,
                              .step_size = total_iters / 3 > 0 ? total_iters / 3 : 1,
                              .gamma = 0.1,
                              .warmup_start_factor = 1.0 / 3.0};
}

facs_status facs_lr_schedule_check(const facs_lr_schedule *s)
{
    if (!isfinite(s->base_lr) || s->base_lr < 0.0)
        return facs_fail(FACS_ERR_ARG, "lr schedule: invalid base lr %g", s->base_lr);
    int needs_length = s->policy == FACS_LR_COSINE || s->policy == FACS_LR_POLY;
    if ((int)s->policy < (int)FACS_LR_CONSTANT || (int)s->policy > (int)FACS_LR_STEP)
        return facs_fail(FACS_ERR_ARG, "lr schedule: unknown policy %d", (int)s->policy);
    if (needs_length && s->total_iters <= 0)
        return facs_fail(FACS_ERR_ARG, "lr schedule: total_iters must be positive (got %lld)",
                         (long long)s->total_iters);
    if (s->policy == FACS_LR_COSINE && !isfinite(s->eta_min))
        return facs_fail(FACS_ERR_ARG, "lr schedule: invalid cosine eta_min %g", s->eta_min);
    if (s->policy == FACS_LR_POLY && !isfinite(s->power))
        return facs_fail(FACS_ERR_ARG, "lr schedule: invalid poly power %g", s->power);
    if (s->policy == FACS_LR_STEP && s->step_size <= 0)
        return facs_fail(FACS_ERR_ARG, "lr schedule: step_size must be positive (got %lld)",
                         (long long)s->step_size);
    if (s->policy == FACS_LR_STEP && !isfinite(s->gamma))
        return facs_fail(FACS_ERR_ARG, "lr schedule: invalid step gamma %g", s->gamma);
    if (s->warmup_iters < 0)
        return facs_fail(FACS_ERR_ARG, "lr schedule: negative warmup_iters %lld", (long long)s->warmup_iters);
    if (s->warmup_iters > 0 && !(s->warmup_start_factor > 0.0 && s->warmup_start_factor <= 1.0))
        return facs_fail(FACS_ERR_ARG, "lr schedule: warmup_start_factor %g is outside (0, 1]",
                         s->warmup_start_factor);
    return FACS_OK;
}

double facs_lr_cosine(double base, double eta_min, int64_t t_max, int64_t u)
{
    return eta_min + (base - eta_min) * (1.0 + cos(pi * (double)u / (double)t_max)) / 2.0;
}

double facs_lr_poly(double base, int64_t total, double power, int64_t u)
{
    /* PyTorch's lambda would take a fractional power of a negative number past
     * the end; the schedule is over, so the lr is 0. */
    if (u >= total)
        return 0.0;
    return base * pow(1.0 - (double)u / (double)total, power);
}

double facs_lr_step(double base, int64_t step_size, double gamma, int64_t u)
{
    return base * pow(gamma, (double)(u / (step_size > 0 ? step_size : 1))); /* as facs_lr_at's default */
}

double facs_lr_warmup_factor(double start_factor, int64_t warmup, int64_t t)
{
    if (t >= warmup)
        return 1.0;
    return start_factor + (1.0 - start_factor) * (double)t / (double)warmup;
}

double facs_lr_at(const facs_lr_schedule *s, int64_t t)
{
    if (t < 0)
        t = 0;
    if (t < s->warmup_iters)
        return s->base_lr * facs_lr_warmup_factor(s->warmup_start_factor, s->warmup_iters, t);
    int64_t u = t - s->warmup_iters;
    switch (s->policy) {
    case FACS_LR_COSINE:
        return facs_lr_cosine(s->base_lr, s->eta_min, s->total_iters, u);
    case FACS_LR_POLY:
        return facs_lr_poly(s->base_lr, s->total_iters, s->power, u);
    case FACS_LR_STEP:
        return facs_lr_step(s->base_lr, s->step_size, s->gamma, u);
    default:
        return s->base_lr;
    }
}
