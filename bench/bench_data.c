/* bench-data: images per second of the two training input pipelines, end to
 * end through the batch loader (datasets/loader.h):
 *   cifar10-train      synthetic CIFAR-10 written with facs_cifar_synth and read
 *                      back with facs_cifar_load (in memory), pad-4 random crop,
 *                      flip, normalize (facs_cls_aug_cifar_train), batch 128;
 *   cityscapes-train   synthetic 2048x1024 Cityscapes frames written with
 *                      facs_cityscapes_synth, decoded from PNG for every sample,
 *                      hszhao/semseg's train augmentation to 713x713 crops
 *                      (facs_seg_aug_train), batch 8;
 * each with 0 loader workers (everything in the calling thread, the baseline),
 * 1 and 2. A run is one whole epoch; images_per_s is the images of an epoch over
 * the median epoch time of --runs epochs, after --warmup untimed ones (the first
 * epoch also starts the workers and touches every page). One JSON document goes
 * to stdout:
 *   {"runs": 3, "cifar_images": 5120, "frames": 8, "pipelines": [
 *     {"name": "cifar10-train", "workers": 0, "batch": 128, "images": 5120,
 *      "epoch_ms": ..., "images_per_s": ...}, ...]}
 * Progress goes to stderr. The synthetic data lives in a temporary folder
 * (under TMPDIR) that is removed at the end, on failure and on Ctrl-C too. */
#define _XOPEN_SOURCE 700
#include <errno.h>
#include <ftw.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "augment.h"
#include "bench_util.h"
#include "cifar.h"
#include "cityscapes.h"
#include "loader.h"

#define CITY_SIDE_W 2048
#define CITY_SIDE_H 1024
#define CITY_CROP 713

typedef struct {
    int runs, warmup, frames, cifar_images;
} options;

static const int worker_counts[] = {0, 1, 2};
#define NWORKERS ((int)(sizeof worker_counts / sizeof worker_counts[0]))

/* ---- timing ---- */

/* bench_loader_epochs with a message on failure; 0 on success. */
static int time_epochs(const char *name, const facs_dataset *ds, const facs_loader_opts *lo, const options *o,
                       double *epoch_ms)
{
    if (bench_loader_epochs(name, ds, lo, o->runs, o->warmup, epoch_ms) == FACS_OK)
        return 0;
    fprintf(stderr, "bench-data: %s: %s\n", name, facs_last_error());
    return 1;
}

static json_t *result(const char *name, int workers, int batch, int images, double epoch_ms)
{
    return json_pack("{s:s, s:i, s:i, s:i, s:o, s:o}", "name", name, "workers", workers, "batch", batch, "images",
                     images, "epoch_ms", bench_json_real(epoch_ms, 1), "images_per_s",
                     bench_json_real(images / (epoch_ms * 1e-3), 1));
}

/* ---- the pipelines ---- */

static int bench_cifar(const char *dir, const options *o, double *epoch_ms)
{
    fprintf(stderr, "writing %d synthetic CIFAR-10 training images\n", o->cifar_images);
    facs_cifar ds = {0};
    if (facs_cifar_synth(dir, FACS_CIFAR_10, o->cifar_images, 1, 1) != FACS_OK ||
        facs_cifar_load(dir, FACS_CIFAR_10, FACS_CIFAR_TRAIN, &ds) != FACS_OK) {
        fprintf(stderr, "bench-data: CIFAR-10: %s\n", facs_last_error());
        return 1;
    }
    facs_dataset d;
    facs_cifar_dataset(&ds, &d);
    facs_cls_aug aug = facs_cls_aug_cifar_train();
    facs_loader_opts lo = facs_loader_defaults();
    lo.batch_size = 128;
    lo.shuffle = 1;
    lo.seed = 42;
    lo.height = lo.width = FACS_CIFAR_SIDE;
    lo.channels = 3;
    lo.transform = facs_cls_transform;
    lo.transform_opts = &aug;
    int rc = 0;
    for (int w = 0; rc == 0 && w < NWORKERS; w++) {
        lo.workers = worker_counts[w];
        rc = time_epochs("cifar10-train", &d, &lo, o, &epoch_ms[w]);
    }
    facs_cifar_free(&ds);
    return rc;
}

static int bench_cityscapes(const char *root, const options *o, double *epoch_ms)
{
    fprintf(stderr, "writing %d synthetic %dx%d Cityscapes frames\n", o->frames, CITY_SIDE_W, CITY_SIDE_H);
    facs_cityscapes_pairs index = {0};
    if (facs_cityscapes_synth(root, o->frames, 0, CITY_SIDE_W, CITY_SIDE_H, 1) != FACS_OK ||
        facs_cityscapes_index(root, "train", &index) != FACS_OK) {
        fprintf(stderr, "bench-data: Cityscapes: %s\n", facs_last_error());
        return 1;
    }
    facs_dataset d;
    facs_cityscapes_dataset(&index, &d);
    facs_seg_aug aug = facs_seg_aug_train(CITY_CROP, CITY_CROP);
    facs_loader_opts lo = facs_loader_defaults();
    lo.batch_size = 8;
    lo.shuffle = 1;
    lo.seed = 42;
    lo.height = lo.width = CITY_CROP;
    lo.channels = 3;
    lo.dense_labels = 1;
    lo.transform = facs_seg_transform;
    lo.transform_opts = &aug;
    int rc = 0;
    for (int w = 0; rc == 0 && w < NWORKERS; w++) {
        lo.workers = worker_counts[w];
        rc = time_epochs("cityscapes-train", &d, &lo, o, &epoch_ms[w]);
    }
    facs_cityscapes_index_free(&index);
    return rc;
}

