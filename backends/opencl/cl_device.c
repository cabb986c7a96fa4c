// SPDX-License-Identifier: MIT
// OpenCL backend: device discovery, buffers, graph execution and the backend vtable.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../common/xf_cache.h"
#include "cl_internal.h"
#include "embedded.h"

extern const xf_embedded_file_t xf_cl_kernels[];

#define XF_CL_MAX_DEVICES 64

typedef struct xf_cl_found_s {
    cl_platform_id platform;
    cl_device_id device;
    cl_device_type type;
} xf_cl_found_t;

// Integrated and discrete GPUs are told apart later (unified memory); both rank as GPUs here.
static int rank_of(cl_device_type type) {
    return xf_device_type_rank(type & CL_DEVICE_TYPE_GPU           ? XF_DEVICE_TYPE_DISCRETE_GPU
                               : type & CL_DEVICE_TYPE_ACCELERATOR ? XF_DEVICE_TYPE_ACCELERATOR
                               : type & CL_DEVICE_TYPE_CPU         ? XF_DEVICE_TYPE_CPU
                                                                   : XF_DEVICE_TYPE_OTHER);
}

// Lists every device of every platform, GPUs and accelerators first, then others, then CPUs.
static xf_status_t enumerate(xf_cl_found_t* out, size_t* out_count, xf_err_t* err) {
    *out_count = 0;
    if (!xf_cl_load(err)) return XF_ERR_UNAVAILABLE;
    cl_uint nplat = 0;
    cl_int rc = xf_cl.clGetPlatformIDs(0, NULL, &nplat);
    if (rc == -1001 /* CL_PLATFORM_NOT_FOUND_KHR */ || nplat == 0) {
        xf_err_set(err, XF_ERR_UNAVAILABLE,
                   "no OpenCL platform is installed; install an ICD such as pocl-opencl-icd");
        return XF_ERR_UNAVAILABLE;
    }
    if (rc != CL_SUCCESS) return xf_cl_fail(err, rc, "clGetPlatformIDs", NULL);
    cl_platform_id plats[16];
    if (nplat > 16) nplat = 16;
    rc = xf_cl.clGetPlatformIDs(nplat, plats, NULL);
    if (rc != CL_SUCCESS) return xf_cl_fail(err, rc, "clGetPlatformIDs", NULL);
    size_t n = 0;
    for (cl_uint p = 0; p < nplat; ++p) {
        cl_device_id devs[XF_CL_MAX_DEVICES];
        cl_uint ndev = 0;
        rc = xf_cl.clGetDeviceIDs(plats[p], CL_DEVICE_TYPE_ALL, XF_CL_MAX_DEVICES, devs, &ndev);
        if (rc == CL_DEVICE_NOT_FOUND) continue;
        if (rc != CL_SUCCESS) return xf_cl_fail(err, rc, "clGetDeviceIDs", NULL);
        if (ndev > XF_CL_MAX_DEVICES) ndev = XF_CL_MAX_DEVICES;
        for (cl_uint d = 0; d < ndev && n < XF_CL_MAX_DEVICES; ++d) {
            cl_device_type type = 0;
            rc = xf_cl.clGetDeviceInfo(devs[d], CL_DEVICE_TYPE, sizeof type, &type, NULL);
            if (rc != CL_SUCCESS) return xf_cl_fail(err, rc, "clGetDeviceInfo(CL_DEVICE_TYPE)", NULL);
            out[n++] = (xf_cl_found_t){plats[p], devs[d], type};
        }
    }
    // Stable insertion sort by rank keeps the platform order within a rank.
    for (size_t i = 1; i < n; ++i) {
        xf_cl_found_t f = out[i];
        size_t j = i;
        while (j > 0 && rank_of(out[j - 1].type) > rank_of(f.type)) {
            out[j] = out[j - 1];
            --j;
        }
        out[j] = f;
    }
    *out_count = n;
    if (n == 0) {
        xf_err_set(err, XF_ERR_UNAVAILABLE, "the OpenCL platforms report no devices");
        return XF_ERR_UNAVAILABLE;
    }
    return XF_OK;
}

