// SPDX-License-Identifier: MIT
// Row-wise families: NORM (layernorm, rmsnorm over the last dim) and SOFTMAX (scaled, masked).
#include <stdlib.h>

#include "ops/ops_internal.h"

static xf_status_t norm(xf_graph_t* g, xf_op_t op, const char* fn, xf_tensor_t* x, xf_tensor_t* w, xf_tensor_t* b,
                        float eps, xf_tensor_t** out) {
    XF_CHECK(xf_op_begin(g, fn, out));
    XF_CHECK(xf_op_check_input(g, op, fn, x, "x"));
    int64_t c = x->shape[x->ndim - 1];
    XF_CHECK(xf_op_check_vector(g, fn, w, x, c, "weight"));
    XF_CHECK(xf_op_check_vector(g, fn, b, x, c, "bias"));
    if (!(eps >= 0.0f)) return xf_op_fail(g, fn, "eps must be >= 0");
    xf_op_params_t p = {.norm = {eps, w != NULL, b != NULL}};
    xf_tensor_t* src[3] = {x, w, b};
    return xf_graph_append(g, op, src, 3, &p, x->dtype, x->ndim, x->shape, out);
}

xf_status_t xf_layernorm(xf_graph_t* graph, xf_tensor_t* x, xf_tensor_t* weight, xf_tensor_t* bias, float eps,
                         xf_tensor_t** out) {
    return norm(graph, XF_OP_LAYERNORM, "xf_layernorm", x, weight, bias, eps, out);
}

xf_status_t xf_rmsnorm(xf_graph_t* graph, xf_tensor_t* x, xf_tensor_t* weight, float eps, xf_tensor_t** out) {
    return norm(graph, XF_OP_RMSNORM, "xf_rmsnorm", x, weight, NULL, eps, out);
}

xf_status_t xf_ref_norm(const xf_exec_node_t* n, xf_err_t* err) {
    (void)err;
    const xf_tref_t *x = &n->src[0], *d = &n->dst;
    int64_t c = x->ne[3], rows = xf_tref_elements(x) / c;
    bool layer = n->op == XF_OP_LAYERNORM;
    for (int64_t r = 0; r < rows; ++r) {
        double mean = 0.0, sq = 0.0;
        for (int64_t i = 0; i < c; ++i) mean += xf_ref_ld(x, r * c + i);
        mean = layer ? mean / (double)c : 0.0;
        for (int64_t i = 0; i < c; ++i) {
            double v = xf_ref_ld(x, r * c + i) - mean;
            sq += v * v;
        }
        double inv = 1.0 / sqrt(sq / (double)c + n->params.norm.eps);
        for (int64_t i = 0; i < c; ++i) {
            float v = (float)((xf_ref_ld(x, r * c + i) - mean) * inv);
            if (n->params.norm.has_weight) v *= xf_ref_ld(&n->src[1], i);
            if (n->params.norm.has_bias) v += xf_ref_ld(&n->src[2], i);
            xf_ref_st(d, r * c + i, v);
        }
    }
    return XF_OK;
}

xf_status_t xf_softmax(xf_graph_t* graph, xf_tensor_t* x, float scale, xf_tensor_t* mask, xf_tensor_t** out) {
    const char* fn = "xf_softmax";
    XF_CHECK(xf_op_begin(graph, fn, out));
    XF_CHECK(xf_op_check_input(graph, XF_OP_SOFTMAX, fn, x, "x"));
    if (mask) {
        XF_CHECK(xf_op_check_input(graph, XF_OP_SOFTMAX, fn, mask, "mask"));
        XF_CHECK(xf_op_check_same_dtype(graph, fn, x, mask, "mask"));
        XF_CHECK(xf_op_check_broadcasts_to(graph, fn, mask, x->ndim, x->shape, "mask"));
    }
    xf_op_params_t p = {.softmax = {scale, mask != NULL}};
    xf_tensor_t* src[2] = {x, mask};
    return xf_graph_append(graph, XF_OP_SOFTMAX, src, 2, &p, x->dtype, x->ndim, x->shape, out);
}

xf_status_t xf_ref_softmax(const xf_exec_node_t* n, xf_err_t* err) {
    const xf_tref_t *x = &n->src[0], *mask = &n->src[1], *d = &n->dst;
    int64_t c = x->ne[3];
    float* row = xf_malloc(sizeof(float) * (size_t)c);
    if (!row) return xf_err_set(err, XF_ERR_OUT_OF_MEMORY, "out of host memory");
    for (int64_t i0 = 0; i0 < x->ne[0]; ++i0) {
        for (int64_t i1 = 0; i1 < x->ne[1]; ++i1) {
            for (int64_t i2 = 0; i2 < x->ne[2]; ++i2) {
                int64_t base = ((i0 * x->ne[1] + i1) * x->ne[2] + i2) * c;
                float mx = -INFINITY;
                for (int64_t i = 0; i < c; ++i) {
                    row[i] = xf_ref_ld(x, base + i) * n->params.softmax.scale;
                    if (n->params.softmax.has_mask) row[i] += xf_ref_ld(mask, xf_ref_bidx(mask, i0, i1, i2, i));
                    if (row[i] > mx) mx = row[i];
                }
                double sum = 0.0;
                for (int64_t i = 0; i < c; ++i) {
                    row[i] = mx == -INFINITY ? 0.0f : expf(row[i] - mx);
                    sum += row[i];
                }
                for (int64_t i = 0; i < c; ++i) xf_ref_st(d, base + i, sum > 0.0 ? (float)(row[i] / sum) : 0.0f);
            }
        }
    }
    xf_free(row);
    return XF_OK;
}
