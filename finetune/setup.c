/* Setting up a run (see ft_run.h): the output folder, the data, the network,
 * the optimizer and schedule, and --init or --resume. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "ft_run.h"
#include "model_setup.h"


/* The checkpoint records the class names as JSON text: a folder name that is
 * not UTF-8 (a Latin-1 "caf\xe9") cannot be one, and was left out silently. */
static facs_status check_class_names(const ft_run *r)
{
    for (int i = 0; i < r->train.num_classes; i++) {
        json_t *name = json_string(r->train.class_names[i]);
        if (!name)
            return facs_fail(FACS_ERR_ARG, "%s: the class folder name '%s' is not UTF-8, which the checkpoint's "
                             "class names must be; rename the folder", r->train.where, r->train.class_names[i]);
        json_decref(name);
    }
    return FACS_OK;
}

static json_t *class_names_json(const ft_run *r)
{
    json_t *names = json_array();
    for (int i = 0; names && i < r->train.num_classes; i++)
        json_array_append_new(names, json_string(r->train.class_names[i]));
    return names;
}

/* Run options a resumed run may change: they do not shape the result beyond rounding. */
static const char *const FT_FREE_OPTIONS[] = {"device", NULL};

/* Run options that the data gives, not an option of their own: --resume's messages describe them (run.h). */
#define FT_DATA_CHANGED "--data changed since: resume on the data the run was written with"
static const facs_run_derived FT_DERIVED_OPTIONS[] = {
    {"classes", "", " classes in --data", NULL, FT_DATA_CHANGED},
    {"train-images", "the training images of --data numbering ", "", NULL, FT_DATA_CHANGED},
    {"data", "", " in --data", "CIFAR in --data", FT_DATA_CHANGED},
    {"class-names", "the classes ", " in this order", NULL,
     "resume with the run's classes and order (--classes-file, else the sorted folders of --data's train/)"},
    {"eval-resize", "evaluation resizing to ", " (--input-size x 256 / 224)", NULL,
     "resume with the run's --input-size"},
    {NULL, NULL, NULL, NULL, NULL}};

/* Everything that shapes the result, as last.h5 stores it and --resume checks it. */
static json_t *run_options(const ft_run *r, int norm)
{
    const ft_options *o = r->o;
    const facs_model_options *mo = facs_model_get_options(r->model);
    json_t *j = json_pack("{s:s, s:i, s:f, s:b}", "arch", mo->arch, "classes", r->classes, "width", mo->width,
                          "cifar-stem", mo->cifar_stem);
    if (j && facs_model_is_facs(r->model))
        json_object_update_new(j, json_pack("{s:s, s:f, s:s}", "fusion", facs_fusion_name(mo->fusion.fusion),
                                            "threshold", (double)mo->fusion.threshold, "fusion-bn",
                                            facs_fusion_bn_name(mo->fusion_bn)));
    if (j)
        json_object_update_new(j, json_pack("{s:i, s:s, s:i, s:i, s:I, s:f, s:f, s:b, s:f, s:s, s:f, s:f}",
                                            "input-size", o->input_size, "norm", ft_norm_names[norm], "batch",
                                            o->batch, "epochs", o->epochs, "seed", (json_int_t)o->seed, "lr", o->lr,
                                            "momentum", o->momentum, "nesterov", o->nesterov, "wd", o->wd,
                                            "schedule", ft_schedule_names[o->schedule], "warmup", o->warmup,
                                            "label-smoothing", o->label_smoothing));
    if (j && o->sync_bn) /* only when on, so that runs from before the option resume */
        json_object_set_new(j, "sync-bn", json_true());
    char device[32];
    if (j) /* where the run (its latest leg) computed; --resume may change it (FT_FREE_OPTIONS) */
        json_object_set_new(j, "device", json_string(facs_cli_device_str(&o->device, device, sizeof device)));
    if (j && o->layout == FT_LAYOUT_FOLDER) /* what --eval needs to map DIR/val's folders to class ids */
        json_object_update_new(j, json_pack("{s:s, s:i, s:o, s:s}", "data", "imagefolder", "eval-resize",
                                            ft_eval_resize(o->input_size), "class-names", class_names_json(r),
                                            "jpeg-draft",
                                            ft_jpeg_draft_names[o->jpeg_draft < 0 ? FT_DRAFT_TRAIN : o->jpeg_draft]));
    /* So that --resume on changed data is refused; a run from before it was recorded resumes without it. */
    if (j && (!o->resume || facs_run_saved_option(&r->run, "train-images")))
        json_object_set_new(j, "train-images", json_integer(r->train.count));
    return j;
}

