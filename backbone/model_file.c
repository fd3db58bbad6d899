/* Model files (see model_file.h): weights.h's FACS_WEIGHTS_MODEL_FIELDS expanded into a table
 * that saving, rebuilding and checking all walk. */
#include "model_file.h"

#include <hdf5.h>
#include <limits.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "h5_attr.h"
#include "model_family.h"

typedef enum { APPLIES_ALL, APPLIES_FACS, APPLIES_FAMILY } field_applies;

/* One line of FACS_WEIGHTS_MODEL_FIELDS: where the option sits in
 * facs_model_options and in facs_weights_meta. */
typedef struct {
    const char *attribute, *option;
    facs_weights_field_kind kind;
    field_applies applies;
    size_t offset, size;           /* in facs_model_options */
    size_t meta_offset, meta_size; /* in facs_weights_meta */
} model_field;

#define MEMBER(member) (((facs_model_options *)0)->member)
#define META_MEMBER(member) (((facs_weights_meta *)0)->member)
#define FIELD_ENTRY(id, member, model_member, attribute, option, kind, applies)                                 \
    [FACS_MODEL_FIELD_##id] = {attribute, option, FACS_WEIGHTS_KIND_##kind, APPLIES_##applies,                  \
                               offsetof(facs_model_options, model_member), sizeof MEMBER(model_member),          \
                               offsetof(facs_weights_meta, member), sizeof META_MEMBER(member)},
static const model_field FIELDS[FACS_MODEL_FIELD_COUNT] = {FACS_WEIGHTS_MODEL_FIELDS(FIELD_ENTRY)};

