/* 8-bit images: PNG (libpng) and JPEG (libjpeg-turbo's TurboJPEG API); 16-bit label
 * images (facs_image16: PNG only, values kept exactly) below.
 *
 *     facs_image img;
 *     if (facs_image_read("frame.png", 3, &img) != FACS_OK)
 *         fprintf(stderr, "%s\n", facs_last_error());   // names the file and the problem
 *     ... img.pixels[(y * img.width + x) * img.channels + c] ...
 *     facs_image_free(&img);
 *
 * Pixels are interleaved rows (HWC), top row first, channels 1 (gray), 3 (RGB)
 * or 4 (RGBA). Decoding matches Pillow (PIL), the reference the tests compare
 * with bit for bit:
 *   - channel conversion is PIL's convert("L"/"RGB"/"RGBA"): gray from colour is
 *     (19595 R + 38470 G + 7471 B + 32768) >> 16, alpha is dropped (not blended),
 *     gray is replicated, added alpha is 255;
 *   - PNG palette images are expanded through the palette, to RGBA when they have
 *     a tRNS chunk (PIL's convert("RGBA")); gray+alpha is stored as RGBA (R = G = B);
 *     1/2/4-bit gray is scaled to 0..255; tRNS of gray and RGB images is ignored;
 *   - 16-bit RGB(A) and gray+alpha PNG samples keep their high byte
 *     (png_set_strip_16), as PIL's unpackers do; 16-bit gray is clipped at 255
 *     (min(v, 255)), as PIL's convert("L"/"RGB") of the 32-bit image it opens,
 *     so a folder of such files trains on what torchvision's loader gives;
 *   - JPEG decoding uses libjpeg's defaults, as PIL does (accurate integer DCT,
 *     fancy upsampling). Gray JPEGs decode to 1 channel, YCbCr/RGB to 3, CMYK
 *     and YCCK to 3 through PIL's inverted-CMYK reading and naive CMYK -> RGB
 *     formula (jpeg.c). Any libjpeg warning (a truncated or damaged stream) is an
 *     error, so a partial image is never returned;
 *   - EXIF orientation is not applied and colour profiles are ignored, as in PIL's
 *     Image.open (and so torchvision's ImageFolder loader): an image tagged
 *     "rotate 90" comes out as stored, not rotated.
 *
 * Every failure returns a facs_status with a message (facs_last_error()) naming
 * the file and the problem; the image is then left empty ({0}). Sizes above
 * FACS_IMAGE_MAX_SIDE or FACS_IMAGE_MAX_PIXELS are refused before any pixel
 * memory is allocated, so a hostile header cannot ask for gigabytes. */
#ifndef FACS_IMAGE_H
#define FACS_IMAGE_H

#include <stddef.h>
#include <stdint.h>

#include "status.h"

#define FACS_IMAGE_MAX_SIDE 65535
#define FACS_IMAGE_MAX_PIXELS (1L << 26)

typedef struct {
    int width, height;
    int channels;    /* 1, 3 or 4 */
    uint8_t *pixels; /* malloc'd, height * width * channels bytes, owned by the image */
} facs_image;

/* Frees the pixels and zeroes the image (safe on a zeroed image). */
void facs_image_free(facs_image *img);

/* Reads a PNG or JPEG file (told apart by their signatures). want_channels:
 * 0 keeps the decoded channels (see above), 1, 3 or 4 converts as PIL does. */
facs_status facs_image_read(const char *path, int want_channels, facs_image *img);

/* Decodes a PNG or JPEG held in memory; name is used in error messages. */
facs_status facs_image_decode(const uint8_t *buf, size_t len, const char *name, int want_channels,
                              facs_image *img);

/* Reads a whole regular file into a malloc'd buffer (*data, *len bytes), which
 * the caller frees; a FIFO or a folder is refused with a message. */
facs_status facs_file_read(const char *path, uint8_t **data, size_t *len);

/* The width and height an encoded PNG or JPEG declares in its header, without
 * decoding it; *jpeg is 1 for a JPEG. Anything else is refused as
 * facs_image_decode refuses it. */
