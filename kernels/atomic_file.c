/* Whole-or-nothing files (see atomic_file.h). */
#include "atomic_file.h"

#include <dirent.h>
#include <limits.h>
#include <stdint.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* "<path>.facs-tmp.<pid>", its last component shortened when the mark would
 * take a name that fits NAME_MAX past it: a 250-byte output name stays
 * writable. The shortened form keeps a hash of the whole name, so two long
 * names sharing a beginning still get two temporaries. */
static facs_status name_temporary(facs_atomic_file *a, const char *path)
{
    memset(a, 0, sizeof *a);
    int n = snprintf(a->path, sizeof a->path, "%s", path);
    if (n < 0 || (size_t)n >= sizeof a->path)
        return facs_fail(FACS_ERR_ARG, "%s: path too long", path);
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    size_t dir_len = (size_t)(base - path), base_len = strlen(base), room = NAME_MAX - 32;
    int m;
    if (base_len <= room) {
        m = snprintf(a->tmp, sizeof a->tmp, "%s" FACS_ATOMIC_TMP_MARK "%ld", path, (long)getpid());
    } else {
        uint32_t hash = 2166136261u; /* FNV-1a */
        for (const char *c = base; *c; c++)
            hash = (hash ^ (unsigned char)*c) * 16777619u;
        m = snprintf(a->tmp, sizeof a->tmp, "%.*s%.*s~%08x" FACS_ATOMIC_TMP_MARK "%ld", (int)dir_len, path,
                     (int)(room - 9), base, (unsigned)hash, (long)getpid());
    }
    if (m < 0 || (size_t)m >= sizeof a->tmp)
        return facs_fail(FACS_ERR_ARG, "%s: path too long", path);
    return FACS_OK;
}

/* facs_atomic_remove_stale on path's folder, the first time this process
 * writes there (by device and inode; the last 64 folders are remembered):
 * once is enough, and a folder of many outputs is not read again for each. */
static void remove_stale_once(const char *path)
{
    static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
    static struct {
        dev_t dev;
        ino_t ino;
    } seen[64];
    static unsigned n_seen;
    char copy[4096];
    snprintf(copy, sizeof copy, "%s", path);
    const char *dir = dirname(copy);
    struct stat st;
    if (stat(dir, &st) != 0)
        return;
    pthread_mutex_lock(&lock);
    int known = 0;
    for (unsigned i = 0; i < n_seen && i < 64 && !known; i++)
        known = seen[i].dev == st.st_dev && seen[i].ino == st.st_ino;
    if (!known) {
        seen[n_seen % 64].dev = st.st_dev, seen[n_seen % 64].ino = st.st_ino;
        n_seen++;
    }
    pthread_mutex_unlock(&lock);
    if (!known)
        facs_atomic_remove_stale(dir);
}

facs_status facs_atomic_open(facs_atomic_file *a, const char *path)
{
    FACS_TRY(name_temporary(a, path));
    remove_stale_once(path);
    if (!(a->f = fopen(a->tmp, "w")))
        return facs_fail(FACS_ERR_IO, "%s: cannot create %s: %s", path, a->tmp, strerror(errno));
    return FACS_OK;
}

static int fsync_path(const char *path, int flags)
{
    int fd = open(path, flags);
    if (fd < 0)
        return 0;
    int ok = fsync(fd) == 0;
    return (close(fd) == 0) & ok;
}

/* The folder holding path, synced so the rename itself is durable. */
static int fsync_parent(const char *path)
{
    char copy[4096];
    snprintf(copy, sizeof copy, "%s", path);
    return fsync_path(dirname(copy), O_RDONLY | O_DIRECTORY);
}

facs_status facs_atomic_commit(facs_atomic_file *a)
{
    if (!a->f)
        return facs_fail(FACS_ERR_ARG, "%s: committed without an open temporary", a->path);
    facs_status s = FACS_OK;
    int ok = fflush(a->f) == 0 && !ferror(a->f) && fsync(fileno(a->f)) == 0;
    ok &= fclose(a->f) == 0;
    a->f = NULL;
    if (!ok)
        s = facs_fail(FACS_ERR_IO, "%s: cannot write %s: %s", a->path, a->tmp, strerror(errno));
    if (s == FACS_OK && rename(a->tmp, a->path) != 0)
        s = facs_fail(FACS_ERR_IO, "%s: cannot rename %s over it: %s", a->path, a->tmp, strerror(errno));
    if (s != FACS_OK) {
        unlink(a->tmp);
        return s;
    }
    if (!fsync_parent(a->path))
        return facs_fail(FACS_ERR_IO, "%s: written, but its folder cannot be synced: %s", a->path, strerror(errno));
    return FACS_OK;
}

