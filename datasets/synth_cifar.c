/* The real CIFAR class names and CIFAR-100's fine -> coarse mapping, and
 * synthetic datasets written in the real on-disk format (see cifar.h). */
#include "cifar.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "atomic_file.h"
#include "synth_draw.h"

#define SIDE FACS_CIFAR_SIDE

static const char *const c10_names[10] = {"airplane", "automobile", "bird",  "cat",  "deer",
                                          "dog",      "frog",       "horse", "ship", "truck"};

/* CIFAR-100's fine classes in label order (alphabetical, as in fine_label_names.txt). */
static const char *const c100_fine[100] = {
    "apple",      "aquarium_fish", "baby",         "bear",      "beaver",      "bed",         "bee",
    "beetle",     "bicycle",       "bottle",       "bowl",      "boy",         "bridge",      "bus",
    "butterfly",  "camel",         "can",          "castle",    "caterpillar", "cattle",      "chair",
    "chimpanzee", "clock",         "cloud",        "cockroach", "couch",       "crab",        "crocodile",
    "cup",        "dinosaur",      "dolphin",      "elephant",  "flatfish",    "forest",      "fox",
    "girl",       "hamster",       "house",        "kangaroo",  "keyboard",    "lamp",        "lawn_mower",
    "leopard",    "lion",          "lizard",       "lobster",   "man",         "maple_tree",  "motorcycle",
    "mountain",   "mouse",         "mushroom",     "oak_tree",  "orange",      "orchid",      "otter",
    "palm_tree",  "pear",          "pickup_truck", "pine_tree", "plain",       "plate",       "poppy",
    "porcupine",  "possum",        "rabbit",       "raccoon",   "ray",         "road",        "rocket",
    "rose",       "sea",           "seal",         "shark",     "shrew",       "skunk",       "skyscraper",
    "snail",      "snake",         "spider",       "squirrel",  "streetcar",   "sunflower",   "sweet_pepper",
    "table",      "tank",          "telephone",    "television", "tiger",      "tractor",     "train",
    "trout",      "tulip",         "turtle",       "wardrobe",  "whale",       "willow_tree", "wolf",
    "woman",      "worm"};

static const char *const c100_coarse[20] = {"aquatic_mammals",
                                            "fish",
                                            "flowers",
                                            "food_containers",
                                            "fruit_and_vegetables",
                                            "household_electrical_devices",
                                            "household_furniture",
                                            "insects",
                                            "large_carnivores",
                                            "large_man-made_outdoor_things",
                                            "large_natural_outdoor_scenes",
                                            "large_omnivores_and_herbivores",
                                            "medium_mammals",
                                            "non-insect_invertebrates",
                                            "people",
                                            "reptiles",
                                            "small_mammals",
                                            "trees",
                                            "vehicles_1",
                                            "vehicles_2"};

/* Coarse label of each fine label, as in the dataset's records (each coarse class has five). */
static const unsigned char c100_coarse_of[100] = {
    4,  1,  14, 8,  0,  6,  7,  7,  18, 3,  3,  14, 9,  18, 7,  11, 3,  9, 7,  11, 6,  11, 5,  10, 7,
    6,  13, 15, 3,  15, 0,  11, 1,  10, 12, 14, 16, 9,  11, 5,  5,  19, 8, 8,  15, 13, 14, 17, 18, 10,
    16, 4,  17, 4,  2,  0,  17, 4,  18, 17, 10, 3,  2,  12, 12, 16, 12, 1, 9,  19, 2,  10, 0,  1,  16,
    12, 9,  13, 15, 13, 16, 19, 2,  4,  6,  19, 5,  5,  8,  19, 18, 1,  2, 15, 6,  0,  17, 8,  14, 13};

const char *facs_cifar_class_name(int kind, int label)
{
    if (kind == FACS_CIFAR_10 && label >= 0 && label < 10)
        return c10_names[label];
    if (kind == FACS_CIFAR_100 && label >= 0 && label < 100)
        return c100_fine[label];
    return NULL;
}

const char *facs_cifar100_coarse_name(int coarse) { return coarse >= 0 && coarse < 20 ? c100_coarse[coarse] : NULL; }

int facs_cifar100_coarse_of(int fine) { return fine >= 0 && fine < 100 ? c100_coarse_of[fine] : -1; }

/* Opens dir/name for writing whole or not at all (kernels/atomic_file.h). */
static facs_status open_in(facs_atomic_file *a, const char *dir, const char *name)
{
    char path[4096];
    if (snprintf(path, sizeof path, "%s/%s", dir, name) >= (int)sizeof path)
        return facs_fail(FACS_ERR_ARG, "%s: path too long", dir);
    return facs_atomic_open(a, path);
}

/* Commits a when s is FACS_OK; otherwise removes the temporary and returns s. */
static facs_status finish(facs_atomic_file *a, facs_status s)
{
    if (s != FACS_OK) {
        facs_atomic_abort(a);
        return s;
    }
    return facs_atomic_commit(a);
}

