"""Independent checks of pspnet-eval for tests/pspnet_eval.sh, in numpy and
PyTorch over the files it wrote (nothing here calls the C code).

  check PRED ROOT SPLIT RESULTS
      Every prediction format under PRED (--save-pred) for every frame of
      ROOT/leftImg8bit/SPLIT: trainid/NAME.png the image's size, 8-bit gray,
      values 0..18; labelid/CITY/NAME.png their official labelIds; color/
      the Cityscapes palette; overlay/ (image + colour) / 2 rounded half up.
      Then the metrics recomputed from the trainId PNGs and the ground truth
      (gtFine labelTrainIds): one confusion matrix over the split, ignore 255
      left out, IoU per class (absent from both: null, out of the mean),
      cityscapesScripts' category IoU (its getIouScoreForCategory: TP inside
      the category, FN/FP against the other evaluated classes), pixel and mean
      class accuracy; each must equal RESULTS (results.json) within 1e-12.
  twin WEIGHTS ROOT SPLIT PRED [BASE_SIZE [CROP STRIDE FLIP [SCALES]]]
      The PyTorch twin (tests/ref/pspnet_torch.py) with WEIGHTS' tensors
      predicts each frame as semseg's test does in whole mode (the image
      resized so its longer side is BASE_SIZE, softmax, probabilities resized
      back bilinearly, argmax), or with CROP > 0 in slide mode (semseg's
      scale_process: padded with the mean to the crop, CROP windows every
      STRIDE, softmax averaged over overlaps; FLIP 1: net_process's mirrored
      batch); SCALES (e.g. 0.75,1,1.5): semseg's multi-scale test, the
      longer side round(scale * BASE_SIZE) (0: the image's), probabilities
      resized back and averaged. trainid/ must agree on >= 99.9% of pixels
      and, where PRED has prob/ (--save-prob), the probabilities within 1e-4.
The tables are cityscapesScripts' labels.py, typed here rather than read
from the C sources."""
import glob
import json
import math
import os
import re
import sys

import numpy as np
from PIL import Image

NAMES = ["road", "sidewalk", "building", "wall", "fence", "pole", "traffic light", "traffic sign", "vegetation",
         "terrain", "sky", "person", "rider", "car", "truck", "bus", "train", "motorcycle", "bicycle"]
LABEL_IDS = [7, 8, 11, 12, 13, 17, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 31, 32, 33]
PALETTE = [(128, 64, 128), (244, 35, 232), (70, 70, 70), (102, 102, 156), (190, 153, 153), (153, 153, 153),
           (250, 170, 30), (220, 220, 0), (107, 142, 35), (152, 251, 152), (70, 130, 180), (220, 20, 60),
           (255, 0, 0), (0, 0, 142), (0, 0, 70), (0, 60, 100), (0, 80, 100), (0, 0, 230), (119, 11, 32)]
CATEGORIES = {"flat": ["road", "sidewalk"], "construction": ["building", "wall", "fence"],
              "object": ["pole", "traffic light", "traffic sign"], "nature": ["vegetation", "terrain"],
              "sky": ["sky"], "human": ["person", "rider"],
              "vehicle": ["car", "truck", "bus", "train", "motorcycle", "bicycle"]}
K = len(NAMES)


def frames(root, split):
    """(city, name, image path, labelTrainIds path) of each frame, sorted."""
    out = []
    for path in sorted(glob.glob(os.path.join(root, "leftImg8bit", split, "*", "*_leftImg8bit.png"))):
        city, file = path.split(os.sep)[-2:]
        stem = file[:-len("_leftImg8bit.png")]
        out.append((city, file[:-4], path, os.path.join(root, "gtFine", split, city, stem + "_gtFine_labelTrainIds.png")))
    assert out, f"no frames under {root}/leftImg8bit/{split}"
    return out


def read(path, mode):
    img = Image.open(path)
    assert img.mode == mode, f"{path}: mode {img.mode}, want {mode}"
    return np.array(img)


def check_formats(pred, city, name, image):
    """The trainIds of one frame, after checking every format against them."""
    t = read(os.path.join(pred, "trainid", name + ".png"), "L")
    assert t.shape == image.shape[:2], f"{name}: trainid {t.shape}, image {image.shape[:2]}"
    assert t.max() < K, f"{name}: trainId {t.max()}"
    ids = read(os.path.join(pred, "labelid", city, name + ".png"), "L")
    assert (ids == np.array(LABEL_IDS, np.uint8)[t]).all(), f"{name}: labelIds are not the trainIds' official ids"
    color = np.array(PALETTE, np.uint8)[t]
    assert (read(os.path.join(pred, "color", name + ".png"), "RGB") == color).all(), f"{name}: colours"
    overlay = (image.astype(np.int32) + color + 1) // 2
    assert (read(os.path.join(pred, "overlay", name + ".png"), "RGB") == overlay).all(), f"{name}: overlay"
    return t


