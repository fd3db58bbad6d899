/* The locked output folder (see run_dir.h). */
#include "run_dir.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "atomic_file.h"

#define LOCK_NAME ".facs-lock"
/* What a file's path adds to the folder's: "/", the longest name a tool
 * writes there (confusion.csv) and its temporary's mark and pid, with room to
 * spare. A longer folder name is refused before anything is written. */
#define FILE_ROOM 64

static int stat_errno_is_loop(const char *path)
{
    struct stat st;
    return stat(path, &st) != 0 && errno == ELOOP;
}

/* Why mkdir(path) failed, with the parent's state when that is the reason:
 * a dangling link or a link loop under that name says so. */
static facs_status cannot_create(const char *option, const char *path, int err)
{
    struct stat link;
    char target[4096];
    if (lstat(path, &link) == 0 && S_ISLNK(link.st_mode)) {
        ssize_t n = readlink(path, target, sizeof target - 1);
        target[n > 0 ? n : 0] = '\0';
        return facs_fail(FACS_ERR_ARG, "%s %s is a symbolic link to %s, which %s", option, path, target,
                         stat_errno_is_loop(path) ? "leads back to itself (a loop)" : "does not exist");
    }
    char copy[4096];
    snprintf(copy, sizeof copy, "%s", path);
    const char *parent = dirname(copy);
    struct stat st;
    if (stat(parent, &st) != 0)
        return facs_fail(FACS_ERR_IO, "%s %s: cannot create the folder: its parent %s does not exist", option, path,
                         parent);
    if (!S_ISDIR(st.st_mode))
        return facs_fail(FACS_ERR_IO, "%s %s: cannot create the folder: %s is not a folder", option, path, parent);
    return facs_fail(FACS_ERR_IO, "%s %s: cannot create the folder in %s: %s", option, path, parent, strerror(err));
}

static facs_status take_lock(facs_run_dir *d, const char *option)
{
    char lock_path[4200];
    snprintf(lock_path, sizeof lock_path, "%s/" LOCK_NAME, d->path);
    d->lock_fd = open(lock_path, O_RDWR | O_CREAT | O_CLOEXEC, 0666);
    if (d->lock_fd < 0)
        return facs_fail(FACS_ERR_IO, "%s %s: cannot write into the folder: %s", option, d->path, strerror(errno));
    if (flock(d->lock_fd, LOCK_EX | LOCK_NB) != 0) {
        int err = errno;
        char holder[32] = "";
        ssize_t n = pread(d->lock_fd, holder, sizeof holder - 1, 0);
        holder[n > 0 ? n : 0] = '\0';
        holder[strcspn(holder, "\n")] = '\0';
        close(d->lock_fd);
        d->lock_fd = -1;
        if (err == EWOULDBLOCK)
            return facs_fail(FACS_ERR_ARG,
                             "%s %s is in use by another run (pid %s): wait for it to finish or choose another %s",
                             option, d->path, holder[0] ? holder : "unknown", option);
        return facs_fail(FACS_ERR_IO, "%s %s: cannot lock the folder: %s", option, d->path, strerror(err));
    }
    char pid[32];
    int len = snprintf(pid, sizeof pid, "%ld\n", (long)getpid());
    if (ftruncate(d->lock_fd, 0) != 0 || pwrite(d->lock_fd, pid, (size_t)len, 0) != len)
        return facs_fail(FACS_ERR_IO, "%s %s: cannot write the lock file: %s", option, d->path, strerror(errno));
    return FACS_OK;
}

facs_status facs_run_dir_open(facs_run_dir *d, const char *option, const char *path)
{
    memset(d, 0, sizeof *d);
    d->lock_fd = -1;
    if (strlen(path) + FILE_ROOM >= sizeof d->path)
        return facs_fail(FACS_ERR_ARG, "%s: a folder name of %zu bytes is too long (at most %zu, for the files in it)",
                         option, strlen(path), sizeof d->path - FILE_ROOM - 1);
    snprintf(d->path, sizeof d->path, "%s", path);
    struct stat st;
    if (stat(path, &st) == 0) {
        if (!S_ISDIR(st.st_mode))
            return facs_fail(FACS_ERR_ARG, "%s %s: exists and is not a folder", option, path);
    } else if (mkdir(path, 0777) != 0) {
        return cannot_create(option, path, errno);
    } else {
        d->created = 1;
    }
    facs_status s = take_lock(d, option);
    if (s != FACS_OK) {
        facs_run_dir_close(d);
        return s;
    }
    facs_atomic_remove_stale(path);
    return FACS_OK;
}

facs_status facs_run_dir_file(const facs_run_dir *d, const char *name, char *buf, size_t size)
{
    size_t len = facs_path_len_trimmed(d->path); /* "run/" as given: "run/last.h5", not "run//last.h5" */
    if (snprintf(buf, size, "%.*s/%s", (int)len, d->path, name) >= (int)size)
        return facs_fail(FACS_ERR_ARG, "%s/%s: path too long", d->path, name);
    return FACS_OK;
}

void facs_run_dir_mark_written(facs_run_dir *d) { d->written = 1; }

void facs_run_dir_close(facs_run_dir *d)
{
    if (d->created && !d->written) {
        char lock_path[4200];
        snprintf(lock_path, sizeof lock_path, "%s/" LOCK_NAME, d->path);
        unlink(lock_path);
        rmdir(d->path); /* fails, harmlessly, if anything else is in it */
    }
    if (d->lock_fd >= 0)
        close(d->lock_fd);
    d->lock_fd = -1;
    d->created = d->written = 0;
}
