#include "weights.h"

#include <errno.h>
#include <float.h>
#include <hdf5.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "atomic_file.h"
#include "h5_attr.h"

/* ---- the model fields of facs_weights_meta (FACS_WEIGHTS_MODEL_FIELDS) ---- */

typedef struct {
    const char *attribute;
    facs_weights_field_kind kind;
    size_t offset, size;
} meta_field;

#define META_FIELD_(id, member, model_member, attribute, option, kind, applies) \
    {attribute, FACS_WEIGHTS_KIND_##kind, offsetof(facs_weights_meta, member),                   \
     sizeof(((facs_weights_meta *)0)->member)},
static const meta_field META_FIELDS[] = {FACS_WEIGHTS_MODEL_FIELDS(META_FIELD_)};
#define META_FIELD_COUNT ((int)(sizeof META_FIELDS / sizeof META_FIELDS[0]))

static const char *const FUSION_NAMES[] = {"threshold", "weighted", NULL};
static const char *const FUSION_BN_NAMES[] = {"none", "pre", "post", NULL};

static const char *const *choice_names(const meta_field *f)
{
    return f->kind == FACS_WEIGHTS_KIND_FUSION ? FUSION_NAMES : FUSION_BN_NAMES;
}

static int meta_int(const facs_weights_meta *m, const meta_field *f)
{
    int v;
    memcpy(&v, (const char *)m + f->offset, sizeof v);
    return v;
}

static double meta_real(const facs_weights_meta *m, const meta_field *f)
{
    if (f->kind == FACS_WEIGHTS_KIND_REAL32) {
        float v;
        memcpy(&v, (const char *)m + f->offset, sizeof v);
        return v;
    }
    double v;
    memcpy(&v, (const char *)m + f->offset, sizeof v);
    return v;
}

static void set_meta_int(facs_weights_meta *m, const meta_field *f, int v)
{
    memcpy((char *)m + f->offset, &v, sizeof v);
}

static void set_meta_real(facs_weights_meta *m, const meta_field *f, double v)
{
    if (f->kind == FACS_WEIGHTS_KIND_REAL32) {
        float x = (float)v;
        memcpy((char *)m + f->offset, &x, sizeof x);
    } else {
        memcpy((char *)m + f->offset, &v, sizeof v);
    }
}

static int is_real(const meta_field *f)
{
    return f->kind == FACS_WEIGHTS_KIND_REAL || f->kind == FACS_WEIGHTS_KIND_REAL32;
}

/* Whether meta says f (unknown: "", NAN, -1). */
static int meta_known(const facs_weights_meta *m, const meta_field *f)
{
    if (f->kind == FACS_WEIGHTS_KIND_TEXT)
        return ((const char *)m + f->offset)[0] != '\0';
    return is_real(f) ? !isnan(meta_real(m, f)) : meta_int(m, f) >= 0;
}

facs_weights_meta facs_weights_meta_unknown(void)
{
    facs_weights_meta m;
    memset(&m, 0, sizeof m);
    for (int i = 0; i < META_FIELD_COUNT; i++) {
        const meta_field *f = &META_FIELDS[i];
        if (is_real(f))
            set_meta_real(&m, f, NAN);
        else if (f->kind != FACS_WEIGHTS_KIND_TEXT)
            set_meta_int(&m, f, -1);
    }
    return m;
}

facs_weights_load_options facs_weights_load_defaults(void)
{
    return (facs_weights_load_options){.strict = 1, .skip_prefix = NULL, .report = NULL};
}

static void list_names(char *buf, size_t size, int count, const char names[][FACS_WEIGHTS_NAME_MAX])
{
    size_t used = 0;
    buf[0] = '\0';
    int shown = count < FACS_WEIGHTS_REPORT_NAMES ? count : FACS_WEIGHTS_REPORT_NAMES;
    for (int i = 0; i < shown && used < size; i++)
        used += (size_t)snprintf(buf + used, size - used, "%s%s", i ? ", " : "", names[i]);
    if (count > shown && used < size)
        snprintf(buf + used, size - used, ", ...");
}

const char *facs_weights_report_str(const facs_weights_report *r, char *buf, size_t size)
{
    char missing[512] = "", unexpected[512] = "";
    if (r->missing)
        list_names(missing, sizeof missing, r->missing, r->missing_names);
    if (r->unexpected)
        list_names(unexpected, sizeof unexpected, r->unexpected, r->unexpected_names);
    snprintf(buf, size, "%d loaded, %d missing%s%s%s, %d unexpected%s%s%s, %d ignored", r->loaded, r->missing,
             r->missing ? " (" : "", missing, r->missing ? ")" : "", r->unexpected, r->unexpected ? " (" : "",
             unexpected, r->unexpected ? ")" : "", r->ignored);
    return buf;
}

