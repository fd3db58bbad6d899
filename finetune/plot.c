/* Draws the curves of plot.h with lines, ticks and the bitmap font. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bitmap_font.h"
#include "image.h"
#include "plot.h"

#define IMG_W 1000
#define IMG_H 420
#define TEXT_SCALE 2
#define CHAR_ADVANCE ((FT_GLYPH_W + 1) * TEXT_SCALE)

typedef struct {
    uint8_t r, g, b;
} rgb;

static const rgb BLACK = {0, 0, 0}, GRID = {225, 225, 225};
static const rgb SERIES_COLOURS[] = {{31, 119, 180}, {214, 39, 40}, {44, 160, 44}};

typedef struct {
    facs_image *img;
    int left, top, width, height; /* the plotting area in pixels */
    double xmax, ymin, ymax;      /* x runs from 1 (or 0 with a single epoch) to xmax */
    double xmin;
} panel;

static void put(facs_image *img, int x, int y, rgb c)
{
    if (x < 0 || y < 0 || x >= img->width || y >= img->height)
        return;
    uint8_t *p = img->pixels + ((size_t)y * img->width + x) * 3;
    p[0] = c.r;
    p[1] = c.g;
    p[2] = c.b;
}

/* A line of the given thickness (Bresenham, each point stamped as a square). */
static void line(facs_image *img, int x0, int y0, int x1, int y1, int thick, rgb c)
{
    int dx = abs(x1 - x0), dy = -abs(y1 - y0), sx = x0 < x1 ? 1 : -1, sy = y0 < y1 ? 1 : -1, err = dx + dy;
    for (;;) {
        for (int i = 0; i < thick; i++)
            for (int j = 0; j < thick; j++)
                put(img, x0 + i - thick / 2, y0 + j - thick / 2, c);
        if (x0 == x1 && y0 == y1)
            break;
        int e2 = 2 * err;
        if (e2 >= dy) {
            err += dy;
            x0 += sx;
        }
        if (e2 <= dx) {
            err += dx;
            y0 += sy;
        }
    }
}

static void text(facs_image *img, int x, int y, const char *s, rgb c)
{
    for (; *s; s++, x += CHAR_ADVANCE)
        for (int r = 0; r < FT_GLYPH_H; r++) {
            unsigned bits = ft_glyph_row(*s, r);
            for (int col = 0; col < FT_GLYPH_W; col++)
                if (bits & (1u << (FT_GLYPH_W - 1 - col)))
                    for (int i = 0; i < TEXT_SCALE * TEXT_SCALE; i++)
                        put(img, x + col * TEXT_SCALE + i % TEXT_SCALE, y + r * TEXT_SCALE + i / TEXT_SCALE, c);
        }
}

static int text_width(const char *s) { return (int)strlen(s) * CHAR_ADVANCE - TEXT_SCALE; }

static int px(const panel *p, double x)
{
    return p->left + (int)lround((x - p->xmin) / (p->xmax - p->xmin) * p->width);
}
static int py(const panel *p, double y)
{
    return p->top + p->height - (int)lround((y - p->ymin) / (p->ymax - p->ymin) * p->height);
}

/* A step of 1, 2 or 5 times a power of ten giving about `want` intervals over span. */
static double nice_step(double span, int want)
{
    double raw = span / want, mag = pow(10, floor(log10(raw)));
    double f = raw / mag;
    return (f < 1.5 ? 1 : f < 3.5 ? 2 : f < 7.5 ? 5 : 10) * mag;
}

static void axes(const panel *p, const char *title)
{
    double ystep = nice_step(p->ymax - p->ymin, 5);
    for (double y = ceil(p->ymin / ystep) * ystep; y <= p->ymax + 1e-9; y += ystep) {
        int yy = py(p, y);
        line(p->img, p->left + 1, yy, p->left + p->width, yy, 1, GRID);
        line(p->img, p->left - 6, yy, p->left, yy, 1, BLACK);
        char label[32];
        snprintf(label, sizeof label, ystep < 0.1 ? "%.2f" : "%.1f", fabs(y) < 1e-12 ? 0.0 : y);
        text(p->img, p->left - 10 - text_width(label), yy - FT_GLYPH_H * TEXT_SCALE / 2, label, BLACK);
    }
    double xstep = fmax(1, nice_step(p->xmax - p->xmin, 8));
    for (double x = ceil(p->xmin / xstep) * xstep; x <= p->xmax + 1e-9; x += xstep) {
        int xx = px(p, x);
        line(p->img, xx, p->top + p->height, xx, p->top + p->height + 6, 1, BLACK);
        char label[32];
        snprintf(label, sizeof label, "%.0f", x);
        text(p->img, xx - text_width(label) / 2, p->top + p->height + 10, label, BLACK);
    }
    line(p->img, p->left, p->top, p->left, p->top + p->height, 2, BLACK);
    line(p->img, p->left, p->top + p->height, p->left + p->width, p->top + p->height, 2, BLACK);
    text(p->img, p->left + (p->width - text_width(title)) / 2, p->top - 24, title, BLACK);
    text(p->img, p->left + (p->width - text_width("epoch")) / 2, p->top + p->height + 32, "epoch", BLACK);
}

