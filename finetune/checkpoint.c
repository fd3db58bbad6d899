/* Checkpoints with the run's attributes, replaced atomically (see checkpoint.h). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <hdf5.h>

#include "checkpoint.h"

static int write_number(hid_t file, const char *name, hid_t file_type, hid_t mem_type, const void *value)
{
    hid_t space = H5Screate(H5S_SCALAR);
    hid_t attr = space < 0 ? -1 : H5Acreate2(file, name, file_type, space, H5P_DEFAULT, H5P_DEFAULT);
    int ok = attr >= 0 && H5Awrite(attr, mem_type, value) >= 0;
    if (attr >= 0)
        ok &= H5Aclose(attr) >= 0;
    if (space >= 0)
        H5Sclose(space);
    return ok;
}

static int write_i64(hid_t f, const char *name, int64_t v)
{
    return write_number(f, name, H5T_STD_I64LE, H5T_NATIVE_INT64, &v);
}

static int write_f64(hid_t f, const char *name, double v)
{
    return write_number(f, name, H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, &v);
}

/* 1 read, 0 absent, -1 not a single number. */
static int read_number(hid_t file, const char *name, hid_t mem_type, void *out)
{
    if (H5Aexists(file, name) <= 0)
        return 0;
    hid_t attr = H5Aopen(file, name, H5P_DEFAULT);
    hid_t type = attr < 0 ? -1 : H5Aget_type(attr), space = attr < 0 ? -1 : H5Aget_space(attr);
    H5T_class_t cls = type < 0 ? H5T_NO_CLASS : H5Tget_class(type);
    int ok = space >= 0 && H5Sget_simple_extent_npoints(space) == 1 && (cls == H5T_INTEGER || cls == H5T_FLOAT) &&
             H5Aread(attr, mem_type, out) >= 0;
    if (space >= 0)
        H5Sclose(space);
    if (type >= 0)
        H5Tclose(type);
    if (attr >= 0)
        H5Aclose(attr);
    return ok ? 1 : -1;
}

static int add_run_info(const char *path, const ft_run_info *r)
{
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL); /* failures become our messages, not HDF5's stack dumps */
    hid_t f = H5Fopen(path, H5F_ACC_RDWR, H5P_DEFAULT);
    if (f < 0)
        return 0;
    int ok = write_f64(f, "ft_width", r->width) && write_i64(f, "ft_cifar_stem", r->cifar_stem) &&
             write_i64(f, "ft_fusion_bn", r->fusion_bn) && write_i64(f, "ft_input_size", r->input_size) &&
             write_i64(f, "ft_norm", r->norm) && write_i64(f, "ft_batch", r->batch) &&
             write_i64(f, "ft_epochs", r->epochs) && write_i64(f, "ft_seed", r->seed) &&
             write_f64(f, "ft_lr", r->lr) && write_f64(f, "ft_momentum", r->momentum) &&
             write_f64(f, "ft_wd", r->wd) && write_f64(f, "ft_warmup", r->warmup) &&
             write_i64(f, "ft_nesterov", r->nesterov) && write_i64(f, "ft_schedule", r->schedule) &&
             write_f64(f, "ft_best_top1", r->best_top1) && write_i64(f, "ft_best_epoch", r->best_epoch) &&
             write_f64(f, "ft_partial_loss_sum", r->partial_loss_sum) &&
             write_i64(f, "ft_partial_correct", r->partial_correct) &&
             write_i64(f, "ft_partial_seen", r->partial_seen);
    ok &= H5Fclose(f) >= 0;
    return ok;
}

static int fsync_file(const char *path)
{
    int fd = open(path, O_RDONLY);
    if (fd < 0)
        return 0;
    int ok = fsync(fd) == 0;
    return close(fd) == 0 && ok;
}

facs_status ft_checkpoint_save(const char *path, facs_param_list *params, const facs_sgd *sgd,
                               const facs_weights_meta *meta, const facs_train_state *state,
                               const ft_run_info *info)
{
    char tmp[4096];
    if (snprintf(tmp, sizeof tmp, "%s.partial.%ld", path, (long)getpid()) >= (int)sizeof tmp)
        return facs_fail(FACS_ERR_ARG, "%s: path too long", path);
    facs_status s = sgd ? facs_weights_save_checkpoint(tmp, sgd, meta, state) : facs_weights_save(tmp, params, meta);
    if (s == FACS_OK && !add_run_info(tmp, info))
        s = facs_fail(FACS_ERR_IO, "%s: cannot add the run's attributes to %s", path, tmp);
    if (s == FACS_OK && !fsync_file(tmp))
        s = facs_fail(FACS_ERR_IO, "%s: cannot sync %s: %s", path, tmp, strerror(errno));
    if (s == FACS_OK && rename(tmp, path) != 0)
        s = facs_fail(FACS_ERR_IO, "%s: cannot rename %s over it: %s", path, tmp, strerror(errno));
    if (s != FACS_OK)
        unlink(tmp);
    return s;
}

facs_status ft_read_run_info(const char *path, ft_run_info *info, int *found)
{
    *found = 0;
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    if (f < 0)
        return facs_fail(FACS_ERR_IO, "%s: cannot open as HDF5 (missing, unreadable or not an HDF5 file)", path);
    ft_run_info r;
    int got = read_number(f, "ft_width", H5T_NATIVE_DOUBLE, &r.width);
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
        ok = read_number(f, ints[i].name, H5T_NATIVE_INT64, ints[i].field) == 1;
    for (size_t i = 0; ok && got == 1 && i < sizeof reals / sizeof reals[0]; i++)
        ok = read_number(f, reals[i].name, H5T_NATIVE_DOUBLE, reals[i].field) == 1;
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
