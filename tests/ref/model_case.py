"""What the whole-network references share (read by tests/model_parity.c):
the model's weights, and for each case the PyTorch run of a forward and
backward pass with everything the C test compares.

A case runs twice in float32: in PyTorch's default NCHW layout (the
reference) and in channels_last, which rounds differently (its convolutions
go through oneDNN in NHWC, like ours). A ReLU input, a max-pool or FACS max
tie that rounding puts on the other side of its kink changes the gradients
upstream of it by far more than rounding does: the model's calibrate moves
BN biases off the ReLU kinks first. Train-mode batch statistics of a
2-image batch amplify rounding as well: each output, gradient and running
statistic gets its NCHW-vs-channels_last difference as attribute 'spread',
which the C test uses to widen its train-mode tolerance where PyTorch
disagrees with itself by that much."""
import copy

import torch

from common import put


def state(model):
    return {k: v for k, v in model.state_dict().items() if not k.endswith("num_batches_tracked")}


def put_model(f, name, model, x):
    """/<name>/model/<key with '.' -> '/'> and the case input /<name>/x."""
    for key, value in state(model).items():
        put(f, f"{name}/model/" + key.replace(".", "/"), value)
    put(f, f"{name}/x", x)


def forward_backward(model, x, training, forward, grad_out=None, channels_last=False):
    model.train(training)
    x = x.clone()
    if channels_last:
        model, x = model.to(memory_format=torch.channels_last), x.contiguous(memory_format=torch.channels_last)
    x.requires_grad_(True)
    out = forward(model, x)
    if grad_out is None:
        grad_out = torch.randn_like(out)
    out.backward(grad_out)
    return model, x, out, grad_out


def spread(a, b, floor=0.0):
    return float((a - b).abs().max() / b.abs().max().clamp_min(max(floor, 1e-30)))


# In train mode the gradient of a BN bias whose output reaches only 1x1 convs
# followed by train-mode BN (MobileNet-v2's projection BNs) is zero in exact
# arithmetic: the batch mean cancels a per-channel constant. What both
# float32 runs give is rounding noise, relative to which any difference is
# 100%. Such a bias gradient (spread above NOISE) is compared on the scale of
# its layer's weight gradient instead: attribute 'floor' = max |grad weight|,
# the denominator of its error (tests/model_parity.h).
NOISE = 0.1


def as_nchw(t):
    """Logits (N, K) as (N, K, 1, 1); feature maps stay as they are."""
    return t.reshape(t.shape[0], -1, *t.shape[2:]) if t.dim() == 4 else t.reshape(*t.shape, 1, 1)


def run_case(f, case, model, model_name, x, training, calibrate, forward=lambda m, v: m(v), **attrs):
    """/<case>: attributes (model, training, nudged and attrs), the nudged
    biases (and any other tensor calibrate moved) under bias/, grad_output, output, grad_x, grad/<key> for every
    parameter PyTorch gives a gradient, after/<key> running statistics in
    train mode; calibrate(model, x, training) nudges the biases in place."""
    initial = copy.deepcopy(model)
    original = {k: p.detach().clone() for k, p in model.named_parameters()}
    nudged = calibrate(initial, x, training)
    model, x, out, grad_out = forward_backward(copy.deepcopy(initial), x, training, forward)
    other, x_cl, out_cl, _ = forward_backward(copy.deepcopy(initial), x.detach(), training, forward, grad_out, True)
    g = f.create_group(case)
    g.attrs.update(model=model_name, training=int(training), nudged=nudged, **attrs)
    # Every bias, and any other tensor calibrate changed (the C runner reads
    # /<case>/bias/<key> in place of the model's tensor wherever it exists).
    for key, p in initial.named_parameters():
        if key.endswith("bias") or not torch.equal(p, original[key]):
            put(g, "bias/" + key.replace(".", "/"), p)

    def put_spread(name, value, other_value):
        put(g, name, value)
        g[name].attrs["spread"] = spread(other_value, value)

    put(g, "grad_output", as_nchw(grad_out))
    put_spread("output", as_nchw(out.detach()), as_nchw(out_cl.detach()))
    put_spread("grad_x", x.grad, x_cl.grad)
    other_params, params = dict(other.named_parameters()), dict(model.named_parameters())
    for key, p in params.items():
        if p.grad is None:
            continue
        name = "grad/" + key.replace(".", "/")
        put_spread(name, p.grad, other_params[key].grad)
        weight = params.get(key[:-4] + "weight") if key.endswith(".bias") else None
        if training and weight is not None and weight.grad is not None and g[name].attrs["spread"] > NOISE:
            floor = float(weight.grad.abs().max())
            g[name].attrs["floor"] = floor
            g[name].attrs["spread"] = spread(other_params[key].grad, p.grad, floor)
    if training:
        other_state = state(other)
        for key, value in state(model).items():
            if "running" in key:
                put_spread("after/" + key.replace(".", "/"), value, other_state[key])
