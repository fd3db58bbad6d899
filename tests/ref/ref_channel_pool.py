"""PyTorch reference for channel_pool (depth-wise pooling): output channel i
pools the contiguous input channels [R i, R i + R).

Max runs as F.max_pool3d over the channel axis (kernel and stride (R, 1, 1)),
whose backward sends the gradient to the first maximum of a window, the rule
the C side follows; the script asserts that it equals the plain
x.view(N, C/R, R, H, W).amax(2) forward. Avg is x.view(...).mean(2)."""
import torch
import torch.nn.functional as F

from common import put, setup

MODES = {"max": 0, "avg": 1}

# (shape, out_channels, mode, ties): C not a multiple of 8, R = 1 (identity)
# to R = C (one output channel), batches above 1. With ties the values are
# drawn from {0, 1, 2}, so most groups hold repeated maxima.
CASES = [
    ((2, 12, 7, 7), 3, "max", False),
    ((3, 21, 13, 17), 7, "max", False),
    ((1, 5, 4, 3), 1, "max", False),
    ((2, 6, 5, 5), 6, "max", False),
    ((2, 64, 9, 11), 8, "max", False),
    ((3, 24, 5, 7), 6, "max", True),
    ((2, 16, 6, 6), 2, "max", True),
    ((2, 12, 7, 7), 3, "avg", False),
    ((3, 21, 13, 17), 7, "avg", False),
    ((2, 64, 9, 11), 8, "avg", False),
]


def channel_pool(x, out_channels, mode):
    n, c, h, w = x.shape
    if mode == "avg":
        return x.view(n, out_channels, c // out_channels, h, w).mean(2)
    r = c // out_channels
    y = F.max_pool3d(x.unsqueeze(1), kernel_size=(r, 1, 1), stride=(r, 1, 1)).squeeze(1)
    assert torch.equal(y, x.view(n, out_channels, r, h, w).amax(2))
    return y


f = setup()
for index, (shape, out_channels, mode, ties) in enumerate(CASES):
    g = f.create_group(f"case{index}")
    g.attrs["out_channels"] = out_channels
    g.attrs["mode"] = MODES[mode]
    g.attrs["ties"] = int(ties)
    x = torch.randint(0, 3, shape).float() if ties else torch.randn(shape)
    x.requires_grad_()
    y = channel_pool(x, out_channels, mode)
    dy = torch.randn(y.shape)
    y.backward(dy)
    for name, t in [("x", x), ("y", y), ("dy", dy), ("dx", x.grad)]:
        put(g, name, t)