facs_status facs_image_probe(const uint8_t *buf, size_t len, const char *name, int *width, int *height, int *jpeg);

/* facs_image_decode of a JPEG at 1/scale of its size (scale 1, 2, 4 or 8):
 * ceil(W / scale) x ceil(H / scale) pixels from libjpeg's scaled IDCT, equal to
 * what PIL decodes after Image.draft(mode, (W // scale, H // scale)). A PNG is
 * refused for scale > 1 (it has no cheap reduced decode). */
facs_status facs_image_decode_draft(const uint8_t *buf, size_t len, const char *name, int want_channels, int scale,
                                    facs_image *img);

/* Reads a label map: a PNG whose raw samples are class ids, either 8-bit gray or
 * a palette image (indices, not colours; 1/2/4-bit indices are unpacked). The
 * result has 1 channel. Anything else (a JPEG, RGB, 16-bit, gray+alpha, low-bit
 * gray) is refused with a message saying what the file is. */
facs_status facs_image_read_label(const char *path, facs_image *img);
facs_status facs_image_decode_label(const uint8_t *buf, size_t len, const char *name, facs_image *img);

/* A 16-bit label image, such as Cityscapes' gtFine _instanceIds.png (labelId *
 * 1000 + instance for the pixels of an object, labelId elsewhere): ids above 255
 * that facs_image cannot hold. */
typedef struct {
    int width, height;
    uint16_t *pixels; /* malloc'd, row-major, 1 channel, owned by the image */
} facs_image16;

/* Frees the pixels and zeroes the image (safe on a zeroed image). */
void facs_image16_free(facs_image16 *img);

/* Reads a 1-channel gray PNG of bit depth 8 or 16 with its values kept exactly
 * (no clip at 255, no scaling of 8-bit samples). Anything else (colour, palette,
 * alpha, other bit depths, a JPEG, a truncated or corrupt file) is refused with
 * a message naming the file and saying what it is; the image is then left empty. */
facs_status facs_image16_read(const char *path, facs_image16 *img);
facs_status facs_image16_decode(const uint8_t *buf, size_t len, const char *name, facs_image16 *img);

/* Writes a 16-bit gray PNG, whole or not at all (facs_file_write_atomic). */
facs_status facs_png_write16(const char *path, const facs_image16 *img);

/* Writes a gray, RGB or RGBA image as an 8-bit PNG, whole or not at all
 * (facs_file_write_atomic). */
facs_status facs_png_write(const char *path, const facs_image *img);

/* Writes a gray or RGB image as a baseline JPEG of the given quality (1..100),
 * atomically; colour is subsampled 4:2:0, PIL's default. RGBA is refused (JPEG
 * has no alpha). */
facs_status facs_jpeg_write(const char *path, const facs_image *img, int quality);

/* Converts img in place to want_channels (1, 3 or 4) as PIL's convert() does;
 * 0 or the current count leaves it unchanged. */
facs_status facs_image_convert(facs_image *img, int want_channels);

/* The codecs behind facs_image_decode, for callers that know the format. label
 * selects the label rules of facs_image_decode_label (want_channels is then ignored). */
facs_status facs_png_decode(const uint8_t *buf, size_t len, const char *name, int want_channels, int label,
                            facs_image *img);
facs_status facs_jpeg_decode(const uint8_t *buf, size_t len, const char *name, int want_channels, int scale,
                             facs_image *img);
facs_status facs_jpeg_size(const uint8_t *buf, size_t len, const char *name, int *width, int *height);
/* The PNG codec behind facs_image16_decode. */
facs_status facs_png_decode16(const uint8_t *buf, size_t len, const char *name, facs_image16 *img);

/* Writes len bytes to path whole or not at all, through kernels/atomic_file.h:
 * the bytes go to "<path>.facs-tmp.<pid>" in path's folder, which is fsynced and
 * renamed over path, and the folder is fsynced. On failure (a missing or
 * read-only folder, a full disk) path is left as it was and the temporary is
 * removed; a temporary left by a killed process is cleared by
 * facs_atomic_remove_stale. */
facs_status facs_file_write_atomic(const char *path, const void *data, size_t len);

#endif
