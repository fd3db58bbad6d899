/* facs-gradcam's session (gradcam.h): the network rebuilt from its file,
 * tapped at --layer and frozen; the input normalisation; class names; the
 * --class list resolved. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gradcam.h"
#include "model_file.h"
#include "unique_names.h"

/* text as a class index: decimal digits only, at most 9 of them; -1 otherwise. */
static int whole_number(const char *text)
{
    size_t digits = strspn(text, "0123456789");
    return digits && !text[digits] && digits < 10 ? atoi(text) : -1;
}

/* The class --class text names: a class name, or an index when no class is
 * named so. A number that is both an index and another class's name is
 * refused as ambiguous (names "2", "0", "1": --class 0 could be either). */
static facs_status resolve_class(const gc_session *s, const char *text, int *out)
{
    const char *weights = s->o->weights;
    int named = -1, number = whole_number(text);
    for (int c = 0; s->names && c < s->classes && named < 0; c++)
        if (strcmp(s->names[c], text) == 0)
            named = c;
    int index = number < s->classes ? number : -1;
    if (named >= 0 && index >= 0 && named != index)
        return facs_fail(FACS_ERR_ARG, "--class %s is ambiguous: class %d of %s is named '%s', and %s is also the "
                         "index of class '%s'; give the class by its other form, or --class-names FILE with names "
                         "that are not numbers", text, named, weights, text, text, s->names[index]);
    if (named >= 0 || index >= 0)
        return *out = named >= 0 ? named : index, FACS_OK;
    if (number >= 0)
        return facs_fail(FACS_ERR_ARG, "--class %d is out of range: %s has %d classes (0 .. %d)", number, weights,
                         s->classes, s->classes - 1);
    return facs_fail(FACS_ERR_ARG, "--class '%s' is no class of %s: neither an index (0 .. %d) nor %s", text,
                     weights, s->classes - 1,
                     s->names ? "one of its names" : "a name (it has none: give --class-names FILE)");
}

/* Classes whose names sanitise alike ("a b", "a_b"; ImageNet's two "crane")
 * get their index in front: "<index>_<name>". */
static char *rename_class(int c, int round, int rank, const char *current, const void *user)
{
    (void)user;
    if (round)
        return facs_name_with_rank(current, rank);
    size_t size = strlen(current) + 16;
    char *name = malloc(size);
    if (name)
        snprintf(name, size, "%d_%s", c, current);
    return name;
}

/* The class part of the output names (gradcam.h: gc_session.file_names),
 * cut to GC_CLASS_FILE_NAME bytes before they are told apart. */
static facs_status class_file_names(gc_session *s)
{
    if (!s->names)
        return FACS_OK;
    if (!(s->file_names = calloc((size_t)s->classes, sizeof *s->file_names)))
        return facs_fail(FACS_ERR_MEMORY, "out of memory for %d class names", s->classes);
    for (int c = 0; c < s->classes; c++) {
        if (!(s->file_names[c] = strndup(s->names[c], GC_CLASS_FILE_NAME)))
            return facs_fail(FACS_ERR_MEMORY, "out of memory for %d class names", s->classes);
        for (char *p = s->file_names[c]; *p; p++)
            if (!isalnum((unsigned char)*p) && *p != '-' && *p != '.')
                *p = '_';
    }
    return facs_unique_names(s->file_names, s->classes, rename_class, NULL);
}

/* Without --input-size, the size the file was trained at (facs-finetune's
 * run options), said on stdout; else each image at its own size. */
static facs_status input_size(const gc_options *o, gc_session *s)
{
    s->height = o->height, s->width = o->width;
    int trained = 0;
    if (!o->height)
        FACS_TRY(facs_cam_file_input_size(o->weights, &trained));
    if (trained) {
        s->height = s->width = trained;
        printf("%s was trained at input size %d: each image is resized to %dx%d (--input-size to choose)\n",
               o->weights, trained, trained, trained);
    }
    return FACS_OK;
}

