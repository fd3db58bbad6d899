/* The palettes and colour maps of colormap.h. */
#include <math.h>
#include <stdlib.h>

#include "colormap.h"

void facs_palette_rgb(int index, uint8_t rgb[3])
{
    unsigned r = 0, g = 0, b = 0, c = index < 0 ? 0 : (unsigned)index;
    for (int j = 0; j < 8; j++, c >>= 3) {
        r |= (c & 1u) << (7 - j);
        g |= (c >> 1 & 1u) << (7 - j);
        b |= (c >> 2 & 1u) << (7 - j);
    }
    rgb[0] = (uint8_t)r;
    rgb[1] = (uint8_t)g;
    rgb[2] = (uint8_t)b;
}

/* An RGB image of width x height, or an error. */
static facs_status new_rgb(int width, int height, const char *what, facs_image *out)
{
    *out = (facs_image){0};
    if (width <= 0 || height <= 0 || width > FACS_IMAGE_MAX_SIDE || height > FACS_IMAGE_MAX_SIDE ||
        (long)width * height > FACS_IMAGE_MAX_PIXELS)
        return facs_fail(FACS_ERR_ARG, "%s: bad image size %dx%d", what, width, height);
    uint8_t *p = malloc((size_t)width * height * 3);
    if (!p)
        return facs_fail(FACS_ERR_MEMORY, "%s: out of memory for a %dx%d image", what, width, height);
    *out = (facs_image){width, height, 3, p};
    return FACS_OK;
}

facs_status facs_labels_to_rgb(const int32_t *labels, int width, int height, const uint8_t (*palette)[3],
                               int classes, const uint8_t other[3], facs_image *out)
{
    if (!labels || classes < 0)
        return facs_fail(FACS_ERR_ARG, "facs_labels_to_rgb: need labels and classes >= 0");
    FACS_TRY(new_rgb(width, height, "facs_labels_to_rgb", out));
    static const uint8_t black[3] = {0, 0, 0};
    if (!other)
        other = black;
    for (size_t i = 0; i < (size_t)width * height; i++) {
        uint8_t *p = out->pixels + i * 3, rgb[3];
        const uint8_t *c = other;
        if (labels[i] >= 0 && labels[i] < classes) {
            if (palette)
                c = palette[labels[i]];
            else {
                facs_palette_rgb(labels[i], rgb);
                c = rgb;
            }
        }
        p[0] = c[0];
        p[1] = c[1];
        p[2] = c[2];
    }
    return FACS_OK;
}

