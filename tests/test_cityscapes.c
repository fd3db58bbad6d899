/* The Cityscapes reader against a tree written independently with PIL
 * (tests/ref/ref_cityscapes.py), the synthetic writer round trip (its instanceIds
 * included), and bad input.
 *
 * All comparisons are exact: decoded pixels and trainIds are integers that must
 * equal PIL's bit for bit, and the pixel histogram of `check` must equal numpy's.
 * Bad input includes labels without their image, which `check` must refuse,
 * and labelIds PNGs holding more than labelIds. The ignore label of an index
 * (pspnet-train --ignore-index) is what trainIds hold and void labelIds become.
 * Output folders inside the data's folders are refused. */
#define _XOPEN_SOURCE 700
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cityscapes.h"
#include "test_util.h"

/* ---- helpers ---- */

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st, (void)flag, (void)ftw;
    return remove(path);
}

static void rm_tree(const char *path) { nftw(path, rm_entry, 16, FTW_DEPTH | FTW_PHYS); }

static int contains(const char *haystack, const char *needle) { return strstr(haystack, needle) != NULL; }

/* out = root + rest; the test's paths are far below PATH_MAX, so a longer one is a setup error. */
static void join(char *out, size_t size, const char *root, const char *rest)
{
    if (snprintf(out, size, "%s%s", root, rest) >= (int)size) {
        fprintf(stderr, "path too long: %s%s\n", root, rest);
        exit(1);
    }
}

/* The error of the last failing call must name every one of the given pieces. */
static void check_message(const char *what, const char *a, const char *b, const char *c)
{
    const char *msg = facs_last_error();
    const char *parts[3] = {a, b, c};
    for (int i = 0; i < 3; i++)
        if (parts[i])
            CHECK(contains(msg, parts[i]), "%s: message '%s' does not mention '%s'", what, msg, parts[i]);
}

/* A 1-channel label of w x h filled with value, written as a PNG. */
static void write_label(const char *path, int w, int h, int value)
{
    facs_image img = {w, h, 1, malloc((size_t)w * h)};
    memset(img.pixels, value, (size_t)w * h);
    CHECK_OK(facs_png_write(path, &img));
    facs_image_free(&img);
}

/* ---- the PIL-written tree ---- */

