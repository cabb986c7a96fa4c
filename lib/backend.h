// SPDX-License-Identifier: MIT
// The internal backend interface: what the core hands a backend and what a backend must provide.
// Not part of the public API.
#ifndef XF_LIB_BACKEND_H_
#define XF_LIB_BACKEND_H_

#include <stdarg.h>

#include "xformer.h"

// Operators as backends see them. Views are resolved by the core: every source of every op is a
// dense row-major tensor, except the source of XF_OP_COPY, which carries strides.
#define XF_OP_LIST(X) \
    X(COPY)           \
    X(MATMUL)         \
    X(ADD)            \
    X(MUL)            \
    X(SCALE)          \
    X(LAYERNORM)      \
    X(RMSNORM)        \
    X(SOFTMAX)        \
    X(UNARY)          \
    X(GLU)            \
    X(ATTENTION)      \
    X(CONV2D)         \
    X(RESIZE)         \
    X(CONCAT)         \
    X(MEAN)           \
    X(ARGMAX)         \
    X(GATHER)

typedef enum xf_op_e {
#define XF_OP_ENUM(name) XF_OP_##name,
    XF_OP_LIST(XF_OP_ENUM)
#undef XF_OP_ENUM
    XF_OP_COUNT
} xf_op_t;

const char* xf_op_name(xf_op_t op);

#define XF_MAX_SRC 4

// Backend-owned storage; opaque to the core.
typedef struct xf_buffer_s xf_buffer_t;
// Backend-owned device state; opaque to the core.
typedef struct xf_device_s xf_device_t;

// A tensor as a kernel sees it. Shapes are always padded to 4 dims: ne[0] outermost, ne[3]
// innermost (a [197, 768] tensor is ne = {1, 1, 197, 768}). Strides are in elements.
typedef struct xf_tref_s {
    xf_buffer_t* buffer;
    size_t offset;  // bytes from the start of |buffer|
    xf_dtype_t dtype;
    int64_t ne[4];
    int64_t nb[4];  // element strides; dense: nb[3] = 1, nb[2] = ne[3], ...
} xf_tref_t;

typedef union xf_op_params_u {
    struct {
        bool transpose_b;
        bool has_bias;      // src[2] is the bias [N]
        bool has_residual;  // src[3] is the residual, shaped like dst
        xf_activation_t activation;
    } matmul;
    struct {
        float eps;
        bool has_weight;  // src[1]
        bool has_bias;    // src[2]
    } norm;
    struct {
        float scale;
        bool has_mask;  // src[1], broadcast to src[0] (per-dim size 1 or equal)
    } softmax;
    struct {
        float scale, shift;
    } scale;
    struct {
        xf_activation_t activation;
    } unary;  // also GLU
    struct {
        float scale;
        bool has_bias;  // src[3], broadcast to [B, H, Lq, Lk]
    } attention;
    struct {
        int stride[2], padding[2], dilation[2], groups;
        bool has_bias;  // src[2]
    } conv2d;
    struct {
        bool align_corners;
    } resize;
    struct {
        int axis;   // of the 4 padded dims (0..3)
        int count;  // CONCAT: number of sources
    } axis;         // CONCAT, MEAN (dst ne[axis] = 1), GATHER (src[1] = i32 indices [M])
} xf_op_params_t;

// One node of an executable graph. ARGMAX reduces ne[3] to 1 with an i32 dst.
typedef struct xf_exec_node_s {
    xf_op_t op;
    int nsrc;
    xf_tref_t src[XF_MAX_SRC];  // unused optional slots have buffer == NULL
    xf_tref_t dst;
    xf_op_params_t params;
    const char* label;  // for error messages: "node 12 (matmul 'blocks.0.attn.qkv')"
} xf_exec_node_t;

typedef struct xf_exec_graph_s {
    const xf_exec_node_t* nodes;
    size_t count;
} xf_exec_graph_t;

// Error message sink handed to backends. xf_err_set formats into it and returns |status|.
typedef struct xf_err_s {
    char msg[2048];
} xf_err_t;

xf_status_t xf_err_set(xf_err_t* err, xf_status_t status, const char* fmt, ...)
    __attribute__((format(printf, 3, 4)));

// Execution counters a backend keeps for tests and stats.
typedef struct xf_exec_counters_s {
    uint64_t submissions;
    uint64_t dispatches;
} xf_exec_counters_t;

// The table of functions a backend provides. A backend is registered in lib/backends.c.
typedef struct xf_backend_vtable_s {
    xf_backend_t kind;
    const char* name;
    // Fills up to |capacity| entries (ranked, index = XFORMER_DEVICE) and the total count. A
    // missing driver gives *out_count = 0 and XF_OK; |err| may explain why for the error message.
    xf_status_t (*list_devices)(xf_device_info_t* out, size_t capacity, size_t* out_count, xf_err_t* err);
    xf_status_t (*device_open)(int index, xf_device_t** out_device, xf_err_t* err);
    void (*device_close)(xf_device_t* device);
    void (*device_info)(const xf_device_t* device, xf_device_info_t* out_info);
    // Returns XF_OK if the device can run |node|, else XF_ERR_UNIMPLEMENTED/INCOMPATIBLE with a reason.
    xf_status_t (*supports)(xf_device_t* device, const xf_exec_node_t* node, xf_err_t* err);
    xf_status_t (*buffer_alloc)(xf_device_t* device, size_t bytes, xf_buffer_t** out_buffer, xf_err_t* err);
    void (*buffer_free)(xf_device_t* device, xf_buffer_t* buffer);
    xf_status_t (*buffer_write)(xf_device_t* device, xf_buffer_t* buffer, size_t offset, const void* data,
                                size_t bytes, xf_err_t* err);
    xf_status_t (*buffer_read)(xf_device_t* device, xf_buffer_t* buffer, size_t offset, void* data,
                               size_t bytes, xf_err_t* err);
    // Prepares |graph| once (kernels, descriptors, command buffers); |*out_state| is handed back to
    // graph_compute and graph_release. The node array stays valid and unchanged until release.
    xf_status_t (*graph_prepare)(xf_device_t* device, const xf_exec_graph_t* graph, void** out_state,
                                 xf_err_t* err);
    // Runs every node and waits for completion once.
    xf_status_t (*graph_compute)(xf_device_t* device, const xf_exec_graph_t* graph, void* state, xf_err_t* err);
    void (*graph_release)(xf_device_t* device, void* state);
    void (*counters)(const xf_device_t* device, xf_exec_counters_t* out);
} xf_backend_vtable_t;

// Returns the compiled-in backend of |kind|, or NULL.
const xf_backend_vtable_t* xf_backend_find(xf_backend_t kind);

// Helpers shared by backends and core.
static inline int64_t xf_tref_elements(const xf_tref_t* t) { return t->ne[0] * t->ne[1] * t->ne[2] * t->ne[3]; }
size_t xf_dtype_size(xf_dtype_t dtype);

// Reads an environment variable listing comma-separated words; returns true if |word| is in it.
bool xf_env_list_has(const char* env_name, const char* word);

#endif  // XF_LIB_BACKEND_H_
