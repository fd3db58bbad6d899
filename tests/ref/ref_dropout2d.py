"""PyTorch reference for dropout2d given the mask.

PyTorch's RNG cannot reproduce our masks, so this script reimplements
facs_rng_uniform (kernels/backend.c) and the mask rule of backend.h:
channel (n, c) is dropped iff facs_rng_uniform(seed, n * C + c) < prob, and
kept channels are scaled by 1 / (1 - prob). torch then computes x * mask and
its gradient, which is what F.dropout2d does with its own mask."""
import random

import numpy as np
import torch

from common import put, setup

MASK64 = (1 << 64) - 1


def mix64(z):
    """SplitMix64's finaliser, as in kernels/backend.c."""
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK64
    return z ^ (z >> 31)


def rng_uniform(seed, counter):
    """facs_rng_uniform: the top 24 bits of the hash, exactly representable in float32."""
    return (mix64((seed + 0x9E3779B97F4A7C15 * (counter + 1)) & MASK64) >> 40) / float(1 << 24)


# (shape, prob)
CASES = [((2, 3, 7, 7), 0.3), ((3, 19, 13, 17), 0.5), ((8, 64, 1, 1), 0.1), ((4, 12, 5, 5), 0.9)]

f = setup()
rng = random.Random(torch.initial_seed())
for index, (shape, prob) in enumerate(CASES):
    g = f.create_group(f"case{index}")
    seed = rng.getrandbits(62)
    g.attrs["seed"] = np.int64(seed)
    g.attrs["prob"] = prob
    n, c = shape[0], shape[1]
    p32 = float(np.float32(prob))  # the C side compares with the float prob
    scale = torch.tensor(1.0, dtype=torch.float32) / (1.0 - torch.tensor(p32, dtype=torch.float32))
    keep = torch.tensor([[rng_uniform(seed, i * c + j) >= p32 for j in range(c)] for i in range(n)])
    mask = keep.float() * scale
    x = torch.randn(shape).requires_grad_()
    y = x * mask.reshape(n, c, 1, 1)
    dy = torch.randn(shape)
    y.backward(dy)
    for name, t in [("x", x), ("mask", mask.reshape(n, c, 1, 1)), ("y", y), ("dy", dy), ("dx", x.grad)]:
        put(g, name, t)
