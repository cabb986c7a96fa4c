// SPDX-License-Identifier: MIT
// Layout families: views (permute, transpose, reshape, slice: no node), COPY (materialised views
// and casts), CONCAT, GATHER, ROLL and PAD.
#include <string.h>

#include "ops/ops_internal.h"

static int xf_op_norm_axis(int axis, int ndim) { return axis < 0 ? axis + ndim : axis; }

xf_status_t xf_graph_view(xf_graph_t* g, xf_tensor_t* x, int ndim, const int64_t* shape, const int64_t* stride,
                             int64_t offset, xf_tensor_t** out) {
    xf_tensor_t* base = x->kind == XF_TENSOR_VIEW ? x->base : x;
    int64_t base_offset = x->kind == XF_TENSOR_VIEW ? x->view_offset : 0;
    xf_tensor_t* v = NULL;
    XF_CHECK(xf_graph_new_tensor(g, XF_TENSOR_VIEW, x->dtype, ndim, shape, &v));
    memcpy(v->stride, stride, sizeof(int64_t) * (size_t)ndim);
    v->base = base;
    v->view_offset = base_offset + offset;
    *out = v;
    return XF_OK;
}

xf_status_t xf_permute(xf_graph_t* graph, xf_tensor_t* x, const int* perm, xf_tensor_t** out) {
    XF_CHECK(xf_op_begin(graph, "xf_permute", out));
    XF_CHECK(xf_graph_check_tensor(graph, x, "xf_permute: x"));
    if (!perm) return xf_op_fail(graph, "xf_permute", "perm is NULL");
    int seen = 0;
    int64_t shape[XF_MAX_DIMS], stride[XF_MAX_DIMS];
    for (int i = 0; i < x->ndim; ++i) {
        int p = perm[i];
        if (p < 0 || p >= x->ndim || (seen & (1 << p))) {
            return xf_op_fail(graph, "xf_permute", "perm is not a permutation of 0..%d", x->ndim - 1);
        }
        seen |= 1 << p;
        shape[i] = x->shape[p];
        stride[i] = x->stride[p];
    }
    return xf_graph_view(graph, x, x->ndim, shape, stride, 0, out);
}

xf_status_t xf_transpose(xf_graph_t* graph, xf_tensor_t* x, int axis0, int axis1, xf_tensor_t** out) {
    XF_CHECK(xf_op_begin(graph, "xf_transpose", out));
    XF_CHECK(xf_graph_check_tensor(graph, x, "xf_transpose: x"));
    int a0 = xf_op_norm_axis(axis0, x->ndim), a1 = xf_op_norm_axis(axis1, x->ndim);
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
    XF_CHECK(xf_op_begin(graph, "xf_reshape", out));
    XF_CHECK(xf_graph_check_tensor(graph, x, "xf_reshape: x"));
    if (ndim < 1 || ndim > XF_MAX_DIMS || !shape) return xf_op_fail(graph, "xf_reshape", "needs 1 to 4 dimensions");
    int64_t s[XF_MAX_DIMS];
    int infer = -1;
    int64_t known = 1;
    for (int i = 0; i < ndim; ++i) {
        s[i] = shape[i];
        if (s[i] == -1 && infer < 0) {
            infer = i;
        } else if (s[i] <= 0) {
            return xf_op_fail(graph, "xf_reshape", "dimension %d is %lld", i, (long long)s[i]);
        } else {
            known *= s[i];
        }
    }
    int64_t n = xf_tensor_elements(x);
    if (infer >= 0) s[infer] = n % known ? -1 : n / known;
    if (xf_shape_elements(ndim, s) != n || (infer >= 0 && s[infer] <= 0)) {
        return xf_op_fail(graph, "xf_reshape", "%lld elements cannot take the requested shape", (long long)n);
    }
    xf_tensor_t* dense = x;
    XF_CHECK(xf_graph_dense(graph, x, &dense));
    int64_t stride[XF_MAX_DIMS];
    xf_shape_dense_strides(ndim, s, stride);
    return xf_graph_view(graph, dense, ndim, s, stride, 0, out);
}

