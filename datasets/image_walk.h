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
 * Image folders walk each class folder; an unlabelled folder walks its root
 * (rel ""). pspnet-eval --images walks with options (facs_image_walk_with)
 * that leave out hidden entries and the files it cannot decode instead. */
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

/* Where a walk departs from ImageFolder's (all 0: facs_image_walk). A
 * classifier's folders keep ImageFolder's walk: there a dropped file would
 * shift every later sample index. */
typedef struct {
    int skip_hidden; /* 1: files and folders whose name begins with '.' are left out, as the Cityscapes indexer does */
    int skip_others; /* 1: files that are not .jpg, .jpeg or .png (.webp, .txt, ...) are left out and counted */
} facs_image_walk_opts;

/* What skip_others left out (hidden entries are not counted). */
typedef struct {
    int count;
    char first[4096]; /* the first one found, as root/rel/name */
} facs_image_walk_skipped;

/* facs_image_walk with opts; *skipped (may be NULL) gets what skip_others left out. */
facs_status facs_image_walk_with(const char *root, const char *rel, const facs_image_walk_opts *opts,
                                 facs_strings *paths, facs_image_walk_skipped *skipped);

/* Whether path is folder or lies below it, as writing there would resolve
 * them: symbolic links and ".." followed; path need not exist yet (the
 * folders that would be made for it count). 0 when folder does not exist. */
int facs_path_within(const char *path, const char *folder);

#endif
