#include "bench_util.h"

#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

static const bench_option *find_option(const bench_option *own, const char *name)
{
    for (; own->name; own++)
        if (!strcmp(own->name, name))
            return own;
    return NULL;
}

int bench_take_options(int *argc, char **argv, const char *prog, const bench_option *own,
                       facs_status (*take)(void *user, const char *name, const char *value), void *user)
{
    int kept = 1;
    for (int i = 1; i < *argc; i++) {
        const bench_option *o = find_option(own, argv[i]);
        if (!o) {
            argv[kept++] = argv[i];
            continue;
        }
        if (o->takes_value && i + 1 >= *argc) {
            fprintf(stderr, "%s: %s needs a value\n", prog, o->name);
            return 2;
        }
        if (take(user, o->name, o->takes_value ? argv[++i] : NULL) != FACS_OK) {
            fprintf(stderr, "%s: %s\n", prog, facs_last_error());
            return 2;
        }
    }
    *argc = kept;
    argv[kept] = NULL;
    return -1;
}

facs_status bench_option_int(const char *name, const char *text, int lo, int hi, int *out)
{
    char *end;
    errno = 0;
    long v = strtol(text, &end, 10);
    if (!*text || *end || errno || v < lo || v > hi)
        return facs_fail(FACS_ERR_ARG, "%s wants an integer in [%d, %d], got '%s'", name, lo, hi, text);
    *out = (int)v;
    return FACS_OK;
}

facs_status bench_option_real(const char *name, const char *text, double lo, double hi, double *out)
{
    char *end;
    errno = 0;
    double v = strtod(text, &end);
    if (!*text || *end || errno || !isfinite(v) || v < lo || v > hi)
        return facs_fail(FACS_ERR_ARG, "%s wants a number in [%g, %g], got '%s'", name, lo, hi, text);
    *out = v;
    return FACS_OK;
}

double bench_now_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1e3 + t.tv_nsec * 1e-6;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

double bench_median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

json_t *bench_json_real(double v, int decimals)
{
    if (!isfinite(v))
        return json_null();
    double scale = pow(10, decimals);
    return json_real(round(v * scale) / scale);
}

int bench_json_print(json_t *doc)
{
    /* 15 significant digits print a value rounded to a few decimals exactly as
     * written (8.509, not 8.5090000000000003). */
    int rc = !doc || json_dumpf(doc, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(15)) != 0 ||
             fputc('\n', stdout) == EOF || fflush(stdout) != 0;
    if (rc)
        fprintf(stderr, "%s\n", doc ? "cannot write the JSON result" : "cannot build the JSON result");
    json_decref(doc);
    return rc;
}

facs_tensor *bench_random_tensor(int n, int c, int h, int w, unsigned *seed)
{
    facs_tensor *t = facs_tensor_create(FACS_DEVICE_CPU, FACS_F32, n, c, h, w);
    for (size_t i = 0; t && i < facs_tensor_numel(t); i++)
        facs_f32(t)[i] = (float)rand_r(seed) / RAND_MAX * 2.0f - 1.0f;
    return t;
}

facs_tensor *bench_random_tensor_on(facs_device device, int n, int c, int h, int w, unsigned *seed)
{
    facs_tensor *t = bench_random_tensor(n, c, h, w, seed);
    if (t && facs_tensor_move_to(t, device) != FACS_OK) {
        facs_tensor_free(t);
        return NULL;
    }
    return t;
}

int bench_device_select(const char *prog, const facs_device_choice *d)
{
    if (facs_cli_device_use(d, 1) == FACS_OK)
        return 0;
    fprintf(stderr, "%s: %s\n", prog, facs_last_error());
    return 1;
}

int bench_calls_per_sample(double call_ms)
{
    if (!(call_ms > 0))
        return BENCH_MAX_CALLS;
    double calls = BENCH_SAMPLE_MS / call_ms;
    return calls < 1 ? 1 : calls > BENCH_MAX_CALLS ? BENCH_MAX_CALLS : (int)calls;
}

facs_status bench_sync(facs_device device)
{
    const facs_backend *be = facs_backend_get(device);
    return be ? be->sync() : facs_last_status();
}

/* One sample: calls calls of fn, then a sync; ms per call, < 0 on failure. */
static double sample(facs_status (*fn)(void *), void *user, facs_device device, int calls)
{
    double t0 = bench_now_ms();
    for (int k = 0; k < calls; k++)
        if (fn(user) != FACS_OK)
            return -1.0;
    if (bench_sync(device) != FACS_OK)
        return -1.0;
    return (bench_now_ms() - t0) / calls;
}