xf_cl_style_t xf_cl_select_style(xf_kernel_style_t forced, cl_device_type type, cl_device_local_mem_type local_type,
                                 size_t max_wg, uint64_t local_mem) {
    if (forced != XF_KERNELS_AUTO) return forced == XF_KERNELS_CPU ? XF_CL_STYLE_CPU : XF_CL_STYLE_GPU;
    // Tiled kernels need a 8x8 work-group and two 8x8 float tiles at least; CPU runtimes emulate
    // local memory in RAM and barriers with per-work-item context copies, so tiling only costs.
    if (type & CL_DEVICE_TYPE_CPU) return XF_CL_STYLE_CPU;
    if (local_type == CL_GLOBAL) return XF_CL_STYLE_CPU;
    if (max_wg < 64 || local_mem < 4096) return XF_CL_STYLE_CPU;
    return XF_CL_STYLE_GPU;
}

// Reads a string property, truncated to |cap| (the query itself fails on a short buffer).
static void info_string(cl_device_id dev, cl_device_info what, char* out, size_t cap) {
    size_t len = 0;
    out[0] = '\0';
    if (xf_cl.clGetDeviceInfo(dev, what, 0, NULL, &len) != CL_SUCCESS || len == 0) return;
    char* full = xf_malloc(len + 1);
    if (full && xf_cl.clGetDeviceInfo(dev, what, len, full, NULL) == CL_SUCCESS) {
        full[len] = '\0';
        snprintf(out, cap, "%s", full);
    }
    xf_free(full);
}

static void platform_string(cl_platform_id plat, cl_platform_info what, char* out, size_t cap) {
    size_t len = 0;
    out[0] = '\0';
    if (xf_cl.clGetPlatformInfo(plat, what, 0, NULL, &len) != CL_SUCCESS || len == 0) return;
    char* full = xf_malloc(len + 1);
    if (full && xf_cl.clGetPlatformInfo(plat, what, len, full, NULL) == CL_SUCCESS) {
        full[len] = '\0';
        snprintf(out, cap, "%s", full);
    }
    xf_free(full);
}

