/* The tape and the arena: gradient fan-out, keeping an activation's gradient,
 * backward from a given output gradient, parameter accumulation across
 * backward calls, error propagation through NULL inputs, misuse refused
 * (a second backward of one graph, backward of a parameter) or made safe (a
 * parameter as an ordinary operand), arena reuse, and memory given back:
 * inference intermediates (keep_only), backward's gradients and scratch. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "test_util.h"

#define TOL 1e-6

/* y = relu(x) + sigmoid(x): x feeds two ops, so its gradient is the sum of
 * both paths, relu'(x) + s(x)(1 - s(x)). */
static void fan_out(facs_ctx *ctx)
{
    float x[6] = {-1.5f, -0.2f, 0.3f, 0.7f, 1.1f, 2.4f}, want[6];
    for (int i = 0; i < 6; i++) {
        double s = 1.0 / (1.0 + exp(-x[i]));
        want[i] = (float)((x[i] > 0) + s * (1.0 - s));
    }
    facs_ctx_begin_step(ctx);
    facs_tensor *tx = test_tensor(ctx, 1, 6, 1, 1, x);
    tx->requires_grad = 1;
    facs_tensor *y = facs_add(ctx, facs_relu(ctx, tx), facs_sigmoid(ctx, tx));
    if (CHECK_PTR(y) && CHECK_OK(facs_backward(ctx, y, NULL))) {
        float *got = test_grad_nchw(tx);
        test_close_f("fan-out: gradient sums both paths", got, want, 6, TOL);
        free(got);
    }
}

/* The backward profile hook hears every node once, newest first, by its op's
 * name: y = sigmoid(relu(x)) runs sigmoid's backward, then relu's. */
typedef struct {
    char ops[4][32];
    int count;
} heard_ops;

static void hear_backward(void *user, const char *op)
{
    heard_ops *h = user;
    if (h->count < 4)
        snprintf(h->ops[h->count], sizeof h->ops[0], "%s", op);
    h->count++;
}

static void profile_backward(facs_ctx *ctx)
{
    float x[3] = {-1.0f, 0.5f, 2.0f};
    heard_ops heard = {.count = 0};
    facs_ctx_begin_step(ctx);
    facs_tensor *tx = test_tensor(ctx, 1, 3, 1, 1, x);
    tx->requires_grad = 1;
    facs_tensor *y = facs_sigmoid(ctx, facs_relu(ctx, tx));
    ctx->profile_backward = hear_backward;
    ctx->profile_user = &heard;
    facs_status s = y ? facs_backward(ctx, y, NULL) : FACS_ERR_ARG;
    ctx->profile_backward = NULL;
    ctx->profile_user = NULL;
    if (CHECK_OK(s))
        CHECK(heard.count == 2 && !strcmp(heard.ops[0], "sigmoid") && !strcmp(heard.ops[1], "relu"),
              "backward's profile hook heard %d nodes (%s, %s), want sigmoid then relu", heard.count,
              heard.count > 0 ? heard.ops[0] : "-", heard.count > 1 ? heard.ops[1] : "-");
}

/* GradCAM marks a feature map: its gradient survives backward, the others' do not. */
static void keep_grad(facs_ctx *ctx)
{
    float x[4] = {0.5f, -1.0f, 2.0f, 3.0f};
    facs_ctx_begin_step(ctx);
    facs_tensor *tx = test_tensor(ctx, 1, 4, 1, 1, x);
    tx->requires_grad = 1;
    facs_tensor *kept = facs_relu(ctx, tx);
    facs_tensor *dropped = facs_sigmoid(ctx, kept);
    facs_tensor *y = facs_relu6(ctx, dropped);
    if (!CHECK_PTR(y))
        return;
    facs_keep_grad(kept);
    if (!CHECK_OK(facs_backward(ctx, y, NULL)))
        return;
    CHECK(kept->grad != NULL, "a kept activation has its gradient after backward");
    CHECK(dropped->grad == NULL, "an unmarked activation's gradient is dropped after backward");
    if (kept->grad) {
        /* d relu6(s(k)) / dk = s(k)(1 - s(k)) since 0 < s < 6. */
        float want[4], *got = test_nchw(kept->grad);
        for (int i = 0; i < 4; i++) {
            double k = x[i] > 0 ? x[i] : 0, s = 1.0 / (1.0 + exp(-k));
            want[i] = (float)(s * (1.0 - s));
        }
        test_close_f("kept gradient", got, want, 4, TOL);
        free(got);
    }
}

