/* Curves from a run's log (see plot_log.h). */
#include "plot_log.h"

#include <math.h>
#include <stdlib.h>

#include "plot.h"

#define MAX_PANELS 8
#define MAX_SERIES 64

static double number_at(const json_t *records, size_t i, const char *key)
{
    const json_t *v = json_object_get(json_array_get(records, i), key);
    return json_is_number(v) ? json_number_value(v) : NAN;
}

facs_status facs_plot_log_png(const json_t *records, const char *x_key, const facs_log_panel *panels, int n_panels,
                              const char *path)
{
    int n = (int)json_array_size(records), total = 0;
    for (int p = 0; p < n_panels; p++)
        for (const char *const *k = panels[p].keys; *k; k++)
            total++;
    if (n_panels < 1 || n_panels > MAX_PANELS || total > MAX_SERIES)
        return facs_fail(FACS_ERR_ARG, "%s: %d panels of %d curves is more than a plot holds", path, n_panels, total);
    double *values = malloc((size_t)(n ? n : 1) * (size_t)(total + 1) * sizeof *values);
    if (!values)
        return facs_fail(FACS_ERR_MEMORY, "out of memory for the curves");
    double *x = values + (size_t)total * n;
    for (int i = 0; i < n; i++)
        x[i] = number_at(records, (size_t)i, x_key);
    facs_plot_series series[MAX_SERIES];
    facs_plot_panel plot_panels[MAX_PANELS];
    int s = 0;
    for (int p = 0; p < n_panels; p++) {
        int first = s;
        for (int k = 0; panels[p].keys[k]; k++, s++) {
            double *y = values + (size_t)s * n;
            for (int i = 0; i < n; i++)
                y[i] = number_at(records, (size_t)i, panels[p].keys[k]);
            series[s] = (facs_plot_series){.name = panels[p].names[k], .x = x, .y = y, .count = n, .markers = 1};
        }
        plot_panels[p] = (facs_plot_panel){.title = panels[p].title, .xlabel = x_key, .series = series + first,
                                           .n_series = s - first, .x_integer = 1};
        if (panels[p].unit_range) {
            plot_panels[p].y_range = FACS_PLOT_Y_FIXED;
            plot_panels[p].ymin = 0;
            plot_panels[p].ymax = 1;
            plot_panels[p].legend = FACS_PLOT_LEGEND_BOTTOM_RIGHT;
        } else {
            plot_panels[p].y_range = FACS_PLOT_Y_FROM_ZERO;
        }
    }
    facs_status st = facs_plot_write_png(&(facs_plot){.panels = plot_panels, .n_panels = n_panels}, path);
    free(values);
    return st;
}