const uint8_t facs_jet_table[256][3] = {
    {  0,   0, 128}, {  0,   0, 132}, {  0,   0, 136}, {  0,   0, 140},
    {  0,   0, 144}, {  0,   0, 148}, {  0,   0, 152}, {  0,   0, 156},
    {  0,   0, 160}, {  0,   0, 164}, {  0,   0, 168}, {  0,   0, 172},
    {  0,   0, 176}, {  0,   0, 180}, {  0,   0, 184}, {  0,   0, 188},
    {  0,   0, 192}, {  0,   0, 196}, {  0,   0, 200}, {  0,   0, 204},
    {  0,   0, 208}, {  0,   0, 212}, {  0,   0, 216}, {  0,   0, 220},
    {  0,   0, 224}, {  0,   0, 228}, {  0,   0, 232}, {  0,   0, 236},
    {  0,   0, 240}, {  0,   0, 244}, {  0,   0, 248}, {  0,   0, 252},
    {  0,   0, 255}, {  0,   4, 255}, {  0,   8, 255}, {  0,  12, 255},
    {  0,  16, 255}, {  0,  20, 255}, {  0,  24, 255}, {  0,  28, 255},
    {  0,  32, 255}, {  0,  36, 255}, {  0,  40, 255}, {  0,  44, 255},
    {  0,  48, 255}, {  0,  52, 255}, {  0,  56, 255}, {  0,  60, 255},
    {  0,  64, 255}, {  0,  68, 255}, {  0,  72, 255}, {  0,  76, 255},
    {  0,  80, 255}, {  0,  84, 255}, {  0,  88, 255}, {  0,  92, 255},
    {  0,  96, 255}, {  0, 100, 255}, {  0, 104, 255}, {  0, 108, 255},
    {  0, 112, 255}, {  0, 116, 255}, {  0, 120, 255}, {  0, 124, 255},
    {  0, 128, 255}, {  0, 132, 255}, {  0, 136, 255}, {  0, 140, 255},
    {  0, 144, 255}, {  0, 148, 255}, {  0, 152, 255}, {  0, 156, 255},
    {  0, 160, 255}, {  0, 164, 255}, {  0, 168, 255}, {  0, 172, 255},
    {  0, 176, 255}, {  0, 180, 255}, {  0, 184, 255}, {  0, 188, 255},
    {  0, 192, 255}, {  0, 196, 255}, {  0, 200, 255}, {  0, 204, 255},
    {  0, 208, 255}, {  0, 212, 255}, {  0, 216, 255}, {  0, 220, 255},
    {  0, 224, 255}, {  0, 228, 255}, {  0, 232, 255}, {  0, 236, 255},
    {  0, 240, 255}, {  0, 244, 255}, {  0, 248, 255}, {  0, 252, 255},
    {  2, 255, 254}, {  6, 255, 250}, { 10, 255, 246}, { 14, 255, 242},
    { 18, 255, 238}, { 22, 255, 234}, { 26, 255, 230}, { 30, 255, 226},
    { 34, 255, 222}, { 38, 255, 218}, { 42, 255, 214}, { 46, 255, 210},
    { 50, 255, 206}, { 54, 255, 202}, { 58, 255, 198}, { 62, 255, 194},
    { 66, 255, 190}, { 70, 255, 186}, { 74, 255, 182}, { 78, 255, 178},
    { 82, 255, 174}, { 86, 255, 170}, { 90, 255, 166}, { 94, 255, 162},
    { 98, 255, 158}, {102, 255, 154}, {106, 255, 150}, {110, 255, 146},
    {114, 255, 142}, {118, 255, 138}, {122, 255, 134}, {126, 255, 130},
    {130, 255, 126}, {134, 255, 122}, {138, 255, 118}, {142, 255, 114},
    {146, 255, 110}, {150, 255, 106}, {154, 255, 102}, {158, 255,  98},
    {162, 255,  94}, {166, 255,  90}, {170, 255,  86}, {174, 255,  82},
    {178, 255,  78}, {182, 255,  74}, {186, 255,  70}, {190, 255,  66},
    {194, 255,  62}, {198, 255,  58}, {202, 255,  54}, {206, 255,  50},
    {210, 255,  46}, {214, 255,  42}, {218, 255,  38}, {222, 255,  34},
    {226, 255,  30}, {230, 255,  26}, {234, 255,  22}, {238, 255,  18},
    {242, 255,  14}, {246, 255,  10}, {250, 255,   6}, {254, 255,   1},
    {255, 252,   0}, {255, 248,   0}, {255, 244,   0}, {255, 240,   0},
    {255, 236,   0}, {255, 232,   0}, {255, 228,   0}, {255, 224,   0},
    {255, 220,   0}, {255, 216,   0}, {255, 212,   0}, {255, 208,   0},
    {255, 204,   0}, {255, 200,   0}, {255, 196,   0}, {255, 192,   0},
    {255, 188,   0}, {255, 184,   0}, {255, 180,   0}, {255, 176,   0},
    {255, 172,   0}, {255, 168,   0}, {255, 164,   0}, {255, 160,   0},
    {255, 156,   0}, {255, 152,   0}, {255, 148,   0}, {255, 144,   0},
    {255, 140,   0}, {255, 136,   0}, {255, 132,   0}, {255, 128,   0},
    {255, 124,   0}, {255, 120,   0}, {255, 116,   0}, {255, 112,   0},
    {255, 108,   0}, {255, 104,   0}, {255, 100,   0}, {255,  96,   0},
    {255,  92,   0}, {255,  88,   0}, {255,  84,   0}, {255,  80,   0},
    {255,  76,   0}, {255,  72,   0}, {255,  68,   0}, {255,  64,   0},
    {255,  60,   0}, {255,  56,   0}, {255,  52,   0}, {255,  48,   0},
    {255,  44,   0}, {255,  40,   0}, {255,  36,   0}, {255,  32,   0},
    {255,  28,   0}, {255,  24,   0}, {255,  20,   0}, {255,  16,   0},
    {255,  12,   0}, {255,   8,   0}, {255,   4,   0}, {255,   0,   0},
    {252,   0,   0}, {248,   0,   0}, {244,   0,   0}, {240,   0,   0},
    {236,   0,   0}, {232,   0,   0}, {228,   0,   0}, {224,   0,   0},
    {220,   0,   0}, {216,   0,   0}, {212,   0,   0}, {208,   0,   0},
    {204,   0,   0}, {200,   0,   0}, {196,   0,   0}, {192,   0,   0},
    {188,   0,   0}, {184,   0,   0}, {180,   0,   0}, {176,   0,   0},
    {172,   0,   0}, {168,   0,   0}, {164,   0,   0}, {160,   0,   0},
    {156,   0,   0}, {152,   0,   0}, {148,   0,   0}, {144,   0,   0},
    {140,   0,   0}, {136,   0,   0}, {132,   0,   0}, {128,   0,   0},
};

void facs_jet_rgb(float v, uint8_t rgb[3])
{
    int i = v > 0 ? (int)(255.0f * fminf(v, 1.0f)) : 0; /* NaN fails v > 0 */
    rgb[0] = facs_jet_table[i][0];
    rgb[1] = facs_jet_table[i][1];
    rgb[2] = facs_jet_table[i][2];
}

facs_status facs_jet_to_rgb(const float *values, int width, int height, facs_image *out)
{
    if (!values)
        return facs_fail(FACS_ERR_ARG, "facs_jet_to_rgb: NULL values");
    FACS_TRY(new_rgb(width, height, "facs_jet_to_rgb", out));
    for (size_t i = 0; i < (size_t)width * height; i++)
        facs_jet_rgb(values[i], out->pixels + i * 3);
    return FACS_OK;
}

facs_status facs_blend(facs_image *img, const facs_image *over, float alpha)
{
    if (!img || !over || !img->pixels || !over->pixels || img->width != over->width ||
        img->height != over->height || img->channels != over->channels)
        return facs_fail(FACS_ERR_ARG, "facs_blend: images differ (%dx%dx%d and %dx%dx%d)", img ? img->width : 0,
                         img ? img->height : 0, img ? img->channels : 0, over ? over->width : 0,
                         over ? over->height : 0, over ? over->channels : 0);
    if (!(alpha >= 0 && alpha <= 1))
        return facs_fail(FACS_ERR_ARG, "facs_blend: alpha must be in [0, 1], got %g", alpha);
    float keep = 1.0f - alpha;
    size_t n = (size_t)img->width * img->height * img->channels;
    for (size_t i = 0; i < n; i++) {
        float v = keep * img->pixels[i] + alpha * over->pixels[i] + 0.5f;
        img->pixels[i] = (uint8_t)(v >= 255.0f ? 255 : v);
    }
    return FACS_OK;
}
