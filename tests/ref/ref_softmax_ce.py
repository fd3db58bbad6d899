"""PyTorch reference for softmax cross-entropy over channels:
F.cross_entropy(logits, labels, ignore_index=..., label_smoothing=...) with
reduction "mean", forward and backward."""
import torch
import torch.nn.functional as F

from common import put, setup

# (logits shape, ignore_index, fraction of ignored pixels, logit scale, loss
# gradient[, label smoothing])
CASES = [
    ((2, 19, 13, 17), 255, 0.2, 4.0, 1.0),   # Cityscapes-like segmentation
    ((3, 10, 7, 7), -100, 0.1, 4.0, 1.0),    # PyTorch's default ignore_index
    ((8, 10, 1, 1), -100, 0.0, 4.0, 1.0),    # CIFAR-10 classification batch
    ((5, 100, 1, 1), 255, 0.0, 4.0, 2.5),    # CIFAR-100, scaled loss
    ((1, 19, 60, 61), 255, 0.3, 4.0, 1.0),   # enough pixels for several threads
    ((2, 7, 5, 9), 255, 0.2, 60.0, 0.5),     # logits whose exp overflows float
    ((2, 4, 3, 5), 0, 0.0, 4.0, 1.0),        # an ignore_index inside [0, K)
    ((2, 5, 3, 4), 255, 1.0, 4.0, 1.0),      # every pixel ignored: NaN loss, zero gradient
    ((32, 10, 1, 1), -100, 0.0, 4.0, 1.0, 0.1),   # the ImageNet recipe's smoothing
    ((4, 1000, 1, 1), -100, 0.0, 8.0, 1.0, 0.1),  # ImageNet's 1000 classes
    ((2, 19, 13, 17), 255, 0.2, 4.0, 2.0, 0.3),   # smoothing with ignored pixels: mean over the valid ones
    ((2, 7, 5, 9), 255, 0.2, 60.0, 0.5, 0.05),    # far-off classes whose probabilities underflow
]

f = setup()
for index, (shape, ignore_index, ignored, scale, dloss, *smoothing) in enumerate(CASES):
    n, k, h, w = shape
    smoothing = smoothing[0] if smoothing else 0.0
    g = f.create_group(f"case{index}")
    g.attrs["ignore_index"] = ignore_index
    g.attrs["smoothing"] = smoothing
    g.attrs["dloss"] = dloss
    logits = ((torch.rand(shape) * 2 - 1) * scale).requires_grad_()
    labels = torch.randint(0, k, (n, h, w))
    labels[torch.rand(n, h, w) < ignored] = ignore_index
    loss = F.cross_entropy(logits, labels, ignore_index=ignore_index, label_smoothing=smoothing)
    loss.backward(torch.tensor(dloss))
    put(g, "logits", logits)
    put(g, "labels", labels.to(torch.int32))
    put(g, "loss", loss.reshape(1))
    put(g, "dlogits", logits.grad)
