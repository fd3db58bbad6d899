/* libFuzzer target for the PNG decoder: every input goes through the image
 * path (with a channel conversion) and the label-map path. Built and run by
 * tests/fuzz/run_fuzz.sh. */
#include <stddef.h>
#include <stdint.h>

#include "image.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Reads every pixel into a volatile sink (so the loop is not optimised away):
 * a buffer shorter than width * height * channels shows up in ASan. */
static volatile unsigned sink;

static void touch(const facs_image *img)
{
    size_t n = (size_t)img->width * (size_t)img->height * (size_t)img->channels;
    for (size_t i = 0; i < n; i++)
        sink += img->pixels[i];
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const int wants[4] = {0, 1, 3, 4};
    facs_image img;
    int want = size ? wants[data[size - 1] & 3] : 0;
    if (facs_png_decode(data, size, "fuzz.png", want, 0, &img) == FACS_OK) {
        touch(&img);
        facs_image_free(&img);
    }
    if (facs_image_decode_label(data, size, "fuzz-label.png", &img) == FACS_OK) {
        touch(&img);
        facs_image_free(&img);
    }
    return 0;
}
