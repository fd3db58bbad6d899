/* Walking a folder tree for image files as ImageFolder does (see image_walk.h). */
#define _XOPEN_SOURCE 700 /* realpath */
#include "image_walk.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#define PATH_SIZE 4096

void facs_strings_free(facs_strings *s)
{
    for (int i = 0; i < s->count; i++)
        free(s->items[i]);
    free(s->items);
    memset(s, 0, sizeof *s);
}

int facs_strings_push(facs_strings *s, const char *str)
{
    if (s->count == s->cap) {
        if (s->cap > INT_MAX / 2)
            return 0;
        int cap = s->cap ? 2 * s->cap : 64;
        char **items = realloc(s->items, (size_t)cap * sizeof *items);
        if (!items)
            return 0;
        s->items = items;
        s->cap = cap;
    }
    char *copy = strdup(str);
    if (!copy)
        return 0;
    s->items[s->count++] = copy;
    return 1;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int ends_with(const char *name, const char *ext)
{
    size_t n = strlen(name), e = strlen(ext);
    return n >= e && strcasecmp(name + n - e, ext) == 0;
}

/* 1: decoded here; -1: an ImageFolder extension that is not decoded here; 0: not an image. */
static int image_kind(const char *name)
{
    static const char *const decoded[] = {".jpg", ".jpeg", ".png"};
    static const char *const other[] = {".ppm", ".bmp", ".pgm", ".tif", ".tiff", ".webp"};
    for (size_t i = 0; i < sizeof decoded / sizeof decoded[0]; i++)
        if (ends_with(name, decoded[i]))
            return 1;
    for (size_t i = 0; i < sizeof other / sizeof other[0]; i++)
        if (ends_with(name, other[i]))
            return -1;
    return 0;
}

/* Whether path is a folder, following symbolic links as os.scandir's is_dir()
 * does (a broken link is not a folder). st is filled for folders. */
static int is_folder(const char *path, struct stat *st)
{
    return stat(path, st) == 0 && S_ISDIR(st->st_mode);
}

/* The folders above the one being walked, to refuse a link that loops back. */
typedef struct ancestor {
    dev_t dev;
    ino_t ino;
    int depth;
    const struct ancestor *up;
} ancestor;

/* Each level of the walk holds three path buffers on the stack; image trees are a
 * few levels deep, so a deeper one is refused rather than risking the stack. */
#define MAX_DEPTH 64

facs_status facs_read_names(const char *path, facs_strings *names)
{
    DIR *d = opendir(path);
    if (!d)
        return facs_fail(FACS_ERR_IO, "%s: cannot read the folder: %s", path, strerror(errno));
    facs_status s = FACS_OK;
    int first = names->count;
    struct dirent *e;
    errno = 0;
    while (s == FACS_OK && (e = readdir(d))) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
            continue;
        if (!facs_strings_push(names, e->d_name))
            s = facs_fail(FACS_ERR_MEMORY, "%s: out of memory listing the folder", path);
        errno = 0;
    }
    if (s == FACS_OK && errno)
        s = facs_fail(FACS_ERR_IO, "%s: cannot read the folder: %s", path, strerror(errno));
    closedir(d);
    if (s == FACS_OK && names->count - first > 1)
        qsort(names->items + first, (size_t)(names->count - first), sizeof *names->items, cmp_str);
    return s;
}

/* A file found by the walk: the folder it is in (relative to root) and its name. */
typedef struct {
    const char *dir; /* relative folder, owned by the walk's dirs */
    char *name;
} found_file;

typedef struct {
    const char *root;
    facs_image_walk_opts opts;
    facs_image_walk_skipped *skipped; /* NULL: not reported */
    facs_strings dirs;                /* relative folders visited, in walk order */
    found_file *files;
    int nfiles, cap;
} walk;

