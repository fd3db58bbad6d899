/* Option values for every command-line tool, checked the same way: a whole
 * number is decimal digits only (no fraction, exponent, hex or sign games),
 * a real is a finite decimal number, and each lies in the range its option
 * allows. On a bad value the message names the option, the range and the text:
 *
 *     int epochs;
 *     if (facs_cli_int("--epochs", optarg, 1, 100000, &epochs) != FACS_OK)
 *         ... print facs_last_error() ...   // "--epochs needs a whole number in [1, 100000], not '1.5'"
 */
#ifndef FACS_CLI_OPTIONS_H
#define FACS_CLI_OPTIONS_H

#include <stdint.h>

#include "status.h"

facs_status facs_cli_int(const char *option, const char *text, int lo, int hi, int *out);
facs_status facs_cli_int64(const char *option, const char *text, int64_t lo, int64_t hi, int64_t *out);
facs_status facs_cli_real(const char *option, const char *text, double lo, double hi, double *out);

/* An image size, "S" (square) or "HxW", each side a whole number in [lo, hi]. */
facs_status facs_cli_size(const char *option, const char *text, int lo, int hi, int *h, int *w);

/* The index in names (NULL-terminated) of text; the message lists the names. */
facs_status facs_cli_choice(const char *option, const char *text, const char *const *names, int *out);

/* --deep-stem (FACS_STEM_DEEP) and --deep-base (FACS_STEM_DEEP_BASE) each
 * choose the stem (model.h's facs_stem) into *deep_stem; the other one given
 * before is refused, naming both. */
facs_status facs_cli_stem(int stem, int *deep_stem);

#endif
