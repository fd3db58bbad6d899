/* PNG decoding and encoding with libpng.
 *
 * libpng reports errors by longjmp. Each call into libpng happens inside a
 * helper (run_decode, run_encode) whose only job after setjmp is to return -1;
 * everything that must be freed lives in a job struct owned by the caller, so
 * no automatic variable changed after setjmp is read after the longjmp (C11
 * 7.13.2.1) and nothing leaks on a corrupt file. */
#include <png.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "image.h"

/* What a decode keeps: an image (PIL's conversions), an 8-bit label map (raw
 * samples or palette indices) or a 16-bit label image (raw gray samples). */
enum { DECODE_IMAGE, DECODE_LABEL, DECODE_LABEL16 };

typedef struct {
    const uint8_t *src; /* decoding: the whole file */
    size_t len, pos;
    int kind;           /* decoding: DECODE_* */
    png_uint_32 width, height;
    int channels;       /* decoding: of the result */
    uint8_t *out;       /* encoding: the growing output */
    size_t out_len, out_cap;
    uint8_t *pixels;
    png_bytep *rows;
    char msg[200];      /* libpng's error message */
    facs_status refused; /* set (with facs_fail) when we, not libpng, reject the file */
} png_job;

static void on_error(png_structp png, png_const_charp msg)
{
    png_job *job = png_get_error_ptr(png);
    snprintf(job->msg, sizeof job->msg, "%s", msg);
    png_longjmp(png, 1);
}

/* Warnings concern ancillary chunks (a bad CRC on tEXt, an unknown sRGB profile)
 * that do not change the pixels; they are not worth failing or printing for. */
static void on_warning(png_structp png, png_const_charp msg)
{
    (void)png;
    (void)msg;
}

static void on_read(png_structp png, png_bytep data, size_t n)
{
    png_job *job = png_get_io_ptr(png);
    if (n > job->len - job->pos)
        png_error(png, "unexpected end of file (truncated)");
    memcpy(data, job->src + job->pos, n);
    job->pos += n;
}

static const char *color_type_name(int ctype)
{
    switch (ctype) {
    case PNG_COLOR_TYPE_GRAY: return "gray";
    case PNG_COLOR_TYPE_GRAY_ALPHA: return "gray+alpha";
    case PNG_COLOR_TYPE_RGB: return "RGB";
    case PNG_COLOR_TYPE_RGB_ALPHA: return "RGBA";
    case PNG_COLOR_TYPE_PALETTE: return "palette";
    default: return "unknown colour type";
    }
}

/* 16-bit gray is read whole and clipped at 255 afterwards (clip_gray16): PIL
 * opens it as a 32-bit integer image whose convert("L"/"RGB") clips. */
static int is_gray16(int ctype, int depth) { return ctype == PNG_COLOR_TYPE_GRAY && depth == 16; }

/* Sets the transforms for an image read and returns the channel count. */
static int image_transforms(png_structp png, png_infop info, int ctype, int depth)
{
    if (depth == 16 && !is_gray16(ctype, depth))
        png_set_strip_16(png); /* the high byte, as PIL's "RGB;16B" and "LA;16B" unpackers */
    switch (ctype) {
    case PNG_COLOR_TYPE_PALETTE:
        /* png_set_palette_to_rgb also turns a tRNS chunk into an alpha channel. */
        png_set_palette_to_rgb(png);
        return png_get_valid(png, info, PNG_INFO_tRNS) ? 4 : 3;
    case PNG_COLOR_TYPE_GRAY:
        if (depth < 8)
            png_set_expand_gray_1_2_4_to_8(png);
        return 1;
    case PNG_COLOR_TYPE_GRAY_ALPHA:
        png_set_gray_to_rgb(png);
        return 4;
    case PNG_COLOR_TYPE_RGB: return 3;
    default: return 4;
    }
}

/* In place, n big-endian 16-bit samples to 8 bits: min(v, 255). */
static void clip_gray16(uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        p[i] = p[2 * i] ? 255 : p[2 * i + 1];
}

/* 16-bit samples in memory are host-order uint16_t; PNG stores them big-endian. */
static int little_endian(void)
{
    const uint16_t one = 1;
    return *(const uint8_t *)&one;
}

/* In place, n 8-bit samples to uint16_t, from the end so no sample is
 * overwritten before it is read. */
static void widen_to_16(uint8_t *p, size_t n)
{
    uint16_t *out = (uint16_t *)(void *)p;
    for (size_t i = n; i-- > 0;)
        out[i] = p[i];
}

/* Checks a 16-bit label image's format and sets its transforms; returns the
 * bytes per sample, 0 when the file is refused (job->refused is set). */
