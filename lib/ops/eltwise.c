// SPDX-License-Identifier: MIT
// Element-wise families: BINARY (add, sub, mul, div, pow with broadcasting), UNARY (scale,
// activations, math functions, clip), GLU and WHERE.
#include <string.h>

#include "ops/ops_internal.h"

//===----------------------------------------------------------------------===//
// BINARY
//===----------------------------------------------------------------------===//

static xf_status_t binary(xf_graph_t* g, xf_op_t op, const char* fn, xf_tensor_t* a, xf_tensor_t* b,
                          xf_tensor_t** out) {
    XF_CHECK(xf_op_begin(g, fn, out));
    XF_CHECK(xf_op_check_input(g, op, fn, a, "a"));
    XF_CHECK(xf_op_check_input(g, op, fn, b, "b"));
    XF_CHECK(xf_op_check_same_dtype(g, fn, a, b, "b"));
    int nd = 0;
    int64_t shape[XF_MAX_DIMS];
    XF_CHECK(xf_op_broadcast_shape(g, fn, a, b, &nd, shape));
    xf_tensor_t* src[2] = {a, b};
    return xf_graph_append(g, op, src, 2, NULL, a->dtype, nd, shape, out);
}

xf_status_t xf_add(xf_graph_t* graph, xf_tensor_t* a, xf_tensor_t* b, xf_tensor_t** out) {
    return binary(graph, XF_OP_ADD, "xf_add", a, b, out);
}
xf_status_t xf_sub(xf_graph_t* graph, xf_tensor_t* a, xf_tensor_t* b, xf_tensor_t** out) {
    return binary(graph, XF_OP_SUB, "xf_sub", a, b, out);
}
xf_status_t xf_mul(xf_graph_t* graph, xf_tensor_t* a, xf_tensor_t* b, xf_tensor_t** out) {
    return binary(graph, XF_OP_MUL, "xf_mul", a, b, out);
}
xf_status_t xf_div(xf_graph_t* graph, xf_tensor_t* a, xf_tensor_t* b, xf_tensor_t** out) {
    return binary(graph, XF_OP_DIV, "xf_div", a, b, out);
}
xf_status_t xf_pow(xf_graph_t* graph, xf_tensor_t* a, xf_tensor_t* b, xf_tensor_t** out) {
    return binary(graph, XF_OP_POW, "xf_pow", a, b, out);
}

// pow with a negative base is defined for integer exponents (sign from their parity), as in C.
static float binary_fn(int code, float x, float y) {
    switch (code) {
        case XF_BIN_ADD: return x + y;
        case XF_BIN_MUL: return x * y;
        case XF_BIN_SUB: return x - y;
        case XF_BIN_DIV: return x / y;
        case XF_BIN_POW: return powf(x, y);
    }
    return NAN;
}

xf_status_t xf_ref_binary(const xf_exec_node_t* n, xf_err_t* err) {
    (void)err;
    const xf_tref_t *a = &n->src[0], *b = &n->src[1], *d = &n->dst;
    int code = xf_node_code(n);
    int64_t o = 0;
    XF_REF_FOR4(d) {
        float x = xf_ref_ld(a, xf_ref_bidx(a, i0, i1, i2, i3)), y = xf_ref_ld(b, xf_ref_bidx(b, i0, i1, i2, i3));
        xf_ref_st(d, o++, binary_fn(code, x, y));
    }
    return XF_OK;
}

//===----------------------------------------------------------------------===//
// UNARY
//===----------------------------------------------------------------------===//

static xf_status_t unary(xf_graph_t* g, xf_op_t op, const char* fn, xf_tensor_t* x, const xf_op_params_t* p,
                         xf_tensor_t** out) {
    XF_CHECK(xf_op_begin(g, fn, out));
    XF_CHECK(xf_op_check_input(g, op, fn, x, "x"));
    return xf_graph_append(g, op, &x, 1, p, x->dtype, x->ndim, x->shape, out);
}

xf_status_t xf_scale(xf_graph_t* graph, xf_tensor_t* x, float scale, float shift, xf_tensor_t** out) {
    xf_op_params_t p = {.scale = {scale, shift}};
    return unary(graph, XF_OP_SCALE, "xf_scale", x, &p, out);
}

