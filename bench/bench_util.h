/* What the C benchmarks share: options, timing, random inputs.
 *
 * Every benchmark takes --batch, --runs, --warmup, --threads, --help and
 * --version, reports medians over --runs timed calls after --warmup untimed
 * ones, and prints one JSON document on stdout (progress goes to stderr),
 * built with jansson:
 *
 *     json_t *doc = json_pack("{s:s, s:i}", "library", "facs", "batch", o.batch);
 *     json_object_set_new(shape, "fwd_ms", bench_json_real(ms, 3));   // ms rounded to 3 decimals
 *     return bench_json_print(doc);                                   // prints and frees doc */
#ifndef FACS_BENCH_UTIL_H
#define FACS_BENCH_UTIL_H

#include <jansson.h>

#include "cli_options.h"
#include "loader.h"
#include "ops.h"

typedef struct {
    int batch, runs, warmup, threads;
} bench_options;

/* Parses the common options; returns -1 to go on, or the exit code to return
 * (0 after --help / --version, 2 on a bad option). about is --help's text. */
int bench_parse(int argc, char **argv, const char *prog, const char *about, bench_options *o);

/* A benchmark's own option (beside the common ones): its name, and whether a value follows it. */
typedef struct {
    const char *name; /* "--arch" */
    int takes_value;
} bench_option;

/* Takes the options of own (ended by a NULL name) out of argv, calling
 * take(user, name, value) for each in order (value NULL for a flag), and
 * leaves the rest for bench_parse (which refuses options it does not know).
 * A missing value or a refusal of take prints "prog: message" on stderr.
 * Returns -1 to go on, or 2. */
int bench_take_options(int *argc, char **argv, const char *prog, const bench_option *own,
                       facs_status (*take)(void *user, const char *name, const char *value), void *user);

/* A take callback's value checks: an integer in [lo, hi] or a finite real
 * in [lo, hi]; FACS_ERR_ARG naming the option otherwise. */
facs_status bench_option_int(const char *name, const char *text, int lo, int hi, int *out);
facs_status bench_option_real(const char *name, const char *text, double lo, double hi, double *out);

double bench_now_ms(void);
/* Process CPU time (all threads) in ms: unlike wall time, it barely moves
 * when other processes share the cores (OpenMP threads that spin at a barrier
 * count as busy). */
double bench_cpu_now_ms(void);
/* The process's peak resident set so far, MiB. */
double bench_max_rss_mib(void);
/* Sorts v and returns its median. */
double bench_median(double *v, int n);
/* v rounded to `decimals` places (what printf's "%.Nf" shows) as a JSON number;
 * null when v is NaN or infinite, which JSON cannot hold. */
json_t *bench_json_real(double v, int decimals);

/* Prints doc on stdout (2-space indent, keys in insertion order, numbers of
 * bench_json_real without binary noise) and a newline, then frees doc.
 * Returns 0, or 1 after a message on stderr when doc is NULL (a failed
 * json_pack) or the write fails. */
int bench_json_print(json_t *doc);

/* Times whole epochs of ds through a loader made with lo: warmup untimed
 * epochs, then runs timed ones, each printed on stderr under name; the median
 * epoch in *epoch_ms. Every batch is read, so no work can be skipped. */
facs_status bench_loader_epochs(const char *name, const facs_dataset *ds, const facs_loader_opts *lo,
                                int runs, int warmup, double *epoch_ms);

/* A heap tensor of uniform values in [-1, 1) from *seed. */
facs_tensor *bench_random_tensor(int n, int c, int h, int w, unsigned *seed);
/* The same values on device (drawn on the CPU, then moved); NULL with last error on failure. */
facs_tensor *bench_random_tensor_on(facs_device device, int n, int c, int h, int w, unsigned *seed);

/* --device of the benchmarks that also run on a GPU: the tools' parser
 * (train/cli_options.h facs_cli_device). Makes d the process's device; 0, or
 * 1 after "prog: message" on stderr. Call it before any tensor is created. */
int bench_device_select(const char *prog, const facs_device_choice *d);

/* GPU timing. Kernels run asynchronously, so a timed sample on a GPU is the
 * wall time of `calls` back-to-back calls and one sync of ctx's backend
 * (a no-op on the CPU), divided by calls; the medians of such samples are
 * reported. bench_calls_per_sample picks calls from one call's time (a
 * warm-up call ending with a sync) so that a sample lasts about
 * BENCH_SAMPLE_MS, at least 1 and at most BENCH_MAX_CALLS: one call of a
 * short kernel is mostly launch and sync latency. */
#define BENCH_SAMPLE_MS 25.0
#define BENCH_MAX_CALLS 1000
int bench_calls_per_sample(double call_ms);
/* Waits for the work queued on device (its backend's sync). */
facs_status bench_sync(facs_device device);

/* A timed quantity: the median ms per call, and the calls per sample behind it. */
typedef struct {
    double ms;
    int calls;
} bench_timing;

/* o->warmup single calls of fn(user), each ended by a sync of device, then
 * o->runs samples of `iters` calls and one sync (iters 0: as many as the last
 * warm-up call says take BENCH_SAMPLE_MS); ms < 0 when a call or a sync
 * failed. On the CPU, iters 1 times one call per sample. */
bench_timing bench_time_calls(facs_status (*fn)(void *), void *user, facs_device device, int iters,
                              const bench_options *o);

#endif
