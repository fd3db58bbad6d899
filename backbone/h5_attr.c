#include "h5_attr.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int write_attr(hid_t loc, const char *name, hid_t file_type, hid_t mem_type, const void *value)
{
    hid_t space = H5Screate(H5S_SCALAR);
    hid_t attr = space < 0 ? -1 : H5Acreate2(loc, name, file_type, space, H5P_DEFAULT, H5P_DEFAULT);
    int ok = attr >= 0 && H5Awrite(attr, mem_type, value) >= 0;
    if (attr >= 0)
        ok &= H5Aclose(attr) >= 0;
    if (space >= 0)
        H5Sclose(space);
    return ok;
}

int facs_h5_attr_write_i64(hid_t loc, const char *name, int64_t value)
{
    return write_attr(loc, name, H5T_STD_I64LE, H5T_NATIVE_INT64, &value);
}

int facs_h5_attr_write_f64(hid_t loc, const char *name, double value)
{
    return write_attr(loc, name, H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, &value);
}

int facs_h5_attr_write_str(hid_t loc, const char *name, const char *value)
{
    hid_t type = H5Tcopy(H5T_C_S1);
    int ok = type >= 0 && H5Tset_size(type, H5T_VARIABLE) >= 0 && H5Tset_cset(type, H5T_CSET_UTF8) >= 0 &&
             write_attr(loc, name, type, type, &value);
    if (type >= 0)
        H5Tclose(type);
    return ok;
}


/* Closes what an attribute read opened (a negative id was never opened). */
static void close_attr_handles(hid_t attr, hid_t type, hid_t space, hid_t mem)
{
    if (mem >= 0)
        H5Tclose(mem);
    if (space >= 0)
        H5Sclose(space);
    if (type >= 0)
        H5Tclose(type);
    if (attr >= 0)
        H5Aclose(attr);
}

/* A number converted to mem_type into out, or, with mem_type -1, a string into
 * out (size bytes); the readers' return convention. */
static int read_attr(hid_t loc, const char *name, hid_t mem_type, void *out, size_t size)
{
    if (H5Aexists(loc, name) <= 0)
        return 0;
    hid_t attr = H5Aopen(loc, name, H5P_DEFAULT);
    hid_t type = attr < 0 ? -1 : H5Aget_type(attr), space = attr < 0 ? -1 : H5Aget_space(attr), mem = -1;
    H5T_class_t cls = type < 0 ? H5T_NO_CLASS : H5Tget_class(type);
    int ok = space >= 0 && H5Sget_simple_extent_npoints(space) == 1;
    if (ok && mem_type >= 0) {
        ok = (cls == H5T_INTEGER || cls == H5T_FLOAT) && H5Aread(attr, mem_type, out) >= 0;
    } else if (ok && cls == H5T_STRING && H5Tis_variable_str(type) > 0) {
        char *s = NULL;
        ok = (mem = H5Tcopy(type)) >= 0 && H5Aread(attr, mem, &s) >= 0 && s;
        if (ok)
            snprintf(out, size, "%s", s);
        H5free_memory(s);
    } else if (ok && cls == H5T_STRING) { /* HDF5 converts between fixed sizes, null-terminating */
        ok = (mem = H5Tcopy(type)) >= 0 && H5Tset_size(mem, size) >= 0 &&
             H5Tset_strpad(mem, H5T_STR_NULLTERM) >= 0 && H5Aread(attr, mem, out) >= 0;
    } else {
        ok = 0;
    }
    close_attr_handles(attr, type, space, mem);
    return ok ? 1 : -1;
}

/* Whether name is a floating-point attribute of loc. */
static int is_float_attr(hid_t loc, const char *name)
{
    hid_t attr = H5Aopen(loc, name, H5P_DEFAULT);
    hid_t type = attr < 0 ? -1 : H5Aget_type(attr);
    int is_float = type >= 0 && H5Tget_class(type) == H5T_FLOAT;
    close_attr_handles(attr, type, -1, -1);
    return is_float;
}

int facs_h5_attr_read_i64(hid_t loc, const char *name, int64_t *out)
{
    /* A whole number written as a float (h5py's 10.0) converts; 10.7 is no whole number, not 10. */
    double real;
    int found = read_attr(loc, name, H5T_NATIVE_DOUBLE, &real, 0);
    if (found > 0 && is_float_attr(loc, name) && !(real == floor(real) && fabs(real) <= 9007199254740992.0))
        return -1;
    return found > 0 ? read_attr(loc, name, H5T_NATIVE_INT64, out, 0) : found;
}

int facs_h5_attr_read_f64(hid_t loc, const char *name, double *out)
{
    return read_attr(loc, name, H5T_NATIVE_DOUBLE, out, 0);
}

int facs_h5_attr_read_str(hid_t loc, const char *name, char *out, size_t size)
{
    return read_attr(loc, name, -1, out, size);
}

int facs_h5_attr_read_text(hid_t loc, const char *name, char **out)
{
    *out = NULL;
    if (H5Aexists(loc, name) <= 0)
        return 0;
    hid_t attr = H5Aopen(loc, name, H5P_DEFAULT);
    hid_t type = attr < 0 ? -1 : H5Aget_type(attr), space = attr < 0 ? -1 : H5Aget_space(attr), mem = -1;
    int ok = type >= 0 && space >= 0 && H5Tget_class(type) == H5T_STRING &&
             H5Sget_simple_extent_npoints(space) == 1 && (mem = H5Tcopy(type)) >= 0;
    if (ok && H5Tis_variable_str(type) > 0) {
        char *s = NULL;
        ok = H5Aread(attr, mem, &s) >= 0 && s && (*out = strdup(s)) != NULL;
        H5free_memory(s);
    } else if (ok) { /* fixed size: read it whole, then make sure it ends */
        size_t size = H5Tget_size(type);
        ok = size > 0 && (*out = calloc(size + 1, 1)) != NULL && H5Aread(attr, mem, *out) >= 0;
    }
    close_attr_handles(attr, type, space, mem);
    if (!ok) {
        free(*out);
        *out = NULL;
    }
    return ok ? 1 : -1;
}

facs_h5_quiet facs_h5_quiet_begin(void)
{
    facs_h5_quiet saved = {.is_v2 = 1};
    if (H5Eauto_is_v2(H5E_DEFAULT, &saved.is_v2) < 0)
        saved.is_v2 = 1;
#ifndef H5_NO_DEPRECATED_SYMBOLS
    if (!saved.is_v2) {
        if (H5Eget_auto1(&saved.func.v1, &saved.data) < 0)
            saved.func.v1 = NULL, saved.data = NULL;
        H5Eset_auto1(NULL, NULL);
        return saved;
    }
#endif
    if (H5Eget_auto2(H5E_DEFAULT, &saved.func.v2, &saved.data) < 0)
        saved.func.v2 = NULL, saved.data = NULL;
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    return saved;
}

void facs_h5_quiet_end(facs_h5_quiet saved)
{
#ifndef H5_NO_DEPRECATED_SYMBOLS
    if (!saved.is_v2) {
        H5Eset_auto1(saved.func.v1, saved.data);
        return;
    }
#endif
    H5Eset_auto2(H5E_DEFAULT, saved.func.v2, saved.data);
}
