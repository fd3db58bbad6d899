/* The colours of eval/colormap.h against tests/ref/ref_colormap.py: OpenCV's
 * COLORMAP_JET (all 256 entries, exact; from cv2 when python3-opencv is
 * installed, else OpenCV's construction rebuilt in numpy), the JET colour of
 * float cams as pytorch-grad-cam computes it, the Cityscapes palette and names
 * (torchvision) and the PASCAL VOC palette. Then label maps to colours and
 * blending, with exact hand-computed pixels. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "colormap.h"
#include "test_util.h"

static int *read_i32(h5_file *ref, const char *name, size_t *rows, size_t *cols)
{
    int rank;
    size_t dims[8] = {0};
    int *v = h5_read_i32(ref, name, &rank, dims);
    CHECK(v != NULL, "reference %s missing", name);
    *rows = dims[0];
    if (cols)
        *cols = rank > 1 ? dims[1] : 1;
    return v;
}

static int same_rgb(const uint8_t *got, const int *want)
{
    return got[0] == want[0] && got[1] == want[1] && got[2] == want[2];
}

static void jet(h5_file *ref)
{
    size_t rows, cols;
    int *table = read_i32(ref, "/jet", &rows, &cols);
    printf("JET reference: %s\n", h5_attr_int(ref, "/", "opencv", 0) ? "cv2.applyColorMap"
                                                                       : "OpenCV's construction rebuilt (no cv2)");
    if (table && CHECK(rows == 256 && cols == 3, "jet reference is %zux%zu", rows, cols)) {
        int bad = 0;
        for (int i = 0; i < 256; i++)
            if (!same_rgb(facs_jet_table[i], table + 3 * i)) {
                if (bad++ < 5)
                    printf("  entry %d: %d,%d,%d, OpenCV %d,%d,%d\n", i, facs_jet_table[i][0], facs_jet_table[i][1],
                           facs_jet_table[i][2], table[3 * i], table[3 * i + 1], table[3 * i + 2]);
            }
        CHECK(bad == 0, "%d of 256 JET entries differ from OpenCV's", bad);
    }
    free(table);
    /* A few entries as OpenCV 4.6 gives them, so the table is pinned even if the reference changed. */
    static const int anchors[][4] = {{0, 0, 0, 128},     {32, 0, 0, 255},     {64, 0, 128, 255},
                                     {96, 2, 255, 254},  {128, 130, 255, 126}, {160, 255, 252, 0},
                                     {192, 255, 124, 0}, {224, 252, 0, 0},     {255, 128, 0, 0}};
    for (size_t i = 0; i < sizeof anchors / sizeof anchors[0]; i++)
        CHECK(same_rgb(facs_jet_table[anchors[i][0]], anchors[i] + 1), "JET entry %d", anchors[i][0]);

    int rank;
    size_t dims[8];
    float *cam = h5_read_f32(ref, "/cam", &rank, dims);
    size_t n = cam ? dims[0] : 0, heat_rows;
    int *heat = read_i32(ref, "/heat", &heat_rows, NULL);
    if (cam && heat && CHECK(heat_rows == n, "cam and heat sizes differ")) {
        int bad = 0;
        for (size_t i = 0; i < n; i++) {
            uint8_t rgb[3];
            facs_jet_rgb(cam[i], rgb);
            if (!same_rgb(rgb, heat + 3 * i) && bad++ < 5)
                printf("  cam %.9g: %d,%d,%d, pytorch-grad-cam %d,%d,%d\n", cam[i], rgb[0], rgb[1], rgb[2],
                       heat[3 * i], heat[3 * i + 1], heat[3 * i + 2]);
        }
        CHECK(bad == 0, "%d of %zu cam colours differ from cv2.applyColorMap(np.uint8(255 * cam))", bad, n);
        facs_image img;
        if (CHECK_OK(facs_jet_to_rgb(cam, (int)n, 1, &img))) {
            int same = img.channels == 3 && img.width == (int)n && img.height == 1;
            for (size_t i = 0; same && i < n; i++)
                same = same_rgb(img.pixels + 3 * i, heat + 3 * i);
            CHECK(same, "facs_jet_to_rgb must colour every value as facs_jet_rgb");
            facs_image_free(&img);
        }
    }
    free(cam);
    free(heat);
    uint8_t rgb[3];
    facs_jet_rgb(-0.5f, rgb);
    CHECK(same_rgb(rgb, (const int[]){0, 0, 128}), "values below 0 take entry 0");
    facs_jet_rgb(7.0f, rgb);
    CHECK(same_rgb(rgb, (const int[]){128, 0, 0}), "values above 1 take entry 255");
    facs_jet_rgb(NAN, rgb);
    CHECK(same_rgb(rgb, (const int[]){0, 0, 128}), "NaN takes entry 0");
}

