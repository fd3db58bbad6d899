"""PyTorch twin of bench-models: the same whole networks, options, timing rule
(median of --runs after --warmup) and JSON on stdout, one configuration per
process so that the peak RSS is that configuration's.

ResNets are tests/ref/resnet_torch.py, the twin the tests hold our models to:
torchvision's bottleneck ResNet, and for facs_resnetXX the FACS op written
with torch ops (tests/ref/facs_torch.py), i.e. the reference implementation
of FACS in PyTorch, not a fused kernel. Tensors are channels_last, as in the
other twins. PSPNets (pspnet_<resnet>) are tests/ref/pspnet_torch.py:
semseg's PSPNet on torchvision's dilated ResNet-50/101/152, or on
resnet_torch.py's ResNet at output stride 8 for the others (FACS, ResNet-26),
dropout 0.1, 19 classes by default. cpu_ms: the median process CPU time of a
call, as in bench-models.
infer: model.eval() under torch.no_grad(), batch 1 then --batch.
--variant mkldnn (infer, ResNets): the same model through
torch.utils.mkldnn.to_mkldnn, fed x.to_mkldnn() (converted before timing);
the reference FACS op has no mkldnn kernels, so it runs on dense tensors
between conversions, as a user of to_mkldnn would have to run it.
train: forward, F.cross_entropy (PSPNet: per pixel, main + 0.4 x aux, ignore
index 255, as pspnet-train), backward, torch.optim.SGD (lr 0.1, Nesterov
momentum 0.9, weight decay 1e-4), zero_grad. Run with /usr/bin/python3."""
import argparse
import os
import re
import resource
import statistics
import sys
import time

here = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, here)
sys.path.insert(0, os.path.join(here, "..", "tests", "ref"))
import torch  # noqa: E402
import torch.nn as nn  # noqa: E402
import torch.nn.functional as F  # noqa: E402
import torch.utils.mkldnn  # noqa: E402
from pspnet_torch import PSPNet, torchvision_backbone  # noqa: E402
import resnet_torch  # noqa: E402
from facs_torch import facs  # noqa: E402
from resnet_torch import ResNet  # noqa: E402
from torch_timing import parse_args, print_result, timed  # noqa: E402

RESNET = ("tests/ref/resnet_torch.py: torchvision's bottleneck ResNet; FACS variants use the reference "
          "FACS op written with torch ops (tests/ref/facs_torch.py); channels_last")
PSPNET = ("tests/ref/pspnet_torch.py: semseg's PSPNet (dropout 0.1) on torchvision's ResNet-50/101/152 dilated to "
          "output stride 8, or on tests/ref/resnet_torch.py's ResNet at output stride 8 (ResNet-26; FACS variants "
          "with the reference FACS op written with torch ops); channels_last")
SEG_PREFIX = "pspnet_"
SEG_CLASSES = 19  # Cityscapes: PSPNet's default in backbone/pspnet.h
SEG_AUX_WEIGHT, SEG_IGNORE_INDEX = 0.4, 255  # pspnet-train's loss (semseg's recipe)
MKLDNN = "; run through torch.utils.mkldnn.to_mkldnn with x.to_mkldnn() (FACS ops on dense tensors between conversions)"


def max_rss_mib():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # KiB on Linux


def take_model_options():
    """Parses the options bench_models.c adds and leaves the common ones in
    sys.argv for torch_timing.parse_args."""
    parser = argparse.ArgumentParser(add_help=False)
    parser.add_argument("--mode", choices=["infer", "train"], default="infer")
    parser.add_argument("--arch", default="resnet50")
    parser.add_argument("--input-size", type=input_size, default=(224, 224))
    parser.add_argument("--classes", type=int, default=None)
    parser.add_argument("--cifar-stem", action="store_true")
    parser.add_argument("--variant", choices=["eager", "mkldnn"], default="eager")
    mine, rest = parser.parse_known_args()
    sys.argv = sys.argv[:1] + rest
    mine.segmentation = mine.arch.startswith(SEG_PREFIX)
    if mine.variant == "mkldnn" and (mine.mode != "infer" or mine.segmentation):
        sys.exit("bench_models_torch.py: --variant mkldnn is for --mode infer of the classification ResNets")
    if mine.classes is None:  # the architecture's default, as bench-models
        mine.classes = SEG_CLASSES if mine.segmentation else 1000
    return mine


def input_size(text):
    """--input-size: S (square) or HxW, height first, as bench-models."""
    sides = text.split("x")
    if len(sides) > 2 or not all(s.isdigit() and int(s) > 0 for s in sides):
        raise argparse.ArgumentTypeError(f"wants S or HxW (positive integers), got '{text}'")
    return int(sides[0]), int(sides[-1])


def size_label(m):
    """The input size in shape names, as bench-models: 224, or 512x1024 (HxW)."""
    h, w = m.input_size
    return f"{h}" if h == w else f"{h}x{w}"


def resnet_depth(name):
    """(depth, facs) of a ResNet name the twins cover, else None."""
    facs = name.startswith("facs_")
    depth = name[len("facs_resnet"):] if facs else name[len("resnet"):]
    if not name.startswith(("resnet", "facs_resnet")) or not depth.isdigit() or int(depth) not in (26, 50, 101, 152):
        return None
    return int(depth), facs