xf_status_t xf_slice(xf_graph_t* graph, xf_tensor_t* x, int axis, int64_t start, int64_t end, xf_tensor_t** out) {
    XF_CHECK(xf_op_begin(graph, "xf_slice", out));
    XF_CHECK(xf_graph_check_tensor(graph, x, "xf_slice: x"));
    int ax = xf_op_norm_axis(axis, x->ndim);
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
    XF_CHECK(xf_op_begin(graph, "xf_cast", out));
    XF_CHECK(xf_op_check_input(graph, XF_OP_COPY, "xf_cast", x, "x"));
    if (x->dtype == XF_DTYPE_I32) return xf_op_fail(graph, "xf_cast", "x has dtype i32; casts take f32, f16 or bf16");
    const xf_dtype_traits_t* to = xf_dtype_traits(dtype);
    if (!to || !to->is_float) return xf_op_fail(graph, "xf_cast", "casts to f32, f16 or bf16 only");
    return xf_graph_append(graph, XF_OP_COPY, &x, 1, NULL, dtype, x->ndim, x->shape, out);
}

xf_status_t xf_ref_copy(const xf_exec_node_t* n, xf_err_t* err) {
    (void)err;
    const xf_tref_t *s = &n->src[0], *d = &n->dst;
    int64_t o = 0;
    XF_REF_FOR4(d) {
        int64_t byte = i0 * s->nb[0] + i1 * s->nb[1] + i2 * s->nb[2] + i3 * s->nb[3];
        xf_ref_st(d, o++, xf_ref_ld(s, byte / (int64_t)xf_dtype_size(s->dtype)));
    }
    return XF_OK;
}

xf_status_t xf_concat(xf_graph_t* graph, xf_tensor_t* const* inputs, int count, int axis, xf_tensor_t** out) {
    const char* fn = "xf_concat";
    XF_CHECK(xf_op_begin(graph, fn, out));
    int max = xf_op_info(XF_OP_CONCAT)->max_src;
    if (!inputs || count < 1 || count > max) return xf_op_fail(graph, fn, "needs 1 to %d inputs", max);
    for (int i = 0; i < count; ++i) {
        XF_CHECK(xf_op_check_input(graph, XF_OP_CONCAT, fn, inputs[i], "input"));
        XF_CHECK(xf_op_check_same_dtype(graph, fn, inputs[0], inputs[i], "an input"));
    }
    const xf_tensor_t* a = inputs[0];
    int ax = xf_op_norm_axis(axis, a->ndim);
    if (ax < 0 || ax >= a->ndim) return xf_ctx_fail(graph->context, XF_ERR_OUT_OF_RANGE, "%s: axis %d", fn, axis);
    int64_t shape[XF_MAX_DIMS];
    memcpy(shape, a->shape, sizeof shape);
    for (int i = 1; i < count; ++i) {
        const xf_tensor_t* b = inputs[i];
        bool fits = b->ndim == a->ndim;
        for (int d = 0; fits && d < a->ndim; ++d) fits = d == ax || b->shape[d] == a->shape[d];
        if (!fits) return xf_op_fail(graph, fn, "input %d does not match input 0 outside axis %d", i, axis);
        shape[ax] += b->shape[ax];
    }
    xf_op_params_t p = {.axis = {ax + 4 - a->ndim, count}};
    return xf_graph_append(graph, XF_OP_CONCAT, inputs, count, &p, a->dtype, a->ndim, shape, out);
}

xf_status_t xf_ref_concat(const xf_exec_node_t* n, xf_err_t* err) {
    (void)err;
    const xf_tref_t* d = &n->dst;
    int ax = n->params.axis.axis;
    int64_t start = 0;
    for (int s = 0; s < n->params.axis.count; ++s) {
        const xf_tref_t* x = &n->src[s];
        int64_t i = 0;
        XF_REF_FOR4(x) {
            int64_t idx[4] = {i0, i1, i2, i3};
            idx[ax] += start;
            xf_ref_st(d, xf_ref_index(d->ne, idx), xf_ref_ld(x, i++));
        }
        start += x->ne[ax];
    }
    return XF_OK;
}

