/* Weight files (backbone/weights.h) against PyTorch: tests/ref/ref_weights.py
 * writes torchvision's ResNet-50 (random weights, randomised BN statistics) as
 * converted by tools/convert_torchvision.py and as a bare h5py dump, plus the
 * list of its state_dict names and shapes. Every comparison is bit-exact:
 * weight files store float32 and nothing may round.
 *
 * Then what a file guards: Fletcher-32 checksums (a flipped byte is refused,
 * a file without them still loads), non-finite values, string attributes
 * written with the checkpoint. Model files (backbone/model_file.h) are
 * test_model_file.c's. */
#include <dirent.h>
#include <errno.h>
#include <hdf5.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <stdint.h>
#include <unistd.h>

#include "atomic_file.h"
#include "test_util.h"
#include "weights.h"

#define PATH_MAX_LEN 4200

typedef struct {
    int count;
    char **names;
    int *shapes; /* count x 4, PyTorch's shape padded with 1s */
    int *ranks;  /* PyTorch's rank */
    int *buffer; /* 1: BN running statistics */
} ref_list;

static char base[PATH_MAX_LEN]; /* argv[1] without ".h5": the other files sit beside it */

static const char *beside(char *out, const char *suffix)
{
    if (snprintf(out, PATH_MAX_LEN, "%s%s", base, suffix) >= PATH_MAX_LEN)
        out[0] = '\0';
    return out;
}

static void key_path(char *out, size_t size, const char *root, const char *key)
{
    if (snprintf(out, size, "%s/%s", root, key) >= (int)size)
        out[0] = '\0';
    for (char *s = out + strlen(root); *s; s++)
        if (*s == '.')
            *s = '/';
}

static int read_ref_list(h5_file *ref, ref_list *r)
{
    int rank;
    size_t dims[8], chars, count;
    int *codes = h5_read_i32(ref, "list/names", &rank, dims);
    chars = codes ? dims[0] : 0;
    r->shapes = h5_read_i32(ref, "list/shapes", &rank, dims);
    count = r->shapes ? dims[0] : 0;
    r->ranks = h5_read_i32(ref, "list/ranks", &rank, dims);
    r->buffer = h5_read_i32(ref, "list/buffer", &rank, dims);
    r->names = calloc(count ? count : 1, sizeof *r->names);
    r->count = 0;
    char *text = malloc(chars + 1);
    if (!codes || !r->shapes || !r->ranks || !r->buffer || !r->names || !text)
        return 0;
    for (size_t i = 0; i < chars; i++)
        text[i] = (char)codes[i];
    text[chars] = '\0';
    for (char *save = NULL, *tok = strtok_r(text, "\n", &save); tok && (size_t)r->count < count;
         tok = strtok_r(NULL, "\n", &save))
        r->names[r->count++] = strdup(tok);
    free(codes);
    free(text);
    return (size_t)r->count == count && count > 0;
}

static void free_ref_list(ref_list *r)
{
    for (int i = 0; i < r->count; i++)
        free(r->names[i]);
    free(r->names);
    free(r->shapes);
    free(r->ranks);
    free(r->buffer);
}

/* Registers, zero-filled, every reference entry whose name does not start with omit (NULL: none). */
static int build(facs_param_list *list, const ref_list *r, const char *omit)
{
    facs_param_list_init(list);
    for (int i = 0; i < r->count; i++) {
        if (omit && strncmp(r->names[i], omit, strlen(omit)) == 0)
            continue;
        const int *s = r->shapes + 4 * i;
        facs_param_kind kind = r->buffer[i] ? FACS_PARAM_BUFFER : FACS_PARAM_TRAINABLE;
        facs_param *p = facs_param_list_add(list, kind, r->names[i], FACS_DEVICE_CPU, s[0], s[1], s[2], s[3]);
        if (!p)
            return 0;
        /* What a model does when it registers a linear weight. */
        p->torch_rank = r->ranks[i];
    }
    return 1;
}

static int all_zero(const facs_tensor *t)
{
    float *x = test_nchw(t);
    size_t n = facs_tensor_numel(t), nonzero = 0;
    for (size_t i = 0; i < n; i++)
        nonzero += x[i] != 0.0f;
    free(x);
    return nonzero == 0;
}

/* Every entry of list equals /tensors/<key> of the reference bit for bit
 * (entries whose name starts with `except` are not compared). */
