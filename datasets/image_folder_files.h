/* Whole image folders in the layout facs-finetune reads (DIR/train/<class>/
 * and DIR/val/<class>/, image_folder.h): written synthetically, and checked
 * file by file (facs-data synth imagefolder, facs-data check). */
#ifndef FACS_IMAGE_FOLDER_FILES_H
#define FACS_IMAGE_FOLDER_FILES_H

#include <stdint.h>

#include "image_folder.h"
#include "image_walk.h"

/* Writes n_train and n_val learnable images (synth_draw.h's class recipes) of
 * `classes` classes to out/train/<class>/ and out/val/<class>/, image i of a
 * split in class i mod classes: JPEGs (quality 90), every fourth of each class a
 * PNG. The
 * classes are CIFAR-10's names when there are at most 10, else class_000, ...
 * Each file is written whole or not at all; out and its folders are created. */
facs_status facs_image_folder_synth(const char *out, int classes, int n_train, int n_val, int height, int width,
                                    uint64_t seed);

/* What facs_image_folder_check found. split[0] is DIR/train, split[1] DIR/val
 * (opened with train's classes); per_class[s][c] counts split s's files of
 * class c; bad lists the files that do not decode, each "path: why". */
typedef struct {
    facs_image_folder split[2];
    int *per_class[2];
    facs_strings bad;
} facs_image_folder_report;

/* Lists both splits (a class without training images, a val folder that is
 * not a training class, a file type not decoded here are errors, naming them)
 * and decodes every file, collecting those that fail instead of stopping. */
facs_status facs_image_folder_check(const char *root, facs_image_folder_report *r);
void facs_image_folder_report_free(facs_image_folder_report *r);

#endif
