"""PyTorch reference for the FACS op (paper Eq. 1-3): forward y and p, and
autograd's dx, dW, db through facs_torch.facs (built from torch ops)."""
import torch

from common import put, setup
from facs_torch import THRESHOLD, WEIGHTED, facs

# (N, C, R, H, W, fusion, T_cf, bias)
CASES = [
    (2, 12, 4, 7, 7, THRESHOLD, 0.5, True),
    (3, 6, 2, 13, 17, WEIGHTED, 0.0, False),
    (2, 5, 1, 7, 7, THRESHOLD, 0.5, True),
    (2, 5, 1, 13, 17, WEIGHTED, 0.0, True),
    (2, 16, 8, 13, 17, WEIGHTED, 0.0, True),
    (2, 12, 4, 13, 17, THRESHOLD, 0.0, False),
    (2, 12, 4, 7, 7, THRESHOLD, 1.0, True),
    (4, 32, 4, 8, 8, THRESHOLD, 0.5, False),
    (2, 24, 8, 5, 9, THRESHOLD, 0.5, True),
    (3, 10, 2, 7, 7, WEIGHTED, 0.0, True),
    (1, 6, 2, 13, 17, THRESHOLD, 0.5, False),
    (2, 64, 4, 14, 14, WEIGHTED, 0.0, True),
    (2, 40, 4, 23, 21, THRESHOLD, 0.5, True),
]


f = setup()
for k, (n, c, r, h, wd, fusion, threshold, has_bias) in enumerate(CASES):
    co = c // r
    # A per-channel offset spreads z, so that p takes both sides of T_cf.
    x = (torch.randn(n, c, h, wd) + torch.randn(1, c, 1, 1)).requires_grad_()
    w = (torch.randn(co, c) * 2 / c**0.5).requires_grad_()
    while True:
        b = torch.randn(co).requires_grad_() if has_bias else None
        with torch.no_grad():
            _, p = facs(x, w, b, fusion, threshold)
        # One float32 rounding must not move p across T_cf between PyTorch and the C op.
        if fusion == WEIGHTED or (p - threshold).abs().min() > 1e-4:
            break
        if not has_bias:
            w.data.copy_(torch.randn(co, c) * 2 / c**0.5)
    y, p = facs(x, w, b, fusion, threshold)
    dy = torch.randn_like(y)
    y.backward(dy)
    g = f.create_group(f"case{k}")
    g.attrs["fusion"] = fusion
    g.attrs["threshold"] = threshold
    g.attrs["bias"] = int(has_bias)
    g.attrs["co"] = co
    put(g, "x", x)
    put(g, "w", w.view(co, c, 1, 1))
    if has_bias:
        put(g, "b", b)
        put(g, "db", b.grad)
    put(g, "y", y)
    put(g, "prob", p)
    put(g, "dy", dy)
    put(g, "dx", x.grad)
    put(g, "dw", w.grad.view(co, c, 1, 1))
