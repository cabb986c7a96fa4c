// SPDX-License-Identifier: MIT
// The op registry's table (generated from ops.def) and the helpers every builder shares.
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "ops/ops_internal.h"

_Static_assert(XF_ACT_NONE == XF_UFN_NONE && XF_ACT_GELU == XF_UFN_GELU && XF_ACT_GELU_TANH == XF_UFN_GELU_TANH &&
                   XF_ACT_SILU == XF_UFN_SILU && XF_ACT_RELU == XF_UFN_RELU && XF_ACT_QUICK_GELU == XF_UFN_QUICK_GELU,
               "xf_activation_t must equal the kernel ABI's unary function codes (shaders/xf_abi.h)");

static const xf_op_info_t registry[XF_OP_COUNT] = {
#define XF_OP(NAME, FAMILY, MAX_SRC, INPLACE, DTYPES, CODE) \
    [XF_OP_##NAME] = {#NAME, #FAMILY, MAX_SRC, XF_INPLACE_##INPLACE, XF_DTYPES_##DTYPES, CODE},
#include "ops/ops.def"
};

#define XF_OP(NAME, FAMILY, MAX_SRC, INPLACE, DTYPES, CODE) \
    _Static_assert(MAX_SRC >= 1 && MAX_SRC <= XF_MAX_SRC, #NAME ": MAX_SRC is out of range");
#include "ops/ops.def"

const xf_op_info_t* xf_op_info(xf_op_t op) { return &registry[(unsigned)op < XF_OP_COUNT ? op : 0]; }

const char* xf_op_name(xf_op_t op) { return (unsigned)op < XF_OP_COUNT ? registry[op].name : "unknown"; }

xf_status_t xf_op_begin(xf_graph_t* g, const char* fn, xf_tensor_t** out) {
    if (!g) return xf_set_last_error(XF_ERR_INVALID_ARGUMENT, "%s: graph is NULL", fn);
    if (!out) return xf_ctx_fail(g->context, XF_ERR_INVALID_ARGUMENT, "%s: out is NULL", fn);
    *out = NULL;
    return XF_OK;
}

xf_status_t xf_op_fail(xf_graph_t* g, const char* fn, const char* fmt, ...) {
    char buf[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    return xf_ctx_fail(g->context, XF_ERR_INVALID_ARGUMENT, "%s: %s", fn, buf);
}

xf_status_t xf_op_check_input(xf_graph_t* g, xf_op_t op, const char* fn, const xf_tensor_t* t, const char* what) {
    return xf_op_check_dtypes(g, fn, t, xf_op_info(op)->dtypes, what);
}

xf_status_t xf_op_check_dtypes(xf_graph_t* g, const char* fn, const xf_tensor_t* t, unsigned ok, const char* what) {
    char name[64];
    snprintf(name, sizeof name, "%s: %s", fn, what);
    XF_CHECK(xf_graph_check_tensor(g, t, name));
    if (!(ok & (1u << t->dtype))) {
        char names[64] = "";
        for (int d = 0; d < XF_DTYPE_COUNT; ++d) {
            size_t len = strlen(names);
            if (ok & (1u << d)) snprintf(names + len, sizeof names - len, "%s%s", len ? ", " : "", xf_dtype_name(d));
        }
        return xf_op_fail(g, fn, "%s has dtype %s; this op takes %s", what, xf_dtype_name(t->dtype), names);
    }
    return XF_OK;
}

xf_status_t xf_op_check_same_dtype(xf_graph_t* g, const char* fn, const xf_tensor_t* a, const xf_tensor_t* b,
                                   const char* what) {
    if (b && a->dtype != b->dtype) {
        return xf_op_fail(g, fn, "%s has dtype %s but the input is %s; cast first", what, xf_dtype_name(b->dtype),
                          xf_dtype_name(a->dtype));
    }
    return XF_OK;
}

xf_status_t xf_op_check_vector(xf_graph_t* g, const char* fn, const xf_tensor_t* v, const xf_tensor_t* like,
                               int64_t n, const char* what) {
    if (!v) return XF_OK;
    XF_CHECK(xf_op_check_dtypes(g, fn, v, XF_DTYPES_FLOAT, what));
    XF_CHECK(xf_op_check_same_dtype(g, fn, like, v, what));
    if (xf_tensor_elements(v) != n || v->shape[v->ndim - 1] != n) {
        char s[96];
        xf_op_shape_str(v, s, sizeof s);
        return xf_op_fail(g, fn, "%s has shape %s; expected [%lld]", what, s, (long long)n);
    }
    return XF_OK;
}

xf_status_t xf_op_check_broadcasts_to(xf_graph_t* g, const char* fn, const xf_tensor_t* m, int ndim,
                                      const int64_t* shape, const char* what) {
    if (m->ndim > ndim) return xf_op_fail(g, fn, "%s has more dimensions than the scores", what);
    for (int i = 0; i < m->ndim; ++i) {
        int64_t d = m->shape[m->ndim - 1 - i], t = shape[ndim - 1 - i];
        if (d != 1 && d != t) {
            char s[96];
            xf_op_shape_str(m, s, sizeof s);
            return xf_op_fail(g, fn, "%s %s does not broadcast to the scores", what, s);
        }
    }
    return XF_OK;
}

static void dims_str(int ndim, const int64_t* shape, char* buf, size_t size) {
    size_t len = (size_t)snprintf(buf, size, "[");
    for (int i = 0; i < ndim && len < size; ++i) {
        len += (size_t)snprintf(buf + len, size - len, i ? ", %lld" : "%lld", (long long)shape[i]);
    }
    if (len < size) snprintf(buf + len, size - len, "]");
}

void xf_op_shape_str(const xf_tensor_t* t, char* buf, size_t size) { dims_str(t->ndim, t->shape, buf, size); }

xf_status_t xf_op_broadcast_dims(xf_graph_t* g, const char* fn, int na, const int64_t* sa, int nb, const int64_t* sb,
                                 int* out_ndim, int64_t* out_shape) {
    int nd = na > nb ? na : nb;
    int64_t shape[XF_MAX_DIMS];
    for (int i = 0; i < nd; ++i) {
        int ia = na - nd + i, ib = nb - nd + i;
        int64_t da = ia >= 0 ? sa[ia] : 1, db = ib >= 0 ? sb[ib] : 1;
        if (da != db && da != 1 && db != 1) {
            char ta[96], tb[96];
            dims_str(na, sa, ta, sizeof ta);
            dims_str(nb, sb, tb, sizeof tb);
            return xf_op_fail(g, fn, "shapes %s and %s do not broadcast", ta, tb);
        }
        shape[i] = da > db ? da : db;
    }
    memcpy(out_shape, shape, sizeof(int64_t) * (size_t)nd);
    *out_ndim = nd;
    return XF_OK;
}

xf_status_t xf_op_broadcast_shape(xf_graph_t* g, const char* fn, const xf_tensor_t* a, const xf_tensor_t* b,
                                  int* out_ndim, int64_t* out_shape) {
    return xf_op_broadcast_dims(g, fn, a->ndim, a->shape, b->ndim, b->shape, out_ndim, out_shape);
}

xf_status_t xf_op_axis(xf_graph_t* g, const char* fn, int axis, int ndim, int* out_axis) {
    int ax = axis < 0 ? axis + ndim : axis;
    if (ax < 0 || ax >= ndim) {
        return xf_ctx_fail(g->context, XF_ERR_OUT_OF_RANGE, "%s: axis %d for %d dims", fn, axis, ndim);
    }
    *out_axis = ax;
    return XF_OK;
}

xf_status_t xf_op_squeeze(xf_graph_t* g, xf_tensor_t* r, int axis, xf_tensor_t** out) {
    if (r->ndim == 1) {
        *out = r;
        return XF_OK;
    }
    int64_t squeezed[XF_MAX_DIMS];
    for (int i = 0, j = 0; i < r->ndim; ++i) {
        if (i != axis) squeezed[j++] = r->shape[i];
    }
    return xf_reshape(g, r, r->ndim - 1, squeezed, out);
}
