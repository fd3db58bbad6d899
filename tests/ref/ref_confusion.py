"""Reference for eval/confusion.h: top-k and the confusion matrix of
classification logits (with many ties), and the segmentation numbers (IoU,
mIoU, class accuracy) of label maps with ignore pixels.

/cls<k> (attrs classes): logits (n x K float32), labels (n), predicted (the
first largest logit, np.argmax), rank (position of the label in a stable
descending sort: torch.sort(stable=True) and numpy's argsort(kind="stable")
must agree), topk (float64, k = 1..K), matrix (K x K).

/seg (attrs classes, ignore): truth0/pred0 and truth1/pred1 (two workers'
batches, int32, 255 = ignore in truth), matrix (the summed K x K matrix), iou
and class_acc (float64, NaN for a class absent from truth and prediction,
resp. from truth), miou, mean_class_acc, accuracy (nanmean / trace over total),
absent / pred_only / truth_only (the class indices built into the data)."""
import numpy as np
import torch

from common import put, setup

f = setup()

# (classes, samples, kind): "coarse" logits are multiples of 0.5 in [-1.5, 1.5]
# so that most rows have ties; "fine" ones are continuous with ties planted.
CLS_CASES = [(10, 400, "coarse"), (100, 300, "fine"), (3, 50, "coarse"), (1, 5, "fine")]

for index, (k, n, kind) in enumerate(CLS_CASES):
    labels = torch.randint(0, k, (n,))
    if kind == "coarse":
        logits = torch.randint(-3, 4, (n, k)).float() * 0.5
    else:
        logits = torch.randn(n, k)
        for i in range(0, n, 7):  # the label tied with another class, below or above its index
            logits[i, labels[i]] = logits[i, int(torch.randint(0, k, ()))]
        for i in range(3, n, 11):  # the label tied with the largest logit
            logits[i, labels[i]] = logits[i].max()
    if n > 4:
        logits[0] = 0.25  # every class tied: the label's rank is its index
        labels[1] = k - 1
        logits[1] = 0.0
        logits[1, 0] = 1.0
        logits[1, k - 1] = 1.0  # tied with class 0, which comes first
    order_torch = torch.sort(logits, dim=1, descending=True, stable=True).indices.numpy()
    order_numpy = np.argsort(-logits.numpy(), axis=1, kind="stable")
    assert (order_torch == order_numpy).all(), "torch and numpy disagree on the stable order"
    lab = labels.numpy()
    rank = np.argmax(order_numpy == lab[:, None], axis=1)
    predicted = np.argmax(logits.numpy(), axis=1)
    assert (rank == 0).sum() == (predicted == lab).sum()
    topk = np.array([(rank < j).mean() for j in range(1, k + 1)], dtype=np.float64)
    matrix = np.zeros((k, k), dtype=np.int64)
    np.add.at(matrix, (lab, predicted), 1)
    g = f.create_group(f"cls{index}")
    g.attrs["classes"] = k
    put(g, "logits", logits)
    put(g, "labels", labels.to(torch.int32))
    put(g, "predicted", predicted.astype(np.int32))
    put(g, "rank", rank.astype(np.int32))
    g.create_dataset("topk", data=topk)
    g.create_dataset("matrix", data=matrix)
    print(f"cls{index}: K={k} n={n} top1 {topk[0]:.4f} top5 {topk[min(4, k - 1)]:.4f} "
          f"rows with a tie at the top {int(((logits == logits.max(1, keepdim=True).values).sum(1) > 1).sum())}")

# Segmentation: 19 classes, 255 ignored. Class 7 never occurs (IoU and accuracy
# NaN), class 11 is only predicted (IoU 0, accuracy NaN), class 12 is never
# predicted (IoU 0, accuracy 0).
K, IGNORE, ABSENT, PRED_ONLY, TRUTH_ONLY = 19, 255, 7, 11, 12
rng = np.random.default_rng(int(torch.randint(0, 2**31 - 1, ())))
g = f.create_group("seg")
g.attrs["classes"] = K
g.attrs["ignore"] = IGNORE
g.attrs["absent"] = ABSENT
g.attrs["pred_only"] = PRED_ONLY
g.attrs["truth_only"] = TRUTH_ONLY
total = np.zeros((K, K), dtype=np.int64)
for w, shape in enumerate([(2, 37, 53), (3, 24, 31)]):
    truth = rng.integers(0, K, shape)
    truth[np.isin(truth, [ABSENT, PRED_ONLY])] = 0
    pred = np.where(rng.random(shape) < 0.6, truth, rng.integers(0, K, shape))
    pred[np.isin(pred, [ABSENT, TRUTH_ONLY])] = 1
    truth[rng.random(shape) < 0.15] = IGNORE
    keep = truth != IGNORE
    total += np.bincount(truth[keep] * K + pred[keep], minlength=K * K).reshape(K, K)
    put(g, f"truth{w}", truth.astype(np.int32))
    put(g, f"pred{w}", pred.astype(np.int32))
tp = np.diag(total).astype(np.float64)
union = total.sum(0) + total.sum(1) - np.diag(total)
with np.errstate(invalid="ignore", divide="ignore"):
    iou = np.where(union > 0, tp / union, np.nan)
    class_acc = np.where(total.sum(1) > 0, tp / total.sum(1), np.nan)
assert np.isnan(iou[ABSENT]) and iou[PRED_ONLY] == 0 and iou[TRUTH_ONLY] == 0 and np.isnan(class_acc[PRED_ONLY])
g.create_dataset("matrix", data=total)
g.create_dataset("iou", data=iou)
g.create_dataset("class_acc", data=class_acc)
g.create_dataset("miou", data=np.array([np.nanmean(iou)]))
g.create_dataset("mean_class_acc", data=np.array([np.nanmean(class_acc)]))
g.create_dataset("accuracy", data=np.array([np.trace(total) / total.sum()]))
print(f"seg: {total.sum()} pixels, mIoU {np.nanmean(iou):.6f}")
