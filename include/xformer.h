// SPDX-License-Identifier: MIT
//
// libxformer: transformer models on any GPU, through one backend-agnostic C API.
//
// Usage in brief:
//
//   xf_context_t* ctx;
//   if (xf_context_create(NULL, &ctx) != XF_OK) { puts(xf_last_error()); ... }
//   int64_t wshape[2] = {768, 768};
//   xf_tensor_t* w;
//   xf_tensor_create(ctx, "fc.weight", XF_DTYPE_F32, 2, wshape, &w);
//   xf_tensor_upload(w, host_weights, sizeof host_weights);
//
//   xf_graph_t* g;
//   xf_graph_create(ctx, &g);
//   xf_tensor_t *x, *y;
//   xf_graph_input(g, "x", XF_DTYPE_F32, 2, (int64_t[]){197, 768}, &x);
//   xf_linear(g, x, w, NULL, &y);            // records a node; nothing runs yet
//   xf_graph_mark_output(g, y);
//   xf_tensor_upload(x, input, bytes);
//   xf_graph_compute(g);                     // plans memory, runs every node, waits once
//   xf_tensor_download(y, out, bytes);
//   xf_graph_destroy(g);
//   xf_context_destroy(ctx);
//
// Conventions:
// - Every function that can fail returns xf_status_t. XF_OK is 0. On failure the context's message
//   (xf_context_error) says what went wrong and what to do; calls that have no context yet set the
//   thread's message (xf_last_error). Out-parameters are written only on success.
// - Ownership: tensors made by xf_tensor_create belong to their context and live until
//   xf_tensor_destroy or xf_context_destroy. Tensors made by graph calls (inputs, op results, views)
//   belong to the graph and live until xf_graph_destroy. Getters borrow. Destroying NULL is a no-op.
// - Shapes are listed outermost first (PyTorch order), at most 4 dimensions. Dense tensors are
//   row-major. Weight matrices use PyTorch's layout: a linear layer's weight is [out, in].
// - Thread safety: a context and everything made from it must be used by one thread at a time;
//   separate contexts may be created, used and destroyed from any number of threads at once (the
//   library serialises the drivers' device enumeration, which is not thread-safe).
// - The library never aborts, exits or prints. Logging goes to an optional callback.
// - The ABI is unstable before version 1.0.

#ifndef XFORMER_H_
#define XFORMER_H_

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(_WIN32)
#define XF_API __declspec(dllexport)
#elif defined(__GNUC__)
#define XF_API __attribute__((visibility("default")))
#else
#define XF_API
#endif

// The version of this header; xf_version() is the library's. Before 1.0 every minor release may
// change the ABI, and the SONAME (libxformer.so.0.MINOR) changes with it.
#define XF_VERSION_MAJOR 0
#define XF_VERSION_MINOR 2
#define XF_VERSION_PATCH 0
#define XF_VERSION (XF_VERSION_MAJOR * 10000 + XF_VERSION_MINOR * 100 + XF_VERSION_PATCH)

// Maximum number of dimensions of a tensor.
#define XF_MAX_DIMS 4

//===----------------------------------------------------------------------===//
// Status
//===----------------------------------------------------------------------===//

// Result of every fallible call.
typedef enum xf_status_e {
    XF_OK = 0,
    // An argument is NULL, malformed, or of the wrong shape or dtype.
    XF_ERR_INVALID_ARGUMENT,
    // An index or value is outside the valid range (device index, axis, ...).
    XF_ERR_OUT_OF_RANGE,
    // A named thing (weight tensor, file, device) does not exist.
    XF_ERR_NOT_FOUND,
    // Host or device memory is exhausted.
    XF_ERR_OUT_OF_MEMORY,
    // The call is valid but not in the current state (e.g. download before compute).
    XF_ERR_FAILED_PRECONDITION,
    // The backend does not implement this operator or dtype.
    XF_ERR_UNIMPLEMENTED,
    // The backend is not compiled in, its driver is missing or it has no device.
    XF_ERR_UNAVAILABLE,
    // The device lacks a required feature (fp16 storage, ...).
    XF_ERR_INCOMPATIBLE,
    // A file (model, cache) is corrupt or truncated.
    XF_ERR_DATA_LOSS,
    // The device was lost; the context must be destroyed and created again.
    XF_ERR_DEVICE_LOST,
    // The driver reported an error that has no better mapping; the message carries its code.
    XF_ERR_BACKEND,
    // A bug in libxformer. Please report it with the message.
    XF_ERR_INTERNAL,
} xf_status_t;

// The version of the library linked at run time, as XF_VERSION encodes it (0.2.0 is 200), and as a
// static string ("0.2.0").
XF_API int xf_version(void);
XF_API const char* xf_version_string(void);

// Returns a static, human-readable name for |status| ("invalid argument", ...).
XF_API const char* xf_status_string(xf_status_t status);

// Returns the message of the last failed context-less call on this thread (xf_context_create,
// xf_device_list, ...). Never NULL; empty when there was none.
XF_API const char* xf_last_error(void);

//===----------------------------------------------------------------------===//
// Devices and contexts
//===----------------------------------------------------------------------===//

typedef enum xf_backend_e {
    // The best available GPU backend (Vulkan, then OpenCL), else the CPU.
    XF_BACKEND_AUTO = 0,
    XF_BACKEND_CPU,
    XF_BACKEND_OPENCL,
    XF_BACKEND_VULKAN,
    // Take the backend from the XFORMER_BACKEND environment variable (the default).
    XF_BACKEND_FROM_ENV,
} xf_backend_t;

typedef enum xf_device_type_e {
    XF_DEVICE_TYPE_OTHER = 0,
    XF_DEVICE_TYPE_DISCRETE_GPU,
    XF_DEVICE_TYPE_INTEGRATED_GPU,
    XF_DEVICE_TYPE_ACCELERATOR,
    XF_DEVICE_TYPE_CPU,
} xf_device_type_t;

