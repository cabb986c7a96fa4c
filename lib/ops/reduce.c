// SPDX-License-Identifier: MIT
// REDUCE (sum, mean, max, min over one axis, keepdim optional) and ARGMAX (last axis, i32).
#include <string.h>

#include "ops/ops_internal.h"

static xf_status_t reduce(xf_graph_t* g, xf_op_t op, const char* fn, xf_tensor_t* x, int axis, bool keepdim,
                          xf_tensor_t** out) {
    XF_CHECK(xf_op_begin(g, fn, out));
    XF_CHECK(xf_op_check_input(g, op, fn, x, "x"));
    int ax = 0;
    XF_CHECK(xf_op_axis(g, fn, axis, x->ndim, &ax));
    int64_t shape[XF_MAX_DIMS];
    memcpy(shape, x->shape, sizeof shape);
    shape[ax] = 1;
    xf_op_params_t p = {.axis = {ax + 4 - x->ndim, 1}};
    xf_tensor_t* r = NULL;
    XF_CHECK(xf_graph_append(g, op, &x, 1, &p, x->dtype, x->ndim, shape, &r));
    if (keepdim) {
        *out = r;
        return XF_OK;
    }
    return xf_op_squeeze(g, r, ax, out);
}

xf_status_t xf_sum(xf_graph_t* graph, xf_tensor_t* x, int axis, bool keepdim, xf_tensor_t** out) {
    return reduce(graph, XF_OP_SUM, "xf_sum", x, axis, keepdim, out);
}
xf_status_t xf_mean(xf_graph_t* graph, xf_tensor_t* x, int axis, bool keepdim, xf_tensor_t** out) {
    return reduce(graph, XF_OP_MEAN, "xf_mean", x, axis, keepdim, out);
}
xf_status_t xf_max(xf_graph_t* graph, xf_tensor_t* x, int axis, bool keepdim, xf_tensor_t** out) {
    return reduce(graph, XF_OP_MAX, "xf_max", x, axis, keepdim, out);
}
xf_status_t xf_min(xf_graph_t* graph, xf_tensor_t* x, int axis, bool keepdim, xf_tensor_t** out) {
    return reduce(graph, XF_OP_MIN, "xf_min", x, axis, keepdim, out);
}

xf_status_t xf_ref_reduce(const xf_exec_node_t* n, xf_err_t* err) {
    (void)err;
    const xf_tref_t *x = &n->src[0], *d = &n->dst;
    int ax = n->params.axis.axis, code = xf_node_code(n);
    int64_t len = x->ne[ax], o = 0;
    XF_REF_FOR4(d) {
        int64_t idx[4] = {i0, i1, i2, i3};
        double acc = code == XF_RED_MAX ? -INFINITY : code == XF_RED_MIN ? INFINITY : 0.0;
        for (int64_t j = 0; j < len; ++j) {
            idx[ax] = j;
            double v = xf_ref_ld(x, xf_ref_index(x->ne, idx));
            if (code == XF_RED_MAX) acc = v > acc || isnan(v) ? v : acc;
            else if (code == XF_RED_MIN) acc = v < acc || isnan(v) ? v : acc;
            else acc += v;
        }
        xf_ref_st(d, o++, (float)(code == XF_RED_MEAN ? acc / (double)len : acc));
    }
    return XF_OK;
}

xf_status_t xf_argmax(xf_graph_t* graph, xf_tensor_t* x, xf_tensor_t** out) {
    XF_CHECK(xf_op_begin(graph, "xf_argmax", out));
    XF_CHECK(xf_op_check_input(graph, XF_OP_ARGMAX, "xf_argmax", x, "x"));
    int64_t shape[XF_MAX_DIMS];
    memcpy(shape, x->shape, sizeof shape);
    shape[x->ndim - 1] = 1;
    xf_tensor_t* r = NULL;
    XF_CHECK(xf_graph_append(graph, XF_OP_ARGMAX, &x, 1, NULL, XF_DTYPE_I32, x->ndim, shape, &r));
    return xf_op_squeeze(graph, r, x->ndim - 1, out);
}

xf_status_t xf_ref_argmax(const xf_exec_node_t* n, xf_err_t* err) {
    (void)err;
    const xf_tref_t* x = &n->src[0];
    int64_t c = x->ne[3], rows = xf_tref_elements(x) / c;
    int32_t* out = xf_ref_base(&n->dst);
    for (int64_t r = 0; r < rows; ++r) {
        int64_t best = 0;
        float bv = xf_ref_ld(x, r * c);
        for (int64_t i = 1; i < c; ++i) {
            float v = xf_ref_ld(x, r * c + i);
            if (v > bv || (isnan(v) && !isnan(bv))) {
                bv = v;
                best = i;
            }
        }
        out[r] = (int32_t)best;
    }
    return XF_OK;
}
