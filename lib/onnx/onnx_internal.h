// SPDX-License-Identifier: MIT
// The ONNX importer's shared state: values (host constants or device tensors with a logical shape of up to
// XO_MAX_RANK dims over a <= 4-D device tensor), the node being lowered, and the helpers its operators share.
#ifndef XF_LIB_ONNX_INTERNAL_H_
#define XF_LIB_ONNX_INTERNAL_H_

#include "core.h"
#include "model_internal.h"
#include "onnx.pb-c.h"

#define XO_MAX_RANK 8
#define XO_OPSET_MIN 1
#define XO_OPSET_MAX 17

enum {
    XO_FLOAT = 1, XO_UINT8 = 2, XO_INT8 = 3, XO_UINT16 = 4, XO_INT16 = 5, XO_INT32 = 6, XO_INT64 = 7,
    XO_STRING = 8, XO_BOOL = 9, XO_FLOAT16 = 10, XO_DOUBLE = 11, XO_UINT32 = 12, XO_UINT64 = 13, XO_BFLOAT16 = 16,
};

typedef struct xo_val_s {
    const char* name;
    bool known;     // produced by an initializer, a graph input or a lowered node
    bool is_const;  // host data (f or i); else a device tensor
    int ety;        // ONNX element type
    int nd;
    int64_t shape[XO_MAX_RANK];
    int64_t n;
    // Constants: float-typed ones in f, integer and bool ones in i.
    float* f;
    int64_t* i;
    bool borrowed;  // f points into the parsed protobuf
    xf_tensor_t* up_f32;  // uploads of the constant, made when a device op needs one
    xf_tensor_t* up_i32;
    // Device values: element [i0..] lives at base + off + sum(i_k * stride_k) (base is never a view).
    xf_tensor_t* base;
    int64_t off;
    int64_t stride[XO_MAX_RANK];
    // Graph facts for fusion.
    int uses;
    int producer;  // node index, -1 for inputs and initializers
    bool graph_output;
    // A pending x * scale of another device value (folded into the consumer when it can take it).
    struct xo_val_s* scale_of;
    float scale;
} xo_val_t;

typedef struct xo_imp_s {
    xf_model_t* m;
    xf_context_t* ctx;
    xf_graph_t* g;
    const char* path;
    char dir[1024];
    Onnx__ModelProto* mp;
    Onnx__GraphProto* gp;
    int64_t opset;
    xo_val_t* vals;
    size_t nvals, capvals;
    int32_t* hash;
    size_t hashcap;
    bool* absorbed;  // nodes lowered as part of a fused pattern
    const Onnx__NodeProto* node;  // being lowered (for error messages)
    size_t node_index;
    int fused[8];
    uint64_t uploads;
    const xf_model_options_t* options;
    bool no_fusion;           // XFORMER_ONNX_FUSION=0: every node lowered on its own (a debugging aid)
    xf_status_t fuse_status;  // set by xo_fuse when a matched pattern failed to lower
} xo_imp_t;

typedef enum { XO_FUSE_LAYERNORM, XO_FUSE_GELU, XO_FUSE_LINEAR, XO_FUSE_ATTENTION, XO_FUSE_COUNT } xo_fusion_t;

// Fails the node being lowered: "<file>: node '<name>' (<op>, opset N): <message>".
xf_status_t xo_fail(xo_imp_t* im, xf_status_t status, const char* fmt, ...) __attribute__((format(printf, 3, 4)));
#define XO_CHECK(expr)                      \
    do {                                    \
        xf_status_t xo_st_ = (expr);        \
        if (xo_st_ != XF_OK) return xo_st_; \
    } while (0)

// Lowers the pattern that starts at node |i| when one does (true), marking the other nodes it covers.
bool xo_fuse(xo_imp_t* im, size_t i, xo_val_t** in, int nin, xo_val_t** out, int nout);

xo_val_t* xo_find(xo_imp_t* im, const char* name);
double xo_get(const xo_val_t* v, int64_t k);
// |x| as an integer: NaN is 0, values past int64 saturate (shape arithmetic from float constants).
int64_t xo_to_int(double x);
bool xo_is_float_type(int ety);
// A new host constant of |ety| and |shape| (contents zero).
xf_status_t xo_const_new(xo_imp_t* im, xo_val_t* v, int ety, int nd, const int64_t* shape);
void xo_set(xo_val_t* v, int64_t k, double x);

// Attributes of the current node.
const Onnx__AttributeProto* xo_attr(const Onnx__NodeProto* n, const char* name);
int64_t xo_attr_int(const Onnx__NodeProto* n, const char* name, int64_t fallback);
float xo_attr_float(const Onnx__NodeProto* n, const char* name, float fallback);
const char* xo_attr_string(const Onnx__NodeProto* n, const char* name, const char* fallback);

// Device values.
// Makes |v| the device value |t| seen with logical |shape| (|t| holds it in row-major order).
xf_status_t xo_result(xo_imp_t* im, xo_val_t* v, xf_tensor_t* t, int nd, const int64_t* shape);
xf_status_t xo_tensor_of(xo_imp_t* im, xo_val_t* v, xf_tensor_t** out);
xf_status_t xo_const_tensor(xo_imp_t* im, xo_val_t* v, xf_dtype_t dtype, xf_tensor_t** out);
xf_status_t xo_densify(xo_imp_t* im, xo_val_t* v);
bool xo_is_dense(const xo_val_t* v);
// Frees a value's host data.
void val_free(xo_val_t* v);
// True for the element types constants may have.
bool raw_type_ok(int ety);
xf_status_t xo_parse_tensor(xo_imp_t* im, const Onnx__TensorProto* tp, xo_val_t* v);

#endif  // XF_LIB_ONNX_INTERNAL_H_
