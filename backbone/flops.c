/* The two FLOP conventions of flops.h. */
#include "flops.h"

#include <string.h>

static int64_t numel(const facs_tensor *t) { return t ? (int64_t)t->n * t->c * t->h * t->w : 0; }

static const facs_tensor *operand(const facs_tensor *const *inputs, int n_inputs, int i)
{
    return i < n_inputs ? inputs[i] : NULL;
}

facs_status facs_flops_convention_parse(const char *name, facs_flops_convention *convention)
{
    if (name && strcmp(name, "ptflops") == 0)
        *convention = FACS_FLOPS_PTFLOPS;
    else if (name && strcmp(name, "appendix-a") == 0)
        *convention = FACS_FLOPS_APPENDIX_A;
    else
        return facs_fail(FACS_ERR_ARG, "unknown FLOP convention '%s'; valid names: ptflops, appendix-a",
                         name ? name : "(null)");
    return FACS_OK;
}

const char *facs_flops_convention_name(facs_flops_convention convention)
{
    return convention == FACS_FLOPS_APPENDIX_A ? "appendix-a" : "ptflops";
}

/* conv2d and linear: w is (O, I/groups, KH, KW), so each output element takes
 * I/groups x KH x KW multiply-adds; a bias adds one per output element. */
static int64_t weighted_sum(const facs_tensor *w, const facs_tensor *b, const facs_tensor *out)
{
    return numel(out) * ((int64_t)w->c * w->h * w->w) + (b ? numel(out) : 0);
}

/* x (N, C, H, W) -> out (N, C/R, H, W) with w (C/R, C, 1, 1). */
static int64_t facs_op(facs_flops_convention convention, const facs_tensor *x, const facs_tensor *w,
                       const facs_tensor *b, const facs_tensor *out)
{
    int64_t squeezed = (int64_t)x->n * w->n; /* the C/R descriptor entries of the batch */
    int64_t pool = numel(x), blend = squeezed * w->c + (b ? squeezed : 0);
    if (convention == FACS_FLOPS_PTFLOPS)
        return pool + blend;
    int64_t fusion = (numel(x) - numel(out)); /* (R - 1) x C/R x H x W per image */
    return pool + blend + 4 * squeezed + fusion;
}

int64_t facs_flops_of_op(facs_flops_convention convention, const char *op, const facs_tensor *const *inputs,
                         int n_inputs, const facs_tensor *out)
{
    const facs_tensor *x = operand(inputs, n_inputs, 0), *w = operand(inputs, n_inputs, 1),
                      *b = operand(inputs, n_inputs, 2);
    int appendix = convention == FACS_FLOPS_APPENDIX_A;
    if (!op || !out)
        return 0;
    if ((strcmp(op, "conv2d") == 0 || strcmp(op, "linear") == 0) && w)
        return weighted_sum(w, b, out);
    if (strcmp(op, "facs") == 0 && x && w)
        return facs_op(convention, x, w, b, out);
    if (strcmp(op, "batchnorm2d") == 0)
        return (appendix ? 4 : 2) * numel(out);
    if (strcmp(op, "relu") == 0 || strcmp(op, "relu6") == 0)
        return numel(out);
    if (strcmp(op, "sigmoid") == 0)
        return appendix ? 4 * numel(out) : 0;
    if (strcmp(op, "maxpool2d") == 0 || strcmp(op, "avgpool2d") == 0 || strcmp(op, "adaptive_avgpool2d") == 0 ||
        strcmp(op, "global_avgpool") == 0)
        return numel(x);
    if (strcmp(op, "resize_bilinear") == 0)
        return numel(out);
    if (strcmp(op, "scale_channels") == 0)
        return appendix ? numel(out) : 0;
    if (strcmp(op, "channel_pool") == 0 && x)
        return appendix ? numel(x) - numel(out) : 0; /* (R - 1) x C/R x H x W per image */
    return 0;
}
