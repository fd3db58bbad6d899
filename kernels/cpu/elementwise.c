/* relu, relu6, sigmoid and add through oneDNN's eltwise and binary primitives. */
#include "cpu_ops.h"
#include "dnnl_util.h"

/* Sigmoid's backward reads the output (oneDNN's *_use_dst_for_bwd form); the
 * ReLUs read the input, which gives PyTorch's zero gradient at the kinks. */
static void eltwise_kind(facs_activation act, dnnl_alg_kind_t *alg, float *alpha, float *beta)
{
    *alg = dnnl_eltwise_relu;
    *alpha = 0.0f;
    *beta = 0.0f;
    switch (act) {
    case FACS_ACT_RELU:
        break;
    case FACS_ACT_RELU6:
        *alg = dnnl_eltwise_clip;
        *beta = 6.0f;
        break;
    case FACS_ACT_SIGMOID:
        *alg = dnnl_eltwise_logistic_use_dst_for_bwd;
        break;
    }
}

static facs_status eltwise_forward_pd(facs_activation act, const dnnl_memory_desc_t *md, dnnl_primitive_desc_t *pd)
{
    dnnl_alg_kind_t alg;
    float alpha, beta;
    eltwise_kind(act, &alg, &alpha, &beta);
    dnnl_eltwise_desc_t desc;
    FACS_TRY(facs_dnnl_check(dnnl_eltwise_forward_desc_init(&desc, dnnl_forward_training, alg, md, alpha, beta),
                             "eltwise forward descriptor"));
    return facs_dnnl_check(dnnl_primitive_desc_create(pd, &desc, NULL, facs_dnnl_engine(), NULL),
                           "eltwise forward primitive");
}

facs_status facs_cpu_activation_forward(facs_ctx *ctx, facs_activation act, const facs_tensor *x, facs_tensor *y)
{
    (void)ctx;
    dnnl_memory_desc_t md;
    facs_dnnl_md_nhwc(&md, x);
    dnnl_primitive_desc_t pd;
    FACS_TRY(eltwise_forward_pd(act, &md, &pd));
    facs_dnnl_arg args[] = {{DNNL_ARG_SRC, &md, x->data}, {DNNL_ARG_DST, &md, y->data}};
    facs_status s = facs_dnnl_execute(pd, 2, args, "eltwise forward");
    dnnl_primitive_desc_destroy(pd);
    return s;
}

facs_status facs_cpu_activation_backward(facs_ctx *ctx, facs_activation act, const facs_tensor *x,
                                         const facs_tensor *y, const facs_tensor *dy, facs_tensor *dx)
{
    (void)ctx;
    dnnl_memory_desc_t md;
    facs_dnnl_md_nhwc(&md, x);
    dnnl_alg_kind_t alg;
    float alpha, beta;
    eltwise_kind(act, &alg, &alpha, &beta);
    dnnl_primitive_desc_t hint, pd;
    FACS_TRY(eltwise_forward_pd(act, &md, &hint));
    dnnl_eltwise_desc_t desc;
    facs_status s = facs_dnnl_check(dnnl_eltwise_backward_desc_init(&desc, alg, &md, &md, alpha, beta),
                                    "eltwise backward descriptor");
    if (s == FACS_OK)
        s = facs_dnnl_check(dnnl_primitive_desc_create(&pd, &desc, NULL, facs_dnnl_engine(), hint),
                            "eltwise backward primitive");
    dnnl_primitive_desc_destroy(hint);
    if (s != FACS_OK)
        return s;
    const facs_tensor *saved = act == FACS_ACT_SIGMOID ? y : x;
    facs_dnnl_arg args[] = {{act == FACS_ACT_SIGMOID ? DNNL_ARG_DST : DNNL_ARG_SRC, &md, saved->data},
                            {DNNL_ARG_DIFF_DST, &md, dy->data},
                            {DNNL_ARG_DIFF_SRC, &md, dx->data}};
    s = facs_dnnl_execute(pd, 3, args, "eltwise backward");
    dnnl_primitive_desc_destroy(pd);
    return s;
}

facs_status facs_cpu_add_forward(facs_ctx *ctx, const facs_tensor *a, const facs_tensor *b, facs_tensor *y)
{
    (void)ctx;
    dnnl_memory_desc_t md;
    facs_dnnl_md_nhwc(&md, a);
    dnnl_binary_desc_t desc;
    FACS_TRY(facs_dnnl_check(dnnl_binary_desc_init(&desc, dnnl_binary_add, &md, &md, &md), "binary descriptor"));
    dnnl_primitive_desc_t pd;
    FACS_TRY(facs_dnnl_check(dnnl_primitive_desc_create(&pd, &desc, NULL, facs_dnnl_engine(), NULL),
                             "binary primitive"));
    facs_dnnl_arg args[] = {
        {DNNL_ARG_SRC_0, &md, a->data}, {DNNL_ARG_SRC_1, &md, b->data}, {DNNL_ARG_DST, &md, y->data}};
    facs_status s = facs_dnnl_execute(pd, 3, args, "binary add");
    dnnl_primitive_desc_destroy(pd);
    return s;
}
