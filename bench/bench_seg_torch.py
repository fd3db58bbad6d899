"""PyTorch twin of bench-seg: one random frame through the PSPNet twin
(tests/ref/pspnet_torch.py, as bench_models_torch.py builds it, channels_last,
eval mode under torch.no_grad()) by hszhao/semseg's test procedure: whole
(softmax over the frame, argmax) or slide (tests/pspnet_eval_ref.py's
scale_process: mean padding, windows of --crop every ceil(2/3 crop), softmax
averaged over overlaps, argmax), with --flip as its net_process. The same
options, timing rule and JSON as bench-seg; run with /usr/bin/python3."""
import argparse
import math
import os
import statistics
import sys
import time

here = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, here)
sys.path.insert(0, os.path.join(here, "..", "tests"))
import torch  # noqa: E402
from bench_models_torch import PSPNET, build, max_rss_mib  # noqa: E402
from pspnet_eval_ref import slide, whole  # noqa: E402
from torch_timing import parse_args, print_result  # noqa: E402


def take_seg_options():
    parser = argparse.ArgumentParser(add_help=False)
    parser.add_argument("--arch", default="pspnet_resnet50")
    parser.add_argument("--input-size", default="1024x2048")
    parser.add_argument("--seg-mode", choices=["whole", "slide"], default="whole")
    parser.add_argument("--crop", type=int, default=713)
    parser.add_argument("--flip", action="store_true")
    mine, rest = parser.parse_known_args()
    sys.argv = sys.argv[:1] + rest
    mine.height, mine.width = (int(v) for v in mine.input_size.split("x"))
    return mine


def main():
    s = take_seg_options()
    args = parse_args(__doc__.splitlines()[0])
    model = build(argparse.Namespace(arch=s.arch, segmentation=True, classes=19, cifar_stem=False)).eval()
    frame = torch.randint(0, 256, (1, 3, s.height, s.width)).float()
    mean = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)
    std = torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)
    stride = math.ceil(s.crop * 2 / 3)

    def predict():
        with torch.no_grad():
            x = ((frame / 255 - mean) / std).contiguous(memory_format=torch.channels_last)
            p = slide(model, x, s.crop, stride, s.flip) if s.seg_mode == "slide" else whole(model, x, s.flip)
            return p.argmax(1)

    name = f"{s.arch} @{s.height}x{s.width} {s.seg_mode}{' flip' if s.flip else ''}"
    times, cpu = [], []
    for i in range(-args.warmup, args.runs):
        t0, c0 = time.perf_counter(), time.process_time()
        predict()
        t1, c1 = time.perf_counter(), time.process_time()
        print(f"{name} {i}: {(t1 - t0) * 1e3:.1f} ms", file=sys.stderr)
        if i >= 0:
            times.append((t1 - t0) * 1e3)
            cpu.append((c1 - c0) * 1e3)
    ms = statistics.median(times)
    shape = {"name": name, "mode": "infer", "arch": s.arch, "input_h": s.height, "input_w": s.width, "batch": 1,
             "procedure": s.seg_mode, "crop": s.crop if s.seg_mode == "slide" else 0, "flip": int(s.flip),
             "forward_ms": round(ms, 3), "cpu_ms": round(statistics.median(cpu), 3),
             "images_per_s": round(1e3 / ms, 3), "max_rss_mib": round(max_rss_mib(), 1)}
    print_result(PSPNET + "; semseg's test procedure", "infer", args, [shape])


if __name__ == "__main__":
    main()
