/* A run's checkpoints, log and state (see run.h). */
#include "run.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "atomic_file.h"
#include "parallel.h"

/* The log (and its copy in the checkpoints) keeps 10 significant digits, which
 * read well and survive a round trip through text unchanged; the run's state
 * keeps 17, so the sums of an interrupted epoch resume bit for bit. */
#define LOG_FLAGS (JSON_REAL_PRECISION(10) | JSON_ENCODE_ANY)
#define STATE_FLAGS (JSON_COMPACT | JSON_REAL_PRECISION(17) | JSON_ENCODE_ANY)

const char *facs_json_text(const json_t *value)
{
    static _Thread_local char buf[256];
    if (json_is_string(value)) {
        snprintf(buf, sizeof buf, "%s", json_string_value(value));
        return buf;
    }
    /* 10 digits: 0.1 reads as 0.1 in a message, where the file keeps all 17 */
    char *text = value ? json_dumps(value, JSON_COMPACT | JSON_REAL_PRECISION(10) | JSON_ENCODE_ANY) : NULL;
    snprintf(buf, sizeof buf, "%s", text ? text : "(none)");
    free(text);
    return buf;
}

static int file_exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0;
}

/* A JSON attribute of path, parsed; NULL with the last error when absent or bad. */
static json_t *read_json_attr(const char *path, const char *name)
{
    char *text = NULL;
    if (facs_weights_read_text_attr(path, name, &text) != FACS_OK)
        return NULL;
    if (!text) {
        facs_fail(FACS_ERR_FORMAT, "%s has no %s attribute: it was not written by a training run of this toolkit",
                  path, name);
        return NULL;
    }
    json_error_t err;
    json_t *v = json_loads(text, JSON_DECODE_ANY, &err);
    free(text);
    if (!v)
        facs_fail(FACS_ERR_FORMAT, "%s: the %s attribute is not valid JSON: %s", path, name, err.text);
    return v;
}

/* run_state's best is one of run_log's records, whose best_key it repeats (to
 * the log's 10 digits): a best_value from nowhere would stop best.h5 from ever
 * being written again. */
static facs_status check_best(const facs_run *r)
{
    if (r->best_record == 0)
        return FACS_OK;
    json_t *record = r->best_record > 0 ? json_array_get(r->history, (size_t)(r->best_record - 1)) : NULL;
    json_t *value = record && r->cfg.best_key ? json_object_get(record, r->cfg.best_key) : NULL;
    if (!value || !json_is_number(value) ||
        !(fabs(json_number_value(value) - r->best_value) <= 1e-9 * fabs(r->best_value)))
        return facs_fail(FACS_ERR_FORMAT, "%s: run_state's best (record %lld, %g) is not a record of run_log: the file "
                         "is corrupt", r->last_path, (long long)r->best_record, r->best_value);
    return FACS_OK;
}

