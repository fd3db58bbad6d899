"""PyTorch twin of bench-models: the same whole networks, options, timing rule
(median of --runs after --warmup) and JSON on stdout, one configuration per
process so that the peak RSS is that configuration's.

ResNets are tests/ref/resnet_torch.py, the twin the tests hold our models to:
torchvision's bottleneck ResNet, and for facs_resnetXX the FACS op written
with torch ops (tests/ref/facs_torch.py), i.e. the reference implementation
of FACS in PyTorch, not a fused kernel. Tensors are channels_last, as in the
other twins. cpu_ms: the median process CPU time of a call, as in bench-models.
infer: model.eval() under torch.no_grad(), batch 1 then --batch.
train: forward, F.cross_entropy, backward, torch.optim.SGD (lr 0.1, Nesterov
momentum 0.9, weight decay 1e-4), zero_grad. Run with /usr/bin/python3."""
import argparse
import json
import os
import resource
import statistics
import sys
import time

here = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, here)
sys.path.insert(0, os.path.join(here, "..", "tests", "ref"))
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from resnet_torch import ResNet  # noqa: E402
from torch_timing import parse_args, timed  # noqa: E402

IMPLEMENTATION = ("tests/ref/resnet_torch.py: torchvision's bottleneck ResNet; FACS variants use the reference "
                  "FACS op written with torch ops (tests/ref/facs_torch.py); channels_last")


def max_rss_mib():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # KiB on Linux


def take_model_options():
    """Parses the options bench_models.c adds and leaves the common ones in
    sys.argv for torch_timing.parse_args."""
    parser = argparse.ArgumentParser(add_help=False)
    parser.add_argument("--mode", choices=["infer", "train"], default="infer")
    parser.add_argument("--arch", default="resnet50")
    parser.add_argument("--input-size", type=int, default=224)
    parser.add_argument("--classes", type=int, default=1000)
    parser.add_argument("--cifar-stem", action="store_true")
    mine, rest = parser.parse_known_args()
    sys.argv = sys.argv[:1] + rest
    return mine


def build(m):
    name = m.arch
    facs = name.startswith("facs_")
    depth = name[len("facs_resnet"):] if facs else name[len("resnet"):]
    if not name.startswith(("resnet", "facs_resnet")) or not depth.isdigit() or int(depth) not in (26, 50, 101, 152):
        sys.exit(f"bench_models_torch.py: --arch {name} has no PyTorch twin here "
                 "(ResNet 26/50/101/152, plain or facs_)")
    return ResNet(int(depth), m.classes, facs=facs, cifar_stem=m.cifar_stem).to(memory_format=torch.channels_last)


def state_mib(model, opt):
    tensors = list(model.parameters()) + list(model.buffers())
    tensors += [p.grad for p in model.parameters() if p.grad is not None]
    if opt is not None:
        tensors += [s["momentum_buffer"] for s in opt.state.values() if s.get("momentum_buffer") is not None]
    return sum(t.numel() * t.element_size() for t in tensors) / 1048576.0


def bench_batch(model, opt, m, args, n, rss_start):
    x = (torch.rand(n, 3, m.input_size, m.input_size) * 2 - 1).to(memory_format=torch.channels_last)
    labels = torch.randint(0, m.classes, (n,))

    def forward():
        with torch.no_grad():
            return model(x)

    def step():
        loss = F.cross_entropy(model(x), labels)
        loss.backward()
        opt.step()
        opt.zero_grad()

    cpu = []

    def cpu_timed(fn):
        """fn, recording its process CPU time (all threads), as bench-models' cpu_ms."""
        start = time.process_time()
        fn()
        cpu.append((time.process_time() - start) * 1e3)

    ms = timed(lambda: cpu_timed(step if opt else forward), args.warmup, args.runs)
    key = "step_ms" if opt else "forward_ms"
    print(f"{m.arch} @{m.input_size} b{n} {key[:-3]}: {ms:.1f} ms", file=sys.stderr)
    return {"name": f"{m.arch} @{m.input_size} b{n}", "arch": m.arch, "input_size": m.input_size, "batch": n,
            "classes": m.classes, "cifar_stem": int(m.cifar_stem), key: round(ms, 3),
            "cpu_ms": round(statistics.median(cpu[args.warmup:]), 3),
            "images_per_s": round(n * 1e3 / ms, 2), "state_mib": round(state_mib(model, opt), 1),
            "max_rss_mib": round(max_rss_mib(), 1), "rss_before_model_mib": round(rss_start, 1)}


def main():
    rss_start = max_rss_mib()
    m = take_model_options()
    args = parse_args(__doc__.splitlines()[0] + " Also: --mode infer|train, --arch A, --input-size S, "
                      "--classes K, --cifar-stem (as bench-models --help).")
    model = build(m)
    opt = None
    if m.mode == "train":
        model.train()
        opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9, nesterov=True, weight_decay=1e-4)
    else:
        model.eval()
    shapes = []
    if opt is None and args.batch > 1:
        shapes.append(bench_batch(model, None, m, args, 1, rss_start))
    shapes.append(bench_batch(model, opt, m, args, args.batch, rss_start))
    json.dump({"library": f"torch {torch.__version__}", "implementation": IMPLEMENTATION, "mode": m.mode,
               "threads": args.threads, "runs": args.runs, "warmup": args.warmup, "shapes": shapes},
              sys.stdout, indent=1)
    print()


if __name__ == "__main__":
    main()
