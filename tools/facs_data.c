/* facs-data: checks dataset folders and writes synthetic datasets in the real
 * on-disk formats.
 *
 *   facs-data check DIR [--json]        recognise the dataset in DIR, validate every file,
 *                                       print counts and the class histogram per split
 *   facs-data synth KIND OUT [--n N] [--seed S] [--size WxH] [--classes K] [--force]
 *
 * Each dataset kind is one entry of the `kinds` table below (a probe, a checker
 * and a synthesiser), so supporting another dataset is one table entry (image
 * folders' is in data_imagefolder.c, through facs_data.h). Option
 * values are checked by train/cli_options.h; --json output is built with
 * jansson; every file synth writes goes through kernels/atomic_file.h (in the
 * datasets layer). No command both reads and writes a path, so there is no
 * output-is-an-input case to refuse. */
#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <sys/stat.h>

#include "cifar.h"
#include "cityscapes.h"
#include "cli_options.h"
#include "facs_data.h"

#define VERSION "facs-data 0.1.0"

json_t *json_text(const char *s)
{
    json_t *j = json_string(s);
    if (j)
        return j;
    char *copy = strdup(s);
    if (!copy)
        return NULL;
    for (char *p = copy; *p; p++)
        if ((unsigned char)*p >= 0x80)
            *p = '?';
    j = json_string(copy);
    free(copy);
    return j;
}

void json_set(json_t *obj, const char *key, json_t *value)
{
    json_t *k = json_text(key);
    json_object_set_new(obj, k ? json_string_value(k) : "?", value);
    json_decref(k);
}

/* Objects print_json put on stdout: check --json promises one, a report or a failure, never both. */
static int json_printed;

facs_status print_json(json_t *obj)
{
    json_printed += obj != NULL;
    int ok = obj && json_dumpf(obj, stdout, 0) == 0 && putchar('\n') != EOF && fflush(stdout) == 0;
    json_decref(obj);
    return ok ? FACS_OK : facs_fail(FACS_ERR_IO, "cannot write the JSON report to stdout");
}

static void count_labels(const uint8_t *labels, int count, int hist[256])
{
    memset(hist, 0, 256 * sizeof *hist); /* labels are bytes */
    for (int i = 0; i < count; i++)
        hist[labels[i]]++;
}

/* {"name": images, ...} in class order. */
static json_t *json_histogram(char **names, int classes, const uint8_t *labels, int count)
{
    int hist[256];
    count_labels(labels, count, hist);
    json_t *obj = json_object();
    for (int k = 0; obj && k < classes; k++)
        json_set(obj, names[k], json_integer(hist[k]));
    return obj;
}

static void print_histogram(const char *title, char **names, int classes, const uint8_t *labels, int count)
{
    int hist[256], missing = 0;
    count_labels(labels, count, hist);
    printf("  %s:\n", title);
    for (int k = 0; k < classes; k++) {
        printf("    %-32s %d\n", names[k], hist[k]);
        missing += hist[k] == 0;
    }
    if (missing)
        printf("  note: %d of %d classes have no image\n", missing, classes);
}

static facs_status cifar_probe(const char *dir, int *found)
{
    int kind;
    facs_status s = facs_cifar_detect(dir, &kind);
    *found = kind != 0;
    return s;
}

static facs_status cifar_check(const char *dir, const options *o)
{
    static const char *const split_names[2] = {"train", "test"};
    facs_cifar ds[2] = {{0}};
    facs_status s = FACS_OK;
    for (int i = 0; i < 2 && s == FACS_OK; i++) {
        fprintf(stderr, "facs-data: reading the %s split of %s\n", split_names[i], dir);
        s = facs_cifar_load(dir, FACS_CIFAR_AUTO, (facs_cifar_split)i, &ds[i]);
    }
    if (s == FACS_OK && o->json) {
        json_t *splits = json_object();
        for (int i = 0; splits && i < 2; i++) {
            json_t *split = json_object();
            json_set(split, "count", json_integer(ds[i].count));
            json_set(split, "classes",
                     json_histogram(ds[i].class_names, ds[i].num_classes, ds[i].labels, ds[i].count));
            if (ds[i].coarse_labels)
                json_set(split, "coarse",
                         json_histogram(ds[i].coarse_names, ds[i].num_coarse, ds[i].coarse_labels, ds[i].count));
            json_set(splits, split_names[i], split);
        }
        char kind[16];
        snprintf(kind, sizeof kind, "cifar%d", ds[0].kind);
        s = print_json(json_pack("{s:o, s:s, s:b, s:o}", "dir", json_text(dir), "kind", kind, "ok", 1, "splits",
                                 splits));
    } else if (s == FACS_OK) {
        printf("%s: CIFAR-%d, all files valid\n", dir, ds[0].kind);
        for (int i = 0; i < 2; i++) {
            printf("%s: %d image%s\n", split_names[i], ds[i].count, ds[i].count == 1 ? "" : "s");
            print_histogram("classes", ds[i].class_names, ds[i].num_classes, ds[i].labels, ds[i].count);
            if (ds[i].coarse_labels)
                print_histogram("coarse classes", ds[i].coarse_names, ds[i].num_coarse, ds[i].coarse_labels,
                                ds[i].count);
        }
    }
    facs_cifar_free(&ds[0]);
    facs_cifar_free(&ds[1]);
    return s;
}

