/* facs-data's image-folder kind (see facs_data.h): DIR/train/<class>/ and
 * DIR/val/<class>/ as facs-finetune reads them. check lists and decodes every
 * file and reports the counts per class and every file that does not decode
 * (then exits non-zero); synth writes learnable JPEG and PNG classes. */
#include <stdio.h>
#include <sys/stat.h>

#include "facs_data.h"
#include "image_folder_files.h"

static const char *const split_names[2] = {"train", "val"};

const char *imagefolder_looked_for(void) { return "image folder: train/<class>/<image> and val/<class>/<image>"; }

facs_status imagefolder_probe(const char *dir, int *found)
{
    char path[4096];
    struct stat st;
    *found = 0;
    for (int k = 0; k < 2 && !*found; k++) {
        snprintf(path, sizeof path, "%s/%s", dir, split_names[k]);
        *found = stat(path, &st) == 0 && S_ISDIR(st.st_mode);
    }
    return FACS_OK;
}

/* The report as one object; error (NULL when every file decodes) is the failure's message, so that
 * --json prints one object whatever happens. */
static json_t *json_report(const char *dir, const facs_image_folder_report *r, const char *error)
{
    json_t *splits = json_object(), *bad = json_array();
    for (int k = 0; splits && k < 2; k++) {
        json_t *classes = json_object();
        for (int c = 0; classes && c < r->split[0].num_classes; c++)
            json_set(classes, r->split[0].classes[c], json_integer(r->per_class[k][c]));
        json_set(splits, split_names[k], json_pack("{s:i, s:o}", "count", r->split[k].count, "classes", classes));
    }
    for (int i = 0; bad && i < r->bad.count; i++)
        json_array_append_new(bad, json_text(r->bad.items[i]));
    json_t *report = json_pack("{s:o, s:s, s:b, s:o, s:o}", "dir", json_text(dir), "kind", "imagefolder", "ok",
                               r->bad.count == 0, "splits", splits, "bad_files", bad);
    if (report && error)
        json_set(report, "error", json_text(error));
    return report;
}

static void print_report(const char *dir, const facs_image_folder_report *r)
{
    printf("%s: image folder, %d classes, %s\n", dir, r->split[0].num_classes,
           r->bad.count ? "some files do not decode" : "all files valid");
    for (int k = 0; k < 2; k++) {
        int missing = 0;
        printf("%s: %d image%s\n  classes:\n", split_names[k], r->split[k].count, r->split[k].count == 1 ? "" : "s");
        for (int c = 0; c < r->split[0].num_classes; c++) {
            printf("    %-32s %d\n", r->split[0].classes[c], r->per_class[k][c]);
            missing += r->per_class[k][c] == 0;
        }
        if (missing)
            printf("  note: %d of %d classes %s no image (count 0 above)\n", missing, r->split[0].num_classes,
                   missing == 1 ? "has" : "have");
    }
    if (r->bad.count)
        printf("%d file%s that do%s not decode:\n", r->bad.count, r->bad.count == 1 ? "" : "s",
               r->bad.count == 1 ? "es" : "");
    for (int i = 0; i < r->bad.count; i++)
        printf("  %s\n", r->bad.items[i]);
}

facs_status imagefolder_check(const char *dir, const options *o)
{
    fprintf(stderr, "facs-data: listing and decoding every image of %s\n", dir);
    facs_image_folder_report r;
    FACS_TRY(facs_image_folder_check(dir, &r));
    facs_status s = FACS_OK;
    char error[2048];
    if (r.bad.count) {
        s = facs_fail(FACS_ERR_FORMAT, "%s: %d file%s that do%s not decode, the first %s (facs-finetune --skip-bad "
                      "leaves such files out)", dir, r.bad.count, r.bad.count == 1 ? "" : "s",
                      r.bad.count == 1 ? "es" : "", r.bad.items[0]);
        snprintf(error, sizeof error, "%s", facs_last_error());
    }
    if (o->json) {
        facs_status printed = print_json(json_report(dir, &r, r.bad.count ? error : NULL));
        s = s != FACS_OK ? facs_fail(s, "%s", error) : printed;
    } else {
        print_report(dir, &r);
    }
    fflush(stdout);
    facs_image_folder_report_free(&r);
    return s;
}

facs_status imagefolder_synth(const char *dir, const options *o)
{
    int classes = o->classes ? o->classes : 10;
    int n = o->n ? o->n : 50 * classes, n_val = n / 5 > 0 ? n / 5 : 1;
    int width = o->width ? o->width : 64, height = o->height ? o->height : 64;
    fprintf(stderr, "facs-data: writing a synthetic image folder to %s: %d classes, %d train and %d val images of "
            "%dx%d, seed %llu\n", dir, classes, n, n_val, width, height, (unsigned long long)o->seed);
    facs_status s = facs_image_folder_synth(dir, classes, n, n_val, height, width, o->seed);
    if (s == FACS_OK)
        fprintf(stderr, "facs-data: done\n");
    return s;
}
