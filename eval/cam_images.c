/* The images of an explaining tool's --image and the names of their outputs
 * (cam_input.h: facs_cam_images). */
#include <errno.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "atomic_file.h"
#include "cam_input.h"
#include "image_folder.h"
#include "image_walk.h"
#include "unique_names.h"

void facs_cam_images_free(facs_cam_images *list)
{
    for (int i = 0; i < list->count; i++) {
        free(list->paths ? list->paths[i] : NULL);
        free(list->stems ? list->stems[i] : NULL);
    }
    free(list->paths);
    free(list->stems);
    *list = (facs_cam_images){0};
}

/* relative with '/' as '_', and without its extension unless keep_extension. */
static char *stem_of(const char *relative, int keep_extension)
{
    char *stem = strdup(relative);
    if (!stem)
        return NULL;
    char *dot = strrchr(stem, '.');
    if (dot && dot != stem && !keep_extension && !strchr(dot, '/'))
        *dot = 0;
    for (char *c = stem; *c; c++)
        if (*c == '/')
            *c = '_';
    return stem;
}

/* Images whose stems coincide (a.jpg and a.png) keep their extension; those
 * still sharing one (sub/b.png and sub_b.png) get "~<rank>" in walk order. */
static char *rename_stem(int i, int round, int rank, const char *current, const void *relatives)
{
    return round == 0 ? stem_of(((const char *const *)relatives)[i], 1) : facs_name_with_rank(current, rank);
}

facs_status facs_cam_images_open(const char *path, facs_cam_images *out)
{
    *out = (facs_cam_images){0};
    struct stat st;
    if (stat(path, &st) != 0) /* a link loop or a dangling link says so */
        return facs_fail(FACS_ERR_IO, "%s: %s", path, errno == ENOENT ? "no such file or folder" : strerror(errno));
    facs_image_folder folder = {0};
    if (S_ISDIR(st.st_mode))
        FACS_TRY(facs_image_folder_open_unlabelled(path, &folder));
    int count = S_ISDIR(st.st_mode) ? folder.count : 1;
    facs_status s = FACS_OK;
    if (!(out->paths = calloc((size_t)count, sizeof *out->paths)) ||
        !(out->stems = calloc((size_t)count, sizeof *out->stems)))
        s = facs_fail(FACS_ERR_MEMORY, "%s: out of memory listing %d images", path, count);
    for (int i = 0; s == FACS_OK && i < count; i++, out->count++) {
        const char *slash = strrchr(path, '/');
        const char *relative = folder.paths ? folder.paths[i] : slash ? slash + 1 : path;
        size_t size = strlen(path) + strlen(relative) + 2;
        if (!(out->paths[i] = malloc(size)) || !(out->stems[i] = stem_of(relative, 0)))
            s = facs_fail(FACS_ERR_MEMORY, "%s: out of memory listing images", path);
        else if (folder.paths)
            s = facs_image_folder_path(&folder, i, out->paths[i], size);
        else
            snprintf(out->paths[i], size, "%s", path);
    }
    if (s == FACS_OK && folder.paths)
        s = facs_unique_names(out->stems, out->count, rename_stem, folder.paths);
    facs_image_folder_free(&folder);
    if (s != FACS_OK)
        facs_cam_images_free(out);
    return s;
}

facs_status facs_cam_check_out_folder(const char *image, const char *out)
{
    struct stat st;
    if (stat(image, &st) == 0 && S_ISREG(st.st_mode)) { /* one image: its own folder, not the folders below */
        char copy[4096];
        snprintf(copy, sizeof copy, "%s", image);
        const char *folder = dirname(copy);
        if (!facs_same_file(out, folder))
            return FACS_OK;
        return facs_fail(FACS_ERR_ARG, "--out %s is the folder of --image %s: the maps written beside it would be "
                         "taken for images by a run over that folder; choose another --out", out, image);
    }
    if (!facs_path_within(out, image)) /* also 0 for a missing --image (refused when opened) */
        return FACS_OK;
    return facs_fail(FACS_ERR_ARG, "--out %s lies inside the --image folder %s: the maps written there would be "
                     "taken for images by the next run over that folder; choose an --out outside it", out, image);
}