// What a device is and what it can do.
typedef struct xf_device_info_s {
    xf_backend_t backend;
    // Index among the backend's devices, as XFORMER_DEVICE takes it.
    int index;
    xf_device_type_t type;
    char name[256];
    // Platform (OpenCL) or driver name (Vulkan); "host" for the CPU backend.
    char platform[256];
    char driver_version[128];
    // API version the device supports ("OpenCL 3.0", "Vulkan 1.3.230").
    char api_version[64];
    bool fp16;       // f16 tensors are supported
    bool subgroups;  // subgroup arithmetic is used
    uint32_t subgroup_size;
    uint64_t global_memory_bytes;
    uint64_t max_buffer_bytes;      // largest single buffer binding
    // Largest single device allocation (OpenCL CL_DEVICE_MAX_MEM_ALLOC_SIZE, Vulkan maxMemoryAllocationSize);
    // a graph's intermediates are spread over buffers of at most this size.
    uint64_t max_allocation_bytes;
    uint64_t shared_memory_bytes;   // local / shared memory per work-group
    uint32_t max_workgroup_size;
    // Kernel style chosen for this device: "cpu" (barrier-free, wide vectors) or "gpu" (tiled).
    char kernel_style[16];
} xf_device_info_t;

typedef enum xf_log_level_e {
    XF_LOG_ERROR = 0,
    XF_LOG_WARN,
    XF_LOG_INFO,
    XF_LOG_DEBUG,
} xf_log_level_t;

typedef void (*xf_log_fn)(void* user_data, xf_log_level_t level, const char* message);

// Kernel style: barrier-free register-blocked kernels (what CPU devices run fastest) or shared/local
// memory tiles (GPUs). AUTO lets the device's type and limits decide.
typedef enum xf_kernel_style_e {
    XF_KERNELS_AUTO = 0,
    XF_KERNELS_CPU,
    XF_KERNELS_GPU,
} xf_kernel_style_t;

// Attention on CPU-style kernels: AUTO (split into two GEMMs and a softmax while the score matrix fits
// the scratch budget, else fused), or one of them always.
typedef enum xf_attention_variant_e {
    XF_ATTENTION_AUTO = 0,
    XF_ATTENTION_FUSED,
    XF_ATTENTION_SPLIT,
} xf_attention_variant_t;

// Kernel-parameter tuning when a graph is prepared (XFORMER_TUNE=off|fast|full overrides it). OFF uses
// parameters tuned earlier on this device (the tuning cache in the cache directory), else defaults
// chosen by device class; FAST times a few candidates for each kernel and shape the graph uses that
// the cache lacks (seconds per model, once per device); FULL times a wider set. Results persist in
// the cache directory, keyed by device, driver and kernel source.
typedef enum xf_tune_e {
    XF_TUNE_OFF = 0,
    XF_TUNE_FAST,
    XF_TUNE_FULL,
} xf_tune_t;

// Optional device features a context may leave unused (bits of disable_features).
#define XF_FEATURE_FP16 1u      // 16-bit storage: f16 tensors are then refused
#define XF_FEATURE_SUBGROUP 2u  // subgroup arithmetic and shuffles

// Options for xf_context_create; fill with xf_context_options_init.
// Host memory for what libxformer allocates on behalf of a context: the context itself, tensors, graphs,
// plans, backend state, model files and configs. The functions behave like malloc, realloc and free
// (max_align_t alignment, NULL on failure, free(NULL) does nothing) and may be called from any thread that
// uses the context. All NULL (the default) means the C library's. A failed allocation makes the call return
// XF_ERR_OUT_OF_MEMORY and leaves the caller's state as it was. Drivers (OpenCL, Vulkan) keep their own.
typedef struct xf_allocator_s {
    void* (*alloc)(void* user_data, size_t size);
    void* (*realloc)(void* user_data, void* ptr, size_t size);
    void (*free)(void* user_data, void* ptr);
    void* user_data;
} xf_allocator_t;

typedef struct xf_context_options_s {
    // Backend to use. XF_BACKEND_FROM_ENV (the default) reads XFORMER_BACKEND
    // (cpu|opencl|vulkan|auto; unset means auto).
    xf_backend_t backend;
    // Device index among the backend's devices; -1 (the default) reads XFORMER_DEVICE (unset: 0).
    int device;
    // Optional log sink; messages at or below |log_level| are passed to it. The default level
    // comes from XFORMER_LOG (error|warn|info|debug; unset: warn).
    xf_log_fn log_fn;
    void* log_user_data;
    int log_level;  // -1 = from XFORMER_LOG
    // Kernel variants. The environment overrides them when set: XFORMER_KERNELS=cpu|gpu,
    // XFORMER_ATTENTION=fused|split, XFORMER_DISABLE=fp16,subgroup, XFORMER_TUNE=off|fast|full (an
    // unknown value is an error).
    xf_kernel_style_t kernels;
    xf_attention_variant_t attention;
    unsigned disable_features;  // XF_FEATURE_* bits
    xf_tune_t tune;
    // Host memory (see xf_allocator_t); must outlive the context.
    xf_allocator_t allocator;
    // Bytes one kernel binding may address, below the device's own limit (Vulkan: maxStorageBufferRange,
    // where larger operands run in pieces; OpenCL: CL_DEVICE_MAX_MEM_ALLOC_SIZE, the largest buffer, over
    // which a graph's intermediates are spread); 0 (the default) means the device's. Tests set a small value
    // so those paths run on small tensors. At least 4096.
    uint64_t max_binding_bytes;
} xf_context_options_t;

// Fills |out_options| with defaults: backend and device from the environment, no log sink.
XF_API void xf_context_options_init(xf_context_options_t* out_options);

typedef struct xf_context_s xf_context_t;

// Creates a context on one device. |options| may be NULL for the defaults.
// An unknown XFORMER_BACKEND / XFORMER_DEVICE value, a backend that is not compiled in, or one
// without devices fails with a message naming the valid choices; only XF_BACKEND_AUTO falls back.
// Returns XF_ERR_INVALID_ARGUMENT, XF_ERR_OUT_OF_RANGE or XF_ERR_UNAVAILABLE; see xf_last_error().
XF_API xf_status_t xf_context_create(const xf_context_options_t* options, xf_context_t** out_context);

// Destroys |context|, its tensors and its device resources. Graphs made from it must be destroyed
// first.
XF_API void xf_context_destroy(xf_context_t* context);

// Returns the message of the context's last failed call. Never NULL.
XF_API const char* xf_context_error(const xf_context_t* context);

// Describes the context's device.
XF_API xf_status_t xf_context_device_info(const xf_context_t* context, xf_device_info_t* out_info);

