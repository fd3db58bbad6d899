"""Reference for eval/colormap.h.

jet (256 x 3, RGB): OpenCV's COLORMAP_JET. With python3-opencv installed it is
cv2.applyColorMap over 0..255, BGR turned to RGB (attribute opencv = 1).
Without it, the table is rebuilt the way OpenCV's colormap.cpp builds it
(attribute opencv = 0): GNU Octave's jet(256) computed in double, stored as
float32, interpolated at OpenCV's float linspace(0, 1, 256) by its interp1_
(float arithmetic), scaled by 255 in float and rounded half to even
(cvRound). This rebuild matched cv2 4.6 on all 256 entries when it was
written; rounding the exact values instead differs in 115 entries.

cam (float32) and heat (RGB per value): pytorch-grad-cam's show_cam_on_image
colouring, cv2.applyColorMap(np.uint8(255 * cam), COLORMAP_JET) and BGR->RGB,
on random values and on every k/255 and its float neighbours.

cityscapes_rgb and cityscapes_names (ASCII codes, 0-padded): trainIds 0..18
from torchvision.datasets.Cityscapes.classes. voc: the PASCAL VOC palette
(the bitget construction of the VOC devkit) for 0..255 and some larger
indices (voc_index)."""
import numpy as np
from torchvision.datasets import Cityscapes

from common import setup

f = setup()


def opencv_jet_rebuilt():
    f32 = np.float32
    n = 256
    x = np.linspace(0, 1, n)
    r = (x >= 3 / 8) * (x < 5 / 8) * (4 * x - 3 / 2) + (x >= 5 / 8) * (x < 7 / 8) + (x >= 7 / 8) * (-4 * x + 9 / 2)
    g = (x >= 1 / 8) * (x < 3 / 8) * (4 * x - 1 / 2) + (x >= 3 / 8) * (x < 5 / 8) + (x >= 5 / 8) * (x < 7 / 8) * (
        -4 * x + 7 / 2)
    b = (x < 1 / 8) * (4 * x + 1 / 2) + (x >= 1 / 8) * (x < 3 / 8) + (x >= 3 / 8) * (x < 5 / 8) * (-4 * x + 5 / 2)
    step = f32(f32(1) - f32(0)) / f32(n - 1)
    xs = np.array([f32(0) + f32(i) * step for i in range(n)], dtype=f32)

    def interp1(ys):  # OpenCV's interp1_<float> evaluated at its own breakpoints
        out = np.zeros(n, f32)
        for i in range(n):
            xi, low, high = xs[i], 0, n - 1
            while high - low > 1:
                c = low + ((high - low) >> 1)
                if xi > xs[c]:
                    low = c
                else:
                    high = c
            out[i] = ys[low] + (xi - xs[low]) * (ys[high] - ys[low]) / (xs[high] - xs[low])
        return out

    planes = [np.clip(np.rint(interp1(c.astype(f32)) * f32(255)), 0, 255) for c in (r, g, b)]
    return np.stack(planes, 1).astype(np.uint8)


try:
    import cv2
    jet = cv2.applyColorMap(np.arange(256, dtype=np.uint8).reshape(-1, 1), cv2.COLORMAP_JET)[:, 0, ::-1].copy()
    rebuilt = opencv_jet_rebuilt()
    assert (jet == rebuilt).all(), f"the rebuild of OpenCV's table differs from cv2 {cv2.__version__}"
    f.attrs["opencv"] = 1
    print(f"JET from cv2 {cv2.__version__} (the rebuild agrees on all 256 entries)")
except ImportError:
    cv2 = None
    jet = opencv_jet_rebuilt()
    f.attrs["opencv"] = 0
    print("python3-opencv is not installed: JET rebuilt from OpenCV's construction (see the docstring)")
f.create_dataset("jet", data=jet.astype(np.int32))

grid = np.arange(256, dtype=np.float32) / np.float32(255)
cam = np.concatenate([np.random.rand(2000).astype(np.float32), grid, np.nextafter(grid, np.float32(0)),
                      np.nextafter(grid, np.float32(1)), np.float32([0, 1, 0.5, 1e-8, 1 - 1e-7])]).astype(np.float32)
index = np.uint8(255 * cam)
if cv2 is not None:
    heat = cv2.cvtColor(cv2.applyColorMap(index.reshape(-1, 1), cv2.COLORMAP_JET), cv2.COLOR_BGR2RGB)[:, 0]
else:
    heat = jet[index]
f.create_dataset("cam", data=cam)
f.create_dataset("heat", data=heat.astype(np.int32))

train = sorted((c for c in Cityscapes.classes if 0 <= c.train_id < 19), key=lambda c: c.train_id)
assert [c.train_id for c in train] == list(range(19))
f.create_dataset("cityscapes_rgb", data=np.array([c.color for c in train], dtype=np.int32))
names = np.zeros((19, 32), dtype=np.int32)
for i, c in enumerate(train):
    names[i, :len(c.name)] = [ord(ch) for ch in c.name]
f.create_dataset("cityscapes_names", data=names)


def voc_colour(i):
    r = g = b = 0
    c = i
    for j in range(8):
        r |= ((c >> 0) & 1) << (7 - j)
        g |= ((c >> 1) & 1) << (7 - j)
        b |= ((c >> 2) & 1) << (7 - j)
        c >>= 3
    return r, g, b


voc_index = list(range(256)) + [1000, 4095, 65535, 2**24 - 1]
f.create_dataset("voc_index", data=np.array(voc_index, dtype=np.int32))
f.create_dataset("voc", data=np.array([voc_colour(i) for i in voc_index], dtype=np.int32))
