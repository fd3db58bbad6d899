/* Cityscapes (fine annotations) in its on-disk layout, and synthetic scenes
 * written in the same layout.
 *
 *     facs_cityscapes_pairs ds;
 *     if (facs_cityscapes_index("data/cityscapes", "train", &ds) != FACS_OK)
 *         fprintf(stderr, "%s\n", facs_last_error());   // names the folder or image
 *     for (int i = 0; i < ds.count; i++) {
 *         facs_image rgb, train_ids;
 *         if (facs_cityscapes_load_pair(&ds, i, &rgb, &train_ids) != FACS_OK) ...
 *         ... train_ids.pixels[y * train_ids.width + x] is 0..18 or 255 (ignore) ...
 *         facs_image_free(&rgb); facs_image_free(&train_ids);
 *     }
 *     facs_cityscapes_index_free(&ds);
 *
 * The layout, as distributed (leftImg8bit_trainvaltest.zip + gtFine_trainvaltest.zip):
 *   root/leftImg8bit/{split}/{city}/{stem}_leftImg8bit.png            the RGB frame
 *   root/gtFine/{split}/{city}/{stem}_gtFine_labelTrainIds.png        trainIds (0..18, 255 ignored),
 *                                         written by cityscapesscripts' createTrainIdLabelImgs
 *   root/gtFine/{split}/{city}/{stem}_gtFine_labelIds.png             the 34 official labelIds
 * with stem = {city}_{seq:06d}_{frame:06d} and split = train, val or test. A frame's
 * label is its labelTrainIds PNG when present, else its labelIds PNG mapped through
 * the official labelId -> trainId table (facs_cityscapes_train_id). Other files
 * (gtFine _color, _instanceIds, _polygons.json, temporaries) are ignored.
 *
 * The ignore label (index.ignore_label, 255 unless the caller sets it after
 * indexing, as pspnet-train --ignore-index does) is what a labelTrainIds PNG
 * holds for its void pixels, and what the void labelIds of a labelIds PNG
 * become. */
#ifndef FACS_CITYSCAPES_H
#define FACS_CITYSCAPES_H

#include <stdint.h>

#include "image.h"
#include "status.h"

#define FACS_CITYSCAPES_CLASSES 19
#define FACS_CITYSCAPES_IGNORE 255 /* trainId of every pixel that is not evaluated */
#define FACS_CITYSCAPES_LAST_LABEL_ID 33 /* labelIds PNGs hold 0..33 (license plates, id -1, are not drawn) */
#define FACS_CITYSCAPES_SPLITS 3   /* train, val, test */

/* The 19 evaluated classes in trainId order ("road" .. "bicycle"). */
extern const char *const facs_cityscapes_class_names[FACS_CITYSCAPES_CLASSES];
/* Their official colours (RGB), as in cityscapesscripts/helpers/labels.py. */
extern const uint8_t facs_cityscapes_palette[FACS_CITYSCAPES_CLASSES][3];
/* The official labelId of each trainId (road 7, sidewalk 8, ... bicycle 33). */
extern const uint8_t facs_cityscapes_label_ids[FACS_CITYSCAPES_CLASSES];
/* The 7 categories of the evaluated classes, as cityscapesScripts groups them
 * for its category IoU (labels.py's `category`; "void" holds no evaluated
 * class): flat, construction, object, nature, sky, human, vehicle. */
#define FACS_CITYSCAPES_CATEGORIES 7
extern const char *const facs_cityscapes_category_names[FACS_CITYSCAPES_CATEGORIES];
/* The category of each trainId (road 0 flat, ... bicycle 6 vehicle). */
extern const uint8_t facs_cityscapes_category_of[FACS_CITYSCAPES_CLASSES];
/* "train", "val", "test". */
extern const char *const facs_cityscapes_split_names[FACS_CITYSCAPES_SPLITS];

/* The trainId (0..18) of an official labelId, FACS_CITYSCAPES_IGNORE for every
 * other value (unlabeled, ego vehicle, void classes, -1, anything above 33). */
int facs_cityscapes_train_id(int label_id);

/* One frame of a split: its image and the label file that goes with it. */
typedef struct {
    char *image;       /* root/leftImg8bit/{split}/{city}/{stem}_leftImg8bit.png */
    char *label;       /* the labelTrainIds PNG, or the labelIds PNG when label_is_ids */
    int label_is_ids;  /* 1: label holds labelIds, mapped to trainIds on load */
} facs_cityscapes_pair;

/* The frames of one split in a deterministic order: cities sorted by name
 * (strcmp), then files within a city sorted by name. Owns every pointer. */
typedef struct {
    int count;
    facs_cityscapes_pair *pairs;
    int ignore_label; /* 0..255: the void value of loaded labels (above); the index sets 255 */
} facs_cityscapes_pairs;