static void check_equals_ref(const facs_param_list *list, h5_file *ref, const char *what, const char *except)
{
    int differ = 0, compared = 0;
    const char *first = "";
    for (int i = 0; i < list->count; i++) {
        const facs_param *p = list->items[i];
        if (except && strncmp(p->name, except, strlen(except)) == 0)
            continue;
        char path[512];
        key_path(path, sizeof path, "tensors", p->name);
        size_t count = 0;
        float *want = test_ref(ref, path, &count);
        float *got = test_nchw(p->value);
        int same = want && count == facs_tensor_numel(p->value) && memcmp(got, want, count * sizeof *got) == 0;
        if (!same && !differ++)
            first = p->name;
        compared++;
        free(want);
        free(got);
    }
    CHECK(differ == 0 && compared > 0, "%s: %d of %d tensors differ from PyTorch's, first %s", what, differ, compared,
          first);
}

static int contains(const char *haystack, const char *needle) { return strstr(haystack, needle) != NULL; }

static void test_load_converted(const ref_list *r, h5_file *ref)
{
    char path[PATH_MAX_LEN];
    facs_param_list list;
    facs_weights_report report;
    facs_weights_load_options o = facs_weights_load_defaults();
    o.report = &report;
    facs_weights_meta meta;
    CHECK(build(&list, r, NULL), "build the list: %s", facs_last_error());
    CHECK_OK(facs_weights_load(beside(path, "_converted.h5"), &list, &o, &meta));
    CHECK(report.loaded == r->count && report.missing == 0 && report.unexpected == 0 && report.ignored == 0,
          "converted file: report %d loaded, %d missing, %d unexpected, %d ignored", report.loaded, report.missing,
          report.unexpected, report.ignored);
    CHECK(meta.version == 1 && strcmp(meta.arch, "resnet50") == 0 && meta.classes == 1000 && meta.fusion == -1 &&
              isnan(meta.threshold),
          "converted file: meta version %d arch '%s' classes %d fusion %d threshold %g", meta.version, meta.arch,
          meta.classes, meta.fusion, meta.threshold);
    check_equals_ref(&list, ref, "converted file", NULL);
    facs_param_list_free(&list);
}

static void test_load_bare(const ref_list *r, h5_file *ref)
{
    char path[PATH_MAX_LEN];
    facs_param_list list;
    facs_weights_report report;
    facs_weights_load_options o = facs_weights_load_defaults();
    o.report = &report;
    facs_weights_meta meta;
    int bn = 0;
    for (int i = 0; i < r->count; i++)
        bn += r->buffer[i] && contains(r->names[i], "running_mean");
    CHECK(build(&list, r, NULL), "build the list: %s", facs_last_error());
    CHECK_OK(facs_weights_load(beside(path, "_bare.h5"), &list, &o, &meta));
    CHECK(report.loaded == r->count && report.ignored == bn && report.missing == 0 && report.unexpected == 0 &&
              contains(report.ignored_names[0], "num_batches_tracked"),
          "bare file: %d loaded, %d ignored (want %d num_batches_tracked), first ignored '%s'", report.loaded,
          report.ignored, bn, report.ignored_names[0]);
    CHECK(meta.version == 0 && meta.arch[0] == '\0' && meta.classes == -1 && meta.fusion == -1,
          "bare file: meta must be unknown, got version %d arch '%s' classes %d", meta.version, meta.arch,
          meta.classes);
    check_equals_ref(&list, ref, "bare file", NULL);
    facs_param_list_free(&list);
}

