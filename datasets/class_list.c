/* Class lists and image folders opened with them (see class_list.h). */
#include "class_list.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "atomic_file.h"

#define PATH_SIZE 4096

static int is_folder(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode); /* follows links, as os.scandir's is_dir() */
}

/* The index of name in names, -1 when absent (a linear scan: lists are at most a few thousand names and
 * are searched once per folder entry). */
static int find_name(const char *const *names, int n, const char *name)
{
    for (int i = 0; i < n; i++)
        if (strcmp(names[i], name) == 0)
            return i;
    return -1;
}

facs_status facs_class_list_read(const char *path, facs_strings *names)
{
    memset(names, 0, sizeof *names);
    FILE *f = fopen(path, "r");
    if (!f)
        return facs_fail(FACS_ERR_IO, "%s: cannot open the class list: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fileno(f), &st) == 0 && S_ISDIR(st.st_mode)) { /* fopen opens a folder; only its reads fail */
        fclose(f);
        return facs_fail(FACS_ERR_IO, "%s is a folder, not a class list (a text file, one name per line)", path);
    }
    char line[PATH_SIZE];
    facs_status s = FACS_OK;
    for (int no = 1; s == FACS_OK && fgets(line, sizeof line, f); no++) {
        /* A byte order mark (Windows' editors write one), which Python's utf-8-sig drops too. */
        if (no == 1 && strncmp(line, "\xEF\xBB\xBF", 3) == 0)
            memmove(line, line + 3, strlen(line + 3) + 1);
        size_t len = strlen(line);
        if (len == sizeof line - 1 && line[len - 1] != '\n')
            s = facs_fail(FACS_ERR_FORMAT, "%s, line %d: longer than %d bytes", path, no, PATH_SIZE - 2);
        while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r' || line[len - 1] == ' ' ||
                           line[len - 1] == '\t'))
            line[--len] = '\0';
        if (s != FACS_OK || len == 0)
            continue;
        if (strchr(line, '/') || !strcmp(line, ".") || !strcmp(line, ".."))
            s = facs_fail(FACS_ERR_FORMAT, "%s, line %d: '%s' cannot be a class folder's name", path, no, line);
        else if (find_name((const char *const *)names->items, names->count, line) >= 0)
            s = facs_fail(FACS_ERR_FORMAT, "%s, line %d: the class '%s' is listed twice", path, no, line);
        else if (!facs_strings_push(names, line))
            s = facs_fail(FACS_ERR_MEMORY, "%s: out of memory", path);
    }
    if (s == FACS_OK && ferror(f))
        s = facs_fail(FACS_ERR_IO, "%s: read error", path);
    fclose(f);
    if (s == FACS_OK && names->count == 0)
        s = facs_fail(FACS_ERR_FORMAT, "%s: no class name in the file (one name per line)", path);
    if (s != FACS_OK)
        facs_strings_free(names);
    return s;
}

/* Every folder of root must be a listed class. */
static facs_status check_unlisted(const char *root, const char *const *names, int n, const char *list_name)
{
    facs_strings entries = {0};
    facs_status s = facs_read_names(root, &entries);
    char path[PATH_SIZE];
    for (int i = 0; s == FACS_OK && i < entries.count; i++) {
        if (snprintf(path, sizeof path, "%s/%s", root, entries.items[i]) >= (int)sizeof path)
            s = facs_fail(FACS_ERR_ARG, "%s/%s: path longer than %d bytes", root, entries.items[i], PATH_SIZE - 1);
        else if (is_folder(path) && find_name(names, n, entries.items[i]) < 0)
            s = facs_fail(FACS_ERR_FORMAT, "%s: a class folder missing from %s (add it there, or move it out)", path,
                          list_name);
    }
    facs_strings_free(&entries);
    return s;
}

typedef struct {
    const char *name;
    int cls;
} named_class;

static int cmp_named(const void *a, const void *b)
{
    return strcmp(((const named_class *)a)->name, ((const named_class *)b)->name);
}

