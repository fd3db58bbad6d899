/* Weight files: a model's facs_param_list in HDF5, named like torchvision's state_dict.
 *
 *     facs_weights_meta meta = facs_weights_meta_unknown();
 *     snprintf(meta.arch, sizeof meta.arch, "facs_resnet50");
 *     meta.classes = 1000; meta.fusion = FACS_FUSION_THRESHOLD; meta.threshold = 0.5f;
 *     if (facs_weights_save("run/best.h5", &net.params, &meta)) ... facs_last_error() ...
 *
 *     facs_weights_report report;
 *     facs_weights_load_options o = facs_weights_load_defaults();
 *     o.skip_prefix = "fc.";            // fine-tuning: keep our freshly initialised head
 *     o.report = &report;
 *     if (facs_weights_load("imagenet.h5", &net.params, &o, &meta)) ... facs_last_error() ...
 *
 * File layout (format "facs-weights", version 1):
 *   /model/<state_dict key with '.' replaced by '/'>
 *       one float32 dataset per list entry (parameters and buffers), in
 *       PyTorch's order and rank: NCHW / OIHW, a vector (C, 1, 1, 1) is 1-D
 *       (C), a linear weight is 2-D (OUT, IN), a conv weight 4-D OIHW (the rank
 *       is each entry's torch_rank, kernels/param.h);
 *   root attributes: format = "facs-weights", format_version = 1 (int64), and
 *       when known architecture (string), classes (int64), fusion
 *       ("threshold" or "weighted", FACS networks only), threshold (float64).
 *   Optional training state for exact resume (facs_weights_save_checkpoint),
 *   the layout of kernels/optim.h:
 *   /optimizer                       attributes steps, epoch, rng (int64)
 *   /optimizer/momentum/<key path>   float32, one per parameter whose SGD
 *                                    momentum buffer exists, shaped as its weight.
 *
 * Loading reads every /model dataset, wherever it came from: our save,
 * tools/convert_torchvision.py, or a bare file written by h5py straight from
 * a state_dict (no attributes: the meta fields stay unknown). A float dataset
 * of any width is converted to float32. Shapes are compared after dropping
 * trailing 1s, so (64,) matches (64, 1, 1, 1) and (10, 512) matches
 * (10, 512, 1, 1). Integer datasets that the model lacks (PyTorch's
 * num_batches_tracked) are "ignored", never required. Loading is all or
 * nothing: every check and read happens before the first tensor is written.
 *
 * Saving writes `<path>.tmp.<pid>` in the same folder, flushes and fsyncs it,
 * and renames it over path; on any failure the temporary is removed and an
 * existing file at path is left untouched.
 *
 * Not thread-safe: Debian's serial HDF5 build is not; use one thread for files. */
#ifndef FACS_WEIGHTS_H
#define FACS_WEIGHTS_H

#include <stddef.h>
#include <stdint.h>

#include "backend.h"
#include "optim.h"
#include "param.h"

#define FACS_WEIGHTS_FORMAT "facs-weights"
#define FACS_WEIGHTS_VERSION 1

/* The root attributes. Unknown fields are: version 0 (the file has no format
 * attributes: a bare h5py file), arch "", classes -1, fusion -1, threshold NAN.
 * Saving writes only the known ones (and always the format and version). */
typedef struct {
    int version;
    char arch[64];
    int classes;
    int fusion; /* facs_fusion, or -1 */
    float threshold;
} facs_weights_meta;

facs_weights_meta facs_weights_meta_unknown(void);

/* What a load found besides the tensors it loaded. Counts are complete; the
 * name arrays hold the first FACS_WEIGHTS_REPORT_NAMES names of each kind. */
#define FACS_WEIGHTS_REPORT_NAMES 8
#define FACS_WEIGHTS_NAME_MAX 128
typedef struct {
    int loaded;     /* list entries filled from the file */
    int missing;    /* list entries the file lacks */
    int unexpected; /* float (or non-numeric) file entries the list lacks */
    int ignored;    /* integer file entries the list lacks (num_batches_tracked) */
    char missing_names[FACS_WEIGHTS_REPORT_NAMES][FACS_WEIGHTS_NAME_MAX];
    char unexpected_names[FACS_WEIGHTS_REPORT_NAMES][FACS_WEIGHTS_NAME_MAX];
    char ignored_names[FACS_WEIGHTS_REPORT_NAMES][FACS_WEIGHTS_NAME_MAX];
} facs_weights_report;

/* "3 missing (a, b, c), 1 unexpected (d), 20 ignored" into buf, for the CLIs. */
const char *facs_weights_report_str(const facs_weights_report *r, char *buf, size_t size);

typedef struct {
    int strict;              /* 1: a missing or unexpected entry is an error (the report is still filled) */
    const char *skip_prefix; /* entries (of the list and of the file) whose name starts with it are
                              * neither loaded nor reported, e.g. "fc." to swap a classifier head; NULL: none */
    facs_weights_report *report; /* filled when not NULL, also when the load fails */
} facs_weights_load_options;

/* strict 1, no skip prefix, no report. */
facs_weights_load_options facs_weights_load_defaults(void);

/* Writes every entry of list and meta (NULL: only format and version). */
facs_status facs_weights_save(const char *path, const facs_param_list *list, const facs_weights_meta *meta);

/* Fills the list's entries from path (options NULL: defaults) and meta_out
 * (when not NULL) from its attributes. Refuses, naming the file: a missing,
 * non-HDF5 or truncated file, a file without /model, a newer format version,
 * a shape that differs from the model's (naming the tensor and both shapes),
 * a non-float dataset for a list entry, and in strict mode any missing or
 * unexpected entry. */
facs_status facs_weights_load(const char *path, facs_param_list *list, const facs_weights_load_options *options,
                              facs_weights_meta *meta_out);

/* Only the root attributes of path (unknown fields as facs_weights_meta_unknown
 * says), to build the right model before loading: the architecture, classes
 * and fusion a file was saved with. Refuses a missing, non-HDF5 or truncated
 * file and a newer format version, naming the file. */
facs_status facs_weights_read_meta(const char *path, facs_weights_meta *meta);

/* Training state beside the weights, for exact resume. */
typedef struct {
    int64_t epoch; /* completed epochs */
    int64_t rng;   /* free-form: the run's seed or generator position */
} facs_train_state;

/* facs_weights_save of sgd->params plus sgd->steps, state and every existing
 * momentum buffer (the layout of kernels/optim.h). */
facs_status facs_weights_save_checkpoint(const char *path, const facs_sgd *sgd, const facs_weights_meta *meta,
                                         const facs_train_state *state);

/* facs_weights_load into sgd->params (sgd initialised with facs_sgd_init),
 * then sgd->steps, *state_out (when not NULL) and the momentum buffers: a
 * parameter with a stored buffer gets it, one without has its buffer dropped
 * (it had taken no step). Entries under options->skip_prefix keep their
 * weights and lose their buffers. Refuses a file without /optimizer, a buffer
 * of the wrong shape, and in strict mode a buffer for an unknown parameter.
 * On failure nothing has been changed. */
facs_status facs_weights_load_checkpoint(const char *path, facs_sgd *sgd, const facs_weights_load_options *options,
                                         facs_weights_meta *meta_out, facs_train_state *state_out);

#endif