def iou_of(tp, fp, fn):
    return tp / (tp + fp + fn) if tp + fp + fn else math.nan


def metrics(conf):
    """What results.json must hold, from the confusion matrix (rows: truth)."""
    tp = np.diag(conf).astype(np.float64)
    iou = [iou_of(tp[c], conf[:, c].sum() - tp[c], conf[c].sum() - tp[c]) for c in range(K)]
    cat_iou = {}
    for cat, members in CATEGORIES.items():
        inside = [NAMES.index(n) for n in members]
        outside = [c for c in range(K) if c not in inside]
        cat_iou[cat] = iou_of(conf[np.ix_(inside, inside)].sum(), conf[np.ix_(outside, inside)].sum(),
                              conf[np.ix_(inside, outside)].sum())
    rows = conf.sum(1)
    recall = [tp[c] / rows[c] for c in range(K) if rows[c]]
    mean = lambda v: float(np.mean([x for x in v if not math.isnan(x)]))  # noqa: E731
    return {"miou": mean(iou), "iou": dict(zip(NAMES, iou)), "category_miou": mean(cat_iou.values()),
            "category_iou": cat_iou, "pixel_acc": tp.sum() / conf.sum(), "mean_acc": float(np.mean(recall))}


def same(got, want, where):
    if isinstance(want, dict):
        assert list(got) == list(want), f"{where}: keys {list(got)}, want {list(want)}"
        for k in want:
            same(got[k], want[k], f"{where}.{k}")
    elif math.isnan(want):
        assert got is None, f"{where}: {got}, want null (absent class)"
    else:
        assert got is not None and abs(got - want) <= 1e-12 * max(1, abs(want)), f"{where}: {got}, want {want}"


def check(pred, root, split, results_path):
    conf = np.zeros((K, K), np.int64)
    for city, name, image_path, label_path in frames(root, split):
        t = check_formats(pred, city, name, read(image_path, "RGB"))
        gt = read(label_path, "L")
        keep = gt != 255
        conf += np.bincount(gt[keep].astype(np.int64) * K + t[keep], minlength=K * K).reshape(K, K)
    results = json.load(open(results_path))
    keys = ["miou", "iou", "category_miou", "category_iou", "miiou", "iiou", "category_miiou", "category_iiou",
            "pixel_acc", "mean_acc"]
    assert list(results) == keys, f"results.json keys {list(results)}"
    assert all(results[k] is None for k in keys[4:8]), "instance-level keys must be null"
    want = metrics(conf)
    for k, v in want.items():
        same(results[k], v, k)
    absent = [n for n in NAMES if math.isnan(want["iou"][n])]
    print(f"numpy: mIoU {want['miou']:.10g} over {K - len(absent)} classes (absent: {', '.join(absent)}), "
          f"category mIoU {want['category_miou']:.10g}, pixel acc {want['pixel_acc']:.10g}: as results.json")


def slide(net, x, crop, stride, flip):
    """semseg's scale_process and net_process on a normalised 1x3xHxW x (padding with the mean is 0 here)."""
    import torch
    import torch.nn.functional as F

    def net_process(image):
        inp = torch_cat_flip(image) if flip else image
        out = F.softmax(net(inp), dim=1)
        return (out[0] + out[1].flip(2)) / 2 if flip else out[0]

    ori_h, ori_w = x.shape[2:]
    pad_h, pad_w = max(crop - ori_h, 0), max(crop - ori_w, 0)
    top, left = pad_h // 2, pad_w // 2
    image = F.pad(x, (left, pad_w - left, top, pad_h - top))
    new_h, new_w = image.shape[2:]
    grid_h = int(math.ceil((new_h - crop) / stride) + 1)
    grid_w = int(math.ceil((new_w - crop) / stride) + 1)
    total, count = None, torch.zeros(new_h, new_w, dtype=torch.float64)
    for ih in range(grid_h):
        for iw in range(grid_w):
            e_h = min(ih * stride + crop, new_h)
            s_h = e_h - crop
            e_w = min(iw * stride + crop, new_w)
            s_w = e_w - crop
            p = net_process(image[:, :, s_h:e_h, s_w:e_w]).double()
            if total is None:
                total = torch.zeros(p.shape[0], new_h, new_w, dtype=torch.float64)
            total[:, s_h:e_h, s_w:e_w] += p
            count[s_h:e_h, s_w:e_w] += 1
    return (total / count)[None, :, top:top + ori_h, left:left + ori_w].float()