/* What both models of --compare open alike: all but the input size. */
static facs_status open_model(const gc_options *o, gc_session *s)
{
    facs_model_options cli = {0}, mo;
    snprintf(cli.arch, sizeof cli.arch, "%s", o->arch ? o->arch : "");
    FACS_TRY(facs_model_options_resolve(o->weights, &cli, o->arch ? FACS_MODEL_GIVEN(ARCH) : 0, &mo));
    FACS_TRY(facs_model_create(&s->model, &mo, FACS_DEVICE_CPU, 0));
    FACS_TRY(facs_model_load(o->weights, s->model, NULL));
    /* eval mode throughout: BN folded into the convolutions (on the CPU) */
    FACS_TRY(facs_cli_device_place(s->model, &o->device, 1));
    s->layer = o->layer ? o->layer : facs_model_default_tap(s->model);
    FACS_TRY(facs_model_set_tap(s->model, s->layer));
    facs_cam_freeze(s->model);
    if (!(s->ctx = facs_ctx_create(o->device.device)))
        return facs_last_status();
    FACS_TRY(facs_ctx_set_weight_cache(s->ctx, 1)); /* the weights stay fixed: reorder them once */
    FACS_TRY(facs_cam_file_norm(o->weights, s->mean, s->std, NULL));
    s->classes = mo.classes;
    FACS_TRY(facs_cam_class_names(o->class_names, o->weights, s->classes, facs_model_is_segmentation(s->model),
                                  &s->names));
    FACS_TRY(class_file_names(s));
    for (int i = 0; i < o->n_classes; i++)
        FACS_TRY(resolve_class(s, o->classes[i], &s->wanted[s->n_wanted++]));
    s->several = o->n_classes > 1 || o->top > 1;
    return FACS_OK;
}

facs_status gc_session_open(const gc_options *o, gc_session *s)
{
    FACS_TRY(open_model(o, s));
    return input_size(o, s);
}

/* Refuses two files whose recorded class names differ (the same count of
 * other classes); a file that records none is taken at its word. */
static facs_status same_recorded_classes(const gc_session *first, const gc_session *second)
{
    char **a = NULL, **b = NULL;
    facs_status s = facs_cam_recorded_names(first->o->weights, first->classes, &a);
    if (s == FACS_OK)
        s = facs_cam_recorded_names(second->o->weights, second->classes, &b);
    for (int c = 0; s == FACS_OK && a && b && c < first->classes; c++)
        if (strcmp(a[c], b[c]) != 0)
            s = facs_fail(FACS_ERR_ARG, "--compare needs models of the same classes: class %d is '%s' in %s but "
                          "'%s' in %s (the class names each file records)", c, a[c], first->o->weights, b[c],
                          second->o->weights);
    facs_cam_names_free(a, first->classes);
    facs_cam_names_free(b, second->classes);
    return s;
}

facs_status gc_session_open_second(const gc_session *first, gc_options *o2, gc_session *s2)
{
    *o2 = *first->o;
    o2->weights = first->o->compare;
    o2->arch = NULL; /* --arch is the first file's */
    o2->n_classes = 0; /* the classes are the first model's ids, not resolved again */
    s2->o = o2;
    FACS_TRY(open_model(o2, s2));
    s2->height = first->height, s2->width = first->width; /* one size: the panel's tiles */
    if (s2->classes != first->classes)
        return facs_fail(FACS_ERR_ARG, "--compare needs models of the same classes: %s has %d, %s has %d",
                         first->o->weights, first->classes, o2->weights, s2->classes);
    return same_recorded_classes(first, s2);
}

void gc_session_close(gc_session *s)
{
    facs_cam_names_free(s->names, s->classes);
    facs_cam_names_free(s->file_names, s->classes);
    facs_ctx_free(s->ctx);
    facs_model_free(s->model);
    *s = (gc_session){0};
}
