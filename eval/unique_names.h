/* Distinct output names for the files of an explaining tool: facs-gradcam
 * names its files after each image (eval/cam_images.c: a.jpg and a.png would
 * both be "a") and each class (two classes named "crane" in ImageNet's list),
 * and two inputs of one name would silently overwrite each other's outputs.
 *
 *     // names[i]: malloc'd strings; rename gives a longer one for the shared ones
 *     FACS_TRY(facs_unique_names(names, count, rename, user));
 *
 * Only the names another one shares change; the rest stay as they are, so
 * the common case keeps its short names. */
#ifndef FACS_UNIQUE_NAMES_H
#define FACS_UNIQUE_NAMES_H

#include "status.h"

/* The new name (malloc'd; NULL: out of memory) of entry i, which shares
 * current with other entries. round counts the passes (0 first: a pass renames
 * every shared name, then looks again); rank is i's place among the entries
 * sharing current, 1 for the lowest index. */
typedef char *(*facs_rename_fn)(int i, int round, int rank, const char *current, const void *user);

/* Makes the count malloc'd strings of names pairwise distinct, deterministically
 * (the result depends on the names and their order only). Fails when 8 passes
 * leave some shared, or on out of memory; names then still holds count freeable
 * strings. */
facs_status facs_unique_names(char **names, int count, facs_rename_fn rename, const void *user);

/* "<name>~<rank>": a rename of last resort, for the passes after a tool's own. */
char *facs_name_with_rank(const char *name, int rank);

#endif
