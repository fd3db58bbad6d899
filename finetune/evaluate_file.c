/* --eval W.h5: rebuilds the network the file describes (backbone/model_file.h)
 * and evaluates it on the test split (see ft_run.h). The input size and
 * normalisation (and an image folder's class names) come from the file's run
 * options when a training run wrote it, else from the command line; an
 * option that contradicts the file is refused, naming both values. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "atomic_file.h"
#include "ft_run.h"
#include "image_walk.h"
#include "model_setup.h"

/* The input size and normalisation to evaluate path with; *saved: the file's
 * run options (NULL when a training run did not write it; the caller's). */
static facs_status input_settings(const ft_options *o, const char *path, int *input_size, int *norm, json_t **saved_out)
{
    *input_size = o->input_size;
    *norm = o->norm >= 0 ? o->norm : o->layout == FT_LAYOUT_FOLDER ? FT_NORM_IMAGENET : FT_NORM_CIFAR;
    char *text;
    FACS_TRY(facs_weights_read_text_attr(path, "run_options", &text));
    json_t *saved = text ? json_loads(text, 0, NULL) : NULL;
    int recorded = text != NULL;
    free(text);
    *saved_out = saved;
    if (recorded && !saved)
        return facs_fail(FACS_ERR_FORMAT, "%s: run_options is not JSON (the file is corrupt)", path);
    json_int_t saved_size = 0;
    const char *saved_norm = NULL;
    facs_status s = FACS_OK;
    if (saved && json_unpack(saved, "{s:I, s:s}", "input-size", &saved_size, "norm", &saved_norm) == 0) {
        int saved_norm_value = strcmp(saved_norm, ft_norm_names[FT_NORM_IMAGENET]) == 0;
        if (saved_size < FT_INPUT_SIZE_MIN || saved_size > FT_INPUT_SIZE_MAX ||
            (!saved_norm_value && strcmp(saved_norm, ft_norm_names[FT_NORM_CIFAR]) != 0))
            return facs_fail(FACS_ERR_FORMAT, "%s: run_options records input-size %lld and norm '%s', which no "
                             "facs-finetune run has (the file is corrupt)", path, (long long)saved_size, saved_norm);
        if (o->input_size_given && o->input_size != saved_size)
            s = facs_fail(FACS_ERR_ARG, "--input-size %d, but %s was trained with input size %lld", o->input_size,
                          path, (long long)saved_size);
        else if (o->norm >= 0 && o->norm != saved_norm_value)
            s = facs_fail(FACS_ERR_ARG, "--norm %s, but %s was trained with norm %s", ft_norm_names[o->norm], path,
                          saved_norm);
        *input_size = (int)saved_size;
        *norm = saved_norm_value;
    }
    return s;
}

/* The class names a training run on an image folder recorded (class i =
 * names->items[i]); none otherwise. */
static facs_status saved_class_names(const json_t *saved, const char *path, facs_strings *names)
{
    json_t *list = saved ? json_object_get(saved, "class-names") : NULL;
    size_t i;
    json_t *name;
    json_array_foreach(list, i, name)
        if (!json_is_string(name) || !facs_strings_push(names, json_string_value(name)))
            return facs_fail(FACS_ERR_FORMAT, "%s: run_options.class-names[%zu] is not a name", path, i);
    return FACS_OK;
}

/* Name i of names, quoted, or "nothing" past its end. */
static const char *quoted_name(const facs_strings *names, int i, char *buf, size_t size)
{
    if (i >= names->count)
        return "nothing";
    snprintf(buf, size, "'%s'", names->items[i]);
    return buf;
}

/* --classes-file against the classes path was trained with (class i = saved->items[i]): the evaluation maps
 * DIR/val's folders by the file's list, so a list in another order would score the network against the wrong labels. */
static facs_status check_classes_file(const ft_options *o, const char *path, const facs_strings *saved)
{
    facs_strings listed = {0};
    FACS_TRY(ft_read_classes_file(o, &listed));
    int n = listed.count > saved->count ? listed.count : saved->count, c = 0;
    while (c < n && c < listed.count && c < saved->count && strcmp(listed.items[c], saved->items[c]) == 0)
        c++;
    char lists[320], trained[320];
    facs_status s = c == n ? FACS_OK
                           : facs_fail(FACS_ERR_ARG, "--classes-file %s lists %s as class %d, but %s was trained with "
                                       "%s there (it records its %d classes in order; leave out --classes-file to "
                                       "use them)", o->classes_file, quoted_name(&listed, c, lists, sizeof lists), c,
                                       path, quoted_name(saved, c, trained, sizeof trained), saved->count);
    facs_strings_free(&listed);
    return s;
}

/* --out must not be a training run's folder, whose confusion.csv the
 * evaluation would replace, nor hold the inputs under that name. */