static void test_reference_tree(h5_file *ref, const char *root)
{
    facs_cityscapes_pairs ds;
    if (!CHECK_OK(facs_cityscapes_index(root, "val", &ds)))
        return;
    int count = (int)h5_attr_int(ref, "/val", "count", -1);
    CHECK(ds.count == count, "val: %d frames indexed, %d written", ds.count, count);
    static const char *const cities[2] = {"bremen", "zurich"};
    for (int i = 0; i < ds.count && i < count; i++) {
        char group[64], key[96], want_path[4096];
        snprintf(group, sizeof group, "/val/pair%d", i);
        const char *city = cities[h5_attr_int(ref, group, "city", 0) == 1];
        int seq = (int)h5_attr_int(ref, group, "seq", -1), is_ids = (int)h5_attr_int(ref, group, "is_ids", -1);
        /* The order: each frame must sit where sorting cities, then files, puts it. */
        char rest[256];
        snprintf(rest, sizeof rest, "/leftImg8bit/val/%s/%s_%06d_000019_leftImg8bit.png", city, city, seq);
        join(want_path, sizeof want_path, root, rest);
        CHECK(strcmp(ds.pairs[i].image, want_path) == 0, "frame %d is %s, expected %s", i, ds.pairs[i].image,
              want_path);
        CHECK(ds.pairs[i].label_is_ids == is_ids, "frame %d: label_is_ids %d, expected %d (%s)", i,
              ds.pairs[i].label_is_ids, is_ids, ds.pairs[i].label);
        facs_image image, label;
        if (!CHECK_OK(facs_cityscapes_load_pair(&ds, i, &image, &label)))
            continue;
        int rank;
        size_t dims[8];
        snprintf(key, sizeof key, "%s/image", group);
        int *want_rgb = h5_read_i32(ref, key, &rank, dims);
        snprintf(key, sizeof key, "%s/train", group);
        int *want_train = h5_read_i32(ref, key, &rank, dims);
        int h = (int)dims[0], w = (int)dims[1];
        if (CHECK(want_rgb && want_train, "frame %d: reference missing", i) &&
            CHECK(image.width == w && image.height == h && image.channels == 3 && label.width == w &&
                      label.height == h && label.channels == 1,
                  "frame %d: decoded %dx%dx%d / %dx%dx%d, expected %dx%dx3 / %dx%dx1", i, image.width, image.height,
                  image.channels, label.width, label.height, label.channels, w, h, w, h)) {
            size_t n = (size_t)w * h, bad_rgb = 0, bad_train = 0;
            for (size_t k = 0; k < 3 * n; k++)
                bad_rgb += image.pixels[k] != want_rgb[k];
            for (size_t k = 0; k < n; k++)
                bad_train += label.pixels[k] != want_train[k];
            CHECK(bad_rgb == 0, "frame %d (%s): %zu RGB bytes differ from PIL", i, ds.pairs[i].image, bad_rgb);
            CHECK(bad_train == 0, "frame %d (%s): %zu trainIds differ from the reference", i, ds.pairs[i].label,
                  bad_train);
        }
        free(want_rgb);
        free(want_train);
        facs_image_free(&image);
        facs_image_free(&label);
    }
    facs_cityscapes_index_free(&ds);

    facs_cityscapes_report rep;
    if (!CHECK_OK(facs_cityscapes_check(root, &rep)))
        return;
    CHECK(rep.present[0] && rep.present[1] && !rep.present[2], "present %d %d %d, expected 1 1 0", rep.present[0],
          rep.present[1], rep.present[2]);
    CHECK(rep.images[0] == h5_attr_int(ref, "/report", "train", -1) &&
              rep.images[1] == h5_attr_int(ref, "/report", "val", -1) && rep.images[2] == 0,
          "check counted %d/%d/%d frames", rep.images[0], rep.images[1], rep.images[2]);
    CHECK(rep.from_label_ids == h5_attr_int(ref, "/report", "from_ids", -1), "check: %d frames from labelIds",
          rep.from_label_ids);
    CHECK((long)rep.ignored == h5_attr_int(ref, "/report", "ignored", -1), "check: %llu ignored pixels",
          (unsigned long long)rep.ignored);
    int rank;
    size_t dims[8];
    int *hist = h5_read_i32(ref, "/report/hist", &rank, dims);
    if (CHECK(hist && dims[0] == FACS_CITYSCAPES_CLASSES, "reference histogram missing"))
        for (int c = 0; c < FACS_CITYSCAPES_CLASSES; c++)
            CHECK(rep.pixels[c] == (uint64_t)hist[c], "check: class %d has %llu pixels, expected %d", c,
                  (unsigned long long)rep.pixels[c], hist[c]);
    free(hist);
}

/* ---- the official tables ---- */