/* Backward from a given output gradient, and parameters accumulating over two
 * backward calls (gradient accumulation across micro-batches). */
static void grad_out_and_accumulation(facs_ctx *ctx)
{
    float w[6] = {1, 2, 3, 4, 5, 6}, x[3] = {0.5f, -1.0f, 2.0f}, dy[2] = {1.0f, -2.0f};
    facs_tensor *tw = test_param(2, 3, 1, 1, w);
    for (int call = 1; call <= 2; call++) {
        facs_ctx_begin_step(ctx);
        facs_tensor *y = facs_linear(ctx, test_tensor(ctx, 1, 3, 1, 1, x), tw, NULL);
        if (!CHECK_PTR(y) || !CHECK_OK(facs_backward(ctx, y, test_tensor(ctx, 1, 2, 1, 1, dy))))
            break;
        float want[6], *got = test_grad_nchw(tw);
        for (int o = 0; o < 2; o++)
            for (int i = 0; i < 3; i++)
                want[o * 3 + i] = (float)call * dy[o] * x[i];
        test_close_f(call == 1 ? "dW after one backward" : "dW accumulates over two backwards", got, want, 6, TOL);
        free(got);
    }
    facs_tensor_free(tw);
}

static void errors(facs_ctx *ctx)
{
    facs_ctx_begin_step(ctx);
    facs_tensor *a = test_tensor(ctx, 1, 3, 2, 2, NULL), *b = test_tensor(ctx, 1, 4, 2, 2, NULL);
    CHECK(facs_add(ctx, a, b) == NULL && strstr(facs_last_error(), "add"), "mismatched add is refused: \"%s\"",
          facs_last_error());
    CHECK(facs_relu(ctx, facs_add(ctx, a, b)) == NULL, "a NULL input propagates through the next op");
    CHECK(facs_backward(ctx, NULL, NULL) != FACS_OK && strstr(facs_last_error(), "an earlier op failed: add"),
          "backward of a failed op names the op that failed: \"%s\"", facs_last_error());
    facs_tensor *c = facs_relu(ctx, a);
    CHECK(facs_backward(ctx, c, NULL) != FACS_OK && strstr(facs_last_error(), "requires a gradient"),
          "backward of an output without gradient path is refused: \"%s\"", facs_last_error());
    a->requires_grad = 1;
    facs_tensor *d = facs_relu(ctx, a);
    CHECK(facs_backward(ctx, d, b) != FACS_OK, "an output gradient of the wrong shape is refused");
    facs_ctx_set_mode(ctx, 1, 0);
    facs_node *tape = ctx->tape;
    facs_tensor *e = facs_relu(ctx, a);
    CHECK(e && !e->requires_grad && ctx->tape == tape, "with recording off no node is pushed");
    facs_ctx_set_mode(ctx, 1, 1);
    if (!facs_cuda_available()) {
        facs_tensor *on_gpu = facs_tensor_create(FACS_DEVICE_CUDA, FACS_F32, 1, 1, 1, 1);
        CHECK(on_gpu == NULL && strlen(facs_last_error()) > 0, "a CUDA tensor without a GPU is refused: \"%s\"",
              facs_last_error());
    }
}

/* y = x + p with p a parameter in add's ordinary operand slot: its gradient
 * is its own heap tensor, accumulating over steps and outliving the context
 * (an arena gradient would dangle: AddressSanitizer's run of this test). The
 * graph runs backward once; a parameter is no output to run backward from. */
