/* Reading CIFAR-10 / CIFAR-100 binary folders (see cifar.h for the formats). */
#include "cifar.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "atomic_file.h"

#define SIDE FACS_CIFAR_SIDE
#define PLANE (SIDE * SIDE)

static const char *const c10_files[] = {"data_batch_1.bin", "data_batch_2.bin", "data_batch_3.bin",
                                        "data_batch_4.bin", "data_batch_5.bin", "test_batch.bin",
                                        "batches.meta.txt"};
static const char *const c100_files[] = {"train.bin", "test.bin", "fine_label_names.txt", "coarse_label_names.txt"};
#define COUNT(a) ((int)(sizeof(a) / sizeof((a)[0])))

const char *facs_cifar_expected_files(void)
{
    return "CIFAR-10: data_batch_1..5.bin, test_batch.bin, batches.meta.txt; "
           "CIFAR-100: train.bin, test.bin, fine_label_names.txt, coarse_label_names.txt";
}

static void join(char *out, size_t size, const char *dir, const char *name)
{
    snprintf(out, size, "%s/%s", dir, name);
}

/* 1 when path exists (any type), 0 otherwise. */
static int exists(const char *dir, const char *name)
{
    char path[4096];
    struct stat st;
    join(path, sizeof path, dir, name);
    return stat(path, &st) == 0;
}