static facs_status read_state(facs_run *r)
{
    json_int_t records = -1;
    json_t *tool = read_json_attr(r->last_path, "run_tool");
    if (!tool)
        return facs_last_status();
    int same_tool = json_is_string(tool) && strcmp(json_string_value(tool), r->cfg.tool) == 0;
    char tool_name[64];
    snprintf(tool_name, sizeof tool_name, "%s", json_is_string(tool) ? json_string_value(tool) : "?");
    json_decref(tool);
    if (!same_tool)
        return facs_fail(FACS_ERR_ARG, "--resume: %s was written by %s, not %s", r->last_path, tool_name, r->cfg.tool);
    json_t *state = read_json_attr(r->last_path, "run_state");
    if (!state)
        return facs_last_status();
    json_t *partial = NULL;
    double best = -INFINITY;
    json_int_t done = -1, best_record = 0;
    int ok = json_unpack(state, "{s:I, s:I, s:I, s?F, s?o}", "done", &done, "records", &records, "best_record",
                         &best_record, "best_value", &best, "partial", &partial) == 0 &&
             done >= 0 && records >= 0;
    if (ok) {
        r->done = done;
        r->best_record = best_record;
        r->best_value = best_record > 0 ? best : -INFINITY;
        r->partial = json_is_object(partial) ? json_incref(partial) : NULL;
    }
    json_decref(state);
    if (!ok)
        return facs_fail(FACS_ERR_FORMAT, "%s: run_state lacks done/records/best_record", r->last_path);
    if (!(r->saved_options = read_json_attr(r->last_path, "run_options")))
        return facs_last_status();
    json_decref(r->history);
    if (!(r->history = read_json_attr(r->last_path, "run_log")))
        return facs_last_status();
    if (!json_is_array(r->history) || (json_int_t)json_array_size(r->history) != records)
        return facs_fail(FACS_ERR_FORMAT, "%s: run_log does not hold the %lld records of run_state", r->last_path,
                         (long long)records);
    size_t i;
    json_t *record;
    json_array_foreach(r->history, i, record)
        if (!json_is_object(record)) /* it would become a line of log.jsonl that is no record */
            return facs_fail(FACS_ERR_FORMAT, "%s: run_log's record %zu is no JSON object (the file is corrupt)",
                             r->last_path, i + 1);
    return check_best(r);
}

/* An input that is one of the files the run writes: last.h5, best.h5,
 * log.jsonl or the app's own (by path, link or inode). */
static facs_status check_inputs(const facs_run *r)
{
    const char *const run_files[] = {r->last_path, r->best_path, r->log_path};
    for (const facs_run_input *in = r->cfg.inputs; in && in->option; in++) {
        if (!in->path)
            continue;
        const char *clash = NULL;
        for (int k = 0; k < 3 && !clash; k++)
            clash = facs_same_file(in->path, run_files[k]) ? run_files[k] : NULL;
        char path[4096];
        for (const char *const *name = r->cfg.app_files; name && *name && !clash; name++) {
            FACS_TRY(facs_run_dir_file(&r->dir, *name, path, sizeof path));
            clash = facs_same_file(in->path, path) ? path : NULL;
        }
        if (clash)
            return facs_fail(FACS_ERR_ARG, "%s %s is %s, which this run writes: it would be overwritten; copy it "
                             "out of --out %s first, or choose another --out", in->option, in->path, clash,
                             r->cfg.out);
    }
    return FACS_OK;
}

facs_status facs_run_open(facs_run *r, const facs_run_config *cfg)
{
    memset(r, 0, sizeof *r);
    r->cfg = *cfg;
    r->best_value = -INFINITY;
    r->dir.lock_fd = -1;
    if (!(r->history = json_array()))
        return facs_fail(FACS_ERR_MEMORY, "out of memory");
    if (cfg->follower)
        snprintf(r->dir.path, sizeof r->dir.path, "%s", cfg->out);
    else
        FACS_TRY(facs_run_dir_open(&r->dir, "--out", cfg->out));
    FACS_TRY(facs_run_dir_file(&r->dir, "last.h5", r->last_path, sizeof r->last_path));
    FACS_TRY(facs_run_dir_file(&r->dir, "best.h5", r->best_path, sizeof r->best_path));
    FACS_TRY(facs_run_dir_file(&r->dir, "log.jsonl", r->log_path, sizeof r->log_path));
    FACS_TRY(check_inputs(r));
    if (!cfg->resume && !cfg->follower && file_exists(r->last_path)) /* rank 0 holds OUT (a follower's may be stale) */
        return facs_fail(FACS_ERR_ARG, "%s exists: pass --resume to continue that run, or choose another --out",
                         r->last_path);
    /* An earlier run's best.h5 and log without its last.h5 (deleted to save space): a new run would overwrite
     * them, and nothing is left to resume from. best.h5 alone is a run killed between its first best.h5 and
     * last.h5 (written in that order; the log follows last.h5), which a new run may replace. */
    if (!cfg->resume && !cfg->follower && file_exists(r->best_path) && file_exists(r->log_path))
        return facs_fail(FACS_ERR_ARG, "%s holds an earlier run's best.h5 and log.jsonl without its last.h5 (so it "
                         "cannot be resumed): a new run would overwrite them; choose another --out, or move them away",
                         cfg->out);
    if (cfg->resume && !file_exists(r->last_path))
        return facs_fail(FACS_ERR_IO, "--resume: %s does not exist", r->last_path);
    return cfg->resume ? read_state(r) : FACS_OK;
}

