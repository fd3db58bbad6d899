/* Pictures side by side under a caption strip (paper Fig. 5's panels):
 *
 *     const facs_image *tiles[3] = {&image, &overlay_a, &overlay_b};
 *     const char *labels[3] = {"image", "facs_resnet50: tabby 0.87", "resnet50: tabby 0.64"};
 *     facs_image panel;
 *     FACS_TRY(facs_panel_compose(tiles, labels, 3, 1, &panel));
 *     FACS_TRY(facs_png_write("panel.png", &panel)), facs_image_free(&panel);
 *
 * The panel is RGB, as wide as the tiles together and FACS_PANEL_CAPTION_H(scale)
 * + the tallest tile high: a white strip with each tile's label in black (the
 * bitmap font of bitmap_font.h, left-aligned above its tile, cut to the tile's
 * width), then the tiles from left to right, each copied pixel for pixel at
 * its top-left corner (white below a shorter one). */
#ifndef FACS_PANEL_H
#define FACS_PANEL_H

#include "bitmap_font.h"

/* The caption strip's height at a font scale: the line and 2 * scale pixels above and below. */
#define FACS_PANEL_CAPTION_H(scale) ((FACS_GLYPH_H + 4) * (scale))

/* tiles: n images, each grey, RGB or RGBA (alpha dropped); labels: n strings
 * (NULL for none); scale >= 1. *out is a new image to facs_image_free. */
facs_status facs_panel_compose(const facs_image *const *tiles, const char *const *labels, int n, int scale,
                               facs_image *out);

#endif
