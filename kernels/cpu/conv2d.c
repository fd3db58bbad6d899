/* conv2d through oneDNN's convolution primitives (forward, backward-data,
 * backward-weights) on NHWC activations.
 *
 * Our weights are stored OHWI (gOHWI when grouped). Each primitive is created
 * with weight format "any": with plain OHWI weights oneDNN 2.6 falls back to
 * its ref kernels (1000x slower). Each primitive then gets the weights in the
 * layout it asked for, through a reorder into scratch memory that is skipped
 * when the layouts already agree. The weight gradient comes out in the
 * backward-weights primitive's layout and is reordered back to OHWI with a
 * sum post-op, which is the += of the gradient rule in one pass. */
#include <stdio.h>
#include <string.h>

#include "../conv2d_impl.h"
#include "cpu_ops.h"
#include "dnnl_util.h"

typedef struct {
    dnnl_memory_desc_t src, dst, bias;
    dnnl_memory_desc_t weights;     /* our OHWI storage */
    dnnl_memory_desc_t weights_any; /* same dims, layout left to oneDNN */
    dnnl_dims_t strides, dilates, pad_l, pad_r;
} conv_geom;

/* y gives the output shape (y or dy); only shapes are read. */
static void geom_init(conv_geom *g, const facs_conv2d_params *p, const facs_tensor *x, const facs_tensor *w,
                      const facs_tensor *y)
{
    facs_dnnl_md_nhwc(&g->src, x);
    facs_dnnl_md_nhwc(&g->dst, y);
    facs_dnnl_md_vec(&g->bias, w->n);
    if (p->groups == 1) {
        dnnl_dims_t dims = {w->n, w->c, w->h, w->w};
        dnnl_memory_desc_init_by_tag(&g->weights, 4, dims, dnnl_f32, dnnl_ohwi);
        dnnl_memory_desc_init_by_tag(&g->weights_any, 4, dims, dnnl_f32, dnnl_format_tag_any);
    } else {
        /* Grouped weights are 5-D for oneDNN: (G, O/G, I/G, KH, KW). */
        dnnl_dims_t dims = {p->groups, w->n / p->groups, w->c, w->h, w->w};
        dnnl_memory_desc_init_by_tag(&g->weights, 5, dims, dnnl_f32, dnnl_gohwi);
        dnnl_memory_desc_init_by_tag(&g->weights_any, 5, dims, dnnl_f32, dnnl_format_tag_any);
    }
    g->strides[0] = p->stride_h;
    g->strides[1] = p->stride_w;
    /* oneDNN counts dilation from 0, PyTorch from 1. */
    g->dilates[0] = p->dil_h - 1;
    g->dilates[1] = p->dil_w - 1;
    /* Symmetric padding as PyTorch passes it; oneDNN's output-size rule
     * floors the same way ours does. */
    g->pad_l[0] = g->pad_r[0] = p->pad_h;
    g->pad_l[1] = g->pad_r[1] = p->pad_w;
}

/* Appends act to ops as an eltwise post-op: ReLU6 is a clip to [0, 6]. */
static facs_status append_activation(dnnl_post_ops_t ops, facs_post_act act)
{
    if (act == FACS_POST_NONE)
        return FACS_OK;
    dnnl_alg_kind_t alg = act == FACS_POST_RELU ? dnnl_eltwise_relu : dnnl_eltwise_clip;
    float upper = act == FACS_POST_RELU6 ? 6.0f : 0.0f;
    return facs_dnnl_check(dnnl_post_ops_append_eltwise(ops, 1.0f, alg, 0.0f, upper), "conv2d post-ops");
}

/* Attributes shared by every primitive here: the scratchpad comes from our
 * arena (no allocation inside oneDNN per call); accumulate adds a sum
 * post-op, dst = op(src) + dst, and act then an eltwise activation. */
static facs_status make_attr(dnnl_primitive_attr_t *attr, int accumulate, facs_post_act act)
{
    FACS_TRY(facs_dnnl_check(dnnl_primitive_attr_create(attr), "conv2d attributes"));
    facs_status s =
        facs_dnnl_check(dnnl_primitive_attr_set_scratchpad_mode(*attr, dnnl_scratchpad_mode_user), "conv2d attributes");
    if (s == FACS_OK && (accumulate || act != FACS_POST_NONE)) {
        dnnl_post_ops_t ops;
        s = facs_dnnl_check(dnnl_post_ops_create(&ops), "conv2d post-ops");
        if (s == FACS_OK) {
            if (accumulate)
                s = facs_dnnl_check(dnnl_post_ops_append_sum(ops, 1.0f), "conv2d post-ops");
            if (s == FACS_OK)
                s = append_activation(ops, act);
            if (s == FACS_OK)
                s = facs_dnnl_check(dnnl_primitive_attr_set_post_ops(*attr, ops), "conv2d post-ops");
            dnnl_post_ops_destroy(ops);
        }
    }
    if (s != FACS_OK)
        dnnl_primitive_attr_destroy(*attr);
    return s;
}