xf_status_t xf_activation(xf_graph_t* graph, xf_tensor_t* x, xf_activation_t activation, xf_tensor_t** out) {
    if (graph && (unsigned)activation > XF_ACT_QUICK_GELU) {
        return xf_op_fail(graph, "xf_activation", "unknown activation %d", (int)activation);
    }
    xf_op_params_t p = {.unary = {activation}};
    return unary(graph, XF_OP_UNARY, "xf_activation", x, &p, out);
}

xf_status_t xf_sqrt(xf_graph_t* graph, xf_tensor_t* x, xf_tensor_t** out) {
    return unary(graph, XF_OP_SQRT, "xf_sqrt", x, NULL, out);
}
xf_status_t xf_exp(xf_graph_t* graph, xf_tensor_t* x, xf_tensor_t** out) {
    return unary(graph, XF_OP_EXP, "xf_exp", x, NULL, out);
}
xf_status_t xf_erf(xf_graph_t* graph, xf_tensor_t* x, xf_tensor_t** out) {
    return unary(graph, XF_OP_ERF, "xf_erf", x, NULL, out);
}
xf_status_t xf_tanh(xf_graph_t* graph, xf_tensor_t* x, xf_tensor_t** out) {
    return unary(graph, XF_OP_TANH, "xf_tanh", x, NULL, out);
}
xf_status_t xf_sigmoid(xf_graph_t* graph, xf_tensor_t* x, xf_tensor_t** out) {
    return unary(graph, XF_OP_SIGMOID, "xf_sigmoid", x, NULL, out);
}
xf_status_t xf_neg(xf_graph_t* graph, xf_tensor_t* x, xf_tensor_t** out) {
    return unary(graph, XF_OP_NEG, "xf_neg", x, NULL, out);
}
xf_status_t xf_abs(xf_graph_t* graph, xf_tensor_t* x, xf_tensor_t** out) {
    return unary(graph, XF_OP_ABS, "xf_abs", x, NULL, out);
}

xf_status_t xf_clip(xf_graph_t* graph, xf_tensor_t* x, float lo, float hi, xf_tensor_t** out) {
    if (graph && !(lo <= hi)) return xf_op_fail(graph, "xf_clip", "lo (%g) must not exceed hi (%g)", lo, hi);
    xf_op_params_t p = {.clip = {lo, hi}};
    return unary(graph, XF_OP_CLIP, "xf_clip", x, &p, out);
}

float xf_ref_unary_fn(int code, float x, const xf_op_params_t* params) {
    switch (code) {
        case XF_UFN_NONE: return x;
        case XF_UFN_GELU: return 0.5f * x * (1.0f + erff(x * 0.70710678118654752f));
        case XF_UFN_GELU_TANH: return 0.5f * x * (1.0f + tanhf(0.79788456080286536f * (x + 0.044715f * x * x * x)));
        case XF_UFN_SILU: return x / (1.0f + expf(-x));
        case XF_UFN_RELU: return x > 0.0f ? x : 0.0f;
        case XF_UFN_QUICK_GELU: return x / (1.0f + expf(-1.702f * x));
        case XF_UFN_SQRT: return sqrtf(x);
        case XF_UFN_EXP: return expf(x);
        case XF_UFN_ERF: return erff(x);
        case XF_UFN_TANH: return tanhf(x);
        case XF_UFN_SIGMOID: return 1.0f / (1.0f + expf(-x));
        case XF_UFN_NEG: return -x;
        case XF_UFN_ABS: return fabsf(x);
        case XF_UFN_CLIP: return fminf(fmaxf(x, params->clip.lo), params->clip.hi);
    }
    return NAN;
}

xf_status_t xf_ref_unary(const xf_exec_node_t* n, xf_err_t* err) {
    (void)err;
    int64_t count = xf_tref_elements(&n->dst);
    int code = xf_node_code(n);
    bool scale = n->op == XF_OP_SCALE;
    for (int64_t i = 0; i < count; ++i) {
        float x = xf_ref_ld(&n->src[0], i);
        if (scale) x = x * n->params.scale.scale + n->params.scale.shift;
        xf_ref_st(&n->dst, i, xf_ref_unary_fn(code, x, &n->params));
    }
    return XF_OK;
}

