/* pspnet-train's curves.png from its log: the losses, and pixel accuracy with
 * the validation mIoU, against the iteration. */
#include "plot_log.h"
#include "train_run.h"

facs_status ps_plot_curves(const json_t *history, const char *path)
{
    static const char *const loss_keys[] = {"loss", "main_loss", "aux_loss", NULL};
    static const char *const loss_names[] = {"loss", "main loss", "aux loss", NULL};
    static const char *const acc_keys[] = {"pixel_acc", "val_pixel_acc", "val_miou", NULL};
    static const char *const acc_names[] = {"train pixel acc", "val pixel acc", "val mIoU", NULL};
    const facs_log_panel panels[] = {{"loss", loss_keys, loss_names, 0}, {"accuracy", acc_keys, acc_names, 1}};
    return facs_plot_log_png(history, "iter", panels, 2, path);
}
