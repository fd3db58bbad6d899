/* Writing an HDF5 file so that a crash or an error never leaves a partial file
 * under the real name: the content goes to a temporary file in the same
 * folder, which is flushed, synced and renamed over the target. */
#ifndef FACS_H5_ATOMIC_H
#define FACS_H5_ATOMIC_H

#include <hdf5.h>

#include "status.h"

/* Fills file; path is the final name, for messages. */
typedef facs_status (*facs_h5_fill_fn)(hid_t file, const char *path, void *user);

/* Creates path with fill's content. On any failure path is untouched, the
 * temporary is removed, and the status says which step failed. */
facs_status facs_h5_write_atomic(const char *path, facs_h5_fill_fn fill, void *user);

/* The last step of facs_h5_write_atomic, for a temporary written and closed by
 * other means (in path's folder): syncs tmp and renames it over path. On
 * failure tmp is removed and path is untouched. */
facs_status facs_h5_commit(const char *tmp, const char *path);

#endif
