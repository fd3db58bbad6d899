/* pspnet-eval --images DIR: the images to predict, and where their
 * predictions may not go (see eval_run.h). DIR is walked with image_walk.h's
 * options for folders that are not a classifier's: hidden files and folders
 * left out (as the Cityscapes indexer leaves them), and files that are not
 * .jpg, .jpeg or .png skipped and counted in one line, as a photo folder holds
 * thumbnails and notes beside the pictures. */
#include <stdio.h>
#include <string.h>

#include "eval_run.h"

#define PATH_SIZE 4096

/* A sample: the image at the saver's file, without a label. */
static facs_status load_image(const facs_dataset *self, int index, facs_image *out_image, facs_label *out_label)
{
    const ev_saver *saver = self->user;
    out_label->cls = -1;
    return facs_image_read(saver->files.items[index], 3, out_image);
}

static void print_skipped(const facs_image_walk_skipped *skipped)
{
    if (skipped->count == 1)
        printf("skipped 1 file that is not .jpg, .jpeg or .png: %s\n", skipped->first);
    else if (skipped->count > 1)
        printf("skipped %d files that are not .jpg, .jpeg or .png (the first: %s)\n", skipped->count,
               skipped->first);
}

facs_status ev_list_images(ev_run *r)
{
    char root[PATH_SIZE], file[PATH_SIZE];
    if (snprintf(root, sizeof root, "%s", r->o->images) >= (int)sizeof root)
        return facs_fail(FACS_ERR_ARG, "--images %s: path too long", r->o->images);
    for (size_t n = strlen(root); n > 1 && root[n - 1] == '/'; n--) /* "DIR/" names its files DIR/x.png */
        root[n - 1] = '\0';
    facs_strings paths = {0};
    facs_image_walk_skipped skipped;
    facs_status s = facs_image_walk_with(root, "", &(facs_image_walk_opts){.skip_hidden = 1, .skip_others = 1},
                                         &paths, &skipped);
    if (s == FACS_OK && r->writes)
        print_skipped(&skipped);
    if (s == FACS_OK && paths.count == 0)
        s = facs_fail(FACS_ERR_FORMAT, "%s: no image found (.jpg, .jpeg or .png, in any sub-folder)", root);
    for (int i = 0; s == FACS_OK && i < paths.count; i++)
        s = snprintf(file, sizeof file, "%s/%s", root, paths.items[i]) >= (int)sizeof file
                ? facs_fail(FACS_ERR_ARG, "%s/%s: path too long", root, paths.items[i])
                : ev_saver_add(&r->saver, file, paths.items[i]);
    facs_strings_free(&paths);
    r->images = (facs_dataset){.count = r->saver.files.count, .load = load_image, .user = &r->saver};
    return s;
}

facs_status ev_check_save_pred_outside(const char *images, const char *save_pred)
{
    if (facs_path_within(save_pred, images))
        return facs_fail(FACS_ERR_ARG,
                         "--save-pred %s lies inside --images %s: its predictions would overwrite input images or "
                         "be read as images by the next run; give a --save-pred outside %s",
                         save_pred, images, images);
    for (const char *const *kind = ev_prediction_folders; *kind; kind++) {
        char folder[PATH_SIZE];
        snprintf(folder, sizeof folder, "%s/%s", save_pred, *kind);
        if (facs_path_within(images, folder))
            return facs_fail(FACS_ERR_ARG,
                             "--images %s is or lies inside %s, where --save-pred %s writes its %s predictions: "
                             "they would overwrite input images or be read as images by the next run; give a "
                             "--save-pred outside --images",
                             images, folder, save_pred, *kind);
    }
    return FACS_OK;
}
