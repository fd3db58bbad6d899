/* The model pass of cam.h: one forward in eval mode with the tape, the target
 * score's gradient seeded at the logits, one backward down to the tap. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "autograd.h"
#include "cam.h"

void facs_cam_freeze(facs_model *model)
{
    facs_param_list *params = facs_model_params(model);
    for (int i = 0; i < params->count; i++)
        if (params->items[i]->kind == FACS_PARAM_TRAINABLE)
            facs_param_set_frozen(params->items[i], 1);
}

void facs_cam_grads_free(facs_cam_grads *g)
{
    free(g->activations);
    free(g->gradients);
    free(g->ranking);
    *g = (facs_cam_grads){0};
}

/* The logits (C, P) on the host, P = 1 for a classifier: class-major planes. */
typedef struct {
    float *v;
    int classes;
    size_t pixels;
} host_logits;

/* Per pixel, the class of the largest logit (the first on a tie, as torch.argmax). */
static int argmax_at(const host_logits *l, size_t p)
{
    int best = 0;
    for (int c = 1; c < l->classes; c++)
        if (l->v[c * l->pixels + p] > l->v[best * l->pixels + p])
            best = c;
    return best;
}

static double softmax_at(const host_logits *l, size_t p, int cls)
{
    double top = l->v[argmax_at(l, p) * l->pixels + p], sum = 0;
    for (int c = 0; c < l->classes; c++)
        sum += exp(l->v[c * l->pixels + p] - top);
    return exp(l->v[cls * l->pixels + p] - top) / sum;
}

static const double *sort_keys; /* qsort has no user pointer: one ranking at a time */

static int by_key_desc(const void *a, const void *b)
{
    int i = *(const int *)a, j = *(const int *)b;
    if (sort_keys[i] != sort_keys[j])
        return sort_keys[i] > sort_keys[j] ? -1 : 1;
    return i - j;
}

/* Classes best first: by logit, or (segmentation) by predicted pixels. */
static facs_status rank_classes(const host_logits *l, int segmentation, int *ranking)
{
    double *keys = calloc((size_t)l->classes, sizeof *keys);
    if (!keys)
        return facs_fail(FACS_ERR_MEMORY, "cam: out of memory ranking %d classes", l->classes);
    for (int c = 0; c < l->classes; c++)
        keys[c] = segmentation ? 0.0 : l->v[c];
    for (size_t p = 0; segmentation && p < l->pixels; p++)
        keys[argmax_at(l, p)] += 1;
    for (int c = 0; c < l->classes; c++)
        ranking[c] = c;
    sort_keys = keys;
    qsort(ranking, (size_t)l->classes, sizeof *ranking, by_key_desc);
    free(keys);
    return FACS_OK;
}

/* The gradient of the target score at the logits (C, P), into seed (NCHW),
 * and the score, probability and pixel count of out. */
static void seed_target(const host_logits *l, int segmentation, const uint8_t *mask, facs_cam_grads *out, float *seed)
{
    int cls = out->cls;
    memset(seed, 0, (size_t)l->classes * l->pixels * sizeof *seed);
    if (!segmentation) {
        seed[cls] = 1;
        out->score = l->v[cls];
        out->probability = softmax_at(l, 0, cls);
        return;
    }
    double score = 0, prob = 0;
    for (size_t p = 0; p < l->pixels; p++) {
        if (mask ? !mask[p] : argmax_at(l, p) != cls)
            continue;
        seed[cls * l->pixels + p] = 1;
        score += l->v[cls * l->pixels + p];
        prob += softmax_at(l, p, cls);
        out->pixels++;
    }
    out->score = score;
    out->probability = out->pixels ? prob / (double)out->pixels : 0.0;
}

/* A malloc'd NCHW host copy of t (zeros for t NULL: a gradient backward never wrote). */
static float *host_copy(const facs_tensor *t, const facs_tensor *like)
{
    size_t n = facs_tensor_numel(like);
    float *v = calloc(n, sizeof *v);
    if (v && t && facs_tensor_to_nchw(t, v, n) != FACS_OK) {
        free(v);
        return NULL;
    }
    return v;
}