static int label16_transforms(png_structp png, png_job *job, const char *name, int ctype, int depth)
{
    if (ctype != PNG_COLOR_TYPE_GRAY || (depth != 8 && depth != 16)) {
        job->refused = facs_fail(FACS_ERR_FORMAT,
                                 "%s: a %d-bit %s PNG; a 16-bit label image must be a gray PNG of bit depth 8 "
                                 "or 16 whose samples are ids",
                                 name, depth, color_type_name(ctype));
        return 0;
    }
    if (depth == 16 && little_endian())
        png_set_swap(png);
    return depth / 8;
}

/* Returns 0 on success, 1 when the file was refused (job->refused is set), -1
 * when libpng failed (job->msg says why). */
static int run_decode(png_structp png, png_infop info, png_job *job, const char *name)
{
    if (setjmp(png_jmpbuf(png)))
        return -1;
    png_set_user_limits(png, FACS_IMAGE_MAX_SIDE, FACS_IMAGE_MAX_SIDE);
#ifdef FUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION
    /* The fuzzers' mutations would almost all stop at a CRC mismatch and never
     * reach the decoder (tests/fuzz/run_fuzz.sh defines this, as OSS-Fuzz does). */
    png_set_crc_action(png, PNG_CRC_QUIET_USE, PNG_CRC_QUIET_USE);
#endif
    png_set_read_fn(png, job, on_read);
    png_read_info(png, info);
    png_uint_32 w, h;
    int depth, ctype, interlace;
    png_get_IHDR(png, info, &w, &h, &depth, &ctype, &interlace, NULL, NULL);
    if ((uint64_t)w * h > (uint64_t)FACS_IMAGE_MAX_PIXELS) {
        job->refused = facs_fail(FACS_ERR_FORMAT, "%s: PNG of %ux%u pixels is above the limit of %ld pixels",
                                 name, (unsigned)w, (unsigned)h, FACS_IMAGE_MAX_PIXELS);
        return 1;
    }
    int channels = 1, sample_bytes = 1;
    if (job->kind == DECODE_LABEL16) {
        sample_bytes = label16_transforms(png, job, name, ctype, depth);
        if (!sample_bytes)
            return 1;
    } else if (job->kind == DECODE_LABEL) {
        if (!(ctype == PNG_COLOR_TYPE_PALETTE || (ctype == PNG_COLOR_TYPE_GRAY && depth == 8))) {
            job->refused = facs_fail(FACS_ERR_FORMAT,
                                     "%s: a %d-bit %s PNG; a label map must be an 8-bit gray or a palette PNG "
                                     "whose samples are class ids",
                                     name, depth, color_type_name(ctype));
            return 1;
        }
        if (depth < 8)
            png_set_packing(png); /* one index per byte, unscaled */
    } else {
        channels = image_transforms(png, info, ctype, depth);
        sample_bytes = is_gray16(ctype, depth) ? 2 : 1;
    }
    png_set_interlace_handling(png);
    png_read_update_info(png, info);
    size_t row_bytes = (size_t)w * (size_t)channels * (size_t)sample_bytes;
    if (png_get_rowbytes(png, info) != row_bytes || png_get_channels(png, info) != channels) {
        job->refused = facs_fail(FACS_ERR_FORMAT, "%s: unsupported PNG layout (%d-bit %s)", name, depth,
                                 color_type_name(ctype));
        return 1;
    }
    /* A 16-bit label image of 8-bit samples is widened in place afterwards. */
    size_t out_bytes = job->kind == DECODE_LABEL16 ? (size_t)w * 2 : row_bytes;
    job->pixels = malloc(out_bytes * h);
    job->rows = malloc(sizeof *job->rows * h);
    if (!job->pixels || !job->rows) {
        job->refused = facs_fail(FACS_ERR_MEMORY, "%s: cannot allocate %ux%u pixels", name, (unsigned)w,
                                 (unsigned)h);
        return 1;
    }
    for (png_uint_32 y = 0; y < h; y++)
        job->rows[y] = job->pixels + y * row_bytes;
    png_read_image(png, job->rows);
    png_read_end(png, NULL);
    if (job->kind == DECODE_IMAGE && sample_bytes == 2)
        clip_gray16(job->pixels, (size_t)w * h);
    if (job->kind == DECODE_LABEL16 && sample_bytes == 1)
        widen_to_16(job->pixels, (size_t)w * h);
    job->width = w;
    job->height = h;
    job->channels = channels;
    return 0;
}

/* Decodes buf into job->pixels (job->width, height, channels), as kind says; on
 * failure nothing is left allocated and the message names the file. */
static facs_status decode(const uint8_t *buf, size_t len, const char *name, int kind, png_job *job)
{
    *job = (png_job){.src = buf, .len = len, .kind = kind};
    png_structp png = png_create_read_struct(PNG_LIBPNG_VER_STRING, job, on_error, on_warning);
    png_infop info = png ? png_create_info_struct(png) : NULL;
    if (!info) {
        png_destroy_read_struct(&png, NULL, NULL);
        return facs_fail(FACS_ERR_MEMORY, "%s: cannot create a PNG decoder", name);
    }
    int r = run_decode(png, info, job, name);
    png_destroy_read_struct(&png, &info, NULL);
    free(job->rows);
    job->rows = NULL;
    if (r == 0)
        return FACS_OK;
    free(job->pixels);
    job->pixels = NULL;
    return r > 0 ? job->refused : facs_fail(FACS_ERR_FORMAT, "%s: corrupt or truncated PNG: %s", name, job->msg);
}

