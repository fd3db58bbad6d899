/* The CIFAR-10/100 readers and the synthetic writer.
 *
 * 1. Folders written independently by tests/ref/ref_cifar.py (numpy, random pixels
 *    and labels, uneven batches) must decode bit-exactly to the HWC arrays it saved.
 * 2. Detection of each kind, of an empty folder and of a mixed one.
 * 3. Synthetic data: load round trip (counts, per-batch sizes, label ranges, every
 *    class present, real names, coarse = the dataset's mapping), determinism per seed,
 *    and learnable structure: a nearest-class-mean classifier, far weaker than a
 *    network, must beat chance by a wide margin (at the fixed seed 7 it scores 0.995
 *    on CIFAR-10 and 0.84 on CIFAR-100; the bounds 0.9 and 0.6 fail when a class
 *    recipe stops depending on its label).
 * 4. Bad input, each an error whose message names the file and the problem:
 *    truncated file, label out of range (CIFAR-10, fine and coarse of CIFAR-100),
 *    missing batch, missing or short names file, empty folder, wrong kind forced.
 * 5. Folders a user points at by mistake: the parent of cifar-10-batches-bin or
 *    cifar-100-binary ("pass that folder"), the Python version of either.
 * 6. A synth over an existing dataset that fails (disk full: RLIMIT_FSIZE) leaves
 *    its files as they were and no temporary; one killed midway leaves a
 *    temporary that facs_atomic_remove_stale recognises. */
#define _XOPEN_SOURCE 700 /* SIGXFSZ, setrlimit */
#include <dirent.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "atomic_file.h"
#include "cifar.h"
#include "test_util.h"

static char work[4096];

static void path_in(char *out, size_t size, const char *dir, const char *name)
{
    if (snprintf(out, size, "%s/%s", dir, name) >= (int)size)
        out[0] = '\0'; /* an empty path fails loudly in the caller */
}

/* Removes a folder whose entries are plain files. */
static void remove_flat(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d)
        return;
    struct dirent *e;
    char p[4096];
    while ((e = readdir(d)))
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) {
            path_in(p, sizeof p, dir, e->d_name);
            unlink(p);
        }
    closedir(d);
    rmdir(dir);
}

/* A fresh synthetic folder work/name. */
static const char *fresh(const char *name, int kind, int n_train, int n_test, uint64_t seed)
{
    static char dir[4096];
    path_in(dir, sizeof dir, work, name);
    remove_flat(dir);
    CHECK_OK(facs_cifar_synth(dir, kind, n_train, n_test, seed));
    return dir;
}

/* Expects load to fail with status want and a message holding every one of the NULL-terminated needles. */
static void expect_fail(const char *what, const char *dir, int kind, facs_cifar_split split, facs_status want,
                        const char *const *needles)
{
    facs_cifar ds;
    facs_clear_error();
    facs_status s = facs_cifar_load(dir, kind, split, &ds);
    const char *msg = facs_last_error();
    CHECK(s == want, "%s: status %d, want %d (%s)", what, (int)s, (int)want, msg);
    for (int i = 0; needles[i]; i++)
        CHECK(strstr(msg, needles[i]) != NULL, "%s: message '%s' lacks '%s'", what, msg, needles[i]);
    CHECK(ds.images == NULL && ds.labels == NULL && ds.class_names == NULL && ds.count == 0,
          "%s: dataset not left empty after a failure", what);
    printf("  %-28s -> %s\n", what, msg);
    facs_cifar_free(&ds);
}

static void poke(const char *dir, const char *name, long offset, int byte)
{
    char p[4096];
    path_in(p, sizeof p, dir, name);
    FILE *f = fopen(p, "r+b");
    CHECK(f != NULL, "cannot open %s", p);
    if (!f)
        return;
    fseek(f, offset, SEEK_SET);
    fputc(byte, f);
    fclose(f);
}

