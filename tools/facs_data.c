/* facs-data: checks dataset folders and writes synthetic datasets in the real
 * on-disk formats.
 *
 *   facs-data check DIR [--json]        recognise the dataset in DIR, validate every file,
 *                                       print counts and the class histogram per split
 *   facs-data synth KIND OUT [--n N] [--seed S]
 *
 * Each dataset kind is one entry of the `kinds` table below (a probe, a checker
 * and a synthesiser), so supporting another dataset is one table entry. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sys/stat.h>

#include "cifar.h"
#include "cityscapes.h"

#define VERSION "facs-data 0.1.0"

typedef struct {
    int json;
    int n;             /* synth: training images; 0 = the kind's default */
    int width, height; /* synth cityscapes: frame size */
    uint64_t seed;
} options;

typedef struct {
    const char *name;        /* as typed after `synth`, and shown in messages */
    const char *(*looked_for)(void); /* what probe looks for, for "not a known dataset" messages */
    /* *found = 1 when dir looks like this dataset, 0 when not; a status when dir cannot be probed. */
    facs_status (*probe)(const char *dir, int *found);
    facs_status (*check)(const char *dir, const options *o);
    facs_status (*synth)(const char *dir, const options *o);
} dataset_kind;

/* Writes s as a JSON string literal. */
static void json_string(const char *s)
{
    putchar('"');
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\')
            printf("\\%c", c);
        else if (c < 0x20)
            printf("\\u%04x", c);
        else
            putchar(c);
    }
    putchar('"');
}

static void print_histogram(const char *title, char **names, int classes, const uint8_t *labels, int count, int json)
{
    int hist[256] = {0}; /* labels are bytes */
    for (int i = 0; i < count; i++)
        hist[labels[i]]++;
    if (json) {
        printf("\"%s\": {", title);
        for (int k = 0; k < classes; k++) {
            printf("%s", k ? ", " : "");
            json_string(names[k]);
            printf(": %d", hist[k]);
        }
        printf("}");
    } else {
        int missing = 0;
        printf("  %s:\n", title);
        for (int k = 0; k < classes; k++) {
            printf("    %-32s %d\n", names[k], hist[k]);
            missing += hist[k] == 0;
        }
        if (missing)
            printf("  note: %d of %d classes have no image\n", missing, classes);
    }
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
    if (s == FACS_OK) {
        if (o->json) {
            printf("{\"dir\": ");
            json_string(dir);
            printf(", \"kind\": \"cifar%d\", \"ok\": true, \"splits\": {", ds[0].kind);
            for (int i = 0; i < 2; i++) {
                printf("%s\"%s\": {\"count\": %d, ", i ? ", " : "", split_names[i], ds[i].count);
                print_histogram("classes", ds[i].class_names, ds[i].num_classes, ds[i].labels, ds[i].count, 1);
                if (ds[i].coarse_labels) {
                    printf(", ");
                    print_histogram("coarse", ds[i].coarse_names, ds[i].num_coarse, ds[i].coarse_labels, ds[i].count,
                                    1);
                }
                printf("}");
            }
            printf("}}\n");
        } else {
            printf("%s: CIFAR-%d, all files valid\n", dir, ds[0].kind);
            for (int i = 0; i < 2; i++) {
                printf("%s: %d images\n", split_names[i], ds[i].count);
                print_histogram("classes", ds[i].class_names, ds[i].num_classes, ds[i].labels, ds[i].count, 0);
                if (ds[i].coarse_labels)
                    print_histogram("coarse classes", ds[i].coarse_names, ds[i].num_coarse, ds[i].coarse_labels,
                                    ds[i].count, 0);
            }
        }
    }
    facs_cifar_free(&ds[0]);
    facs_cifar_free(&ds[1]);
    return s;
}

static facs_status cifar_synth(const char *dir, int kind, const options *o)
{
    int n = o->n ? o->n : 5000, n_test = n / 5;
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
        printf("{\"dir\": ");
        json_string(dir);
        printf(", \"kind\": \"cityscapes\", \"ok\": true, \"splits\": {");
        for (int i = 0, first = 1; i < FACS_CITYSCAPES_SPLITS; i++)
            if (r.present[i]) {
                printf("%s\"%s\": {\"count\": %d}", first ? "" : ", ", facs_cityscapes_split_names[i], r.images[i]);
                first = 0;
            }
        printf("}, \"pixels\": {");
        for (int k = 0; k < FACS_CITYSCAPES_CLASSES; k++) {
            printf("%s", k ? ", " : "");
            json_string(facs_cityscapes_class_names[k]);
            printf(": %llu", (unsigned long long)r.pixels[k]);
        }
        printf("}, \"ignored_pixels\": %llu, \"from_label_ids\": %d}\n", (unsigned long long)r.ignored,
               r.from_label_ids);
        return FACS_OK;
    }
    printf("%s: Cityscapes, all files valid\n", dir);
    for (int i = 0; i < FACS_CITYSCAPES_SPLITS; i++)
        if (r.present[i])
            printf("%s: %d images\n", facs_cityscapes_split_names[i], r.images[i]);
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
    fprintf(stderr, "facs-data: writing synthetic Cityscapes to %s: %d train and %d val frames of %dx%d, seed %llu\n",
            dir, n, n_val, o->width, o->height, (unsigned long long)o->seed);
    facs_status s = facs_cityscapes_synth(dir, n, n_val, o->width, o->height, o->seed);
    if (s == FACS_OK)
        fprintf(stderr, "facs-data: done\n");
    return s;
}

