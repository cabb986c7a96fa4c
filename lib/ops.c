// SPDX-License-Identifier: MIT
// Operator builders: validate shapes and dtypes, then append a node. Nothing runs here.
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core.h"

#define CHECK(expr)                          \
    do {                                     \
        xf_status_t check_st_ = (expr);      \
        if (check_st_ != XF_OK) return check_st_; \
    } while (0)

static xf_status_t begin(xf_graph_t* g, const char* fn, xf_tensor_t** out) {
    if (!g) return xf_set_last_error(XF_ERR_INVALID_ARGUMENT, "%s: graph is NULL", fn);
    if (!out) return xf_ctx_fail(g->context, XF_ERR_INVALID_ARGUMENT, "%s: out is NULL", fn);
    *out = NULL;
    return XF_OK;
}

static xf_status_t fail(xf_graph_t* g, const char* fn, const char* fmt, ...) __attribute__((format(printf, 3, 4)));
static xf_status_t fail(xf_graph_t* g, const char* fn, const char* fmt, ...) {
    char buf[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    return xf_ctx_fail(g->context, XF_ERR_INVALID_ARGUMENT, "%s: %s", fn, buf);
}

static void shape_str(const xf_tensor_t* t, char* buf, size_t size) {
    size_t len = (size_t)snprintf(buf, size, "[");
    for (int i = 0; i < t->ndim && len < size; ++i) {
        len += (size_t)snprintf(buf + len, size - len, i ? ", %lld" : "%lld", (long long)t->shape[i]);
    }
    if (len < size) snprintf(buf + len, size - len, "]");
}

static xf_status_t check_float(xf_graph_t* g, const char* fn, const xf_tensor_t* t, const char* what) {
    char name[64];
    snprintf(name, sizeof name, "%s: %s", fn, what);
    CHECK(xf_graph_check_tensor(g, t, name));
    if (t->dtype != XF_DTYPE_F32 && t->dtype != XF_DTYPE_F16) {
        return fail(g, fn, "%s has dtype %s; this op takes f32 or f16", what, xf_dtype_name(t->dtype));
    }
    return XF_OK;
}

static xf_status_t check_same_dtype(xf_graph_t* g, const char* fn, const xf_tensor_t* a, const xf_tensor_t* b,
                                    const char* what) {
    if (b && a->dtype != b->dtype) {
        return fail(g, fn, "%s has dtype %s but the input is %s; cast first", what, xf_dtype_name(b->dtype),
                    xf_dtype_name(a->dtype));
    }
    return XF_OK;
}

static xf_status_t check_vector(xf_graph_t* g, const char* fn, const xf_tensor_t* v, int64_t n, const char* what) {
    if (!v) return XF_OK;
    CHECK(check_float(g, fn, v, what));
    if (xf_tensor_elements(v) != n || v->shape[v->ndim - 1] != n) {
        char s[96];
        shape_str(v, s, sizeof s);
        return fail(g, fn, "%s has shape %s; expected [%lld]", what, s, (long long)n);
    }
    return XF_OK;
}

static int norm_axis(int axis, int ndim) { return axis < 0 ? axis + ndim : axis; }

xf_status_t xf_matmul(xf_graph_t* graph, xf_tensor_t* a, xf_tensor_t* b, const xf_matmul_options_t* options,
                      xf_tensor_t** out) {
    const char* fn = "xf_matmul";
    CHECK(begin(graph, fn, out));
    xf_matmul_options_t opt = {0};
    if (options) opt = *options;
    CHECK(check_float(graph, fn, a, "a"));
    CHECK(check_float(graph, fn, b, "b"));
    CHECK(check_same_dtype(graph, fn, a, b, "b"));
    if (a->ndim < 2 || b->ndim < 2) return fail(graph, fn, "a and b need at least 2 dimensions");
    if ((unsigned)opt.activation > XF_ACT_RELU) return fail(graph, fn, "unknown activation %d", (int)opt.activation);
    int64_t k = a->shape[a->ndim - 1];
    int64_t kb = opt.transpose_b ? b->shape[b->ndim - 1] : b->shape[b->ndim - 2];
    int64_t n = opt.transpose_b ? b->shape[b->ndim - 2] : b->shape[b->ndim - 1];
    char sa[96], sb[96];
    shape_str(a, sa, sizeof sa);
    shape_str(b, sb, sizeof sb);
    if (k != kb) {
        return fail(graph, fn, "inner dimensions differ: a %s, b %s%s", sa, sb, opt.transpose_b ? " (transposed)" : "");
    }
    if (b->ndim > a->ndim) return fail(graph, fn, "b %s has more dimensions than a %s", sb, sa);
    for (int i = 0; i < b->ndim - 2; ++i) {
        int64_t db = b->shape[b->ndim - 3 - i], da = a->shape[a->ndim - 3 - i];
        if (db != 1 && db != da) return fail(graph, fn, "batch dimensions do not broadcast: a %s, b %s", sa, sb);
    }
    int64_t shape[XF_MAX_DIMS];
    memcpy(shape, a->shape, sizeof shape);
    shape[a->ndim - 1] = n;
    CHECK(check_vector(graph, fn, opt.bias, n, "bias"));
    CHECK(check_same_dtype(graph, fn, a, opt.bias, "bias"));
    if (opt.residual) {
        CHECK(check_float(graph, fn, opt.residual, "residual"));
        CHECK(check_same_dtype(graph, fn, a, opt.residual, "residual"));
        if (opt.residual->ndim != a->ndim || memcmp(opt.residual->shape, shape, sizeof(int64_t) * a->ndim) != 0) {
            return fail(graph, fn, "residual must have the result's shape");
        }
    }
    xf_op_params_t p = {.matmul = {opt.transpose_b, opt.bias != NULL, opt.residual != NULL, opt.activation}};
    xf_tensor_t* src[4] = {a, b, opt.bias, opt.residual};
    return xf_graph_append(graph, XF_OP_MATMUL, src, 4, &p, a->dtype, a->ndim, shape, out);
}

xf_status_t xf_linear(xf_graph_t* graph, xf_tensor_t* x, xf_tensor_t* weight, xf_tensor_t* bias, xf_tensor_t** out) {
    CHECK(begin(graph, "xf_linear", out));
    if (weight && weight->ndim != 2) {
        char s[96];
        shape_str(weight, s, sizeof s);
        return fail(graph, "xf_linear", "weight '%s' has shape %s; expected [out, in]", weight->name, s);
    }
    xf_matmul_options_t opt = {.transpose_b = true, .bias = bias};
    return xf_matmul(graph, x, weight, &opt, out);
}

static xf_status_t broadcast_shape(xf_graph_t* g, const char* fn, const xf_tensor_t* a, const xf_tensor_t* b,
                                   int* out_ndim, int64_t* out_shape) {
    int nd = a->ndim > b->ndim ? a->ndim : b->ndim;
    for (int i = 0; i < nd; ++i) {
        int ia = a->ndim - nd + i, ib = b->ndim - nd + i;
        int64_t da = ia >= 0 ? a->shape[ia] : 1, db = ib >= 0 ? b->shape[ib] : 1;
        if (da != db && da != 1 && db != 1) {
            char sa[96], sb[96];
            shape_str(a, sa, sizeof sa);
            shape_str(b, sb, sizeof sb);
            return fail(g, fn, "shapes %s and %s do not broadcast", sa, sb);
        }
        out_shape[i] = da > db ? da : db;
    }
    *out_ndim = nd;
    return XF_OK;
}

static xf_status_t binary(xf_graph_t* g, xf_op_t op, const char* fn, xf_tensor_t* a, xf_tensor_t* b,
                          xf_tensor_t** out) {
    CHECK(begin(g, fn, out));
    CHECK(check_float(g, fn, a, "a"));
    CHECK(check_float(g, fn, b, "b"));
    CHECK(check_same_dtype(g, fn, a, b, "b"));
    int nd = 0;
    int64_t shape[XF_MAX_DIMS];
    CHECK(broadcast_shape(g, fn, a, b, &nd, shape));
    xf_tensor_t* src[2] = {a, b};
    return xf_graph_append(g, op, src, 2, NULL, a->dtype, nd, shape, out);
}

xf_status_t xf_add(xf_graph_t* graph, xf_tensor_t* a, xf_tensor_t* b, xf_tensor_t** out) {
    return binary(graph, XF_OP_ADD, "xf_add", a, b, out);
}

xf_status_t xf_mul(xf_graph_t* graph, xf_tensor_t* a, xf_tensor_t* b, xf_tensor_t** out) {
    return binary(graph, XF_OP_MUL, "xf_mul", a, b, out);
}

xf_status_t xf_scale(xf_graph_t* graph, xf_tensor_t* x, float scale, float shift, xf_tensor_t** out) {
    CHECK(begin(graph, "xf_scale", out));
    CHECK(check_float(graph, "xf_scale", x, "x"));
    xf_op_params_t p = {.scale = {scale, shift}};
    return xf_graph_append(graph, XF_OP_SCALE, &x, 1, &p, x->dtype, x->ndim, x->shape, out);
}

static xf_status_t norm(xf_graph_t* g, xf_op_t op, const char* fn, xf_tensor_t* x, xf_tensor_t* w, xf_tensor_t* b,
                        float eps, xf_tensor_t** out) {
    CHECK(begin(g, fn, out));
    CHECK(check_float(g, fn, x, "x"));
    int64_t c = x->shape[x->ndim - 1];
    CHECK(check_vector(g, fn, w, c, "weight"));
    CHECK(check_vector(g, fn, b, c, "bias"));
    CHECK(check_same_dtype(g, fn, x, w, "weight"));
    CHECK(check_same_dtype(g, fn, x, b, "bias"));
    if (!(eps >= 0.0f)) return fail(g, fn, "eps must be >= 0");
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

static xf_status_t check_broadcasts_to(xf_graph_t* g, const char* fn, const xf_tensor_t* m, int ndim,
                                       const int64_t* shape, const char* what) {
    if (m->ndim > ndim) return fail(g, fn, "%s has more dimensions than the scores", what);
    for (int i = 0; i < m->ndim; ++i) {
        int64_t d = m->shape[m->ndim - 1 - i], t = shape[ndim - 1 - i];
        if (d != 1 && d != t) {
            char s[96];
            shape_str(m, s, sizeof s);
            return fail(g, fn, "%s %s does not broadcast to the scores", what, s);
        }
    }
    return XF_OK;
}

xf_status_t xf_softmax(xf_graph_t* graph, xf_tensor_t* x, float scale, xf_tensor_t* mask, xf_tensor_t** out) {
    const char* fn = "xf_softmax";
    CHECK(begin(graph, fn, out));
    CHECK(check_float(graph, fn, x, "x"));
    if (mask) {
        CHECK(check_float(graph, fn, mask, "mask"));
        CHECK(check_same_dtype(graph, fn, x, mask, "mask"));
        CHECK(check_broadcasts_to(graph, fn, mask, x->ndim, x->shape, "mask"));
    }
    xf_op_params_t p = {.softmax = {scale, mask != NULL}};
    xf_tensor_t* src[2] = {x, mask};
    return xf_graph_append(graph, XF_OP_SOFTMAX, src, 2, &p, x->dtype, x->ndim, x->shape, out);
}

xf_status_t xf_activation(xf_graph_t* graph, xf_tensor_t* x, xf_activation_t activation, xf_tensor_t** out) {
    CHECK(begin(graph, "xf_activation", out));
    CHECK(check_float(graph, "xf_activation", x, "x"));
    if ((unsigned)activation > XF_ACT_RELU) return fail(graph, "xf_activation", "unknown activation %d", (int)activation);
    xf_op_params_t p = {.unary = {activation}};
    return xf_graph_append(graph, XF_OP_UNARY, &x, 1, &p, x->dtype, x->ndim, x->shape, out);
}

xf_status_t xf_glu(xf_graph_t* graph, xf_tensor_t* x, xf_activation_t activation, xf_tensor_t** out) {
    CHECK(begin(graph, "xf_glu", out));
    CHECK(check_float(graph, "xf_glu", x, "x"));
    if ((unsigned)activation > XF_ACT_RELU) return fail(graph, "xf_glu", "unknown activation %d", (int)activation);
    if (x->shape[x->ndim - 1] % 2) return fail(graph, "xf_glu", "the last dimension must be even");
    int64_t shape[XF_MAX_DIMS];
    memcpy(shape, x->shape, sizeof shape);
    shape[x->ndim - 1] /= 2;
    xf_op_params_t p = {.unary = {activation}};
    return xf_graph_append(graph, XF_OP_GLU, &x, 1, &p, x->dtype, x->ndim, shape, out);
}

xf_status_t xf_attention(xf_graph_t* graph, xf_tensor_t* q, xf_tensor_t* k, xf_tensor_t* v, xf_tensor_t* bias,
                         float scale, xf_tensor_t** out) {
    const char* fn = "xf_attention";
    CHECK(begin(graph, fn, out));
    CHECK(check_float(graph, fn, q, "q"));
    CHECK(check_float(graph, fn, k, "k"));
    CHECK(check_float(graph, fn, v, "v"));
    CHECK(check_same_dtype(graph, fn, q, k, "k"));
    CHECK(check_same_dtype(graph, fn, q, v, "v"));
    if (q->ndim != 4 || k->ndim != 4 || v->ndim != 4) return fail(graph, fn, "q, k and v must be [B, H, L, D]");
    char sq[96], sk[96], sv[96];
    shape_str(q, sq, sizeof sq);
    shape_str(k, sk, sizeof sk);
    shape_str(v, sv, sizeof sv);
    if (k->shape[0] != q->shape[0] || k->shape[1] != q->shape[1] || k->shape[3] != q->shape[3] ||
        v->shape[0] != q->shape[0] || v->shape[1] != q->shape[1] || v->shape[2] != k->shape[2]) {
        return fail(graph, fn, "shapes q %s, k %s, v %s do not fit [B,H,Lq,D], [B,H,Lk,D], [B,H,Lk,Dv]", sq, sk, sv);
    }
    int64_t scores[4] = {q->shape[0], q->shape[1], q->shape[2], k->shape[2]};
    if (bias) {
        CHECK(check_float(graph, fn, bias, "bias"));
        CHECK(check_same_dtype(graph, fn, q, bias, "bias"));
        CHECK(check_broadcasts_to(graph, fn, bias, 4, scores, "bias"));
    }
    int64_t shape[4] = {q->shape[0], q->shape[1], q->shape[2], v->shape[3]};
    xf_op_params_t p = {.attention = {scale, bias != NULL}};
    xf_tensor_t* src[4] = {q, k, v, bias};
    return xf_graph_append(graph, XF_OP_ATTENTION, src, 4, &p, q->dtype, 4, shape, out);
}

xf_status_t xf_conv2d(xf_graph_t* graph, xf_tensor_t* x, xf_tensor_t* weight, xf_tensor_t* bias,
                      const xf_conv2d_params_t* params, xf_tensor_t** out) {
    const char* fn = "xf_conv2d";
    CHECK(begin(graph, fn, out));
    CHECK(check_float(graph, fn, x, "x"));
    CHECK(check_float(graph, fn, weight, "weight"));
    CHECK(check_same_dtype(graph, fn, x, weight, "weight"));
    xf_conv2d_params_t cp = {{1, 1}, {0, 0}, {1, 1}, 1};
    if (params) cp = *params;
    for (int i = 0; i < 2; ++i) {
        if (cp.stride[i] == 0) cp.stride[i] = 1;
        if (cp.dilation[i] == 0) cp.dilation[i] = 1;
        if (cp.stride[i] < 0 || cp.dilation[i] < 0 || cp.padding[i] < 0) {
            return fail(graph, fn, "stride, dilation and padding must be non-negative");
        }
    }
    if (cp.groups == 0) cp.groups = 1;
    if (x->ndim != 4 || weight->ndim != 4) return fail(graph, fn, "x must be [N, C, H, W] and weight [O, C/g, KH, KW]");
    int64_t c = x->shape[1], o = weight->shape[0];
    if (cp.groups < 0 || c % cp.groups || o % cp.groups || weight->shape[1] * cp.groups != c) {
        char sx[96], sw[96];
        shape_str(x, sx, sizeof sx);
        shape_str(weight, sw, sizeof sw);
        return fail(graph, fn, "x %s and weight '%s' %s do not fit groups=%d", sx, weight->name, sw, cp.groups);
    }
    CHECK(check_vector(graph, fn, bias, o, "bias"));
    CHECK(check_same_dtype(graph, fn, x, bias, "bias"));
    int64_t ho = (x->shape[2] + 2 * cp.padding[0] - cp.dilation[0] * (weight->shape[2] - 1) - 1) / cp.stride[0] + 1;
    int64_t wo = (x->shape[3] + 2 * cp.padding[1] - cp.dilation[1] * (weight->shape[3] - 1) - 1) / cp.stride[1] + 1;
    if (ho <= 0 || wo <= 0) return fail(graph, fn, "the kernel is larger than the padded input");
    int64_t shape[4] = {x->shape[0], o, ho, wo};
    xf_op_params_t p;
    memset(&p, 0, sizeof p);
    for (int i = 0; i < 2; ++i) {
        p.conv2d.stride[i] = cp.stride[i];
        p.conv2d.padding[i] = cp.padding[i];
        p.conv2d.dilation[i] = cp.dilation[i];
    }
    p.conv2d.groups = cp.groups;
    p.conv2d.has_bias = bias != NULL;
    xf_tensor_t* src[3] = {x, weight, bias};
    return xf_graph_append(graph, XF_OP_CONV2D, src, 3, &p, x->dtype, 4, shape, out);
}

xf_status_t xf_resize_bilinear(xf_graph_t* graph, xf_tensor_t* x, int64_t out_h, int64_t out_w, bool align_corners,
                               xf_tensor_t** out) {
    CHECK(begin(graph, "xf_resize_bilinear", out));
    CHECK(check_float(graph, "xf_resize_bilinear", x, "x"));
    if (x->ndim != 4) return fail(graph, "xf_resize_bilinear", "x must be [N, C, H, W]");
    if (out_h <= 0 || out_w <= 0) return fail(graph, "xf_resize_bilinear", "output size must be positive");
    int64_t shape[4] = {x->shape[0], x->shape[1], out_h, out_w};
    xf_op_params_t p = {.resize = {align_corners}};
    return xf_graph_append(graph, XF_OP_RESIZE, &x, 1, &p, x->dtype, 4, shape, out);
}

xf_status_t xf_concat(xf_graph_t* graph, xf_tensor_t* const* inputs, int count, int axis, xf_tensor_t** out) {
    const char* fn = "xf_concat";
    CHECK(begin(graph, fn, out));
    if (!inputs || count < 1 || count > XF_MAX_SRC) return fail(graph, fn, "needs 1 to %d inputs", XF_MAX_SRC);
    for (int i = 0; i < count; ++i) {
        CHECK(check_float(graph, fn, inputs[i], "input"));
        CHECK(check_same_dtype(graph, fn, inputs[0], inputs[i], "an input"));
    }
    const xf_tensor_t* a = inputs[0];
    int ax = norm_axis(axis, a->ndim);
    if (ax < 0 || ax >= a->ndim) return xf_ctx_fail(graph->context, XF_ERR_OUT_OF_RANGE, "%s: axis %d", fn, axis);
    int64_t shape[XF_MAX_DIMS];
    memcpy(shape, a->shape, sizeof shape);
    for (int i = 1; i < count; ++i) {
        const xf_tensor_t* b = inputs[i];
        bool fits = b->ndim == a->ndim;
        for (int d = 0; fits && d < a->ndim; ++d) fits = d == ax || b->shape[d] == a->shape[d];
        if (!fits) return fail(graph, fn, "input %d does not match input 0 outside axis %d", i, axis);
        shape[ax] += b->shape[ax];
    }
    xf_op_params_t p = {.axis = {ax + 4 - a->ndim, count}};
    return xf_graph_append(graph, XF_OP_CONCAT, inputs, count, &p, a->dtype, a->ndim, shape, out);
}

xf_status_t xf_graph_view(xf_graph_t* g, xf_tensor_t* x, int ndim, const int64_t* shape, const int64_t* stride,
                             int64_t offset, xf_tensor_t** out) {
    xf_tensor_t* base = x->kind == XF_TENSOR_VIEW ? x->base : x;
    int64_t base_offset = x->kind == XF_TENSOR_VIEW ? x->view_offset : 0;
    xf_tensor_t* v = NULL;
    CHECK(xf_graph_new_tensor(g, XF_TENSOR_VIEW, x->dtype, ndim, shape, &v));
    memcpy(v->stride, stride, sizeof(int64_t) * (size_t)ndim);
    v->base = base;
    v->view_offset = base_offset + offset;
    *out = v;
    return XF_OK;
}

xf_status_t xf_permute(xf_graph_t* graph, xf_tensor_t* x, const int* perm, xf_tensor_t** out) {
    CHECK(begin(graph, "xf_permute", out));
    CHECK(xf_graph_check_tensor(graph, x, "xf_permute: x"));
    if (!perm) return fail(graph, "xf_permute", "perm is NULL");
    int seen = 0;
    int64_t shape[XF_MAX_DIMS], stride[XF_MAX_DIMS];
    for (int i = 0; i < x->ndim; ++i) {
        int p = perm[i];
        if (p < 0 || p >= x->ndim || (seen & (1 << p))) {
            return fail(graph, "xf_permute", "perm is not a permutation of 0..%d", x->ndim - 1);
        }
        seen |= 1 << p;
        shape[i] = x->shape[p];
        stride[i] = x->stride[p];
    }
    return xf_graph_view(graph, x, x->ndim, shape, stride, 0, out);
}

xf_status_t xf_transpose(xf_graph_t* graph, xf_tensor_t* x, int axis0, int axis1, xf_tensor_t** out) {
    CHECK(begin(graph, "xf_transpose", out));
    CHECK(xf_graph_check_tensor(graph, x, "xf_transpose: x"));
    int a0 = norm_axis(axis0, x->ndim), a1 = norm_axis(axis1, x->ndim);
    if (a0 < 0 || a0 >= x->ndim || a1 < 0 || a1 >= x->ndim) {
        return xf_ctx_fail(graph->context, XF_ERR_OUT_OF_RANGE, "xf_transpose: axes %d, %d out of range for %d dims",
                           axis0, axis1, x->ndim);
    }
    int perm[XF_MAX_DIMS] = {0, 1, 2, 3};
    perm[a0] = a1;
    perm[a1] = a0;
    return xf_permute(graph, x, perm, out);
}

xf_status_t xf_reshape(xf_graph_t* graph, xf_tensor_t* x, int ndim, const int64_t* shape, xf_tensor_t** out) {
    CHECK(begin(graph, "xf_reshape", out));
    CHECK(xf_graph_check_tensor(graph, x, "xf_reshape: x"));
    if (ndim < 1 || ndim > XF_MAX_DIMS || !shape) return fail(graph, "xf_reshape", "needs 1 to 4 dimensions");
    int64_t s[XF_MAX_DIMS];
    int infer = -1;
    int64_t known = 1;
    for (int i = 0; i < ndim; ++i) {
        s[i] = shape[i];
        if (s[i] == -1 && infer < 0) {
            infer = i;
        } else if (s[i] <= 0) {
            return fail(graph, "xf_reshape", "dimension %d is %lld", i, (long long)s[i]);
        } else {
            known *= s[i];
        }
    }
    int64_t n = xf_tensor_elements(x);
    if (infer >= 0) s[infer] = n % known ? -1 : n / known;
    if (xf_shape_elements(ndim, s) != n || (infer >= 0 && s[infer] <= 0)) {
        return fail(graph, "xf_reshape", "%lld elements cannot take the requested shape", (long long)n);
    }
    xf_tensor_t* dense = x;
    CHECK(xf_graph_dense(graph, x, &dense));
    int64_t stride[XF_MAX_DIMS];
    xf_shape_dense_strides(ndim, s, stride);
    return xf_graph_view(graph, dense, ndim, s, stride, 0, out);
}

xf_status_t xf_slice(xf_graph_t* graph, xf_tensor_t* x, int axis, int64_t start, int64_t end, xf_tensor_t** out) {
    CHECK(begin(graph, "xf_slice", out));
    CHECK(xf_graph_check_tensor(graph, x, "xf_slice: x"));
    int ax = norm_axis(axis, x->ndim);
    if (ax < 0 || ax >= x->ndim || start < 0 || end > x->shape[ax] || start >= end) {
        return xf_ctx_fail(graph->context, XF_ERR_OUT_OF_RANGE,
                           "xf_slice: [%lld, %lld) of axis %d is not a non-empty range of a tensor with %d dims",
                           (long long)start, (long long)end, axis, x->ndim);
    }
    int64_t shape[XF_MAX_DIMS];
    memcpy(shape, x->shape, sizeof shape);
    shape[ax] = end - start;
    return xf_graph_view(graph, x, x->ndim, shape, x->stride, start * x->stride[ax], out);
}

xf_status_t xf_cast(xf_graph_t* graph, xf_tensor_t* x, xf_dtype_t dtype, xf_tensor_t** out) {
    CHECK(begin(graph, "xf_cast", out));
    CHECK(check_float(graph, "xf_cast", x, "x"));
    if (dtype != XF_DTYPE_F32 && dtype != XF_DTYPE_F16) return fail(graph, "xf_cast", "casts to f32 or f16 only");
    return xf_graph_append(graph, XF_OP_COPY, &x, 1, NULL, dtype, x->ndim, x->shape, out);
}

xf_status_t xf_mean(xf_graph_t* graph, xf_tensor_t* x, int axis, bool keepdim, xf_tensor_t** out) {
    CHECK(begin(graph, "xf_mean", out));
    CHECK(check_float(graph, "xf_mean", x, "x"));
    int ax = norm_axis(axis, x->ndim);
    if (ax < 0 || ax >= x->ndim) {
        return xf_ctx_fail(graph->context, XF_ERR_OUT_OF_RANGE, "xf_mean: axis %d for %d dims", axis, x->ndim);
    }
    int64_t shape[XF_MAX_DIMS];
    memcpy(shape, x->shape, sizeof shape);
    shape[ax] = 1;
    xf_op_params_t p = {.axis = {ax + 4 - x->ndim, 1}};
    xf_tensor_t* r = NULL;
    CHECK(xf_graph_append(graph, XF_OP_MEAN, &x, 1, &p, x->dtype, x->ndim, shape, &r));
    if (keepdim || x->ndim == 1) {
        *out = r;
        return XF_OK;
    }
    int64_t squeezed[XF_MAX_DIMS];
    for (int i = 0, j = 0; i < x->ndim; ++i) {
        if (i != ax) squeezed[j++] = shape[i];
    }
    return xf_reshape(graph, r, x->ndim - 1, squeezed, out);
}

xf_status_t xf_argmax(xf_graph_t* graph, xf_tensor_t* x, xf_tensor_t** out) {
    CHECK(begin(graph, "xf_argmax", out));
    CHECK(check_float(graph, "xf_argmax", x, "x"));
    int64_t shape[XF_MAX_DIMS];
    memcpy(shape, x->shape, sizeof shape);
    shape[x->ndim - 1] = 1;
    xf_tensor_t* r = NULL;
    CHECK(xf_graph_append(graph, XF_OP_ARGMAX, &x, 1, NULL, XF_DTYPE_I32, x->ndim, shape, &r));
    if (x->ndim == 1) {
        *out = r;
        return XF_OK;
    }
    return xf_reshape(graph, r, x->ndim - 1, shape, out);
}

xf_status_t xf_gather(xf_graph_t* graph, xf_tensor_t* x, int axis, xf_tensor_t* indices, xf_tensor_t** out) {
    const char* fn = "xf_gather";
    CHECK(begin(graph, fn, out));
    CHECK(check_float(graph, fn, x, "x"));
    CHECK(xf_graph_check_tensor(graph, indices, "xf_gather: indices"));
    if (indices->dtype != XF_DTYPE_I32 || indices->ndim != 1) return fail(graph, fn, "indices must be i32 [M]");
    int ax = norm_axis(axis, x->ndim);
    if (ax < 0 || ax >= x->ndim) {
        return xf_ctx_fail(graph->context, XF_ERR_OUT_OF_RANGE, "xf_gather: axis %d for %d dims", axis, x->ndim);
    }
    int64_t shape[XF_MAX_DIMS];
    memcpy(shape, x->shape, sizeof shape);
    shape[ax] = indices->shape[0];
    xf_op_params_t p = {.axis = {ax + 4 - x->ndim, 1}};
    xf_tensor_t* src[2] = {x, indices};
    return xf_graph_append(graph, XF_OP_GATHER, src, 2, &p, x->dtype, x->ndim, shape, out);
}