/* Loads a split with load_kind (kind or AUTO) and compares it with the reference group. */
static void compare_ref(h5_file *ref, const char *dir, int load_kind, int kind, const char *group,
                        facs_cifar_split split)
{
    char key[128];
    int rank;
    size_t dims[8], ldims[8];
    facs_cifar ds;
    if (!CHECK_OK(facs_cifar_load(dir, load_kind, split, &ds)))
        return;
    snprintf(key, sizeof key, "/%s/images", group);
    int *want = h5_read_i32(ref, key, &rank, dims);
    snprintf(key, sizeof key, "/%s/labels", group);
    int *labels = h5_read_i32(ref, key, &rank, ldims);
    CHECK(want && labels && ds.count == (int)dims[0], "%s: %d images, reference has %zu", group, ds.count, dims[0]);
    if (want && labels && ds.count == (int)dims[0]) {
        size_t bad = 0, n = (size_t)ds.count * FACS_CIFAR_PIXELS;
        for (size_t i = 0; i < n; i++)
            bad += ds.images[i] != want[i];
        CHECK(bad == 0, "%s: %zu of %zu pixel bytes differ", group, bad, n);
        size_t bad_labels = 0;
        for (int i = 0; i < ds.count; i++)
            bad_labels += ds.labels[i] != labels[i];
        CHECK(bad_labels == 0, "%s: %zu of %d labels differ", group, bad_labels, ds.count);
        printf("  %-12s %3d images, bit-exact: %s\n", group, ds.count, bad + bad_labels == 0 ? "yes" : "NO");
    }
    if (kind == FACS_CIFAR_100) {
        snprintf(key, sizeof key, "/%s/coarse", group);
        int *coarse = h5_read_i32(ref, key, &rank, ldims);
        size_t bad = 0;
        for (int i = 0; coarse && ds.coarse_labels && i < ds.count; i++)
            bad += ds.coarse_labels[i] != coarse[i];
        CHECK(coarse && ds.coarse_labels && bad == 0, "%s: %zu coarse labels differ", group, bad);
        free(coarse);
    }
    CHECK(ds.num_classes == kind && ds.kind == kind, "%s: %d classes", group, ds.num_classes);
    for (int k = 0; k < ds.num_classes; k++)
        CHECK(strcmp(ds.class_names[k], facs_cifar_class_name(kind, k)) == 0, "%s: name %d '%s' != '%s'", group, k,
              ds.class_names[k], facs_cifar_class_name(kind, k));
    for (int k = 0; k < ds.num_coarse; k++)
        CHECK(strcmp(ds.coarse_names[k], facs_cifar100_coarse_name(k)) == 0, "%s: coarse name %d '%s'", group, k,
              ds.coarse_names[k]);
    free(want);
    free(labels);
    facs_cifar_free(&ds);
}

static void test_reference(h5_file *ref, const char *ref_path)
{
    char root[4096], c10[4096], c100[4096];
    snprintf(root, sizeof root, "%.*s_data", (int)(strlen(ref_path) - 3), ref_path);
    path_in(c10, sizeof c10, root, "cifar10");
    path_in(c100, sizeof c100, root, "cifar100");
    compare_ref(ref, c10, FACS_CIFAR_AUTO, FACS_CIFAR_10, "c10/train", FACS_CIFAR_TRAIN);
    compare_ref(ref, c10, FACS_CIFAR_10, FACS_CIFAR_10, "c10/test", FACS_CIFAR_TEST);
    compare_ref(ref, c100, FACS_CIFAR_100, FACS_CIFAR_100, "c100/train", FACS_CIFAR_TRAIN);
    compare_ref(ref, c100, FACS_CIFAR_AUTO, FACS_CIFAR_100, "c100/test", FACS_CIFAR_TEST);

    int kind = -1;
    CHECK(facs_cifar_detect(c10, &kind) == FACS_OK && kind == 10, "detect CIFAR-10 folder: %d", kind);
    CHECK(facs_cifar_detect(c100, &kind) == FACS_OK && kind == 100, "detect CIFAR-100 folder: %d", kind);
    CHECK(facs_cifar_detect(root, &kind) == FACS_OK && kind == 0, "detect a non-CIFAR folder: %d", kind);
    CHECK(facs_cifar_detect("/nonexistent/cifar", &kind) == FACS_ERR_IO, "detect a missing folder");

    /* The dataset's fine -> coarse mapping: the C table against the script's copy. */
    int rank;
    size_t dims[8];
    int *coarse_of = h5_read_i32(ref, "/c100/coarse_of", &rank, dims);
    int bad = 0, per_coarse[20] = {0};
    for (int k = 0; coarse_of && k < 100; k++) {
        bad += facs_cifar100_coarse_of(k) != coarse_of[k];
        per_coarse[coarse_of[k]]++;
    }
    CHECK(coarse_of && bad == 0, "%d fine classes map to another coarse class than the reference's", bad);
    for (int c = 0; c < 20; c++)
        CHECK(per_coarse[c] == 5, "coarse class %d has %d fine classes, not 5", c, per_coarse[c]);
    CHECK(facs_cifar100_coarse_of(100) == -1 && facs_cifar_class_name(10, 10) == NULL, "out-of-range lookups");
    free(coarse_of);
}

