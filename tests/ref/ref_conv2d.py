"""PyTorch reference for conv2d: forward, dx, dw and db (F.conv2d)."""
import torch
import torch.nn.functional as F

from common import put, setup

# x shape, w shape (O, I/groups, KH, KW), stride, padding, dilation, groups, bias
CASES = [
    ((2, 12, 13, 17), (20, 12, 3, 3), (1, 1), (1, 1), (1, 1), 1, True),
    ((3, 5, 13, 17), (12, 5, 3, 3), (2, 2), (1, 1), (1, 1), 1, False),
    ((2, 12, 16, 15), (12, 12, 3, 3), (1, 1), (2, 2), (2, 2), 1, True),
    ((2, 12, 13, 17), (18, 6, 3, 3), (1, 1), (1, 1), (1, 1), 2, True),
    ((2, 24, 14, 14), (24, 1, 3, 3), (2, 2), (1, 1), (1, 1), 24, False),
    ((2, 12, 13, 17), (24, 1, 3, 3), (1, 1), (1, 1), (1, 1), 12, True),
    ((2, 64, 14, 14), (32, 64, 1, 1), (1, 1), (0, 0), (1, 1), 1, True),
    ((2, 40, 15, 13), (24, 40, 1, 1), (2, 2), (0, 0), (1, 1), 1, False),
    ((2, 3, 32, 32), (16, 3, 7, 7), (2, 2), (3, 3), (1, 1), 1, False),
    ((2, 5, 13, 17), (7, 5, 3, 5), (2, 1), (1, 0), (1, 2), 1, True),
    ((2, 64, 28, 28), (64, 64, 3, 3), (1, 1), (1, 1), (1, 1), 1, False),
    ((2, 16, 7, 7), (12, 4, 3, 3), (1, 1), (2, 2), (2, 2), 4, True),
]

f = setup()
for index, (xs, ws, stride, padding, dilation, groups, with_bias) in enumerate(CASES):
    g = f.create_group(f"case{index}")
    g.attrs["stride_h"], g.attrs["stride_w"] = stride
    g.attrs["pad_h"], g.attrs["pad_w"] = padding
    g.attrs["dil_h"], g.attrs["dil_w"] = dilation
    g.attrs["groups"] = groups
    g.attrs["bias"] = int(with_bias)
    x = (torch.rand(xs) * 2 - 1).requires_grad_()
    w = (torch.rand(ws) * 2 - 1).requires_grad_()
    b = (torch.rand(ws[0]) * 2 - 1).requires_grad_() if with_bias else None
    y = F.conv2d(x, w, b, stride=stride, padding=padding, dilation=dilation, groups=groups)
    dy = torch.randn(y.shape)
    y.backward(dy)
    for name, t in [("x", x), ("w", w), ("y", y), ("dy", dy), ("dx", x.grad), ("dw", w.grad)]:
        put(g, name, t)
    if with_bias:
        put(g, "b", b)
        put(g, "db", b.grad)
