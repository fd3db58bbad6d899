/* A 5x7 bitmap font for the plot's labels: digits, '.', '-', ' ' and the
 * lower-case letters the labels use. Other characters draw as a hollow box. */
#ifndef FT_BITMAP_FONT_H
#define FT_BITMAP_FONT_H

#define FT_GLYPH_W 5
#define FT_GLYPH_H 7

/* Row r (0 = top) of c's glyph: bit 4 is the leftmost pixel. */
unsigned ft_glyph_row(char c, int r);

#endif