// Lists the devices of every compiled-in backend, ranked per backend as XFORMER_DEVICE indexes
// them. Writes up to |capacity| entries to |out_devices| (may be NULL when |capacity| is 0) and the
// total count to |out_count|. Backends whose driver is missing contribute no entries.
XF_API xf_status_t xf_device_list(xf_device_info_t* out_devices, size_t capacity, size_t* out_count);

// Returns the name of |backend| ("cpu", "opencl", "vulkan", "auto").
XF_API const char* xf_backend_name(xf_backend_t backend);

// Reports whether |backend| was compiled into this build.
XF_API bool xf_backend_compiled(xf_backend_t backend);
// The backend named |name| ("cpu", "opencl", "vulkan", "auto"): XF_OK, XF_ERR_UNAVAILABLE when this
// build lacks it (*out_backend is still set), XF_ERR_INVALID_ARGUMENT for an unknown name.
XF_API xf_status_t xf_backend_from_name(const char* name, xf_backend_t* out_backend);
// Writes up to |capacity| compiled-in backends (the CPU reference first) and returns how many there are.
XF_API size_t xf_backend_list(xf_backend_t* out_backends, size_t capacity);

//===----------------------------------------------------------------------===//
// Tensors
//===----------------------------------------------------------------------===//

typedef enum xf_dtype_e {
    XF_DTYPE_F32 = 0,
    XF_DTYPE_F16,   // IEEE half, as storage; arithmetic is f32
    XF_DTYPE_I32,   // indices (argmax results, gather indices)
    XF_DTYPE_BF16,  // bfloat16 (the top half of an f32), as storage
    XF_DTYPE_I8,    // signed 8-bit integer: the storage of quantized weights (xf_tensor_set_scale)
} xf_dtype_t;

// Returns the size in bytes of one element of |dtype|, 0 if unknown.
XF_API size_t xf_dtype_size(xf_dtype_t dtype);
// Returns "f32", "f16", "i32", "bf16", "i8".
XF_API const char* xf_dtype_name(xf_dtype_t dtype);

typedef struct xf_tensor_s xf_tensor_t;

// Creates a tensor with its own device storage (a weight, or data shared between graphs).
// |name| may be NULL; a named tensor can be found with xf_context_find_tensor. The contents are
// undefined until uploaded.
// Returns XF_ERR_INVALID_ARGUMENT for a bad shape or dtype, XF_ERR_OUT_OF_MEMORY when the device is
// full, and XF_ERR_INVALID_ARGUMENT when the name is taken.
XF_API xf_status_t xf_tensor_create(xf_context_t* context, const char* name, xf_dtype_t dtype, int ndim,
                                    const int64_t* shape, xf_tensor_t** out_tensor);

// Destroys a tensor made by xf_tensor_create. Graphs that use it must be destroyed first.
XF_API void xf_tensor_destroy(xf_tensor_t* tensor);

// Makes |weight| (an i8 context tensor [N, K], a linear layer's [out, in]) a quantized weight whose
// element (n, k) means weight[n, k] * scale[...] with |scale| an f32 or f16 context tensor of shape
//   [N]                   symmetric int8, one scale per output channel, or
//   [N, ceil(K / 32)]     blocks of 32 along K with one scale each (the arithmetic of ggml's Q8_0;
//                         the scales are kept apart from the int8 values, docs/MODELS.md).
// xf_matmul (with transpose_b) and xf_linear then read it through its scale on every backend, in
// registers, with no widened copy. NULL |scale| detaches it; destroying the scale detaches it too.
XF_API xf_status_t xf_tensor_set_scale(xf_tensor_t* weight, xf_tensor_t* scale);

// Copies |bytes| of host data, in the tensor's dtype and row-major order, to the whole tensor.
// Works on tensors from xf_tensor_create and on graph inputs. |bytes| must equal xf_tensor_bytes.
XF_API xf_status_t xf_tensor_upload(xf_tensor_t* tensor, const void* data, size_t bytes);

// Copies the whole tensor to host memory. Works on tensors with storage and on graph outputs
// after xf_graph_compute (XF_ERR_FAILED_PRECONDITION before).
XF_API xf_status_t xf_tensor_download(const xf_tensor_t* tensor, void* data, size_t bytes);

// Like upload/download, converting from/to f32 host data for f16 tensors. |count| is in elements.
XF_API xf_status_t xf_tensor_upload_f32(xf_tensor_t* tensor, const float* data, size_t count);
XF_API xf_status_t xf_tensor_download_f32(const xf_tensor_t* tensor, float* data, size_t count);

XF_API xf_dtype_t xf_tensor_dtype(const xf_tensor_t* tensor);
XF_API int xf_tensor_ndim(const xf_tensor_t* tensor);
// Returns the size of dimension |axis| (negative counts from the end), or 0 if out of range.
XF_API int64_t xf_tensor_dim(const xf_tensor_t* tensor, int axis);
XF_API int64_t xf_tensor_elements(const xf_tensor_t* tensor);
XF_API size_t xf_tensor_bytes(const xf_tensor_t* tensor);
// Returns the tensor's name, "" if it has none.
XF_API const char* xf_tensor_name(const xf_tensor_t* tensor);

// Finds a context tensor by name. Returns XF_ERR_NOT_FOUND if there is none.
XF_API xf_status_t xf_context_find_tensor(xf_context_t* context, const char* name, xf_tensor_t** out_tensor);

// Converts between IEEE half and float (round to nearest even).
XF_API uint16_t xf_f32_to_f16(float value);
XF_API float xf_f16_to_f32(uint16_t value);
// bfloat16 conversions (round to nearest even; NaN stays NaN).
XF_API uint16_t xf_f32_to_bf16(float value);
XF_API float xf_bf16_to_f32(uint16_t value);

//===----------------------------------------------------------------------===//
// Graphs
//===----------------------------------------------------------------------===//

typedef struct xf_graph_s xf_graph_t;

// Creates an empty graph on |context|. Operator calls append nodes; nothing runs until
// xf_graph_compute.
XF_API xf_status_t xf_graph_create(xf_context_t* context, xf_graph_t** out_graph);

// Destroys |graph|, its nodes, inputs, intermediates and device memory.
XF_API void xf_graph_destroy(xf_graph_t* graph);

