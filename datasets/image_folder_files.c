/* Synthetic and checked image folders (see image_folder_files.h). */
#include "image_folder_files.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "atomic_file.h"
#include "cifar.h"
#include "class_list.h"
#include "synth_draw.h"

#define PATH_SIZE 4096

static void class_name(int classes, int c, char *out, size_t size)
{
    if (classes <= 10)
        snprintf(out, size, "%s", facs_cifar_class_name(FACS_CIFAR_10, c));
    else
        snprintf(out, size, "class_%03d", c);
}

/* One split: image i of class i mod classes, drawn from (split key, i). */
static facs_status synth_split(const char *dir, int classes, int n, int height, int width, uint64_t key)
{
    facs_image img = {width, height, 3, malloc((size_t)height * width * 3)};
    if (!img.pixels)
        return facs_fail(FACS_ERR_MEMORY, "synthetic image folder: out of memory for %dx%d pixels", height, width);
    facs_status s = FACS_OK;
    char name[64], path[PATH_SIZE];
    for (int c = 0; s == FACS_OK && c < classes; c++) {
        class_name(classes, c, name, sizeof name);
        if (snprintf(path, sizeof path, "%s/%s", dir, name) >= (int)sizeof path)
            s = facs_fail(FACS_ERR_ARG, "%s: path too long", dir);
        else
            s = facs_make_dirs(path);
    }
    for (int i = 0; s == FACS_OK && i < n; i++) {
        int c = i % classes, png = i / classes % 4 == 3; /* every class gets both formats */
        class_name(classes, c, name, sizeof name);
        facs_synth_draw(c, facs_synth_mix(key + (uint64_t)i), height, width, 0, img.pixels);
        snprintf(path, sizeof path, "%s/%s/%s_%05d.%s", dir, name, name, i, png ? "png" : "jpg");
        s = png ? facs_png_write(path, &img) : facs_jpeg_write(path, &img, 90);
    }
    facs_image_free(&img);
    return s;
}

facs_status facs_image_folder_synth(const char *out, int classes, int n_train, int n_val, int height, int width,
                                    uint64_t seed)
{
    if (classes < 1 || n_train < classes || n_val < 1 || height < 8 || width < 8)
        return facs_fail(FACS_ERR_ARG,
                         "synthetic image folder: need at least one class, one training image per class, one "
                         "validation image and 8x8 pixels (got %d classes, %d and %d images of %dx%d)",
                         classes, n_train, n_val, width, height);
    char dir[PATH_SIZE];
    FACS_TRY(facs_make_dirs(out));
    uint64_t train_key = facs_synth_mix(seed * 2 + 0), val_key = facs_synth_mix(seed * 2 + 1);
    snprintf(dir, sizeof dir, "%s/train", out);
    FACS_TRY(synth_split(dir, classes, n_train, height, width, train_key));
    snprintf(dir, sizeof dir, "%s/val", out);
    return synth_split(dir, classes, n_val, height, width, val_key);
}

/* Decodes every file of f, counting per class and listing those that fail. */
static facs_status decode_all(const facs_image_folder *f, int *per_class, facs_strings *bad)
{
    char path[PATH_SIZE];
    for (int i = 0; i < f->count; i++) {
        FACS_TRY(facs_image_folder_path(f, i, path, sizeof path));
        per_class[f->labels[i]]++;
        facs_image img;
        if (facs_image_read(path, 3, &img) != FACS_OK && !facs_strings_push(bad, facs_last_error()))
            return facs_fail(FACS_ERR_MEMORY, "%s: out of memory", f->root);
        facs_image_free(&img);
    }
    return FACS_OK;
}

facs_status facs_image_folder_check(const char *root, facs_image_folder_report *r)
{
    memset(r, 0, sizeof *r);
    char train[PATH_SIZE], val[PATH_SIZE], label[PATH_SIZE + 32];
    snprintf(train, sizeof train, "%s/train", root);
    snprintf(val, sizeof val, "%s/val", root);
    snprintf(label, sizeof label, "the classes of %s", train);
    facs_status s = facs_image_folder_open(train, &r->split[0]);
    if (s == FACS_OK)
        s = facs_image_folder_open_classes(val, (const char *const *)r->split[0].classes, r->split[0].num_classes,
                                           1, label, &r->split[1]);
    for (int k = 0; s == FACS_OK && k < 2; k++) {
        if (!(r->per_class[k] = calloc((size_t)r->split[0].num_classes, sizeof(int))))
            s = facs_fail(FACS_ERR_MEMORY, "%s: out of memory", root);
        else
            s = decode_all(&r->split[k], r->per_class[k], &r->bad);
    }
    if (s != FACS_OK)
        facs_image_folder_report_free(r);
    return s;
}

void facs_image_folder_report_free(facs_image_folder_report *r)
{
    for (int k = 0; k < 2; k++) {
        facs_image_folder_free(&r->split[k]);
        free(r->per_class[k]);
    }
    facs_strings_free(&r->bad);
    memset(r, 0, sizeof *r);
}
