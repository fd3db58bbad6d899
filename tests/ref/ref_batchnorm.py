"""PyTorch reference for batchnorm2d: two forward calls through the same running
statistics (as over two training steps) and the backward of the first one."""
import torch
import torch.nn.functional as F

from common import put, setup

# (shape, training, eps, momentum, params): params 0 means the C test passes
# NULL params (defaults eps 1e-5, momentum 0.1, training from the context).
CASES = [
    ((2, 3, 7, 7), True, 1e-5, 0.1, 0),
    ((4, 19, 13, 17), True, 1e-5, 0.1, 0),
    ((3, 12, 5, 5), True, 1e-3, 0.3, 1),
    ((8, 64, 4, 4), True, 1e-5, 0.1, 1),
    ((3, 5, 1, 1), True, 1e-5, 0.1, 0),
    ((2, 3, 7, 7), False, 1e-5, 0.1, 0),
    ((3, 19, 13, 17), False, 1e-3, 0.3, 1),
    ((1, 64, 1, 1), False, 1e-5, 0.1, 0),
]

f = setup()
for index, (shape, training, eps, momentum, params) in enumerate(CASES):
    g = f.create_group(f"case{index}")
    g.attrs["training"] = int(training)
    g.attrs["eps"] = eps
    g.attrs["momentum"] = momentum
    g.attrs["params"] = params
    c = shape[1]
    # Per-channel offsets and scales, so the statistics matter.
    offset = torch.rand(1, c, 1, 1) * 6 - 3
    scale = torch.rand(1, c, 1, 1) * 1.5 + 0.5
    x = (torch.randn(shape) * scale + offset).requires_grad_()
    x2 = torch.randn(shape) * scale + offset
    gamma = (torch.rand(c) * 1.5 + 0.5).requires_grad_()
    beta = (torch.rand(c) * 2 - 1).requires_grad_()
    running_mean = torch.rand(c) * 2 - 1
    running_var = torch.rand(c) * 1.5 + 0.5
    put(g, "running_mean0", running_mean)
    put(g, "running_var0", running_var)
    y = F.batch_norm(x, running_mean, running_var, gamma, beta, training=training, momentum=momentum, eps=eps)
    put(g, "running_mean1", running_mean)
    put(g, "running_var1", running_var)
    dy = torch.randn(shape)
    y.backward(dy)
    with torch.no_grad():
        y2 = F.batch_norm(x2, running_mean, running_var, gamma, beta, training=training, momentum=momentum, eps=eps)
    put(g, "running_mean2", running_mean)
    put(g, "running_var2", running_var)
    for name, t in [("x", x), ("x2", x2), ("gamma", gamma), ("beta", beta), ("y", y), ("y2", y2), ("dy", dy),
                    ("dx", x.grad), ("dgamma", gamma.grad), ("dbeta", beta.grad)]:
        put(g, name, t)