// Declares an input of the graph. Upload data to it before each xf_graph_compute.
XF_API xf_status_t xf_graph_input(xf_graph_t* graph, const char* name, xf_dtype_t dtype, int ndim,
                                  const int64_t* shape, xf_tensor_t** out_tensor);

// Keeps |tensor| (a result of an op of this graph) after compute, so it can be downloaded.
// Outputs get memory of their own and are never reused for intermediates.
XF_API xf_status_t xf_graph_mark_output(xf_graph_t* graph, xf_tensor_t* tensor);

// Runs every node of |graph| on the context's device and waits once for the results. The first
// call plans intermediate memory, allocates it and prepares kernels; later calls reuse all of that,
// so a graph runs many times with new input data. Node failures name the node.
XF_API xf_status_t xf_graph_compute(xf_graph_t* graph);

// Disables (|enabled| = false) or enables memory reuse between intermediates. Must be called
// before the first compute. Reuse is on by default; turning it off is for debugging and tests.
XF_API xf_status_t xf_graph_set_memory_reuse(xf_graph_t* graph, bool enabled);

typedef struct xf_graph_stats_s {
    size_t nodes;                  // operator nodes, including inserted copies
    size_t intermediates;          // tensors placed by the planner
    size_t intermediate_bytes_sum; // their sizes added up
    size_t peak_intermediate_bytes;// size of the planned pool, backend scratch included
    size_t pool_buffers;           // device buffers the pool is spread over (xf_device_info_t.max_allocation_bytes)
    size_t peak_scratch_bytes;     // the largest temporary memory one node asked the backend for
    size_t inplace_reuses;         // results written over a dying input
    uint64_t computes;             // xf_graph_compute calls that succeeded
    uint64_t submissions;          // device submissions over all computes (1 per compute on GPUs)
    uint64_t dispatches;           // kernel dispatches over all computes
    size_t repacked_weight_bytes;  // device memory of weight copies the backend keeps in the layout its
                                   // kernels read (OpenCL CPU-style GEMM panels), on top of the weights
} xf_graph_stats_t;

// Reports the graph's size and memory plan. Memory figures are valid after the first compute
// (or xf_graph_plan).
XF_API xf_status_t xf_graph_stats(const xf_graph_t* graph, xf_graph_stats_t* out_stats);

// Plans memory and prepares kernels without running anything.
XF_API xf_status_t xf_graph_plan(xf_graph_t* graph);

//===----------------------------------------------------------------------===//
// Operators
//
// Each call validates shapes and dtypes, appends a node and returns its result tensor. The result
// belongs to the graph. Inputs may be context tensors, graph inputs or results of earlier nodes of
// the same graph. Float inputs of one op share one dtype (f32 or f16), except a matmul's B (see
// xf_matmul); the result has that dtype.
//===----------------------------------------------------------------------===//

typedef enum xf_activation_e {
    XF_ACT_NONE = 0,
    XF_ACT_GELU,       // x * Φ(x), the erf form
    XF_ACT_GELU_TANH,  // the tanh approximation
    XF_ACT_SILU,       // x * sigmoid(x)
    XF_ACT_RELU,
    XF_ACT_QUICK_GELU, // x * sigmoid(1.702 x) (OpenAI CLIP)
} xf_activation_t;

// Options for xf_matmul; zero-initialised means plain A·B.
typedef struct xf_matmul_options_s {
    bool transpose_b;        // B is [..., N, K] (PyTorch linear weight layout)
    xf_tensor_t* bias;       // [N], added to every row; may be NULL
    xf_activation_t activation; // applied after the bias
    xf_tensor_t* residual;   // same shape as the result, added last; may be NULL
} xf_matmul_options_t;

// Computes act(A·B + bias) + residual.
// |a|: [..., M, K]; |b|: [..., K, N] (or [..., N, K] with transpose_b). Leading (batch) dims
// broadcast: each of B's is 1 or equal to A's. Result: [..., M, N] with A's batch dims.
// B alone may have its own float dtype (f32, f16 or bf16 weights under f32 or f16 activations) on
// every backend: the kernels read it as stored and accumulate in f32, with no widened copy. An i8 B
// is a quantized weight (xf_tensor_set_scale): 2-D, with transpose_b.
XF_API xf_status_t xf_matmul(xf_graph_t* graph, xf_tensor_t* a, xf_tensor_t* b,
                             const xf_matmul_options_t* options, xf_tensor_t** out);

// Computes x·Wᵀ + bias for a PyTorch linear layer: |x| [..., K], |weight| [N, K], |bias| [N] or
// NULL. Result [..., N].
XF_API xf_status_t xf_linear(xf_graph_t* graph, xf_tensor_t* x, xf_tensor_t* weight, xf_tensor_t* bias,
                             xf_tensor_t** out);

// Element-wise a + b, a - b, a * b, a / b and a^b with NumPy broadcasting (dims aligned from the end,
// each 1 or equal). xf_pow follows C's powf: a negative base needs an integer exponent.
XF_API xf_status_t xf_add(xf_graph_t* graph, xf_tensor_t* a, xf_tensor_t* b, xf_tensor_t** out);
XF_API xf_status_t xf_sub(xf_graph_t* graph, xf_tensor_t* a, xf_tensor_t* b, xf_tensor_t** out);
XF_API xf_status_t xf_mul(xf_graph_t* graph, xf_tensor_t* a, xf_tensor_t* b, xf_tensor_t** out);
XF_API xf_status_t xf_div(xf_graph_t* graph, xf_tensor_t* a, xf_tensor_t* b, xf_tensor_t** out);
XF_API xf_status_t xf_pow(xf_graph_t* graph, xf_tensor_t* a, xf_tensor_t* b, xf_tensor_t** out);
// Selects |a| where |cond| is non-zero, else |b|, with broadcasting of all three to the shape of a
// and b. |cond| is i32 or has the dtype of a and b.
XF_API xf_status_t xf_where(xf_graph_t* graph, xf_tensor_t* cond, xf_tensor_t* a, xf_tensor_t* b,
                            xf_tensor_t** out);
// Computes x * scale + shift element-wise.
XF_API xf_status_t xf_scale(xf_graph_t* graph, xf_tensor_t* x, float scale, float shift, xf_tensor_t** out);

