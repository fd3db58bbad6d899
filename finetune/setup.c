/* Setting up a run (see run.h): the output folder, the data, the network,
 * the optimizer and schedule, and --init or --resume. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "model_setup.h"
#include "run.h"

static facs_status join(char *dst, size_t size, const char *dir, const char *name)
{
    if (snprintf(dst, size, "%s/%s", dir, name) >= (int)size)
        return facs_fail(FACS_ERR_ARG, "--out %s: path too long", dir);
    return FACS_OK;
}

static int file_exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0;
}

/* The folder must exist or be creatable; its parent is never created. */
static facs_status prepare_out(ft_run *r)
{
    const char *out = r->o->out;
    struct stat st;
    if (stat(out, &st) == 0 && !S_ISDIR(st.st_mode))
        return facs_fail(FACS_ERR_ARG, "--out %s: exists and is not a folder", out);
    if (stat(out, &st) != 0 && mkdir(out, 0777) != 0)
        return facs_fail(FACS_ERR_IO, "--out %s: cannot create the folder: %s%s", out, strerror(errno),
                         errno == ENOENT ? " (its parent folder does not exist)" : "");
    FACS_TRY(join(r->last_path, sizeof r->last_path, out, "last.h5"));
    FACS_TRY(join(r->best_path, sizeof r->best_path, out, "best.h5"));
    FACS_TRY(join(r->log_path, sizeof r->log_path, out, "log.jsonl"));
    FACS_TRY(join(r->plot_path, sizeof r->plot_path, out, "curves.png"));
    FACS_TRY(join(r->confusion_path, sizeof r->confusion_path, out, "confusion.csv"));
    if (!r->o->resume && file_exists(r->last_path))
        return facs_fail(FACS_ERR_ARG, "%s exists: pass --resume to continue that run, or choose another --out",
                         r->last_path);
    if (r->o->resume && !file_exists(r->last_path))
        return facs_fail(FACS_ERR_IO, "--resume: %s does not exist", r->last_path);
    return FACS_OK;
}

/* The configuration the command line asks for, as the checkpoint stores it. */
static void config_info(ft_run *r, int norm)
{
    const ft_options *o = r->o;
    memset(&r->info, 0, sizeof r->info);
    r->info.width = o->width;
    r->info.cifar_stem = o->cifar_stem;
    r->info.fusion_bn = facs_model_get_options(r->model)->fusion_bn;
    r->info.input_size = o->input_size;
    r->info.norm = norm;
    r->info.batch = o->batch;
    r->info.epochs = o->epochs;
    r->info.seed = (int64_t)o->seed;
    r->info.lr = o->lr;
    r->info.momentum = o->momentum;
    r->info.nesterov = o->nesterov;
    r->info.wd = o->wd;
    r->info.schedule = o->schedule;
    r->info.warmup = o->warmup;
    r->info.best_top1 = -1;
    r->info.best_epoch = 0;
}

/* --resume continues only the run the command line describes. */
static facs_status check_resume(ft_run *r, const ft_run_info *saved, const facs_weights_meta *m)
{
    const char *p = r->last_path;
    if (strcmp(m->arch, r->meta.arch) != 0)
        return facs_fail(FACS_ERR_ARG, "--resume: %s holds a %s, not --arch %s", p,
                         m->arch[0] ? m->arch : "network of unknown architecture", r->meta.arch);
    if (m->classes != r->meta.classes)
        return facs_fail(FACS_ERR_ARG, "--resume: %s has %d classes, the data %d", p, m->classes, r->meta.classes);
    if (m->fusion != r->meta.fusion || (m->fusion >= 0 && m->threshold != r->meta.threshold))
        return facs_fail(FACS_ERR_ARG, "--resume: %s was trained with another --fusion/--threshold", p);
    const ft_run_info *want = &r->info;
    struct {
        const char *option;
        double saved, wanted;
    } fields[] = {{"--width", saved->width, want->width},
                  {"--cifar-stem", (double)saved->cifar_stem, (double)want->cifar_stem},
                  {"--fusion-bn (0 none, 1 pre, 2 post)", (double)saved->fusion_bn, (double)want->fusion_bn},
                  {"--input-size", (double)saved->input_size, (double)want->input_size},
                  {"--norm", (double)saved->norm, (double)want->norm},
                  {"--batch", (double)saved->batch, (double)want->batch},
                  {"--epochs", (double)saved->epochs, (double)want->epochs},
                  {"--seed", (double)saved->seed, (double)want->seed},
                  {"--lr", saved->lr, want->lr},
                  {"--momentum", saved->momentum, want->momentum},
                  {"--nesterov", (double)saved->nesterov, (double)want->nesterov},
                  {"--wd", saved->wd, want->wd},
                  {"--schedule (0 cosine, 1 step)", (double)saved->schedule, (double)want->schedule},
                  {"--warmup", saved->warmup, want->warmup}};
    for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++)
        if (fields[i].saved != fields[i].wanted)
            return facs_fail(FACS_ERR_ARG,
                             "--resume: %s was written with %s %g, not %g; resume with the run's options "
                             "(the result depends on them)",
                             p, fields[i].option, fields[i].saved, fields[i].wanted);
    return FACS_OK;
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
        return facs_fail(FACS_ERR_ARG, "--warmup %g covers the whole run of %d epochs", o->warmup, o->epochs);
    r->schedule = facs_lr_schedule_defaults(o->schedule == FT_SCHEDULE_STEP ? FACS_LR_STEP : FACS_LR_COSINE, o->lr,
                                            total - warmup);
    r->schedule.warmup_iters = warmup;
    return facs_lr_schedule_check(&r->schedule);
}