static facs_status cifar_synth(const char *dir, int kind, const options *o)
{
    int n = o->n ? o->n : 5000, n_test = n / 5;
    if (n_test < 1) /* image folders and Cityscapes round their val split up to 1; CIFAR's test split is n / 5 */
        return facs_fail(FACS_ERR_ARG, "--n %d: the test split (N/5 images) would be empty; give --n 5 or more", n);
    fprintf(stderr, "facs-data: writing synthetic CIFAR-%d to %s: %d train and %d test images, seed %llu\n", kind,
            dir, n, n_test, (unsigned long long)o->seed);
    facs_status s = facs_cifar_synth(dir, kind, n, n_test, o->seed);
    if (s == FACS_OK)
        fprintf(stderr, "facs-data: done\n");
    return s;
}

static facs_status cifar10_synth(const char *dir, const options *o) { return cifar_synth(dir, FACS_CIFAR_10, o); }
static facs_status cifar100_synth(const char *dir, const options *o) { return cifar_synth(dir, FACS_CIFAR_100, o); }

static const char *cityscapes_looked_for(void) { return "Cityscapes: leftImg8bit/{train,val,test} and gtFine/"; }

static facs_status cityscapes_probe(const char *dir, int *found)
{
    char path[4096];
    struct stat st;
    snprintf(path, sizeof path, "%s/leftImg8bit", dir);
    *found = stat(path, &st) == 0 && S_ISDIR(st.st_mode);
    return FACS_OK;
}

static facs_status cityscapes_check(const char *dir, const options *o)
{
    fprintf(stderr, "facs-data: decoding every image and label of %s\n", dir);
    facs_cityscapes_report r;
    FACS_TRY(facs_cityscapes_check(dir, &r));
    if (o->json) {
        json_t *splits = json_object(), *pixels = json_object();
        for (int i = 0; splits && i < FACS_CITYSCAPES_SPLITS; i++)
            if (r.present[i])
                json_set(splits, facs_cityscapes_split_names[i], json_pack("{s:i}", "count", r.images[i]));
        for (int k = 0; pixels && k < FACS_CITYSCAPES_CLASSES; k++)
            json_set(pixels, facs_cityscapes_class_names[k], json_integer((json_int_t)r.pixels[k]));
        return print_json(json_pack("{s:o, s:s, s:b, s:o, s:o, s:I, s:i}", "dir", json_text(dir), "kind",
                                    "cityscapes", "ok", 1, "splits", splits, "pixels", pixels, "ignored_pixels",
                                    (json_int_t)r.ignored, "from_label_ids", r.from_label_ids));
    }
    printf("%s: Cityscapes, all files valid\n", dir);
    for (int i = 0; i < FACS_CITYSCAPES_SPLITS; i++)
        if (r.present[i])
            printf("%s: %d image%s\n", facs_cityscapes_split_names[i], r.images[i], r.images[i] == 1 ? "" : "s");
    if (r.from_label_ids)
        printf("  %d labels mapped from labelIds (no labelTrainIds file)\n", r.from_label_ids);
    printf("  pixels per class, all splits:\n");
    for (int k = 0; k < FACS_CITYSCAPES_CLASSES; k++)
        printf("    %-32s %llu\n", facs_cityscapes_class_names[k], (unsigned long long)r.pixels[k]);
    printf("    %-32s %llu\n", "(ignored, 255)", (unsigned long long)r.ignored);
    return FACS_OK;
}

static facs_status cityscapes_synth(const char *dir, const options *o)
{
    int n = o->n ? o->n : 20, n_val = n / 5 > 0 ? n / 5 : 1;
    int width = o->width ? o->width : 512, height = o->height ? o->height : 256;
    fprintf(stderr, "facs-data: writing synthetic Cityscapes to %s: %d train and %d val frames of %dx%d, seed %llu\n",
            dir, n, n_val, width, height, (unsigned long long)o->seed);
    facs_status s = facs_cityscapes_synth(dir, n, n_val, width, height, o->seed);
    if (s == FACS_OK)
        fprintf(stderr, "facs-data: done\n");
    return s;
}

