/* The run's curves (see curves.h). */
#include "curves.h"

#include "plot_log.h"

facs_status ft_plot_curves(const json_t *history, const char *path)
{
    static const char *const loss_keys[] = {"train_loss", "test_loss", NULL};
    static const char *const loss_names[] = {"train loss", "test loss", NULL};
    static const char *const acc_keys[] = {"train_acc", "test_top1", "test_top5", NULL};
    static const char *const acc_names[] = {"train acc", "test top-1", "test top-5", NULL};
    const facs_log_panel panels[] = {{"loss", loss_keys, loss_names, 0}, {"accuracy", acc_keys, acc_names, 1}};
    return facs_plot_log_png(history, "epoch", panels, 2, path);
}
