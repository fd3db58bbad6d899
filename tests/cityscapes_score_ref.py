"""An independent numpy version of cityscapesScripts' evalPixelLevelSemanticLabeling
for tests/pspnet_score.sh (nothing here calls the C code).

  predict ROOT SPLIT OUT SEED
      Writes, for each frame of ROOT/gtFine/SPLIT, a labelId prediction made
      from its ground truth with errors of every kind the score must count:
      rectangles of a wrong evaluated class, of labelIds outside the 19
      (unlabeled 0, caravan 29, trailer 30, which the instance categories
      treat apart), whole instances erased, parts of instances kept. Files go
      to OUT/<city>/<stem>_pred.png except the second frame, written as a
      palette PNG in OUT/deep/er/ (read by its indices), and OUT_trainid/ holds
      the same predictions as trainIds (255 for a labelId outside the 19).
  score PRED ROOT SPLIT RESULTS
      The official computation over the 34x34 labelId confusion matrix (ground
      truth gtFine_labelIds, instances gtFine_instanceIds, avgClassSize) and
      its class and category IoU and iIoU; with accuracies as the issue
      defines them; each must equal RESULTS (results.json) within 1e-9.
The label table is cityscapesScripts' labels.py, typed here."""
import glob
import json
import math
import os
import sys

import numpy as np
from PIL import Image

# id: (name, category, hasInstances, ignoreInEval) for ids 0..33
LABELS = {0: ("unlabeled", "void", 0, 1), 1: ("ego vehicle", "void", 0, 1), 2: ("rectification border", "void", 0, 1),
          3: ("out of roi", "void", 0, 1), 4: ("static", "void", 0, 1), 5: ("dynamic", "void", 0, 1),
          6: ("ground", "void", 0, 1), 7: ("road", "flat", 0, 0), 8: ("sidewalk", "flat", 0, 0),
          9: ("parking", "flat", 0, 1), 10: ("rail track", "flat", 0, 1), 11: ("building", "construction", 0, 0),
          12: ("wall", "construction", 0, 0), 13: ("fence", "construction", 0, 0),
          14: ("guard rail", "construction", 0, 1), 15: ("bridge", "construction", 0, 1),
          16: ("tunnel", "construction", 0, 1), 17: ("pole", "object", 0, 0), 18: ("polegroup", "object", 0, 1),
          19: ("traffic light", "object", 0, 0), 20: ("traffic sign", "object", 0, 0),
          21: ("vegetation", "nature", 0, 0), 22: ("terrain", "nature", 0, 0), 23: ("sky", "sky", 0, 0),
          24: ("person", "human", 1, 0), 25: ("rider", "human", 1, 0), 26: ("car", "vehicle", 1, 0),
          27: ("truck", "vehicle", 1, 0), 28: ("bus", "vehicle", 1, 0), 29: ("caravan", "vehicle", 1, 1),
          30: ("trailer", "vehicle", 1, 1), 31: ("train", "vehicle", 1, 0), 32: ("motorcycle", "vehicle", 1, 0),
          33: ("bicycle", "vehicle", 1, 0)}
AVG_SIZE = {"bicycle": 4672.3249222261, "caravan": 36771.8241758242, "motorcycle": 6298.7200839748,
            "rider": 3930.4788056518, "bus": 35732.1511111111, "train": 67583.7075812274, "car": 12794.0202738185,
            "person": 3462.4756337644, "truck": 27855.1264367816, "trailer": 16926.9763313609}
EVALUATED = [i for i in range(34) if not LABELS[i][3]]
TRAIN_OF = {l: t for t, l in enumerate(EVALUATED)}
CATEGORIES = ["flat", "construction", "object", "nature", "sky", "human", "vehicle"]


def gt_files(root, split):
    files = sorted(glob.glob(os.path.join(root, "gtFine", split, "*", "*_gtFine_labelIds.png")))
    assert files, "no ground truth"
    return files


