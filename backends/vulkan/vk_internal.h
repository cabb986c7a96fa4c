// SPDX-License-Identifier: MIT
// Internal state of the Vulkan backend, shared by its source files.
#ifndef XF_BACKENDS_VULKAN_VK_INTERNAL_H_
#define XF_BACKENDS_VULKAN_VK_INTERNAL_H_

#include <pthread.h>
#include <vulkan/vulkan.h>

#include "../common/xf_driver_cache.h"
#include "../common/xf_tune.h"
#include "backend.h"

typedef struct xf_vk_syms_s {
    PFN_vkGetInstanceProcAddr vkGetInstanceProcAddr;
#define XF_VK_GLOBAL(name) PFN_##name name;
#define XF_VK_INSTANCE(name) PFN_##name name;
#define XF_VK_OPTIONAL(name) PFN_##name name;
#include "vk_syms.def"
#undef XF_VK_GLOBAL
#undef XF_VK_INSTANCE
#undef XF_VK_OPTIONAL
} xf_vk_syms_t;

// Storage buffer bindings a pipeline may declare: up to eight sources (0-3, 5-8) and the destination
// (binding 4, where every shader writes). Each pipeline's descriptor layout holds only the bindings
// its SPIR-V declares.
#define XF_VK_BINDINGS 9
#define XF_VK_DST_BINDING 4
#define XF_VK_MAX_LAYOUTS 32
#define XF_VK_PUSH_BYTES 128
#define XF_VK_MAX_SPEC 10

typedef struct xf_vk_block_s xf_vk_block_t;

struct xf_buffer_s {
    VkBuffer buffer;
    xf_vk_block_t* block;
    VkDeviceSize offset;  // within the block's memory
    VkDeviceSize size;
    VkDeviceSize reserved;  // bytes taken from the block
};

// A descriptor set layout for one set of bindings (bit b: binding b), with its pipeline layout.
typedef struct xf_vk_layout_s {
    uint32_t bindings;
    VkDescriptorSetLayout set;
    VkPipelineLayout pipe;
} xf_vk_layout_t;

typedef struct xf_vk_pipeline_s {
    char variant[48];
    uint32_t spec[XF_VK_MAX_SPEC];
    uint32_t nspec;
    VkPipeline pipeline;
    const xf_vk_layout_t* layout;
} xf_vk_pipeline_t;

typedef struct xf_vk_features_s {
    bool storage16;  // storageBuffer16BitAccess: f16 tensors (f32 arithmetic)
    bool float16;    // shaderFloat16 (reported only; shaders convert to f32)
    bool storage8;
    bool subgroup_arith;
    bool subgroup_shuffle;
    uint32_t subgroup_size;
} xf_vk_features_t;

struct xf_device_s {
    void* lib;
    xf_vk_syms_t vk;
    VkInstance instance;
    VkDebugUtilsMessengerEXT messenger;
    VkPhysicalDevice phys;
    VkPhysicalDeviceProperties props;
    VkPhysicalDeviceMemoryProperties mem_props;
    xf_vk_features_t feat;
    bool use_fp16, use_subgroup, use_shuffle;
    bool cpu_style;  // barrier-free register-blocked kernels
    VkDevice device;
    VkQueue queue;
    uint32_t queue_family;
    VkCommandPool cmd_pool;
    VkFence fence;
    xf_vk_layout_t layouts[XF_VK_MAX_LAYOUTS];
    size_t nlayouts;
    VkPipelineCache pipe_cache;
    char cache_path[1024];  // empty: disk cache disabled
    bool cache_dirty;
    uint64_t cache_sum;  // checksum of the data on disk, to skip rewriting it unchanged
    size_t cache_size;
    xf_vk_pipeline_t* pipelines;
    size_t npipelines, cap_pipelines;
    VkShaderModule* modules;  // parallel to the embedded SPIR-V table
    uint32_t* module_bindings;  // the storage-buffer bindings each module declares (bit b: binding b)
    size_t nmodules;
    uint32_t mem_type;  // memory type index for tensors
    bool host_visible;  // mem_type can be mapped: no staging
    xf_vk_block_t* blocks;
    VkDeviceSize block_size;
    xf_exec_counters_t counters;
    xf_device_info_t info;
    // Kernel-parameter tuning (vk_ops.c): the context's mode, the device's results, and the candidate
    // a tuning run forces (NULL otherwise).
    xf_tune_t tune;
    xf_tune_db_t tune_db;
    const int* tune_force;
    xf_log_sink_t log;
    // Validation messages (XFORMER_VK_VALIDATION=1) waiting to be reported by the next call.
    bool validation;
    pthread_mutex_t msg_lock;
    char validation_msg[1536];
    bool validation_pending;
};

