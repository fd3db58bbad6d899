"""PyTorch reference for NaN and +/-Inf propagation through every CPU op,
forward and backward: inputs hold NaN, +Inf and -Inf, PyTorch's outputs and
gradients say where NaN and Inf must come out and what the finite values are.

Each group /case<k> holds attribute op (OPS below; the C test uses the same
numbers) and the op's options, the inputs x (and x2 for a second activation
input), parameters and buffers (w, b, gamma, beta, rm, rv), the output y, the
incoming gradient dy and the gradients d<name> of every input. Losses store
y and dy as (1, 1, 1, 1).

Max reductions follow PyTorch: max_pool2d routes to the last NaN of a window
(its `val > max || isnan(val)` scan); channel_pool and the FACS op's chunk max
are x.view(N, C/R, R, H, W).max(2), the FACS twin's reduction (facs_torch.py),
whose gradient goes to the first NaN (or first maximum) of a chunk."""
import torch
import torch.nn.functional as F

from common import put, setup
from facs_torch import THRESHOLD, WEIGHTED, facs

OPS = ["relu", "relu6", "sigmoid", "add", "maxpool", "avgpool", "adaptive_avgpool", "channel_pool", "facs",
       "batchnorm", "conv2d", "linear", "softmax_ce", "concat", "resize_bilinear", "scale_channels"]
NAN, INF = float("nan"), float("inf")

f = setup()
case = 0


def special(x, nan=0, pinf=0, ninf=0):
    """x with nan NaN, pinf +Inf and ninf -Inf at distinct random positions."""
    x = x.clone()
    flat = x.view(-1)
    idx = torch.randperm(flat.numel())
    k = 0
    for value, count in ((NAN, nan), (INF, pinf), (-INF, ninf)):
        flat[idx[k:k + count]] = value
        k += count
    return x


def emit(op, run, inputs, params=None, buffers=None, positive_dy=False, **attrs):
    """Runs run(**inputs, **params, **buffers), back-propagates a random dy
    (normal, or uniform in [0.5, 1.5)) and stores everything; buffers are
    stored before (name) and after (name1)."""
    global case
    params, buffers = params or {}, buffers or {}
    g = f.create_group(f"case{case}")
    g.attrs["op"] = OPS.index(op)
    for key, value in attrs.items():
        g.attrs[key] = value
    leaves = {k: v.clone().requires_grad_() for k, v in {**inputs, **params}.items()}
    for name, t in {**leaves, **buffers}.items():
        put(g, name, t.view(*t.shape, *[1] * (4 - t.dim())))
    bufs = {k: v.clone() for k, v in buffers.items()}
    y = run(**leaves, **bufs)
    dy = (torch.rand(y.shape) + 0.5 if positive_dy else torch.randn(y.shape)) if y.dim() else torch.tensor(1.5)
    y.backward(dy)
    put(g, "y", y.reshape(*y.shape, *[1] * (4 - y.dim())))
    put(g, "dy", dy.reshape(*dy.shape, *[1] * (4 - dy.dim())))
    for name, t in leaves.items():
        put(g, "d" + name, t.grad.view(*t.shape, *[1] * (4 - t.dim())))
    for name, t in bufs.items():
        put(g, name + "1", t)
    case += 1


def mixed(shape, scale=4.0, nan=3, pinf=2, ninf=2):
    return special(torch.randn(shape) * scale, nan, pinf, ninf)


# Elementwise: random NaN and +/-Inf, small and above the 32768-element
# parallel threshold; relu6 sees values beyond 6. PyTorch's relu6 backward at
# NaN is 0 in its vectorised loop but dy in the scalar tail (numel % 16 last
# elements): sizes that are multiples of 16 (and of 32 for the two-thread
# split of the large one) keep every element in the vectorised loop.


def relu6_nan_grad_is_zero():
    x = torch.full((64,), NAN).requires_grad_()
    F.relu6(x).backward(torch.ones(64))
    return bool((x.grad == 0).all())


