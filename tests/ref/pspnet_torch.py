"""A PyTorch twin of backbone/pspnet.h: hszhao/semseg's PSPNet (model/pspnet.py)
with its state_dict names, on either of two backbones:
  - torchvision's ResNet-50/101/152 (7x7 stem), dilated as semseg does it:
    every conv2 of layer3 (layer4) gets dilation = padding 2 (4) and stride 1,
    and downsample.0 stride 1 (output stride 8); output stride 16 dilates
    layer4 alone, by 2;
  - the twin of backbone/resnet.h (resnet_torch.py) for what torchvision
    lacks: ResNet-26, FACS-ResNets, width multipliers, the deep (v1c) stem.
semseg's own deep base is 64-64-128 wide with layer1 taking 128 channels;
the deep stem here is resnet.h's (base/2, base/2, base), under semseg's
names layer0.0, .1, .3, .4, .6, .7. semseg's heads are fixed at 2048
channels; here they scale with the width: PPM C -> C/4, cls 2C -> round(512
width), aux C/2 -> round(256 width), which is semseg's at width 1.

forward returns the main logits in eval mode and (main, aux) in training
mode, both upsampled (align_corners) to the input's size, which semseg does
for inputs of size 8k + 1 (its zoom_factor 8) and this twin for any size."""
import copy

import torch
import torch.nn as nn
import torch.nn.functional as F
import torchvision

from resnet_torch import keep_biases, nudge, nudge_features

BINS = (1, 2, 3, 6)


class PPM(nn.Module):
    """semseg's PPM: per bin, AdaptiveAvgPool2d, 1x1 conv (no bias), BN, ReLU;
    upsampled to the input size and concatenated after the input."""

    def __init__(self, in_dim, reduction_dim, bins):
        super().__init__()
        self.features = nn.ModuleList(
            nn.Sequential(nn.AdaptiveAvgPool2d(b), nn.Conv2d(in_dim, reduction_dim, 1, bias=False),
                          nn.BatchNorm2d(reduction_dim), nn.ReLU(inplace=True)) for b in bins)

    def forward(self, x):
        out = [x]
        for f in self.features:
            out.append(F.interpolate(f(x), x.shape[2:], mode="bilinear", align_corners=True))
        return torch.cat(out, 1)


def dilate(layer, dilation):
    """semseg's loop: conv2 of every block dilated (padding = dilation), stride
    1; the shortcut's downsample.0 stride 1."""
    for n, m in layer.named_modules():
        if "conv2" in n:
            m.dilation, m.padding, m.stride = (dilation, dilation), (dilation, dilation), (1, 1)
        elif "downsample.0" in n:
            m.stride = (1, 1)


def torchvision_backbone(depth, output_stride=8):
    """torchvision.models.resnet<depth>, dilated as semseg does for output stride 8 (16: layer4 only, by 2)."""
    net = getattr(torchvision.models, f"resnet{depth}")()
    if output_stride == 8:
        dilate(net.layer3, 2)
        dilate(net.layer4, 4)
    else:
        dilate(net.layer4, 2)
    return net


def head(in_dim, mid, classes, dropout):
    return nn.Sequential(nn.Conv2d(in_dim, mid, 3, padding=1, bias=False), nn.BatchNorm2d(mid), nn.ReLU(inplace=True),
                         nn.Dropout2d(p=dropout), nn.Conv2d(mid, classes, 1))


