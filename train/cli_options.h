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

#include <stddef.h>
#include <stdint.h>

#include "status.h"
#include "tensor.h" /* facs_device */

/* argv[0] cut to the program's file name, so that getopt's own messages read
 * "facs-finetune: unrecognized option ...", as every other message of the
 * tools does, rather than with the path the program was started by. */
void facs_cli_program_name(char **argv);

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

/* --device: where a tool computes (kernels/backend.h). Zero-initialised it is
 * the CPU, every tool's default. */
typedef struct {
    facs_device device;
    int index;   /* cuda:N */
    int indexed; /* the text named N (cuda:N, not cuda) */
} facs_device_choice;

/* The help line of --device; pad is the spaces that bring "  --device D" to
 * the column where the tool's other descriptions start. */
#define FACS_CLI_DEVICE_HELP(pad) "  --device D" pad "cpu (default), cuda (GPU 0) or cuda:N (GPU N)\n"

/* --device text: cpu, cuda or cuda:N; anything else, and cuda in a build
 * without the CUDA backend, is refused naming the text. Touches no GPU. */
facs_status facs_cli_device(const char *text, facs_device_choice *out);

/* Makes the chosen device this process's, before a tool reads or builds
 * anything: --device cuda on a machine without a usable GPU, or cuda:N beyond
 * its GPUs, fails here saying so. ranks is the run's process count (mpirun):
 * over more than one rank, --device cuda gives each rank the GPU of its rank
 * on its machine (one GPU per rank, as NCCL needs; gradient sums and SyncBN
 * then go through NCCL, kernels/grad_sync.h), and cuda:N is refused. */
facs_status facs_cli_device_use(const facs_device_choice *d, int ranks);

/* "cpu" or "cuda:N": the device as a run records it. */
const char *facs_cli_device_str(const facs_device_choice *d, char *buf, size_t size);

/* Moves a model built and loaded on the CPU (weights, buffers and any
 * momenta) to the chosen device, for a context of that device; fold: an
 * inference model, BatchNorm then folded into the convolutions there. */
struct facs_model;
facs_status facs_cli_device_place(struct facs_model *model, const facs_device_choice *d, int fold);

#endif
