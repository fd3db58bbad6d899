/* libFuzzer target for the JPEG decoder, through the format detection of
 * facs_image_decode and with a channel conversion. Built and run by
 * tests/fuzz/run_fuzz.sh. */
#include <stddef.h>
#include <stdint.h>

#include "image.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static volatile unsigned sink;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const int wants[4] = {0, 1, 3, 4};
    facs_image img;
    int want = size ? wants[data[size - 1] & 3] : 0;
    if (facs_image_decode(data, size, "fuzz.jpg", want, &img) == FACS_OK) {
        /* Reads every pixel into a volatile sink, so a short buffer shows up in ASan. */
        size_t n = (size_t)img.width * (size_t)img.height * (size_t)img.channels;
        for (size_t i = 0; i < n; i++)
            sink += img.pixels[i];
        facs_image_free(&img);
    }
    /* The draft decode at the scale the input's last byte picks, checked the same way. */
    static const int scales[4] = {1, 2, 4, 8};
    int scale = size ? scales[(data[size - 1] >> 2) & 3] : 1;
    if (facs_jpeg_decode(data, size, "fuzz.jpg", 0, scale, &img) == FACS_OK) {
        size_t n = (size_t)img.width * (size_t)img.height * (size_t)img.channels;
        for (size_t i = 0; i < n; i++)
            sink += img.pixels[i];
        facs_image_free(&img);
    }
    int w, h, jpeg;
    (void)facs_image_probe(data, size, "fuzz.jpg", &w, &h, &jpeg);
    return 0;
}