assert relu6_nan_grad_is_zero(), "relu6's gradient at NaN is no longer 0: update elementwise.c"
for shape in [(2, 5, 8, 8), (2, 64, 16, 18)]:
    for op, fn in [("relu", F.relu), ("relu6", F.relu6), ("sigmoid", torch.sigmoid)]:
        emit(op, lambda x: fn(x), {"x": mixed(shape, nan=shape[1], pinf=shape[1], ninf=shape[1])})
# +Inf + -Inf at the same position is NaN.
a, b = mixed((2, 5, 7, 9)), torch.randn(2, 5, 7, 9)
b.view(-1)[:4] = torch.tensor([INF, -INF, NAN, 1.0])
a.view(-1)[:4] = torch.tensor([-INF, INF, 1.0, NAN])
emit("add", lambda x, x2: x + x2, {"x": a, "x2": b})
emit("concat", lambda x, x2: torch.cat([x, x2], 1), {"x": mixed((2, 3, 5, 6)), "x2": mixed((2, 4, 5, 6))})

# Pooling. Max: one 2x2 window [0:2, 0:2] with two NaN (the gradient goes to
# the last), a 3x3 block of -Inf (a window whose max is -Inf), random others;
# 70 channels span two of the backward's 64-channel blocks.
POOLS = [((3, 3), (2, 2), (1, 1), False), ((2, 2), (2, 2), (0, 0), False), ((2, 2), (2, 2), (0, 0), True),
         ((3, 3), (1, 1), (1, 1), True)]
for shape in [(2, 5, 13, 17), (1, 70, 9, 11)]:
    x = mixed(shape, nan=6, pinf=4, ninf=4)
    x[0, 0, 0, 0] = x[0, 0, 1, 1] = NAN
    x[0, 1, 4:7, 6:9] = -INF
    for kernel, stride, pad, ceil in POOLS:
        opts = dict(kh=kernel[0], kw=kernel[1], sh=stride[0], sw=stride[1], ph=pad[0], pw=pad[1], ceil=int(ceil))
        emit("maxpool", lambda x: F.max_pool2d(x, kernel, stride, pad, ceil_mode=ceil), {"x": x}, **opts)
        for cip in (True, False):  # ceil mode with cip runs the own loops, the rest oneDNN
            emit("avgpool", lambda x: F.avg_pool2d(x, kernel, stride, pad, ceil_mode=ceil, count_include_pad=cip),
                 {"x": x}, cip=int(cip), **opts)
for out in [(1, 1), (3, 4), (9, 7)]:
    emit("adaptive_avgpool", lambda x: F.adaptive_avg_pool2d(x, out), {"x": mixed((2, 6, 7, 9))})

# Channel pooling: chunks with two NaN, NaN next to -Inf, all -Inf, +Inf.
for r, mode in [(4, 0), (3, 0), (8, 0), (4, 1)]:
    n, c, h, w = 2, 24, 5, 6
    x = mixed((n, c, h, w), nan=4, pinf=3, ninf=3)
    x[0, 0:r, 0, 0] = -INF
    x[0, 1, 0, 1] = x[0, r - 1, 0, 1] = NAN
    x[0, 0, 0, 2], x[0, 1, 0, 2] = -INF, NAN
    co = c // r
    if mode == 0:
        run = lambda x: x.view(n, co, r, h, w).max(2).values  # noqa: E731
    else:
        run = lambda x: x.view(n, co, r, h, w).mean(2)  # noqa: E731
    emit("channel_pool", run, {"x": x}, out_channels=co, mode=mode)

# The FACS op through its PyTorch twin. A NaN pixel makes z, hence every p of
# its image, NaN. An infinite pixel makes z infinite, so p is 0 or 1 (the sign
# of the weight column decides): with p = 0 <= T the Max branch multiplies 0
# by each chunk max, with p = 1 > T the Avg branch takes the infinite mean.
# NaN in the squeeze weight makes that output's p NaN in every image.
# x > 0 and dy > 0 make dL/dp (a sum over pixels of dy times M, A or M - A)
# a sum of positive terms: without cancellation, float32 summation order
# keeps dW and db within the test's tolerance.