/* Fraction of test images whose nearest train class mean (squared distance) is their class. */
static double nearest_mean_accuracy(const facs_cifar *train, const facs_cifar *test)
{
    int k = train->num_classes;
    double *mean = calloc((size_t)k * FACS_CIFAR_PIXELS, sizeof *mean);
    int *count = calloc((size_t)k, sizeof *count);
    for (int i = 0; i < train->count; i++) {
        count[train->labels[i]]++;
        for (int p = 0; p < FACS_CIFAR_PIXELS; p++)
            mean[(size_t)train->labels[i] * FACS_CIFAR_PIXELS + p] += train->images[(size_t)i * FACS_CIFAR_PIXELS + p];
    }
    for (int c = 0; c < k; c++)
        for (int p = 0; p < FACS_CIFAR_PIXELS; p++)
            mean[(size_t)c * FACS_CIFAR_PIXELS + p] /= count[c] ? count[c] : 1;
    int correct = 0;
    for (int i = 0; i < test->count; i++) {
        int best = 0;
        double best_d = 1e300;
        for (int c = 0; c < k; c++) {
            double d = 0;
            for (int p = 0; p < FACS_CIFAR_PIXELS; p++) {
                double e = test->images[(size_t)i * FACS_CIFAR_PIXELS + p] - mean[(size_t)c * FACS_CIFAR_PIXELS + p];
                d += e * e;
            }
            if (d < best_d) {
                best_d = d;
                best = c;
            }
        }
        correct += best == test->labels[i];
    }
    free(mean);
    free(count);
    return (double)correct / test->count;
}

static void check_synth_split(const facs_cifar *ds, int kind, int want_count, const char *what)
{
    CHECK(ds->count == want_count, "%s: %d images, want %d", what, ds->count, want_count);
    int hist[100] = {0}, bad = 0;
    for (int i = 0; i < ds->count; i++) {
        bad += ds->labels[i] >= kind;
        if (ds->labels[i] < kind)
            hist[ds->labels[i]]++;
        if (kind == FACS_CIFAR_100)
            bad += ds->coarse_labels[i] != facs_cifar100_coarse_of(ds->labels[i]);
    }
    CHECK(bad == 0, "%s: %d labels out of range or with the wrong coarse label", what, bad);
    int lo = ds->count, hi = 0;
    for (int c = 0; c < kind; c++) {
        lo = hist[c] < lo ? hist[c] : lo;
        hi = hist[c] > hi ? hist[c] : hi;
    }
    /* Balanced: i mod kind, so counts differ by at most one and every class appears. */
    CHECK(lo >= 1 && hi - lo <= 1, "%s: class counts range over [%d, %d]", what, lo, hi);
    for (int c = 0; c < kind; c++)
        CHECK(strcmp(ds->class_names[c], facs_cifar_class_name(kind, c)) == 0, "%s: name %d", what, c);
}

static int same_file(const char *a_dir, const char *b_dir, const char *name)
{
    char pa[4096], pb[4096];
    path_in(pa, sizeof pa, a_dir, name);
    path_in(pb, sizeof pb, b_dir, name);
    FILE *fa = fopen(pa, "rb"), *fb = fopen(pb, "rb");
    int same = fa && fb;
    while (same) {
        int ca = fgetc(fa), cb = fgetc(fb);
        same = ca == cb;
        if (ca == EOF)
            break;
    }
    if (fa)
        fclose(fa);
    if (fb)
        fclose(fb);
    return same;
}

