/* Scoring predictions made elsewhere, as cityscapesScripts does (see cityscapes_score.h). */
#include "cityscapes_score.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "image.h"
#include "image_walk.h"

#define PATH_SIZE 4096
#define KEY_SIZE 256 /* "<city>_<seq>_<frame>" */

/* "<city>_<seq>_<frame>" of a frame: its image's file name without "_leftImg8bit.png". */
static void frame_key(const facs_cityscapes_pair *p, char *key, size_t size)
{
    const char *slash = strrchr(p->image, '/'), *name = slash ? slash + 1 : p->image;
    const char *suffix = strstr(name, "_leftImg8bit");
    size_t len = suffix ? (size_t)(suffix - name) : strlen(name);
    snprintf(key, size, "%.*s", (int)(len < size ? len : size - 1), name);
}

static const char *base_name(const char *path)
{
    const char *slash = strrchr(path, '/');
    return slash ? slash + 1 : path;
}

static int is_png(const char *name)
{
    size_t n = strlen(name);
    return n > 4 && strcasecmp(name + n - 4, ".png") == 0;
}

/* pred_of[i]: the index in files of frame i's prediction. Every frame needs
 * exactly one; every PNG must belong to a frame. */
static facs_status match_predictions(const facs_cityscapes_score_opts *o, const facs_cityscapes_pairs *frames,
                                     const facs_strings *files, int *pred_of)
{
    char(*keys)[KEY_SIZE] = malloc((size_t)(frames->count ? frames->count : 1) * sizeof *keys);
    if (!keys)
        return facs_fail(FACS_ERR_MEMORY, "out of memory");
    for (int i = 0; i < frames->count; i++) {
        pred_of[i] = -1;
        frame_key(&frames->pairs[i], keys[i], KEY_SIZE);
    }
    facs_status s = FACS_OK;
    for (int f = 0; f < files->count && s == FACS_OK; f++) {
        const char *name = base_name(files->items[f]);
        if (!is_png(name))
            continue;
        int owner = -1;
        for (int i = 0; i < frames->count && owner < 0; i++)
            if (strncmp(name, keys[i], strlen(keys[i])) == 0)
                owner = i;
        if (owner < 0)
            s = facs_fail(FACS_ERR_ARG, "%s/%s belongs to no frame of split %s of %s (its name must start "
                                        "with <city>_<seq>_<frame> of a frame there)",
                          o->pred_dir, files->items[f], o->split, o->root);
        else if (pred_of[owner] >= 0)
            s = facs_fail(FACS_ERR_ARG, "two predictions for %s: %s/%s and %s/%s",
                          base_name(frames->pairs[owner].image), o->pred_dir, files->items[pred_of[owner]],
                          o->pred_dir, files->items[f]);
        else
            pred_of[owner] = f;
    }
    for (int i = 0; i < frames->count && s == FACS_OK; i++)
        if (pred_of[i] < 0)
            s = facs_fail(FACS_ERR_ARG, "no prediction for %s under %s (looked for %s*.png)", frames->pairs[i].image,
                          o->pred_dir, keys[i]);
    free(keys);
    return s;
}

/* gtFine/.../<key>_gtFine_instanceIds.png beside the frame's label file. */
static void instance_path(const facs_cityscapes_pair *p, char *path)
{
    snprintf(path, PATH_SIZE, "%s", p->label);
    char *gt = strstr(path, "_gtFine_");
    if (gt)
        snprintf(gt, PATH_SIZE - (size_t)(gt - path), "_gtFine_instanceIds.png");
}

/* 1 when every frame has its instanceIds, 0 when none has; refused when some have. */
static facs_status instances_present(const facs_cityscapes_pairs *frames, int *present)
{
    int have = 0;
    char path[PATH_SIZE], first_missing[PATH_SIZE] = "";
    for (int i = 0; i < frames->count; i++) {
        instance_path(&frames->pairs[i], path);
        if (access(path, F_OK) == 0)
            have++;
        else if (!first_missing[0])
            snprintf(first_missing, sizeof first_missing, "%s", path);
    }
    if (have && have < frames->count)
        return facs_fail(FACS_ERR_ARG, "%s is missing: %d of the %d frames have gtFine instanceIds, and the "
                                       "instance-level IoU needs them all (or none)",
                         first_missing, have, frames->count);
    *present = have > 0;
    return FACS_OK;
}