// LayerNorm over the last axis: (x - mean) / sqrt(var + eps) * weight + bias. |weight| and |bias|
// are [C] or NULL. Statistics are computed in f32.
XF_API xf_status_t xf_layernorm(xf_graph_t* graph, xf_tensor_t* x, xf_tensor_t* weight, xf_tensor_t* bias,
                                float eps, xf_tensor_t** out);
// RMSNorm over the last axis: x / sqrt(mean(x²) + eps) * weight. |weight| is [C] or NULL.
XF_API xf_status_t xf_rmsnorm(xf_graph_t* graph, xf_tensor_t* x, xf_tensor_t* weight, float eps,
                              xf_tensor_t** out);

// Softmax over the last axis of x * scale + mask. |mask| is NULL or broadcastable to |x|.
XF_API xf_status_t xf_softmax(xf_graph_t* graph, xf_tensor_t* x, float scale, xf_tensor_t* mask,
                              xf_tensor_t** out);

// Applies |activation| element-wise.
XF_API xf_status_t xf_activation(xf_graph_t* graph, xf_tensor_t* x, xf_activation_t activation,
                                 xf_tensor_t** out);
// Element-wise math in f32: sqrt(x), e^x, erf(x), tanh(x), 1 / (1 + e^-x), -x, |x|.
XF_API xf_status_t xf_sqrt(xf_graph_t* graph, xf_tensor_t* x, xf_tensor_t** out);
XF_API xf_status_t xf_exp(xf_graph_t* graph, xf_tensor_t* x, xf_tensor_t** out);
XF_API xf_status_t xf_erf(xf_graph_t* graph, xf_tensor_t* x, xf_tensor_t** out);
XF_API xf_status_t xf_tanh(xf_graph_t* graph, xf_tensor_t* x, xf_tensor_t** out);
XF_API xf_status_t xf_sigmoid(xf_graph_t* graph, xf_tensor_t* x, xf_tensor_t** out);
XF_API xf_status_t xf_neg(xf_graph_t* graph, xf_tensor_t* x, xf_tensor_t** out);
XF_API xf_status_t xf_abs(xf_graph_t* graph, xf_tensor_t* x, xf_tensor_t** out);
// Clamps x to [lo, hi] (lo <= hi).
XF_API xf_status_t xf_clip(xf_graph_t* graph, xf_tensor_t* x, float lo, float hi, xf_tensor_t** out);

// Gated unit: splits the last axis of |x| [..., 2H] into a = x[..., :H] and b = x[..., H:] and
// returns act(a) * b, [..., H]. XF_ACT_SILU gives SwiGLU, XF_ACT_GELU GEGLU.
XF_API xf_status_t xf_glu(xf_graph_t* graph, xf_tensor_t* x, xf_activation_t activation, xf_tensor_t** out);

// Fused scaled-dot-product attention: softmax(q·kᵀ * scale + bias)·v.
// |q| [B, H, Lq, D], |k| [B, H, Lk, D], |v| [B, H, Lk, Dv]; |bias| NULL or broadcastable to
// [B, H, Lq, Lk]. Result [B, H, Lq, Dv]. Lq may differ from Lk. Softmax is computed in f32.
XF_API xf_status_t xf_attention(xf_graph_t* graph, xf_tensor_t* q, xf_tensor_t* k, xf_tensor_t* v,
                                xf_tensor_t* bias, float scale, xf_tensor_t** out);

typedef struct xf_window_attention_params_s {
    int window[2];     // window (h, w) in tokens
    int shift[2];      // cyclic shift (h, w), each in [0, window); 0 along an axis: no shift there
    int heads;         // C / heads is the head size
    float scale;       // applied to q; 0 means 1 / sqrt(head size)
    float mask_value;  // added to the scores of token pairs from different regions of a shifted window
                       // (timm: -100)
} xf_window_attention_params_t;

// Shifted-window multi-head self-attention (Swin W-MSA / SW-MSA) on a token grid, in one kernel.
// |qkv| [B, H, W, 3C] holds each token's q, k and v (C each, head h at channels h*C/heads..);
// |table| [(2wh-1)(2ww-1), heads] is the relative-position bias table; |index| NULL for timm's
// relative-position index, or i32 [wh*ww, wh*ww] of rows of |table|; |pad_qkv| NULL or [3C]: the
// qkv of the tokens that pad the grid to whole windows (a zero token's projection: the qkv bias).
// As timm: the grid is rolled by -shift, padded at the end to whole windows, split into windows;
// scores q.k^T * scale + bias (+ mask_value across the regions a shift brings together) go through
// a softmax to weight v. Result [B, H, W, C] in the grid's own order (rolled back, padding dropped).
// Nothing is materialised: windows, roll, bias and mask are computed in the kernel.
XF_API xf_status_t xf_window_attention(xf_graph_t* graph, xf_tensor_t* qkv, xf_tensor_t* table, xf_tensor_t* index,
                                       xf_tensor_t* pad_qkv, const xf_window_attention_params_t* params,
                                       xf_tensor_t** out);

typedef struct xf_conv2d_params_s {
    int stride[2];    // (h, w); 0 means 1
    int padding[2];   // (h, w), zero padding on both sides
    int dilation[2];  // (h, w); 0 means 1
    int groups;       // 0 means 1; C_in for depthwise
} xf_conv2d_params_t;

// 2-D convolution (cross-correlation, as PyTorch). |x| [N, C, H, W], |weight| [O, C/groups, KH, KW],
// |bias| [O] or NULL. |params| NULL means stride 1, no padding. Result [N, O, Ho, Wo].
XF_API xf_status_t xf_conv2d(xf_graph_t* graph, xf_tensor_t* x, xf_tensor_t* weight, xf_tensor_t* bias,
                             const xf_conv2d_params_t* params, xf_tensor_t** out);

// Bilinear resize of |x| [N, C, H, W] to [N, C, out_h, out_w], with PyTorch's align_corners
// semantics for both values of |align_corners|.
XF_API xf_status_t xf_resize_bilinear(xf_graph_t* graph, xf_tensor_t* x, int64_t out_h, int64_t out_w,
                                      bool align_corners, xf_tensor_t** out);