static void report_name(char names[][FACS_WEIGHTS_NAME_MAX], int *count, const char *name)
{
    if (*count < FACS_WEIGHTS_REPORT_NAMES) {
        size_t len = strnlen(name, FACS_WEIGHTS_NAME_MAX - 1); /* a longer name is cut, not refused */
        memcpy(names[*count], name, len);
        names[*count][len] = '\0';
    }
    (*count)++;
}

/* ---- attributes ---- */

static facs_status bad_attr(const char *path, const char *name)
{
    return facs_fail(FACS_ERR_FORMAT, "%s: root attribute '%s' has the wrong type or size", path, name);
}

/* Reads field f of meta from the file's root; absent leaves it unknown. */
static facs_status read_field(hid_t file, const char *path, const meta_field *f, facs_weights_meta *meta)
{
    char text[64];
    int64_t number;
    double real;
    int found;
    switch (f->kind) {
    case FACS_WEIGHTS_KIND_TEXT:
        if (facs_h5_attr_read_str(file, f->attribute, (char *)meta + f->offset, f->size) < 0)
            return bad_attr(path, f->attribute);
        return FACS_OK;
    case FACS_WEIGHTS_KIND_INT:
    case FACS_WEIGHTS_KIND_FLAG:
        if ((found = facs_h5_attr_read_i64(file, f->attribute, &number)) < 0 ||
            (found && (number < 0 || number > (f->kind == FACS_WEIGHTS_KIND_FLAG ? 1 : INT32_MAX))))
            return f->kind == FACS_WEIGHTS_KIND_FLAG && found > 0
                       ? facs_fail(FACS_ERR_FORMAT, "%s: root attribute '%s' is %lld, expected 0 or 1", path,
                                   f->attribute, (long long)number)
                       : bad_attr(path, f->attribute);
        if (found)
            set_meta_int(meta, f, (int)number);
        return FACS_OK;
    case FACS_WEIGHTS_KIND_REAL:
    case FACS_WEIGHTS_KIND_REAL32:
        if ((found = facs_h5_attr_read_f64(file, f->attribute, &real)) < 0)
            return bad_attr(path, f->attribute);
        if (found && (!isfinite(real) || (f->kind == FACS_WEIGHTS_KIND_REAL32 && fabs(real) > FLT_MAX)))
            return facs_fail(FACS_ERR_FORMAT, "%s: root attribute '%s' is %g, not a finite%s number", path,
                             f->attribute, real, f->kind == FACS_WEIGHTS_KIND_REAL32 ? " float32" : "");
        if (found)
            set_meta_real(meta, f, real);
        return FACS_OK;
    default: /* a name from choice_names */
        if ((found = facs_h5_attr_read_str(file, f->attribute, text, sizeof text)) < 0)
            return bad_attr(path, f->attribute);
        if (!found)
            return FACS_OK;
        const char *const *names = choice_names(f);
        for (int i = 0; names[i]; i++)
            if (strcmp(text, names[i]) == 0) {
                set_meta_int(meta, f, i);
                return FACS_OK;
            }
        char expected[128] = "";
        for (int i = 0; names[i]; i++)
            snprintf(expected + strlen(expected), sizeof expected - strlen(expected), "%s'%s'",
                     i == 0 ? "" : names[i + 1] ? ", " : " or ", names[i]);
        return facs_fail(FACS_ERR_FORMAT, "%s: %s '%s', expected %s", path, f->attribute, text, expected);
    }
}

static facs_status read_meta(hid_t file, const char *path, facs_weights_meta *meta)
{
    *meta = facs_weights_meta_unknown();
    char text[64];
    int64_t number;
    int found = facs_h5_attr_read_str(file, "format", text, sizeof text);
    if (found < 0)
        return bad_attr(path, "format");
    if (found && strcmp(text, FACS_WEIGHTS_FORMAT) != 0)
        return facs_fail(FACS_ERR_FORMAT, "%s: format '%s', expected '%s'", path, text, FACS_WEIGHTS_FORMAT);
    if ((found = facs_h5_attr_read_i64(file, "format_version", &number)) < 0)
        return bad_attr(path, "format_version");
    if (found && (number < 1 || number > FACS_WEIGHTS_VERSION))
        return facs_fail(FACS_ERR_FORMAT, "%s: format version %lld, this build reads 1 to %d", path,
                         (long long)number, FACS_WEIGHTS_VERSION);
    meta->version = found ? (int)number : 0;
    for (int i = 0; i < META_FIELD_COUNT; i++)
        FACS_TRY(read_field(file, path, &META_FIELDS[i], meta));
    return FACS_OK;
}

/* Whether name is one of the file's own root attributes: the format's and the
 * model options' (whether or not this save knows them: a string there would
 * make the file unreadable as a model file). */
static int reserved_name(const char *name)
{
    if (strcmp(name, "format") == 0 || strcmp(name, "format_version") == 0)
        return 1;
    for (int i = 0; i < META_FIELD_COUNT; i++)
        if (strcmp(name, META_FIELDS[i].attribute) == 0)
            return 1;
    return 0;
}

