/* The context's weight cache (ctx.h facs_ctx_set_weight_cache): a conv whose
 * weight oneDNN wants in a blocked layout gives bit for bit the uncached
 * result, keeps one cached copy however often it runs, and follows every
 * change the library makes to the weight (an upload, an SGD step) or that
 * code announces with facs_tensor_touch. */
#include <stdlib.h>
#include <string.h>

#include "optim.h"
#include "test_util.h"

enum { N = 2, C = 64, HW = 9 };

/* conv 3x3 (C -> C, padding 1) of x with w in ctx, as NCHW values. */
static float *conv(facs_ctx *ctx, const float *x, facs_tensor *w)
{
    facs_ctx_set_mode(ctx, 0, 0);
    facs_ctx_begin_step(ctx);
    facs_conv2d_params p = facs_conv2d_defaults();
    p.pad_h = p.pad_w = 1;
    facs_tensor *y = facs_conv2d(ctx, test_tensor(ctx, N, C, HW, HW, x), w, NULL, &p);
    return CHECK_PTR(y) ? test_nchw(y) : NULL;
}

static void expect_same(const char *what, facs_ctx *cached, facs_ctx *plain, const float *x, facs_tensor *w)
{
    float *a = conv(cached, x, w), *b = conv(plain, x, w);
    CHECK(a && b && memcmp(a, b, (size_t)N * C * HW * HW * sizeof *a) == 0, "%s: cached and uncached differ", what);
    free(a), free(b);
}

int main(void)
{
    facs_ctx *cached = facs_ctx_create(FACS_DEVICE_CPU), *plain = facs_ctx_create(FACS_DEVICE_CPU);
    CHECK_OK(facs_ctx_set_weight_cache(cached, 1));
    float *x = malloc((size_t)N * C * HW * HW * sizeof *x), *wv = malloc((size_t)C * C * 9 * sizeof *wv);
    test_fill(x, (size_t)N * C * HW * HW, -1, 1);
    test_fill(wv, (size_t)C * C * 9, -0.1, 0.1);
    facs_tensor *w = test_param(C, C, 3, 3, wv);

    expect_same("first call", cached, plain, x, w);
    CHECK(facs_ctx_weight_cache_count(cached) == 1, "a blocked-layout weight is cached (%d entries)",
          facs_ctx_weight_cache_count(cached));
    for (int i = 0; i < 3; i++)
        expect_same("repeated call", cached, plain, x, w);
    CHECK(facs_ctx_weight_cache_count(cached) == 1, "still one entry after repeated calls, not %d",
          facs_ctx_weight_cache_count(cached));

    test_fill(wv, (size_t)C * C * 9, -0.2, 0.2);
    CHECK_OK(facs_tensor_from_nchw(w, wv, (size_t)C * C * 9));
    expect_same("after an upload", cached, plain, x, w);

    /* An SGD step changes the weight in place. */
    facs_param_list list;
    facs_param_list_init(&list);
    facs_param *p = facs_param_list_add(&list, FACS_PARAM_TRAINABLE, "w", FACS_DEVICE_CPU, C, C, 3, 3);
    CHECK_OK(facs_tensor_from_nchw(p->value, wv, (size_t)C * C * 9));
    expect_same("a parameter", cached, plain, x, p->value);
    CHECK_OK(facs_tensor_ensure_grad(p->value));
    test_fill(facs_f32(p->value->grad), facs_tensor_numel(p->value), -1, 1);
    facs_sgd sgd;
    facs_sgd_options o = facs_sgd_defaults();
    o.lr = 0.5;
    CHECK_OK(facs_sgd_init(&sgd, &list, &o));
    CHECK_OK(facs_sgd_step(&sgd));
    expect_same("after an SGD step", cached, plain, x, p->value);

    /* A direct write is announced with facs_tensor_touch. */
    facs_f32(w)[0] += 1.0f;
    facs_tensor_touch(w);
    expect_same("after a touched direct write", cached, plain, x, w);

    CHECK_OK(facs_ctx_set_weight_cache(cached, 0));
    CHECK(facs_ctx_weight_cache_count(cached) == 0, "turning the cache off empties it");
    expect_same("cache off", cached, plain, x, w);
    facs_param_list_free(&list);
    facs_tensor_free(w);
    free(x), free(wv);
    facs_ctx_free(cached);
    facs_ctx_free(plain);
    return test_finish();
}