def facs_case(n, c, r, h, w, fusion, threshold, bias, x, wt):
    co = c // r
    b = torch.randn(co) if bias else None
    params = {"w": wt.view(co, c)}
    if bias:
        params["b"] = b

    def run(x, w, b=None):
        return facs(x, w, b, fusion, threshold)[0]

    emit("facs", run, {"x": x}, params, positive_dy=True, fusion=fusion, threshold=threshold, bias=int(bias), co=co)


def facs_inputs(n, c, r, h, w):
    x = torch.rand(n, c, h, w) + torch.rand(1, c, 1, 1) + 0.1
    wt = torch.randn(c // r, c) * 2 / c**0.5
    return x, wt


for n, c, r, h, w, fusion, threshold, bias in [(2, 12, 4, 5, 7, THRESHOLD, 0.5, True),
                                               (2, 12, 4, 5, 7, WEIGHTED, 0.0, False),
                                               (2, 16, 8, 6, 6, THRESHOLD, 0.5, False),
                                               (2, 9, 3, 5, 5, WEIGHTED, 0.0, True),
                                               (2, 5, 1, 4, 6, THRESHOLD, 0.5, True),
                                               # C/R >= 4 at R = 4 and 2: the CPU's vector dx path, 4 chunks at once
                                               (2, 20, 4, 5, 7, THRESHOLD, 0.5, True),
                                               (2, 16, 2, 5, 7, WEIGHTED, 0.0, False)]:
    # One NaN pixel in image 0: image 0 is NaN, image 1 is not.
    x, wt = facs_inputs(n, c, r, h, w)
    x[0, c - 1, 1, 2] = NAN
    facs_case(n, c, r, h, w, fusion, threshold, bias, x, wt)
    # -Inf in channel 0 of image 0 with a positive weight column: p = 0, for
    # threshold fusion the Max branch (0 * finite max = 0, the mean is -Inf).
    x, wt = facs_inputs(n, c, r, h, w)
    x[0, 0, 2, 3] = -INF
    wt[:, 0] = wt[:, 0].abs() + 0.1
    facs_case(n, c, r, h, w, fusion, threshold, bias, x, wt)
    # +Inf in image 1: a negative column gives p = 0 (0 * Inf max), a positive one p = 1 (Inf mean).
    for sign in (-1.0, 1.0):
        x, wt = facs_inputs(n, c, r, h, w)
        x[1, r - 1, 0, 0] = INF
        wt[:, r - 1] = sign * (wt[:, r - 1].abs() + 0.1)
        facs_case(n, c, r, h, w, fusion, threshold, bias, x, wt)
    # NaN in the squeeze weight of output 0.
    x, wt = facs_inputs(n, c, r, h, w)
    wt[0, c - 1] = NAN
    facs_case(n, c, r, h, w, fusion, threshold, bias, x, wt)

# Ties within chunks (x on a grid of quarters): the gradient goes to each
# chunk's first maximum, also in the CPU's 4-chunk vector path (C/R >= 4).
for n, c, r, h, w, fusion in [(2, 20, 4, 5, 7, THRESHOLD), (2, 16, 2, 5, 7, WEIGHTED), (2, 8, 1, 5, 7, THRESHOLD)]:
    x, wt = facs_inputs(n, c, r, h, w)
    x = torch.round(x * 4) / 4
    facs_case(n, c, r, h, w, fusion, 0.5, True, x, wt)

# BatchNorm, training and eval: random NaN / +-Inf land in a few channels.
for training in (True, False):
    for nan, pinf, ninf in [(2, 0, 0), (0, 1, 1)]:
        n, c, h, w = 3, 6, 5, 7
        x = special(torch.randn(n, c, h, w) * 2 + 1, nan, pinf, ninf)

        def run(x, gamma, beta, rm, rv):
            return F.batch_norm(x, rm, rv, gamma, beta, training=training, momentum=0.1, eps=1e-5)

        emit("batchnorm", run, {"x": x}, {"gamma": torch.rand(c) + 0.5, "beta": torch.randn(c)},
             {"rm": torch.randn(c) * 0.5, "rv": torch.rand(c) + 0.5}, training=int(training))

# Convolutions: 3x3 padded, strided, depthwise; NaN in a 1x1 weight (no padding).
for ci, co, k, stride, pad, groups in [(4, 6, 3, 1, 1, 1), (4, 6, 3, 2, 1, 1), (6, 6, 3, 1, 1, 6),
                                       (5, 3, 1, 1, 0, 1)]:
    x = mixed((2, ci, 8, 9), scale=1.0, nan=2, pinf=1, ninf=1)
    wt = torch.randn(co, ci // groups, k, k)
    bias = torch.randn(co)

    def run(x, w, b):
        return F.conv2d(x, w, b, stride, pad, 1, groups)

    emit("conv2d", run, {"x": x}, {"w": wt, "b": bias}, stride=stride, pad=pad, groups=groups)
wt = torch.randn(3, 5, 1, 1)
wt[1, 2] = NAN
emit("conv2d", lambda x, w, b: F.conv2d(x, w, b), {"x": torch.randn(2, 5, 6, 7)}, {"w": wt, "b": torch.randn(3)},
     stride=1, pad=0, groups=1)

# Linear on (N, IN) rows; NaN or Inf in an input, then in a weight.
x = mixed((4, 10), scale=1.0, nan=1, pinf=1, ninf=1)
emit("linear", lambda x, w, b: F.linear(x.view(4, 10), w, b), {"x": x}, {"w": torch.randn(7, 10), "b": torch.randn(7)})
wt = torch.randn(7, 10)
wt[2, 3], wt[5, 0] = NAN, INF
emit("linear", lambda x, w, b: F.linear(x.view(4, 10), w, b), {"x": torch.randn(4, 10)},
     {"w": wt, "b": torch.randn(7)})

# Softmax cross-entropy (mean over the valid pixels, ignore_index 255).


def emit_cross_entropy(logits, labels):
    global case
    g = f.create_group(f"case{case}")
    g.attrs["op"] = OPS.index("softmax_ce")
    g.attrs["ignore_index"] = 255
    put(g, "labels", labels.to(torch.int32).view(labels.shape[0], 1, *labels.shape[1:]))
    logits = logits.clone().requires_grad_()
    loss = F.cross_entropy(logits, labels, ignore_index=255)
    loss.backward(torch.tensor(1.5))
    put(g, "x", logits)
    put(g, "y", loss.reshape(1, 1, 1, 1))
    put(g, "dy", torch.tensor(1.5).reshape(1, 1, 1, 1))
    put(g, "dx", logits.grad)
    case += 1


# -Inf at a label (an infinite loss) and away from it (a zero probability).
n, k, h, w = 2, 5, 3, 4
labels = torch.randint(0, k, (n, h, w))
logits = torch.randn(n, k, h, w) * 3
logits[0, labels[0, 0, 2], 0, 2] = -INF
logits[0, (labels[0, 0, 3] + 1) % k, 0, 3] = -INF
emit_cross_entropy(logits, labels)
# Then a NaN logit, a +Inf logit and an all -Inf pixel, each at its own pixel,
# whose softmax is NaN throughout, and such a pixel that is ignored (its
# gradient is NaN too: log_softmax's backward multiplies 0 by NaN).
logits[0, 2, 0, 0] = NAN
logits[0, 1, 0, 1] = INF
logits[1, :, 1, 1] = -INF
logits[1, 0, 2, 2] = NAN
labels[1, 2, 2] = 255
emit_cross_entropy(logits, labels)

# Bilinear resize up, down, same size, both align_corners.
for (oh, ow) in [(11, 13), (3, 4), (6, 7)]:
    for align in (False, True):
        emit("resize_bilinear", lambda x: F.interpolate(x, size=(oh, ow), mode="bilinear", align_corners=align),
             {"x": mixed((2, 3, 6, 7), nan=2, pinf=2, ninf=2)}, align_corners=int(align))

# Squeeze-and-excitation scaling: specials in x and in the scale.
s = torch.rand(2, 5, 1, 1)
s[0, 1], s[1, 3] = NAN, INF
emit("scale_channels", lambda x, x2: x * x2, {"x": mixed((2, 5, 4, 6)), "x2": s})