static void misuse(void)
{
    float x[3] = {1, 2, 3}, p[3] = {0.5f, -1.0f, 0.0f}, ones[3] = {1, 1, 1}, twos[3] = {2, 2, 2};
    facs_ctx *ctx = facs_ctx_create(FACS_DEVICE_CPU);
    facs_tensor *tp = test_param(1, 3, 1, 1, p);
    for (int step = 1; step <= 2; step++) {
        facs_ctx_begin_step(ctx);
        facs_tensor *y = facs_add(ctx, test_tensor(ctx, 1, 3, 1, 1, x), tp);
        if (!CHECK_PTR(y) || !CHECK_OK(facs_backward(ctx, y, NULL)))
            break;
        float *got = test_grad_nchw(tp);
        test_close_f(step == 1 ? "a parameter as add's operand: its gradient" : "... accumulated over two steps", got,
                     step == 1 ? ones : twos, 3, TOL);
        free(got);
        if (step == 2) {
            CHECK(facs_backward(ctx, y, NULL) != FACS_OK && strstr(facs_last_error(), "consumed"),
                  "a second backward of one graph is refused: \"%s\"", facs_last_error());
            got = test_grad_nchw(tp);
            test_close_f("... and adds nothing", got, twos, 3, TOL);
            free(got);
            CHECK(facs_backward(ctx, tp, NULL) != FACS_OK && strstr(facs_last_error(), "is a parameter"),
                  "backward of a parameter is refused: \"%s\"", facs_last_error());
        }
    }
    facs_ctx_free(ctx);
    float *got = test_grad_nchw(tp);
    test_close_f("the gradient outlives the context", got, twos, 3, TOL);
    free(got);

    /* A context that facs_ctx_create could not make: every call says so, none crashes. */
    facs_ctx_begin_step(NULL);
    facs_ctx_set_mode(NULL, 1, 1);
    CHECK(facs_relu(NULL, tp) == NULL && strstr(facs_last_error(), "no context"), "an op on a NULL ctx: \"%s\"",
          facs_last_error());
    CHECK(facs_backward(NULL, tp, NULL) != FACS_OK && strstr(facs_last_error(), "no context"),
          "backward on a NULL ctx: \"%s\"", facs_last_error());
    facs_tensor_free(tp);

    /* Shapes whose byte count wraps size_t, and an unknown dtype, are refused by every constructor. */
    CHECK(facs_tensor_create(FACS_DEVICE_CPU, FACS_F32, 1 << 30, 1 << 30, 1 << 2, 1) == NULL &&
              strstr(facs_last_error(), "too large"),
          "a 2^62-element tensor: \"%s\"", facs_last_error());
    CHECK(facs_tensor_create(FACS_DEVICE_CPU, (facs_dtype)7, 1, 1, 1, 1) == NULL && strstr(facs_last_error(), "dtype"),
          "dtype 7: \"%s\"", facs_last_error());
}

/* The arena's peak is reported, and a steady loop reuses one block. */
static void arena(void)
{
    facs_ctx *ctx = facs_ctx_create(FACS_DEVICE_CPU);
    size_t big = (size_t)100 << 20; /* more than one default block */
    for (int step = 0; step < 3; step++) {
        facs_ctx_begin_step(ctx);
        CHECK(facs_ctx_scratch(ctx, big) != NULL && facs_ctx_scratch(ctx, 1000) != NULL, "arena allocation");
    }
    CHECK(facs_ctx_peak_bytes(ctx) >= big + 1000 && facs_ctx_peak_bytes(ctx) < big + 4096,
          "peak %zu bytes reports what one step used", facs_ctx_peak_bytes(ctx));
    CHECK(facs_arena_block_count(&ctx->data) == 1, "after a reset the arena is one block, not %d",
          facs_arena_block_count(&ctx->data));
    facs_ctx_free(ctx);
}

/* What the profile hook saw of keep_only's moves. */
typedef struct {
    int moves;
    const void *from, *to;
} seen_moves;

static void record_move(void *user, const char *op, const facs_tensor *const *inputs, int n_inputs,
                        const facs_tensor *out, const facs_tensor *weight)
{
    (void)weight;
    seen_moves *seen = user;
    if (strcmp(op, FACS_PROFILE_MOVE) == 0 && n_inputs == 1) {
        seen->moves++;
        seen->from = inputs[0]->data;
        seen->to = out->data;
    }
}