class PSPNet(nn.Module):
    def __init__(self, backbone, classes, width=1.0, dropout=0.1):
        """backbone: a ResNet (torchvision's or resnet_torch.ResNet) already at
        its output stride; its fc, if any, is left out. Heads keep PyTorch's
        default initialisation, as in semseg."""
        super().__init__()
        if isinstance(backbone.conv1, nn.Sequential):  # the deep stem: semseg's layer0 indices
            c = backbone.conv1
            self.layer0 = nn.Sequential(c[0], c[1], nn.ReLU(inplace=True), c[3], c[4], nn.ReLU(inplace=True), c[6],
                                        backbone.bn1, nn.ReLU(inplace=True), nn.MaxPool2d(3, 2, 1))
        else:
            self.layer0 = nn.Sequential(backbone.conv1, backbone.bn1, nn.ReLU(inplace=True), nn.MaxPool2d(3, 2, 1))
        self.layer1, self.layer2, self.layer3, self.layer4 = (backbone.layer1, backbone.layer2, backbone.layer3,
                                                              backbone.layer4)
        fea_dim = self.layer4[-1].conv3.out_channels
        aux_dim = self.layer3[-1].conv3.out_channels
        self.ppm = PPM(fea_dim, fea_dim // len(BINS), BINS)
        self.cls = head(2 * fea_dim, max(1, round(512 * width)), classes, dropout)
        self.aux = head(aux_dim, max(1, round(256 * width)), classes, dropout)

    def trunk(self):
        """The backbone as resnet_torch.nudge_features walks it (conv1, bn1,
        layer1..4), sharing this model's modules."""
        t = nn.Module()
        l0 = self.layer0
        if len(l0) > 4:
            t.conv1 = nn.Sequential(l0[0], l0[1], nn.ReLU(), l0[3], l0[4], nn.ReLU(), l0[6])
            t.bn1 = l0[7]
        else:
            t.conv1, t.bn1 = l0[0], l0[1]
        for s in range(1, 5):
            setattr(t, f"layer{s}", getattr(self, f"layer{s}"))
        return t

    def forward(self, x):
        size = x.shape[2:]
        x = self.layer0(x)
        x = self.layer1(x)
        x = self.layer2(x)
        x_tmp = self.layer3(x)
        x = self.layer4(x_tmp)
        x = self.cls(self.ppm(x))
        x = F.interpolate(x, size=size, mode="bilinear", align_corners=True)
        if not self.training:
            return x
        aux = F.interpolate(self.aux(x_tmp), size=size, mode="bilinear", align_corners=True)
        return x, aux


def separate_bin1(conv, f, floor=0.1):
    """Training mode with 2 images gives the 1x1 bin's BN (ppm.features.0.2)
    two values a, b per channel, and image 0's output gamma d / sqrt(d^2 +
    eps) + beta with d = (a - b) / 2: where |d| is near sqrt(eps) = 3e-3 it
    magnifies a difference of rounding in d up to 1 / sqrt(eps) = 316 times,
    so any two float32 implementations disagree there by 1e-3 (a property of
    a 2-image batch, not of either implementation). Moves each row of the
    bin's 1x1 conv weight (conv, float64) along the two images' pooled
    difference of the layer4 output f until |a - b| >= floor, where the
    magnification is below 0.1. Returns how many rows moved."""
    delta = F.adaptive_avg_pool2d(f, 1).flatten(1)
    delta = delta[0] - delta[1]
    w = conv.weight.view(conv.out_channels, -1)
    d = w @ delta
    move = d.abs() < floor
    target = torch.where(d >= 0, floor, -floor)
    w[move] += (target - d)[move, None] * delta / delta.dot(delta)
    return int(move.sum())


def calibrate(model, x, training):
    """resnet_torch.calibrate for the whole PSPNet: one float64 pass that
    nudges every BN feeding a ReLU off the kink (backbone, each PPM bin, cls.1
    and, in training mode, aux.1); in training mode with 2 images it also
    separates the 1x1 bin's batch statistics (separate_bin1). The model keeps
    the nudged biases and the moved weight (model_case stores both with the
    case)."""
    probe = copy.deepcopy(model).double().train(training)
    with torch.no_grad():
        count, stages = nudge_features(probe.trunk(), x.double())
        f = stages[3]
        if training and x.shape[0] == 2:
            count += separate_bin1(probe.ppm.features[0][1], f)
        parts = [f]
        for stage in probe.ppm.features:
            pool, conv, bn, _ = stage
            y, n = nudge(bn(conv(pool(f))), bn)
            count += n
            parts.append(F.interpolate(F.relu(y), f.shape[2:], mode="bilinear", align_corners=True))
        _, n = nudge(probe.cls[1](probe.cls[0](torch.cat(parts, 1))), probe.cls[1])
        count += n
        if training:
            _, n = nudge(probe.aux[1](probe.aux[0](stages[2])), probe.aux[1])
            count += n
        model.ppm.features[0][1].weight.copy_(probe.ppm.features[0][1].weight.float())
    keep_biases(probe, model)
    return count
