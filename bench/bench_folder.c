/* bench-folder: images per second of facs-finetune's training input pipeline
 * on an image folder, the pipeline alone: DIR/train in torchvision's
 * ImageFolder layout, read, decoded, RandomResizedCrop 224 + flip resized as
 * PIL does, normalized and batched by the loader (datasets/loader.h) with
 * --workers threads. Two shapes per run:
 *   LABEL exact   every file decoded whole (torchvision's pixels exactly);
 *   LABEL draft   JPEGs decoded at 1/2, 1/4 or 1/8 of their size where the
 *                 crop allows (facs-finetune's default, --jpeg-draft train).
 * bench/bench_folder_torch.py times torchvision's ImageFolder + DataLoader on
 * the same folder (and PIL's draft for the second shape). A run is one epoch;
 * epoch_ms is the median of --runs epochs after --warmup untimed ones (the
 * first also reads the files into the page cache). --threads is accepted for
 * run_bench.sh and unused: the loader's parallelism is --workers.
 *
 *     bench-folder --data DIR --label photos --workers 2 --batch 32 --runs 3 --warmup 1
 */
#include <stdio.h>
#include <string.h>

#include "augment.h"
#include "bench_util.h"
#include "cli_options.h"
#include "image_folder.h"
#include "loader.h"

static const char ABOUT[] =
    "Times the image-folder training pipeline (ImageNet recipe, 224 crops) on DIR/train, with\n"
    "whole decodes and with JPEG draft decoding; prints JSON on stdout.\n"
    "  --data DIR    an image folder (DIR/train/<class>/<image>), required\n"
    "  --label L     the folder's name in the result (default: DIR)\n"
    "  --workers N   loader threads (default 2; 0: in the calling thread)\n";

typedef struct {
    const char *data, *label;
    int workers;
} folder_bench;

static facs_status take_folder_option(void *user, const char *name, const char *v)
{
    folder_bench *b = user;
    if (strcmp(name, "--data") == 0)
        b->data = v;
    else if (strcmp(name, "--label") == 0)
        b->label = v;
    else
        return facs_cli_int("--workers", v, 0, 64, &b->workers);
    return FACS_OK;
}

/* The median epoch of the folder through the loader, in *epoch_ms. */
static facs_status time_epochs(const facs_dataset *ds, const facs_cls_aug *aug, const folder_bench *b,
                               const bench_options *o, const char *shape, double *epoch_ms)
{
    facs_loader_opts lo = facs_loader_defaults();
    lo.batch_size = o->batch;
    lo.shuffle = 1;
    lo.seed = 42;
    lo.workers = b->workers;
    lo.height = lo.width = aug->out_height;
    lo.channels = 3;
    lo.transform = facs_cls_transform;
    lo.transform_file = facs_cls_transform_file;
    lo.transform_opts = aug;
    return bench_loader_epochs(shape, ds, &lo, o->runs, o->warmup, epoch_ms);
}

int main(int argc, char **argv)
{
    folder_bench b = {NULL, NULL, 2};
    static const bench_option own[] = {{"--data", 1}, {"--label", 1}, {"--workers", 1}, {NULL, 0}};
    int rc = bench_take_options(&argc, argv, "bench-folder", own, take_folder_option, &b);
    if (rc >= 0)
        return rc;
    bench_options o;
    if ((rc = bench_parse(argc, argv, "bench-folder", ABOUT, &o)) >= 0)
        return rc;
    if (!b.data) {
        fprintf(stderr, "bench-folder: --data DIR is required\n");
        return 2;
    }
    char train[4200];
    snprintf(train, sizeof train, "%s/train", b.data);
    facs_image_folder folder;
    if (facs_image_folder_open(train, &folder) != FACS_OK) {
        fprintf(stderr, "bench-folder: %s\n", facs_last_error());
        return 1;
    }
    facs_dataset ds;
    facs_image_folder_dataset(&folder, &ds);
    const char *label = b.label ? b.label : b.data;
    json_t *shapes = json_array();
    facs_status s = FACS_OK;
    for (int draft = 0; s == FACS_OK && draft < 2; draft++) {
        facs_cls_aug aug = facs_cls_aug_imagenet_train();
        aug.jpeg_draft = draft;
        char name[512];
        snprintf(name, sizeof name, "%s %s", label, draft ? "draft" : "exact");
        double ms = 0;
        s = time_epochs(&ds, &aug, &b, &o, name, &ms);
        json_array_append_new(shapes, json_pack("{s:s, s:i, s:i, s:i, s:o, s:o}", "name", name, "workers",
                                                b.workers, "batch", o.batch, "images", folder.count, "epoch_ms",
                                                bench_json_real(ms, 1), "images_per_s",
                                                bench_json_real(folder.count * 1e3 / ms, 1)));
    }
    facs_image_folder_free(&folder);
    if (s != FACS_OK) {
        fprintf(stderr, "bench-folder: %s\n", facs_last_error());
        json_decref(shapes);
        return 1;
    }
    return bench_json_print(json_pack("{s:s, s:s, s:i, s:i, s:i, s:i, s:o}", "library", "facs", "mode", "pipeline",
                                      "workers", b.workers, "batch", o.batch, "runs", o.runs, "warmup", o.warmup,
                                      "shapes", shapes));
}
