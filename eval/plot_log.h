/* Curves from a run's log (train/run.h's records, JSON objects): one panel per
 * entry of panels, one series per key, x from x_key. A record without a key
 * is a gap in that series (validation columns appear only on some records).
 *
 *     static const char *const loss_keys[] = {"train_loss", "test_loss", NULL};
 *     static const char *const loss_names[] = {"train loss", "test loss", NULL};
 *     facs_log_panel panels[] = {{"loss", loss_keys, loss_names, 0}, ...};
 *     FACS_TRY(facs_plot_log_png(history, "epoch", panels, 2, "run/curves.png"));
 */
#ifndef FACS_PLOT_LOG_H
#define FACS_PLOT_LOG_H

#include <jansson.h>

#include "status.h"

typedef struct {
    const char *title;
    const char *const *keys;  /* NULL-terminated: the record keys of the series */
    const char *const *names; /* their legend names, same length */
    int unit_range;           /* 1: y from 0 to 1 (accuracies, IoU); 0: from 0 to the data's maximum */
} facs_log_panel;

facs_status facs_plot_log_png(const json_t *records, const char *x_key, const facs_log_panel *panels, int n_panels,
                              const char *path);

#endif
