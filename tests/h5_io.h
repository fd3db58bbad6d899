/* Reading the reference tensors that the scripts of tests/ref/ write with h5py.
 *
 * A reference file holds float32 datasets (NCHW / OIHW, as PyTorch keeps
 * them) and int or float attributes on groups, e.g. /case0/x with the case's
 * options as attributes of /case0. */
#ifndef FACS_TEST_H5_IO_H
#define FACS_TEST_H5_IO_H

#include <stddef.h>

typedef struct h5_file h5_file;

/* NULL (with a message on stderr) when the file cannot be opened. */
h5_file *h5_open(const char *path);
void h5_close(h5_file *f);

int h5_exists(h5_file *f, const char *name);

/* Reads a dataset as float32 (converting from any numeric type): a malloc'd
 * array, its rank in *rank and sizes in dims (up to 8). NULL if missing. */
float *h5_read_f32(h5_file *f, const char *name, int *rank, size_t dims[8]);
/* Same, as float64 (learning rates and other exact sequences). */
double *h5_read_f64(h5_file *f, const char *name, int *rank, size_t dims[8]);
/* Same, as int32 (labels). */
int *h5_read_i32(h5_file *f, const char *name, int *rank, size_t dims[8]);

/* Attribute of the object (group or dataset) name, or fallback when missing. */
long h5_attr_int(h5_file *f, const char *name, const char *attr, long fallback);
double h5_attr_double(h5_file *f, const char *name, const char *attr, double fallback);

/* 1 when dataset name is stored with HDF5's Fletcher-32 checksum filter. */
int h5_has_fletcher32(h5_file *f, const char *name);

/* Where the stored bytes of dataset name lie in the file: its data
 * (contiguous layout, H5Dget_offset) or its first chunk (chunked layout,
 * where H5Dget_offset has no answer: H5Dget_chunk_info). 1 on success. */
int h5_data_extent(h5_file *f, const char *name, long long *offset, long long *size);

#endif