static void test_tables(void)
{
    /* labelId -> trainId written out from cityscapesscripts' labels.py. */
    static const int pairs[][2] = {{7, 0},   {8, 1},   {11, 2},  {12, 3},  {13, 4},  {17, 5},  {19, 6},
                                   {20, 7},  {21, 8},  {22, 9},  {23, 10}, {24, 11}, {25, 12}, {26, 13},
                                   {27, 14}, {28, 15}, {31, 16}, {32, 17}, {33, 18}};
    int want[256];
    for (int v = 0; v < 256; v++)
        want[v] = 255;
    for (size_t k = 0; k < sizeof pairs / sizeof pairs[0]; k++)
        want[pairs[k][0]] = pairs[k][1];
    int bad = 0;
    for (int v = -1; v < 256; v++)
        bad += facs_cityscapes_train_id(v) != (v < 0 ? 255 : want[v]);
    CHECK(bad == 0, "labelId -> trainId: %d values mapped wrongly", bad);
    const char *const *names = facs_cityscapes_class_names;
    CHECK(strcmp(names[0], "road") == 0 && strcmp(names[6], "traffic light") == 0 && strcmp(names[18], "bicycle") == 0,
          "class names");
    const uint8_t *sky = facs_cityscapes_palette[10], *bicycle = facs_cityscapes_palette[18];
    CHECK(sky[0] == 70 && sky[1] == 130 && sky[2] == 180 && bicycle[0] == 119 && bicycle[1] == 11 && bicycle[2] == 32,
          "palette");
}

/* ---- synthetic data round trip ---- */

static const int drawn[] = {0, 1, 2, 5, 7, 8, 9, 10, 11, 13}; /* road .. car, as synth_cityscapes.c draws */
#define NDRAWN ((int)(sizeof drawn / sizeof drawn[0]))

static int nearest_palette(const uint8_t *p)
{
    int best = 0, best_d = 1 << 30;
    for (int k = 0; k < NDRAWN; k++) {
        const uint8_t *c = facs_cityscapes_palette[drawn[k]];
        int d = (p[0] - c[0]) * (p[0] - c[0]) + (p[1] - c[1]) * (p[1] - c[1]) + (p[2] - c[2]) * (p[2] - c[2]);
        if (d < best_d)
            best_d = d, best = drawn[k];
    }
    return best;
}

/* The instanceIds of a frame must follow its labelIds as json2instanceImg writes
 * them: a person (24) or car (26) pixel is labelId * 1000 + k, k < 3 (synth draws
 * at most 3 of each per frame), any other pixel its labelId. Returns the bad
 * pixels; sets bit 0 of *seen for a person instance, bit 1 for a car one. */
static size_t instance_errors(const facs_image16 *inst, const facs_image *ids, int *seen)
{
    if (inst->width != ids->width || inst->height != ids->height)
        return (size_t)ids->width * ids->height;
    size_t bad = 0;
    for (size_t k = 0; k < (size_t)ids->width * ids->height; k++) {
        int v = inst->pixels[k], id = ids->pixels[k], object = id == 24 || id == 26;
        bad += object ? v / 1000 != id || v % 1000 >= 3 : v != id;
        *seen |= (v / 1000 == 24) | (v / 1000 == 26) << 1;
    }
    return bad;
}