static int is_dir(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

/* 1 when dir/name is a regular file. */
static int file_in(const char *dir, const char *name)
{
    char path[4096];
    struct stat st;
    join(path, sizeof path, dir, name);
    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

/* dir holds no CIFAR file. Where a user most often points instead: the folder
 * the archive was extracted into (its one subfolder is the dataset), or the
 * Python (pickle) version of the archive. Those are errors naming the folder to
 * pass or the archive to get; anything else is FACS_OK (not CIFAR, probe on). */
static facs_status not_cifar_hint(const char *dir)
{
    static const char *const binary[] = {"cifar-10-batches-bin", "cifar-100-binary"};
    static const char *const python[] = {"cifar-10-batches-py", "cifar-100-python"};
    static const char *const archive[] = {"cifar-10-binary.tar.gz", "cifar-100-binary.tar.gz"};
    /* "data/" + "cifar-10-batches-bin" reads better as data/cifar-10-batches-bin. */
    size_t len = facs_path_len_trimmed(dir);
    char path[4096];
    for (int i = 0; i < 2; i++) {
        snprintf(path, sizeof path, "%.*s/%s", (int)len, dir, binary[i]);
        if (is_dir(path))
            return facs_fail(FACS_ERR_FORMAT, "%s: not a CIFAR folder, but found %s inside: pass that folder", dir,
                             path);
    }
    for (int i = 0; i < 2; i++) {
        snprintf(path, sizeof path, "%.*s/%s", (int)len, dir, python[i]);
        if (is_dir(path))
            return facs_fail(FACS_ERR_FORMAT,
                             "%s: not a CIFAR folder; found %s inside, but that is the Python (pickle) version: "
                             "extract the binary version (%s) and pass its %s folder",
                             dir, path, archive[i], binary[i]);
    }
    /* The Python version's own files: data_batch_1 .. test_batch + batches.meta, or train, test + meta. */
    int py10 = file_in(dir, "data_batch_1") && file_in(dir, "batches.meta");
    int py100 = file_in(dir, "train") && file_in(dir, "test") && file_in(dir, "meta");
    if (py10 || py100)
        return facs_fail(FACS_ERR_FORMAT,
                         "%s: holds the Python (pickle) version of CIFAR-%d, which is not read here: extract the "
                         "binary version (%s) and pass its %s folder",
                         dir, py10 ? 10 : 100, archive[!py10], binary[!py10]);
    return FACS_OK;
}

facs_status facs_cifar_detect(const char *dir, int *kind)
{
    *kind = 0;
    struct stat st;
    if (stat(dir, &st) != 0)
        return facs_fail(FACS_ERR_IO, "%s: %s", dir, strerror(errno));
    if (!S_ISDIR(st.st_mode))
        return facs_fail(FACS_ERR_IO, "%s: not a folder", dir);
    int n10 = 0, n100 = 0;
    for (int i = 0; i < COUNT(c10_files); i++)
        n10 += exists(dir, c10_files[i]);
    for (int i = 0; i < COUNT(c100_files); i++)
        n100 += exists(dir, c100_files[i]);
    if (n10 && n100)
        return facs_fail(FACS_ERR_FORMAT, "%s: holds files of both CIFAR-10 (%d of %d) and CIFAR-100 (%d of %d)", dir,
                         n10, COUNT(c10_files), n100, COUNT(c100_files));
    *kind = n10 ? FACS_CIFAR_10 : n100 ? FACS_CIFAR_100 : 0;
    return *kind ? FACS_OK : not_cifar_hint(dir);
}

void facs_cifar_free(facs_cifar *ds)
{
    if (!ds)
        return;
    free(ds->images);
    free(ds->labels);
    free(ds->coarse_labels);
    for (int i = 0; ds->class_names && i < ds->num_classes; i++)
        free(ds->class_names[i]);
    for (int i = 0; ds->coarse_names && i < ds->num_coarse; i++)
        free(ds->coarse_names[i]);
    free(ds->class_names);
    free(ds->coarse_names);
    memset(ds, 0, sizeof *ds);
}

/* Reads a names file: exactly `want` non-empty lines, then only empty lines (the
 * real batches.meta.txt ends with blank lines). Trailing spaces and CR are dropped. */
static facs_status read_names(const char *dir, const char *name, int want, char ***out)
{
    char path[4096];
    join(path, sizeof path, dir, name);
    FILE *f = fopen(path, "rb");
    if (!f)
        return facs_fail(FACS_ERR_IO, "%s: %s", path, errno == ENOENT ? "missing" : strerror(errno));
    char **names = calloc((size_t)want, sizeof *names);
    if (!names) {
        fclose(f);
        return facs_fail(FACS_ERR_MEMORY, "%s: out of memory", path);
    }
    facs_status s = FACS_OK;
    int found = 0, line_no = 0, blank_line = 0;
    char line[1024];
    while (s == FACS_OK && fgets(line, sizeof line, f)) {
        line_no++;
        size_t len = strlen(line);
        if (len == sizeof line - 1 && line[len - 1] != '\n') {
            s = facs_fail(FACS_ERR_FORMAT, "%s: line %d is longer than %zu bytes", path, line_no, sizeof line - 2);
            break;
        }
        while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r' || line[len - 1] == ' ' ||
                           line[len - 1] == '\t'))
            line[--len] = '\0';
        if (len == 0) {
            if (!blank_line)
                blank_line = line_no;
            continue;
        }
        if (blank_line)
            s = facs_fail(FACS_ERR_FORMAT, "%s: line %d is empty but a class name follows it on line %d", path,
                          blank_line, line_no);
        else if (found == want)
            s = facs_fail(FACS_ERR_FORMAT, "%s: more than %d class names (line %d: '%s')", path, want, line_no, line);
        else if (!(names[found++] = strdup(line)))
            s = facs_fail(FACS_ERR_MEMORY, "%s: out of memory", path);
    }
    if (s == FACS_OK && ferror(f))
        s = facs_fail(FACS_ERR_IO, "%s: read error", path);
    if (s == FACS_OK && found != want)
        s = facs_fail(FACS_ERR_FORMAT, "%s: holds %d class names, expected %d", path, found, want);
    fclose(f);
    if (s != FACS_OK) {
        for (int i = 0; i < want; i++)
            free(names[i]);
        free(names);
        return s;
    }
    *out = names;
    return FACS_OK;
}

/* A data file of size bytes must hold a whole, non-zero number of records; name is the file for messages. */
static facs_status count_records(const char *name, size_t size, size_t record, size_t *records)
{
    if (size == 0)
        return facs_fail(FACS_ERR_FORMAT, "%s: empty (0 bytes); expected %zu-byte records", name, record);
    if (size % record != 0)
        return facs_fail(FACS_ERR_FORMAT,
                         "%s: size %zu bytes is not a whole number of %zu-byte records (%zu records and "
                         "%zu bytes over: truncated or not a CIFAR file?)",
                         name, size, record, size / record, size % record);
    *records = size / record;
    return FACS_OK;
}

/* Size in bytes of a data file that must exist and hold a whole, non-zero number of records. */
static facs_status data_file_records(const char *dir, const char *name, size_t record, size_t *records)
{
    char path[4096];
    join(path, sizeof path, dir, name);
    struct stat st;
    if (stat(path, &st) != 0)
        return facs_fail(FACS_ERR_IO, "%s: %s", path, errno == ENOENT ? "missing" : strerror(errno));
    if (!S_ISREG(st.st_mode))
        return facs_fail(FACS_ERR_IO, "%s: not a regular file", path);
    return count_records(path, (size_t)st.st_size, record, records);
}

