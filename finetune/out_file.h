/* Files of the run's OUT folder are written whole or not at all: the content
 * goes to "<path>.partial.<pid>" in the same folder and is renamed over path,
 * so a crash or an error never leaves a half-written file under the real name. */
#ifndef FT_OUT_FILE_H
#define FT_OUT_FILE_H

#include <stddef.h>
#include <stdio.h>

#include "status.h"

/* The temporary name of path into tmp (size bytes); FACS_ERR_ARG when it does not fit. */
facs_status ft_partial_path(const char *path, char *tmp, size_t size);

/* Writes the text file path with what fill prints to f. On failure path is
 * untouched and the temporary removed. */
typedef void (*ft_text_fill_fn)(FILE *f, const void *user);
facs_status ft_write_text_atomic(const char *path, ft_text_fill_fn fill, const void *user);

#endif