static void test_synth(const char *root)
{
    rm_tree(root);
    if (!CHECK_OK(facs_cityscapes_synth(root, 4, 3, 256, 128, 7)))
        return;
    facs_cityscapes_report rep;
    if (!CHECK_OK(facs_cityscapes_check(root, &rep)))
        return;
    CHECK(rep.images[0] == 4 && rep.images[1] == 3 && rep.images[2] == 0 && !rep.present[2],
          "synth: check counted %d/%d/%d frames", rep.images[0], rep.images[1], rep.images[2]);
    CHECK(rep.from_label_ids == 0, "synth: %d frames read from labelIds though labelTrainIds exist",
          rep.from_label_ids);
    uint64_t total = rep.ignored;
    for (int c = 0; c < FACS_CITYSCAPES_CLASSES; c++) {
        int is_drawn = 0;
        for (int k = 0; k < NDRAWN; k++)
            is_drawn |= drawn[k] == c;
        CHECK(is_drawn ? rep.pixels[c] > 0 : rep.pixels[c] == 0, "synth: class %s has %llu pixels",
              facs_cityscapes_class_names[c], (unsigned long long)rep.pixels[c]);
        total += rep.pixels[c];
    }
    CHECK(total == 7ull * 256 * 128, "synth: histogram sums to %llu pixels", (unsigned long long)total);
    CHECK(rep.ignored > 0, "synth: no ignored (ego vehicle) pixels");

    /* Names, label consistency and local learnability, frame by frame. */
    facs_cityscapes_pairs ds;
    for (int split = 0; split < 2; split++) {
        if (!CHECK_OK(facs_cityscapes_index(root, facs_cityscapes_split_names[split], &ds)))
            continue;
        const char *first = split ? "/leftImg8bit/val/frankfurt/frankfurt_000000_000019_leftImg8bit.png"
                                  : "/leftImg8bit/train/aachen/aachen_000000_000019_leftImg8bit.png";
        const char *last = split ? "/leftImg8bit/val/lindau/lindau_000000_000019_leftImg8bit.png"
                                 : "/leftImg8bit/train/bochum/bochum_000001_000019_leftImg8bit.png";
        CHECK(contains(ds.pairs[0].image, first) && contains(ds.pairs[ds.count - 1].image, last),
              "synth: frames %s .. %s", ds.pairs[0].image, ds.pairs[ds.count - 1].image);
        size_t hits = 0, labelled = 0, inconsistent = 0, bad_color = 0, bad_instances = 0;
        int seen = 0;
        for (int i = 0; i < ds.count; i++) {
            facs_image rgb, train, ids, color;
            facs_image16 inst;
            if (!CHECK_OK(facs_cityscapes_load_pair(&ds, i, &rgb, &train)))
                continue;
            char path[4096];
            size_t stem = strlen(ds.pairs[i].label) - strlen("_gtFine_labelTrainIds.png");
            snprintf(path, sizeof path, "%.*s_gtFine_labelIds.png", (int)stem, ds.pairs[i].label);
            int ok = CHECK_OK(facs_image_read_label(path, &ids));
            snprintf(path, sizeof path, "%.*s_gtFine_color.png", (int)stem, ds.pairs[i].label);
            ok &= CHECK_OK(facs_image_read(path, 3, &color));
            snprintf(path, sizeof path, "%.*s_gtFine_instanceIds.png", (int)stem, ds.pairs[i].label);
            if (CHECK_OK(facs_image16_read(path, &inst)) && ok)
                bad_instances += instance_errors(&inst, &ids, &seen);
            facs_image16_free(&inst);
            size_t n = (size_t)rgb.width * rgb.height;
            for (size_t k = 0; ok && k < n; k++) {
                int t = train.pixels[k];
                inconsistent += facs_cityscapes_train_id(ids.pixels[k]) != t;
                for (int c = 0; c < 3; c++)
                    bad_color += color.pixels[3 * k + c] != (t == 255 ? 0 : facs_cityscapes_palette[t][c]);
                if (t != 255) {
                    labelled++;
                    hits += nearest_palette(rgb.pixels + 3 * k) == t;
                }
            }
            facs_image_free(&rgb);
            facs_image_free(&train);
            facs_image_free(&ids);
            facs_image_free(&color);
        }
        CHECK(inconsistent == 0, "synth %s: %zu pixels where labelTrainIds != map(labelIds)",
              facs_cityscapes_split_names[split], inconsistent);
        CHECK(bad_color == 0, "synth %s: %zu _color bytes differ from the palette", facs_cityscapes_split_names[split],
              bad_color);
        CHECK(bad_instances == 0, "synth %s: %zu instanceIds disagree with the labelIds",
              facs_cityscapes_split_names[split], bad_instances);
        CHECK(seen == 3, "synth %s: no %s instance in any frame", facs_cityscapes_split_names[split],
              seen & 1 ? "car (26000+)" : "person (24000+)");
        /* The nearest palette colour of a single pixel already names its class
         * for most pixels (lane marks, car windows, building windows and noise
         * account for the rest), so the classes are learnable from appearance. */
        double acc = labelled ? (double)hits / (double)labelled : 0.0;
        printf("synth %s: nearest-palette pixel accuracy %.3f\n", facs_cityscapes_split_names[split], acc);
        CHECK(acc > 0.95, "synth %s: nearest-palette pixel accuracy %.3f <= 0.95", facs_cityscapes_split_names[split],
              acc);
        facs_cityscapes_index_free(&ds);
    }

    /* Same arguments, same bytes. */
    char again[4096], a[4096], b[4096];
    join(again, sizeof again, root, ".again");
    rm_tree(again);
    if (CHECK_OK(facs_cityscapes_synth(again, 4, 3, 256, 128, 7))) {
        join(a, sizeof a, root, "/leftImg8bit/val/lindau/lindau_000000_000019_leftImg8bit.png");
        join(b, sizeof b, again, "/leftImg8bit/val/lindau/lindau_000000_000019_leftImg8bit.png");
        facs_image ia = {0}, ib = {0};
        if (CHECK_OK(facs_image_read(a, 3, &ia)) && CHECK_OK(facs_image_read(b, 3, &ib)))
            CHECK(memcmp(ia.pixels, ib.pixels, (size_t)3 * 256 * 128) == 0, "synth is not deterministic");
        facs_image_free(&ia);
        facs_image_free(&ib);
    }
    rm_tree(again);
    CHECK(facs_cityscapes_synth(root, 0, 0, 256, 128, 1) == FACS_ERR_ARG, "synth accepted zero frames");
    CHECK(facs_cityscapes_synth(root, 1, 1, 16, 128, 1) == FACS_ERR_ARG, "synth accepted width 16");
}

