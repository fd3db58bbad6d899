/* The SGD optimizer and learning-rate schedules, with torch.optim semantics.
 *
 *     facs_sgd_options o = facs_sgd_defaults();
 *     o.momentum = 0.9; o.weight_decay = 1e-4; o.no_decay_exempt = 1;
 *     facs_sgd sgd;
 *     if (facs_sgd_init(&sgd, &model_params, &o)) ... facs_last_error() ...
 *     facs_lr_schedule lr = facs_lr_schedule_defaults(FACS_LR_COSINE, 0.1, total_iters - 500);
 *     lr.warmup_iters = 500; lr.warmup_start_factor = 0.001;
 *     for (int64_t it = sgd.steps; it < total_iters; it++) {
 *         ... forward, facs_backward ...
 *         sgd.options.lr = facs_lr_at(&lr, it);
 *         facs_sgd_step(&sgd);
 *         facs_sgd_zero_grad(&sgd);
 *     }
 *     facs_sgd_free(&sgd);
 *
 * SGD step, per trainable, non-frozen parameter p that has a gradient g
 * (torch.optim.SGD 1.13, maximize = False):
 *     lr_p = lr * p.lr_mult
 *     wd_p = 0 if (no_decay_exempt and p.no_decay) else weight_decay
 *     d = g + wd_p * p
 *     if momentum != 0:
 *         buf = d                                            on p's first step
 *         buf = momentum * buf + (1 - dampening) * d         afterwards
 *         d   = d + momentum * buf  if nesterov  else  buf
 *     p -= lr_p * d
 * Coefficients are rounded to float before use, as PyTorch does with its
 * Python-float hyper-parameters. A parameter without a gradient (value->grad
 * NULL: no backward reached it yet) is skipped and its momentum buffer stays
 * uncreated, like a PyTorch parameter whose .grad is None. A zeroed gradient is
 * not "no gradient": weight decay and momentum still move the parameter.
 *
 * Checkpointing (exact resume). The optimizer state is
 *   - sgd.steps, the number of steps taken (also the iteration the LR schedule
 *     continues from: the schedules below are pure functions of t);
 *   - for each trainable parameter, p->momentum, NULL until its first step.
 * A checkpoint stores steps as an attribute and each non-NULL buffer as a
 * float32 dataset in NCHW/OIHW order (facs_tensor_to_nchw) at
 * /optimizer/momentum/<state_dict key with '.' replaced by '/'>, beside the
 * weights of DESIGN.md. A parameter without a dataset has no buffer yet. To
 * resume: load the weights, facs_sgd_init, set sgd.steps, and for each stored
 * buffer call facs_param_ensure_momentum(p) and facs_tensor_from_nchw(p->momentum,
 * ...). The options are configuration, not state: the run passes them again.
 * (PyTorch's optimizer state_dict keeps the same buffers, keyed by the
 * parameter's index in registration order instead of by name.) */
#ifndef FACS_OPTIM_H
#define FACS_OPTIM_H

#include <stdint.h>

#include "param.h"

typedef struct {
    double lr;           /* base learning rate; a schedule overwrites it each step */
    double momentum;     /* 0: plain SGD */
    double dampening;    /* 0 (PyTorch's default) */
    double weight_decay; /* L2 penalty added to the gradient */
    int nesterov;        /* needs momentum > 0 and dampening == 0 */
    int no_decay_exempt; /* 1: parameters flagged no_decay get no weight decay */
} facs_sgd_options;

typedef struct {
    facs_sgd_options options;
    facs_param_list *params; /* borrowed; the optimizer's buffers live in its entries */
    int64_t steps;           /* completed facs_sgd_step calls */
} facs_sgd;

/* lr 0.01, everything else 0 (torch.optim.SGD with lr=0.01). */
facs_sgd_options facs_sgd_defaults(void);

/* Checks the options (PyTorch's rules: lr, momentum, weight decay >= 0;
 * nesterov needs momentum and no dampening) and binds the parameter list. */
facs_status facs_sgd_init(facs_sgd *sgd, facs_param_list *params, const facs_sgd_options *options);

/* Drops the momentum buffers of the list (the optimizer's state) and unbinds
 * it; call it while the list is alive (facs_param_list_free alone also frees
 * the buffers, so an optimizer whose list is gone needs no free). */
