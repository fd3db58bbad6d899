/* Single-valued HDF5 attributes (on a file, group or dataset): the numbers and
 * strings that weights files and facs-finetune checkpoints carry as metadata;
 * and HDF5's error printing silenced for a scope.
 *
 * Writers return 1 on success, 0 on failure (the attribute must not exist yet).
 * Readers return 1 when the attribute was read into *out, 0 when it is absent,
 * -1 when it is not a single value of the right kind or cannot be read; they
 * leave the caller to word the error. */
#ifndef FACS_H5_ATTR_H
#define FACS_H5_ATTR_H

#include <hdf5.h>

#include "status.h"
#include <stddef.h>
#include <stdint.h>

/* Stored as little-endian int64 / IEEE float64. */
int facs_h5_attr_write_i64(hid_t loc, const char *name, int64_t value);
int facs_h5_attr_write_f64(hid_t loc, const char *name, double value);
/* Variable-length UTF-8, as h5py writes a Python str. */
int facs_h5_attr_write_str(hid_t loc, const char *name, const char *value);

/* Any integer or float attribute, converted by HDF5. */
int facs_h5_attr_read_i64(hid_t loc, const char *name, int64_t *out);
int facs_h5_attr_read_f64(hid_t loc, const char *name, double *out);
/* A fixed- or variable-length string into out (size bytes, cut to fit). */
int facs_h5_attr_read_str(hid_t loc, const char *name, char *out, size_t size);
/* The whole string, however long, into *out (malloc'd; the caller frees it;
 * NULL unless 1 is returned). */
int facs_h5_attr_read_text(hid_t loc, const char *name, char **out);

/* HDF5 prints its error stack to stderr on every failing call unless told
 * not to; the library words its own messages instead, but must not change a
 * process-wide setting its caller may rely on. So each entry point silences
 * the printing for its own duration only:
 *
 *     facs_h5_quiet q = facs_h5_quiet_begin();   // saves the current handler
 *     ... HDF5 calls that may fail ...
 *     facs_h5_quiet_end(q);                      // puts it back
 *
 * (HDF5's H5E_BEGIN_TRY/H5E_END_TRY do the same for a block that has no
 * return in it.) Scopes nest. */
typedef struct {
    unsigned is_v2; /* which API the saved handler was installed with */
    union {
        H5E_auto2_t v2;
#ifndef H5_NO_DEPRECATED_SYMBOLS
        H5E_auto1_t v1;
#endif
    } func;
    void *data;
} facs_h5_quiet;

facs_h5_quiet facs_h5_quiet_begin(void);
void facs_h5_quiet_end(facs_h5_quiet saved);

/* Creates the HDF5 file path with fill's content, whole or not at all
 * (kernels/atomic_file.h): fill writes into a temporary in path's folder,
 * which is closed, synced and renamed over path. On any failure path is
 * left as it was and the temporary removed. path is the name for messages. */
typedef facs_status (*facs_h5_fill_fn)(hid_t file, const char *path, const void *user);
facs_status facs_h5_write_atomic(const char *path, facs_h5_fill_fn fill, const void *user);

#endif