/* post: the forward's post-ops (NULL: none). */
static facs_status create_pd(const void *desc, const_dnnl_primitive_desc_t hint, const facs_conv2d_params *post,
                             dnnl_primitive_desc_t *pd, const char *what)
{
    dnnl_primitive_attr_t attr;
    FACS_TRY(make_attr(&attr, post && post->post_sum, post ? post->post_act : FACS_POST_NONE));
    facs_status s = facs_dnnl_check(dnnl_primitive_desc_create(pd, desc, attr, facs_dnnl_engine(), hint), what);
    dnnl_primitive_attr_destroy(attr);
    return s;
}

#define MAX_ARGS 5

/* Executes pd on args plus the scratchpad it asks for, taken from the arena. */
static facs_status run(facs_ctx *ctx, const_dnnl_primitive_desc_t pd, int count, const facs_dnnl_arg *args,
                       const char *what)
{
    facs_dnnl_arg all[MAX_ARGS + 1];
    memcpy(all, args, (size_t)count * sizeof *args);
    const dnnl_memory_desc_t *pad = dnnl_primitive_desc_query_md(pd, dnnl_query_scratchpad_md, 0);
    size_t bytes = pad ? dnnl_memory_desc_get_size(pad) : 0;
    if (bytes) {
        void *buf = facs_ctx_scratch(ctx, bytes);
        if (!buf)
            return FACS_ERR_MEMORY;
        all[count++] = (facs_dnnl_arg){DNNL_ARG_SCRATCHPAD, pad, buf};
    }
    return facs_dnnl_execute(pd, count, all, what);
}

static facs_status reorder(facs_ctx *ctx, const dnnl_memory_desc_t *src_md, void *src,
                           const dnnl_memory_desc_t *dst_md, void *dst, int accumulate)
{
    dnnl_primitive_attr_t attr;
    FACS_TRY(make_attr(&attr, accumulate, FACS_POST_NONE));
    dnnl_primitive_desc_t pd;
    dnnl_engine_t eng = facs_dnnl_engine();
    facs_status s = facs_dnnl_check(dnnl_reorder_primitive_desc_create(&pd, src_md, eng, dst_md, eng, attr),
                                    "conv2d weight reorder");
    dnnl_primitive_attr_destroy(attr);
    if (s != FACS_OK)
        return s;
    facs_dnnl_arg args[] = {{DNNL_ARG_FROM, src_md, src}, {DNNL_ARG_TO, dst_md, dst}};
    s = run(ctx, pd, 2, args, "conv2d weight reorder");
    dnnl_primitive_desc_destroy(pd);
    return s;
}

/* The weights in the layout pd asks for: w itself, or a reordered copy (kept
 * across calls when the context caches weights, ctx.h). */
static facs_status weights_for(facs_ctx *ctx, const_dnnl_primitive_desc_t pd, const conv_geom *g,
                               const facs_tensor *w, const dnnl_memory_desc_t **md, void **ptr)
{
    *md = dnnl_primitive_desc_query_md(pd, dnnl_query_weights_md, 0);
    *ptr = w->data;
    if (dnnl_memory_desc_equal(*md, &g->weights))
        return FACS_OK;
    size_t bytes = dnnl_memory_desc_get_size(*md);
    int fill = 1;
    *ptr = facs_ctx_weight_cache(ctx, w, *md, sizeof **md, bytes, &fill);
    if (!*ptr)
        *ptr = facs_ctx_scratch(ctx, bytes);
    if (!*ptr)
        return FACS_ERR_MEMORY;
    return fill ? reorder(ctx, &g->weights, w->data, *md, *ptr, 0) : FACS_OK;
}

