/* Image folders whose classes the caller fixes (image_folder.h finds them
 * itself): a class list file (facs-finetune --classes-file), or a validation
 * split opened with the training split's classes, so that class i means the
 * same thing in both even when a folder is missing from one of them.
 *
 *     facs_strings names = {0};
 *     FACS_TRY(facs_class_list_read("classes.txt", &names));
 *     facs_image_folder train;
 *     FACS_TRY(facs_image_folder_open_classes("data/train", (const char *const *)names.items, names.count, 0,
 *                                             "the classes in classes.txt", &train));
 *
 * This is torchvision's ImageFolder with a given class_to_idx (its
 * make_dataset): class i is names[i]; samples are listed class by class in the
 * order of the sorted names (not of the ids), each class folder walked as
 * image_walk.h does. Where ImageFolder would go on silently, these refuse:
 * a folder of root that is not in the list (its images would be dropped
 * without a word), and a name twice in the list. */
#ifndef FACS_CLASS_LIST_H
#define FACS_CLASS_LIST_H

#include "image_folder.h"
#include "image_walk.h"

/* Reads path: one class name per line, in class order. A UTF-8 byte order
 * mark at the start is skipped, trailing spaces and "\r" are dropped and
 * empty lines skipped; a folder, a name with a "/", "." or "..", a name given
 * twice, or a file without names is an error naming the file (and the line). */
facs_status facs_class_list_read(const char *path, facs_strings *names);

/* Lists root with class i = names[i] (n names, copied). A listed class with
 * no image under root is an error naming it unless allow_empty (a validation
 * split may lack a class). list_name names the list, for messages ("a class
 * folder missing from LIST_NAME"): "the classes in --classes-file F", "the
 * classes of DIR/train". */
facs_status facs_image_folder_open_classes(const char *root, const char *const *names, int n, int allow_empty,
                                           const char *list_name, facs_image_folder *folder);

#endif
