/* The run's curves (see curves.h). */
#include "curves.h"

#include <math.h>
#include <stdlib.h>

#include "plot.h"

enum { TRAIN_LOSS, TEST_LOSS, TRAIN_ACC, TEST_TOP1, TEST_TOP5, COLUMNS };
static const char *const COLUMN_KEYS[COLUMNS] = {"train_loss", "test_loss", "train_acc", "test_top1", "test_top5"};
static const char *const COLUMN_NAMES[COLUMNS] = {"train loss", "test loss", "train acc", "test top-1", "test top-5"};

facs_status ft_plot_curves(const json_t *history, const char *path)
{
    int n = (int)json_array_size(history);
    double *values = malloc((size_t)(n ? n : 1) * COLUMNS * sizeof *values);
    if (!values)
        return facs_fail(FACS_ERR_MEMORY, "out of memory for the curves");
    facs_plot_series series[COLUMNS];
    for (int c = 0; c < COLUMNS; c++) {
        double *y = values + (size_t)c * n;
        for (int i = 0; i < n; i++) {
            const json_t *v = json_object_get(json_array_get(history, (size_t)i), COLUMN_KEYS[c]);
            y[i] = json_is_number(v) ? json_number_value(v) : NAN;
        }
        series[c] = (facs_plot_series){.name = COLUMN_NAMES[c], .y = y, .count = n, .markers = 1};
    }
    facs_plot_panel panels[] = {{.title = "loss", .xlabel = "epoch", .series = series + TRAIN_LOSS, .n_series = 2,
                                 .y_range = FACS_PLOT_Y_FROM_ZERO, .x_integer = 1},
                                {.title = "accuracy", .xlabel = "epoch", .series = series + TRAIN_ACC, .n_series = 3,
                                 .y_range = FACS_PLOT_Y_FIXED, .ymin = 0, .ymax = 1,
                                 .legend = FACS_PLOT_LEGEND_BOTTOM_RIGHT, .x_integer = 1}};
    facs_status s = facs_plot_write_png(&(facs_plot){.panels = panels, .n_panels = 2}, path);
    free(values);
    return s;
}
