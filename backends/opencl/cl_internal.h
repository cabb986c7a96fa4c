// SPDX-License-Identifier: MIT
// Internal declarations shared by the OpenCL backend's translation units.
#ifndef XF_BACKENDS_OPENCL_CL_INTERNAL_H_
#define XF_BACKENDS_OPENCL_CL_INTERNAL_H_

#define CL_TARGET_OPENCL_VERSION 120
#include <CL/cl.h>
#include <stdint.h>

#include "../common/xf_driver_cache.h"
#include "../common/xf_tune.h"
#include "backend.h"

// Entry points loaded with dlopen; see cl_syms.def.
typedef struct xf_cl_syms_s {
#define X(name) __typeof__(&name) name;
#include "cl_syms.def"
#undef X
} xf_cl_syms_t;

extern xf_cl_syms_t xf_cl;

// Loads libOpenCL once per process. Returns false with a reason in |err| when it is missing.
bool xf_cl_load(xf_err_t* err);

// Returns "CL_INVALID_VALUE" etc. for an OpenCL status code.
const char* xf_cl_error_name(cl_int code);
// Maps an OpenCL status code to a libxformer status and writes "|what| failed: NAME (code)|where|".
xf_status_t xf_cl_fail(xf_err_t* err, cl_int code, const char* what, const char* where);

typedef enum xf_cl_style_e {
    XF_CL_STYLE_CPU = 0,  // barrier-free, wide vectors, register blocks per work-item
    XF_CL_STYLE_GPU,      // local-memory tiling with barriers
} xf_cl_style_t;

enum { XF_CL_PROGRAM_F32 = 0, XF_CL_PROGRAM_F16, XF_CL_PROGRAM_COUNT };
// Embedded files, of which each .cl but common.cl is built as a separate program (cl_program.c).
#define XF_CL_PROGRAM_FILES 32
// Programs built with kernel parameters (-D...) per device: tuned variants of a few files.
#define XF_CL_PARAM_PROGRAMS 64

typedef struct xf_cl_param_program_s {
    int slot, file;
    char defines[96];
    cl_program program;
} xf_cl_param_program_t;

struct xf_device_s {
    cl_platform_id platform;
    cl_device_id device;
    cl_context context;
    cl_command_queue queue;
    xf_device_info_t info;
    cl_device_type cl_type;
    cl_device_local_mem_type local_mem_type;
    size_t max_wg;
    size_t max_item[3];
    uint64_t local_mem;
    xf_cl_style_t style;
    xf_attention_variant_t attention;
    int tile;         // edge of the square tiles of the GPU-style kernels
    int float_width;  // CL_DEVICE_NATIVE_VECTOR_WIDTH_FLOAT: the SIMD width kernels are shaped by
    char platform_version[256];
    cl_program programs[XF_CL_PROGRAM_COUNT][XF_CL_PROGRAM_FILES];
    xf_cl_param_program_t param_programs[XF_CL_PARAM_PROGRAMS];
    int param_program_count;
    xf_tune_t tune;
    xf_log_sink_t log;
    xf_tune_db_t tune_db;
    xf_exec_counters_t counters;
};

struct xf_buffer_s {
    cl_mem mem;
    size_t bytes;
};

// Picks the kernel style for a device: |forced| (the context's choice), else by device type and limits.
xf_cl_style_t xf_cl_select_style(xf_kernel_style_t forced, cl_device_type type, cl_device_local_mem_type local_type,
                                 size_t max_wg, uint64_t local_mem);

// Returns the device's program for |dtype| that holds |kernel|, built with the kernel parameters
// |defines| ("-DXF_MR=6 ..."; NULL or "" for none), from the disk cache or compiled at first use.
xf_status_t xf_cl_program_get(xf_device_t* dev, xf_dtype_t dtype, const char* kernel, const char* defines,
                              cl_program* out, xf_err_t* err);

// Builds |src| with |options| for |dev| (no cache). A failed build returns the build log in |err|.
xf_status_t xf_cl_build_source(xf_device_t* dev, const char* src, const char* options, cl_program* out,
                               xf_err_t* err);

// Process-wide program cache statistics (for tests).
typedef struct xf_cl_cache_stats_s {
    uint64_t builds;         // programs compiled from source
    uint64_t cache_hits;     // programs loaded from a cache file
    uint64_t cache_rejects;  // cache files found corrupt or mismatching and rebuilt
    uint64_t cache_writes;   // cache files written
    uint64_t cache_marks;    // first builds recorded without their binary
} xf_cl_cache_stats_t;
void xf_cl_cache_stats(xf_cl_cache_stats_t* out);
// Writes program binaries at their first build instead of after a slow second one (for tests).
void xf_cl_cache_set_eager(bool eager);

// One kernel launch prepared for a node.
typedef struct xf_cl_launch_s {
    cl_kernel kernel;
    cl_uint dims;
    size_t global[3];
    size_t local[3];
} xf_cl_launch_t;

#define XF_CL_MAX_LAUNCHES 5

typedef struct xf_cl_node_s {
    int count;
    xf_cl_launch_t launch[XF_CL_MAX_LAUNCHES];
} xf_cl_node_t;

// A constant source (a weight) repacked for the kernel that reads it, owned by the graph.
typedef struct xf_cl_packed_s {
    cl_mem source;
    size_t source_offset;
    char layout[96];  // the kernel parameters and shape it was packed for
    cl_mem mem;
    xf_cl_launch_t pack;  // rerun when the weight is uploaded again
} xf_cl_packed_t;

// PoCL's kernel cache (see xf_driver_cache.h): set up when the OpenCL library is loaded.
extern xf_driver_cache_t xf_cl_driver_cache;

typedef struct xf_cl_graph_s {
    bool computed;  // once: PoCL compiles each kernel at its first dispatch
    size_t count;
    xf_cl_node_t* nodes;
    xf_cl_packed_t* packed;
    size_t packed_count, packed_capacity;
    size_t packed_bytes;
} xf_cl_graph_t;

// Creates the kernels of |node|, sets their arguments and work sizes. The node's planned scratch holds
// xf_cl_node_scratch_bytes(node) bytes; weights it repacks are added to |graph|.
xf_status_t xf_cl_node_prepare(xf_device_t* dev, xf_cl_graph_t* graph, const xf_exec_node_t* node, xf_cl_node_t* out,
                               xf_err_t* err);
// Returns the temporary device memory |node| needs while it runs (the vtable's node_scratch).
size_t xf_cl_node_scratch_bytes(xf_device_t* dev, const xf_exec_node_t* node);
// Returns XF_OK if |node| can run on |dev|.
xf_status_t xf_cl_node_supported(xf_device_t* dev, const xf_exec_node_t* node, xf_err_t* err);
// The OpenCL op table's coverage of |op| (see xf_backend_vtable_t.op_coverage).
bool xf_cl_op_coverage(xf_op_t op, const char** reason);

#endif  // XF_BACKENDS_OPENCL_CL_INTERNAL_H_