/* Each facs_model_options member has a C type its kind can carry. */
#define TYPE_OK_TEXT(e) _Generic((e), char *: 1, default: 0)
#define TYPE_OK_INT(e) _Generic((e), int: 1, default: 0)
#define TYPE_OK_FLAG(e) _Generic((e), int: 1, default: 0)
#define TYPE_OK_REAL(e) _Generic((e), float: 1, double: 1, default: 0)
#define TYPE_OK_REAL32(e) _Generic((e), float: 1, double: 1, default: 0)
#define TYPE_OK_FUSION(e) (_Generic((e), facs_fusion: 1, default: 0) && sizeof(e) == sizeof(int))
#define TYPE_OK_FUSION_BN(e) (_Generic((e), facs_fusion_bn: 1, default: 0) && sizeof(e) == sizeof(int))
#define FIELD_TYPE_CHECK(id, member, model_member, attribute, option, kind, applies) \
    _Static_assert(TYPE_OK_##kind(MEMBER(model_member)), "facs_model_options." #model_member " is not of kind " #kind);
FACS_WEIGHTS_MODEL_FIELDS(FIELD_TYPE_CHECK)
_Static_assert(FACS_MODEL_FIELD_COUNT <= 32, "facs_model_given has 32 bits");

static int is_real(const model_field *f)
{
    return f->kind == FACS_WEIGHTS_KIND_REAL || f->kind == FACS_WEIGHTS_KIND_REAL32;
}

/* ---- one field's value, in facs_model_options (o) or facs_weights_meta (m) ---- */

static int read_int(const void *base, size_t offset)
{
    int v;
    memcpy(&v, (const char *)base + offset, sizeof v);
    return v;
}

static void write_int(void *base, size_t offset, int v) { memcpy((char *)base + offset, &v, sizeof v); }

static double read_real(const void *base, size_t offset, size_t size)
{
    if (size == sizeof(float)) {
        float v;
        memcpy(&v, (const char *)base + offset, sizeof v);
        return v;
    }
    double v;
    memcpy(&v, (const char *)base + offset, sizeof v);
    return v;
}

static void write_real(void *base, size_t offset, size_t size, double v)
{
    if (size == sizeof(float)) {
        float x = (float)v;
        memcpy((char *)base + offset, &x, sizeof x);
    } else {
        memcpy((char *)base + offset, &v, sizeof v);
    }
}

static const char *get_text(const facs_model_options *o, const model_field *f)
{
    return (const char *)o + f->offset;
}

static void copy_field(facs_model_options *to, const facs_model_options *from, const model_field *f)
{
    memcpy((char *)to + f->offset, (const char *)from + f->offset, f->size);
}

static int recorded_in(const facs_weights_meta *m, const model_field *f)
{
    if (f->kind == FACS_WEIGHTS_KIND_TEXT)
        return ((const char *)m + f->meta_offset)[0] != '\0';
    return is_real(f) ? !isnan(read_real(m, f->meta_offset, f->meta_size)) : read_int(m, f->meta_offset) >= 0;
}

/* The meta's value of f into o (f recorded in m). */
static facs_status from_meta(const char *path, const facs_weights_meta *m, const model_field *f,
                             facs_model_options *o)
{
    if (f->kind == FACS_WEIGHTS_KIND_TEXT) {
        const char *text = (const char *)m + f->meta_offset;
        if (strnlen(text, f->meta_size) >= f->size)
            return facs_fail(FACS_ERR_FORMAT, "%s: root attribute '%s' ('%.*s') is too long", path, f->attribute,
                             (int)f->meta_size, text);
        memcpy((char *)o + f->offset, text, strlen(text) + 1);
    } else if (is_real(f)) {
        write_real(o, f->offset, f->size, read_real(m, f->meta_offset, f->meta_size));
    } else {
        write_int(o, f->offset, read_int(m, f->meta_offset));
    }
    return FACS_OK;
}

static void to_meta(const facs_model_options *o, const model_field *f, facs_weights_meta *m)
{
    if (f->kind == FACS_WEIGHTS_KIND_TEXT)
        snprintf((char *)m + f->meta_offset, f->meta_size, "%s", get_text(o, f));
    else if (is_real(f))
        write_real(m, f->meta_offset, f->meta_size, read_real(o, f->offset, f->size));
    else
        write_int(m, f->meta_offset,
                  f->kind == FACS_WEIGHTS_KIND_FLAG ? !!read_int(o, f->offset) : read_int(o, f->offset));
}

static int same_value(const facs_model_options *a, const facs_model_options *b, const model_field *f)
{
    if (f->kind == FACS_WEIGHTS_KIND_TEXT)
        return strncmp(get_text(a, f), get_text(b, f), f->size) == 0;
    if (is_real(f)) /* a float member compares as floats: the file keeps the float's exact value */
        return read_real(a, f->offset, f->size) == read_real(b, f->offset, f->size);
    if (f->kind == FACS_WEIGHTS_KIND_FLAG)
        return !read_int(a, f->offset) == !read_int(b, f->offset);
    return read_int(a, f->offset) == read_int(b, f->offset);
}

static const char *value_str(const facs_model_options *o, const model_field *f, char *buf, size_t size)
{
    int v = is_real(f) || f->kind == FACS_WEIGHTS_KIND_TEXT ? 0 : read_int(o, f->offset);
    switch (f->kind) {
    case FACS_WEIGHTS_KIND_TEXT: snprintf(buf, size, "%.*s", (int)f->size, get_text(o, f)); break;
    case FACS_WEIGHTS_KIND_REAL:
    case FACS_WEIGHTS_KIND_REAL32: snprintf(buf, size, "%g", read_real(o, f->offset, f->size)); break;
    case FACS_WEIGHTS_KIND_FUSION: snprintf(buf, size, "%s", facs_fusion_name((facs_fusion)v)); break;
    case FACS_WEIGHTS_KIND_FUSION_BN: snprintf(buf, size, "%s", facs_fusion_bn_name((facs_fusion_bn)v)); break;
    default: snprintf(buf, size, "%d", v); break;
    }
    return buf;
}

/* ---- (a) saving ---- */

facs_weights_meta facs_model_meta(const facs_model *m)
{
    facs_weights_meta meta = facs_weights_meta_unknown();
    const facs_model_options *o = facs_model_get_options(m);
    for (int i = 0; i < FACS_MODEL_FIELD_COUNT; i++)
        if (FIELDS[i].applies != APPLIES_FACS || facs_model_is_facs(m))
            to_meta(o, &FIELDS[i], &meta);
    return meta;
}

facs_status facs_model_save(const char *path, facs_model *m, const facs_sgd *sgd, const facs_train_state *state,
                            const facs_weights_text_attr *attrs, int n_attrs)
{
    if (facs_model_is_folded(m))
        return facs_fail(FACS_ERR_ARG, "%s: the model's BatchNorm is folded into its convolutions for inference; "
                         "save the unfolded model", path);
    facs_weights_meta meta = facs_model_meta(m);
    return facs_weights_save_ex(path, facs_model_params(m), sgd, &meta, state, attrs, n_attrs);
}

facs_model_given facs_model_meta_recorded(const facs_weights_meta *meta)
{
    facs_model_given recorded = 0;
    for (int i = 0; i < FACS_MODEL_FIELD_COUNT; i++)
        recorded |= recorded_in(meta, &FIELDS[i]) ? 1u << i : 0;
    return recorded;
}

/* ---- (b) reading ---- */

/* Rows of the tensor key ("fc.weight") in path's /model, nested (fc/weight)
 * or under its dotted name as h5py writes a state_dict; 0 when absent. */
static long long tensor_rows(const char *path, const char *key)
{
    char name[256], dotted[256];
    if (!key || snprintf(name, sizeof name, "/model/%s", key) >= (int)sizeof name)
        return 0;
    snprintf(dotted, sizeof dotted, "%s", name);
    for (char *c = name + 7; *c; c++)
        *c = *c == '.' ? '/' : *c;
    long long rows = 0;
    facs_h5_quiet q = facs_h5_quiet_begin();
    hid_t file = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    int model = file >= 0 && H5Lexists(file, "/model", H5P_DEFAULT) > 0;
    /* H5Lexists of a/b/c needs a and a/b to exist: the nested path first, part by part. */
    int nested = model;
    for (char *c = name + 7; nested && (c = strchr(c, '/')); c++) {
        *c = '\0';
        nested = H5Lexists(file, name, H5P_DEFAULT) > 0;
        *c = '/';
    }
    if (model && !(nested && H5Lexists(file, name, H5P_DEFAULT) > 0))
        snprintf(name, sizeof name, "%s", dotted);
    if (model && H5Lexists(file, name, H5P_DEFAULT) > 0) {
        hid_t ds = H5Dopen2(file, name, H5P_DEFAULT);
        hid_t space = ds >= 0 ? H5Dget_space(ds) : -1;
        hsize_t dims[H5S_MAX_RANK];
        int rank = space >= 0 ? H5Sget_simple_extent_ndims(space) : -1;
        if (rank >= 1 && H5Sget_simple_extent_dims(space, dims, NULL) >= 0)
            rows = (long long)dims[0];
        if (space >= 0)
            H5Sclose(space);
        if (ds >= 0)
            H5Dclose(ds);
    }
    if (file >= 0)
        H5Fclose(file);
    facs_h5_quiet_end(q);
    return rows;
}

/* The options of arch with what meta records on top; classes from the head's
 * rows when neither the file nor the caller (classes_given) says, and the
 * recorded classes checked against them before a head of that many rows is
 * built (2^31 - 1 classes asked for 4 TB before any tensor was compared). */
static facs_status file_options(const char *path, const facs_weights_meta *meta, const char *arch, int classes_given,
                                facs_model_options *out)
{
    facs_model_given recorded = facs_model_meta_recorded(meta);
    if (facs_model_options_for_arch(arch, out) != FACS_OK) {
        char why[1024];
        snprintf(why, sizeof why, "%s", facs_last_error());
        if (recorded & FACS_MODEL_GIVEN(ARCH))
            return facs_fail(FACS_ERR_FORMAT, "%s was saved as %s: %s", path, arch, why);
        return facs_fail(FACS_ERR_ARG, "%s", why);
    }
    for (int i = 0; i < FACS_MODEL_FIELD_COUNT; i++)
        if (recorded & (1u << i))
            FACS_TRY(from_meta(path, meta, &FIELDS[i], out));
    if (facs_model_options_validate(out) != FACS_OK) /* the file's values, named as such */
        return facs_fail(FACS_ERR_FORMAT, "%s records options no network has: %s", path, facs_last_error());
    long long rows = tensor_rows(path, facs_model_arch_head_weight(arch));
    if (!(recorded & FACS_MODEL_GIVEN(CLASSES)) && !classes_given && rows > 0 && rows <= INT_MAX)
        out->classes = (int)rows;
    if ((recorded & FACS_MODEL_GIVEN(CLASSES)) && rows > 0 && rows != out->classes)
        return facs_fail(FACS_ERR_FORMAT, "%s records %d classes, but its %s has %lld rows (the file is corrupt)",
                         path, out->classes, facs_model_arch_head_weight(arch), rows);
    return FACS_OK;
}

facs_status facs_model_options_from_file(const char *path, facs_model_options *out)
{
    facs_weights_meta meta;
    FACS_TRY(facs_weights_read_meta(path, &meta));
    if (!meta.arch[0])
        return facs_fail(FACS_ERR_FORMAT, "%s does not say its architecture (an older or converted file): name it "
                                          "(--arch)", path);
    return file_options(path, &meta, meta.arch, 0, out);
}

/* ---- (c) checking ---- */

/* A small instance of o's architecture with o's value of field (when not
 * NULL): whether the family builds it and whether it has the FACS op. */
static facs_status probe(const facs_model_options *o, const model_field *field, int *facs)
{
    facs_model_options p;
    FACS_TRY(facs_model_options_for_arch(o->arch, &p));
    p.classes = 2;
    p.width = 0.25; /* every family builds at this width; the probe is about structure, not size */
    if (field)
        copy_field(&p, o, field);
    facs_model *m;
    FACS_TRY(facs_model_create(&m, &p, FACS_DEVICE_CPU, 0));
    *facs = facs_model_is_facs(m);
    facs_model_free(m);
    return FACS_OK;
}

static const char *given_str(const facs_model_options *o, const model_field *f, char *buf, size_t size)
{
    if (f->kind == FACS_WEIGHTS_KIND_FLAG) { /* a flag is given by its name alone */
        snprintf(buf, size, "%s%s", f->option, read_int(o, f->offset) ? "" : " (off)");
        return buf;
    }
    char value[96];
    snprintf(buf, size, "%s %s", f->option, value_str(o, f, value, sizeof value));
    return buf;
}

facs_status facs_model_options_check_applicable(const facs_model_options *o, facs_model_given given)
{
    int facs = 0, probed = 0;
    for (int i = 0; i < FACS_MODEL_FIELD_COUNT; i++) {
        const model_field *f = &FIELDS[i];
        if (!(given & (1u << i)) || f->applies == APPLIES_ALL)
            continue;
        if (!probed) {
            FACS_TRY(probe(o, NULL, &facs));
            probed = 1;
        }
        char opt[160];
        if (f->applies == APPLIES_FACS && !facs)
            return facs_fail(FACS_ERR_ARG, "%s does not apply to %s, which has no FACS op",
                             given_str(o, f, opt, sizeof opt), o->arch);
        if (f->applies == APPLIES_FAMILY && probe(o, f, &facs) != FACS_OK) {
            char why[512];
            snprintf(why, sizeof why, "%s", facs_last_error());
            return facs_fail(FACS_ERR_ARG, "%s does not apply to %s (%s)", given_str(o, f, opt, sizeof opt), o->arch,
                             why);
        }
    }
    return FACS_OK;
}

static facs_status contradiction(const char *path, const model_field *f, const facs_model_options *file,
                                 const facs_model_options *cli)
{
    char opt[160], value[96];
    return facs_fail(FACS_ERR_ARG, "%s, but %s was saved with %s %s", given_str(cli, f, opt, sizeof opt), path,
                     f->attribute, value_str(file, f, value, sizeof value));
}

facs_status facs_model_options_check(const char *path, const facs_weights_meta *meta, const facs_model_options *cli,
                                     facs_model_given given)
{
    facs_model_given recorded = facs_model_meta_recorded(meta);
    facs_model_options file;
    memset(&file, 0, sizeof file);
    for (int i = 0; i < FACS_MODEL_FIELD_COUNT; i++)
        if (recorded & (1u << i))
            FACS_TRY(from_meta(path, meta, &FIELDS[i], &file));
    const model_field *arch = &FIELDS[FACS_MODEL_FIELD_ARCH];
    if ((given & recorded & FACS_MODEL_GIVEN(ARCH)) && !same_value(&file, cli, arch))
        return contradiction(path, arch, &file, cli);
    /* Whether each given value applies to the architecture (the file's, else the given one). */
    facs_model_options merged = file;
    for (int i = 0; i < FACS_MODEL_FIELD_COUNT; i++)
        if (given & (1u << i))
            copy_field(&merged, cli, &FIELDS[i]);
    if (recorded & FACS_MODEL_GIVEN(ARCH))
        copy_field(&merged, &file, arch);
    FACS_TRY(facs_model_options_check_applicable(&merged, given));
    for (int i = 0; i < FACS_MODEL_FIELD_COUNT; i++)
        if ((given & recorded & (1u << i)) && !same_value(&file, cli, &FIELDS[i]))
            return contradiction(path, &FIELDS[i], &file, cli);
    return FACS_OK;
}

/* An HDF5 file without /model (facs-run's input or output, a GradCAM map) is
 * named as such before its missing attributes ask for --arch (resolve); a
 * file HDF5 cannot open is left to facs_weights_read_meta's message. */
static facs_status require_model_group(const char *path)
{
    struct stat st;
    if (stat(path, &st) != 0 || !S_ISREG(st.st_mode)) /* a FIFO would block H5Fopen: read_meta names it */
        return FACS_OK;
    facs_h5_quiet q = facs_h5_quiet_begin();
    hid_t file = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    htri_t has_model = file >= 0 ? H5Lexists(file, "model", H5P_DEFAULT) : 1;
    if (file >= 0)
        H5Fclose(file);
    facs_h5_quiet_end(q);
    return has_model > 0 ? FACS_OK : facs_fail(FACS_ERR_FORMAT, "%s is no weights file: it has no /model", path);
}

facs_status facs_model_options_resolve(const char *path, const facs_model_options *cli, facs_model_given given,
                                       facs_model_options *out)
{
    facs_model_options scratch;
    if (given & FACS_MODEL_GIVEN(ARCH))
        FACS_TRY(facs_model_options_for_arch(cli->arch, &scratch)); /* an unknown --arch: the message lists them */
    facs_weights_meta meta;
    FACS_TRY(require_model_group(path));
    FACS_TRY(facs_weights_read_meta(path, &meta));
    if (!meta.arch[0] && !(given & FACS_MODEL_GIVEN(ARCH)))
        return facs_fail(FACS_ERR_ARG, "%s does not say its architecture (an older or converted file): give --arch",
                         path);
    FACS_TRY(facs_model_options_check(path, &meta, cli, given));
    facs_model_options o;
    FACS_TRY(file_options(path, &meta, meta.arch[0] ? meta.arch : cli->arch, (given & FACS_MODEL_GIVEN(CLASSES)) != 0,
                          &o));
    facs_model_given recorded = facs_model_meta_recorded(&meta);
    for (int i = 0; i < FACS_MODEL_FIELD_COUNT; i++)
        if (given & (1u << i) & ~recorded)
            copy_field(&o, cli, &FIELDS[i]);
    *out = o;
    return FACS_OK;
}

/* ---- loading ---- */

/* "facs_resnet26, width 0.25, cifar_stem 1": the architecture and the fields
 * of o that shape the tensors, those in mask only. */
static const char *describe(const facs_model_options *o, facs_model_given mask, char *buf, size_t size)
{
    size_t used = (size_t)snprintf(buf, size, "%s", o->arch);
    for (int i = 0; i < FACS_MODEL_FIELD_COUNT && used < size; i++) {
        const model_field *f = &FIELDS[i];
        if (!(mask & (1u << i)) || f->kind == FACS_WEIGHTS_KIND_TEXT || f->applies == APPLIES_FACS)
            continue;
        char value[64];
        used += (size_t)snprintf(buf + used, size - used, ", %s %s", f->attribute,
                                 value_str(o, f, value, sizeof value));
    }
    return buf;
}

/* A failed load's message (why) with what path was saved as and what is built. */
static facs_status load_context(facs_status s, const char *path, facs_model *m, const char *what)
{
    char why[1024], file[256], built[256];
    snprintf(why, sizeof why, "%s", facs_last_error());
    facs_weights_meta meta;
    facs_model_options saved;
    memset(&saved, 0, sizeof saved);
    if (facs_weights_read_meta(path, &meta) != FACS_OK)
        return facs_fail(s, "%s", why);
    facs_model_given recorded = facs_model_meta_recorded(&meta);
    for (int i = 0; i < FACS_MODEL_FIELD_COUNT; i++)
        if ((recorded & (1u << i)) && from_meta(path, &meta, &FIELDS[i], &saved) != FACS_OK)
            recorded &= ~(1u << i);
    describe(facs_model_get_options(m), FACS_MODEL_GIVEN_ALL, built, sizeof built);
    char context[1024];
    if ((recorded & FACS_MODEL_GIVEN(ARCH)) && strcmp(describe(&saved, recorded, file, sizeof file), built) == 0)
        return facs_fail(s, "%s", why); /* the file is of this very network: the two would suggest a mismatch */
    if (!(recorded & FACS_MODEL_GIVEN(ARCH)))
        snprintf(context, sizeof context, " (%s does not say its architecture; %s %s)", path, what, built);
    else
        snprintf(context, sizeof context, " (%s was saved as %s; %s %s)", path,
                 describe(&saved, recorded, file, sizeof file), what, built);
    /* The context must survive the message's 1 KiB: a long list of names gives way. */
    int room = 1000 - (int)strlen(context);
    room = room < 80 ? 80 : room;
    if ((int)strlen(why) > room)
        snprintf(why + room - 4, 5, " ...");
    return facs_fail(s, "%s%s", why, context);
}

facs_status facs_model_load(const char *path, facs_model *m, const facs_weights_load_options *options)
{
    facs_status s = facs_weights_load(path, facs_model_params(m), options, NULL);
    return s == FACS_ERR_FORMAT ? load_context(s, path, m, "the network built is") : s;
}

static int has_prefix(const char *name, const char *prefix)
{
    return prefix && prefix[0] && strncmp(name, prefix, strlen(prefix)) == 0;
}

facs_status facs_model_load_backbone(facs_model *m, const char *path, facs_weights_report *report)
{
    /* What the file records must be a network (a bare state_dict records nothing), though only its backbone's
     * tensors are taken: an unknown architecture or a width of 0 is a corrupt file, not a backbone. */
    facs_weights_meta meta;
    facs_model_options recorded;
    FACS_TRY(facs_weights_read_meta(path, &meta));
    if (meta.arch[0])
        FACS_TRY(facs_model_options_from_file(path, &recorded));
    const facs_model_family *family = facs_model_family_of(m);
    const facs_model_options *o = facs_model_get_options(m);
    facs_param_list *params = facs_model_params(m);
    /* A view of the backbone's entries under the file's names: shallow copies
     * sharing the model's tensors, so the load writes straight into them. */
    size_t slots = (size_t)(params->count ? params->count : 1);
    facs_param *shells = calloc(slots, sizeof *shells);
    facs_param **items = calloc(slots, sizeof *items);
    facs_param_list view = {.items = items, .count = 0, .capacity = params->count};
    facs_status s = shells && items ? FACS_OK : facs_fail(FACS_ERR_MEMORY, "%s: out of host memory", path);
    for (int i = 0; s == FACS_OK && i < params->count; i++) {
        const facs_param *p = params->items[i];
        char buf[FACS_WEIGHTS_NAME_MAX];
        const char *key = family->backbone_key ? family->backbone_key(o, p->name, buf, sizeof buf)
                          : has_prefix(p->name, family->head_prefix) ? NULL
                                                                      : p->name;
        if (!key)
            continue;
        shells[view.count] = *p;
        if (!(shells[view.count].name = strdup(key))) {
            s = facs_fail(FACS_ERR_MEMORY, "%s: out of host memory", path);
            break;
        }
        items[view.count] = &shells[view.count];
        view.count++;
    }
    if (s == FACS_OK) {
        facs_weights_load_options lo = facs_weights_load_defaults();
        lo.skip_prefix = family->backbone_head_prefix ? family->backbone_head_prefix : family->head_prefix;
        lo.report = report;
        s = facs_weights_load(path, &view, &lo, NULL);
        if (s == FACS_ERR_FORMAT)
            s = load_context(s, path, m, "the backbone is that of");
    }
    for (int i = 0; i < view.count; i++)
        free(shells[i].name);
    free(shells);
    free(items);
    return s;
}
