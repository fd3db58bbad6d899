/* Line plots rendered to an RGB image or a PNG file: panels side by side, each
 * with a title, an x label, axes with numbered ticks, a light grid, any number
 * of named series and a legend. Text uses the 5x7 font (bitmap_font.h) at
 * scale 2.
 *
 * facs-finetune's curves.png (loss on the left, accuracies 0..1 on the right,
 * x = epoch 1..n) is one use:
 *
 *     double loss_tr[n], loss_te[n], acc_tr[n], top1[n], top5[n];   // NaN where an epoch has none
 *     facs_plot_series loss[] = {{.name = "train loss", .y = loss_tr, .count = n, .markers = 1},
 *                                {.name = "test loss", .y = loss_te, .count = n, .markers = 1}};
 *     facs_plot_series acc[] = {{.name = "train acc", .y = acc_tr, .count = n, .markers = 1},
 *                               {.name = "test top-1", .y = top1, .count = n, .markers = 1},
 *                               {.name = "test top-5", .y = top5, .count = n, .markers = 1}};
 *     facs_plot_panel panels[] = {
 *         {.title = "loss", .xlabel = "epoch", .series = loss, .n_series = 2,
 *          .y_range = FACS_PLOT_Y_FROM_ZERO, .x_integer = 1},
 *         {.title = "accuracy", .xlabel = "epoch", .series = acc, .n_series = 3,
 *          .y_range = FACS_PLOT_Y_FIXED, .ymin = 0, .ymax = 1,
 *          .legend = FACS_PLOT_LEGEND_BOTTOM_RIGHT, .x_integer = 1}};
 *     FACS_TRY(facs_plot_write_png(&(facs_plot){.panels = panels, .n_panels = 2}, "run/curves.png"));
 *
 * Zeroed fields are the defaults (designated initialisers leave them so):
 * x NULL means x = 1, 2, ..., count; a series without rgb takes palette entry
 * (its index in the panel) mod FACS_PLOT_PALETTE_SIZE; the y range is automatic;
 * the legend sits top-right; each panel's plotting area is 360 x 300 pixels.
 * With the defaults two panels make a 1000 x 420 image.
 *
 * A point whose x or y is NaN (or infinite) is a gap: the line stops before it
 * and resumes after it; a point with no neighbour on either side is drawn as a
 * dot. Lines, markers and the legend stay inside the plotting area: a value
 * outside a fixed y range is clipped at the area's edge. The x range spans the
 * finite x values of the panel (a single value v gives v - 1 .. v + 1). */
#ifndef FACS_PLOT_H
#define FACS_PLOT_H

#include <stdint.h>

#include "image.h"

/* Matplotlib's tab10 colours, reordered so that the first three are blue, red,
 * green: 31,119,180  214,39,40  44,160,44  255,127,14  148,103,189  140,86,75
 * 227,119,194  127,127,127  188,189,34  23,190,207. */
#define FACS_PLOT_PALETTE_SIZE 10
extern const uint8_t facs_plot_palette[FACS_PLOT_PALETTE_SIZE][3];

typedef struct {
    const char *name;    /* legend text; NULL or "": left out of the legend */
    const double *x;     /* count values; NULL: 1, 2, ..., count */
    const double *y;     /* count values */
    int count;
    const uint8_t *rgb;  /* the line's colour (3 bytes); NULL: from facs_plot_palette */
    int markers;         /* 1: an 'x' at every point */
} facs_plot_series;

enum {
    FACS_PLOT_Y_AUTO,      /* data minimum to maximum, 5% margin on each side */
    FACS_PLOT_Y_FROM_ZERO, /* 0 to 1.1 x the data maximum (losses) */
    FACS_PLOT_Y_FIXED      /* ymin to ymax */
};

enum { FACS_PLOT_LEGEND_TOP_RIGHT, FACS_PLOT_LEGEND_BOTTOM_RIGHT, FACS_PLOT_LEGEND_NONE };

typedef struct {
    const char *title;               /* above the area; NULL: none */
    const char *xlabel;              /* below the x ticks; NULL: none */
    const facs_plot_series *series;
    int n_series;
    int y_range;                     /* FACS_PLOT_Y_* */
    double ymin, ymax;               /* for FACS_PLOT_Y_FIXED; ymin < ymax */
    int legend;                      /* FACS_PLOT_LEGEND_* */
    int x_integer;                   /* 1: x ticks only at whole numbers, labelled as integers */
} facs_plot_panel;

typedef struct {
    const facs_plot_panel *panels;   /* drawn left to right */
    int n_panels;                    /* 1 to 64 */
    int area_width, area_height;     /* each panel's plotting area in pixels (16..4096); 0: 360 x 300 */
} facs_plot;

/* Draws the plot into a new RGB image (*out, free with facs_image_free). */
facs_status facs_plot_render(const facs_plot *plot, facs_image *out);

/* facs_plot_render, then facs_png_write (atomic: a temporary file renamed over path). */
facs_status facs_plot_write_png(const facs_plot *plot, const char *path);

/* The plotting area of panel i in the rendered image, in pixels: columns
 * rect[0] .. rect[0] + rect[2] and rows rect[1] .. rect[1] + rect[3], both ends
 * included (the axes lie on its left and bottom edges). Everything a series
 * draws (lines, markers, its legend entry) stays inside it. */
facs_status facs_plot_area(const facs_plot *plot, int i, int rect[4]);

#endif