/* CIFAR-10 and CIFAR-100 share one probe and checker (the reader tells them
 * apart); each has its own synth name. An entry with a NULL probe only synthesises. */
static const dataset_kind kinds[] = {
    {"cifar10", facs_cifar_expected_files, cifar_probe, cifar_check, cifar10_synth},
    {"cifar100", NULL, NULL, NULL, cifar100_synth},
    {"cityscapes", cityscapes_looked_for, cityscapes_probe, cityscapes_check, cityscapes_synth},
};
#define NKINDS ((int)(sizeof kinds / sizeof kinds[0]))

static void fail_json(const char *dir, const char *message)
{
    printf("{\"dir\": ");
    json_string(dir);
    printf(", \"ok\": false, \"error\": ");
    json_string(message);
    printf("}\n");
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

static int cmd_synth(const char *name, const char *dir, const options *o)
{
    for (int i = 0; i < NKINDS; i++) {
        if (strcmp(kinds[i].name, name) != 0)
            continue;
        if (kinds[i].synth(dir, o) == FACS_OK)
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
                 "       facs-data synth KIND OUT [--n N] [--seed S]\n"
                 "check: recognises the dataset in DIR (");
    for (int i = 0; i < NKINDS; i++)
        fprintf(out, "%s%s", i ? ", " : "", kinds[i].name);
    fprintf(out, "), validates every file and prints the image count and class\n"
                 "       histogram of each split; exits non-zero naming the first bad file.\n"
                 "synth: writes a synthetic dataset of KIND in its real on-disk format to OUT.\n"
                 "  --json       check: print one JSON object (counts and histograms) on stdout\n"
                 "  --n N        synth: training images (CIFAR default 5000, Cityscapes 20); test/val are N/5\n"
                 "  --size WxH   synth cityscapes: frame size (default 512x256; the real one is 2048x1024)\n"
                 "  --seed S     synth: seed of the images and their order (default 1)\n"
                 "  --help, --version\n");
}

static int parse_positive(const char *arg, const char *what, long max, long *out)
{
    char *end;
    long v = strtol(arg, &end, 10);
    if (*arg == '\0' || *end != '\0' || v < 1 || v > max) {
        fprintf(stderr, "facs-data: %s must be an integer in [1, %ld], not '%s'\n", what, max, arg);
        return 0;
    }
    *out = v;
    return 1;
}

int main(int argc, char **argv)
{
    options o = {.json = 0, .n = 0, .width = 512, .height = 256, .seed = 1};
    static const struct option longopts[] = {{"json", no_argument, 0, 'j'},    {"n", required_argument, 0, 'n'},
                                             {"size", required_argument, 0, 'S'},
                                             {"seed", required_argument, 0, 's'}, {"help", no_argument, 0, 'h'},
                                             {"version", no_argument, 0, 'V'},  {0, 0, 0, 0}};
    int c;
    long v;
    while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        switch (c) {
        case 'j': o.json = 1; break;
        case 'n':
            if (!parse_positive(optarg, "--n", 10000000, &v))
                return 2;
            o.n = (int)v;
            break;
        case 's': {
            char *end;
            o.seed = strtoull(optarg, &end, 10);
            if (*optarg == '\0' || *end != '\0') {
                fprintf(stderr, "facs-data: --seed must be a non-negative integer, not '%s'\n", optarg);
                return 2;
            }
            break;
        }
        case 'S':
            if (sscanf(optarg, "%dx%d", &o.width, &o.height) != 2 || o.width < 32 || o.height < 32 ||
                o.width > 4096 || o.height > 4096) {
                fprintf(stderr, "facs-data: --size must be WxH with sides in [32, 4096], not '%s'\n", optarg);
                return 2;
            }
            break;
        case 'h': usage(stdout); return 0;
        case 'V': puts(VERSION); return 0;
        default: usage(stderr); return 2;
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
