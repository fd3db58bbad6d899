/* A run's output folder, held for the life of the run:
 *
 *     facs_run_dir d;
 *     FACS_TRY(facs_run_dir_open(&d, "--out", out));   // created if missing, locked
 *     ... every check that can fail early ...
 *     ... write files under d.path ...
 *     facs_run_dir_close(&d);
 *
 * The lock is an exclusive flock on OUT/.facs-lock, so a second process
 * opening the same folder (by any name) stops at once with a message naming
 * the holder's pid; the kernel drops the lock when the holder dies, even by
 * kill -9. Opening also removes the temporaries that dead writers left
 * (atomic_file.h). A folder that open created is removed again by close when
 * no file was written into it (facs_run_dir_mark_written), so an early error
 * leaves nothing behind. */
#ifndef FACS_RUN_DIR_H
#define FACS_RUN_DIR_H

#include <stddef.h>

#include "status.h"

typedef struct {
    char path[4096];
    int lock_fd;  /* -1: not held */
    int created;  /* open made the folder */
    int written;  /* a file was written into it */
} facs_run_dir;

/* option names the folder's option in messages ("--out"). The folder's parent
 * must exist; it is never created. */
facs_status facs_run_dir_open(facs_run_dir *d, const char *option, const char *path);

/* path/name into buf. */
facs_status facs_run_dir_file(const facs_run_dir *d, const char *name, char *buf, size_t size);

void facs_run_dir_mark_written(facs_run_dir *d);

/* Releases the lock; removes the folder when open created it and nothing was written. */
void facs_run_dir_close(facs_run_dir *d);

#endif