static facs_status add_file(walk *w, const char *dir, const char *name, const char *path)
{
    if (w->nfiles == w->cap) {
        if (w->cap > INT_MAX / 2)
            return facs_fail(FACS_ERR_MEMORY, "%s: more than %d images", w->root, INT_MAX / 2);
        int cap = w->cap ? 2 * w->cap : 256;
        found_file *files = realloc(w->files, (size_t)cap * sizeof *files);
        if (!files)
            return facs_fail(FACS_ERR_MEMORY, "%s: out of memory", path);
        w->files = files;
        w->cap = cap;
    }
    char *copy = strdup(name);
    if (!copy)
        return facs_fail(FACS_ERR_MEMORY, "%s: out of memory", path);
    w->files[w->nfiles++] = (found_file){dir, copy};
    return FACS_OK;
}

/* A file that skip_others leaves out: counted, the first one named. */
static void note_skipped(walk *w, const char *path)
{
    if (w->skipped && w->skipped->count++ == 0)
        snprintf(w->skipped->first, sizeof w->skipped->first, "%s", path);
}

/* "a/b" of a relative folder and a name; just the name in the root (rel ""). */
static int join(char *out, size_t size, const char *rel, const char *name)
{
    return snprintf(out, size, "%s%s%s", rel, rel[0] ? "/" : "", name) < (int)size;
}

/* Walks the folder root/rel (stat'ed as st), collecting image files and sub-folders. */
static facs_status walk_dir(walk *w, const char *rel, const struct stat *st, const ancestor *up)
{
    char path[PATH_SIZE], child_rel[PATH_SIZE];
    snprintf(path, sizeof path, "%s%s%s", w->root, rel[0] ? "/" : "", rel);
    for (const ancestor *a = up; a; a = a->up)
        if (a->dev == st->st_dev && a->ino == st->st_ino)
            return facs_fail(FACS_ERR_FORMAT, "%s: a symbolic link loops back to a folder above it", path);
    ancestor self = {st->st_dev, st->st_ino, up ? up->depth + 1 : 1, up};
    if (self.depth > MAX_DEPTH)
        return facs_fail(FACS_ERR_FORMAT, "%s: more than %d folders deep", path, MAX_DEPTH);
    if (!facs_strings_push(&w->dirs, rel))
        return facs_fail(FACS_ERR_MEMORY, "%s: out of memory", path);
    const char *dir = w->dirs.items[w->dirs.count - 1]; /* each string keeps its address as the list grows */
    facs_strings names = {0};
    facs_status s = facs_read_names(path, &names);
    for (int i = 0; s == FACS_OK && i < names.count; i++) {
        const char *name = names.items[i];
        if (w->opts.skip_hidden && name[0] == '.')
            continue;
        char child[PATH_SIZE];
        if (!join(child, sizeof child, path, name) || !join(child_rel, sizeof child_rel, rel, name)) {
            s = facs_fail(FACS_ERR_ARG, "%s/%s: path longer than %d bytes", path, name, PATH_SIZE - 1);
            break;
        }
        struct stat cst;
        if (is_folder(child, &cst)) {
            s = walk_dir(w, child_rel, &cst, &self);
            continue;
        }
        int kind = image_kind(name);
        if (kind <= 0 && w->opts.skip_others)
            note_skipped(w, child);
        else if (kind < 0)
            s = facs_fail(FACS_ERR_FORMAT,
                          "%s: ImageFolder would list this file but only .jpg, .jpeg and .png are decoded here "
                          "(convert it or move it out of the folder)",
                          child);
        else if (kind > 0)
            s = add_file(w, dir, name, child);
    }
    facs_strings_free(&names);
    return s;
}

/* Sorted by folder path, then by name: the order of sorted(os.walk()) and sorted(fnames). */
static int cmp_found(const void *a, const void *b)
{
    const found_file *x = a, *y = b;
    int c = x->dir == y->dir ? 0 : strcmp(x->dir, y->dir);
    return c ? c : strcmp(x->name, y->name);
}

static void walk_free(walk *w)
{
    for (int i = 0; i < w->nfiles; i++)
        free(w->files[i].name);
    free(w->files);
    facs_strings_free(&w->dirs);
}

facs_status facs_image_walk(const char *root, const char *rel, facs_strings *paths)
{
    return facs_image_walk_with(root, rel, &(facs_image_walk_opts){0}, paths, NULL);
}