static void test_synth(void)
{
    const char *dir = fresh("s10", FACS_CIFAR_10, 1003, 200, 7);
    facs_cifar train, test;
    if (CHECK_OK(facs_cifar_load(dir, FACS_CIFAR_AUTO, FACS_CIFAR_TRAIN, &train)) &&
        CHECK_OK(facs_cifar_load(dir, FACS_CIFAR_AUTO, FACS_CIFAR_TEST, &test))) {
        check_synth_split(&train, 10, 1003, "synth CIFAR-10 train");
        check_synth_split(&test, 10, 200, "synth CIFAR-10 test");
        double acc = nearest_mean_accuracy(&train, &test);
        printf("  synth CIFAR-10: nearest class mean test accuracy %.3f (chance 0.1)\n", acc);
        CHECK(acc >= 0.9, "synthetic CIFAR-10 is not learnable: nearest-mean accuracy %.3f", acc);
    }
    facs_cifar_free(&train);
    facs_cifar_free(&test);
    /* 1003 images in five batches: 200 or 201 records each, in order. */
    for (int b = 1; b <= 5; b++) {
        char p[4096], name[32];
        snprintf(name, sizeof name, "data_batch_%d.bin", b);
        path_in(p, sizeof p, dir, name);
        struct stat st;
        long want = (1003L * b / 5 - 1003L * (b - 1) / 5) * (1 + FACS_CIFAR_PIXELS);
        CHECK(stat(p, &st) == 0 && st.st_size == want, "%s: %ld bytes, want %ld", name, (long)st.st_size, want);
    }

    dir = fresh("s100", FACS_CIFAR_100, 1000, 200, 7);
    if (CHECK_OK(facs_cifar_load(dir, FACS_CIFAR_100, FACS_CIFAR_TRAIN, &train)) &&
        CHECK_OK(facs_cifar_load(dir, FACS_CIFAR_100, FACS_CIFAR_TEST, &test))) {
        check_synth_split(&train, 100, 1000, "synth CIFAR-100 train");
        check_synth_split(&test, 100, 200, "synth CIFAR-100 test");
        double acc = nearest_mean_accuracy(&train, &test);
        printf("  synth CIFAR-100: nearest class mean test accuracy %.3f (chance 0.01)\n", acc);
        CHECK(acc >= 0.6, "synthetic CIFAR-100 is not learnable: nearest-mean accuracy %.3f", acc);
        for (int c = 0; c < 20; c++)
            CHECK(strcmp(train.coarse_names[c], facs_cifar100_coarse_name(c)) == 0, "coarse name %d", c);
    }
    facs_cifar_free(&train);
    facs_cifar_free(&test);

    /* The same seed writes the same bytes; another seed does not. */
    char a[4096], b[4096];
    snprintf(a, sizeof a, "%s", fresh("d1", FACS_CIFAR_10, 50, 10, 3));
    snprintf(b, sizeof b, "%s", fresh("d2", FACS_CIFAR_10, 50, 10, 3));
    CHECK(same_file(a, b, "data_batch_4.bin") && same_file(a, b, "test_batch.bin"), "same seed, different bytes");
    snprintf(b, sizeof b, "%s", fresh("d2", FACS_CIFAR_10, 50, 10, 4));
    CHECK(!same_file(a, b, "data_batch_4.bin"), "different seeds wrote the same bytes");

    CHECK(facs_cifar_synth(a, FACS_CIFAR_10, 4, 1, 1) == FACS_ERR_ARG, "synth with an empty batch accepted");
    CHECK(facs_cifar_synth(a, 20, 100, 10, 1) == FACS_ERR_ARG, "synth of kind 20 accepted");
}

