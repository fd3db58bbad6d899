/* The line plots of plot.h: ranges and ticks, then lines drawn with thick
 * Bresenham strokes, clipped to each panel's plotting area. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bitmap_font.h"
#include "plot.h"

#define TEXT_SCALE 2
#define CHAR_H (FACS_GLYPH_H * TEXT_SCALE)
#define MARGIN_TOP 40
#define MARGIN_BOTTOM 80
#define MARGIN_RIGHT 50
#define MIN_MARGIN_LEFT 90
#define DEFAULT_AREA_W 360
#define DEFAULT_AREA_H 300
#define MAX_AREA_SIDE 4096
#define MAX_TICKS 64
/* Pixel coordinates are clamped to this before clipping, so that a huge value
 * in a fixed y range cannot overflow an int or a double's difference. */
#define FAR 1e7

const uint8_t facs_plot_palette[FACS_PLOT_PALETTE_SIZE][3] = {
    {31, 119, 180}, {214, 39, 40},  {44, 160, 44},   {255, 127, 14}, {148, 103, 189},
    {140, 86, 75},  {227, 119, 194}, {127, 127, 127}, {188, 189, 34}, {23, 190, 207},
};

static const uint8_t BLACK[3] = {0, 0, 0}, GRID[3] = {225, 225, 225}, WHITE[3] = {255, 255, 255};

/* Where a panel's data goes: its value ranges, ticks and pixel rectangle. */
typedef struct {
    double xmin, xmax, ymin, ymax;
    double xstep, ystep;
    int xdec, ydec; /* decimals of the tick labels; -1: %g */
    int left, top, width, height;
} frame;

/* Drawing is clipped to the rectangle x0..x1, y0..y1 (inclusive). */
typedef struct {
    facs_image *img;
    int x0, y0, x1, y1;
} canvas;

static void put(const canvas *c, int x, int y, const uint8_t *rgb)
{
    if (x < c->x0 || y < c->y0 || x > c->x1 || y > c->y1)
        return;
    uint8_t *p = c->img->pixels + ((size_t)y * c->img->width + x) * 3;
    p[0] = rgb[0];
    p[1] = rgb[1];
    p[2] = rgb[2];
}

