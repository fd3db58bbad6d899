"""PyTorch twin of bench-gradcam: one GradCAM map of the ResNet twin
(bench_models_torch.py's, channels_last, eval mode) written from the formulas
of tests/ref/ref_gradcam.py, beside one forward under torch.no_grad(). To do
the same work as ours, the parameters do not require gradients and the tapped
activation is detached into a leaf that does, so autograd stops at the tap (as
pytorch-grad-cam would with frozen parameters); the map is taken of the top-1
class. The same options, timing rule and JSON as bench-gradcam; run with
/usr/bin/python3."""
import argparse
import os
import sys

here = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, here)
sys.path.insert(0, os.path.join(here, "..", "tests", "ref"))
import torch  # noqa: E402
from bench_models_torch import RESNET, build, input_size, max_rss_mib  # noqa: E402
from ref_gradcam import normalise, raw_map  # noqa: E402
from torch_timing import parse_args, print_result, timed  # noqa: E402


def take_cam_options():
    parser = argparse.ArgumentParser(add_help=False)
    parser.add_argument("--arch", default="resnet50")
    parser.add_argument("--input-size", type=input_size, default=(224, 224))
    parser.add_argument("--method", choices=["gradcam", "gradcam++", "layercam"], default="gradcam")
    mine, rest = parser.parse_known_args()
    sys.argv = sys.argv[:1] + rest
    return mine


def main():
    c = take_cam_options()
    args = parse_args(__doc__.splitlines()[0])
    model = build(argparse.Namespace(arch=c.arch, segmentation=False, classes=1000, cifar_stem=False)).eval()
    for p in model.parameters():
        p.requires_grad_(False)
    layer = f"layer4.{len(model.layer4) - 1}"
    tap = dict(model.named_modules())[layer]
    x = (torch.rand(1, 3, *c.input_size) * 2 - 1).to(memory_format=torch.channels_last)
    store = {}

    def leaf(module, inputs, y):
        store["a"] = y.detach().requires_grad_(True)
        return store["a"]

    tap.register_forward_hook(leaf)

    def one_map():
        out = model(x)
        score = out[0, int(out[0].argmax())]
        (g,) = torch.autograd.grad(score, store["a"])
        with torch.no_grad():
            return normalise(raw_map(c.method, store["a"][0], g[0]), c.input_size)

    def one_forward():
        with torch.no_grad():
            return model(x)

    map_ms = timed(one_map, args.warmup, args.runs)
    forward_ms = timed(one_forward, args.warmup, args.runs)
    h, w = c.input_size
    name = f"{c.arch} @{h}x{w} {c.method} at {layer}"
    print(f"{name}: map {map_ms:.1f} ms, forward {forward_ms:.1f} ms", file=sys.stderr)
    shape = {"name": name, "mode": "gradcam", "arch": c.arch, "input_h": h, "input_w": w, "batch": 1,
             "method": c.method, "layer": layer, "map_ms": round(map_ms, 3), "forward_ms": round(forward_ms, 3),
             "map_over_forward": round(map_ms / forward_ms, 3), "max_rss_mib": round(max_rss_mib(), 1)}
    print_result(RESNET + "; GradCAM of tests/ref/ref_gradcam.py", "gradcam", args, [shape])


if __name__ == "__main__":
    main()
