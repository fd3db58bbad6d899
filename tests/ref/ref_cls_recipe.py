"""torchvision's ImageNet recipe on PIL images, for tests/test_cls_recipe.c.

/resize/case<k>: x (H, W, C uint8), y = PIL's x.crop(box).resize((ow, oh),
  BILINEAR) (what torchvision's resize and resized_crop do to PIL images), and
  the attributes top, left, h, w (the box) and oh, ow.
/eval/case<k>: x (H, W, 3 uint8) and y (224, 224, 3 float32) =
  Compose([Resize(256), CenterCrop(224), ToTensor(), Normalize(ImageNet)])(x),
  HWC.
/rrc/case<k>: boxes (N, 4 int32: top, left, h, w) drawn by
  RandomResizedCrop(224).get_params on an H x W image (attributes height, width),
  the default scale (0.08, 1) and ratio (3/4, 4/3).
/box/case<k>: x, y = PIL's x.resize((ow, oh), BILINEAR, box=(x0, y0, x1, y1))
  with a fractional box (attributes box, oh, ow).
/draft/photo<p>: jpeg (the file's bytes, uint8) and, per box<k> (attributes
  top, left, h, w, scale), y = the box resized to 224 x 224 after
  Image.draft(mode, (W // s, H // s)) with PIL's draft rule on the box
  (s = the largest of 8, 4, 2, 1 <= min(w // 224, h // 224)), resize(box=box / s),
  (s = 1: the full decode's crop + resize, as without draft), and full = the
  full decode's crop + resize, for the difference draft makes."""
import io

import numpy as np
import torch
from PIL import Image
from torchvision import transforms as T

from common import photo_like, put, setup

f = setup()
rng = np.random.default_rng(int(np.random.randint(0, 2**31)))


def pil(a):
    return Image.fromarray(a[..., 0] if a.shape[2] == 1 else a)


# (H, W, C, box (top, left, h, w), out (oh, ow)): strong and mild downscales
# (the filter widens), upscales, one axis unchanged, boxes touching the edges,
# 1-pixel boxes, gray.
RESIZE = [
    (375, 500, 3, (0, 0, 375, 500), (224, 224)),
    (375, 500, 3, (37, 101, 211, 283), (224, 224)),
    (60, 80, 3, (5, 7, 40, 50), (224, 224)),
    (33, 47, 3, (0, 0, 33, 47), (33, 20)),
    (33, 47, 3, (0, 0, 33, 47), (10, 47)),
    (64, 64, 1, (3, 9, 50, 41), (17, 29)),
    (20, 30, 3, (19, 29, 1, 1), (5, 4)),
    (300, 199, 3, (0, 0, 300, 199), (385, 256)),
    (501, 333, 3, (100, 0, 401, 333), (7, 9)),
]
for k, (h, w, c, (top, left, bh, bw), (oh, ow)) in enumerate(RESIZE):
    x = photo_like(rng, h, w, c)
    y = np.asarray(pil(x).crop((left, top, left + bw, top + bh)).resize((ow, oh), Image.BILINEAR))
    g = f.create_group(f"resize/case{k}")
    g.attrs.update(top=top, left=left, h=bh, w=bw, oh=oh, ow=ow)
    put(g, "x", x)
    put(g, "y", y.reshape(oh, ow, c))

# Landscape, portrait, already 256 on the short side, smaller than the crop
# (upscaled), a long panorama.
EVAL = [(375, 500), (500, 333), (256, 300), (180, 200), (224, 1000)]
evaluate = T.Compose([T.Resize(256), T.CenterCrop(224), T.ToTensor(),
                      T.Normalize([0.485, 0.456, 0.406], [0.229, 0.224, 0.225])])
for k, (h, w) in enumerate(EVAL):
    x = photo_like(rng, h, w, 3)
    g = f.create_group(f"eval/case{k}")
    put(g, "x", x)
    put(g, "y", evaluate(pil(x)).permute(1, 2, 0))

# Many draws per size: a typical ImageNet photo, small and square images
# (rounding of w and h matters most), and a strip no in-range box fits often.
N = 20000
RRC = [(375, 500), (100, 80), (32, 32), (12, 90)]
crop = T.RandomResizedCrop(224)
for k, (h, w) in enumerate(RRC):
    img = torch.empty(3, h, w)
    boxes = np.array([crop.get_params(img, crop.scale, crop.ratio) for _ in range(N)], dtype=np.int32)
    g = f.create_group(f"rrc/case{k}")
    g.attrs.update(height=h, width=w)
    put(g, "boxes", boxes)
f.close()