/* CIFAR-10 and CIFAR-100 share one probe and checker (the reader tells them
 * apart); each has its own synth name. An entry with a NULL probe only synthesises. */
static const dataset_kind kinds[] = {
    {"cifar10", facs_cifar_expected_files, cifar_probe, cifar_check, cifar10_synth, "32x32 images",
     "CIFAR-10 has 10 classes"},
    {"cifar100", NULL, NULL, NULL, cifar100_synth, "32x32 images", "CIFAR-100 has 100 classes"},
    {"cityscapes", cityscapes_looked_for, cityscapes_probe, cityscapes_check, cityscapes_synth, NULL,
     "Cityscapes has 19 classes"},
    {"imagefolder", imagefolder_looked_for, imagefolder_probe, imagefolder_check, imagefolder_synth, NULL, NULL},
};
#define NKINDS ((int)(sizeof kinds / sizeof kinds[0]))

/* The failure as the one JSON object, unless the checker printed its report (which says it) already. */
static void fail_json(const char *dir, const char *message)
{
    if (!json_printed)
        print_json(json_pack("{s:o, s:b, s:o}", "dir", json_text(dir), "ok", 0, "error", json_text(message)));
}

static int cmd_check(const char *dir, const options *o)
{
    for (int i = 0; i < NKINDS; i++) {
        if (!kinds[i].probe)
            continue;
        int found = 0;
        facs_status s = kinds[i].probe(dir, &found);
        if (s == FACS_OK && !found)
            continue;
        if (s == FACS_OK)
            s = kinds[i].check(dir, o);
        if (s == FACS_OK)
            return 0;
        if (o->json)
            fail_json(dir, facs_last_error());
        fprintf(stderr, "facs-data: %s\n", facs_last_error());
        return 1;
    }
    char message[2048];
    int len = snprintf(message, sizeof message, "%s: not a known dataset folder; looked for", dir);
    for (int i = 0; i < NKINDS && len < (int)sizeof message; i++)
        if (kinds[i].probe)
            len += snprintf(message + len, sizeof message - (size_t)len, " [%s]", kinds[i].looked_for());
    if (o->json)
        fail_json(dir, message);
    fprintf(stderr, "facs-data: %s\n", message);
    return 1;
}

/* synth writes over files of the names it writes and leaves the others, so a
 * folder that already holds something (an earlier dataset, a real one) is
 * refused unless --force. A missing OUT is fine: synth creates it. */
static facs_status check_destination(const char *dir, int force)
{
    DIR *d = opendir(dir);
    if (!d) {
        if (errno == ENOENT)
            return FACS_OK;
        if (errno == ENOTDIR)
            return facs_fail(FACS_ERR_IO, "%s exists and is not a folder", dir);
        return facs_fail(FACS_ERR_IO, "%s: cannot read the folder: %s", dir, strerror(errno));
    }
    char first[256] = "";
    int entries = 0;
    for (struct dirent *e; (e = readdir(d));)
        if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0 && entries++ == 0)
            snprintf(first, sizeof first, "%s", e->d_name);
    closedir(d);
    if (entries == 0)
        return FACS_OK;
    if (!force)
        return facs_fail(FACS_ERR_ARG,
                         "%s is not empty (%d entr%s, e.g. %s): synth would overwrite what is there; choose a new or "
                         "empty folder, or pass --force to write into it anyway",
                         dir, entries, entries == 1 ? "y" : "ies", first);
    fprintf(stderr, "facs-data: --force: writing into %s, which is not empty; files synth does not write stay\n", dir);
    return FACS_OK;
}

/* An option the kind has no use for is refused rather than ignored. */
static facs_status check_synth_options(const dataset_kind *kind, const options *o)
{
    if (o->width && kind->fixed_size)
        return facs_fail(FACS_ERR_ARG, "synth %s takes no --size: it writes %s", kind->name, kind->fixed_size);
    if (o->classes && kind->fixed_classes)
        return facs_fail(FACS_ERR_ARG, "synth %s takes no --classes: %s", kind->name, kind->fixed_classes);
    return FACS_OK;
}

static int cmd_synth(const char *name, const char *dir, const options *o)
{
    for (int i = 0; i < NKINDS; i++) {
        if (strcmp(kinds[i].name, name) != 0)
            continue;
        if (check_synth_options(&kinds[i], o) != FACS_OK) {
            fprintf(stderr, "facs-data: %s\n", facs_last_error());
            return 2;
        }
        if (check_destination(dir, o->force) == FACS_OK && kinds[i].synth(dir, o) == FACS_OK)
            return 0;
        fprintf(stderr, "facs-data: %s\n", facs_last_error());
        return 1;
    }
    fprintf(stderr, "facs-data: unknown dataset kind '%s'; one of:", name);
    for (int i = 0; i < NKINDS; i++)
        fprintf(stderr, " %s", kinds[i].name);
    fprintf(stderr, "\n");
    return 2;
}

