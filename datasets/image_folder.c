/* Listing an ImageNet-layout folder as ImageFolder does (see image_folder.h). */
#include "image_folder.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#define PATH_SIZE 4096

/* A growable array of malloc'd strings. */
typedef struct {
    char **items;
    int count, cap;
} strings;

static void strings_free(strings *s)
{
    for (int i = 0; i < s->count; i++)
        free(s->items[i]);
    free(s->items);
    memset(s, 0, sizeof *s);
}

/* Appends a copy of str; 0 when out of memory or the list would pass INT_MAX. */
static int strings_push(strings *s, const char *str)
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

/* The sorted entry names of the folder at path (without "." and ".."). */
static facs_status read_names(const char *path, strings *names)
{
    DIR *d = opendir(path);
    if (!d)
        return facs_fail(FACS_ERR_IO, "%s: cannot read the folder: %s", path, strerror(errno));
    facs_status s = FACS_OK;
    struct dirent *e;
    errno = 0;
    while (s == FACS_OK && (e = readdir(d))) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
            continue;
        if (!strings_push(names, e->d_name))
            s = facs_fail(FACS_ERR_MEMORY, "%s: out of memory listing the folder", path);
        errno = 0;
    }
    if (s == FACS_OK && errno)
        s = facs_fail(FACS_ERR_IO, "%s: cannot read the folder: %s", path, strerror(errno));
    closedir(d);
    if (s == FACS_OK && names->count > 1)
        qsort(names->items, (size_t)names->count, sizeof *names->items, cmp_str);
    return s;
}

/* A file found by the walk: the folder it is in (relative to root) and its name. */
typedef struct {
    const char *dir; /* relative folder, owned by the walk's dirs */
    char *name;
} found_file;