static int may_change_option(const char *const *may_change, const char *key)
{
    for (const char *const *k = may_change; k && *k; k++)
        if (strcmp(*k, key) == 0)
            return 1;
    return 0;
}

static const facs_run_derived *find_derived(const facs_run_derived *derived, const char *key)
{
    for (const facs_run_derived *d = derived; d && d->key; d++)
        if (strcmp(d->key, key) == 0)
            return d;
    return NULL;
}

/* How a value of key reads in a message: "--KEY VALUE", or "--KEY at its default" when the run does not record
 * it; a derived key: its words around the value, or its words for a run without it. With full 0 (after
 * "not", once the first value has said what it is): the bare value, or "at its default". */
static void describe_value(const char *key, const facs_run_derived *d, const json_t *value, int full, char *buf,
                           size_t size)
{
    const char *text = value ? facs_json_text(value) : "at its default";
    if (d && !value && d->absent)
        snprintf(buf, size, "%s", d->absent);
    else if (d && !value)
        snprintf(buf, size, "no %s recorded", key);
    else if (!full)
        snprintf(buf, size, "%s", text);
    else if (d)
        snprintf(buf, size, "%s%s%s", d->before, text, d->after);
    else
        snprintf(buf, size, "--%s %s", key, text);
}

/* Refuses a resume whose value of key (NULL: not recorded) differs from last.h5's (saved, NULL likewise). */
static facs_status option_changed(const facs_run *r, const char *key, const json_t *saved, const json_t *value,
                                  const facs_run_derived *derived)
{
    const facs_run_derived *d = find_derived(derived, key);
    char was[320], now[320];
    describe_value(key, d, saved, 1, was, sizeof was);
    /* "not VALUE" where the first value says what it is; a derived key absent from last.h5 says nothing */
    describe_value(key, d, value, d && !saved, now, sizeof now);
    return facs_fail(FACS_ERR_ARG, "--resume: %s was written with %s, not %s; %s", r->last_path, was, now,
                     d ? d->advice : "resume with the run's options (the result depends on them)");
}

facs_status facs_run_set_options(facs_run *r, json_t *options, const char *const *may_change,
                                 const facs_run_derived *derived)
{
    json_decref(r->options);
    r->options = options;
    if (!options)
        return facs_fail(FACS_ERR_MEMORY, "out of memory for the run's options");
    if (!r->saved_options)
        return FACS_OK;
    const char *key;
    json_t *value;
    json_object_foreach(options, key, value) {
        json_t *saved = json_object_get(r->saved_options, key);
        if (!may_change_option(may_change, key) && !(saved && json_equal(saved, value)))
            return option_changed(r, key, saved, value, derived);
    }
    /* Both ways: an option recorded only when it is not the default (sync-bn)
     * is absent from this run's options when this run takes the default. */
    json_object_foreach(r->saved_options, key, value) {
        if (!may_change_option(may_change, key) && !json_object_get(options, key))
            return option_changed(r, key, value, NULL, derived);
    }
    return FACS_OK;
}

/* What a rank's run is: its options and, resumed, its place in the run. */
static char *run_fingerprint(const facs_run *r)
{
    json_t *all = json_pack("{s:O, s:I, s:I, s:O?}", "options", r->options, "done", (json_int_t)r->done, "records",
                            (json_int_t)json_array_size(r->history), "partial", r->partial);
    char *text = all ? json_dumps(all, STATE_FLAGS | JSON_SORT_KEYS) : NULL;
    json_decref(all);
    return text;
}

