/* The inputs of an explaining tool (cam_input.h). */
#include "cam_input.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "augment.h"
#include "cifar.h"
#include "cityscapes.h"
#include "image_folder.h"
#include "weights.h"

void facs_cam_images_free(facs_cam_images *list)
{
    for (int i = 0; i < list->count; i++) {
        free(list->paths ? list->paths[i] : NULL);
        free(list->stems ? list->stems[i] : NULL);
    }
    free(list->paths);
    free(list->stems);
    *list = (facs_cam_images){0};
}

/* relative without its extension, '/' as '_'. */
static char *stem_of(const char *relative)
{
    char *stem = strdup(relative);
    if (!stem)
        return NULL;
    char *dot = strrchr(stem, '.');
    if (dot && dot != stem)
        *dot = 0;
    for (char *c = stem; *c; c++)
        if (*c == '/')
            *c = '_';
    return stem;
}

facs_status facs_cam_images_open(const char *path, facs_cam_images *out)
{
    *out = (facs_cam_images){0};
    struct stat st;
    if (stat(path, &st) != 0)
        return facs_fail(FACS_ERR_IO, "%s: no such file or folder", path);
    facs_image_folder folder = {0};
    if (S_ISDIR(st.st_mode))
        FACS_TRY(facs_image_folder_open_unlabelled(path, &folder));
    int count = S_ISDIR(st.st_mode) ? folder.count : 1;
    facs_status s = FACS_OK;
    if (!(out->paths = calloc((size_t)count, sizeof *out->paths)) ||
        !(out->stems = calloc((size_t)count, sizeof *out->stems)))
        s = facs_fail(FACS_ERR_MEMORY, "%s: out of memory listing %d images", path, count);
    for (int i = 0; s == FACS_OK && i < count; i++, out->count++) {
        const char *slash = strrchr(path, '/');
        const char *relative = folder.paths ? folder.paths[i] : slash ? slash + 1 : path;
        size_t size = strlen(path) + strlen(relative) + 2;
        if (!(out->paths[i] = malloc(size)) || !(out->stems[i] = stem_of(relative)))
            s = facs_fail(FACS_ERR_MEMORY, "%s: out of memory listing images", path);
        else if (folder.paths)
            s = facs_image_folder_path(&folder, i, out->paths[i], size);
        else
            snprintf(out->paths[i], size, "%s", path);
    }
    facs_image_folder_free(&folder);
    if (s != FACS_OK)
        facs_cam_images_free(out);
    return s;
}

void facs_cam_input_free(facs_cam_input *in)
{
    facs_image_free(&in->rgb);
    free(in->chw);
    *in = (facs_cam_input){0};
}

static facs_status normalised_chw(facs_cam_input *in, const float mean[3], const float std[3])
{
    facs_fimage f;
    FACS_TRY(facs_fimage_from_u8(&in->rgb, &f));
    facs_fimage_normalize(&f, mean, std);
    size_t plane = (size_t)f.height * f.width;
    if ((in->chw = malloc(3 * plane * sizeof *in->chw)))
        for (size_t i = 0; i < plane; i++)
            for (int c = 0; c < 3; c++)
                in->chw[c * plane + i] = f.data[i * 3 + c];
    facs_fimage_free(&f);
    return in->chw ? FACS_OK : facs_fail(FACS_ERR_MEMORY, "out of memory for a %dx%d input", f.height, f.width);
}

facs_status facs_cam_input_load(const char *path, int height, int width, const float mean[3], const float std[3],
                                facs_cam_input *out)
{
    *out = (facs_cam_input){0};
    FACS_TRY(facs_image_read(path, 3, &out->rgb));
    facs_status s = FACS_OK;
    if (height > 0 && width > 0 && (out->rgb.height != height || out->rgb.width != width)) {
        facs_image resized;
        facs_window whole = {0, 0, out->rgb.height, out->rgb.width};
        s = facs_image_resize_pil(&out->rgb, whole, height, width, &resized);
        facs_image_free(&out->rgb);
        out->rgb = resized;
    }
    if (s == FACS_OK)
        s = normalised_chw(out, mean, std);
    if (s != FACS_OK)
        facs_cam_input_free(out);
    return s;
}

