// SPDX-License-Identifier: MIT
// What the op families under lib/ops/ share: builder checks and the reference implementations'
// host-memory helpers. Not part of the public API.
#ifndef XF_LIB_OPS_OPS_INTERNAL_H_
#define XF_LIB_OPS_OPS_INTERNAL_H_

#include <math.h>
#include <stdbool.h>

#include "core.h"

#define XF_CHECK(expr)                              \
    do {                                            \
        xf_status_t xf_check_st_ = (expr);          \
        if (xf_check_st_ != XF_OK) return xf_check_st_; \
    } while (0)

//===----------------------------------------------------------------------===//
// Builders
//===----------------------------------------------------------------------===//

// Checks the graph and output pointers of builder |fn| and clears *out.
xf_status_t xf_op_begin(xf_graph_t* g, const char* fn, xf_tensor_t** out);
// Records an invalid-argument failure "fn: message" on the graph's context.
xf_status_t xf_op_fail(xf_graph_t* g, const char* fn, const char* fmt, ...) __attribute__((format(printf, 3, 4)));
// Writes "[2, 197, 768]".
void xf_op_shape_str(const xf_tensor_t* t, char* buf, size_t size);
// Checks that |t| belongs to |g| and has a dtype |op| accepts (its registry row).
xf_status_t xf_op_check_input(xf_graph_t* g, xf_op_t op, const char* fn, const xf_tensor_t* t, const char* what);
// Checks that |t| belongs to |g| and has one of the dtypes of mask |ok| (1 << xf_dtype_t).
xf_status_t xf_op_check_dtypes(xf_graph_t* g, const char* fn, const xf_tensor_t* t, unsigned ok, const char* what);
// |b| (if any) must have |a|'s dtype.
xf_status_t xf_op_check_same_dtype(xf_graph_t* g, const char* fn, const xf_tensor_t* a, const xf_tensor_t* b,
                                   const char* what);
// |v| (if any) must be a float vector of |n| elements matching |like|'s dtype.
xf_status_t xf_op_check_vector(xf_graph_t* g, const char* fn, const xf_tensor_t* v, const xf_tensor_t* like,
                               int64_t n, const char* what);
// |m| must broadcast to |shape| (per trailing dim: 1 or equal).
xf_status_t xf_op_check_broadcasts_to(xf_graph_t* g, const char* fn, const xf_tensor_t* m, int ndim,
                                      const int64_t* shape, const char* what);
// The broadcast shape of two shapes, or of |a| and |b| (numpy rules).
xf_status_t xf_op_broadcast_dims(xf_graph_t* g, const char* fn, int na, const int64_t* sa, int nb, const int64_t* sb,
                                 int* out_ndim, int64_t* out_shape);
xf_status_t xf_op_broadcast_shape(xf_graph_t* g, const char* fn, const xf_tensor_t* a, const xf_tensor_t* b,
                                  int* out_ndim, int64_t* out_shape);
// Resolves a possibly negative |axis| of an |ndim|-dim tensor; fails with XF_ERR_OUT_OF_RANGE.
xf_status_t xf_op_axis(xf_graph_t* g, const char* fn, int axis, int ndim, int* out_axis);
// Drops dim |axis| of a shape (used by reductions without keepdim).
xf_status_t xf_op_squeeze(xf_graph_t* g, xf_tensor_t* r, int axis, xf_tensor_t** out);

//===----------------------------------------------------------------------===//
// Reference implementations (the CPU backend's op table): plain loops on host memory, f32 or
// double arithmetic, f16 converted on load and store.
//===----------------------------------------------------------------------===//

// Host buffers, the CPU backend's storage.
struct xf_buffer_s {
    unsigned char* data;
    size_t size;
};

#define XF_OP(NAME, FAMILY, MAX_SRC, INPLACE, DTYPES, CODE) \
    xf_status_t xf_ref_##FAMILY(const xf_exec_node_t* node, xf_err_t* err);
#include "ops/ops.def"

void xf_ref_dequantize(float* w, int64_t n, int64_t k, const xf_tref_t* scale, int block);

static inline void* xf_ref_base(const xf_tref_t* t) { return t->buffer->data + t->offset; }

// Element |i| of an element-typed tensor (block-quantized types are read through their traits).
static inline float xf_ref_ld(const xf_tref_t* t, int64_t i) {
    const void* p = xf_ref_base(t);
    switch (t->dtype) {
        case XF_DTYPE_F32: return ((const float*)p)[i];
        case XF_DTYPE_F16: return xf_f16_to_f32(((const uint16_t*)p)[i]);
        case XF_DTYPE_I32: return (float)((const int32_t*)p)[i];
        case XF_DTYPE_BF16: return xf_bf16_to_f32(((const uint16_t*)p)[i]);
        case XF_DTYPE_I8: return (float)((const int8_t*)p)[i];
    }
    return NAN;
}

static inline void xf_ref_st(const xf_tref_t* t, int64_t i, float v) {
    void* p = xf_ref_base(t);
    switch (t->dtype) {
        case XF_DTYPE_F32: ((float*)p)[i] = v; break;
        case XF_DTYPE_F16: ((uint16_t*)p)[i] = xf_f32_to_f16(v); break;
        case XF_DTYPE_I32: ((int32_t*)p)[i] = (int32_t)v; break;
        case XF_DTYPE_BF16: ((uint16_t*)p)[i] = xf_f32_to_bf16(v); break;
        case XF_DTYPE_I8: xf_dtype_traits(XF_DTYPE_I8)->from_f32(&v, (int8_t*)p + i, 1); break;
    }
}

// Dense index of (i0, i1, i2, i3) in |t|, where dims of size 1 broadcast.
static inline int64_t xf_ref_bidx(const xf_tref_t* t, int64_t i0, int64_t i1, int64_t i2, int64_t i3) {
    int64_t idx[4] = {i0, i1, i2, i3};
    int64_t off = 0;
    for (int d = 0; d < 4; ++d) off = off * t->ne[d] + (t->ne[d] == 1 ? 0 : idx[d]);
    return off;
}

// Dense index of the coordinates |c| in a tensor of shape |ne|.
static inline int64_t xf_ref_index(const int64_t* ne, const int64_t* c) {
    return ((c[0] * ne[1] + c[1]) * ne[2] + c[2]) * ne[3] + c[3];
}

// The unary function |code| (XF_UFN_*): activations and element-wise math.
float xf_ref_unary_fn(int code, float x, const xf_op_params_t* params);

#define XF_REF_FOR4(t)                                   \
    for (int64_t i0 = 0; i0 < (t)->ne[0]; ++i0)          \
        for (int64_t i1 = 0; i1 < (t)->ne[1]; ++i1)      \
            for (int64_t i2 = 0; i2 < (t)->ne[2]; ++i2)  \
                for (int64_t i3 = 0; i3 < (t)->ne[3]; ++i3)

#endif  // XF_LIB_OPS_OPS_INTERNAL_H_
