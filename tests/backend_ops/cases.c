/* The case table of test_backend_ops. Every row names the backend entries it
 * calls in .entries: tools/check_backend_ops_coverage.sh reads them to prove
 * that every entry of backend.h (and every one the CUDA table sets) has a
 * case, and a backend that leaves one of them NULL fails the row as
 * "missing".
 *
 * Sizes: odd spatial sizes (7, 9, 13x17, 1x1 images), N = 1 and 3, channel
 * counts that are not multiples of 4, 8 or 32, each case small enough that
 * the finite differences over every input element (2 forwards in double per
 * element) keep the whole table at a few seconds. Ranges are the main input's;
 * weights are drawn in [-1, 1], dy in [-1, 1], parameter gradients start in
 * [-0.5, 0.5] (the families say more). */
#include "bops.h"

const bo_case bo_cases[] = {
    /* ---- conv2d: dense, strided, padded, 1x1, 3x3, 7x7, grouped, depthwise, dilated ---- */
    {.family = &bo_conv2d, .entries = "conv2d_forward conv2d_backward", .n = 2, .c = 5, .h = 7, .w = 9, .lo = -1,
     .hi = 1, .conv = {.co = 6, .kh = 3, .kw = 3, .sh = 1, .sw = 1, .ph = 1, .pw = 1, .dh = 1, .dw = 1, .groups = 1,
     .bias = 1}},
    {.family = &bo_conv2d, .entries = "conv2d_forward conv2d_backward", .n = 1, .c = 6, .h = 13, .w = 17, .lo = -1,
     .hi = 1, .conv = {.co = 4, .kh = 3, .kw = 3, .sh = 2, .sw = 2, .ph = 1, .pw = 1, .dh = 1, .dw = 1, .groups = 1}},
    {.family = &bo_conv2d, .entries = "conv2d_forward conv2d_backward", .n = 3, .c = 7, .h = 5, .w = 6, .lo = -1,
     .hi = 1, .conv = {.co = 5, .kh = 1, .kw = 1, .sh = 1, .sw = 1, .dh = 1, .dw = 1, .groups = 1, .bias = 1}},
    {.family = &bo_conv2d, .entries = "conv2d_forward conv2d_backward", .n = 2, .c = 8, .h = 7, .w = 7, .lo = -1,
     .hi = 1, .conv = {.co = 6, .kh = 1, .kw = 1, .sh = 2, .sw = 2, .dh = 1, .dw = 1, .groups = 1}},
    {.family = &bo_conv2d, .entries = "conv2d_forward conv2d_backward", .n = 1, .c = 3, .h = 13, .w = 17, .lo = -1,
     .hi = 1, .conv = {.co = 4, .kh = 7, .kw = 7, .sh = 2, .sw = 2, .ph = 3, .pw = 3, .dh = 1, .dw = 1, .groups = 1,
     .bias = 1}},
    {.family = &bo_conv2d, .entries = "conv2d_forward conv2d_backward", .n = 1, .c = 3, .h = 9, .w = 9, .lo = -1,
     .hi = 1, .conv = {.co = 4, .kh = 5, .kw = 5, .sh = 1, .sw = 1, .dh = 1, .dw = 1, .groups = 1}},
    {.family = &bo_conv2d, .entries = "conv2d_forward conv2d_backward", .n = 2, .c = 4, .h = 6, .w = 7, .lo = -1,
     .hi = 1, .conv = {.co = 3, .kh = 1, .kw = 3, .sh = 1, .sw = 1, .ph = 0, .pw = 1, .dh = 1, .dw = 1, .groups = 1,
     .bias = 1}},
    {.family = &bo_conv2d, .entries = "conv2d_forward conv2d_backward", .n = 1, .c = 3, .h = 8, .w = 8, .lo = -1,
     .hi = 1, .conv = {.co = 4, .kh = 2, .kw = 2, .sh = 3, .sw = 3, .dh = 1, .dw = 1, .groups = 1, .bias = 1}},
    {.family = &bo_conv2d, .entries = "conv2d_forward conv2d_backward", .n = 2, .c = 6, .h = 7, .w = 9, .lo = -1,
     .hi = 1, .conv = {.co = 4, .kh = 3, .kw = 3, .sh = 1, .sw = 1, .ph = 1, .pw = 1, .dh = 1, .dw = 1, .groups = 2,
     .bias = 1}},
    {.family = &bo_conv2d, .entries = "conv2d_forward conv2d_backward", .n = 1, .c = 9, .h = 9, .w = 11, .lo = -1,
     .hi = 1, .conv = {.co = 6, .kh = 3, .kw = 3, .sh = 2, .sw = 2, .ph = 1, .pw = 1, .dh = 1, .dw = 1, .groups = 3}},
    {.family = &bo_conv2d, .entries = "conv2d_forward conv2d_backward", .n = 2, .c = 5, .h = 7, .w = 7, .lo = -1,
     .hi = 1, .conv = {.co = 5, .kh = 3, .kw = 3, .sh = 1, .sw = 1, .ph = 1, .pw = 1, .dh = 1, .dw = 1, .groups = 5,
     .bias = 1}},
    {.family = &bo_conv2d, .entries = "conv2d_forward conv2d_backward", .n = 1, .c = 7, .h = 13, .w = 17, .lo = -1,
     .hi = 1, .conv = {.co = 7, .kh = 3, .kw = 3, .sh = 2, .sw = 2, .ph = 1, .pw = 1, .dh = 1, .dw = 1, .groups = 7}},
    {.family = &bo_conv2d, .entries = "conv2d_forward conv2d_backward", .n = 2, .c = 4, .h = 9, .w = 9, .lo = -1,
     .hi = 1, .conv = {.co = 5, .kh = 3, .kw = 3, .sh = 1, .sw = 1, .ph = 2, .pw = 2, .dh = 2, .dw = 2, .groups = 1,
     .bias = 1}},
    {.family = &bo_conv2d, .entries = "conv2d_forward conv2d_backward", .n = 1, .c = 3, .h = 11, .w = 13, .lo = -1,
     .hi = 1, .conv = {.co = 4, .kh = 3, .kw = 3, .sh = 1, .sw = 2, .ph = 2, .pw = 3, .dh = 2, .dw = 3, .groups = 1}},
    {.family = &bo_conv2d, .entries = "conv2d_forward conv2d_backward", .n = 3, .c = 6, .h = 1, .w = 1, .lo = -1,
     .hi = 1, .conv = {.co = 5, .kh = 3, .kw = 3, .sh = 1, .sw = 1, .ph = 1, .pw = 1, .dh = 1, .dw = 1, .groups = 1,
     .bias = 1}},
    {.family = &bo_conv2d, .entries = "conv2d_forward conv2d_backward", .n = 2, .c = 4, .h = 3, .w = 3, .lo = -1,
     .hi = 1, .conv = {.co = 3, .kh = 3, .kw = 3, .sh = 1, .sw = 1, .dh = 1, .dw = 1, .groups = 1}},
    {.family = &bo_conv2d, .entries = "conv2d_forward conv2d_backward", .n = 1, .c = 33, .h = 5, .w = 5, .lo = -1,
     .hi = 1, .conv = {.co = 9, .kh = 1, .kw = 1, .sh = 1, .sw = 1, .dh = 1, .dw = 1, .groups = 1, .bias = 1}},
    {.family = &bo_conv2d, .entries = "conv2d_forward conv2d_backward", .n = 1, .c = 17, .h = 4, .w = 4, .lo = -1,
     .hi = 1, .conv = {.co = 9, .kh = 3, .kw = 3, .sh = 1, .sw = 1, .ph = 1, .pw = 1, .dh = 1, .dw = 1, .groups = 1}},
    /* Inference post-ops (facs_conv2d_fused): forward only. */
    {.family = &bo_conv2d, .entries = "conv2d_forward", .n = 2, .c = 5, .h = 7, .w = 9, .lo = -1, .hi = 1,
     .conv = {.co = 6, .kh = 3, .kw = 3, .sh = 1, .sw = 1, .ph = 1, .pw = 1, .dh = 1, .dw = 1, .groups = 1, .bias = 1,
     .post_sum = 1}},
    {.family = &bo_conv2d, .entries = "conv2d_forward", .n = 1, .c = 6, .h = 13, .w = 17, .lo = -1, .hi = 1,
     .conv = {.co = 4, .kh = 3, .kw = 3, .sh = 2, .sw = 2, .ph = 1, .pw = 1, .dh = 1, .dw = 1, .groups = 1,
     .post_act = FACS_POST_RELU}},
    {.family = &bo_conv2d, .entries = "conv2d_forward", .n = 3, .c = 8, .h = 5, .w = 5, .lo = -1, .hi = 1,
     .conv = {.co = 8, .kh = 1, .kw = 1, .sh = 1, .sw = 1, .dh = 1, .dw = 1, .groups = 1, .bias = 1, .post_sum = 1,
     .post_act = FACS_POST_RELU}},
    {.family = &bo_conv2d, .entries = "conv2d_forward", .n = 2, .c = 5, .h = 7, .w = 7, .lo = -1, .hi = 1,
     .conv = {.co = 5, .kh = 3, .kw = 3, .sh = 1, .sw = 1, .ph = 1, .pw = 1, .dh = 1, .dw = 1, .groups = 5,
     .post_sum = 1, .post_act = FACS_POST_RELU}},
    /* ReLU6 (MobileNet-v2's convolutions with BN folded): x in [-3, 3] puts
     * outputs on both sides of 0 and 6; dense, depthwise with stride 2 as in
     * its blocks, and after a residual sum. */
    {.family = &bo_conv2d, .entries = "conv2d_forward", .n = 2, .c = 5, .h = 7, .w = 9, .lo = -3, .hi = 3,
     .conv = {.co = 6, .kh = 3, .kw = 3, .sh = 1, .sw = 1, .ph = 1, .pw = 1, .dh = 1, .dw = 1, .groups = 1, .bias = 1,
     .post_act = FACS_POST_RELU6}},
    {.family = &bo_conv2d, .entries = "conv2d_forward", .n = 2, .c = 12, .h = 9, .w = 9, .lo = -3, .hi = 3,
     .conv = {.co = 12, .kh = 3, .kw = 3, .sh = 2, .sw = 2, .ph = 1, .pw = 1, .dh = 1, .dw = 1, .groups = 12,
     .bias = 1, .post_act = FACS_POST_RELU6}},
    {.family = &bo_conv2d, .entries = "conv2d_forward", .n = 3, .c = 8, .h = 5, .w = 5, .lo = -3, .hi = 3,
     .conv = {.co = 8, .kh = 1, .kw = 1, .sh = 1, .sw = 1, .dh = 1, .dw = 1, .groups = 1, .post_sum = 1,
     .post_act = FACS_POST_RELU6}},

    /* ---- batchnorm: training (N = 1, N H W = 2, C = 33) and eval ---- */
    {.family = &bo_batchnorm, .entries = "batchnorm_forward batchnorm_backward", .n = 2, .c = 5, .h = 7, .w = 9,
     .lo = -1, .hi = 1, .bn = {.training = 1, .eps = 1e-5f, .momentum = 0.1f}},
    {.family = &bo_batchnorm, .entries = "batchnorm_forward batchnorm_backward", .n = 1, .c = 3, .h = 13, .w = 17,
     .lo = -1, .hi = 1, .bn = {.training = 1, .eps = 1e-5f, .momentum = 0.1f}},
    /* Batches of 3 and 4 values per channel: training's dx is dy less its
     * projection onto 1 and x_hat, which leaves 1 or 2 of 3 or 4 dimensions;
     * the remainder can be much smaller than dy and its terms, so their
     * float rounding is large relative to it, the more so when a channel's
     * values lie close together, which also costs y digits (x - mean cancels):
     * seen <= 8.9e-5 (dx) and 1.2e-6 (y) with 3 values over 200 seeds, and
     * 5.9e-5 with 4 over 600 (eps 1e-3 for both: at 1e-5 one seed in 70 of
     * the 4-value case reached 5.5e-4); another backend's rounding differs as
     * much. A wrong term is O(1). */
    {.family = &bo_batchnorm, .entries = "batchnorm_forward batchnorm_backward", .n = 3, .c = 7, .h = 1, .w = 1,
     .lo = -1, .hi = 1, .tol_fwd = 5e-6, .tol_fd = 3e-4, .tol_xb = 3e-4, .bn = {.training = 1, .eps = 1e-3f,
     .momentum = 0.25f}},
    {.family = &bo_batchnorm, .entries = "batchnorm_forward batchnorm_backward", .n = 1, .c = 4, .h = 2, .w = 2,
     .lo = -1, .hi = 1, .tol_fd = 3e-4, .tol_xb = 3e-4, .bn = {.training = 1, .eps = 1e-3f, .momentum = 0.1f}},
    {.family = &bo_batchnorm, .entries = "batchnorm_forward batchnorm_backward", .n = 3, .c = 33, .h = 3, .w = 3,
     .lo = -1, .hi = 1, .bn = {.training = 1, .eps = 1e-5f, .momentum = 0.1f}},
    {.family = &bo_batchnorm, .entries = "batchnorm_forward batchnorm_backward", .n = 2, .c = 5, .h = 7, .w = 9,
     .lo = -1, .hi = 1, .bn = {.training = 0, .eps = 1e-5f, .momentum = 0.1f}},
    {.family = &bo_batchnorm, .entries = "batchnorm_forward batchnorm_backward", .n = 3, .c = 6, .h = 1, .w = 1,
     .lo = -1, .hi = 1, .bn = {.training = 0, .eps = 1e-3f, .momentum = 0.1f}},
    {.family = &bo_batchnorm, .entries = "batchnorm_forward batchnorm_backward", .n = 1, .c = 33, .h = 5, .w = 3,
     .lo = -1, .hi = 1, .bn = {.training = 0, .eps = 1e-5f, .momentum = 0.1f}},

    /* ---- activation: relu, relu6, sigmoid; the kinks themselves without differences ---- */
    {.family = &bo_activation, .entries = "activation_forward activation_backward", .n = 2, .c = 5, .h = 7, .w = 9,
     .lo = -2, .hi = 2, .act = {.act = FACS_ACT_RELU}},
    {.family = &bo_activation, .entries = "activation_forward activation_backward", .n = 3, .c = 7, .h = 13, .w = 17,
     .lo = -2, .hi = 2, .act = {.act = FACS_ACT_RELU}},
    {.family = &bo_activation, .entries = "activation_forward activation_backward", .n = 2, .c = 6, .h = 7, .w = 9,
     .lo = -2, .hi = 8, .act = {.act = FACS_ACT_RELU6}},
    {.family = &bo_activation, .entries = "activation_forward activation_backward", .n = 1, .c = 3, .h = 1, .w = 1,
     .lo = -2, .hi = 8, .act = {.act = FACS_ACT_RELU6}},
    {.family = &bo_activation, .entries = "activation_forward activation_backward", .n = 2, .c = 5, .h = 7, .w = 9,
     .lo = -6, .hi = 6, .act = {.act = FACS_ACT_SIGMOID}},
    {.family = &bo_activation, .entries = "activation_forward activation_backward", .n = 3, .c = 33, .h = 3, .w = 3,
     .lo = -6, .hi = 6, .act = {.act = FACS_ACT_SIGMOID}},
    /* x = 0 (and 6) exactly: no derivative; the expected gradient is PyTorch's 0. */
    {.family = &bo_activation, .entries = "activation_forward activation_backward", .n = 2, .c = 5, .h = 3, .w = 7,
     .lo = -2, .hi = 2, .no_fd = 1, .act = {.act = FACS_ACT_RELU, .kinks = 1}},
    {.family = &bo_activation, .entries = "activation_forward activation_backward", .n = 2, .c = 5, .h = 3, .w = 7,
     .lo = -2, .hi = 8, .no_fd = 1, .act = {.act = FACS_ACT_RELU6, .kinks = 1}},

    /* ---- add (forward only: its backward is a copy in ops.h) ---- */
    {.family = &bo_add, .entries = "add_forward", .n = 2, .c = 5, .h = 7, .w = 9, .lo = -1, .hi = 1},
    {.family = &bo_add, .entries = "add_forward", .n = 3, .c = 33, .h = 13, .w = 17, .lo = -10, .hi = 10},
    {.family = &bo_add, .entries = "add_forward", .n = 1, .c = 1, .h = 1, .w = 1, .lo = -1, .hi = 1},
    {.family = &bo_add, .entries = "add_forward", .n = 2, .c = 33, .h = 7, .w = 9, .lo = -4, .hi = 4,
     .add = {.act = FACS_POST_RELU}},
    {.family = &bo_add, .entries = "add_forward", .n = 3, .c = 5, .h = 13, .w = 17, .lo = -2, .hi = 5,
     .add = {.act = FACS_POST_RELU6}},

    /* ---- maxpool2d: mostly negative distinct values, so padding never wins ---- */
    {.family = &bo_maxpool2d, .entries = "maxpool2d_forward maxpool2d_backward", .n = 2, .c = 5, .h = 13, .w = 17,
     .lo = -3, .hi = 1, .pool = {.kh = 3, .kw = 3, .sh = 2, .sw = 2, .ph = 1, .pw = 1}},
    {.family = &bo_maxpool2d, .entries = "maxpool2d_forward maxpool2d_backward", .n = 1, .c = 6, .h = 7, .w = 9,
     .lo = -3, .hi = 1, .pool = {.kh = 2, .kw = 2, .sh = 2, .sw = 2}},
    {.family = &bo_maxpool2d, .entries = "maxpool2d_forward maxpool2d_backward", .n = 1, .c = 6, .h = 7, .w = 9,
     .lo = -3, .hi = 1, .pool = {.kh = 2, .kw = 2, .sh = 2, .sw = 2, .ceil_mode = 1}},
    {.family = &bo_maxpool2d, .entries = "maxpool2d_forward maxpool2d_backward", .n = 2, .c = 3, .h = 13, .w = 17,
     .lo = -3, .hi = 1, .pool = {.kh = 3, .kw = 3, .sh = 2, .sw = 2, .ph = 1, .pw = 1, .ceil_mode = 1}},
    {.family = &bo_maxpool2d, .entries = "maxpool2d_forward maxpool2d_backward", .n = 3, .c = 4, .h = 7, .w = 7,
     .lo = -3, .hi = 1, .pool = {.kh = 3, .kw = 3, .sh = 1, .sw = 1, .ph = 1, .pw = 1}},
    {.family = &bo_maxpool2d, .entries = "maxpool2d_forward maxpool2d_backward", .n = 1, .c = 5, .h = 9, .w = 8,
     .lo = -3, .hi = 1, .pool = {.kh = 3, .kw = 2, .sh = 2, .sw = 1, .ph = 1, .pw = 0}},
    {.family = &bo_maxpool2d, .entries = "maxpool2d_forward maxpool2d_backward", .n = 3, .c = 7, .h = 1, .w = 1,
     .lo = -3, .hi = 1, .pool = {.kh = 3, .kw = 3, .sh = 1, .sw = 1, .ph = 1, .pw = 1}},
    /* Ties (integer levels): no derivative where a tie is the maximum; the
     * expected gradient goes to each window's first maximum (PyTorch). */
    {.family = &bo_maxpool2d, .entries = "maxpool2d_forward maxpool2d_backward", .n = 2, .c = 4, .h = 9, .w = 9,
     .lo = -3, .hi = 2, .no_fd = 1, .pool = {.kh = 3, .kw = 3, .sh = 2, .sw = 2, .ph = 1, .pw = 1, .ties = 1}},
    {.family = &bo_maxpool2d, .entries = "maxpool2d_forward maxpool2d_backward", .n = 1, .c = 3, .h = 7, .w = 7,
     .lo = -3, .hi = 2, .no_fd = 1, .pool = {.kh = 2, .kw = 2, .sh = 1, .sw = 1, .ties = 1}},

    /* ---- avgpool2d: count_include_pad both ways, ceil_mode windows past input + pad ---- */
    {.family = &bo_avgpool2d, .entries = "avgpool2d_forward avgpool2d_backward", .n = 2, .c = 5, .h = 13, .w = 17,
     .lo = -1, .hi = 1, .pool = {.kh = 3, .kw = 3, .sh = 2, .sw = 2, .ph = 1, .pw = 1, .count_include_pad = 1}},
    {.family = &bo_avgpool2d, .entries = "avgpool2d_forward avgpool2d_backward", .n = 2, .c = 5, .h = 13, .w = 17,
     .lo = -1, .hi = 1, .pool = {.kh = 3, .kw = 3, .sh = 2, .sw = 2, .ph = 1, .pw = 1}},
    {.family = &bo_avgpool2d, .entries = "avgpool2d_forward avgpool2d_backward", .n = 1, .c = 6, .h = 7, .w = 9,
     .lo = -1, .hi = 1, .pool = {.kh = 2, .kw = 2, .sh = 2, .sw = 2, .ceil_mode = 1, .count_include_pad = 1}},
    {.family = &bo_avgpool2d, .entries = "avgpool2d_forward avgpool2d_backward", .n = 2, .c = 3, .h = 13, .w = 17,
     .lo = -1, .hi = 1, .pool = {.kh = 3, .kw = 3, .sh = 2, .sw = 2, .ph = 1, .pw = 1, .ceil_mode = 1,
     .count_include_pad = 1}},
    {.family = &bo_avgpool2d, .entries = "avgpool2d_forward avgpool2d_backward", .n = 2, .c = 3, .h = 13, .w = 17,
     .lo = -1, .hi = 1, .pool = {.kh = 3, .kw = 3, .sh = 2, .sw = 2, .ph = 1, .pw = 1, .ceil_mode = 1}},
    {.family = &bo_avgpool2d, .entries = "avgpool2d_forward avgpool2d_backward", .n = 1, .c = 4, .h = 8, .w = 8,
     .lo = -1, .hi = 1, .pool = {.kh = 2, .kw = 2, .sh = 2, .sw = 2, .count_include_pad = 1}},
    {.family = &bo_avgpool2d, .entries = "avgpool2d_forward avgpool2d_backward", .n = 3, .c = 5, .h = 1, .w = 1,
     .lo = -1, .hi = 1, .pool = {.kh = 3, .kw = 3, .sh = 1, .sw = 1, .ph = 1, .pw = 1, .count_include_pad = 1}},
    {.family = &bo_avgpool2d, .entries = "avgpool2d_forward avgpool2d_backward", .n = 1, .c = 4, .h = 9, .w = 11,
     .lo = -1, .hi = 1, .pool = {.kh = 3, .kw = 5, .sh = 1, .sw = 2, .ph = 1, .pw = 2}},

    /* ---- adaptive_avgpool2d: global, non-divisible bins, overlapping bins ---- */
    {.family = &bo_adaptive_avgpool2d, .entries = "adaptive_avgpool2d_forward adaptive_avgpool2d_backward", .n = 2,
     .c = 5, .h = 13, .w = 17, .lo = -1, .hi = 1, .rs = {.oh = 1, .ow = 1}},
    {.family = &bo_adaptive_avgpool2d, .entries = "adaptive_avgpool2d_forward adaptive_avgpool2d_backward", .n = 2,
     .c = 5, .h = 7, .w = 7, .lo = -1, .hi = 1, .rs = {.oh = 3, .ow = 3}},
    {.family = &bo_adaptive_avgpool2d, .entries = "adaptive_avgpool2d_forward adaptive_avgpool2d_backward", .n = 1,
     .c = 3, .h = 13, .w = 13, .lo = -1, .hi = 1, .rs = {.oh = 6, .ow = 6}},
    {.family = &bo_adaptive_avgpool2d, .entries = "adaptive_avgpool2d_forward adaptive_avgpool2d_backward", .n = 3,
     .c = 4, .h = 13, .w = 17, .lo = -1, .hi = 1, .rs = {.oh = 6, .ow = 3}},
    {.family = &bo_adaptive_avgpool2d, .entries = "adaptive_avgpool2d_forward adaptive_avgpool2d_backward", .n = 1,
     .c = 6, .h = 9, .w = 9, .lo = -1, .hi = 1, .rs = {.oh = 2, .ow = 2}},
    {.family = &bo_adaptive_avgpool2d, .entries = "adaptive_avgpool2d_forward adaptive_avgpool2d_backward", .n = 2,
     .c = 3, .h = 5, .w = 5, .lo = -1, .hi = 1, .rs = {.oh = 7, .ow = 7}},
    {.family = &bo_adaptive_avgpool2d, .entries = "adaptive_avgpool2d_forward adaptive_avgpool2d_backward", .n = 3,
     .c = 7, .h = 1, .w = 1, .lo = -1, .hi = 1, .rs = {.oh = 1, .ow = 1}},

    /* ---- resize_bilinear: up, down, mixed, same size, from and to 1x1, both align_corners ---- */
    {.family = &bo_resize_bilinear, .entries = "resize_bilinear_forward resize_bilinear_backward", .n = 2, .c = 5,
     .h = 7, .w = 9, .lo = -1, .hi = 1, .rs = {.oh = 13, .ow = 17}},
    {.family = &bo_resize_bilinear, .entries = "resize_bilinear_forward resize_bilinear_backward", .n = 2, .c = 5,
     .h = 7, .w = 9, .lo = -1, .hi = 1, .rs = {.oh = 13, .ow = 17, .align_corners = 1}},
    {.family = &bo_resize_bilinear, .entries = "resize_bilinear_forward resize_bilinear_backward", .n = 1, .c = 3,
     .h = 13, .w = 17, .lo = -1, .hi = 1, .rs = {.oh = 7, .ow = 9}},
    {.family = &bo_resize_bilinear, .entries = "resize_bilinear_forward resize_bilinear_backward", .n = 1, .c = 3,
     .h = 13, .w = 17, .lo = -1, .hi = 1, .rs = {.oh = 7, .ow = 9, .align_corners = 1}},
    {.family = &bo_resize_bilinear, .entries = "resize_bilinear_forward resize_bilinear_backward", .n = 3, .c = 4,
     .h = 7, .w = 17, .lo = -1, .hi = 1, .rs = {.oh = 13, .ow = 9}},
    {.family = &bo_resize_bilinear, .entries = "resize_bilinear_forward resize_bilinear_backward", .n = 2, .c = 3,
     .h = 7, .w = 9, .lo = -1, .hi = 1, .rs = {.oh = 7, .ow = 9}},
    {.family = &bo_resize_bilinear, .entries = "resize_bilinear_forward resize_bilinear_backward", .n = 2, .c = 6,
     .h = 1, .w = 1, .lo = -1, .hi = 1, .rs = {.oh = 5, .ow = 5, .align_corners = 1}},
    {.family = &bo_resize_bilinear, .entries = "resize_bilinear_forward resize_bilinear_backward", .n = 2, .c = 6,
     .h = 1, .w = 1, .lo = -1, .hi = 1, .rs = {.oh = 5, .ow = 5}},
    {.family = &bo_resize_bilinear, .entries = "resize_bilinear_forward resize_bilinear_backward", .n = 1, .c = 5,
     .h = 7, .w = 9, .lo = -1, .hi = 1, .rs = {.oh = 1, .ow = 1, .align_corners = 1}},
    {.family = &bo_resize_bilinear, .entries = "resize_bilinear_forward resize_bilinear_backward", .n = 1, .c = 3,
     .h = 3, .w = 3, .lo = -1, .hi = 1, .rs = {.oh = 24, .ow = 24}},

    /* ---- concat: 2 and 3 inputs, odd widths ---- */
    {.family = &bo_concat, .entries = "concat_forward concat_backward", .n = 2, .h = 7, .w = 9, .lo = -1, .hi = 1,
     .cat = {.count = 2, .c = {3, 5}}},
    {.family = &bo_concat, .entries = "concat_forward concat_backward", .n = 1, .h = 13, .w = 17, .lo = -1, .hi = 1,
     .cat = {.count = 3, .c = {1, 4, 7}}},
    {.family = &bo_concat, .entries = "concat_forward concat_backward", .n = 3, .h = 1, .w = 1, .lo = -1, .hi = 1,
     .cat = {.count = 2, .c = {33, 2}}},
    {.family = &bo_concat, .entries = "concat_forward concat_backward", .n = 2, .h = 5, .w = 5, .lo = -1, .hi = 1,
     .cat = {.count = 3, .c = {8, 8, 16}}},

    /* ---- dropout2d: p 0, 0.3, 0.5, 1; samples placed later in a parallel batch ---- */
    {.family = &bo_dropout2d, .entries = "dropout2d_forward dropout2d_backward", .n = 2, .c = 6, .h = 7, .w = 9,
     .lo = -1, .hi = 1, .drop = {.prob = 0.0f, .seed = 11}},
    {.family = &bo_dropout2d, .entries = "dropout2d_forward dropout2d_backward", .n = 3, .c = 8, .h = 5, .w = 7,
     .lo = -1, .hi = 1, .drop = {.prob = 0.3f, .seed = 42}},
    {.family = &bo_dropout2d, .entries = "dropout2d_forward dropout2d_backward", .n = 2, .c = 5, .h = 3, .w = 3,
     .lo = -1, .hi = 1, .drop = {.prob = 0.3f, .seed = 7, .batch_offset = 5}},
    {.family = &bo_dropout2d, .entries = "dropout2d_forward dropout2d_backward", .n = 2, .c = 4, .h = 3, .w = 5,
     .lo = -1, .hi = 1, .drop = {.prob = 1.0f, .seed = 3}},
    {.family = &bo_dropout2d, .entries = "dropout2d_forward dropout2d_backward", .n = 1, .c = 33, .h = 1, .w = 1,
     .lo = -1, .hi = 1, .drop = {.prob = 0.5f, .seed = 0xfeedfacecafeULL, .batch_offset = 2}},

    /* ---- linear ---- */
    {.family = &bo_linear, .entries = "linear_forward linear_backward", .n = 3, .c = 17, .lo = -1, .hi = 1,
     .lin = {.out = 5, .bias = 1}},
    {.family = &bo_linear, .entries = "linear_forward linear_backward", .n = 1, .c = 8, .lo = -1, .hi = 1,
     .lin = {.out = 10}},
    {.family = &bo_linear, .entries = "linear_forward linear_backward", .n = 7, .c = 33, .lo = -1, .hi = 1,
     .lin = {.out = 9, .bias = 1}},
    /* One weight, N = 1 and no bias: y and dw are single products. A single
     * sum of two terms (x w + b, or dw over N = 2) may cancel, its relative
     * error unbounded. */
    {.family = &bo_linear, .entries = "linear_forward linear_backward", .n = 1, .c = 1, .lo = -1, .hi = 1,
     .lin = {.out = 1}},
    /* Several 16 x 16 tiles of the CUDA matrix product (linear.cu) in
     * every direction: 3 row tiles of N, 3 of OUT and 5 steps over IN, each
     * direction's last one partial. No finite differences: these are the
     * smaller cases' sums, only longer; the CPU checks them. */
    {.family = &bo_linear, .entries = "linear_forward linear_backward", .n = 37, .c = 70, .lo = -1, .hi = 1,
     .no_fd = 1, .lin = {.out = 45, .bias = 1}},

    /* ---- softmax_ce: ignored pixels, smoothing, classification, all ignored ---- */
    {.family = &bo_softmax_ce, .entries = "softmax_ce_forward softmax_ce_backward", .n = 2, .c = 5, .h = 7, .w = 9,
     .lo = -3, .hi = 3, .ce = {.ignore_index = 255, .ignore_frac = 0.3}},
    {.family = &bo_softmax_ce, .entries = "softmax_ce_forward softmax_ce_backward", .n = 2, .c = 5, .h = 7, .w = 9,
     .lo = -3, .hi = 3, .ce = {.ignore_index = 255, .smoothing = 0.1f, .ignore_frac = 0.3}},
    {.family = &bo_softmax_ce, .entries = "softmax_ce_forward softmax_ce_backward", .n = 1, .c = 19, .h = 5, .w = 7,
     .lo = -3, .hi = 3, .ce = {.ignore_index = 255, .smoothing = 0.05f, .ignore_frac = 0.1}},
    {.family = &bo_softmax_ce, .entries = "softmax_ce_forward softmax_ce_backward", .n = 8, .c = 10, .h = 1, .w = 1,
     .lo = -3, .hi = 3, .ce = {.ignore_index = -1, .smoothing = 0.1f}},
    {.family = &bo_softmax_ce, .entries = "softmax_ce_forward softmax_ce_backward", .n = 3, .c = 3, .h = 7, .w = 9,
     .lo = -3, .hi = 3, .ce = {.ignore_index = -100, .ignore_frac = 0.5}},
    /* More than 64 classes: the CUDA kernels' 32 lanes a pixel (softmax_ce.cu;
     * 8 lanes up to 64), with one class past a whole number of lanes, and
     * ImageNet's 1000 classes. */
    {.family = &bo_softmax_ce, .entries = "softmax_ce_forward softmax_ce_backward", .n = 3, .c = 65, .h = 3, .w = 11,
     .lo = -3, .hi = 3, .ce = {.ignore_index = 255, .smoothing = 0.1f, .ignore_frac = 0.2}},
    {.family = &bo_softmax_ce, .entries = "softmax_ce_forward softmax_ce_backward", .n = 5, .c = 1000, .h = 1, .w = 1,
     .lo = -3, .hi = 3, .ce = {.ignore_index = -100}},
    /* Every pixel ignored: a NaN loss, nothing to differentiate; dlogits must be 0. */
    {.family = &bo_softmax_ce, .entries = "softmax_ce_forward softmax_ce_backward", .n = 2, .c = 4, .h = 3, .w = 3,
     .lo = -3, .hi = 3, .no_fd = 1, .ce = {.ignore_index = 255, .smoothing = 0.1f, .ignore_frac = 1.0}},

    /* ---- scale_channels ---- */
    {.family = &bo_scale_channels, .entries = "scale_channels_forward scale_channels_backward", .n = 2, .c = 5, .h = 7,
     .w = 9, .lo = -1, .hi = 1},
    {.family = &bo_scale_channels, .entries = "scale_channels_forward scale_channels_backward", .n = 1, .c = 7, .h = 13,
     .w = 17, .lo = -1, .hi = 1},
    {.family = &bo_scale_channels, .entries = "scale_channels_forward scale_channels_backward", .n = 3, .c = 33, .h = 3,
     .w = 5, .lo = -1, .hi = 1},
    {.family = &bo_scale_channels, .entries = "scale_channels_forward scale_channels_backward", .n = 3, .c = 6, .h = 1,
     .w = 1, .lo = -1, .hi = 1},

    /* ---- channel_pool: max and avg, R = 1, 2, 4, 8 ---- */
    {.family = &bo_channel_pool, .entries = "channel_pool_forward channel_pool_backward", .n = 2, .c = 5, .h = 7,
     .w = 9, .lo = -2, .hi = 2, .cp = {.mode = FACS_CHANNEL_POOL_MAX, .r = 1}},
    {.family = &bo_channel_pool, .entries = "channel_pool_forward channel_pool_backward", .n = 2, .c = 6, .h = 7,
     .w = 9, .lo = -2, .hi = 2, .cp = {.mode = FACS_CHANNEL_POOL_MAX, .r = 2}},
    {.family = &bo_channel_pool, .entries = "channel_pool_forward channel_pool_backward", .n = 1, .c = 16, .h = 13,
     .w = 17, .lo = -2, .hi = 2, .cp = {.mode = FACS_CHANNEL_POOL_MAX, .r = 4}},
    {.family = &bo_channel_pool, .entries = "channel_pool_forward channel_pool_backward", .n = 3, .c = 24, .h = 5,
     .w = 5, .lo = -2, .hi = 2, .cp = {.mode = FACS_CHANNEL_POOL_MAX, .r = 8}},
    {.family = &bo_channel_pool, .entries = "channel_pool_forward channel_pool_backward", .n = 3, .c = 7, .h = 1,
     .w = 1, .lo = -2, .hi = 2, .cp = {.mode = FACS_CHANNEL_POOL_AVG, .r = 1}},
    {.family = &bo_channel_pool, .entries = "channel_pool_forward channel_pool_backward", .n = 2, .c = 6, .h = 7,
     .w = 9, .lo = -2, .hi = 2, .cp = {.mode = FACS_CHANNEL_POOL_AVG, .r = 2}},
    {.family = &bo_channel_pool, .entries = "channel_pool_forward channel_pool_backward", .n = 1, .c = 12, .h = 13,
     .w = 17, .lo = -2, .hi = 2, .cp = {.mode = FACS_CHANNEL_POOL_AVG, .r = 4}},
    {.family = &bo_channel_pool, .entries = "channel_pool_forward channel_pool_backward", .n = 2, .c = 24, .h = 3,
     .w = 3, .lo = -2, .hi = 2, .cp = {.mode = FACS_CHANNEL_POOL_AVG, .r = 8}},

    /* ---- facs: T = 0 (all Avg), 0.5, 1 (all Max) and weighted; R = 1, 2, 4, 8; bias or not ---- */
    {.family = &bo_facs, .entries = "facs_forward facs_backward", .n = 2, .c = 6, .h = 7, .w = 9, .lo = -1, .hi = 1,
     .fa = {.fusion = FACS_FUSION_THRESHOLD, .threshold = 0.0f, .r = 2, .bias = 1}},
    {.family = &bo_facs, .entries = "facs_forward facs_backward", .n = 1, .c = 16, .h = 13, .w = 17, .lo = -1, .hi = 1,
     .fa = {.fusion = FACS_FUSION_THRESHOLD, .threshold = 0.5f, .r = 4}},
    {.family = &bo_facs, .entries = "facs_forward facs_backward", .n = 2, .c = 16, .h = 5, .w = 5, .lo = -1, .hi = 1,
     .fa = {.fusion = FACS_FUSION_THRESHOLD, .threshold = 1.0f, .r = 8, .bias = 1}},
    {.family = &bo_facs, .entries = "facs_forward facs_backward", .n = 3, .c = 5, .h = 5, .w = 5, .lo = -1, .hi = 1,
     .fa = {.fusion = FACS_FUSION_THRESHOLD, .threshold = 0.5f, .r = 1, .bias = 1}},
    {.family = &bo_facs, .entries = "facs_forward facs_backward", .n = 1, .c = 40, .h = 7, .w = 7, .lo = -1, .hi = 1,
     .fa = {.fusion = FACS_FUSION_THRESHOLD, .threshold = 0.5f, .r = 8, .bias = 1}},
    {.family = &bo_facs, .entries = "facs_forward facs_backward", .n = 3, .c = 12, .h = 7, .w = 7, .lo = -1, .hi = 1,
     .fa = {.fusion = FACS_FUSION_THRESHOLD, .threshold = 0.5f, .r = 2}},
    {.family = &bo_facs, .entries = "facs_forward facs_backward", .n = 2, .c = 12, .h = 5, .w = 7, .lo = -1, .hi = 1,
     .fa = {.fusion = FACS_FUSION_THRESHOLD, .threshold = 0.0f, .r = 4}},
    {.family = &bo_facs, .entries = "facs_forward facs_backward", .n = 1, .c = 10, .h = 7, .w = 9, .lo = -1, .hi = 1,
     .fa = {.fusion = FACS_FUSION_THRESHOLD, .threshold = 1.0f, .r = 2}},
    /* Weighted with R = 1 is y = x (M = A): p gets no gradient, a zero that
     * normwise errors cannot judge; R = 2 instead. */
    {.family = &bo_facs, .entries = "facs_forward facs_backward", .n = 1, .c = 14, .h = 13, .w = 17, .lo = -1, .hi = 1,
     .fa = {.fusion = FACS_FUSION_WEIGHTED, .r = 2}},
    {.family = &bo_facs, .entries = "facs_forward facs_backward", .n = 3, .c = 20, .h = 7, .w = 7, .lo = -1, .hi = 1,
     .fa = {.fusion = FACS_FUSION_WEIGHTED, .r = 4, .bias = 1}},
    {.family = &bo_facs, .entries = "facs_forward facs_backward", .n = 3, .c = 16, .h = 1, .w = 1, .lo = -1, .hi = 1,
     .fa = {.fusion = FACS_FUSION_WEIGHTED, .r = 8, .bias = 1}},
    {.family = &bo_facs, .entries = "facs_forward facs_backward", .n = 2, .c = 8, .h = 7, .w = 9, .lo = -1, .hi = 1,
     .fa = {.fusion = FACS_FUSION_WEIGHTED, .r = 2}},
    /* One output channel: a one-block cluster on CUDA (facs_resident.cu). Weighted and without a bias: a
     * threshold's p can sit within a finite-difference step of T, and db, a single sum over the images, can
     * cancel to near 0, where its relative error means nothing. */
    {.family = &bo_facs, .entries = "facs_forward facs_backward", .n = 3, .c = 4, .h = 5, .w = 3, .lo = -1, .hi = 1,
     .fa = {.fusion = FACS_FUSION_WEIGHTED, .r = 4}},

    /* ---- memory entries ---- */
    /* More floats than one launch of CUDA's axpy covers (4096 blocks of 256), so its grid-stride loop runs. */
    {.family = &bo_axpy, .entries = "axpy", .n = 1100003, .lo = -1, .hi = 1, .mem = {.alpha = -0.75f}},
    {.family = &bo_axpy, .entries = "axpy", .n = 7, .lo = -1, .hi = 1, .mem = {.alpha = 2.5f}},
    {.family = &bo_axpy, .entries = "axpy", .n = 1, .lo = -1, .hi = 1, .mem = {.alpha = 0.0f}},
    {.family = &bo_copy, .entries = "copy", .n = 100003, .lo = -1, .hi = 1},
    {.family = &bo_copy, .entries = "copy", .n = 5, .lo = -1, .hi = 1},
    {.family = &bo_fill_zero, .entries = "fill_zero", .n = 4099, .lo = -1, .hi = 1},
    {.family = &bo_fill_zero, .entries = "fill_zero", .n = 4099, .lo = -1, .hi = 1, .mem = {.byte_offset = 3}},
    {.family = &bo_memory,
     .entries = "alloc free host_alloc host_free copy_from_host copy_from_host_async copy_to_host copy fill_zero axpy sync",
     .n = 100003, .lo = -1, .hi = 1},
    {.family = &bo_memory,
     .entries = "alloc free host_alloc host_free copy_from_host copy_from_host_async copy_to_host copy fill_zero axpy sync",
     .n = 1, .lo = -1, .hi = 1},
    /* count_non_finite: .mem.alpha is the share of values that are NaN or
     * infinite. More floats than CUDA's grid covers (1024 blocks of 256), so
     * its grid-stride loop runs; odd counts; none, some and all bad. */
    {.family = &bo_count_non_finite, .entries = "count_non_finite alloc free copy_from_host copy_to_host",
     .n = 300007, .lo = -1, .hi = 1, .mem = {.alpha = 0.01f}},
    {.family = &bo_count_non_finite, .entries = "count_non_finite alloc free copy_from_host copy_to_host",
     .n = 1031, .lo = -1e30, .hi = 1e30, .mem = {.alpha = 0.0f}},
    {.family = &bo_count_non_finite, .entries = "count_non_finite alloc free copy_from_host copy_to_host",
     .n = 37, .lo = -1, .hi = 1, .mem = {.alpha = 0.5f}},
    {.family = &bo_count_non_finite, .entries = "count_non_finite alloc free copy_from_host copy_to_host",
     .n = 5, .lo = -1, .hi = 1, .mem = {.alpha = 1.0f}},
    {.family = &bo_count_non_finite, .entries = "count_non_finite alloc free copy_from_host copy_to_host",
     .n = 1, .lo = -1, .hi = 1, .mem = {.alpha = 1.0f}},

    /* ---- sgd_update: plain, weight decay, momentum (first step, later steps), dampening, Nesterov ---- */
    {.family = &bo_sgd_update, .entries = "sgd_update", .n = 100003, .lo = -1, .hi = 1, .sgd = {.lr = 0.1f}},
    {.family = &bo_sgd_update, .entries = "sgd_update", .n = 1031, .lo = -1, .hi = 1, .sgd = {.lr = 0.05f,
     .weight_decay = 1e-4f}},
    {.family = &bo_sgd_update, .entries = "sgd_update", .n = 1031, .lo = -1, .hi = 1, .sgd = {.lr = 0.1f,
     .weight_decay = 5e-4f, .momentum = 0.9f, .damp_keep = 1.0f, .first = 1}},
    {.family = &bo_sgd_update, .entries = "sgd_update", .n = 1031, .lo = -1, .hi = 1, .sgd = {.lr = 0.1f,
     .weight_decay = 5e-4f, .momentum = 0.9f, .damp_keep = 1.0f}},
    {.family = &bo_sgd_update, .entries = "sgd_update", .n = 1031, .lo = -1, .hi = 1, .sgd = {.lr = 0.01f,
     .momentum = 0.9f, .damp_keep = 0.9f}},
    {.family = &bo_sgd_update, .entries = "sgd_update", .n = 1031, .lo = -1, .hi = 1, .sgd = {.lr = 0.1f,
     .weight_decay = 1e-4f, .momentum = 0.9f, .damp_keep = 1.0f, .nesterov = 1}},
};

const size_t bo_case_count = sizeof bo_cases / sizeof bo_cases[0];