/* Series k of the panel: values[i] at epoch i + 1. */
static void series(const panel *p, const double *values, int n, int k)
{
    rgb c = SERIES_COLOURS[k];
    for (int i = 0; i < n; i++) {
        int x = px(p, i + 1), y = py(p, values[i]);
        if (i > 0)
            line(p->img, px(p, i), py(p, values[i - 1]), x, y, 2, c);
        line(p->img, x - 2, y - 2, x + 2, y + 2, 2, c);
        line(p->img, x - 2, y + 2, x + 2, y - 2, 2, c);
    }
}

/* The legend, drawn after every curve on a white ground so it stays legible;
 * low: in the bottom-right corner (accuracies rise), else the top-right (losses fall). */
static void legend(const panel *p, const char *const *names, int count, int low)
{
    int lx = p->left + p->width - 190, top = low ? p->top + p->height - 12 - 22 * count : p->top + 10;
    for (int y = top - 4; y < top + 22 * count; y++)
        line(p->img, lx - 6, y, p->left + p->width - 4, y, 1, (rgb){255, 255, 255});
    for (int k = 0; k < count; k++) {
        int ly = top + 22 * k;
        line(p->img, lx, ly + 7, lx + 24, ly + 7, 3, SERIES_COLOURS[k]);
        text(p->img, lx + 32, ly, names[k], BLACK);
    }
}

facs_status ft_plot_curves(const ft_history *h, const char *path)
{
    int n = h->count;
    if (n == 0)
        return FACS_OK;
    facs_image img = {IMG_W, IMG_H, 3, malloc((size_t)IMG_W * IMG_H * 3)};
    double *v[5];
    for (int k = 0; k < 5; k++)
        v[k] = malloc((size_t)n * sizeof(double));
    if (!img.pixels || !v[0] || !v[1] || !v[2] || !v[3] || !v[4]) {
        free(img.pixels);
        for (int k = 0; k < 5; k++)
            free(v[k]);
        return facs_fail(FACS_ERR_MEMORY, "out of memory for the plot");
    }
    memset(img.pixels, 255, (size_t)IMG_W * IMG_H * 3);
    double loss_max = 0;
    for (int i = 0; i < n; i++) {
        const ft_epoch_record *r = &h->records[i];
        double row[5] = {r->train_loss, r->test_loss, r->train_acc, r->test_top1, r->test_top5};
        for (int k = 0; k < 5; k++)
            v[k][i] = row[k];
        loss_max = fmax(loss_max, fmax(r->train_loss, r->test_loss));
    }
    double xmin = n > 1 ? 1 : 0, xmax = n > 1 ? n : 2;
    panel loss = {&img, 90, 40, 360, 300, xmax, 0, loss_max > 0 ? loss_max * 1.1 : 1, xmin};
    panel acc = {&img, 590, 40, 360, 300, xmax, 0, 1, xmin};
    axes(&loss, "loss");
    axes(&acc, "accuracy");
    for (int k = 0; k < 5; k++)
        series(k < 2 ? &loss : &acc, v[k], n, k < 2 ? k : k - 2);
    static const char *const loss_names[] = {"train loss", "test loss"};
    static const char *const acc_names[] = {"train acc", "test top-1", "test top-5"};
    legend(&loss, loss_names, 2, 0);
    legend(&acc, acc_names, 3, 1);
    facs_status s = facs_png_write(path, &img);
    free(img.pixels);
    for (int k = 0; k < 5; k++)
        free(v[k]);
    return s;
}
