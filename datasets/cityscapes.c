/* Reading the Cityscapes folder layout (see cityscapes.h). */
#include "cityscapes.h"
#include "image_walk.h"
#include "loader.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

const char *const facs_cityscapes_class_names[FACS_CITYSCAPES_CLASSES] = {
    "road",    "sidewalk", "building", "wall",  "fence", "pole",  "traffic light", "traffic sign", "vegetation",
    "terrain", "sky",      "person",   "rider", "car",   "truck", "bus",           "train",        "motorcycle",
    "bicycle"};

const uint8_t facs_cityscapes_palette[FACS_CITYSCAPES_CLASSES][3] = {
    {128, 64, 128}, {244, 35, 232}, {70, 70, 70},   {102, 102, 156}, {190, 153, 153}, {153, 153, 153}, {250, 170, 30},
    {220, 220, 0},  {107, 142, 35}, {152, 251, 152}, {70, 130, 180},  {220, 20, 60},   {255, 0, 0},     {0, 0, 142},
    {0, 0, 70},     {0, 60, 100},   {0, 80, 100},    {0, 0, 230},     {119, 11, 32}};

const uint8_t facs_cityscapes_label_ids[FACS_CITYSCAPES_CLASSES] = {7,  8,  11, 12, 13, 17, 19, 20, 21, 22,
                                                                    23, 24, 25, 26, 27, 28, 31, 32, 33};

const char *const facs_cityscapes_category_names[FACS_CITYSCAPES_CATEGORIES] = {
    "flat", "construction", "object", "nature", "sky", "human", "vehicle"};

/* road sidewalk | building wall fence | pole light sign | vegetation terrain | sky | person rider | car ... bicycle */
const uint8_t facs_cityscapes_category_of[FACS_CITYSCAPES_CLASSES] = {0, 0, 1, 1, 1, 2, 2, 2, 3, 3,
                                                                      4, 5, 5, 6, 6, 6, 6, 6, 6};

const char *const facs_cityscapes_split_names[FACS_CITYSCAPES_SPLITS] = {"train", "val", "test"};

static const char IMAGE_SUFFIX[] = "_leftImg8bit.png";
static const char TRAIN_SUFFIX[] = "_gtFine_labelTrainIds.png";
static const char IDS_SUFFIX[] = "_gtFine_labelIds.png";

int facs_cityscapes_train_id(int label_id)
{
    for (int t = 0; t < FACS_CITYSCAPES_CLASSES; t++)
        if (facs_cityscapes_label_ids[t] == label_id)
            return t;
    return FACS_CITYSCAPES_IGNORE;
}

/* A malloc'd "a/b/c..." of up to four parts (NULL parts end the list). */
static char *path_join(const char *a, const char *b, const char *c, const char *d)
{
    const char *parts[4] = {a, b, c, d};
    size_t len = 1;
    for (int i = 0; i < 4 && parts[i]; i++)
        len += strlen(parts[i]) + 1;
    char *out = malloc(len);
    if (!out)
        return NULL;
    out[0] = '\0';
    for (int i = 0; i < 4 && parts[i]; i++) {
        if (i)
            strcat(out, "/");
        strcat(out, parts[i]);
    }
    return out;
}

static int ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    return n > m && memcmp(s + n - m, suffix, m) == 0;
}