typedef struct {
    const char *root;
    strings dirs; /* relative folders visited, in walk order */
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

/* Walks the folder root/rel (stat'ed as st), collecting image files and sub-folders. */
static facs_status walk_dir(walk *w, const char *rel, const struct stat *st, const ancestor *up)
{
    char path[PATH_SIZE], child_rel[PATH_SIZE];
    snprintf(path, sizeof path, "%s/%s", w->root, rel);
    for (const ancestor *a = up; a; a = a->up)
        if (a->dev == st->st_dev && a->ino == st->st_ino)
            return facs_fail(FACS_ERR_FORMAT, "%s: a symbolic link loops back to a folder above it", path);
    ancestor self = {st->st_dev, st->st_ino, up ? up->depth + 1 : 1, up};
    if (self.depth > MAX_DEPTH)
        return facs_fail(FACS_ERR_FORMAT, "%s: more than %d folders deep", path, MAX_DEPTH);
    if (!strings_push(&w->dirs, rel))
        return facs_fail(FACS_ERR_MEMORY, "%s: out of memory", path);
    const char *dir = w->dirs.items[w->dirs.count - 1]; /* each string keeps its address as the list grows */
    strings names = {0};
    facs_status s = read_names(path, &names);
    for (int i = 0; s == FACS_OK && i < names.count; i++) {
        const char *name = names.items[i];
        char child[PATH_SIZE];
        if (snprintf(child, sizeof child, "%s/%s", path, name) >= (int)sizeof child ||
            snprintf(child_rel, sizeof child_rel, "%s/%s", rel, name) >= (int)sizeof child_rel) {
            s = facs_fail(FACS_ERR_ARG, "%s/%s: path longer than %d bytes", path, name, PATH_SIZE - 1);
            break;
        }
        struct stat cst;
        if (is_folder(child, &cst)) {
            s = walk_dir(w, child_rel, &cst, &self);
            continue;
        }
        int kind = image_kind(name);
        if (kind < 0)
            s = facs_fail(FACS_ERR_FORMAT,
                          "%s: ImageFolder would list this file but only .jpg, .jpeg and .png are decoded here "
                          "(convert it or move it out of the folder)",
                          child);
        else if (kind > 0)
            s = add_file(w, dir, name, child);
    }
    strings_free(&names);
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
    strings_free(&w->dirs);
}

/* Appends the files of one class folder to f, in ImageFolder's order. */
static facs_status list_class(facs_image_folder *f, int cls, const struct stat *st, strings *paths,
                              int **labels, int *labels_cap)
{
    walk w = {.root = f->root};
    facs_status s = walk_dir(&w, f->classes[cls], st, NULL);
    if (s == FACS_OK && w.nfiles > 1)
        qsort(w.files, (size_t)w.nfiles, sizeof *w.files, cmp_found);
    char rel[PATH_SIZE];
    for (int i = 0; s == FACS_OK && i < w.nfiles; i++) {
        if (snprintf(rel, sizeof rel, "%s/%s", w.files[i].dir, w.files[i].name) >= (int)sizeof rel) {
            s = facs_fail(FACS_ERR_ARG, "%s/%s: path longer than %d bytes", w.files[i].dir, w.files[i].name,
                          PATH_SIZE - 1);
            break;
        }
        if (paths->count == *labels_cap) {
            int cap = *labels_cap ? 2 * *labels_cap : 256;
            int *grown = *labels_cap <= INT_MAX / 2 ? realloc(*labels, (size_t)cap * sizeof *grown) : NULL;
            if (!grown) {
                s = facs_fail(FACS_ERR_MEMORY, "%s: out of memory", f->root);
                break;
            }
            *labels = grown;
            *labels_cap = cap;
        }
        if (!strings_push(paths, rel))
            s = facs_fail(FACS_ERR_MEMORY, "%s: out of memory", f->root);
        else
            (*labels)[paths->count - 1] = cls;
    }
    walk_free(&w);
    return s;
}

/* The class folders of root, sorted; fills f->classes. */
static facs_status find_classes(facs_image_folder *f, strings *classes)
{
    strings names = {0};
    facs_status s = read_names(f->root, &names);
    char path[PATH_SIZE];
    for (int i = 0; s == FACS_OK && i < names.count; i++) {
        struct stat st;
        snprintf(path, sizeof path, "%s/%s", f->root, names.items[i]);
        if (is_folder(path, &st) && !strings_push(classes, names.items[i]))
            s = facs_fail(FACS_ERR_MEMORY, "%s: out of memory", f->root);
    }
    strings_free(&names);
    if (s == FACS_OK && classes->count == 0)
        s = facs_fail(FACS_ERR_FORMAT, "%s: no class folder found (expected root/<class>/<image>)", f->root);
    return s;
}

/* The error for classes without an image: their names, comma-separated, as ImageFolder lists them. */
static facs_status empty_classes_error(const facs_image_folder *f, const int *per_class)
{
    char list[1024] = "";
    size_t used = 0;
    int n = 0;
    for (int c = 0; c < f->num_classes; c++) {
        if (per_class[c])
            continue;
        int w = snprintf(list + used, sizeof list - used, "%s%s", n ? ", " : "", f->classes[c]);
        n++;
        if (w < 0 || (size_t)w >= sizeof list - used) {
            snprintf(list + sizeof list - 5, 5, "...");
            break;
        }
        used += (size_t)w;
    }
    return facs_fail(FACS_ERR_FORMAT,
                     "%s: found no valid file for the classes %s (supported extensions: .jpg, .jpeg, .png)",
                     f->root, list);
}

facs_status facs_image_folder_open(const char *root, facs_image_folder *folder)
{
    memset(folder, 0, sizeof *folder);
    size_t len = strlen(root);
    while (len > 1 && root[len - 1] == '/')
        len--;
    if (len + 2 >= PATH_SIZE)
        return facs_fail(FACS_ERR_ARG, "%s: path longer than %d bytes", root, PATH_SIZE - 1);
    struct stat st;
    if (stat(root, &st) != 0)
        return facs_fail(FACS_ERR_IO, "%s: %s", root, strerror(errno));
    if (!S_ISDIR(st.st_mode))
        return facs_fail(FACS_ERR_IO, "%s: not a folder", root);
    facs_image_folder f = {0};
    if (!(f.root = strndup(root, len)))
        return facs_fail(FACS_ERR_MEMORY, "%s: out of memory", root);
    strings classes = {0}, paths = {0};
    int labels_cap = 0;
    facs_status s = find_classes(&f, &classes);
    f.classes = classes.items;
    f.num_classes = classes.count;
    int *per_class = s == FACS_OK ? calloc((size_t)f.num_classes, sizeof *per_class) : NULL;
    if (s == FACS_OK && !per_class)
        s = facs_fail(FACS_ERR_MEMORY, "%s: out of memory", root);
    for (int c = 0; s == FACS_OK && c < f.num_classes; c++) {
        char path[PATH_SIZE];
        snprintf(path, sizeof path, "%s/%s", f.root, f.classes[c]);
        if (stat(path, &st) != 0) {
            s = facs_fail(FACS_ERR_IO, "%s: %s", path, strerror(errno));
            break;
        }
        int before = paths.count;
        s = list_class(&f, c, &st, &paths, &f.labels, &labels_cap);
        per_class[c] = paths.count - before;
    }
    f.paths = paths.items;
    f.count = paths.count;
    for (int c = 0; s == FACS_OK && c < f.num_classes; c++)
        if (!per_class[c])
            s = empty_classes_error(&f, per_class);
    free(per_class);
    if (s != FACS_OK) {
        facs_image_folder_free(&f);
        return s;
    }
    *folder = f;
    return FACS_OK;
}

void facs_image_folder_free(facs_image_folder *folder)
{
    if (!folder)
        return;
    for (int i = 0; folder->classes && i < folder->num_classes; i++)
        free(folder->classes[i]);
    for (int i = 0; folder->paths && i < folder->count; i++)
        free(folder->paths[i]);
    free(folder->classes);
    free(folder->paths);
    free(folder->labels);
    free(folder->root);
    memset(folder, 0, sizeof *folder);
}

facs_status facs_image_folder_path(const facs_image_folder *folder, int i, char *out, size_t size)
{
    if (i < 0 || i >= folder->count)
        return facs_fail(FACS_ERR_ARG, "%s: sample %d out of range (%d samples)", folder->root, i, folder->count);
    if (snprintf(out, size, "%s/%s", folder->root, folder->paths[i]) >= (int)size)
        return facs_fail(FACS_ERR_ARG, "%s/%s: path longer than %zu bytes", folder->root, folder->paths[i],
                         size - 1);
    return FACS_OK;
}

/* Reads only the folder's immutable lists, so any number of workers may call it at once. */
static facs_status folder_load(const facs_dataset *self, int index, facs_image *out_image, facs_label *out_label)
{
    const facs_image_folder *f = self->user;
    char path[PATH_SIZE];
    facs_status s = facs_image_folder_path(f, index, path, sizeof path);
    if (s == FACS_OK)
        s = facs_image_read(path, 3, out_image);
    if (s == FACS_OK)
        out_label->cls = f->labels[index];
    return s;
}

void facs_image_folder_dataset(const facs_image_folder *folder, facs_dataset *dataset)
{
    dataset->count = folder->count;
    dataset->load = folder_load;
    /* The dataset interface holds a mutable pointer, but folder_load only reads through it. */
    dataset->user = (void *)folder;
}