/* save -> load -> save: both saved files hold the same bits, in PyTorch's shapes. */
static void test_round_trip(const ref_list *r, h5_file *ref)
{
    char src[PATH_MAX_LEN], one[PATH_MAX_LEN], two[PATH_MAX_LEN];
    facs_param_list a, b;
    facs_weights_meta meta = facs_weights_meta_unknown(), back;
    snprintf(meta.arch, sizeof meta.arch, "facs_resnet50");
    meta.classes = 1000;
    meta.fusion = FACS_FUSION_WEIGHTED;
    meta.threshold = 0.3f;
    CHECK(build(&a, r, NULL) && build(&b, r, NULL), "build the lists: %s", facs_last_error());
    CHECK_OK(facs_weights_load(beside(src, "_converted.h5"), &a, NULL, NULL));
    CHECK_OK(facs_weights_save(beside(one, "_saved1.h5"), &a, &meta));
    CHECK_OK(facs_weights_load(one, &b, NULL, &back));
    CHECK(back.version == 1 && strcmp(back.arch, "facs_resnet50") == 0 && back.classes == 1000 &&
              back.fusion == FACS_FUSION_WEIGHTED && back.threshold == 0.3f,
          "saved meta read back as version %d arch '%s' classes %d fusion %d threshold %.9g", back.version, back.arch,
          back.classes, back.fusion, back.threshold);
    CHECK_OK(facs_weights_save(beside(two, "_saved2.h5"), &b, NULL));
    check_equals_ref(&b, ref, "save -> load", NULL);

    h5_file *f1 = h5_open(one), *f2 = h5_open(two);
    int differ = 0, bad_shape = 0;
    for (int i = 0; f1 && f2 && i < r->count; i++) {
        char path[512];
        key_path(path, sizeof path, "/model", r->names[i]);
        int rank1 = -1, rank2 = -2;
        size_t d1[8], d2[8], n = 1;
        float *x1 = h5_read_f32(f1, path, &rank1, d1), *x2 = h5_read_f32(f2, path, &rank2, d2);
        const int *want = r->shapes + 4 * i;
        int shape_ok = x1 && rank1 == r->ranks[i];
        for (int k = 0; shape_ok && k < rank1; k++) {
            shape_ok = d1[k] == (size_t)want[k];
            n *= d1[k];
        }
        if (!shape_ok && !bad_shape++)
            fprintf(stderr, "%s: rank %d in our file, %d in PyTorch\n", r->names[i], rank1, r->ranks[i]);
        differ += !x1 || !x2 || rank1 != rank2 || memcmp(x1, x2, n * sizeof *x1) != 0;
        free(x1);
        free(x2);
    }
    CHECK(f1 && f2 && differ == 0, "save -> load -> save: %d of %d datasets differ", differ, r->count);
    CHECK(bad_shape == 0, "%d datasets are not in PyTorch's shape (e.g. fc.weight 2-D, convs 4-D)", bad_shape);
    CHECK(f1 && h5_attr_int(f1, "/", "format_version", -1) == 1 && h5_attr_double(f1, "/", "threshold", 0) == 0.3f,
          "root attributes of the saved file");
    h5_close(f1);
    h5_close(f2);
    facs_param_list_free(&a);
    facs_param_list_free(&b);
}

/* Loads path into list, expecting failure with a message holding both needles. */
static void expect_refusal(const char *what, const char *path, facs_param_list *list,
                           const facs_weights_load_options *o, const char *needle1, const char *needle2)
{
    facs_clear_error();
    facs_status s = facs_weights_load(path, list, o, NULL);
    const char *msg = facs_last_error();
    CHECK(s != FACS_OK && contains(msg, needle1) && contains(msg, needle2),
          "%s: status %d, message '%s' should name '%s' and '%s'", what, (int)s, msg, needle1, needle2);
}

static void test_refusals(const ref_list *r)
{
    char path[PATH_MAX_LEN];
    beside(path, "_converted.h5");
    facs_param_list list;
    facs_weights_report report;
    facs_weights_load_options o = facs_weights_load_defaults();
    o.report = &report;

    /* A wrong shape is refused with both shapes, and nothing is loaded. */
    CHECK(build(&list, r, "layer2.1.conv2.weight"), "build: %s", facs_last_error());
    CHECK_PTR(facs_param_list_add(&list, FACS_PARAM_TRAINABLE, "layer2.1.conv2.weight", FACS_DEVICE_CPU, 128, 64, 3,
                                  3));
    expect_refusal("wrong shape", path, &list, &o, "layer2.1.conv2.weight",
                   "(128, 128, 3, 3) in the file but (128, 64, 3, 3) in the model");
    CHECK(all_zero(list.items[0]->value), "a refused load must not change any tensor (conv1.weight changed)");
    facs_param_list_free(&list);

    /* A tensor the file lacks: refused when strict, reported otherwise. */
    CHECK(build(&list, r, NULL), "build: %s", facs_last_error());
    CHECK_PTR(facs_param_list_add(&list, FACS_PARAM_TRAINABLE, "extra.weight", FACS_DEVICE_CPU, 4, 1, 1, 1));
    expect_refusal("missing tensor", path, &list, &o, path, "missing from the file: extra.weight");
    o.strict = 0;
    CHECK_OK(facs_weights_load(path, &list, &o, NULL));
    char text[1024];
    facs_weights_report_str(&report, text, sizeof text);
    CHECK(report.missing == 1 && report.loaded == r->count && contains(text, "1 missing (extra.weight)"),
          "non-strict load with a missing tensor: report '%s'", text);
    o.strict = 1;
    facs_param_list_free(&list);

    /* A tensor the model lacks: refused when strict, reported otherwise. */
    CHECK(build(&list, r, "layer4.1.bn2.running_var"), "build: %s", facs_last_error());
    expect_refusal("unexpected tensor", path, &list, &o, "the model lacks", "layer4.1.bn2.running_var");
    o.strict = 0;
    CHECK_OK(facs_weights_load(path, &list, &o, NULL));
    CHECK(report.unexpected == 1 && strcmp(report.unexpected_names[0], "layer4.1.bn2.running_var") == 0,
          "non-strict load with an unexpected tensor: %d unexpected, '%s'", report.unexpected,
          report.unexpected_names[0]);
    o.strict = 1;
    facs_param_list_free(&list);

    /* A 10-class head: refused as it is, loaded with skip_prefix "fc." and left alone. */
    CHECK(build(&list, r, "fc."), "build: %s", facs_last_error());
    facs_param *fc_w = facs_param_list_add(&list, FACS_PARAM_TRAINABLE, "fc.weight", FACS_DEVICE_CPU, 10, 2048, 1, 1);
    facs_param *fc_b = facs_param_list_add(&list, FACS_PARAM_TRAINABLE, "fc.bias", FACS_DEVICE_CPU, 10, 1, 1, 1);
    CHECK(fc_w && fc_b, "register a 10-class head: %s", facs_last_error());
    /* Both shapes in PyTorch's rank: a bias is (10,), not the (10, 1, 1, 1) it is stored as. */
    expect_refusal("10-class head", path, &list, &o, "fc.bias", "(1000,) in the file but (10,) in the model");
    if (fc_b && fc_w) {
        o.skip_prefix = "fc.";
        CHECK_OK(facs_weights_load(path, &list, &o, NULL));
        CHECK(report.loaded == r->count - 2 && report.missing == 0 && report.unexpected == 0,
              "skip_prefix fc.: %d loaded (want %d), %d missing, %d unexpected", report.loaded, r->count - 2,
              report.missing, report.unexpected);
        CHECK(all_zero(fc_w->value) && all_zero(fc_b->value), "skip_prefix fc.: the head must keep its values");
        CHECK(!all_zero(list.items[0]->value), "skip_prefix fc.: the backbone must be loaded");
    }
    facs_param_list_free(&list);
}

