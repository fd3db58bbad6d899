"""PyTorch twin of bench-folder: torchvision's ImageFolder (PIL loader) on
DIR/train with RandomResizedCrop(224), RandomHorizontalFlip, ToTensor and
Normalize(ImageNet), batched by a shuffling DataLoader with --workers worker
processes, one epoch per run. Two shapes, as bench-folder's:
  LABEL exact   the transforms above on the whole decoded image (torchvision's
                default);
  LABEL draft   the same box drawn from the image's size before decoding, the
                JPEG decoded with PIL's Image.draft at the largest of 1/8, 1/4,
                1/2 that leaves the box 224 x 224 pixels, resized with
                resize(box=box / s) (what bench-folder's draft shape computes).
The same options, timing rule and JSON as bench-folder; run with
/usr/bin/python3. --threads sets torch's threads in the main process; each
worker process uses one."""
import argparse
import os
import sys
import time

here = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, here)
import torch  # noqa: E402
from PIL import Image  # noqa: E402
from torchvision import datasets, transforms as T  # noqa: E402
from torchvision.transforms import functional as F  # noqa: E402
from torch_timing import parse_args, print_result, timed  # noqa: E402

MEAN, STD = [0.485, 0.456, 0.406], [0.229, 0.224, 0.225]
SIZE = 224


def take_folder_options():
    parser = argparse.ArgumentParser(add_help=False)
    parser.add_argument("--data", required=True)
    parser.add_argument("--label")
    parser.add_argument("--workers", type=int, default=2)
    mine, rest = parser.parse_known_args()
    sys.argv = sys.argv[:1] + rest
    return mine


class DraftCrop:
    """RandomResizedCrop(224) + flip on a lazily opened PIL image, decoding only
    what PIL's draft allows for the box."""

    def __init__(self):
        self.crop = T.RandomResizedCrop(SIZE)
        self.finish = T.Compose([T.RandomHorizontalFlip(), T.ToTensor(), T.Normalize(MEAN, STD)])

    def __call__(self, image):
        width, height = image.size
        top, left, h, w = self.crop.get_params(torch.empty(1, height, width), self.crop.scale, self.crop.ratio)
        fit = min(w // SIZE, h // SIZE)
        s = next((s for s in (8, 4, 2) if fit >= s), 1)
        if s > 1 and image.format == "JPEG":
            _, reduced = image.draft(image.mode, (width // s, height // s))  # reduced = (0, 0, W / s, H / s)
            s = round(width / reduced[2])
        else:
            s = 1
        image = image.convert("RGB")
        if s == 1:
            image = F.resized_crop(image, top, left, h, w, [SIZE, SIZE])
        else:
            image = image.resize((SIZE, SIZE), Image.BILINEAR, box=(left / s, top / s, (left + w) / s, (top + h) / s))
        return self.finish(image)


def lazy_open(path):
    """Opens without decoding, so the transform can still ask for a draft (PIL
    closes the file after decoding)."""
    return Image.open(path)


def epoch(loader):
    for images, _ in loader:
        images[0, 0, 0, 0].item()


def main():
    f = take_folder_options()
    args = parse_args(__doc__.splitlines()[0])
    label = f.label or f.data
    exact = T.Compose([T.RandomResizedCrop(SIZE), T.RandomHorizontalFlip(), T.ToTensor(), T.Normalize(MEAN, STD)])
    shapes = []
    for name, dataset in ((f"{label} exact", datasets.ImageFolder(os.path.join(f.data, "train"), exact)),
                          (f"{label} draft", datasets.ImageFolder(os.path.join(f.data, "train"), DraftCrop(),
                                                                  loader=lazy_open))):
        loader = torch.utils.data.DataLoader(dataset, batch_size=args.batch, shuffle=True, num_workers=f.workers,
                                             persistent_workers=f.workers > 0)
        start = time.perf_counter()
        ms = timed(lambda: epoch(loader), args.warmup, args.runs)
        print(f"{name}, {f.workers} workers: {ms:.1f} ms per epoch ({time.perf_counter() - start:.1f} s in all)",
              file=sys.stderr)
        shapes.append({"name": name, "workers": f.workers, "batch": args.batch, "images": len(dataset),
                       "epoch_ms": round(ms, 1), "images_per_s": round(len(dataset) * 1e3 / ms, 1)})
    print_result("torchvision ImageFolder + DataLoader", "pipeline", args, shapes)


if __name__ == "__main__":
    main()
