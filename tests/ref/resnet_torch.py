"""A PyTorch twin of backbone/resnet.h: torchvision's bottleneck ResNet (v1.5)
with the same state_dict names, plus the options of the C model (FACS squeeze,
post-BN, width multiplier, CIFAR and deep stems, output stride, no head).
With facs=False and default options it is torchvision.models.resnetXX."""
import torch
import torch.nn as nn
import torch.nn.functional as F

from facs_torch import THRESHOLD, facs

BLOCKS = {26: [2, 2, 2, 2], 50: [3, 4, 6, 3], 101: [3, 4, 23, 3], 152: [3, 8, 36, 3]}


class Bottleneck(nn.Module):
    def __init__(self, inplanes, width, stride, dilation, opts):
        super().__init__()
        self.opts = opts
        self.conv1 = nn.Conv2d(inplanes, width, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(width)
        self.conv2 = nn.Conv2d(width, width, 3, stride, dilation, dilation, bias=False)
        self.bn2 = nn.BatchNorm2d(width)
        self.conv3 = nn.Conv2d(width, 4 * width, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(4 * width)
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
        else:
            y = F.relu(self.bn1(self.conv1(x)))
        y = F.relu(self.bn2(self.conv2(y)))
        y = self.bn3(self.conv3(y))
        shortcut = x if self.downsample is None else self.downsample(x)
        return F.relu(y + shortcut)


class ResNet(nn.Module):
    def __init__(self, depth=50, classes=1000, facs=False, fusion=THRESHOLD, threshold=0.5, post_bn=False,
                 width=1.0, cifar_stem=False, deep_stem=False, output_stride=32, no_head=False):
        super().__init__()
        opts = dict(facs=facs, fusion=fusion, threshold=threshold, post_bn=post_bn)
        base = max(1, int(round(64 * width)))
        self.cifar_stem, self.deep_stem, self.no_head = cifar_stem, deep_stem, no_head
        if deep_stem:
            half = max(1, base // 2)
            self.conv1 = nn.Sequential(nn.Conv2d(3, half, 3, 2, 1, bias=False), nn.BatchNorm2d(half), nn.ReLU(),
                                       nn.Conv2d(half, half, 3, 1, 1, bias=False), nn.BatchNorm2d(half), nn.ReLU(),
                                       nn.Conv2d(half, base, 3, 1, 1, bias=False))
        elif cifar_stem:
            self.conv1 = nn.Conv2d(3, base, 3, 1, 1, bias=False)
        else:
            self.conv1 = nn.Conv2d(3, base, 7, 2, 3, bias=False)
        self.bn1 = nn.BatchNorm2d(base)
        strides = {32: [1, 2, 2, 2], 16: [1, 2, 2, 1], 8: [1, 2, 1, 1]}[output_stride]
        dilations = {32: [1, 1, 1, 1], 16: [1, 1, 1, 2], 8: [1, 1, 2, 4]}[output_stride]
        inplanes = base
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