static int is_file(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

static int cmp_names(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

typedef struct {
    int count, cap;
    char **names;
} name_list;

static void names_free(name_list *l)
{
    for (int i = 0; i < l->count; i++)
        free(l->names[i]);
    free(l->names);
    memset(l, 0, sizeof *l);
}

/* The sorted names in dir that are folders (want_dirs) or regular files ending
 * with suffix. Hidden entries are skipped. */
static facs_status list_dir(const char *dir, int want_dirs, const char *suffix, name_list *out)
{
    memset(out, 0, sizeof *out);
    DIR *d = opendir(dir);
    if (!d)
        return facs_fail(FACS_ERR_IO, "%s: cannot open folder: %s", dir, strerror(errno));
    facs_status s = FACS_OK;
    struct dirent *e;
    while (s == FACS_OK && (e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        if (!want_dirs && !ends_with(e->d_name, suffix))
            continue;
        char *full = path_join(dir, e->d_name, NULL, NULL);
        if (!full) {
            s = facs_fail(FACS_ERR_MEMORY, "%s: out of memory", dir);
            break;
        }
        struct stat st;
        int keep = stat(full, &st) == 0 && (want_dirs ? S_ISDIR(st.st_mode) : S_ISREG(st.st_mode));
        free(full);
        if (!keep)
            continue;
        if (out->count == out->cap) {
            int cap = out->cap ? 2 * out->cap : 64;
            char **grown = realloc(out->names, (size_t)cap * sizeof *grown);
            if (!grown) {
                s = facs_fail(FACS_ERR_MEMORY, "%s: out of memory", dir);
                break;
            }
            out->names = grown;
            out->cap = cap;
        }
        if (!(out->names[out->count] = strdup(e->d_name)))
            s = facs_fail(FACS_ERR_MEMORY, "%s: out of memory", dir);
        else
            out->count++;
    }
    closedir(d);
    if (s != FACS_OK) {
        names_free(out);
        return s;
    }
    if (out->count > 1)
        qsort(out->names, (size_t)out->count, sizeof *out->names, cmp_names);
    return FACS_OK;
}

void facs_cityscapes_index_free(facs_cityscapes_pairs *index)
{
    if (!index)
        return;
    for (int i = 0; i < index->count; i++) {
        free(index->pairs[i].image);
        free(index->pairs[i].label);
    }
    free(index->pairs);
    memset(index, 0, sizeof *index);
}

static int valid_split(const char *split)
{
    for (int s = 0; s < FACS_CITYSCAPES_SPLITS; s++)
        if (strcmp(split, facs_cityscapes_split_names[s]) == 0)
            return 1;
    return 0;
}

/* Appends the frames of one city folder to index (capacity grows as needed). */
static facs_status index_city(const char *img_dir, const char *gt_dir, facs_cityscapes_pairs *index, int *cap)
{
    name_list files;
    FACS_TRY(list_dir(img_dir, 0, IMAGE_SUFFIX, &files));
    facs_status s = FACS_OK;
    for (int f = 0; f < files.count && s == FACS_OK; f++) {
        const char *name = files.names[f];
        size_t stem_len = strlen(name) - (sizeof IMAGE_SUFFIX - 1);
        char *train = malloc(stem_len + sizeof TRAIN_SUFFIX), *ids = malloc(stem_len + sizeof IDS_SUFFIX);
        char *image = path_join(img_dir, name, NULL, NULL), *train_path = NULL, *ids_path = NULL;
        if (train && ids) {
            memcpy(train, name, stem_len);
            memcpy(train + stem_len, TRAIN_SUFFIX, sizeof TRAIN_SUFFIX);
            memcpy(ids, name, stem_len);
            memcpy(ids + stem_len, IDS_SUFFIX, sizeof IDS_SUFFIX);
            train_path = path_join(gt_dir, train, NULL, NULL);
            ids_path = path_join(gt_dir, ids, NULL, NULL);
        }
        if (!image || !train_path || !ids_path) {
            s = facs_fail(FACS_ERR_MEMORY, "%s: out of memory", img_dir);
        } else if (!is_file(train_path) && !is_file(ids_path)) {
            s = facs_fail(FACS_ERR_FORMAT, "%s: no label: neither %s nor %s exists", image, train_path, ids_path);
        } else if (index->count == *cap) {
            int grown_cap = *cap ? 2 * *cap : 64;
            facs_cityscapes_pair *grown = realloc(index->pairs, (size_t)grown_cap * sizeof *grown);
            if (!grown)
                s = facs_fail(FACS_ERR_MEMORY, "%s: out of memory", img_dir);
            else {
                index->pairs = grown;
                *cap = grown_cap;
            }
        }
        if (s == FACS_OK) {
            int use_ids = !is_file(train_path);
            facs_cityscapes_pair *p = &index->pairs[index->count++];
            p->image = image;
            p->label = use_ids ? ids_path : train_path;
            p->label_is_ids = use_ids;
            image = NULL;
            if (use_ids)
                ids_path = NULL;
            else
                train_path = NULL;
        }
        free(train);
        free(ids);
        free(image);
        free(train_path);
        free(ids_path);
    }
    names_free(&files);
    return s;
}

facs_status facs_cityscapes_index(const char *root, const char *split, facs_cityscapes_pairs *index)
{
    memset(index, 0, sizeof *index);
    if (!split || !valid_split(split))
        return facs_fail(FACS_ERR_ARG, "Cityscapes split must be train, val or test, not '%s'", split ? split : "");
    char *img_root = path_join(root, "leftImg8bit", split, NULL);
    char *gt_root = path_join(root, "gtFine", split, NULL);
    name_list cities = {0};
    facs_status s = img_root && gt_root ? list_dir(img_root, 1, NULL, &cities)
                                        : facs_fail(FACS_ERR_MEMORY, "%s: out of memory", root);
    int cap = 0;
    for (int c = 0; s == FACS_OK && c < cities.count; c++) {
        char *img_dir = path_join(img_root, cities.names[c], NULL, NULL);
        char *gt_dir = path_join(gt_root, cities.names[c], NULL, NULL);
        s = img_dir && gt_dir ? index_city(img_dir, gt_dir, index, &cap)
                              : facs_fail(FACS_ERR_MEMORY, "%s: out of memory", root);
        free(img_dir);
        free(gt_dir);
    }
    if (s == FACS_OK && index->count == 0)
        s = facs_fail(FACS_ERR_FORMAT, "%s: no *%s in any city folder", img_root, IMAGE_SUFFIX);
    index->ignore_label = FACS_CITYSCAPES_IGNORE;
    names_free(&cities);
    free(img_root);
    free(gt_root);
    if (s != FACS_OK)
        facs_cityscapes_index_free(index);
    return s;
}

/* The first pixel of label (n pixels) above the labelIds, or -1; *holds_255 says
 * whether any is 255, which no labelIds PNG holds but every labelTrainIds PNG
 * with void pixels does. */
static long first_beyond_label_ids(const facs_image *label, size_t n, int *holds_255)
{
    long first = -1;
    *holds_255 = 0;
    for (size_t k = 0; k < n; k++)
        if (label->pixels[k] > FACS_CITYSCAPES_LAST_LABEL_ID) {
            first = first < 0 ? (long)k : first;
            *holds_255 |= label->pixels[k] == 255;
        }
    return first;
}

/* Maps labelIds to trainIds in place (void ones to ignore), or checks trainIds
 * (each < 19 or ignore), naming the first bad pixel. */
static facs_status to_train_ids(const facs_cityscapes_pair *p, int ignore, facs_image *label)
{
    size_t n = (size_t)label->width * (size_t)label->height, w = (size_t)label->width;
    uint8_t *px = label->pixels;
    if (p->label_is_ids) {
        int holds_255;
        long k = first_beyond_label_ids(label, n, &holds_255);
        if (k >= 0)
            return facs_fail(FACS_ERR_FORMAT, "%s: labelId %d at x=%zu, y=%zu is not a Cityscapes labelId (0..%d)%s",
                             p->label, px[k], (size_t)k % w, (size_t)k / w, FACS_CITYSCAPES_LAST_LABEL_ID,
                             holds_255 ? "; the file holds 255, the void value of trainIds: a labelTrainIds PNG "
                                         "saved under the labelIds name? Rename it *_gtFine_labelTrainIds.png"
                                       : "");
        uint8_t map[FACS_CITYSCAPES_LAST_LABEL_ID + 1];
        for (int v = 0; v <= FACS_CITYSCAPES_LAST_LABEL_ID; v++) {
            int t = facs_cityscapes_train_id(v);
            map[v] = (uint8_t)(t == FACS_CITYSCAPES_IGNORE ? ignore : t);
        }
        for (size_t k = 0; k < n; k++)
            px[k] = map[px[k]];
        return FACS_OK;
    }
    for (size_t k = 0; k < n; k++)
        if (px[k] >= FACS_CITYSCAPES_CLASSES && px[k] != ignore)
            return facs_fail(FACS_ERR_FORMAT, "%s: trainId %d at x=%zu, y=%zu is neither < %d nor %d (ignore)%s",
                             p->label, px[k], k % w, k / w, FACS_CITYSCAPES_CLASSES, ignore,
                             px[k] == FACS_CITYSCAPES_IGNORE ? "; 255 is Cityscapes' void label, ignored only "
                                                               "when the ignore label is 255"
                                                             : "");
    return FACS_OK;
}

facs_status facs_cityscapes_load_label(const facs_cityscapes_pairs *index, int i, facs_image *label)
{
    memset(label, 0, sizeof *label);
    if (!index || i < 0 || i >= index->count)
        return facs_fail(FACS_ERR_ARG, "Cityscapes frame %d is outside [0, %d)", i, index ? index->count : 0);
    facs_status s = facs_image_read_label(index->pairs[i].label, label);
    if (s == FACS_OK)
        s = to_train_ids(&index->pairs[i], index->ignore_label, label);
    if (s != FACS_OK)
        facs_image_free(label);
    return s;
}

facs_status facs_cityscapes_load_pair(const facs_cityscapes_pairs *index, int i, facs_image *image,
                                      facs_image *label)
{
    memset(image, 0, sizeof *image);
    memset(label, 0, sizeof *label);
    if (!index || i < 0 || i >= index->count)
        return facs_fail(FACS_ERR_ARG, "Cityscapes frame %d is outside [0, %d)", i, index ? index->count : 0);
    const facs_cityscapes_pair *p = &index->pairs[i];
    facs_status s = facs_image_read(p->image, 3, image);
    if (s == FACS_OK)
        s = facs_image_read_label(p->label, label);
    if (s == FACS_OK && (label->width != image->width || label->height != image->height))
        s = facs_fail(FACS_ERR_FORMAT, "%s is %dx%d but its label %s is %dx%d", p->image, image->width,
                      image->height, p->label, label->width, label->height);
    if (s == FACS_OK)
        s = to_train_ids(p, index->ignore_label, label);
    if (s != FACS_OK) {
        facs_image_free(image);
        facs_image_free(label);
    }
    return s;
}

/* Decodes every frame of one split into the report. */
static facs_status check_split(const char *root, int split, facs_cityscapes_report *report)
{
    facs_cityscapes_pairs index;
    FACS_TRY(facs_cityscapes_index(root, facs_cityscapes_split_names[split], &index));
    facs_status s = FACS_OK;
    for (int i = 0; i < index.count && s == FACS_OK; i++) {
        facs_image image, label;
        s = facs_cityscapes_load_pair(&index, i, &image, &label);
        if (s != FACS_OK)
            break;
        size_t n = (size_t)label.width * (size_t)label.height;
        for (size_t k = 0; k < n; k++) {
            if (label.pixels[k] == FACS_CITYSCAPES_IGNORE)
                report->ignored++;
            else
                report->pixels[label.pixels[k]]++;
        }
        report->images[split]++;
        report->from_label_ids += index.pairs[i].label_is_ids;
        facs_image_free(&image);
        facs_image_free(&label);
    }
    facs_cityscapes_index_free(&index);
    return s;
}

/* Fails on the first label of gt_city (a gtFine/{split}/{city} folder) whose
 * image is not in img_city (the matching leftImg8bit folder). */
static facs_status orphans_in_city(const char *img_city, const char *gt_city)
{
    static const char *const suffixes[2] = {TRAIN_SUFFIX, IDS_SUFFIX};
    facs_status s = FACS_OK;
    for (int k = 0; k < 2 && s == FACS_OK; k++) {
        name_list labels;
        FACS_TRY(list_dir(gt_city, 0, suffixes[k], &labels));
        for (int f = 0; f < labels.count && s == FACS_OK; f++) {
            const char *name = labels.names[f];
            size_t stem_len = strlen(name) - strlen(suffixes[k]);
            char *image_name = malloc(stem_len + sizeof IMAGE_SUFFIX);
            char *image = NULL, *label = path_join(gt_city, name, NULL, NULL);
            if (image_name) {
                memcpy(image_name, name, stem_len);
                memcpy(image_name + stem_len, IMAGE_SUFFIX, sizeof IMAGE_SUFFIX);
                image = path_join(img_city, image_name, NULL, NULL);
            }
            if (!image || !label)
                s = facs_fail(FACS_ERR_MEMORY, "%s: out of memory", gt_city);
            else if (!is_file(image))
                s = facs_fail(FACS_ERR_FORMAT, "%s: a label without its image: %s does not exist", label, image);
            free(image_name);
            free(image);
            free(label);
        }
        names_free(&labels);
    }
    return s;
}

/* Every label PNG (labelTrainIds or labelIds) under root/gtFine/{split} must have
 * its leftImg8bit image; images without a label fail in facs_cityscapes_index. */
static facs_status check_orphan_labels(const char *root, int split)
{
    const char *split_name = facs_cityscapes_split_names[split];
    char *gt_root = path_join(root, "gtFine", split_name, NULL);
    char *img_root = path_join(root, "leftImg8bit", split_name, NULL);
    name_list cities = {0};
    facs_status s = FACS_OK;
    struct stat st;
    if (!gt_root || !img_root)
        s = facs_fail(FACS_ERR_MEMORY, "%s: out of memory", root);
    else if (stat(gt_root, &st) == 0 && S_ISDIR(st.st_mode))
        s = list_dir(gt_root, 1, NULL, &cities);
    for (int c = 0; s == FACS_OK && c < cities.count; c++) {
        char *gt_city = path_join(gt_root, cities.names[c], NULL, NULL);
        char *img_city = path_join(img_root, cities.names[c], NULL, NULL);
        s = gt_city && img_city ? orphans_in_city(img_city, gt_city)
                                : facs_fail(FACS_ERR_MEMORY, "%s: out of memory", root);
        free(gt_city);
        free(img_city);
    }
    names_free(&cities);
    free(gt_root);
    free(img_root);
    return s;
}

facs_status facs_cityscapes_check(const char *root, facs_cityscapes_report *report)
{
    memset(report, 0, sizeof *report);
    int any = 0;
    for (int split = 0; split < FACS_CITYSCAPES_SPLITS; split++) {
        char *dir = path_join(root, "leftImg8bit", facs_cityscapes_split_names[split], NULL);
        if (!dir)
            return facs_fail(FACS_ERR_MEMORY, "%s: out of memory", root);
        struct stat st;
        report->present[split] = stat(dir, &st) == 0 && S_ISDIR(st.st_mode);
        free(dir);
        any |= report->present[split];
    }
    if (any) /* labels without images first: cheap, and every split's, present or not */
        for (int split = 0; split < FACS_CITYSCAPES_SPLITS; split++)
            FACS_TRY(check_orphan_labels(root, split));
    for (int split = 0; split < FACS_CITYSCAPES_SPLITS; split++)
        if (report->present[split])
            FACS_TRY(check_split(root, split, report));
    if (!any)
        return facs_fail(FACS_ERR_FORMAT, "%s: not a Cityscapes folder; looked for leftImg8bit/train, "
                                          "leftImg8bit/val and leftImg8bit/test",
                         root);
    return FACS_OK;
}

facs_status facs_cityscapes_check_output(const char *root, const char *option, const char *path)
{
    static const char *const read[] = {"leftImg8bit", "gtFine"};
    for (int k = 0; k < 2; k++) {
        char *folder = path_join(root, read[k], NULL, NULL);
        if (!folder)
            return facs_fail(FACS_ERR_MEMORY, "%s: out of memory", root);
        int inside = facs_path_within(path, folder);
        facs_status s = inside ? facs_fail(FACS_ERR_ARG,
                                           "%s %s is or lies inside %s, which is read as Cityscapes data: what is "
                                           "written there would be read as cities of a split; give a folder outside "
                                           "%s/leftImg8bit and %s/gtFine",
                                           option, path, folder, root, root)
                               : FACS_OK;
        free(folder);
        FACS_TRY(s);
    }
    return FACS_OK;
}

static facs_status cityscapes_sample(const facs_dataset *self, int index, facs_image *out_image,
                                     facs_label *out_label)
{
    return facs_cityscapes_load_pair(self->user, index, out_image, &out_label->map);
}

void facs_cityscapes_dataset(const facs_cityscapes_pairs *index, facs_dataset *dataset)
{
    *dataset = (facs_dataset){.count = index->count, .load = cityscapes_sample, .user = (void *)index};
}