facs_status facs_png_decode(const uint8_t *buf, size_t len, const char *name, int want_channels, int label,
                            facs_image *img)
{
    memset(img, 0, sizeof *img);
    png_job job;
    FACS_TRY(decode(buf, len, name, label ? DECODE_LABEL : DECODE_IMAGE, &job));
    *img = (facs_image){(int)job.width, (int)job.height, job.channels, job.pixels};
    if (label)
        return FACS_OK;
    facs_status s = facs_image_convert(img, want_channels);
    if (s != FACS_OK) {
        char why[256]; /* facs_fail must not read the buffer it writes */
        snprintf(why, sizeof why, "%s", facs_last_error());
        facs_image_free(img);
        return facs_fail(s, "%s: %s", name, why);
    }
    return FACS_OK;
}

facs_status facs_png_decode16(const uint8_t *buf, size_t len, const char *name, facs_image16 *img)
{
    memset(img, 0, sizeof *img);
    png_job job;
    FACS_TRY(decode(buf, len, name, DECODE_LABEL16, &job));
    *img = (facs_image16){(int)job.width, (int)job.height, (uint16_t *)(void *)job.pixels};
    return FACS_OK;
}

static void on_write(png_structp png, png_bytep data, size_t n)
{
    png_job *job = png_get_io_ptr(png);
    if (n > job->out_cap - job->out_len) {
        size_t cap = job->out_cap ? job->out_cap : 4096;
        while (cap - job->out_len < n)
            cap *= 2;
        uint8_t *grown = realloc(job->out, cap);
        if (!grown)
            png_error(png, "out of memory");
        job->out = grown;
        job->out_cap = cap;
    }
    memcpy(job->out + job->out_len, data, n);
    job->out_len += n;
}

static void on_flush(png_structp png) { (void)png; }

/* Encodes height rows of width pixels of the given PNG colour type and bit depth
 * (16-bit samples in host order) into job->out. */
static int run_encode(png_structp png, png_infop info, png_job *job, int width, int height, int depth, int ctype,
                      const uint8_t *pixels)
{
    if (setjmp(png_jmpbuf(png)))
        return -1;
    png_set_write_fn(png, job, on_write, on_flush);
    png_set_IHDR(png, info, (png_uint_32)width, (png_uint_32)height, depth, ctype, PNG_INTERLACE_NONE,
                 PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    png_write_info(png, info);
    if (depth == 16 && little_endian())
        png_set_swap(png);
    size_t row_bytes = (size_t)width * png_get_channels(png, info) * (size_t)(depth / 8);
    for (int y = 0; y < height; y++)
        png_write_row(png, pixels + (size_t)y * row_bytes);
    png_write_end(png, NULL);
    return 0;
}

/* Encodes the pixels (see run_encode) and writes the PNG to path atomically. */
static facs_status encode(const char *path, int width, int height, int depth, int ctype, const void *pixels)
{
    png_job job = {0};
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, &job, on_error, on_warning);
    png_infop info = png ? png_create_info_struct(png) : NULL;
    if (!info) {
        png_destroy_write_struct(&png, NULL);
        return facs_fail(FACS_ERR_MEMORY, "%s: cannot create a PNG encoder", path);
    }
    int r = run_encode(png, info, &job, width, height, depth, ctype, pixels);
    png_destroy_write_struct(&png, &info);
    facs_status s = r == 0 ? facs_file_write_atomic(path, job.out, job.out_len)
                           : facs_fail(FACS_ERR_FORMAT, "%s: PNG encoding failed: %s", path, job.msg);
    free(job.out);
    return s;
}

facs_status facs_png_write(const char *path, const facs_image *img)
{
    if (!img || !img->pixels || img->width <= 0 || img->height <= 0 ||
        !(img->channels == 1 || img->channels == 3 || img->channels == 4))
        return facs_fail(FACS_ERR_ARG, "%s: cannot write PNG: need a non-empty gray, RGB or RGBA image", path);
    static const int ctypes[5] = {0, PNG_COLOR_TYPE_GRAY, 0, PNG_COLOR_TYPE_RGB, PNG_COLOR_TYPE_RGB_ALPHA};
    return encode(path, img->width, img->height, 8, ctypes[img->channels], img->pixels);
}

facs_status facs_png_write16(const char *path, const facs_image16 *img)
{
    if (!img || !img->pixels || img->width <= 0 || img->height <= 0)
        return facs_fail(FACS_ERR_ARG, "%s: cannot write a 16-bit PNG: need a non-empty image", path);
    return encode(path, img->width, img->height, 16, PNG_COLOR_TYPE_GRAY, img->pixels);
}
