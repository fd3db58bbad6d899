"""The FACS op (paper Eq. 1-3) in PyTorch, built from torch ops so that
autograd gives the reference gradients. Shared by the reference scripts."""
import torch
import torch.nn.functional as F

THRESHOLD, WEIGHTED = 0, 1


def facs(x, w, b, fusion, threshold):
    """Squeezes x (N, C, H, W) with w (C/R, C) and optional bias b; returns (y, p)."""
    n, c, h, wd = x.shape
    co = w.shape[0]
    z = x.mean((2, 3))
    p = torch.sigmoid(F.linear(z, w, b))
    chunks = x.view(n, co, c // co, h, wd)
    mx = chunks.max(2).values
    avg = chunks.mean(2)
    pp = p.view(n, co, 1, 1)
    if fusion == WEIGHTED:
        y = pp * mx + (1 - pp) * avg
    else:
        y = torch.where(pp <= threshold, pp * mx, pp * avg)
    return y, p
