/* OUT/log.jsonl: one JSON object per finished epoch, and the run's history
 * kept in memory for the plot. A resumed run first keeps only the lines of
 * the epochs its checkpoint has finished (a crash between the log line and
 * the checkpoint must not leave an epoch twice). */
#ifndef FT_RUN_LOG_H
#define FT_RUN_LOG_H

#include "status.h"

typedef struct {
    int epoch;           /* 1-based */
    double train_loss, train_acc;
    double test_loss, test_top1, test_top5;
    double lr;           /* the learning rate of the epoch's last step */
    double images_per_s; /* training images per second of training time */
} ft_epoch_record;

typedef struct {
    ft_epoch_record *records;
    int count, capacity;
} ft_history;

void ft_history_free(ft_history *h);

/* Fresh run: an empty log at path. */
facs_status ft_log_start(const char *path, ft_history *h);
/* Resume: h gets the lines of epochs 1..epochs of path (missing file: none),
 * and path is rewritten with exactly those. */
facs_status ft_log_resume(const char *path, int epochs, ft_history *h);
/* Appends r to the file and to h. */
facs_status ft_log_append(const char *path, ft_history *h, const ft_epoch_record *r);

#endif
