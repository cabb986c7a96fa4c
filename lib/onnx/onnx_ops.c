// SPDX-License-Identifier: MIT
// ONNX operators: each node is evaluated on the host when all its inputs are constants (shape arithmetic,
// folded at load for the input size) and lowered to libxformer operators otherwise.
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "onnx/onnx_internal.h"
#include "onnx/onnx_ops.h"

#define IN(k) ((k) < nin ? in[k] : NULL)

static int64_t prod(int nd, const int64_t* s) {
    int64_t n = 1;
    for (int d = 0; d < nd; d++) n *= s[d];
    return n;
}

static xf_status_t norm_axis(xo_imp_t* im, int64_t axis, int nd, const char* what, int* out) {
    int64_t a = axis < 0 ? axis + nd : axis;
    *out = 0;
    if (a < 0 || a >= (nd ? nd : 1))
        return xo_fail(im, XF_ERR_INVALID_ARGUMENT, "%s %lld is out of range for rank %d", what, (long long)axis, nd);
    *out = (int)a;
    return XF_OK;
}

static xf_status_t need_const(xo_imp_t* im, const xo_val_t* v, const char* what) {
    if (!v) return xo_fail(im, XF_ERR_INVALID_ARGUMENT, "input '%s' is missing", what);
    if (!v->is_const)
        return xo_fail(im, XF_ERR_UNIMPLEMENTED, "input '%s' (%.200s) must be known at load time (a constant or "
                       "computed from shapes); it depends on the graph's inputs", what, v->name);
    return XF_OK;
}

static xf_status_t need_float(xo_imp_t* im, const xo_val_t* v) {
    if (!v->is_const && v->ety != XO_FLOAT)
        return xo_fail(im, XF_ERR_UNIMPLEMENTED, "input '%.200s' is an integer tensor computed on the device; this "
                       "operator takes float32 there", v->name);
    return XF_OK;
}

// Reads an int64 list from constant |v| (at most |cap|).
static xf_status_t const_ints(xo_imp_t* im, const xo_val_t* v, const char* what, int64_t* out, int cap, int* n) {
    XO_CHECK(need_const(im, v, what));
    if (v->n > cap) return xo_fail(im, XF_ERR_UNIMPLEMENTED, "'%s' has %lld entries (at most %d)", what,
                                   (long long)v->n, cap);
    for (int64_t k = 0; k < v->n; k++) out[k] = v->f ? xo_to_int(v->f[k]) : v->i[k];
    *n = (int)v->n;
    return XF_OK;
}

static bool attr_ints(const Onnx__NodeProto* n, const char* name, int64_t* out, int cap, int* count) {
    const Onnx__AttributeProto* a = xo_attr(n, name);
    if (!a || a->n_ints > (size_t)cap) return false;
    for (size_t k = 0; k < a->n_ints; k++) out[k] = a->ints[k];
    *count = (int)a->n_ints;
    return true;
}

static xf_status_t broadcast(xo_imp_t* im, int na, const int64_t* a, int nb, const int64_t* b, int* nd,
                             int64_t* out) {
    int n = na > nb ? na : nb;
    for (int d = 0; d < n; d++) {
        int64_t x = d - (n - na) >= 0 ? a[d - (n - na)] : 1, y = d - (n - nb) >= 0 ? b[d - (n - nb)] : 1;
        if (x != y && x != 1 && y != 1)
            return xo_fail(im, XF_ERR_INVALID_ARGUMENT, "shapes do not broadcast (dim %d: %lld vs %lld)", d,
                           (long long)x, (long long)y);
        out[d] = x == 1 ? y : x;
    }
    *nd = n;
    return XF_OK;
}

//===----------------------------------------------------------------------===//
// Host evaluation
//===----------------------------------------------------------------------===//

// Offset into a constant of rank |nd| broadcast to |ond| dims, for output index |idx|.
static int64_t bc_offset(const xo_val_t* v, int ond, const int64_t* idx) {
    int64_t off = 0, s = 1;
    for (int d = v->nd - 1; d >= 0; d--) {
        int od = d + ond - v->nd;
        if (v->shape[d] != 1) off += idx[od] * s;
        s *= v->shape[d];
    }
    return off;
}

static void next_index(int nd, const int64_t* shape, int64_t* idx) {
    for (int d = nd - 1; d >= 0; d--) {
        if (++idx[d] < shape[d]) return;
        idx[d] = 0;
    }
}

typedef double (*host_fn)(double a, double b, double c);

static xf_status_t host_eltwise(xo_imp_t* im, xo_val_t** in, int nin, int ety, host_fn fn, xo_val_t* out) {
    int nd = 0;
    int64_t shape[XO_MAX_RANK] = {0};
    for (int k = 0; k < nin; k++) {
        int64_t s2[XO_MAX_RANK];
        memcpy(s2, shape, sizeof s2);
        XO_CHECK(broadcast(im, nd, s2, in[k]->nd, in[k]->shape, &nd, shape));
    }
    XO_CHECK(xo_const_new(im, out, ety, nd, shape));
    int64_t idx[XO_MAX_RANK] = {0};
    for (int64_t o = 0; o < out->n; o++) {
        double x[3] = {0, 0, 0};
        for (int k = 0; k < nin; k++) x[k] = xo_get(in[k], bc_offset(in[k], nd, idx));
        xo_set(out, o, fn(x[0], x[1], x[2]));
        next_index(nd, shape, idx);
    }
    return XF_OK;
}

static double f_add(double a, double b, double c) { (void)c; return a + b; }
static double f_sub(double a, double b, double c) { (void)c; return a - b; }
static double f_mul(double a, double b, double c) { (void)c; return a * b; }
static double f_div_float(double a, double b, double c) { (void)c; return a / b; }
static double f_div_int(double a, double b, double c) { (void)c; return b == 0 ? 0 : trunc(a / b); }
static double f_pow(double a, double b, double c) { (void)c; return pow(a, b); }
static double f_mod_int(double a, double b, double c) {
    (void)c;
    if (b == 0) return 0;
    double r = fmod(a, b);
    return r != 0 && ((r < 0) != (b < 0)) ? r + b : r;
}
static double f_fmod(double a, double b, double c) { (void)c; return fmod(a, b); }
static double f_eq(double a, double b, double c) { (void)c; return a == b; }
static double f_lt(double a, double b, double c) { (void)c; return a < b; }
static double f_gt(double a, double b, double c) { (void)c; return a > b; }
static double f_le(double a, double b, double c) { (void)c; return a <= b; }
static double f_ge(double a, double b, double c) { (void)c; return a >= b; }
static double f_and(double a, double b, double c) { (void)c; return a != 0 && b != 0; }
static double f_or(double a, double b, double c) { (void)c; return a != 0 || b != 0; }
static double f_xor(double a, double b, double c) { (void)c; return (a != 0) != (b != 0); }
static double f_not(double a, double b, double c) { (void)b; (void)c; return a == 0; }
static double f_where(double a, double b, double c) { return a != 0 ? b : c; }
static double f_min(double a, double b, double c) { (void)c; return a < b ? a : b; }
static double f_max(double a, double b, double c) { (void)c; return a > b ? a : b; }
static double f_neg(double a, double b, double c) { (void)b; (void)c; return -a; }
static double f_abs(double a, double b, double c) { (void)b; (void)c; return fabs(a); }
static double f_sqrt(double a, double b, double c) { (void)b; (void)c; return sqrt(a); }
static double f_exp(double a, double b, double c) { (void)b; (void)c; return exp(a); }
static double f_erf(double a, double b, double c) { (void)b; (void)c; return erf(a); }
static double f_tanh(double a, double b, double c) { (void)b; (void)c; return tanh(a); }
static double f_sigmoid(double a, double b, double c) { (void)b; (void)c; return 1.0 / (1.0 + exp(-a)); }
static double f_relu(double a, double b, double c) { (void)b; (void)c; return a > 0 ? a : 0; }
static double f_floor(double a, double b, double c) { (void)b; (void)c; return floor(a); }
static double f_ceil(double a, double b, double c) { (void)b; (void)c; return ceil(a); }
static double f_reciprocal(double a, double b, double c) { (void)b; (void)c; return 1.0 / a; }
static double f_identity(double a, double b, double c) { (void)b; (void)c; return a; }

// A host copy of |src| seen through |nd| dims of |shape| with element strides |stride| from |off|.
static xf_status_t host_view(xo_imp_t* im, const xo_val_t* src, int nd, const int64_t* shape,
                             const int64_t* stride, int64_t off, xo_val_t* out) {
    XO_CHECK(xo_const_new(im, out, src->ety, nd, shape));
    int64_t idx[XO_MAX_RANK] = {0};
    for (int64_t o = 0; o < out->n; o++) {
        int64_t s = off;
        for (int d = 0; d < nd; d++) s += idx[d] * stride[d];
        xo_set(out, o, xo_get(src, s));
        next_index(nd, shape, idx);
    }
    return XF_OK;
}

static void dense_strides(int nd, const int64_t* shape, int64_t* stride) {
    int64_t s = 1;
    for (int d = nd - 1; d >= 0; d--) {
        stride[d] = s;
        s *= shape[d];
    }
}

// A logical view of |src| (host or device): |stride| and |off| in elements of src's own row-major order
// when host, of its device view otherwise.
static xf_status_t view_of(xo_imp_t* im, xo_val_t* src, int nd, const int64_t* shape, const int64_t* stride,
                           int64_t off, xo_val_t* out) {
    if (src->is_const) {
        int64_t st[XO_MAX_RANK];
        memcpy(st, stride, sizeof(int64_t) * (size_t)nd);
        return host_view(im, src, nd, shape, st, off, out);
    }
    xo_val_t r = *src;
    r.name = out->name;
    r.nd = nd;
    memcpy(r.shape, shape, sizeof(int64_t) * (size_t)nd);
    memcpy(r.stride, stride, sizeof(int64_t) * (size_t)nd);
    r.off = off;
    r.n = prod(nd, shape);
    r.uses = out->uses;
    r.producer = out->producer;
    r.graph_output = out->graph_output;
    r.up_f32 = r.up_i32 = NULL;
    *out = r;
    return XF_OK;
}

// The strides of |v| as a view source: host constants are row-major, device values carry theirs.
static void src_strides(const xo_val_t* v, int64_t* stride, int64_t* off) {
    if (v->is_const) {
        dense_strides(v->nd, v->shape, stride);
        *off = 0;
    } else {
        memcpy(stride, v->stride, sizeof(int64_t) * (size_t)v->nd);
        *off = v->off;
    }
}

// |v| reshaped to |shape| (dense first when on the device and strided).
static xf_status_t reshape_to(xo_imp_t* im, xo_val_t* v, int nd, const int64_t* shape, xo_val_t* out) {
    if (prod(nd, shape) != v->n)
        return xo_fail(im, XF_ERR_INVALID_ARGUMENT, "cannot reshape %lld elements to the requested shape",
                       (long long)v->n);
    if (v->is_const) {
        int64_t st[XO_MAX_RANK];
        dense_strides(nd, shape, st);
        return host_view(im, v, nd, shape, st, 0, out);
    }
    XO_CHECK(xo_densify(im, v));
    int64_t st[XO_MAX_RANK];
    dense_strides(nd, shape, st);
    // Unit dims of a dense value may carry any stride; a row-major view over the same storage is exact.
    return view_of(im, v, nd, shape, st, v->off, out);
}

//===----------------------------------------------------------------------===//
// Device helpers
//===----------------------------------------------------------------------===//

// Device tensors of |nops| operands broadcast to |ond| dims of |oshape|, each reshaped to at most 4 dims by
// merging dims they all treat alike (full or broadcast); |keep| trailing dims are kept as they are.
static xf_status_t joint_tensors(xo_imp_t* im, xo_val_t** ops, int nops, int ond, const int64_t* oshape, int keep,
                                 xf_tensor_t** out, int* cnd, int64_t* cshape) {
    bool fits = ond <= XF_MAX_DIMS;
    for (int j = 0; j < nops; j++) fits = fits && ops[j]->nd >= 1 && !ops[j]->scale_of;
    if (fits || ond == 0) {
        for (int j = 0; j < nops; j++) XO_CHECK(xo_tensor_of(im, ops[j], &out[j]));
        *cnd = ond ? ond : 1;
        if (ond) memcpy(cshape, oshape, sizeof(int64_t) * (size_t)ond);
        else cshape[0] = 1;
        return XF_OK;
    }
    int64_t s[4][XO_MAX_RANK], gs[4][XO_MAX_RANK];
    for (int j = 0; j < nops; j++)
        for (int d = 0; d < ond; d++) s[j][d] = d - (ond - ops[j]->nd) >= 0 ? ops[j]->shape[d - (ond - ops[j]->nd)] : 1;
    int g = 0, prev = -1;
    for (int d = 0; d < ond; d++) {
        bool kept = d >= ond - keep;
        if (oshape[d] == 1 && !kept) continue;
        bool merge = prev >= 0 && !kept && !(prev >= ond - keep);
        for (int j = 0; merge && j < nops; j++) merge = (s[j][d] == 1) == (s[j][prev] == 1);
        if (merge) {
            cshape[g - 1] *= oshape[d];
            for (int j = 0; j < nops; j++) gs[j][g - 1] *= s[j][d];
        } else {
            cshape[g] = oshape[d];
            for (int j = 0; j < nops; j++) gs[j][g] = s[j][d];
            g++;
        }
        prev = d;
    }
    if (g == 0) {
        cshape[0] = 1;
        for (int j = 0; j < nops; j++) gs[j][0] = 1;
        g = 1;
    }
    if (g > XF_MAX_DIMS)
        return xo_fail(im, XF_ERR_UNIMPLEMENTED, "a %d-D broadcast that does not fold to 4 dims", ond);
    for (int j = 0; j < nops; j++) {
        xo_val_t r = {.name = ops[j]->name};
        XO_CHECK(reshape_to(im, ops[j], g, gs[j], &r));
        XO_CHECK(xo_tensor_of(im, &r, &out[j]));
    }
    *cnd = g;
    return XF_OK;
}

