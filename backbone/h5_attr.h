/* Single-valued HDF5 attributes (on a file, group or dataset): the numbers and
 * strings that weights files and facs-finetune checkpoints carry as metadata.
 *
 * Writers return 1 on success, 0 on failure (the attribute must not exist yet).
 * Readers return 1 when the attribute was read into *out, 0 when it is absent,
 * -1 when it is not a single value of the right kind or cannot be read; they
 * leave the caller to word the error. */
#ifndef FACS_H5_ATTR_H
#define FACS_H5_ATTR_H

#include <hdf5.h>
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

#endif
