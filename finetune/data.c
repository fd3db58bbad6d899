/* CIFAR splits as loader datasets (see data.h). */
#include <stdlib.h>
#include <string.h>

#include "data.h"

static facs_cls_aug split_aug(int train, int input_size, int imagenet_norm)
{
    facs_cls_aug aug = train ? facs_cls_aug_cifar_train() : facs_cls_aug_cifar_eval();
    if (input_size != FACS_CIFAR_SIDE) {
        aug.out_height = aug.out_width = input_size;
        if (train) {
            /* At 224 a 4-pixel pad of the 32-pixel source is a crop of at
             * least (24/32)^2 of its area: the same jitter, then upscaled. */
            aug.crop = FACS_CROP_RESIZED_RANDOM;
            aug.scale_min = 0.5625f;
            aug.scale_max = 1.0f;
        } else {
            aug.crop = FACS_CROP_CENTER;
            aug.resize_shorter = input_size;
        }
    }
    if (imagenet_norm) {
        static const float mean[] = FACS_IMAGENET_MEAN, std[] = FACS_IMAGENET_STD;
        memcpy(aug.mean, mean, sizeof mean);
        memcpy(aug.std, std, sizeof std);
    }
    return aug;
}

facs_status ft_split_load(ft_split *s, const char *dir, int want, facs_cifar_split which, int input_size,
                          int imagenet_norm)
{
    memset(s, 0, sizeof *s);
    int found = 0;
    FACS_TRY(facs_cifar_detect(dir, &found));
    if (found == 0)
        return facs_fail(FACS_ERR_IO, "%s: not a CIFAR folder (looked for %s)", dir, facs_cifar_expected_files());
    if (want && want != found)
        return facs_fail(FACS_ERR_ARG, "--dataset cifar%d, but %s holds CIFAR-%d", want, dir, found);
    FACS_TRY(facs_cifar_load(dir, found, which, &s->split));
    s->aug = split_aug(which == FACS_CIFAR_TRAIN, input_size, imagenet_norm);
    facs_cifar_dataset(&s->split, &s->dataset);
    return FACS_OK;
}

void ft_split_free(ft_split *s) { facs_cifar_free(&s->split); }

facs_status ft_loader_create(const ft_split *s, int train, int batch, int workers, uint64_t seed, int first_epoch,
                             facs_loader **out)
{
    facs_loader_opts o = facs_loader_defaults();
    o.batch_size = batch;
    o.shuffle = train;
    o.drop_last = train; /* every step sees a full batch, so BN statistics are never from a handful */
    o.workers = workers;
    o.seed = seed;
    o.first_epoch = first_epoch;
    o.height = o.width = s->aug.out_height;
    o.channels = 3;
    o.transform = facs_cls_transform;
    o.transform_opts = &s->aug;
    return facs_loader_create(&s->dataset, &o, out);
}