/* Inference: keep_only moves a block's output down to the mark with its
 * values and gives the block's intermediates back, also when the block made
 * the arena chain a new block (which it frees); with the tape on, or for a
 * tensor from before the mark, it changes nothing. Each move, and only a
 * move, is reported to the profile hook (so that op timings do not charge
 * the copy to the next op). */
static void keep_only(void)
{
    facs_ctx *ctx = facs_ctx_create(FACS_DEVICE_CPU);
    facs_ctx_set_mode(ctx, 0, 0);
    seen_moves seen = {0};
    ctx->profile = record_move;
    ctx->profile_user = &seen;
    for (int step = 0; step < 2; step++) {
        facs_ctx_begin_step(ctx);
        facs_tensor *x = facs_ctx_tensor(ctx, FACS_F32, 1, 3, 4, 5);
        test_fill(facs_f32(x), facs_tensor_numel(x), -1, 1);
        size_t before = ctx->data.used;
        facs_ctx_mark m = facs_ctx_get_mark(ctx);
        facs_tensor *mid = facs_relu(ctx, x);
        facs_tensor *y = facs_add(ctx, facs_relu(ctx, mid), x);
        float *want = test_nchw(y);
        facs_tensor *kept = facs_ctx_keep_only(ctx, m, y);
        float *got = kept ? test_nchw(kept) : NULL;
        CHECK(got && memcmp(got, want, facs_tensor_numel(y) * sizeof *got) == 0 && kept->c == 3 && kept->w == 5,
              "step %d: the kept tensor keeps its shape and values", step);
        CHECK(ctx->data.used == before + 256, "step %d: only the kept tensor's 256 bytes stay (used %zu, %zu before)",
              step, ctx->data.used, before);
        CHECK(kept && (char *)kept->data < (char *)y->data, "step %d: the output moved down to the mark", step);
        CHECK(seen.moves == step + 1 && kept && seen.from == y->data && seen.to == kept->data,
              "step %d: the move is profiled once, from y to its new place (%d moves seen)", step, seen.moves);
        free(want), free(got);
    }
    facs_ctx_begin_step(ctx);
    facs_tensor *x = facs_ctx_tensor(ctx, FACS_F32, 1, 3, 4, 5);
    test_fill(facs_f32(x), facs_tensor_numel(x), -1, 1);
    facs_ctx_mark m = facs_ctx_get_mark(ctx);
    CHECK(facs_ctx_scratch(ctx, (size_t)100 << 20) != NULL && facs_arena_block_count(&ctx->data) == 2,
          "a 100 MiB intermediate chains a second block");
    facs_tensor *y = facs_relu(ctx, x);
    float *want = test_nchw(y);
    facs_tensor *kept = facs_ctx_keep_only(ctx, m, y);
    float *got = kept ? test_nchw(kept) : NULL;
    CHECK(got && memcmp(got, want, facs_tensor_numel(y) * sizeof *got) == 0 &&
              facs_arena_block_count(&ctx->data) == 1,
          "across blocks: values kept, the chained block freed (%d blocks)", facs_arena_block_count(&ctx->data));
    free(want), free(got);
    CHECK(facs_ctx_keep_only(ctx, facs_ctx_get_mark(ctx), x) == x && seen.moves == 3,
          "a tensor from before the mark stays, and no move is profiled (%d moves seen)", seen.moves);
    m = facs_ctx_get_mark(ctx);
    CHECK(facs_ctx_scratch(ctx, 64) != NULL, "scratch");
    y = facs_relu(ctx, x); /* 256 bytes, 64 past the mark: its new place overlaps the old */
    want = test_nchw(y);
    kept = facs_ctx_keep_only(ctx, m, y);
    got = kept ? test_nchw(kept) : NULL;
    CHECK(got && memcmp(got, want, facs_tensor_numel(y) * sizeof *got) == 0, "an overlapping move keeps the values");
    free(want), free(got);
    /* A shift of 1.5 MiB + 4 bytes under a 3.2 MB tensor: the move goes as
     * copies of shift-sized blocks, the last one partial. */
    x = facs_ctx_tensor(ctx, FACS_F32, 1, 4, 400, 500);
    test_fill(facs_f32(x), facs_tensor_numel(x), -1, 1);
    m = facs_ctx_get_mark(ctx);
    CHECK(facs_ctx_scratch(ctx, ((size_t)3 << 19) + 4) != NULL, "scratch");
    y = facs_relu(ctx, x);
    want = test_nchw(y);
    const char *was = y->data; /* kept may reuse y's header */
    kept = facs_ctx_keep_only(ctx, m, y);
    got = kept ? test_nchw(kept) : NULL;
    CHECK(got && memcmp(got, want, facs_tensor_numel(kept) * sizeof *got) == 0 && (char *)kept->data < was,
          "a large overlapping move keeps the values");
    free(want), free(got);
    facs_ctx_set_mode(ctx, 0, 1);
    facs_ctx_begin_step(ctx);
    x = facs_ctx_tensor(ctx, FACS_F32, 1, 3, 4, 5);
    m = facs_ctx_get_mark(ctx);
    y = facs_relu(ctx, x);
    CHECK(facs_ctx_keep_only(ctx, m, y) == y && seen.moves == 5, "with the tape on nothing moves");
    facs_ctx_free(ctx);
}

