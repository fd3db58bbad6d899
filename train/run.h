/* A training run's files and bookkeeping, shared by every training tool
 * (facs-finetune, pspnet-train):
 *
 *     facs_run run;
 *     FACS_TRY(facs_run_open(&run, &(facs_run_config){"facs-finetune", out, resume, "test_top1"}));
 *     FACS_TRY(facs_run_set_options(&run, options));  // resume: refused unless they equal last.h5's
 *     ... load data, build the model, load run.last_path on resume ...
 *     FACS_TRY(facs_run_start(&run));                  // the first write into OUT
 *     for each epoch: ... facs_run_epoch_done(&run, record, &ckpt, &best) ...
 *     Ctrl-C mid-epoch: facs_run_save_interrupted(&run, partial_sums, &ckpt)
 *     facs_run_close(&run);
 *
 * OUT holds (run_dir.h: created if missing, locked for the run's life):
 *   last.h5    weights + optimizer state after the latest finished epoch (or
 *              mid-epoch after Ctrl-C), for --resume;
 *   best.h5    weights of the epoch with the highest best_key so far;
 *   log.jsonl  one JSON object per finished epoch, the app's own columns.
 * Both checkpoints carry, as root string attributes holding JSON:
 *   run_tool     the tool that wrote them;
 *   run_options  every option that shapes the result (set_options);
 *   run_state    {"epochs_done", "best_value", "best_epoch", "partial"};
 *   run_log      the array of every finished epoch's record.
 * last.h5 is the source of truth: it is written before the log line, and a
 * resumed run rewrites log.jsonl from run_log, so a kill -9 at any moment
 * leaves, after --resume, every epoch in the log exactly once. Doubles in
 * JSON keep 17 significant digits, so sums survive a resume bit for bit. */
#ifndef FACS_RUN_H
#define FACS_RUN_H

#include <jansson.h>
#include <stdint.h>

#include "optim.h"
#include "run_dir.h"
#include "weights.h"

typedef struct {
    const char *tool;     /* "facs-finetune" */
    const char *out;      /* the --out folder */
    int resume;           /* continue from OUT/last.h5 */
    const char *best_key; /* the log column whose highest value picks best.h5; NULL: no best.h5 */
} facs_run_config;

/* What a checkpoint holds besides the run's attributes. */
typedef struct {
    facs_sgd *sgd;                 /* its params are the model's */
    const facs_weights_meta *meta; /* the model's options (weights.h) */
    int64_t rng;                   /* the run's seed */
} facs_run_model;

typedef struct {
    facs_run_config cfg;
    facs_run_dir dir;
    char last_path[4096], best_path[4096], log_path[4096];
    json_t *options;       /* owned; set_options */
    json_t *saved_options; /* owned; resume: last.h5's run_options */
    json_t *history;       /* owned array: every finished epoch's record */
    json_t *partial;       /* owned object or NULL: the app's sums of an interrupted epoch */
    int64_t epochs_done;
    double best_value;     /* -inf: none yet */
    int64_t best_epoch;
} facs_run;

/* Opens and locks OUT; on resume reads last.h5's run attributes (the weights
 * are the app's to load, from last_path). Refuses a fresh run into a folder
 * that holds a last.h5, a resume without one, and a checkpoint of another tool. */
facs_status facs_run_open(facs_run *r, const facs_run_config *cfg);

/* The options that shape the result (steals options). On resume each must
 * equal the saved one, except the keys in may_change (NULL-terminated or
 * NULL); the message names the option and both values. */
facs_status facs_run_set_options(facs_run *r, json_t *options, const char *const *may_change);

/* A saved option of a resumed run (borrowed), or NULL. */
json_t *facs_run_saved_option(const facs_run *r, const char *key);

/* After every check: on resume, log.jsonl is rewritten from last.h5's record. */
facs_status facs_run_start(facs_run *r);

/* A finished epoch: record (stolen) gets "epoch" = epochs_done + 1 first;
 * best.h5 when best_key beats the best so far (*is_best), then last.h5, then
 * the log line. */
facs_status facs_run_epoch_done(facs_run *r, json_t *record, const facs_run_model *m, int *is_best);

/* Ctrl-C inside an epoch: last.h5 with the steps so far and the app's partial
 * sums (stolen; read back by the resumed run as r->partial). */
facs_status facs_run_save_interrupted(facs_run *r, json_t *partial, const facs_run_model *m);

/* Releases everything; removes OUT when open created it and nothing was written. */
void facs_run_close(facs_run *r);

/* The JSON string of an option value or record, for messages (static buffer). */
const char *facs_json_text(const json_t *value);

#endif
