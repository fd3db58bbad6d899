/* Line plots (eval/plot.h) and the bitmap font (eval/bitmap_font.h).
 *
 * Renders facs-finetune's layout (a loss panel from zero, an accuracy panel
 * fixed to 0..1) with three series holding NaN gaps, an isolated point and
 * markers, plus a series that leaves the fixed range. Checks the image size and
 * the panels' rectangles (those of finetune's curves.png), that every series
 * colour is drawn, that no series pixel lies outside its panel's plotting area
 * (lines are clipped at its edge), that gaps stay empty and the lines resume
 * after them, and that the PNG written reads back with the project's reader
 * pixel for pixel. Then bad plots, and glyphs drawn with exact pixels. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bitmap_font.h"
#include "plot.h"
#include "test_util.h"

#define N 20

static int is_rgb(const uint8_t *p, const uint8_t *rgb) { return p[0] == rgb[0] && p[1] == rgb[1] && p[2] == rgb[2]; }

static const uint8_t *pixel(const facs_image *img, int x, int y)
{
    return img->pixels + ((size_t)y * img->width + x) * 3;
}

/* Pixels of colour rgb in columns x0..x1 and rows y0..y1 (inclusive). */
static int count_rgb(const facs_image *img, const uint8_t *rgb, int x0, int y0, int x1, int y1)
{
    int n = 0;
    for (int y = y0; y <= y1; y++)
        for (int x = x0; x <= x1; x++)
            n += is_rgb(pixel(img, x, y), rgb);
    return n;
}

/* The pixel column of x = v (1-based point index) in an area whose x runs from 1 to N. */
static int column(const int rect[4], double v) { return rect[0] + (int)lround((v - 1) / (N - 1) * rect[2]); }