def predict(root, split, out, seed):
    rng = np.random.default_rng(int(seed))
    for k, gt_path in enumerate(gt_files(root, split)):
        gt = np.array(Image.open(gt_path))
        inst = np.array(Image.open(gt_path.replace("labelIds", "instanceIds"))).astype(np.int64)
        pred = gt.copy()
        h, w = gt.shape
        for value in [rng.choice(EVALUATED) for _ in range(3)] + [0, 29, 30]:
            y, x = rng.integers(0, h - 8), rng.integers(0, w - 8)
            pred[y:y + rng.integers(4, h // 2), x:x + rng.integers(4, w // 3)] = value
        ids = np.unique(inst[inst > 1000])
        for n, i in enumerate(ids):  # erase some instances, keep the others
            if n % 3 == 0:
                pred[inst == i] = 7
        stem = os.path.basename(gt_path)[:-len("_gtFine_labelIds.png")]
        train = np.vectorize(lambda v: TRAIN_OF.get(int(v), 255))(pred).astype(np.uint8)
        folder = os.path.join(out, "deep", "er") if k == 1 else os.path.join(out, stem.split("_")[0])
        os.makedirs(folder, exist_ok=True)
        os.makedirs(out + "_trainid", exist_ok=True)
        img = Image.fromarray(pred)
        if k == 1:
            img = img.convert("P")
            img.putpalette([(v * 37) % 256 for v in range(768)])
        img.save(os.path.join(folder, stem + "_pred.png"))
        Image.fromarray(train).save(os.path.join(out + "_trainid", stem + "_leftImg8bit.png"))


def find(pred_dir, stem):
    hits = [os.path.join(d, f) for d, _, fs in os.walk(pred_dir) for f in fs
            if f.startswith(stem) and f.endswith(".png")]
    assert len(hits) == 1, (stem, hits)
    return hits[0]


def score(pred_dir, root, split, results_path, train_ids=False):
    conf = np.zeros((34, 34), np.int64)
    stats = {LABELS[i][0]: [0.0, 0.0] for i in range(34) if LABELS[i][2] and not LABELS[i][3]}
    cat_ids = {c: [i for i in range(34) if LABELS[i][1] == c] for c in ("human", "vehicle")}
    cat_stats = {c: [0.0, 0.0] for c in cat_ids}
    for gt_path in gt_files(root, split):
        gt = np.array(Image.open(gt_path)).astype(np.int64)
        stem = os.path.basename(gt_path)[:-len("_gtFine_labelIds.png")]
        pred = np.array(Image.open(find(pred_dir, stem))).astype(np.int64)
        if train_ids:
            pred = np.where(pred == 255, 0, np.array(EVALUATED + [0] * 237)[np.minimum(pred, 255)])
        np.add.at(conf, (gt.ravel(), pred.ravel()), 1)
        inst = np.array(Image.open(gt_path.replace("labelIds", "instanceIds"))).astype(np.int64)
        masks = {c: np.isin(pred, ids) for c, ids in cat_ids.items()}
        for i in np.unique(inst[inst > 1000]):
            name, category, _, ignored = LABELS[i // 1000]
            if ignored:
                continue
            m = inst == i
            size = m.sum()
            tp = (pred[m] == i // 1000).sum()
            weight = AVG_SIZE[name] / size
            stats[name][0] += tp * weight
            stats[name][1] += (size - tp) * weight
            ctp = (m & masks[category]).sum()
            cat_stats[category][0] += ctp * weight
            cat_stats[category][1] += (size - ctp) * weight

    def nan_mean(d):
        v = [x for x in d.values() if not math.isnan(x)]
        return sum(v) / len(v) if v else None

    def div(tp, fp, fn):
        return tp / (tp + fp + fn) if tp + fp + fn > 0 else math.nan

    iou, iiou = {}, {}
    for l in EVALUATED:
        name = LABELS[l][0]
        others = [x for x in EVALUATED if x != l]
        tp, fn, fp = conf[l, l], conf[l, :].sum() - conf[l, l], conf[others, l].sum()
        iou[name] = div(tp, fp, fn)
        iiou[name] = div(stats[name][0], fp, stats[name][1]) if name in stats else math.nan
    cat_iou, cat_iiou = {}, {}
    for c in CATEGORIES:
        ids = [l for l in EVALUATED if LABELS[l][1] == c]
        outside = [l for l in EVALUATED if LABELS[l][1] != c]
        tp = conf[np.ix_(ids, ids)].sum()
        cat_iou[c] = div(tp, conf[np.ix_(outside, ids)].sum(), conf[ids, :].sum() - tp)
        if c in cat_stats:
            fp = conf[np.ix_(outside, cat_ids[c])].sum()
            cat_iiou[c] = div(cat_stats[c][0], fp, cat_stats[c][1])
        else:
            cat_iiou[c] = math.nan
    rows = conf[EVALUATED, :]
    recall = {l: conf[l, l] / conf[l, :].sum() for l in EVALUATED if conf[l, :].sum()}
    want = {"miou": nan_mean(iou), "iou": iou, "category_miou": nan_mean(cat_iou), "category_iou": cat_iou,
            "miiou": nan_mean(iiou), "iiou": iiou, "category_miiou": nan_mean(cat_iiou), "category_iiou": cat_iiou,
            "pixel_acc": sum(conf[l, l] for l in EVALUATED) / rows.sum(),
            "mean_acc": sum(recall.values()) / len(recall)}
    with open(results_path) as f:
        got = json.load(f)
    assert list(got) == list(want), f"keys {list(got)}"

    def same(g, w, what):
        if isinstance(w, dict):
            assert list(g) == list(w), f"{what}: names {list(g)}"
            for k in w:
                same(g[k], w[k], f"{what}[{k}]")
        elif w is None or (isinstance(w, float) and math.isnan(w)):
            assert g is None, f"{what}: {g}, expected null"
        else:
            assert g is not None and abs(g - float(w)) <= 1e-9, f"{what}: {g}, expected {float(w)}"

    for k in want:
        same(got[k], want[k], k)
    print(f"numpy (official script's rules): mIoU {want['miou']:.6f}, iIoU {want['miiou']:.6f}, category iIoU "
          f"{want['category_miiou']:.6f}: as results.json")


if __name__ == "__main__":
    try:
        if sys.argv[1] == "predict":
            predict(*sys.argv[2:6])
        elif sys.argv[1] == "score":
            score(*sys.argv[2:6], train_ids=len(sys.argv) > 6 and sys.argv[6] == "trainid")
        else:
            sys.exit(f"unknown command {sys.argv[1]}")
    except AssertionError as e:
        sys.exit(f"cityscapes_score_ref.py {sys.argv[1]}: {e}")