/* --norm, else the resumed run's, else imagenet for --init weights and image folders, else cifar. */
static int choose_norm(const ft_run *r)
{
    const ft_options *o = r->o;
    if (o->norm >= 0)
        return o->norm;
    json_t *saved = facs_run_saved_option(&r->run, "norm");
    if (saved && json_is_string(saved))
        return strcmp(json_string_value(saved), ft_norm_names[FT_NORM_IMAGENET]) == 0;
    return o->init || o->layout == FT_LAYOUT_FOLDER ? FT_NORM_IMAGENET : FT_NORM_CIFAR;
}

static facs_status setup_optimizer(ft_run *r)
{
    const ft_options *o = r->o;
    facs_sgd_options so = facs_sgd_defaults();
    so.lr = o->lr;
    so.momentum = o->momentum;
    so.nesterov = o->nesterov;
    so.weight_decay = o->wd;
    FACS_TRY(facs_sgd_init(&r->sgd, facs_model_params(r->model), &so));
    r->sgd_ready = 1;
    int64_t total = (int64_t)o->epochs * r->batches_per_epoch;
    int64_t warmup = (int64_t)llround(o->warmup * r->batches_per_epoch);
    if (warmup >= total)
        return facs_fail(FACS_ERR_ARG, "--warmup %g covers the whole run of %d epoch%s", o->warmup, o->epochs,
                         o->epochs == 1 ? "" : "s");
    r->schedule = facs_lr_schedule_defaults(o->schedule == FT_SCHEDULE_STEP ? FACS_LR_STEP : FACS_LR_COSINE, o->lr,
                                            total - warmup);
    r->schedule.warmup_iters = warmup;
    /* Image folders: x0.1 at 30, 60 and 90 % of the run after the warm-up (the
     * paper's ResNet protocol: epochs 30, 60, 90 of 100); CIFAR: at 1/3 and 2/3. */
    if (o->layout == FT_LAYOUT_FOLDER && llround(0.3 * (double)(total - warmup)) > 0)
        r->schedule.step_size = llround(0.3 * (double)(total - warmup));
    return facs_lr_schedule_check(&r->schedule);
}

/* The weights, momenta and step count of last.h5; the position in the run
 * must be one the batches per epoch can give. */
static facs_status resume(ft_run *r)
{
    const char *last = r->run.last_path;
    facs_train_state state;
    FACS_TRY(facs_weights_load_checkpoint(last, &r->sgd, NULL, NULL, &state));
    int64_t done = r->run.done; /* in range before the product: a corrupt count must not overflow it */
    int64_t skip = done <= r->o->epochs ? r->sgd.steps - done * r->batches_per_epoch : -1;
    if (state.epoch != done || skip < 0 || skip >= r->batches_per_epoch || (skip > 0) != (r->run.partial != NULL))
        return facs_fail(FACS_ERR_FORMAT,
                         "--resume: %s says %lld epochs done (run_state), epoch %lld after %lld steps (/optimizer)%s, "
                         "which %d batches per epoch cannot give", last, (long long)done, (long long)state.epoch,
                         (long long)r->sgd.steps, r->run.partial ? " and the sums of an unfinished epoch" : "",
                         r->batches_per_epoch);
    r->skip_batches = (int)skip;
    return FACS_OK;
}

