#include "h5_io.h"

#include <hdf5.h>
#include <stdio.h>
#include <stdlib.h>

struct h5_file {
    hid_t id;
};

/* Each function keeps HDF5 from printing its error stack for the calls that
 * may fail (a missing file, dataset or attribute is an answer here, not a
 * fault), and only for its own duration: H5E_BEGIN_TRY saves the caller's
 * setting and H5E_END_TRY restores it, so the process-wide handler stays as
 * the program set it. (backbone/h5_attr.h's facs_h5_quiet does the same for
 * the library; this test library does not link it.) */

h5_file *h5_open(const char *path)
{
    hid_t id = -1;
    H5E_BEGIN_TRY { id = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT); }
    H5E_END_TRY;
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

/* H5Lexists fails (rather than saying 0) when a group on the way is missing. */
int h5_exists(h5_file *f, const char *name)
{
    htri_t found = 0;
    H5E_BEGIN_TRY { found = H5Lexists(f->id, name, H5P_DEFAULT); }
    H5E_END_TRY;
    return found > 0;
}

static void *read_dataset_loud(h5_file *f, const char *name, hid_t mem_type, size_t elem, int *rank, size_t dims[8])
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

static void *read_dataset(h5_file *f, const char *name, hid_t mem_type, size_t elem, int *rank, size_t dims[8])
{
    void *out = NULL;
    H5E_BEGIN_TRY { out = read_dataset_loud(f, name, mem_type, elem, rank, dims); }
    H5E_END_TRY;
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

static int read_attr_loud(h5_file *f, const char *name, const char *attr, hid_t type, void *out)
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

static int read_attr(h5_file *f, const char *name, const char *attr, hid_t type, void *out)
{
    int ok = 0;
    H5E_BEGIN_TRY { ok = read_attr_loud(f, name, attr, type, out); }
    H5E_END_TRY;
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

/* The dataset's creation properties, or -1. */
static hid_t dataset_dcpl(h5_file *f, const char *name, hid_t *ds)
{
    *ds = h5_exists(f, name) ? H5Dopen2(f->id, name, H5P_DEFAULT) : -1;
    return *ds >= 0 ? H5Dget_create_plist(*ds) : -1;
}

int h5_has_fletcher32(h5_file *f, const char *name)
{
    int found = 0;
    H5E_BEGIN_TRY
    {
        hid_t ds, dcpl = dataset_dcpl(f, name, &ds);
        unsigned flags;
        size_t n = 0;
        found = dcpl >= 0 && H5Pget_filter_by_id2(dcpl, H5Z_FILTER_FLETCHER32, &flags, &n, NULL, 0, NULL, NULL) >= 0;
        if (dcpl >= 0)
            H5Pclose(dcpl);
        if (ds >= 0)
            H5Dclose(ds);
    }
    H5E_END_TRY;
    return found;
}

int h5_data_extent(h5_file *f, const char *name, long long *offset, long long *size)
{
    int ok = 0;
    H5E_BEGIN_TRY
    {
        hid_t ds, dcpl = dataset_dcpl(f, name, &ds);
        H5D_layout_t layout = dcpl >= 0 ? H5Pget_layout(dcpl) : H5D_LAYOUT_ERROR;
        if (layout == H5D_CONTIGUOUS) { /* H5Dget_offset knows only this layout */
            haddr_t at = H5Dget_offset(ds);
            ok = at != HADDR_UNDEF;
            *offset = (long long)at;
            *size = (long long)H5Dget_storage_size(ds);
        } else if (layout == H5D_CHUNKED) {
            hsize_t chunks = 0, size_bytes = 0, origin[H5S_MAX_RANK];
            unsigned mask;
            haddr_t at = HADDR_UNDEF;
            hid_t space = H5Dget_space(ds); /* HDF5 1.10 takes no H5S_ALL here */
            ok = space >= 0 && H5Dget_num_chunks(ds, space, &chunks) >= 0 && chunks >= 1 &&
                 H5Dget_chunk_info(ds, space, 0, origin, &mask, &at, &size_bytes) >= 0 && at != HADDR_UNDEF;
            if (space >= 0)
                H5Sclose(space);
            *offset = (long long)at;
            *size = (long long)size_bytes;
        }
        if (dcpl >= 0)
            H5Pclose(dcpl);
        if (ds >= 0)
            H5Dclose(ds);
    }
    H5E_END_TRY;
    return ok && *size > 0;
}