facs_status facs_image_walk_with(const char *root, const char *rel, const facs_image_walk_opts *opts,
                                 facs_strings *paths, facs_image_walk_skipped *skipped)
{
    char top[PATH_SIZE];
    if (skipped)
        *skipped = (facs_image_walk_skipped){0};
    struct stat st;
    if (snprintf(top, sizeof top, "%s%s%s", root, rel[0] ? "/" : "", rel) >= (int)sizeof top)
        return facs_fail(FACS_ERR_ARG, "%s/%s: path longer than %d bytes", root, rel, PATH_SIZE - 1);
    if (stat(top, &st) != 0)
        return facs_fail(FACS_ERR_IO, "%s: %s", top, strerror(errno));
    if (!S_ISDIR(st.st_mode))
        return facs_fail(FACS_ERR_IO, "%s: not a folder", top);
    walk w = {.root = root, .opts = *opts, .skipped = skipped};
    facs_status s = walk_dir(&w, rel, &st, NULL);
    if (s == FACS_OK && w.nfiles > 1)
        qsort(w.files, (size_t)w.nfiles, sizeof *w.files, cmp_found);
    char path[PATH_SIZE];
    for (int i = 0; s == FACS_OK && i < w.nfiles; i++) {
        if (!join(path, sizeof path, w.files[i].dir, w.files[i].name))
            s = facs_fail(FACS_ERR_ARG, "%s/%s: path longer than %d bytes", w.files[i].dir, w.files[i].name,
                          PATH_SIZE - 1);
        else if (!facs_strings_push(paths, path))
            s = facs_fail(FACS_ERR_MEMORY, "%s: out of memory", root);
    }
    walk_free(&w);
    return s;
}

/* path as writing there resolves it, into out (PATH_SIZE bytes): its longest
 * leading part that exists through realpath, then the folders still to be
 * made with "." and ".." applied. A ".." there may climb back into folders
 * that exist (and may be links), so such a result is resolved once more. 0
 * when it does not fit. */
static int resolve_path(const char *path, char *out)
{
    char buf[PATH_SIZE], head[PATH_SIZE];
    if (!path[0] || snprintf(buf, sizeof buf, "%s", path) >= (int)sizeof buf)
        return 0;
    for (;;) {
        size_t cut = strlen(buf);
        for (;;) {
            memcpy(head, buf, cut);
            head[cut] = '\0';
            if (realpath(cut ? head : ".", out))
                break;
            if (cut == 0)
                return 0;
            while (cut > 0 && buf[cut - 1] != '/') /* drop the last part and the slashes before it, not "/" */
                cut--;
            while (cut > 1 && buf[cut - 1] == '/')
                cut--;
        }
        size_t len = strlen(out);
        int climbed = 0;
        for (const char *part = buf + cut; *part;) {
            size_t n = strcspn(part, "/");
            if (n == 2 && part[0] == '.' && part[1] == '.') {
                while (len > 1 && out[len - 1] != '/')
                    len--;
                len -= len > 1;
                climbed = 1;
            } else if (n > 0 && !(n == 1 && part[0] == '.')) {
                if (len + n + 2 > PATH_SIZE)
                    return 0;
                if (out[len - 1] != '/')
                    out[len++] = '/';
                memcpy(out + len, part, n);
                len += n;
            }
            out[len] = '\0';
            part += n;
            while (*part == '/')
                part++;
        }
        if (!climbed)
            return 1;
        memcpy(buf, out, len + 1);
    }
}

int facs_path_within(const char *path, const char *folder)
{
    char p[PATH_SIZE], f[PATH_SIZE];
    struct stat st;
    if (stat(folder, &st) != 0 || !S_ISDIR(st.st_mode) || !realpath(folder, f) || !resolve_path(path, p))
        return 0;
    size_t n = strlen(f);
    return n == 1 || (strncmp(p, f, n) == 0 && (p[n] == '\0' || p[n] == '/')); /* "/" holds every path */
}
