// SPDX-License-Identifier: MIT
// Internal structures of the backend-agnostic core: contexts, tensors, graphs.
#ifndef XF_LIB_CORE_H_
#define XF_LIB_CORE_H_

#include "backend.h"
#include "xformer.h"

typedef enum xf_tensor_kind_e {
    XF_TENSOR_STORED,  // xf_tensor_create: own buffer, owned by the context
    XF_TENSOR_INPUT,   // xf_graph_input: own buffer, owned by the graph
    XF_TENSOR_RESULT,  // produced by a node; placed by the planner
    XF_TENSOR_VIEW,    // strided window onto another tensor's storage
} xf_tensor_kind_t;

struct xf_tensor_s {
    xf_context_t* context;
    xf_graph_t* graph;  // NULL for STORED
    xf_tensor_kind_t kind;
    xf_dtype_t dtype;
    int ndim;
    int64_t shape[XF_MAX_DIMS];
    int64_t stride[XF_MAX_DIMS];  // in elements; dense unless a view
    char* name;

    xf_buffer_t* buffer;  // STORED, INPUT: own; RESULT: set when planned
    size_t offset;        // bytes into |buffer|

    xf_tensor_t* base;          // VIEW: the tensor whose storage it reads (never a view itself)
    int64_t view_offset;        // VIEW: elements from the start of |base|
    xf_tensor_t* materialized;  // VIEW: dense copy made when an op needed one

    xf_tensor_t* scale;  // STORED i8: the scales of a quantized weight (xf_tensor_set_scale)

    int producer;   // RESULT: node index
    int last_use;   // RESULT: last node reading it
    bool is_output;
    xf_tensor_t* next;  // owner's list
};

struct xf_context_s {
    xf_allocator_t allocator;  // host memory (xf_alloc_use)
    const xf_backend_vtable_t* backend;
    xf_device_t* device;
    xf_device_info_t info;
    xf_log_fn log_fn;
    void* log_user_data;
    int log_level;
    xf_tensor_t* tensors;  // STORED tensors
    size_t graphs;         // live graphs
    uint64_t stored_generation;  // counts uploads to STORED tensors (constants to graphs)
    xf_err_t err;
};

typedef struct xf_node_s {
    xf_op_t op;
    int nsrc;
    xf_tensor_t* src[XF_MAX_SRC];
    xf_tensor_t* dst;
    xf_op_params_t params;
    char label[128];
    size_t scratch_bytes;  // the backend's temporary memory for this node (planned with the results)
    size_t scratch_offset;
} xf_node_t;

typedef struct xf_plan_s {
    size_t pool_bytes;
    size_t intermediates;
    size_t intermediate_bytes_sum;
    size_t inplace_reuses;
    size_t scratch_bytes_max;  // the largest scratch of one node
    size_t segment;            // 0, or the size of the buffers the pool is cut into (none straddled)
} xf_plan_t;

struct xf_graph_s {
    xf_context_t* context;
    xf_node_t* nodes;
    size_t count, capacity;
    xf_tensor_t* tensors;  // INPUT, RESULT and VIEW tensors
    bool reuse;
    bool prepared;
    xf_plan_t plan;
    // The pool: one buffer, or |npools| buffers of plan.segment bytes (the last one shorter).
    xf_buffer_t** pools;
    size_t npools;
    xf_exec_node_t* exec;
    void* backend_state;
    uint64_t stored_generation;  // the context's count when the backend last saw the constants
    uint64_t computes;
    xf_exec_counters_t counters;
    size_t pool_limit;  // largest intermediate pool xf_graph_plan may allocate; 0: no limit
    const char* pool_limit_what;  // the option that set it, for the error message
};

// Records a failure on |ctx| and returns |status|.
xf_status_t xf_ctx_fail(xf_context_t* ctx, xf_status_t status, const char* fmt, ...)
    __attribute__((format(printf, 3, 4)));
// Copies a backend error into the context message, prefixed by |what|.
xf_status_t xf_ctx_fail_err(xf_context_t* ctx, xf_status_t status, const xf_err_t* err, const char* what);
// Sets the thread's context-less message.
xf_status_t xf_set_last_error(xf_status_t status, const char* fmt, ...) __attribute__((format(printf, 2, 3)));
void xf_log(xf_context_t* ctx, xf_log_level_t level, const char* fmt, ...) __attribute__((format(printf, 3, 4)));

// Tensor helpers.
void xf_shape_dense_strides(int ndim, const int64_t* shape, int64_t* out_stride);
bool xf_tensor_is_dense(const xf_tensor_t* t);
int64_t xf_shape_elements(int ndim, const int64_t* shape);
xf_status_t xf_check_shape(xf_context_t* ctx, const char* what, int ndim, const int64_t* shape);
void xf_tensor_free(xf_tensor_t* t);
// Makes a tensor owned by |graph| (not yet linked to storage).
xf_status_t xf_graph_new_tensor(xf_graph_t* graph, xf_tensor_kind_t kind, xf_dtype_t dtype, int ndim,
                                const int64_t* shape, xf_tensor_t** out);
// Returns a dense tensor with |t|'s contents, inserting a copy node for strided views.
xf_status_t xf_graph_dense(xf_graph_t* graph, xf_tensor_t* t, xf_tensor_t** out);
// Appends a node whose result has |dtype| and |shape|; sources are made dense first.
xf_status_t xf_graph_append(xf_graph_t* graph, xf_op_t op, xf_tensor_t* const* src, int nsrc,
                            const xf_op_params_t* params, xf_dtype_t dtype, int ndim, const int64_t* shape,
                            xf_tensor_t** out);
// Checks that |t| is usable in |graph| (same context, right owner).
xf_status_t xf_graph_check_tensor(xf_graph_t* graph, const xf_tensor_t* t, const char* what);

// Makes a view of |x| (a view of a view reads the same base) with element strides and offset.
// The block weight names xf_graph_block uses for NULL members of xf_block_names_t (timm's).
extern const xf_block_names_t xf_block_timm_names;

xf_status_t xf_graph_view(xf_graph_t* graph, xf_tensor_t* x, int ndim, const int64_t* shape, const int64_t* stride,
                          int64_t offset, xf_tensor_t** out);

// Assigns pool offsets to every RESULT tensor; see planner.c.
xf_status_t xf_plan_memory(xf_graph_t* graph);

#endif  // XF_LIB_CORE_H_
