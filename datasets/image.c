/* Format detection, file reading, PIL-compatible channel conversion and atomic
 * file writing (through kernels/atomic_file.h), shared by the PNG and JPEG
 * codecs (png.c, jpeg.c). */
#include "image.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "atomic_file.h"

void facs_image_free(facs_image *img)
{
    if (!img)
        return;
    free(img->pixels);
    memset(img, 0, sizeof *img);
}

void facs_image16_free(facs_image16 *img)
{
    if (!img)
        return;
    free(img->pixels);
    memset(img, 0, sizeof *img);
}

static int is_png(const uint8_t *buf, size_t len)
{
    static const uint8_t sig[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
    return len >= 8 && memcmp(buf, sig, 8) == 0;
}

static int is_jpeg(const uint8_t *buf, size_t len) { return len >= 3 && buf[0] == 0xff && buf[1] == 0xd8 && buf[2] == 0xff; }

/* A regular file only, so a FIFO or a folder gives a message instead of a hang
 * or a strange read error. */
facs_status facs_file_read(const char *path, uint8_t **data, size_t *len)
{
    *data = NULL;
    *len = 0;
    FILE *f = fopen(path, "rb");
    if (!f)
        return facs_fail(FACS_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fileno(f), &st) != 0 || !S_ISREG(st.st_mode)) {
        fclose(f);
        return facs_fail(FACS_ERR_IO, "%s: not a regular file", path);
    }
    size_t size = (size_t)st.st_size;
    uint8_t *buf = malloc(size ? size : 1);
    if (!buf) {
        fclose(f);
        return facs_fail(FACS_ERR_MEMORY, "%s: cannot allocate %zu bytes to read it", path, size);
    }
    size_t got = fread(buf, 1, size, f);
    int failed = ferror(f);
    fclose(f);
    if (failed || got != size) {
        free(buf);
        return facs_fail(FACS_ERR_IO, "%s: read error (%zu of %zu bytes)", path, got, size);
    }
    *data = buf;
    *len = size;
    return FACS_OK;
}

static int valid_want(int want) { return want == 0 || want == 1 || want == 3 || want == 4; }

/* Says what buf is not, when it is neither a PNG nor a JPEG. */
static facs_status check_image_signature(const uint8_t *buf, size_t len, const char *name)
{
    if (len == 0)
        return facs_fail(FACS_ERR_FORMAT, "%s: empty file, not an image", name);
    if (!is_png(buf, len) && !is_jpeg(buf, len))
        return facs_fail(FACS_ERR_FORMAT, "%s: neither a PNG nor a JPEG (unknown signature)", name);
    return FACS_OK;
}

facs_status facs_image_decode_draft(const uint8_t *buf, size_t len, const char *name, int want_channels, int scale,
                                    facs_image *img)
{
    memset(img, 0, sizeof *img);
    if (!valid_want(want_channels))
        return facs_fail(FACS_ERR_ARG, "%s: want_channels must be 0, 1, 3 or 4, not %d", name, want_channels);
    FACS_TRY(check_image_signature(buf, len, name));
    if (is_jpeg(buf, len))
        return facs_jpeg_decode(buf, len, name, want_channels, scale, img);
    if (scale != 1)
        return facs_fail(FACS_ERR_ARG, "%s: a PNG has no draft decoding (scale %d)", name, scale);
    return facs_png_decode(buf, len, name, want_channels, 0, img);
}

facs_status facs_image_decode(const uint8_t *buf, size_t len, const char *name, int want_channels,
                              facs_image *img)
{
    return facs_image_decode_draft(buf, len, name, want_channels, 1, img);
}

static uint32_t read_be32(const uint8_t *p) { return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3]; }

facs_status facs_image_probe(const uint8_t *buf, size_t len, const char *name, int *width, int *height, int *jpeg)
{
    *width = *height = *jpeg = 0;
    FACS_TRY(check_image_signature(buf, len, name));
    if (is_jpeg(buf, len)) {
        *jpeg = 1;
        return facs_jpeg_size(buf, len, name, width, height);
    }
    /* The signature, then IHDR first: its length, "IHDR", width and height. */
    if (len < 24 || memcmp(buf + 12, "IHDR", 4) != 0)
        return facs_fail(FACS_ERR_FORMAT, "%s: corrupt or truncated PNG header (no IHDR chunk first)", name);
    uint32_t w = read_be32(buf + 16), h = read_be32(buf + 20);
    if (w == 0 || h == 0 || w > FACS_IMAGE_MAX_SIDE || h > FACS_IMAGE_MAX_SIDE)
        return facs_fail(FACS_ERR_FORMAT, "%s: PNG of %ux%u pixels is outside the supported size", name, w, h);
    *width = (int)w;
    *height = (int)h;
    return FACS_OK;
}

