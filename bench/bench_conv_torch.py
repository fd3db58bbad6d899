"""PyTorch twin of bench-conv: F.conv2d on channels_last tensors, same shapes,
same timing rule, same JSON on stdout.

Forward is timed under no_grad (the op alone, as bench-conv times its
backend call); backward is torch.autograd.grad for x and w (data + weights)
through a retained graph. On the CPU each sample is one call (median of
--runs after --warmup); with --device cuda, fp32 without TF32 and the
--variant's cuDNN algorithm choice (fast: cudnn.benchmark, what a PyTorch
user runs; deterministic: deterministic algorithms, as our backend picks
them), samples of back-to-back calls ended by one synchronize (torch_gpu.py).
Exits 77 when --device cuda has no usable device. Run with Debian's
/usr/bin/python3 (or, on a GPU machine, a torch with CUDA)."""
import json
import sys

from torch_gpu import Timer, configure, select_device  # before torch: skips where there is none
from torch_timing import parse_args, timed

import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

# name, in channels, input size, out channels, kernel, stride (padding = kernel // 2)
LAYERS = [
    ("7x7/2 3->64 @224", 3, 224, 64, 7, 2),
    ("1x1 64->64 @56", 64, 56, 64, 1, 1),
    ("3x3 64->64 @56", 64, 56, 64, 3, 1),
    ("1x1 64->256 @56", 64, 56, 256, 1, 1),
    ("1x1 256->64 @56", 256, 56, 64, 1, 1),
    ("3x3/2 128 @56->28", 128, 56, 128, 3, 2),
    ("1x1 512->128 @28", 512, 28, 128, 1, 1),
    ("3x3 256->256 @14", 256, 14, 256, 3, 1),
    ("1x1 1024->256 @14", 1024, 14, 256, 1, 1),
    ("3x3 512->512 @7", 512, 7, 512, 3, 1),
    ("1x1 2048->512 @7", 2048, 7, 512, 1, 1),
]


def bench_layer(layer, args, device, median_ms):
    _, ci, size, co, k, stride = layer
    cl = torch.channels_last
    x = (torch.rand(args.batch, ci, size, size) * 2 - 1).to(device, memory_format=cl).requires_grad_()
    w = (torch.rand(co, ci, k, k) * 2 - 1).to(device, memory_format=cl).requires_grad_()

    def forward():
        with torch.no_grad():
            return F.conv2d(x, w, None, stride, k // 2)

    y = F.conv2d(x, w, None, stride, k // 2)
    dy = (torch.rand(y.shape) * 2 - 1).to(device, memory_format=cl)

    def backward():
        return torch.autograd.grad(y, (x, w), dy, retain_graph=True)

    fwd_ms, bwd_ms = median_ms(forward), median_ms(backward)
    out = (size + 2 * (k // 2) - k) // stride + 1
    gflop = 2.0 * args.batch * co * out * out * ci * k * k * 1e-9
    return fwd_ms, bwd_ms, gflop


def main():
    args = parse_args(__doc__.splitlines()[0], gpu=True)
    device = select_device(args.device, "bench_conv_torch.py")
    extra = {"device": str(device)}
    if device.type == "cuda":
        timer = Timer(device, args)
        extra.update(variant=args.variant, settings=configure(args.variant), gpu=torch.cuda.get_device_name(device))

        def median_ms(fn):
            return timer.median_ms(fn)[0]
    else:
        def median_ms(fn):
            return timed(fn, args.warmup, args.runs)
    shapes = []
    for layer in LAYERS:
        fwd_ms, bwd_ms, gflop = bench_layer(layer, args, device, median_ms)
        print(f"{layer[0]:20s} forward {fwd_ms:.3f} ms, backward {bwd_ms:.3f} ms", file=sys.stderr)
        shapes.append({
            "name": layer[0],
            "fwd_ms": round(fwd_ms, 3),
            "bwd_ms": round(bwd_ms, 3),
            "gflops_fwd": round(gflop / (fwd_ms * 1e-3), 1),
            "gflops_bwd": round(2 * gflop / (bwd_ms * 1e-3), 1),
        })
    json.dump({"library": f"torch {torch.__version__}", **extra, "batch": args.batch, "threads": args.threads,
               "runs": args.runs, "shapes": shapes}, sys.stdout, indent=1)
    print()


if __name__ == "__main__":
    main()
