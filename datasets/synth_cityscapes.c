/* Synthetic Cityscapes street scenes in the real folder layout (see cityscapes.h).
 *
 * A scene is drawn into a labelId map first (painter's order: sky, buildings,
 * vegetation, ground, poles and signs, persons, cars, ego vehicle), and the RGB
 * frame is then coloured from that map, so the labels match the pixels exactly.
 * Colours sit near each class's palette colour with a class-specific texture
 * (building windows, sidewalk tiles, noisy vegetation, ...) and per-frame jitter.
 * An instanceIds map is drawn alongside, in the same strokes, so later objects
 * occlude earlier ones in both maps alike. */
#include "cityscapes.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "atomic_file.h"

/* The official labelIds drawn here (cityscapesscripts/helpers/labels.py). */
enum {
    ID_EGO = 1, /* ego vehicle: trainId 255 */
    ID_ROAD = 7,
    ID_SIDEWALK = 8,
    ID_BUILDING = 11,
    ID_POLE = 17,
    ID_SIGN = 20,
    ID_VEGETATION = 21,
    ID_TERRAIN = 22,
    ID_SKY = 23,
    ID_PERSON = 24,
    ID_CAR = 26
};

/* Pixel flags that change the colour but not the label: lane marks are road,
 * car windows are car, as in the real annotations. */
enum { TEX_PLAIN = 0, TEX_LANE = 1, TEX_WINDOW = 2 };

typedef struct {
    uint64_t s;
} rng;