static void palettes(h5_file *ref)
{
    size_t rows, cols;
    int *rgb = read_i32(ref, "/cityscapes_rgb", &rows, &cols);
    int *names = read_i32(ref, "/cityscapes_names", &rows, &cols);
    if (rgb && names && CHECK(rows == FACS_CITYSCAPES_CLASSES, "torchvision lists %zu trainIds", rows))
        for (int c = 0; c < FACS_CITYSCAPES_CLASSES; c++) {
            char name[64] = {0};
            for (size_t j = 0; j < cols && j < sizeof name - 1; j++)
                name[j] = (char)names[c * cols + j];
            CHECK(same_rgb(facs_cityscapes_palette[c], rgb + 3 * c), "Cityscapes colour of %s: %d,%d,%d, want %d,%d,%d",
                  name, facs_cityscapes_palette[c][0], facs_cityscapes_palette[c][1], facs_cityscapes_palette[c][2],
                  rgb[3 * c], rgb[3 * c + 1], rgb[3 * c + 2]);
            CHECK(strcmp(facs_cityscapes_class_names[c], name) == 0, "Cityscapes trainId %d: '%s', torchvision '%s'",
                  c, facs_cityscapes_class_names[c], name);
        }
    free(rgb);
    free(names);
    size_t count;
    int *index = read_i32(ref, "/voc_index", &count, NULL);
    int *voc = read_i32(ref, "/voc", &rows, &cols);
    if (index && voc) {
        int bad = 0;
        for (size_t i = 0; i < count; i++) {
            uint8_t c[3];
            facs_palette_rgb(index[i], c);
            bad += !same_rgb(c, voc + 3 * i);
        }
        CHECK(bad == 0, "%d of %zu VOC palette colours differ", bad, count);
    }
    free(index);
    free(voc);
}

static void labels_and_blend(void)
{
    const int32_t labels[6] = {0, 18, 255, 13, -1, 2};
    static const uint8_t grey[3] = {7, 8, 9};
    facs_image img;
    if (CHECK_OK(facs_labels_to_rgb(labels, 3, 2, facs_cityscapes_palette, FACS_CITYSCAPES_CLASSES, grey, &img))) {
        static const uint8_t want[6][3] = {{128, 64, 128}, {119, 11, 32}, {7, 8, 9},
                                           {0, 0, 142},    {7, 8, 9},     {70, 70, 70}};
        CHECK(img.width == 3 && img.height == 2 && img.channels == 3 && memcmp(img.pixels, want, sizeof want) == 0,
              "label map in Cityscapes colours (road, bicycle, ignore, car, -1, building)");
        facs_image_free(&img);
    }
    if (CHECK_OK(facs_labels_to_rgb(labels, 6, 1, NULL, 256, NULL, &img))) {
        static const uint8_t want[6][3] = {{0, 0, 0},     {0, 192, 0}, {224, 224, 192},
                                           {192, 0, 128}, {0, 0, 0},   {0, 128, 0}};
        CHECK(memcmp(img.pixels, want, sizeof want) == 0, "label map in VOC colours (0, 18, 255, 13, -1 black, 2)");
        facs_image_free(&img);
    }
    CHECK(facs_labels_to_rgb(labels, 0, 2, NULL, 3, NULL, &img) == FACS_ERR_ARG, "a 0-wide map must be refused");

    uint8_t a[2 * 3] = {0, 100, 255, 10, 20, 30}, b[2 * 3] = {255, 200, 0, 10, 21, 31};
    facs_image base = {2, 1, 3, a}, over = {2, 1, 3, b};
    CHECK_OK(facs_blend(&base, &over, 0.5f));
    /* 127.5 -> 128, 150, 127.5 -> 128, 10, 20.5 -> 21, 30.5 -> 31 (half up) */
    static const uint8_t half[6] = {128, 150, 128, 10, 21, 31};
    CHECK(memcmp(a, half, 6) == 0, "blend at 0.5: got %d %d %d %d %d %d", a[0], a[1], a[2], a[3], a[4], a[5]);
    uint8_t c[3] = {100, 0, 255}, d[3] = {200, 255, 0};
    facs_image base1 = {1, 1, 3, c}, over1 = {1, 1, 3, d};
    CHECK_OK(facs_blend(&base1, &over1, 0.25f));
    CHECK(c[0] == 125 && c[1] == 64 && c[2] == 191, "blend at 0.25: %d %d %d, want 125 64 191", c[0], c[1], c[2]);
    CHECK_OK(facs_blend(&base1, &over1, 1.0f));
    CHECK(c[0] == 200 && c[1] == 255 && c[2] == 0, "blend at 1 gives the overlay");
    CHECK_OK(facs_blend(&base1, &over1, 0.0f));
    CHECK(c[0] == 200 && c[1] == 255 && c[2] == 0, "blend at 0 keeps the image");
    CHECK(facs_blend(&base1, &over1, 1.5f) == FACS_ERR_ARG, "alpha 1.5 must be refused");
    CHECK(facs_blend(&base, &over1, 0.5f) == FACS_ERR_ARG, "blending images of different sizes must fail");
}

int main(int argc, char **argv)
{
    h5_file *ref = test_open_ref(argc, argv);
    jet(ref);
    palettes(ref);
    labels_and_blend();
    h5_close(ref);
    return test_finish();
}