typedef xf_status_t (*xf_binary_fn)(xf_graph_t*, xf_tensor_t*, xf_tensor_t*, xf_tensor_t**);
typedef xf_status_t (*xf_unary_fn)(xf_graph_t*, xf_tensor_t*, xf_tensor_t**);

static xf_status_t dev_binary(xo_imp_t* im, xo_val_t* a, xo_val_t* b, xf_binary_fn fn, xo_val_t* out) {
    XO_CHECK(need_float(im, a));
    XO_CHECK(need_float(im, b));
    int nd;
    int64_t shape[XO_MAX_RANK], cshape[XO_MAX_RANK];
    XO_CHECK(broadcast(im, a->nd, a->shape, b->nd, b->shape, &nd, shape));
    xo_val_t* ops[2] = {a, b};
    xf_tensor_t* t[2];
    int cnd;
    XO_CHECK(joint_tensors(im, ops, 2, nd, shape, 0, t, &cnd, cshape));
    xf_tensor_t* r;
    XO_CHECK(fn(im->g, t[0], t[1], &r));
    return xo_result(im, out, r, nd, shape);
}

static xf_status_t dev_unary(xo_imp_t* im, xo_val_t* x, xf_unary_fn fn, xo_val_t* out) {
    XO_CHECK(need_float(im, x));
    xf_tensor_t *t, *r;
    int nd = x->nd;
    int64_t shape[XO_MAX_RANK];
    memcpy(shape, x->shape, sizeof shape);
    XO_CHECK(xo_tensor_of(im, x, &t));
    XO_CHECK(fn(im->g, t, &r));
    return xo_result(im, out, r, nd, shape);
}

static bool scalar_const(const xo_val_t* v, double* out) {
    if (!v || !v->is_const || v->n != 1) return false;
    *out = xo_get(v, 0);
    return true;
}

//===----------------------------------------------------------------------===//
// Operators
//===----------------------------------------------------------------------===//

#define OP(name) static xf_status_t op_##name(xo_imp_t* im, const Onnx__NodeProto* n, xo_val_t** in, int nin, \
                                              xo_val_t** out, int nout)
#define UNUSED_ARGS (void)n, (void)nin, (void)nout

static bool all_const(xo_val_t** in, int nin) {
    for (int k = 0; k < nin; k++)
        if (in[k] && !in[k]->is_const) return false;
    return true;
}

static xf_status_t binary(xo_imp_t* im, xo_val_t** in, int nin, xo_val_t* out, host_fn hf, xf_binary_fn df) {
    if (nin < 2 || !in[0] || !in[1]) return xo_fail(im, XF_ERR_INVALID_ARGUMENT, "needs two inputs");
    if (all_const(in, 2)) return host_eltwise(im, in, 2, in[0]->ety, hf, out);
    return dev_binary(im, in[0], in[1], df, out);
}

OP(Add) {
    UNUSED_ARGS;
    double c;
    xo_val_t* x = in[0] && !in[0]->is_const ? in[0] : in[1];
    xo_val_t* k = x == in[0] ? in[1] : in[0];
    if (x && k && !x->is_const && x->ety == XO_FLOAT && scalar_const(k, &c) && k->nd <= x->nd) {
        xf_tensor_t *t, *r;
        int nd = x->nd;
        int64_t shape[XO_MAX_RANK];
        memcpy(shape, x->shape, sizeof shape);
        XO_CHECK(xo_tensor_of(im, x, &t));
        XO_CHECK(xf_scale(im->g, t, 1.0f, (float)c, &r));
        return xo_result(im, out[0], r, nd, shape);
    }
    return binary(im, in, nin, out[0], f_add, xf_add);
}

OP(Sub) {
    UNUSED_ARGS;
    double c;
    if (nin == 2 && in[0] && !in[0]->is_const && in[0]->ety == XO_FLOAT && scalar_const(in[1], &c) &&
        in[1]->nd <= in[0]->nd) {
        xf_tensor_t *t, *r;
        int nd = in[0]->nd;
        int64_t shape[XO_MAX_RANK];
        memcpy(shape, in[0]->shape, sizeof shape);
        XO_CHECK(xo_tensor_of(im, in[0], &t));
        XO_CHECK(xf_scale(im->g, t, 1.0f, (float)-c, &r));
        return xo_result(im, out[0], r, nd, shape);
    }
    return binary(im, in, nin, out[0], f_sub, xf_sub);
}

// x * c and x / c by a scalar stay pending, so that a matmul or softmax consumer can fold the factor.
static xf_status_t scaled(xo_imp_t* im, xo_val_t* x, double c, xo_val_t* out) {
    if (x->scale_of) {
        c *= x->scale;
        x = x->scale_of;
    }
    xo_val_t r = *x;
    r.name = out->name;
    r.uses = out->uses;
    r.producer = out->producer;
    r.graph_output = out->graph_output;
    r.up_f32 = r.up_i32 = NULL;
    r.scale_of = x;
    r.scale = (float)c;
    *out = r;
    return XF_OK;
}

OP(Mul) {
    UNUSED_ARGS;
    double c;
    xo_val_t* x = nin == 2 && in[0] && !in[0]->is_const ? in[0] : nin == 2 ? in[1] : NULL;
    xo_val_t* k = x == in[0] ? in[1] : in[0];
    if (x && k && !x->is_const && x->ety == XO_FLOAT && scalar_const(k, &c) && k->nd <= x->nd)
        return scaled(im, x, c, out[0]);
    return binary(im, in, nin, out[0], f_mul, xf_mul);
}

OP(Div) {
    UNUSED_ARGS;
    double c;
    if (nin == 2 && in[0] && !in[0]->is_const && in[0]->ety == XO_FLOAT && scalar_const(in[1], &c) && c != 0 &&
        in[1]->nd <= in[0]->nd)
        return scaled(im, in[0], 1.0 / c, out[0]);
    if (nin == 2 && all_const(in, 2) && !xo_is_float_type(in[0]->ety))
        return host_eltwise(im, in, 2, in[0]->ety, f_div_int, out[0]);
    return binary(im, in, nin, out[0], f_div_float, xf_div);
}

OP(Pow) {
    UNUSED_ARGS;
    double c;
    // x^2 (LayerNorm's variance, decomposed) as x * x.
    if (nin == 2 && in[0] && !in[0]->is_const && scalar_const(in[1], &c) && c == 2.0 && in[1]->nd <= in[0]->nd)
        return dev_binary(im, in[0], in[0], xf_mul, out[0]);
    if (nin == 2 && all_const(in, 2)) return host_eltwise(im, in, 2, in[0]->ety, f_pow, out[0]);
    return binary(im, in, nin, out[0], f_pow, xf_pow);
}

static xf_status_t host_only2(xo_imp_t* im, xo_val_t** in, int nin, xo_val_t* out, host_fn fn, int ety) {
    if (nin < 2 || !in[0] || !in[1]) return xo_fail(im, XF_ERR_INVALID_ARGUMENT, "needs two inputs");
    if (!all_const(in, 2))
        return xo_fail(im, XF_ERR_UNIMPLEMENTED, "runs only on values known at load time (shape arithmetic); "
                       "here it depends on the graph's inputs");
    return host_eltwise(im, in, 2, ety ? ety : in[0]->ety, fn, out);
}

OP(Mod) {
    UNUSED_ARGS;
    bool fmod_ = xo_attr_int(n, "fmod", 0) != 0;
    return host_only2(im, in, nin, out[0], fmod_ || xo_is_float_type(in[0] ? in[0]->ety : 0) ? f_fmod : f_mod_int, 0);
}
OP(Equal) { UNUSED_ARGS; return host_only2(im, in, nin, out[0], f_eq, XO_BOOL); }
OP(Less) { UNUSED_ARGS; return host_only2(im, in, nin, out[0], f_lt, XO_BOOL); }
OP(Greater) { UNUSED_ARGS; return host_only2(im, in, nin, out[0], f_gt, XO_BOOL); }
OP(LessOrEqual) { UNUSED_ARGS; return host_only2(im, in, nin, out[0], f_le, XO_BOOL); }
OP(GreaterOrEqual) { UNUSED_ARGS; return host_only2(im, in, nin, out[0], f_ge, XO_BOOL); }
OP(And) { UNUSED_ARGS; return host_only2(im, in, nin, out[0], f_and, XO_BOOL); }
OP(Or) { UNUSED_ARGS; return host_only2(im, in, nin, out[0], f_or, XO_BOOL); }
OP(Xor) { UNUSED_ARGS; return host_only2(im, in, nin, out[0], f_xor, XO_BOOL); }

static xf_status_t variadic(xo_imp_t* im, xo_val_t** in, int nin, xo_val_t* out, host_fn fn) {
    if (nin < 1 || !in[0]) return xo_fail(im, XF_ERR_INVALID_ARGUMENT, "needs an input");
    if (!all_const(in, nin))
        return xo_fail(im, XF_ERR_UNIMPLEMENTED, "runs only on values known at load time here");
    xo_val_t acc = {.name = out->name};
    XO_CHECK(host_eltwise(im, in, 1, in[0]->ety, f_identity, &acc));
    for (int k = 1; k < nin; k++) {
        xo_val_t* two[2] = {&acc, in[k]};
        xo_val_t next = {.name = out->name};
        xf_status_t st = host_eltwise(im, two, 2, in[0]->ety, fn, &next);
        xf_free(acc.f);
        xf_free(acc.i);
        if (st != XF_OK) return st;
        acc = next;
    }
    acc.uses = out->uses;
    acc.producer = out->producer;
    acc.graph_output = out->graph_output;
    *out = acc;
    return XF_OK;
}
OP(Min) { UNUSED_ARGS; return variadic(im, in, nin, out[0], f_min); }
OP(Max) { UNUSED_ARGS; return variadic(im, in, nin, out[0], f_max); }

OP(Not) {
    UNUSED_ARGS;
    if (!in[0] || !in[0]->is_const) return xo_fail(im, XF_ERR_UNIMPLEMENTED, "runs only on values known at load time");
    return host_eltwise(im, in, 1, XO_BOOL, f_not, out[0]);
}

static xf_status_t unary(xo_imp_t* im, xo_val_t** in, int nin, xo_val_t* out, host_fn hf, xf_unary_fn df) {
    if (nin < 1 || !in[0]) return xo_fail(im, XF_ERR_INVALID_ARGUMENT, "needs an input");
    if (in[0]->is_const) return host_eltwise(im, in, 1, in[0]->ety, hf, out);
    if (!df) return xo_fail(im, XF_ERR_UNIMPLEMENTED, "runs only on values known at load time");
    return dev_unary(im, in[0], df, out);
}

static xf_status_t relu_fn(xf_graph_t* g, xf_tensor_t* x, xf_tensor_t** out) {
    return xf_activation(g, x, XF_ACT_RELU, out);
}
static xf_status_t reciprocal_fn(xf_graph_t* g, xf_tensor_t* x, xf_tensor_t** out) {
    xf_tensor_t* one;
    xf_status_t st = xf_scale(g, x, 0.0f, 1.0f, &one);
    return st == XF_OK ? xf_div(g, one, x, out) : st;
}

OP(Neg) { UNUSED_ARGS; return unary(im, in, nin, out[0], f_neg, xf_neg); }
OP(Abs) { UNUSED_ARGS; return unary(im, in, nin, out[0], f_abs, xf_abs); }
OP(Sqrt) { UNUSED_ARGS; return unary(im, in, nin, out[0], f_sqrt, xf_sqrt); }
OP(Exp) { UNUSED_ARGS; return unary(im, in, nin, out[0], f_exp, xf_exp); }
OP(Erf) { UNUSED_ARGS; return unary(im, in, nin, out[0], f_erf, xf_erf); }
OP(Tanh) { UNUSED_ARGS; return unary(im, in, nin, out[0], f_tanh, xf_tanh); }
OP(Sigmoid) { UNUSED_ARGS; return unary(im, in, nin, out[0], f_sigmoid, xf_sigmoid); }
OP(Relu) { UNUSED_ARGS; return unary(im, in, nin, out[0], f_relu, relu_fn); }
OP(Reciprocal) { UNUSED_ARGS; return unary(im, in, nin, out[0], f_reciprocal, reciprocal_fn); }
OP(Floor) { UNUSED_ARGS; return unary(im, in, nin, out[0], f_floor, NULL); }
OP(Ceil) { UNUSED_ARGS; return unary(im, in, nin, out[0], f_ceil, NULL); }

