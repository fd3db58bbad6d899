#include "h5_io.h"

#include <hdf5.h>
#include <stdio.h>
#include <stdlib.h>

struct h5_file {
    hid_t id;
};

h5_file *h5_open(const char *path)
{
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    hid_t id = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    if (id < 0) {
        fprintf(stderr, "%s: cannot open as HDF5\n", path);
        return NULL;
    }
    h5_file *f = malloc(sizeof *f);
    if (!f) {
        H5Fclose(id);
        return NULL;
    }
    f->id = id;
    return f;
}

void h5_close(h5_file *f)
{
    if (!f)
        return;
    H5Fclose(f->id);
    free(f);
}

int h5_exists(h5_file *f, const char *name)
{
    return H5Lexists(f->id, name, H5P_DEFAULT) > 0;
}

static void *read_dataset(h5_file *f, const char *name, hid_t mem_type, size_t elem, int *rank, size_t dims[8])
{
    if (!h5_exists(f, name))
        return NULL;
    hid_t ds = H5Dopen2(f->id, name, H5P_DEFAULT);
    if (ds < 0)
        return NULL;
    hid_t space = H5Dget_space(ds);
    int r = H5Sget_simple_extent_ndims(space);
    hsize_t hd[8] = {0};
    void *out = NULL;
    if (r >= 0 && r <= 8) {
        H5Sget_simple_extent_dims(space, hd, NULL);
        size_t count = 1;
        for (int i = 0; i < r; i++) {
            dims[i] = (size_t)hd[i];
            count *= dims[i];
        }
        *rank = r;
        out = malloc((count ? count : 1) * elem);
        if (out && H5Dread(ds, mem_type, H5S_ALL, H5S_ALL, H5P_DEFAULT, out) < 0) {
            free(out);
            out = NULL;
        }
    }
    H5Sclose(space);
    H5Dclose(ds);
    return out;
}

float *h5_read_f32(h5_file *f, const char *name, int *rank, size_t dims[8])
{
    return read_dataset(f, name, H5T_NATIVE_FLOAT, sizeof(float), rank, dims);
}

double *h5_read_f64(h5_file *f, const char *name, int *rank, size_t dims[8])
{
    return read_dataset(f, name, H5T_NATIVE_DOUBLE, sizeof(double), rank, dims);
}

int *h5_read_i32(h5_file *f, const char *name, int *rank, size_t dims[8])
{
    return read_dataset(f, name, H5T_NATIVE_INT, sizeof(int), rank, dims);
}

static int read_attr(h5_file *f, const char *name, const char *attr, hid_t type, void *out)
{
    if (!h5_exists(f, name) && !(name[0] == '/' && name[1] == '\0'))
        return 0;
    if (H5Aexists_by_name(f->id, name, attr, H5P_DEFAULT) <= 0)
        return 0;
    hid_t a = H5Aopen_by_name(f->id, name, attr, H5P_DEFAULT, H5P_DEFAULT);
    if (a < 0)
        return 0;
    int ok = H5Aread(a, type, out) >= 0;
    H5Aclose(a);
    return ok;
}

long h5_attr_int(h5_file *f, const char *name, const char *attr, long fallback)
{
    long v;
    return read_attr(f, name, attr, H5T_NATIVE_LONG, &v) ? v : fallback;
}

double h5_attr_double(h5_file *f, const char *name, const char *attr, double fallback)
{
    double v;
    return read_attr(f, name, attr, H5T_NATIVE_DOUBLE, &v) ? v : fallback;
}