static int copy_prefix(const char *from, const char *to, double fraction)
{
    FILE *in = fopen(from, "rb"), *out = fopen(to, "wb");
    int ok = in && out && fseek(in, 0, SEEK_END) == 0;
    long keep = ok ? (long)(ftell(in) * fraction) : 0;
    ok = ok && fseek(in, 0, SEEK_SET) == 0;
    char buf[1 << 16];
    for (long left = keep; ok && left > 0;) {
        size_t n = fread(buf, 1, left < (long)sizeof buf ? (size_t)left : sizeof buf, in);
        ok = n > 0 && fwrite(buf, 1, n, out) == n;
        left -= (long)n;
    }
    if (in)
        fclose(in);
    if (out)
        ok &= fclose(out) == 0;
    return ok;
}

static void test_bad_files(const ref_list *r)
{
    char good[PATH_MAX_LEN], cut[PATH_MAX_LEN], text[PATH_MAX_LEN], none[PATH_MAX_LEN];
    facs_param_list list;
    CHECK(build(&list, r, NULL), "build: %s", facs_last_error());
    CHECK(copy_prefix(beside(good, "_converted.h5"), beside(cut, "_truncated.h5"), 0.5), "cut a copy to half");
    expect_refusal("truncated file", cut, &list, NULL, cut, "truncated");
    expect_refusal("text file", beside(text, "_text.txt"), &list, NULL, text, "not an HDF5 file");
    expect_refusal("missing file", beside(none, "_no_such_file.h5"), &list, NULL, none, "No such file");
    expect_refusal("file without /model", beside(none, ".h5"), &list, NULL, none, "no /model group");
    CHECK(all_zero(list.items[0]->value), "refused files must not change any tensor");
    remove(cut);
    facs_param_list_free(&list);
}

static long file_size(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 ? (long)st.st_size : -1;
}

/* Files in path's folder whose name starts with path's name and a dot: what a
 * save could leave behind (a temporary of any naming). */
static int leftovers(const char *path)
{
    char folder[PATH_MAX_LEN];
    snprintf(folder, sizeof folder, "%s", path);
    char *slash = strrchr(folder, '/');
    const char *name = slash ? slash + 1 : path;
    if (slash)
        *slash = '\0';
    size_t len = strlen(name);
    DIR *d = opendir(slash ? folder : ".");
    int count = 0;
    for (struct dirent *e; d && (e = readdir(d));)
        count += strncmp(e->d_name, name, len) == 0 && e->d_name[len] == '.';
    if (d)
        closedir(d);
    return count;
}

