/* The terminal progress bar (see progress.h). */
#include <stdio.h>
#include <time.h>
#include <unistd.h>

#include "progress.h"

#define BAR_WIDTH 24

double ft_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

void ft_progress_begin(ft_progress *p, int epoch, int epochs, int total, int first, int batch_size)
{
    *p = (ft_progress){isatty(STDERR_FILENO), epoch, epochs, total, first, batch_size, ft_now(), 0};
}

void ft_progress_update(ft_progress *p, int done, double loss, double acc)
{
    double now = ft_now();
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
    fprintf(stderr, "\repoch %d/%d [%s] %d/%d  loss %.4f  acc %.4f  %.0f img/s  ETA %d:%02d \033[K", p->epoch,
            p->epochs, bar, done, p->total, loss, acc, rate * p->batch_size, eta / 60, eta % 60);
    fflush(stderr);
}

void ft_progress_end(ft_progress *p)
{
    if (p->enabled) {
        fprintf(stderr, "\r\033[K");
        fflush(stderr);
    }
}
