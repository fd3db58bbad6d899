/* One image through facs-gradcam (gradcam.h): a pass per class, then the
 * map's pictures and file, each written atomically. */
#include <hdf5.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "atomic_file.h"
#include "colormap.h"
#include "gradcam.h"
#include "h5_array.h"
#include "h5_attr.h"
#include "panel.h"

/* The class's name, else its index. */
static const char *class_name(const gc_session *s, int cls, char *buf, size_t size)
{
    return s->names ? s->names[cls] : (snprintf(buf, size, "%d", cls), buf);
}

typedef struct {
    const gc_session *s;
    const facs_cam_grads *g;
    const float *raw, *cam;
    int height, width;
} cam_file;

static facs_status fill_cam_file(hid_t file, const char *path, const void *user)
{
    const cam_file *c = user;
    const facs_cam_grads *g = c->g;
    hsize_t dims[2] = {(hsize_t)c->height, (hsize_t)c->width}, raw_dims[2] = {(hsize_t)g->height, (hsize_t)g->width};
    FACS_TRY(facs_h5_write_f32(file, path, "cam", 2, dims, c->cam));
    FACS_TRY(facs_h5_write_f32(file, path, "cam_raw", 2, raw_dims, c->raw));
    char buf[32];
    int ok = facs_h5_attr_write_i64(file, "class", g->cls) &&
             facs_h5_attr_write_str(file, "class_name", class_name(c->s, g->cls, buf, sizeof buf)) &&
             facs_h5_attr_write_f64(file, "score", g->score) &&
             facs_h5_attr_write_f64(file, "probability", g->probability) &&
             facs_h5_attr_write_i64(file, "pixels", g->pixels) && facs_h5_attr_write_str(file, "layer", c->s->layer) &&
             facs_h5_attr_write_str(file, "method", facs_cam_method_names[c->s->o->method]) &&
             facs_h5_attr_write_str(file, "arch", facs_model_get_options(c->s->model)->arch);
    return ok ? FACS_OK : facs_fail(FACS_ERR_IO, "%s: cannot write the attributes", path);
}

/* The endings of the files written into --out: <stem><middle><ending>. */
#define CAM_PNG "_cam.png"
#define OVERLAY_PNG "_overlay.png"
#define COMPARE_PNG "_compare.png"
#define CAM_FILE ".cam.h5"

facs_status gc_check_inputs_not_output_names(const gc_options *o)
{
    static const char *const endings[] = {CAM_PNG, OVERLAY_PNG, COMPARE_PNG, CAM_FILE};
    const char *const inputs[] = {o->weights, o->compare, o->class_names};
    for (int i = 0; i < 3; i++) {
        if (!inputs[i])
            continue;
        char copy[4096];
        snprintf(copy, sizeof copy, "%s", inputs[i]);
        if (!facs_same_file(dirname(copy), o->out))
            continue;
        size_t n = strlen(inputs[i]);
        for (int k = 0; k < 4; k++) {
            size_t e = strlen(endings[k]);
            if (n >= e && strcmp(inputs[i] + n - e, endings[k]) == 0)
                return facs_fail(FACS_ERR_ARG, "%s is in --out %s under a name of the maps written there (*%s): a "
                                 "map could replace it; move it or choose another --out", inputs[i], o->out,
                                 endings[k]);
        }
    }
    return FACS_OK;
}

/* out/<stem><middle><suffix>, refused when it is the image or the weights. */
static facs_status output_path(const gc_session *s, const char *image, const char *stem, const char *middle,
                               const char *suffix, char *path, size_t size)
{
    if (snprintf(path, size, "%s/%s%s%s", s->o->out, stem, middle, suffix) >= (int)size)
        return facs_fail(FACS_ERR_ARG, "%s/%s%s%s: path too long", s->o->out, stem, middle, suffix);
    const char *inputs[] = {image, s->o->weights, s->o->compare};
    return facs_check_output_not_input("--out", path, inputs, 3);
}

/* Writes *picture (a new image, or none when made failed) to out/<stem><middle><suffix> and frees it. */
static facs_status save_png(const gc_session *s, const char *image, const char *stem, const char *middle,
                            const char *suffix, facs_status made, facs_image *picture)
{
    char path[4096];
    if (made == FACS_OK && (made = output_path(s, image, stem, middle, suffix, path, sizeof path)) == FACS_OK)
        made = facs_png_write(path, picture);
    facs_image_free(picture);
    return made;
}

/* The map of one class: its pictures and, with --save-cam, its file. In
 * names the class is s->file_names[class], or its index (middle:
 * "_<class>"). The overlay is handed to *keep when keep is not NULL. */
