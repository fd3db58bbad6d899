/* libFuzzer target for label maps: every input goes through
 * facs_image_decode_label (the PNG label rules) and, when it decodes, through
 * the Cityscapes labelIds -> trainIds mapping the reader applies to a labelIds
 * PNG (facs_cityscapes_train_id on every pixel). The reader's own validation
 * works on files only, so the mapping is what is reachable from memory.
 * Besides memory errors (ASan, UBSan) it aborts when a decoded label map is not
 * 1-channel or when a mapped pixel is neither a trainId (< 19) nor 255, the
 * promise the loss relies on. Built and run by tests/fuzz/run_fuzz.sh. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "cityscapes.h"
#include "image.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    facs_image label;
    if (facs_image_decode_label(data, size, "fuzz_gtFine_labelIds.png", &label) != FACS_OK)
        return 0;
    if (label.channels != 1 || label.width <= 0 || label.height <= 0)
        abort();
    size_t n = (size_t)label.width * (size_t)label.height;
    for (size_t k = 0; k < n; k++) {
        int id = facs_cityscapes_train_id(label.pixels[k]);
        if (id < 0 || (id >= FACS_CITYSCAPES_CLASSES && id != FACS_CITYSCAPES_IGNORE))
            abort();
        label.pixels[k] = (uint8_t)id;
    }
    facs_image_free(&label);
    return 0;
}
