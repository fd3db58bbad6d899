"""torchvision reference for the augmentations it defines identically to ours:
horizontal flip, normalize (after ToTensor's division by 255), center crop,
resize (bilinear on a tensor, antialias=False) and crop (zero padding outside).

Images are float HWC in 0..255, stored as such; case k holds /casek/x, /casek/y
and the attributes op (see OPS) and a, b, c, d (the op's integer arguments)."""
import torch
import torchvision.transforms.functional as TF

from common import put, setup

OPS = {"hflip": 0, "normalize": 1, "center_crop": 2, "resize": 3, "resize_shorter": 4, "crop": 5}
IMAGENET_MEAN = [0.485, 0.456, 0.406]
IMAGENET_STD = [0.229, 0.224, 0.225]

# (op, image H, W, C, integer arguments): odd and even sizes, centre ties
# (H - h odd), crops larger than the image, up- and downscaling, non-square
# shorter-side resizes, and windows reaching outside the image.
CASES = [
    ("hflip", 5, 7, 3, ()),
    ("hflip", 4, 1, 1, ()),
    ("normalize", 6, 5, 3, ()),
    ("center_crop", 9, 8, 3, (4, 5)),
    ("center_crop", 10, 11, 3, (7, 6)),
    ("center_crop", 5, 6, 3, (8, 9)),
    ("center_crop", 6, 6, 1, (6, 6)),
    ("resize", 7, 9, 3, (13, 17)),
    ("resize", 32, 30, 3, (11, 7)),
    ("resize", 5, 5, 3, (5, 5)),
    ("resize", 1, 4, 3, (3, 8)),
    ("resize_shorter", 20, 33, 3, (12,)),
    ("resize_shorter", 41, 17, 3, (24,)),
    ("resize_shorter", 12, 30, 3, (12,)),
    ("crop", 9, 10, 3, (2, 3, 5, 4)),
    ("crop", 6, 6, 3, (-2, 3, 7, 5)),
]


def apply(op, x, args):
    """x: CHW float tensor in 0..255."""
    if op == "hflip":
        return TF.hflip(x)
    if op == "normalize":
        return TF.normalize(x.div(255), IMAGENET_MEAN, IMAGENET_STD)
    if op == "center_crop":
        return TF.center_crop(x, list(args))
    if op == "resize":
        return TF.resize(x, list(args), interpolation=TF.InterpolationMode.BILINEAR, antialias=False)
    if op == "resize_shorter":
        return TF.resize(x, args[0], interpolation=TF.InterpolationMode.BILINEAR, antialias=False)
    return TF.crop(x, *args)


f = setup()
for k, (op, h, w, c, args) in enumerate(CASES):
    g = f.create_group(f"case{k}")
    g.attrs["op"] = OPS[op]
    for name, v in zip("abcd", args):
        g.attrs[name] = v
    x = torch.rand(h, w, c) * 255
    y = apply(op, x.permute(2, 0, 1).contiguous(), args).permute(1, 2, 0).contiguous()
    put(g, "x", x)
    put(g, "y", y)
f.attrs["cases"] = len(CASES)
