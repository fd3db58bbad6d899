/* The spellings of facs-finetune's choices (see ft_options.h). */
#include "ft_options.h"

const char *const ft_dataset_names[] = {"cifar10", "cifar100", NULL};
const char *const ft_norm_names[] = {"cifar", "imagenet", NULL};
const char *const ft_schedule_names[] = {"cosine", "step", NULL};
const char *const ft_jpeg_draft_names[] = {"train", "all", "off", NULL};