xf_status_t xf_gather(xf_graph_t* graph, xf_tensor_t* x, int axis, xf_tensor_t* indices, xf_tensor_t** out) {
    const char* fn = "xf_gather";
    XF_CHECK(xf_op_begin(graph, fn, out));
    XF_CHECK(xf_op_check_input(graph, XF_OP_GATHER, fn, x, "x"));
    XF_CHECK(xf_graph_check_tensor(graph, indices, "xf_gather: indices"));
    if (indices->dtype != XF_DTYPE_I32 || indices->ndim != 1) return xf_op_fail(graph, fn, "indices must be i32 [M]");
    int ax = xf_op_norm_axis(axis, x->ndim);
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

xf_status_t xf_ref_gather(const xf_exec_node_t* n, xf_err_t* err) {
    (void)err;
    const xf_tref_t *x = &n->src[0], *d = &n->dst;
    const int32_t* index = xf_ref_base(&n->src[1]);
    int ax = n->params.axis.axis;
    int64_t o = 0;
    XF_REF_FOR4(d) {
        int64_t idx[4] = {i0, i1, i2, i3};
        int32_t j = index[idx[ax]];
        float v = 0.0f;
        if (j >= 0 && j < x->ne[ax]) {
            idx[ax] = j;
            v = xf_ref_ld(x, xf_ref_index(x->ne, idx));
        }
        xf_ref_st(d, o++, v);
    }
    return XF_OK;
}

// ROLL: cyclic shift along axes (torch.roll), as Swin shifts its windows.
xf_status_t xf_roll(xf_graph_t* graph, xf_tensor_t* x, int naxes, const int* axes, const int64_t* shifts,
                    xf_tensor_t** out) {
    const char* fn = "xf_roll";
    XF_CHECK(xf_op_begin(graph, fn, out));
    XF_CHECK(xf_op_check_input(graph, XF_OP_ROLL, fn, x, "x"));
    if (naxes < 1 || naxes > x->ndim || !axes || !shifts) {
        return xf_op_fail(graph, fn, "needs 1 to %d axes with one shift each", x->ndim);
    }
    xf_op_params_t p;
    memset(&p, 0, sizeof p);
    for (int i = 0; i < naxes; ++i) {
        int ax = 0;
        XF_CHECK(xf_op_axis(graph, fn, axes[i], x->ndim, &ax));
        int64_t len = x->shape[ax];
        int64_t* s = &p.roll.shift[ax + 4 - x->ndim];
        *s = ((*s + shifts[i]) % len + len) % len;
    }
    return xf_graph_append(graph, XF_OP_ROLL, &x, 1, &p, x->dtype, x->ndim, x->shape, out);
}

xf_status_t xf_ref_roll(const xf_exec_node_t* n, xf_err_t* err) {
    (void)err;
    const xf_tref_t *x = &n->src[0], *d = &n->dst;
    const int64_t* shift = n->params.roll.shift;
    int64_t o = 0;
    XF_REF_FOR4(d) {
        int64_t c[4] = {i0, i1, i2, i3};
        for (int k = 0; k < 4; ++k) c[k] = (c[k] - shift[k] + d->ne[k]) % d->ne[k];
        xf_ref_st(d, o++, xf_ref_ld(x, xf_ref_index(x->ne, c)));
    }
    return XF_OK;
}

// PAD: constant padding before and after each dim (ONNX Pad, mode constant, non-negative pads).
xf_status_t xf_pad(xf_graph_t* graph, xf_tensor_t* x, const int64_t* before, const int64_t* after, float value,
                   xf_tensor_t** out) {
    const char* fn = "xf_pad";
    XF_CHECK(xf_op_begin(graph, fn, out));
    XF_CHECK(xf_op_check_input(graph, XF_OP_PAD, fn, x, "x"));
    if (!before || !after) return xf_op_fail(graph, fn, "before and after must hold one count per dimension");
    xf_op_params_t p;
    memset(&p, 0, sizeof p);
    p.pad.value = value;
    int64_t shape[XF_MAX_DIMS];
    for (int i = 0; i < x->ndim; ++i) {
        if (before[i] < 0 || after[i] < 0 || before[i] > ((int64_t)1 << 30) || after[i] > ((int64_t)1 << 30)) {
            return xf_op_fail(graph, fn, "pads of dim %d (%lld, %lld) must be in 0..2^30", i, (long long)before[i],
                              (long long)after[i]);
        }
        shape[i] = x->shape[i] + before[i] + after[i];
        p.pad.before[i + 4 - x->ndim] = before[i];
    }
    return xf_graph_append(graph, XF_OP_PAD, &x, 1, &p, x->dtype, x->ndim, shape, out);
}

xf_status_t xf_ref_pad(const xf_exec_node_t* n, xf_err_t* err) {
    (void)err;
    const xf_tref_t *x = &n->src[0], *d = &n->dst;
    const int64_t* before = n->params.pad.before;
    int64_t o = 0;
    XF_REF_FOR4(d) {
        int64_t c[4] = {i0 - before[0], i1 - before[1], i2 - before[2], i3 - before[3]};
        bool inside = true;
        for (int k = 0; k < 4; ++k) inside = inside && c[k] >= 0 && c[k] < x->ne[k];
        xf_ref_st(d, o++, inside ? xf_ref_ld(x, xf_ref_index(x->ne, c)) : n->params.pad.value);
    }
    return XF_OK;
}