static int write_meta(hid_t file, const facs_weights_meta *meta)
{
    int ok = facs_h5_attr_write_str(file, "format", FACS_WEIGHTS_FORMAT) &&
             facs_h5_attr_write_i64(file, "format_version", FACS_WEIGHTS_VERSION);
    for (int i = 0; ok && meta && i < META_FIELD_COUNT; i++) {
        const meta_field *f = &META_FIELDS[i];
        if (!meta_known(meta, f))
            continue;
        switch (f->kind) {
        case FACS_WEIGHTS_KIND_TEXT:
            ok = facs_h5_attr_write_str(file, f->attribute, (const char *)meta + f->offset);
            break;
        case FACS_WEIGHTS_KIND_INT:
        case FACS_WEIGHTS_KIND_FLAG: ok = facs_h5_attr_write_i64(file, f->attribute, meta_int(meta, f)); break;
        case FACS_WEIGHTS_KIND_REAL:
        case FACS_WEIGHTS_KIND_REAL32: ok = facs_h5_attr_write_f64(file, f->attribute, meta_real(meta, f)); break;
        default: {
            const char *const *names = choice_names(f);
            int v = meta_int(meta, f), n = 0;
            while (names[n])
                n++;
            ok = v < n && facs_h5_attr_write_str(file, f->attribute, names[v]);
        }
        }
    }
    return ok;
}

/* ---- saving ---- */

/* Chunked storage with the Fletcher-32 checksum, so a flipped bit is caught at
 * load: one chunk per dataset, or as many rows of the first axis as keep a
 * chunk under 1 GiB (HDF5's limit is 4 GiB). An empty dataset, which cannot be
 * chunked, stays contiguous and unchecked. */
static hid_t checked_layout(int rank, const hsize_t *dims)
{
    hsize_t chunk[4], row = sizeof(float);
    for (int i = 0; i < rank; i++) {
        if (dims[i] == 0)
            return H5Pcreate(H5P_DATASET_CREATE);
        chunk[i] = dims[i];
        row *= i ? dims[i] : 1;
    }
    hsize_t rows = ((hsize_t)1 << 30) / row;
    chunk[0] = dims[0] < rows ? dims[0] : rows ? rows : 1;
    hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
    if (dcpl >= 0 && (H5Pset_chunk(dcpl, rank, chunk) < 0 || H5Pset_fletcher32(dcpl) < 0)) {
        H5Pclose(dcpl);
        return -1;
    }
    return dcpl;
}

/* Writes t (NCHW order via buf, which holds numel floats) at group path key, '.' -> '/'. */
static int write_tensor(hid_t file, hid_t lcpl, const char *root, const char *key, int rank, const facs_tensor *t,
                        float *buf)
{
    char path[512];
    int len = snprintf(path, sizeof path, "%s/%s", root, key);
    if (len < 0 || (size_t)len >= sizeof path)
        return 0;
    for (char *s = path + strlen(root) + 1; *s; s++)
        if (*s == '.')
            *s = '/';
    hsize_t dims[4] = {(hsize_t)t->n, (hsize_t)t->c, (hsize_t)t->h, (hsize_t)t->w};
    size_t count = facs_tensor_numel(t);
    if (facs_tensor_to_nchw(t, buf, count) != FACS_OK)
        return 0;
    hid_t space = H5Screate_simple(rank, dims, NULL), dcpl = checked_layout(rank, dims);
    hid_t ds = space < 0 || dcpl < 0 ? -1 : H5Dcreate2(file, path, H5T_IEEE_F32LE, space, lcpl, dcpl, H5P_DEFAULT);
    int ok = ds >= 0 && H5Dwrite(ds, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf) >= 0;
    if (ds >= 0)
        ok &= H5Dclose(ds) >= 0;
    if (dcpl >= 0)
        H5Pclose(dcpl);
    if (space >= 0)
        H5Sclose(space);
    return ok;
}

/* Names become HDF5 paths: no '/', no empty component. */
static int valid_key(const char *key)
{
    return key[0] && key[0] != '.' && key[strlen(key) - 1] != '.' && !strchr(key, '/') && !strstr(key, "..");
}

/* Refuses a string attribute without a name or value, with a reserved name or
 * one given twice, before anything is written. */
static facs_status check_attrs(const char *path, const facs_weights_text_attr *attrs, int n_attrs)
{
    if (n_attrs < 0 || (n_attrs && !attrs))
        return facs_fail(FACS_ERR_ARG, "%s: bad attribute list (%d attributes at %p)", path, n_attrs,
                         (const void *)attrs);
    for (int i = 0; i < n_attrs; i++) {
        const char *name = attrs[i].name;
        if (!name || !name[0] || !attrs[i].value)
            return facs_fail(FACS_ERR_ARG, "%s: string attribute %d needs a name and a value", path, i);
        if (reserved_name(name))
            return facs_fail(FACS_ERR_ARG, "%s: root attribute '%s' is the file's own (format or model option)",
                             path, name);
        for (int j = 0; j < i; j++)
            if (strcmp(name, attrs[j].name) == 0)
                return facs_fail(FACS_ERR_ARG, "%s: root attribute '%s' given twice", path, name);
    }
    return FACS_OK;
}