OP(Identity) {
    UNUSED_ARGS;
    if (!in[0]) return xo_fail(im, XF_ERR_INVALID_ARGUMENT, "needs an input");
    if (in[0]->is_const) return host_eltwise(im, in, 1, in[0]->ety, f_identity, out[0]);
    int64_t st[XO_MAX_RANK], off;
    src_strides(in[0], st, &off);
    XO_CHECK(view_of(im, in[0], in[0]->nd, in[0]->shape, st, off, out[0]));
    out[0]->scale_of = in[0]->scale_of;
    out[0]->scale = in[0]->scale;
    return XF_OK;
}

OP(Dropout) {
    if (nout > 1 && out[1] && out[1]->uses)
        return xo_fail(im, XF_ERR_UNIMPLEMENTED, "the mask output (inference runs Dropout as Identity)");
    // Training mode drops values unless the ratio is 0 (what exports of p = 0 dropout carry).
    double training = 0, ratio = 0.5;
    if (IN(1) && !scalar_const(IN(1), &ratio)) ratio = 0.5;
    if (IN(2) && (!scalar_const(IN(2), &training) || training != 0) && ratio != 0)
        return xo_fail(im, XF_ERR_UNIMPLEMENTED, "training mode with ratio %g (inference runs Dropout as "
                       "Identity)", ratio);
    return op_Identity(im, n, in, nin > 1 ? 1 : nin, out, 1);
}

OP(Cast) {
    UNUSED_ARGS;
    int to = (int)xo_attr_int(n, "to", 0);
    if (!in[0]) return xo_fail(im, XF_ERR_INVALID_ARGUMENT, "needs an input");
    if (!raw_type_ok(to)) return xo_fail(im, XF_ERR_UNIMPLEMENTED, "cast to element type %d", to);
    if (in[0]->is_const) {
        XO_CHECK(host_eltwise(im, in, 1, to, f_identity, out[0]));
        if (to == XO_FLOAT16)
            for (int64_t k = 0; k < out[0]->n; k++) out[0]->f[k] = xf_f16_to_f32(xf_f32_to_f16(out[0]->f[k]));
        return XF_OK;
    }
    if (to == XO_FLOAT && in[0]->ety == XO_FLOAT) return op_Identity(im, n, in, 1, out, 1);
    return xo_fail(im, XF_ERR_UNIMPLEMENTED, "casts of device values run only float32 to float32 (got %d to %d)",
                   in[0]->ety, to);
}

OP(Where) {
    UNUSED_ARGS;
    if (nin < 3 || !in[0] || !in[1] || !in[2]) return xo_fail(im, XF_ERR_INVALID_ARGUMENT, "needs three inputs");
    if (all_const(in, 3)) return host_eltwise(im, in, 3, in[1]->ety, f_where, out[0]);
    XO_CHECK(need_float(im, in[1]));
    XO_CHECK(need_float(im, in[2]));
    int nd, nd2;
    int64_t ab[XO_MAX_RANK], shape[XO_MAX_RANK], cshape[XO_MAX_RANK];
    XO_CHECK(broadcast(im, in[1]->nd, in[1]->shape, in[2]->nd, in[2]->shape, &nd, ab));
    XO_CHECK(broadcast(im, nd, ab, in[0]->nd, in[0]->shape, &nd2, shape));
    if (nd2 != nd || memcmp(ab, shape, sizeof(int64_t) * (size_t)nd) != 0)
        return xo_fail(im, XF_ERR_UNIMPLEMENTED, "the condition is larger than the values it selects");
    xo_val_t cond = *in[0];
    if (cond.is_const && !xo_is_float_type(cond.ety)) {
        // xf_where takes a condition of the values' dtype: upload 0/1 as f32.
        cond.up_f32 = NULL;
        cond.ety = XO_FLOAT;
        cond.f = xf_malloc((size_t)(cond.n ? cond.n : 1) * sizeof(float));
        cond.i = NULL;
        if (!cond.f) return xo_fail(im, XF_ERR_OUT_OF_MEMORY, "out of host memory");
        for (int64_t k = 0; k < cond.n; k++) cond.f[k] = in[0]->i[k] != 0;
    }
    xo_val_t* ops[3] = {&cond, in[1], in[2]};
    xf_tensor_t* t[3];
    int cnd;
    xf_status_t st = joint_tensors(im, ops, 3, nd, shape, 0, t, &cnd, cshape);
    if (cond.f != in[0]->f) xf_free(cond.f);
    if (st != XF_OK) return st;
    xf_tensor_t* r;
    XO_CHECK(xf_where(im->g, t[0], t[1], t[2], &r));
    return xo_result(im, out[0], r, nd, shape);
}

OP(Clip) {
    UNUSED_ARGS;
    double lo = -INFINITY, hi = INFINITY, c;
    if (im->opset < 11) {
        lo = xo_attr_float(n, "min", -INFINITY);
        hi = xo_attr_float(n, "max", INFINITY);
    } else {
        if (nin > 1 && in[1]) {
            if (!scalar_const(in[1], &c)) return need_const(im, in[1], "min");
            lo = c;
        }
        if (nin > 2 && in[2]) {
            if (!scalar_const(in[2], &c)) return need_const(im, in[2], "max");
            hi = c;
        }
    }
    if (!in[0]) return xo_fail(im, XF_ERR_INVALID_ARGUMENT, "needs an input");
    if (in[0]->is_const) {
        XO_CHECK(host_eltwise(im, in, 1, in[0]->ety, f_identity, out[0]));
        for (int64_t k = 0; k < out[0]->n; k++) {
            double x = xo_get(out[0], k);
            xo_set(out[0], k, x < lo ? lo : x > hi ? hi : x);
        }
        return XF_OK;
    }
    if (lo > hi) return xo_fail(im, XF_ERR_UNIMPLEMENTED, "min %g is over max %g", lo, hi);
    xf_tensor_t *t, *r;
    int nd = in[0]->nd;
    int64_t shape[XO_MAX_RANK];
    memcpy(shape, in[0]->shape, sizeof shape);
    XO_CHECK(xo_tensor_of(im, in[0], &t));
    XO_CHECK(xf_clip(im->g, t, (float)fmax(lo, -FLT_MAX), (float)fmin(hi, FLT_MAX), &r));
    return xo_result(im, out[0], r, nd, shape);
}

//===----------------------------------------------------------------------===//
// Shapes and layout
//===----------------------------------------------------------------------===//

OP(Shape) {
    UNUSED_ARGS;
    if (!in[0]) return xo_fail(im, XF_ERR_INVALID_ARGUMENT, "needs an input");
    int nd = in[0]->nd;
    int64_t start = xo_attr_int(n, "start", 0), end = xo_attr_int(n, "end", nd);
    if (start < 0) start += nd;
    if (end < 0) end += nd;
    start = start < 0 ? 0 : start > nd ? nd : start;
    end = end < 0 ? 0 : end > nd ? nd : end;
    int64_t len = end > start ? end - start : 0;
    XO_CHECK(xo_const_new(im, out[0], XO_INT64, 1, &len));
    for (int64_t k = 0; k < len; k++) out[0]->i[k] = in[0]->shape[start + k];
    return XF_OK;
}

OP(Size) {
    UNUSED_ARGS;
    if (!in[0]) return xo_fail(im, XF_ERR_INVALID_ARGUMENT, "needs an input");
    XO_CHECK(xo_const_new(im, out[0], XO_INT64, 0, NULL));
    out[0]->i[0] = in[0]->n;
    return XF_OK;
}

OP(Constant) {
    UNUSED_ARGS;
    const Onnx__AttributeProto* a;
    if ((a = xo_attr(n, "value")) && a->t) return xo_parse_tensor(im, a->t, out[0]);
    if ((a = xo_attr(n, "value_float")) && a->has_f) {
        XO_CHECK(xo_const_new(im, out[0], XO_FLOAT, 0, NULL));
        out[0]->f[0] = a->f;
        return XF_OK;
    }
    if ((a = xo_attr(n, "value_int")) && a->has_i) {
        XO_CHECK(xo_const_new(im, out[0], XO_INT64, 0, NULL));
        out[0]->i[0] = a->i;
        return XF_OK;
    }
    if ((a = xo_attr(n, "value_floats"))) {
        int64_t len = (int64_t)a->n_floats;
        XO_CHECK(xo_const_new(im, out[0], XO_FLOAT, 1, &len));
        for (int64_t k = 0; k < len; k++) out[0]->f[k] = a->floats[k];
        return XF_OK;
    }
    if ((a = xo_attr(n, "value_ints"))) {
        int64_t len = (int64_t)a->n_ints;
        XO_CHECK(xo_const_new(im, out[0], XO_INT64, 1, &len));
        for (int64_t k = 0; k < len; k++) out[0]->i[k] = a->ints[k];
        return XF_OK;
    }
    return xo_fail(im, XF_ERR_UNIMPLEMENTED, "needs a 'value', 'value_float(s)' or 'value_int(s)' attribute");
}

OP(ConstantOfShape) {
    UNUSED_ARGS;
    int64_t shape[XO_MAX_RANK];
    int nd;
    XO_CHECK(const_ints(im, in[0], "input", shape, XO_MAX_RANK, &nd));
    const Onnx__AttributeProto* a = xo_attr(n, "value");
    xo_val_t value = {.name = out[0]->name};
    if (a && a->t) {
        XO_CHECK(xo_parse_tensor(im, a->t, &value));
        if (value.n != 1) {
            val_free(&value);
            return xo_fail(im, XF_ERR_INVALID_ARGUMENT, "'value' must hold one element");
        }
    }
    int ety = a && a->t ? value.ety : XO_FLOAT;
    double x = a && a->t ? xo_get(&value, 0) : 0.0;
    val_free(&value);
    XO_CHECK(xo_const_new(im, out[0], ety, nd, shape));
    for (int64_t k = 0; k < out[0]->n; k++) xo_set(out[0], k, x);
    return XF_OK;
}

OP(Range) {
    UNUSED_ARGS;
    double s, l, d;
    if (nin < 3 || !scalar_const(in[0], &s) || !scalar_const(in[1], &l) || !scalar_const(in[2], &d) || d == 0)
        return xo_fail(im, XF_ERR_UNIMPLEMENTED, "needs scalar constant start, limit and a non-zero delta");
    double cnt = ceil((l - s) / d);
    if (!(cnt <= (double)((int64_t)1 << 40))) return xo_fail(im, XF_ERR_OUT_OF_RANGE, "a range of %g elements", cnt);
    int64_t len = cnt > 0 ? (int64_t)cnt : 0;
    XO_CHECK(xo_const_new(im, out[0], in[0]->ety, 1, &len));
    for (int64_t k = 0; k < len; k++) xo_set(out[0], k, s + (double)k * d);
    return XF_OK;
}

OP(Reshape) {
    UNUSED_ARGS;
    int64_t shape[XO_MAX_RANK];
    int nd;
    if (!in[0]) return xo_fail(im, XF_ERR_INVALID_ARGUMENT, "needs an input");
    if (im->opset < 5 || nin < 2) {
        if (!attr_ints(n, "shape", shape, XO_MAX_RANK, &nd))
            return xo_fail(im, XF_ERR_INVALID_ARGUMENT, "needs a shape");
    } else {
        XO_CHECK(const_ints(im, in[1], "shape", shape, XO_MAX_RANK, &nd));
    }
    bool allowzero = xo_attr_int(n, "allowzero", 0) != 0;
    int infer = -1;
    int64_t known = 1;
    for (int d = 0; d < nd; d++) {
        if (shape[d] == 0 && !allowzero) {
            if (d >= in[0]->nd) return xo_fail(im, XF_ERR_INVALID_ARGUMENT, "shape copies dim %d of a rank-%d input",
                                               d, in[0]->nd);
            shape[d] = in[0]->shape[d];
        }
        if (shape[d] == -1) {
            if (infer >= 0) return xo_fail(im, XF_ERR_INVALID_ARGUMENT, "shape has two -1 entries");
            infer = d;
        } else if (shape[d] < 0) {
            return xo_fail(im, XF_ERR_INVALID_ARGUMENT, "shape has a negative entry %lld", (long long)shape[d]);
        } else {
            known *= shape[d];
        }
    }
    if (infer >= 0) {
        if (known == 0 || in[0]->n % known)
            return xo_fail(im, XF_ERR_INVALID_ARGUMENT, "%lld elements do not reshape to the requested shape",
                           (long long)in[0]->n);
        shape[infer] = in[0]->n / known;
    }
    return reshape_to(im, in[0], nd, shape, out[0]);
}