static void test_bad_input(void)
{
    printf("bad input:\n");
    char p[4096];
    const char *dir = fresh("bad", FACS_CIFAR_10, 50, 10, 1);
    path_in(p, sizeof p, dir, "data_batch_2.bin");
    CHECK(truncate(p, 10 * 3073 - 100) == 0, "truncate");
    expect_fail("truncated batch", dir, FACS_CIFAR_AUTO, FACS_CIFAR_TRAIN, FACS_ERR_FORMAT,
                (const char *const[]){"data_batch_2.bin", "30630", "3073-byte", NULL});
    CHECK(truncate(p, 0) == 0, "truncate");
    expect_fail("empty batch", dir, FACS_CIFAR_AUTO, FACS_CIFAR_TRAIN, FACS_ERR_FORMAT,
                (const char *const[]){"data_batch_2.bin", "empty (0 bytes)", NULL});

    dir = fresh("bad", FACS_CIFAR_10, 50, 10, 1);
    poke(dir, "test_batch.bin", 3L * 3073, 10);
    expect_fail("label out of range", dir, FACS_CIFAR_AUTO, FACS_CIFAR_TEST, FACS_ERR_FORMAT,
                (const char *const[]){"test_batch.bin", "record 3", "label 10", NULL});

    dir = fresh("bad", FACS_CIFAR_10, 50, 10, 1);
    path_in(p, sizeof p, dir, "data_batch_3.bin");
    unlink(p);
    expect_fail("missing data_batch_3.bin", dir, FACS_CIFAR_10, FACS_CIFAR_TRAIN, FACS_ERR_IO,
                (const char *const[]){"data_batch_3.bin", "missing", NULL});
    facs_cifar ds;
    CHECK_OK(facs_cifar_load(dir, FACS_CIFAR_10, FACS_CIFAR_TEST, &ds)); /* the test split does not need it */
    facs_cifar_free(&ds);

    dir = fresh("bad", FACS_CIFAR_10, 50, 10, 1);
    path_in(p, sizeof p, dir, "batches.meta.txt");
    FILE *f = fopen(p, "w");
    if (CHECK(f != NULL, "rewrite %s", p)) {
        fputs("airplane\nautomobile\nbird\ncat\ndeer\ndog\nfrog\nhorse\nship\n", f);
        fclose(f);
    }
    expect_fail("9 class names", dir, FACS_CIFAR_10, FACS_CIFAR_TEST, FACS_ERR_FORMAT,
                (const char *const[]){"batches.meta.txt", "holds 9 class names, expected 10", NULL});
    unlink(p);
    expect_fail("missing names file", dir, FACS_CIFAR_10, FACS_CIFAR_TEST, FACS_ERR_IO,
                (const char *const[]){"batches.meta.txt", "missing", NULL});

    dir = fresh("bad100", FACS_CIFAR_100, 50, 10, 1);
    poke(dir, "train.bin", 5L * 3074 + 1, 100);
    expect_fail("fine label out of range", dir, FACS_CIFAR_100, FACS_CIFAR_TRAIN, FACS_ERR_FORMAT,
                (const char *const[]){"train.bin", "record 5", "fine label 100", NULL});
    poke(dir, "test.bin", 9L * 3074, 20);
    expect_fail("coarse label out of range", dir, FACS_CIFAR_100, FACS_CIFAR_TEST, FACS_ERR_FORMAT,
                (const char *const[]){"test.bin", "record 9", "coarse label 20", NULL});
    expect_fail("CIFAR-100 read as 10", dir, FACS_CIFAR_10, FACS_CIFAR_TEST, FACS_ERR_FORMAT,
                (const char *const[]){dir, "CIFAR-10", "CIFAR-100", NULL});

    char empty[4096];
    path_in(empty, sizeof empty, work, "empty");
    mkdir(empty, 0777);
    expect_fail("empty folder", empty, FACS_CIFAR_AUTO, FACS_CIFAR_TRAIN, FACS_ERR_FORMAT,
                (const char *const[]){empty, "not a CIFAR folder", "data_batch_1..5.bin", "train.bin", NULL});
    expect_fail("missing folder", "/nonexistent/cifar", FACS_CIFAR_AUTO, FACS_CIFAR_TRAIN, FACS_ERR_IO,
                (const char *const[]){"/nonexistent/cifar", NULL});
    expect_fail("kind 20", empty, 20, FACS_CIFAR_TRAIN, FACS_ERR_ARG, (const char *const[]){"20", NULL});

    /* A folder holding both kinds is ambiguous, not silently one of them. */
    dir = fresh("bad", FACS_CIFAR_10, 50, 10, 1);
    path_in(p, sizeof p, dir, "train.bin");
    f = fopen(p, "w");
    if (f)
        fclose(f);
    int kind = -1;
    CHECK(facs_cifar_detect(dir, &kind) == FACS_ERR_FORMAT && strstr(facs_last_error(), "both"),
          "mixed folder detected as %d: %s", kind, facs_last_error());
    facs_cifar_free(NULL);
}