//===----------------------------------------------------------------------===//
// GLU
//===----------------------------------------------------------------------===//

xf_status_t xf_glu(xf_graph_t* graph, xf_tensor_t* x, xf_activation_t activation, xf_tensor_t** out) {
    const char* fn = "xf_glu";
    XF_CHECK(xf_op_begin(graph, fn, out));
    XF_CHECK(xf_op_check_input(graph, XF_OP_GLU, fn, x, "x"));
    if ((unsigned)activation > XF_ACT_QUICK_GELU) return xf_op_fail(graph, fn, "unknown activation %d", (int)activation);
    if (x->shape[x->ndim - 1] % 2) return xf_op_fail(graph, fn, "the last dimension must be even");
    int64_t shape[XF_MAX_DIMS];
    memcpy(shape, x->shape, sizeof shape);
    shape[x->ndim - 1] /= 2;
    xf_op_params_t p = {.unary = {activation}};
    return xf_graph_append(graph, XF_OP_GLU, &x, 1, &p, x->dtype, x->ndim, shape, out);
}

xf_status_t xf_ref_glu(const xf_exec_node_t* n, xf_err_t* err) {
    (void)err;
    int64_t h = n->dst.ne[3], rows = xf_tref_elements(&n->dst) / h;
    for (int64_t r = 0; r < rows; ++r) {
        for (int64_t i = 0; i < h; ++i) {
            float a = xf_ref_ld(&n->src[0], r * 2 * h + i), b = xf_ref_ld(&n->src[0], r * 2 * h + h + i);
            xf_ref_st(&n->dst, r * h + i, xf_ref_unary_fn((int)n->params.unary.activation, a, &n->params) * b);
        }
    }
    return XF_OK;
}

//===----------------------------------------------------------------------===//
// WHERE
//===----------------------------------------------------------------------===//

xf_status_t xf_where(xf_graph_t* graph, xf_tensor_t* cond, xf_tensor_t* a, xf_tensor_t* b, xf_tensor_t** out) {
    const char* fn = "xf_where";
    XF_CHECK(xf_op_begin(graph, fn, out));
    XF_CHECK(xf_op_check_input(graph, XF_OP_WHERE, fn, cond, "cond"));
    XF_CHECK(xf_op_check_dtypes(graph, fn, a, XF_DTYPES_FLOAT, "a"));
    XF_CHECK(xf_op_check_dtypes(graph, fn, b, XF_DTYPES_FLOAT, "b"));
    XF_CHECK(xf_op_check_same_dtype(graph, fn, a, b, "b"));
    if (cond->dtype != XF_DTYPE_I32) XF_CHECK(xf_op_check_same_dtype(graph, fn, a, cond, "cond"));
    int nd = 0, nd2 = 0;
    int64_t ab[XF_MAX_DIMS], shape[XF_MAX_DIMS];
    XF_CHECK(xf_op_broadcast_shape(graph, fn, a, b, &nd, ab));
    XF_CHECK(xf_op_broadcast_dims(graph, fn, nd, ab, cond->ndim, cond->shape, &nd2, shape));
    if (nd2 != nd || memcmp(shape, ab, sizeof(int64_t) * (size_t)nd) != 0) {
        char sc[96];
        xf_op_shape_str(cond, sc, sizeof sc);
        return xf_op_fail(graph, fn, "cond %s does not broadcast to the shape of a and b", sc);
    }
    xf_tensor_t* src[3] = {cond, a, b};
    return xf_graph_append(graph, XF_OP_WHERE, src, 3, NULL, a->dtype, nd, ab, out);
}

xf_status_t xf_ref_where(const xf_exec_node_t* n, xf_err_t* err) {
    (void)err;
    const xf_tref_t *c = &n->src[0], *a = &n->src[1], *b = &n->src[2], *d = &n->dst;
    int64_t o = 0;
    XF_REF_FOR4(d) {
        bool take_a = xf_ref_ld(c, xf_ref_bidx(c, i0, i1, i2, i3)) != 0.0f;
        const xf_tref_t* s = take_a ? a : b;
        xf_ref_st(d, o++, xf_ref_ld(s, xf_ref_bidx(s, i0, i1, i2, i3)));
    }
    return XF_OK;
}
