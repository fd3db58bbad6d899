/* Files written whole or not at all. Every writer of the toolkit (weights,
 * checkpoints, logs, CSV, PNG, results) goes through this:
 *
 *     facs_atomic_file a;
 *     FACS_TRY(facs_atomic_open(&a, "run/confusion.csv"));
 *     fprintf(a.f, ...);
 *     FACS_TRY(facs_atomic_commit(&a));                       // or facs_atomic_abort(&a)
 *
 * (HDF5 files are built in memory and written the same way:
 * backbone/h5_write.c.) The content goes to a temporary in the target's
 * folder, named "<path>.facs-tmp.<pid>" (a name near NAME_MAX shortened), so
 * a crash or an error never leaves a partial file under the real name. Commit flushes and fsyncs the temporary,
 * renames it over the target and fsyncs the folder, so after commit returns
 * the new file survives a power cut. On any failure the temporary is removed
 * and the target is left as it was. A kill -9 between open and commit leaves
 * the temporary behind: the first facs_atomic_open of a process in a folder
 * removes those of dead processes there (facs_atomic_remove_stale), so the
 * next write into that folder cleans up after the killed one. */
#ifndef FACS_ATOMIC_FILE_H
#define FACS_ATOMIC_FILE_H

#include <stddef.h>
#include <stdio.h>

#include "status.h"

#define FACS_ATOMIC_TMP_MARK ".facs-tmp."

typedef struct {
    char path[4096]; /* the final name */
    char tmp[4096];  /* where the content goes until commit */
    FILE *f;         /* open on tmp after facs_atomic_open */
} facs_atomic_file;

/* Opens the temporary of path for writing as a->f. */
facs_status facs_atomic_open(facs_atomic_file *a, const char *path);

/* Closes a->f (when open) and checks that every write reached it, syncs the
 * temporary, renames it over path and syncs path's folder. */
facs_status facs_atomic_commit(facs_atomic_file *a);

/* Closes a->f (when open) and removes the temporary; path is untouched. */
void facs_atomic_abort(facs_atomic_file *a);

/* Writes path with what fill prints, whole or not at all. */
typedef void (*facs_text_fill_fn)(FILE *f, const void *user);
facs_status facs_atomic_write_text(const char *path, facs_text_fill_fn fill, const void *user);

/* Removes the temporaries in dir whose writing process no longer runs;
 * the number removed, or -1 when dir cannot be read. */
int facs_atomic_remove_stale(const char *dir);

/* Whether a and b name one file: the same path, a link to it, or another
 * name of the same inode (0 when either does not exist under another name). */
int facs_same_file(const char *a, const char *b);

/* Refuses (FACS_ERR_ARG, naming both) an output that is the same file as one
 * of the inputs: same path, a link to it, or another name of the same inode.
 * option names the output in the message ("--output"); NULL inputs are skipped. */
facs_status facs_check_output_not_input(const char *option, const char *output, const char *const *inputs,
                                        int n_inputs);

/* Refuses (naming option and the reason) a folder that this process cannot
 * create files in: checked before the work whose results go there. */
facs_status facs_check_writable_folder(const char *option, const char *folder);

/* Refuses an output file path that is a folder, or whose folder does not
 * exist or cannot be written: checked before the work, not at the write. */
facs_status facs_check_output_file(const char *option, const char *path);

/* The length of path without its trailing slashes ("run/" -> 3; "/" stays
 * 1), for joining it with a name: "run/last.h5", not "run//last.h5". */
size_t facs_path_len_trimmed(const char *path);

/* mkdir -p: creates path and every missing folder above it (mode 0777 less
 * the umask). Fails naming the part that is not a folder or cannot be made;
 * an existing folder is fine. */
facs_status facs_make_dirs(const char *path);

#endif