/* A failing save reports why, leaves no temporary and keeps the file it would have replaced. */
static void test_failed_save(const ref_list *r)
{
    char one[PATH_MAX_LEN], tmp[PATH_MAX_LEN + 32], nodir[PATH_MAX_LEN], dir[PATH_MAX_LEN];
    facs_param_list list;
    CHECK(build(&list, r, NULL), "build: %s", facs_last_error());
    CHECK_OK(facs_weights_load(beside(one, "_saved1.h5"), &list, NULL, NULL));
    long before = file_size(one);
    snprintf(tmp, sizeof tmp, "%s" FACS_ATOMIC_TMP_MARK "%ld", one, (long)getpid());
    H5E_auto2_t handler = NULL;
    void *handler_data = NULL;
    H5Eget_auto2(H5E_DEFAULT, &handler, &handler_data);

    facs_clear_error();
    CHECK(facs_weights_save(beside(nodir, "_no_such_dir/w.h5"), &list, NULL) == FACS_ERR_IO &&
              contains(facs_last_error(), nodir),
          "save into a missing folder: '%s'", facs_last_error());

    /* A name HDF5 cannot hold makes the save fail after the temporary was created. */
    CHECK_PTR(facs_param_list_add(&list, FACS_PARAM_TRAINABLE, "bad/name", FACS_DEVICE_CPU, 2, 1, 1, 1));
    facs_clear_error();
    CHECK(facs_weights_save(one, &list, NULL) != FACS_OK && contains(facs_last_error(), "bad/name"),
          "save with an invalid name must fail naming it: '%s'", facs_last_error());
    CHECK(access(tmp, F_OK) != 0, "the temporary %s must be removed", tmp);
    CHECK(leftovers(one) == 0, "a failed save must leave nothing beside %s (%d files)", one, leftovers(one));
    CHECK(file_size(one) == before, "the previous file must be untouched (%ld bytes, was %ld)", file_size(one),
          before);
    H5E_auto2_t after = NULL;
    void *after_data = NULL;
    H5Eget_auto2(H5E_DEFAULT, &after, &after_data);
    CHECK(handler && after == handler && after_data == handler_data,
          "a failed save must leave HDF5's error printing as the program set it (was %p, now %p)",
          (void *)(uintptr_t)handler, (void *)(uintptr_t)after);

    /* A name that another extends (a.b and a.b.c): named, not "disk full?". */
    facs_param_list pair;
    facs_param_list_init(&pair);
    CHECK_PTR(facs_param_list_add(&pair, FACS_PARAM_TRAINABLE, "a.b", FACS_DEVICE_CPU, 2, 1, 1, 1));
    CHECK_PTR(facs_param_list_add(&pair, FACS_PARAM_TRAINABLE, "a.b.c", FACS_DEVICE_CPU, 2, 1, 1, 1));
    CHECK(facs_weights_save(one, &pair, NULL) == FACS_ERR_ARG &&
              contains(facs_last_error(), "'a.b' and 'a.b.c' cannot both be saved"),
          "a.b beside a.b.c: '%s'", facs_last_error());
    facs_param_list_free(&pair);

    /* The rename itself fails: a directory sits at the target path. */
    CHECK(mkdir(beside(dir, "_a_directory.h5"), 0755) == 0 || errno == EEXIST, "mkdir %s", dir);
    facs_param_list_free(&list);
    CHECK(build(&list, r, NULL), "build: %s", facs_last_error());
    facs_clear_error();
    CHECK(facs_weights_save(dir, &list, NULL) == FACS_ERR_IO && contains(facs_last_error(), "rename"),
          "save over a directory: '%s'", facs_last_error());
    snprintf(tmp, sizeof tmp, "%s" FACS_ATOMIC_TMP_MARK "%ld", dir, (long)getpid());
    CHECK(access(tmp, F_OK) != 0, "the temporary %s must be removed", tmp);
    CHECK(leftovers(dir) == 0, "a failed save must leave nothing beside %s", dir);
    rmdir(dir);

    /* The intact file still loads. */
    CHECK_OK(facs_weights_load(one, &list, NULL, NULL));
    facs_param_list_free(&list);
}

/* Momentum for every other trainable parameter, from a fixed pattern. */
static void give_momentum(facs_param_list *list)
{
    int trainable = 0;
    for (int i = 0; i < list->count; i++) {
        facs_param *p = list->items[i];
        if (p->kind != FACS_PARAM_TRAINABLE || trainable++ % 2)
            continue;
        size_t n = facs_tensor_numel(p->value);
        float *x = test_alloc(n);
        test_fill(x, n, -1, 1);
        if (facs_param_ensure_momentum(p) == FACS_OK)
            facs_tensor_from_nchw(p->momentum, x, n);
        free(x);
    }
}