OP(Flatten) {
    UNUSED_ARGS;
    if (!in[0]) return xo_fail(im, XF_ERR_INVALID_ARGUMENT, "needs an input");
    int64_t axis = xo_attr_int(n, "axis", 1);
    if (axis < 0) axis += in[0]->nd;
    if (axis < 0 || axis > in[0]->nd) return xo_fail(im, XF_ERR_INVALID_ARGUMENT, "axis out of range");
    int64_t shape[2] = {prod((int)axis, in[0]->shape), 1};
    shape[1] = shape[0] ? in[0]->n / shape[0] : 0;
    return reshape_to(im, in[0], 2, shape, out[0]);
}

// Squeeze and Unsqueeze only add or drop unit dims: views, whatever the strides.
static xf_status_t unit_dims(xo_imp_t* im, xo_val_t* x, int nd, const int64_t* shape, const bool* from_input,
                             xo_val_t* out) {
    int64_t st[XO_MAX_RANK], src[XO_MAX_RANK], off;
    src_strides(x, src, &off);
    int j = 0;
    for (int d = 0; d < nd; d++) st[d] = from_input[d] ? src[j++] : 0;
    XO_CHECK(view_of(im, x, nd, shape, st, off, out));
    out->scale_of = x->scale_of;
    out->scale = x->scale;
    return XF_OK;
}

static xf_status_t axes_of(xo_imp_t* im, const Onnx__NodeProto* n, xo_val_t** in, int nin, int attr_until,
                           int64_t* axes, int* naxes, bool* present) {
    *present = true;
    if (im->opset < attr_until) {
        if (!attr_ints(n, "axes", axes, XO_MAX_RANK, naxes)) *present = false;
        return XF_OK;
    }
    if (nin < 2 || !in[1]) {
        *present = false;
        *naxes = 0;
        return XF_OK;
    }
    return const_ints(im, in[1], "axes", axes, XO_MAX_RANK, naxes);
}

OP(Squeeze) {
    UNUSED_ARGS;
    if (!in[0]) return xo_fail(im, XF_ERR_INVALID_ARGUMENT, "needs an input");
    int64_t axes[XO_MAX_RANK];
    int na;
    bool present;
    XO_CHECK(axes_of(im, n, in, nin, 13, axes, &na, &present));
    bool drop[XO_MAX_RANK] = {false};
    for (int k = 0; k < na; k++) {
        int a;
        XO_CHECK(norm_axis(im, axes[k], in[0]->nd, "axis", &a));
        if (in[0]->shape[a] != 1) return xo_fail(im, XF_ERR_INVALID_ARGUMENT, "axis %d has size %lld, not 1", a,
                                                 (long long)in[0]->shape[a]);
        drop[a] = true;
    }
    if (!present)
        for (int d = 0; d < in[0]->nd; d++) drop[d] = in[0]->shape[d] == 1;
    int64_t shape[XO_MAX_RANK], st[XO_MAX_RANK], src[XO_MAX_RANK], off;
    src_strides(in[0], src, &off);
    int nd = 0;
    for (int d = 0; d < in[0]->nd; d++) {
        if (drop[d]) continue;
        shape[nd] = in[0]->shape[d];
        st[nd++] = src[d];
    }
    XO_CHECK(view_of(im, in[0], nd, shape, st, off, out[0]));
    out[0]->scale_of = in[0]->scale_of;
    out[0]->scale = in[0]->scale;
    return XF_OK;
}

OP(Unsqueeze) {
    UNUSED_ARGS;
    if (!in[0]) return xo_fail(im, XF_ERR_INVALID_ARGUMENT, "needs an input");
    int64_t axes[XO_MAX_RANK];
    int na;
    bool present;
    XO_CHECK(axes_of(im, n, in, nin, 13, axes, &na, &present));
    int nd = in[0]->nd + na;
    if (!present || nd > XO_MAX_RANK) return xo_fail(im, XF_ERR_INVALID_ARGUMENT, "needs axes (rank at most %d)",
                                                     XO_MAX_RANK);
    bool unit[XO_MAX_RANK] = {false}, from[XO_MAX_RANK];
    for (int k = 0; k < na; k++) {
        int a;
        XO_CHECK(norm_axis(im, axes[k], nd, "axis", &a));
        if (unit[a]) return xo_fail(im, XF_ERR_INVALID_ARGUMENT, "axis %d given twice", a);
        unit[a] = true;
    }
    int64_t shape[XO_MAX_RANK];
    for (int d = 0, j = 0; d < nd; d++) {
        from[d] = !unit[d];
        shape[d] = unit[d] ? 1 : in[0]->shape[j++];
    }
    return unit_dims(im, in[0], nd, shape, from, out[0]);
}

OP(Transpose) {
    UNUSED_ARGS;
    xo_val_t* x = in[0];
    if (!x) return xo_fail(im, XF_ERR_INVALID_ARGUMENT, "needs an input");
    int64_t perm[XO_MAX_RANK];
    int np;
    if (!attr_ints(n, "perm", perm, XO_MAX_RANK, &np)) {
        np = x->nd;
        for (int d = 0; d < np; d++) perm[d] = np - 1 - d;
    }
    if (np != x->nd) return xo_fail(im, XF_ERR_INVALID_ARGUMENT, "perm has %d entries for rank %d", np, x->nd);
    int64_t shape[XO_MAX_RANK], st[XO_MAX_RANK], src[XO_MAX_RANK], off;
    unsigned seen = 0;
    src_strides(x, src, &off);
    for (int d = 0; d < np; d++) {
        if (perm[d] < 0 || perm[d] >= np || (seen >> perm[d] & 1))
            return xo_fail(im, XF_ERR_INVALID_ARGUMENT, "perm is not a permutation");
        seen |= 1u << perm[d];
        shape[d] = x->shape[perm[d]];
        st[d] = src[perm[d]];
    }
    XO_CHECK(view_of(im, x, np, shape, st, off, out[0]));
    out[0]->scale_of = x->scale_of;
    out[0]->scale = x->scale;
    return XF_OK;
}

// Strided views of one axis (Slice with a positive step, Gather of an arithmetic run, Split).
static xf_status_t axis_view(xo_imp_t* im, xo_val_t* x, int axis, int64_t start, int64_t len, int64_t step,
                             bool drop_axis, xo_val_t* out) {
    int64_t shape[XO_MAX_RANK], st[XO_MAX_RANK], src[XO_MAX_RANK], off;
    src_strides(x, src, &off);
    off += start * src[axis];
    int nd = 0;
    for (int d = 0; d < x->nd; d++) {
        if (d == axis && drop_axis) continue;
        shape[nd] = d == axis ? len : x->shape[d];
        st[nd++] = d == axis ? src[d] * step : src[d];
    }
    XO_CHECK(view_of(im, x, nd, shape, st, off, out));
    out->scale_of = NULL;
    if (x->scale_of) {
        // Views of a pending scale: apply it (the view is of the scaled value).
        xo_val_t tmp = *x;
        XO_CHECK(xo_densify(im, &tmp));
        return axis_view(im, &tmp, axis, start, len, step, drop_axis, out);
    }
    return XF_OK;
}

// Gathers |count| indices along |axis| of device value |x| (i32 device tensor |idx| [count]); result with
// |rnd| dims of |rshape|.
static xf_status_t dev_gather(xo_imp_t* im, xo_val_t* x, int axis, xf_tensor_t* idx, int rnd, const int64_t* rshape,
                              xo_val_t* out) {
    XO_CHECK(need_float(im, x));
    int64_t pre = prod(axis, x->shape), post = prod(x->nd - axis - 1, x->shape + axis + 1);
    xo_val_t r = {.name = x->name};
    XO_CHECK(reshape_to(im, x, 3, (int64_t[]){pre, x->shape[axis], post}, &r));
    xf_tensor_t *t, *g;
    XO_CHECK(xo_tensor_of(im, &r, &t));
    XO_CHECK(xf_gather(im->g, t, 1, idx, &g));
    return xo_result(im, out, g, rnd, rshape);
}

OP(Gather) {
    UNUSED_ARGS;
    xo_val_t *x = IN(0), *ix = IN(1);
    if (!x || !ix) return xo_fail(im, XF_ERR_INVALID_ARGUMENT, "needs data and indices");
    int axis;
    XO_CHECK(norm_axis(im, xo_attr_int(n, "axis", 0), x->nd, "axis", &axis));
    const int64_t dim = x->shape[axis];
    int rnd = x->nd - 1 + ix->nd;
    if (rnd > XO_MAX_RANK) return xo_fail(im, XF_ERR_UNIMPLEMENTED, "result rank %d is over %d", rnd, XO_MAX_RANK);
    int64_t rshape[XO_MAX_RANK];
    for (int d = 0, j = 0; d < x->nd; d++) {
        if (d == axis) {
            for (int k = 0; k < ix->nd; k++) rshape[j++] = ix->shape[k];
        } else {
            rshape[j++] = x->shape[d];
        }
    }
    // Indices must be known at load time: negative ones are resolved then.
    if (!ix->is_const) XO_CHECK(need_const(im, ix, "indices"));
    int64_t* idx = xf_malloc((size_t)(ix->n ? ix->n : 1) * sizeof(int64_t));
    if (!idx) return xo_fail(im, XF_ERR_OUT_OF_MEMORY, "out of host memory");
    for (int64_t k = 0; k < ix->n; k++) {
        int64_t v = xo_to_int(xo_get(ix, k));
        if (v < 0) v += dim;
        if (v < 0 || v >= dim) {
            xf_free(idx);
            return xo_fail(im, XF_ERR_OUT_OF_RANGE, "index %lld is out of range for a dim of %lld",
                           (long long)xo_get(ix, k), (long long)dim);
        }
        idx[k] = v;
    }
    xf_status_t st;
    int64_t step = ix->n > 1 ? idx[1] - idx[0] : 1;
    bool run = ix->n >= 1 && step >= 1;
    for (int64_t k = 1; run && k < ix->n; k++) run = idx[k] - idx[k - 1] == step;
    if (run && (x->is_const || ix->nd <= 1)) {
        // A scalar index drops the axis; a run of indices is a strided view.
        xo_val_t v = {.name = out[0]->name};
        st = axis_view(im, x, axis, idx[0], ix->n, step, ix->nd == 0, &v);
        xf_free(idx);
        if (st != XF_OK) return st;
        v.uses = out[0]->uses;
        v.producer = out[0]->producer;
        v.graph_output = out[0]->graph_output;
        *out[0] = v;
        return XF_OK;
    }
    if (x->is_const) {
        int64_t pre = prod(axis, x->shape), post = prod(x->nd - axis - 1, x->shape + axis + 1);
        st = xo_const_new(im, out[0], x->ety, rnd, rshape);
        for (int64_t p = 0, o = 0; st == XF_OK && p < pre; p++)
            for (int64_t k = 0; k < ix->n; k++)
                for (int64_t q = 0; q < post; q++) xo_set(out[0], o++, xo_get(x, (p * dim + idx[k]) * post + q));
        xf_free(idx);
        return st;
    }
    int32_t* i32 = xf_malloc((size_t)ix->n * sizeof(int32_t));
    if (!i32) {
        xf_free(idx);
        return xo_fail(im, XF_ERR_OUT_OF_MEMORY, "out of host memory");
    }
    for (int64_t k = 0; k < ix->n; k++) i32[k] = (int32_t)idx[k];
    xf_free(idx);
    xf_tensor_t* t;
    char name[300];
    snprintf(name, sizeof name, "onnx%llu:%.200s", (unsigned long long)im->uploads++, ix->name);
    st = xf_model_constant_upload(im->m, name, XF_DTYPE_I32, 1, (int64_t[]){ix->n}, i32, &t);
    xf_free(i32);
    if (st != XF_OK) return st;
    return dev_gather(im, x, axis, t, rnd, rshape, out[0]);
}

// Gathers |count| host indices |idx| along |axis| of a device value (Slice with negative steps, Resize nearest).
static xf_status_t gather_indices(xo_imp_t* im, xo_val_t* x, int axis, const int64_t* idx, int64_t count,
                                  xo_val_t* out) {
    int32_t* i32 = xf_malloc((size_t)(count ? count : 1) * sizeof(int32_t));
    if (!i32) return xo_fail(im, XF_ERR_OUT_OF_MEMORY, "out of host memory");
    for (int64_t k = 0; k < count; k++) i32[k] = (int32_t)idx[k];
    xf_tensor_t* t;
    char name[300];
    snprintf(name, sizeof name, "onnx%llu:%.200s.index", (unsigned long long)im->uploads++, out->name);
    xf_status_t st = xf_model_constant_upload(im->m, name, XF_DTYPE_I32, 1, (int64_t[]){count}, i32, &t);
    xf_free(i32);
    if (st != XF_OK) return st;
    int64_t rshape[XO_MAX_RANK];
    memcpy(rshape, x->shape, sizeof rshape);
    rshape[axis] = count;
    return dev_gather(im, x, axis, t, x->nd, rshape, out);
}