/* Walks root/leftImg8bit/{split} and pairs every image with its label. split is
 * "train", "val" or "test". Fails (FACS_ERR_IO / FACS_ERR_FORMAT, message naming
 * the folder or the image) when the split folder cannot be read, when it holds no
 * image, or when an image has neither label file. On failure *index is empty. */
facs_status facs_cityscapes_index(const char *root, const char *split, facs_cityscapes_pairs *index);

/* Releases what facs_cityscapes_index allocated and zeroes *index (NULL and zeroed are fine). */
void facs_cityscapes_index_free(facs_cityscapes_pairs *index);

/* Decodes frame i: *image as RGB (3 channels), *label as 1 channel of trainIds
 * (labelIds already mapped, their void ones to the ignore label). Checks that the
 * label has the image's size (message names both files and sizes), that every
 * trainId is < 19 or the ignore label, and that every labelId is at most 33 (each
 * message names the file, the value and its x, y; a labelIds PNG holding 255 is
 * said to look like trainIds under the labelIds name). On failure both images are
 * left empty. */
facs_status facs_cityscapes_load_pair(const facs_cityscapes_pairs *index, int i, facs_image *image,
                                      facs_image *label);

/* Decodes frame i's label alone, as facs_cityscapes_load_pair does (trainIds,
 * labelIds mapped, values checked), without the image: for scoring. */
facs_status facs_cityscapes_load_label(const facs_cityscapes_pairs *index, int i, facs_image *label);

/* The frames of index as a loader dataset (loader.h): each sample is the RGB
 * image and its trainId map (label.map); index must outlive the dataset. */
struct facs_dataset;
void facs_cityscapes_dataset(const facs_cityscapes_pairs *index, struct facs_dataset *dataset);

/* What facs_cityscapes_check found. */
typedef struct {
    int present[FACS_CITYSCAPES_SPLITS]; /* 1 when root/leftImg8bit/{split} exists */
    int images[FACS_CITYSCAPES_SPLITS];  /* frames per split (train, val, test) */
    int from_label_ids;                  /* frames whose label came from a labelIds PNG */
    uint64_t pixels[FACS_CITYSCAPES_CLASSES]; /* labelled pixels per trainId, all splits */
    uint64_t ignored;                    /* pixels with trainId 255 */
} facs_cityscapes_report;

/* Decodes every image and label of every split present under root, filling
 * *report. Stops at the first bad file with its message: an image without a
 * label, and a label PNG (a {stem}_gtFine_labelTrainIds.png or
 * {stem}_gtFine_labelIds.png of gtFine/{split}/{city}, any split) without its
 * leftImg8bit image, named in the message with the image it lacks; fails too when no split folder is present
 * (the message says what was looked for). facs_cityscapes_index itself ignores
 * labels without images: training reads only the frames it has. */
facs_status facs_cityscapes_check(const char *root, facs_cityscapes_report *report);

/* Refuses (FACS_ERR_ARG, naming the option, path and folder) an output folder
 * path that is, or lies inside, root/leftImg8bit or root/gtFine: the indexer
 * would read what is written there as cities of a split (symbolic links and
 * ".." resolved; path need not exist yet). */
facs_status facs_cityscapes_check_output(const char *root, const char *option, const char *path);

/* Writes a synthetic Cityscapes tree under out_root (folders created when
 * missing): n_train frames in split train and n_val in val, each split spread
 * over 2 cities, frames of width x height (256 x 128 for tests; 2048 x 1024 is
 * the real size). Each frame is a street scene: sky, buildings, vegetation,
 * terrain, sidewalk and road with lane marks, cars, persons, poles with traffic
 * signs, and an ego-vehicle strip at the bottom (labelId 1, ignored). Regions are
 * painted near their class palette colour with a class-specific texture and pixel
 * noise, so the class is learnable from local appearance. For every frame the
 * _leftImg8bit, _gtFine_labelIds, _gtFine_labelTrainIds and _gtFine_color PNGs and
 * the 16-bit _gtFine_instanceIds PNG (for the iIoU metric) are written, each whole
 * or not at all (facs_png_write, facs_png_write16); the labelIds and labelTrainIds
 * agree through facs_cityscapes_train_id. instanceIds follow cityscapesScripts'
 * json2instanceImg: each person (24) and car (26), the only instance classes
 * drawn, is labelId * 1000 + k, k counting that class's objects in the frame in
 * drawing order; every other pixel holds its labelId. Later objects occlude
 * earlier ones, so instanceId / 1000 equals the labelId wherever instanceId >=
 * 1000, and instanceId equals it elsewhere. The result depends only on the arguments. Files of an
 * earlier run with more frames are not removed: write into a fresh folder.
 * Needs n_train, n_val >= 0 (at least one > 0) and width, height in [32, 4096]. */
facs_status facs_cityscapes_synth(const char *out_root, int n_train, int n_val, int width, int height, uint64_t seed);

#endif
