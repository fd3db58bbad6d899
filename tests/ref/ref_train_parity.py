"""Ten SGD steps of the tiny FACS network (backbone/tinynet.h) in PyTorch:
conv, BN, ReLU, max-pool, FACS, residual add, global average pool, linear,
cross-entropy; SGD with Nesterov momentum, weight decay and a cosine schedule.
Writes the initial weights, the batches, the loss of each step and every
parameter and BN buffer after each step."""

import torch
import torch.nn as nn
import torch.nn.functional as F

from common import put, setup
from facs_torch import THRESHOLD, facs

STEPS, BATCH, IN_CH, SIZE, WIDTH, CLASSES = 10, 4, 3, 13, 16, 5
LR, MOMENTUM, WD = 0.1, 0.9, 1e-4

class TinyNet(nn.Module):
    def __init__(self):
        super().__init__()
        mid = WIDTH // 4
        self.conv1 = nn.Conv2d(IN_CH, WIDTH, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(WIDTH)
        self.block = nn.Module()
        self.block.conv1 = nn.Conv2d(WIDTH, mid, 1, bias=False)
        self.block.conv2 = nn.Conv2d(mid, mid, 3, padding=1, bias=False)
        self.block.bn2 = nn.BatchNorm2d(mid)
        self.block.conv3 = nn.Conv2d(mid, WIDTH, 1, bias=False)
        self.block.bn3 = nn.BatchNorm2d(WIDTH)
        self.fc = nn.Linear(WIDTH, CLASSES)
        for m in self.modules():
            if isinstance(m, nn.BatchNorm2d):
                # Non-trivial affine parameters, so their gradients matter from step one.
                nn.init.uniform_(m.weight, 0.5, 1.5)
                nn.init.uniform_(m.bias, -0.5, 0.5)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.bn1(self.conv1(x))), 3, 2, 1)
        w = self.block.conv1.weight.view(self.block.conv1.weight.shape[:2])
        y, _ = facs(x, w, None, THRESHOLD, 0.5)
        y = F.relu(self.block.bn2(self.block.conv2(y)))
        y = F.relu(self.block.bn3(self.block.conv3(y)) + x)
        return self.fc(F.adaptive_avg_pool2d(y, 1).flatten(1))

# A fixed draw by default, as ref_resnet.py: ten steps at lr 0.1 carry a
# rounding difference across ReLU, max-pool and FACS kinks into every later
# step, and about one clock seed in six drifts past the test's 1e-4 by step 7
# (seed 1796343528: 2.2e-4 in block.conv2.weight, 1.3e-6 at step 1), and
# seed 5 puts a value within rounding of a kink in step 0 (3e-3 at once).
# Seeds 1-4 and 6-8 were checked clean; FACS_TEST_SEED explores others by hand.
f = setup(default_seed=1)
net = TinyNet()
for key, value in net.state_dict().items():
    if not key.endswith("num_batches_tracked"):
        put(f, "init/" + key.replace(".", "/"), value)
opt = torch.optim.SGD(net.parameters(), lr=LR, momentum=MOMENTUM, nesterov=True, weight_decay=WD)
sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=STEPS)
f.attrs.update(steps=STEPS, lr=LR, momentum=MOMENTUM, weight_decay=WD, width=WIDTH, classes=CLASSES)
for step in range(STEPS):
    x = torch.randn(BATCH, IN_CH, SIZE, SIZE)
    labels = torch.randint(0, CLASSES, (BATCH,))
    put(f, f"batch{step}/x", x)
    put(f, f"batch{step}/labels", labels.int())
    loss = F.cross_entropy(net(x), labels)
    opt.zero_grad()
    loss.backward()
    opt.step()
    sched.step()
    put(f, f"batch{step}/loss", loss.reshape(1))
    for key, value in net.state_dict().items():
        if not key.endswith("num_batches_tracked"):
            put(f, f"step{step}/" + key.replace(".", "/"), value)