/* ---- bad input ---- */

static void fresh(const char *root)
{
    rm_tree(root);
    CHECK_OK(facs_cityscapes_synth(root, 2, 0, 32, 32, 3));
}

static void test_bad_input(const char *root)
{
    char img[4096], train[4096], ids[4096];
    join(img, sizeof img, root, "/leftImg8bit/train/aachen/aachen_000000_000019_leftImg8bit.png");
    join(train, sizeof train, root, "/gtFine/train/aachen/aachen_000000_000019_gtFine_labelTrainIds.png");
    join(ids, sizeof ids, root, "/gtFine/train/aachen/aachen_000000_000019_gtFine_labelIds.png");
    facs_cityscapes_pairs ds;
    facs_cityscapes_report rep;
    facs_image a, b;

    /* A missing label: the index fails naming the image. */
    fresh(root);
    unlink(train);
    unlink(ids);
    CHECK(facs_cityscapes_index(root, "train", &ds) == FACS_ERR_FORMAT && ds.count == 0 && !ds.pairs,
          "index accepted an image without a label");
    check_message("missing label", img, "no label", NULL);
    CHECK(facs_cityscapes_check(root, &rep) != FACS_OK, "check accepted an image without a label");
    check_message("check, missing label", img, NULL, NULL);

    /* Only labelIds: used, with the mapping flag. */
    fresh(root);
    unlink(train);
    if (CHECK_OK(facs_cityscapes_index(root, "train", &ds)))
        CHECK(ds.pairs[0].label_is_ids && strcmp(ds.pairs[0].label, ids) == 0 && !ds.pairs[1].label_is_ids,
              "labelIds fallback: frame 0 label %s (is_ids %d)", ds.pairs[0].label, ds.pairs[0].label_is_ids);
    facs_cityscapes_index_free(&ds);

    /* A label of another size. */
    fresh(root);
    write_label(train, 31, 32, 0);
    if (CHECK_OK(facs_cityscapes_index(root, "train", &ds))) {
        CHECK(facs_cityscapes_load_pair(&ds, 0, &a, &b) == FACS_ERR_FORMAT && !a.pixels && !b.pixels,
              "a 31x32 label for a 32x32 image was accepted");
        check_message("size", img, train, "31x32");
        check_message("size", "32x32", NULL, NULL);
    }
    facs_cityscapes_index_free(&ds);
    CHECK(facs_cityscapes_check(root, &rep) == FACS_ERR_FORMAT, "check accepted a label of another size");
    check_message("check, size", train, "31x32", NULL);

    /* A trainId out of range, at a known position. */
    fresh(root);
    {
        facs_image lab = {32, 32, 1, calloc(32 * 32, 1)};
        lab.pixels[3 * 32 + 5] = 19;
        CHECK_OK(facs_png_write(train, &lab));
        facs_image_free(&lab);
    }
    if (CHECK_OK(facs_cityscapes_index(root, "train", &ds))) {
        CHECK(facs_cityscapes_load_pair(&ds, 0, &a, &b) == FACS_ERR_FORMAT && !a.pixels && !b.pixels,
              "trainId 19 was accepted");
        check_message("trainId 19", train, "trainId 19", "x=5, y=3");
    }
    facs_cityscapes_index_free(&ds);

    /* A corrupt image (a truncated PNG), then a corrupt label (not a PNG at all). */
    fresh(root);
    {
        FILE *f = fopen(img, "rb");
        uint8_t buf[8192];
        size_t n = f ? fread(buf, 1, sizeof buf, f) : 0;
        if (f)
            fclose(f);
        CHECK(n > 100, "cannot read back %s", img);
        CHECK_OK(facs_file_write_atomic(img, buf, n / 2));
        CHECK_OK(facs_file_write_atomic(ids, "GIF89a not a png", 16));
        unlink(train);
    }
    if (CHECK_OK(facs_cityscapes_index(root, "train", &ds))) {
        CHECK(facs_cityscapes_load_pair(&ds, 0, &a, &b) != FACS_OK && !a.pixels && !b.pixels,
              "a truncated PNG was accepted");
        check_message("truncated image", img, NULL, NULL);
        fresh(root);
        unlink(train);
        CHECK_OK(facs_file_write_atomic(ids, "GIF89a not a png", 16));
        CHECK(facs_cityscapes_load_pair(&ds, 0, &a, &b) != FACS_OK && !a.pixels && !b.pixels,
              "a corrupt label was accepted");
        check_message("corrupt label", ids, NULL, NULL);
        CHECK(facs_cityscapes_load_pair(&ds, 2, &a, &b) == FACS_ERR_ARG, "frame 2 of 2 was accepted");
    }
    facs_cityscapes_index_free(&ds);
    CHECK(facs_cityscapes_check(root, &rep) != FACS_OK, "check accepted a corrupt label");
    check_message("check, corrupt label", ids, NULL, NULL);

    /* Labels without their image: check fails naming the label and the image it
     * lacks, in a city of a present split, in a city folder only gtFine has, and in
     * a split only gtFine has; the index (training) still reads the frames it has.
     * Other gtFine files (_color) without an image are not labels: ignored. */
    {
        static const struct {
            const char *dirs[2], *label, *image;
        } orphans[] = {
            {{NULL, NULL},
             "/gtFine/train/aachen/aachen_000005_000019_gtFine_labelIds.png",
             "/leftImg8bit/train/aachen/aachen_000005_000019_leftImg8bit.png"},
            {{NULL, NULL},
             "/gtFine/train/aachen/aachen_000007_000019_gtFine_labelTrainIds.png",
             "/leftImg8bit/train/aachen/aachen_000007_000019_leftImg8bit.png"},
            {{"/gtFine/train/zurich", NULL},
             "/gtFine/train/zurich/zurich_000000_000019_gtFine_labelTrainIds.png",
             "/leftImg8bit/train/zurich/zurich_000000_000019_leftImg8bit.png"},
            {{"/gtFine/val", "/gtFine/val/lindau"},
             "/gtFine/val/lindau/lindau_000000_000019_gtFine_labelIds.png",
             "/leftImg8bit/val/lindau/lindau_000000_000019_leftImg8bit.png"},
        };
        for (size_t k = 0; k < sizeof orphans / sizeof orphans[0]; k++) {
            char label[4096], image[4096], dir[4096];
            fresh(root);
            for (int d = 0; d < 2 && orphans[k].dirs[d]; d++) {
                join(dir, sizeof dir, root, orphans[k].dirs[d]);
                mkdir(dir, 0777);
            }
            join(label, sizeof label, root, orphans[k].label);
            join(image, sizeof image, root, orphans[k].image);
            write_label(label, 32, 32, 7);
            CHECK(facs_cityscapes_check(root, &rep) == FACS_ERR_FORMAT, "check accepted the orphan label %s", label);
            check_message("orphan label", label, image, "without its image");
            if (CHECK_OK(facs_cityscapes_index(root, "train", &ds)))
                CHECK(ds.count == 2, "index with an orphan label: %d frames", ds.count);
            facs_cityscapes_index_free(&ds);
        }
        char color[4096];
        fresh(root);
        join(color, sizeof color, root, "/gtFine/train/aachen/aachen_000009_000019_gtFine_color.png");
        write_label(color, 32, 32, 0);
        CHECK_OK(facs_cityscapes_check(root, &rep));
    }

    /* Not a Cityscapes folder, an unknown split, an empty split. */
    rm_tree(root);
    CHECK(facs_cityscapes_check(root, &rep) == FACS_ERR_FORMAT, "check accepted a missing folder");
    check_message("no folder", root, "leftImg8bit/train", NULL);
    CHECK(facs_cityscapes_index(root, "training", &ds) == FACS_ERR_ARG, "split 'training' accepted");
    check_message("split", "training", NULL, NULL);
    CHECK(facs_cityscapes_index(root, "val", &ds) == FACS_ERR_IO, "a missing split folder was accepted");
    check_message("missing split", "leftImg8bit/val", NULL, NULL);
}

