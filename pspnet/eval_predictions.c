/* pspnet-eval --save-pred: each image's prediction as four PNGs (see
 * eval_run.h and --help): trainIds, cityscapesScripts' labelIds, the
 * Cityscapes colours, and the colours over the image; with --save-prob the
 * class probabilities in HDF5. Every file is written
 * whole or not at all (facs_png_write), never over the weights or the image. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "atomic_file.h"
#include "colormap.h"
#include "eval_run.h"
#include "h5_array.h"
#include "h5_attr.h"

#define PATH_SIZE 4096

const char *const ev_prediction_folders[] = {"trainid", "labelid", "color", "overlay", "prob", NULL};

facs_status ev_saver_add(ev_saver *s, const char *file, const char *rel)
{
    char name[PATH_SIZE];
    if (snprintf(name, sizeof name, "%s", rel) >= (int)sizeof name)
        return facs_fail(FACS_ERR_ARG, "%s: path too long", file);
    char *dot = strrchr(name, '.'), *slash = strrchr(name, '/');
    if (dot && (!slash || dot > slash))
        *dot = '\0';
    if (!facs_strings_push(&s->files, file) || !facs_strings_push(&s->names, name))
        return facs_fail(FACS_ERR_MEMORY, "out of memory listing %s", file);
    return FACS_OK;
}

/* The name of image index's prediction: without the city folder when flat. */
static const char *name_of(const ev_saver *s, int index, int flat)
{
    const char *name = s->names.items[index], *slash = strrchr(name, '/');
    return flat && slash ? slash + 1 : name;
}

typedef struct {
    const char *name;
    int index;
} named;

static int cmp_named(const void *a, const void *b)
{
    return strcmp(((const named *)a)->name, ((const named *)b)->name);
}

facs_status ev_saver_check_unique(const ev_saver *s)
{
    int n = s->names.count;
    named *sorted = malloc((size_t)(n ? n : 1) * sizeof *sorted);
    if (!sorted)
        return facs_fail(FACS_ERR_MEMORY, "out of memory");
    for (int i = 0; i < n; i++)
        sorted[i] = (named){name_of(s, i, s->cityscapes), i}; /* the flat names are the ones that may clash */
    qsort(sorted, (size_t)n, sizeof *sorted, cmp_named);
    facs_status st = FACS_OK;
    for (int i = 1; i < n && st == FACS_OK; i++)
        if (strcmp(sorted[i - 1].name, sorted[i].name) == 0)
            st = facs_fail(FACS_ERR_ARG, "%s and %s would both be predicted as %s.png under --save-pred %s; "
                                         "rename one of them",
                           s->files.items[sorted[i - 1].index], s->files.items[sorted[i].index], sorted[i].name,
                           s->dir);
    free(sorted);
    return st;
}

void ev_saver_free(ev_saver *s)
{
    facs_strings_free(&s->files);
    facs_strings_free(&s->names);
}

/* DIR/kind/NAME.ext; its folder is made. */
static facs_status output_path(const ev_saver *s, const char *kind, const char *ext, int index, int flat, char *path)
{
    const char *name = name_of(s, index, flat);
    if (snprintf(path, PATH_SIZE, "%s/%s/%s.%s", s->dir, kind, name, ext) >= PATH_SIZE)
        return facs_fail(FACS_ERR_ARG, "%s/%s/%s.%s: path too long", s->dir, kind, name, ext);
    char folder[PATH_SIZE];
    snprintf(folder, sizeof folder, "%s", path);
    *strrchr(folder, '/') = '\0';
    FACS_TRY(facs_make_dirs(folder));
    const char *inputs[] = {s->weights, s->files.items[index]};
    return facs_check_output_not_input("--save-pred", path, inputs, 2);
}

static facs_status write_png(const ev_saver *s, const char *kind, int index, const facs_image *img)
{
    char path[PATH_SIZE];
    FACS_TRY(output_path(s, kind, "png", index, s->cityscapes && strcmp(kind, "labelid") != 0, path));
    return facs_png_write(path, img);
}

