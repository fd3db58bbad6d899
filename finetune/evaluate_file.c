/* --eval W.h5: rebuilds the network the file describes and evaluates it on
 * the test split (see run.h). What the file says (architecture, classes,
 * fusion, and the ft_* geometry and normalisation) wins over the options,
 * which fill in only what a file from elsewhere does not say. */
#include <stdio.h>
#include <string.h>

#include "model_setup.h"
#include "run.h"

/* o with the file's settings applied; refuses a contradicting --arch. */
static facs_status settings_from_file(const ft_options *o, ft_options *eff, const facs_weights_meta *m,
                                      const ft_run_info *info, int has_info)
{
    *eff = *o;
    if (m->arch[0]) {
        if (o->arch_given && strcmp(o->arch, m->arch) != 0)
            return facs_fail(FACS_ERR_ARG, "--eval %s holds a %s, not --arch %s", o->eval, m->arch, o->arch);
        snprintf(eff->arch, sizeof eff->arch, "%s", m->arch);
    }
    if (m->fusion >= 0) {
        eff->fusion = m->fusion;
        eff->threshold = m->threshold;
    }
    if (has_info) {
        eff->width = info->width;
        eff->cifar_stem = (int)info->cifar_stem;
        eff->fusion_bn = (int)info->fusion_bn;
        eff->input_size = (int)info->input_size;
        eff->norm = (int)info->norm;
    }
    if (eff->norm < 0)
        eff->norm = FT_NORM_CIFAR;
    return FACS_OK;
}

static facs_status evaluate_file(const ft_options *o, facs_model **model, facs_ctx **ctx, ft_split *test,
                                 facs_loader **loader, ft_eval *e)
{
    facs_weights_meta meta;
    ft_run_info info;
    int has_info;
    FACS_TRY(facs_weights_read_meta(o->eval, &meta));
    FACS_TRY(ft_read_run_info(o->eval, &info, &has_info));
    ft_options eff;
    FACS_TRY(settings_from_file(o, &eff, &meta, &info, has_info));
    FACS_TRY(ft_split_load(test, o->data, o->dataset, FACS_CIFAR_TEST, eff.input_size, eff.norm));
    int classes = test->split.num_classes;
    if (meta.classes > 0 && meta.classes != classes)
        return facs_fail(FACS_ERR_ARG, "--eval %s has %d classes, but %s holds CIFAR-%d", o->eval, meta.classes,
                         o->data, classes);
    FACS_TRY(ft_model_build(&eff, classes, FACS_DEVICE_CPU, model));
    facs_status s = facs_weights_load(o->eval, facs_model_params(*model), NULL, NULL);
    if (s != FACS_OK) {
        char why[1024];
        snprintf(why, sizeof why, "%s", facs_last_error());
        return facs_fail(s, "--eval: %s%s", why,
                         has_info ? "" : " (the file does not say its --width/--cifar-stem: pass the training run's)");
    }
    if (!(*ctx = facs_ctx_create(FACS_DEVICE_CPU)))
        return FACS_ERR_BACKEND;
    FACS_TRY(facs_ctx_set_weight_cache(*ctx, 1)); /* the weights stay fixed: reorder them once */
    FACS_TRY(ft_eval_init(e, classes));
    FACS_TRY(ft_loader_create(test, 0, o->batch, o->workers, o->seed, 0, loader));
    FACS_TRY(ft_evaluate(*ctx, *model, *loader, e));
    printf("%s: %s, %d classes, input %dx%d, %lld test images: top-1 %.4f  top-5 %.4f  loss %.4f\n", o->eval,
           eff.arch, classes, eff.input_size, eff.input_size, (long long)e->seen, ft_eval_top1(e), ft_eval_top5(e),
           e->seen ? e->loss_sum / e->seen : 0.0);
    ft_eval_print_table(e, &test->split, stdout);
    if (o->out) {
        char path[4096];
        if (snprintf(path, sizeof path, "%s/confusion.csv", o->out) >= (int)sizeof path)
            return facs_fail(FACS_ERR_ARG, "--out %s: path too long", o->out);
        FACS_TRY(ft_eval_write_confusion(e, &test->split, path));
        printf("confusion matrix: %s\n", path);
    }
    return FACS_OK;
}

int ft_eval_weights(const ft_options *o)
{
    facs_model *model = NULL;
    facs_ctx *ctx = NULL;
    ft_split test;
    memset(&test, 0, sizeof test);
    facs_loader *loader = NULL;
    ft_eval e;
    memset(&e, 0, sizeof e);
    facs_status s = evaluate_file(o, &model, &ctx, &test, &loader, &e);
    facs_loader_free(loader);
    ft_eval_free(&e);
    facs_model_free(model);
    facs_ctx_free(ctx);
    ft_split_free(&test);
    return s == FACS_OK ? FT_EXIT_OK : FT_EXIT_ERROR;
}
