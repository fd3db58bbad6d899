/* Float arrays in HDF5 files for the tools that exchange tensors with PyTorch
 * (facs-run's /input, /output and gradients; GradCAM's maps):
 *
 *     facs_h5_array in;
 *     FACS_TRY(facs_h5_array_read("x.h5", "input", 0, &in));   // any float or integer type, as float32
 *     ... in.rank, in.dims[0..rank), in.data ...
 *     facs_h5_array_free(&in);
 *
 * and, inside a facs_h5_write_atomic fill function (h5_attr.h),
 * facs_h5_write_f32 / facs_h5_write_tensor. */
#ifndef FACS_H5_ARRAY_H
#define FACS_H5_ARRAY_H

#include <hdf5.h>

#include "tensor.h"

#define FACS_H5_ARRAY_MAX_RANK 4

typedef struct {
    float *data; /* malloc'd; NULL when an optional dataset is absent */
    int rank;    /* 1 .. FACS_H5_ARRAY_MAX_RANK */
    hsize_t dims[FACS_H5_ARRAY_MAX_RANK];
} facs_h5_array;

/* Reads dataset name of the file at path as float32. Refuses (naming the file
 * and dataset) a missing file or dataset, a non-numeric type, a rank outside
 * 1..4 and a short read. When optional, a missing dataset is no error: a->data
 * stays NULL. */
facs_status facs_h5_array_read(const char *path, const char *name, int optional, facs_h5_array *a);
void facs_h5_array_free(facs_h5_array *a);

/* "(2, 19, 45, 61)" into buf. */
const char *facs_h5_dims_str(int rank, const hsize_t *dims, char *buf, size_t size);

/* Writes data (rank, dims) as float32 at name, creating the groups above it
 * ("grad/layer1/0/conv1/weight"). Fails naming path and name. */
facs_status facs_h5_write_f32(hid_t file, const char *path, const char *name, int rank, const hsize_t *dims,
                              const float *data);

/* Writes tensor t (any device) at name with its NCHW values; a rank below 4
 * keeps the leading sizes, dropping trailing 1s as PyTorch shapes a
 * classifier's logits (N, C). */
facs_status facs_h5_write_tensor(hid_t file, const char *path, const char *name, const facs_tensor *t, int rank);

#endif