static void curves(const char *dir)
{
    double a[N], b[N], c[N], cx[N], acc[N];
    for (int i = 0; i < N; i++) {
        a[i] = 2.5 * exp(-0.15 * i) + 0.1;
        b[i] = 1.8 * exp(-0.1 * i) + 0.3;
        c[i] = 0.5 + 0.4 * sin(i * 0.5);
        cx[i] = i + 1;
        acc[i] = i % 4 == 0 ? 1.5 : i % 4 == 2 ? -0.3 : 0.5; /* outside the fixed range 0..1 */
    }
    a[3] = a[4] = NAN;  /* gap between x = 3 and x = 6 */
    b[9] = b[11] = NAN; /* x = 11 stands alone */
    cx[15] = NAN;       /* a gap made by x */
    static const uint8_t purple[3] = {200, 0, 200};
    facs_plot_series loss[] = {{.name = "train loss", .y = a, .count = N},
                               {.name = "test loss", .y = b, .count = N},
                               {.name = "sine", .x = cx, .y = c, .count = N, .markers = 1}};
    facs_plot_series accuracy[] = {{.name = "wild", .y = acc, .count = N, .rgb = purple, .markers = 1}};
    facs_plot_panel panels[] = {
        {.title = "loss", .xlabel = "epoch", .series = loss, .n_series = 3, .y_range = FACS_PLOT_Y_FROM_ZERO,
         .x_integer = 1},
        {.title = "accuracy", .xlabel = "epoch", .series = accuracy, .n_series = 1, .y_range = FACS_PLOT_Y_FIXED,
         .ymin = 0, .ymax = 1, .legend = FACS_PLOT_LEGEND_BOTTOM_RIGHT, .x_integer = 1}};
    facs_plot plot = {.panels = panels, .n_panels = 2};
    int rect[2][4];
    if (!CHECK_OK(facs_plot_area(&plot, 0, rect[0])) || !CHECK_OK(facs_plot_area(&plot, 1, rect[1])))
        return;
    CHECK(rect[0][0] == 90 && rect[0][1] == 40 && rect[0][2] == 360 && rect[0][3] == 300 && rect[1][0] == 590 &&
              rect[1][1] == 40 && rect[1][2] == 360 && rect[1][3] == 300,
          "areas (%d,%d,%d,%d) and (%d,%d,%d,%d), want finetune's (90,40,360,300) and (590,40,360,300)", rect[0][0],
          rect[0][1], rect[0][2], rect[0][3], rect[1][0], rect[1][1], rect[1][2], rect[1][3]);
    facs_image img;
    if (!CHECK_OK(facs_plot_render(&plot, &img)))
        return;
    CHECK(img.width == 1000 && img.height == 420 && img.channels == 3, "image %dx%dx%d, want 1000x420x3", img.width,
          img.height, img.channels);

    /* Every series colour is drawn, and only inside its own panel's area. */
    const uint8_t *colours[4] = {facs_plot_palette[0], facs_plot_palette[1], facs_plot_palette[2], purple};
    const int panel_of[4] = {0, 0, 0, 1};
    for (int s = 0; s < 4; s++) {
        const int *r = rect[panel_of[s]];
        int inside = count_rgb(&img, colours[s], r[0], r[1], r[0] + r[2], r[1] + r[3]);
        int all = count_rgb(&img, colours[s], 0, 0, img.width - 1, img.height - 1);
        CHECK(inside > 100, "series %d: %d pixels of its colour in its area", s, inside);
        CHECK(all == inside, "series %d: %d pixels of its colour outside its panel's area", s, all - inside);
    }
    const int *r0 = rect[0], *r1 = rect[1];
    /* Gaps are checked below the legend (top-right, 3 entries of 22 pixels) and
     * 4 pixels away from the points, where line ends and markers stop. */
    int y0 = r0[1] + 10 + 3 * 22, y1 = r0[1] + r0[3];
    /* The gap of series 0 (x = 4, 5 are NaN): nothing between x = 3 and x = 6, a line between 7 and 8. */
    CHECK(count_rgb(&img, colours[0], column(r0, 3) + 4, y0, column(r0, 6) - 4, y1) == 0,
          "series 0 drawn across its NaN gap");
    CHECK(count_rgb(&img, colours[0], column(r0, 7) + 4, y0, column(r0, 8) - 4, y1) > 0,
          "series 0 must resume after its gap");
    /* Series 1's lone point at x = 11: a dot, no line to either side. */
    CHECK(count_rgb(&img, colours[1], column(r0, 10) + 4, y0, column(r0, 11) - 4, y1) == 0 &&
              count_rgb(&img, colours[1], column(r0, 11) + 4, y0, column(r0, 12) - 4, y1) == 0,
          "series 1 drawn next to its lone point");
    CHECK(count_rgb(&img, colours[1], column(r0, 11) - 1, y0, column(r0, 11) + 1, y1) == 9,
          "series 1's lone point must be a 3x3 dot");
    /* Series 2's gap made by x[15] = NaN: nothing between x = 15 and x = 17. */
    CHECK(count_rgb(&img, colours[2], column(r0, 15) + 4, y0, column(r0, 17) - 4, y1) == 0,
          "series 2 drawn across the NaN in x");
    /* The out-of-range series is clipped at the area's top and bottom edges. */
    CHECK(count_rgb(&img, purple, r1[0], r1[1], r1[0] + r1[2], r1[1]) > 0 &&
              count_rgb(&img, purple, r1[0], r1[1] + r1[3], r1[0] + r1[2], r1[1] + r1[3]) > 0,
          "values outside the fixed range must reach the area's edges");
    /* Axes, title and tick labels are black. */
    static const uint8_t black[3] = {0, 0, 0};
    CHECK(is_rgb(pixel(&img, r0[0], r0[1] + 150), black) && is_rgb(pixel(&img, r0[0] + 200, r0[1] + r0[3]), black),
          "axes on the area's left and bottom edges");
    CHECK(count_rgb(&img, black, r0[0], r0[1] - 24, r0[0] + r0[2], r0[1] - 11) > 20, "the title above panel 0");
    CHECK(count_rgb(&img, black, r1[0] - 60, r1[1], r1[0] - 8, r1[1] + r1[3]) > 50, "y tick labels of panel 1");

    char path[4200];
    snprintf(path, sizeof path, "%s/curves.png", dir);
    CHECK_OK(facs_plot_write_png(&plot, path));
    facs_image back;
    if (CHECK_OK(facs_image_read(path, 0, &back))) {
        CHECK(back.width == img.width && back.height == img.height && back.channels == 3 &&
                  memcmp(back.pixels, img.pixels, (size_t)img.width * img.height * 3) == 0,
              "the PNG must read back as the rendered image");
        facs_image_free(&back);
    }
    unlink(path);
    facs_image_free(&img);
}