facs_status ft_run_setup(ft_run *r, const ft_options *o, facs_comm *comm)
{
    memset(r, 0, sizeof *r);
    r->o = o;
    r->comm = comm;
    /* Before the lock exists: a Ctrl-C from then on stops the run at its first batch instead of being lost (a
     * background job starts with SIGINT ignored, and the handler would come only after the data has loaded). */
    facs_interrupt_install();
    FACS_TRY(ft_model_check_options(o)); /* a bad --arch fails before the data is read */
    FACS_TRY(facs_parallel_check_batch(o->batch, o->ranks));
    FACS_TRY(ft_data_check_out(o, o->out)); /* before facs_run_open creates it */
    FACS_TRY(facs_cli_device_use(&o->device, o->ranks));
    static const char *const app_files[] = {"curves.png", "confusion.csv", NULL};
    const facs_run_input inputs[] = {{"--init", o->init}, {"--classes-file", o->classes_file}, {NULL, NULL}};
    FACS_TRY(facs_run_open(&r->run, &(facs_run_config){.tool = "facs-finetune", .out = o->out, .resume = o->resume,
                                                       .best_key = "test_top1", .follower = o->rank != 0,
                                                       .app_files = app_files, .inputs = inputs}));
    FACS_TRY(facs_run_dir_file(&r->run.dir, "curves.png", r->plot_path, sizeof r->plot_path));
    FACS_TRY(facs_run_dir_file(&r->run.dir, "confusion.csv", r->confusion_path, sizeof r->confusion_path));
    int norm = choose_norm(r);
    FACS_TRY(ft_split_load_train(&r->train, o, o->input_size, norm));
    FACS_TRY(check_class_names(r));
    FACS_TRY(ft_split_load_test(&r->test, o, r->train.class_names, r->train.num_classes, NULL, o->input_size, norm));
    r->classes = r->train.num_classes;
    r->batches_per_epoch = r->train.count / o->batch;
    if (r->batches_per_epoch < 1)
        return facs_fail(FACS_ERR_ARG, "--batch %d is larger than the %d training images", o->batch, r->train.count);
    FACS_TRY(ft_model_build(o, r->classes, FACS_DEVICE_CPU, &r->model));
    if (!(r->ctx = facs_ctx_create(o->device.device)))
        return facs_last_status();
    /* Evaluation reorders each conv weight once per epoch instead of once per batch (the CPU's layouts; a GPU
     * backend keeps none, and the cache then stays empty). */
    FACS_TRY(facs_ctx_set_weight_cache(r->ctx, 1));
    r->meta = facs_model_meta(r->model);
    FACS_TRY(facs_run_set_options(&r->run, run_options(r, norm), FT_FREE_OPTIONS, FT_DERIVED_OPTIONS));
    FACS_TRY(facs_run_agree(&r->run, r->comm)); /* before the first collective on tensors */
    FACS_TRY(setup_optimizer(r));
    if (o->resume)
        FACS_TRY(resume(r));
    else if (o->init)
        FACS_TRY(ft_model_load_init(r->model, o->init));
    FACS_TRY(facs_cli_device_place(r->model, &o->device, 0));
    FACS_TRY(facs_parallel_setup(&r->par, r->comm, r->ctx, facs_model_params(r->model), o->sync_bn));
    FACS_TRY(ft_eval_init(&r->eval, r->classes));
    int first_epoch = (int)r->run.done;
    FACS_TRY(ft_loader_create(&r->train, 1, o, first_epoch, &r->train_loader));
    FACS_TRY(ft_loader_create(&r->test, 0, o, 0, &r->test_loader));
    return facs_run_start(&r->run);
}

void ft_run_free(ft_run *r)
{
    facs_parallel_free(&r->par);
    facs_loader_free(r->train_loader);
    facs_loader_free(r->test_loader);
    ft_eval_free(&r->eval);
    if (r->sgd_ready)
        facs_sgd_free(&r->sgd);
    facs_model_free(r->model);
    facs_ctx_free(r->ctx);
    ft_split_free(&r->train);
    ft_split_free(&r->test);
    facs_run_close(&r->run);
}