static facs_status check_out(facs_run_dir *out, const ft_options *o)
{
    char csv[4096];
    FACS_TRY(facs_run_dir_file(out, "confusion.csv", csv, sizeof csv));
    FACS_TRY(facs_check_output_not_input("--out", csv, (const char *const[]){o->eval, o->classes_file}, 2));
    /* best.h5 alone is weights, perhaps the very file evaluated, not a run. */
    static const char *const run_files[] = {"last.h5", "log.jsonl"};
    char path[4096];
    struct stat st;
    for (int i = 0; i < 2; i++) {
        FACS_TRY(facs_run_dir_file(out, run_files[i], path, sizeof path));
        if (stat(path, &st) == 0)
            return facs_fail(FACS_ERR_ARG, "--out %s holds a training run (%s): --eval would replace its "
                             "confusion.csv; give --eval another --out", out->path, path);
    }
    return FACS_OK;
}

typedef struct {
    facs_run_dir out;
    facs_model *model;
    facs_ctx *ctx;
    ft_split test;
    facs_loader *loader;
    ft_eval eval;
    json_t *saved;       /* the file's run options */
    facs_strings names;  /* the file's class names (image folders) */
} eval_session;

static facs_status evaluate_file(const ft_options *o, eval_session *e)
{
    facs_model_options cli, mo;
    FACS_TRY(facs_cli_device_use(&o->device, 1));
    FACS_TRY(ft_model_options(o, 0, &cli));
    FACS_TRY(facs_model_options_resolve(o->eval, &cli, o->given, &mo));
    if (facs_model_arch_is_segmentation(mo.arch))
        return facs_fail(FACS_ERR_ARG, "--eval %s holds %s, a segmentation network; facs-finetune evaluates "
                         "classifiers (pspnet-eval evaluates PSPNet)", o->eval, mo.arch);
    int input_size, norm;
    FACS_TRY(input_settings(o, o->eval, &input_size, &norm, &e->saved));
    if (o->layout == FT_LAYOUT_FOLDER)
        FACS_TRY(saved_class_names(e->saved, o->eval, &e->names));
    if (o->classes_file && e->names.count > 0) /* else --classes-file gives the classes, as in training */
        FACS_TRY(check_classes_file(o, o->eval, &e->names));
    FACS_TRY(ft_data_check_out(o, o->out));
    if (o->out) { /* before the work: a folder that cannot be made fails now, not after the evaluation */
        FACS_TRY(facs_run_dir_open(&e->out, "--out", o->out));
        FACS_TRY(check_out(&e->out, o));
    }
    char names_from[4200];
    snprintf(names_from, sizeof names_from, "the classes %s was trained with", o->eval);
    FACS_TRY(ft_split_load_test(&e->test, o, e->names.items, e->names.count, names_from, input_size, norm));
    int classes = e->test.num_classes;
    if (mo.classes != classes)
        return facs_fail(FACS_ERR_ARG, "--eval %s has %d classes, but %s has %d", o->eval, mo.classes,
                         e->test.where, classes);
    FACS_TRY(facs_model_create(&e->model, &mo, FACS_DEVICE_CPU, o->seed));
    FACS_TRY(facs_model_load(o->eval, e->model, NULL));
    FACS_TRY(facs_cli_device_place(e->model, &o->device, 1)); /* inference: BN folded (CPU), ReLU and adds fused */
    if (!(e->ctx = facs_ctx_create(o->device.device)))
        return facs_last_status();
    FACS_TRY(facs_ctx_set_weight_cache(e->ctx, 1)); /* the weights stay fixed: reorder them once */
    FACS_TRY(ft_eval_init(&e->eval, classes));
    FACS_TRY(ft_loader_create(&e->test, 0, o, 0, &e->loader));
    facs_status s = ft_evaluate(e->ctx, e->model, e->loader, NULL, "--eval", &e->eval);
    facs_status listed = ft_print_skipped(NULL, NULL, e->loader);
    FACS_TRY(s);
    FACS_TRY(listed);
    const facs_confusion *m = &e->eval.matrix;
    printf("%s: %s, %d classes, input %dx%d, %lld test images: top-1 %.4f  top-5 %.4f  loss %.4f\n", o->eval, mo.arch,
           classes, input_size, input_size, (long long)facs_confusion_total(m), facs_confusion_accuracy(m),
           facs_confusion_topk(m, 5), ft_eval_loss(&e->eval));
    const char *const *names = (const char *const *)e->test.class_names;
    facs_confusion_print_table(m, names, stdout);
    if (!o->out)
        return FACS_OK;
    char path[4096];
    FACS_TRY(facs_run_dir_file(&e->out, "confusion.csv", path, sizeof path));
    facs_run_dir_mark_written(&e->out);
    FACS_TRY(facs_confusion_write_csv(m, names, path));
    printf("confusion matrix: %s\n", path);
    return FACS_OK;
}

int ft_eval_weights(const ft_options *o)
{
    eval_session e;
    memset(&e, 0, sizeof e);
    e.out.lock_fd = -1;
    facs_status s = evaluate_file(o, &e);
    facs_loader_free(e.loader);
    ft_eval_free(&e.eval);
    facs_model_free(e.model);
    facs_ctx_free(e.ctx);
    ft_split_free(&e.test);
    json_decref(e.saved);
    facs_strings_free(&e.names);
    facs_run_dir_close(&e.out);
    return s == FACS_OK ? FACS_EXIT_OK : FACS_EXIT_ERROR;
}
