/* Image folders in the ImageNet layout, root/<class>/.../<name>.jpg or .png, as a
 * classification dataset with torchvision.datasets.ImageFolder's semantics, so a
 * model trained here and one trained by PyTorch on the same folder agree on
 * class ids and sample indices.
 *
 *     facs_image_folder f;
 *     if (facs_image_folder_open("data/imagenet/train", &f) != FACS_OK)
 *         fprintf(stderr, "%s\n", facs_last_error());   // names the folder or file and the problem
 *     facs_dataset ds;
 *     facs_image_folder_dataset(&f, &ds);               // for facs_loader_create
 *     ... f.classes[f.labels[i]], f.paths[i] ...
 *     facs_image_folder_free(&f);                       // after the loader is freed
 *
 * What ImageFolder does, and so what this does:
 *   - classes: the names of root's sub-folders (symbolic links to folders count,
 *     hidden folders too), sorted by code point (strcmp on UTF-8 names); class
 *     id = position in that list. No class folder at all is an error;
 *   - samples: for each class in order, every file under its folder, recursively
 *     and through symbolic links (os.walk(followlinks=True)), whose name ends in
 *     .jpg, .jpeg or .png, ignoring case. Order: folders sorted by their whole
 *     path (sorted(os.walk(...)), so "a-b" comes before "a/x"), then file names
 *     sorted within each folder. Files with other extensions (.txt, .DS_Store)
 *     are ignored; like ImageFolder, a leading dot does not hide an image file;
 *   - a class folder without any such file is an error naming the classes
 *     ("found no valid file for the classes ...").
 * Differences, each an error where ImageFolder would go on differently:
 *   - a file with an extension ImageFolder accepts but that is not decoded here
 *     (.bmp .ppm .pgm .tif .tiff .webp) is refused when opening, naming the file,
 *     rather than silently dropped, which would shift every later sample index;
 *   - a folder that cannot be read is an error (os.walk skips it silently), and
 *     so is a symbolic link looping back to a folder above it.
 *
 * Images are decoded when loaded (facs_image_read, as RGB: PIL's
 * convert("RGB")), so opening a folder only lists it; a corrupt image is an
 * error at load time naming the file. */
#ifndef FACS_IMAGE_FOLDER_H
#define FACS_IMAGE_FOLDER_H

#include "loader.h"
#include "status.h"

typedef struct {
    char *root;        /* the root as given, without trailing slashes */
    int num_classes;
    char **classes;    /* num_classes sorted folder names */
    int count;         /* samples */
    char **paths;      /* count paths relative to root, "class/sub/name.jpg" */
    int *labels;       /* count class ids, each < num_classes (-1: unlabelled) */
} facs_image_folder;

/* Lists root. On failure *folder is left empty (safe to free). */
facs_status facs_image_folder_open(const char *root, facs_image_folder *folder);

/* Every image under root, recursively (the same walk, order and refusals),
 * without classes: for predicting on images that have no labels (pspnet-eval
 * --images). num_classes is 0, classes NULL and every label -1; paths are
 * relative to root. A folder without any image is an error. */
facs_status facs_image_folder_open_unlabelled(const char *root, facs_image_folder *folder);

/* Releases what open allocated and zeroes *folder; NULL and zeroed are fine. */
void facs_image_folder_free(facs_image_folder *folder);

/* The loader's view of folder (borrowed: it must outlive the dataset): count
 * samples; load decodes sample i as RGB (3 channels) and sets its class id. */
void facs_image_folder_dataset(const facs_image_folder *folder, facs_dataset *dataset);

/* The full path of sample i (root/paths[i]) into out; FACS_ERR_ARG when i is out
 * of range or the path does not fit. */
facs_status facs_image_folder_path(const facs_image_folder *folder, int i, char *out, size_t size);

#endif