/* Also the hint that backward primitives need to pick matching kernels (post NULL). */
static facs_status forward_pd(const conv_geom *g, int with_bias, const facs_conv2d_params *post,
                              dnnl_primitive_desc_t *pd)
{
    dnnl_convolution_desc_t d;
    FACS_TRY(facs_dnnl_check(dnnl_dilated_convolution_forward_desc_init(
                                 &d, dnnl_forward_training, dnnl_convolution_direct, &g->src, &g->weights_any,
                                 with_bias ? &g->bias : NULL, &g->dst, g->strides, g->dilates, g->pad_l, g->pad_r),
                             "conv2d forward descriptor"));
    return create_pd(&d, NULL, post, pd, "conv2d forward primitive");
}

static facs_status backward_data_pd(const conv_geom *g, const_dnnl_primitive_desc_t hint, dnnl_primitive_desc_t *pd)
{
    dnnl_convolution_desc_t d;
    FACS_TRY(facs_dnnl_check(dnnl_dilated_convolution_backward_data_desc_init(
                                 &d, dnnl_convolution_direct, &g->src, &g->weights_any, &g->dst, g->strides,
                                 g->dilates, g->pad_l, g->pad_r),
                             "conv2d backward-data descriptor"));
    return create_pd(&d, hint, NULL, pd, "conv2d backward-data primitive");
}

static facs_status backward_weights_pd(const conv_geom *g, const_dnnl_primitive_desc_t hint, int with_bias,
                                       dnnl_primitive_desc_t *pd)
{
    dnnl_convolution_desc_t d;
    FACS_TRY(facs_dnnl_check(dnnl_dilated_convolution_backward_weights_desc_init(
                                 &d, dnnl_convolution_direct, &g->src, &g->weights_any, with_bias ? &g->bias : NULL,
                                 &g->dst, g->strides, g->dilates, g->pad_l, g->pad_r),
                             "conv2d backward-weights descriptor"));
    return create_pd(&d, hint, NULL, pd, "conv2d backward-weights primitive");
}

facs_status facs_cpu_conv2d_forward(facs_ctx *ctx, const facs_conv2d_params *p, const facs_tensor *x,
                                    const facs_tensor *w, const facs_tensor *b, facs_tensor *y)
{
    conv_geom g;
    geom_init(&g, p, x, w, y);
    dnnl_primitive_desc_t pd;
    FACS_TRY(forward_pd(&g, b != NULL, p, &pd));
    const dnnl_memory_desc_t *wmd;
    void *wptr;
    facs_status s = weights_for(ctx, pd, &g, w, &wmd, &wptr);
    if (s == FACS_OK) {
        facs_dnnl_arg args[] = {{DNNL_ARG_SRC, &g.src, x->data},
                                {DNNL_ARG_WEIGHTS, wmd, wptr},
                                {DNNL_ARG_DST, &g.dst, y->data},
                                {DNNL_ARG_BIAS, &g.bias, b ? b->data : NULL}};
        s = run(ctx, pd, b ? 4 : 3, args, "conv2d forward");
    }
    dnnl_primitive_desc_destroy(pd);
    return s;
}

static facs_status backward_data(facs_ctx *ctx, const conv_geom *g, const_dnnl_primitive_desc_t hint,
                                 const facs_tensor *w, const facs_tensor *dy, facs_tensor *dx)
{
    dnnl_primitive_desc_t pd;
    FACS_TRY(backward_data_pd(g, hint, &pd));
    const dnnl_memory_desc_t *wmd;
    void *wptr;
    facs_status s = weights_for(ctx, pd, g, w, &wmd, &wptr);
    if (s == FACS_OK) {
        facs_dnnl_arg args[] = {{DNNL_ARG_DIFF_DST, &g->dst, dy->data},
                                {DNNL_ARG_WEIGHTS, wmd, wptr},
                                {DNNL_ARG_DIFF_SRC, &g->src, dx->data}};
        s = run(ctx, pd, 3, args, "conv2d backward-data");
    }
    dnnl_primitive_desc_destroy(pd);
    return s;
}

/* Both gradients accumulate: oneDNN writes them into scratch, then they are
 * added to dw (by the reorder back to OHWI) and db. */