static void test_checkpoint(const ref_list *r, h5_file *ref)
{
    char src[PATH_MAX_LEN], ckpt[PATH_MAX_LEN];
    facs_param_list a, b;
    facs_sgd sa, sb;
    facs_sgd_options opt = facs_sgd_defaults();
    opt.momentum = 0.9;
    CHECK(build(&a, r, NULL) && build(&b, r, NULL), "build: %s", facs_last_error());
    CHECK_OK(facs_weights_load(beside(src, "_converted.h5"), &a, NULL, NULL));
    CHECK_OK(facs_sgd_init(&sa, &a, &opt));
    CHECK_OK(facs_sgd_init(&sb, &b, &opt));
    give_momentum(&a);
    sa.steps = 7;
    facs_train_state state = {3, (int64_t)0x7123456789abcdefLL}, back = {0, 0};
    CHECK_OK(facs_weights_save_checkpoint(beside(ckpt, "_ckpt.h5"), &sa, NULL, &state));

    /* b holds a stale buffer for a parameter that had none: resume must drop it. */
    facs_param *stale = NULL;
    for (int i = 0; i < b.count && !stale; i++)
        if (b.items[i]->kind == FACS_PARAM_TRAINABLE && !a.items[i]->momentum)
            stale = b.items[i];
    CHECK(stale && facs_param_ensure_momentum(stale) == FACS_OK, "a stale momentum buffer");
    facs_clear_error();
    CHECK(facs_weights_load_checkpoint(src, &sb, NULL, NULL, &back) != FACS_OK &&
              contains(facs_last_error(), "not a checkpoint") && stale && stale->momentum,
          "a weights file has no training state to resume: '%s'", facs_last_error());
    CHECK_OK(facs_weights_load_checkpoint(ckpt, &sb, NULL, NULL, &back));
    CHECK(sb.steps == 7 && back.epoch == 3 && back.rng == state.rng,
          "resumed steps %lld epoch %lld rng %llx", (long long)sb.steps, (long long)back.epoch,
          (unsigned long long)back.rng);
    check_equals_ref(&b, ref, "checkpoint weights", NULL);
    int differ = 0, presence = 0;
    for (int i = 0; i < a.count; i++) {
        const facs_param *p = a.items[i], *q = b.items[i];
        presence += !p->momentum != !q->momentum;
        if (p->momentum && q->momentum) {
            float *x = test_nchw(p->momentum), *y = test_nchw(q->momentum);
            differ += memcmp(x, y, facs_tensor_bytes(p->momentum)) != 0;
            free(x);
            free(y);
        }
    }
    CHECK(presence == 0 && differ == 0, "momentum after resume: %d buffers present/absent wrongly, %d differ",
          presence, differ);

    h5_file *f = h5_open(ckpt);
    char path[512];
    key_path(path, sizeof path, "/optimizer/momentum", "conv1.weight");
    CHECK(f && h5_exists(f, path) && h5_attr_int(f, "/optimizer", "steps", -1) == 7,
          "optim.h's layout: %s and /optimizer steps", path);
    h5_close(f);
    /* A plain load of a checkpoint takes the weights and leaves the optimizer alone. */
    facs_param_list c;
    CHECK(build(&c, r, NULL), "build: %s", facs_last_error());
    CHECK_OK(facs_weights_load(ckpt, &c, NULL, NULL));
    check_equals_ref(&c, ref, "weights of a checkpoint", NULL);
    facs_param_list_free(&c);
    remove(ckpt);
    facs_sgd_free(&sa);
    facs_sgd_free(&sb);
    facs_param_list_free(&a);
    facs_param_list_free(&b);
}

/* ---- checksums and non-finite values ---- */

/* Flips one byte at offset of path. */
static int flip_byte(const char *path, long long offset)
{
    FILE *f = fopen(path, "r+b");
    int c = f && fseek(f, (long)offset, SEEK_SET) == 0 ? fgetc(f) : EOF;
    int ok = c != EOF && fseek(f, (long)offset, SEEK_SET) == 0 && fputc(c ^ 0x10, f) != EOF;
    if (f)
        ok &= fclose(f) == 0;
    return ok;
}

/* Our saves and the converter's carry the Fletcher-32 filter on every
 * dataset; a flipped byte in a tensor's data is refused naming the file and
 * the tensor, and nothing is loaded; h5py's default files (no filter) load. */
