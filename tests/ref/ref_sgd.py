"""PyTorch reference for SGD: parameters and momentum buffers after every step.

Each /caseK holds the optimizer's options as attributes and one group /caseK/pJ
per parameter (attributes lr_mult, no_decay) with datasets init, grad{s} (absent
when the parameter had no gradient at step s), value{s} and buf{s} (absent while
torch has no momentum buffer) for s = 0 .. steps - 1."""
import torch

from common import put, setup

STEPS = 10

# name, shape, param group; the BN affine parameters carry the no_decay flag in
# every case, but only case (d) turns the exemption on.
PARAMS = [
    ("conv.weight", (6, 3, 3, 3), "body"),
    ("fc.weight", (10, 13), "body"),
    ("bn.weight", (13,), "bn"),
    ("bn.bias", (13,), "bn"),
    ("head.weight", (4, 13, 1, 1), "head"),
    ("head.bias", (4,), "head"),
]

CASES = [
    dict(lr=0.1, momentum=0.9, nesterov=True, weight_decay=1e-4),  # (a)
    dict(lr=0.05, momentum=0.9),  # (b)
    dict(lr=0.1),  # (c) plain SGD
    dict(lr=0.02, momentum=0.9, weight_decay=1e-3, groups=True),  # (d) bn exempt, head lr x10
    # (e) dampening, whose first step tells a copied buffer from a zero one, and
    # head.bias without a gradient for the first three steps.
    dict(lr=0.1, momentum=0.8, dampening=0.5, weight_decay=5e-3, late=True),
    dict(lr=0.1, weight_decay=1e-2),  # (f) weight decay without momentum
    # (g) nesterov with strong decay: the order of the terms that read the old
    # parameter matters at lr^2 wd, which (a) barely resolves.
    dict(lr=0.1, momentum=0.9, nesterov=True, weight_decay=1e-1),
]
HEAD_LR_MULT = 10.0
LATE_STEPS = 3

f = setup()
for k, case in enumerate(CASES):
    g = f.create_group(f"case{k}")
    opts = dict(lr=case["lr"], momentum=case.get("momentum", 0.0), dampening=case.get("dampening", 0.0),
                weight_decay=case.get("weight_decay", 0.0), nesterov=case.get("nesterov", False))
    for key, value in opts.items():
        g.attrs[key] = float(value) if key != "nesterov" else int(value)
    groups = case.get("groups", False)
    g.attrs["no_decay_exempt"] = int(groups)
    g.attrs["steps"] = STEPS
    g.attrs["params"] = len(PARAMS)

    params = [torch.randn(shape, requires_grad=True) for _, shape, _ in PARAMS]
    if groups:
        by_group = {name: [p for p, (_, _, grp) in zip(params, PARAMS) if grp == name] for name in ("body", "bn", "head")}
        param_groups = [
            {"params": by_group["body"]},
            {"params": by_group["bn"], "weight_decay": 0.0},
            {"params": by_group["head"], "lr": opts["lr"] * HEAD_LR_MULT},
        ]
    else:
        param_groups = [{"params": params}]
    opt = torch.optim.SGD(param_groups, **opts)

    pgroups = []
    for j, ((name, _, grp), p) in enumerate(zip(PARAMS, params)):
        pg = g.create_group(f"p{j}")
        pg.attrs["lr_mult"] = HEAD_LR_MULT if groups and grp == "head" else 1.0
        pg.attrs["no_decay"] = int(grp == "bn")
        put(pg, "init", p)
        pgroups.append(pg)

    for s in range(STEPS):
        for j, ((name, _, _), p) in enumerate(zip(PARAMS, params)):
            if case.get("late", False) and name == "head.bias" and s < LATE_STEPS:
                p.grad = None
            else:
                p.grad = torch.randn(p.shape)
                put(pgroups[j], f"grad{s}", p.grad)
        opt.step()
        for j, p in enumerate(params):
            put(pgroups[j], f"value{s}", p)
            buf = opt.state[p].get("momentum_buffer")
            if buf is not None:
                put(pgroups[j], f"buf{s}", buf)