def build(m):
    backbone = resnet_depth(m.arch[len(SEG_PREFIX):] if m.segmentation else m.arch)
    if backbone is None:
        sys.exit(f"bench_models_torch.py: --arch {m.arch} has no PyTorch twin here "
                 "(ResNet 26/50/101/152, plain or facs_, optionally behind pspnet_)")
    depth, facs = backbone
    if not m.segmentation:
        model = ResNet(depth, m.classes, facs=facs, cifar_stem=m.cifar_stem)
    elif m.cifar_stem:
        sys.exit(f"bench_models_torch.py: --cifar-stem does not apply to {m.arch} (bench-models refuses it too)")
    else:
        # torchvision's backbone where it has one, as tests/ref/ref_pspnet.py; the C twin's otherwise.
        trunk = (torchvision_backbone(depth) if not facs and depth != 26
                 else ResNet(depth, facs=facs, output_stride=8, no_head=True))
        model = PSPNet(trunk, m.classes)
    return model.to(memory_format=torch.channels_last)


class SqueezeWeight(nn.Module):
    """A FACS block's conv1, whose weight the FACS op reads as a (C/R, C)
    matrix: hidden from to_mkldnn, which would turn it into an MkldnnConv2d
    with a blocked weight that cannot be viewed so."""

    def __init__(self, conv):
        super().__init__()
        self.weight = conv.weight


def facs_on_dense(x, w, b, fusion, threshold):
    """resnet_torch's FACS op for mkldnn inputs: the reference op is written
    with generic torch ops, which mkldnn tensors lack, so it runs on x made
    dense and hands its output back as mkldnn."""
    if not x.is_mkldnn:
        return facs(x, w, b, fusion, threshold)
    y, p = facs(x.to_dense(), w, b, fusion, threshold)
    return y.to_mkldnn(), p


def to_mkldnn(model):
    """The eval model through torch.utils.mkldnn.to_mkldnn (conv, BN and fc
    weights reordered once into oneDNN's layouts), FACS blocks included."""
    for block in model.modules():
        if isinstance(block, resnet_torch.Bottleneck) and block.opts["facs"]:
            block.conv1 = SqueezeWeight(block.conv1)
    resnet_torch.facs = facs_on_dense  # what Bottleneck.forward calls
    return torch.utils.mkldnn.to_mkldnn(model)


def cpu_capability():
    """The vector ISA of PyTorch's own (ATen) kernels, e.g. AVX2 (its oneDNN picks its own)."""
    found = re.search(r"CPU capability usage: (\S+)", torch.__config__.show())
    return found.group(1) if found else "unknown"


def train_loss(out, labels):
    """Cross-entropy; for PSPNet in training mode, whose forward gives (main,
    aux) logits, per pixel: main + 0.4 x aux, as pspnet-train."""
    if not isinstance(out, tuple):
        return F.cross_entropy(out, labels)
    main, aux = out
    return (F.cross_entropy(main, labels, ignore_index=SEG_IGNORE_INDEX)
            + SEG_AUX_WEIGHT * F.cross_entropy(aux, labels, ignore_index=SEG_IGNORE_INDEX))


def state_mib(model, opt):
    tensors = list(model.parameters()) + list(model.buffers())
    tensors += [p.grad for p in model.parameters() if p.grad is not None]
    if opt is not None:
        tensors += [s["momentum_buffer"] for s in opt.state.values() if s.get("momentum_buffer") is not None]
    return sum(t.numel() * t.element_size() for t in tensors) / 1048576.0


def bench_batch(model, opt, m, args, n, rss_start):
    x = (torch.rand(n, 3, *m.input_size) * 2 - 1).to(memory_format=torch.channels_last)
    if m.variant == "mkldnn":
        x = x.to_mkldnn()  # once, untimed: to_mkldnn's contract is mkldnn tensors in and out
    labels = torch.randint(0, m.classes, (n, *m.input_size) if m.segmentation else (n,))
    losses = []

    def forward():
        with torch.no_grad():
            return model(x)

    def step():
        loss = train_loss(model(x), labels)
        losses.append(loss.detach())  # read after the clock, as bench-models
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
    name = f"{m.arch} @{size_label(m)} b{n}"
    loss_text = f", losses {' '.join(f'{float(v):.4f}' for v in losses)}" if opt else ""
    print(f"{name} {key[:-3]}: {ms:.1f} ms{loss_text}", file=sys.stderr)
    shape = {"name": name, "mode": "train" if opt else "infer", "arch": m.arch, "input_h": m.input_size[0],
             "input_w": m.input_size[1], "batch": n, "classes": m.classes, "cifar_stem": int(m.cifar_stem),
             key: round(ms, 3), "cpu_ms": round(statistics.median(cpu[args.warmup:]), 3),
             "images_per_s": round(n * 1e3 / ms, 2)}
    if opt:
        shape["first_loss"] = round(float(losses[0]), 4)  # ln(classes) x (1 + aux weight) for PSPNet at init
    return dict(shape, state_mib=round(state_mib(model, opt), 1), max_rss_mib=round(max_rss_mib(), 1),
                rss_before_model_mib=round(rss_start, 1))


def main():
    rss_start = max_rss_mib()
    m = take_model_options()
    args = parse_args(__doc__.splitlines()[0] + " Also: --mode infer|train, --arch A, --input-size S|HxW, "
                      "--classes K, --cifar-stem (as bench-models --help), --variant eager|mkldnn (infer).")
    model = build(m)
    opt = None
    if m.mode == "train":
        model.train()
        opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9, nesterov=True, weight_decay=1e-4)
    else:
        model.eval()
    implementation, extra = PSPNET if m.segmentation else RESNET, {}
    if m.variant == "mkldnn":
        with torch.no_grad():
            model = to_mkldnn(model)
        implementation += MKLDNN
        extra = {"variant": m.variant, "cpu_capability": cpu_capability()}
    shapes = []
    if opt is None and args.batch > 1:
        shapes.append(bench_batch(model, None, m, args, 1, rss_start))
    shapes.append(bench_batch(model, opt, m, args, args.batch, rss_start))
    print_result(implementation, m.mode, args, shapes, extra)


if __name__ == "__main__":
    main()
