// SPDX-License-Identifier: MIT
// The internal backend interface: what the core hands a backend and what a backend must provide.
// Not part of the public API.
#ifndef XF_LIB_BACKEND_H_
#define XF_LIB_BACKEND_H_

#include <stdarg.h>
#include <time.h>

#include "xformer.h"
#include "xf_abi.h"

// Operators as backends see them. Views are resolved by the core: every source of every op is a
// dense row-major tensor, except the source of XF_OP_COPY, which carries strides. The list of ops
// is the registry lib/ops/ops.def.
typedef enum xf_op_e {
#define XF_OP(NAME, FAMILY, MAX_SRC, INPLACE, DTYPES, CODE) XF_OP_##NAME,
#include "ops/ops.def"
    XF_OP_COUNT
} xf_op_t;

typedef enum xf_inplace_e {
    XF_INPLACE_NONE,
    XF_INPLACE_SRC0,      // the result may overwrite source 0
    XF_INPLACE_RESIDUAL,  // the result may overwrite source 3 (matmul's residual) when present
} xf_inplace_t;

// The dtype traits table (lib/dtype.c). Element types have block_elems 1; block-quantized types (e.g.
// int8 in blocks of 32 with one f16 scale: 34 bytes, 32 elements) store whole blocks along the
// innermost dim, whose size must then be a multiple of block_elems.
typedef struct xf_dtype_traits_s {
    const char* name;
    size_t block_bytes;
    int block_elems;
    bool is_float;  // a floating-point storage type (arithmetic is f32 whatever the storage)
    // Convert |n| elements (a multiple of block_elems) to and from f32.
    void (*to_f32)(const void* src, float* dst, size_t n);
    void (*from_f32)(const float* src, void* dst, size_t n);
} xf_dtype_traits_t;

#define XF_DTYPE_COUNT (XF_DTYPE_I8 + 1)

// Symmetric int8 quantization of |n| rows of |k| values |w| (a linear weight [out, in]): one scale per
// |block| values of a row (0: per row), amax / 127 rounded to |scale_dtype|, into |q| [n, k] and
// |scales| [n, groups]. Quantizing q * scale again gives back q and scale exactly (tools/quantize.py
// does the same arithmetic).
void xf_quantize_int8(const float* w, int64_t n, int64_t k, int block, xf_dtype_t scale_dtype, int8_t* q,
                      float* scales);

// The traits of |dtype|, or NULL for an unknown value.
const xf_dtype_traits_t* xf_dtype_traits(xf_dtype_t dtype);

// Source 0's accepted storage types, as a mask of 1 << xf_dtype_t.
#define XF_DTYPES_FLOAT ((1u << XF_DTYPE_F32) | (1u << XF_DTYPE_F16) | (1u << XF_DTYPE_BF16))
#define XF_DTYPES_ANY (XF_DTYPES_FLOAT | (1u << XF_DTYPE_I32))
// Elements of K per scale of a block-quantized weight (xf_tensor_set_scale).
#define XF_QUANT_BLOCK 32

// Scales per row of an int8 weight of |k| inputs: one per |block| inputs, or one (|block| 0: per output channel).
static inline int64_t xf_quant_groups(int64_t k, int block) { return block ? (k + block - 1) / block : 1; }

// The layout that scales of shape |shape| (|ndim| dims) give an [n, k] int8 weight: 0 (per output channel, [n]),
// XF_QUANT_BLOCK ([n, ceil(k / 32)]), or -1 (neither).
static inline int xf_quant_block_of(int64_t n, int64_t k, int ndim, const int64_t* shape) {
    if (ndim == 1 && shape[0] == n) return 0;
    if (ndim == 2 && shape[0] == n && shape[1] == xf_quant_groups(k, XF_QUANT_BLOCK)) return XF_QUANT_BLOCK;
    return -1;
}
// Quantized weight storage: an i8 matmul B with its scales (xf_tensor_set_scale).
#define XF_DTYPES_QUANT (1u << XF_DTYPE_I8)

// One row of the op registry.
typedef struct xf_op_info_s {
    const char* name;    // "matmul"
    const char* family;  // "binary": ops of a family share a builder, a reference and backend entries
    int max_src;
    xf_inplace_t inplace;
    unsigned dtypes;
    int code;  // kernel-ABI code within the family (shaders/xf_abi.h); -1: taken from the params
} xf_op_info_t;

// The registry row of |op| (op < XF_OP_COUNT).
const xf_op_info_t* xf_op_info(xf_op_t op);
const char* xf_op_name(xf_op_t op);

#define XF_MAX_SRC 8

// Backend-owned storage; opaque to the core.
typedef struct xf_buffer_s xf_buffer_t;
// Backend-owned device state; opaque to the core.
typedef struct xf_device_s xf_device_t;

