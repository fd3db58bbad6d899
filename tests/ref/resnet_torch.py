"""A PyTorch twin of backbone/resnet.h: torchvision's bottleneck ResNet (v1.5)
with the same state_dict names, plus the options of the C model (FACS squeeze,
post-BN, width multiplier, CIFAR and deep stems, output stride, no head,
squeeze-and-excitation with timm's names, depth-wise pooling squeeze).
With facs=False and default options it is torchvision.models.resnetXX."""
import copy

import torch
import torch.nn as nn
import torch.nn.functional as F

from facs_torch import THRESHOLD, facs

BLOCKS = {26: [2, 2, 2, 2], 50: [3, 4, 6, 3], 101: [3, 4, 23, 3], 152: [3, 8, 36, 3]}


class SqueezeExcite(nn.Module):
    """Hu et al. with r = 16, as timm's SEModule: fc1, fc2 are 1x1 convs with bias."""

    def __init__(self, channels):
        super().__init__()
        self.fc1 = nn.Conv2d(channels, max(1, channels // 16), 1)
        self.fc2 = nn.Conv2d(max(1, channels // 16), channels, 1)

    def scale(self, y):
        return torch.sigmoid(self.fc2(F.relu(self.fc1(y.mean((2, 3), keepdim=True)))))

    def forward(self, y):
        return y * self.scale(y)


def depthwise_pool(x, width):
    """DWP: the max over each group of R = C / width contiguous channels."""
    n, c, h, w = x.shape
    return x.view(n, width, c // width, h, w).amax(2)


class Bottleneck(nn.Module):
    def __init__(self, inplanes, width, stride, dilation, opts):
        super().__init__()
        self.opts = opts
        self.width = width
        if not opts.get("dwp"):
            self.conv1 = nn.Conv2d(inplanes, width, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(width)
        self.conv2 = nn.Conv2d(width, width, 3, stride, dilation, dilation, bias=False)
        self.bn2 = nn.BatchNorm2d(width)
        self.conv3 = nn.Conv2d(width, 4 * width, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(4 * width)
        self.se = SqueezeExcite(4 * width) if opts.get("se") else None
        self.downsample = None
        if stride != 1 or inplanes != 4 * width:
            self.downsample = nn.Sequential(nn.Conv2d(inplanes, 4 * width, 1, stride, bias=False),
                                            nn.BatchNorm2d(4 * width))

    def forward(self, x):
        o = self.opts
        if o["facs"]:
            w = self.conv1.weight.view(self.conv1.weight.shape[:2])
            y, _ = facs(x, w, None, o["fusion"], o["threshold"])
            if o["post_bn"]:
                y = F.relu(self.bn1(y))
        elif o.get("dwp"):
            y = F.relu(self.bn1(depthwise_pool(x, self.width)))
        else:
            y = F.relu(self.bn1(self.conv1(x)))
        y = F.relu(self.bn2(self.conv2(y)))
        y = self.bn3(self.conv3(y))
        if self.se is not None:
            y = self.se(y)
        shortcut = x if self.downsample is None else self.downsample(x)
        return F.relu(y + shortcut)


class ResNet(nn.Module):
    def __init__(self, depth=50, classes=1000, facs=False, fusion=THRESHOLD, threshold=0.5, post_bn=False,
                 width=1.0, cifar_stem=False, deep_stem=False, output_stride=32, no_head=False, se=False, dwp=False):
        super().__init__()
        opts = dict(facs=facs, fusion=fusion, threshold=threshold, post_bn=post_bn, se=se, dwp=dwp)
        base = max(1, int(round(64 * width)))
        self.cifar_stem, self.deep_stem, self.no_head = cifar_stem, deep_stem, no_head
        stem = base
        if deep_stem:
            # 1: ResNet-v1c (base/2, base/2, base); 2: semseg's deep base (base, base, 2 base), layer1 on 2 base.
            half = max(1, base // 2)
            a, stem = (base, 2 * base) if deep_stem == 2 else (half, base)
            self.conv1 = nn.Sequential(nn.Conv2d(3, a, 3, 2, 1, bias=False), nn.BatchNorm2d(a), nn.ReLU(),
                                       nn.Conv2d(a, a, 3, 1, 1, bias=False), nn.BatchNorm2d(a), nn.ReLU(),
                                       nn.Conv2d(a, stem, 3, 1, 1, bias=False))
        elif cifar_stem:
            self.conv1 = nn.Conv2d(3, base, 3, 1, 1, bias=False)
        else:
            self.conv1 = nn.Conv2d(3, base, 7, 2, 3, bias=False)
        self.bn1 = nn.BatchNorm2d(stem)
        strides = {32: [1, 2, 2, 2], 16: [1, 2, 2, 1], 8: [1, 2, 1, 1]}[output_stride]
        dilations = {32: [1, 1, 1, 1], 16: [1, 1, 1, 2], 8: [1, 1, 2, 4]}[output_stride]
        inplanes = stem
        for s, count in enumerate(BLOCKS[depth]):
            blocks = []
            for i in range(count):
                blocks.append(Bottleneck(inplanes, base << s, strides[s] if i == 0 else 1, dilations[s], opts))
                inplanes = 4 * (base << s)
            setattr(self, f"layer{s + 1}", nn.Sequential(*blocks))
        if not no_head:
            self.fc = nn.Linear(inplanes, classes)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")

    def features(self, x):
        x = F.relu(self.bn1(self.conv1(x)))
        if not self.cifar_stem:
            x = F.max_pool2d(x, 3, 2, 1)
        x = self.layer3(self.layer2(self.layer1(x)))
        return self.layer4(x), x

    def forward(self, x):
        return self.fc(torch.flatten(F.adaptive_avg_pool2d(self.features(x)[0], 1), 1))


# Reference helpers: random BN state, and BN biases nudged off the ReLU kinks.


def randomise(model):
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.weight.uniform_(0.5, 1.5)
                m.bias.uniform_(-0.5, 0.5)
                m.running_mean.uniform_(-0.5, 0.5)
                m.running_var.uniform_(0.5, 2.0)
    return model


MARGIN = 1e-3


def nudge(v, bn):
    """Shifts bn's bias (any module with a per-channel bias) per channel until
    no value of v (the ReLU input that bn's output feeds, shape N, C, H, W)
    lies within MARGIN * max|v| of the kink; returns v shifted the same way.
    Both float32 implementations then take the same side of every ReLU:
    rounding (~1e-6) cannot flip one. What nudge_through(lambda t: v +
    t.view(1, -1, 1, 1), v, bn) computes, channel by channel: a shift of
    channel c moves only that channel's values."""
    a = v.detach().transpose(0, 1).reshape(v.shape[1], -1)
    d = MARGIN * float(a.abs().max())
    shifts = torch.zeros(v.shape[1], dtype=v.dtype)
    for c in torch.nonzero((a.abs() < d).any(1)).flatten().tolist():
        for k in range(1, 200):
            t = (k // 2 + 1) * 2.5 * d * (1 if k % 2 else -1)
            if bool(((a[c] + t).abs() >= d).all()):
                shifts[c] = t
                break
    with torch.no_grad():
        bn.bias += shifts.to(bn.bias.dtype)
    return v + shifts.view(1, -1, 1, 1), int((shifts != 0).sum())


def nudge_through(value, v, module, also_ok=lambda t: True):
    """nudge for a ReLU input value(t) that depends on a shift t (C,) of
    module's bias in any way; v = value(0). A shift is kept only when
    also_ok(t) holds as well (other ReLU inputs it moves stay clear)."""
    a = v.detach().transpose(0, 1).reshape(v.shape[1], -1)
    d = MARGIN * float(a.abs().max())
    shifts = torch.zeros(v.shape[1], dtype=v.dtype)
    for c in torch.nonzero((a.abs() < d).any(1)).flatten().tolist():
        for k in range(1, 200):
            t = shifts.clone()
            t[c] = (k // 2 + 1) * 2.5 * d * (1 if k % 2 else -1)
            if bool((value(t)[:, c].abs() >= d).all()) and also_ok(t):
                shifts[c] = t[c]
                break
    with torch.no_grad():
        module.bias += shifts.to(module.bias.dtype)
    return value(shifts), int((shifts != 0).sum())


def keep_biases(probe, model):
    """Copies every bias of probe (the float64 copy calibrate nudged) into
    model, whose other parameters and buffers stay as they are."""
    nudged = {k: p.float() for k, p in probe.named_parameters() if k.endswith("bias")}
    with torch.no_grad():
        for k, p in model.named_parameters():
            if k in nudged:
                p.copy_(nudged[k])


def calibrate(model, x, training):
    """One forward pass in float64 that nudges every BN feeding a ReLU
    (stem, bn1 and bn2 of each block, bn3 before the residual ReLU), in
    forward order, so each nudge sees the already nudged layers before it.
    The model keeps the nudged biases (each case stores its own under
    bias/), its running statistics are untouched. Returns how many moved."""
    probe = copy.deepcopy(model).double().train(training)
    with torch.no_grad():
        count, _ = nudge_features(probe, x.double())
    keep_biases(probe, model)
    return count


def nudge_features(probe, v):
    """calibrate's pass over a float64 probe (any module with conv1, bn1 and
    layer1..layer4 laid out as ResNet's, nudged in place) on the float64
    input v. Returns (how many biases moved, [layer1..layer4 outputs])."""
    bns = dict(probe.named_modules())
    count = 0

    def bn_relu(v, name):
        nonlocal count
        v, n = nudge(bns[name](v), bns[name])
        count += n
        return F.relu(v)

    stages = []
    if isinstance(probe.conv1, torch.nn.Sequential):
        v = bn_relu(probe.conv1[0](v), "conv1.1")
        v = bn_relu(probe.conv1[3](v), "conv1.4")
        v = probe.conv1[6](v)
    else:
        v = probe.conv1(v)
    v = bn_relu(v, "bn1")
    if not getattr(probe, "cifar_stem", False):
        v = F.max_pool2d(v, 3, 2, 1)
    for s in range(1, 5):
        for i, blk in enumerate(getattr(probe, f"layer{s}")):
            pre = f"layer{s}.{i}."
            opts = getattr(blk, "opts", {"facs": False})
            if opts["facs"]:
                w = blk.conv1.weight.view(blk.conv1.weight.shape[:2])
                y = facs(v, w, None, opts["fusion"], opts["threshold"])[0]
                if opts["post_bn"]:
                    y = bn_relu(y, pre + "bn1")
            elif opts.get("dwp"):
                y = bn_relu(depthwise_pool(v, blk.width), pre + "bn1")
            else:
                y = bn_relu(blk.conv1(v), pre + "bn1")
            y = bn_relu(blk.conv2(y), pre + "bn2")
            shortcut = v if blk.downsample is None else blk.downsample(v)
            y = blk.bn3(blk.conv3(y))
            if getattr(blk, "se", None) is None:
                y, n = nudge(y + shortcut, blk.bn3)
            else:
                # SE pools bn3's output, so a shift of bn3's bias moves
                # the whole excitation: recompute it for each candidate,
                # after fc1's ReLU inputs have been nudged clear, and
                # keep them clear.
                se = blk.se
                _, n = nudge(se.fc1(y.mean((2, 3), keepdim=True)), se.fc1)
                count += n

                def hidden(t):
                    return se.fc1((y + t.view(1, -1, 1, 1)).mean((2, 3), keepdim=True))

                def residual(t):
                    shifted = y + t.view(1, -1, 1, 1)
                    return shifted * torch.sigmoid(se.fc2(F.relu(hidden(t)))) + shortcut

                clear = MARGIN * float(hidden(torch.zeros(y.shape[1], dtype=y.dtype)).abs().max())
                y, n = nudge_through(residual, residual(torch.zeros(y.shape[1], dtype=y.dtype)), blk.bn3,
                                     lambda t: bool((hidden(t).abs() >= clear).all()))
            count += n
            v = F.relu(y)
        stages.append(v)
    return count, stages