static void test_checksums(const ref_list *r)
{
    char conv[PATH_MAX_LEN], bare[PATH_MAX_LEN], sum[PATH_MAX_LEN];
    facs_param_list list;
    CHECK(build(&list, r, NULL), "build: %s", facs_last_error());
    CHECK_OK(facs_weights_load(beside(conv, "_converted.h5"), &list, NULL, NULL));
    CHECK_OK(facs_weights_save(beside(sum, "_checksum.h5"), &list, NULL));
    h5_file *fs = h5_open(sum), *fc = h5_open(conv), *fb = h5_open(beside(bare, "_bare.h5"));
    int ours = 0, converted = 0, bare_ones = 0;
    for (int i = 0; fs && fc && fb && i < r->count; i++) {
        char path[512];
        key_path(path, sizeof path, "/model", r->names[i]);
        ours += h5_has_fletcher32(fs, path);
        converted += h5_has_fletcher32(fc, path);
        bare_ones += h5_has_fletcher32(fb, path);
    }
    CHECK(ours == r->count, "our save: %d of %d datasets carry the Fletcher-32 checksum", ours, r->count);
    CHECK(converted == r->count, "convert_torchvision.py: %d of %d datasets carry the Fletcher-32 checksum", converted,
          r->count);
    CHECK(bare_ones == 0, "the bare h5py file should have no checksums (%d have)", bare_ones);
    /* HDF5 1.8's format (superblock version 2): checksummed metadata too, so a corrupt object header is refused
     * where the format of 1.0 (version 0, no metadata checksums) let a fuzzed file load twice as often. */
    FILE *f = fopen(sum, "rb");
    unsigned char head[9] = {0};
    CHECK(f && fread(head, 1, sizeof head, f) == sizeof head && head[8] >= 2, "%s: superblock version %d, want 2",
          sum, head[8]);
    if (f)
        fclose(f);
    long long offset = 0, size = 0;
    CHECK(fs && h5_data_extent(fs, "/model/layer1/0/conv1/weight", &offset, &size) && size > 64,
          "find layer1.0.conv1.weight's data in %s", sum);
    h5_close(fs);
    h5_close(fc);
    h5_close(fb);
    facs_param_list_free(&list);

    /* The bare file has nothing to verify and loads (test_load_bare checks its values). */
    CHECK(build(&list, r, NULL), "build: %s", facs_last_error());
    CHECK_OK(facs_weights_load(bare, &list, NULL, NULL));
    facs_param_list_free(&list);

    CHECK(build(&list, r, NULL), "build: %s", facs_last_error());
    if (size > 0 && CHECK(flip_byte(sum, offset + size / 2), "flip a byte of %s", sum))
        expect_refusal("flipped byte", sum, &list, NULL, sum, "tensor layer1.0.conv1.weight fails its checksum");
    CHECK(all_zero(list.items[0]->value), "a corrupt file must not change any tensor");
    facs_param_list_free(&list);
    remove(sum);
}

/* A NaN or an infinity in a weights file is refused, naming the file, the
 * tensor and how many values are bad, whoever wrote it. */
static void test_non_finite(const ref_list *r)
{
    char conv[PATH_MAX_LEN], bad[PATH_MAX_LEN];
    facs_param_list list;
    CHECK(build(&list, r, NULL), "build: %s", facs_last_error());
    CHECK_OK(facs_weights_load(beside(conv, "_converted.h5"), &list, NULL, NULL));
    int k = -1;
    for (int i = 0; i < list.count && k < 0; i++)
        if (strcmp(list.items[i]->name, "layer2.0.conv2.weight") == 0)
            k = i;
    if (!CHECK(k >= 0, "layer2.0.conv2.weight in the list")) {
        facs_param_list_free(&list);
        return;
    }
    float *x = test_nchw(list.items[k]->value);
    x[5] = NAN;
    x[17] = INFINITY;
    x[18] = -INFINITY;
    CHECK_OK(facs_tensor_from_nchw(list.items[k]->value, x, facs_tensor_numel(list.items[k]->value)));
    free(x);
    CHECK_OK(facs_weights_save(beside(bad, "_nan.h5"), &list, NULL));
    facs_param_list_free(&list);
    CHECK(build(&list, r, NULL), "build: %s", facs_last_error());
    expect_refusal("NaN and infinities", bad, &list, NULL, bad, "layer2.0.conv2.weight holds 3 non-finite values");
    CHECK(all_zero(list.items[0]->value), "a refused load must not change any tensor");
    facs_param_list_free(&list);
    remove(bad);
}

/* ---- string attributes ---- */