// Fills |d| (all fields but the OpenCL objects) from a found device.
static void describe(const xf_cl_found_t* f, int index, const xf_device_options_t* opts, xf_device_t* d) {
    memset(d, 0, sizeof *d);
    d->platform = f->platform;
    d->device = f->device;
    d->cl_type = f->type;
    xf_device_info_t* info = &d->info;
    info->backend = XF_BACKEND_OPENCL;
    info->index = index;
    if (f->type & CL_DEVICE_TYPE_GPU) {
        cl_bool unified = CL_FALSE;
        xf_cl.clGetDeviceInfo(f->device, CL_DEVICE_HOST_UNIFIED_MEMORY, sizeof unified, &unified, NULL);
        info->type = unified ? XF_DEVICE_TYPE_INTEGRATED_GPU : XF_DEVICE_TYPE_DISCRETE_GPU;
    } else if (f->type & CL_DEVICE_TYPE_ACCELERATOR) {
        info->type = XF_DEVICE_TYPE_ACCELERATOR;
    } else if (f->type & CL_DEVICE_TYPE_CPU) {
        info->type = XF_DEVICE_TYPE_CPU;
    } else {
        info->type = XF_DEVICE_TYPE_OTHER;
    }
    info_string(f->device, CL_DEVICE_NAME, info->name, sizeof info->name);
    platform_string(f->platform, CL_PLATFORM_NAME, info->platform, sizeof info->platform);
    platform_string(f->platform, CL_PLATFORM_VERSION, d->platform_version, sizeof d->platform_version);
    info_string(f->device, CL_DRIVER_VERSION, info->driver_version, sizeof info->driver_version);
    info_string(f->device, CL_DEVICE_VERSION, info->api_version, sizeof info->api_version);
    cl_ulong gmem = 0, maxalloc = 0, lmem = 0;
    xf_cl.clGetDeviceInfo(f->device, CL_DEVICE_GLOBAL_MEM_SIZE, sizeof gmem, &gmem, NULL);
    xf_cl.clGetDeviceInfo(f->device, CL_DEVICE_MAX_MEM_ALLOC_SIZE, sizeof maxalloc, &maxalloc, NULL);
    xf_cl.clGetDeviceInfo(f->device, CL_DEVICE_LOCAL_MEM_SIZE, sizeof lmem, &lmem, NULL);
    xf_cl.clGetDeviceInfo(f->device, CL_DEVICE_LOCAL_MEM_TYPE, sizeof d->local_mem_type, &d->local_mem_type,
                          NULL);
    xf_cl.clGetDeviceInfo(f->device, CL_DEVICE_MAX_WORK_GROUP_SIZE, sizeof d->max_wg, &d->max_wg, NULL);
    d->max_item[0] = d->max_item[1] = d->max_item[2] = 1;
    xf_cl.clGetDeviceInfo(f->device, CL_DEVICE_MAX_WORK_ITEM_SIZES, sizeof d->max_item, d->max_item, NULL);
    if (d->max_wg == 0) d->max_wg = 1;
    cl_uint vw = 0;
    xf_cl.clGetDeviceInfo(f->device, CL_DEVICE_NATIVE_VECTOR_WIDTH_FLOAT, sizeof vw, &vw, NULL);
    d->float_width = vw ? (int)vw : 1;
    d->local_mem = lmem;
    // A smaller limit than the device's (tests): buffers, the pool's included, stay below it.
    if (opts->max_binding && opts->max_binding < maxalloc) maxalloc = opts->max_binding;
    info->global_memory_bytes = gmem;
    info->max_buffer_bytes = maxalloc;
    info->max_allocation_bytes = maxalloc;
    info->shared_memory_bytes = lmem;
    info->max_workgroup_size = (uint32_t)d->max_wg;
    // f16 tensors are stored as half and converted with vload_half/vstore_half, which are core
    // OpenCL 1.2, so every device supports them; cl_khr_fp16 is not needed.
    info->fp16 = true;
    info->subgroups = false;
    info->subgroup_size = 0;
    d->style = xf_cl_select_style(opts->kernels, f->type, d->local_mem_type, d->max_wg, d->local_mem);
    d->attention = opts->attention;
    d->tune = opts->tune;
    d->log = opts->log;
    size_t tile_max = d->max_item[0] < d->max_item[1] ? d->max_item[0] : d->max_item[1];
    d->tile = (d->max_wg >= 256 && tile_max >= 16 && lmem >= 32768) ? 16 : 8;
    snprintf(info->kernel_style, sizeof info->kernel_style, "%s",
             d->style == XF_CL_STYLE_CPU ? "cpu" : "gpu");
}

static xf_status_t cl_list_devices(const xf_device_options_t* opts, xf_device_info_t* out, size_t capacity,
                                   size_t* out_count, xf_err_t* err) {
    xf_cl_found_t found[XF_CL_MAX_DEVICES];
    size_t n = 0;
    *out_count = 0;
    xf_status_t st = enumerate(found, &n, err);
    if (st == XF_ERR_UNAVAILABLE) return XF_OK;
    if (st != XF_OK) return st;
    xf_device_t* tmp = xf_malloc(sizeof *tmp);
    if (!tmp) return xf_err_set(err, XF_ERR_OUT_OF_MEMORY, "out of host memory listing OpenCL devices");
    for (size_t i = 0; i < n && i < capacity; ++i) {
        describe(&found[i], (int)i, opts, tmp);
        out[i] = tmp->info;
    }
    xf_free(tmp);
    *out_count = n;
    return XF_OK;
}

