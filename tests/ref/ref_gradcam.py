"""GradCAM references for tests/test_gradcam.c and tests/gradcam_cli.sh: a
PyTorch GradCAM written from the formulas of eval/cam.h (pytorch-grad-cam's
conventions), torch autograd on the twin networks, in float64 from the
float32 weights.

Models (/<model>: weights under model/<key with '.' -> '/'>, input x (1, 3, H, W),
attributes width, classes, cifar_stem, output_stride):
  r26   ResNet-26 twin, width 0.25, CIFAR stem, 7 classes, 40 x 56 input (layer4 5 x 7);
  f50   FACS-ResNet-50 twin, width 0.25, 7 classes, 96 x 128 input (layer4 3 x 4);
  vgg   VGG-16-1x1 (R = 2) twin, width 0.25, 7 classes, 64 x 96 input;
  psp   PSPNet on the ResNet-26 twin, width 0.25, output stride 8, 5 classes,
        45 x 61 input (a segmentation target).
Random weights with randomised BN statistics (resnet_torch.randomise), BN
biases nudged off the ReLU kinks for the input (the twins' calibrate), so
that rounding cannot send a gradient down another path.

Cases /<model>/case<j>: attributes layer (as int32 character codes in the
dataset 'layer'), cls (asked: -1 = top-1), want_cls (the class explained),
score, probability, pixels; datasets activations and gradients (K, h, w),
mask (segmentation cases with a given mask), and for each method m of
gradcam, gradcam++, layercam: cam_raw/<m> (h, w) and cam/<m> (H, W).
/overlay: rgb (H, W, 3) bytes, cam (H, W) float32 and show_cam_on_image's
result 'want' (H, W, 3), computed as numpy does in float32.

With a second argument DIR, also the files of tests/gradcam_cli.sh in DIR:
r26.h5 (a model file: r26's weights with the model attributes), psp.h5 (the
same for psp, 19 classes), image.png (40 x 56 RGB), and cli_ref.h5, the
/cam and /cam_raw of GradCAM++ for image.png's top-1 class through r26 with
ImageNet normalisation."""
import copy
import os
import sys

import h5py
import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from common import put, setup
from model_case import put_model
import pspnet_torch
import resnet_torch
import vgg_torch
from pspnet_torch import PSPNet
from resnet_torch import ResNet, randomise
from vgg_torch import VGG1x1

METHODS = ("gradcam", "gradcam++", "layercam")
IMAGENET_MEAN, IMAGENET_STD = torch.tensor([0.485, 0.456, 0.406]), torch.tensor([0.229, 0.224, 0.225])


def raw_map(method, a, g):
    """The raw map (h, w) of activations a and gradients g (K, h, w)."""
    if method == "layercam":
        return (F.relu(g) * a).sum(0)
    if method == "gradcam":
        w = g.mean((1, 2))
    else:
        g2 = g * g
        alpha = g2 / (2 * g2 + a.sum((1, 2))[:, None, None] * g2 * g + 1e-6)
        alpha = torch.where(g != 0, alpha, torch.zeros_like(alpha))
        w = (F.relu(g) * alpha).sum((1, 2))
    return (w[:, None, None] * a).sum(0)


def min_max(c):
    c = F.relu(c)
    c = c - c.min()
    return c / (1e-7 + c.max())


def normalise(raw, size):
    c = F.interpolate(min_max(raw)[None, None], size=size, mode="bilinear", align_corners=False)[0, 0]
    return min_max(c)


def tapped_forward(model, x, layer):
    """The output of model and the activation at layer (retaining its gradient)."""
    store = {}
    module = dict(model.named_modules())[layer]

    def keep(y):
        y.retain_grad()
        store["a"] = y
        return y

    if isinstance(model, VGG1x1) and isinstance(module, nn.ReLU):
        # The twin applies BN + ReLU through bn_relu, not the ReLU module: tap it there.
        bn = model.features[int(layer.split(".")[1]) - 1]
        out = model(x, lambda v, m: keep(F.relu(m(v))) if m is bn else F.relu(m(v)))
    else:
        handle = module.register_forward_hook(lambda m, i, y: keep(y))
        out = model(x)
        handle.remove()
    return out, store["a"]


def explain(model, x, layer, cls=-1, mask=None):
    """PyTorch's pass for one target: (class, score, probability, pixels, A, G)."""
    model = copy.deepcopy(model).double().eval()
    out, a = tapped_forward(model, x.double(), layer)
    if out.dim() == 2:
        cls = int(out[0].argmax()) if cls < 0 else cls
        score, prob, pixels = out[0, cls], float(out[0].softmax(0)[cls]), 0
    else:
        pred = out[0].argmax(0)
        cls = int(torch.bincount(pred.flatten(), minlength=out.shape[1]).argmax()) if cls < 0 else cls
        sel = (pred == cls) if mask is None else mask.bool()
        score, pixels = (out[0, cls] * sel).sum(), int(sel.sum())
        prob = float(out[0].softmax(0)[cls][sel].mean()) if pixels else 0.0
    score.backward()
    return cls, float(score), prob, pixels, a[0].detach(), a.grad[0].detach()


def write_case(g, model, x, layer, cls=-1, mask=None):
    want, score, prob, pixels, a, grad = explain(model, x, layer, cls, mask)
    put(g, "layer", np.frombuffer(layer.encode(), dtype=np.uint8).astype(np.int32))
    g.attrs.update(cls=cls, want_cls=want, score=score, probability=prob, pixels=pixels)
    put(g, "activations", a)
    put(g, "gradients", grad)
    if mask is not None:
        put(g, "mask", mask.to(torch.int32))
    for m in METHODS:
        raw = raw_map(m, a, grad)
        put(g, f"cam_raw/{m}", raw)
        put(g, f"cam/{m}", normalise(raw, x.shape[2:]))
    return want


