/* A 5x7 bitmap font for labels drawn into images (plot ticks, titles, legends,
 * panel captions): every printable ASCII character (' ' to '~'); any other
 * byte draws as a hollow box.
 *
 *     facs_image img = ...;                            // RGB or RGBA
 *     static const uint8_t black[3] = {0, 0, 0};
 *     int w = facs_text_width("mIoU 0.71", 2);        // pixels, at scale 2
 *     facs_draw_text(&img, x - w / 2, y, "mIoU 0.71", 2, black);   // centred at x
 *
 * A glyph is FACS_GLYPH_W x FACS_GLYPH_H pixels; at scale s each font pixel is
 * an s x s square and characters advance by (FACS_GLYPH_W + 1) * s. (x, y) is
 * the top-left corner of the first character. Lower-case letters sit on rows
 * 2..6 (descenders of g, j, p, q, y are squeezed into the same rows), so a
 * line is FACS_GLYPH_H * s pixels high. */
#ifndef FACS_BITMAP_FONT_H
#define FACS_BITMAP_FONT_H

#include <stdint.h>

#include "image.h"

#define FACS_GLYPH_W 5
#define FACS_GLYPH_H 7

/* Row r (0 = top, < FACS_GLYPH_H) of c's glyph: bit FACS_GLYPH_W - 1 is the
 * leftmost pixel. */
unsigned facs_glyph_row(char c, int r);

/* Width in pixels of s drawn at scale (the last character's trailing gap not
 * counted); 0 for "". */
int facs_text_width(const char *s, int scale);

/* Draws s with its top-left corner at (x, y), each font pixel a scale x scale
 * square of colour rgb. Pixels falling outside the image are skipped. img must
 * be RGB or RGBA (alpha is left as it is); scale >= 1. */
facs_status facs_draw_text(facs_image *img, int x, int y, const char *s, int scale, const uint8_t rgb[3]);

#endif