void facs_atomic_abort(facs_atomic_file *a)
{
    if (a->f)
        fclose(a->f);
    a->f = NULL;
    if (a->tmp[0])
        unlink(a->tmp);
}

facs_status facs_atomic_write_text(const char *path, facs_text_fill_fn fill, const void *user)
{
    facs_atomic_file a;
    FACS_TRY(facs_atomic_open(&a, path));
    fill(a.f, user);
    return facs_atomic_commit(&a);
}

/* The pid of a temporary's name, or 0 when name is not one of ours. */
static long temporary_pid(const char *name)
{
    const char *mark = strstr(name, FACS_ATOMIC_TMP_MARK);
    if (!mark || mark == name)
        return 0;
    const char *digits = mark + strlen(FACS_ATOMIC_TMP_MARK);
    char *end;
    long pid = strtol(digits, &end, 10);
    return end != digits && *end == '\0' && pid > 0 ? pid : 0;
}

int facs_atomic_remove_stale(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d)
        return -1;
    int removed = 0;
    for (struct dirent *e; (e = readdir(d));) {
        long pid = temporary_pid(e->d_name);
        if (pid == 0 || pid == (long)getpid() || kill((pid_t)pid, 0) == 0 || errno != ESRCH)
            continue; /* not ours, this process's, or a live (or unknowable) writer's */
        char path[4096];
        if (snprintf(path, sizeof path, "%s/%s", dir, e->d_name) < (int)sizeof path && unlink(path) == 0)
            removed++;
    }
    closedir(d);
    return removed;
}

int facs_same_file(const char *a, const char *b)
{
    struct stat sa, sb;
    return strcmp(a, b) == 0 ||
           (stat(a, &sa) == 0 && stat(b, &sb) == 0 && sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino);
}

facs_status facs_check_output_not_input(const char *option, const char *output, const char *const *inputs,
                                        int n_inputs)
{
    for (int i = 0; i < n_inputs; i++)
        if (inputs[i] && facs_same_file(output, inputs[i]))
            return facs_fail(FACS_ERR_ARG, "%s %s is the input %s: writing it would destroy the input; choose another path",
                             option, output, inputs[i]);
    return FACS_OK;
}

facs_status facs_check_writable_folder(const char *option, const char *folder)
{
    if (access(folder, W_OK | X_OK) != 0)
        return facs_fail(FACS_ERR_IO, "%s: cannot write into the folder %s: %s", option, folder, strerror(errno));
    return FACS_OK;
}

facs_status facs_check_output_file(const char *option, const char *path)
{
    struct stat st;
    if (stat(path, &st) == 0 && S_ISDIR(st.st_mode))
        return facs_fail(FACS_ERR_ARG, "%s %s is a folder; give a file name", option, path);
    char copy[4096];
    if (snprintf(copy, sizeof copy, "%s", path) >= (int)sizeof copy)
        return facs_fail(FACS_ERR_ARG, "%s: path too long", option);
    const char *folder = dirname(copy);
    if (stat(folder, &st) != 0 || !S_ISDIR(st.st_mode))
        return facs_fail(FACS_ERR_ARG, "%s %s: its folder %s does not exist", option, path, folder);
    return facs_check_writable_folder(option, folder);
}

size_t facs_path_len_trimmed(const char *path)
{
    size_t len = strlen(path);
    while (len > 1 && path[len - 1] == '/')
        len--;
    return len;
}

facs_status facs_make_dirs(const char *path)
{
    char buf[4096];
    size_t n = strlen(path);
    if (n == 0 || n >= sizeof buf)
        return facs_fail(FACS_ERR_ARG, "'%s': bad folder name", path);
    memcpy(buf, path, n + 1);
    for (size_t i = 1; i <= n; i++) {
        if (buf[i] != '/' && buf[i] != '\0')
            continue;
        char keep = buf[i];
        buf[i] = '\0';
        struct stat st;
        if (stat(buf, &st) != 0 && mkdir(buf, 0777) != 0 && errno != EEXIST)
            return facs_fail(FACS_ERR_IO, "%s: cannot create the folder: %s", buf, strerror(errno));
        if (stat(buf, &st) != 0 || !S_ISDIR(st.st_mode))
            return facs_fail(FACS_ERR_IO, "%s: exists and is not a folder", buf);
        buf[i] = keep;
    }
    return FACS_OK;
}
