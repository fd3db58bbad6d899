/* The inputs of an explaining tool (cam_input.h); the image lists are cam_images.c's. */
#include "cam_input.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "augment.h"
#include "cifar.h"
#include "cityscapes.h"
#include "weights.h"

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

facs_status facs_cam_file_input_size(const char *weights, int *size)
{
    json_t *options;
    FACS_TRY(run_options(weights, &options));
    json_int_t v = json_integer_value(json_object_get(options, "input-size")); /* 0 when absent */
    *size = v > 0 && v <= FACS_CAM_MAX_INPUT_SIZE ? (int)v : 0;
    json_decref(options);
    return FACS_OK;
}

void facs_cam_names_free(char **names, int classes)
{
    for (int i = 0; names && i < classes; i++)
        free(names[i]);
    free(names);
}

/* A new list (*out) of the classes strings name(c, user). */
static facs_status copy_names(int classes, const char *(*name)(int c, const void *user), const void *user,
                              char ***out)
{
    char **list = calloc((size_t)classes, sizeof *list);
    for (int c = 0; list && c < classes; c++)
        if (!(list[c] = strdup(name(c, user)))) {
            facs_cam_names_free(list, classes);
            list = NULL;
        }
    *out = list;
    return list ? FACS_OK : facs_fail(FACS_ERR_MEMORY, "out of memory for %d class names", classes);
}

typedef struct {
    int classes, segmentation;
} model_kind;

/* The built-in name of class c, or NULL. */
static const char *built_in(int c, const void *user)
{
    const model_kind *k = user;
    if (k->segmentation)
        return k->classes == FACS_CITYSCAPES_CLASSES ? facs_cityscapes_class_names[c] : NULL;
    return k->classes == 10 || k->classes == 100 ? facs_cifar_class_name(k->classes, c) : NULL;
}

/* The lines of file (any length): exactly classes non-empty ones, into a new list. */
static facs_status read_names(const char *file, int classes, char ***names)
{
    struct stat st;
    if (stat(file, &st) == 0 && S_ISDIR(st.st_mode))
        return facs_fail(FACS_ERR_ARG, "--class-names %s is a folder; give a file of names, one per line", file);
    FILE *f = fopen(file, "r");
    if (!f)
        return facs_fail(FACS_ERR_IO, "--class-names %s: cannot be read", file);
    char **list = calloc((size_t)classes, sizeof *list), *line = NULL;
    size_t size = 0;
    int n = 0, extra = 0, ok = list != NULL;
    while (ok && getline(&line, &size, f) >= 0) {
        line[strcspn(line, "\r\n")] = 0;
        if (!line[0])
            continue;
        if (n < classes)
            ok = (list[n] = strdup(line)) != NULL;
        n < classes ? n++ : extra++;
    }
    free(line);
    fclose(f);
    facs_status s = !ok ? facs_fail(FACS_ERR_MEMORY, "--class-names %s: out of memory", file)
                    : n < classes || extra
                        ? facs_fail(FACS_ERR_FORMAT, "--class-names %s: %d names, but the model has %d classes", file,
                                    n + extra, classes)
                        : FACS_OK;
    if (s != FACS_OK)
        facs_cam_names_free(list, classes);
    *names = s == FACS_OK ? list : NULL;
    return s;
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

static const char *saved_name(int c, const void *saved)
{
    return json_string_value(json_array_get((const json_t *)saved, (size_t)c));
}

facs_status facs_cam_recorded_names(const char *weights, int classes, char ***names)
{
    *names = NULL;
    json_t *options;
    FACS_TRY(run_options(weights, &options));
    const json_t *saved = saved_names(options, classes);
    facs_status s = saved ? copy_names(classes, saved_name, saved, names) : FACS_OK;
    json_decref(options);
    return s;
}

facs_status facs_cam_class_names(const char *file, const char *weights, int classes, int segmentation,
                                 char ***names)
{
    *names = NULL;
    if (file)
        return read_names(file, classes, names);
    FACS_TRY(facs_cam_recorded_names(weights, classes, names));
    model_kind kind = {classes, segmentation};
    if (*names || !built_in(0, &kind))
        return FACS_OK;
    return copy_names(classes, built_in, &kind, names);
}
