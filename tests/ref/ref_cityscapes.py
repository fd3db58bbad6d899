"""Writes a small Cityscapes tree with PIL next to argv[1] (argv[1] + ".d") and
the frames that test_cityscapes must read from it into argv[1].

The tree: split val holds cities zurich (created first) and bremen, frames created
out of order, each with a random size and one of four label kinds:
  train    only _gtFine_labelTrainIds.png (mode L)
  trainP   only _gtFine_labelTrainIds.png as a palette image (indices are the ids)
  ids      only _gtFine_labelIds.png (random official labelIds, mapped by the reader)
  both     labelTrainIds and a labelIds that disagrees with it (the reader must prefer trainIds)
and images saved as RGB, RGBA or L. Split train holds one frame; split test is absent.
Other files (a gtFine _color PNG, a notes.txt, a hidden folder) must be ignored.

Written: /val/pair{i}/image (H, W, 3) and /val/pair{i}/train (H, W) in the
reader's order (cities sorted, then files), with attributes city (0 bremen,
1 zurich), seq and is_ids; /report/hist (19 pixel counts over both splits) with
attributes train, val, ignored, from_ids."""
import os
import shutil
import sys
import time

import h5py
import numpy as np
from PIL import Image

# cityscapesscripts/helpers/labels.py: (name, id, trainId); 255 and -1 are not evaluated.
LABELS = [
    ("unlabeled", 0, 255), ("ego vehicle", 1, 255), ("rectification border", 2, 255),
    ("out of roi", 3, 255), ("static", 4, 255), ("dynamic", 5, 255), ("ground", 6, 255),
    ("road", 7, 0), ("sidewalk", 8, 1), ("parking", 9, 255), ("rail track", 10, 255),
    ("building", 11, 2), ("wall", 12, 3), ("fence", 13, 4), ("guard rail", 14, 255),
    ("bridge", 15, 255), ("tunnel", 16, 255), ("pole", 17, 5), ("polegroup", 18, 255),
    ("traffic light", 19, 6), ("traffic sign", 20, 7), ("vegetation", 21, 8), ("terrain", 22, 9),
    ("sky", 23, 10), ("person", 24, 11), ("rider", 25, 12), ("car", 26, 13), ("truck", 27, 14),
    ("bus", 28, 15), ("caravan", 29, 255), ("trailer", 30, 255), ("train", 31, 16),
    ("motorcycle", 32, 17), ("bicycle", 33, 18), ("license plate", -1, -1),
]


def id_to_train(ids):
    table = np.full(256, 255, np.int64)
    for _, label_id, train_id in LABELS:
        if label_id >= 0 and train_id >= 0:
            table[label_id] = train_id
    return table[ids]


def main():
    seed = int(os.environ.get("FACS_TEST_SEED", int(time.time())))
    print(f"seed {seed} (set FACS_TEST_SEED to replay)")
    rng = np.random.default_rng(seed)
    root = sys.argv[1] + ".d"
    shutil.rmtree(root, ignore_errors=True)

    # (split, city, seq, label kind, image mode), in creation order.
    frames = [
        ("val", "zurich", 3, "both", "RGB"),
        ("val", "zurich", 1, "ids", "RGBA"),
        ("val", "bremen", 10, "train", "RGB"),
        ("val", "bremen", 0, "trainP", "L"),
        ("val", "bremen", 2, "ids", "RGB"),
        ("train", "aachen", 7, "train", "RGB"),
    ]
    train_values = np.array(list(range(19)) + [255])
    out = h5py.File(sys.argv[1], "w")
    hist = np.zeros(19, np.int64)
    ignored = 0
    expected = []
    for split, city, seq, kind, mode in frames:
        h, w = int(rng.integers(10, 31)), int(rng.integers(20, 41))
        img_dir = os.path.join(root, "leftImg8bit", split, city)
        gt_dir = os.path.join(root, "gtFine", split, city)
        os.makedirs(img_dir, exist_ok=True)
        os.makedirs(gt_dir, exist_ok=True)
        stem = f"{city}_{seq:06d}_{19:06d}"
        channels = {"RGB": 3, "RGBA": 4, "L": 1}[mode]
        pixels = rng.integers(0, 256, (h, w, channels), dtype=np.uint8)
        image = Image.fromarray(pixels[:, :, 0] if channels == 1 else pixels, mode)
        image.save(os.path.join(img_dir, stem + "_leftImg8bit.png"))
        rgb = np.asarray(Image.open(os.path.join(img_dir, stem + "_leftImg8bit.png")).convert("RGB"))

        if kind == "ids":
            ids = rng.integers(0, 34, (h, w)).astype(np.uint8)
            ids[0, 0] = 1  # ego vehicle: ignored (license plates, id -1, are not drawn: labelIds are 0..33)
            Image.fromarray(ids, "L").save(os.path.join(gt_dir, stem + "_gtFine_labelIds.png"))
            train = id_to_train(ids)
        else:
            train = rng.choice(train_values, (h, w)).astype(np.uint8)
            label = Image.fromarray(train, "L")
            if kind == "trainP":
                # The palette's colours are random: only the indices are labels.
                label = Image.frombytes("P", (w, h), train.tobytes())
                label.putpalette([int(v) for v in rng.integers(0, 256, 768)])
            label.save(os.path.join(gt_dir, stem + "_gtFine_labelTrainIds.png"))
            if kind == "both":
                wrong = rng.integers(0, 34, (h, w)).astype(np.uint8)
                Image.fromarray(wrong, "L").save(os.path.join(gt_dir, stem + "_gtFine_labelIds.png"))
        Image.fromarray(np.zeros((h, w, 3), np.uint8)).save(os.path.join(gt_dir, stem + "_gtFine_color.png"))
        hist += np.bincount(train[train != 255].ravel(), minlength=19)
        ignored += int((train == 255).sum())
        if split == "val":
            expected.append((city, seq, kind, rgb, train))

    with open(os.path.join(root, "leftImg8bit", "val", "zurich", "notes.txt"), "w") as f:
        f.write("not an image\n")
    os.makedirs(os.path.join(root, "leftImg8bit", "val", ".hidden"), exist_ok=True)

    expected.sort(key=lambda e: (e[0], f"{e[1]:06d}"))
    val = out.create_group("val")
    for i, (city, seq, kind, rgb, train) in enumerate(expected):
        g = val.create_group(f"pair{i}")
        g.create_dataset("image", data=rgb.astype(np.int32))
        g.create_dataset("train", data=train.astype(np.int32))
        g.attrs["city"] = 0 if city == "bremen" else 1
        g.attrs["seq"] = seq
        g.attrs["is_ids"] = int(kind == "ids")
    val.attrs["count"] = len(expected)
    report = out.create_group("report")
    report.create_dataset("hist", data=hist.astype(np.int32))
    report.attrs["train"] = 1
    report.attrs["val"] = len(expected)
    report.attrs["ignored"] = ignored
    report.attrs["from_ids"] = sum(1 for f in frames if f[3] == "ids")
    out.close()


if __name__ == "__main__":
    main()