OP(Slice) {
    UNUSED_ARGS;
    xo_val_t* x = IN(0);
    if (!x) return xo_fail(im, XF_ERR_INVALID_ARGUMENT, "needs an input");
    int64_t starts[XO_MAX_RANK], ends[XO_MAX_RANK], axes[XO_MAX_RANK], steps[XO_MAX_RANK];
    int ns, ne, na = -1, nst = -1;
    if (im->opset < 10) {
        if (!attr_ints(n, "starts", starts, XO_MAX_RANK, &ns) || !attr_ints(n, "ends", ends, XO_MAX_RANK, &ne))
            return xo_fail(im, XF_ERR_INVALID_ARGUMENT, "needs starts and ends");
        if (!attr_ints(n, "axes", axes, XO_MAX_RANK, &na)) na = -1;
    } else {
        XO_CHECK(const_ints(im, IN(1), "starts", starts, XO_MAX_RANK, &ns));
        XO_CHECK(const_ints(im, IN(2), "ends", ends, XO_MAX_RANK, &ne));
        if (IN(3)) XO_CHECK(const_ints(im, IN(3), "axes", axes, XO_MAX_RANK, &na));
        if (IN(4)) XO_CHECK(const_ints(im, IN(4), "steps", steps, XO_MAX_RANK, &nst));
    }
    if (ne != ns || (na >= 0 && na != ns) || (nst >= 0 && nst != ns))
        return xo_fail(im, XF_ERR_INVALID_ARGUMENT, "starts, ends, axes and steps differ in length");
    xo_val_t cur = *x, next;
    bool owned = false;
    xf_status_t st = XF_OK;
    for (int k = 0; k < ns && st == XF_OK; k++) {
        int axis;
        st = norm_axis(im, na >= 0 ? axes[k] : k, x->nd, "axis", &axis);
        if (st != XF_OK) break;
        int64_t dim = x->shape[axis], step = nst >= 0 ? steps[k] : 1, s = starts[k], e = ends[k];
        if (step == 0) {
            st = xo_fail(im, XF_ERR_INVALID_ARGUMENT, "step 0");
            break;
        }
        if (s < 0) s += dim;
        if (e < 0) e += dim;
        if (step > 0) {
            s = s < 0 ? 0 : s > dim ? dim : s;
            e = e < 0 ? 0 : e > dim ? dim : e;
        } else {
            s = s < 0 ? -1 : s > dim - 1 ? dim - 1 : s;
            e = e < -1 ? -1 : e > dim - 1 ? dim - 1 : e;
        }
        int64_t len = step > 0 ? (e > s ? (e - s + step - 1) / step : 0) : (s > e ? (s - e + (-step) - 1) / -step : 0);
        if (len == 0 && !cur.is_const) {
            st = xo_fail(im, XF_ERR_UNIMPLEMENTED, "an empty slice of axis %d of a device value", axis);
            break;
        }
        next = (xo_val_t){.name = out[0]->name};
        if (step > 0 || cur.is_const) {
            if (cur.is_const && step < 0) {
                int64_t sh[XO_MAX_RANK], strd[XO_MAX_RANK];
                memcpy(sh, cur.shape, sizeof sh);
                dense_strides(cur.nd, cur.shape, strd);
                int64_t off = s * strd[axis];
                sh[axis] = len;
                strd[axis] *= step;
                st = host_view(im, &cur, cur.nd, sh, strd, off, &next);
            } else {
                st = axis_view(im, &cur, axis, s, len, step, false, &next);
            }
        } else {
            int64_t* idx = xf_malloc((size_t)len * sizeof(int64_t));
            if (!idx) {
                st = xo_fail(im, XF_ERR_OUT_OF_MEMORY, "out of host memory");
                break;
            }
            for (int64_t j = 0; j < len; j++) idx[j] = s + j * step;
            st = gather_indices(im, &cur, axis, idx, len, &next);
            xf_free(idx);
        }
        if (owned) {
            if (cur.is_const) { xf_free(cur.f); xf_free(cur.i); }
        }
        cur = next;
        owned = cur.is_const;
    }
    if (st != XF_OK) return st;
    if (!owned && x->is_const) {
        // No axis sliced: a copy of the constant.
        return host_eltwise(im, in, 1, x->ety, f_identity, out[0]);
    }
    cur.uses = out[0]->uses;
    cur.producer = out[0]->producer;
    cur.graph_output = out[0]->graph_output;
    cur.name = out[0]->name;
    *out[0] = cur;
    return XF_OK;
}

OP(Split) {
    UNUSED_ARGS;
    xo_val_t* x = IN(0);
    if (!x) return xo_fail(im, XF_ERR_INVALID_ARGUMENT, "needs an input");
    int axis;
    XO_CHECK(norm_axis(im, xo_attr_int(n, "axis", 0), x->nd, "axis", &axis));
    int64_t sizes[64];
    int count = 0;
    if (im->opset < 13) {
        if (!attr_ints(n, "split", sizes, 64, &count)) count = 0;
    } else if (IN(1)) {
        XO_CHECK(const_ints(im, IN(1), "split", sizes, 64, &count));
    }
    if (count == 0) {
        if (nout > 64 || x->shape[axis] % nout)
            return xo_fail(im, XF_ERR_INVALID_ARGUMENT, "dim %lld does not split in %d equal parts",
                           (long long)x->shape[axis], nout);
        count = nout;
        for (int k = 0; k < nout; k++) sizes[k] = x->shape[axis] / nout;
    }
    if (count != nout) return xo_fail(im, XF_ERR_INVALID_ARGUMENT, "%d sizes for %d outputs", count, nout);
    int64_t at = 0;
    for (int k = 0; k < nout; k++) {
        if (sizes[k] <= 0 || at + sizes[k] > x->shape[axis])
            return xo_fail(im, XF_ERR_INVALID_ARGUMENT, "split sizes do not cover dim %lld",
                           (long long)x->shape[axis]);
        if (out[k]) XO_CHECK(axis_view(im, x, axis, at, sizes[k], 1, false, out[k]));
        at += sizes[k];
    }
    if (at != x->shape[axis]) return xo_fail(im, XF_ERR_INVALID_ARGUMENT, "split sizes do not add up to the dim");
    return XF_OK;
}

// ScatterND of constants (Swin's shifted-window masks are built this way, on shapes known at load).
OP(ScatterND) {
    UNUSED_ARGS;
    xo_val_t *x = IN(0), *ix = IN(1), *up = IN(2);
    if (!x || !ix || !up) return xo_fail(im, XF_ERR_INVALID_ARGUMENT, "needs data, indices and updates");
    if (!all_const(in, 3))
        return xo_fail(im, XF_ERR_UNIMPLEMENTED, "runs only on values known at load time (shape arithmetic)");
    const char* red = xo_attr_string(n, "reduction", "none");
    int mode = strcmp(red, "none") == 0 ? 0 : strcmp(red, "add") == 0 ? 1 : strcmp(red, "mul") == 0 ? 2 : -1;
    if (mode < 0) return xo_fail(im, XF_ERR_UNIMPLEMENTED, "reduction '%s'", red);
    if (ix->nd < 1) return xo_fail(im, XF_ERR_INVALID_ARGUMENT, "indices must have a rank");
    const int k = (int)ix->shape[ix->nd - 1];
    if (k < 1 || k > x->nd) return xo_fail(im, XF_ERR_INVALID_ARGUMENT, "index tuples of %d for rank %d", k, x->nd);
    const int64_t tuples = ix->n / k, slice = prod(x->nd - k, x->shape + k);
    if (up->n != tuples * slice) return xo_fail(im, XF_ERR_INVALID_ARGUMENT, "updates do not fit the indices");
    XO_CHECK(host_eltwise(im, in, 1, x->ety, f_identity, out[0]));
    for (int64_t t = 0; t < tuples; t++) {
        int64_t off = 0;
        for (int d = 0; d < k; d++) {
            int64_t i = xo_to_int(xo_get(ix, t * k + d));
            if (i < 0) i += x->shape[d];
            if (i < 0 || i >= x->shape[d])
                return xo_fail(im, XF_ERR_OUT_OF_RANGE, "index %lld out of range", (long long)i);
            off = off * x->shape[d] + i;
        }
        for (int64_t j = 0; j < slice; j++) {
            double a = xo_get(out[0], off * slice + j), b = xo_get(up, t * slice + j);
            xo_set(out[0], off * slice + j, mode == 0 ? b : mode == 1 ? a + b : a * b);
        }
    }
    return XF_OK;
}

OP(Concat) {
    UNUSED_ARGS;
    if (nin < 1 || !in[0]) return xo_fail(im, XF_ERR_INVALID_ARGUMENT, "needs inputs");
    const int nd = in[0]->nd;
    int axis;
    XO_CHECK(norm_axis(im, xo_attr_int(n, "axis", 0), nd, "axis", &axis));
    int64_t shape[XO_MAX_RANK];
    memcpy(shape, in[0]->shape, sizeof shape);
    shape[axis] = 0;
    for (int k = 0; k < nin; k++) {
        if (!in[k] || in[k]->nd != nd) return xo_fail(im, XF_ERR_INVALID_ARGUMENT, "inputs differ in rank");
        for (int d = 0; d < nd; d++)
            if (d != axis && in[k]->shape[d] != in[0]->shape[d])
                return xo_fail(im, XF_ERR_INVALID_ARGUMENT, "input %d differs in dim %d", k, d);
        shape[axis] += in[k]->shape[axis];
    }
    int64_t pre = prod(axis, shape), post = prod(nd - axis - 1, shape + axis + 1);
    if (all_const(in, nin)) {
        XO_CHECK(xo_const_new(im, out[0], in[0]->ety, nd, shape));
        int64_t o = 0;
        for (int64_t p = 0; p < pre; p++)
            for (int k = 0; k < nin; k++)
                for (int64_t q = 0; q < in[k]->shape[axis] * post; q++)
                    xo_set(out[0], o++, xo_get(in[k], p * in[k]->shape[axis] * post + q));
        return XF_OK;
    }
    // Device: each input seen as [pre, len, post] (exact views when the rank fits), joined 4 at a time.
    bool exact = nd >= 1 && nd <= XF_MAX_DIMS;
    xf_tensor_t* acc = NULL;
    for (int k = 0; k < nin;) {
        xf_tensor_t* parts[4];
        int np = 0;
        if (acc) parts[np++] = acc;
        while (np < 4 && k < nin) {
            XO_CHECK(need_float(im, in[k]));
            xo_val_t r = *in[k];
            if (!exact) {
                r = (xo_val_t){.name = in[k]->name};
                XO_CHECK(reshape_to(im, in[k], 3, (int64_t[]){pre, in[k]->shape[axis], post}, &r));
            }
            XO_CHECK(xo_tensor_of(im, &r, &parts[np++]));
            k++;
        }
        XO_CHECK(xf_concat(im->g, parts, np, exact ? axis : 1, &acc));
    }
    return xo_result(im, out[0], acc, nd, shape);
}

OP(Expand) {
    UNUSED_ARGS;
    xo_val_t* x = IN(0);
    int64_t want[XO_MAX_RANK], shape[XO_MAX_RANK];
    int nw, nd;
    if (!x) return xo_fail(im, XF_ERR_INVALID_ARGUMENT, "needs an input");
    XO_CHECK(const_ints(im, IN(1), "shape", want, XO_MAX_RANK, &nw));
    XO_CHECK(broadcast(im, x->nd, x->shape, nw, want, &nd, shape));
    if (x->is_const) {
        int64_t st[XO_MAX_RANK] = {0};
        int64_t s = 1;
        for (int d = x->nd - 1; d >= 0; d--) {
            st[d + nd - x->nd] = x->shape[d] == 1 ? 0 : s;
            s *= x->shape[d];
        }
        return host_view(im, x, nd, shape, st, 0, out[0]);
    }
    if (nd == x->nd && memcmp(shape, x->shape, sizeof(int64_t) * (size_t)nd) == 0)
        return op_Identity(im, n, in, 1, out, 1);
    // Broadcast against zeros that are 1 where x is full.
    xo_val_t zeros = {.name = out[0]->name};
    int64_t zs[XO_MAX_RANK];
    for (int d = 0; d < nd; d++) {
        int xd = d - (nd - x->nd);
        zs[d] = xd >= 0 && x->shape[xd] == shape[d] ? 1 : shape[d];
    }
    XO_CHECK(xo_const_new(im, &zeros, XO_FLOAT, nd, zs));
    xf_status_t st = dev_binary(im, x, &zeros, xf_add, out[0]);
    val_free(&zeros);
    return st;
}

