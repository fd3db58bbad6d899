"""Builds a small image folder with PIL and writes what
torchvision.datasets.ImageFolder makes of it: the C lister must agree exactly.

Tree: <argv[1] without .h5>_data/root, classes whose order depends on code
point sorting ("Zebra" < "apple" < "b-c" < "b_d"), nested folders whose walk
order depends on sorting whole paths ("x-y" before "x/..."), mixed-case
extensions (.JPG, .Png, .jpeg), a hidden image file (ImageFolder keeps it), and
files to skip (.txt, .DS_Store, no extension). Images are small, of random
sizes and of PIL modes RGB, L, RGBA and P (PNG) or RGB and L (JPEG), so the
decoding to RGB is exercised too.
HDF5: /classes and /paths (uint8, each name followed by a NUL; paths relative
to root), /targets (int32), /pixels (every sample's
np.asarray(Image.open(p).convert("RGB")) flattened and concatenated, uint8),
/shapes (N x 2 int32: height, width).
/given/classes, /given/paths, /given/targets: the same with the classes fixed
by a list in another order (class i = the list's i-th name), as
torchvision's make_dataset(root, class_to_idx) lists them: classes visited in
name order, targets from the list (facs-finetune --classes-file)."""
import os
import shutil
import sys

import numpy as np
from PIL import Image
from torchvision.datasets import ImageFolder
from torchvision.datasets.folder import IMG_EXTENSIONS, make_dataset

from common import setup

FILES = {
    "Zebra": ["B.JPG", "a.png", "c.jpeg", ".hidden.png", "notes.txt", ".DS_Store", "README"],
    "apple": ["z.png", "x/deep/one.jpg", "x/two.Png", "x-y/three.jpeg", "x_y/four.png", "Y.jpg"],
    "b-c": ["only/nested/img.jpg"],
    "b_d": ["10.png", "9.png", "1.png", "skip.gif"],
}


def write_image(path, rng):
    h, w = rng.integers(3, 12, size=2)
    ext = os.path.splitext(path)[1].lower()
    if ext in (".jpg", ".jpeg"):
        mode = ["RGB", "L"][rng.integers(2)]
    else:
        mode = ["RGB", "L", "RGBA", "P"][rng.integers(4)]
    channels = {"RGB": 3, "L": 1, "RGBA": 4, "P": 1}[mode]
    pixels = rng.integers(0, 256, size=(h, w, channels), dtype=np.uint8)
    if mode == "P":
        img = Image.fromarray(pixels[:, :, 0] % 16, "L").convert("P")
        img.putpalette(rng.integers(0, 256, size=48, dtype=np.uint8).tolist())
    else:
        img = Image.fromarray(pixels[:, :, 0] if channels == 1 else pixels, mode)
    if ext in (".jpg", ".jpeg"):
        img.save(path, "JPEG", quality=90)
    else:
        img.save(path, "PNG")


def names(items):
    return np.frombuffer(b"".join(s.encode() + b"\0" for s in items), dtype=np.uint8)


def main():
    h5 = setup()
    rng = np.random.default_rng(np.random.randint(2**31))
    root = os.path.join(os.path.splitext(sys.argv[1])[0] + "_data", "root")
    shutil.rmtree(os.path.dirname(root), ignore_errors=True)
    for cls, files in FILES.items():
        for rel in files:
            path = os.path.join(root, cls, rel)
            os.makedirs(os.path.dirname(path), exist_ok=True)
            if rel.lower().endswith((".jpg", ".jpeg", ".png")):
                write_image(path, rng)
            else:
                with open(path, "w") as f:
                    f.write("not an image\n")

    ds = ImageFolder(root)
    paths = [os.path.relpath(p, root) for p, _ in ds.samples]
    print("classes", ds.classes)
    print("samples", paths)
    h5.create_dataset("classes", data=names(ds.classes))
    h5.create_dataset("paths", data=names(paths))
    h5.create_dataset("targets", data=np.array(ds.targets, dtype=np.int32))
    given = ["b_d", "Zebra", "b-c", "apple"]
    samples = make_dataset(root, {name: i for i, name in enumerate(given)}, extensions=IMG_EXTENSIONS)
    h5.create_dataset("given/classes", data=names(given))
    h5.create_dataset("given/paths", data=names([os.path.relpath(p, root) for p, _ in samples]))
    h5.create_dataset("given/targets", data=np.array([t for _, t in samples], dtype=np.int32))
    arrays = [np.asarray(Image.open(p).convert("RGB")) for p, _ in ds.samples]
    h5.create_dataset("pixels", data=np.concatenate([a.reshape(-1) for a in arrays]))
    h5.create_dataset("shapes", data=np.array([a.shape[:2] for a in arrays], dtype=np.int32))
    h5.close()


if __name__ == "__main__":
    main()
