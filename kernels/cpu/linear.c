/* linear through oneDNN's matmul: x (N, IN) and w (OUT, IN) are plain row-major
 * matrices in NHWC storage, so every product is one matmul whose transposes are
 * expressed as strides (no copies). dw accumulates through a sum post-op, which
 * makes oneDNN's GEMM add into the existing gradient (beta = 1). */
#include "cpu_ops.h"
#include "dnnl_util.h"

/* rows x cols f32 matrix; transposed = the buffer holds its transpose row-major. */
static void matrix_md(dnnl_memory_desc_t *md, int rows, int cols, int transposed)
{
    dnnl_dims_t dims = {rows, cols};
    dnnl_memory_desc_init_by_tag(md, 2, dims, dnnl_f32, transposed ? dnnl_ba : dnnl_ab);
}

/* dst = src * weights (+ bias) (+ dst when accumulate). */
static facs_status matmul(const dnnl_memory_desc_t *src_md, const void *src, const dnnl_memory_desc_t *wei_md,
                          const void *wei, const dnnl_memory_desc_t *bias_md, const void *bias,
                          const dnnl_memory_desc_t *dst_md, void *dst, int accumulate, const char *what)
{
    dnnl_matmul_desc_t desc;
    FACS_TRY(facs_dnnl_check(dnnl_matmul_desc_init(&desc, src_md, wei_md, bias_md, dst_md), what));
    dnnl_primitive_attr_t attr = NULL;
    dnnl_post_ops_t ops = NULL;
    facs_status s = FACS_OK;
    if (accumulate) {
        s = facs_dnnl_check(dnnl_primitive_attr_create(&attr), what);
        if (s == FACS_OK)
            s = facs_dnnl_check(dnnl_post_ops_create(&ops), what);
        if (s == FACS_OK)
            s = facs_dnnl_check(dnnl_post_ops_append_sum(ops, 1.0f), what);
        if (s == FACS_OK)
            s = facs_dnnl_check(dnnl_primitive_attr_set_post_ops(attr, ops), what);
    }
    dnnl_primitive_desc_t pd = NULL;
    if (s == FACS_OK)
        s = facs_dnnl_check(dnnl_primitive_desc_create(&pd, &desc, attr, facs_dnnl_engine(), NULL), what);
    if (ops)
        dnnl_post_ops_destroy(ops);
    if (attr)
        dnnl_primitive_attr_destroy(attr);
    if (s != FACS_OK)
        return s;
    facs_dnnl_arg args[] = {{DNNL_ARG_SRC, src_md, (void *)src},
                            {DNNL_ARG_WEIGHTS, wei_md, (void *)wei},
                            {DNNL_ARG_DST, dst_md, dst},
                            {DNNL_ARG_BIAS, bias_md, (void *)bias}};
    s = facs_dnnl_execute(pd, bias ? 4 : 3, args, what);
    dnnl_primitive_desc_destroy(pd);
    return s;
}

facs_status facs_cpu_linear_forward(facs_ctx *ctx, const facs_tensor *x, const facs_tensor *w, const facs_tensor *b,
                                    facs_tensor *y)
{
    (void)ctx;
    const int n = x->n, in = x->c, out = w->n;
    dnnl_memory_desc_t x_md, wt_md, b_md, y_md;
    matrix_md(&x_md, n, in, 0);
    matrix_md(&wt_md, in, out, 1); /* w^T: w is stored (OUT, IN) */
    matrix_md(&b_md, 1, out, 0);
    matrix_md(&y_md, n, out, 0);
    return matmul(&x_md, x->data, &wt_md, w->data, b ? &b_md : NULL, b ? b->data : NULL, &y_md, y->data, 0,
                  "linear forward");
}

facs_status facs_cpu_linear_backward(facs_ctx *ctx, const facs_tensor *x, const facs_tensor *w,
                                     const facs_tensor *dy, facs_tensor *dx, facs_tensor *dw, facs_tensor *db)
{
    (void)ctx;
    const int n = x->n, in = x->c, out = w->n;
    dnnl_memory_desc_t dy_md, w_md, dx_md, dyt_md, x_md, dw_md;
    if (dx) {
        matrix_md(&dy_md, n, out, 0);
        matrix_md(&w_md, out, in, 0);
        matrix_md(&dx_md, n, in, 0);
        FACS_TRY(matmul(&dy_md, dy->data, &w_md, w->data, NULL, NULL, &dx_md, dx->data, 0, "linear backward data"));
    }
    if (dw) {
        matrix_md(&dyt_md, out, n, 1); /* dy^T: dy is stored (N, OUT) */
        matrix_md(&x_md, n, in, 0);
        matrix_md(&dw_md, out, in, 0);
        FACS_TRY(matmul(&dyt_md, dy->data, &x_md, x->data, NULL, NULL, &dw_md, dw->data, 1,
                        "linear backward weights"));
    }
    if (db) {
        /* A column sum of an (N, OUT) matrix: far too little work for a primitive. */
        const float *g = facs_f32(dy);
        float *d = facs_f32(db);
        for (int i = 0; i < n; i++)
            for (int o = 0; o < out; o++)
                d[o] += g[(size_t)i * out + o];
    }
    return FACS_OK;
}
