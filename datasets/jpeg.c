/* JPEG decoding and encoding with libjpeg-turbo's TurboJPEG API (2.1, the
 * version in Debian 12; its tj3 API came in 3.0).
 *
 * Decoding uses TurboJPEG's decompression defaults, which are libjpeg's and so
 * PIL's: the accurate integer IDCT and smooth ("fancy") chroma upsampling.
 * A truncated or damaged stream is only a warning to libjpeg (it pads the
 * missing rows with gray); tjDecompress2 then still returns -1, and we never
 * return such a partial image. TJFLAG_STOPONWARNING stops at the first warning
 * instead of decoding the rest of a damaged stream for nothing. TJFLAG_LIMITSCANS
 * refuses progressive files with an absurd number of scans, which otherwise take
 * minutes to decode. */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <turbojpeg.h>

#include "image.h"

facs_status facs_jpeg_decode(const uint8_t *buf, size_t len, const char *name, int want_channels,
                             facs_image *img)
{
    memset(img, 0, sizeof *img);
    if (len > ULONG_MAX)
        return facs_fail(FACS_ERR_FORMAT, "%s: JPEG of %zu bytes is too large", name, len);
    tjhandle tj = tjInitDecompress();
    if (!tj)
        return facs_fail(FACS_ERR_MEMORY, "%s: cannot create a JPEG decoder: %s", name, tjGetErrorStr2(NULL));
    int w, h, subsamp, colorspace;
    facs_status s = FACS_OK;
    uint8_t *pixels = NULL;
    if (tjDecompressHeader3(tj, buf, (unsigned long)len, &w, &h, &subsamp, &colorspace) != 0) {
        s = facs_fail(FACS_ERR_FORMAT, "%s: corrupt or truncated JPEG header: %s", name, tjGetErrorStr2(tj));
    } else if (colorspace == TJCS_CMYK || colorspace == TJCS_YCCK) {
        s = facs_fail(FACS_ERR_FORMAT, "%s: a %s JPEG; only gray and RGB (YCbCr) JPEGs are supported", name,
                      colorspace == TJCS_CMYK ? "CMYK" : "YCCK");
    } else if (w <= 0 || h <= 0 || w > FACS_IMAGE_MAX_SIDE || h > FACS_IMAGE_MAX_SIDE ||
               (int64_t)w * h > FACS_IMAGE_MAX_PIXELS) {
        s = facs_fail(FACS_ERR_FORMAT, "%s: JPEG of %dx%d pixels is outside the supported size (at most %ld pixels)",
                      name, w, h, FACS_IMAGE_MAX_PIXELS);
    } else {
        int channels = colorspace == TJCS_GRAY ? 1 : 3;
        pixels = malloc((size_t)w * (size_t)h * (size_t)channels);
        if (!pixels)
            s = facs_fail(FACS_ERR_MEMORY, "%s: cannot allocate %dx%d pixels", name, w, h);
        else if (tjDecompress2(tj, buf, (unsigned long)len, pixels, w, 0, h, channels == 1 ? TJPF_GRAY : TJPF_RGB,
                               TJFLAG_STOPONWARNING | TJFLAG_LIMITSCANS) != 0)
            s = facs_fail(FACS_ERR_FORMAT, "%s: corrupt or truncated JPEG: %s", name, tjGetErrorStr2(tj));
        else
            *img = (facs_image){w, h, channels, pixels};
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