/* A 32x32 label PNG, zero but for value at x=5, y=3. */
static void write_label_with(const char *path, int value)
{
    facs_image lab = {32, 32, 1, calloc(32 * 32, 1)};
    lab.pixels[3 * 32 + 5] = (uint8_t)value;
    CHECK_OK(facs_png_write(path, &lab));
    facs_image_free(&lab);
}

/* Frame 0's label as loaded with the given ignore label: FACS_OK and its value at x=5, y=3, or the failure. */
static facs_status load_with_ignore(const char *root, int ignore, int *value)
{
    facs_cityscapes_pairs ds;
    facs_image label = {0};
    facs_status s = facs_cityscapes_index(root, "train", &ds);
    if (s == FACS_OK) {
        ds.ignore_label = ignore;
        s = facs_cityscapes_load_label(&ds, 0, &label);
    }
    *value = s == FACS_OK ? label.pixels[3 * 32 + 5] : -1;
    facs_image_free(&label);
    facs_cityscapes_index_free(&ds);
    return s;
}

/* The ignore label of the index (pspnet-train --ignore-index): trainId files
 * hold it, void labelIds become it, and a labelIds PNG holds only 0..33 (one
 * holding 255 is said to look like trainIds). */
static void test_ignore_label(const char *root)
{
    char train[4096], ids[4096];
    join(train, sizeof train, root, "/gtFine/train/aachen/aachen_000000_000019_gtFine_labelTrainIds.png");
    join(ids, sizeof ids, root, "/gtFine/train/aachen/aachen_000000_000019_gtFine_labelIds.png");
    int v;
    fresh(root);
    write_label_with(train, 254);
    CHECK(load_with_ignore(root, 254, &v) == FACS_OK && v == 254, "trainId 254 with ignore 254: %d", v);
    CHECK(load_with_ignore(root, 255, &v) == FACS_ERR_FORMAT, "trainId 254 with ignore 255 was accepted");
    check_message("trainId 254, ignore 255", train, "trainId 254", "x=5, y=3");
    write_label_with(train, 255);
    CHECK(load_with_ignore(root, 254, &v) == FACS_ERR_FORMAT, "trainId 255 with ignore 254 was accepted");
    check_message("trainId 255, ignore 254", "nor 254 (ignore)", "255 is Cityscapes' void label", NULL);
    unlink(train);
    write_label_with(ids, 1); /* ego vehicle: void */
    CHECK(load_with_ignore(root, 254, &v) == FACS_OK && v == 254, "labelId 1 with ignore 254 became %d", v);
    CHECK(load_with_ignore(root, 255, &v) == FACS_OK && v == 255, "labelId 1 with ignore 255 became %d", v);
    write_label_with(ids, 26); /* car */
    CHECK(load_with_ignore(root, 254, &v) == FACS_OK && v == 13, "labelId 26 became %d", v);
    write_label_with(ids, 200);
    CHECK(load_with_ignore(root, 255, &v) == FACS_ERR_FORMAT, "labelId 200 was accepted");
    check_message("labelId 200", ids, "labelId 200 at x=5, y=3", "(0..33)");
    CHECK(!contains(facs_last_error(), "labelTrainIds"), "labelId 200: a trainIds hint without 255: %s",
          facs_last_error());
    write_label_with(ids, 255);
    CHECK(load_with_ignore(root, 255, &v) == FACS_ERR_FORMAT, "labelId 255 was accepted");
    check_message("labelId 255", ids, "labelId 255 at x=5, y=3", "a labelTrainIds PNG saved under the labelIds name");
    facs_cityscapes_report rep;
    CHECK(facs_cityscapes_check(root, &rep) == FACS_ERR_FORMAT, "check accepted labelId 255");
}

