"""PyTorch twin of bench-facs: the FACS op written with torch ops (the twin the
tests use, tests/ref/facs_torch.py) and the 1x1 squeeze conv, on channels_last
tensors, same shapes, timing rule and JSON keys. Run with /usr/bin/python3."""
import json
import os
import sys

import torch
import torch.nn.functional as F

here = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, here)
sys.path.insert(0, os.path.join(here, "..", "tests", "ref"))
from facs_torch import THRESHOLD, facs  # noqa: E402
from torch_timing import parse_args, timed  # noqa: E402

LAYERS = [("64->64 @56 (R=1)", 64, 64, 56), ("256->64 @56 (R=4)", 256, 64, 56),
          ("256->128 @56 (R=2)", 256, 128, 56), ("512->128 @28 (R=4)", 512, 128, 28),
          ("1024->256 @14 (R=4)", 1024, 256, 14), ("2048->512 @7 (R=4)", 2048, 512, 7)]


def bench(op, x, w, dy_shape, args):
    """Forward under no_grad; backward = grads of x and w through a retained graph."""
    def forward():
        with torch.no_grad():
            return op(x, w)
    y = op(x, w)
    dy = (torch.rand(dy_shape) * 2 - 1).to(memory_format=torch.channels_last)

    def backward():
        return torch.autograd.grad(y, (x, w), dy, retain_graph=True)
    return timed(forward, args.warmup, args.runs), timed(backward, args.warmup, args.runs)


def main():
    args = parse_args(__doc__.splitlines()[0])
    shapes = []
    for name, ci, co, size in LAYERS:
        cl = torch.channels_last
        x = (torch.rand(args.batch, ci, size, size) * 2 - 1).to(memory_format=cl).requires_grad_()
        w = (torch.rand(co, ci, 1, 1) * 2 - 1).to(memory_format=cl).requires_grad_()
        out = (args.batch, co, size, size)
        facs_fwd, facs_bwd = bench(lambda a, b: facs(a, b.view(co, ci), None, THRESHOLD, 0.5)[0], x, w, out, args)
        conv_fwd, conv_bwd = bench(lambda a, b: F.conv2d(a, b), x, w, out, args)
        print(f"{name:22s} FACS {facs_fwd:.2f} + {facs_bwd:.2f} ms, 1x1 conv {conv_fwd:.2f} + {conv_bwd:.2f} ms",
              file=sys.stderr)
        shapes.append({"name": name, "facs_fwd_ms": round(facs_fwd, 3), "facs_bwd_ms": round(facs_bwd, 3),
                       "conv_fwd_ms": round(conv_fwd, 3), "conv_bwd_ms": round(conv_bwd, 3)})
    json.dump({"library": f"torch {torch.__version__}", "batch": args.batch, "threads": args.threads,
               "runs": args.runs, "shapes": shapes}, sys.stdout, indent=1)
    print()


if __name__ == "__main__":
    main()
