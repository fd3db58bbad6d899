/* Listing an ImageNet-layout folder as ImageFolder does (see image_folder.h);
 * the walk of each class folder is image_walk.h's. */
#include "image_folder.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "atomic_file.h"
#include "image_walk.h"

#define PATH_SIZE 4096

/* Appends the files of one class folder to f, in ImageFolder's order. */
static facs_status list_class(facs_image_folder *f, int cls, facs_strings *paths, int **labels, int *labels_cap)
{
    int before = paths->count;
    FACS_TRY(facs_image_walk(f->root, f->classes[cls], paths));
    if (paths->count > *labels_cap) {
        int *grown = realloc(*labels, (size_t)paths->cap * sizeof *grown);
        if (!grown)
            return facs_fail(FACS_ERR_MEMORY, "%s: out of memory", f->root);
        *labels = grown;
        *labels_cap = paths->cap;
    }
    for (int i = before; i < paths->count; i++)
        (*labels)[i] = cls;
    return FACS_OK;
}

/* The class folders of root, sorted; fills f->classes. */
static facs_status find_classes(facs_image_folder *f, facs_strings *classes)
{
    facs_strings names = {0};
    facs_status s = facs_read_names(f->root, &names);
    char path[PATH_SIZE];
    for (int i = 0; s == FACS_OK && i < names.count; i++) {
        struct stat st;
        snprintf(path, sizeof path, "%s/%s", f->root, names.items[i]);
        /* stat follows symbolic links, as os.scandir's is_dir() does */
        if (stat(path, &st) == 0 && S_ISDIR(st.st_mode) && !facs_strings_push(classes, names.items[i]))
            s = facs_fail(FACS_ERR_MEMORY, "%s: out of memory", f->root);
    }
    facs_strings_free(&names);
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

/* f->root: root without trailing slashes, once it is known to be a folder. */
static facs_status open_root(const char *root, facs_image_folder *f)
{
    memset(f, 0, sizeof *f);
    size_t len = facs_path_len_trimmed(root);
    if (len + 2 >= PATH_SIZE)
        return facs_fail(FACS_ERR_ARG, "%s: path longer than %d bytes", root, PATH_SIZE - 1);
    struct stat st;
    if (stat(root, &st) != 0)
        return facs_fail(FACS_ERR_IO, "%s: %s", root, strerror(errno));
    if (!S_ISDIR(st.st_mode))
        return facs_fail(FACS_ERR_IO, "%s: not a folder", root);
    if (!(f->root = strndup(root, len)))
        return facs_fail(FACS_ERR_MEMORY, "%s: out of memory", root);
    return FACS_OK;
}

/* Installs f in *folder, or frees it when s failed. */
static facs_status finish(facs_status s, facs_image_folder *f, facs_image_folder *folder)
{
    if (s != FACS_OK)
        facs_image_folder_free(f);
    else
        *folder = *f;
    return s;
}

facs_status facs_image_folder_open(const char *root, facs_image_folder *folder)
{
    memset(folder, 0, sizeof *folder);
    facs_image_folder f;
    FACS_TRY(open_root(root, &f));
    facs_strings classes = {0}, paths = {0};
    int labels_cap = 0;
    facs_status s = find_classes(&f, &classes);
    f.classes = classes.items;
    f.num_classes = classes.count;
    int *per_class = s == FACS_OK ? calloc((size_t)f.num_classes, sizeof *per_class) : NULL;
    if (s == FACS_OK && !per_class)
        s = facs_fail(FACS_ERR_MEMORY, "%s: out of memory", root);
    for (int c = 0; s == FACS_OK && c < f.num_classes; c++) {
        int before = paths.count;
        s = list_class(&f, c, &paths, &f.labels, &labels_cap);
        per_class[c] = paths.count - before;
    }
    f.paths = paths.items;
    f.count = paths.count;
    for (int c = 0; s == FACS_OK && c < f.num_classes; c++)
        if (!per_class[c])
            s = empty_classes_error(&f, per_class);
    free(per_class);
    return finish(s, &f, folder);
}

facs_status facs_image_folder_open_unlabelled(const char *root, facs_image_folder *folder)
{
    memset(folder, 0, sizeof *folder);
    facs_image_folder f;
    FACS_TRY(open_root(root, &f));
    facs_strings paths = {0};
    facs_status s = facs_image_walk(f.root, "", &paths);
    f.paths = paths.items;
    f.count = paths.count;
    if (s == FACS_OK && f.count == 0)
        s = facs_fail(FACS_ERR_FORMAT, "%s: no image found (.jpg, .jpeg or .png, in any sub-folder)", f.root);
    if (s == FACS_OK && !(f.labels = malloc((size_t)f.count * sizeof *f.labels)))
        s = facs_fail(FACS_ERR_MEMORY, "%s: out of memory", root);
    for (int i = 0; s == FACS_OK && i < f.count; i++)
        f.labels[i] = -1;
    return finish(s, &f, folder);
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

static facs_status folder_read(const facs_dataset *self, int index, facs_encoded *out_file, facs_label *out_label)
{
    const facs_image_folder *f = self->user;
    facs_status s = facs_image_folder_path(f, index, out_file->name, sizeof out_file->name);
    if (s == FACS_OK)
        s = facs_file_read(out_file->name, &out_file->data, &out_file->size);
    if (s == FACS_OK)
        out_label->cls = f->labels[index];
    return s;
}

void facs_image_folder_dataset(const facs_image_folder *folder, facs_dataset *dataset)
{
    /* The dataset interface holds a mutable pointer, but folder_load and folder_read only read through it. */
    *dataset = (facs_dataset){.count = folder->count, .load = folder_load, .read = folder_read, .user = (void *)folder};
}
