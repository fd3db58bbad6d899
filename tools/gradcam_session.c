/* facs-gradcam's session (gradcam.h): the network rebuilt from its file,
 * tapped at --layer and frozen; the input normalisation; class names; the
 * --class list resolved. */
#include <hdf5.h>
#include <stdio.h>
#include <string.h>

#include "cli_options.h"
#include "gradcam.h"
#include "model_file.h"

/* The index of --class text: a number, or one of the class names. */
static facs_status resolve_class(const gc_session *s, const char *text, int *out)
{
    for (int c = 0; s->names && c < s->classes; c++)
        if (strcmp(s->names[c], text) == 0)
            return *out = c, FACS_OK;
    if (text[0] >= '0' && text[0] <= '9') {
        FACS_TRY(facs_cli_int("--class", text, 0, 1 << 30, out));
        return *out < s->classes ? FACS_OK
                                 : facs_fail(FACS_ERR_ARG, "--class %d is out of range: %s has %d classes (0 .. %d)",
                                             *out, s->o->weights, s->classes, s->classes - 1);
    }
    return facs_fail(FACS_ERR_ARG, "--class '%s' is no class of %s (%s)", text, s->o->weights,
                     s->names ? "not among its names" : "no class names: give an index or --class-names FILE");
}

/* An HDF5 file without weights (facs-run's output, a .cam.h5) is named as
 * such before the model options are read; the loader words every other case. */
static facs_status check_weights_file(const char *path)
{
    hid_t file = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    if (file < 0)
        return FACS_OK;
    htri_t has_model = H5Lexists(file, "model", H5P_DEFAULT);
    H5Fclose(file);
    return has_model > 0 ? FACS_OK : facs_fail(FACS_ERR_FORMAT, "%s is no weights file: it has no /model", path);
}

facs_status gc_session_open(const gc_options *o, gc_session *s)
{
    facs_model_options cli = {0}, mo;
    snprintf(cli.arch, sizeof cli.arch, "%s", o->arch ? o->arch : "");
    FACS_TRY(check_weights_file(o->weights));
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
    for (int i = 0; i < o->n_classes; i++)
        FACS_TRY(resolve_class(s, o->classes[i], &s->wanted[s->n_wanted++]));
    s->several = o->n_classes > 1 || o->top > 1;
    return FACS_OK;
}

facs_status gc_session_open_second(const gc_session *first, gc_options *o2, gc_session *s2)
{
    *o2 = *first->o;
    o2->weights = first->o->compare;
    o2->arch = NULL; /* --arch is the first file's */
    o2->n_classes = 0; /* the classes are the first model's ids, not resolved again */
    s2->o = o2;
    FACS_TRY(gc_session_open(o2, s2));
    if (s2->classes != first->classes)
        return facs_fail(FACS_ERR_ARG, "--compare needs models of the same classes: %s has %d, %s has %d",
                         first->o->weights, first->classes, o2->weights, s2->classes);
    return FACS_OK;
}

void gc_session_close(gc_session *s)
{
    facs_cam_names_free(s->names, s->classes);
    facs_ctx_free(s->ctx);
    facs_model_free(s->model);
    *s = (gc_session){0};
}
