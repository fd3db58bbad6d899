#!/usr/bin/python3
"""Converts weights between PyTorch (.pth) and FACS's HDF5 files (backbone/weights.h).

    convert_torchvision.py to-h5 resnet50.pth resnet50.h5 --arch resnet50
    convert_torchvision.py to-h5 ckpt.pth facs.h5 --arch facs_resnet50 --fusion weighted
    convert_torchvision.py to-pth resnet50.h5 resnet50.pth
    convert_torchvision.py to-h5 train_epoch_200.pth pspnet.h5 --arch pspnet_resnet101
    convert_torchvision.py to-pth pspnet.h5 pspnet.pth --semseg

PSPNet files are hszhao/semseg's: its checkpoints ({'epoch', 'state_dict',
'optimizer'}, keys prefixed 'module.' by DataParallel) and its bare
state_dicts load, and the classes come from cls.4.weight. to-pth --semseg
writes what semseg's test.py loads: {'state_dict': ...} with the 'module.'
prefix. --width, --output-stride and --deep-stem record the model options a
.pth cannot say (facs-run and the C tools rebuild the network from them);
semseg's released PSPNets are --deep-base.

to-h5 reads a raw state_dict or a checkpoint dict holding one under
'state_dict' or 'model' (after checking that its pickles import nothing but
tensor types and rebuild functions, so a downloaded file cannot run code; a
pickled nn.Module is refused for the same reason: refuse_code), strips a 'module.' prefix (DataParallel),
skips num_batches_tracked, and writes one float32 dataset per tensor at
/model/<key with '.' replaced by '/'> with the root attributes of the format,
each with HDF5's Fletcher-32 checksum (as the C library writes them, so a
corrupt file is refused at load instead of loaded).
to-pth writes a state_dict that torchvision's model loads strictly: every
num_batches_tracked is restored as tensor(0); when the file's architecture is a
torchvision model, the tensors are reshaped to (and checked against) that
model's shapes. Both write to a temporary name and rename it into place.

Needs Debian's python3-torch, python3-torchvision and python3-h5py."""

import argparse
import collections
import io
import os
import pickletools
import sys
import zipfile

import h5py
import numpy as np
import torch

FORMAT, VERSION = "facs-weights", 1
# torch.save's format before PyTorch 1.6 (hszhao/semseg's checkpoints): five
# pickles in a row (magic number, protocol, system info, the object, the
# storage keys), then the raw storages.
LEGACY_PICKLES = 5


class ConvertError(Exception):
    pass


def atomic_write(path, write):
    """Calls write(tmp) for a temporary in path's folder, then renames it to path."""
    tmp = f"{path}.tmp.{os.getpid()}"
    try:
        write(tmp)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise


def allowed_globals():
    """What a checkpoint of tensors may name: the tensor and storage types, dtypes and rebuild functions."""
    found = {"collections.OrderedDict": collections.OrderedDict, "torch.Size": torch.Size}
    for f in (torch._utils._rebuild_tensor, torch._utils._rebuild_tensor_v2, torch._utils._rebuild_parameter):
        found["torch._utils." + f.__name__] = f
    for t in (torch.float16, torch.bfloat16, torch.float32, torch.float64, torch.int8, torch.uint8, torch.int16,
              torch.int32, torch.int64, torch.bool):
        found[str(t)] = t
    for cls in list(torch._tensor_classes) + list(torch._storage_classes):
        found[f"{cls.__module__}.{cls.__name__}"] = cls
    return found


def refuse_code(path):
    """Raises ConvertError unless every pickle in path imports only allowed_globals().

    torch.load is called afterwards without weights_only: torch 1.13's
    weights_only loader cannot read the floats of an optimizer state (a
    training checkpoint's), and its load ignores a pickle_module with a
    restricted Unpickler. So the pickles are read first with pickletools, which
    runs nothing: GLOBAL and INST are the only opcodes that import, and
    STACK_GLOBAL (which imports a name built on the stack) is something
    torch.save, at pickle protocol 2, never writes."""
    allowed = allowed_globals()

    def scan(stream, count):
        for _ in range(count):
            for op, arg, _ in pickletools.genops(stream):
                if op.name == "STACK_GLOBAL":
                    raise ConvertError(f"{path}: imports a name built at load time (STACK_GLOBAL), which no "
                                       "torch.save writes: refused")
                if op.name in ("GLOBAL", "INST") and arg.replace(" ", ".", 1) not in allowed:
                    raise ConvertError(f"{path}: refuses {arg.replace(' ', '.', 1)}: a weights file holds tensors, "
                                       "not objects or code")

    try:
        if zipfile.is_zipfile(path):
            with zipfile.ZipFile(path) as z:
                for name in z.namelist():
                    if name.endswith(".pkl"):
                        scan(io.BytesIO(z.read(name)), 1)
        else:
            with open(path, "rb") as f:
                scan(f, LEGACY_PICKLES)
    except ConvertError:
        raise
    except Exception as e:  # pickletools raises ValueError for garbage, zipfile BadZipFile, ...
        raise ConvertError(f"{path}: not a PyTorch weights file ({type(e).__name__}: {e})") from None


