/* Image folders against torchvision.datasets.ImageFolder.
 *
 * 1. The tree written by tests/ref/ref_image_folder.py: classes, the order of
 *    the samples (relative paths) and their targets must equal ImageFolder's
 *    exactly (the tree is built so that code point sorting, whole-path folder
 *    sorting, extension case and skipped files all matter), and every sample
 *    loaded through the dataset must equal PIL's convert("RGB") bit for bit.
 *    With a class list in another order (class_list.h, --classes-file) the
 *    samples and targets must equal make_dataset(root, class_to_idx)'s.
 * 2. The dataset plugs into the loader: with 0 and 2 workers the epoch's
 *    batches are identical and each label is its index's target.
 * 3. Bad input, each an error naming the folder or file and the problem: a
 *    missing root, a root without class folders, a class folder without
 *    images, an ImageFolder extension not decoded here, a symbolic link loop,
 *    and a corrupt image (at load time, directly and through the loader). */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "class_list.h"
#include "image_folder.h"
#include "test_util.h"

static char work[4096];

/* Splits a uint8 dataset of NUL-terminated names; returns how many (at most max). */
static int split_names(int *bytes, size_t n, char *buf, char **out, int max)
{
    int count = 0;
    size_t start = 0;
    for (size_t i = 0; i < n; i++) {
        buf[i] = (char)bytes[i];
        if (bytes[i] == 0) {
            if (count < max)
                out[count] = buf + start;
            count++;
            start = i + 1;
        }
    }
    return count;
}

/* dir/name into out; an empty path (which fails loudly in the caller) when it does not fit. */
static void join(char *out, size_t size, const char *dir, const char *name)
{
    if (snprintf(out, size, "%s/%s", dir, name) >= (int)size)
        out[0] = '\0';
}

static void remove_tree(const char *path)
{
    struct stat st;
    if (lstat(path, &st) != 0)
        return;
    if (S_ISDIR(st.st_mode)) {
        DIR *d = opendir(path);
        struct dirent *e;
        char child[4096];
        while (d && (e = readdir(d)))
            if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) {
                join(child, sizeof child, path, e->d_name);
                remove_tree(child);
            }
        if (d)
            closedir(d);
        rmdir(path);
    } else {
        unlink(path);
    }
}

/* Creates work/rel's folders and writes a small valid PNG there when rel ends in .png. */
static void make_file(const char *rel, const char *text)
{
    char path[4096];
    join(path, sizeof path, work, rel);
    for (char *p = path + strlen(work) + 1; (p = strchr(p, '/')); p++) {
        *p = '\0';
        mkdir(path, 0777);
        *p = '/';
    }
    if (!text) {
        uint8_t px[2 * 2 * 3] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12};
        facs_image img = {2, 2, 3, px};
        CHECK_OK(facs_png_write(path, &img));
        return;
    }
    FILE *f = fopen(path, "w");
    if (CHECK(f != NULL, "cannot write %s", path)) {
        fputs(text, f);
        fclose(f);
    }
}

static void expect_open_fail(const char *what, const char *root, facs_status want, const char *const *needles)
{
    facs_image_folder f;
    facs_clear_error();
    facs_status s = facs_image_folder_open(root, &f);
    const char *msg = facs_last_error();
    CHECK(s == want, "%s: status %d, want %d (%s)", what, (int)s, (int)want, msg);
    for (int i = 0; needles[i]; i++)
        CHECK(strstr(msg, needles[i]) != NULL, "%s: message '%s' lacks '%s'", what, msg, needles[i]);
    CHECK(f.count == 0 && f.paths == NULL && f.classes == NULL && f.root == NULL, "%s: folder not left empty", what);
    printf("  %-26s -> %s\n", what, msg);
    facs_image_folder_free(&f);
}

