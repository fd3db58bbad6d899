/* Checkpoints with the run's attributes, replaced atomically (see checkpoint.h). */
#include <stdio.h>
#include <unistd.h>

#include <hdf5.h>

#include "checkpoint.h"
#include "h5_atomic.h"
#include "h5_attr.h"
#include "out_file.h"

static int add_run_info(const char *path, const ft_run_info *r)
{
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL); /* failures become our messages, not HDF5's stack dumps */
    hid_t f = H5Fopen(path, H5F_ACC_RDWR, H5P_DEFAULT);
    if (f < 0)
        return 0;
    int ok = facs_h5_attr_write_f64(f, "ft_width", r->width) &&
             facs_h5_attr_write_i64(f, "ft_cifar_stem", r->cifar_stem) &&
             facs_h5_attr_write_i64(f, "ft_fusion_bn", r->fusion_bn) &&
             facs_h5_attr_write_i64(f, "ft_input_size", r->input_size) &&
             facs_h5_attr_write_i64(f, "ft_norm", r->norm) && facs_h5_attr_write_i64(f, "ft_batch", r->batch) &&
             facs_h5_attr_write_i64(f, "ft_epochs", r->epochs) && facs_h5_attr_write_i64(f, "ft_seed", r->seed) &&
             facs_h5_attr_write_f64(f, "ft_lr", r->lr) && facs_h5_attr_write_f64(f, "ft_momentum", r->momentum) &&
             facs_h5_attr_write_f64(f, "ft_wd", r->wd) && facs_h5_attr_write_f64(f, "ft_warmup", r->warmup) &&
             facs_h5_attr_write_i64(f, "ft_nesterov", r->nesterov) &&
             facs_h5_attr_write_i64(f, "ft_schedule", r->schedule) &&
             facs_h5_attr_write_f64(f, "ft_best_top1", r->best_top1) &&
             facs_h5_attr_write_i64(f, "ft_best_epoch", r->best_epoch) &&
             facs_h5_attr_write_f64(f, "ft_partial_loss_sum", r->partial_loss_sum) &&
             facs_h5_attr_write_i64(f, "ft_partial_correct", r->partial_correct) &&
             facs_h5_attr_write_i64(f, "ft_partial_seen", r->partial_seen);
    ok &= H5Fclose(f) >= 0;
    return ok;
}

facs_status ft_checkpoint_save(const char *path, facs_param_list *params, const facs_sgd *sgd,
                               const facs_weights_meta *meta, const facs_train_state *state,
                               const ft_run_info *info)
{
    char tmp[4096];
    FACS_TRY(ft_partial_path(path, tmp, sizeof tmp));
    facs_status s = sgd ? facs_weights_save_checkpoint(tmp, sgd, meta, state) : facs_weights_save(tmp, params, meta);
    if (s == FACS_OK && !add_run_info(tmp, info))
        s = facs_fail(FACS_ERR_IO, "%s: cannot add the run's attributes to %s", path, tmp);
    if (s != FACS_OK) {
        unlink(tmp);
        return s;
    }
    return facs_h5_commit(tmp, path);
}

facs_status ft_read_run_info(const char *path, ft_run_info *info, int *found)
{
    *found = 0;
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    if (f < 0)
        return facs_fail(FACS_ERR_IO, "%s: cannot open as HDF5 (missing, unreadable or not an HDF5 file)", path);
    ft_run_info r;
    int got = facs_h5_attr_read_f64(f, "ft_width", &r.width);
    struct {
        const char *name;
        int64_t *field;
    } ints[] = {{"ft_cifar_stem", &r.cifar_stem}, {"ft_fusion_bn", &r.fusion_bn},
                {"ft_input_size", &r.input_size}, {"ft_norm", &r.norm},
                {"ft_batch", &r.batch},           {"ft_epochs", &r.epochs},
                {"ft_seed", &r.seed},             {"ft_best_epoch", &r.best_epoch},
                {"ft_partial_correct", &r.partial_correct}, {"ft_partial_seen", &r.partial_seen},
                {"ft_nesterov", &r.nesterov},     {"ft_schedule", &r.schedule}};
    struct {
        const char *name;
        double *field;
    } reals[] = {{"ft_best_top1", &r.best_top1}, {"ft_partial_loss_sum", &r.partial_loss_sum},
                 {"ft_lr", &r.lr},               {"ft_momentum", &r.momentum},
                 {"ft_wd", &r.wd},               {"ft_warmup", &r.warmup}};
    int ok = got >= 0;
    for (size_t i = 0; ok && got == 1 && i < sizeof ints / sizeof ints[0]; i++)
        ok = facs_h5_attr_read_i64(f, ints[i].name, ints[i].field) == 1;
    for (size_t i = 0; ok && got == 1 && i < sizeof reals / sizeof reals[0]; i++)
        ok = facs_h5_attr_read_f64(f, reals[i].name, reals[i].field) == 1;
    H5Fclose(f);
    if (!ok)
        return facs_fail(FACS_ERR_FORMAT, "%s: the facs-finetune attributes (ft_*) are incomplete or of the wrong type",
                         path);
    if (got == 1) {
        *info = r;
        *found = 1;
    }
    return FACS_OK;
}
