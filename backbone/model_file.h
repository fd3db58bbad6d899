/* Model files: weights files (weights.h) that record every option of the
 * network (facs_model_options, model.h) as root attributes, so a file alone
 * rebuilds its model, and a command line is checked against the file.
 *
 *     // saving: the tensors, every option, and the caller's own attributes, in one atomic write
 *     facs_weights_text_attr run[] = {{"run_options", json}};
 *     if (facs_model_save("run/last.h5", m, &sgd, &state, run, 1)) ... facs_last_error() ...
 *     // or, where the meta travels on its own:
 *     facs_weights_meta meta = facs_model_meta(m);
 *     facs_weights_save_ex("run/last.h5", facs_model_params(m), &sgd, &meta, &state, run, 1);
 *
 *     // rebuilding from the file alone
 *     facs_model_options o;
 *     if (facs_model_options_from_file("W.h5", &o)) ...
 *
 *     // a tool: the file's options, with what the user gave where the file is silent
 *     facs_model_options cli;                      // the values parsed from the command line
 *     facs_model_given given = FACS_MODEL_GIVEN(WIDTH) | FACS_MODEL_GIVEN(FUSION);  // the options the user gave
 *     if (facs_model_options_resolve("W.h5", &cli, given, &o)) ...
 *         // "--width 0.5, but W.h5 was saved with width 0.25"
 *         // "--fusion weighted does not apply to resnet50, which has no FACS op"
 *     facs_model_create(&m, &o, device, seed);
 *     facs_model_load("W.h5", m, NULL);            // a mismatch names both architectures
 *
 * Attributes: every line of weights.h's FACS_WEIGHTS_MODEL_FIELDS that
 * applies to the network, as facs_weights_meta members. A file that lacks
 * some (an older save, tools/convert_torchvision.py, a bare h5py dump) gets
 * the architecture's defaults (facs_model_options_for_arch) for them, and for
 * classes the rows of its classifier weight. */
#ifndef FACS_MODEL_FILE_H
#define FACS_MODEL_FILE_H

#include "model.h"
#include "weights.h"

/* FACS_MODEL_FIELD_ARCH, ...: the index of each line of
 * FACS_WEIGHTS_MODEL_FIELDS (weights.h), the one list of the model options a
 * file records; a new option is a line there. */
enum {
#define FACS_MODEL_FIELD_INDEX_(id, ...) FACS_MODEL_FIELD_##id,
    FACS_WEIGHTS_MODEL_FIELDS(FACS_MODEL_FIELD_INDEX_)
#undef FACS_MODEL_FIELD_INDEX_
    FACS_MODEL_FIELD_COUNT
};

/* Which options a command line gave (or a file records): a mask of
 * FACS_MODEL_GIVEN(ARCH) | FACS_MODEL_GIVEN(WIDTH) | ... */
typedef unsigned facs_model_given;
#define FACS_MODEL_GIVEN(id) (1u << FACS_MODEL_FIELD_##id)
#define FACS_MODEL_GIVEN_ALL ((1u << FACS_MODEL_FIELD_COUNT) - 1u)

/* (a) What a file of m records: every option that applies to it (fusion,
 * threshold and fusion_bn only with the FACS op; the others always), for
 * facs_weights_save(_ex) and facs_weights_save_checkpoint. */
facs_weights_meta facs_model_meta(const facs_model *m);

/* Saves m's parameters with facs_model_meta(m) and the n_attrs string
 * attributes attrs (may be NULL/0) in one atomic write; with sgd (set up on
 * m's parameters) and state, a checkpoint. */
facs_status facs_model_save(const char *path, facs_model *m, const facs_sgd *sgd, const facs_train_state *state,
                            const facs_weights_text_attr *attrs, int n_attrs);

/* The bits of the options meta records (those not unknown). */
facs_model_given facs_model_meta_recorded(const facs_weights_meta *meta);

/* (b) The options path was saved with: what it records, the architecture's
 * defaults for the rest (classes: the rows of the file's classifier weight
 * when it has one). Refuses, naming the file: what facs_weights_read_meta
 * refuses, a file that does not say its architecture (resolve with a given
 * --arch instead) and an architecture this build does not know. */
facs_status facs_model_options_from_file(const char *path, facs_model_options *out);

/* (c) The options to build for a command line on the weights file path: the
 * file's (b), with the values in cli of the options the user gave (the bits
 * of given) where the file says nothing; an --arch is needed only when the
 * file does not say its architecture. Refuses, first, an HDF5 file without
 * /model (FACS_ERR_FORMAT: "X.h5 is no weights file: it has no /model", where
 * its missing attributes would ask for --arch); then (FACS_ERR_ARG), before any
 * model is built: a given option that contradicts the file, naming both
 * values and the file ("--width 0.5, but W.h5 was saved with width 0.25"), and
 * one that does not apply to the architecture (facs_model_options_check_applicable). */
facs_status facs_model_options_resolve(const char *path, const facs_model_options *cli, facs_model_given given,
                                       facs_model_options *out);

/* The check of resolve alone, for a caller that has read the file's meta
 * already (facs_weights_read_meta of path): cli holds the user's values of
 * the options in given. */
facs_status facs_model_options_check(const char *path, const facs_weights_meta *file, const facs_model_options *cli,
                                     facs_model_given given);

/* Refuses (FACS_ERR_ARG) a given option that does not apply to o->arch: a
 * FACS option (--fusion, --threshold, --fusion-bn) on a network without the
 * FACS op, a FAMILY option that o->arch's family refuses (--cifar-stem on VGG
 * or MobileNet-v2, with the family's reason). For runs without a file too.
 * Probes the family by building a small instance when a FACS or FAMILY
 * option is given. */
facs_status facs_model_options_check_applicable(const facs_model_options *o, facs_model_given given);

/* facs_weights_load into m's parameters (options NULL: strict); a failure's
 * message also says what the file was saved as and which network is being
 * built ("... (W.h5 was saved as resnet50, classes 1000, width 1; the network
 * built is resnet50, classes 1000, width 0.5, cifar_stem 0)"); not when the
 * two are the same (a corrupt tensor), where they would suggest a mismatch. */
facs_status facs_model_load(const char *path, facs_model *m, const facs_weights_load_options *options);

/* Initialises the backbone of m from path, the weights file of the backbone's
 * classification network (an ImageNet ResNet under torchvision's names, or
 * timm's conv1.0 ... for the deep stem; the FACS and plain ResNets of one depth
 * load each other's files), and leaves the heads to their initialiser:
 *   - a classification model loads everything but its head_prefix (the
 *     file's classifier is skipped too): fine-tuning for other classes;
 *   - a PSPNet loads layer0 (the file's conv1 and bn1, or the deep stem's
 *     conv1.0 ... bn1) and layer1..layer4, skips the file's fc and keeps ppm,
 *     cls and aux as initialised (the family's backbone_key hook,
 *     model_family.h, maps the names).
 * Strict otherwise: a backbone tensor the file lacks, a file tensor the
 * backbone lacks, a wrong shape (named under the file's key) are refused with
 * facs_model_load's context (what the file was saved as, what is built).
 * report (may be NULL) counts the tensors loaded, and the file's integer
 * entries ignored (num_batches_tracked). All or nothing, like facs_weights_load. */
facs_status facs_model_load_backbone(facs_model *m, const char *path, facs_weights_report *report);

#endif