/* Label files (8- or 16-bit) must be PNGs: says what else buf is. */
static facs_status check_label_signature(const uint8_t *buf, size_t len, const char *name)
{
    if (len == 0)
        return facs_fail(FACS_ERR_FORMAT, "%s: empty file, not a label PNG", name);
    if (is_jpeg(buf, len))
        return facs_fail(FACS_ERR_FORMAT,
                         "%s: a JPEG; label maps must be PNG (lossy compression changes class ids)", name);
    if (!is_png(buf, len))
        return facs_fail(FACS_ERR_FORMAT, "%s: not a PNG (unknown signature), cannot read labels", name);
    return FACS_OK;
}

facs_status facs_image_decode_label(const uint8_t *buf, size_t len, const char *name, facs_image *img)
{
    memset(img, 0, sizeof *img);
    FACS_TRY(check_label_signature(buf, len, name));
    return facs_png_decode(buf, len, name, 0, 1, img);
}

facs_status facs_image16_decode(const uint8_t *buf, size_t len, const char *name, facs_image16 *img)
{
    memset(img, 0, sizeof *img);
    FACS_TRY(check_label_signature(buf, len, name));
    return facs_png_decode16(buf, len, name, img);
}

facs_status facs_image_read(const char *path, int want_channels, facs_image *img)
{
    memset(img, 0, sizeof *img);
    uint8_t *buf;
    size_t len;
    FACS_TRY(facs_file_read(path, &buf, &len));
    facs_status s = facs_image_decode(buf, len, path, want_channels, img);
    free(buf);
    return s;
}

facs_status facs_image_read_label(const char *path, facs_image *img)
{
    memset(img, 0, sizeof *img);
    uint8_t *buf;
    size_t len;
    FACS_TRY(facs_file_read(path, &buf, &len));
    facs_status s = facs_image_decode_label(buf, len, path, img);
    free(buf);
    return s;
}

facs_status facs_image16_read(const char *path, facs_image16 *img)
{
    memset(img, 0, sizeof *img);
    uint8_t *buf;
    size_t len;
    FACS_TRY(facs_file_read(path, &buf, &len));
    facs_status s = facs_image16_decode(buf, len, path, img);
    free(buf);
    return s;
}

/* PIL's ITU-R 601-2 luma in 16-bit fixed point; the weights sum to 65536, so a
 * gray pixel (R = G = B) maps to itself. */
static uint8_t luma(const uint8_t *p) { return (uint8_t)((p[0] * 19595u + p[1] * 38470u + p[2] * 7471u + 0x8000u) >> 16); }

facs_status facs_image_convert(facs_image *img, int want_channels)
{
    if (!valid_want(want_channels))
        return facs_fail(FACS_ERR_ARG, "image convert: want_channels must be 0, 1, 3 or 4, not %d", want_channels);
    int from = img->channels, to = want_channels;
    if (to == 0 || to == from)
        return FACS_OK;
    size_t n = (size_t)img->width * (size_t)img->height;
    uint8_t *out = malloc(n * (size_t)to);
    if (!out)
        return facs_fail(FACS_ERR_MEMORY, "image convert: cannot allocate %zu bytes", n * (size_t)to);
    const uint8_t *in = img->pixels;
    for (size_t i = 0; i < n; i++, in += from) {
        uint8_t *o = out + i * (size_t)to;
        if (to == 1) {
            o[0] = luma(in);
        } else if (from == 1) {
            o[0] = o[1] = o[2] = in[0];
            if (to == 4)
                o[3] = 255;
        } else {
            o[0] = in[0], o[1] = in[1], o[2] = in[2];
            if (to == 4)
                o[3] = 255;
        }
    }
    free(img->pixels);
    img->pixels = out;
    img->channels = to;
    return FACS_OK;
}

facs_status facs_file_write_atomic(const char *path, const void *data, size_t len)
{
    facs_atomic_file a;
    FACS_TRY(facs_atomic_open(&a, path));
    if (len > 0 && fwrite(data, 1, len, a.f) != len) {
        int err = errno;
        facs_atomic_abort(&a);
        return facs_fail(FACS_ERR_IO, "%s: write failed: %s", path, strerror(err));
    }
    return facs_atomic_commit(&a);
}