def read_state_dict(path):
    if not os.path.isfile(path):
        raise ConvertError(f"{path}: no such file")
    refuse_code(path)
    try:
        obj = torch.load(path, map_location="cpu")
    except Exception as e:  # torch raises many kinds for a file that is not a checkpoint
        raise ConvertError(f"{path}: not a PyTorch weights file ({type(e).__name__}: {e})") from None
    if isinstance(obj, dict):
        for key in ("state_dict", "model"):
            if isinstance(obj.get(key), dict):
                obj = obj[key]
                break
    if not isinstance(obj, dict) or not obj:
        raise ConvertError(f"{path}: holds {type(obj).__name__}, not a state_dict (a dict of tensors)")
    state = collections.OrderedDict()
    for key, value in obj.items():
        if not isinstance(key, str) or not isinstance(value, torch.Tensor):
            raise ConvertError(f"{path}: entry {key!r} is {type(value).__name__}, not a tensor: not a state_dict")
        key = key[len("module."):] if key.startswith("module.") else key
        if key.endswith("num_batches_tracked"):
            continue
        if not value.is_floating_point():
            raise ConvertError(f"{path}: {key} holds {value.dtype}, expected floating point")
        state[key] = value.detach().float().contiguous()
    return state


# The classifier weight of a segmentation network (a 1x1 conv, so not found
# as the last 2-D weight): PSPNet's cls.4.
SEGMENTATION_HEADS = ("cls.4.weight",)


def head_classes(state):
    """Outputs of the classifier head (PSPNet's cls.4, else the last 2-D weight), or None."""
    for key in SEGMENTATION_HEADS:
        if key in state:
            return int(state[key].shape[0])
    heads = [v for k, v in state.items() if k.endswith(".weight") and v.dim() == 2]
    return int(heads[-1].shape[0]) if heads else None


def to_h5(args):
    state = read_state_dict(args.input)
    classes = args.classes if args.classes is not None else head_classes(state)
    fusion = args.fusion or ("threshold" if "facs" in args.arch else None)

    def write(tmp):
        with h5py.File(tmp, "w") as f:
            f.attrs["format"] = FORMAT
            f.attrs["format_version"] = np.int64(VERSION)
            f.attrs["architecture"] = args.arch
            if classes is not None:
                f.attrs["classes"] = np.int64(classes)
            if fusion is not None:
                f.attrs["fusion"] = fusion
                f.attrs["threshold"] = float(args.threshold)
            if args.width is not None:
                f.attrs["width"] = float(args.width)
            if args.output_stride is not None:
                f.attrs["output_stride"] = np.int64(args.output_stride)
            if args.stem:
                f.attrs["deep_stem"] = np.int64(args.stem)
            for key, value in state.items():
                data = value.numpy().astype(np.float32)
                # The checksum needs chunked storage (a scalar or empty tensor cannot have it): one
                # chunk per tensor as the C library writes, h5py's choice past HDF5's 4 GiB chunk limit.
                checked = data.ndim > 0 and data.size > 0
                chunks = (data.shape if data.nbytes < 2**30 else True) if checked else None
                f.create_dataset("model/" + key.replace(".", "/"), data=data, fletcher32=checked, chunks=chunks)

    atomic_write(args.output, write)
    print(f"{args.output}: {len(state)} tensors, architecture {args.arch}", file=sys.stderr)


