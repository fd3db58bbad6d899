/* Checked option values (see cli_options.h). */
#include "cli_options.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend.h"
#include "comm.h"
#include "model.h"

facs_status facs_cli_int64(const char *option, const char *text, int64_t lo, int64_t hi, int64_t *out)
{
    const char *p = text + (*text == '-');
    int digits_only = *p != '\0';
    for (; *p; p++)
        digits_only &= isdigit((unsigned char)*p) != 0;
    errno = 0;
    long long v = digits_only ? strtoll(text, NULL, 10) : 0;
    if (!digits_only || errno == ERANGE || v < lo || v > hi)
        return facs_fail(FACS_ERR_ARG, "%s needs a whole number in [%lld, %lld], not '%s'", option, (long long)lo,
                         (long long)hi, text);
    *out = v;
    return FACS_OK;
}

void facs_cli_program_name(char **argv)
{
    const char *slash = argv[0] ? strrchr(argv[0], '/') : NULL;
    if (slash && slash[1])
        argv[0] = (char *)slash + 1;
}

facs_status facs_cli_int(const char *option, const char *text, int lo, int hi, int *out)
{
    int64_t v;
    FACS_TRY(facs_cli_int64(option, text, lo, hi, &v));
    *out = (int)v;
    return FACS_OK;
}

facs_status facs_cli_real(const char *option, const char *text, double lo, double hi, double *out)
{
    /* strtod also takes hex, "inf" and "nan": only plain decimal notation is a number here. */
    int plain = *text != '\0' && strspn(text, "0123456789.eE+-") == strlen(text) && strpbrk(text, "0123456789");
    char *end;
    double v = plain ? strtod(text, &end) : NAN;
    if (!plain || end == text || *end || !isfinite(v) || v < lo || v > hi)
        return facs_fail(FACS_ERR_ARG, "%s needs a number in [%g, %g], not '%s'", option, lo, hi, text);
    *out = v;
    return FACS_OK;
}

facs_status facs_cli_choice(const char *option, const char *text, const char *const *names, int *out)
{
    char list[512] = "";
    size_t len = 0;
    for (int i = 0; names[i]; i++) {
        if (strcmp(text, names[i]) == 0) {
            *out = i;
            return FACS_OK;
        }
        len += (size_t)snprintf(list + len, len < sizeof list ? sizeof list - len : 0, "%s%s",
                                i ? (names[i + 1] ? ", " : " or ") : "", names[i]);
        if (len >= sizeof list)
            len = sizeof list - 1;
    }
    return facs_fail(FACS_ERR_ARG, "%s must be %s, not '%s'", option, list, text);
}

facs_status facs_cli_stem(int stem, int *deep_stem)
{
    if (*deep_stem && *deep_stem != stem)
        return facs_fail(FACS_ERR_ARG, "--deep-stem and --deep-base choose different stems: give one of them");
    *deep_stem = stem;
    return FACS_OK;
}

facs_status facs_cli_size(const char *option, const char *text, int lo, int hi, int *h, int *w)
{
    const char *x = strchr(text, 'x');
    if (!x) {
        FACS_TRY(facs_cli_int(option, text, lo, hi, h));
        *w = *h;
        return FACS_OK;
    }
    /* The message quotes the whole argument: "not ''" for the empty half of "224x" says nothing. */
    char first[32];
    size_t len = (size_t)(x - text);
    int ok = len < sizeof first;
    if (ok) {
        memcpy(first, text, len);
        first[len] = 0;
        ok = facs_cli_int(option, first, lo, hi, h) == FACS_OK && facs_cli_int(option, x + 1, lo, hi, w) == FACS_OK;
    }
    return ok ? FACS_OK
              : facs_fail(FACS_ERR_ARG, "%s needs S or HxW, whole numbers in [%d, %d], not '%s'", option, lo, hi,
                          text);
}

facs_status facs_cli_device(const char *text, facs_device_choice *out)
{
    facs_device_choice d;
    FACS_TRY(facs_device_parse(text, &d.device, &d.index));
    d.indexed = strchr(text, ':') != NULL;
    *out = d;
    return FACS_OK;
}

facs_status facs_cli_device_use(const facs_device_choice *d, int ranks)
{
    char name[32];
    if (d->device == FACS_DEVICE_CPU || ranks == 1)
        return facs_device_select(d->device, d->index);
#ifndef FACS_WITH_NCCL
    return facs_fail(FACS_ERR_UNSUPPORTED, "--device %s under mpirun: sums of CUDA tensors over ranks need NCCL, and "
                     "this build has none (configure with CUDA, MPI and NCCL found); drop --device, or run one process",
                     facs_cli_device_str(d, name, sizeof name));
#else
    if (d->indexed)
        return facs_fail(FACS_ERR_ARG, "--device %s under mpirun: each rank takes the GPU of its rank on its "
                         "machine; give --device cuda", facs_cli_device_str(d, name, sizeof name));
    int local = facs_comm_local_rank();
    if (local < 0)
        return facs_fail(FACS_ERR_ARG, "--device cuda under mpirun: the launcher did not say this process's rank on "
                         "its machine (OMPI_COMM_WORLD_LOCAL_RANK, MPI_LOCALRANKID or SLURM_LOCALID)");
    facs_status s = facs_device_select(FACS_DEVICE_CUDA, local);
    if (s != FACS_OK) {
        char why[512];
        snprintf(why, sizeof why, "%s", facs_last_error());
        return facs_fail(s, "--device cuda under mpirun: rank %d on this machine needs GPU %d, one GPU per rank (%s)",
                         local, local, why);
    }
    return FACS_OK;
#endif
}

const char *facs_cli_device_str(const facs_device_choice *d, char *buf, size_t size)
{
    return facs_device_label(d->device, d->index, buf, size);
}

facs_status facs_cli_device_place(facs_model *model, const facs_device_choice *d, int fold)
{
    /* Moved first: the folded biases are then created on the device. */
    FACS_TRY(facs_model_to_device(model, d->device));
    return fold ? facs_model_fold_bn(model) : FACS_OK;
}