/* Output folders that the indexer would read back are refused, by the path
 * the files would land at: inside or at ROOT/leftImg8bit or ROOT/gtFine,
 * through a symbolic link, or climbing back with "..", existing or not. */
static void test_check_output(const char *root)
{
    char path[4096], link[4096], target[4096];
    fresh(root);
    static const char *const refused[] = {"/leftImg8bit", "/gtFine/", "/leftImg8bit/train/aachen", "/gtFine/val/new",
                                          "/x/../gtFine/new/deeper", "/gtFine/new/../../leftImg8bit/y"};
    for (size_t k = 0; k < sizeof refused / sizeof refused[0]; k++) {
        join(path, sizeof path, root, refused[k]);
        CHECK(facs_cityscapes_check_output(root, "--out", path) == FACS_ERR_ARG, "--out %s was accepted", path);
        check_message("an output in the data", "--out", path, "is or lies inside");
    }
    static const char *const accepted[] = {"", "/out", "/leftImg8bitX", "/gtFine/../pred", "/../elsewhere"};
    for (size_t k = 0; k < sizeof accepted / sizeof accepted[0]; k++) {
        join(path, sizeof path, root, accepted[k]);
        CHECK_OK(facs_cityscapes_check_output(root, "--out", path));
    }
    join(link, sizeof link, root, ".link");
    join(target, sizeof target, root, "/gtFine/train");
    unlink(link);
    CHECK(symlink(target, link) == 0, "cannot link %s", link);
    join(path, sizeof path, link, "/pred");
    CHECK(facs_cityscapes_check_output(root, "--save-pred", path) == FACS_ERR_ARG, "a link into gtFine was accepted");
    unlink(link);
}

int main(int argc, char **argv)
{
    h5_file *ref = test_open_ref(argc, argv);
    char root[4096];
    test_tables();
    join(root, sizeof root, argv[1], ".d");
    test_reference_tree(ref, root);
    h5_close(ref);
    join(root, sizeof root, argv[1], ".synth");
    test_synth(root);
    rm_tree(root);
    join(root, sizeof root, argv[1], ".bad");
    test_bad_input(root);
    test_ignore_label(root);
    test_check_output(root);
    rm_tree(root);
    return test_finish();
}