def whole(net, x, flip):
    """semseg's net_process on the whole normalised image."""
    import torch.nn.functional as F
    inp = torch_cat_flip(x) if flip else x
    out = F.softmax(net(inp), dim=1)
    return ((out[0] + out[1].flip(2)) / 2)[None] if flip else out


def torch_cat_flip(x):
    import torch
    return torch.cat([x, x.flip(3)], 0)


def twin(weights, root, split, pred, base_size=0, crop=0, stride=0, flip=0, scales=(1.0,)):
    import h5py
    import torch
    import torch.nn.functional as F
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "ref"))
    from pspnet_torch import PSPNet
    from resnet_torch import ResNet

    with h5py.File(weights, "r") as f:
        a = dict(f.attrs)
        state = {}
        f["model"].visititems(lambda k, v: state.__setitem__(k.replace("/", "."), torch.from_numpy(v[()]))
                              if isinstance(v, h5py.Dataset) else None)
    m = re.fullmatch(r"pspnet_(facs_)?resnet(\d+)", a["architecture"])
    backbone = ResNet(int(m.group(2)), width=float(a["width"]), facs=bool(m.group(1)),
                      output_stride=int(a["output_stride"]), deep_stem=int(a["deep_stem"]), no_head=True)
    net = PSPNet(backbone, int(a["classes"]), width=float(a["width"])).eval()
    missing, unexpected = net.load_state_dict(state, strict=False)
    assert not unexpected and all(k.endswith("num_batches_tracked") for k in missing), (missing, unexpected)
    mean = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)
    std = torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)
    agree = total = 0
    worst = None
    for city, name, image_path, _ in frames(root, split):
        x = torch.from_numpy(read(image_path, "RGB")).float().permute(2, 0, 1)[None]
        h, w = x.shape[2:]
        base = base_size or max(h, w)
        p = 0
        for scale in scales:  # semseg's test.py: each scale's probabilities resized back, summed, averaged
            long_size = round(scale * base)
            nh, nw = (long_size, round(long_size / h * w)) if h > w else (round(long_size / w * h), long_size)
            xs = F.interpolate(x, size=(nh, nw), mode="bilinear", align_corners=False) if (nh, nw) != (h, w) else x
            with torch.no_grad():
                xs = (xs / 255 - mean) / std
                ps = slide(net, xs, crop, stride, flip) if crop else whole(net, xs, flip)
                if (nh, nw) != (h, w):
                    ps = F.interpolate(ps, size=(h, w), mode="bilinear", align_corners=False)
            p = p + ps.double()
        p = p / len(scales)
        want = p.argmax(1)[0].numpy()
        got = read(os.path.join(pred, "trainid", name + ".png"), "L")
        agree += int((got == want).sum())
        total += want.size
        prob_file = os.path.join(pred, "prob", name + ".h5")
        if os.path.exists(prob_file):
            with h5py.File(prob_file, "r") as f:
                worst = max(worst or 0.0, float(np.abs(f["prob"][()] - p[0].numpy()).max()))
    how = f"slide {crop}/{stride}" if crop else "whole"
    how += f"{' flip' if flip else ''}, scales {','.join(f'{s:g}' for s in scales)}"
    probs = "no probabilities saved" if worst is None else f"probabilities differ by at most {worst:.3g}"
    print(f"PyTorch twin, {how}, base size {base_size or 'own'}: {agree} of {total} pixels agree; {probs}")
    assert agree >= 0.999 * total, f"only {agree / total:.5f} of the pixels agree with the PyTorch twin"
    assert worst is None or worst <= 1e-4, f"probabilities differ from the PyTorch twin's by {worst:.3g} (> 1e-4)"


if __name__ == "__main__":
    try:
        if sys.argv[1] == "check":
            check(*sys.argv[2:6])
        elif sys.argv[1] == "twin":
            numbers = [int(v) for v in sys.argv[6:10]]
            if len(sys.argv) > 10:
                numbers.append([float(v) for v in sys.argv[10].split(",")])
            twin(*sys.argv[2:6], *numbers)
        else:
            sys.exit(f"unknown command {sys.argv[1]}")
    except AssertionError as e:
        sys.exit(f"pspnet_eval_ref.py {sys.argv[1]}: {e}")
