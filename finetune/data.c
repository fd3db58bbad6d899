/* CIFAR and image-folder splits as loader datasets (see data.h). */
#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "class_list.h"
#include "data.h"
#include "image_walk.h"
#include "loader_skip.h"
#include "parallel.h"

#define PATH_SIZE 4096

static int is_folder(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

/* DIR/name into out. */
static facs_status sub_path(const char *dir, const char *name, char *out)
{
    if (snprintf(out, PATH_SIZE, "%s/%s", dir, name) >= PATH_SIZE)
        return facs_fail(FACS_ERR_ARG, "%s: path longer than %d bytes", dir, PATH_SIZE - 1);
    return FACS_OK;
}

facs_status ft_data_detect(ft_options *o)
{
    int found = 0;
    char train[PATH_SIZE], val[PATH_SIZE];
    FACS_TRY(facs_cifar_detect(o->data, &found)); /* its hints (the archive's parent, the pickle version) first */
    FACS_TRY(sub_path(o->data, "train", train));
    FACS_TRY(sub_path(o->data, "val", val));
    if (found) {
        o->layout = FT_LAYOUT_CIFAR;
        if (o->dataset && o->dataset != found)
            return facs_fail(FACS_ERR_ARG, "--dataset cifar%d, but %s holds CIFAR-%d", o->dataset, o->data, found);
        o->dataset = found;
        if (o->classes_file || o->skip_bad || o->jpeg_draft >= 0)
            return facs_fail(FACS_ERR_ARG, "%s applies to image folders; %s holds CIFAR-%d",
                             o->classes_file ? "--classes-file" : o->skip_bad ? "--skip-bad" : "--jpeg-draft",
                             o->data, found);
        return FACS_OK;
    }
    if (is_folder(train) || is_folder(val)) {
        /* --eval needs only val/ (the classes then come from the file, --classes-file or val/ itself). */
        if ((!is_folder(train) && !o->eval) || !is_folder(val))
            return facs_fail(FACS_ERR_IO, "%s: an image folder needs both %s/ and %s/ (<class>/<image> in each)",
                             o->data, train, val);
        if (o->dataset)
            return facs_fail(FACS_ERR_ARG, "--dataset cifar%d, but %s is an image folder (train/, val/)", o->dataset,
                             o->data);
        o->layout = FT_LAYOUT_FOLDER;
        return FACS_OK;
    }
    return facs_fail(FACS_ERR_IO, "%s: neither a CIFAR folder (%s) nor an image folder (train/<class>/<image>, "
                     "val/<class>/<image>)", o->data, facs_cifar_expected_files());
}

int ft_eval_resize(int input_size) { return (int)lround(input_size * 256.0 / 224.0); }

static void set_norm(facs_cls_aug *aug, int norm)
{
    static const float imagenet_mean[] = FACS_IMAGENET_MEAN, imagenet_std[] = FACS_IMAGENET_STD;
    static const float cifar_mean[] = FACS_CIFAR_MEAN, cifar_std[] = FACS_CIFAR_STD;
    memcpy(aug->mean, norm == FT_NORM_IMAGENET ? imagenet_mean : cifar_mean, sizeof imagenet_mean);
    memcpy(aug->std, norm == FT_NORM_IMAGENET ? imagenet_std : cifar_std, sizeof imagenet_std);
}

static facs_cls_aug cifar_aug(int train, int input_size)
{
    facs_cls_aug aug = train ? facs_cls_aug_cifar_train() : facs_cls_aug_cifar_eval();
    if (input_size != FACS_CIFAR_SIDE) {
        aug.out_height = aug.out_width = input_size;
        if (train) {
            /* At 224 a 4-pixel pad of the 32-pixel source is a crop of at
             * least (24/32)^2 of its area: the same jitter, then upscaled. */
            aug.crop = FACS_CROP_RESIZED_RANDOM;
            aug.scale_min = 0.5625f;
            aug.scale_max = 1.0f;
        } else {
            aug.crop = FACS_CROP_CENTER;
            aug.resize_shorter = input_size;
        }
    }
    return aug;
}

static facs_cls_aug folder_aug(int train, int input_size, int jpeg_draft)
{
    facs_cls_aug aug = train ? facs_cls_aug_imagenet_train() : facs_cls_aug_imagenet_eval();
    aug.out_height = aug.out_width = input_size;
    aug.jpeg_draft = jpeg_draft == FT_DRAFT_ALL || (train && jpeg_draft != FT_DRAFT_OFF);
    if (!train)
        aug.resize_shorter = ft_eval_resize(input_size);
    return aug;
}

static facs_status load_cifar(ft_split *s, const ft_options *o, facs_cifar_split which)
{
    FACS_TRY(facs_cifar_load(o->data, o->dataset, which, &s->cifar));
    facs_cifar_dataset(&s->cifar, &s->dataset);
    s->count = s->cifar.count;
    s->num_classes = s->cifar.num_classes;
    s->class_names = s->cifar.class_names;
    s->where = o->data;
    return FACS_OK;
}

/* root opened with names as classes (n = 0: root's own folders). */
static facs_status load_folder(ft_split *s, const char *root, char *const *names, int n, int allow_empty,
                               const char *list_name)
{
    if (n > 0)
        FACS_TRY(facs_image_folder_open_classes(root, (const char *const *)names, n, allow_empty, list_name,
                                                &s->folder));
    else
        FACS_TRY(facs_image_folder_open(root, &s->folder));
    facs_image_folder_dataset(&s->folder, &s->dataset);
    s->count = s->folder.count;
    s->num_classes = s->folder.num_classes;
    s->class_names = s->folder.classes;
    s->where = s->folder.root;
    return FACS_OK;
}

static facs_status refuse_out_within(const char *out, const char *folder, const char *data)
{
    return facs_fail(FACS_ERR_ARG, "--out %s is or lies inside %s: what is written there would be read as a class of "
                     "the image folder --data %s; give a folder outside its train/ and val/", out, folder, data);
}

/* --out within a class folder that is a link to a folder elsewhere: the walk
 * follows it, so the run's files would be read back as that class's images. */
static facs_status check_out_outside_linked_classes(const char *out, const char *split, const char *data)
{
    DIR *d = opendir(split);
    if (!d)
        return FACS_OK; /* the split is refused by name when it is opened */
    facs_status s = FACS_OK;
    char class_dir[PATH_SIZE];
    for (struct dirent *e; s == FACS_OK && (e = readdir(d));) {
        struct stat link;
        if (e->d_name[0] == '.' || sub_path(split, e->d_name, class_dir) != FACS_OK ||
            lstat(class_dir, &link) != 0 || !S_ISLNK(link.st_mode))
            continue;
        if (facs_path_within(out, class_dir))
            s = refuse_out_within(out, class_dir, data);
    }
    closedir(d);
    return s;
}

facs_status ft_data_check_out(const ft_options *o, const char *out)
{
    static const char *const splits[] = {"train", "val"};
    char split[PATH_SIZE];
    for (int k = 0; out && o->layout == FT_LAYOUT_FOLDER && k < 2; k++) {
        FACS_TRY(sub_path(o->data, splits[k], split));
        if (facs_path_within(out, split))
            return refuse_out_within(out, split, o->data);
        FACS_TRY(check_out_outside_linked_classes(out, split, o->data));
    }
    return FACS_OK;
}

facs_status ft_read_classes_file(const ft_options *o, facs_strings *names)
{
    if (facs_class_list_read(o->classes_file, names) == FACS_OK)
        return FACS_OK;
    char why[1024];
    snprintf(why, sizeof why, "%s", facs_last_error()); /* it starts with the file's name */
    return facs_fail(facs_last_status(), "--classes-file %s", why);
}

/* Loads --classes-file into *names, with the message label that names it. */
static facs_status read_classes_file(const ft_options *o, facs_strings *names, char *label, size_t size)
{
    snprintf(label, size, "the classes in --classes-file %s", o->classes_file);
    return ft_read_classes_file(o, names);
}

facs_status ft_split_load_train(ft_split *s, const ft_options *o, int input_size, int norm)
{
    memset(s, 0, sizeof *s);
    facs_status st;
    if (o->layout == FT_LAYOUT_CIFAR) {
        st = load_cifar(s, o, FACS_CIFAR_TRAIN);
        s->aug = cifar_aug(1, input_size);
    } else {
        char root[PATH_SIZE], label[PATH_SIZE + 32] = "";
        facs_strings names = {0};
        FACS_TRY(sub_path(o->data, "train", root));
        st = o->classes_file ? read_classes_file(o, &names, label, sizeof label) : FACS_OK;
        if (st == FACS_OK)
            st = load_folder(s, root, names.items, names.count, 0, label);
        facs_strings_free(&names);
        s->aug = folder_aug(1, input_size, o->jpeg_draft);
    }
    set_norm(&s->aug, norm);
    return st;
}

/* The class folders of DIR/train, sorted: the classes when nothing else gives them. */
static facs_status train_folder_names(const char *train, facs_strings *names)
{
    facs_strings entries = {0};
    facs_status st = facs_read_names(train, &entries);
    char path[PATH_SIZE];
    for (int i = 0; st == FACS_OK && i < entries.count; i++) {
        if ((st = sub_path(train, entries.items[i], path)) == FACS_OK && is_folder(path) &&
            !facs_strings_push(names, entries.items[i]))
            st = facs_fail(FACS_ERR_MEMORY, "%s: out of memory", train);
    }
    facs_strings_free(&entries);
    if (st == FACS_OK && names->count == 0)
        st = facs_fail(FACS_ERR_FORMAT, "%s: no class folder found (expected train/<class>/<image>)", train);
    return st;
}

facs_status ft_split_load_test(ft_split *s, const ft_options *o, char *const *names, int n, const char *names_from,
                               int input_size, int norm)
{
    memset(s, 0, sizeof *s);
    facs_status st = FACS_OK;
    if (o->layout == FT_LAYOUT_CIFAR) {
        st = load_cifar(s, o, FACS_CIFAR_TEST);
        s->aug = cifar_aug(0, input_size);
    } else {
        char root[PATH_SIZE], train[PATH_SIZE], label[PATH_SIZE + 32];
        FACS_TRY(sub_path(o->data, "val", root));
        FACS_TRY(sub_path(o->data, "train", train));
        facs_strings own = {0};
        if (names_from)
            snprintf(label, sizeof label, "%s", names_from);
        else if (o->classes_file)
            snprintf(label, sizeof label, "the classes in --classes-file %s", o->classes_file);
        else
            snprintf(label, sizeof label, "the classes of %s", train);
        if (n == 0 && o->classes_file)
            st = read_classes_file(o, &own, label, sizeof label);
        else if (n == 0 && is_folder(train))
            st = train_folder_names(train, &own);
        if (n == 0) { /* else, without train/ (--eval), val/'s own folders */
            names = own.items;
            n = own.count;
        }
        if (st == FACS_OK)
            st = load_folder(s, root, names, n, 1, label);
        facs_strings_free(&own);
        s->aug = folder_aug(0, input_size, o->jpeg_draft);
    }
    set_norm(&s->aug, norm);
    return st;
}

void ft_split_free(ft_split *s)
{
    facs_cifar_free(&s->cifar);
    facs_image_folder_free(&s->folder);
}

facs_status ft_loader_create(const ft_split *s, int train, const ft_options *o, int first_epoch,
                             facs_loader **out)
{
    facs_loader_opts lo = facs_loader_defaults();
    lo.batch_size = o->batch;
    lo.shuffle = train;
    lo.drop_last = train; /* every step sees a full batch, so BN statistics are never from a handful */
    lo.workers = o->workers;
    lo.seed = o->seed;
    lo.first_epoch = first_epoch;
    lo.height = lo.width = s->aug.out_height;
    lo.channels = 3;
    lo.transform = facs_cls_transform;
    lo.transform_file = facs_cls_transform_file; /* for image folders, which can read their files */
    lo.transform_opts = &s->aug;
    lo.skip_bad = o->skip_bad;
    lo.shard_rank = o->rank;
    lo.shard_count = o->ranks;
    /* Page-locked batches on CUDA, which ft_step uploads asynchronously. */
    FACS_TRY(facs_device_host_allocator(o->device.device, &lo.staging));
    return facs_loader_create(&s->dataset, &lo, out);
}

facs_status ft_print_skipped(facs_comm *comm, facs_loader *train, facs_loader *test)
{
    facs_loader *loaders[2] = {train, test};
    facs_skip_list lists[2];
    memset(lists, 0, sizeof lists);
    facs_status s = FACS_OK;
    int total = 0;
    for (int i = 0; i < 2 && s == FACS_OK; i++)
        if (loaders[i] && (s = facs_loader_gather_skipped(loaders[i], comm, 0, &lists[i])) == FACS_OK)
            total += lists[i].count;
    if (s == FACS_OK && total > 0) {
        printf("skipped %d file%s that do%s not decode (--skip-bad):\n", total, total == 1 ? "" : "s",
               total == 1 ? "es" : "");
        for (int i = 0; i < 2; i++)
            for (int k = 0; k < lists[i].count; k++)
                printf("  %s\n", lists[i].items[k].message ? lists[i].items[k].message : "(no memory for the message)");
        fflush(stdout);
    }
    for (int i = 0; i < 2; i++)
        facs_skip_list_free(&lists[i]);
    return s;
}

void ft_print_error(const ft_options *o)
{
    const char *msg = facs_last_error();
    /* The loader's messages start so (loader.h); only a file's load fails there with --skip-bad off. */
    int bad_file = o->layout == FT_LAYOUT_FOLDER && !o->skip_bad && strncmp(msg, "loader: sample ", 15) == 0;
    fprintf(stderr, "facs-finetune: %s%s%s\n", facs_parallel_rank_label(o->rank, o->ranks), msg,
            bad_file ? " (--skip-bad leaves out files that do not decode)" : "");
}
