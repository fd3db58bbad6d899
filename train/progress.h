/* The live progress bar of a loop over batches, on stderr and only when
 * stderr is a terminal (logs and pipes get the tools' plain lines instead):
 *   epoch 3/30 [##########..............] 120/391  loss 1.234  acc 0.567  812 img/s  ETA 0:21
 * Redrawn at most every 0.2 s; the line is cleared at the end. */
#ifndef FACS_PROGRESS_H
#define FACS_PROGRESS_H

typedef struct {
    int enabled;
    char label[64];     /* "epoch 3/30", "val" */
    int total, first;   /* first: the batch this process started at (a resumed epoch) */
    int batch_size;
    double start, last_draw;
} facs_progress;

void facs_progress_begin(facs_progress *p, const char *label, int total, int first, int batch_size);
/* done batches of total; metrics: the tool's own columns ("loss 1.234  acc 0.567"), may be "". */
void facs_progress_update(facs_progress *p, int done, const char *metrics);
void facs_progress_end(facs_progress *p);

#endif