/* The first option in which rank 0's fingerprint differs from ours (one side
 * may lack it: its value then reads "(none)"), or NULL. */
static const char *differing_option(const facs_run *r, const json_t *theirs)
{
    const char *key;
    json_t *value;
    json_t *options = json_object_get(theirs, "options");
    json_object_foreach(r->options, key, value)
        if (!json_equal(value, json_object_get(options, key)))
            return key;
    json_object_foreach(options, key, value)
        if (!json_object_get(r->options, key))
            return key;
    return NULL;
}

facs_status facs_run_agree(const facs_run *r, struct facs_comm *comm)
{
    if (facs_comm_size(comm) == 1)
        return FACS_OK;
    char *mine = run_fingerprint(r), *rank0 = NULL;
    if (!mine)
        return facs_fail(FACS_ERR_MEMORY, "out of memory for the run's options");
    int same = 1;
    facs_status s = facs_parallel_agree_text(comm, mine, &rank0, &same);
    int differs_here = s == FACS_OK && !same && strcmp(mine, rank0) != 0;
    json_t *theirs = differs_here ? json_loads(rank0, 0, NULL) : NULL;
    free(mine);
    free(rank0);
    if (s != FACS_OK || same)
        return s;
    if (!differs_here)
        return facs_fail(FACS_ERR_ARG, "another rank was started with other options or resumes another last.h5 "
                                       "(its message says which): start every rank alike");
    const char *key = theirs ? differing_option(r, theirs) : NULL;
    if (key) {
        char here[256], there[256];
        snprintf(here, sizeof here, "%s", facs_json_text(json_object_get(r->options, key)));
        snprintf(there, sizeof there, "%s", facs_json_text(json_object_get(json_object_get(theirs, "options"), key)));
        s = facs_fail(FACS_ERR_ARG, "the ranks were started with other options: %s is %s here but %s on rank 0; start "
                      "every rank with the same command line and data", key, here, there);
    } else {
        long long done = theirs ? (long long)json_integer_value(json_object_get(theirs, "done")) : -1;
        s = facs_fail(FACS_ERR_ARG, "--resume: %s here is at %lld done, rank 0's last.h5 at %lld (or their unfinished "
                      "sums differ): every rank resumes from rank 0's last.h5 (a shared --out, or a copy of it)",
                      r->last_path, (long long)r->done, done);
    }
    json_decref(theirs);
    return s;
}

json_t *facs_run_saved_option(const facs_run *r, const char *key)
{
    return r->saved_options ? json_object_get(r->saved_options, key) : NULL;
}

static void print_history(FILE *f, const void *user)
{
    const json_t *history = user;
    size_t i;
    json_t *record;
    json_array_foreach(history, i, record) {
        json_dumpf(record, f, LOG_FLAGS);
        fputc('\n', f);
    }
}

facs_status facs_run_start(facs_run *r)
{
    if (r->cfg.follower)
        return FACS_OK;
    if (!r->cfg.resume) { /* the log of a run killed before its first checkpoint: this run's lines replace it */
        if (unlink(r->log_path) != 0 && errno != ENOENT)
            return facs_fail(FACS_ERR_IO, "%s: cannot remove the earlier run's log: %s", r->log_path, strerror(errno));
        return FACS_OK;
    }
    facs_run_dir_mark_written(&r->dir);
    return facs_atomic_write_text(r->log_path, print_history, r->history);
}