/* splitmix64: tiny, and good enough for drawing scenes. */
static uint64_t rng_next(rng *r)
{
    uint64_t z = (r->s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static double rng_unif(rng *r, double lo, double hi) { return lo + (hi - lo) * (double)(rng_next(r) >> 11) * 0x1p-53; }

/* Uniform integer in [lo, hi]. */
static int rng_int(rng *r, int lo, int hi) { return lo + (int)(rng_next(r) % (uint64_t)(hi - lo + 1)); }

typedef struct {
    int w, h;
    uint8_t *ids;   /* labelIds, w * h */
    uint8_t *tex;   /* TEX_* flags, w * h */
    uint16_t *inst; /* instanceIds, w * h: labelId * 1000 + k for object k of a class, else labelId */
    int object;     /* the instanceId the strokes being drawn write, 0 while drawing stuff (no object) */
} scene;

/* One pixel of a stroke, in all three maps. */
static void put(scene *sc, int i, int id, int tex)
{
    sc->ids[i] = (uint8_t)id;
    sc->tex[i] = (uint8_t)tex;
    sc->inst[i] = (uint16_t)(sc->object ? sc->object : id);
}

static void fill_rect(scene *sc, int x0, int y0, int x1, int y1, int id, int tex)
{
    x0 = x0 < 0 ? 0 : x0;
    y0 = y0 < 0 ? 0 : y0;
    x1 = x1 > sc->w ? sc->w : x1;
    y1 = y1 > sc->h ? sc->h : y1;
    for (int y = y0; y < y1; y++)
        for (int x = x0; x < x1; x++)
            put(sc, y * sc->w + x, id, tex);
}

static void fill_ellipse(scene *sc, double cx, double cy, double rx, double ry, int id)
{
    for (int y = (int)(cy - ry); y <= (int)(cy + ry) + 1; y++)
        for (int x = (int)(cx - rx); x <= (int)(cx + rx) + 1; x++) {
            double dx = (x + 0.5 - cx) / rx, dy = (y + 0.5 - cy) / ry;
            if (x >= 0 && y >= 0 && x < sc->w && y < sc->h && dx * dx + dy * dy <= 1.0)
                put(sc, y * sc->w + x, id, TEX_PLAIN);
        }
}

/* Draws one street scene; every class listed in the enum above appears at least once. */
static void draw_scene(scene *sc, rng *r)
{
    int w = sc->w, h = sc->h;
    int horizon = (int)(h * rng_unif(r, 0.42, 0.52));
    double cx = w * rng_unif(r, 0.42, 0.58);
    fill_rect(sc, 0, 0, w, h, ID_SKY, TEX_PLAIN);

    /* Buildings stand on the horizon; gaps between them show the sky. */
    for (int x = 0; x < w;) {
        int bw = (int)(w * rng_unif(r, 0.08, 0.2)) + 1;
        if (x == 0 || rng_unif(r, 0, 1) > 0.2)
            fill_rect(sc, x, (int)(h * rng_unif(r, 0.08, 0.3)), x + bw, horizon, ID_BUILDING, TEX_PLAIN);
        x += bw;
    }
    for (int k = rng_int(r, 1, 3); k > 0; k--)
        fill_ellipse(sc, w * rng_unif(r, 0.05, 0.95), horizon - h * rng_unif(r, 0.05, 0.12),
                     w * rng_unif(r, 0.04, 0.08), h * rng_unif(r, 0.08, 0.14), ID_VEGETATION);

    /* Ground in perspective: road in the middle, sidewalks beside it, terrain
     * beyond; dashed lane marks down the road's centre line. */
    for (int y = horizon; y < h; y++) {
        double t = (double)(y - horizon + 1) / (h - horizon);
        double road = w * (0.05 + 0.35 * t), walk = road + w * (0.05 + 0.15 * t), lane = 0.5 + w * 0.006 * t;
        int dash = (int)(8.0 * t * t * 4.0) % 2 == 0;
        for (int x = 0; x < w; x++) {
            double d = x + 0.5 - cx, ad = d < 0 ? -d : d;
            int id = ad < road ? ID_ROAD : ad < walk ? ID_SIDEWALK : ID_TERRAIN;
            put(sc, y * w + x, id, ad < lane && dash ? TEX_LANE : TEX_PLAIN);
        }
    }

    /* Poles with a traffic sign on top, on either sidewalk. */
    double foot = horizon + (h - horizon) * 0.25, t_foot = 0.25;
    double walk_mid = w * (0.05 + 0.35 * t_foot) + w * (0.05 + 0.15 * t_foot) * 0.5;
    for (int k = rng_int(r, 1, 2); k > 0; k--) {
        int side = rng_int(r, 0, 1) ? 1 : -1;
        int px = (int)(cx + side * walk_mid), pw = w / 128 + 2;
        int top = (int)(horizon - h * rng_unif(r, 0.2, 0.3));
        fill_rect(sc, px, top, px + pw, (int)foot, ID_POLE, TEX_PLAIN);
        int sw = w / 40 + 3, shh = h / 20 + 3;
        fill_rect(sc, px + pw / 2 - sw / 2, top - shh, px + pw / 2 - sw / 2 + sw, top, ID_SIGN, TEX_PLAIN);
    }

    /* Persons on the sidewalks, taller nearer the camera. Each person and car is
     * an instance, numbered per class in drawing order as json2instanceImg does. */
    int n_persons = 0, n_cars = 0;
    for (int k = rng_int(r, 1, 3); k > 0; k--) {
        double t = rng_unif(r, 0.15, 0.6), y = horizon + (h - horizon) * t;
        double offset = w * (0.05 + 0.35 * t) + w * (0.05 + 0.15 * t) * rng_unif(r, 0.3, 0.7);
        double ph = h * (0.08 + 0.2 * t);
        sc->object = ID_PERSON * 1000 + n_persons++;
        fill_ellipse(sc, cx + (rng_int(r, 0, 1) ? offset : -offset), y - ph / 2, ph * 0.18, ph / 2, ID_PERSON);
    }

    /* Cars on the road, with a band of dark windows. */
    for (int k = rng_int(r, 1, 3); k > 0; k--) {
        double t = rng_unif(r, 0.2, 0.8), y = horizon + (h - horizon) * t;
        double road = w * (0.05 + 0.35 * t);
        int cw = (int)(w * (0.06 + 0.12 * t)) + 2, ch = cw / 2 + 1;
        int x0 = (int)(cx + rng_unif(r, -road, road - cw));
        sc->object = ID_CAR * 1000 + n_cars++;
        fill_rect(sc, x0, (int)y - ch, x0 + cw, (int)y, ID_CAR, TEX_PLAIN);
        fill_rect(sc, x0 + cw / 6, (int)y - ch + ch / 8, x0 + cw - cw / 6, (int)y - ch + ch / 2, ID_CAR, TEX_WINDOW);
    }

    sc->object = 0;

    /* The ego vehicle's bonnet along the bottom: labelId 1, ignored in training. */
    fill_rect(sc, 0, h - (int)(h * rng_unif(r, 0.05, 0.09)) - 1, w, h, ID_EGO, TEX_PLAIN);
}

static uint8_t clamp_u8(int v) { return (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : v); }

/* Colours the frame from the labels: palette colour + per-frame jitter + texture + noise. */
static void paint(const scene *sc, rng *r, uint8_t *rgb)
{
    int jitter[256];
    for (int i = 0; i < 256; i++)
        jitter[i] = rng_int(r, -12, 12);
    int cell_x = sc->w / 48 + 2, cell_y = sc->h / 24 + 2;
    for (int y = 0; y < sc->h; y++)
        for (int x = 0; x < sc->w; x++) {
            int id = sc->ids[y * sc->w + x], tex = sc->tex[y * sc->w + x];
            int train = facs_cityscapes_train_id(id);
            int base[3] = {40, 40, 40}, amp = 6, shade = jitter[id];
            if (train != FACS_CITYSCAPES_IGNORE)
                for (int c = 0; c < 3; c++)
                    base[c] = facs_cityscapes_palette[train][c];
            if (tex == TEX_LANE) {
                base[0] = base[1] = base[2] = 235;
            } else if (tex == TEX_WINDOW) {
                base[0] = 30, base[1] = 35, base[2] = 60;
            } else if (id == ID_SKY) {
                shade += 25 - 50 * y / sc->h;
                amp = 3;
            } else if (id == ID_BUILDING) {
                shade += (x / cell_x) % 3 == 1 && (y / cell_y) % 3 == 1 ? -30 : 0;
            } else if (id == ID_SIDEWALK) {
                shade += (x % 8 == 0 || y % 6 == 0) ? -25 : 0;
            } else if (id == ID_VEGETATION || id == ID_TERRAIN) {
                amp = 28;
            } else if (id == ID_PERSON) {
                amp = 12;
            }
            uint8_t *p = rgb + 3 * ((size_t)y * sc->w + x);
            int noise = rng_int(r, -amp, amp);
            for (int c = 0; c < 3; c++)
                p[c] = clamp_u8(base[c] + shade + noise + rng_int(r, -2, 2));
        }
}

/* path = dir/{stem}_{suffix}.png */
static facs_status frame_path(char *path, size_t size, const char *dir, const char *stem, const char *suffix)
{
    if (snprintf(path, size, "%s/%s_%s.png", dir, stem, suffix) >= (int)size)
        return facs_fail(FACS_ERR_ARG, "%s: path too long", dir);
    return FACS_OK;
}

/* Writes the five PNGs of one frame. */
static facs_status write_frame(const char *img_dir, const char *gt_dir, const char *stem, const scene *sc,
                               uint8_t *rgb, uint8_t *train, uint8_t *color)
{
    size_t n = (size_t)sc->w * sc->h;
    for (size_t k = 0; k < n; k++) {
        int t = facs_cityscapes_train_id(sc->ids[k]);
        train[k] = (uint8_t)t;
        for (int c = 0; c < 3; c++)
            color[3 * k + c] = t == FACS_CITYSCAPES_IGNORE ? 0 : facs_cityscapes_palette[t][c];
    }
    struct {
        const char *dir, *suffix;
        uint8_t *pixels;
        int channels;
    } files[] = {{img_dir, "leftImg8bit", rgb, 3},
                 {gt_dir, "gtFine_labelIds", sc->ids, 1},
                 {gt_dir, "gtFine_labelTrainIds", train, 1},
                 {gt_dir, "gtFine_color", color, 3}};
    char path[4096];
    for (size_t f = 0; f < sizeof files / sizeof files[0]; f++) {
        FACS_TRY(frame_path(path, sizeof path, files[f].dir, stem, files[f].suffix));
        facs_image img = {sc->w, sc->h, files[f].channels, files[f].pixels};
        FACS_TRY(facs_png_write(path, &img));
    }
    FACS_TRY(frame_path(path, sizeof path, gt_dir, stem, "gtFine_instanceIds"));
    facs_image16 inst = {sc->w, sc->h, sc->inst};
    return facs_png_write16(path, &inst);
}

static facs_status synth_split(const char *out_root, int split, int count, scene *sc, uint8_t *rgb, uint8_t *train,
                               uint8_t *color, uint64_t seed)
{
    /* Two real city names per split, as in the distributed archive. */
    static const char *const cities[2][2] = {{"aachen", "bochum"}, {"frankfurt", "lindau"}};
    const char *split_name = facs_cityscapes_split_names[split];
    int first_city = (count + 1) / 2;
    for (int i = 0; i < count; i++) {
        int city = i < first_city ? 0 : 1, seq = city ? i - first_city : i;
        char img_dir[4096], gt_dir[4096], stem[256];
        const char *name = cities[split][city];
        if (snprintf(img_dir, sizeof img_dir, "%s/leftImg8bit/%s/%s", out_root, split_name, name) >=
                (int)sizeof img_dir ||
            snprintf(gt_dir, sizeof gt_dir, "%s/gtFine/%s/%s", out_root, split_name, name) >= (int)sizeof gt_dir)
            return facs_fail(FACS_ERR_ARG, "%s: path too long", out_root);
        snprintf(stem, sizeof stem, "%s_%06d_%06d", name, seq, 19);
        if (seq == 0) {
            FACS_TRY(facs_make_dirs(img_dir));
            FACS_TRY(facs_make_dirs(gt_dir));
        }
        /* Each frame draws from its own stream (seed, split, index), so its pixels
         * do not depend on how many frames come before or after it. */
        rng r = {seed ^ (0x51ed27d3ull * (uint64_t)(split + 1))};
        r.s += (uint64_t)i * 0x2545f4914f6cdd1dull;
        rng_next(&r);
        draw_scene(sc, &r);
        paint(sc, &r, rgb);
        FACS_TRY(write_frame(img_dir, gt_dir, stem, sc, rgb, train, color));
    }
    return FACS_OK;
}

facs_status facs_cityscapes_synth(const char *out_root, int n_train, int n_val, int width, int height, uint64_t seed)
{
    if (n_train < 0 || n_val < 0 || n_train + n_val == 0)
        return facs_fail(FACS_ERR_ARG, "Cityscapes synth needs n_train, n_val >= 0 and one of them > 0, not %d, %d",
                         n_train, n_val);
    if (width < 32 || height < 32 || width > 4096 || height > 4096)
        return facs_fail(FACS_ERR_ARG, "Cityscapes synth frame size %dx%d is outside [32, 4096]", width, height);
    size_t n = (size_t)width * (size_t)height;
    scene sc = {width, height, malloc(n), malloc(n), malloc(n * sizeof(uint16_t)), 0};
    uint8_t *rgb = malloc(3 * n), *train = malloc(n), *color = malloc(3 * n);
    facs_status s = sc.ids && sc.tex && sc.inst && rgb && train && color
                        ? FACS_OK
                        : facs_fail(FACS_ERR_MEMORY, "%s: out of memory for %dx%d frames", out_root, width, height);
    if (s == FACS_OK)
        s = synth_split(out_root, 0, n_train, &sc, rgb, train, color, seed);
    if (s == FACS_OK)
        s = synth_split(out_root, 1, n_val, &sc, rgb, train, color, seed);
    free(sc.ids);
    free(sc.tex);
    free(sc.inst);
    free(rgb);
    free(train);
    free(color);
    return s;
}
