"""A PyTorch twin of backbone/vgg.h: VGG-16 with BN and a 1x1 squeeze
(C -> C/R, BN, ReLU) before every 3x3 conv but the first of each block,
global average pool and one linear head; with facs=True each squeeze conv
is replaced by the FACS op using its weight (post_bn: the squeeze's BN and a
ReLU follow the fusion). State_dict names are those of backbone/vgg.c."""
import copy
import math

import torch
import torch.nn as nn
import torch.nn.functional as F

from facs_torch import THRESHOLD, facs
from resnet_torch import nudge

BLOCK_CONVS = [2, 2, 3, 3, 3]
BLOCK_CHANNELS = [64, 128, 256, 512, 512]


def default_bn_relu(v, bn):
    return F.relu(bn(v))


class VGG1x1(nn.Module):
    def __init__(self, reduction, classes=1000, facs=False, fusion=THRESHOLD, threshold=0.5, post_bn=False,
                 width=1.0):
        super().__init__()
        self.opts = dict(facs=facs, fusion=fusion, threshold=threshold, post_bn=post_bn)
        self.squeezes = set()  # indices in features of the squeeze convs
        layers, cin = [], 3
        for convs, base in zip(BLOCK_CONVS, BLOCK_CHANNELS):
            out = max(1, math.floor(base * width + 0.5))  # C's lround
            for i in range(convs):
                k_in = cin
                if i > 0:
                    k_in = cin // reduction
                    self.squeezes.add(len(layers))
                    layers += [nn.Conv2d(cin, k_in, 1, bias=False), nn.BatchNorm2d(k_in), nn.ReLU()]
                layers += [nn.Conv2d(k_in, out, 3, padding=1, bias=False), nn.BatchNorm2d(out), nn.ReLU()]
                cin = out
            layers.append(nn.MaxPool2d(2, 2))
        self.features = nn.Sequential(*layers)
        self.classifier = nn.Linear(cin, classes)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(m, nn.Linear):
                nn.init.normal_(m.weight, 0, 0.01)
                nn.init.zeros_(m.bias)

    def forward(self, x, bn_relu=default_bn_relu):
        """bn_relu(v, bn) applies each BN + ReLU pair; calibrate swaps it."""
        o, mods, i = self.opts, list(self.features), 0
        while i < len(mods):
            m = mods[i]
            if isinstance(m, nn.MaxPool2d):
                x, i = m(x), i + 1
                continue
            if i in self.squeezes and o["facs"]:
                x = facs(x, m.weight.view(m.weight.shape[:2]), None, o["fusion"], o["threshold"])[0]
                if o["post_bn"]:
                    x = bn_relu(x, mods[i + 1])
            else:
                x = bn_relu(m(x), mods[i + 1])
            i += 3
        return self.classifier(torch.flatten(F.adaptive_avg_pool2d(x, 1), 1))


def calibrate(model, x, training):
    """resnet_torch.calibrate for the twin: one float64 pass in which every BN
    feeding a ReLU gets its bias nudged off the kink (resnet_torch.nudge), in
    forward order; the model keeps the nudged biases. Returns how many
    channels moved."""
    probe = copy.deepcopy(model).double().train(training)
    count = 0

    def nudging_bn_relu(v, bn):
        nonlocal count
        v, n = nudge(bn(v), bn)
        count += n
        return F.relu(v)

    with torch.no_grad():
        probe(x.double(), nudging_bn_relu)
        nudged = {k: p.float() for k, p in probe.named_parameters() if k.endswith("bias")}
        for k, p in model.named_parameters():
            p.copy_(nudged.get(k, p))
    return count
