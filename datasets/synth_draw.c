/* Synthetic class images (see synth_draw.h). */
#include "synth_draw.h"

#include <math.h>

uint64_t facs_synth_mix(uint64_t z)
{
    z += 0x9e3779b97f4a7c15ULL;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

double facs_synth_uniform(uint64_t key, uint64_t counter)
{
    return (facs_synth_mix(key ^ facs_synth_mix(counter)) >> 11) * 0x1.0p-53;
}

/* What makes a class recognisable, in the units of a 32 x 32 image. Fixed per
 * class (independent of the seed), so every seed draws from the same task. */
typedef struct {
    double angle, freq;   /* stripe direction (radians) and cycles across the image */
    double c0[3], c1[3];  /* the stripes blend these two colours */
    double bx, by, br;    /* blob centre and radius in pixels of 32 */
    double blob[3];       /* blob colour */
} recipe;

static recipe class_recipe(int label)
{
    const uint64_t key = facs_synth_mix(0xC1FA0000ULL + (uint64_t)label);
    recipe r;
    /* Orientation cycles through ten well-separated directions so that ten
     * classes differ in shape, not only in colour; the rest is hashed per class. */
    r.angle = 3.14159265358979 * ((label % 10) / 10.0 + 0.02 * facs_synth_uniform(key, 0));
    r.freq = 1.5 + 4.5 * facs_synth_uniform(key, 1);
    for (int c = 0; c < 3; c++) {
        r.c0[c] = 255 * facs_synth_uniform(key, 2 + (uint64_t)c);
        r.c1[c] = 255 * facs_synth_uniform(key, 5 + (uint64_t)c);
        r.blob[c] = 255 * facs_synth_uniform(key, 8 + (uint64_t)c);
    }
    r.bx = 7 + 18 * facs_synth_uniform(key, 11);
    r.by = 7 + 18 * facs_synth_uniform(key, 12);
    r.br = 3 + 4 * facs_synth_uniform(key, 13);
    return r;
}

void facs_synth_draw(int label, uint64_t key, int height, int width, int planar, uint8_t *out)
{
    recipe r = class_recipe(label);
    /* Multiplying by 1.0 is exact, so 32 x 32 keeps synth CIFAR's values bit for bit. */
    double sx = width / 32.0, sy = height / 32.0, sr = (height < width ? height : width) / 32.0;
    double angle = r.angle + 0.08 * (facs_synth_uniform(key, 0) - 0.5);
    double freq = r.freq * (0.9 + 0.2 * facs_synth_uniform(key, 1));
    double phase = 6.28318530717959 * facs_synth_uniform(key, 2);
    double bx = (r.bx + 6 * (facs_synth_uniform(key, 3) - 0.5)) * sx;
    double by = (r.by + 6 * (facs_synth_uniform(key, 4) - 0.5)) * sy, br = r.br * sr;
    double ca = cos(angle), sa = sin(angle), k = 6.28318530717959 * freq / width;
    double shift[3];
    for (int c = 0; c < 3; c++)
        shift[c] = 40 * (facs_synth_uniform(key, 5 + (uint64_t)c) - 0.5);
    const int plane = height * width;
    for (int y = 0; y < height; y++)
        for (int x = 0; x < width; x++) {
            double t = 0.5 + 0.5 * sin(k * (x * ca + y * sa) + phase);
            double d2 = (x - bx) * (x - bx) + (y - by) * (y - by);
            double b = exp(-d2 / (2 * br * br));
            for (int c = 0; c < 3; c++) {
                double v = (r.c0[c] * (1 - t) + r.c1[c] * t) * (1 - b) + r.blob[c] * b + shift[c];
                v += 48 * (facs_synth_uniform(key, 8 + (uint64_t)(c * plane + y * width + x)) - 0.5);
                out[planar ? c * plane + y * width + x : (y * width + x) * 3 + c] =
                    (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : lrint(v));
            }
        }
}
