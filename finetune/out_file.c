/* Whole-or-nothing files of OUT (see out_file.h). */
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "out_file.h"

facs_status ft_partial_path(const char *path, char *tmp, size_t size)
{
    int len = snprintf(tmp, size, "%s.partial.%ld", path, (long)getpid());
    if (len < 0 || (size_t)len >= size)
        return facs_fail(FACS_ERR_ARG, "%s: path too long", path);
    return FACS_OK;
}

facs_status ft_write_text_atomic(const char *path, ft_text_fill_fn fill, const void *user)
{
    char tmp[4096];
    FACS_TRY(ft_partial_path(path, tmp, sizeof tmp));
    FILE *f = fopen(tmp, "w");
    if (!f)
        return facs_fail(FACS_ERR_IO, "%s: cannot create: %s", tmp, strerror(errno));
    fill(f, user);
    int ok = !ferror(f);
    ok &= fclose(f) == 0;
    if (!ok || rename(tmp, path) != 0) {
        unlink(tmp);
        return facs_fail(FACS_ERR_IO, "%s: cannot write: %s", path, strerror(errno));
    }
    return FACS_OK;
}
