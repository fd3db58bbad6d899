"""PyTorch reference for max and average pooling: forward and backward.

Each case stores x, y, dy, dx and its options as attributes: op (0 max,
1 avg), kh, kw, sh, sw, ph, pw, ceil, cip (count_include_pad)."""
import torch
import torch.nn.functional as F

from common import put, setup

# (kernel, stride, padding, ceil_mode), each of the first three as (h, w).
STEM = ((3, 3), (2, 2), (1, 1), False)
CONFIGS = [
    STEM,
    ((3, 3), (2, 2), (1, 1), True),
    ((2, 2), (2, 2), (0, 0), False),
    ((2, 2), (2, 2), (0, 0), True),  # odd sizes: the last window hangs past the input
    ((3, 3), (1, 1), (1, 1), False),
    ((3, 3), (1, 1), (1, 1), True),
    ((2, 2), (2, 2), (1, 1), True),  # 13 or 7 rows: the last window would start in the padding
    ((3, 2), (2, 1), (1, 0), True),
]
SHAPES = [(1, 3, 7, 7), (2, 5, 13, 17), (3, 70, 9, 11)]

f = setup()
case = 0


def emit(op, x, config, cip=True):
    global case
    kernel, stride, pad, ceil_mode = config
    x = x.clone().requires_grad_()
    if op == 0:
        y = F.max_pool2d(x, kernel, stride, pad, ceil_mode=ceil_mode)
    else:
        y = F.avg_pool2d(x, kernel, stride, pad, ceil_mode=ceil_mode, count_include_pad=cip)
    dy = torch.randn(y.shape)
    y.backward(dy)
    g = f.create_group(f"case{case}")
    options = dict(op=op, kh=kernel[0], kw=kernel[1], sh=stride[0], sw=stride[1], ph=pad[0], pw=pad[1])
    for key, value in options.items():
        g.attrs[key] = value
    g.attrs["ceil"] = int(ceil_mode)
    g.attrs["cip"] = int(cip)
    for name, t in [("x", x), ("y", y), ("dy", dy), ("dx", x.grad)]:
        put(g, name, t)
    case += 1


for shape in SHAPES:
    for config in CONFIGS:
        x = torch.randn(shape)
        emit(0, x, config)
        emit(1, x, config, cip=True)
        emit(1, x, config, cip=False)

# Large enough for the CPU loops to run in parallel: ResNet's stem pool, and
# the ceil-mode windows whose count_include_pad divisor oneDNN cannot express.
emit(0, torch.randn(2, 64, 28, 28), STEM)
emit(1, torch.randn(2, 64, 27, 27), CONFIGS[3], cip=True)
# Ties everywhere: dx shows which maximum of a window receives dy.
for config in CONFIGS[:2] + CONFIGS[4:6]:
    emit(0, torch.randint(0, 3, (2, 5, 13, 17)).float(), config)
# All values below zero: the padding must never win a max.
emit(0, -1 - torch.rand(2, 5, 13, 17), CONFIGS[1])