def read_h5(path):
    """The /model datasets of path as {state_dict key: tensor} and the root attributes."""
    if not os.path.isfile(path):
        raise ConvertError(f"{path}: no such file")
    try:
        f = h5py.File(path, "r")
    except OSError as e:
        raise ConvertError(f"{path}: not an HDF5 file, or a truncated or corrupt one ({e})") from None
    with f:
        if "model" not in f or not isinstance(f["model"], h5py.Group):
            raise ConvertError(f"{path}: no /model group, not a weights file")
        fmt = f.attrs.get("format")
        fmt = fmt.decode() if isinstance(fmt, bytes) else fmt
        if fmt is not None and fmt != FORMAT:
            raise ConvertError(f"{path}: format {fmt!r}, expected {FORMAT!r}")
        if int(f.attrs.get("format_version", VERSION)) > VERSION:
            raise ConvertError(f"{path}: format version {f.attrs['format_version']} is newer than {VERSION}")
        state = collections.OrderedDict()

        def visit(name, obj):
            if isinstance(obj, h5py.Dataset):
                key = name.replace("/", ".")
                if obj.dtype.kind == "f":
                    state[key] = torch.from_numpy(np.asarray(obj[()], dtype=np.float32))
                elif not key.endswith("num_batches_tracked"):
                    raise ConvertError(f"{path}: {key} holds {obj.dtype}, expected float32")

        f["model"].visititems(visit)
        return state, dict(f.attrs)


def torchvision_model(arch, classes):
    """torchvision's model of that name with random weights, or None if there is none."""
    import torchvision

    build = getattr(torchvision.models, arch, None) if arch else None
    if not callable(build) or isinstance(build, type):
        return None
    return build(num_classes=int(classes)) if classes is not None else build()


def to_pth(args):
    state, attrs = read_h5(args.input)
    for key in [k for k in state if k.endswith(".running_mean")]:
        state[key[: -len("running_mean")] + "num_batches_tracked"] = torch.tensor(0)
    arch = attrs.get("architecture")
    arch = arch.decode() if isinstance(arch, bytes) else arch
    model = torchvision_model(arch, attrs.get("classes"))
    if model is not None:
        want = model.state_dict()
        ordered = collections.OrderedDict()
        for key, value in state.items():
            if key in want and value.numel() == want[key].numel():
                value = value.reshape(want[key].shape)  # a rank the file spells differently
            ordered[key] = value
        try:
            model.load_state_dict(ordered, strict=True)
        except RuntimeError as e:
            raise ConvertError(f"{args.input}: does not fit torchvision's {arch}: {e}") from None
        state = collections.OrderedDict((k, ordered[k]) for k in want if k in ordered)
    count = len(state)
    if args.semseg:
        state = {"state_dict": collections.OrderedDict(("module." + k, v) for k, v in state.items())}
    atomic_write(args.output, lambda tmp: torch.save(state, tmp))
    checked = f", checked against torchvision's {arch}" if model is not None else ""
    print(f"{args.output}: {count} tensors{checked}", file=sys.stderr)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    h5 = commands.add_parser("to-h5", help="PyTorch .pth -> FACS HDF5")
    h5.add_argument("input")
    h5.add_argument("output")
    h5.add_argument("--arch", required=True, help="architecture name stored in the file, e.g. resnet50")
    h5.add_argument("--classes", type=int, help="number of classes (default: outputs of the last linear weight)")
    h5.add_argument("--fusion", choices=["threshold", "weighted"],
                    help="FACS fusion mode (default: threshold for FACS architectures, none otherwise)")
    h5.add_argument("--threshold", type=float, default=0.5, help="FACS fusion threshold T_cf (default 0.5)")
    h5.add_argument("--width", type=float, help="record the width multiplier (default: not recorded, i.e. 1)")
    h5.add_argument("--output-stride", type=int, choices=[8, 16, 32],
                    help="record the backbone's output stride (default: not recorded: 8 for PSPNet, 32 otherwise)")
    stem = h5.add_mutually_exclusive_group()
    stem.add_argument("--deep-stem", dest="stem", action="store_const", const=1,
                      help="record that the ResNet has the three-conv v1c stem (timm's conv1.0, ...)")
    stem.add_argument("--deep-base", dest="stem", action="store_const", const=2,
                      help="record semseg's deep base (64-64-128 convs, layer1 on 128; its released PSPNets)")
    pth = commands.add_parser("to-pth", help="FACS HDF5 -> PyTorch .pth state_dict")
    pth.add_argument("input")
    pth.add_argument("output")
    pth.add_argument("--semseg", action="store_true",
                     help="write a hszhao/semseg checkpoint: {'state_dict': ...} with DataParallel's 'module.' prefix")
    args = parser.parse_args(argv)
    try:
        same = args.output == args.input or (
            os.path.exists(args.output) and os.path.exists(args.input) and os.path.samefile(args.input, args.output))
        if same:
            raise ConvertError(f"the output {args.output} is the input {args.input}: writing it would destroy the "
                               "input; choose another path")
        (to_h5 if args.command == "to-h5" else to_pth)(args)
    except (ConvertError, OSError) as e:
        print(f"convert_torchvision: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