// Loader and errors.
const char* xf_vk_result_name(VkResult r);
xf_status_t xf_vk_fail(xf_err_t* err, VkResult r, const char* what);
// Reports a pending validation message as XF_ERR_BACKEND, or passes |status| through.
xf_status_t xf_vk_check_validation(xf_device_t* dev, xf_status_t status, xf_err_t* err);
// Records |msg| as a pending validation failure (when validation is on): the next
// xf_vk_check_validation fails with it.
void xf_vk_validation_report(xf_device_t* dev, const char* msg);

// Memory (vk_memory.c).
xf_status_t xf_vk_buffer_alloc(xf_device_t* dev, size_t bytes, xf_buffer_t** out, xf_err_t* err);
void xf_vk_buffer_free(xf_device_t* dev, xf_buffer_t* buf);
xf_status_t xf_vk_buffer_write(xf_device_t* dev, xf_buffer_t* buf, size_t offset, const void* data, size_t bytes,
                               xf_err_t* err);
xf_status_t xf_vk_buffer_read(xf_device_t* dev, xf_buffer_t* buf, size_t offset, void* data, size_t bytes,
                              xf_err_t* err);
void xf_vk_memory_release(xf_device_t* dev);
// Device memory held in blocks (shared and dedicated) and how many blocks hold it.
VkDeviceSize xf_vk_memory_reserved(const xf_device_t* dev, size_t* blocks);
// Records, submits and waits for a one-off command buffer filled by |fill|.
xf_status_t xf_vk_submit_once(xf_device_t* dev, void (*fill)(xf_device_t*, VkCommandBuffer, void*), void* user,
                              const char* what, xf_err_t* err);

// Pipelines and the on-disk pipeline cache (vk_pipeline.c).
xf_status_t xf_vk_pipelines_init(xf_device_t* dev, xf_err_t* err);
void xf_vk_pipelines_release(xf_device_t* dev);
void xf_vk_tune_open(xf_device_t* dev);
xf_status_t xf_vk_pipeline_get(xf_device_t* dev, const char* variant, const uint32_t* spec, uint32_t nspec,
                               VkPipeline* out, const xf_vk_layout_t** out_layout, xf_err_t* err);
void xf_vk_cache_save(xf_device_t* dev);

// Graphs (vk_graph.c) and per-op recording (vk_ops.c).
typedef struct xf_vk_binding_s {
    const xf_buffer_t* buffer;
    VkDeviceSize offset;  // aligned down to minStorageBufferOffsetAlignment
    VkDeviceSize range;
    uint32_t elem_offset;  // elements between |offset| and the tensor's first element
    // Bytes of the buffer the dispatch touches, for barrier placement; used_end == 0: unused slot.
    VkDeviceSize used_begin, used_end;
} xf_vk_binding_t;

typedef struct xf_vk_dispatch_s {
    VkPipeline pipeline;
    xf_vk_binding_t bind[XF_VK_BINDINGS];  // by binding: XF_VK_DST_BINDING is written, the others read
    const xf_vk_layout_t* layout;
    uint32_t push[XF_VK_PUSH_BYTES / 4];
    uint32_t push_words;
    uint32_t groups[3];
    VkDescriptorSet set;
} xf_vk_dispatch_t;

typedef struct xf_vk_plan_s {
    xf_vk_dispatch_t* items;
    size_t count, cap;
    // The scratch of the node being recorded (planned in the graph's pool), taken front to back.
    xf_buffer_t* scratch;
    VkDeviceSize scratch_at, scratch_end;
} xf_vk_plan_t;

xf_status_t xf_vk_supports(xf_device_t* dev, const xf_exec_node_t* node, xf_err_t* err);
// The Vulkan op table's coverage of |op| (see xf_backend_vtable_t.op_coverage).
bool xf_vk_op_coverage(xf_op_t op, const char** reason);
// The temporary memory |node| needs while it runs (the vtable's node_scratch).
size_t xf_vk_node_scratch(xf_device_t* dev, const xf_exec_node_t* node);
// Appends the dispatches of |node| to |plan|.
// The vtable's graph functions (vk_graph.c); kernel tuning runs one-node graphs through them.
xf_status_t xf_vk_graph_prepare(xf_device_t* dev, const xf_exec_graph_t* graph, void** out_state, xf_err_t* err);
xf_status_t xf_vk_graph_compute(xf_device_t* dev, const xf_exec_graph_t* graph, void* state, xf_err_t* err);
void xf_vk_graph_release(xf_device_t* dev, void* state);

xf_status_t xf_vk_record_node(xf_device_t* dev, const xf_exec_node_t* node, xf_vk_plan_t* plan, xf_err_t* err);

// Mesa's shader cache (see xf_driver_cache.h): set up when the Vulkan loader is opened.
extern xf_driver_cache_t xf_vk_driver_cache;

#endif  // XF_BACKENDS_VULKAN_VK_INTERNAL_H_
