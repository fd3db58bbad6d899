/* The CIFAR splits of a run, behind the batch loader: the folder is read and
 * checked once, and each split gets its augmentation (training: pad-and-crop
 * or, at larger input sizes, a resized random crop, plus the flip; test: the
 * plain image, resized when the input size is not 32) and normalisation. */
#ifndef FT_DATA_H
#define FT_DATA_H

#include "cifar.h"
#include "loader.h"

typedef struct {
    facs_cifar split;
    facs_dataset dataset;
    facs_cls_aug aug;
} ft_split;

/* Loads one split of dir. want is 10, 100 or 0 (detect); a --dataset that
 * contradicts the folder is refused naming both. */
facs_status ft_split_load(ft_split *s, const char *dir, int want, facs_cifar_split which, int input_size,
                          int imagenet_norm);
void ft_split_free(ft_split *s);

/* A loader over s: shuffled and drop_last when training, from first_epoch. */
facs_status ft_loader_create(const ft_split *s, int train, int batch, int workers, uint64_t seed, int first_epoch,
                             facs_loader **out);

#endif