static void usage(FILE *out)
{
    fprintf(out, "usage: facs-data check DIR [--json]\n"
                 "       facs-data synth KIND OUT [--n N] [--seed S] [--size WxH] [--classes K] [--force]\n"
                 "check: recognises the dataset in DIR (");
    for (int i = 0; i < NKINDS; i++)
        fprintf(out, "%s%s", i ? ", " : "", kinds[i].name);
    fprintf(out, "), validates every file and prints the image count and class\n"
                 "       histogram of each split; exits non-zero naming the first bad file.\n"
                 "synth: writes a synthetic dataset of KIND in its real on-disk format to OUT (created when\n"
                 "       missing; a non-empty OUT is refused unless --force). Each file is written whole or\n"
                 "       not at all.\n"
                 "  --json       check: print one JSON object (counts and histograms) on stdout\n"
                 "  --n N        synth: training images (CIFAR default 5000, Cityscapes 20, image folders 50\n"
                 "               per class); test/val are N/5 (at least 1; CIFAR: N at least 5)\n"
                 "  --size WxH   synth: image size, WxH or S for SxS (Cityscapes default 512x256, the real\n"
                 "               one is 2048x1024; image folders 64x64; CIFAR takes none: 32x32)\n"
                 "  --classes K  synth imagefolder: classes (default 10; CIFAR-10's names up to 10)\n"
                 "  --seed S     synth: seed of the images and their order (default 1)\n"
                 "  --force      synth: write into a non-empty OUT (files of the same names are replaced)\n"
                 "  --help, --version\n");
}

/* --size WxH or S (SxS): whole numbers in [32, 4096]. */
static facs_status parse_size(const char *text, int *width, int *height)
{
    const char *x = strchr(text, 'x');
    char side[32];
    if (!x && facs_cli_int("--size", text, 32, 4096, width) == FACS_OK) {
        *height = *width;
        return FACS_OK;
    }
    if (x && (size_t)(x - text) < sizeof side) {
        snprintf(side, sizeof side, "%.*s", (int)(x - text), text);
        if (facs_cli_int("--size", side, 32, 4096, width) == FACS_OK &&
            facs_cli_int("--size", x + 1, 32, 4096, height) == FACS_OK)
            return FACS_OK;
    }
    return facs_fail(FACS_ERR_ARG, "--size needs WxH or S, whole numbers in [32, 4096], not '%s'", text);
}

int main(int argc, char **argv)
{
    facs_cli_program_name(argv);
    options o = {.json = 0, .force = 0, .n = 0, .width = 0, .height = 0, .classes = 0, .seed = 1};
    static const struct option longopts[] = {{"json", no_argument, 0, 'j'},    {"n", required_argument, 0, 'n'},
                                             {"size", required_argument, 0, 'S'},
                                             {"classes", required_argument, 0, 'k'},
                                             {"seed", required_argument, 0, 's'}, {"force", no_argument, 0, 'f'},
                                             {"help", no_argument, 0, 'h'},      {"version", no_argument, 0, 'V'},
                                             {0, 0, 0, 0}};
    int c;
    while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        facs_status s = FACS_OK;
        int64_t seed;
        switch (c) {
        case 'j': o.json = 1; break;
        case 'f': o.force = 1; break;
        case 'n': s = facs_cli_int("--n", optarg, 1, 10000000, &o.n); break;
        case 's':
            if ((s = facs_cli_int64("--seed", optarg, 0, INT64_MAX, &seed)) == FACS_OK)
                o.seed = (uint64_t)seed;
            break;
        case 'S': s = parse_size(optarg, &o.width, &o.height); break;
        case 'k': s = facs_cli_int("--classes", optarg, 1, 100000, &o.classes); break;
        case 'h': usage(stdout); return 0;
        case 'V': puts(VERSION); return 0;
        default: usage(stderr); return 2;
        }
        if (s != FACS_OK) {
            fprintf(stderr, "facs-data: %s\n", facs_last_error());
            return 2;
        }
    }
    int rest = argc - optind;
    char **args = argv + optind;
    if (rest == 2 && strcmp(args[0], "check") == 0)
        return cmd_check(args[1], &o);
    if (rest == 3 && strcmp(args[0], "synth") == 0)
        return cmd_synth(args[1], args[2], &o);
    usage(stderr);
    return 2;
}
