"""What the PyTorch twins of the C benchmarks share: the timing rule and the
command line (the same options and defaults as bench_util.h)."""
import argparse
import json
import statistics
import sys
import time

import torch


def timed(fn, warmup, runs):
    """Median milliseconds of runs calls of fn after warmup untimed ones."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        times.append((time.perf_counter() - start) * 1e3)
    return statistics.median(times)


def parse_args(description, gpu=False):
    """--batch, --runs, --warmup, --threads; with gpu also --device, --variant
    and --iters (torch_gpu.py); sets torch's threads and seed."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    if gpu:
        parser.add_argument("--device", default="cpu", help="cpu (default), cuda or cuda:N")
        parser.add_argument("--variant", choices=["fast", "deterministic"], default="fast",
                            help="on a GPU: cudnn.benchmark, or deterministic cuDNN algorithms")
        parser.add_argument("--iters", type=int, default=0,
                            help="on a GPU: calls per timed sample (default: about 25 ms)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(1)
    return args


def print_result(implementation, mode, args, shapes, extra=None):
    """The JSON document of one run on stdout, as the C benchmarks print it;
    extra: more top-level keys (a variant's own)."""
    json.dump({"library": f"torch {torch.__version__}", "implementation": implementation, "mode": mode,
               "threads": args.threads, "runs": args.runs, "warmup": args.warmup, "shapes": shapes, **(extra or {})},
              sys.stdout, indent=1)
    print()
