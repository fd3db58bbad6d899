/* facs_h5_write_atomic (h5_attr.h): HDF5 files built in memory, written by us.
 *
 * Why not let HDF5 write the file: once one of its writes fails (a full
 * disk), HDF5 1.10 cannot close the file: H5Fclose fails, the file's id
 * stays open, and the next attempt to close it, the one in HDF5's exit
 * handler included, crashes inside the library (a segfault after our error
 * message). So the file lives in the core driver's memory (no backing
 * store), where the fill function can only fail for reasons of its own, and
 * its bytes go to disk through kernels/atomic_file.h, where a full disk is an
 * ordinary error with its errno. The driver's buffer is taken over at close
 * (the image callbacks below) instead of copied, so a save holds the file's
 * size in memory once. */
#include "h5_attr.h"

#include "atomic_file.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The core driver's buffer of our file: the one it grows (FILE_RESIZE), kept
 * at the file's close instead of freed. Any other buffer is freed as usual. */
typedef struct {
    void *grown; /* the latest buffer the driver resized */
    void *image; /* that buffer, once the file is closed */
} kept_image;

static void *image_malloc(size_t size, H5FD_file_image_op_t op, void *udata)
{
    (void)op, (void)udata;
    return malloc(size);
}

static void *image_memcpy(void *dest, const void *src, size_t size, H5FD_file_image_op_t op, void *udata)
{
    (void)op, (void)udata;
    return memcpy(dest, src, size);
}

static void *image_realloc(void *ptr, size_t size, H5FD_file_image_op_t op, void *udata)
{
    kept_image *kept = udata;
    void *grown = realloc(ptr, size);
    if (grown && op == H5FD_FILE_IMAGE_OP_FILE_RESIZE)
        kept->grown = grown;
    return grown;
}

static herr_t image_free(void *ptr, H5FD_file_image_op_t op, void *udata)
{
    kept_image *kept = udata;
    if (op == H5FD_FILE_IMAGE_OP_FILE_CLOSE && ptr && ptr == kept->grown)
        kept->image = ptr;
    else
        free(ptr);
    return 0;
}

/* udata is ours and outlives the property list and the file. */
static void *udata_share(void *udata) { return udata; }
static herr_t udata_keep(void *udata)
{
    (void)udata;
    return 0;
}

/* A file access list for an in-memory file whose buffer lands in kept. */
static hid_t memory_file_access(kept_image *kept)
{
    H5FD_file_image_callbacks_t callbacks = {image_malloc, image_memcpy, image_realloc, image_free,
                                             udata_share,  udata_keep,   kept};
    /* The driver grows its buffer 8 MiB at a time (realloc); the file written is exactly its used size. */
    hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
    if (fapl >= 0 && (H5Pset_fapl_core(fapl, (size_t)8 << 20, 0) < 0 ||
                      H5Pset_file_image_callbacks(fapl, &callbacks) < 0 ||
                      H5Pset_libver_bounds(fapl, H5F_LIBVER_V18, H5F_LIBVER_V18) < 0)) {
        H5Pclose(fapl);
        return -1;
    }
    return fapl;
}

/* fill's file, flushed and closed in memory: its bytes (*bytes of them) in
 * *image, to be freed by the caller. */
static facs_status build_in_memory(const char *path, facs_h5_fill_fn fill, const void *user, void **image,
                                   size_t *bytes)
{
    kept_image kept = {NULL, NULL};
    *image = NULL;
    /* A name that exists nowhere: HDF5 first tries to open the name it is
     * given without creating it, and the core driver would read a file of
     * that name (the checkpoint being replaced) into memory for nothing. */
    char name[4200];
    snprintf(name, sizeof name, "%s/(in memory)", path);
    hid_t fapl = memory_file_access(&kept);
    hid_t file = fapl < 0 ? -1 : H5Fcreate(name, H5F_ACC_TRUNC, H5P_DEFAULT, fapl);
    if (fapl >= 0)
        H5Pclose(fapl);
    if (file < 0)
        return facs_fail(FACS_ERR_MEMORY, "%s: cannot create the file in memory (out of memory?)", path);
    facs_status s = fill(file, path, user);
    /* The file's size is its end of allocated space once everything is
     * flushed; the close after it only releases space. */
    ssize_t size = -1;
    if (s == FACS_OK && H5Fflush(file, H5F_SCOPE_GLOBAL) >= 0)
        size = H5Fget_file_image(file, NULL, 0);
    if (H5Fclose(file) < 0 && s == FACS_OK)
        s = facs_fail(FACS_ERR_MEMORY, "%s: cannot close the file in memory (out of memory?)", path);
    if (s == FACS_OK && (size <= 0 || !kept.image))
        s = facs_fail(FACS_ERR_MEMORY, "%s: cannot finish the file in memory (out of memory?)", path);
    if (s != FACS_OK) {
        free(kept.image);
        return s;
    }
    *image = kept.image;
    *bytes = (size_t)size;
    return FACS_OK;
}

facs_status facs_h5_write_atomic(const char *path, facs_h5_fill_fn fill, const void *user)
{
    void *image;
    size_t bytes = 0;
    FACS_TRY(build_in_memory(path, fill, user, &image, &bytes));
    facs_atomic_file a;
    facs_status s = facs_atomic_open(&a, path);
    if (s == FACS_OK && fwrite(image, 1, bytes, a.f) != bytes) {
        s = facs_fail(FACS_ERR_IO, "%s: cannot write %s: %s", path, a.tmp, strerror(errno));
        facs_atomic_abort(&a);
    } else if (s == FACS_OK) {
        s = facs_atomic_commit(&a);
    }
    free(image);
    return s;
}