/* f against the reference's group (/ or /given): classes, paths and targets. */
static void compare_listing(h5_file *ref, const char *group, const facs_image_folder *f)
{
    int rank;
    size_t dims[8] = {0}, pdims[8] = {0}, tdims[8] = {0};
    char key[64];
    snprintf(key, sizeof key, "%s/classes", group);
    int *cbytes = h5_read_i32(ref, key, &rank, dims);
    snprintf(key, sizeof key, "%s/paths", group);
    int *pbytes = h5_read_i32(ref, key, &rank, pdims);
    snprintf(key, sizeof key, "%s/targets", group);
    int *targets = h5_read_i32(ref, key, &rank, tdims);
    char *cbuf = malloc(dims[0] + 1), *pbuf = malloc(pdims[0] + 1);
    char *classes[64], *paths[256];
    int nc = cbytes ? split_names(cbytes, dims[0], cbuf, classes, 64) : -1;
    int np = pbytes ? split_names(pbytes, pdims[0], pbuf, paths, 256) : -1;
    CHECK(targets && (int)tdims[0] == np, "reference: %d paths, %zu targets", np, tdims[0]);
    if (CHECK(f->num_classes == nc, "%d classes, ImageFolder has %d", f->num_classes, nc))
        for (int c = 0; c < nc; c++)
            CHECK(strcmp(f->classes[c], classes[c]) == 0, "class %d: '%s', ImageFolder '%s'", c, f->classes[c],
                  classes[c]);
    if (CHECK(f->count == np, "%d samples, ImageFolder has %d", f->count, np))
        for (int i = 0; i < np; i++)
            CHECK(strcmp(f->paths[i], paths[i]) == 0 && targets && f->labels[i] == targets[i],
                  "sample %d: '%s' class %d, ImageFolder '%s' class %d", i, f->paths[i], f->labels[i], paths[i],
                  targets ? targets[i] : -1);
    printf("  %d classes, %d samples, same order and targets as ImageFolder%s\n", nc, np,
           group[0] ? " given class_to_idx" : "");
    free(cbytes);
    free(pbytes);
    free(targets);
    free(cbuf);
    free(pbuf);
}

static void compare_pixels(h5_file *ref, const facs_image_folder *f, const facs_dataset *ds)
{
    int rank;
    size_t dims[8], sdims[8];
    int *pixels = h5_read_i32(ref, "/pixels", &rank, dims);
    int *shapes = h5_read_i32(ref, "/shapes", &rank, sdims);
    if (!CHECK(pixels && shapes && (int)sdims[0] == ds->count, "reference pixels missing"))
        return;
    size_t off = 0, bad = 0;
    for (int i = 0; i < ds->count; i++) {
        facs_image img = {0};
        facs_label label = {0};
        if (!CHECK_OK(ds->load(ds, i, &img, &label)))
            return;
        int h = shapes[2 * i], w = shapes[2 * i + 1];
        if (CHECK(img.height == h && img.width == w && img.channels == 3 && off + (size_t)h * w * 3 <= dims[0],
                  "%s: %dx%dx%d, PIL %dx%dx3", f->paths[i], img.height, img.width, img.channels, h, w)) {
            size_t b = 0;
            for (size_t k = 0; k < (size_t)h * w * 3; k++)
                b += img.pixels[k] != pixels[off + k];
            CHECK(b == 0, "%s: %zu of %d bytes differ from PIL", f->paths[i], b, h * w * 3);
            bad += b;
        }
        CHECK(label.cls == f->labels[i], "%s: loaded class %d, listed %d", f->paths[i], label.cls, f->labels[i]);
        off += (size_t)h * w * 3;
        facs_image_free(&img);
    }
    CHECK(off == dims[0], "pixels: %zu bytes used of %zu", off, dims[0]);
    printf("  %d images decoded as RGB, %zu bytes differ from PIL\n", ds->count, bad);
    free(pixels);
    free(shapes);
}

#define SIDE 3
#define BATCH 4

