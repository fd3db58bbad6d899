"""PyTorch reference for relu, relu6, sigmoid and add: forward and backward."""
import torch
import torch.nn.functional as F

from common import put, setup

SHAPES = [(1, 3, 7, 7), (2, 5, 13, 17), (3, 16, 8, 8), (2, 19, 1, 1)]
ACTIVATIONS = [F.relu, F.relu6, torch.sigmoid]

f = setup()
case = 0
for shape in SHAPES:
    for act_index, act in enumerate(ACTIVATIONS):
        g = f.create_group(f"case{case}")
        g.attrs["act"] = act_index
        x = (torch.rand(shape) * 16 - 8).requires_grad_()
        other = (torch.rand(shape) * 2 - 1).requires_grad_()
        y = act(x) + other  # exercises add and its fan-out of the gradient
        dy = torch.randn(shape)
        y.backward(dy)
        for name, t in [("x", x), ("other", other), ("y", y), ("dy", dy), ("dx", x.grad), ("dother", other.grad)]:
            put(g, name, t)
        case += 1
