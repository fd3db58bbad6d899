"""Weight files: torchvision's ResNet-50 with random weights, saved with
torch.save and converted by tools/convert_torchvision.py, plus a bare h5py
copy of its state_dict. Beside argv[1] (= <base>.h5) it writes
  <base>_converted.h5   to-h5 of the state_dict saved with torch.save (the
                        converter runs as a subprocess, as a user would run it)
  <base>_bare.h5        /model/... straight from h5py, no attributes,
                        num_batches_tracked included as int64 scalars
  <base>_text.txt       a text file
and in argv[1] the reference list (names as newline-separated bytes, shapes
padded with 1s to 4-D, PyTorch ranks) and every float tensor under /tensors.
It also checks the converter itself: to-pth of the converted file loads into
torchvision strictly with identical tensors, a DataParallel checkpoint dict
converts to the same datasets, and bad inputs fail with a message;
check_converter() below: what --arch, --classes and --fusion may be, files
that are not torchvision's model (width 0.25), short refusals, and the plain
objects training scripts save beside the weights."""

import argparse
import collections
import contextlib
import io
import os
import pickle
import subprocess
import sys

import h5py
import numpy as np
import torch
import torchvision

from common import put, setup

HERE = os.path.dirname(os.path.abspath(__file__))
CONVERTER = os.path.join(HERE, "..", "..", "tools", "convert_torchvision.py")
sys.path.insert(0, os.path.dirname(CONVERTER))
import convert_torchvision  # noqa: E402  (the same code the subprocess runs, for the cheap checks)


def convert(*args):
    """Runs the converter in-process: (exit code, stderr)."""
    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        rc = convert_torchvision.main(list(args))
    return rc, err.getvalue()


def expect_failure(needle, *args):
    rc, err = convert(*args)
    assert rc == 1 and needle in err, f"converter {args}: rc {rc}, message {err!r}"