static facs_status write_names(const char *dir, const char *name, const char *const *names, int n, int blank_tail)
{
    facs_atomic_file a;
    FACS_TRY(open_in(&a, dir, name));
    int ok = 1;
    for (int i = 0; i < n; i++)
        ok &= fprintf(a.f, "%s\n", names[i]) > 0;
    if (blank_tail)
        ok &= fputc('\n', a.f) != EOF;
    return finish(&a, ok ? FACS_OK : facs_fail(FACS_ERR_IO, "%s: write failed: %s", a.path, strerror(errno)));
}

/* Writes images [first, first + n) of a split whose shuffled labels are given. */
static facs_status write_records(const char *dir, const char *name, int kind, const int *labels, int first, int n,
                                 uint64_t split_key)
{
    facs_atomic_file a;
    FACS_TRY(open_in(&a, dir, name));
    size_t head = kind == FACS_CIFAR_100 ? 2 : 1;
    uint8_t rec[2 + FACS_CIFAR_PIXELS];
    facs_status s = FACS_OK;
    for (int i = first; i < first + n && s == FACS_OK; i++) {
        int label = labels[i];
        rec[0] = (uint8_t)(kind == FACS_CIFAR_100 ? c100_coarse_of[label] : label);
        rec[head - 1] = (uint8_t)label;
        facs_synth_draw(label, facs_synth_mix(split_key + (uint64_t)i), SIDE, SIDE, 1, rec + head);
        if (fwrite(rec, head + FACS_CIFAR_PIXELS, 1, a.f) != 1)
            s = facs_fail(FACS_ERR_IO, "%s: write failed: %s", a.path, strerror(errno));
    }
    return finish(&a, s);
}

/* Balanced labels (i mod kind) in a seeded Fisher-Yates order. */
static int *shuffled_labels(int kind, int n, uint64_t key)
{
    int *labels = malloc((size_t)n * sizeof *labels);
    if (!labels)
        return NULL;
    for (int i = 0; i < n; i++)
        labels[i] = i % kind;
    for (int i = n - 1; i > 0; i--) {
        int j = (int)(facs_synth_uniform(key, (uint64_t)i) * (i + 1));
        int t = labels[i];
        labels[i] = labels[j];
        labels[j] = t;
    }
    return labels;
}

facs_status facs_cifar_synth(const char *out_dir, int kind, int n_train, int n_test, uint64_t seed)
{
    if (kind != FACS_CIFAR_10 && kind != FACS_CIFAR_100)
        return facs_fail(FACS_ERR_ARG, "synthetic CIFAR: kind must be 10 or 100, not %d", kind);
    int min_train = kind == FACS_CIFAR_10 ? FACS_CIFAR10_BATCHES : 1;
    if (n_train < min_train || n_test < 1)
        return facs_fail(FACS_ERR_ARG, "synthetic CIFAR-%d: need at least %d train and 1 test image (got %d and %d)",
                         kind, min_train, n_train, n_test);
    FACS_TRY(facs_make_dirs(out_dir));
    uint64_t train_key = facs_synth_mix(seed * 2 + 0), test_key = facs_synth_mix(seed * 2 + 1);
    int *train = shuffled_labels(kind, n_train, train_key), *test = shuffled_labels(kind, n_test, test_key);
    facs_status s = train && test ? FACS_OK : facs_fail(FACS_ERR_MEMORY, "synthetic CIFAR: out of memory");
    if (kind == FACS_CIFAR_10) {
        for (int b = 0; b < FACS_CIFAR10_BATCHES && s == FACS_OK; b++) {
            char name[32];
            snprintf(name, sizeof name, "data_batch_%d.bin", b + 1);
            int first = (int)((int64_t)n_train * b / FACS_CIFAR10_BATCHES);
            int end = (int)((int64_t)n_train * (b + 1) / FACS_CIFAR10_BATCHES);
            s = write_records(out_dir, name, kind, train, first, end - first, train_key);
        }
        if (s == FACS_OK)
            s = write_records(out_dir, "test_batch.bin", kind, test, 0, n_test, test_key);
        if (s == FACS_OK)
            s = write_names(out_dir, "batches.meta.txt", c10_names, 10, 1);
    } else {
        if (s == FACS_OK)
            s = write_records(out_dir, "train.bin", kind, train, 0, n_train, train_key);
        if (s == FACS_OK)
            s = write_records(out_dir, "test.bin", kind, test, 0, n_test, test_key);
        if (s == FACS_OK)
            s = write_names(out_dir, "fine_label_names.txt", c100_fine, 100, 0);
        if (s == FACS_OK)
            s = write_names(out_dir, "coarse_label_names.txt", c100_coarse, 20, 0);
    }
    free(train);
    free(test);
    return s;
}