static void cl_device_close(xf_device_t* d) {
    if (!d) return;
    for (int i = 0; i < XF_CL_PROGRAM_COUNT; ++i) {
        for (int j = 0; j < XF_CL_PROGRAM_FILES; ++j) {
            if (d->programs[i][j]) xf_cl.clReleaseProgram(d->programs[i][j]);
        }
    }
    for (int i = 0; i < d->param_program_count; ++i) {
        if (d->param_programs[i].program) xf_cl.clReleaseProgram(d->param_programs[i].program);
    }
    xf_tune_close(&d->tune_db);
    if (d->queue) xf_cl.clReleaseCommandQueue(d->queue);
    if (d->context) xf_cl.clReleaseContext(d->context);
    xf_free(d);
}

// The device's tuning results, keyed by device, driver, platform and every kernel source.
static void open_tuning(xf_device_t* d) {
    uint64_t sources = XF_FNV_SEED;
    for (const xf_embedded_file_t* f = xf_cl_kernels; f->name; ++f) {
        sources = xf_fnv1a(f->name, strlen(f->name), sources);
        sources = xf_fnv1a(f->data, f->size, sources);
    }
    char key[800];
    snprintf(key, sizeof key, "%s|%s|%s|%016llx", d->info.name, d->info.driver_version, d->platform_version,
             (unsigned long long)sources);
    xf_tune_open(&d->tune_db, "opencl", key);
}

static xf_status_t cl_device_open(int index, const xf_device_options_t* opts, xf_device_t** out_device,
                                  xf_err_t* err) {
    *out_device = NULL;
    xf_cl_found_t found[XF_CL_MAX_DEVICES];
    size_t n = 0;
    xf_status_t st = enumerate(found, &n, err);
    if (st != XF_OK) return st;
    if (index < 0 || (size_t)index >= n) {
        return xf_err_set(err, XF_ERR_OUT_OF_RANGE,
                          "OpenCL device %d does not exist; XFORMER_DEVICE must be 0..%zu", index, n - 1);
    }
    xf_device_t* d = xf_malloc(sizeof *d);
    if (!d) return xf_err_set(err, XF_ERR_OUT_OF_MEMORY, "out of host memory opening an OpenCL device");
    describe(&found[index], index, opts, d);
    cl_int rc = CL_SUCCESS;
    cl_context_properties props[] = {CL_CONTEXT_PLATFORM, (cl_context_properties)d->platform, 0};
    d->context = xf_cl.clCreateContext(props, 1, &d->device, NULL, NULL, &rc);
    if (rc == CL_SUCCESS) d->queue = xf_cl.clCreateCommandQueue(d->context, d->device, 0, &rc);
    if (rc != CL_SUCCESS) {
        st = xf_cl_fail(err, rc, d->context ? "clCreateCommandQueue" : "clCreateContext", d->info.name);
        cl_device_close(d);
        return st;
    }
    open_tuning(d);
    *out_device = d;
    return XF_OK;
}

static void cl_device_describe(const xf_device_t* d, xf_device_info_t* out) {
    *out = d->info;
}

static xf_status_t cl_buffer_alloc(xf_device_t* d, size_t bytes, xf_buffer_t** out, xf_err_t* err) {
    *out = NULL;
    if (bytes == 0) bytes = 4;
    if (bytes > d->info.max_buffer_bytes) {
        return xf_err_set(err, XF_ERR_OUT_OF_MEMORY,
                          "a buffer of %zu bytes exceeds the device's largest allocation (%llu bytes, "
                          "CL_DEVICE_MAX_MEM_ALLOC_SIZE)",
                          bytes, (unsigned long long)d->info.max_buffer_bytes);
    }
    xf_buffer_t* b = xf_malloc(sizeof *b);
    if (!b) return xf_err_set(err, XF_ERR_OUT_OF_MEMORY, "out of host memory");
    cl_int rc = CL_SUCCESS;
    b->mem = xf_cl.clCreateBuffer(d->context, CL_MEM_READ_WRITE, bytes, NULL, &rc);
    b->bytes = bytes;
    if (rc != CL_SUCCESS) {
        xf_free(b);
        return xf_cl_fail(err, rc, "clCreateBuffer", NULL);
    }
    *out = b;
    return XF_OK;
}