// Concatenates 1 to 4 tensors along |axis| (negative counts from the end). Other dims must match.
XF_API xf_status_t xf_concat(xf_graph_t* graph, xf_tensor_t* const* inputs, int count, int axis,
                             xf_tensor_t** out);

// Reorders dimensions: result dim i is input dim perm[i]. A view: no copy until an op needs
// contiguous data.
XF_API xf_status_t xf_permute(xf_graph_t* graph, xf_tensor_t* x, const int* perm, xf_tensor_t** out);
// Swaps two dimensions (a permute).
XF_API xf_status_t xf_transpose(xf_graph_t* graph, xf_tensor_t* x, int axis0, int axis1, xf_tensor_t** out);
// Gives |x| a new shape with the same element count; one entry may be -1. A view when |x| is
// contiguous, else a copy.
XF_API xf_status_t xf_reshape(xf_graph_t* graph, xf_tensor_t* x, int ndim, const int64_t* shape,
                              xf_tensor_t** out);
// Takes indices [start, end) of |axis| (a view).
XF_API xf_status_t xf_slice(xf_graph_t* graph, xf_tensor_t* x, int axis, int64_t start, int64_t end,
                            xf_tensor_t** out);
// Makes a contiguous copy of |x|, converting to |dtype| (f32, f16, bf16).
XF_API xf_status_t xf_cast(xf_graph_t* graph, xf_tensor_t* x, xf_dtype_t dtype, xf_tensor_t** out);

// Sum, mean, maximum and minimum over |axis| (negative counts from the end), accumulated in f32; the
// axis is kept with size 1 if |keepdim|, else removed.
XF_API xf_status_t xf_sum(xf_graph_t* graph, xf_tensor_t* x, int axis, bool keepdim, xf_tensor_t** out);
XF_API xf_status_t xf_mean(xf_graph_t* graph, xf_tensor_t* x, int axis, bool keepdim, xf_tensor_t** out);
XF_API xf_status_t xf_max(xf_graph_t* graph, xf_tensor_t* x, int axis, bool keepdim, xf_tensor_t** out);
XF_API xf_status_t xf_min(xf_graph_t* graph, xf_tensor_t* x, int axis, bool keepdim, xf_tensor_t** out);

// Cyclic shift (torch.roll): along each of |axes| [naxes], element i moves to (i + shift) mod dim.
// Shifts may be negative or exceed the dim.
XF_API xf_status_t xf_roll(xf_graph_t* graph, xf_tensor_t* x, int naxes, const int* axes, const int64_t* shifts,
                           xf_tensor_t** out);

// Constant padding: |before| and |after| hold one non-negative count per dim of |x|; the new
// elements are |value|.
XF_API xf_status_t xf_pad(xf_graph_t* graph, xf_tensor_t* x, const int64_t* before, const int64_t* after,
                          float value, xf_tensor_t** out);

// Index of the largest value along the last axis (first one on ties), as i32; that axis is removed.
XF_API xf_status_t xf_argmax(xf_graph_t* graph, xf_tensor_t* x, xf_tensor_t** out);

// Gathers entries of |x| along |axis| at the i32 |indices| [M] (each in [0, dim)). The result has
// M in place of that axis. Out-of-range indices give zeros.
XF_API xf_status_t xf_gather(xf_graph_t* graph, xf_tensor_t* x, int axis, xf_tensor_t* indices,
                             xf_tensor_t** out);

//===----------------------------------------------------------------------===//
// Transformer blocks
//===----------------------------------------------------------------------===//

typedef enum xf_norm_e {
    XF_NORM_LAYERNORM = 0,
    XF_NORM_RMSNORM,
} xf_norm_t;

// Weight names inside a block, relative to its prefix; ".weight"/".bias" are appended.
// NULL members take the timm ViT names shown. Set |qkv| to NULL and |q|, |k|, |v| for separate
// projections.
typedef struct xf_block_names_s {
    const char* norm1;      // "norm1"
    const char* qkv;        // "attn.qkv"  (fused [3C, C])
    const char* q;          // separate projections, used when qkv is ""
    const char* k;
    const char* v;
    const char* proj;       // "attn.proj"
    const char* sr;         // "attn.sr"   (spatial-reduction conv, sr_ratio > 1)
    const char* sr_norm;    // "attn.norm" (LayerNorm after it)
    const char* norm2;      // "norm2"
    const char* fc1;        // "mlp.fc1"
    const char* dwconv;     // "mlp.dwconv" (Mix-FFN depthwise 3x3)
    const char* fc2;        // "mlp.fc2"
    const char* q_norm;     // "attn.q_norm" (qk_norm: over each head's queries, [C / heads])
    const char* k_norm;     // "attn.k_norm"
} xf_block_names_t;

// A transformer encoder block: x + attn(norm1(x)), then + mlp(norm2(x)) (pre-norm), or
// norm1(x + attn(x)), norm2(· + mlp(·)) (post-norm).
typedef struct xf_block_desc_s {
    int64_t dim;           // C, the token width
    int64_t heads;         // attention heads; C % heads == 0
    int64_t mlp_hidden;    // MLP hidden width
    xf_norm_t norm;
    bool post_norm;        // false: pre-norm (ViT); true: post-norm (BERT)
    float norm_eps;        // 0 means 1e-6
    xf_activation_t activation; // MLP activation; XF_ACT_NONE means GELU
    bool qkv_bias;         // q/k/v projections have biases
    int sr_ratio;          // > 1: keys/values come from a strided conv over the H×W token grid (SegFormer)
    bool mix_ffn;          // depthwise 3x3 conv between fc1 and the activation (SegFormer Mix-FFN)
    const xf_block_names_t* names; // NULL: timm names
    bool qk_norm;          // the block's norm over each head's queries and keys before attention (timm qk_norm)
} xf_block_desc_t;

// Fills |out_desc| with a ViT-style pre-norm LayerNorm GELU block of width |dim|.
XF_API void xf_block_desc_init(xf_block_desc_t* out_desc, int64_t dim, int64_t heads, int64_t mlp_hidden);

// Appends one block to |graph|. |x| is [B, N, C]; |grid_h| × |grid_w| must equal N when sr_ratio > 1
// or mix_ffn (else pass 0, 0). Weights are looked up in the context by |prefix| + name; a missing
// or mis-shaped weight is XF_ERR_NOT_FOUND / XF_ERR_INVALID_ARGUMENT naming the tensor.
XF_API xf_status_t xf_graph_block(xf_graph_t* graph, const xf_block_desc_t* desc, const char* prefix,
                                  xf_tensor_t* x, int64_t grid_h, int64_t grid_w, xf_tensor_t** out);

