/* JPEG decoding and encoding with libjpeg-turbo's TurboJPEG API (2.1, the
 * version in Debian 12; its tj3 API came in 3.0).
 *
 * Decoding uses TurboJPEG's decompression defaults, which are libjpeg's and so
 * PIL's: the accurate integer IDCT and smooth ("fancy") chroma upsampling.
 * libjpeg reports a damaged stream as a warning and decodes on; TurboJPEG
 * then returns -1 with TJERR_WARNING. PIL decodes through such warnings
 * (extraneous bytes before a marker, a bad Huffman code), so we do too, except
 * for the end of the data coming too soon: libjpeg pads the missing rows with
 * gray, where PIL refuses the file as truncated, and so do we (a partial image
 * is never returned). TJFLAG_LIMITSCANS refuses progressive files with an
 * absurd number of scans, which otherwise take minutes to decode.
 *
 * CMYK and YCCK JPEGs decode as PIL's Image.open(...).convert("RGB"): libjpeg
 * hands out the stored CMYK samples (YCCK converted to CMYK), PIL reads them
 * as Adobe's inverted CMYK ("CMYK;I", whatever the file's Adobe marker says)
 * and converts with its naive formula, no colour profile.
 *
 * Draft decoding (scale 2, 4 or 8) is libjpeg's DCT scaling, as PIL's
 * Image.draft asks for it: each 8x8 block goes through a reduced IDCT to
 * 8 / scale pixels on a side, the image comes out ceil(W / scale) x
 * ceil(H / scale), with the same accurate IDCT and fancy upsampling, and none
 * of the work of the discarded resolution is done. */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <turbojpeg.h>

#include "image.h"

/* PIL's MULDIV255: a * b / 255 rounded, in integers. */
static int muldiv255(int a, int b)
{
    int t = a * b + 128;
    return ((t >> 8) + t) >> 8;
}

/* In place, n pixels of stored (inverted) CMYK to RGB, 4 bytes to 3: PIL
 * unpacks "CMYK;I" as 255 - stored, then its cmyk2rgb gives
 * R = (255 - K) - C (255 - K) / 255 (likewise G from M, B from Y). */
static void cmyk_to_rgb(uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        const uint8_t *in = p + 4 * i;
        int nk = in[3]; /* 255 - K, K = 255 - stored */
        uint8_t rgb[3];
        for (int c = 0; c < 3; c++) {
            int v = nk - muldiv255(255 - in[c], nk);
            rgb[c] = (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : v);
        }
        memcpy(p + 3 * i, rgb, 3); /* 3 i + 3 <= 4 i + 3: never ahead of what is still to read */
    }
}

/* Whether TurboJPEG's last failure stops the decoding. Only libjpeg's
 * "Corrupt JPEG data" warnings are decoded through (extraneous bytes before a
 * marker, a bad Huffman code), not the one of a scan that ends too soon, nor
 * "Premature end of JPEG file" (the data ran out: PIL's "image file is
 * truncated"), nor an error. */
static int fails(tjhandle tj)
{
    const char *why = tjGetErrorStr2(tj);
    return tjGetErrorCode(tj) != TJERR_WARNING || strncmp(why, "Corrupt JPEG data:", 18) != 0 ||
           strstr(why, "premature end of data segment") != NULL;
}

/* The header's size and colour space, refused when the header is damaged or
 * the size is outside what we decode (a truncated header can parse as 0 rows). */
static facs_status read_header(tjhandle tj, const uint8_t *buf, size_t len, const char *name, int *w, int *h,
                               int *colorspace)
{
    int subsamp = 0;
    *w = *h = *colorspace = 0; /* a header cut short can succeed without setting them */
    if (tjDecompressHeader3(tj, buf, (unsigned long)len, w, h, &subsamp, colorspace) != 0 && fails(tj))
        return facs_fail(FACS_ERR_FORMAT, "%s: corrupt or truncated JPEG header: %s", name, tjGetErrorStr2(tj));
    if (*w <= 0 || *h <= 0 || *w > FACS_IMAGE_MAX_SIDE || *h > FACS_IMAGE_MAX_SIDE ||
        (int64_t)*w * *h > FACS_IMAGE_MAX_PIXELS)
        return facs_fail(FACS_ERR_FORMAT, "%s: JPEG of %dx%d pixels is outside the supported size (at most %ld pixels)",
                         name, *w, *h, FACS_IMAGE_MAX_PIXELS);
    return FACS_OK;
}