static void cl_buffer_free(xf_device_t* d, xf_buffer_t* b) {
    (void)d;
    if (!b) return;
    xf_cl.clReleaseMemObject(b->mem);
    xf_free(b);
}

static xf_status_t cl_buffer_write(xf_device_t* d, xf_buffer_t* b, size_t offset, const void* data,
                                   size_t bytes, xf_err_t* err) {
    if (bytes == 0) return XF_OK;
    cl_int rc = xf_cl.clEnqueueWriteBuffer(d->queue, b->mem, CL_TRUE, offset, bytes, data, 0, NULL, NULL);
    return rc == CL_SUCCESS ? XF_OK : xf_cl_fail(err, rc, "clEnqueueWriteBuffer", NULL);
}

static xf_status_t cl_buffer_read(xf_device_t* d, xf_buffer_t* b, size_t offset, void* data, size_t bytes,
                                  xf_err_t* err) {
    if (bytes == 0) return XF_OK;
    cl_int rc = xf_cl.clEnqueueReadBuffer(d->queue, b->mem, CL_TRUE, offset, bytes, data, 0, NULL, NULL);
    return rc == CL_SUCCESS ? XF_OK : xf_cl_fail(err, rc, "clEnqueueReadBuffer", NULL);
}

static void cl_graph_release(xf_device_t* d, void* state) {
    (void)d;
    xf_cl_graph_t* g = state;
    if (!g) return;
    for (size_t i = 0; i < g->count; ++i) {
        for (int j = 0; j < g->nodes[i].count; ++j) {
            if (g->nodes[i].launch[j].kernel) xf_cl.clReleaseKernel(g->nodes[i].launch[j].kernel);
        }
    }
    for (size_t i = 0; i < g->packed_count; ++i) {
        if (g->packed[i].pack.kernel) xf_cl.clReleaseKernel(g->packed[i].pack.kernel);
        if (g->packed[i].mem) xf_cl.clReleaseMemObject(g->packed[i].mem);
    }
    xf_free(g->packed);
    xf_free(g->nodes);
    xf_free(g);
}

// Runs the kernels that repack the graph's weights.
static xf_status_t repack_weights(xf_device_t* d, xf_cl_graph_t* g, xf_err_t* err) {
    for (size_t i = 0; i < g->packed_count; ++i) {
        const xf_cl_launch_t* l = &g->packed[i].pack;
        cl_int rc = xf_cl.clEnqueueNDRangeKernel(d->queue, l->kernel, l->dims, NULL, l->global, l->local, 0, NULL,
                                                 NULL);
        if (rc != CL_SUCCESS) {
            xf_cl.clFinish(d->queue);
            return xf_cl_fail(err, rc, "clEnqueueNDRangeKernel", "packing a weight");
        }
    }
    cl_int rc = xf_cl.clFinish(d->queue);
    return rc == CL_SUCCESS ? XF_OK : xf_cl_fail(err, rc, "clFinish", "packing weights");
}

static size_t cl_graph_memory(xf_device_t* d, void* state) {
    (void)d;
    return ((const xf_cl_graph_t*)state)->packed_bytes;
}

static xf_status_t cl_graph_refresh(xf_device_t* d, const xf_exec_graph_t* graph, void* state, xf_err_t* err) {
    (void)graph;
    return repack_weights(d, state, err);
}