/* A line of the given thickness (Bresenham, each point stamped as a square). */
static void line(const canvas *c, int x0, int y0, int x1, int y1, int thick, const uint8_t *rgb)
{
    int dx = abs(x1 - x0), dy = -abs(y1 - y0), sx = x0 < x1 ? 1 : -1, sy = y0 < y1 ? 1 : -1, err = dx + dy;
    for (;;) {
        for (int i = 0; i < thick; i++)
            for (int j = 0; j < thick; j++)
                put(c, x0 + i - thick / 2, y0 + j - thick / 2, rgb);
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

/* Liang-Barsky: shortens (x0,y0)-(x1,y1) to the part inside lo..hi on both
 * axes; 0 when nothing is left. */
static int clip_segment(double *x0, double *y0, double *x1, double *y1, double xlo, double ylo, double xhi,
                        double yhi)
{
    double t0 = 0, t1 = 1, dx = *x1 - *x0, dy = *y1 - *y0;
    double p[4] = {-dx, dx, -dy, dy}, q[4] = {*x0 - xlo, xhi - *x0, *y0 - ylo, yhi - *y0};
    for (int i = 0; i < 4; i++) {
        if (p[i] == 0) {
            if (q[i] < 0)
                return 0;
            continue;
        }
        double t = q[i] / p[i];
        if (p[i] < 0 && t > t0)
            t0 = t;
        else if (p[i] > 0 && t < t1)
            t1 = t;
        if (t0 > t1)
            return 0;
    }
    double ax = *x0 + t0 * dx, ay = *y0 + t0 * dy;
    *x1 = *x0 + t1 * dx;
    *y1 = *y0 + t1 * dy;
    *x0 = ax;
    *y0 = ay;
    return 1;
}

/* A line between pixel positions given as doubles, clipped before it is
 * rasterised so that far-away ends cost nothing. */
static void segment(const canvas *c, double x0, double y0, double x1, double y1, int thick, const uint8_t *rgb)
{
    double m = thick + 1;
    if (clip_segment(&x0, &y0, &x1, &y1, c->x0 - m, c->y0 - m, c->x1 + m, c->y1 + m))
        line(c, (int)lround(x0), (int)lround(y0), (int)lround(x1), (int)lround(y1), thick, rgb);
}

static void text(const canvas *c, int x, int y, const char *s, const uint8_t *rgb)
{
    facs_draw_text(c->img, x, y, s, TEXT_SCALE, rgb); /* an RGB image: cannot fail */
}

static double clamp_far(double v) { return v < -FAR ? -FAR : v > FAR ? FAR : v; }

static double px(const frame *f, double x)
{
    return clamp_far(f->left + (x - f->xmin) / (f->xmax - f->xmin) * f->width);
}

static double py(const frame *f, double y)
{
    return clamp_far(f->top + f->height - (y - f->ymin) / (f->ymax - f->ymin) * f->height);
}

/* A step of 1, 2 or 5 times a power of ten giving about `want` intervals over span. */
static double nice_step(double span, int want)
{
    double raw = span / want, mag = pow(10, floor(log10(raw)));
    double f = raw / mag;
    return (f < 1.5 ? 1 : f < 3.5 ? 2 : f < 7.5 ? 5 : 10) * mag;
}

/* The next step of the 1, 2, 5 sequence. */
static double next_step(double step)
{
    double mag = pow(10, floor(log10(step) + 1e-9)), f = step / mag;
    return (f < 1.5 ? 2 : f < 3.5 ? 5 : 10) * mag;
}

/* Decimals that tell ticks step apart; -1 (%g) for extreme magnitudes. */
static int decimals(double step, double lo, double hi)
{
    if (fmax(fabs(lo), fabs(hi)) >= 1e7 || step < 1e-6)
        return -1;
    return step >= 1 - 1e-9 ? 0 : (int)ceil(-log10(step) - 1e-9);
}

static void tick_label(char *buf, size_t size, double v, double step, int dec)
{
    if (fabs(v) < 1e-9 * step)
        v = 0; /* no "-0.0" */
    if (dec < 0)
        snprintf(buf, size, "%.4g", v);
    else
        snprintf(buf, size, "%.*f", dec, v);
}

/* The ticks of lo..hi at multiples of step: first index and count. */
static int ticks(double lo, double hi, double step, double *first)
{
    double i0 = ceil(lo / step - 1e-9), i1 = floor(hi / step + 1e-9);
    *first = i0;
    int n = (int)fmin(i1 - i0 + 1, MAX_TICKS);
    return n > 0 ? n : 0;
}

static int finite_point(const facs_plot_series *s, int i)
{
    double x = s->x ? s->x[i] : i + 1;
    return isfinite(x) && isfinite(s->y[i]);
}

static facs_status check_panel(const facs_plot_panel *p, int index)
{
    if (p->n_series < 0 || (p->n_series > 0 && !p->series))
        return facs_fail(FACS_ERR_ARG, "plot panel %d: bad series list (%d series)", index, p->n_series);
    for (int k = 0; k < p->n_series; k++) {
        const facs_plot_series *s = &p->series[k];
        if (s->count < 0 || (s->count > 0 && !s->y))
            return facs_fail(FACS_ERR_ARG, "plot panel %d, series %d: need count >= 0 and y values", index, k);
    }
    if (p->y_range == FACS_PLOT_Y_FIXED && !(isfinite(p->ymin) && isfinite(p->ymax) && p->ymin < p->ymax))
        return facs_fail(FACS_ERR_ARG, "plot panel %d: fixed y range needs finite ymin < ymax, got %g .. %g", index,
                         p->ymin, p->ymax);
    if (p->y_range < FACS_PLOT_Y_AUTO || p->y_range > FACS_PLOT_Y_FIXED)
        return facs_fail(FACS_ERR_ARG, "plot panel %d: unknown y range mode %d", index, p->y_range);
    if (p->legend < FACS_PLOT_LEGEND_TOP_RIGHT || p->legend > FACS_PLOT_LEGEND_NONE)
        return facs_fail(FACS_ERR_ARG, "plot panel %d: unknown legend position %d", index, p->legend);
    return FACS_OK;
}

/* The panel's value ranges and ticks (the pixel rectangle comes later). */
static facs_status panel_ranges(const facs_plot_panel *p, int index, int width, int height, frame *f)
{
    double xlo = INFINITY, xhi = -INFINITY, ylo = INFINITY, yhi = -INFINITY;
    for (int k = 0; k < p->n_series; k++) {
        const facs_plot_series *s = &p->series[k];
        for (int i = 0; i < s->count; i++)
            if (finite_point(s, i)) {
                double x = s->x ? s->x[i] : i + 1;
                xlo = fmin(xlo, x);
                xhi = fmax(xhi, x);
                ylo = fmin(ylo, s->y[i]);
                yhi = fmax(yhi, s->y[i]);
            }
    }
    int any = xlo <= xhi;
    if (!any)
        xlo = 0, xhi = 1, ylo = 0, yhi = 1;
    else if (xlo == xhi)
        xlo -= 1, xhi += 1;
    f->xmin = xlo;
    f->xmax = xhi;
    if (p->y_range == FACS_PLOT_Y_FIXED) {
        f->ymin = p->ymin;
        f->ymax = p->ymax;
    } else if (p->y_range == FACS_PLOT_Y_FROM_ZERO) {
        f->ymin = 0;
        f->ymax = any && yhi > 0 ? yhi * 1.1 : 1;
    } else {
        double pad = yhi > ylo ? 0.05 * (yhi - ylo) : ylo != 0 ? 0.1 * fabs(ylo) : 1;
        f->ymin = ylo - pad;
        f->ymax = yhi + pad;
    }
    if (!isfinite(f->xmax - f->xmin) || !isfinite(f->ymax - f->ymin) || f->xmax - f->xmin < 1e-300 ||
        f->ymax - f->ymin < 1e-300)
        return facs_fail(FACS_ERR_ARG, "plot panel %d: cannot plot x %g .. %g, y %g .. %g", index, f->xmin, f->xmax,
                         f->ymin, f->ymax);
    /* About 5 y ticks and 8 x ticks, fewer when their labels would touch. */
    f->ystep = nice_step(f->ymax - f->ymin, 5);
    while (f->ystep / (f->ymax - f->ymin) * height < CHAR_H + 6 && f->ystep < f->ymax - f->ymin)
        f->ystep = next_step(f->ystep);
    f->ydec = decimals(f->ystep, f->ymin, f->ymax);
    f->xstep = nice_step(f->xmax - f->xmin, 8);
    if (p->x_integer)
        f->xstep = fmax(1, f->xstep);
    for (;;) {
        f->xdec = p->x_integer ? (fmax(fabs(f->xmin), fabs(f->xmax)) >= 1e7 ? -1 : 0)
                               : decimals(f->xstep, f->xmin, f->xmax);
        double first;
        int n = ticks(f->xmin, f->xmax, f->xstep, &first), widest = 0;
        for (int i = 0; i < n; i++) {
            char label[64];
            tick_label(label, sizeof label, (first + i) * f->xstep, f->xstep, f->xdec);
            widest = (int)fmax(widest, facs_text_width(label, TEXT_SCALE));
        }
        if (n < 2 || f->xstep / (f->xmax - f->xmin) * width >= widest + 12)
            break;
        f->xstep = next_step(f->xstep);
    }
    return FACS_OK;
}

/* The widest y tick label of a frame, in pixels. */
static int widest_y_label(const frame *f)
{
    double first;
    int n = ticks(f->ymin, f->ymax, f->ystep, &first), widest = 0;
    for (int i = 0; i < n; i++) {
        char label[64];
        tick_label(label, sizeof label, (first + i) * f->ystep, f->ystep, f->ydec);
        widest = fmax(widest, facs_text_width(label, TEXT_SCALE));
    }
    return widest;
}

/* Every panel's frame and the image size. frames: n_panels entries. */
static facs_status layout(const facs_plot *plot, frame *frames, int *width, int *height)
{
    if (!plot || plot->n_panels < 1 || !plot->panels)
        return facs_fail(FACS_ERR_ARG, "plot: need at least one panel");
    int aw = plot->area_width ? plot->area_width : DEFAULT_AREA_W;
    int ah = plot->area_height ? plot->area_height : DEFAULT_AREA_H;
    if (aw < 16 || ah < 16 || aw > MAX_AREA_SIDE || ah > MAX_AREA_SIDE)
        return facs_fail(FACS_ERR_ARG, "plot: area %dx%d outside 16..%d", aw, ah, MAX_AREA_SIDE);
    int margin_left = MIN_MARGIN_LEFT;
    for (int i = 0; i < plot->n_panels; i++) {
        FACS_TRY(check_panel(&plot->panels[i], i));
        FACS_TRY(panel_ranges(&plot->panels[i], i, aw, ah, &frames[i]));
        margin_left = (int)fmax(margin_left, widest_y_label(&frames[i]) + 20);
    }
    long cell = (long)margin_left + aw + MARGIN_RIGHT;
    if (cell * plot->n_panels > FACS_IMAGE_MAX_SIDE ||
        cell * plot->n_panels * (MARGIN_TOP + ah + MARGIN_BOTTOM) > FACS_IMAGE_MAX_PIXELS)
        return facs_fail(FACS_ERR_ARG, "plot: %d panels of %dx%d make too large an image", plot->n_panels, aw, ah);
    for (int i = 0; i < plot->n_panels; i++) {
        frames[i].left = (int)(i * cell) + margin_left;
        frames[i].top = MARGIN_TOP;
        frames[i].width = aw;
        frames[i].height = ah;
    }
    *width = (int)(cell * plot->n_panels);
    *height = MARGIN_TOP + ah + MARGIN_BOTTOM;
    return FACS_OK;
}

static void axes(const canvas *all, const frame *f, const facs_plot_panel *p)
{
    double first;
    int n = ticks(f->ymin, f->ymax, f->ystep, &first);
    for (int i = 0; i < n; i++) {
        double y = (first + i) * f->ystep;
        int yy = (int)lround(py(f, y));
        line(all, f->left + 1, yy, f->left + f->width, yy, 1, GRID);
        line(all, f->left - 6, yy, f->left, yy, 1, BLACK);
        char label[64];
        tick_label(label, sizeof label, y, f->ystep, f->ydec);
        text(all, f->left - 10 - facs_text_width(label, TEXT_SCALE), yy - CHAR_H / 2, label, BLACK);
    }
    n = ticks(f->xmin, f->xmax, f->xstep, &first);
    for (int i = 0; i < n; i++) {
        double x = (first + i) * f->xstep;
        int xx = (int)lround(px(f, x)), bottom = f->top + f->height;
        line(all, xx, bottom, xx, bottom + 6, 1, BLACK);
        char label[64];
        tick_label(label, sizeof label, x, f->xstep, f->xdec);
        text(all, xx - facs_text_width(label, TEXT_SCALE) / 2, bottom + 10, label, BLACK);
    }
    line(all, f->left, f->top, f->left, f->top + f->height, 2, BLACK);
    line(all, f->left, f->top + f->height, f->left + f->width, f->top + f->height, 2, BLACK);
    if (p->title)
        text(all, f->left + (f->width - facs_text_width(p->title, TEXT_SCALE)) / 2, f->top - 24, p->title, BLACK);
    if (p->xlabel)
        text(all, f->left + (f->width - facs_text_width(p->xlabel, TEXT_SCALE)) / 2, f->top + f->height + 32,
             p->xlabel, BLACK);
}

static const uint8_t *series_rgb(const facs_plot_series *s, int k)
{
    return s->rgb ? s->rgb : facs_plot_palette[k % FACS_PLOT_PALETTE_SIZE];
}

static void series(const canvas *area, const frame *f, const facs_plot_series *s, int k)
{
    const uint8_t *rgb = series_rgb(s, k);
    for (int i = 0; i < s->count; i++) {
        if (!finite_point(s, i))
            continue;
        double x = px(f, s->x ? s->x[i] : i + 1), y = py(f, s->y[i]);
        int before = i > 0 && finite_point(s, i - 1), after = i + 1 < s->count && finite_point(s, i + 1);
        if (before)
            segment(area, px(f, s->x ? s->x[i - 1] : i), py(f, s->y[i - 1]), x, y, 2, rgb);
        if (s->markers) {
            segment(area, x - 2, y - 2, x + 2, y + 2, 2, rgb);
            segment(area, x - 2, y + 2, x + 2, y - 2, 2, rgb);
        } else if (!before && !after) {
            int cx = (int)lround(x), cy = (int)lround(y);
            for (int d = 0; d < 9; d++)
                put(area, cx - 1 + d % 3, cy - 1 + d / 3, rgb);
        }
    }
}

/* The legend, drawn after every curve on a white ground so it stays legible,
 * in the top-right or bottom-right corner of the area. */
static void legend(const canvas *area, const frame *f, const facs_plot_panel *p)
{
    int count = 0, widest = 0;
    for (int k = 0; k < p->n_series; k++)
        if (p->series[k].name && *p->series[k].name) {
            count++;
            widest = (int)fmax(widest, facs_text_width(p->series[k].name, TEXT_SCALE));
        }
    if (!count || p->legend == FACS_PLOT_LEGEND_NONE)
        return;
    int lx = f->left + f->width - (int)fmax(190, 32 + widest + 14);
    int top = p->legend == FACS_PLOT_LEGEND_BOTTOM_RIGHT ? f->top + f->height - 12 - 22 * count : f->top + 10;
    for (int y = top - 4; y < top + 22 * count; y++)
        line(area, lx - 6, y, f->left + f->width - 4, y, 1, WHITE);
    int ly = top;
    for (int k = 0; k < p->n_series; k++) {
        const facs_plot_series *s = &p->series[k];
        if (!s->name || !*s->name)
            continue;
        line(area, lx, ly + 7, lx + 24, ly + 7, 3, series_rgb(s, k));
        text(area, lx + 32, ly, s->name, BLACK);
        ly += 22;
    }
}

facs_status facs_plot_render(const facs_plot *plot, facs_image *out)
{
    *out = (facs_image){0};
    if (!plot || plot->n_panels < 1 || plot->n_panels > 64)
        return facs_fail(FACS_ERR_ARG, "plot: need 1 to 64 panels");
    frame frames[64];
    int width, height;
    FACS_TRY(layout(plot, frames, &width, &height));
    uint8_t *pixels = malloc((size_t)width * height * 3);
    if (!pixels)
        return facs_fail(FACS_ERR_MEMORY, "plot: out of memory for a %dx%d image", width, height);
    memset(pixels, 255, (size_t)width * height * 3);
    *out = (facs_image){width, height, 3, pixels};
    canvas all = {out, 0, 0, width - 1, height - 1};
    for (int i = 0; i < plot->n_panels; i++) {
        const frame *f = &frames[i];
        const facs_plot_panel *p = &plot->panels[i];
        canvas area = {out, f->left, f->top, f->left + f->width, f->top + f->height};
        axes(&all, f, p);
        for (int k = 0; k < p->n_series; k++)
            series(&area, f, &p->series[k], k);
        legend(&area, f, p);
    }
    return FACS_OK;
}

facs_status facs_plot_write_png(const facs_plot *plot, const char *path)
{
    facs_image img;
    FACS_TRY(facs_plot_render(plot, &img));
    facs_status s = facs_png_write(path, &img);
    facs_image_free(&img);
    return s;
}

facs_status facs_plot_area(const facs_plot *plot, int i, int rect[4])
{
    if (!plot || plot->n_panels < 1 || plot->n_panels > 64 || i < 0 || i >= plot->n_panels)
        return facs_fail(FACS_ERR_ARG, "plot: no panel %d", i);
    frame frames[64];
    int width, height;
    FACS_TRY(layout(plot, frames, &width, &height));
    rect[0] = frames[i].left;
    rect[1] = frames[i].top;
    rect[2] = frames[i].width;
    rect[3] = frames[i].height;
    return FACS_OK;
}
