"""Weight files: torchvision's ResNet-18 with random weights, saved with
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
converts to the same datasets, and bad inputs fail with a message."""

import contextlib
import io
import os
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


f = setup()
base = sys.argv[1][:-3] if sys.argv[1].endswith(".h5") else sys.argv[1]
net = torchvision.models.resnet18()
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
                "--arch", "resnet18", "--classes", "1000"], check=True)

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
twin = torchvision.models.resnet18()
twin.load_state_dict(back, strict=True)
for key, value in state.items():
    got = twin.state_dict()[key]
    if key.endswith("num_batches_tracked"):
        assert got.item() == 0 and got.dtype == torch.int64, key
    else:
        assert torch.equal(got, value), f"to-pth changed {key}"

# A DataParallel checkpoint dict converts to the same datasets, classes inferred from the head.
torch.save({"epoch": 3, "state_dict": {"module." + k: v for k, v in state.items()}}, base + "_ckpt.pth")
assert convert("to-h5", base + "_ckpt.pth", base + "_ckpt.h5", "--arch", "resnet18")[0] == 0
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
torchvision.models.resnet18().load_state_dict(torch.load(base + "_bare.pth"), strict=True)

# Clear failures, no output left behind.
with open(base + "_text.txt", "w") as text:
    text.write("not weights\n" * 100)
expect_failure("no such file", "to-h5", base + "_nothing.pth", base + "_x.h5", "--arch", "resnet18")
expect_failure("not a PyTorch weights file", "to-h5", base + "_text.txt", base + "_x.h5", "--arch", "resnet18")
torch.save({"weights": [1, 2, 3]}, base + "_list.pth")
expect_failure("not a state_dict", "to-h5", base + "_list.pth", base + "_x.h5", "--arch", "resnet18")
expect_failure("not an HDF5 file", "to-pth", base + "_text.txt", base + "_x.pth")
expect_failure("no /model group", "to-pth", sys.argv[1], base + "_x.pth")
assert convert("to-h5", base + "_model.pth", base + "_wrong.h5", "--arch", "resnet18", "--classes", "10")[0] == 0
expect_failure("does not fit torchvision's resnet18", "to-pth", base + "_wrong.h5", base + "_x.pth")
# An output that is the input (by the same name or a hard link) is refused and the input survives.
before = open(base + "_model.pth", "rb").read()
expect_failure("is the input", "to-h5", base + "_model.pth", base + "_model.pth", "--arch", "resnet18")
if os.path.exists(base + "_link.h5"):
    os.remove(base + "_link.h5")
os.link(base + "_converted.h5", base + "_link.h5")
expect_failure("is the input", "to-pth", base + "_converted.h5", base + "_link.h5")
assert open(base + "_model.pth", "rb").read() == before, "the converter damaged its input"
assert not os.path.exists(base + "_x.h5") and not os.path.exists(base + "_x.pth")
for scratch in ("_model.pth", "_back.pth", "_bare.pth", "_ckpt.pth", "_ckpt.h5", "_list.pth", "_wrong.h5"):
    os.remove(base + scratch)  # 47 MB each; the C test needs only the files named at the top
print(f"ref_weights: {len(floats)} float tensors, {sum(v.numel() for _, v in floats)} values")
