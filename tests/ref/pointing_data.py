"""An image folder whose class evidence sits at a known place, for the GradCAM
pointing game (tests/gradcam_pointing.sh).

usage: pointing_data.py OUT [--train N] [--val N] [--copies C] [--seed S]
Writes OUT/train/<class>/*.png and OUT/val/<class>/*.png (N per class, 48x48
RGB) and OUT/boxes.txt, one line per val image with a pattern:
"val/<class>/<file> x0 y0 x1 y1" (pixels, x1 and y1 exclusive). Training
images carry C copies of their pattern (the test says why), val images one.

Every image is the same clutter: grey noise and a few grey bars, discs and
lines of random size and place, drawn alike whatever the class. The only
colour is one 12x12 class pattern (a shape and a hue per class) pasted at a
uniformly random place, so the class can be read from those pixels alone.
The fifth class, "plain", is clutter without a pattern: without it a network
may recognise one pattern class as "none of the others", without looking at
its pattern, and that class's maps point anywhere (seen with four classes)."""
import argparse
import os

import numpy as np
from PIL import Image

SIZE, PATCH = 48, 12
MARGIN = 4  # from the border: evaluation's centre crop (42 of 48, --input-size 42) cuts 3 pixels a side


def pattern(name):
    """The class's PATCH x PATCH mask (True: coloured) and its RGB colour."""
    y, x = np.mgrid[:PATCH, :PATCH] - (PATCH - 1) / 2
    r = np.hypot(x, y)  # checker of 3 px squares, 3 px ring, cross of 4 px arms, diagonal stripes
    masks = {
        "checker": ((np.arange(PATCH)[:, None] // 3 + np.arange(PATCH)[None] // 3) % 2) == 0,
        "ring": (r > 2.9) & (r < 5.9),
        "cross": (np.abs(x) < 1.6) | (np.abs(y) < 1.6),
        "stripes": ((np.arange(PATCH)[:, None] + np.arange(PATCH)[None]) % 5) < 2,
    }
    colours = {"checker": (230, 40, 40), "ring": (40, 200, 60), "cross": (50, 80, 240), "stripes": (240, 210, 30)}
    return masks[name], colours[name]


CLASSES = ["checker", "cross", "plain", "ring", "stripes"]  # sorted: facs-finetune's class ids


def clutter(rng):
    """Grey noise and grey shapes, independent of the class."""
    img = rng.normal(128, 25, (SIZE, SIZE)).clip(0, 255)
    yy, xx = np.mgrid[:SIZE, :SIZE]
    for _ in range(rng.integers(4, 9)):
        level = rng.uniform(30, 225)
        cx, cy, s = rng.uniform(0, SIZE), rng.uniform(0, SIZE), rng.uniform(4, 16)
        kind = rng.integers(3)
        if kind == 0:
            m = (np.abs(xx - cx) < s / 2) & (np.abs(yy - cy) < rng.uniform(2, 8))
        elif kind == 1:
            m = np.hypot(xx - cx, yy - cy) < s / 2
        else:
            a = rng.uniform(0, np.pi)
            m = (np.abs((xx - cx) * np.sin(a) - (yy - cy) * np.cos(a)) < 1.2) & (np.hypot(xx - cx, yy - cy) < s)
        img[m] = level
    return np.repeat(img[..., None], 3, axis=2)


def make(rng, name, copies):
    img = clutter(rng)
    if name == "plain":
        return Image.fromarray(img.round().astype(np.uint8)), None
    mask, colour = pattern(name)
    for _ in range(copies):
        x0, y0 = rng.integers(MARGIN, SIZE - MARGIN - PATCH + 1, size=2)
        region = img[y0:y0 + PATCH, x0:x0 + PATCH]
        region[mask] = colour
    return Image.fromarray(img.round().astype(np.uint8)), (x0, y0, x0 + PATCH, y0 + PATCH)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("--train", type=int, default=100)
    ap.add_argument("--val", type=int, default=25)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--copies", type=int, default=1)
    a = ap.parse_args()
    rng = np.random.default_rng(a.seed)
    lines = []
    for split, n in (("train", a.train), ("val", a.val)):
        for name in CLASSES:
            os.makedirs(os.path.join(a.out, split, name), exist_ok=True)
            for i in range(n):
                img, box = make(rng, name, a.copies if split == "train" else 1)
                rel = f"{split}/{name}/{name}_{i:04d}.png"
                img.save(os.path.join(a.out, rel))
                if split == "val" and box:
                    lines.append(f"{rel} {box[0]} {box[1]} {box[2]} {box[3]}\n")
    with open(os.path.join(a.out, "boxes.txt"), "w") as f:
        f.writelines(lines)


if __name__ == "__main__":
    main()
