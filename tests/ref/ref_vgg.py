"""VGG-16-1x1 / FACS-VGG-16 references for tests/test_vgg.c.

Models (weights under /<model>/model/<state_dict key with '.' -> '/'>), the
twin of vgg_torch.py at width 0.25 with 10 classes and randomised BN affine
parameters and statistics (resnet_torch.randomise):
  v2  vgg16_1x1_r2;
  v4  vgg16_1x1_r4, whose weights every FACS case loads (a FACS net takes
      the plain net's checkpoint strictly).
x is a (2, 3, 32, 32) batch: five pools leave 1x1, and block 5 sees 2x2
maps, so train-mode BN statistics there come from 8 values per channel.
Cases (/<case>) as in ref_resnet.py: grad_output, output, grad_x, grad/<key>
for every parameter PyTorch gives a gradient (the squeeze BNs of a FACS net
without post-BN get none), after/<key> running statistics in train mode,
and the case's own nudged BN biases under bias/ (vgg_torch.calibrate). Each
tensor's attribute 'spread' is PyTorch's own NCHW vs channels_last
difference. Root attributes: <arch>_params, the twin's trainable count at
width 1 with 1000 classes."""
import copy

import torch

from common import put, setup
from facs_torch import THRESHOLD, WEIGHTED
from resnet_torch import randomise
from vgg_torch import VGG1x1, calibrate

CLASSES, BATCH, WIDTH = 10, 2, 0.25


def state(model):
    return {k: v for k, v in model.state_dict().items() if not k.endswith("num_batches_tracked")}


def forward_backward(model, x, training, grad_out=None, channels_last=False):
    model.train(training)
    x = x.clone()
    if channels_last:
        model, x = model.to(memory_format=torch.channels_last), x.contiguous(memory_format=torch.channels_last)
    x.requires_grad_(True)
    out = model(x)
    if grad_out is None:
        grad_out = torch.randn_like(out)
    out.backward(grad_out)
    return model, x, out, grad_out


def spread(a, b):
    return float((a - b).abs().max() / b.abs().max().clamp_min(1e-30))


def put_spread(g, name, value, other):
    put(g, name, value)
    g[name].attrs["spread"] = spread(other, value)


def run_case(f, case, model, model_name, x, training, **attrs):
    initial = copy.deepcopy(model)
    nudged = calibrate(initial, x, training)
    model, x, out, grad_out = forward_backward(copy.deepcopy(initial), x, training)
    other, x_cl, out_cl, _ = forward_backward(copy.deepcopy(initial), x.detach(), training, grad_out, True)
    g = f.create_group(case)
    g.attrs.update(model=model_name, training=int(training), nudged=nudged, **attrs)
    for key, p in initial.named_parameters():
        if key.endswith("bias"):
            put(g, "bias/" + key.replace(".", "/"), p)
    put(g, "grad_output", grad_out.view(*out.shape, 1, 1))
    put_spread(g, "output", out.detach().view(*out.shape, 1, 1), out_cl.detach().view(*out.shape, 1, 1))
    put_spread(g, "grad_x", x.grad, x_cl.grad)
    other_params = dict(other.named_parameters())
    for key, p in model.named_parameters():
        if p.grad is not None:
            put_spread(g, "grad/" + key.replace(".", "/"), p.grad, other_params[key].grad)
    if training:
        other_state = state(other)
        for key, value in state(model).items():
            if "running" in key:
                put_spread(g, "after/" + key.replace(".", "/"), value, other_state[key])


# A fixed draw by default (see ref_resnet.py): a near-tie in a random draw
# sends a gradient down another path in PyTorch than in C. Seeds 1, 3, 4, 5
# and 7 were checked clean; seeds 2 and 6 put the two largest values of a
# block-3 max-pool window within float32 rounding of each other (5e-9 and
# 7e-8 relative, in facs4_thr_eval), which no bias nudge can separate.
f = setup(default_seed=1)
x = torch.randn(BATCH, 3, 32, 32)
models = {"v2": randomise(VGG1x1(2, CLASSES, width=WIDTH)), "v4": randomise(VGG1x1(4, CLASSES, width=WIDTH))}
for name, model in models.items():
    for key, value in state(model).items():
        put(f, f"{name}/model/" + key.replace(".", "/"), value)
    put(f, f"{name}/x", x)


def facs_twin(fusion, post_bn=False):
    twin = VGG1x1(4, CLASSES, facs=True, fusion=fusion, threshold=0.5, post_bn=post_bn, width=WIDTH)
    twin.load_state_dict(models["v4"].state_dict())  # strict: same names and shapes
    return twin


for training in (False, True):
    mode = "train" if training else "eval"
    run_case(f, f"v2_{mode}", models["v2"], "v2", x, training)
    for fusion, fname in ((THRESHOLD, "thr"), (WEIGHTED, "wtd")):
        run_case(f, f"facs4_{fname}_{mode}", facs_twin(fusion), "v4", x, training, fusion=fusion, threshold=0.5)
# Post-BN in eval mode only, as in ref_resnet.py: in train mode a rounding
# flip of a threshold decision moves a 2-image batch's statistics.
run_case(f, "facs4_postbn_eval", facs_twin(THRESHOLD, True), "v4", x, False, fusion=THRESHOLD, threshold=0.5,
         post_bn=1)

for arch, reduction, use_facs in (("vgg16_1x1_r2", 2, False), ("vgg16_1x1_r4", 4, False),
                                  ("facs_vgg16_r2", 2, True), ("facs_vgg16_r4", 4, True)):
    f.attrs[f"{arch}_params"] = sum(p.numel() for p in VGG1x1(reduction, facs=use_facs).parameters())
