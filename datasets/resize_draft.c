/* Crop + resize of an encoded image from a JPEG draft decode (augment.h's
 * facs_image_resize_draft): what PIL computes after Image.draft, so that a
 * RandomResizedCrop of a large photo decodes a quarter, a sixteenth or a
 * sixty-fourth of its pixels. */
#include <string.h>

#include "augment.h"

/* PIL's draft rule for a box: the largest of 8, 4, 2 that leaves the box at
 * least oh x ow pixels (min(w // ow, h // oh)); 1 when none does. */
static int draft_scale(facs_window box, int oh, int ow)
{
    int fit = box.width / ow < box.height / oh ? box.width / ow : box.height / oh;
    return fit >= 8 ? 8 : fit >= 4 ? 4 : fit >= 2 ? 2 : 1;
}

facs_status facs_image_resize_draft(const uint8_t *buf, size_t len, const char *name, int channels,
                                    facs_window box, int oh, int ow, facs_image *out, int *scale_used)
{
    memset(out, 0, sizeof *out);
    int width, height, jpeg;
    FACS_TRY(facs_image_probe(buf, len, name, &width, &height, &jpeg));
    if (box.top < 0 || box.left < 0 || box.height < 1 || box.width < 1 || box.top + box.height > height ||
        box.left + box.width > width || oh < 1 || ow < 1)
        return facs_fail(FACS_ERR_ARG, "%s: box (%d, %d, %d, %d) of a %dx%d image to %dx%d", name, box.top,
                         box.left, box.height, box.width, height, width, oh, ow);
    int scale = jpeg ? draft_scale(box, oh, ow) : 1;
    if (scale_used)
        *scale_used = scale;
    facs_image img;
    FACS_TRY(facs_image_decode_draft(buf, len, name, channels, scale, &img));
    facs_status s;
    if (scale == 1) {
        s = facs_image_resize_pil(&img, box, oh, ow, out);
    } else {
        /* The box in the reduced image's coordinates, as PIL's draft returns it. */
        const double reduced[4] = {(double)box.left / scale, (double)box.top / scale,
                                   (double)(box.left + box.width) / scale, (double)(box.top + box.height) / scale};
        s = facs_image_resize_pil_box(&img, reduced, oh, ow, out);
    }
    facs_image_free(&img);
    return s;
}
