/* OUT/curves.png from the run's log (train/run.h's history): left panel train
 * and test loss, right panel train accuracy and test top-1 / top-5 (0 to 1),
 * x = epoch; drawn by eval/plot.h. */
#ifndef FT_CURVES_H
#define FT_CURVES_H

#include <jansson.h>

#include "status.h"

facs_status ft_plot_curves(const json_t *history, const char *path);

#endif
