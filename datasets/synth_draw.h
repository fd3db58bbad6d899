/* Synthetic class images shared by the synthetic datasets (synth CIFAR, synth
 * image folders): each class has fixed stripes (direction, frequency, two
 * colours) and a coloured blob; each image jitters them and adds noise, so a
 * classifier can learn the classes but must generalise. Every value is a pure
 * function of (label, key), so datasets are reproducible from their seed. */
#ifndef FACS_SYNTH_DRAW_H
#define FACS_SYNTH_DRAW_H

#include <stdint.h>

/* SplitMix64's finaliser, and a uniform double in [0, 1) from (key, counter). */
uint64_t facs_synth_mix(uint64_t z);
double facs_synth_uniform(uint64_t key, uint64_t counter);

/* One height x width RGB image of class label into out: planar (3 planes,
 * CIFAR's record layout) or interleaved (HWC). Geometry scales with the size;
 * at 32 x 32 this is synth CIFAR's image. */
void facs_synth_draw(int label, uint64_t key, int height, int width, int planar, uint8_t *out);

#endif
