#include "h5_array.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The dataset's shape and float32 values into a; the caller closes ds. */
static facs_status read_dataset(const char *path, const char *name, hid_t ds, facs_h5_array *a)
{
    hid_t space = H5Dget_space(ds), type = H5Dget_type(ds);
    int rank = space >= 0 ? H5Sget_simple_extent_ndims(space) : -1;
    H5T_class_t kind = type >= 0 ? H5Tget_class(type) : H5T_NO_CLASS;
    facs_status s = FACS_OK;
    if (kind != H5T_FLOAT && kind != H5T_INTEGER)
        s = facs_fail(FACS_ERR_FORMAT, "%s: dataset /%s is not numeric", path, name);
    else if (rank < 1 || rank > FACS_H5_ARRAY_MAX_RANK)
        s = facs_fail(FACS_ERR_FORMAT, "%s: dataset /%s has rank %d, expected 1 to %d", path, name, rank,
                      FACS_H5_ARRAY_MAX_RANK);
    if (s == FACS_OK) {
        a->rank = rank;
        H5Sget_simple_extent_dims(space, a->dims, NULL);
        size_t count = 1;
        for (int i = 0; i < rank; i++)
            count *= a->dims[i];
        a->data = malloc((count ? count : 1) * sizeof(float));
        if (!a->data)
            s = facs_fail(FACS_ERR_MEMORY, "%s: out of memory reading /%s", path, name);
        else if (H5Dread(ds, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, a->data) < 0)
            s = facs_fail(FACS_ERR_FORMAT, "%s: cannot read dataset /%s (truncated file?)", path, name);
    }
    if (type >= 0)
        H5Tclose(type);
    if (space >= 0)
        H5Sclose(space);
    return s;
}

facs_status facs_h5_array_read(const char *path, const char *name, int optional, facs_h5_array *a)
{
    memset(a, 0, sizeof *a);
    hid_t file = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    if (file < 0)
        return facs_fail(FACS_ERR_IO, "%s: cannot open as HDF5 (missing, unreadable or not an HDF5 file)", path);
    facs_status s = FACS_OK;
    if (H5Lexists(file, name, H5P_DEFAULT) > 0) {
        hid_t ds = H5Dopen2(file, name, H5P_DEFAULT);
        s = ds >= 0 ? read_dataset(path, name, ds, a)
                    : facs_fail(FACS_ERR_FORMAT, "%s: /%s is not a dataset", path, name);
        if (ds >= 0)
            H5Dclose(ds);
    } else if (!optional) {
        s = facs_fail(FACS_ERR_FORMAT, "%s: no dataset /%s", path, name);
    }
    H5Fclose(file);
    if (s != FACS_OK)
        facs_h5_array_free(a);
    return s;
}

void facs_h5_array_free(facs_h5_array *a)
{
    free(a->data);
    memset(a, 0, sizeof *a);
}

const char *facs_h5_dims_str(int rank, const hsize_t *dims, char *buf, size_t size)
{
    size_t used = (size_t)snprintf(buf, size, "(");
    for (int i = 0; i < rank && used < size; i++)
        used += (size_t)snprintf(buf + used, size - used, "%s%llu", i ? ", " : "", (unsigned long long)dims[i]);
    if (used < size)
        snprintf(buf + used, size - used, ")");
    return buf;
}

facs_status facs_h5_write_f32(hid_t file, const char *path, const char *name, int rank, const hsize_t *dims,
                              const float *data)
{
    hid_t lcpl = H5Pcreate(H5P_LINK_CREATE);
    hid_t space = H5Screate_simple(rank, dims, NULL);
    int ok = lcpl >= 0 && space >= 0 && H5Pset_create_intermediate_group(lcpl, 1) >= 0;
    hid_t ds = ok ? H5Dcreate2(file, name, H5T_IEEE_F32LE, space, lcpl, H5P_DEFAULT, H5P_DEFAULT) : -1;
    ok = ds >= 0 && H5Dwrite(ds, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, data) >= 0;
    if (ds >= 0)
        H5Dclose(ds);
    if (space >= 0)
        H5Sclose(space);
    if (lcpl >= 0)
        H5Pclose(lcpl);
    return ok ? FACS_OK : facs_fail(FACS_ERR_IO, "%s: cannot write /%s", path, name);
}

facs_status facs_h5_write_tensor(hid_t file, const char *path, const char *name, const facs_tensor *t, int rank)
{
    size_t count = facs_tensor_numel(t);
    float *host = malloc((count ? count : 1) * sizeof *host);
    if (!host)
        return facs_fail(FACS_ERR_MEMORY, "%s: out of memory writing /%s", path, name);
    facs_status s = facs_tensor_to_nchw(t, host, count);
    hsize_t dims[4] = {(hsize_t)t->n, (hsize_t)t->c, (hsize_t)t->h, (hsize_t)t->w};
    if (s == FACS_OK)
        s = facs_h5_write_f32(file, path, name, rank, dims, host);
    free(host);
    return s;
}
