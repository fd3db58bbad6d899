/* Setting up a pspnet-train run (see train_run.h): data, network, optimizer,
 * schedule, --init or --resume, then the run layer's first write. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "pspnet.h"
#include "train_run.h"

/* Run options a resumed run may change: they do not shape the result beyond rounding. */
static const char *const PS_FREE_OPTIONS[] = {"device", NULL};

/* Everything that shapes the result, as last.h5 stores it and --resume checks it. */
static json_t *run_options(const ps_run *r)
{
    const ps_options *o = r->o;
    const facs_model_options *mo = facs_model_get_options(r->model);
    json_t *j = json_pack("{s:s, s:i, s:f, s:i, s:b}", "arch", mo->arch, "classes", mo->classes, "width", mo->width,
                          "output-stride", mo->output_stride, "deep-stem", mo->deep_stem);
    json_t *rest = json_pack("{s:[i, i], s:f, s:f, s:f, s:f, s:f, s:i, s:I, s:f, s:f, s:f, s:f, s:f, s:f, s:i, s:I}",
                             "crop", o->crop_h, o->crop_w, "scale-min", o->scale_min, "scale-max", o->scale_max,
                             "rotate", o->rotate, "blur", o->blur, "flip", o->flip, "batch", o->batch, "iters",
                             (json_int_t)r->total_iters, "lr", o->lr, "head-lr-mult", o->head_lr_mult, "momentum",
                             o->momentum, "wd", o->wd, "power", o->power, "aux-weight", o->aux_weight,
                             "ignore-index", o->ignore_index, "seed", (json_int_t)o->seed);
    if (j && rest)
        json_object_update(j, rest);
    json_decref(rest);
    if (j && !o->sync_bn) /* only when off, so that runs from before the option resume */
        json_object_set_new(j, "sync-bn", json_false());
    char device[32];
    if (j) /* where the run (its latest leg) computed */
        json_object_set_new(j, "device", json_string(facs_cli_device_str(&o->device, device, sizeof device)));
    return j;
}

/* One split's frames (nothing decoded), their void labels read as --ignore-index. */
static facs_status load_split(const ps_run *r, const char *split, facs_cityscapes_pairs *index, facs_dataset *ds)
{
    FACS_TRY(facs_cityscapes_index(r->o->data, split, index));
    index->ignore_label = r->o->ignore_index;
    facs_cityscapes_dataset(index, ds);
    return FACS_OK;
}

/* Refuses a crop that the first training image cannot fill even at
 * --scale-max: semseg pads such a crop with the mean and the ignore label, so
 * every sample would be partly padding, at every scale (a 713 crop on small
 * images is a forgotten --crop, not a recipe). */
static facs_status check_crop(const ps_options *o, const facs_cityscapes_pairs *train)
{
    facs_image img = {0};
    FACS_TRY(facs_image_read(train->pairs[0].image, 3, &img));
    int h = img.height, w = img.width;
    int max_h = (int)(h * o->scale_max + 0.5), max_w = (int)(w * o->scale_max + 0.5);
    facs_image_free(&img);
    if (o->crop_h <= max_h && o->crop_w <= max_w)
        return FACS_OK;
    return facs_fail(FACS_ERR_ARG,
                     "--crop %dx%d is larger than the padded image: %s is %dx%d (HxW), at most %dx%d at --scale-max %g, "
                     "so every crop would be partly padding (ignore label); give a --crop of at most %dx%d or a "
                     "larger --scale-max",
                     o->crop_h, o->crop_w, train->pairs[0].image, h, w, max_h, max_w, o->scale_max,
                     max_h, max_w);
}

/* Both splits indexed and the run's length, which run_options records. */
static facs_status index_data(ps_run *r)
{
    const ps_options *o = r->o;
    FACS_TRY(load_split(r, "train", &r->train_index, &r->train_set));
    FACS_TRY(load_split(r, "val", &r->val_index, &r->val_set));
    r->batches_per_epoch = r->train_index.count / o->batch;
    r->total_iters = o->iters > 0 ? o->iters : (int64_t)o->epochs * r->batches_per_epoch;
    return FACS_OK;
}

/* The checks of the options against the data: the batch against the training
 * images, the crop against the first of them. */