facs_status facs_jpeg_decode(const uint8_t *buf, size_t len, const char *name, int want_channels, int scale,
                             facs_image *img)
{
    memset(img, 0, sizeof *img);
    if (scale != 1 && scale != 2 && scale != 4 && scale != 8)
        return facs_fail(FACS_ERR_ARG, "%s: JPEG draft scale must be 1, 2, 4 or 8, not %d", name, scale);
    if (len > ULONG_MAX)
        return facs_fail(FACS_ERR_FORMAT, "%s: JPEG of %zu bytes is too large", name, len);
    tjhandle tj = tjInitDecompress();
    if (!tj)
        return facs_fail(FACS_ERR_MEMORY, "%s: cannot create a JPEG decoder: %s", name, tjGetErrorStr2(NULL));
    int w, h, colorspace;
    uint8_t *pixels = NULL;
    facs_status s = read_header(tj, buf, len, name, &w, &h, &colorspace);
    if (s == FACS_OK) {
        int cmyk = colorspace == TJCS_CMYK || colorspace == TJCS_YCCK;
        int format = colorspace == TJCS_GRAY ? TJPF_GRAY : cmyk ? TJPF_CMYK : TJPF_RGB;
        /* TurboJPEG picks the scaling factor from the size asked for. */
        tjscalingfactor factor = {1, scale};
        w = TJSCALED(w, factor);
        h = TJSCALED(h, factor);
        pixels = malloc((size_t)w * (size_t)h * (size_t)tjPixelSize[format]);
        if (!pixels)
            s = facs_fail(FACS_ERR_MEMORY, "%s: cannot allocate %dx%d pixels", name, w, h);
        else if (tjDecompress2(tj, buf, (unsigned long)len, pixels, w, 0, h, format, TJFLAG_LIMITSCANS) != 0 &&
                 fails(tj))
            s = facs_fail(FACS_ERR_FORMAT, "%s: corrupt or truncated JPEG: %s", name, tjGetErrorStr2(tj));
        else {
            if (cmyk)
                cmyk_to_rgb(pixels, (size_t)w * (size_t)h);
            *img = (facs_image){w, h, format == TJPF_GRAY ? 1 : 3, pixels};
        }
    }
    tjDestroy(tj);
    if (s != FACS_OK) {
        free(pixels);
        memset(img, 0, sizeof *img);
        return s;
    }
    s = facs_image_convert(img, want_channels);
    if (s != FACS_OK) {
        char why[256]; /* facs_fail must not read the buffer it writes */
        snprintf(why, sizeof why, "%s", facs_last_error());
        facs_image_free(img);
        return facs_fail(s, "%s: %s", name, why);
    }
    return FACS_OK;
}

facs_status facs_jpeg_size(const uint8_t *buf, size_t len, const char *name, int *width, int *height)
{
    *width = *height = 0;
    if (len > ULONG_MAX)
        return facs_fail(FACS_ERR_FORMAT, "%s: JPEG of %zu bytes is too large", name, len);
    tjhandle tj = tjInitDecompress();
    if (!tj)
        return facs_fail(FACS_ERR_MEMORY, "%s: cannot create a JPEG decoder: %s", name, tjGetErrorStr2(NULL));
    int colorspace;
    facs_status s = read_header(tj, buf, len, name, width, height, &colorspace);
    tjDestroy(tj);
    if (s != FACS_OK)
        *width = *height = 0;
    return s;
}

facs_status facs_jpeg_write(const char *path, const facs_image *img, int quality)
{
    if (!img || !img->pixels || img->width <= 0 || img->height <= 0 || !(img->channels == 1 || img->channels == 3))
        return facs_fail(FACS_ERR_ARG, "%s: cannot write JPEG: need a non-empty gray or RGB image (JPEG has no alpha)",
                         path);
    if (quality < 1 || quality > 100)
        return facs_fail(FACS_ERR_ARG, "%s: JPEG quality must be 1..100, not %d", path, quality);
    tjhandle tj = tjInitCompress();
    if (!tj)
        return facs_fail(FACS_ERR_MEMORY, "%s: cannot create a JPEG encoder: %s", path, tjGetErrorStr2(NULL));
    unsigned char *jpeg = NULL;
    unsigned long size = 0;
    int gray = img->channels == 1;
    facs_status s;
    /* The accurate DCT is libjpeg's (and PIL's) default; TurboJPEG's own default is the fast one. */
    if (tjCompress2(tj, img->pixels, img->width, 0, img->height, gray ? TJPF_GRAY : TJPF_RGB, &jpeg, &size,
                    gray ? TJSAMP_GRAY : TJSAMP_420, quality, TJFLAG_ACCURATEDCT) != 0)
        s = facs_fail(FACS_ERR_FORMAT, "%s: JPEG encoding failed: %s", path, tjGetErrorStr2(tj));
    else
        s = facs_file_write_atomic(path, jpeg, size);
    tjFree(jpeg);
    tjDestroy(tj);
    return s;
}