bench_timing bench_time_calls(facs_status (*fn)(void *), void *user, facs_device device, int iters,
                              const bench_options *o)
{
    bench_timing r = {-1.0, 1};
    double *t = malloc((size_t)o->runs * sizeof *t), last = 0;
    if (!t)
        return r;
    for (int i = 0; i < o->warmup; i++)
        if ((last = sample(fn, user, device, 1)) < 0)
            goto done;
    r.calls = iters ? iters : o->warmup ? bench_calls_per_sample(last) : 1;
    for (int i = 0; i < o->runs; i++)
        if ((t[i] = sample(fn, user, device, r.calls)) < 0)
            goto done;
    r.ms = bench_median(t, o->runs);
done:
    free(t);
    return r;
}

static void usage(FILE *f, const char *prog, const char *about)
{
    fprintf(f, "usage: %s [--batch N] [--runs N] [--warmup N] [--threads N]\n%s\n"
               "  --batch N    batch size (default 8)\n"
               "  --runs N     timed runs per shape; the median is reported (default 10)\n"
               "  --warmup N   untimed runs first (default 3)\n"
               "  --threads N  OpenMP threads (default OMP_NUM_THREADS, else 2)\n",
            prog, about);
}

static int parse_int(const char *prog, const char *arg, const char *name, int min, int *out)
{
    char *end;
    long v = strtol(arg, &end, 10);
    if (!*arg || *end || v < min || v > 1 << 20) {
        fprintf(stderr, "%s: --%s wants an integer in [%d, %d], got '%s'\n", prog, name, min, 1 << 20, arg);
        return 0;
    }
    *out = (int)v;
    return 1;
}

int bench_parse(int argc, char **argv, const char *prog, const char *about, bench_options *o)
{
    const char *env = getenv("OMP_NUM_THREADS");
    *o = (bench_options){.batch = 8, .runs = 10, .warmup = 3, .threads = env && atoi(env) > 0 ? atoi(env) : 2};
    static const struct option longopts[] = {{"batch", required_argument, NULL, 'b'},
                                              {"runs", required_argument, NULL, 'r'},
                                              {"warmup", required_argument, NULL, 'w'},
                                              {"threads", required_argument, NULL, 't'},
                                              {"help", no_argument, NULL, 'h'},
                                              {"version", no_argument, NULL, 'V'},
                                              {NULL, 0, NULL, 0}};
    int c, ok = 1;
    while (ok && (c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        switch (c) {
        case 'b': ok = parse_int(prog, optarg, "batch", 1, &o->batch); break;
        case 'r': ok = parse_int(prog, optarg, "runs", 1, &o->runs); break;
        case 'w': ok = parse_int(prog, optarg, "warmup", 0, &o->warmup); break;
        case 't': ok = parse_int(prog, optarg, "threads", 1, &o->threads); break;
        case 'h': usage(stdout, prog, about); return 0;
        case 'V': printf("%s (facs) 0.1.0\n", prog); return 0;
        default: usage(stderr, prog, about); return 2;
        }
    }
    if (!ok)
        return 2;
    if (optind < argc) {
        fprintf(stderr, "%s: unexpected argument '%s'\n", prog, argv[optind]);
        usage(stderr, prog, about);
        return 2;
    }
    omp_set_num_threads(o->threads);
    return -1;
}

double bench_cpu_now_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
    return t.tv_sec * 1e3 + t.tv_nsec * 1e-6;
}

double bench_max_rss_mib(void)
{
    struct rusage u;
    getrusage(RUSAGE_SELF, &u);
    return u.ru_maxrss / 1024.0; /* KiB on Linux */
}

facs_status bench_loader_epochs(const char *name, const facs_dataset *ds, const facs_loader_opts *lo, int runs,
                                int warmup, double *epoch_ms)
{
    facs_loader *l;
    FACS_TRY(facs_loader_create(ds, lo, &l));
    double *t = malloc(sizeof(double) * (size_t)runs);
    facs_status s = t ? FACS_OK : facs_fail(FACS_ERR_MEMORY, "out of memory");
    for (int e = -warmup; s == FACS_OK && e < runs; e++) {
        double t0 = bench_now_ms();
        /* volatile: the batches are read (one float each), so no step can be skipped. */
        volatile float sink = 0.0f;
        const facs_batch *batch;
        while ((s = facs_loader_next(l, &batch)) == FACS_OK && batch)
            sink += batch->images[0];
        double ms = bench_now_ms() - t0;
        if (e >= 0)
            t[e] = ms;
        fprintf(stderr, "%s, %d workers: epoch %s%d  %.1f ms\n", name, lo->workers, e < 0 ? "(warm-up) " : "",
                e < 0 ? e + warmup + 1 : e + 1, ms);
    }
    if (s == FACS_OK)
        *epoch_ms = bench_median(t, runs);
    free(t);
    facs_loader_free(l);
    return s;
}