/* One epoch through the loader; fills labels/indices/images (count entries) and returns batches seen. */
static int run_loader(const facs_dataset *ds, const facs_cls_aug *aug, int workers, float *images, int32_t *labels,
                      int *indices)
{
    facs_loader_opts o = facs_loader_defaults();
    o.batch_size = BATCH;
    o.shuffle = 1;
    o.seed = 7;
    o.workers = workers;
    o.height = o.width = SIDE;
    o.channels = 3;
    o.transform = facs_cls_transform;
    o.transform_opts = aug;
    facs_loader *l;
    if (!CHECK_OK(facs_loader_create(ds, &o, &l)))
        return 0;
    int batches = 0, seen = 0;
    for (;;) {
        const facs_batch *b;
        if (!CHECK_OK(facs_loader_next(l, &b)) || !b)
            break;
        batches++;
        memcpy(images + (size_t)seen * SIDE * SIDE * 3, b->images, sizeof(float) * b->n * SIDE * SIDE * 3);
        memcpy(labels + seen, b->labels, sizeof(int32_t) * b->n);
        memcpy(indices + seen, b->indices, sizeof(int) * b->n);
        seen += b->n;
    }
    CHECK(seen == ds->count, "%d workers: %d samples in the epoch, want %d", workers, seen, ds->count);
    facs_loader_free(l);
    return batches;
}

static void test_loader(const facs_image_folder *f, const facs_dataset *ds)
{
    facs_cls_aug aug = facs_cls_aug_imagenet_eval();
    aug.resize_shorter = SIDE;
    aug.out_height = aug.out_width = SIDE;
    size_t n = (size_t)ds->count * SIDE * SIDE * 3;
    float *img0 = calloc(n, sizeof(float)), *img2 = calloc(n, sizeof(float));
    int32_t *lab0 = calloc((size_t)ds->count, sizeof(int32_t)), *lab2 = calloc((size_t)ds->count, sizeof(int32_t));
    int *idx0 = calloc((size_t)ds->count, sizeof(int)), *idx2 = calloc((size_t)ds->count, sizeof(int));
    int b0 = run_loader(ds, &aug, 0, img0, lab0, idx0);
    int b2 = run_loader(ds, &aug, 2, img2, lab2, idx2);
    CHECK(b0 == (ds->count + BATCH - 1) / BATCH && b0 == b2, "batches: %d and %d", b0, b2);
    CHECK(!memcmp(img0, img2, n * sizeof(float)) && !memcmp(lab0, lab2, ds->count * sizeof(int32_t)) &&
              !memcmp(idx0, idx2, ds->count * sizeof(int)),
          "0 and 2 workers give different batches");
    int wrong = 0, identity = 1;
    for (int i = 0; i < ds->count; i++) {
        wrong += lab0[i] != f->labels[idx0[i]];
        identity &= idx0[i] == i;
    }
    CHECK(wrong == 0 && !identity, "%d labels are not their index's class (shuffled: %d)", wrong, !identity);
    printf("  loader: %d batches of %d, identical with 0 and 2 workers\n", b0, BATCH);
    free(img0);
    free(img2);
    free(lab0);
    free(lab2);
    free(idx0);
    free(idx2);
}

