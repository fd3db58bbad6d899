"""PIL's resize with a fractional box and its JPEG draft decoding, for
tests/test_jpeg_draft.c.

/box/case<k>: x, y = PIL's x.resize((ow, oh), BILINEAR, box=(x0, y0, x1, y1))
  with a fractional box (attributes x0, y0, x1, y1, oh, ow).
/draft/photo<p>: jpeg (the file's bytes, uint8) and, per box<k> (attributes
  top, left, h, w, scale), y = the box resized to 224 x 224 after
  Image.draft(mode, (W // s, H // s)) with PIL's draft rule on the box
  (s = the largest of 8, 4, 2 <= min(w // 224, h // 224)), resize(box=box / s)
  (s = 1 when none is: the full decode's crop + resize, as without draft), and
  full = the full decode's crop + resize, for the difference draft makes."""
import io

import numpy as np
from PIL import Image

from common import photo_like, put, setup

f = setup()
rng = np.random.default_rng(int(np.random.randint(0, 2**31)))


def pil(a):
    return Image.fromarray(a[..., 0] if a.shape[2] == 1 else a)

# Fractional boxes, as PIL's draft returns them: taps beyond the box's edges
# read the pixels there, and the ends clamp at the image's edges.
BOX = [
    (375, 500, 3, (0.0, 0.0, 187.5, 250.0), (60, 80)),
    (188, 250, 3, (12.25, 30.5, 150.75, 170.125), (224, 224)),
    (47, 94, 1, (0.125, 0.5, 93.875, 46.75), (11, 13)),
    (64, 64, 3, (10.5, 3.25, 20.0, 40.0), (100, 30)),
    (50, 63, 3, (0.0, 0.0, 63.0, 50.0), (50, 63)),
    (50, 63, 3, (0.0, 0.0, 63.0, 50.0), (50, 20)),
]
for k, (h, w, c, box, (oh, ow)) in enumerate(BOX):
    x = photo_like(rng, h, w, c)
    y = np.asarray(pil(x).resize((ow, oh), Image.BILINEAR, box=box))
    g = f.create_group(f"box/case{k}")
    g.attrs.update(x0=box[0], y0=box[1], x1=box[2], y1=box[3], oh=oh, ow=ow)
    put(g, "x", x)
    put(g, "y", y.reshape(oh, ow, c))


def draft_scale(bw, bh, size=224):
    fit = min(bw // size, bh // size)
    return next((s for s in (8, 4, 2) if fit >= s), 1)


# A photo-sized JPEG and a large one (4:2:0, PIL's default) and a gray one,
# with boxes that draft at every scale: small (1), medium, whole, large.
PHOTOS = [((375, 500, 3), [(0, 0, 375, 500), (20, 31, 300, 451), (100, 100, 200, 200)]),
          ((1900, 2000, 3), [(0, 0, 1900, 2000), (3, 7, 1800, 1795), (150, 333, 1000, 1200), (500, 700, 460, 700),
                             (1, 2, 300, 250), (1001, 1103, 899, 897)]),
          ((900, 1203, 1), [(0, 0, 900, 1203), (17, 29, 455, 613)])]
for p, ((h, w, c), boxes) in enumerate(PHOTOS):
    x = photo_like(rng, h, w, c)
    buf = io.BytesIO()
    pil(x).save(buf, format="JPEG", quality=90)
    data = buf.getvalue()
    g = f.create_group(f"draft/photo{p}")
    put(g, "jpeg", np.frombuffer(data, dtype=np.uint8))
    full_image = Image.open(io.BytesIO(data)).convert("RGB")
    for k, (top, left, bh, bw) in enumerate(boxes):
        s = draft_scale(bw, bh)
        im = Image.open(io.BytesIO(data))
        im.draft(im.mode, (w // s, h // s))
        assert im.size == (-(-w // s), -(-h // s)), (im.size, s)
        y = im.convert("RGB").resize((224, 224), Image.BILINEAR, box=(left / s, top / s, (left + bw) / s,
                                                                      (top + bh) / s))
        full = full_image.crop((left, top, left + bw, top + bh)).resize((224, 224), Image.BILINEAR)
        if s == 1:
            y = full
        b = g.create_group(f"box{k}")
        b.attrs.update(top=top, left=left, h=bh, w=bw, scale=s)
        put(b, "y", np.asarray(y))
        put(b, "full", np.asarray(full))
f.close()
