"""PyTorch reference for the LR schedules: the lr of every step from torch.optim.lr_scheduler.

Each /caseK holds the schedule's fields as attributes (named like optim.h's
facs_lr_schedule; policy 0 constant, 1 cosine, 2 poly, 3 step) and a float64
dataset lr with the lr before each of `steps` optimizer steps, the scheduler
stepped once per step. The attribute closed_vs_recursive is the largest
relative gap between PyTorch's recursive values and the closed forms of
optim.h evaluated here in Python."""
import math
import warnings

import torch
from torch.optim import lr_scheduler as sched

from common import setup

STEPS = 50
CONSTANT, COSINE, POLY, STEP = 0, 1, 2, 3


def schedule(policy, base_lr, total_iters=0, eta_min=0.0, power=0.9, step_size=1, gamma=0.1, warmup_iters=0,
             warmup_start_factor=1.0 / 3.0):
    return dict(policy=policy, base_lr=base_lr, total_iters=total_iters, eta_min=eta_min, power=power,
                step_size=step_size, gamma=gamma, warmup_iters=warmup_iters,
                warmup_start_factor=warmup_start_factor)


CASES = [
    schedule(COSINE, 0.1, total_iters=40, eta_min=1e-4),  # runs past T_max, where the cosine rises again
    schedule(COSINE, 0.01, total_iters=50),
    schedule(STEP, 0.1, step_size=7, gamma=0.1),
    schedule(STEP, 0.05, step_size=10, gamma=0.5),
    schedule(POLY, 0.01, total_iters=50, power=0.9),
    schedule(COSINE, 0.1, total_iters=45, warmup_iters=5, warmup_start_factor=0.1),
    schedule(POLY, 0.02, total_iters=42, power=0.9, warmup_iters=8),
    schedule(STEP, 0.1, step_size=10, gamma=0.1, warmup_iters=4, warmup_start_factor=0.25),
    schedule(CONSTANT, 0.05, warmup_iters=10, warmup_start_factor=0.001),
]


def main_scheduler(opt, s):
    if s["policy"] == COSINE:
        return sched.CosineAnnealingLR(opt, T_max=s["total_iters"], eta_min=s["eta_min"])
    if s["policy"] == POLY:
        total, power = s["total_iters"], s["power"]
        return sched.LambdaLR(opt, lambda t: (1 - t / total) ** power)
    if s["policy"] == STEP:
        return sched.StepLR(opt, step_size=s["step_size"], gamma=s["gamma"])
    return sched.ConstantLR(opt, factor=1.0, total_iters=0)


def torch_lrs(s):
    opt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=s["base_lr"])
    if s["warmup_iters"] and s["policy"] == CONSTANT:
        scheduler = sched.LinearLR(opt, start_factor=s["warmup_start_factor"], total_iters=s["warmup_iters"])
    elif s["warmup_iters"]:
        warm = sched.LinearLR(opt, start_factor=s["warmup_start_factor"], total_iters=s["warmup_iters"])
        scheduler = sched.SequentialLR(opt, [warm, main_scheduler(opt, s)], milestones=[s["warmup_iters"]])
    else:
        scheduler = main_scheduler(opt, s)
    lrs = []
    for _ in range(STEPS):
        lrs.append(opt.param_groups[0]["lr"])
        opt.step()
        scheduler.step()
    return lrs


def closed_form(s, t):
    base, w = s["base_lr"], s["warmup_iters"]
    if t < w:
        f = s["warmup_start_factor"]
        return base * (f + (1.0 - f) * t / w)
    u = t - w
    if s["policy"] == COSINE:
        return s["eta_min"] + (base - s["eta_min"]) * (1 + math.cos(math.pi * u / s["total_iters"])) / 2
    if s["policy"] == POLY:
        return base * (1 - u / s["total_iters"]) ** s["power"] if u < s["total_iters"] else 0.0
    if s["policy"] == STEP:
        return base * s["gamma"] ** (u // s["step_size"])
    return base


warnings.simplefilter("ignore")  # SequentialLR's step(0) warns about the epoch argument
f = setup()
for k, s in enumerate(CASES):
    g = f.create_group(f"case{k}")
    for key, value in s.items():
        g.attrs[key] = value
    g.attrs["steps"] = STEPS
    lrs = torch_lrs(s)
    gap = max(abs(a - closed_form(s, t)) / abs(a) if a else abs(closed_form(s, t)) for t, a in enumerate(lrs))
    g.attrs["closed_vs_recursive"] = gap
    g.create_dataset("lr", data=torch.tensor(lrs, dtype=torch.float64).numpy())
    print(f"case{k}: closed form vs PyTorch's recursion, max relative gap {gap:.3g}")
