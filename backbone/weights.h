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
 *       is each entry's torch_rank, kernels/param.h); chunked (one chunk per
 *       dataset) with HDF5's Fletcher-32 checksum filter;
 *   root attributes: format = "facs-weights", format_version = 1 (int64), and
 *       when known every model option of FACS_WEIGHTS_MODEL_FIELDS (below):
 *       architecture (string), classes (int64), fusion ("threshold" or
 *       "weighted") and threshold (float64) on FACS networks, width (float64),
 *       cifar_stem (int64 0/1), fusion_bn ("none", "pre" or "post") on FACS
 *       networks; a model's file records them all (model_file.h), so it
 *       rebuilds its network alone. A caller's own string attributes (a run's
 *       options as JSON, facs_weights_save_ex) sit beside them.
 *   Optional training state for exact resume (facs_weights_save_checkpoint),
 *   the layout of kernels/optim.h:
 *   /optimizer                       attributes steps, epoch, rng (int64)
 *   /optimizer/momentum/<key path>   float32, one per parameter whose SGD
 *                                    momentum buffer exists, shaped as its weight.
 *
 * Loading reads every /model dataset, wherever it came from: our save,
 * tools/convert_torchvision.py, or a bare file written by h5py straight from
 * a state_dict (no attributes: the meta fields stay unknown; no checksums:
 * nothing to verify). A float dataset of any width is converted to float32.
 * Shapes are compared after dropping trailing 1s, so (64,) matches
 * (64, 1, 1, 1) and (10, 512) matches (10, 512, 1, 1). Integer datasets that
 * the model lacks (PyTorch's num_batches_tracked) are "ignored", never
 * required. A dataset whose checksum fails, or that holds a NaN or an
 * infinity, is refused naming the file and the tensor. Loading is all or
 * nothing: every check and read happens before the first tensor is written.
 *
 * Saving goes through kernels/atomic_file.h: the content is written to
 * `<path>.facs-tmp.<pid>` in the same folder, synced, and renamed over path
 * (the folder synced too); on any failure the temporary is removed and an
 * existing file at path is left untouched.
 *
 * HDF5 prints nothing: each function silences HDF5's error printing while it
 * runs and restores the caller's setting before returning (h5_attr.h).
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

/* The model options a file records as root attributes, one line each: a new
 * option of facs_model_options (model.h) needs nothing but its line here; the
 * facs_weights_meta member, saving, reading, rebuilding the model and checking
 * a command line against the file (backbone/model_file.h) all follow from it.
 *
 *   X(ID, member, model_member, attribute, option, kind, applies)
 *     member        the facs_weights_meta member
 *     model_member  the facs_model_options member (fusion.threshold: a nested one)
 *     attribute     the root attribute
 *     option        the command-line option that sets it, as messages name it
 *     kind          TEXT (char[64]), INT (int >= 0, stored int64), FLAG (int
 *                   0/1, int64), REAL (double, float64), REAL32 (float,
 *                   float64), FUSION / FUSION_BN (int, stored by name:
 *                   "weighted", "post")
 *     applies       ALL (every network), FACS (networks with the FACS op: on
 *                   others it would change nothing, so files of them omit it
 *                   and a command line may not give it), FAMILY (what the
 *                   architecture's family accepts: no CIFAR stem on VGG)
 *
 * A new line goes at the end: each line's position is its bit in
 * facs_model_given (model_file.h). */
#define FACS_WEIGHTS_MODEL_FIELDS(X)                                                                \
    X(ARCH, arch, arch, "architecture", "--arch", TEXT, ALL)                                        \
    X(CLASSES, classes, classes, "classes", "--classes", INT, ALL)                                  \
    X(FUSION, fusion, fusion.fusion, "fusion", "--fusion", FUSION, FACS)                            \
    X(THRESHOLD, threshold, fusion.threshold, "threshold", "--threshold", REAL32, FACS)             \
    X(WIDTH, width, width, "width", "--width", REAL, ALL)                                           \
    X(CIFAR_STEM, cifar_stem, cifar_stem, "cifar_stem", "--cifar-stem", FLAG, FAMILY)               \
    X(FUSION_BN, fusion_bn, fusion_bn, "fusion_bn", "--fusion-bn", FUSION_BN, FACS)                 \
    X(OUTPUT_STRIDE, output_stride, output_stride, "output_stride", "--output-stride", INT, FAMILY) \
    X(DEEP_STEM, deep_stem, deep_stem, "deep_stem", "--deep-stem", INT, FAMILY)   

typedef enum {
    FACS_WEIGHTS_KIND_TEXT,
    FACS_WEIGHTS_KIND_INT,
    FACS_WEIGHTS_KIND_FLAG,
    FACS_WEIGHTS_KIND_REAL,
    FACS_WEIGHTS_KIND_REAL32,
    FACS_WEIGHTS_KIND_FUSION,
    FACS_WEIGHTS_KIND_FUSION_BN
} facs_weights_field_kind;

#define FACS_WEIGHTS_META_TEXT(m) char m[64]
#define FACS_WEIGHTS_META_INT(m) int m
#define FACS_WEIGHTS_META_FLAG(m) int m
#define FACS_WEIGHTS_META_REAL(m) double m
#define FACS_WEIGHTS_META_REAL32(m) float m
#define FACS_WEIGHTS_META_FUSION(m) int m    /* facs_fusion */
#define FACS_WEIGHTS_META_FUSION_BN(m) int m /* facs_fusion_bn */
#define FACS_WEIGHTS_META_MEMBER_(id, member, model_member, attribute, option, kind, applies) \
    FACS_WEIGHTS_META_##kind(member);

/* The root attributes: version, then one member per line of
 * FACS_WEIGHTS_MODEL_FIELDS, typed by its kind:
 *     char arch[64]; int classes; int fusion (facs_fusion); float threshold;
 *     double width; int cifar_stem; int fusion_bn (facs_fusion_bn);
 *     int output_stride; int deep_stem.
 * Unknown fields are: version 0 (the file has no format attributes: a bare
 * h5py file), "" for text, NAN for reals and -1 for the others (arch "",
 * classes -1, fusion -1, threshold NAN, width NAN, cifar_stem -1, fusion_bn -1,
 * output_stride -1, deep_stem -1).
 * Saving writes only the known ones (and always the format and version);
 * model_file.h's facs_model_meta fills every one that applies to a model. */
typedef struct {
    int version;
    FACS_WEIGHTS_MODEL_FIELDS(FACS_WEIGHTS_META_MEMBER_)
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

/* Training state beside the weights, for exact resume. */
typedef struct {
    int64_t epoch; /* completed epochs */
    int64_t rng;   /* free-form: the run's seed or generator position */
} facs_train_state;

/* Writes every entry of list and meta (NULL: only format and version). */
facs_status facs_weights_save(const char *path, const facs_param_list *list, const facs_weights_meta *meta);

/* A string root attribute of any length, e.g. a run's options as JSON;
 * both pointers stay the caller's. */
typedef struct {
    const char *name;
    const char *value;
} facs_weights_text_attr;

/* Writes list, meta (NULL: only format and version) and the n_attrs string
 * attributes attrs (NULL/0: none) in one atomic write, so a checkpoint and
 * its run's attributes appear together or not at all; with sgd (whose params
 * must be list) and state, a checkpoint as facs_weights_save_checkpoint
 * writes (sgd NULL: weights only, state ignored). An attribute without a
 * name or value, one named like the file's own (format, format_version, an
 * attribute of FACS_WEIGHTS_MODEL_FIELDS) and a name given twice are refused
 * before anything is written. */
facs_status facs_weights_save_ex(const char *path, const facs_param_list *list, const facs_sgd *sgd,
                                 const facs_weights_meta *meta, const facs_train_state *state,
                                 const facs_weights_text_attr *attrs, int n_attrs);

/* The string root attribute name of path into *value (malloc'd, the caller
 * frees it; NULL when the file has no such attribute, which is not an
 * error). Refuses, naming the file: a missing or non-HDF5 file and an
 * attribute that is not a single string. */
facs_status facs_weights_read_text_attr(const char *path, const char *name, char **value);

/* Fills the list's entries from path (options NULL: defaults) and meta_out
 * (when not NULL) from its attributes. Refuses, naming the file: a missing,
 * non-HDF5 or truncated file, a file without /model, a newer format version,
 * a shape that differs from the model's (naming the tensor and both shapes),
 * a non-float dataset for a list entry, a dataset that fails its Fletcher-32
 * checksum ("tensor <key> fails its checksum (the file is corrupt)"), one
 * holding NaN or infinite values (naming the tensor and how many), and in
 * strict mode any missing or unexpected entry. */
facs_status facs_weights_load(const char *path, facs_param_list *list, const facs_weights_load_options *options,
                              facs_weights_meta *meta_out);

/* Only the root attributes of path (unknown fields as facs_weights_meta_unknown
 * says), to build the right model before loading: the architecture, classes,
 * fusion, width... a file was saved with (model_file.h turns them into
 * facs_model_options). Refuses a missing, non-HDF5 or truncated file, a newer
 * format version, and an attribute of the wrong type or value (a fusion_bn
 * that is not none, pre or post), naming the file. */
facs_status facs_weights_read_meta(const char *path, facs_weights_meta *meta);

/* facs_weights_save of sgd->params plus sgd->steps, state and every existing
 * momentum buffer (the layout of kernels/optim.h). With string attributes:
 * facs_weights_save_ex. */
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