static facs_status run(facs_ctx *ctx, facs_model *model, facs_tensor *x, const facs_cam_target *target,
                       facs_cam_grads *out, host_logits *l, float **seed)
{
    const char *arch = facs_model_get_options(model)->arch;
    int segmentation = facs_model_is_segmentation(model);
    facs_tensor *logits = facs_model_forward(ctx, model, x), *tap = facs_model_tap(model);
    if (!logits)
        return facs_last_status();
    if (!tap)
        return facs_fail(FACS_ERR_ARG, "cam: %s has no tapped layer (facs_model_set_tap)", arch);
    if (target->mask && !segmentation)
        return facs_fail(FACS_ERR_ARG, "cam: a mask target needs a segmentation model, and %s classifies", arch);
    if (segmentation && (logits->h != x->h || logits->w != x->w)) /* a mask is given at the input's size */
        return facs_fail(FACS_ERR_ARG, "cam: %s's logits are %dx%d, not the input's %dx%d", arch, logits->h,
                         logits->w, x->h, x->w);
    *l = (host_logits){NULL, logits->c, (size_t)logits->h * logits->w};
    out->classes = logits->c;
    if (!(l->v = host_copy(logits, logits)) || !(*seed = malloc(facs_tensor_bytes(logits))) ||
        !(out->ranking = malloc((size_t)l->classes * sizeof *out->ranking)))
        return facs_fail(FACS_ERR_MEMORY, "cam: out of memory for the logits");
    FACS_TRY(rank_classes(l, segmentation, out->ranking));
    out->cls = target->cls < 0 ? out->ranking[0] : target->cls;
    if (out->cls >= l->classes)
        return facs_fail(FACS_ERR_ARG, "cam: class %d is out of range: %s has %d classes (0 .. %d)", out->cls, arch,
                         l->classes, l->classes - 1);
    seed_target(l, segmentation, target->mask, out, *seed);
    facs_tensor *grad = facs_ctx_like(ctx, logits);
    if (!grad)
        return facs_last_status();
    FACS_TRY(facs_tensor_from_nchw(grad, *seed, facs_tensor_numel(grad)));
    facs_keep_grad(tap);
    FACS_TRY(facs_backward(ctx, logits, grad));
    *out = (facs_cam_grads){.channels = tap->c, .height = tap->h, .width = tap->w, .cls = out->cls,
                            .score = out->score, .probability = out->probability, .pixels = out->pixels,
                            .classes = out->classes, .ranking = out->ranking,
                            .activations = host_copy(tap, tap), .gradients = host_copy(tap->grad, tap)};
    if (!out->activations || !out->gradients)
        return facs_fail(FACS_ERR_MEMORY, "cam: out of memory for the %dx%dx%d tapped map", tap->c, tap->h, tap->w);
    return FACS_OK;
}

facs_status facs_cam_gradients(facs_ctx *ctx, facs_model *model, const float *image, int height, int width,
                               const facs_cam_target *target, facs_cam_grads *out)
{
    *out = (facs_cam_grads){0};
    if (target->cls < -1)
        return facs_fail(FACS_ERR_ARG, "cam: class %d is out of range", target->cls);
    facs_ctx_begin_step(ctx);
    facs_ctx_set_mode(ctx, 0, 1);
    facs_tensor *x = facs_ctx_tensor(ctx, FACS_F32, 1, 3, height, width);
    if (!x)
        return facs_last_status();
    FACS_TRY(facs_tensor_from_nchw(x, image, facs_tensor_numel(x)));
    host_logits l = {0};
    float *seed = NULL;
    facs_status s = run(ctx, model, x, target, out, &l, &seed);
    free(l.v);
    free(seed);
    if (s != FACS_OK)
        facs_cam_grads_free(out);
    return s;
}