static facs_status write_content(hid_t file, const char *path, const facs_param_list *list,
                                 const facs_weights_meta *meta, const facs_sgd *sgd, const facs_train_state *state,
                                 const facs_weights_text_attr *attrs, int n_attrs)
{
    int ok = write_meta(file, meta);
    for (int i = 0; ok && i < n_attrs; i++)
        ok = facs_h5_attr_write_str(file, attrs[i].name, attrs[i].value);
    if (!ok)
        return facs_fail(FACS_ERR_IO, "%s: cannot write the root attributes", path);
    size_t most = 1;
    for (int i = 0; i < list->count; i++) {
        const char *name = list->items[i]->name;
        if (!valid_key(name))
            return facs_fail(FACS_ERR_ARG, "%s: '%s' cannot be a dataset name", path, name);
        size_t len = strlen(name);
        for (int j = 0; j < list->count; j++) /* a.b and a.b.c: a/b would have to be a tensor and a group */
            if (strncmp(list->items[j]->name, name, len) == 0 && list->items[j]->name[len] == '.')
                return facs_fail(FACS_ERR_ARG, "%s: '%s' and '%s' cannot both be saved: the file would need %s to be "
                                 "a tensor and a group", path, name, list->items[j]->name, name);
        size_t n = facs_tensor_numel(list->items[i]->value);
        most = n > most ? n : most;
    }
    float *buf = malloc(most * sizeof *buf);
    hid_t lcpl = H5Pcreate(H5P_LINK_CREATE);
    facs_status s = FACS_OK;
    if (!buf || lcpl < 0 || H5Pset_create_intermediate_group(lcpl, 1) < 0)
        s = facs_fail(FACS_ERR_MEMORY, "%s: out of memory preparing the write", path);
    for (int i = 0; s == FACS_OK && i < list->count; i++)
        if (!write_tensor(file, lcpl, "/model", list->items[i]->name, list->items[i]->torch_rank, list->items[i]->value, buf))
            s = facs_fail(FACS_ERR_MEMORY, "%s: cannot write %s into the file being built (out of memory?)", path,
                          list->items[i]->name);
    if (s == FACS_OK && sgd) {
        hid_t g = H5Gcreate2(file, "/optimizer", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
        int ok = g >= 0 && facs_h5_attr_write_i64(g, "steps", sgd->steps) &&
                 facs_h5_attr_write_i64(g, "epoch", state->epoch) && facs_h5_attr_write_i64(g, "rng", state->rng);
        if (g >= 0)
            H5Gclose(g);
        if (!ok)
            s = facs_fail(FACS_ERR_IO, "%s: cannot write the optimizer state", path);
        for (int i = 0; s == FACS_OK && i < list->count; i++) {
            const facs_param *p = list->items[i];
            if (p->momentum && !write_tensor(file, lcpl, "/optimizer/momentum", p->name, p->torch_rank, p->momentum, buf))
                s = facs_fail(FACS_ERR_IO, "%s: cannot write the momentum of %s", path, p->name);
        }
    }
    if (lcpl >= 0)
        H5Pclose(lcpl);
    free(buf);
    return s;
}

typedef struct {
    const facs_param_list *list;
    const facs_weights_meta *meta;
    const facs_sgd *sgd;
    const facs_train_state *state;
    const facs_weights_text_attr *attrs;
    int n_attrs;
} content_args;

static facs_status fill_content(hid_t file, const char *path, const void *user)
{
    const content_args *c = user;
    return write_content(file, path, c->list, c->meta, c->sgd, c->state, c->attrs, c->n_attrs);
}

facs_status facs_weights_save_ex(const char *path, const facs_param_list *list, const facs_sgd *sgd,
                                 const facs_weights_meta *meta, const facs_train_state *state,
                                 const facs_weights_text_attr *attrs, int n_attrs)
{
    if (!path || !*path)
        return facs_fail(FACS_ERR_ARG, "weights: no file name to save to");
    if (!list)
        return facs_fail(FACS_ERR_ARG, "%s: nothing to save (no parameter list)", path);
    for (int i = 0; i < list->count; i++)
        if (list->items[i]->bn_folded)
            return facs_fail(FACS_ERR_ARG, "%s: %s has its BatchNorm folded in (an inference model): the file would "
                             "load as a different network; save the unfolded model", path, list->items[i]->name);
    if (sgd && (sgd->params != list || !state))
        return facs_fail(FACS_ERR_ARG, "%s: a checkpoint needs the optimizer of the saved parameters and a train "
                                       "state", path);
    FACS_TRY(check_attrs(path, attrs, n_attrs));
    facs_h5_quiet q = facs_h5_quiet_begin();
    content_args content = {list, meta, sgd, state, attrs, n_attrs};
    facs_status s = facs_h5_write_atomic(path, fill_content, &content);
    facs_h5_quiet_end(q);
    return s;
}

facs_status facs_weights_save(const char *path, const facs_param_list *list, const facs_weights_meta *meta)
{
    return facs_weights_save_ex(path, list, NULL, meta, NULL, NULL, 0);
}

facs_status facs_weights_save_checkpoint(const char *path, const facs_sgd *sgd, const facs_weights_meta *meta,
                                         const facs_train_state *state)
{
    if (!sgd || !sgd->params || !state)
        return facs_fail(FACS_ERR_ARG, "%s: a checkpoint needs an initialised optimizer and a train state", path);
    return facs_weights_save_ex(path, sgd->params, sgd, meta, state, NULL, 0);
}

/* ---- loading ---- */

typedef struct {
    const char *path;
    facs_param_list *list;
    const char *skip;
    int strict;
    facs_weights_report *report;
    float **values;  /* per list entry: NCHW host data read from /model, or NULL */
    float **momenta; /* per list entry: from /optimizer/momentum (checkpoints), or NULL */
} loader;

static int skipped(const loader *L, const char *key)
{
    return L->skip && L->skip[0] && strncmp(key, L->skip, strlen(L->skip)) == 0;
}

static int find_index(const facs_param_list *list, const char *key)
{
    for (int i = 0; i < list->count; i++)
        if (strcmp(list->items[i]->name, key) == 0)
            return i;
    return -1;
}

static void dims_str(char *buf, size_t size, int rank, const hsize_t *dims)
{
    size_t used = (size_t)snprintf(buf, size, "(");
    for (int i = 0; i < rank && used < size; i++)
        used += (size_t)snprintf(buf + used, size - used, "%s%llu", i ? ", " : "", (unsigned long long)dims[i]);
    if (used < size)
        snprintf(buf + used, size - used, rank == 1 ? ",)" : ")");
}

/* After a failed read of ds: 1 when ds carries the Fletcher-32 filter and
 * reads without verifying it, i.e. the data is there but not what was written.
 * buf has room for the whole dataset. */
static int checksum_fails(hid_t ds, float *buf)
{
    hid_t dcpl = H5Dget_create_plist(ds);
    unsigned flags = 0;
    size_t n_values = 0;
    int checked = dcpl >= 0 && H5Pget_filter_by_id2(dcpl, H5Z_FILTER_FLETCHER32, &flags, &n_values, NULL, 0, NULL,
                                                    NULL) >= 0;
    if (dcpl >= 0)
        H5Pclose(dcpl);
    hid_t dxpl = checked ? H5Pcreate(H5P_DATASET_XFER) : -1;
    int unverified = dxpl >= 0 && H5Pset_edc_check(dxpl, H5Z_DISABLE_EDC) >= 0 &&
                     H5Dread(ds, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, dxpl, buf) >= 0;
    if (dxpl >= 0)
        H5Pclose(dxpl);
    return unverified;
}

/* Reads dataset ds of key into a new host buffer after checking its type and shape against p. */
static facs_status read_entry(const loader *L, hid_t ds, const char *what, const char *key, const facs_param *p,
                              float **out)
{
    hid_t type = H5Dget_type(ds), space = H5Dget_space(ds);
    H5T_class_t cls = type < 0 ? H5T_NO_CLASS : H5Tget_class(type);
    int rank = space < 0 ? -1 : H5Sget_simple_extent_ndims(space);
    hsize_t dims[H5S_MAX_RANK];
    if (rank >= 0)
        H5Sget_simple_extent_dims(space, dims, NULL);
    if (type >= 0)
        H5Tclose(type);
    if (space >= 0)
        H5Sclose(space);
    if (rank < 0)
        return facs_fail(FACS_ERR_FORMAT, "%s: %s%s is unreadable", L->path, what, key);
    if (cls != H5T_FLOAT)
        return facs_fail(FACS_ERR_FORMAT, "%s: %s%s is not floating point (the model needs float32)", L->path,
                         what, key);
    const facs_tensor *t = p->value;
    hsize_t want[4] = {(hsize_t)t->n, (hsize_t)t->c, (hsize_t)t->h, (hsize_t)t->w};
    int match = rank <= 4;
    for (int i = 0; match && i < 4; i++)
        match = (i < rank ? dims[i] : 1) == want[i];
    for (int i = 4; match && i < rank; i++)
        match = dims[i] == 1;
    if (!match) { /* both shapes as PyTorch prints them: the model's in its torch_rank, "(32,)" not (32, 1, 1, 1) */
        char got[160], model[160];
        int model_rank = p->torch_rank >= 1 && p->torch_rank <= 4 ? p->torch_rank : 4;
        dims_str(got, sizeof got, rank, dims);
        dims_str(model, sizeof model, model_rank, want);
        return facs_fail(FACS_ERR_FORMAT, "%s: %s%s has shape %s in the file but %s in the model", L->path,
                         what, key, got, model);
    }
    size_t count = facs_tensor_numel(t);
    *out = malloc((count ? count : 1) * sizeof **out);
    if (!*out)
        return facs_fail(FACS_ERR_MEMORY, "%s: out of host memory reading %s", L->path, key);
    if (H5Dread(ds, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, *out) < 0) {
        if (checksum_fails(ds, *out))
            return facs_fail(FACS_ERR_FORMAT, "%s: %s%s fails its checksum (the file is corrupt)", L->path,
                             what[0] ? what : "tensor ", key);
        return facs_fail(FACS_ERR_FORMAT, "%s: cannot read %s%s (corrupt or truncated file)", L->path, what, key);
    }
    size_t bad = 0, first = 0;
    for (size_t i = count; i-- > 0;)
        if (!isfinite((*out)[i])) {
            bad++;
            first = i;
        }
    if (bad)
        return facs_fail(FACS_ERR_FORMAT, "%s: %s%s holds %zu non-finite value%s (NaN or infinity; the first at "
                                          "element %zu): the run that wrote it diverged, or the file is corrupt",
                         L->path, what[0] ? what : "tensor ", key, bad, bad == 1 ? "" : "s", first);
    return FACS_OK;
}

/* A BatchNorm running variance below zero: finite, so read_entry lets it
 * through, but PyTorch's output would be NaN where ours folds to numbers. */
static facs_status check_variance(const loader *L, const char *key, const facs_param *p, const float *v)
{
    size_t n = strlen(key), suffix = strlen(".running_var");
    if (n < suffix || strcmp(key + n - suffix, ".running_var") != 0)
        return FACS_OK;
    size_t count = facs_tensor_numel(p->value), negative = 0;
    for (size_t i = 0; i < count; i++)
        negative += v[i] < 0.0f;
    if (negative)
        return facs_fail(FACS_ERR_FORMAT, "%s: %s holds %zu negative value%s: a variance is never negative (the file "
                         "is corrupt)", L->path, key, negative, negative == 1 ? "" : "s");
    return FACS_OK;
}

static facs_status visit_dataset(loader *L, hid_t ds, const char *key, int momentum)
{
    if (skipped(L, key))
        return FACS_OK;
    int i = find_index(L->list, key);
    /* "a/b" and "a.b" name one tensor (both layouts are read): two copies would leave it to the walk's order. */
    if (i >= 0 && (momentum ? L->momenta[i] : L->values[i]))
        return facs_fail(FACS_ERR_FORMAT, "%s: %s%s is in the file twice (as a group path and a dotted name)", L->path,
                         momentum ? "the momentum of " : "", key);
    if (momentum) {
        if (i < 0 || L->list->items[i]->kind != FACS_PARAM_TRAINABLE)
            return L->strict ? facs_fail(FACS_ERR_FORMAT, "%s: momentum for %s, which is not a trainable parameter "
                                                          "of the model", L->path, key)
                             : FACS_OK;
        return read_entry(L, ds, "the momentum of ", key, L->list->items[i], &L->momenta[i]);
    }
    if (i >= 0) {
        FACS_TRY(read_entry(L, ds, "", key, L->list->items[i], &L->values[i]));
        return check_variance(L, key, L->list->items[i], L->values[i]);
    }
    hid_t type = H5Dget_type(ds);
    int integer = type >= 0 && H5Tget_class(type) == H5T_INTEGER;
    if (type >= 0)
        H5Tclose(type);
    facs_weights_report *r = L->report;
    if (integer)
        report_name(r->ignored_names, &r->ignored, key);
    else
        report_name(r->unexpected_names, &r->unexpected, key);
    return FACS_OK;
}

/* Visits every dataset below group, naming it by its path below the walk's
 * root with '/' turned into '.'. Links are read by index, which every HDF5
 * release since 1.8 offers without versioned callback types. */
static facs_status walk(loader *L, hid_t group, const char *prefix, int momentum, int depth)
{
    H5G_info_t info;
    if (depth > 32 || H5Gget_info(group, &info) < 0)
        return facs_fail(FACS_ERR_FORMAT, "%s: unreadable group %s (corrupt file?)", L->path, prefix);
    facs_status s = FACS_OK;
    for (hsize_t k = 0; s == FACS_OK && k < info.nlinks; k++) {
        char name[256], key[1024];
        ssize_t len = H5Lget_name_by_idx(group, ".", H5_INDEX_NAME, H5_ITER_INC, k, name, sizeof name, H5P_DEFAULT);
        if (len < 0 || (size_t)len >= sizeof name)
            return facs_fail(FACS_ERR_FORMAT, "%s: unreadable or too long link name in %s", L->path, prefix);
        int klen = snprintf(key, sizeof key, "%s%s%s", prefix, prefix[0] ? "." : "", name);
        if (klen < 0 || (size_t)klen >= sizeof key)
            return facs_fail(FACS_ERR_FORMAT, "%s: name too long under %s", L->path, prefix);
        /* A soft or external link would make the weights another object's, or another file's. */
        H5L_info_t link;
        if (H5Lget_info(group, name, &link, H5P_DEFAULT) < 0 || link.type != H5L_TYPE_HARD)
            return facs_fail(FACS_ERR_FORMAT, "%s: %s is a link to elsewhere, not a tensor of the file", L->path, key);
        hid_t obj = H5Oopen(group, name, H5P_DEFAULT);
        if (obj < 0)
            return facs_fail(FACS_ERR_FORMAT, "%s: cannot open %s (corrupt or truncated file)", L->path, key);
        H5I_type_t kind = H5Iget_type(obj);
        if (kind == H5I_GROUP)
            s = walk(L, obj, key, momentum, depth + 1);
        else if (kind == H5I_DATASET)
            s = visit_dataset(L, obj, key, momentum);
        H5Oclose(obj);
    }
    return s;
}

static facs_status walk_root(loader *L, hid_t file, const char *root, int momentum)
{
    if (H5Lexists(file, root, H5P_DEFAULT) <= 0)
        return facs_fail(FACS_ERR_FORMAT, "%s: no %s group (not a %s file)", L->path, root,
                         momentum ? "checkpoint" : "weights");
    hid_t g = H5Gopen2(file, root, H5P_DEFAULT);
    if (g < 0)
        return facs_fail(FACS_ERR_FORMAT, "%s: %s is not a group", L->path, root);
    facs_status s = walk(L, g, "", momentum, 0);
    H5Gclose(g);
    return s;
}

static facs_status check_complete(loader *L)
{
    facs_weights_report *r = L->report;
    for (int i = 0; i < L->list->count; i++) {
        if (L->values[i])
            r->loaded++;
        else if (!skipped(L, L->list->items[i]->name))
            report_name(r->missing_names, &r->missing, L->list->items[i]->name);
    }
    if (!L->strict || (!r->missing && !r->unexpected))
        return FACS_OK;
    char names[600];
    if (r->missing) {
        list_names(names, sizeof names, r->missing, r->missing_names);
        return facs_fail(FACS_ERR_FORMAT, "%s: %d tensor(s) of the model missing from the file: %s", L->path,
                         r->missing, names);
    }
    list_names(names, sizeof names, r->unexpected, r->unexpected_names);
    return facs_fail(FACS_ERR_FORMAT, "%s: %d tensor(s) in the file that the model lacks: %s", L->path,
                     r->unexpected, names);
}

/* Callers hold a facs_h5_quiet scope. */
static facs_status open_file(const char *path, hid_t *file)
{
    struct stat st;
    if (!path)
        return facs_fail(FACS_ERR_ARG, "weights: no file name (NULL path)");
    if (stat(path, &st) != 0)
        return facs_fail(FACS_ERR_IO, "%s: %s", path, strerror(errno));
    if (!S_ISREG(st.st_mode))
        return facs_fail(FACS_ERR_IO, "%s: not a regular file", path);
    *file = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    if (*file < 0)
        return facs_fail(FACS_ERR_FORMAT, "%s: not an HDF5 file, or a truncated or corrupt one", path);
    return FACS_OK;
}

/* Reads the training state of a checkpoint (steps, epoch, rng) from /optimizer. */
static facs_status read_train_state(hid_t file, const char *path, int64_t *steps, facs_train_state *state)
{
    if (H5Lexists(file, "/optimizer", H5P_DEFAULT) <= 0)
        return facs_fail(FACS_ERR_FORMAT, "%s: no /optimizer group (weights only, not a checkpoint)", path);
    hid_t g = H5Gopen2(file, "/optimizer", H5P_DEFAULT);
    int ok = g >= 0 && facs_h5_attr_read_i64(g, "steps", steps) == 1 &&
             facs_h5_attr_read_i64(g, "epoch", &state->epoch) == 1 &&
             facs_h5_attr_read_i64(g, "rng", &state->rng) == 1;
    if (g >= 0)
        H5Gclose(g);
    if (!ok || *steps < 0)
        return facs_fail(FACS_ERR_FORMAT, "%s: /optimizer lacks valid steps, epoch and rng attributes", path);
    return FACS_OK;
}

/* Uploads what was read; only after every check and read has passed. */
static facs_status apply(loader *L, facs_sgd *sgd, int64_t steps)
{
    for (int i = 0; i < L->list->count; i++) {
        facs_param *p = L->list->items[i];
        if (L->values[i])
            FACS_TRY(facs_tensor_from_nchw(p->value, L->values[i], facs_tensor_numel(p->value)));
        if (!sgd)
            continue;
        if (L->momenta[i]) {
            FACS_TRY(facs_param_ensure_momentum(p));
            FACS_TRY(facs_tensor_from_nchw(p->momentum, L->momenta[i], facs_tensor_numel(p->value)));
        } else if (p->momentum) {
            facs_tensor_free(p->momentum);
            p->momentum = NULL;
        }
    }
    if (sgd)
        sgd->steps = steps;
    return FACS_OK;
}

static facs_status load_impl(const char *path, facs_param_list *list, const facs_weights_load_options *options,
                             facs_weights_meta *meta_out, facs_sgd *sgd, facs_train_state *state_out)
{
    facs_weights_load_options o = options ? *options : facs_weights_load_defaults();
    facs_weights_report scratch;
    loader L = {.path = path, .list = list, .skip = o.skip_prefix, .strict = o.strict,
                .report = o.report ? o.report : &scratch};
    memset(L.report, 0, sizeof *L.report);
    hid_t file = -1;
    FACS_TRY(open_file(path, &file));
    facs_weights_meta meta;
    facs_train_state state = {0, 0};
    int64_t steps = 0;
    size_t slots = (size_t)(list->count ? list->count : 1);
    L.values = calloc(slots, sizeof *L.values);
    L.momenta = calloc(slots, sizeof *L.momenta);
    facs_status s = L.values && L.momenta ? FACS_OK : facs_fail(FACS_ERR_MEMORY, "%s: out of host memory", path);
    if (s == FACS_OK)
        s = read_meta(file, path, &meta);
    if (s == FACS_OK && sgd)
        s = read_train_state(file, path, &steps, &state);
    if (s == FACS_OK)
        s = walk_root(&L, file, "/model", 0);
    if (s == FACS_OK)
        s = check_complete(&L);
    if (s == FACS_OK && sgd && H5Lexists(file, "/optimizer/momentum", H5P_DEFAULT) > 0)
        s = walk_root(&L, file, "/optimizer/momentum", 1);
    H5Fclose(file);
    if (s == FACS_OK)
        s = apply(&L, sgd, steps);
    for (int i = 0; i < list->count; i++) {
        free(L.values ? L.values[i] : NULL);
        free(L.momenta ? L.momenta[i] : NULL);
    }
    free(L.values);
    free(L.momenta);
    if (s == FACS_OK && meta_out)
        *meta_out = meta;
    if (s == FACS_OK && state_out)
        *state_out = state;
    return s;
}

static facs_status load_quietly(const char *path, facs_param_list *list, const facs_weights_load_options *options,
                                facs_weights_meta *meta_out, facs_sgd *sgd, facs_train_state *state_out)
{
    facs_h5_quiet q = facs_h5_quiet_begin();
    facs_status s = load_impl(path, list, options, meta_out, sgd, state_out);
    facs_h5_quiet_end(q);
    return s;
}

facs_status facs_weights_load(const char *path, facs_param_list *list, const facs_weights_load_options *options,
                              facs_weights_meta *meta_out)
{
    return load_quietly(path, list, options, meta_out, NULL, NULL);
}

static facs_status read_meta_impl(const char *path, facs_weights_meta *meta)
{
    hid_t file = -1;
    FACS_TRY(open_file(path, &file));
    facs_status s = read_meta(file, path, meta);
    H5Fclose(file);
    return s;
}

facs_status facs_weights_read_meta(const char *path, facs_weights_meta *meta)
{
    facs_h5_quiet q = facs_h5_quiet_begin();
    facs_status s = read_meta_impl(path, meta);
    facs_h5_quiet_end(q);
    return s;
}

static facs_status read_text_attr_impl(const char *path, const char *name, char **value)
{
    hid_t file = -1;
    FACS_TRY(open_file(path, &file));
    int found = facs_h5_attr_read_text(file, name, value);
    H5Fclose(file);
    if (found < 0)
        return facs_fail(FACS_ERR_FORMAT, "%s: root attribute '%s' is not a single string", path, name);
    return FACS_OK;
}

facs_status facs_weights_read_text_attr(const char *path, const char *name, char **value)
{
    *value = NULL;
    if (!name || !name[0])
        return facs_fail(FACS_ERR_ARG, "%s: reading an attribute needs its name", path);
    facs_h5_quiet q = facs_h5_quiet_begin();
    facs_status s = read_text_attr_impl(path, name, value);
    facs_h5_quiet_end(q);
    return s;
}

facs_status facs_weights_load_checkpoint(const char *path, facs_sgd *sgd, const facs_weights_load_options *options,
                                         facs_weights_meta *meta_out, facs_train_state *state_out)
{
    if (!sgd || !sgd->params)
        return facs_fail(FACS_ERR_ARG, "%s: loading a checkpoint needs an optimizer set up with facs_sgd_init", path);
    return load_quietly(path, sgd->params, options, meta_out, sgd, state_out);
}
