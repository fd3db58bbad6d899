/* eval/seg_metrics.h on hand-made confusion matrices whose numbers are worked
 * out here: the category grouping (cityscapesScripts' category IoU: TP inside
 * the category, FN/FP against the other evaluated classes), a category and
 * classes absent from both prediction and truth (null in results.json, out of
 * the means), the keys of results.json in order, a matrix of another size
 * (class indices as names, no categories), the printed summary, and bad
 * groups. tests/pspnet_eval.sh checks the same numbers on real predictions
 * against numpy. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cityscapes.h"
#include "seg_metrics.h"
#include "test_util.h"

static void add(facs_confusion *cm, int truth, int predicted, int64_t n)
{
    cm->counts[(size_t)truth * cm->classes + predicted] += n;
}

static int near(double got, double want) { return fabs(got - want) <= 1e-12; }

/* road 0 and sidewalk 1 (flat), building 2 (construction), sky 10, car 13 (vehicle); the rest absent. */
static void cityscapes_case(void)
{
    facs_confusion cm;
    if (!CHECK_OK(facs_confusion_init(&cm, FACS_CITYSCAPES_CLASSES)))
        return;
    add(&cm, 0, 0, 50); /* road right */
    add(&cm, 0, 1, 10); /* road as sidewalk: inside flat */
    add(&cm, 1, 1, 20);
    add(&cm, 1, 2, 5);  /* sidewalk as building: flat FN, construction FP */
    add(&cm, 2, 2, 30);
    add(&cm, 10, 10, 40);
    add(&cm, 13, 2, 5); /* car as building: vehicle FN, construction FP */
    add(&cm, 13, 13, 15);
    facs_confusion cat;
    if (!CHECK_OK(facs_confusion_group(&cm, facs_cityscapes_category_of, FACS_CITYSCAPES_CATEGORIES, &cat)))
        return;
    /* flat: TP 50 + 10 + 20 = 80, FN 5; construction: TP 30, FP 10; sky 40; vehicle TP 15, FN 5 */
    CHECK(near(facs_confusion_iou(&cat, 0), 80.0 / 85), "flat IoU %.17g, want 80/85", facs_confusion_iou(&cat, 0));
    CHECK(near(facs_confusion_iou(&cat, 1), 30.0 / 40), "construction IoU %.17g", facs_confusion_iou(&cat, 1));
    CHECK(isnan(facs_confusion_iou(&cat, 2)) && isnan(facs_confusion_iou(&cat, 3)) &&
              isnan(facs_confusion_iou(&cat, 5)),
          "object, nature and human are absent: NaN");
    CHECK(near(facs_confusion_iou(&cat, 6), 15.0 / 20), "vehicle IoU %.17g", facs_confusion_iou(&cat, 6));
    double want_cat = (80.0 / 85 + 30.0 / 40 + 1 + 15.0 / 20) / 4;
    CHECK(near(facs_confusion_miou(&cat), want_cat), "category mIoU %.17g, want %.17g", facs_confusion_miou(&cat),
          want_cat);

    json_t *j = facs_seg_results_json(&cm, NULL);
    if (CHECK_PTR(j)) {
        static const char *const keys[] = {"miou", "iou", "category_miou", "category_iou", "miiou", "iiou",
                                           "category_miiou", "category_iiou", "pixel_acc", "mean_acc"};
        int k = 0;
        const char *key;
        json_t *v;
        json_object_foreach(j, key, v) {
            CHECK(k < 10 && strcmp(key, keys[k]) == 0, "results key %d is %s", k, key);
            k++;
        }
        CHECK(k == 10, "results has %d keys, want 10", k);
        json_t *iou = json_object_get(j, "iou"), *cat_iou = json_object_get(j, "category_iou");
        CHECK(json_object_size(iou) == 19 && near(json_real_value(json_object_get(iou, "road")), 50.0 / 60),
              "iou.road is 50/60");
        CHECK(json_is_null(json_object_get(iou, "wall")) && json_is_null(json_object_get(iou, "bicycle")),
              "absent classes are null");
        CHECK(json_is_null(json_object_get(cat_iou, "object")) &&
                  near(json_real_value(json_object_get(cat_iou, "flat")), 80.0 / 85),
              "category_iou: object null, flat 80/85");
        CHECK(near(json_real_value(json_object_get(j, "category_miou")), want_cat), "category_miou");
        CHECK(json_is_null(json_object_get(j, "miiou")) && json_is_null(json_object_get(j, "category_iiou")),
              "instance-level keys are null");
        CHECK(near(json_real_value(json_object_get(j, "pixel_acc")), 155.0 / 175), "pixel_acc 155/175");
        double recall = (50.0 / 60 + 20.0 / 25 + 1 + 1 + 15.0 / 20) / 5;
        CHECK(near(json_real_value(json_object_get(j, "mean_acc")), recall), "mean_acc over the 5 classes with truth");
        CHECK(near(json_real_value(json_object_get(j, "miou")), facs_confusion_miou(&cm)), "miou");
        json_decref(j);
    }

    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    facs_seg_results_print(&cm, NULL, f);
    fclose(f);
    CHECK(strstr(text, "left out of the mean: wall, fence, pole,") != NULL, "the absent classes are listed:\n%s", text);
    CHECK(strstr(text, "(5 of 19 classes)") && strstr(text, "vehicle           0.7500") &&
              strstr(text, "object                 -"),
          "summary and category table:\n%s", text);
    free(text);
    facs_confusion_free(&cat);
    facs_confusion_free(&cm);
}

static void other_classes_and_bad_groups(void)
{
    facs_confusion cm, out = {0};
    if (!CHECK_OK(facs_confusion_init(&cm, 3)))
        return;
    add(&cm, 0, 0, 2);
    add(&cm, 2, 1, 1);
    json_t *j = facs_seg_results_json(&cm, NULL);
    if (CHECK_PTR(j)) {
        json_t *iou = json_object_get(j, "iou");
        CHECK(json_object_size(iou) == 3 && near(json_real_value(json_object_get(iou, "0")), 1) &&
                  json_real_value(json_object_get(iou, "1")) == 0 && json_real_value(json_object_get(iou, "2")) == 0,
              "3 classes: named by index");
        CHECK(json_is_null(json_object_get(j, "category_iou")) && json_is_null(json_object_get(j, "category_miou")),
              "no categories outside Cityscapes");
        json_decref(j);
    }
    static const uint8_t bad[3] = {0, 1, 2};
    CHECK(facs_confusion_group(&cm, bad, 2, &out) == FACS_ERR_ARG && strstr(facs_last_error(), "class 2 is in group 2"),
          "a group outside [0, groups) is refused: %s", facs_last_error());
    facs_confusion_free(&cm);
}

int main(void)
{
    cityscapes_case();
    other_classes_and_bad_groups();
    return test_finish();
}
