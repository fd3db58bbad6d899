"""PyTorch twin of bench-parallel: one data-parallel SGD step of the same
classifier (bench_models_torch.build: tests/ref/resnet_torch.py's ResNet,
channels_last) in --ranks processes, DistributedDataParallel over gloo (its CPU
transport: bucketed all-reduces overlapping backward, as ours), the global
--batch split over the ranks, torch.optim.SGD as bench-parallel's (lr 0.01,
momentum 0.9, weight decay 1e-4). Prints rank 0's JSON on stdout: step_ms, the
median of --runs steps after --warmup. With --ranks 1: the plain model, no DDP.
Run with /usr/bin/python3."""
import argparse
import json
import os
import socket
import statistics
import sys
import tempfile
import time

here = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, here)
sys.path.insert(0, os.path.join(here, "..", "tests", "ref"))

import torch  # noqa: E402
import torch.distributed as dist  # noqa: E402
import torch.multiprocessing as mp  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from bench_models_torch import build  # noqa: E402


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def worker(rank, args, port, out_path):
    torch.set_num_threads(args.threads)
    torch.manual_seed(1)
    if args.ranks > 1:
        dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank, world_size=args.ranks)
    spec = argparse.Namespace(arch=args.arch, classes=10 if args.cifar_stem else 1000, cifar_stem=args.cifar_stem,
                              segmentation=False)
    model = build(spec)
    if args.ranks > 1:
        # The reference FACS blocks hold parameters their training forward does not
        # use (DDP must be told, and then searches the graph every step).
        model = torch.nn.parallel.DistributedDataParallel(model, find_unused_parameters=args.arch.startswith("facs_"))
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9, weight_decay=1e-4)
    n = args.batch // args.ranks
    gen = torch.Generator().manual_seed(1 + rank)
    x = (torch.rand(n, 3, args.input_size, args.input_size, generator=gen) * 2 - 1).to(
        memory_format=torch.channels_last)
    labels = torch.randint(0, spec.classes, (n,), generator=gen)
    times = []
    for i in range(args.warmup + args.runs):
        start = time.perf_counter()
        loss = F.cross_entropy(model(x), labels)
        loss.backward()
        opt.step()
        opt.zero_grad()
        ms = (time.perf_counter() - start) * 1e3
        if i >= args.warmup:
            times.append(ms)
        if rank == 0:
            print(f"torch {args.arch} b{args.batch} on {args.ranks} ranks, step {i - args.warmup}: {ms:.1f} ms",
                  file=sys.stderr)
    if rank == 0:
        step_ms = statistics.median(times)
        json.dump({"library": f"torch {torch.__version__}", "implementation": "DistributedDataParallel (gloo)"
                   if args.ranks > 1 else "one process", "ranks": args.ranks, "threads": args.threads,
                   "arch": args.arch, "input_size": args.input_size, "cifar_stem": args.cifar_stem,
                   "batch": args.batch, "runs": args.runs, "warmup": args.warmup, "step_ms": round(step_ms, 3),
                   "images_per_s": round(args.batch * 1e3 / step_ms, 2)}, open(out_path, "w"), indent=1)
    if args.ranks > 1:
        dist.destroy_process_group()


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--arch", default="resnet50")
    parser.add_argument("--input-size", type=int, default=224)
    parser.add_argument("--cifar-stem", action="store_true")
    parser.add_argument("--ranks", type=int, default=1)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    if args.batch % args.ranks:
        sys.exit(f"bench_parallel_torch.py: --batch {args.batch} must split evenly over {args.ranks} ranks")
    with tempfile.TemporaryDirectory() as tmp:
        out_path = os.path.join(tmp, "result.json")
        mp.spawn(worker, args=(args, free_port(), out_path), nprocs=args.ranks)
        print(open(out_path).read())


if __name__ == "__main__":
    main()