static void other_plots(void)
{
    /* One panel, no series: axes only, default legend, auto ranges. */
    facs_plot_panel empty = {.title = "nothing"};
    facs_image img;
    if (CHECK_OK(facs_plot_render(&(facs_plot){.panels = &empty, .n_panels = 1}, &img))) {
        CHECK(img.width == 500 && img.height == 420, "one default panel is 500x420, got %dx%d", img.width, img.height);
        facs_image_free(&img);
    }
    /* Wide tick labels widen the left margin instead of running off the image. */
    double x[3] = {0.5, 1.0, 1.5}, y[3] = {-3234567.0, 0, 7654321.0};
    facs_plot_series s = {.name = "big", .x = x, .y = y, .count = 3};
    facs_plot_panel wide = {.title = "wide", .series = &s, .n_series = 1};
    facs_plot plot = {.panels = &wide, .n_panels = 1, .area_width = 200, .area_height = 100};
    int rect[4];
    if (CHECK_OK(facs_plot_render(&plot, &img)) && CHECK_OK(facs_plot_area(&plot, 0, rect))) {
        CHECK(rect[0] > 90 && rect[2] == 200 && rect[3] == 100 && img.width == rect[0] + 200 + 50,
              "left margin %d for wide labels, image width %d", rect[0], img.width);
        facs_image_free(&img);
    }
    facs_plot_panel bad = {.y_range = FACS_PLOT_Y_FIXED, .ymin = 1, .ymax = 1};
    CHECK(facs_plot_render(&(facs_plot){.panels = &bad, .n_panels = 1}, &img) == FACS_ERR_ARG && !img.pixels,
          "an empty fixed y range must be refused");
    CHECK(facs_plot_render(&(facs_plot){.panels = &empty, .n_panels = 0}, &img) == FACS_ERR_ARG,
          "a plot without panels must be refused");
    facs_plot_series no_y = {.count = 3};
    facs_plot_panel p = {.series = &no_y, .n_series = 1};
    CHECK(facs_plot_render(&(facs_plot){.panels = &p, .n_panels = 1}, &img) == FACS_ERR_ARG,
          "a series without y values must be refused");
    CHECK(facs_plot_render(&(facs_plot){.panels = &empty, .n_panels = 1, .area_width = 100000}, &img) == FACS_ERR_ARG,
          "a huge area must be refused");
    CHECK(facs_plot_write_png(&(facs_plot){.panels = &empty, .n_panels = 1}, "/nonexistent-dir/x.png") != FACS_OK &&
              strstr(facs_last_error(), "/nonexistent-dir/x.png"),
          "a PNG into a missing folder must fail naming it: %s", facs_last_error());
}

static void font(void)
{
    CHECK(facs_glyph_row('A', 0) == 0x0E && facs_glyph_row('A', 3) == 0x1F && facs_glyph_row('1', 6) == 0x0E,
          "rows of 'A' and '1'");
    CHECK(facs_glyph_row('\x01', 0) == 0x1F && facs_glyph_row('\x01', 1) == 0x11, "unknown bytes draw a hollow box");
    CHECK(facs_glyph_row('A', 7) == 0 && facs_glyph_row('A', -1) == 0, "rows outside 0..6 are empty");
    int blank = 0;
    for (int c = '!'; c <= '~'; c++) {
        unsigned any = 0;
        for (int r = 0; r < FACS_GLYPH_H; r++)
            any |= facs_glyph_row((char)c, r);
        blank += any == 0;
    }
    CHECK(blank == 0 && facs_glyph_row(' ', 3) == 0, "every printable character but ' ' has pixels");
    CHECK(facs_text_width("ab", 2) == 22 && facs_text_width("", 3) == 0 && facs_text_width("x", 1) == 5,
          "text widths");
    uint8_t pixels[8 * 9 * 3];
    memset(pixels, 255, sizeof pixels);
    facs_image img = {8, 9, 3, pixels};
    static const uint8_t red[3] = {255, 0, 0};
    CHECK_OK(facs_draw_text(&img, 1, 1, "T", 1, red));
    /* 'T': a full top row, then the middle column. */
    int ok = 1;
    for (int y = 0; y < 9; y++)
        for (int x = 0; x < 8; x++) {
            int want = (y == 1 && x >= 1 && x <= 5) || (x == 3 && y >= 1 && y <= 7);
            ok &= is_rgb(pixel(&img, x, y), red) == want;
        }
    CHECK(ok, "'T' drawn at (1, 1)");
    memset(pixels, 255, sizeof pixels);
    CHECK_OK(facs_draw_text(&img, -3, 5, "T", 2, red)); /* clipped at the left and bottom */
    CHECK(count_rgb(&img, red, 0, 0, 7, 8) == 7 * 2 + 2 * 2, "'T' at scale 2 clipped to the image: %d pixels",
          count_rgb(&img, red, 0, 0, 7, 8));
    facs_image gray = {8, 9, 1, pixels};
    CHECK(facs_draw_text(&gray, 0, 0, "T", 1, red) == FACS_ERR_ARG, "text on a gray image must be refused");
}

int main(void)
{
    const char *tmp = getenv("TMPDIR");
    char dir[4096];
    snprintf(dir, sizeof dir, "%s/facs-test-plot.XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!CHECK(mkdtemp(dir) != NULL, "cannot create a temporary folder"))
        return test_finish();
    curves(dir);
    other_plots();
    font();
    rmdir(dir);
    return test_finish();
}
