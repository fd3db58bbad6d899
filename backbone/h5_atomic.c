#include "h5_atomic.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static int fsync_path(const char *path)
{
    int fd = open(path, O_RDONLY);
    if (fd < 0)
        return 0;
    int ok = fsync(fd) == 0;
    return close(fd) == 0 && ok;
}

facs_status facs_h5_write_atomic(const char *path, facs_h5_fill_fn fill, void *user)
{
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    char tmp[4096];
    int len = snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid());
    if (len < 0 || (size_t)len >= sizeof tmp)
        return facs_fail(FACS_ERR_ARG, "%s: path too long", path);
    hid_t file = H5Fcreate(tmp, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    if (file < 0)
        return facs_fail(FACS_ERR_IO, "%s: cannot create %s (does the folder exist and is it writable?)", path, tmp);
    facs_status s = fill(file, path, user);
    if (s == FACS_OK && H5Fflush(file, H5F_SCOPE_GLOBAL) < 0)
        s = facs_fail(FACS_ERR_IO, "%s: cannot flush %s (disk full?)", path, tmp);
    if (H5Fclose(file) < 0 && s == FACS_OK)
        s = facs_fail(FACS_ERR_IO, "%s: cannot close %s (disk full?)", path, tmp);
    if (s != FACS_OK) {
        remove(tmp);
        return s;
    }
    return facs_h5_commit(tmp, path);
}

facs_status facs_h5_commit(const char *tmp, const char *path)
{
    facs_status s = FACS_OK;
    if (!fsync_path(tmp))
        s = facs_fail(FACS_ERR_IO, "%s: cannot sync %s: %s", path, tmp, strerror(errno));
    if (s == FACS_OK && rename(tmp, path) != 0)
        s = facs_fail(FACS_ERR_IO, "%s: cannot rename %s over it: %s", path, tmp, strerror(errno));
    if (s != FACS_OK)
        remove(tmp);
    return s;
}
