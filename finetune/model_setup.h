/* Building the run's network from the options, and the --init transfer:
 * every backbone tensor from an ImageNet-style weights file, the classifier
 * head (facs_model_head_prefix) kept freshly initialised for the new classes. */
#ifndef FT_MODEL_SETUP_H
#define FT_MODEL_SETUP_H

#include "ft_options.h"
#include "weights.h"

facs_status ft_model_build(const ft_options *o, int classes, facs_device device, facs_model **out);

/* The weights.h meta describing the model (arch, classes, fusion for FACS networks). */
facs_weights_meta ft_model_meta(const facs_model *m);

/* Loads path into m except its head; prints what was loaded to stdout. */
facs_status ft_model_load_init(facs_model *m, const char *path);

#endif