static xf_status_t cl_graph_prepare(xf_device_t* d, const xf_exec_graph_t* graph, void** out_state,
                                    xf_err_t* err) {
    *out_state = NULL;
    xf_cl_graph_t* g = xf_calloc(1, sizeof *g);
    if (g) g->nodes = xf_calloc(graph->count ? graph->count : 1, sizeof *g->nodes);
    if (!g || !g->nodes) {
        xf_free(g);
        return xf_err_set(err, XF_ERR_OUT_OF_MEMORY, "out of host memory preparing a graph");
    }
    xf_status_t st = XF_OK;
    xf_driver_cache_begin(&xf_cl_driver_cache);
    for (size_t i = 0; i < graph->count && st == XF_OK; ++i) {
        st = xf_cl_node_prepare(d, g, &graph->nodes[i], &g->nodes[i], err);
        g->count = i + 1;
    }
    if (st == XF_OK) st = repack_weights(d, g, err);
    xf_driver_cache_end(&xf_cl_driver_cache);
    if (st != XF_OK) {
        cl_graph_release(d, g);
        return st;
    }
    *out_state = g;
    return XF_OK;
}

static xf_status_t cl_graph_run(xf_device_t* d, const xf_exec_graph_t* graph, xf_cl_graph_t* g, xf_err_t* err);

static xf_status_t cl_graph_compute(xf_device_t* d, const xf_exec_graph_t* graph, void* state,
                                    xf_err_t* err) {
    xf_cl_graph_t* g = state;
    if (g->computed) return cl_graph_run(d, graph, g, err);
    xf_driver_cache_begin(&xf_cl_driver_cache);
    xf_status_t st = cl_graph_run(d, graph, g, err);
    xf_driver_cache_end(&xf_cl_driver_cache);
    g->computed = st == XF_OK;
    return st;
}

static xf_status_t cl_graph_run(xf_device_t* d, const xf_exec_graph_t* graph, xf_cl_graph_t* g, xf_err_t* err) {
    uint64_t dispatches = 0;
    for (size_t i = 0; i < g->count; ++i) {
        for (int j = 0; j < g->nodes[i].count; ++j) {
            const xf_cl_launch_t* l = &g->nodes[i].launch[j];
            cl_int rc = xf_cl.clEnqueueNDRangeKernel(d->queue, l->kernel, l->dims, NULL, l->global, l->local,
                                                     0, NULL, NULL);
            if (rc != CL_SUCCESS) {
                char where[192];
                snprintf(where, sizeof where, "node %zu (%s)", i,
                         xf_node_label(&graph->nodes[i]));
                xf_cl.clFinish(d->queue);
                return xf_cl_fail(err, rc, "clEnqueueNDRangeKernel", where);
            }
            ++dispatches;
        }
    }
    cl_int rc = xf_cl.clFinish(d->queue);
    if (rc != CL_SUCCESS) return xf_cl_fail(err, rc, "clFinish", NULL);
    d->counters.submissions += 1;
    d->counters.dispatches += dispatches;
    return XF_OK;
}

static void cl_counters(const xf_device_t* d, xf_exec_counters_t* out) {
    *out = d->counters;
}

static xf_status_t cl_supports(xf_device_t* d, const xf_exec_node_t* node, xf_err_t* err) {
    return xf_cl_node_supported(d, node, err);
}

const xf_backend_vtable_t xf_cl_backend = {
    .kind = XF_BACKEND_OPENCL,
    .name = "opencl",
    .list_devices = cl_list_devices,
    .device_open = cl_device_open,
    .device_close = cl_device_close,
    .device_info = cl_device_describe,
    .supports = cl_supports,
    .node_scratch = xf_cl_node_scratch_bytes,
    .op_coverage = xf_cl_op_coverage,
    .buffer_alloc = cl_buffer_alloc,
    .buffer_free = cl_buffer_free,
    .buffer_write = cl_buffer_write,
    .buffer_read = cl_buffer_read,
    .graph_prepare = cl_graph_prepare,
    .graph_compute = cl_graph_compute,
    .graph_release = cl_graph_release,
    .graph_refresh = cl_graph_refresh,
    .graph_memory = cl_graph_memory,
    .counters = cl_counters,
};