OP(Pad) {
    UNUSED_ARGS;
    xo_val_t* x = IN(0);
    if (!x) return xo_fail(im, XF_ERR_INVALID_ARGUMENT, "needs an input");
    const char* mode = xo_attr_string(n, "mode", "constant");
    if (strcmp(mode, "constant") != 0)
        return xo_fail(im, XF_ERR_UNIMPLEMENTED, "mode '%s' (only 'constant' is supported)", mode);
    int64_t pads[2 * XO_MAX_RANK];
    int np;
    double value = 0;
    if (im->opset < 11) {
        if (!attr_ints(n, "pads", pads, 2 * XO_MAX_RANK, &np)) return xo_fail(im, XF_ERR_INVALID_ARGUMENT, "no pads");
        value = xo_attr_float(n, "value", 0.0f);
    } else {
        XO_CHECK(const_ints(im, IN(1), "pads", pads, 2 * XO_MAX_RANK, &np));
        if (IN(2) && !scalar_const(IN(2), &value)) return need_const(im, IN(2), "constant_value");
        if (IN(3)) return xo_fail(im, XF_ERR_UNIMPLEMENTED, "the 'axes' input");
    }
    const int nd = x->nd;
    if (np != 2 * nd) return xo_fail(im, XF_ERR_INVALID_ARGUMENT, "%d pads for rank %d", np, nd);
    // Negative pads crop first.
    xo_val_t cur = *x;
    int64_t before[XO_MAX_RANK], after[XO_MAX_RANK], shape[XO_MAX_RANK];
    bool any = false;
    for (int d = 0; d < nd; d++) {
        int64_t b = pads[d], a = pads[d + nd];
        if (b < 0 || a < 0) {
            int64_t s = b < 0 ? -b : 0, len = cur.shape[d] - s - (a < 0 ? -a : 0);
            if (len <= 0) return xo_fail(im, XF_ERR_INVALID_ARGUMENT, "pads crop axis %d to nothing", d);
            xo_val_t next = {.name = out[0]->name};
            XO_CHECK(axis_view(im, &cur, d, s, len, 1, false, &next));
            cur = next;
        }
        before[d] = b > 0 ? b : 0;
        after[d] = a > 0 ? a : 0;
        any = any || before[d] || after[d];
        shape[d] = cur.shape[d] + before[d] + after[d];
    }
    if (cur.is_const) {
        XO_CHECK(xo_const_new(im, out[0], cur.ety, nd, shape));
        int64_t idx[XO_MAX_RANK] = {0};
        for (int64_t o = 0; o < out[0]->n; o++) {
            int64_t s = 0;
            bool inside = true;
            for (int d = 0; d < nd; d++) {
                int64_t i = idx[d] - before[d];
                inside = inside && i >= 0 && i < cur.shape[d];
                s = s * cur.shape[d] + i;
            }
            xo_set(out[0], o, inside ? xo_get(&cur, s) : value);
            next_index(nd, shape, idx);
        }
        return XF_OK;
    }
    if (!any) {
        xo_val_t* c[1] = {&cur};
        return op_Identity(im, n, c, 1, out, 1);
    }
    XO_CHECK(need_float(im, &cur));
    if (nd > XF_MAX_DIMS) return xo_fail(im, XF_ERR_UNIMPLEMENTED, "padding a rank-%d tensor", nd);
    xf_tensor_t *t, *r;
    XO_CHECK(xo_tensor_of(im, &cur, &t));
    XO_CHECK(xf_pad(im->g, t, before, after, (float)value, &r));
    return xo_result(im, out[0], r, nd, shape);
}

//===----------------------------------------------------------------------===//
// Reductions, normalization, softmax
//===----------------------------------------------------------------------===//

typedef xf_status_t (*xf_reduce_fn)(xf_graph_t*, xf_tensor_t*, int, bool, xf_tensor_t**);

static xf_status_t reduce(xo_imp_t* im, const Onnx__NodeProto* n, xo_val_t** in, int nin, xo_val_t* out,
                          xf_reduce_fn fn, int axes_input_from, int kind) {
    xo_val_t* x = IN(0);
    if (!x) return xo_fail(im, XF_ERR_INVALID_ARGUMENT, "needs an input");
    int64_t axes[XO_MAX_RANK];
    int na = 0;
    bool present;
    XO_CHECK(axes_of(im, n, in, nin, axes_input_from, axes, &na, &present));
    bool keep = xo_attr_int(n, "keepdims", 1) != 0;
    if (!present || na == 0) {
        if (xo_attr_int(n, "noop_with_empty_axes", 0)) return op_Identity(im, n, in, 1, &out, 1);
        na = x->nd;
        for (int d = 0; d < na; d++) axes[d] = d;
    }
    bool red[XO_MAX_RANK] = {false};
    for (int k = 0; k < na; k++) {
        int a;
        XO_CHECK(norm_axis(im, axes[k], x->nd, "axis", &a));
        red[a] = true;
    }
    int64_t shape[XO_MAX_RANK], kshape[XO_MAX_RANK];
    int nd = 0;
    for (int d = 0; d < x->nd; d++) {
        kshape[d] = red[d] ? 1 : x->shape[d];
        if (!red[d] || keep) shape[nd++] = kshape[d];
    }
    if (x->is_const) {
        xo_val_t r = {.name = out->name};
        XO_CHECK(xo_const_new(im, &r, x->ety, x->nd, kshape));
        for (int64_t o = 0; o < r.n; o++) xo_set(&r, o, kind == 0 ? 0 : kind == 2 ? -INFINITY : INFINITY);
        int64_t idx[XO_MAX_RANK] = {0};
        int64_t cnt = x->n / (r.n ? r.n : 1);
        for (int64_t k = 0; k < x->n; k++) {
            int64_t o = 0;
            for (int d = 0; d < x->nd; d++) o = o * kshape[d] + (red[d] ? 0 : idx[d]);
            double a = xo_get(&r, o), b = xo_get(x, k);
            xo_set(&r, o, kind == 0 || kind == 1 ? a + b : kind == 2 ? (b > a ? b : a) : (b < a ? b : a));
            next_index(x->nd, x->shape, idx);
        }
        if (kind == 1)
            for (int64_t o = 0; o < r.n; o++) xo_set(&r, o, xo_get(&r, o) / (double)cnt);
        xf_status_t st = reshape_to(im, &r, nd, shape, out);
        val_free(&r);
        return st;
    }
    XO_CHECK(need_float(im, x));
    // Reduce runs of reduced axes one at a time over a [pre, len, post] view.
    xo_val_t cur = *x;
    int64_t cshape[XO_MAX_RANK];
    memcpy(cshape, x->shape, sizeof cshape);
    for (int d = x->nd - 1; d >= 0; d--) {
        if (!red[d]) continue;
        int64_t pre = prod(d, cshape), post = prod(x->nd - d - 1, cshape + d + 1);
        xo_val_t r = {.name = out->name};
        XO_CHECK(reshape_to(im, &cur, 3, (int64_t[]){pre, cshape[d], post}, &r));
        xf_tensor_t *t, *res;
        XO_CHECK(xo_tensor_of(im, &r, &t));
        XO_CHECK(fn(im->g, t, 1, true, &res));
        cshape[d] = 1;
        cur = (xo_val_t){.name = out->name};
        XO_CHECK(xo_result(im, &cur, res, x->nd, cshape));
    }
    XO_CHECK(reshape_to(im, &cur, nd, shape, out));
    return XF_OK;
}

OP(ReduceMean) { UNUSED_ARGS; return reduce(im, n, in, nin, out[0], xf_mean, 18, 1); }
OP(ReduceSum) { UNUSED_ARGS; return reduce(im, n, in, nin, out[0], xf_sum, 13, 0); }
OP(ReduceMax) { UNUSED_ARGS; return reduce(im, n, in, nin, out[0], xf_max, 18, 2); }
OP(ReduceMin) { UNUSED_ARGS; return reduce(im, n, in, nin, out[0], xf_min, 18, 3); }

OP(GlobalAveragePool) {
    UNUSED_ARGS;
    xo_val_t* x = IN(0);
    if (!x || x->nd < 3) return xo_fail(im, XF_ERR_INVALID_ARGUMENT, "needs an [N, C, ...] input");
    int64_t axes[XO_MAX_RANK];
    for (int d = 2; d < x->nd; d++) axes[d - 2] = d;
    xo_val_t ax = {.name = "axes"};
    int64_t na = x->nd - 2;
    XO_CHECK(xo_const_new(im, &ax, XO_INT64, 1, &na));
    memcpy(ax.i, axes, sizeof(int64_t) * (size_t)na);
    xo_val_t* args[2] = {x, &ax};
    int64_t saved = im->opset;
    im->opset = 18;  // axes as an input
    xf_status_t st = reduce(im, n, args, 2, out[0], xf_mean, 18, 1);
    im->opset = saved;
    val_free(&ax);
    return st;
}

// Softmax over |axis| to the end (opset < 13 flattens there) or over |axis| alone.
OP(Softmax) {
    UNUSED_ARGS;
    xo_val_t* x = IN(0);
    if (!x) return xo_fail(im, XF_ERR_INVALID_ARGUMENT, "needs an input");
    XO_CHECK(need_float(im, x));
    int axis;
    XO_CHECK(norm_axis(im, xo_attr_int(n, "axis", im->opset < 13 ? 1 : -1), x->nd, "axis", &axis));
    xf_tensor_t *t, *r;
    float scale = 1.0f;
    xo_val_t cur = *x;
    if (cur.scale_of) {
        scale = cur.scale;
        cur = *cur.scale_of;
    }
    if (cur.is_const) XO_CHECK(need_const(im, &cur, "x"));
    int nd = x->nd;
    int64_t shape[XO_MAX_RANK];
    memcpy(shape, x->shape, sizeof shape);
    if (im->opset < 13 || axis == nd - 1) {
        int64_t pre = prod(axis, shape), len = prod(nd - axis, shape + axis);
        xo_val_t r2 = {.name = x->name};
        if (nd <= XF_MAX_DIMS && axis == nd - 1) r2 = cur;
        else XO_CHECK(reshape_to(im, &cur, 2, (int64_t[]){pre, len}, &r2));
        XO_CHECK(xo_tensor_of(im, &r2, &t));
        XO_CHECK(xf_softmax(im->g, t, scale, NULL, &r));
        return xo_result(im, out[0], r, nd, shape);
    }
    // An inner axis: move it last, softmax, move it back.
    int64_t pre = prod(axis, shape), len = shape[axis], post = prod(nd - axis - 1, shape + axis + 1);
    xo_val_t r3 = {.name = x->name};
    XO_CHECK(reshape_to(im, &cur, 3, (int64_t[]){pre, len, post}, &r3));
    xf_tensor_t *v, *back;
    XO_CHECK(xo_tensor_of(im, &r3, &t));
    XO_CHECK(xf_transpose(im->g, t, 1, 2, &v));
    XO_CHECK(xf_softmax(im->g, v, scale, NULL, &r));
    XO_CHECK(xf_transpose(im->g, r, 1, 2, &back));
    XO_CHECK(xf_graph_dense(im->g, back, &back));
    return xo_result(im, out[0], back, nd, shape);
}

// LayerNorm over the dims from |axis| on, with constant scale and bias of those dims.
xf_status_t xo_layernorm(xo_imp_t* im, xo_val_t* x, int axis, xo_val_t* scale, xo_val_t* bias, float eps,
                         xo_val_t* out) {
    XO_CHECK(need_float(im, x));
    int nd = x->nd;
    int64_t shape[XO_MAX_RANK];
    memcpy(shape, x->shape, sizeof shape);
    int64_t pre = prod(axis, shape), len = prod(nd - axis, shape + axis);
    xf_tensor_t *w = NULL, *b = NULL, *t, *r;
    for (int k = 0; k < 2; k++) {
        xo_val_t* p = k ? bias : scale;
        if (!p) continue;
        if (!p->is_const) return xo_fail(im, XF_ERR_UNIMPLEMENTED, "a scale or bias computed on the device");
        if (p->n != len && p->n != 1)
            return xo_fail(im, XF_ERR_UNIMPLEMENTED, "a scale or bias of %lld elements over %lld normalized ones",
                           (long long)p->n, (long long)len);
        xo_val_t full = {.name = p->name};
        XO_CHECK(xo_const_new(im, &full, XO_FLOAT, 1, &len));
        for (int64_t j = 0; j < len; j++) full.f[j] = (float)xo_get(p, p->n == 1 ? 0 : j);
        full.name = p->name;
        xf_status_t st = xo_const_tensor(im, &full, XF_DTYPE_F32, k ? &b : &w);
        val_free(&full);
        XO_CHECK(st);
    }
    xo_val_t r2 = {.name = x->name};
    if (axis == nd - 1 && nd <= XF_MAX_DIMS) r2 = *x;
    else XO_CHECK(reshape_to(im, x, 2, (int64_t[]){pre, len}, &r2));
    XO_CHECK(xo_tensor_of(im, &r2, &t));
    XO_CHECK(xf_layernorm(im->g, t, w, b, eps, &r));
    return xo_result(im, out, r, nd, shape);
}

