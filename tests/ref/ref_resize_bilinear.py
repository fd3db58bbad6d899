"""PyTorch reference for bilinear resize: F.interpolate(mode="bilinear", size=...) forward and backward."""
import torch
import torch.nn.functional as F

from common import put, setup

# (input shape, output size): up, down, odd sizes, 1x1 and single-row outputs,
# the identity size, PSPNet's bins to 60x60 and its logits x8, and a batch-1
# many-channel case that splits the backward's channels across threads.
CASES = [
    ((2, 3, 7, 7), (13, 17)),
    ((2, 5, 13, 17), (7, 7)),
    ((3, 4, 1, 1), (6, 6)),
    ((2, 19, 6, 6), (60, 60)),
    ((2, 3, 2, 3), (60, 60)),
    ((1, 19, 20, 21), (160, 168)),
    ((1, 40, 30, 30), (60, 60)),
    ((2, 3, 64, 64), (17, 23)),
    ((1, 5, 100, 100), (13, 17)),
    ((2, 3, 9, 9), (9, 9)),
    ((2, 3, 7, 7), (1, 5)),
    ((1, 6, 7, 1), (4, 3)),
]

f = setup()
case = 0
for shape, size in CASES:
    for align_corners in (True, False):
        g = f.create_group(f"case{case}")
        g.attrs["align_corners"] = int(align_corners)
        x = (torch.rand(shape) * 4 - 2).requires_grad_()
        y = F.interpolate(x, size=size, mode="bilinear", align_corners=align_corners)
        dy = torch.randn(y.shape)
        y.backward(dy)
        for name, t in [("x", x), ("y", y), ("dy", dy), ("dx", x.grad)]:
            put(g, name, t)
        case += 1
