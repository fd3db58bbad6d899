"""PNG and JPEG files of every kind the codecs read, and the pixels PIL decodes
from each, for tests/test_image.c.

The image files go to the folder argv[1] + ".d/" as case<i>.png / case<i>.jpg;
the .h5 holds, per case, group /case<i> with attributes jpeg (0/1), label (1
when it is a valid label map)
and the uint8 arrays PIL decodes: L, RGB, RGBA (convert(...)), native (what
want_channels 0 must give) and, for label maps, labels (the raw indices).

PIL cannot write interlaced PNGs, 16-bit RGB or 2-bit gray, so those come from
a small PNG writer here (write_png), and PIL reads them back as the reference."""
import os
import struct
import sys
import warnings
import zlib

import numpy as np
import skimage.data
from PIL import Image

from common import setup

# PIL warns that convert("RGB") drops a palette's alpha, which is what is wanted here.
warnings.filterwarnings("ignore", "Palette images with Transparency")
f = setup()
folder = sys.argv[1] + ".d"
os.makedirs(folder, exist_ok=True)
rng = np.random.default_rng(int(np.random.randint(0, 2**31)))
ADAM7 = [(0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2), (0, 1, 1, 2)]


def chunk(kind, data):
    body = kind + data
    return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body) & 0xFFFFFFFF)


def pack_rows(a, depth):
    """Scanlines of a (H, W, C) array at the given bit depth, each after filter byte 0."""
    out = b""
    for row in a:
        if depth == 16:
            data = row.astype(">u2").tobytes()
        elif depth == 8:
            data = row.astype(np.uint8).tobytes()
        else:
            data = np.packbits(np.unpackbits(row.astype(np.uint8).reshape(-1, 1), axis=1)[:, 8 - depth:]).tobytes()
        out += b"\0" + data
    return out


def write_png(path, a, ctype, depth, interlace=False):
    """A minimal PNG encoder: a is (H, W, C) of samples at depth bits."""
    h, w = a.shape[:2]
    if interlace:
        raw = b"".join(pack_rows(a[y0::dy, x0::dx], depth) for x0, y0, dx, dy in ADAM7
                       if a[y0::dy, x0::dx].size)
    else:
        raw = pack_rows(a, depth)
    ihdr = struct.pack(">IIBBBBB", w, h, depth, ctype, 0, 0, int(interlace))
    with open(path, "wb") as out:
        out.write(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(raw, 9)) +
                  chunk(b"IEND", b""))


