"""PyTorch on the same GPU, the reference of bench/run_bench.sh gpu.

ResNet-50 is torchvision.models.resnet50 (tests/ref/resnet_torch.py's twin
when torchvision is missing); FACS-ResNet-50 is tests/ref/resnet_torch.py with
the reference FACS op written with torch ops (tests/ref/facs_torch.py), not a
fused kernel. fp32 against fp32: TF32 is off for cuDNN and matmuls; model and
inputs channels_last (NHWC, as our tensors). --variant fast lets cuDNN
benchmark its algorithms (cudnn.benchmark, what a PyTorch user runs);
--variant deterministic asks for deterministic cuDNN algorithms without
benchmarking, as our backend picks them.

Per architecture: eval mode under torch.inference_mode at each of --batches
(forward_ms, images_per_s), then one SGD training step at --train-batch
(forward, cross-entropy, backward, SGD with Nesterov momentum 0.9 and weight
decay 1e-4, zero_grad; step_ms), with the peak of
torch.cuda.max_memory_allocated per shape. Timing as bench-models on a GPU:
--warmup single calls each ending with a synchronize, then --runs samples of
`calls` back-to-back calls and one synchronize (calls: as many as take about
25 ms after the warm-up, unless --iters), the median per call reported.

Exits 77 with a message when torch.cuda is unavailable (--device cpu runs the
same on the CPU, to try the script without a GPU). Prints JSON on stdout."""
import argparse
import json
import os
import sys

here = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(here, "..", "tests", "ref"))
from torch_gpu import Timer, configure, peak_mib, reset_peak, select_device  # noqa: E402  (before torch)

import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cuda", help="cuda (default), cuda:N or cpu")
    parser.add_argument("--variant", choices=["fast", "deterministic"], default="fast")
    parser.add_argument("--archs", default="resnet50,facs_resnet50", help="comma-separated: resnet50, facs_resnet50")
    parser.add_argument("--input-size", type=int, default=224)
    parser.add_argument("--batches", default="1,32,64", help="eval batches, comma-separated")
    parser.add_argument("--train-batch", type=int, default=32, help="0: no training step")
    parser.add_argument("--classes", type=int, default=1000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--iters", type=int, default=0, help="calls per timed sample (default: about 25 ms)")
    args = parser.parse_args()
    args.archs = [a for a in args.archs.split(",") if a]
    args.batches = [int(b) for b in args.batches.split(",") if b]
    for arch in args.archs:
        if arch not in ("resnet50", "facs_resnet50"):
            parser.error(f"--archs: {arch} is not resnet50 or facs_resnet50")
    return args


def build(arch, classes):
    """(model, implementation) on the CPU, channels_last."""
    if arch == "resnet50":
        try:
            import torchvision
            model = torchvision.models.resnet50(num_classes=classes)
            implementation = f"torchvision {torchvision.__version__} models.resnet50"
        except ImportError:
            from resnet_torch import ResNet
            model = ResNet(50, classes)
            implementation = "tests/ref/resnet_torch.py ResNet-50 (torchvision is not installed)"
    else:
        from resnet_torch import ResNet
        model = ResNet(50, classes, facs=True)
        implementation = "tests/ref/resnet_torch.py with the reference FACS op in torch ops (tests/ref/facs_torch.py)"
    return model.to(memory_format=torch.channels_last), implementation


def shape_entry(arch, implementation, mode, n, args, ms, calls, device):
    return {"name": f"{arch} @{args.input_size} b{n}", "mode": mode, "arch": arch, "implementation": implementation,
            "input_h": args.input_size, "input_w": args.input_size, "batch": n, "classes": args.classes,
            "step_ms" if mode == "train" else "forward_ms": round(ms, 3), "images_per_s": round(n * 1e3 / ms, 2),
            "calls_per_sample": calls, "max_allocated_mib": peak_mib(device)}


def bench_eval(arch, args, device, timer):
    model, implementation = build(arch, args.classes)
    model = model.to(device).eval()
    shapes = []
    for n in args.batches:
        x = (torch.rand(n, 3, args.input_size, args.input_size, device=device) * 2 - 1).contiguous(
            memory_format=torch.channels_last)
        reset_peak(device)

        def forward():
            with torch.inference_mode():
                return model(x)
        ms, calls = timer.median_ms(forward)
        shapes.append(shape_entry(arch, implementation, "infer", n, args, ms, calls, device))
        print(f"torch {args.variant} {arch} @{args.input_size} b{n} forward: {ms:.3f} ms ({calls} calls per sample)",
              file=sys.stderr)
    return shapes


def bench_train(arch, args, device, timer):
    model, implementation = build(arch, args.classes)
    model = model.to(device).train()
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9, nesterov=True, weight_decay=1e-4)
    n = args.train_batch
    x = (torch.rand(n, 3, args.input_size, args.input_size, device=device) * 2 - 1).contiguous(
        memory_format=torch.channels_last)
    labels = torch.randint(0, args.classes, (n,), device=device)
    losses = []

    def step():
        loss = F.cross_entropy(model(x), labels)
        loss.backward()
        opt.step()
        opt.zero_grad()
        if not losses:
            losses.append(float(loss))  # the initial weights' loss, read once (a sync) during the warm-up
    reset_peak(device)
    ms, calls = timer.median_ms(step)
    print(f"torch {args.variant} {arch} @{args.input_size} b{n} step: {ms:.3f} ms ({calls} calls per sample)",
          file=sys.stderr)
    shape = shape_entry(arch, implementation, "train", n, args, ms, calls, device)
    shape["first_loss"] = round(losses[0], 4) if losses else None
    return [shape]


def main():
    args = parse_args()
    device = select_device(args.device, "bench_gpu_torch.py")
    torch.manual_seed(1)
    settings = configure(args.variant)
    timer = Timer(device, args)
    shapes = []
    for arch in args.archs:
        shapes += bench_eval(arch, args, device, timer)
        if args.train_batch > 0:
            shapes += bench_train(arch, args, device, timer)
        if device.type == "cuda":
            torch.cuda.empty_cache()
    doc = {"library": f"torch {torch.__version__}", "device": str(device),
           "gpu": torch.cuda.get_device_name(device) if device.type == "cuda" else None,
           "cuda": torch.version.cuda, "variant": args.variant, "settings": settings, "runs": args.runs,
           "warmup": args.warmup, "shapes": shapes}
    json.dump(doc, sys.stdout, indent=1)
    print()


if __name__ == "__main__":
    main()
