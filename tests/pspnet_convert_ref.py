"""PyTorch side of tests/pspnet_convert.sh: hszhao/semseg-style PSPNet
checkpoints of the twin (tests/ref/pspnet_torch.py) and PyTorch's results for
them, written into the folder given as argv[1].

  eval.pth     a bare state_dict: PSPNet on ResNet-26 at width 0.25, output
               stride 8, 5 classes, randomised BN affine parameters and
               statistics, BN biases calibrated for eval mode
  train.pth    what semseg's train.py saves: {'epoch', 'state_dict',
               'optimizer'}, keys prefixed 'module.' (DataParallel), in
               torch.save's format before PyTorch 1.6; the same
               network with semseg's deep base (as its released models) at
               output stride 16, calibrated for train mode
               (pspnet_torch.calibrate says why), dropout 0
  input.h5     /input (3, 3, 45, 61): sides that are neither 8k nor 8k + 1
  grad.h5      /grad_output and /grad_aux_output (3, 5, 45, 61)
  ref_eval.h5  /output in eval mode
  ref_train.h5 /output, /aux_output, /grad_input and /grad/<key> (zeros where
               PyTorch leaves a gradient None) in train mode, backward from
               both heads
  bad_aux.h5   /grad_output right, /grad_aux_output of the wrong height
All results are computed in float64 from the float32 weights. The seed is
fixed (FACS_TEST_SEED overrides it) so failures replay."""
import copy
import os
import sys

import torch

here = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(here, "ref"))
sys.path.insert(0, here)
from facs_run_ref import save  # noqa: E402
from pspnet_torch import PSPNet, calibrate  # noqa: E402
from resnet_torch import ResNet, randomise  # noqa: E402

# Three images: with two, train mode's 1x1 pyramid bin normalises two values
# per channel to +-1, whose gradient is rounding noise (pspnet_torch.separate_bin1).
CLASSES, N, H, W = 5, 3, 45, 61


def network(output_stride, deep_stem=0):
    backbone = ResNet(26, width=0.25, output_stride=output_stride, deep_stem=deep_stem, no_head=True)
    return randomise(PSPNet(backbone, CLASSES, width=0.25, dropout=0.0))


def calibrated(model, x, training):
    model = copy.deepcopy(model)
    calibrate(model, x, training)
    return model


def results(model, x, training, grads=None):
    """float64 outputs of model (and with grads, every gradient of sum <out, g>)."""
    model = copy.deepcopy(model).double().train(training)
    x = x.double().requires_grad_(grads is not None)
    outs = model(x)
    outs = outs if isinstance(outs, tuple) else (outs,)
    found = dict(zip(("output", "aux_output"), outs))
    if grads is None:
        return found
    sum(((o * g.double()).sum() for o, g in zip(outs, grads)), torch.zeros((), dtype=torch.float64)).backward()
    found["grad_input"] = x.grad
    for key, p in model.named_parameters():
        found["grad/" + key.replace(".", "/")] = p.grad if p.grad is not None else torch.zeros_like(p)
    return found


def main():
    folder = sys.argv[1]
    torch.manual_seed(int(os.environ.get("FACS_TEST_SEED", 1)))
    x = torch.randn(N, 3, H, W)
    grads = (torch.randn(N, CLASSES, H, W), torch.randn(N, CLASSES, H, W))

    model = calibrated(network(8), x, False)
    torch.save(model.state_dict(), os.path.join(folder, "eval.pth"))
    save(os.path.join(folder, "ref_eval.h5"), results(model, x, False))

    model = calibrated(network(16, deep_stem=2), x, True)
    checkpoint = {"epoch": 200, "state_dict": {"module." + k: v for k, v in model.state_dict().items()},
                  "optimizer": {"state": {}, "param_groups": [{"lr": 0.01, "momentum": 0.9}]}}
    # In the format before PyTorch 1.6, in which semseg's released checkpoints are.
    torch.save(checkpoint, os.path.join(folder, "train.pth"), _use_new_zipfile_serialization=False)
    save(os.path.join(folder, "ref_train.h5"), results(model, x, True, grads))

    save(os.path.join(folder, "input.h5"), {"input": x})
    save(os.path.join(folder, "grad.h5"), {"grad_output": grads[0], "grad_aux_output": grads[1]})
    save(os.path.join(folder, "bad_aux.h5"), {"grad_output": grads[0], "grad_aux_output": grads[1][:, :, :40]})


main()
