// SPDX-License-Identifier: MIT
// The ONNX operator table and the fused lowerings the pattern matcher (onnx_fuse.c) calls.
#ifndef XF_LIB_ONNX_OPS_H_
#define XF_LIB_ONNX_OPS_H_

#include "onnx/onnx_internal.h"

typedef xf_status_t (*xo_op_fn)(xo_imp_t* im, const Onnx__NodeProto* n, xo_val_t** in, int nin, xo_val_t** out,
                                int nout);

typedef struct xo_op_row_s {
    const char* name;
    xo_op_fn fn;
    int since;  // the first opset whose semantics the lowering follows
} xo_op_row_t;

const xo_op_row_t* xo_op_find(const char* op_type);
size_t xo_op_rows(const xo_op_row_t** out);

xf_status_t xo_layernorm(xo_imp_t* im, xo_val_t* x, int axis, xo_val_t* scale, xo_val_t* bias, float eps,
                         xo_val_t* out);
xf_status_t xo_linear(xo_imp_t* im, xo_val_t* a, xo_val_t* b, bool b_transposed, float alpha, xo_val_t* bias,
                      float beta, xf_activation_t act, xo_val_t* residual, xo_val_t* out);

#endif  // XF_LIB_ONNX_OPS_H_