/* Converts n records at buf (record number base in the file `name`) into ds at
 * image index first: planar RGB to HWC, every label checked. The one record
 * parser behind both the file reader and facs_cifar_parse. */
static facs_status parse_records(const uint8_t *buf, size_t n, const char *name, size_t base, size_t first,
                                 facs_cifar *ds)
{
    size_t head = ds->kind == FACS_CIFAR_100 ? 2 : 1, record = head + FACS_CIFAR_PIXELS;
    for (size_t r = 0; r < n; r++) {
        const uint8_t *rec = buf + r * record;
        size_t index = first + r;
        int fine = rec[head - 1];
        if (fine >= ds->num_classes)
            return facs_fail(FACS_ERR_FORMAT, "%s: record %zu has %slabel %d, outside [0, %d)", name, base + r,
                             head == 2 ? "fine " : "", fine, ds->num_classes);
        if (head == 2 && rec[0] >= ds->num_coarse)
            return facs_fail(FACS_ERR_FORMAT, "%s: record %zu has coarse label %d, outside [0, %d)", name, base + r,
                             rec[0], ds->num_coarse);
        ds->labels[index] = (uint8_t)fine;
        if (head == 2)
            ds->coarse_labels[index] = rec[0];
        const uint8_t *planes = rec + head;
        uint8_t *img = ds->images + index * FACS_CIFAR_PIXELS;
        for (int p = 0; p < PLANE; p++) {
            img[3 * p + 0] = planes[p];
            img[3 * p + 1] = planes[PLANE + p];
            img[3 * p + 2] = planes[2 * PLANE + p];
        }
    }
    return FACS_OK;
}

/* Reads `records` records of a data file into ds at image index first, converting
 * planar RGB to HWC and checking every label. */
static facs_status read_data_file(const char *dir, const char *name, size_t records, size_t first, facs_cifar *ds)
{
    char path[4096];
    join(path, sizeof path, dir, name);
    size_t head = ds->kind == FACS_CIFAR_100 ? 2 : 1, record = head + FACS_CIFAR_PIXELS;
    FILE *f = fopen(path, "rb");
    if (!f)
        return facs_fail(FACS_ERR_IO, "%s: %s", path, strerror(errno));
    /* Chunks of records keep the staging buffer small for 50000-image files. */
    enum { CHUNK = 1024 };
    uint8_t *buf = malloc(CHUNK * record);
    facs_status s = buf ? FACS_OK : facs_fail(FACS_ERR_MEMORY, "%s: out of memory", path);
    for (size_t done = 0; s == FACS_OK && done < records;) {
        size_t n = records - done < CHUNK ? records - done : CHUNK;
        if (fread(buf, record, n, f) != n) {
            s = facs_fail(FACS_ERR_IO, "%s: short read at record %zu (file changed while reading?)", path, done);
            break;
        }
        s = parse_records(buf, n, path, done, first + done, ds);
        done += n;
    }
    free(buf);
    fclose(f);
    return s;
}

/* Set before anything is allocated, so that facs_cifar_free knows how many names to free. */
static void set_kind(facs_cifar *ds, int kind)
{
    ds->kind = kind;
    ds->num_classes = kind;
    ds->num_coarse = kind == FACS_CIFAR_100 ? 20 : 0;
}

/* Allocates the arrays of `total` images of ds->kind; where names the folder or file for messages. */
static facs_status alloc_split(facs_cifar *ds, size_t total, const char *where)
{
    int kind = ds->kind;
    if (total > (size_t)0x7fffffff)
        return facs_fail(FACS_ERR_FORMAT, "%s: %zu images do not fit a split", where, total);
    ds->images = malloc(total * FACS_CIFAR_PIXELS);
    ds->labels = malloc(total);
    ds->coarse_labels = kind == FACS_CIFAR_100 ? malloc(total) : NULL;
    if (!ds->images || !ds->labels || (kind == FACS_CIFAR_100 && !ds->coarse_labels))
        return facs_fail(FACS_ERR_MEMORY, "%s: out of memory for %zu images", where, total);
    ds->count = (int)total;
    return FACS_OK;
}

