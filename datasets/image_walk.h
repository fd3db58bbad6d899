/* Image files under a folder, found as torchvision's ImageFolder finds them
 * (image_folder.h): recursively and through symbolic links
 * (os.walk(followlinks=True)), every file whose name ends in .jpg, .jpeg or
 * .png, ignoring case, ordered as sorted(os.walk(...)) orders folders (by
 * their whole path, so "a-b" comes before "a/x") and file names sorted within
 * each folder. Refused, naming the file or folder: an extension ImageFolder
 * lists but that is not decoded here (.bmp .ppm .pgm .tif .tiff .webp, where
 * dropping it silently would shift every later sample index), a folder that
 * cannot be read, a symbolic link looping back to a folder above it, and a
 * tree more than 64 folders deep.
 *
 *     facs_strings paths = {0};
 *     if (facs_image_walk("data/train", "cat", &paths) != FACS_OK) ...   // "cat/a.jpg", "cat/sub/b.png", ...
 *     facs_strings_free(&paths);
 *
 * Image folders walk each class folder; an unlabelled folder (pspnet-eval
 * --images) walks its root (rel ""). */
#ifndef FACS_IMAGE_WALK_H
#define FACS_IMAGE_WALK_H

#include "status.h"

/* A growable array of malloc'd strings; {0} is empty. */
typedef struct {
    char **items;
    int count, cap;
} facs_strings;

void facs_strings_free(facs_strings *s);
/* Appends a copy of str; 0 when out of memory or the list would pass INT_MAX. */
int facs_strings_push(facs_strings *s, const char *str);

/* The entry names of the folder at path (without "." and ".."), sorted by
 * strcmp, appended to names. */
facs_status facs_read_names(const char *path, facs_strings *names);

/* Appends the image files under root/rel (rel "" for root itself) to paths,
 * as paths relative to root, in the order above. root/rel must be a folder. */
facs_status facs_image_walk(const char *root, const char *rel, facs_strings *paths);

#endif