static facs_status check_data(const ps_run *r)
{
    const ps_options *o = r->o;
    if (r->batches_per_epoch < 1)
        return facs_fail(FACS_ERR_ARG, "--batch %d is larger than the %d training images of %s", o->batch,
                         r->train_index.count, o->data);
    return check_crop(o, &r->train_index);
}

static void setup_augmentation(ps_run *r)
{
    const ps_options *o = r->o;
    r->aug = facs_seg_aug_train(o->crop_h, o->crop_w);
    r->aug.scale_min = (float)o->scale_min;
    r->aug.scale_max = (float)o->scale_max;
    r->aug.rotate_deg = (float)o->rotate;
    r->aug.blur_p = (float)o->blur;
    r->aug.flip_p = (float)o->flip;
    r->aug.ignore_label = o->ignore_index;
}

static facs_status setup_model(ps_run *r)
{
    const ps_options *o = r->o;
    facs_model_options mo;
    FACS_TRY(facs_model_options_for_arch(o->arch, &mo));
    mo.classes = o->classes;
    mo.width = o->width;
    mo.output_stride = o->output_stride;
    mo.deep_stem = o->deep_stem;
    FACS_TRY(facs_model_options_check_applicable(&mo, o->given));
    FACS_TRY(facs_model_create(&r->model, &mo, FACS_DEVICE_CPU, o->seed));
    if (!(r->ctx = facs_ctx_create(o->device.device)))
        return facs_last_status();
    r->meta = facs_model_meta(r->model);
    return FACS_OK;
}

/* The tensors of PSPNet's heads, which semseg trains at 10x the backbone's lr. */
static int is_head(const char *name)
{
    return strncmp(name, "ppm.", 4) == 0 || strncmp(name, "cls.", 4) == 0 || strncmp(name, "aux.", 4) == 0;
}

/* SGD with the heads (ppm, cls, aux) at head_lr_mult x the backbone's lr; poly schedule per iteration. */
static facs_status setup_optimizer(ps_run *r)
{
    const ps_options *o = r->o;
    facs_param_list *params = facs_model_params(r->model);
    for (int i = 0; i < params->count; i++)
        if (is_head(params->items[i]->name))
            params->items[i]->lr_mult = o->head_lr_mult;
    facs_sgd_options so = facs_sgd_defaults();
    so.lr = o->lr;
    so.momentum = o->momentum;
    so.weight_decay = o->wd;
    so.nesterov = 0; /* semseg: plain momentum */
    FACS_TRY(facs_sgd_init(&r->sgd, params, &so));
    r->sgd_ready = 1;
    r->schedule = facs_lr_schedule_defaults(FACS_LR_POLY, o->lr, r->total_iters);
    r->schedule.power = o->power;
    return facs_lr_schedule_check(&r->schedule);
}

static facs_status resume(ps_run *r)
{
    const ps_options *o = r->o;
    facs_train_state state;
    FACS_TRY(facs_weights_load_checkpoint(r->run.last_path, &r->sgd, NULL, NULL, &state));
    if (state.epoch != r->run.done || r->sgd.steps != r->run.done || r->sgd.steps > r->total_iters)
        return facs_fail(FACS_ERR_FORMAT, "--resume: %s says %lld iterations done (run_state), epoch %lld and %lld "
                         "steps (/optimizer), of %lld", r->run.last_path, (long long)r->run.done,
                         (long long)state.epoch, (long long)r->sgd.steps, (long long)r->total_iters);
    if (o->stop_after > 0 && o->stop_after <= r->run.done)
        return facs_fail(FACS_ERR_ARG, "--stop-after %lld: %s is already at iteration %lld of %lld; give a later "
                                       "iteration, or leave --stop-after out to run to the end",
                         (long long)o->stop_after, r->run.last_path, (long long)r->run.done,
                         (long long)r->total_iters);
    return FACS_OK;
}

static facs_status setup_loader(ps_run *r)
{
    const ps_options *o = r->o;
    facs_loader_opts lo = facs_loader_defaults();
    lo.batch_size = o->batch;
    lo.shuffle = 1;
    lo.drop_last = 1;
    lo.workers = o->workers;
    lo.seed = o->seed;
    lo.first_epoch = (int)(r->sgd.steps / r->batches_per_epoch);
    lo.height = o->crop_h;
    lo.width = o->crop_w;
    lo.channels = 3;
    lo.dense_labels = 1;
    lo.transform = facs_seg_transform;
    lo.transform_opts = &r->aug;
    lo.shard_rank = o->rank;
    lo.shard_count = o->ranks;
    /* Page-locked batches on CUDA, which ps_step uploads asynchronously. */
    FACS_TRY(facs_device_host_allocator(o->device.device, &lo.staging));
    return facs_loader_create(&r->train_set, &lo, &r->loader);
}