static facs_status load(const char *dir, int kind, facs_cifar_split split, facs_cifar *ds)
{
    const char *c10_split[FACS_CIFAR10_BATCHES] = {"test_batch.bin"};
    const char *c100_split[1] = {split == FACS_CIFAR_TRAIN ? "train.bin" : "test.bin"};
    const char *const *files = c10_split;
    int nfiles = 1;
    if (kind == FACS_CIFAR_100) {
        files = c100_split;
    } else if (split == FACS_CIFAR_TRAIN) {
        files = c10_files;
        nfiles = FACS_CIFAR10_BATCHES;
    }
    set_kind(ds, kind);
    size_t record = (kind == FACS_CIFAR_100 ? 2 : 1) + FACS_CIFAR_PIXELS;

    /* Every file is checked for presence and size before any is read, so a
     * missing batch is reported at once rather than after minutes of reading. */
    size_t records[FACS_CIFAR10_BATCHES], total = 0;
    for (int i = 0; i < nfiles; i++) {
        FACS_TRY(data_file_records(dir, files[i], record, &records[i]));
        total += records[i];
    }
    if (kind == FACS_CIFAR_100) {
        FACS_TRY(read_names(dir, "fine_label_names.txt", 100, &ds->class_names));
        FACS_TRY(read_names(dir, "coarse_label_names.txt", 20, &ds->coarse_names));
    } else {
        FACS_TRY(read_names(dir, "batches.meta.txt", 10, &ds->class_names));
    }
    FACS_TRY(alloc_split(ds, total, dir));
    size_t first = 0;
    for (int i = 0; i < nfiles; i++) {
        FACS_TRY(read_data_file(dir, files[i], records[i], first, ds));
        first += records[i];
    }
    return FACS_OK;
}

facs_status facs_cifar_load(const char *dir, int kind, facs_cifar_split split, facs_cifar *ds)
{
    memset(ds, 0, sizeof *ds);
    if (kind != FACS_CIFAR_AUTO && kind != FACS_CIFAR_10 && kind != FACS_CIFAR_100)
        return facs_fail(FACS_ERR_ARG, "CIFAR kind must be 10, 100 or auto, not %d", kind);
    if (split != FACS_CIFAR_TRAIN && split != FACS_CIFAR_TEST)
        return facs_fail(FACS_ERR_ARG, "CIFAR split must be train or test, not %d", (int)split);
    int found;
    FACS_TRY(facs_cifar_detect(dir, &found));
    if (found == 0)
        return facs_fail(FACS_ERR_FORMAT, "%s: not a CIFAR folder; looked for %s", dir, facs_cifar_expected_files());
    if (kind != FACS_CIFAR_AUTO && kind != found)
        return facs_fail(FACS_ERR_FORMAT, "%s: asked for CIFAR-%d but the folder holds CIFAR-%d files (missing %s)",
                         dir, kind, found, kind == FACS_CIFAR_10 ? "data_batch_1.bin" : "train.bin");
    facs_status s = load(dir, found, split, ds);
    if (s != FACS_OK)
        facs_cifar_free(ds);
    return s;
}

facs_status facs_cifar_parse(const uint8_t *buf, size_t len, int kind, const char *name, facs_cifar *ds)
{
    memset(ds, 0, sizeof *ds);
    if (kind != FACS_CIFAR_10 && kind != FACS_CIFAR_100)
        return facs_fail(FACS_ERR_ARG, "%s: CIFAR kind must be 10 or 100, not %d", name, kind);
    set_kind(ds, kind);
    size_t record = (kind == FACS_CIFAR_100 ? 2 : 1) + FACS_CIFAR_PIXELS, records = 0;
    facs_status s = count_records(name, len, record, &records);
    if (s == FACS_OK)
        s = alloc_split(ds, records, name);
    if (s == FACS_OK)
        s = parse_records(buf, records, name, 0, 0, ds);
    if (s != FACS_OK)
        facs_cifar_free(ds);
    return s;
}

/* A copy of image `index`: the loader frees what load hands it. */
static facs_status cifar_sample(const facs_dataset *self, int index, facs_image *out_image, facs_label *out_label)
{
    const facs_cifar *ds = self->user;
    uint8_t *px = malloc(FACS_CIFAR_PIXELS);
    if (!px)
        return facs_fail(FACS_ERR_MEMORY, "CIFAR image %d: out of memory", index);
    memcpy(px, ds->images + (size_t)index * FACS_CIFAR_PIXELS, FACS_CIFAR_PIXELS);
    *out_image = (facs_image){FACS_CIFAR_SIDE, FACS_CIFAR_SIDE, 3, px};
    out_label->cls = ds->labels[index];
    return FACS_OK;
}

void facs_cifar_dataset(const facs_cifar *ds, facs_dataset *dataset)
{
    /* The dataset interface holds a mutable pointer, but cifar_sample only reads through it. */
    *dataset = (facs_dataset){.count = ds->count, .load = cifar_sample, .user = (void *)ds};
}