def overlay_reference(f):
    """show_cam_on_image(rgb / 255, cam, use_rgb=True) in numpy float32 on a
    map of 0s and 1s, whose JET colours colormap.h pins: entry 0 is (0, 0,
    128), entry 255 (128, 0, 0) (the whole table is test_colormap's)."""
    rgb = np.random.randint(0, 256, (9, 13, 3)).astype(np.uint8)
    cam = (np.random.rand(9, 13) > 0.5).astype(np.float32)
    jet = np.where(cam[..., None] > 0, np.uint8([128, 0, 0]), np.uint8([0, 0, 128]))
    mix = (1 - 0.5) * (np.float32(jet) / 255) + 0.5 * (np.float32(rgb) / 255)
    g = f.create_group("overlay")
    put(g, "rgb", rgb.astype(np.int32))
    put(g, "cam", cam)
    put(g, "want", np.uint8(255 * (mix / np.max(mix))).astype(np.int32))


def models():
    r26 = ResNet(26, 7, width=0.25, cifar_stem=True)
    f50 = ResNet(50, 7, facs=True, width=0.25)
    vgg = VGG1x1(2, 7, width=0.25)
    psp = PSPNet(ResNet(26, width=0.25, output_stride=8, no_head=True), 5, 0.25, dropout=0.0)
    return {
        "r26": (r26, resnet_torch.calibrate, (40, 56), dict(width=0.25, classes=7, cifar_stem=1, output_stride=32)),
        "f50": (f50, resnet_torch.calibrate, (96, 128), dict(width=0.25, classes=7, cifar_stem=0, output_stride=32)),
        "vgg": (vgg, vgg_torch.calibrate, (64, 96), dict(width=0.25, classes=7, cifar_stem=0, output_stride=32)),
        "psp": (psp, pspnet_torch.calibrate, (45, 61), dict(width=0.25, classes=5, cifar_stem=0, output_stride=8)),
    }


# Cases: (layer, class asked); "mask" asks for the second-ranked class over a rectangle.
CASES = {
    "r26": [("layer4.1", -1), ("layer4.1", 3), ("layer3.1", -1)],
    "f50": [("layer4.2", -1), ("layer3.5", 2)],
    "vgg": [("features.67", -1), ("features.66", 4)],
    "psp": [("layer4.1", -1), ("layer4.1", "mask")],
}


def mask_for(model, x):
    """A rectangle over the middle of the image, for the second-ranked class by predicted pixels."""
    with torch.no_grad():
        logits = copy.deepcopy(model).eval()(x)[0]
    cls = int(torch.bincount(logits.argmax(0).flatten(), minlength=logits.shape[0]).argsort(descending=True)[1])
    mask = torch.zeros(x.shape[2:], dtype=torch.int32)
    mask[x.shape[2] // 4:3 * x.shape[2] // 4, x.shape[3] // 3:2 * x.shape[3] // 3] = 1
    return cls, mask


def save_model_file(path, model, attrs):
    """A model file (backbone/model_file.h) that facs-gradcam rebuilds the network from."""
    with h5py.File(path, "w") as out:
        out.attrs.update({"format": "facs-weights", "format_version": np.int64(1), **attrs})
        for key, value in model.state_dict().items():
            if not key.endswith("num_batches_tracked"):
                out.create_dataset("model/" + key.replace(".", "/"), data=value.numpy().astype(np.float32))


def cli_files(folder, r26):
    """gradcam_cli.sh's weights, image and expected maps (see the docstring)."""
    from PIL import Image
    rgb = np.random.randint(0, 256, (40, 56, 3)).astype(np.uint8)
    Image.fromarray(rgb).save(os.path.join(folder, "image.png"))
    x = ((torch.from_numpy(rgb).permute(2, 0, 1).float() / 255 - IMAGENET_MEAN[:, None, None]) /
         IMAGENET_STD[:, None, None])[None]
    save_model_file(os.path.join(folder, "r26.h5"), r26,
                    dict(architecture="resnet26", classes=np.int64(7), width=0.25, cifar_stem=np.int64(1)))
    cls, _, _, _, a, g = explain(r26, x, "layer4.1")
    raw = raw_map("gradcam++", a, g)
    with h5py.File(os.path.join(folder, "cli_ref.h5"), "w") as out:
        out.attrs["want_cls"] = cls
        put(out, "cam_raw", raw)
        put(out, "cam", normalise(raw, x.shape[2:]))
    psp = randomise(PSPNet(ResNet(26, width=0.25, output_stride=8, no_head=True), 19, 0.25, dropout=0.0))
    save_model_file(os.path.join(folder, "psp.h5"), psp,
                    dict(architecture="pspnet_resnet26", classes=np.int64(19), width=0.25, output_stride=np.int64(8),
                         deep_stem=np.int64(0)))


def main():
    f = setup(default_seed=1)
    for name, (model, calibrate, size, attrs) in models().items():
        randomise(model)
        x = torch.randn(1, 3, *size)
        calibrate(model, x, False)
        put_model(f, name, model, x)
        f[name].attrs.update(attrs)
        for j, (layer, cls) in enumerate(CASES[name]):
            mask = None
            if cls == "mask":
                cls, mask = mask_for(model, x)
            write_case(f.create_group(f"{name}/case{j}"), model, x, layer, cls, mask)
        if name == "r26" and len(sys.argv) > 2:
            cli_files(sys.argv[2], model)
    overlay_reference(f)


if __name__ == "__main__":
    main()
