/* Colours for pictures: the Cityscapes palette, a palette for any number of
 * classes, OpenCV's COLORMAP_JET as pytorch-grad-cam applies it, and blending.
 *
 *     facs_image seg, heat;
 *     // a predicted trainId map (255 = ignore) in the official Cityscapes colours
 *     FACS_TRY(facs_labels_to_rgb(pred, w, h, facs_cityscapes_palette, FACS_CITYSCAPES_CLASSES, NULL, &seg));
 *     // a GradCAM map in [0, 1], coloured as pytorch-grad-cam's show_cam_on_image colours it
 *     FACS_TRY(facs_jet_to_rgb(cam, w, h, &heat));
 *     FACS_TRY(facs_blend(&frame, &heat, 0.5f));   // frame = frame * 0.5 + heat * 0.5
 *     FACS_TRY(facs_png_write("cam.png", &frame));
 *     facs_image_free(&seg); facs_image_free(&heat);
 *
 * Colours are RGB bytes. The Cityscapes palette and class names live with the
 * dataset (datasets/cityscapes.h, included here): facs_cityscapes_palette, the
 * official colour of each trainId 0..18 (road 128,64,128 ... bicycle
 * 119,11,32, as cityscapesScripts' labels.py has them), and
 * facs_cityscapes_class_names in the same order. */
#ifndef FACS_COLORMAP_H
#define FACS_COLORMAP_H

#include <stdint.h>

#include "cityscapes.h"
#include "image.h"

/* Colour of class index for any number of classes: the PASCAL VOC palette
 * (index 0 black, 1 128,0,0, 2 0,128,0, ...: the bits of index spread over the
 * high bits of R, G and B), distinct for every index below 2^24. Negative
 * indices are black. */
void facs_palette_rgb(int index, uint8_t rgb[3]);

/* A label map (width x height int32, row-major) as an RGB image (allocated
 * into *out): label l in [0, classes) gets palette[l], anything else (255 =
 * ignore) gets other (NULL: black). palette NULL uses facs_palette_rgb. */
facs_status facs_labels_to_rgb(const int32_t *labels, int width, int height, const uint8_t (*palette)[3],
                               int classes, const uint8_t other[3], facs_image *out);

/* OpenCV's COLORMAP_JET look-up table (entries 0..255, RGB), exactly what
 * cv2.applyColorMap gives with its BGR output turned to RGB. OpenCV builds it
 * from GNU Octave's jet(256) (piecewise-linear control points 0, 1/8, 3/8, 5/8,
 * 7/8, 1), interpolated in float at 256 points and rounded to bytes; the float
 * rounding makes some entries differ by one from rounding the exact values, so
 * the table is stored as OpenCV 4.6 produces it (tests/ref/ref_colormap.py
 * checks all 256 entries). Entry 0 is 0,0,128 (dark blue), 255 is 128,0,0. */
extern const uint8_t facs_jet_table[256][3];

/* The JET colour of v as pytorch-grad-cam computes it for a float32 cam:
 * cv2.applyColorMap(np.uint8(255 * cam), COLORMAP_JET), BGR -> RGB, i.e. entry
 * (int)(255.0f * v), the product truncated. v is clamped to [0, 1] first (NaN
 * counts as 0), where numpy would wrap around. */
void facs_jet_rgb(float v, uint8_t rgb[3]);

/* facs_jet_rgb of every value of a width x height map, as an RGB image. */
facs_status facs_jet_to_rgb(const float *values, int width, int height, facs_image *out);

/* img = img * (1 - alpha) + over * alpha per channel, computed in float and
 * rounded half up; img and over must have the same size and channel count;
 * alpha in [0, 1]. */
facs_status facs_blend(facs_image *img, const facs_image *over, float alpha);

#endif
