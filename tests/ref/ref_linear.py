"""PyTorch reference for linear: F.linear forward and backward, with and without bias."""
import torch
import torch.nn.functional as F

from common import put, setup

# (N, IN, OUT): from a single sample to a ResNet-50 head with 19 classes.
SIZES = [(1, 7, 5), (4, 100, 10), (3, 2048, 19), (8, 512, 1000), (2, 13, 1)]

f = setup()
case = 0
for n, in_features, out_features in SIZES:
    for bias in (False, True):
        g = f.create_group(f"case{case}")
        for key, value in [("n", n), ("in", in_features), ("out", out_features), ("bias", int(bias))]:
            g.attrs[key] = value
        # nn.Linear's default initialisation scale keeps y of order 1.
        bound = in_features ** -0.5
        x = torch.randn(n, in_features).requires_grad_()
        w = ((torch.rand(out_features, in_features) * 2 - 1) * bound).requires_grad_()
        b = ((torch.rand(out_features) * 2 - 1) * bound).requires_grad_() if bias else None
        y = F.linear(x, w, b)
        dy = torch.randn(n, out_features)
        y.backward(dy)
        # Stored as NCHW (N, C, 1, 1) like every activation.
        for name, t in [("x", x), ("w", w), ("y", y), ("dy", dy), ("dx", x.grad), ("dw", w.grad)]:
            put(g, name, t.reshape(t.shape[0], -1, 1, 1))
        if bias:
            put(g, "b", b)
            put(g, "db", b.grad)
        case += 1