//===----------------------------------------------------------------------===//
// Models
//===----------------------------------------------------------------------===//

typedef enum xf_model_arch_e {
    // Vision Transformer / DeiT image classifier with timm tensor names.
    XF_MODEL_ARCH_VIT = 1,
    // SegFormer (MiT encoder + all-MLP decoder) with Hugging Face transformers tensor names.
    XF_MODEL_ARCH_SEGFORMER,
    // Swin Transformer image classifier with timm tensor names.
    XF_MODEL_ARCH_SWIN,
    // A graph imported from an ONNX file (docs/MODELS.md lists the operators and opsets).
    XF_MODEL_ARCH_ONNX,
} xf_model_arch_t;

typedef enum xf_model_task_e {
    XF_MODEL_TASK_CLASSIFICATION = 1,  // logits [batch, classes]
    XF_MODEL_TASK_SEGMENTATION,        // logits [batch, classes, H/4, W/4]; masks via xf_model_mask
    XF_MODEL_TASK_GENERIC,             // an ONNX graph of other inputs and outputs: xf_model_run_io
} xf_model_task_t;

// Device storage of a model's linear-layer weights (the [out, in] matrices every matmul reads as its B
// operand: attention, MLP, head), which are most of its memory. Other weights (norms, biases,
// convolutions, embeddings) are f32. Files may hold int8 linear weights with their scales (made by
// tools/quantize.py, docs/MODELS.md); AS_STORED and F16 keep them int8, F32 widens them.
typedef enum xf_model_weights_e {
    XF_MODEL_WEIGHTS_AS_STORED = 0,  // the file's type: f16 and bf16 stay half on the device, f32 stays f32
    XF_MODEL_WEIGHTS_F16,            // f32 ones are stored as f16 too (half the memory; about 5e-4 relative
                                     // rounding per weight); bf16 ones stay bf16
    XF_MODEL_WEIGHTS_F32,            // all widened to f32
    XF_MODEL_WEIGHTS_INT8_CHANNEL,   // quantized at load: int8 with one f32 scale per output channel
    XF_MODEL_WEIGHTS_INT8_BLOCK32,   // quantized at load: int8 with one f16 scale per 32 inputs (Q8_0)
} xf_model_weights_t;

// Options for xf_model_load; fill with xf_model_options_init.
typedef struct xf_model_options_s {
    // Input size the graph is built for; 0 means the size in the model's config. A ViT whose size
    // differs from its training size gets its position embeddings resampled at load time (bicubic
    // with antialiasing, as timm; see docs/MODELS.md) and uses a floor(H / patch) x floor(W / patch)
    // grid. A SegFormer takes any size large enough for its strides and reduction ratios.
    int64_t input_height;
    int64_t input_width;
    // Optional path of the JSON config; NULL means "__metadata__"["config"] of the model file, else
    // config.json in the model's directory.
    const char* config_path;
    // Bounds on what a model file may ask for, so that files from elsewhere cannot make a load
    // take unbounded time or memory; 0 means the default. A load past one fails before the work
    // with XF_ERR_OUT_OF_RANGE, naming the option.
    int64_t max_input_pixels;  // input height x width (default XF_MODEL_DEFAULT_MAX_INPUT_PIXELS)
    int64_t max_tokens;        // the longest token sequence of any layer (ViT: patches plus class and
                               // distillation tokens; SegFormer: the first stage's H/4 x W/4)
                               // (default XF_MODEL_DEFAULT_MAX_TOKENS)
    int64_t max_bytes;         // device memory for weights (as f32) plus planned intermediates
                               // (default XF_MODEL_DEFAULT_MAX_BYTES)
    // Images per xf_model_run: the graph is built for this batch (0 means 1, at most
    // XF_MODEL_MAX_BATCH). Each image's result equals a run of that image alone, within the op tolerances.
    int64_t batch;
    // Storage of the linear-layer weights on the device (XF_MODEL_WEIGHTS_AS_STORED by default). Weights
    // the loader builds from others (q, k and v joined, norms folded in) take the file's float type.
    xf_model_weights_t weights;
} xf_model_options_t;

#define XF_MODEL_MAX_BATCH ((int64_t)4096)

#define XF_MODEL_DEFAULT_MAX_INPUT_PIXELS ((int64_t)4096 * 4096)
#define XF_MODEL_DEFAULT_MAX_TOKENS ((int64_t)65536)
#define XF_MODEL_DEFAULT_MAX_BYTES ((int64_t)16 << 30)

// Fills |out_options| with defaults: the configured input size, the config from the file.
XF_API void xf_model_options_init(xf_model_options_t* out_options);

typedef struct xf_model_s xf_model_t;

// How xf_model_preprocess resizes (the config's "interpolation"; docs/MODELS.md).
typedef enum xf_interpolation_e {
    XF_INTERPOLATION_DEFAULT = 0,  // libxformer's tensor pipeline: bilinear on f32, no antialiasing
    XF_INTERPOLATION_BICUBIC,      // timm / Hugging Face evaluation on Pillow: antialiased bicubic on 8 bits
    XF_INTERPOLATION_BILINEAR,     // the same with Pillow's antialiased bilinear
} xf_interpolation_t;

// What a loaded model is and what it expects. Strings are owned by the model.
typedef struct xf_model_info_s {
    xf_model_arch_t arch;
    xf_model_task_t task;
    const char* architecture;  // "vit", "segformer" or "swin"
    int64_t batch;             // images per xf_model_run (xf_model_options_t.batch)
    int64_t input_channels;    // C of the input tensor [batch, C, H, W]
    int64_t input_height;      // H, W the graph was built for
    int64_t input_width;
    int64_t input_elements;  // C * H * W, one image
    int64_t classes;         // number of logits per position
    int64_t output_height;   // 1 for classifiers; H/4 for SegFormer
    int64_t output_width;
    int64_t output_elements;  // classes * output_height * output_width, one image
    float mean[4];            // per-channel normalisation used by xf_model_preprocess
    float std[4];
    float crop_pct;      // ViT: resize the short side to floor(size / crop_pct), then crop
    xf_interpolation_t interpolation;
    int64_t parameters;  // weights loaded, in elements
    int64_t weight_bytes;  // device memory of the weights and constants as stored (xf_model_options_t.weights)
    bool has_labels;     // labels came with the config or xf_model_load_labels
} xf_model_info_t;