void facs_sgd_free(facs_sgd *sgd);

/* One update of every parameter (see above), then steps++. Runs on each
 * parameter's own device: the backend's fused sgd_update (one pass per
 * tensor), or facs_sgd_step_portable's path where a backend has none. Fails on options made
 * invalid since init (a schedule producing a negative or NaN lr). */
facs_status facs_sgd_step(facs_sgd *sgd);

/* The same step composed from the backend entries every device has (copy and
 * axpy), used for devices without a fused kernel. On the CPU it exists so tests
 * can hold it to PyTorch too; it rounds differently from the fused loop (a few
 * float ulps per step). It relies on axpy being elementwise, so that
 * axpy(alpha, y, y) scales y by 1 + alpha in place. */
facs_status facs_sgd_step_portable(facs_sgd *sgd);

/* Zeroes the gradients of the bound list (facs_param_list_zero_grad). */
facs_status facs_sgd_zero_grad(facs_sgd *sgd);

/* Learning-rate schedules: the lr of step t (t = 0 for the first step), equal
 * to what optimizer.param_groups[0]["lr"] holds before the (t + 1)-th
 * optimizer.step() when the PyTorch scheduler is stepped once per step. The
 * closed forms are used; PyTorch's schedulers update recursively (each lr from
 * the previous one), which agrees with them to 4e-14 relative or better (the
 * cosine near T_max; 1e-16 elsewhere), far below 1e-6: tests/test_lr_schedule.c
 * measures it.
 *
 * Main schedule at u (u = t - warmup_iters):
 *   CONSTANT  base
 *   COSINE    eta_min + (base - eta_min) (1 + cos(pi u / T)) / 2    CosineAnnealingLR(T_max = T);
 *             not clamped: past T it rises again, as PyTorch's does
 *   POLY      base (1 - u / T)^power, 0 for u >= T                  LambdaLR, PSPNet's "poly" (power 0.9)
 *   STEP      base gamma^floor(u / step_size)                       StepLR
 * Linear warm-up (warmup_iters = W > 0), for t < W:
 *   base (f + (1 - f) t / W), f = warmup_start_factor
 * which is SequentialLR([LinearLR(start_factor = f, total_iters = W), main], milestones = [W]):
 * the warm-up reaches f + (1 - f)(W - 1) / W at t = W - 1, and the main
 * schedule restarts from its own u = 0 (lr = base) at t = W. */
typedef enum { FACS_LR_CONSTANT = 0, FACS_LR_COSINE = 1, FACS_LR_POLY = 2, FACS_LR_STEP = 3 } facs_lr_policy;

typedef struct {
    facs_lr_policy policy;
    double base_lr;
    int64_t total_iters;        /* T of COSINE and POLY, counted after the warm-up */
    double eta_min;             /* COSINE floor; 0 by default */
    double power;               /* POLY; 0.9 by default */
    int64_t step_size;          /* STEP */
    double gamma;               /* STEP; 0.1 by default */
    int64_t warmup_iters;       /* 0: no warm-up */
    double warmup_start_factor; /* in (0, 1]; 1/3 by default, as LinearLR's */
} facs_lr_schedule;

/* A schedule of the policy with the defaults above; step_size defaults to
 * total_iters / 3 (three decays by gamma over the run). */
facs_lr_schedule facs_lr_schedule_defaults(facs_lr_policy policy, double base_lr, int64_t total_iters);

/* Checks the fields: base_lr >= 0, T > 0 for COSINE and POLY, step_size > 0
 * for STEP, warmup_iters >= 0, warmup_start_factor in (0, 1]. */
facs_status facs_lr_schedule_check(const facs_lr_schedule *s);

/* The lr of step t >= 0 (t < 0 counts as 0); s must pass facs_lr_schedule_check. */
double facs_lr_at(const facs_lr_schedule *s, int64_t t);

/* The pieces, as pure functions of the step u >= 0. */
double facs_lr_cosine(double base, double eta_min, int64_t t_max, int64_t u);
double facs_lr_poly(double base, int64_t total, double power, int64_t u);
double facs_lr_step(double base, int64_t step_size, double gamma, int64_t u);
/* The warm-up factor at t < warmup (1 from t = warmup on). */
double facs_lr_warmup_factor(double start_factor, int64_t warmup, int64_t t);

#endif