// A tensor as a kernel sees it. Shapes are always padded to 4 dims: ne[0] outermost, ne[3]
// innermost (a [197, 768] tensor is ne = {1, 1, 197, 768}). Strides are in bytes, so a tensor of
// block-quantized type steps its innermost dim by whole blocks (see xf_dtype_traits_t).
typedef struct xf_tref_s {
    xf_buffer_t* buffer;
    size_t offset;  // bytes from the start of |buffer|
    xf_dtype_t dtype;
    int64_t ne[4];
    int64_t nb[4];  // byte strides; dense: nb[3] = element size, nb[2] = ne[3] * nb[3], ...
} xf_tref_t;

// Node parameters: one struct per XF_PARAMS row of lib/ops/ops.def.
typedef union xf_op_params_u {
#define XF_PARAMS(NAME, ...) struct { __VA_ARGS__ } NAME;
#include "ops/ops.def"
} xf_op_params_t;

// One node of an executable graph. ARGMAX reduces ne[3] to 1 with an i32 dst. WHERE: src[0] is the
// condition (non-zero selects src[1], else src[2]), all three broadcast to dst.
typedef struct xf_exec_node_s {
    xf_op_t op;
    int nsrc;
    xf_tref_t src[XF_MAX_SRC];  // unused optional slots have buffer == NULL
    xf_tref_t dst;
    xf_op_params_t params;
    const char* label;  // for error messages: "node 12 (matmul 'blocks.0.attn.qkv')"
    // Bit s set: src[s] is a context tensor (a weight), constant while the graph runs. A backend may
    // keep a repacked copy of it; graph_refresh tells it when such tensors were uploaded again.
    unsigned constant_srcs;
    // Scratch the backend asked for (node_scratch), placed by the planner in the graph's pool and live
    // for this node only; 256-byte aligned.
    xf_buffer_t* scratch;
    size_t scratch_offset, scratch_bytes;
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

// Where a backend's messages go: the context's log callback (|fn| NULL: nowhere).
typedef struct xf_log_sink_s {
    void (*fn)(void* user, xf_log_level_t level, const char* message);
    void* user;
} xf_log_sink_t;

// Formats a message and hands it to |sink|.
void xf_sink_log(const xf_log_sink_t* sink, xf_log_level_t level, const char* fmt, ...)
    __attribute__((format(printf, 3, 4)));

// The kernel-variant choices of a context: its options, overridden by the environment (lib/context.c
// resolves both; backends read nothing else).
// Host memory. Each block records the functions that allocated it, so xf_free needs no context. An
// allocation takes the allocator that the innermost libxformer call working on a context chose with
// xf_alloc_use (the C library's in a thread that chose none). Every library function that allocates on
// behalf of a context calls xf_alloc_use first.
void xf_alloc_use(const xf_allocator_t* allocator);
void* xf_malloc(size_t size);
void* xf_calloc(size_t count, size_t size);
void* xf_realloc(void* ptr, size_t size);
void xf_free(void* ptr);
char* xf_strdup(const char* s);
char* xf_strndup(const char* s, size_t n);
// |size| bytes aligned to |align| (a power of two); give them back with xf_aligned_free.
void* xf_aligned_alloc(size_t align, size_t size);
void xf_aligned_free(void* ptr);

typedef struct xf_device_options_s {
    xf_kernel_style_t kernels;
    xf_attention_variant_t attention;
    unsigned disable;  // XF_FEATURE_* bits
    xf_tune_t tune;
    uint64_t max_binding;  // 0 or the largest binding the context allows (xf_context_options_t.max_binding_bytes)
    // The context's log: slow work such as compiling and tuning reports progress at XF_LOG_INFO
    // through it (xf_sink_log), never on stdout/stderr.
    xf_log_sink_t log;
} xf_device_options_t;

// The table of functions a backend provides. A backend is registered in lib/backends.c.
typedef struct xf_backend_vtable_s {
    xf_backend_t kind;
    const char* name;
    // Fills up to |capacity| entries (ranked, index = XFORMER_DEVICE) and the total count. A
    // missing driver gives *out_count = 0 and XF_OK; |err| may explain why for the error message.
    // |opts| shapes what the entries report (kernel style, fp16, subgroups).
    xf_status_t (*list_devices)(const xf_device_options_t* opts, xf_device_info_t* out, size_t capacity,
                                size_t* out_count, xf_err_t* err);
    xf_status_t (*device_open)(int index, const xf_device_options_t* opts, xf_device_t** out_device, xf_err_t* err);
    void (*device_close)(xf_device_t* device);
    void (*device_info)(const xf_device_t* device, xf_device_info_t* out_info);
    // Returns XF_OK if the device can run |node|, else XF_ERR_UNIMPLEMENTED/INCOMPATIBLE with a reason.
    xf_status_t (*supports)(xf_device_t* device, const xf_exec_node_t* node, xf_err_t* err);
    // Bytes of temporary memory |node| needs while it runs (0: none). Called before memory planning:
    // sources and dst have shapes, dtypes and params, but results have no buffer yet. NULL: never any.
    size_t (*node_scratch)(xf_device_t* device, const xf_exec_node_t* node);
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
    // Optional: device memory the prepared graph holds beyond its planned pool (repacked weights).
    size_t (*graph_memory)(xf_device_t* device, void* state);
    // Optional: the context tensors (constant_srcs) were uploaded since prepare or the last compute;
    // rebuild whatever the backend derived from them before the next graph_compute.
    xf_status_t (*graph_refresh)(xf_device_t* device, const xf_exec_graph_t* graph, void* state, xf_err_t* err);
    void (*counters)(const xf_device_t* device, xf_exec_counters_t* out);
    // How the backend's op table covers |op|: true with *reason NULL when it implements it, true
    // with a reason when it refuses it on purpose, false for a hole (a bug; tests/test_registry.c).
    bool (*op_coverage)(xf_op_t op, const char** reason);
} xf_backend_vtable_t;

// An op-table entry a backend fills for an op it does not run; |reason| ends up in the error message.
#define XF_OP_REFUSED(reason) {.refused = (reason)}

// Device classes in the order backends list their devices and `auto` considers them: GPUs first,
// CPUs last; devices of one class keep the driver's order.
static inline int xf_device_type_rank(xf_device_type_t type) {
    switch (type) {
        case XF_DEVICE_TYPE_DISCRETE_GPU: return 0;
        case XF_DEVICE_TYPE_INTEGRATED_GPU: return 1;
        case XF_DEVICE_TYPE_ACCELERATOR: return 2;
        case XF_DEVICE_TYPE_OTHER: return 3;
        case XF_DEVICE_TYPE_CPU: return 4;
    }
    return 3;
}
#define XF_DEVICE_RANKS 5

// A row of the backend registry (lib/backends.c).
typedef struct xf_backend_entry_s {
    xf_backend_t kind;
    const char* name;                    // "opencl": XFORMER_BACKEND, test columns, tool options
    const xf_backend_vtable_t* vtable;   // NULL when this build does not have the backend
    // Order among backends for `auto` within a device class (0: only as the last resort): for GPU-class
    // devices, and for CPU-type devices, where kernel quality differs most between drivers.
    int auto_rank, auto_rank_cpu;
    // Variant test columns beyond NAME, as modifiers of tests/harness.c: "gpu fused" gives the columns
    // NAME+gpu and NAME+fused, so the op table runs every kernel variant.
    const char* test_variants;
    unsigned dtypes;  // storage types its kernels read and write (1 << xf_dtype_t)
    // Further storage types a GEMM's B operand (a weight) may have: its kernels read them and
    // convert in registers, whatever the other operands' type.
    unsigned weight_dtypes;
} xf_backend_entry_t;

// Every backend libxformer knows, compiled or not.
const xf_backend_entry_t* xf_backend_entries(size_t* out_count);
// The storage types backend |kind| runs (1 << xf_dtype_t), 0 if unknown.
unsigned xf_backend_dtypes(xf_backend_t kind);
// The storage types backend |kind| reads as a matmul's B operand (1 << xf_dtype_t), 0 if unknown.
unsigned xf_backend_weight_dtypes(xf_backend_t kind);
// Writes "auto, cpu, opencl, ..." (the names this build accepts).
void xf_backend_names(char* out, size_t size);
// Returns the compiled-in backend of |kind|, or NULL.
const xf_backend_vtable_t* xf_backend_find(xf_backend_t kind);

// Helpers shared by backends and core.
// Monotonic wall-clock seconds: kernel tuning and build timing.
static inline double xf_seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static inline int64_t xf_tref_elements(const xf_tref_t* t) { return t->ne[0] * t->ne[1] * t->ne[2] * t->ne[3]; }
size_t xf_dtype_size(xf_dtype_t dtype);

// Element strides of |t| (its byte strides over the element size), what kernels index with.
static inline void xf_tref_elem_strides(const xf_tref_t* t, int64_t out[4]) {
    int64_t es = (int64_t)xf_dtype_size(t->dtype);
    for (int d = 0; d < 4; ++d) out[d] = t->nb[d] / es;
}

// Broadcast strides of |t| against a destination of the same rank: its element strides, 0 where
// t->ne[d] == 1.
static inline void xf_tref_bcast_strides(const xf_tref_t* t, int64_t out[4]) {
    xf_tref_elem_strides(t, out);
    for (int d = 0; d < 4; ++d) {
        if (t->ne[d] == 1) out[d] = 0;
    }
}

// A node's label for error messages ("node 12 (MATMUL)"), also for nodes a backend builds itself.
static inline const char* xf_node_label(const xf_exec_node_t* n) { return n->label ? n->label : xf_op_name(n->op); }

// The kernel-ABI function code of a node (shaders/xf_abi.h): its registry code, or for UNARY and GLU
// the activation in its params.
static inline int xf_node_code(const xf_exec_node_t* n) {
    int code = xf_op_info(n->op)->code;
    return code >= 0 ? code : (int)n->params.unary.activation;
}


#endif  // XF_LIB_BACKEND_H_