/* The run options a trainer saved in the weights file (facs-finetune's JSON), or NULL. */
static facs_status run_options(const char *weights, json_t **options)
{
    char *text = NULL;
    FACS_TRY(facs_weights_read_text_attr(weights, "run_options", &text));
    *options = text ? json_loads(text, 0, NULL) : NULL;
    free(text);
    return FACS_OK;
}

facs_status facs_cam_file_norm(const char *weights, float mean[3], float std[3], const char **name)
{
    static const float IMAGENET[2][3] = {FACS_IMAGENET_MEAN, FACS_IMAGENET_STD};
    static const float CIFAR[2][3] = {FACS_CIFAR_MEAN, FACS_CIFAR_STD};
    json_t *options;
    FACS_TRY(run_options(weights, &options));
    const char *norm = json_string_value(json_object_get(options, "norm"));
    int cifar = norm && strcmp(norm, "cifar") == 0;
    json_decref(options);
    memcpy(mean, cifar ? CIFAR[0] : IMAGENET[0], sizeof CIFAR[0]);
    memcpy(std, cifar ? CIFAR[1] : IMAGENET[1], sizeof CIFAR[1]);
    if (name)
        *name = cifar ? "cifar" : "imagenet";
    return FACS_OK;
}

void facs_cam_names_free(char **names, int classes)
{
    for (int i = 0; names && i < classes; i++)
        free(names[i]);
    free(names);
}

/* The built-in name of class c, or NULL. */
static const char *built_in(int classes, int segmentation, int c)
{
    if (segmentation)
        return classes == FACS_CITYSCAPES_CLASSES ? facs_cityscapes_class_names[c] : NULL;
    return classes == 10 || classes == 100 ? facs_cifar_class_name(classes, c) : NULL;
}

/* The lines of file: exactly classes non-empty ones (then only empty lines). */
static facs_status read_names(const char *file, int classes, char **names)
{
    FILE *f = fopen(file, "r");
    if (!f)
        return facs_fail(FACS_ERR_IO, "--class-names %s: cannot be read", file);
    char line[256];
    int n = 0, extra = 0;
    while (fgets(line, sizeof line, f)) {
        line[strcspn(line, "\r\n")] = 0;
        if (!line[0])
            continue;
        if (n < classes && !(names[n] = strdup(line)))
            break;
        n < classes ? n++ : extra++;
    }
    fclose(f);
    if (n < classes || extra)
        return facs_fail(FACS_ERR_FORMAT, "--class-names %s: %d names, but the model has %d classes", file,
                         n + extra, classes);
    return FACS_OK;
}

/* The class names facs-finetune recorded for an image folder (its class
 * folders), when they are `classes` strings; NULL otherwise. */
static const json_t *saved_names(const json_t *options, int classes)
{
    const json_t *list = json_object_get(options, "class-names");
    if (!json_is_array(list) || json_array_size(list) != (size_t)classes)
        return NULL;
    for (int c = 0; c < classes; c++)
        if (!json_is_string(json_array_get(list, (size_t)c)))
            return NULL;
    return list;
}

facs_status facs_cam_class_names(const char *file, const char *weights, int classes, int segmentation,
                                 char ***names)
{
    *names = NULL;
    json_t *options = NULL;
    if (!file)
        FACS_TRY(run_options(weights, &options));
    const json_t *saved = file ? NULL : saved_names(options, classes);
    if (!file && !saved && !built_in(classes, segmentation, 0)) {
        json_decref(options);
        return FACS_OK;
    }
    char **list = calloc((size_t)classes, sizeof *list);
    facs_status s = list ? FACS_OK : facs_fail(FACS_ERR_MEMORY, "out of memory for %d class names", classes);
    if (s == FACS_OK && file)
        s = read_names(file, classes, list);
    for (int c = 0; !file && s == FACS_OK && c < classes; c++) {
        const char *name =
            saved ? json_string_value(json_array_get(saved, (size_t)c)) : built_in(classes, segmentation, c);
        if (!(list[c] = strdup(name)))
            s = facs_fail(FACS_ERR_MEMORY, "out of memory for %d class names", classes);
    }
    json_decref(options);
    if (!list)
        return s;
    if (s != FACS_OK) {
        facs_cam_names_free(list, classes);
        return s;
    }
    *names = list;
    return FACS_OK;
}