static facs_status write_map(const gc_session *s, const char *image, const char *stem, const facs_cam_input *in,
                             const facs_cam_grads *g, char middle[96], facs_image *keep)
{
    int h = in->rgb.height, w = in->rgb.width;
    float *raw = malloc((size_t)g->height * g->width * sizeof *raw), *cam = malloc((size_t)h * w * sizeof *cam);
    facs_image picture;
    char name[80], path[4096];
    const char *cls_name = class_name(s, g->cls, name, sizeof name);
    snprintf(middle, 96, "_%s", s->file_names ? s->file_names[g->cls] : cls_name);
    facs_status st = raw && cam ? FACS_OK : facs_fail(FACS_ERR_MEMORY, "%s: out of memory for the maps", image);
    if (st == FACS_OK)
        st = facs_cam_raw(s->o->method, g->channels, g->height, g->width, g->activations, g->gradients, raw);
    if (st == FACS_OK)
        st = facs_cam_normalise(raw, g->height, g->width, h, w, cam);
    if (st == FACS_OK)
        st = save_png(s, image, stem, middle, CAM_PNG, facs_jet_to_rgb(cam, w, h, &picture), &picture);
    if (st == FACS_OK && (st = facs_cam_overlay(&in->rgb, cam, &picture)) == FACS_OK) {
        char path_png[4096];
        if ((st = output_path(s, image, stem, middle, OVERLAY_PNG, path_png, sizeof path_png)) == FACS_OK)
            st = facs_png_write(path_png, &picture);
        if (keep && st == FACS_OK)
            *keep = picture, picture = (facs_image){0};
        facs_image_free(&picture);
    }
    if (st == FACS_OK && s->o->save_cam &&
        (st = output_path(s, image, stem, s->several ? middle : "", CAM_FILE, path, sizeof path)) == FACS_OK)
        st = facs_h5_write_atomic(path, fill_cam_file, &(cam_file){s, g, raw, cam, h, w});
    if (st == FACS_OK && !s->quiet && facs_model_is_segmentation(s->model))
        printf("%s: class %d (%s) over %ld pixels: score %.6g, mean probability %.4f\n", image, g->cls, cls_name,
               g->pixels, g->score, g->probability);
    else if (st == FACS_OK && !s->quiet)
        printf("%s: class %d (%s) score %.6g probability %.4f\n", image, g->cls, cls_name, g->score,
               g->probability);
    free(raw), free(cam);
    return st;
}

/* The second model's overlay of class cls (its own probability in *probability). */
static facs_status second_overlay(const gc_session *s2, const char *image, int cls, facs_image *out,
                                  double *probability)
{
    facs_cam_grads g = {0};
    facs_cam_target target = {cls, NULL};
    facs_cam_input own; /* normalised as the second file was trained */
    FACS_TRY(facs_cam_input_load(image, s2->height, s2->width, s2->mean, s2->std, &own));
    const facs_cam_input *in = &own;
    int h = in->rgb.height, w = in->rgb.width;
    facs_status st = facs_cam_gradients(s2->ctx, s2->model, in->chw, h, w, &target, &g);
    if (st != FACS_OK)
        return facs_cam_input_free(&own), st;
    float *raw = malloc((size_t)g.height * g.width * sizeof *raw), *cam = malloc((size_t)h * w * sizeof *cam);
    st = raw && cam ? FACS_OK : facs_fail(FACS_ERR_MEMORY, "out of memory for the maps");
    if (st == FACS_OK)
        st = facs_cam_raw(s2->o->method, g.channels, g.height, g.width, g.activations, g.gradients, raw);
    if (st == FACS_OK)
        st = facs_cam_normalise(raw, g.height, g.width, h, w, cam);
    if (st == FACS_OK)
        st = facs_cam_overlay(&in->rgb, cam, out);
    *probability = g.probability;
    free(raw), free(cam);
    facs_cam_grads_free(&g);
    facs_cam_input_free(&own);
    return st;
}

/* <stem><middle>_compare.png: the image, then each model's overlay of g's class, labelled. */
static facs_status write_compare(const gc_session *s, const gc_session *s2, const char *image, const char *stem,
                                 const facs_cam_input *in, const facs_cam_grads *g, const char *middle,
                                 facs_image *first)
{
    facs_image other = {0}, panel;
    double p2 = 0;
    char name[80], name2[80], labels[3][160];
    facs_status st = second_overlay(s2, image, g->cls, &other, &p2);
    snprintf(labels[0], sizeof labels[0], "%s", stem);
    /* Each model's own name of the class: a mislabelled tile would go unnoticed. */
    snprintf(labels[1], sizeof labels[1], "%s: %s %.2f", facs_model_get_options(s->model)->arch,
             class_name(s, g->cls, name, sizeof name), g->probability);
    snprintf(labels[2], sizeof labels[2], "%s: %s %.2f", facs_model_get_options(s2->model)->arch,
             class_name(s2, g->cls, name2, sizeof name2), p2);
    const facs_image *tiles[3] = {&in->rgb, first, &other};
    const char *text[3] = {labels[0], labels[1], labels[2]};
    if (st == FACS_OK)
        st = save_png(s, image, stem, middle, COMPARE_PNG, facs_panel_compose(tiles, text, 3, 1, &panel), &panel);
    facs_image_free(&other);
    return st;
}

facs_status gc_explain_image(const gc_session *s, const gc_session *second, const char *image, const char *stem)
{
    facs_cam_input in;
    FACS_TRY(facs_cam_input_load(image, s->height, s->width, s->mean, s->std, &in));
    int count = s->n_wanted ? s->n_wanted : s->o->top < s->classes ? s->o->top : s->classes;
    facs_cam_grads g = {0}, first = {0}; /* the first pass ranks the classes the --top K follow */
    facs_status st = FACS_OK;
    for (int i = 0; st == FACS_OK && i < count; i++) {
        facs_cam_target target = {s->n_wanted ? s->wanted[i] : i ? first.ranking[i] : -1, NULL};
        st = facs_cam_gradients(s->ctx, s->model, in.chw, in.rgb.height, in.rgb.width, &target, i ? &g : &first);
        const facs_cam_grads *now = i ? &g : &first;
        facs_image overlay = {0};
        char middle[96];
        if (st == FACS_OK && (s->n_wanted || !facs_model_is_segmentation(s->model) || now->pixels > 0))
            st = write_map(s, image, stem, &in, now, middle, second ? &overlay : NULL);
        if (st == FACS_OK && second && overlay.pixels)
            st = write_compare(s, second, image, stem, &in, now, middle, &overlay);
        facs_image_free(&overlay);
        facs_cam_grads_free(&g);
    }
    facs_cam_grads_free(&first);
    facs_cam_input_free(&in);
    return st;
}