static facs_status backward_weights(facs_ctx *ctx, const conv_geom *g, const_dnnl_primitive_desc_t hint,
                                    const facs_tensor *x, const facs_tensor *dy, facs_tensor *dw, facs_tensor *db)
{
    dnnl_primitive_desc_t pd;
    FACS_TRY(backward_weights_pd(g, hint, db != NULL, &pd));
    const dnnl_memory_desc_t *dwmd = dnnl_primitive_desc_query_md(pd, dnnl_query_diff_weights_md, 0);
    void *dw_tmp = facs_ctx_scratch(ctx, dnnl_memory_desc_get_size(dwmd));
    float *db_tmp = db ? facs_ctx_scratch(ctx, (size_t)db->n * sizeof *db_tmp) : NULL;
    facs_status s = FACS_OK;
    if (!dw_tmp || (db && !db_tmp))
        s = FACS_ERR_MEMORY;
    if (s == FACS_OK) {
        facs_dnnl_arg args[] = {{DNNL_ARG_SRC, &g->src, x->data},
                                {DNNL_ARG_DIFF_DST, &g->dst, dy->data},
                                {DNNL_ARG_DIFF_WEIGHTS, dwmd, dw_tmp},
                                {DNNL_ARG_DIFF_BIAS, &g->bias, db_tmp}};
        s = run(ctx, pd, db ? 4 : 3, args, "conv2d backward-weights");
    }
    if (s == FACS_OK)
        s = reorder(ctx, dwmd, dw_tmp, &g->weights, dw->data, 1);
    if (s == FACS_OK && db) {
        float *out = facs_f32(db);
        for (int c = 0; c < db->n; c++)
            out[c] += db_tmp[c];
    }
    dnnl_primitive_desc_destroy(pd);
    return s;
}

/* db += sum of dy over N, H, W, for the rare case of a bias trained under a
 * frozen weight (no backward-weights primitive to fuse it into). */
static facs_status bias_only(facs_ctx *ctx, const facs_tensor *dy, facs_tensor *db)
{
    int channels = dy->c;
    float *acc = facs_ctx_scratch(ctx, (size_t)channels * sizeof *acc);
    if (!acc)
        return FACS_ERR_MEMORY;
    memset(acc, 0, (size_t)channels * sizeof *acc);
    const float *g = facs_f32(dy);
    size_t rows = (size_t)dy->n * dy->h * dy->w;
    for (size_t r = 0; r < rows; r++)
        for (int c = 0; c < channels; c++)
            acc[c] += g[r * channels + c];
    float *out = facs_f32(db);
    for (int c = 0; c < channels; c++)
        out[c] += acc[c];
    return FACS_OK;
}

facs_status facs_cpu_conv2d_backward(facs_ctx *ctx, const facs_conv2d_params *p, const facs_tensor *x,
                                     const facs_tensor *w, const facs_tensor *dy, facs_tensor *dx, facs_tensor *dw,
                                     facs_tensor *db)
{
    if (!dx && !dw)
        return db ? bias_only(ctx, dy, db) : FACS_OK;
    conv_geom g;
    geom_init(&g, p, x, w, dy);
    dnnl_primitive_desc_t hint;
    FACS_TRY(forward_pd(&g, db != NULL, NULL, &hint));
    facs_status s = FACS_OK;
    if (dx)
        s = backward_data(ctx, &g, hint, w, dy, dx);
    if (s == FACS_OK && dw)
        s = backward_weights(ctx, &g, hint, x, dy, dw, db);
    else if (s == FACS_OK && db)
        s = bias_only(ctx, dy, db);
    dnnl_primitive_desc_destroy(hint);
    return s;
}

static void impl_name(const_dnnl_primitive_desc_t pd, char *dst, size_t size)
{
    const char *name = NULL;
    if (dnnl_primitive_desc_query(pd, dnnl_query_impl_info_str, 0, &name) != dnnl_success || !name)
        name = "unknown";
    snprintf(dst, size, "%s", name);
}

facs_status facs_cpu_conv2d_impl_names(const facs_conv2d_params *p, const facs_tensor *x, const facs_tensor *w,
                                       int with_bias, facs_conv2d_impl *out)
{
    facs_tensor y = facs_conv2d_impl_output(p, x, w);
    conv_geom g;
    geom_init(&g, p, x, w, &y);
    dnnl_primitive_desc_t fwd, bwd_data, bwd_weights;
    FACS_TRY(forward_pd(&g, with_bias, NULL, &fwd));
    facs_status s = backward_data_pd(&g, fwd, &bwd_data);
    if (s == FACS_OK) {
        s = backward_weights_pd(&g, fwd, with_bias, &bwd_weights);
        if (s == FACS_OK) {
            impl_name(fwd, out->forward, sizeof out->forward);
            impl_name(bwd_data, out->backward_data, sizeof out->backward_data);
            impl_name(bwd_weights, out->backward_weights, sizeof out->backward_weights);
            dnnl_primitive_desc_destroy(bwd_weights);
        }
        dnnl_primitive_desc_destroy(bwd_data);
    }
    dnnl_primitive_desc_destroy(fwd);
    return s;
}