/* Creates an empty file dir/name. */
static void touch(const char *dir, const char *name)
{
    char p[4096];
    path_in(p, sizeof p, dir, name);
    FILE *f = fopen(p, "w");
    if (CHECK(f != NULL, "cannot create %s", p))
        fclose(f);
}

/* detect and load of dir both fail (FACS_ERR_FORMAT) with a message holding needle. */
static void expect_hint(const char *what, const char *dir, const char *needle)
{
    int kind = -1;
    facs_status s = facs_cifar_detect(dir, &kind);
    CHECK(s == FACS_ERR_FORMAT && kind == 0 && strstr(facs_last_error(), needle),
          "%s: detect gave status %d, kind %d, '%s'; want a message with '%s'", what, (int)s, kind,
          facs_last_error(), needle);
    expect_fail(what, dir, FACS_CIFAR_AUTO, FACS_CIFAR_TRAIN, FACS_ERR_FORMAT, (const char *const[]){needle, NULL});
}

static void test_wrong_folder(void)
{
    printf("folders pointed at by mistake:\n");
    char parent[4096], inner[4096], want[8400], slash[4200];
    path_in(parent, sizeof parent, work, "parent");
    static const char *const inners[] = {"cifar-10-batches-bin", "cifar-100-binary", "cifar-10-batches-py"};
    for (int i = 0; i < 3; i++) { /* what a failed earlier run may have left */
        path_in(inner, sizeof inner, parent, inners[i]);
        remove_flat(inner);
    }
    remove_flat(parent);
    path_in(inner, sizeof inner, parent, "cifar-10-batches-bin");
    CHECK_OK(facs_cifar_synth(inner, FACS_CIFAR_10, 10, 2, 1));
    snprintf(want, sizeof want, "found %s inside: pass that folder", inner);
    expect_hint("parent of cifar-10-batches-bin", parent, want);
    snprintf(slash, sizeof slash, "%s/", parent); /* the same folder, as a shell completes it */
    expect_hint("parent/ of cifar-10-batches-bin", slash, want);
    remove_flat(inner);

    path_in(inner, sizeof inner, parent, "cifar-100-binary");
    mkdir(inner, 0777);
    snprintf(want, sizeof want, "found %s inside: pass that folder", inner);
    expect_hint("parent of cifar-100-binary", parent, want);
    rmdir(inner);

    path_in(inner, sizeof inner, parent, "cifar-10-batches-py");
    mkdir(inner, 0777);
    expect_hint("parent of cifar-10-batches-py", parent, "Python (pickle) version");
    expect_hint("parent of cifar-10-batches-py", parent, "cifar-10-binary.tar.gz");
    touch(inner, "data_batch_1");
    touch(inner, "batches.meta");
    expect_hint("cifar-10-batches-py itself", inner, "Python (pickle) version of CIFAR-10");
    remove_flat(inner);
    rmdir(parent);
}

/* The bytes of dir/name (NULL when unreadable), their count in *len. */
static uint8_t *slurp_in(const char *dir, const char *name, size_t *len)
{
    char p[4096];
    path_in(p, sizeof p, dir, name);
    return test_read_file(p, len);
}

static int temporaries_in(const char *dir)
{
    DIR *d = opendir(dir);
    int n = 0;
    for (struct dirent *e; d && (e = readdir(d));)
        n += strstr(e->d_name, FACS_ATOMIC_TMP_MARK) != NULL || strstr(e->d_name, ".tmp.") != NULL ||
             (e->d_name[0] == '.' && strcmp(e->d_name, ".") && strcmp(e->d_name, ".."));
    if (d)
        closedir(d);
    return n;
}