/* ---- options, temporary folder, main ---- */

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st, (void)flag, (void)ftw;
    return remove(path);
}

static void usage(FILE *f)
{
    fprintf(f, "usage: bench-data [--runs N] [--warmup N] [--frames N] [--cifar-images N]\n"
               "Times the CIFAR-10 and Cityscapes training input pipelines (load, augment, batch) with\n"
               "0, 1 and 2 loader workers on synthetic data; prints JSON on stdout.\n"
               "  --runs N          timed epochs per setting; the median is reported (default 3)\n"
               "  --warmup N        untimed epochs first (default 1)\n"
               "  --frames N        Cityscapes 2048x1024 frames to synthesise (default 8: one batch)\n"
               "  --cifar-images N  CIFAR-10 training images to synthesise, >= 5 (default 5120: 40 batches)\n");
}

static int parse_int(const char *arg, const char *name, int min, int *out)
{
    char *end;
    long v = strtol(arg, &end, 10);
    if (!*arg || *end || v < min || v > 1 << 20) {
        fprintf(stderr, "bench-data: --%s wants an integer in [%d, %d], got '%s'\n", name, min, 1 << 20, arg);
        return 0;
    }
    *out = (int)v;
    return 1;
}

/* -1 to go on, else the exit code (0 after --help, 2 on a bad option). */
static int parse(int argc, char **argv, options *o)
{
    *o = (options){.runs = 3, .warmup = 1, .frames = 8, .cifar_images = 5120};
    static const struct option longopts[] = {{"runs", required_argument, NULL, 'r'},
                                              {"warmup", required_argument, NULL, 'w'},
                                              {"frames", required_argument, NULL, 'f'},
                                              {"cifar-images", required_argument, NULL, 'c'},
                                              {"help", no_argument, NULL, 'h'},
                                              {NULL, 0, NULL, 0}};
    int c, ok = 1;
    while (ok && (c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        switch (c) {
        case 'r': ok = parse_int(optarg, "runs", 1, &o->runs); break;
        case 'w': ok = parse_int(optarg, "warmup", 0, &o->warmup); break;
        case 'f': ok = parse_int(optarg, "frames", 1, &o->frames); break;
        case 'c': ok = parse_int(optarg, "cifar-images", 5, &o->cifar_images); break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (!ok)
        return 2;
    if (optind < argc) {
        fprintf(stderr, "bench-data: unexpected argument '%s'\n", argv[optind]);
        usage(stderr);
        return 2;
    }
    return -1;
}

/* Both pipelines on the data under root; the JSON document to stdout. */
static int run(const char *root, const options *o)
{
    char cifar_dir[4200], city_dir[4200];
    snprintf(cifar_dir, sizeof cifar_dir, "%s/cifar10", root);
    snprintf(city_dir, sizeof city_dir, "%s/cityscapes", root);
    double cifar_ms[NWORKERS], city_ms[NWORKERS];
    int rc = bench_cifar(cifar_dir, o, cifar_ms);
    if (rc == 0)
        rc = bench_cityscapes(city_dir, o, city_ms);
    if (rc != 0)
        return rc;
    json_t *pipelines = json_array();
    for (int w = 0; w < NWORKERS; w++)
        json_array_append_new(pipelines, result("cifar10-train", worker_counts[w], 128, o->cifar_images, cifar_ms[w]));
    for (int w = 0; w < NWORKERS; w++)
        json_array_append_new(pipelines, result("cityscapes-train", worker_counts[w], 8, o->frames, city_ms[w]));
    return bench_json_print(json_pack("{s:i, s:i, s:i, s:o}", "runs", o->runs, "cifar_images", o->cifar_images,
                                      "frames", o->frames, "pipelines", pipelines));
}

static pid_t worker = 0;
static void pass_on(int sig)
{
    if (worker > 0)
        kill(worker, sig);
}

/* The benchmark runs in a child process while this one waits and then
 * removes the data, however the child ended: Ctrl-C reaches both (the child
 * dies of it), and a SIGINT or SIGTERM sent to this process alone is passed
 * on. Forked first, before any thread exists. */
int main(int argc, char **argv)
{
    options o;
    int rc = parse(argc, argv, &o);
    if (rc >= 0)
        return rc;
    const char *tmp = getenv("TMPDIR");
    char root[4096];
    snprintf(root, sizeof root, "%s/facs-bench-data.XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(root)) {
        perror("bench-data: cannot create a temporary folder");
        return 1;
    }
    struct sigaction sa = {.sa_handler = pass_on};
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    if ((worker = fork()) == 0) {
        signal(SIGINT, SIG_DFL);
        signal(SIGTERM, SIG_DFL);
        exit(run(root, &o));
    }
    int status = 0;
    if (worker < 0)
        perror("bench-data: fork");
    while (worker > 0 && waitpid(worker, &status, 0) < 0 && errno == EINTR)
        ;
    if (nftw(root, rm_entry, 16, FTW_DEPTH | FTW_PHYS) != 0)
        fprintf(stderr, "bench-data: could not remove %s completely\n", root);
    if (worker < 0)
        return 1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}
