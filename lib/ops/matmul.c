// SPDX-License-Identifier: MIT
// MATMUL: batched a.b (or a.b^T) with fused bias, activation and residual; xf_linear.
#include <stdlib.h>
#include <string.h>

#include "ops/ops_internal.h"

xf_status_t xf_matmul(xf_graph_t* graph, xf_tensor_t* a, xf_tensor_t* b, const xf_matmul_options_t* options,
                      xf_tensor_t** out) {
    const char* fn = "xf_matmul";
    XF_CHECK(xf_op_begin(graph, fn, out));
    xf_matmul_options_t opt = {0};
    if (options) opt = *options;
    XF_CHECK(xf_op_check_input(graph, XF_OP_MATMUL, fn, a, "a"));
    XF_CHECK(xf_op_check_dtypes(graph, fn, b, XF_DTYPES_FLOAT | XF_DTYPES_QUANT, "b"));
    // b (a weight) may be stored apart: f16 or bf16 under f32 activations, read and widened by the kernels.
    if (a->ndim < 2 || b->ndim < 2) return xf_op_fail(graph, fn, "a and b need at least 2 dimensions");
    if ((unsigned)opt.activation > XF_ACT_QUICK_GELU) return xf_op_fail(graph, fn, "unknown activation %d", (int)opt.activation);
    int64_t k = a->shape[a->ndim - 1];
    int64_t kb = opt.transpose_b ? b->shape[b->ndim - 1] : b->shape[b->ndim - 2];
    int64_t n = opt.transpose_b ? b->shape[b->ndim - 2] : b->shape[b->ndim - 1];
    char sa[96], sb[96];
    xf_op_shape_str(a, sa, sizeof sa);
    xf_op_shape_str(b, sb, sizeof sb);
    if (k != kb) {
        return xf_op_fail(graph, fn, "inner dimensions differ: a %s, b %s%s", sa, sb,
                          opt.transpose_b ? " (transposed)" : "");
    }
    if (b->ndim > a->ndim) return xf_op_fail(graph, fn, "b %s has more dimensions than a %s", sb, sa);
    for (int i = 0; i < b->ndim - 2; ++i) {
        int64_t db = b->shape[b->ndim - 3 - i], da = a->shape[a->ndim - 3 - i];
        if (db != 1 && db != da) return xf_op_fail(graph, fn, "batch dimensions do not broadcast: a %s, b %s", sa, sb);
    }
    int64_t shape[XF_MAX_DIMS];
    memcpy(shape, a->shape, sizeof shape);
    shape[a->ndim - 1] = n;
    XF_CHECK(xf_op_check_vector(graph, fn, opt.bias, a, n, "bias"));
    if (opt.residual) {
        XF_CHECK(xf_op_check_input(graph, XF_OP_MATMUL, fn, opt.residual, "residual"));
        XF_CHECK(xf_op_check_same_dtype(graph, fn, a, opt.residual, "residual"));
        if (opt.residual->ndim != a->ndim || memcmp(opt.residual->shape, shape, sizeof(int64_t) * a->ndim) != 0) {
            return xf_op_fail(graph, fn, "residual must have the result's shape");
        }
    }
    xf_op_params_t p = {.matmul = {.transpose_b = opt.transpose_b, .has_bias = opt.bias != NULL,
                                   .has_residual = opt.residual != NULL, .activation = opt.activation}};
    xf_tensor_t* scale = NULL;
    if (b->dtype == XF_DTYPE_I8) {
        scale = b->scale;
        if (!scale || b->ndim != 2 || !opt.transpose_b) {
            return xf_op_fail(graph, fn, "i8 b '%s' must be a 2-D weight with transpose_b and a scale (xf_tensor_set_scale)",
                              b->name ? b->name : "");
        }
        p.matmul.has_scale = true;
        p.matmul.scale_block = scale->ndim == 1 ? 0 : XF_QUANT_BLOCK;
    }
    if (b->ndim == 2 && a->ndim > 2) {
        // One matrix for every batch: a's batch dims fold into its rows, one GEMM of M = all rows (reshapes of
        // dense tensors are views).
        int64_t rows = 1;
        for (int i = 0; i < a->ndim - 1; ++i) rows *= a->shape[i];
        xf_tensor_t *a2, *r2 = NULL, *y;
        XF_CHECK(xf_reshape(graph, a, 2, (int64_t[]){rows, k}, &a2));
        if (opt.residual) XF_CHECK(xf_reshape(graph, opt.residual, 2, (int64_t[]){rows, n}, &r2));
        xf_tensor_t* src[5] = {a2, b, opt.bias, r2, scale};
        XF_CHECK(xf_graph_append(graph, XF_OP_MATMUL, src, 5, &p, a->dtype, 2, (int64_t[]){rows, n}, &y));
        return xf_reshape(graph, y, a->ndim, shape, out);
    }
    xf_tensor_t* src[5] = {a, b, opt.bias, opt.residual, scale};
    return xf_graph_append(graph, XF_OP_MATMUL, src, 5, &p, a->dtype, a->ndim, shape, out);
}