OP(LayerNormalization) {
    UNUSED_ARGS;
    xo_val_t* x = IN(0);
    if (!x) return xo_fail(im, XF_ERR_INVALID_ARGUMENT, "needs an input");
    for (int k = 1; k < nout; k++)
        if (out[k] && out[k]->uses)
            return xo_fail(im, XF_ERR_UNIMPLEMENTED, "the Mean and InvStdDev outputs");
    if (xo_attr_int(n, "stash_type", 1) != 1)
        return xo_fail(im, XF_ERR_UNIMPLEMENTED, "stash_type other than float32");
    int axis;
    XO_CHECK(norm_axis(im, xo_attr_int(n, "axis", -1), x->nd, "axis", &axis));
    return xo_layernorm(im, x, axis, IN(1), IN(2), xo_attr_float(n, "epsilon", 1e-5f), out[0]);
}

//===----------------------------------------------------------------------===//
// Matrix products and convolution
//===----------------------------------------------------------------------===//

// Uploads constant [K, N] |b| (|transposed|: [N, K]) as a linear weight [N, K] (the model's weight storage).
static xf_status_t linear_weight(xo_imp_t* im, xo_val_t* b, bool transposed, float alpha, xf_tensor_t** out) {
    const int64_t k = transposed ? b->shape[1] : b->shape[0], nn = transposed ? b->shape[0] : b->shape[1];
    float* w = xf_malloc((size_t)(nn * k > 0 ? nn * k : 1) * sizeof(float));
    if (!w) return xo_fail(im, XF_ERR_OUT_OF_MEMORY, "out of host memory for weight '%.200s'", b->name);
    for (int64_t i = 0; i < nn; i++)
        for (int64_t j = 0; j < k; j++)
            w[i * k + j] = alpha * (float)xo_get(b, transposed ? i * k + j : j * nn + i);
    char name[300];
    snprintf(name, sizeof name, "%.250s%s.weight", b->name, transposed ? "" : ".T");
    xf_status_t st = xf_model_weight_upload(im->m, name, 2, (int64_t[]){nn, k}, w, out);
    xf_free(w);
    return st;
}

// |a| (device, [..., M, K]) times a constant 2-D weight, with optional bias [N], activation and residual.
xf_status_t xo_linear(xo_imp_t* im, xo_val_t* a, xo_val_t* b, bool b_transposed, float alpha, xo_val_t* bias,
                      float beta, xf_activation_t act, xo_val_t* residual, xo_val_t* out) {
    XO_CHECK(need_float(im, a));
    const int64_t k = b_transposed ? b->shape[1] : b->shape[0], nn = b_transposed ? b->shape[0] : b->shape[1];
    if (a->nd < 1 || a->shape[a->nd - 1] != k)
        return xo_fail(im, XF_ERR_INVALID_ARGUMENT, "inner dims differ (%lld vs %lld)",
                       (long long)(a->nd ? a->shape[a->nd - 1] : 0), (long long)k);
    float pending = 1.0f;
    xo_val_t src = *a;
    if (src.scale_of) {
        pending = src.scale;
        src = *src.scale_of;
    }
    xf_tensor_t *w, *bt = NULL, *rt = NULL, *x, *r;
    if (!b->up_f32 || alpha * pending != 1.0f || !b_transposed) {
        XO_CHECK(linear_weight(im, b, b_transposed, alpha * pending, &w));
    } else {
        w = b->up_f32;
    }
    if (bias) {
        xo_val_t bb = {.name = bias->name};
        XO_CHECK(xo_const_new(im, &bb, XO_FLOAT, 1, (int64_t[]){nn}));
        for (int64_t j = 0; j < nn; j++) bb.f[j] = beta * (float)xo_get(bias, bias->n == 1 ? 0 : j);
        xf_status_t st = xo_const_tensor(im, &bb, XF_DTYPE_F32, &bt);
        val_free(&bb);
        XO_CHECK(st);
    }
    int nd = a->nd;
    int64_t shape[XO_MAX_RANK];
    memcpy(shape, a->shape, sizeof shape);
    shape[nd - 1] = nn;
    xo_val_t r2 = {.name = a->name};
    if (nd >= 2 && nd <= XF_MAX_DIMS) r2 = src;
    else XO_CHECK(reshape_to(im, &src, 2, (int64_t[]){src.n / k, k}, &r2));
    XO_CHECK(xo_tensor_of(im, &r2, &x));
    if (residual) {
        xo_val_t rr = {.name = residual->name};
        if (nd >= 2 && nd <= XF_MAX_DIMS) rr = *residual;
        else XO_CHECK(reshape_to(im, residual, 2, (int64_t[]){residual->n / nn, nn}, &rr));
        XO_CHECK(xo_tensor_of(im, &rr, &rt));
    }
    xf_matmul_options_t mo = {.transpose_b = true, .bias = bt, .activation = act, .residual = rt};
    XO_CHECK(xf_matmul(im->g, x, w, &mo, &r));
    return xo_result(im, out, r, nd, shape);
}

// Batched product of two values, [..., M, K] x [..., K, N].
static xf_status_t batched_matmul(xo_imp_t* im, xo_val_t* a, xo_val_t* b, xo_val_t* out) {
    XO_CHECK(need_float(im, a));
    XO_CHECK(need_float(im, b));
    if (a->nd < 2 || b->nd < 2)
        return xo_fail(im, XF_ERR_UNIMPLEMENTED, "MatMul of 1-D operands on the device");
    if (a->shape[a->nd - 1] != b->shape[b->nd - 2])
        return xo_fail(im, XF_ERR_INVALID_ARGUMENT, "inner dims differ (%lld vs %lld)",
                       (long long)a->shape[a->nd - 1], (long long)b->shape[b->nd - 2]);
    int nbd;
    int64_t batch[XO_MAX_RANK], shape[XO_MAX_RANK], ashape[XO_MAX_RANK];
    XO_CHECK(broadcast(im, a->nd - 2, a->shape, b->nd - 2, b->shape, &nbd, batch));
    int nd = nbd + 2;
    memcpy(shape, batch, sizeof(int64_t) * (size_t)nbd);
    shape[nbd] = a->shape[a->nd - 2];
    shape[nbd + 1] = b->shape[b->nd - 1];
    // A takes the full batch (xf_matmul broadcasts only B's batch dims).
    xo_val_t ea = *a;
    bool a_full = a->nd - 2 == nbd;
    for (int d = 0; a_full && d < nbd; d++) a_full = a->shape[d] == batch[d];
    xo_val_t tmp = {.name = a->name};
    if (!a_full) {
        memcpy(ashape, batch, sizeof(int64_t) * (size_t)nbd);
        ashape[nbd] = a->shape[a->nd - 2];
        ashape[nbd + 1] = a->shape[a->nd - 1];
        int64_t st[XO_MAX_RANK] = {0}, src[XO_MAX_RANK], off;
        if (a->is_const) return xo_fail(im, XF_ERR_UNIMPLEMENTED, "a constant A broadcast over B's batch");
        src_strides(a, src, &off);
        for (int d = 0; d < a->nd; d++) {
            int od = d + nd - a->nd;
            st[od] = a->shape[d] == 1 && od < nbd ? 0 : src[d];
        }
        XO_CHECK(view_of(im, a, nd, ashape, st, off, &tmp));
        XO_CHECK(xo_densify(im, &tmp));
        ea = tmp;
    }
    float scale = 1.0f;
    if (ea.scale_of) {
        scale = ea.scale;
        ea = *ea.scale_of;
    }
    xo_val_t eb = *b;
    if (eb.scale_of) {
        scale *= eb.scale;
        eb = *eb.scale_of;
    }
    xo_val_t* ops[2] = {&ea, &eb};
    xf_tensor_t* t[2];
    int cnd;
    int64_t cshape[XO_MAX_RANK];
    XO_CHECK(joint_tensors(im, ops, 2, nd, shape, 2, t, &cnd, cshape));
    xf_tensor_t* r;
    XO_CHECK(xf_matmul(im->g, t[0], t[1], NULL, &r));
    if (scale != 1.0f) XO_CHECK(xf_scale(im->g, r, scale, 0.0f, &r));
    return xo_result(im, out, r, nd, shape);
}

OP(MatMul) {
    UNUSED_ARGS;
    xo_val_t *a = IN(0), *b = IN(1);
    if (!a || !b) return xo_fail(im, XF_ERR_INVALID_ARGUMENT, "needs two inputs");
    if (!a->is_const && b->is_const && b->nd == 2)
        return xo_linear(im, a, b, false, 1.0f, NULL, 1.0f, XF_ACT_NONE, NULL, out[0]);
    return batched_matmul(im, a, b, out[0]);
}

OP(Gemm) {
    UNUSED_ARGS;
    xo_val_t *a = IN(0), *b = IN(1), *c = IN(2);
    if (!a || !b) return xo_fail(im, XF_ERR_INVALID_ARGUMENT, "needs A and B");
    float alpha = xo_attr_float(n, "alpha", 1.0f), beta = xo_attr_float(n, "beta", 1.0f);
    bool ta = xo_attr_int(n, "transA", 0) != 0, tb = xo_attr_int(n, "transB", 0) != 0;
    if (a->nd != 2 || b->nd != 2) return xo_fail(im, XF_ERR_INVALID_ARGUMENT, "A and B must be 2-D");
    xo_val_t at = *a;
    if (ta) {
        xo_val_t* args[1] = {a};
        at = (xo_val_t){.name = a->name};
        const Onnx__NodeProto* saved = im->node;
        Onnx__NodeProto fake = *n;
        fake.n_attribute = 0;
        XO_CHECK(op_Transpose(im, &fake, args, 1, (xo_val_t*[]){&at}, 1));
        im->node = saved;
    }
    const int64_t nn = tb ? b->shape[0] : b->shape[1];
    bool c_is_bias = !c || (c->is_const && (c->n == nn || c->n == 1) && (c->nd <= 1 || c->shape[0] == 1));
    if (b->is_const && !at.is_const && c_is_bias)
        return xo_linear(im, &at, b, tb, alpha, c, beta, XF_ACT_NONE, NULL, out[0]);
    // General: alpha * A' B' + beta * C with device operands.
    xo_val_t bt = *b;
    if (tb) {
        int64_t st[XO_MAX_RANK], off;
        src_strides(b, st, &off);
        int64_t sh[2] = {b->shape[1], b->shape[0]}, s2[2] = {st[1], st[0]};
        bt = (xo_val_t){.name = b->name};
        XO_CHECK(view_of(im, b, 2, sh, s2, off, &bt));
    }
    xo_val_t prod_v = {.name = out[0]->name};
    XO_CHECK(batched_matmul(im, &at, &bt, &prod_v));
    if (alpha != 1.0f) {
        xf_tensor_t *t, *r;
        XO_CHECK(xo_tensor_of(im, &prod_v, &t));
        XO_CHECK(xf_scale(im->g, t, alpha, 0.0f, &r));
        int64_t shape[XO_MAX_RANK];
        memcpy(shape, prod_v.shape, sizeof shape);
        XO_CHECK(xo_result(im, &prod_v, r, prod_v.nd, shape));
    }
    if (!c) return op_Identity(im, n, (xo_val_t*[]){&prod_v}, 1, out, 1);
    xo_val_t cs = *c;
    if (beta != 1.0f) {
        cs = (xo_val_t){.name = c->name};
        if (c->is_const) {
            XO_CHECK(host_eltwise(im, &c, 1, c->ety, f_identity, &cs));
            for (int64_t k = 0; k < cs.n; k++) xo_set(&cs, k, beta * xo_get(&cs, k));
        } else {
            xf_tensor_t *t, *r;
            XO_CHECK(xo_tensor_of(im, c, &t));
            XO_CHECK(xf_scale(im->g, t, beta, 0.0f, &r));
            XO_CHECK(xo_result(im, &cs, r, c->nd, c->shape));
        }
    }
    xf_status_t st = dev_binary(im, &prod_v, &cs, xf_add, out[0]);
    if (beta != 1.0f && c->is_const) val_free(&cs);
    return st;
}

