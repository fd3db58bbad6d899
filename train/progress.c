/* The terminal progress bar (see progress.h). */
#include "progress.h"

#include <stdio.h>
#include <unistd.h>

#include "clock.h"

#define BAR_WIDTH 24

void facs_progress_begin(facs_progress *p, const char *label, int total, int first, int batch_size)
{
    *p = (facs_progress){isatty(STDERR_FILENO), "", total, first, batch_size, facs_clock_seconds(), 0};
    snprintf(p->label, sizeof p->label, "%s", label);
}

void facs_progress_update(facs_progress *p, int done, const char *metrics)
{
    double now = facs_clock_seconds();
    if (!p->enabled || (now - p->last_draw < 0.2 && done < p->total))
        return;
    p->last_draw = now;
    int ran = done - p->first;
    double rate = ran > 0 ? ran / (now - p->start) : 0;
    int eta = rate > 0 ? (int)((p->total - done) / rate + 0.5) : 0;
    char bar[BAR_WIDTH + 1];
    int filled = p->total ? done * BAR_WIDTH / p->total : 0;
    for (int i = 0; i < BAR_WIDTH; i++)
        bar[i] = i < filled ? '#' : '.';
    bar[BAR_WIDTH] = '\0';
    fprintf(stderr, "\r%s [%s] %d/%d  %s  %.0f img/s  ETA %d:%02d \033[K", p->label, bar, done, p->total, metrics,
            rate * p->batch_size, eta / 60, eta % 60);
    fflush(stderr);
}

void facs_progress_end(facs_progress *p)
{
    if (p->enabled) {
        fprintf(stderr, "\r\033[K");
        fflush(stderr);
    }
}