def smooth(h, w, c, levels=256):
    """Random image with gradients and noise, so every sample value and edges occur."""
    y, x = np.mgrid[0:h, 0:w]
    base = np.stack([(x * (k + 1) * 7 + y * (k + 2) * 5) % 256 for k in range(c)], axis=-1)
    noisy = (base + rng.integers(0, 40, (h, w, c))) % 256
    return (noisy * levels // 256).astype(np.int64)


H, W = 37, 45  # odd sizes: partial Adam7 passes, odd chroma blocks
n = 0


def add(path_maker, ext, native_mode, label=False):
    global n
    g = f.create_group(f"case{n}")
    path = os.path.join(folder, f"case{n}.{ext}")
    path_maker(path)
    g.attrs.update(jpeg=int(ext == "jpg"), label=int(label))
    im = Image.open(path)
    for mode in ("L", "RGB", "RGBA"):
        g.create_dataset(mode, data=np.asarray(im.convert(mode)).astype(np.uint8))
    g.create_dataset("native", data=np.asarray(im.convert(native_mode)).astype(np.uint8))
    if ext == "jpg":
        for s in (2, 4, 8):  # PIL's draft (DCT-scaled) decode at 1/s, as RGB
            small = Image.open(path)
            w, h = small.size
            small.draft(small.mode, (w // s, h // s))
            assert small.size == (-(-w // s), -(-h // s)), (small.size, w, h, s)
            g.create_dataset(f"draft{s}", data=np.asarray(small.convert("RGB")).astype(np.uint8))
    if label:
        g.create_dataset("labels", data=np.asarray(Image.open(path)).astype(np.uint8))
    n += 1


def pil_save(array, mode, **kw):
    return lambda path: Image.fromarray(array.astype(np.uint8), mode).save(path, **kw)


def palette_image(colors, trns=None):
    def make(path):
        im = Image.fromarray(smooth(H, W, 1, colors)[..., 0].astype(np.uint8), "P")
        im.putpalette(rng.integers(0, 256, 3 * colors).astype(np.uint8).tobytes())
        if trns is not None:
            im.save(path, transparency=trns)
        else:
            im.save(path)
    return make


# The case numbers in the comments are the ones test_image.c picks by name.
add(pil_save(smooth(H, W, 1)[..., 0], "L"), "png", "L", label=True)  # 0
add(pil_save(smooth(H, W, 2), "LA"), "png", "RGBA")
add(pil_save(smooth(H, W, 3), "RGB"), "png", "RGB")  # 2
add(pil_save(smooth(H, W, 4), "RGBA"), "png", "RGBA")
add(palette_image(256), "png", "RGB", label=True)
add(palette_image(200, trns=bytes(rng.integers(0, 256, 200).astype(np.uint8))), "png", "RGBA", label=True)
add(palette_image(16), "png", "RGB", label=True)  # 6: PIL writes a 4-bit palette
# 16-bit gray: PIL opens a 32-bit "I" image and its convert() clips at 255, so
# a quarter of the values stay below 256 to test both sides of the clip.
gray16 = rng.integers(0, 65536, (H, W)).astype(np.uint16)
gray16[::2, ::2] %= 256
add(lambda p: Image.fromarray(gray16).save(p), "png", "L")
add(lambda p: write_png(p, smooth(H, W, 3) * 256 + rng.integers(0, 256, (H, W, 3)), 2, 16), "png", "RGB")
add(lambda p: write_png(p, smooth(H, W, 3), 2, 8, interlace=True), "png", "RGB")  # 9
add(lambda p: write_png(p, smooth(H, W, 2), 4, 8, interlace=True), "png", "RGBA")
add(lambda p: write_png(p, smooth(H, W, 1, 4), 0, 2), "png", "L")
add(lambda p: Image.fromarray(smooth(H, W, 1)[..., 0] > 128).save(p), "png", "L")  # 1-bit gray
add(pil_save(smooth(H, W, 1)[..., 0], "L", quality=90), "jpg", "L")  # 13
add(pil_save(smooth(H, W, 3), "RGB", quality=90, subsampling=2), "jpg", "RGB")  # 14
add(pil_save(smooth(H, W, 3), "RGB", quality=90, subsampling=0), "jpg", "RGB")
add(pil_save(smooth(H, W, 3), "RGB", quality=75, subsampling=1), "jpg", "RGB")
add(pil_save(smooth(H, W, 3), "RGB", quality=85, progressive=True), "jpg", "RGB")  # 17
# 18: CMYK as PIL writes it (Adobe marker, inverted samples)
add(lambda p: Image.fromarray(smooth(H, W, 3).astype(np.uint8)).convert("CMYK").save(p, quality=90), "jpg", "RGB")
for photo in ("astronaut", "coffee", "camera", "chelsea"):  # 19-26; 19 astronaut PNG, 23 camera PNG
    pixels = getattr(skimage.data, photo)()
    mode = "L" if pixels.ndim == 2 else "RGB"
    add(pil_save(pixels, mode), "png", mode, label=(mode == "L"))
    add(pil_save(pixels, mode, quality=90), "jpg", mode)
# 27-30: more JPEGs an image folder holds. PIL applies no EXIF orientation in
# Image.open (nor does torchvision's loader): a file tagged "rotate 90 CW" (6)
# must come out as stored, W x H, not rotated. Random CMYK (every ink level,
# independent K) and a progressive gray file.
exif = Image.Exif()
exif[0x0112] = 6
add(lambda p: Image.fromarray(smooth(H, W, 3).astype(np.uint8)).save(p, quality=90, exif=exif.tobytes()),
    "jpg", "RGB")
add(lambda p: Image.fromarray(rng.integers(0, 256, (H, W, 4)).astype(np.uint8), "CMYK").save(p, quality=95),
    "jpg", "RGB")
add(pil_save(smooth(H, W, 1)[..., 0], "L", quality=85, progressive=True), "jpg", "L")
add(lambda p: Image.fromarray(smooth(H, W, 3).astype(np.uint8)).convert("CMYK").save(p, quality=80, progressive=True),
    "jpg", "RGB")
# 31-33: damaged JPEGs that libjpeg decodes through with a warning, as PIL does (photo collections hold such
# files): extraneous bytes before the end marker and before the scan, and two flipped bytes in the entropy data.
def damaged(kind):
    def make(path):
        Image.fromarray(smooth(H, W, 3).astype(np.uint8)).save(path, quality=90)
        j = open(path, "rb").read()
        sos, eoi = j.find(b"\xff\xda"), j.rfind(b"\xff\xd9")
        if kind == "before_eoi":
            j = j[:eoi] + b"\x12\x34\x56" + j[eoi:]
        elif kind == "before_sos":
            j = j[:sos] + b"\x00\x11" + j[sos:]
        else:
            b = bytearray(j)
            mid = (sos + eoi) // 2
            b[mid] ^= 0x5A
            b[mid + 1] ^= 0xA5
            j = bytes(b)
        open(path, "wb").write(j)
    return make


for kind in ("before_eoi", "before_sos", "flipped"):
    add(damaged(kind), "jpg", "RGB")
# What PIL's own JPEG encoder loses at quality 90 (4:2:0, its default), on the
# images test_image.c round-trips through facs_jpeg_write.
for name, pixels in (("astronaut_rgb", skimage.data.astronaut()),
                     ("astronaut_gray", np.asarray(Image.fromarray(skimage.data.astronaut()).convert("L"))),
                     ("camera_gray", skimage.data.camera())):
    path = os.path.join(folder, f"pil_{name}.jpg")
    Image.fromarray(pixels).save(path, quality=90)
    back = np.asarray(Image.open(path)).astype(np.float64)
    f.attrs[f"pil_mae_{name}"] = np.abs(back - pixels).mean()
f.attrs.update(cases=n)
f.close()
