/* OUT/curves.png: the run's curves drawn into an RGB image and written with
 * facs_png_write. Left panel: train and test loss; right panel: train
 * accuracy and test top-1 / top-5 (0 to 1). Axes with ticks and numbers,
 * a legend per panel, x = epoch. */
#ifndef FT_PLOT_H
#define FT_PLOT_H

#include "run_log.h"

facs_status ft_plot_curves(const ft_history *h, const char *path);

#endif