static void test_bad_input(void)
{
    printf("bad input:\n");
    char root[4096], p[4096];
    join(root, sizeof root, work, "bad");
    expect_open_fail("missing root", "/nonexistent/folder", FACS_ERR_IO,
                     (const char *const[]){"/nonexistent/folder", NULL});
    remove_tree(root);
    make_file("bad/readme.txt", "x");
    expect_open_fail("no class folder", root, FACS_ERR_FORMAT,
                     (const char *const[]){root, "no class folder", NULL});
    make_file("bad/cat/a.png", NULL);
    make_file("bad/dog/notes.txt", "x");
    make_file("bad/emu/sub/b.gif", "x");
    expect_open_fail("classes without images", root, FACS_ERR_FORMAT,
                     (const char *const[]){root, "no valid file for the classes dog, emu", NULL});
    make_file("bad/dog/d.jpg", NULL);
    make_file("bad/emu/sub/x.BMP", "x");
    join(p, sizeof p, root, "emu/sub/x.BMP");
    expect_open_fail("a .bmp file", root, FACS_ERR_FORMAT, (const char *const[]){p, ".png", NULL});
    unlink(p);
    make_file("bad/emu/sub/e.png", NULL);
    join(p, sizeof p, root, "emu/sub/loop");
    CHECK(symlink("..", p) == 0, "symlink %s", p);
    expect_open_fail("symbolic link loop", root, FACS_ERR_FORMAT, (const char *const[]){p, "loops", NULL});
    unlink(p);
    char deep[256] = "bad/deep";
    for (int i = 0; i < 64; i++)
        strcat(deep, "/d");
    strcat(deep, "/x.png");
    make_file(deep, NULL); /* the class folder "deep" and 64 below it */
    expect_open_fail("65 folders deep", root, FACS_ERR_FORMAT,
                     (const char *const[]){"more than 64 folders deep", NULL});
    join(p, sizeof p, root, "deep");
    remove_tree(p);

    /* d.jpg holds PNG bytes (decoded by signature, fine); a truncated PNG is corrupt. */
    make_file("bad/dog/z.png", "\x89PNG\r\n\x1a\n\0\0\0\rIHDR");
    facs_image_folder f;
    if (!CHECK_OK(facs_image_folder_open(root, &f)))
        return;
    CHECK(f.count == 4 && f.num_classes == 3 && !strcmp(f.paths[2], "dog/z.png") && f.labels[2] == 1,
          "bad tree: %d samples, %d classes", f.count, f.num_classes);
    facs_dataset ds;
    facs_image_folder_dataset(&f, &ds);
    facs_image img = {0};
    facs_label label = {0};
    join(p, sizeof p, root, "dog/z.png");
    facs_status s = ds.load(&ds, 2, &img, &label);
    CHECK(s != FACS_OK && strstr(facs_last_error(), p), "corrupt image: status %d, '%s'", (int)s,
          facs_last_error());
    printf("  %-26s -> %s\n", "corrupt image", facs_last_error());
    facs_image_free(&img);
    facs_cls_aug aug = facs_cls_aug_imagenet_eval();
    aug.resize_shorter = 2;
    aug.out_height = aug.out_width = 2;
    facs_loader_opts o = facs_loader_defaults();
    o.batch_size = 4;
    o.workers = 2;
    o.height = o.width = 2;
    o.channels = 3;
    o.transform = facs_cls_transform;
    o.transform_opts = &aug;
    facs_loader *l;
    if (CHECK_OK(facs_loader_create(&ds, &o, &l))) {
        const facs_batch *b;
        s = facs_loader_next(l, &b);
        CHECK(s != FACS_OK && strstr(facs_last_error(), p), "loader: status %d, '%s'", (int)s, facs_last_error());
        printf("  %-26s -> %s\n", "corrupt image, loader", facs_last_error());
        facs_loader_free(l);
    }
    CHECK(facs_image_folder_path(&f, 4, p, sizeof p) == FACS_ERR_ARG, "path of sample 4 of 4");
    facs_image_folder_free(&f);
    facs_image_folder_free(NULL);
    remove_tree(root);
}

int main(int argc, char **argv)
{
    h5_file *ref = test_open_ref(argc, argv);
    char root[4096];
    snprintf(root, sizeof root, "%.*s_data/root/", (int)(strlen(argv[1]) - 3), argv[1]);
    snprintf(work, sizeof work, "%.*s_work", (int)(strlen(argv[1]) - 3), argv[1]);
    mkdir(work, 0777);
    printf("reference tree (a trailing slash on the root is fine):\n");
    facs_image_folder f;
    if (CHECK_OK(facs_image_folder_open(root, &f))) {
        facs_dataset ds;
        facs_image_folder_dataset(&f, &ds);
        compare_listing(ref, "", &f);
        compare_pixels(ref, &f, &ds);
        test_loader(&f, &ds);
        facs_image_folder_free(&f);
    }
    printf("the classes fixed by a list in another order:\n");
    const char *given[] = {"b_d", "Zebra", "b-c", "apple"};
    if (CHECK_OK(facs_image_folder_open_classes(root, given, 4, 0, "the list", &f))) {
        compare_listing(ref, "/given", &f);
        facs_image_folder_free(&f);
    }
    test_bad_input();
    h5_close(ref);
    remove_tree(work);
    return test_finish();
}