static facs_status read_saved_info(const ft_run *r, ft_run_info *saved)
{
    int found;
    FACS_TRY(ft_read_run_info(r->last_path, saved, &found));
    if (!found)
        return facs_fail(FACS_ERR_FORMAT, "--resume: %s was not written by facs-finetune (no ft_* attributes)",
                         r->last_path);
    return FACS_OK;
}

static facs_status resume(ft_run *r, const ft_run_info *saved)
{
    facs_weights_meta m;
    FACS_TRY(facs_weights_read_meta(r->last_path, &m));
    FACS_TRY(check_resume(r, saved, &m));
    facs_train_state state;
    FACS_TRY(facs_weights_load_checkpoint(r->last_path, &r->sgd, NULL, NULL, &state));
    int64_t skip = r->sgd.steps - state.epoch * r->batches_per_epoch;
    if (state.epoch < 0 || state.epoch > r->o->epochs || skip < 0 || skip > r->batches_per_epoch)
        return facs_fail(FACS_ERR_FORMAT,
                         "--resume: %s says epoch %lld after %lld steps, which %d batches per epoch cannot give",
                         r->last_path, (long long)state.epoch, (long long)r->sgd.steps, r->batches_per_epoch);
    r->first_epoch = (int)state.epoch;
    r->skip_batches = (int)skip;
    r->info = *saved;
    return FACS_OK;
}

facs_status ft_run_setup(ft_run *r, const ft_options *o)
{
    memset(r, 0, sizeof *r);
    r->o = o;
    facs_model_options arch_check; /* an unknown --arch fails before the data is read */
    FACS_TRY(facs_model_options_for_arch(o->arch, &arch_check));
    FACS_TRY(prepare_out(r));
    ft_run_info saved = {0};
    if (o->resume)
        FACS_TRY(read_saved_info(r, &saved));
    /* A resumed run keeps its normalisation unless --norm says otherwise (its --init is not repeated). */
    int norm = o->norm >= 0 ? o->norm : o->resume ? (int)saved.norm : o->init ? FT_NORM_IMAGENET : FT_NORM_CIFAR;
    FACS_TRY(ft_split_load(&r->train, o->data, o->dataset, FACS_CIFAR_TRAIN, o->input_size, norm));
    FACS_TRY(ft_split_load(&r->test, o->data, o->dataset, FACS_CIFAR_TEST, o->input_size, norm));
    r->classes = r->train.split.num_classes;
    r->batches_per_epoch = r->train.split.count / o->batch;
    if (r->batches_per_epoch < 1)
        return facs_fail(FACS_ERR_ARG, "--batch %d is larger than the %d training images", o->batch,
                         r->train.split.count);
    FACS_TRY(ft_model_build(o, r->classes, FACS_DEVICE_CPU, &r->model));
    if (!(r->ctx = facs_ctx_create(FACS_DEVICE_CPU)))
        return FACS_ERR_BACKEND;
    /* Evaluation reorders each conv weight once per epoch instead of once per batch. */
    FACS_TRY(facs_ctx_set_weight_cache(r->ctx, 1));
    r->meta = ft_model_meta(r->model);
    config_info(r, norm);
    FACS_TRY(setup_optimizer(r));
    if (o->resume)
        FACS_TRY(resume(r, &saved));
    else if (o->init)
        FACS_TRY(ft_model_load_init(r->model, o->init));
    FACS_TRY(ft_eval_init(&r->eval, r->classes));
    FACS_TRY(ft_loader_create(&r->train, 1, o->batch, o->workers, o->seed, r->first_epoch, &r->train_loader));
    FACS_TRY(ft_loader_create(&r->test, 0, o->batch, o->workers, o->seed, 0, &r->test_loader));
    /* The first write into OUT, after every check. */
    return o->resume ? ft_log_resume(r->log_path, r->first_epoch, &r->history) : ft_log_start(r->log_path, &r->history);
}

void ft_run_free(ft_run *r)
{
    facs_loader_free(r->train_loader);
    facs_loader_free(r->test_loader);
    ft_eval_free(&r->eval);
    ft_history_free(&r->history);
    if (r->sgd_ready)
        facs_sgd_free(&r->sgd);
    facs_model_free(r->model);
    facs_ctx_free(r->ctx);
    ft_split_free(&r->train);
    ft_split_free(&r->test);
}
