"""A PyTorch twin of backbone/mobilenet.h: torchvision's mobilenet_v2 with the
options of the C model. full=True makes every depthwise 3x3 conv a full one
(groups 1, same state_dict name); facs_proj=True replaces the projection conv.2
of every residual block with t = 6 by the FACS op with conv.2's weight, BN placed by
fusion_bn (NONE: conv.3 unused; PRE: no ReLU6 after the depthwise BN conv.1.1;
POST: conv.3 after the fusion). With full=False, facs=False it is
torchvision.models.mobilenet_v2 itself."""
import copy
import types

import torch
import torch.nn as nn
import torch.nn.functional as F
import torchvision

from facs_torch import THRESHOLD, facs
from resnet_torch import keep_biases, nudge

NONE, PRE, POST = 0, 1, 2


def facs_block_forward(self, x):
    """An InvertedResidual (t = 6, use_res_connect) with the FACS projection."""
    o = self.facs_opts
    expand, dw, project, project_bn = self.conv
    y = dw[1](dw[0](expand(x)))
    if o["fusion_bn"] != PRE:
        y = F.relu6(y)
    w = project.weight.view(project.weight.shape[:2])
    y, _ = facs(y, w, None, o["fusion"], o["threshold"])
    if o["fusion_bn"] == POST:
        y = project_bn(y)
    return x + y


def mobilenet_v2(classes=1000, width=1.0, dropout=0.2, full=False, facs_proj=False, fusion_bn=NONE,
                 fusion=THRESHOLD, threshold=0.5):
    model = torchvision.models.mobilenet_v2(num_classes=classes, width_mult=width, dropout=dropout)
    if full:
        for blk in model.features[1:18]:
            dw = blk.conv[0] if len(blk.conv) == 3 else blk.conv[1]
            old = dw[0]
            dw[0] = nn.Conv2d(old.in_channels, old.out_channels, 3, old.stride, 1, bias=False)
            nn.init.kaiming_normal_(dw[0].weight, mode="fan_out")
    if facs_proj:
        for blk in model.features[1:18]:
            if blk.use_res_connect and len(blk.conv) == 4:  # t = 6; width < 0.375 makes the t = 1 block residual
                blk.facs_opts = dict(fusion_bn=fusion_bn, fusion=fusion, threshold=threshold)
                blk.forward = types.MethodType(facs_block_forward, blk)
    return model


def calibrate(model, x, training):
    """One float64 forward pass that nudges every BN feeding a ReLU6 (each
    Conv2dNormActivation's BN, and in PRE blocks the depthwise BN feeding the
    fusion) off both kinks, 0 and 6, in forward order (hooks), so that each
    nudge sees the nudged layers before it. The model keeps the nudged biases;
    its running statistics are untouched. Returns how many channels moved."""
    probe = copy.deepcopy(model).double().train(training)
    count = 0

    def hook(bn, inputs, out):
        nonlocal count
        v, low = nudge(out, bn)
        v, high = nudge(v - 6, bn)
        count += low + high
        return v + 6

    for m in probe.modules():
        if isinstance(m, nn.Sequential) and len(m) == 3 and isinstance(m[2], nn.ReLU6):
            m[1].register_forward_hook(hook)
    with torch.no_grad():
        probe(x.double())
    keep_biases(probe, model)
    return count

