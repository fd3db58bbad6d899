"""Writes an image folder of camera-sized photographs for bench/run_bench.sh
folder: DIR/train/<photo>/NNN.jpg and DIR/val/<photo>/NNN.jpg, where each file
is one of skimage.data's colour photographs, randomly cropped (60-100 % of
each side) and mirrored, enlarged to WIDTHxHEIGHT (default 4000x3000, a 12 MP
camera) with PIL's bicubic filter and saved as a quality-90 4:2:0 JPEG. Unlike
facs-data's synthetic images (flat shapes with per-pixel noise, whose Huffman
decoding dominates), these decode like photographs: smooth regions, few
high-frequency coefficients. Run with /usr/bin/python3 (needs PIL and skimage).

    make_photo_folder.py DIR [--n 24] [--size 4000x3000] [--seed 1]"""
import argparse
import os

import numpy as np
import skimage.data
from PIL import Image

PHOTOS = ["astronaut", "coffee", "chelsea", "rocket"]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out")
    parser.add_argument("--n", type=int, default=24, help="training images (val gets a quarter, at least one per photo)")
    parser.add_argument("--size", default="4000x3000")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    width, height = (int(v) for v in args.size.split("x"))
    rng = np.random.default_rng(args.seed)
    sources = {name: Image.fromarray(getattr(skimage.data, name)()) for name in PHOTOS}
    for split, count in (("train", args.n), ("val", max(len(PHOTOS), args.n // 4))):
        for i in range(count):
            name = PHOTOS[i % len(PHOTOS)]
            src = sources[name]
            w, h = (int(side * rng.uniform(0.6, 1.0)) for side in src.size)
            left, top = int(rng.integers(0, src.size[0] - w + 1)), int(rng.integers(0, src.size[1] - h + 1))
            photo = src.crop((left, top, left + w, top + h))
            if rng.random() < 0.5:
                photo = photo.transpose(Image.FLIP_LEFT_RIGHT)
            folder = os.path.join(args.out, split, name)
            os.makedirs(folder, exist_ok=True)
            photo.resize((width, height), Image.BICUBIC).save(os.path.join(folder, f"{i:03d}.jpg"), quality=90)


if __name__ == "__main__":
    main()
