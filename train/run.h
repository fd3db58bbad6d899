/* A training run's files and bookkeeping, shared by every training tool
 * (facs-finetune, pspnet-train):
 *
 *     facs_run run;
 *     FACS_TRY(facs_run_open(&run, &(facs_run_config){"facs-finetune", out, resume, "test_top1"}));
 *     FACS_TRY(facs_run_set_options(&run, options, free_keys, derived));  // resume: must equal last.h5's
 *     ... load data, build the model, load run.last_path on resume ...
 *     FACS_TRY(facs_run_start(&run));                  // the first write into OUT
 *     for each epoch: ... facs_run_epoch_done(&run, record, &ckpt, &best) ...
 *     Ctrl-C mid-epoch: facs_run_save(&run, &ckpt, epochs_done, partial_sums, 0, &best)
 *   or, for a tool that logs and saves at its own intervals (pspnet-train):
 *     every log interval: facs_run_log_record(&run, record)
 *     every save point:   facs_run_save(&run, &ckpt, iterations_done, partial_sums, record_is_candidate, &best)
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
 *   run_state    {"done", "records", "best_value", "best_record", "partial"}:
 *                the app's count of finished units (epochs, iterations), the
 *                records logged, the best value and which record had it;
 *   run_log      the array of every record logged so far.
 * last.h5 is the source of truth: a resumed run rewrites log.jsonl from
 * run_log (records logged after the checkpoint are dropped; the resumed run
 * computes them again), so a kill -9 at any moment leaves, after --resume,
 * every record in the log exactly once. Doubles in
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
    /* Data parallel: a rank other than 0. It reads last.h5's state on resume
     * like rank 0 and keeps the same bookkeeping, but never creates, locks or
     * writes OUT: rank 0 alone writes the run's files. */
    int follower;
    /* The app's own files in OUT besides the run's (NULL-terminated, or NULL):
     * {"curves.png", "confusion.csv", NULL}. */
    const char *const *app_files;
    /* Files the run reads (NULL-terminated by option, or NULL), such as
     * {{"--init", path}, {NULL}}: open refuses one that is a file the run
     * writes (--init OUT/best.h5 would be overwritten by the run's own). */
    const struct facs_run_input *inputs;
} facs_run_config;

typedef struct facs_run_input {
    const char *option; /* NULL ends a list */
    const char *path;   /* NULL: not given */
} facs_run_input;

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
    json_t *history;       /* owned array: every record logged */
    json_t *partial;       /* owned object or NULL: the app's sums of an interrupted epoch */
    int64_t done;          /* the app's finished units at the last save (epochs for facs-finetune) */
    double best_value;     /* -inf: none yet */
    int64_t best_record;   /* 1-based record of best_value (0: none) */
} facs_run;

/* Opens and locks OUT; on resume reads last.h5's run attributes (the weights
 * are the app's to load, from last_path). Refuses a fresh run into a folder
 * that holds a last.h5, a resume without one, a checkpoint of another tool, and
 * an input that is one of the files the run writes. */
facs_status facs_run_open(facs_run *r, const facs_run_config *cfg);

/* A run option that no command-line option sets: the data or other options
 * give it (an image folder's classes). --resume's messages describe it with
 * these words instead of naming a "--KEY" the tool does not have:
 *     {"classes", "", " classes in --data", NULL, "--data changed since: resume on the run's data"}
 * reads "last.h5 was written with 10 classes in --data, not 100; --data changed since: ...". */
typedef struct {
    const char *key;    /* NULL ends a table */
    const char *before; /* the words before the recorded value */
    const char *after;  /* and after it */
    const char *absent; /* the words for a run that does not record the key (NULL: "no KEY recorded") */
    const char *advice; /* what to do instead (for an option: resume with the run's options) */
} facs_run_derived;

/* The options that shape the result (steals options). On resume each must
 * equal the saved one, except the keys in may_change (NULL-terminated or
 * NULL), and a key recorded on one side only is refused too (an option
 * recorded only off its default). The message names the option, or
 * describes a key of derived (NULL or ended by {NULL}), and both values. */
facs_status facs_run_set_options(facs_run *r, json_t *options, const char *const *may_change,
                                 const facs_run_derived *derived);

/* Under mpirun: refuses (on every rank) ranks that were not started alike,
 * before their first collective on tensors: another option on some rank (a
 * width would overflow the broadcast's buffers, an lr mix the updates), or,
 * on --resume, another last.h5 (a follower reads its own OUT's; two machines
 * without a shared OUT). A rank that differs names the option or the state;
 * rank 0 says that another rank does. */
struct facs_comm;
facs_status facs_run_agree(const facs_run *r, struct facs_comm *comm);

/* A saved option of a resumed run (borrowed), or NULL. */
json_t *facs_run_saved_option(const facs_run *r, const char *key);

/* After every check: on resume, log.jsonl is rewritten from last.h5's record;
 * a fresh run removes the log of a run killed before its first checkpoint. */
facs_status facs_run_start(facs_run *r);

/* Appends record (stolen) to the history and to log.jsonl. */
facs_status facs_run_log_record(facs_run *r, json_t *record);

/* A save point after done units, with the app's sums since its latest record
 * (partial, stolen; NULL: none): when candidate and the latest record's
 * best_key beats the best so far, best.h5 (*is_best = 1); then last.h5. */
facs_status facs_run_save(facs_run *r, const facs_run_model *m, int64_t done, json_t *partial, int candidate,
                          int *is_best);

/* A finished epoch: record (stolen) gets "epoch" = done + 1 first, then
 * facs_run_save (a candidate for best.h5) and the log line. */
facs_status facs_run_epoch_done(facs_run *r, json_t *record, const facs_run_model *m, int *is_best);

/* Whether this process writes OUT (not a follower): the app's own files (plots, tables) follow it. */
static inline int facs_run_writes(const facs_run *r) { return !r->cfg.follower; }

/* Releases everything; removes OUT when open created it and nothing was written. */
void facs_run_close(facs_run *r);

/* The JSON string of an option value or record, for messages (static buffer). */
const char *facs_json_text(const json_t *value);

#endif