/* The prediction's pixels as trainIds (FACS_CONFUSION_NONE outside the 19) and as labelIds. */
static facs_status read_prediction(const facs_cityscapes_score_opts *o, const char *path, const facs_image *truth,
                                   int32_t *train, uint8_t *label)
{
    facs_image p = {0};
    FACS_TRY(facs_image_read_label(path, &p));
    facs_status s = FACS_OK;
    if (p.width != truth->width || p.height != truth->height)
        s = facs_fail(FACS_ERR_FORMAT, "%s is %dx%d but its ground truth is %dx%d", path, p.width, p.height,
                      truth->width, truth->height);
    size_t n = (size_t)p.width * p.height;
    for (size_t k = 0; k < n && s == FACS_OK; k++) {
        int v = p.pixels[k];
        int valid = o->train_ids ? v < FACS_CITYSCAPES_CLASSES || v == FACS_CITYSCAPES_IGNORE
                                 : v <= FACS_CITYSCAPES_LAST_LABEL_ID;
        if (!valid) {
            s = facs_fail(FACS_ERR_FORMAT, "%s: %d at x=%zu, y=%zu is not a %s", path, v, k % (size_t)p.width,
                          k / (size_t)p.width,
                          o->train_ids ? "trainId (0..18, or 255 for none)" : "Cityscapes labelId (0..33)");
            break;
        }
        int t = o->train_ids ? v : facs_cityscapes_train_id(v);
        train[k] = t == FACS_CITYSCAPES_IGNORE ? FACS_CONFUSION_NONE : t;
        label[k] = (uint8_t)(o->train_ids ? (t == FACS_CITYSCAPES_IGNORE ? 0 : facs_cityscapes_label_ids[t]) : v);
    }
    facs_image_free(&p);
    return s;
}

/* One frame into cm and, with instances, inst. */
static facs_status score_frame(const facs_cityscapes_score_opts *o, const facs_cityscapes_pairs *frames, int i,
                               const char *pred_path, int instances, facs_confusion *cm,
                               facs_cityscapes_instances *inst)
{
    facs_image truth = {0};
    facs_image16 ids = {0};
    FACS_TRY(facs_cityscapes_load_label(frames, i, &truth));
    size_t n = (size_t)truth.width * truth.height;
    int32_t *train = malloc(n * sizeof *train), *gt = malloc(n * sizeof *gt);
    uint8_t *label = malloc(n);
    facs_status s = train && gt && label ? FACS_OK : facs_fail(FACS_ERR_MEMORY, "out of memory scoring %s", pred_path);
    if (s == FACS_OK)
        s = read_prediction(o, pred_path, &truth, train, label);
    for (size_t k = 0; s == FACS_OK && k < n; k++)
        gt[k] = truth.pixels[k];
    char path[PATH_SIZE];
    if (s == FACS_OK && instances) {
        instance_path(&frames->pairs[i], path);
        s = facs_image16_read(path, &ids);
        if (s == FACS_OK && (ids.width != truth.width || ids.height != truth.height))
            s = facs_fail(FACS_ERR_FORMAT, "%s is %dx%d but its labels are %dx%d", path, ids.width, ids.height,
                          truth.width, truth.height);
        if (s == FACS_OK && (s = facs_cityscapes_instances_add(inst, ids.pixels, label, n)) != FACS_OK)
            s = facs_fail(s, "%s: %s", path, facs_last_error());
    }
    if (s == FACS_OK)
        s = facs_confusion_add_maps(cm, gt, train, n, FACS_CITYSCAPES_IGNORE);
    facs_image_free(&truth);
    facs_image16_free(&ids);
    free(train);
    free(gt);
    free(label);
    return s;
}

facs_status facs_cityscapes_score(const facs_cityscapes_score_opts *o, facs_confusion *cm,
                                  facs_cityscapes_instances *inst, int *with_instances)
{
    if (cm->classes != FACS_CITYSCAPES_CLASSES)
        return facs_fail(FACS_ERR_ARG, "scoring Cityscapes needs a %d-class confusion matrix, not %d",
                         FACS_CITYSCAPES_CLASSES, cm->classes);
    facs_cityscapes_pairs frames = {0};
    facs_strings files = {0};
    int *pred_of = NULL;
    facs_status s = facs_cityscapes_index(o->root, o->split, &frames);
    if (s == FACS_OK)
        s = facs_image_walk(o->pred_dir, "", &files);
    if (s == FACS_OK && !(pred_of = malloc((size_t)frames.count * sizeof *pred_of)))
        s = facs_fail(FACS_ERR_MEMORY, "out of memory");
    if (s == FACS_OK)
        s = match_predictions(o, &frames, &files, pred_of);
    if (s == FACS_OK)
        s = instances_present(&frames, with_instances);
    for (int i = 0; s == FACS_OK && i < frames.count; i++) {
        char path[PATH_SIZE];
        snprintf(path, sizeof path, "%s/%s", o->pred_dir, files.items[pred_of[i]]);
        s = score_frame(o, &frames, i, path, *with_instances, cm, inst);
        if (s == FACS_OK && o->progress)
            o->progress(o->progress_user, i + 1, frames.count);
    }
    free(pred_of);
    facs_strings_free(&files);
    facs_cityscapes_index_free(&frames);
    return s;
}
