/* What the C benchmarks share: options, timing, random inputs.
 *
 * Every benchmark takes --batch, --runs, --warmup, --threads, --help and
 * --version, reports medians over --runs timed calls after --warmup untimed
 * ones, and prints one JSON document on stdout (progress goes to stderr). */
#ifndef FACS_BENCH_UTIL_H
#define FACS_BENCH_UTIL_H

#include "ops.h"

typedef struct {
    int batch, runs, warmup, threads;
} bench_options;

/* Parses the common options; returns -1 to go on, or the exit code to return
 * (0 after --help / --version, 2 on a bad option). about is --help's text. */
int bench_parse(int argc, char **argv, const char *prog, const char *about, bench_options *o);

double bench_now_ms(void);
/* Sorts v and returns its median. */
double bench_median(double *v, int n);
/* A heap tensor of uniform values in [-1, 1) from *seed. */
facs_tensor *bench_random_tensor(int n, int c, int h, int w, unsigned *seed);

#endif
