/* Ctrl-C (SIGINT) and SIGTERM ask a run to stop at the next batch boundary,
 * where it saves its state and exits with FACS_EXIT_INTERRUPTED. A second
 * signal kills at once: files are replaced atomically, so that loses at most
 * the work since the last checkpoint. */
#ifndef FACS_INTERRUPT_H
#define FACS_INTERRUPT_H

/* The exit codes of every training and evaluation tool. */
enum { FACS_EXIT_OK = 0, FACS_EXIT_ERROR = 1, FACS_EXIT_USAGE = 2, FACS_EXIT_INTERRUPTED = 130 };

void facs_interrupt_install(void);

/* 1 once a stop was asked for. */
int facs_interrupted(void);

/* facs_interrupted as a hook taking a user pointer (unused): a long piece of
 * work asks it between its parts (facs_seg_infer_opts.cancel). */
int facs_interrupted_hook(void *unused);

#endif
