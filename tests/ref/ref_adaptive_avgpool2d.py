"""PyTorch reference for adaptive average pooling: forward and backward.

Each case stores x, y, dy, dx; attribute global = 1 marks the 1 x 1 cases
that the C test runs through facs_global_avgpool."""
import torch
import torch.nn.functional as F

from common import put, setup

# PSPNet's pyramid bins on odd sizes, a 60 x 60 feature map, channel counts
# that are not multiples of 8 (300 is split into chunks by the forward when
# bins are few), and inputs smaller than the output, where PyTorch's bins
# overlap and repeat rows.
SHAPES = [(2, 5, 7, 7), (2, 3, 13, 17), (2, 19, 60, 60), (1, 70, 9, 11), (1, 300, 13, 17), (3, 4, 2, 3)]
OUTPUTS = [(1, 1), (2, 2), (3, 3), (6, 6), (4, 5)]

f = setup()
case = 0
for shape in SHAPES:
    for out in OUTPUTS:
        for is_global in ([0, 1] if out == (1, 1) else [0]):
            x = torch.randn(shape).requires_grad_()
            y = F.adaptive_avg_pool2d(x, out)
            dy = torch.randn(y.shape)
            y.backward(dy)
            g = f.create_group(f"case{case}")
            g.attrs["global"] = is_global
            for name, t in [("x", x), ("y", y), ("dy", dy), ("dx", x.grad)]:
                put(g, name, t)
            case += 1
