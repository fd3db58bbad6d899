/* The data of a run behind the batch loader: an extracted CIFAR-10/100 folder
 * or an image folder in torchvision's ImageFolder layout, DIR/train/<class>/<image>
 * and DIR/val/<class>/<image> (told apart by what DIR holds; ft_data_detect).
 * Each split is read or listed and checked once and gets its augmentation
 * and normalisation:
 *   - CIFAR: training pad-and-crop or, at larger input sizes, a resized random
 *     crop, plus the flip; test: the plain image, resized when the input size
 *     is not 32;
 *   - image folders: torchvision's ImageNet recipe on PIL images
 *     (RandomResizedCrop + flip; resize to S * 256 / 224 + centre crop S).
 * Class ids of an image folder come from DIR/train's sorted folder names, or
 * from --classes-file, or from a checkpoint's list (--eval); DIR/val is
 * opened with the same list, so that class i means one thing in both. */
#ifndef FT_DATA_H
#define FT_DATA_H

#include "cifar.h"
#include "comm.h"
#include "ft_options.h"
#include "image_folder.h"
#include "image_walk.h"
#include "loader.h"

typedef struct {
    facs_cifar cifar;         /* CIFAR */
    facs_image_folder folder; /* image folder */
    facs_dataset dataset;
    facs_cls_aug aug;
    int count, num_classes;
    char *const *class_names; /* num_classes, borrowed from cifar or folder */
    const char *where;        /* the split's folder or file set, for messages */
} ft_split;

/* Which layout o->data holds, into o->layout (and, for CIFAR, o->dataset); a
 * --dataset, --classes-file or --skip-bad that does not fit it is refused.
 * Called once, before anything else reads the data. */
facs_status ft_data_detect(ft_options *o);

/* Refuses an --out (NULL: none) that is an image folder's train/ or val/ or
 * lies inside them: the run's files would be read as a class of images. */
facs_status ft_data_check_out(const ft_options *o, const char *out);

/* Reads --classes-file; a failure's message starts "--classes-file F". */
facs_status ft_read_classes_file(const ft_options *o, facs_strings *names);

/* The input side an image folder's evaluation resizes to before the centre
 * crop: 256 for 224, in proportion otherwise. */
int ft_eval_resize(int input_size);

/* The training split: CIFAR's, or DIR/train with its folder names or --classes-file as classes. */
facs_status ft_split_load_train(ft_split *s, const ft_options *o, int input_size, int norm);

/* The test split: CIFAR's test batch, or DIR/val with the classes names[0..n)
 * (the training split's, a checkpoint's: names_from says which, for
 * messages), or with n = 0 --classes-file's, else DIR/train's folder names. A
 * class may have no validation image. */
facs_status ft_split_load_test(ft_split *s, const ft_options *o, char *const *names, int n, const char *names_from,
                               int input_size, int norm);
void ft_split_free(ft_split *s);

/* A loader over s: shuffled and drop_last when training, from first_epoch;
 * skip_bad leaves out files that do not decode (loader.h). */
facs_status ft_loader_create(const ft_split *s, int train, const ft_options *o, int first_epoch,
                             facs_loader **out);

/* Prints the failure in facs_last_error() as "facs-finetune: MESSAGE"; when a
 * file of an image folder did not decode, with the hint that --skip-bad
 * leaves such files out. */
void ft_print_error(const ft_options *o);

/* With --skip-bad: the files the loaders (either may be NULL) left out, each
 * once, on stdout; nothing when none was. With comm (a data-parallel run's
 * ranks, every rank calling) rank 0 lists every rank's, each file once;
 * NULL: this process's alone (a rank that failed, whose peers are not here). */
facs_status ft_print_skipped(facs_comm *comm, facs_loader *train, facs_loader *test);

#endif
