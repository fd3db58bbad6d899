/* The run's network from the options, and the --init transfer: every
 * backbone tensor from an ImageNet-style weights file, the classifier head
 * (facs_model_head_prefix) kept freshly initialised for the new classes. */
#ifndef FT_MODEL_SETUP_H
#define FT_MODEL_SETUP_H

#include "ft_options.h"
#include "weights.h"

/* The model options the command line asks for (architecture defaults for
 * what it does not say), for classes classes. */
facs_status ft_model_options(const ft_options *o, int classes, facs_model_options *out);

/* Refuses an unknown --arch and a given option that does not apply to it. */
facs_status ft_model_check_options(const ft_options *o);

facs_status ft_model_build(const ft_options *o, int classes, facs_device device, facs_model **out);

/* Loads path into m except its head (facs_model_load_backbone: a refusal also
 * says what the file was saved as and what is built); prints what was loaded
 * to stdout. */
facs_status ft_model_load_init(facs_model *m, const char *path);

#endif