/* Walks the listed classes in name order into f (ImageFolder's sample order); per_class[i]: images of class i. */
static facs_status list_samples(facs_image_folder *f, facs_strings *paths, int *per_class)
{
    int n = f->num_classes;
    named_class *order = malloc(sizeof *order * (size_t)n);
    if (!order)
        return facs_fail(FACS_ERR_MEMORY, "%s: out of memory", f->root);
    for (int i = 0; i < n; i++)
        order[i] = (named_class){f->classes[i], i};
    qsort(order, (size_t)n, sizeof *order, cmp_named);
    facs_status s = FACS_OK;
    char path[PATH_SIZE];
    for (int i = 0; s == FACS_OK && i < n; i++) {
        int cls = order[i].cls, before = paths->count;
        if (snprintf(path, sizeof path, "%s/%s", f->root, f->classes[cls]) >= (int)sizeof path)
            s = facs_fail(FACS_ERR_ARG, "%s/%s: path longer than %d bytes", f->root, f->classes[cls], PATH_SIZE - 1);
        else if (is_folder(path))
            s = facs_image_walk(f->root, f->classes[cls], paths);
        int *labels = s == FACS_OK ? realloc(f->labels, sizeof(int) * (size_t)(paths->count + 1)) : NULL;
        if (s == FACS_OK && !labels)
            s = facs_fail(FACS_ERR_MEMORY, "%s: out of memory", f->root);
        if (labels)
            f->labels = labels;
        for (int j = before; s == FACS_OK && j < paths->count; j++)
            f->labels[j] = cls;
        per_class[cls] = paths->count - before;
    }
    free(order);
    return s;
}

static facs_status empty_classes_error(const facs_image_folder *f, const int *per_class, const char *list_name)
{
    char list[1024] = "";
    size_t used = 0;
    int shown = 0;
    for (int c = 0; c < f->num_classes; c++) {
        if (per_class[c])
            continue;
        int w = snprintf(list + used, sizeof list - used, "%s%s", shown++ ? ", " : "", f->classes[c]);
        if (w < 0 || (size_t)w >= sizeof list - used) {
            snprintf(list + sizeof list - 5, 5, "...");
            break;
        }
        used += (size_t)w;
    }
    return facs_fail(FACS_ERR_FORMAT, "%s: no image (.jpg, .jpeg, .png) for the class%s %s, listed among %s", f->root,
                     shown == 1 ? "" : "es", list, list_name);
}

facs_status facs_image_folder_open_classes(const char *root, const char *const *names, int n, int allow_empty,
                                           const char *list_name, facs_image_folder *folder)
{
    memset(folder, 0, sizeof *folder);
    size_t len = facs_path_len_trimmed(root);
    if (len + 2 >= PATH_SIZE)
        return facs_fail(FACS_ERR_ARG, "%s: path longer than %d bytes", root, PATH_SIZE - 1);
    if (!is_folder(root))
        return facs_fail(FACS_ERR_IO, "%s: not a folder", root);
    for (int i = 0; i < n; i++)
        if (find_name(names, i, names[i]) >= 0)
            return facs_fail(FACS_ERR_ARG, "the class '%s' is twice among %s", names[i], list_name);
    facs_image_folder f = {0};
    facs_strings classes = {0}, paths = {0};
    facs_status s = (f.root = strndup(root, len)) ? FACS_OK : facs_fail(FACS_ERR_MEMORY, "%s: out of memory", root);
    for (int i = 0; s == FACS_OK && i < n; i++)
        if (!facs_strings_push(&classes, names[i]))
            s = facs_fail(FACS_ERR_MEMORY, "%s: out of memory", root);
    f.classes = classes.items;
    f.num_classes = classes.count;
    if (s == FACS_OK)
        s = check_unlisted(f.root, names, n, list_name);
    int *per_class = s == FACS_OK ? calloc((size_t)n + 1, sizeof *per_class) : NULL;
    if (s == FACS_OK && !per_class)
        s = facs_fail(FACS_ERR_MEMORY, "%s: out of memory", root);
    if (s == FACS_OK)
        s = list_samples(&f, &paths, per_class);
    f.paths = paths.items;
    f.count = paths.count;
    for (int c = 0; s == FACS_OK && !allow_empty && c < n; c++)
        if (!per_class[c])
            s = empty_classes_error(&f, per_class, list_name);
    if (s == FACS_OK && f.count == 0)
        s = facs_fail(FACS_ERR_FORMAT, "%s: no image (.jpg, .jpeg, .png) for any of %s", f.root, list_name);
    free(per_class);
    if (s != FACS_OK)
        facs_image_folder_free(&f);
    else
        *folder = f;
    return s;
}
