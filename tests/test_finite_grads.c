/* The training steps' guard (train/finite.h): all-finite gradients pass; NaN,
 * +Inf and -Inf are counted and the first bad parameter in list order is
 * named, whatever comes after it; buffers and parameters without a gradient
 * are not looked at; on the meta device there is nothing to count; a
 * gradient on another device than the context's is refused by name. Two
 * steps in a row, so the counters (scratch of the context) start at zero
 * every time. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "finite.h"
#include "test_util.h"

#define N 1031 /* odd, and more than one 256-thread block of counting on CUDA */

/* grad of p = 0.5 everywhere but `bad` values at the front: NaN, +Inf, -Inf in turn. */
static int set_grad(facs_param *p, int bad)
{
    static float g[N];
    const float kinds[] = {NAN, INFINITY, -INFINITY};
    for (int i = 0; i < N; i++)
        g[i] = i < bad ? kinds[i % 3] : 0.5f;
    return CHECK_OK(facs_tensor_ensure_grad(p->value)) && CHECK_OK(facs_tensor_upload(p->value->grad, g, sizeof g));
}

/* facs_check_finite_grads in a fresh step of ctx; its message in why. */
static facs_status check(facs_ctx *ctx, const facs_param_list *params, char *why, size_t size)
{
    facs_ctx_begin_step(ctx);
    facs_clear_error();
    facs_status s = facs_check_finite_grads(ctx, params);
    snprintf(why, size, "%s", facs_last_error());
    return s;
}

static void on_cpu(void)
{
    facs_param_list params;
    facs_param_list_init(&params);
    facs_ctx *ctx = facs_ctx_create(FACS_DEVICE_CPU);
    const char *names[] = {"a.weight", "b.weight", "c.weight"};
    facs_param *p[3];
    for (int i = 0; i < 3; i++)
        p[i] = facs_param_list_add(&params, FACS_PARAM_TRAINABLE, names[i], FACS_DEVICE_CPU, N, 1, 1, 1);
    facs_param *buffer = facs_param_list_add(&params, FACS_PARAM_BUFFER, "bn.running_mean", FACS_DEVICE_CPU, N, 1, 1, 1);
    facs_param *no_grad = facs_param_list_add(&params, FACS_PARAM_TRAINABLE, "unused.weight", FACS_DEVICE_CPU, 3, 1, 1, 1);
    if (!CHECK_PTR(ctx) || !CHECK(p[0] && p[1] && p[2] && buffer && no_grad, "parameters: %s", facs_last_error()))
        goto out;
    char why[512];
    for (int i = 0; i < 3; i++)
        set_grad(p[i], 0);
    /* A buffer's gradient is no parameter's: it must not be looked at. */
    set_grad(buffer, 5);
    CHECK(check(ctx, &params, why, sizeof why) == FACS_OK, "finite gradients refused: %s", why);

    set_grad(p[1], 7);
    set_grad(p[2], 1);
    CHECK(check(ctx, &params, why, sizeof why) == FACS_ERR_ARG && strstr(why, "b.weight has 7 non-finite values"),
          "NaN and infinities in b.weight and c.weight: %s", why);
    CHECK(check(ctx, &params, why, sizeof why) == FACS_ERR_ARG && strstr(why, "b.weight has 7 non-finite values"),
          "the same check in the next step: %s", why);
    set_grad(p[1], 0);
    CHECK(check(ctx, &params, why, sizeof why) == FACS_ERR_ARG && strstr(why, "c.weight has 1 non-finite values"),
          "a NaN in c.weight alone: %s", why);
    set_grad(p[2], N);
    CHECK(check(ctx, &params, why, sizeof why) == FACS_ERR_ARG && strstr(why, "c.weight has 1031 non-finite values"),
          "every value of c.weight: %s", why);
    set_grad(p[2], 0);
    CHECK(check(ctx, &params, why, sizeof why) == FACS_OK, "finite again: %s", why);

    facs_param *elsewhere = facs_param_list_add(&params, FACS_PARAM_TRAINABLE, "meta.weight", FACS_DEVICE_META, 4, 1, 1, 1);
    if (CHECK_PTR(elsewhere) && CHECK_OK(facs_tensor_ensure_grad(elsewhere->value)))
        CHECK(check(ctx, &params, why, sizeof why) == FACS_ERR_ARG && strstr(why, "meta.weight is on meta"),
              "a gradient on another device: %s", why);
out:
    /* Only parameters own their gradients (tensor.h): the buffer's is the test's to free. */
    if (buffer && buffer->value->grad && !buffer->value->is_param) {
        facs_tensor_free(buffer->value->grad);
        buffer->value->grad = NULL;
    }
    facs_ctx_free(ctx);
    facs_param_list_free(&params);
}

/* Meta gradients have no values: nothing is bad. */
static void on_meta(void)
{
    facs_param_list params;
    facs_param_list_init(&params);
    facs_ctx *ctx = facs_ctx_create(FACS_DEVICE_META);
    facs_param *p = facs_param_list_add(&params, FACS_PARAM_TRAINABLE, "w", FACS_DEVICE_META, N, 1, 1, 1);
    char why[512];
    if (CHECK_PTR(ctx) && CHECK_PTR(p) && CHECK_OK(facs_tensor_ensure_grad(p->value)))
        CHECK(check(ctx, &params, why, sizeof why) == FACS_OK, "meta gradients refused: %s", why);
    facs_ctx_free(ctx);
    facs_param_list_free(&params);
}

int main(void)
{
    on_cpu();
    on_meta();
    return test_finish();
}