def check_converter():
    """The converter's checks on the state_dict of `state` (base + "_model.pth")."""
    model, wrong = base + "_model.pth", base + "_wrong.h5"
    if os.path.exists(wrong):
        os.remove(wrong)  # left by an earlier failed run
    # --arch: the toolkit's architectures only; torchvision's must load strictly at --classes; --fusion: FACS only.
    expect_failure("--arch resnet5O is no architecture of the toolkit (did you mean resnet50?)", "to-h5", model,
                   wrong, "--arch", "resnet5O")
    expect_failure("--arch resnet18 is no architecture", "to-h5", model, wrong, "--arch", "resnet18")
    expect_failure("does not fit torchvision's resnet101(num_classes=1000): 0 tensors of another shape, 255 missing",
                   "to-h5", model, wrong, "--arch", "resnet101")
    expect_failure("fc.weight is (1000, 2048) here but (10, 2048) in torchvision's", "to-h5", model, wrong,
                   "--arch", "resnet50", "--classes", "10")
    expect_failure("--fusion weighted does not apply to resnet50, which has no FACS op", "to-h5", model, wrong,
                   "--arch", "resnet50", "--fusion", "weighted")
    assert not os.path.exists(wrong), "a refused to-h5 wrote its output"
    rc, err = convert("to-h5", model, wrong, "--arch", "facs_resnet50", "--threshold", "0.3")
    assert rc == 0 and "converted without checking" not in err, err
    with h5py.File(wrong, "r") as w:
        assert w.attrs["fusion"] == "threshold" and w.attrs["threshold"] == 0.3

    # The toolkit's own ResNet-50 at width 0.25 (tests/ref's twin): not torchvision's model, converted both ways
    # without the torchvision check, saying so in one line.
    from resnet_torch import ResNet
    torch.save(ResNet(depth=50, classes=3, width=0.25).state_dict(), base + "_w25.pth")
    rc, err = convert("to-h5", base + "_w25.pth", base + "_w25.h5", "--arch", "resnet50", "--width", "0.25")
    assert rc == 0 and "width 0.25: not torchvision's resnet50: converted without checking" in err, err
    rc, err = convert("to-pth", base + "_w25.h5", base + "_w25_back.pth")
    assert rc == 0 and "width 0.25: not torchvision's resnet50: converted without checking" in err, err
    assert err.count("\n") == 2, f"to-pth said more than two lines: {err!r}"
    # Without its width attribute it claims to be torchvision's: refused in a few lines, not one per tensor.
    with h5py.File(base + "_w25.h5", "a") as w:
        del w.attrs["width"]
    rc, err = convert("to-pth", base + "_w25.h5", base + "_x.pth")
    assert rc == 1 and "does not fit torchvision's resnet50: 266 tensors of another shape" in err, err
    assert err.count("\n") == 1 and "and 263 more" in err and len(err) < 600, f"a long refusal: {err!r}"

    # The plain objects beside the weights of torchvision's reference scripts (args) and others (numpy scalars)
    # are read; anything else is refused with a way out, and never rebuilt.
    weights = torch.load(model)
    torch.save({"model": weights, "epoch": 3, "args": argparse.Namespace(lr=0.1, arch="resnet50")},
               base + "_tvref.pth")
    torch.save({"state_dict": weights, "best_acc1": np.float64(0.5), "step": np.int64(7)}, base + "_np.pth")
    for name in ("_tvref", "_np"):
        assert convert("to-h5", base + name + ".pth", wrong, "--arch", "resnet50")[0] == 0, name
    torch.save({"model": weights, "tool": collections.Counter(a=1)}, base + "_other.pth")
    expect_failure("refuses collections.Counter", "to-h5", base + "_other.pth", wrong, "--arch", "resnet50")
    expect_failure("torch.save(torch.load(", "to-h5", base + "_other.pth", wrong, "--arch", "resnet50")
    # The unpickler torch.load runs with rebuilds the allowed names alone, whatever the scan before it let by.
    try:
        convert_torchvision.restricted_pickle().load(io.BytesIO(pickle.dumps(collections.Counter(), protocol=2)))
        raise AssertionError("the restricted unpickler rebuilt a collections.Counter")
    except pickle.UnpicklingError as e:
        assert "refuses collections.Counter" in str(e), e
    for scratch in ("_w25.pth", "_w25.h5", "_w25_back.pth", "_tvref.pth", "_np.pth", "_other.pth", "_wrong.h5"):
        os.remove(base + scratch)


f = setup()
base = sys.argv[1][:-3] if sys.argv[1].endswith(".h5") else sys.argv[1]
net = torchvision.models.resnet50()
with torch.no_grad():
    for m in net.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            # Distinct values everywhere, so a tensor loaded into the wrong slot shows.
            m.weight.uniform_(0.5, 1.5)
            m.bias.uniform_(-0.5, 0.5)
            m.running_mean.uniform_(-1, 1)
            m.running_var.uniform_(0.5, 2)
            m.num_batches_tracked.fill_(7)
state = net.state_dict()
torch.save(state, base + "_model.pth")

subprocess.run([sys.executable, CONVERTER, "to-h5", base + "_model.pth", base + "_converted.h5",
                "--arch", "resnet50", "--classes", "1000"], check=True)

with h5py.File(base + "_bare.h5", "w") as bare:
    for key, value in state.items():
        bare.create_dataset("model/" + key.replace(".", "/"), data=value.numpy())

floats = [(k, v) for k, v in state.items() if v.is_floating_point()]
names = "\n".join(k for k, _ in floats).encode()
put(f, "list/names", np.frombuffer(names, dtype=np.uint8).astype(np.int32))
put(f, "list/shapes", np.array([list(v.shape) + [1] * (4 - v.dim()) for _, v in floats], dtype=np.int32))
put(f, "list/ranks", np.array([v.dim() for _, v in floats], dtype=np.int32))
put(f, "list/buffer", np.array([k.endswith(("running_mean", "running_var")) for k, _ in floats], dtype=np.int32))
for key, value in floats:
    put(f, "tensors/" + key.replace(".", "/"), value)
