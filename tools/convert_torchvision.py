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
tensor types, rebuild functions and the plain records beside them, an
argparse.Namespace and numpy scalars, so a downloaded file cannot run code;
a pickled nn.Module is refused for the same reason: refuse_code), strips a
'module.' prefix (DataParallel), skips num_batches_tracked, and writes one
float32 dataset per tensor at /model/<key with '.' replaced by '/'> with the
root attributes of the format, each with HDF5's Fletcher-32 checksum (as the
C library writes them, so a corrupt file is refused at load instead of
loaded). --arch must be one of the toolkit's architectures (facs-summary
--list); where it is torchvision's model (resnet50, resnet101, resnet152,
mobilenet_v2 at the default width, stem and stride) the state_dict must load
strictly into torchvision.models.<arch>(num_classes=classes), and --fusion
and --threshold apply to FACS architectures only.
to-pth writes a state_dict that torchvision's model loads strictly: every
num_batches_tracked is restored as tensor(0); when the file's architecture is a
torchvision model (its width, stem and stride attributes torchvision's too),
the tensors are reshaped to (and checked against) that model's shapes; any
other file is converted without that check, which a line says. A refusal
names the first few tensors that do not fit and counts the rest. Both write
to a temporary name and rename it into place.

Needs Debian's python3-torch, python3-torchvision and python3-h5py."""

import argparse
import collections
import contextlib
import io
import os
import pickle
import pickletools
import sys
import types
import zipfile

import h5py
import numpy as np
import torch

FORMAT, VERSION = "facs-weights", 1
# The toolkit's architectures, as `facs-summary --list` prints them
# (backbone/model.h's facs_model_arch_names). The converter runs without a
# build to ask, so it keeps this copy; tests/test_summary.sh compares it with
# the build's list so that the two cannot drift apart.
ARCHITECTURES = (
    "resnet26", "resnet50", "resnet101", "resnet152",
    "facs_resnet26", "facs_resnet50", "facs_resnet101", "facs_resnet152",
    "resnet50_r8", "facs_resnet50_r8", "se_resnet50", "se_facs_resnet50", "dwp_resnet50",
    "vgg16_1x1_r2", "vgg16_1x1_r4", "facs_vgg16_r2", "facs_vgg16_r4",
    "mobilenet_v2", "facs_mobilenet_v2", "mobilenet_v2_full", "facs_mobilenet_v2_full",
    "pspnet_resnet26", "pspnet_resnet50", "pspnet_resnet101", "pspnet_resnet152",
    "pspnet_facs_resnet26", "pspnet_facs_resnet50", "pspnet_facs_resnet101", "pspnet_facs_resnet152",
    "pspnet_resnet50_r8", "pspnet_facs_resnet50_r8", "pspnet_se_resnet50", "pspnet_se_facs_resnet50",
    "pspnet_dwp_resnet50",
)
# A refusal names this many of the tensors that do not fit, then counts the rest.
SHOWN_MISMATCHES = 3
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


def numpy_dtype(spec, align=False, copy=False):
    """numpy.dtype as a pickle rebuilds a numpy scalar's: from a type code, never an object dtype."""
    if not isinstance(spec, str) or np.dtype(spec).hasobject:
        raise pickle.UnpicklingError(f"a numpy dtype of {spec!r}: only numbers are rebuilt")
    return np.dtype(spec, align, copy)


def numpy_scalar(dtype, data=None):
    """numpy's scalar rebuilder for numbers only (an object dtype would hand back whatever the pickle built)."""
    if not isinstance(dtype, np.dtype) or dtype.hasobject or not isinstance(data, bytes) or len(data) != dtype.itemsize:
        raise pickle.UnpicklingError("a numpy scalar that is not a number")
    return np.frombuffer(data, dtype=dtype)[0]


def latin1_bytes(text, encoding="latin1"):
    """_codecs.encode as pickle protocol 2 spells bytes (a numpy scalar's): latin-1 text, no other codec."""
    if not isinstance(text, str) or encoding not in ("latin1", "latin-1"):
        raise pickle.UnpicklingError(f"_codecs.encode with {encoding!r}: only latin1 bytes are rebuilt")
    return text.encode("latin1")


def allowed_globals():
    """What a checkpoint may name, and what each name rebuilds: the tensor and storage types, dtypes and
    rebuild functions, and the plain records training scripts save beside the weights (torchvision's
    reference scripts: args as an argparse.Namespace; best_acc1 as a numpy scalar), each rebuilt by a
    function that takes data only."""
    found = {"collections.OrderedDict": collections.OrderedDict, "torch.Size": torch.Size,
             "argparse.Namespace": argparse.Namespace, "numpy.dtype": numpy_dtype, "_codecs.encode": latin1_bytes,
             "numpy.core.multiarray.scalar": numpy_scalar, "numpy._core.multiarray.scalar": numpy_scalar}
    for f in (torch._utils._rebuild_tensor, torch._utils._rebuild_tensor_v2, torch._utils._rebuild_parameter):
        found["torch._utils." + f.__name__] = f
    for t in (torch.float16, torch.bfloat16, torch.float32, torch.float64, torch.int8, torch.uint8, torch.int16,
              torch.int32, torch.int64, torch.bool):
        found[str(t)] = t
    for cls in list(torch._tensor_classes) + list(torch._storage_classes):
        found[f"{cls.__module__}.{cls.__name__}"] = cls
    return found


def restricted_pickle():
    """A pickle module for torch.load whose unpickler resolves allowed_globals() only, to their rebuilders."""
    allowed = allowed_globals()

    class Unpickler(pickle.Unpickler):
        def find_class(self, module, name):
            if f"{module}.{name}" not in allowed:
                raise pickle.UnpicklingError(f"refuses {module}.{name}")
            return allowed[f"{module}.{name}"]

    def load(file, **kwargs):
        return Unpickler(file, **kwargs).load()

    return types.SimpleNamespace(__name__="pickle", Unpickler=Unpickler, load=load,
                                 UnpicklingError=pickle.UnpicklingError)


@contextlib.contextmanager
def torch_unpickling_with(module):
    """torch 1.13's torch.load replaces a given pickle_module with its own `pickle` unless weights_only is set
    (whose loader cannot read an optimizer state's floats), so that name is swapped for the call."""
    import torch.serialization as serialization
    saved = serialization.pickle
    serialization.pickle = module
    try:
        yield
    finally:
        serialization.pickle = saved


def refuse_code(path):
    """Raises ConvertError unless every pickle in path imports only allowed_globals().

    The pickles are read first with pickletools, which runs nothing, so that
    a refusal names what the file imports: GLOBAL and INST are the only
    opcodes that import, and STACK_GLOBAL (which imports a name built on the
    stack) is something torch.save, at pickle protocol 2, never writes.
    torch.load then runs with restricted_pickle() as well."""
    allowed = allowed_globals()

    def scan(stream, count):
        for _ in range(count):
            for op, arg, _ in pickletools.genops(stream):
                if op.name == "STACK_GLOBAL":
                    raise ConvertError(f"{path}: imports a name built at load time (STACK_GLOBAL), which no "
                                       "torch.save writes: refused")
                if op.name in ("GLOBAL", "INST") and arg.replace(" ", ".", 1) not in allowed:
                    raise ConvertError(
                        f"{path}: refuses {arg.replace(' ', '.', 1)}: a weights file holds tensors (beside them "
                        "an argparse.Namespace and numpy scalars are read), not other objects or code. If you "
                        "trust the file, save its state_dict alone in a Python session and convert that: "
                        f"torch.save(torch.load({path!r})['model'], 'state_dict.pth') (or ['state_dict'])")

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


def check_input_file(path):
    if os.path.isdir(path):
        raise ConvertError(f"{path} is a folder, not a weights file")
    if not os.path.isfile(path):
        raise ConvertError(f"{path}: no such file")


def read_state_dict(path):
    check_input_file(path)
    refuse_code(path)
    restricted = restricted_pickle()
    try:
        with torch_unpickling_with(restricted):
            obj = torch.load(path, map_location="cpu", pickle_module=restricted)
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


def is_facs(arch):
    """Whether the architecture has the FACS op (its name says so: facs_resnet50, pspnet_facs_resnet50, ...)."""
    return "facs" in arch


def check_arch(args):
    """Refuses an --arch the toolkit does not build, and FACS options on a network without the FACS op."""
    if args.arch not in ARCHITECTURES:
        import difflib
        near = difflib.get_close_matches(args.arch, ARCHITECTURES, 1)
        hint = f" (did you mean {near[0]}?)" if near else ""
        raise ConvertError(f"--arch {args.arch} is no architecture of the toolkit{hint}; facs-summary --list prints "
                           f"them: {', '.join(ARCHITECTURES)}")
    for given, option in ((args.fusion, "--fusion"), (args.threshold, "--threshold")):
        if given is not None and not is_facs(args.arch):
            raise ConvertError(f"{option} {given} does not apply to {args.arch}, which has no FACS op")


def to_h5(args):
    check_arch(args)
    state = read_state_dict(args.input)
    classes = args.classes if args.classes is not None else head_classes(state)
    fusion = args.fusion or ("threshold" if is_facs(args.arch) else None)
    threshold = args.threshold if args.threshold is not None else 0.5
    options = {"width": args.width, "output_stride": args.output_stride, "deep_stem": args.stem}
    model, why_not = torchvision_reference(args.arch, classes, options)
    if model is not None:
        check_fits(model, state, f"{args.input}: does not fit torchvision's {args.arch}(num_classes={classes})")
    elif why_not:
        print(f"{args.input}: {why_not}: converted without checking against torchvision", file=sys.stderr)

    def write(tmp):
        with h5py.File(tmp, "w") as f:
            f.attrs["format"] = FORMAT
            f.attrs["format_version"] = np.int64(VERSION)
            f.attrs["architecture"] = args.arch
            if classes is not None:
                f.attrs["classes"] = np.int64(classes)
            if fusion is not None:
                f.attrs["fusion"] = fusion
                f.attrs["threshold"] = float(threshold)
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
    check_input_file(path)
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


def torchvision_builder(arch):
    """torchvision.models.<arch>, or None if torchvision has no model of that name."""
    import torchvision

    build = getattr(torchvision.models, arch, None) if arch else None
    return build if callable(build) and not isinstance(build, type) else None


def torchvision_model(arch, classes):
    """torchvision's model of that name with random weights, or None if there is none."""
    build = torchvision_builder(arch)
    if build is None:
        return None
    return build(num_classes=int(classes)) if classes is not None else build()


def not_torchvision(arch, options):
    """Why a network of these options (width, cifar_stem, deep_stem, output_stride: as a weights file's
    attributes) is not torchvision's model of its name, or None."""
    width, stride = options.get("width"), options.get("output_stride")
    reasons = [f"width {width:g}" if width is not None and float(width) != 1.0 else None,
               "cifar_stem" if options.get("cifar_stem") else None,
               f"deep_stem {int(options['deep_stem'])}" if options.get("deep_stem") else None,
               f"output_stride {int(stride)}" if stride is not None and int(stride) != 32 else None]
    reasons = [r for r in reasons if r]
    return f"{', '.join(reasons)}: not torchvision's {arch}" if reasons else None


def torchvision_reference(arch, classes, options):
    """(torchvision's model to check a state_dict against, None) when arch with these options is one,
    else (None, why not: a line to say, or None for an architecture torchvision does not have)."""
    why_not = not_torchvision(arch, options)
    if why_not:
        return None, why_not if torchvision_builder(arch) is not None else None
    return torchvision_model(arch, classes), None


def check_fits(model, state, what):
    """Raises ConvertError (what, then the first few differences and a count) unless state loads strictly."""
    want = model.state_dict()
    shapes = [f"{k} is {tuple(state[k].shape)} here but {tuple(want[k].shape)} in torchvision's" for k in want
              if k in state and state[k].shape != want[k].shape]
    missing = [f"{k} missing" for k in want if k not in state and not k.endswith("num_batches_tracked")]
    unexpected = [f"{k} unexpected" for k in state if k not in want]
    problems = shapes + missing + unexpected
    if problems:
        more = len(problems) - SHOWN_MISMATCHES
        raise ConvertError(f"{what}: {len(shapes)} tensors of another shape, {len(missing)} missing, "
                           f"{len(unexpected)} unexpected: {'; '.join(problems[:SHOWN_MISMATCHES])}"
                           f"{f'; and {more} more' if more > 0 else ''}")


def to_pth(args):
    state, attrs = read_h5(args.input)
    for key in [k for k in state if k.endswith(".running_mean")]:
        state[key[: -len("running_mean")] + "num_batches_tracked"] = torch.tensor(0)
    text = {k: v.decode() if isinstance(v, bytes) else v for k, v in attrs.items()}
    arch = text.get("architecture")
    model, why_not = torchvision_reference(arch, attrs.get("classes"), text) if arch else (None, None)
    if why_not:
        print(f"{args.input}: {why_not}: converted without checking against torchvision", file=sys.stderr)
    if model is not None:
        want = model.state_dict()
        ordered = collections.OrderedDict()
        for key, value in state.items():
            if key in want and value.numel() == want[key].numel():
                value = value.reshape(want[key].shape)  # a rank the file spells differently
            ordered[key] = value
        check_fits(model, ordered, f"{args.input}: does not fit torchvision's {arch}")
        model.load_state_dict(ordered, strict=True)
        state = collections.OrderedDict((k, ordered[k]) for k in want if k in ordered)
    count = len(state)
    if args.semseg:
        state = {"state_dict": collections.OrderedDict(("module." + k, v) for k, v in state.items())}
    atomic_write(args.output, lambda tmp: torch.save(state, tmp))
    checked = f", checked against torchvision's {arch}" if model is not None else ""
    print(f"{args.output}: {count} tensors{checked}", file=sys.stderr)


def check_output_path(path):
    """Refuses, before the conversion, an output that is a folder or whose folder is missing or read-only."""
    folder = os.path.dirname(path) or "."
    if os.path.isdir(path):
        raise ConvertError(f"the output {path} is a folder; give a file name")
    if not os.path.isdir(folder):
        raise ConvertError(f"the output {path}: its folder {folder} does not exist")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise ConvertError(f"the output {path}: cannot write into the folder {folder}")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    h5 = commands.add_parser("to-h5", help="PyTorch .pth -> FACS HDF5")
    h5.add_argument("input")
    h5.add_argument("output")
    h5.add_argument("--arch", required=True,
                    help="the toolkit's architecture (facs-summary --list), e.g. resnet50; torchvision's ones are "
                         "checked to load strictly into torchvision.models.<arch>(num_classes=classes)")
    h5.add_argument("--classes", type=int, help="number of classes (default: outputs of the last linear weight)")
    h5.add_argument("--fusion", choices=["threshold", "weighted"],
                    help="FACS fusion mode (default: threshold for FACS architectures, none otherwise)")
    h5.add_argument("--threshold", type=float, help="FACS fusion threshold T_cf (default 0.5)")
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
        check_output_path(args.output)
        (to_h5 if args.command == "to-h5" else to_pth)(args)
    except (ConvertError, OSError) as e:
        print(f"convert_torchvision: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