static facs_status save(facs_run *r, const char *path, const facs_run_model *m, int with_optimizer)
{
    if (r->cfg.follower)
        return FACS_OK;
    json_t *state = json_pack("{s:I, s:I, s:I, s:f, s:O?}", "done", (json_int_t)r->done, "records",
                              (json_int_t)json_array_size(r->history), "best_record", (json_int_t)r->best_record,
                              "best_value", isfinite(r->best_value) ? r->best_value : 0.0, "partial", r->partial);
    json_t *tool = json_string(r->cfg.tool);
    char *texts[4] = {json_dumps(tool, STATE_FLAGS), json_dumps(r->options, STATE_FLAGS),
                      json_dumps(state, STATE_FLAGS), json_dumps(r->history, LOG_FLAGS)};
    json_decref(state);
    json_decref(tool);
    facs_status s = FACS_OK;
    if (!texts[0] || !texts[1] || !texts[2] || !texts[3]) {
        s = facs_fail(FACS_ERR_MEMORY, "out of memory for %s's attributes", path);
    } else {
        facs_weights_text_attr attrs[] = {
            {"run_tool", texts[0]}, {"run_options", texts[1]}, {"run_state", texts[2]}, {"run_log", texts[3]}};
        facs_train_state ts = {r->done, m->rng};
        facs_run_dir_mark_written(&r->dir);
        s = facs_weights_save_ex(path, m->sgd->params, with_optimizer ? m->sgd : NULL, m->meta, &ts, attrs, 4);
    }
    for (int i = 0; i < 4; i++)
        free(texts[i]);
    return s;
}

static facs_status append_log_line(facs_run *r, const json_t *record)
{
    if (r->cfg.follower)
        return FACS_OK;
    FILE *f = fopen(r->log_path, "a");
    if (!f)
        return facs_fail(FACS_ERR_IO, "%s: cannot append: %s", r->log_path, strerror(errno));
    json_dumpf(record, f, LOG_FLAGS);
    fputc('\n', f);
    int ok = fflush(f) == 0 && !ferror(f);
    ok &= fclose(f) == 0;
    return ok ? FACS_OK : facs_fail(FACS_ERR_IO, "%s: cannot append: %s", r->log_path, strerror(errno));
}

facs_status facs_run_log_record(facs_run *r, json_t *record)
{
    if (!record || json_array_append_new(r->history, record) != 0)
        return facs_fail(FACS_ERR_MEMORY, "out of memory for the log's record");
    facs_run_dir_mark_written(&r->dir); /* a follower's dir was never created, so this removes nothing */
    return append_log_line(r, record);
}

facs_status facs_run_save(facs_run *r, const facs_run_model *m, int64_t done, json_t *partial, int candidate,
                          int *is_best)
{
    *is_best = 0;
    r->done = done;
    json_decref(r->partial);
    r->partial = partial;
    size_t records = json_array_size(r->history);
    json_t *metric = candidate && records && r->cfg.best_key
                         ? json_object_get(json_array_get(r->history, records - 1), r->cfg.best_key)
                         : NULL;
    if (metric && json_is_number(metric) && json_number_value(metric) > r->best_value) {
        r->best_value = json_number_value(metric);
        r->best_record = (int64_t)records;
        *is_best = 1;
        FACS_TRY(save(r, r->best_path, m, 0));
    }
    return save(r, r->last_path, m, 1);
}

facs_status facs_run_epoch_done(facs_run *r, json_t *record, const facs_run_model *m, int *is_best)
{
    *is_best = 0;
    json_t *ordered = record ? json_pack("{s:I}", "epoch", (json_int_t)(r->done + 1)) : NULL;
    if (!ordered || json_object_update(ordered, record) != 0) {
        json_decref(ordered);
        json_decref(record);
        return facs_fail(FACS_ERR_MEMORY, "out of memory for the epoch's record");
    }
    json_decref(record);
    if (json_array_append_new(r->history, ordered) != 0)
        return facs_fail(FACS_ERR_MEMORY, "out of memory for the epoch's record");
    FACS_TRY(facs_run_save(r, m, r->done + 1, NULL, 1, is_best));
    return append_log_line(r, ordered);
}

void facs_run_close(facs_run *r)
{
    json_decref(r->options);
    json_decref(r->saved_options);
    json_decref(r->history);
    json_decref(r->partial);
    r->options = r->saved_options = r->history = r->partial = NULL;
    facs_run_dir_close(&r->dir);
}