f.close()

# to-pth gives back a state_dict that torchvision loads strictly, tensor for tensor.
subprocess.run([sys.executable, CONVERTER, "to-pth", base + "_converted.h5", base + "_back.pth"], check=True)
back = torch.load(base + "_back.pth")
twin = torchvision.models.resnet50()
twin.load_state_dict(back, strict=True)
for key, value in state.items():
    got = twin.state_dict()[key]
    if key.endswith("num_batches_tracked"):
        assert got.item() == 0 and got.dtype == torch.int64, key
    else:
        assert torch.equal(got, value), f"to-pth changed {key}"

# A DataParallel checkpoint dict converts to the same datasets, classes inferred from the head.
torch.save({"epoch": 3, "state_dict": {"module." + k: v for k, v in state.items()}}, base + "_ckpt.pth")
assert convert("to-h5", base + "_ckpt.pth", base + "_ckpt.h5", "--arch", "resnet50")[0] == 0
with h5py.File(base + "_converted.h5", "r") as a, h5py.File(base + "_ckpt.h5", "r") as b:
    assert a.attrs["format"] == "facs-weights" and a.attrs["format_version"] == 1
    assert b.attrs["classes"] == 1000 and "fusion" not in b.attrs
    for key, value in floats:
        path = "model/" + key.replace(".", "/")
        assert a[path].dtype == np.float32 and np.array_equal(a[path][()], value.numpy()), key
        assert a[path].fletcher32, f"{key}: the converter writes every dataset with the Fletcher-32 checksum"
        assert np.array_equal(a[path][()], b[path][()]), key
    assert sorted(a["model"].keys()) == sorted(b["model"].keys())

# The bare file converts too (its int64 num_batches_tracked are not float tensors to keep).
assert convert("to-pth", base + "_bare.h5", base + "_bare.pth")[0] == 0
torchvision.models.resnet50().load_state_dict(torch.load(base + "_bare.pth"), strict=True)

# Clear failures, no output left behind.
with open(base + "_text.txt", "w") as text:
    text.write("not weights\n" * 100)
expect_failure("no such file", "to-h5", base + "_nothing.pth", base + "_x.h5", "--arch", "resnet50")
expect_failure("not a PyTorch weights file", "to-h5", base + "_text.txt", base + "_x.h5", "--arch", "resnet50")
torch.save({"weights": [1, 2, 3]}, base + "_list.pth")
expect_failure("not a state_dict", "to-h5", base + "_list.pth", base + "_x.h5", "--arch", "resnet50")
expect_failure("not an HDF5 file", "to-pth", base + "_text.txt", base + "_x.pth")
expect_failure("no /model group", "to-pth", sys.argv[1], base + "_x.pth")

# An output that is the input (by the same name or a hard link) is refused and the input survives.
before = open(base + "_model.pth", "rb").read()
expect_failure("is the input", "to-h5", base + "_model.pth", base + "_model.pth", "--arch", "resnet50")
if os.path.exists(base + "_link.h5"):
    os.remove(base + "_link.h5")
os.link(base + "_converted.h5", base + "_link.h5")
expect_failure("is the input", "to-pth", base + "_converted.h5", base + "_link.h5")
assert open(base + "_model.pth", "rb").read() == before, "the converter damaged its input"
assert not os.path.exists(base + "_x.h5") and not os.path.exists(base + "_x.pth")
check_converter()
for scratch in ("_model.pth", "_back.pth", "_bare.pth", "_ckpt.pth", "_ckpt.h5", "_list.pth"):
    os.remove(base + scratch)  # 100 MB each; the C test needs only the files named at the top
print(f"ref_weights: {len(floats)} float tensors, {sum(v.numel() for _, v in floats)} values")
