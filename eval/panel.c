/* Tiles side by side under a caption strip (panel.h). */
#include <stdlib.h>
#include <string.h>

#include "panel.h"

static const uint8_t black[3] = {0, 0, 0};

/* Copies tile into out (RGB) with its top-left corner at (x, y). */
static void paste(facs_image *out, const facs_image *tile, int x, int y)
{
    int c = tile->channels;
    for (int r = 0; r < tile->height; r++) {
        const uint8_t *src = tile->pixels + (size_t)r * tile->width * c;
        uint8_t *dst = out->pixels + ((size_t)(y + r) * out->width + x) * 3;
        for (int i = 0; i < tile->width; i++, src += c, dst += 3) {
            dst[0] = src[0];
            dst[1] = src[c >= 3 ? 1 : 0];
            dst[2] = src[c >= 3 ? 2 : 0];
        }
    }
}

/* Draws label at (x, y), cut to the characters that fit in width pixels. */
static facs_status caption(facs_image *out, int x, int y, int width, const char *label, int scale)
{
    char text[256];
    size_t len = strlen(label) < sizeof text - 1 ? strlen(label) : sizeof text - 1;
    memcpy(text, label, len);
    text[len] = 0;
    while (len > 0 && facs_text_width(text, scale) > width)
        text[--len] = 0;
    return len ? facs_draw_text(out, x, y, text, scale, black) : FACS_OK;
}

facs_status facs_panel_compose(const facs_image *const *tiles, const char *const *labels, int n, int scale,
                               facs_image *out)
{
    *out = (facs_image){0};
    if (n < 1 || scale < 1)
        return facs_fail(FACS_ERR_ARG, "a panel needs at least one tile and a scale >= 1");
    int width = 0, height = 0, strip = FACS_PANEL_CAPTION_H(scale);
    for (int i = 0; i < n; i++) {
        const facs_image *t = tiles[i];
        if (!t->pixels || t->width < 1 || t->height < 1 || (t->channels != 1 && t->channels != 3 && t->channels != 4))
            return facs_fail(FACS_ERR_ARG, "panel tile %d is no grey, RGB or RGBA image", i);
        width += t->width;
        height = t->height > height ? t->height : height;
    }
    height += strip;
    out->pixels = malloc((size_t)width * height * 3);
    if (!out->pixels)
        return facs_fail(FACS_ERR_MEMORY, "out of memory for a %d x %d panel", width, height);
    out->width = width, out->height = height, out->channels = 3;
    memset(out->pixels, 255, (size_t)width * height * 3);
    facs_status st = FACS_OK;
    for (int i = 0, x = 0; st == FACS_OK && i < n; x += tiles[i++]->width) {
        paste(out, tiles[i], x, strip);
        if (labels && labels[i])
            st = caption(out, x + scale, 2 * scale, tiles[i]->width - scale, labels[i], scale);
    }
    if (st != FACS_OK)
        facs_image_free(out);
    return st;
}
