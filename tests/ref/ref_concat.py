"""PyTorch reference for channel concatenation: torch.cat(dim=1) forward and backward,
with some inputs not requiring a gradient."""
import torch

from common import put, setup

# (N, H, W), channel counts, which inputs require a gradient.
CASES = [
    ((2, 7, 7), [3, 5], [1, 1]),
    ((3, 13, 17), [3, 5, 512], [1, 0, 1]),
    ((1, 1, 1), [512, 3, 5, 7], [1, 1, 1, 1]),
    ((2, 13, 17), [64, 16, 16, 16, 16], [0, 1, 1, 1, 1]),
    ((2, 7, 7), [3, 5, 3, 5, 3], [1, 0, 1, 0, 0]),
    ((4, 5, 6), [1, 2], [0, 1]),
    ((2, 60, 60), [19, 13], [1, 1]),
]

f = setup()
for index, (nhw, channels, wants) in enumerate(CASES):
    n, h, w = nhw
    g = f.create_group(f"case{index}")
    g.attrs["count"] = len(channels)
    xs = [(torch.rand(n, c, h, w) * 2 - 1).requires_grad_(bool(want)) for c, want in zip(channels, wants)]
    y = torch.cat(xs, dim=1)
    dy = torch.randn(y.shape)
    y.backward(dy)
    for i, x in enumerate(xs):
        g.attrs[f"requires_grad{i}"] = int(x.requires_grad)
        put(g, f"x{i}", x)
        if x.requires_grad:
            put(g, f"dx{i}", x.grad)
    put(g, "y", y)
    put(g, "dy", dy)