xf_status_t xf_linear(xf_graph_t* graph, xf_tensor_t* x, xf_tensor_t* weight, xf_tensor_t* bias, xf_tensor_t** out) {
    XF_CHECK(xf_op_begin(graph, "xf_linear", out));
    if (weight && weight->ndim != 2) {
        char s[96];
        xf_op_shape_str(weight, s, sizeof s);
        return xf_op_fail(graph, "xf_linear", "weight '%s' has shape %s; expected [out, in]", weight->name, s);
    }
    xf_matmul_options_t opt = {.transpose_b = true, .bias = bias};
    return xf_matmul(graph, x, weight, &opt, out);
}

// Multiplies the [N, K] values |w| of a quantized weight by their scales (xf_tensor_set_scale).
void xf_ref_dequantize(float* w, int64_t n, int64_t k, const xf_tref_t* scale, int block) {
    int64_t per_row = xf_quant_groups(k, block);
    for (int64_t j = 0; j < n; ++j)
        for (int64_t p = 0; p < k; ++p) w[j * k + p] *= xf_ref_ld(scale, j * per_row + (block ? p / block : 0));
}

// Each output sums its products in k order in double. The operands are converted to float once
// per batch (B as [N, K]) and four outputs accumulate side by side: the same sums, bit for bit, as
// one output at a time, several times faster for the test suite's large models.
xf_status_t xf_ref_matmul(const xf_exec_node_t* n, xf_err_t* err) {
    const xf_tref_t *a = &n->src[0], *b = &n->src[1], *d = &n->dst;
    int64_t m = a->ne[2], k = a->ne[3], nn = d->ne[3];
    bool tb = n->params.matmul.transpose_b;
    float* arow = xf_malloc((size_t)(k ? k : 1) * sizeof *arow);
    float* bt = xf_malloc((size_t)(nn * k > 0 ? nn * k : 1) * sizeof *bt);
    if (!arow || !bt) {
        xf_free(arow);
        xf_free(bt);
        return xf_err_set(err, XF_ERR_OUT_OF_MEMORY, "out of host memory for a matmul of %lld x %lld",
                          (long long)nn, (long long)k);
    }
    for (int64_t i0 = 0; i0 < d->ne[0]; ++i0) {
        for (int64_t i1 = 0; i1 < d->ne[1]; ++i1) {
            int64_t abase = (i0 * a->ne[1] + i1) * m * k;
            int64_t bbase = ((b->ne[0] == 1 ? 0 : i0) * b->ne[1] + (b->ne[1] == 1 ? 0 : i1)) * k * nn;
            for (int64_t j = 0; j < nn; ++j)
                for (int64_t p = 0; p < k; ++p)
                    bt[j * k + p] = tb ? xf_ref_ld(b, bbase + j * k + p) : xf_ref_ld(b, bbase + p * nn + j);
            if (n->params.matmul.has_scale) xf_ref_dequantize(bt, nn, k, &n->src[4], n->params.matmul.scale_block);
            for (int64_t i = 0; i < m; ++i) {
                for (int64_t p = 0; p < k; ++p) arow[p] = xf_ref_ld(a, abase + i * k + p);
                for (int64_t j0 = 0; j0 < nn; j0 += 4) {
                    int64_t cols = nn - j0 < 4 ? nn - j0 : 4;
                    double acc[4] = {0.0, 0.0, 0.0, 0.0};
                    const float* br[4];
                    for (int64_t q = 0; q < 4; ++q) br[q] = bt + (j0 + (q < cols ? q : 0)) * k;
                    for (int64_t p = 0; p < k; ++p) {
                        double av = arow[p];
                        acc[0] += av * br[0][p];
                        acc[1] += av * br[1][p];
                        acc[2] += av * br[2][p];
                        acc[3] += av * br[3][p];
                    }
                    for (int64_t q = 0; q < cols; ++q) {
                        int64_t j = j0 + q;
                        float v = (float)acc[q];
                        if (n->params.matmul.has_bias) v += xf_ref_ld(&n->src[2], j);
                        v = xf_ref_unary_fn((int)n->params.matmul.activation, v, &n->params);
                        int64_t o = ((i0 * d->ne[1] + i1) * m + i) * nn + j;
                        if (n->params.matmul.has_residual) v += xf_ref_ld(&n->src[3], o);
                        xf_ref_st(d, o, v);
                    }
                }
            }
        }
    }
    xf_free(arow);
    xf_free(bt);
    return XF_OK;
}