// Loads the model at |path| into |context|. A path ending in ".onnx" is an ONNX file (opsets 7 to 17; its
// initializers, with external data files beside it, become the weights; dynamic dims of its inputs take
// |options|' batch, input_height and input_width; docs/MODELS.md). Otherwise it is a safetensors model
// (a file, or a directory holding model.safetensors and config.json, as Hugging Face saves them): validates the file and its config, uploads
// every weight as a context tensor named as in the file and builds the graph for the input size.
// |options| may be NULL. Every problem is reported in xf_context_error naming the file, tensor or
// config key: XF_ERR_NOT_FOUND (missing file or tensor), XF_ERR_DATA_LOSS (corrupt file),
// XF_ERR_INVALID_ARGUMENT (bad config, wrong shapes, extra tensors), XF_ERR_UNIMPLEMENTED
// (an architecture or variant this runtime does not build).
// NOTE: weight names are taken as they are when free; loading a second model whose names are
// already used in |context| prefixes its weights with "model<N>/".
XF_API xf_status_t xf_model_load(xf_context_t* context, const char* path, const xf_model_options_t* options,
                                 xf_model_t** out_model);

// Destroys |model|, its graphs and its weight tensors. NULL is a no-op.
XF_API void xf_model_destroy(xf_model_t* model);

// Describes |model|.
XF_API xf_status_t xf_model_info(const xf_model_t* model, xf_model_info_t* out_info);

// Returns the label of class |index|, or NULL when the model has no labels or |index| is out of
// range. The string is owned by the model.
XF_API const char* xf_model_label(const xf_model_t* model, int64_t index);

// Replaces the model's labels with the lines of the text file at |path| (one label per line; a
// trailing empty line is ignored). The line count must equal the number of classes
// (XF_ERR_INVALID_ARGUMENT otherwise; XF_ERR_NOT_FOUND when the file is missing).
XF_API xf_status_t xf_model_load_labels(xf_model_t* model, const char* path);

// Turns a decoded 8-bit image (|height| rows of |width| pixels, |channels| interleaved bytes per
// pixel: 1 grey, 2 grey+alpha, 3 RGB, 4 RGBA; rows packed) into one image of the model's input,
// [C, H, W] in |out| (|count| = info.input_elements floats), exactly as the reference does. With
// info.interpolation XF_INTERPOLATION_DEFAULT, as tools/preprocess.py: channel conversion (BT.601 luma
// for grey models, replication for RGB models, alpha dropped), /255, bilinear resize on f32
// (align_corners = false, no antialiasing; ViT: short side to floor(size / crop_pct) then a centre
// crop; SegFormer: straight to the input size) and per-channel (x - mean) / std. With BICUBIC or
// BILINEAR, timm's / Hugging Face's evaluation transform on Pillow, bit for bit (docs/MODELS.md). Runs on
// the host; only the crop is computed.
XF_API xf_status_t xf_model_preprocess(const xf_model_t* model, const uint8_t* pixels, int width, int height,
                                       int channels, float* out, size_t count);

// Runs |model| on |input|, info.batch images one after another (|input_count| = info.batch *
// info.input_elements floats, each image usually from xf_model_preprocess) and copies the logits to
// |out_logits| (|logits_count| = info.batch * info.output_elements floats; per image, classifiers:
// [classes]; segmenters: [classes, H/4, W/4]). |out_logits| may be NULL when only masks are wanted.
XF_API xf_status_t xf_model_run(xf_model_t* model, const float* input, size_t input_count, float* out_logits,
                                size_t logits_count);

// For a segmenter, after xf_model_run: upsamples the last logits to the input size (bilinear,
// align_corners = false) and writes the per-pixel argmax (first maximum wins) to |out_mask|
// (|count| = batch * input_height * input_width, image after image, row-major). The work runs on the
// device.
// Returns XF_ERR_INVALID_ARGUMENT for a classifier, XF_ERR_FAILED_PRECONDITION before a run.
XF_API xf_status_t xf_model_mask(xf_model_t* model, int32_t* out_mask, size_t count);

// Returns the model's context (borrowed).
XF_API xf_context_t* xf_model_context(const xf_model_t* model);

// Replaces how xf_model_preprocess prepares images: per-channel |mean| and |std| (info.input_channels
// each; NULL keeps them), |crop_pct| (0 keeps it) and |interpolation|. For ONNX files, which carry no
// preprocessing unless their metadata_props name it ("mean", "std", "crop_pct", "interpolation").
XF_API xf_status_t xf_model_set_preprocess(xf_model_t* model, const float* mean, const float* std, float crop_pct,
                                           xf_interpolation_t interpolation);

// One input or output of a model's graph. Strings are owned by the model.
typedef struct xf_model_io_s {
    const char* name;
    xf_dtype_t dtype;  // f32, or i32 for integer inputs (ONNX int64 and int32 alike)
    int ndim;
    int64_t shape[XF_MAX_DIMS];
} xf_model_io_t;

// Counts the model's graph inputs (|outputs| false) or outputs. Every model has at least one of each: the
// image models' input is [batch, C, H, W] and their output the logits.
XF_API int xf_model_io_count(const xf_model_t* model, bool outputs);
// Describes input or output |index|.
XF_API xf_status_t xf_model_io_info(const xf_model_t* model, bool output, int index, xf_model_io_t* out_io);
// Runs the graph on every input (|inputs|[k]: dense row-major data of input k's dtype and shape) and copies
// every output to |outputs|[k] (an entry may be NULL to skip that output).
XF_API xf_status_t xf_model_run_io(xf_model_t* model, const void* const* inputs, void* const* outputs);

// Reports the model graph's nodes, memory and dispatches (xf_graph_stats).
XF_API xf_status_t xf_model_stats(const xf_model_t* model, xf_graph_stats_t* out_stats);

#ifdef __cplusplus
}  // extern "C"
#endif

#endif  // XFORMER_H_