/* --init: a classifier's backbone, the heads left as initialised. A PSPNet
 * file is refused by what it is: its backbone shares some names with the
 * classifier's but not the file's layout, and a list of missing tensors would
 * not say that --init is the wrong option for it. */
static facs_status load_init(ps_run *r)
{
    const char *path = r->o->init;
    facs_weights_meta meta;
    if (facs_weights_read_meta(path, &meta) == FACS_OK && facs_model_arch_is_segmentation(meta.arch))
        return facs_fail(FACS_ERR_ARG,
                         "--init %s holds %s, a PSPNet: --init takes a classifier's (ImageNet) backbone weights, such "
                         "as a converted torchvision resnet50, not a PSPNet file; to continue a pspnet-train run, give "
                         "its folder as --out with --resume",
                         path, meta.arch);
    facs_weights_report report;
    FACS_TRY(facs_model_load_backbone(r->model, path, &report));
    printf("--init %s: %d backbone tensors loaded; the heads are newly initialised\n", path, report.loaded);
    return FACS_OK;
}

/* A PSPNet architecture, else a message listing them (before the data is read). */
static facs_status check_arch(const char *arch)
{
    if (facs_model_arch_is_segmentation(arch))
        return FACS_OK;
    return facs_fail(FACS_ERR_ARG, "--arch %s is not a PSPNet; use pspnet_<backbone>, e.g. pspnet_resnet50 or "
                                   "pspnet_facs_resnet101 (facs-summary --list shows every name)",
                     arch);
}

facs_status ps_run_setup(ps_run *r, const ps_options *o, facs_comm *comm)
{
    memset(r, 0, sizeof *r);
    r->o = o;
    r->comm = comm;
    facs_interrupt_install(); /* before the lock exists, as facs-finetune (finetune/setup.c) */
    FACS_TRY(check_arch(o->arch));
    FACS_TRY(facs_parallel_check_batch(o->batch, o->ranks));
    FACS_TRY(facs_cli_device_use(&o->device, o->ranks));
    FACS_TRY(facs_cityscapes_check_output(o->data, "--out", o->out));
    static const char *const app_files[] = {"curves.png", NULL};
    const facs_run_input inputs[] = {{"--init", o->init}, {NULL, NULL}};
    FACS_TRY(facs_run_open(&r->run, &(facs_run_config){.tool = "pspnet-train", .out = o->out, .resume = o->resume,
                                                       .best_key = "val_miou", .follower = o->rank != 0,
                                                       .app_files = app_files, .inputs = inputs}));
    FACS_TRY(facs_run_dir_file(&r->run.dir, "curves.png", r->plot_path, sizeof r->plot_path));
    FACS_TRY(index_data(r));
    FACS_TRY(setup_model(r));
    /* Compared with last.h5 before the checks against the data: a --resume
     * without the run's options is told which option it forgot, not that the
     * default crop or batch does not fit the images. */
    FACS_TRY(facs_run_set_options(&r->run, run_options(r), PS_FREE_OPTIONS, NULL));
    FACS_TRY(facs_run_agree(&r->run, r->comm)); /* before the first collective on tensors */
    FACS_TRY(check_data(r));
    setup_augmentation(r);
    FACS_TRY(setup_optimizer(r));
    if (o->resume)
        FACS_TRY(resume(r));
    else if (o->init)
        FACS_TRY(load_init(r));
    FACS_TRY(facs_cli_device_place(r->model, &o->device, 0));
    FACS_TRY(facs_parallel_setup(&r->par, comm, r->ctx, facs_model_params(r->model), o->sync_bn));
    FACS_TRY(setup_loader(r));
    return facs_run_start(&r->run);
}

void ps_run_free(ps_run *r)
{
    facs_parallel_free(&r->par);
    facs_loader_free(r->loader);
    if (r->sgd_ready)
        facs_sgd_free(&r->sgd);
    facs_model_free(r->model);
    facs_ctx_free(r->ctx);
    facs_cityscapes_index_free(&r->train_index);
    facs_cityscapes_index_free(&r->val_index);
    facs_run_close(&r->run);
}