static void test_text_attrs(const ref_list *r)
{
    char conv[PATH_MAX_LEN], path[PATH_MAX_LEN];
    facs_param_list list;
    facs_sgd sgd;
    facs_sgd_options opt = facs_sgd_defaults();
    opt.momentum = 0.9;
    CHECK(build(&list, r, NULL), "build: %s", facs_last_error());
    CHECK_OK(facs_weights_load(beside(conv, "_converted.h5"), &list, NULL, NULL));
    CHECK_OK(facs_sgd_init(&sgd, &list, &opt));
    give_momentum(&list);
    sgd.steps = 11;
    /* Long (past HDF5's 64 KiB object header) and not ASCII: what a run's log can be. */
    size_t n = 200000;
    char *log = malloc(n + 1);
    for (size_t i = 0; log && i < n; i++)
        log[i] = "[{\"epoch\": 1, \"top1\": 0.5}, "[i % 28];
    if (log)
        log[n] = '\0';
    const char *options = "{\"lr\": 0.1, \"note\": \"\xc3\xa9t\xc3\xa9 \xe2\x82\xac\"}";
    facs_weights_text_attr attrs[] = {{"run_options", options}, {"run_log", log ? log : ""}};
    facs_weights_meta meta = facs_weights_meta_unknown();
    snprintf(meta.arch, sizeof meta.arch, "resnet50");
    facs_train_state state = {4, 99}, back_state = {0, 0};
    CHECK_OK(facs_weights_save_ex(beside(path, "_attrs.h5"), &list, &sgd, &meta, &state, attrs, 2));
    char *got = NULL;
    CHECK_OK(facs_weights_read_text_attr(path, "run_options", &got));
    CHECK(got && strcmp(got, options) == 0, "run_options read back as '%s'", got ? got : "(null)");
    free(got);
    got = NULL;
    CHECK_OK(facs_weights_read_text_attr(path, "run_log", &got));
    CHECK(got && log && strcmp(got, log) == 0, "run_log (%zu bytes) must read back whole (%zu bytes)", n,
          got ? strlen(got) : 0);
    free(got);
    got = (char *)1;
    CHECK(facs_weights_read_text_attr(path, "no_such_attr", &got) == FACS_OK && got == NULL,
          "an absent attribute reads as NULL, not an error");
    facs_clear_error();
    CHECK(facs_weights_read_text_attr(path, "format_version", &got) != FACS_OK && got == NULL &&
              contains(facs_last_error(), path) && contains(facs_last_error(), "format_version"),
          "an int64 attribute is not a string: '%s'", facs_last_error());
    /* The same file is a checkpoint like any other. */
    facs_param_list other;
    facs_sgd sgd2;
    CHECK(build(&other, r, NULL), "build: %s", facs_last_error());
    CHECK_OK(facs_sgd_init(&sgd2, &other, &opt));
    CHECK_OK(facs_weights_load_checkpoint(path, &sgd2, NULL, NULL, &back_state));
    CHECK(sgd2.steps == 11 && back_state.epoch == 4 && back_state.rng == 99, "checkpoint with attributes: steps %lld",
          (long long)sgd2.steps);
    facs_sgd_free(&sgd2);
    facs_param_list_free(&other);
    /* Weights-only saves take them too. */
    CHECK_OK(facs_weights_save_ex(path, &list, NULL, NULL, NULL, attrs, 1));
    got = NULL;
    CHECK_OK(facs_weights_read_text_attr(path, "run_options", &got));
    CHECK(got && strcmp(got, options) == 0, "weights-only save: run_options '%s'", got ? got : "(null)");
    free(got);

    /* Names the file owns or repeats are refused before anything is written. */
    long before = file_size(path);
    facs_weights_text_attr twice[] = {{"a", "1"}, {"a", "2"}}, own[] = {{"architecture", "vgg"}};
    facs_clear_error();
    CHECK(facs_weights_save_ex(path, &list, NULL, NULL, NULL, twice, 2) == FACS_ERR_ARG &&
              contains(facs_last_error(), "'a' given twice"),
          "an attribute given twice: '%s'", facs_last_error());
    facs_clear_error();
    CHECK(facs_weights_save_ex(path, &list, NULL, &meta, NULL, own, 1) == FACS_ERR_ARG &&
              contains(facs_last_error(), "architecture"),
          "an attribute the meta writes: '%s'", facs_last_error());
    CHECK(file_size(path) == before && leftovers(path) == 0, "refused saves leave the file as it was");
    remove(path);
    free(log);
    facs_sgd_free(&sgd);
    facs_param_list_free(&list);
}

int main(int argc, char **argv)
{
    test_seed_from_env();
    h5_file *ref = test_open_ref(argc, argv);
    if (!ref)
        return 1;
    size_t len = strlen(argv[1]);
    snprintf(base, sizeof base, "%.*s", (int)(len > 3 && strcmp(argv[1] + len - 3, ".h5") == 0 ? len - 3 : len),
             argv[1]);
    ref_list r = {0};
    if (!CHECK(read_ref_list(ref, &r), "read the reference list from %s", argv[1])) {
        free_ref_list(&r);
        h5_close(ref);
        return test_finish();
    }
    test_load_converted(&r, ref);
    test_load_bare(&r, ref);
    test_round_trip(&r, ref);
    test_refusals(&r);
    test_bad_files(&r);
    test_failed_save(&r);
    test_checkpoint(&r, ref);
    test_checksums(&r);
    test_non_finite(&r);
    test_text_attrs(&r);
    char path[PATH_MAX_LEN];
    remove(beside(path, "_saved1.h5"));
    remove(beside(path, "_saved2.h5"));
    free_ref_list(&r);
    h5_close(ref);
    return test_finish();
}