OP(Conv) {
    UNUSED_ARGS;
    xo_val_t *x = IN(0), *w = IN(1), *b = IN(2);
    if (!x || !w) return xo_fail(im, XF_ERR_INVALID_ARGUMENT, "needs X and W");
    XO_CHECK(need_float(im, x));
    XO_CHECK(need_float(im, w));
    if (b) XO_CHECK(need_float(im, b));
    if (x->is_const) return xo_fail(im, XF_ERR_UNIMPLEMENTED, "a convolution of a constant");
    const int sp = x->nd - 2;
    if ((sp != 1 && sp != 2) || w->nd != x->nd)
        return xo_fail(im, XF_ERR_UNIMPLEMENTED, "%d-D convolutions (1-D and 2-D are supported)", sp);
    int64_t strides[2] = {1, 1}, dil[2] = {1, 1}, pads[4] = {0, 0, 0, 0}, ks[2];
    int cnt;
    int64_t tmp[4];
    if (attr_ints(n, "strides", tmp, 2, &cnt) && cnt == sp) memcpy(strides, tmp, sizeof(int64_t) * (size_t)sp);
    if (attr_ints(n, "dilations", tmp, 2, &cnt) && cnt == sp) memcpy(dil, tmp, sizeof(int64_t) * (size_t)sp);
    for (int d = 0; d < sp; d++) ks[d] = w->shape[2 + d];
    const char* autopad = xo_attr_string(n, "auto_pad", "NOTSET");
    if (strcmp(autopad, "NOTSET") == 0) {
        if (attr_ints(n, "pads", tmp, 4, &cnt)) {
            if (cnt != 2 * sp) return xo_fail(im, XF_ERR_INVALID_ARGUMENT, "%d pads for %d spatial dims", cnt, sp);
            for (int d = 0; d < sp; d++) {
                pads[d] = tmp[d];
                pads[2 + d] = tmp[sp + d];
            }
        }
    } else if (strcmp(autopad, "VALID") != 0) {
        for (int d = 0; d < sp; d++) {
            int64_t in_ = x->shape[2 + d], o = (in_ + strides[d] - 1) / strides[d];
            int64_t total = (o - 1) * strides[d] + (ks[d] - 1) * dil[d] + 1 - in_;
            if (total < 0) total = 0;
            bool lower = strcmp(autopad, "SAME_LOWER") == 0;
            pads[d] = lower ? (total + 1) / 2 : total / 2;
            pads[2 + d] = total - pads[d];
        }
    }
    int64_t group = xo_attr_int(n, "group", 1);
    const int64_t c = x->shape[1], o = w->shape[0];
    if (group < 1 || c % group || o % group || w->shape[1] != c / group)
        return xo_fail(im, XF_ERR_INVALID_ARGUMENT, "W [%lld, %lld, ...] does not fit %lld channels in %lld groups",
                       (long long)o, (long long)w->shape[1], (long long)c, (long long)group);
    // 1-D runs as 2-D with a unit height.
    int64_t xs[4] = {x->shape[0], c, sp == 2 ? x->shape[2] : 1, x->shape[sp == 2 ? 3 : 2]};
    int64_t ws[4] = {o, w->shape[1], sp == 2 ? ks[0] : 1, ks[sp - 1]};
    int64_t p0[2] = {sp == 2 ? pads[0] : 0, pads[sp == 2 ? 1 : 0]}, p1[2] = {sp == 2 ? pads[2] : 0,
                                                                             pads[sp == 2 ? 3 : 2]};
    int s2[2] = {(int)(sp == 2 ? strides[0] : 1), (int)strides[sp - 1]};
    int d2[2] = {(int)(sp == 2 ? dil[0] : 1), (int)dil[sp - 1]};
    xo_val_t xv = {.name = x->name};
    XO_CHECK(reshape_to(im, x, 4, xs, &xv));
    xf_tensor_t *xt, *wt, *bt = NULL, *r;
    XO_CHECK(xo_tensor_of(im, &xv, &xt));
    if (p0[0] != p1[0] || p0[1] != p1[1]) {
        XO_CHECK(xf_pad(im->g, xt, (int64_t[]){0, 0, p0[0], p0[1]}, (int64_t[]){0, 0, p1[0], p1[1]}, 0.0f, &xt));
        p0[0] = p0[1] = 0;
    }
    xo_val_t wv = {.name = w->name};
    XO_CHECK(reshape_to(im, w, 4, ws, &wv));
    wv.name = w->name;
    xf_status_t st = wv.is_const ? xo_const_tensor(im, &wv, XF_DTYPE_F32, &wt) : xo_tensor_of(im, &wv, &wt);
    if (wv.is_const) val_free(&wv);
    XO_CHECK(st);
    if (b) XO_CHECK(xo_tensor_of(im, b, &bt));
    xf_conv2d_params_t p = {.stride = {s2[0], s2[1]}, .padding = {(int)p0[0], (int)p0[1]},
                            .dilation = {d2[0], d2[1]}, .groups = (int)group};
    XO_CHECK(xf_conv2d(im->g, xt, wt, bt, &p, &r));
    int64_t shape[XO_MAX_RANK];
    shape[0] = r->shape[0];
    shape[1] = r->shape[1];
    if (sp == 2) {
        shape[2] = r->shape[2];
        shape[3] = r->shape[3];
    } else {
        shape[2] = r->shape[3];
    }
    return xo_result(im, out[0], r, x->nd, shape);
}

OP(Resize) {
    UNUSED_ARGS;
    xo_val_t* x = IN(0);
    if (!x) return xo_fail(im, XF_ERR_INVALID_ARGUMENT, "needs an input");
    XO_CHECK(need_float(im, x));
    const int nd = x->nd;
    double scales[XO_MAX_RANK];
    int64_t sizes[XO_MAX_RANK];
    bool have_sizes = false;
    xo_val_t *sc = im->opset < 11 ? IN(1) : IN(2), *sz = im->opset < 11 ? NULL : IN(3);
    if (sz && sz->n) {
        int cnt;
        XO_CHECK(const_ints(im, sz, "sizes", sizes, XO_MAX_RANK, &cnt));
        if (cnt != nd) return xo_fail(im, XF_ERR_INVALID_ARGUMENT, "sizes has %d entries for rank %d", cnt, nd);
        for (int d = 0; d < nd; d++) scales[d] = (double)sizes[d] / (double)x->shape[d];
        have_sizes = true;
    } else if (sc && sc->n) {
        XO_CHECK(need_const(im, sc, "scales"));
        if (sc->n != nd) return xo_fail(im, XF_ERR_INVALID_ARGUMENT, "scales has %lld entries", (long long)sc->n);
        for (int d = 0; d < nd; d++) {
            scales[d] = xo_get(sc, d);
            double want = floor((double)x->shape[d] * scales[d]);
            if (!(want >= 0 && want <= (double)(1 << 24)))
                return xo_fail(im, XF_ERR_OUT_OF_RANGE, "scale %g of dim %d is out of range", scales[d], d);
            sizes[d] = (int64_t)want;
        }
    } else {
        return xo_fail(im, XF_ERR_INVALID_ARGUMENT, "needs scales or sizes");
    }
    if (xo_attr(n, "axes")) return xo_fail(im, XF_ERR_UNIMPLEMENTED, "the 'axes' attribute");
    char mode[32];
    snprintf(mode, sizeof mode, "%s", xo_attr_string(n, "mode", "nearest"));
    char ctm[64];
    snprintf(ctm, sizeof ctm, "%s", xo_attr_string(n, "coordinate_transformation_mode", "half_pixel"));
    if (im->opset < 11) snprintf(ctm, sizeof ctm, "asymmetric");
    for (int d = 0; d < nd; d++)
        if (sizes[d] <= 0) return xo_fail(im, XF_ERR_INVALID_ARGUMENT, "output dim %d is empty", d);
    if (strcmp(mode, "linear") == 0 || strcmp(mode, "bilinear") == 0) {
        bool align = strcmp(ctm, "align_corners") == 0;
        bool half = strcmp(ctm, "half_pixel") == 0 || strcmp(ctm, "pytorch_half_pixel") == 0;
        if (nd != 4 || sizes[0] != x->shape[0] || sizes[1] != x->shape[1])
            return xo_fail(im, XF_ERR_UNIMPLEMENTED, "linear resize of dims other than the last two of a 4-D input");
        if (!align && !half)
            return xo_fail(im, XF_ERR_UNIMPLEMENTED, "linear resize with coordinate_transformation_mode '%s'", ctm);
        if (!have_sizes && (fabs((double)sizes[2] / (double)x->shape[2] - scales[2]) > 1e-6 ||
                            fabs((double)sizes[3] / (double)x->shape[3] - scales[3]) > 1e-6))
            return xo_fail(im, XF_ERR_UNIMPLEMENTED, "linear resize by scales that do not give whole sizes");
        if (strcmp(ctm, "pytorch_half_pixel") == 0 && (sizes[2] == 1 || sizes[3] == 1))
            return xo_fail(im, XF_ERR_UNIMPLEMENTED, "pytorch_half_pixel to a size of 1");
        xf_tensor_t *t, *r;
        XO_CHECK(xo_tensor_of(im, x, &t));
        XO_CHECK(xf_resize_bilinear(im->g, t, sizes[2], sizes[3], align, &r));
        return xo_result(im, out[0], r, nd, sizes);
    }
    if (strcmp(mode, "nearest") != 0) return xo_fail(im, XF_ERR_UNIMPLEMENTED, "mode '%s'", mode);
    const char* nm = im->opset < 11 ? "floor" : xo_attr_string(n, "nearest_mode", "round_prefer_floor");
    char nmode[32];
    snprintf(nmode, sizeof nmode, "%s", nm);
    xo_val_t cur = *x;
    for (int d = 0; d < nd; d++) {
        if (sizes[d] == cur.shape[d] && scales[d] == 1.0) continue;
        int64_t* idx = xf_malloc((size_t)sizes[d] * sizeof(int64_t));
        if (!idx) return xo_fail(im, XF_ERR_OUT_OF_MEMORY, "out of host memory");
        const double in_ = (double)x->shape[d], o = (double)sizes[d], s = have_sizes ? o / in_ : scales[d];
        xf_status_t st = XF_OK;
        for (int64_t i = 0; i < sizes[d]; i++) {
            double c;
            if (strcmp(ctm, "asymmetric") == 0) c = (double)i / s;
            else if (strcmp(ctm, "align_corners") == 0) c = o == 1 ? 0 : (double)i * (in_ - 1) / (o - 1);
            else if (strcmp(ctm, "half_pixel") == 0) c = ((double)i + 0.5) / s - 0.5;
            else if (strcmp(ctm, "pytorch_half_pixel") == 0) c = o > 1 ? ((double)i + 0.5) / s - 0.5 : 0;
            else { st = xo_fail(im, XF_ERR_UNIMPLEMENTED, "coordinate_transformation_mode '%s'", ctm); break; }
            double r;
            if (strcmp(nmode, "floor") == 0) r = floor(c);
            else if (strcmp(nmode, "ceil") == 0) r = ceil(c);
            else if (strcmp(nmode, "round_prefer_ceil") == 0) r = floor(c + 0.5);
            else if (strcmp(nmode, "round_prefer_floor") == 0) r = c - floor(c) == 0.5 ? floor(c) : floor(c + 0.5);
            else { st = xo_fail(im, XF_ERR_UNIMPLEMENTED, "nearest_mode '%s'", nmode); break; }
            idx[i] = r < 0 ? 0 : r > in_ - 1 ? (int64_t)in_ - 1 : (int64_t)r;
        }
        xo_val_t next = {.name = out[0]->name};
        if (st == XF_OK) st = gather_indices(im, &cur, d, idx, sizes[d], &next);
        xf_free(idx);
        XO_CHECK(st);
        cur = next;
    }
    cur.name = out[0]->name;
    cur.uses = out[0]->uses;
    cur.producer = out[0]->producer;
    cur.graph_output = out[0]->graph_output;
    *out[0] = cur;
    return XF_OK;
}

//===----------------------------------------------------------------------===//
// The table
//===----------------------------------------------------------------------===//

#define ROW(name, lo) {#name, op_##name, lo}
static const xo_op_row_t rows[] = {
    ROW(Abs, 6), ROW(Add, 7), ROW(And, 7), ROW(Cast, 6), ROW(Ceil, 6), ROW(Clip, 6), ROW(Concat, 4),
    ROW(Constant, 1), ROW(ConstantOfShape, 9), ROW(Conv, 1), ROW(Div, 7), ROW(Dropout, 7), ROW(Equal, 7),
    ROW(Erf, 9), ROW(Exp, 6), ROW(Expand, 8), ROW(Flatten, 1), ROW(Floor, 6), ROW(Gather, 1), ROW(Gemm, 7),
    ROW(GlobalAveragePool, 1), ROW(Greater, 7), ROW(GreaterOrEqual, 12), ROW(Identity, 1),
    ROW(LayerNormalization, 17), ROW(Less, 7), ROW(LessOrEqual, 12), ROW(MatMul, 1), ROW(Max, 8), ROW(Min, 8),
    ROW(Mod, 10), ROW(Mul, 7), ROW(Neg, 6), ROW(Not, 1), ROW(Or, 7), ROW(Pad, 2), ROW(Pow, 7), ROW(Range, 11),
    ROW(Reciprocal, 6), ROW(ReduceMax, 1), ROW(ReduceMean, 1), ROW(ReduceMin, 1), ROW(ReduceSum, 1), ROW(Relu, 6),
    ROW(Reshape, 5), ROW(Resize, 10), ROW(ScatterND, 11), ROW(Shape, 1), ROW(Sigmoid, 6), ROW(Size, 1), ROW(Slice, 1),
    ROW(Softmax, 1), ROW(Split, 2), ROW(Sqrt, 6), ROW(Squeeze, 1), ROW(Sub, 7), ROW(Tanh, 6), ROW(Transpose, 1),
    ROW(Unsqueeze, 1), ROW(Where, 9), ROW(Xor, 7),
};

const xo_op_row_t* xo_op_find(const char* op_type) {
    for (size_t k = 0; k < sizeof rows / sizeof rows[0]; k++)
        if (strcmp(rows[k].name, op_type) == 0) return &rows[k];
    return NULL;
}

size_t xo_op_rows(const xo_op_row_t** out) {
    *out = rows;
    return sizeof rows / sizeof rows[0];
}
