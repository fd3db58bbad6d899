/* The live progress bar of an epoch, on stderr and only when stderr is a
 * terminal (logs and pipes get the plain per-epoch line of train.c instead):
 *   epoch 3/30 [##########..........] 120/391  loss 1.234  acc 0.567  812 img/s  ETA 0:21
 * Redrawn at most every 0.2 s; the line is cleared at the end of the epoch. */
#ifndef FT_PROGRESS_H
#define FT_PROGRESS_H

typedef struct {
    int enabled;
    int epoch, epochs, total, first; /* first: the batch this run started at (resume) */
    int batch_size;
    double start, last_draw;
} ft_progress;

/* Monotonic seconds. */
double ft_now(void);

void ft_progress_begin(ft_progress *p, int epoch, int epochs, int total, int first, int batch_size);
void ft_progress_update(ft_progress *p, int done, double loss, double acc);
void ft_progress_end(ft_progress *p);

#endif