static void test_failed_synth(void)
{
    printf("failed and killed synth over an existing dataset:\n");
    const char *dir = fresh("w", FACS_CIFAR_10, 50, 10, 1); /* data_batch_1.bin: 10 records, 30730 bytes */
    size_t len, now_len;
    uint8_t *before = slurp_in(dir, "data_batch_1.bin", &len);
    CHECK(before && len == 10 * 3073, "data_batch_1.bin: %zu bytes", len);

    /* The disk fills up at 20000 bytes (SIGXFSZ ignored: write fails with EFBIG). */
    struct rlimit old;
    getrlimit(RLIMIT_FSIZE, &old);
    struct rlimit capped = {20000, old.rlim_max};
    signal(SIGXFSZ, SIG_IGN);
    CHECK(setrlimit(RLIMIT_FSIZE, &capped) == 0, "setrlimit");
    facs_status s = facs_cifar_synth(dir, FACS_CIFAR_10, 50, 10, 2);
    setrlimit(RLIMIT_FSIZE, &old);
    signal(SIGXFSZ, SIG_DFL);
    CHECK(s == FACS_ERR_IO && strstr(facs_last_error(), "data_batch_1.bin"),
          "synth past RLIMIT_FSIZE: status %d, '%s'", (int)s, facs_last_error());
    uint8_t *now = slurp_in(dir, "data_batch_1.bin", &now_len);
    CHECK(before && now && now_len == len && memcmp(now, before, len) == 0,
          "a failed synth changed data_batch_1.bin");
    free(now);
    CHECK(temporaries_in(dir) == 0, "a failed synth left %d temporaries", temporaries_in(dir));

    /* Killed at the cap (SIGXFSZ): the file is untouched, the temporary left is
     * one facs_atomic_remove_stale recognises. */
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        struct rlimit no_core = {0, 0};
        setrlimit(RLIMIT_CORE, &no_core);
        signal(SIGXFSZ, SIG_DFL);
        setrlimit(RLIMIT_FSIZE, &capped);
        facs_cifar_synth(dir, FACS_CIFAR_10, 50, 10, 2);
        _exit(0); /* not reached */
    }
    int status = 0;
    CHECK(pid > 0 && waitpid(pid, &status, 0) == pid && WIFSIGNALED(status) && WTERMSIG(status) == SIGXFSZ,
          "the synth was not killed by SIGXFSZ (status %d)", status);
    now = slurp_in(dir, "data_batch_1.bin", &now_len);
    CHECK(before && now && now_len == len && memcmp(now, before, len) == 0,
          "a synth killed midway changed data_batch_1.bin");
    free(now);
    int stale = temporaries_in(dir), removed = facs_atomic_remove_stale(dir);
    CHECK(stale == 1 && removed == 1 && temporaries_in(dir) == 0,
          "killed synth: %d temporaries, facs_atomic_remove_stale removed %d, %d left", stale, removed,
          temporaries_in(dir));
    facs_cifar ds;
    if (CHECK_OK(facs_cifar_load(dir, FACS_CIFAR_10, FACS_CIFAR_TRAIN, &ds)))
        CHECK(ds.count == 50, "after the failed synths: %d images", ds.count);
    facs_cifar_free(&ds);
    free(before);
}

int main(int argc, char **argv)
{
    h5_file *ref = test_open_ref(argc, argv);
    snprintf(work, sizeof work, "%.*s_work", (int)(strlen(argv[1]) - 3), argv[1]);
    mkdir(work, 0777);
    printf("reference folders:\n");
    test_reference(ref, argv[1]);
    printf("synthetic data:\n");
    test_synth();
    test_bad_input();
    test_wrong_folder();
    test_failed_synth();
    h5_close(ref);
    const char *dirs[] = {"s10", "s100", "d1", "d2", "bad", "bad100", "empty", "w"};
    for (size_t i = 0; i < sizeof dirs / sizeof dirs[0]; i++) {
        char p[4096];
        path_in(p, sizeof p, work, dirs[i]);
        remove_flat(p);
    }
    rmdir(work);
    return test_finish();
}