/* Backward frees each activation gradient once the op that produced its
 * tensor has run, and each op's scratch: down a chain of 32 ops (the first
 * a max-pool, whose backward takes scratch) at most the incoming and the
 * outgoing gradient live together, so the gradient arena peaks at 2 tensors
 * where keeping them all would take 32; the gradient is still right. */
static void backward_memory(void)
{
    facs_ctx *ctx = facs_ctx_create(FACS_DEVICE_CPU);
    enum { OPS = 32, C = 64, HW = 32 };
    const size_t bytes = (size_t)C * HW * HW * sizeof(float);
    for (int step = 0; step < 2; step++) {
        facs_ctx_begin_step(ctx);
        facs_tensor *x = facs_ctx_tensor(ctx, FACS_F32, 1, C, HW, HW);
        test_fill(facs_f32(x), facs_tensor_numel(x), 0.5f, 1.5f);
        x->requires_grad = 1;
        facs_pool2d_params same = {.kernel_h = 3, .kernel_w = 3, .stride_h = 1, .stride_w = 1, .pad_h = 1, .pad_w = 1};
        facs_tensor *y = facs_maxpool2d(ctx, x, &same);
        for (int i = 1; i < OPS; i++)
            y = facs_relu(ctx, y);
        size_t before = ctx->data.used;
        if (CHECK_PTR(y) && CHECK_OK(facs_backward(ctx, y, NULL))) {
            CHECK(ctx->grads.peak <= 2 * bytes + 4096, "step %d: gradient arena peak %zu bytes, 2 tensors are %zu",
                  step, ctx->grads.peak, 2 * bytes);
            CHECK(ctx->data.used == before, "step %d: backward's scratch given back (%zu bytes now, %zu before)",
                  step, ctx->data.used, before);
            /* A 3x3 max-pool with stride 1 passes each pixel's gradient to its window's maximum: the sum is kept. */
            float *g = test_grad_nchw(x);
            double sum = 0;
            for (size_t i = 0; i < facs_tensor_numel(x); i++)
                sum += g[i];
            CHECK(fabs(sum - (double)C * HW * HW) < 1e-3, "step %d: gradient sum %g, want %d", step, sum, C * HW * HW);
            free(g);
        }
    }
    facs_ctx_free(ctx);
}

int main(void)
{
    facs_ctx *ctx = facs_ctx_create(FACS_DEVICE_CPU);
    fan_out(ctx);
    profile_backward(ctx);
    keep_grad(ctx);
    grad_out_and_accumulation(ctx);
    errors(ctx);
    facs_ctx_free(ctx);
    misuse();
    arena();
    keep_only();
    backward_memory();
    return test_finish();
}
