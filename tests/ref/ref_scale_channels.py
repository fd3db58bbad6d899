"""PyTorch reference for scale_channels: squeeze-and-excitation's x * s with
s (N, C, 1, 1) broadcast over pixels, forward and the gradients of x and s."""
import torch

from common import put, setup

# Odd spatial sizes, C not a multiple of 8 and C over 64 (the CPU's ds
# channel block), batches above 1, and the 1 x 1 maps of SE's descriptor.
SHAPES = [(2, 3, 7, 7), (3, 19, 13, 17), (1, 67, 5, 3), (4, 12, 1, 1), (2, 130, 6, 5)]

f = setup()
for index, shape in enumerate(SHAPES):
    n, c = shape[0], shape[1]
    g = f.create_group(f"case{index}")
    x = torch.randn(shape).requires_grad_()
    s = torch.sigmoid(torch.randn(n, c, 1, 1) * 2).detach().requires_grad_()  # SE's gate range
    y = x * s
    dy = torch.randn(shape)
    y.backward(dy)
    for name, t in [("x", x), ("s", s), ("y", y), ("dy", dy), ("dx", x.grad), ("ds", s.grad)]:
        put(g, name, t)