/* prob/NAME.h5's /prob: the probabilities transposed from (H, W, classes) to (classes, H, W), as PyTorch's. */
static facs_status fill_probabilities(hid_t file, const char *path, const void *user)
{
    const facs_seg_prediction *p = user;
    size_t hw = (size_t)p->labels->width * p->labels->height, K = (size_t)p->classes;
    float *chw = malloc(hw * K * sizeof *chw);
    if (!chw)
        return facs_fail(FACS_ERR_MEMORY, "%s: out of memory", path);
    for (size_t i = 0; i < hw; i++)
        for (size_t k = 0; k < K; k++)
            chw[k * hw + i] = p->probs[i * K + k];
    hsize_t dims[3] = {K, (hsize_t)p->labels->height, (hsize_t)p->labels->width};
    facs_status s = facs_h5_write_f32(file, path, "prob", 3, dims, chw);
    free(chw);
    return s;
}

static facs_status write_probabilities(const ev_saver *s, const facs_seg_prediction *p)
{
    char path[PATH_SIZE];
    FACS_TRY(output_path(s, "prob", "h5", p->index, s->cityscapes, path));
    return facs_h5_write_atomic(path, fill_probabilities, p);
}

/* The trainIds mapped to the official labelIds (ignore, never predicted, stays 255). */
static facs_status label_ids(const facs_image *train_ids, facs_image *out)
{
    size_t n = (size_t)train_ids->width * train_ids->height;
    *out = (facs_image){train_ids->width, train_ids->height, 1, malloc(n)};
    if (!out->pixels)
        return facs_fail(FACS_ERR_MEMORY, "out of memory");
    for (size_t i = 0; i < n; i++) {
        uint8_t t = train_ids->pixels[i];
        out->pixels[i] = t < FACS_CITYSCAPES_CLASSES ? facs_cityscapes_label_ids[t] : t;
    }
    return FACS_OK;
}

/* The prediction in the Cityscapes colours, and those colours blended half over the image. */
static facs_status colours(const facs_seg_prediction *p, facs_image *color, facs_image *overlay)
{
    const facs_image *t = p->labels;
    size_t n = (size_t)t->width * t->height;
    int32_t *ids = malloc(n * sizeof *ids);
    if (!ids)
        return facs_fail(FACS_ERR_MEMORY, "out of memory");
    for (size_t i = 0; i < n; i++)
        ids[i] = t->pixels[i];
    facs_status s = facs_labels_to_rgb(ids, t->width, t->height, facs_cityscapes_palette, FACS_CITYSCAPES_CLASSES,
                                       NULL, color);
    free(ids);
    size_t bytes = n * 3;
    if (s == FACS_OK) {
        *overlay = (facs_image){t->width, t->height, 3, malloc(bytes)};
        s = overlay->pixels ? FACS_OK : facs_fail(FACS_ERR_MEMORY, "out of memory");
    }
    if (s == FACS_OK) {
        memcpy(overlay->pixels, p->image->pixels, bytes);
        s = facs_blend(overlay, color, 0.5f);
    }
    return s;
}

facs_status ev_save_prediction(void *user, const facs_seg_prediction *p)
{
    const ev_saver *s = user;
    facs_image ids = {0}, color = {0}, overlay = {0};
    facs_status st = write_png(s, "trainid", p->index, p->labels);
    if (st == FACS_OK)
        st = label_ids(p->labels, &ids);
    if (st == FACS_OK)
        st = write_png(s, "labelid", p->index, &ids);
    if (st == FACS_OK)
        st = colours(p, &color, &overlay);
    if (st == FACS_OK)
        st = write_png(s, "color", p->index, &color);
    if (st == FACS_OK)
        st = write_png(s, "overlay", p->index, &overlay);
    if (st == FACS_OK && s->probabilities)
        st = write_probabilities(s, p);
    facs_image_free(&ids);
    facs_image_free(&color);
    facs_image_free(&overlay);
    return st;
}
