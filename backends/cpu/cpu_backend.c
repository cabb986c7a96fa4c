// SPDX-License-Identifier: MIT
// CPU reference backend: device, buffers, graph execution. Its op table is the registry's reference
// implementations (lib/ops/), one per op family.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ops/ops_internal.h"

typedef xf_status_t (*cpu_op_fn)(const xf_exec_node_t* node, xf_err_t* err);

static const cpu_op_fn cpu_ops[XF_OP_COUNT] = {
#define XF_OP(NAME, FAMILY, MAX_SRC, INPLACE, DTYPES, CODE) [XF_OP_##NAME] = xf_ref_##FAMILY,
#include "ops/ops.def"
};

struct xf_device_s {
    xf_exec_counters_t counters;
};

static void cpu_fill_info(xf_device_info_t* info) {
    memset(info, 0, sizeof *info);
    info->backend = XF_BACKEND_CPU;
    info->index = 0;
    info->type = XF_DEVICE_TYPE_CPU;
    snprintf(info->name, sizeof info->name, "CPU reference");
    snprintf(info->platform, sizeof info->platform, "host");
    snprintf(info->driver_version, sizeof info->driver_version, "libxformer %d.%d.%d", XF_VERSION_MAJOR,
             XF_VERSION_MINOR, XF_VERSION_PATCH);
    snprintf(info->api_version, sizeof info->api_version, "C11");
    snprintf(info->kernel_style, sizeof info->kernel_style, "reference");
    info->fp16 = true;
    info->max_buffer_bytes = SIZE_MAX / 2;
    info->max_allocation_bytes = SIZE_MAX / 2;
    info->max_workgroup_size = 1;
}

static xf_status_t cpu_list_devices(const xf_device_options_t* opts, xf_device_info_t* out, size_t capacity,
                                    size_t* out_count, xf_err_t* err) {
    (void)opts;
    (void)err;
    if (capacity >= 1) cpu_fill_info(&out[0]);
    *out_count = 1;
    return XF_OK;
}

static xf_status_t cpu_device_open(int index, const xf_device_options_t* opts, xf_device_t** out_device,
                                   xf_err_t* err) {
    (void)opts;
    if (index != 0) return xf_err_set(err, XF_ERR_OUT_OF_RANGE, "the cpu backend has one device (0)");
    xf_device_t* d = xf_calloc(1, sizeof *d);
    if (!d) return xf_err_set(err, XF_ERR_OUT_OF_MEMORY, "out of host memory");
    *out_device = d;
    return XF_OK;
}

static void cpu_device_close(xf_device_t* device) { xf_free(device); }

static void cpu_device_info(const xf_device_t* device, xf_device_info_t* out_info) {
    (void)device;
    cpu_fill_info(out_info);
}

static xf_status_t cpu_supports(xf_device_t* device, const xf_exec_node_t* node, xf_err_t* err) {
    (void)device;
    if ((unsigned)node->op >= XF_OP_COUNT || !cpu_ops[node->op]) {
        return xf_err_set(err, XF_ERR_UNIMPLEMENTED, "unknown op %d", node->op);
    }
    return XF_OK;
}

static bool cpu_op_coverage(xf_op_t op, const char** reason) {
    *reason = NULL;
    return (unsigned)op < XF_OP_COUNT && cpu_ops[op] != NULL;
}

static xf_status_t cpu_buffer_alloc(xf_device_t* device, size_t bytes, xf_buffer_t** out_buffer, xf_err_t* err) {
    (void)device;
    xf_buffer_t* b = xf_calloc(1, sizeof *b);
    // 64-byte alignment and a non-zero size keep every kernel's loads in bounds and aligned.
    size_t size = (bytes + 63) / 64 * 64;
    if (b) b->data = xf_aligned_alloc(64, size ? size : 64);
    if (!b || !b->data) {
        xf_free(b);
        return xf_err_set(err, XF_ERR_OUT_OF_MEMORY, "cannot allocate %zu bytes of host memory", bytes);
    }
    b->size = bytes;
    *out_buffer = b;
    return XF_OK;
}

static void cpu_buffer_free(xf_device_t* device, xf_buffer_t* buffer) {
    (void)device;
    if (!buffer) return;
    xf_aligned_free(buffer->data);
    xf_free(buffer);
}

static xf_status_t cpu_buffer_write(xf_device_t* device, xf_buffer_t* buffer, size_t offset, const void* data,
                                    size_t bytes, xf_err_t* err) {
    (void)device;
    if (offset > buffer->size || bytes > buffer->size - offset) {
        return xf_err_set(err, XF_ERR_OUT_OF_RANGE, "write of %zu bytes at %zu exceeds a %zu-byte buffer", bytes,
                          offset, buffer->size);
    }
    memcpy(buffer->data + offset, data, bytes);
    return XF_OK;
}

static xf_status_t cpu_buffer_read(xf_device_t* device, xf_buffer_t* buffer, size_t offset, void* data, size_t bytes,
                                   xf_err_t* err) {
    (void)device;
    if (offset > buffer->size || bytes > buffer->size - offset) {
        return xf_err_set(err, XF_ERR_OUT_OF_RANGE, "read of %zu bytes at %zu exceeds a %zu-byte buffer", bytes,
                          offset, buffer->size);
    }
    memcpy(data, buffer->data + offset, bytes);
    return XF_OK;
}

static xf_status_t cpu_graph_prepare(xf_device_t* device, const xf_exec_graph_t* graph, void** out_state,
                                     xf_err_t* err) {
    (void)device;
    (void)graph;
    (void)err;
    *out_state = NULL;
    return XF_OK;
}

static xf_status_t cpu_graph_compute(xf_device_t* device, const xf_exec_graph_t* graph, void* state, xf_err_t* err) {
    (void)state;
    for (size_t i = 0; i < graph->count; ++i) {
        xf_status_t st = cpu_ops[graph->nodes[i].op](&graph->nodes[i], err);
        if (st != XF_OK) {
            char msg[sizeof err->msg];
            snprintf(msg, sizeof msg, "%.128s: %.1900s", graph->nodes[i].label, err->msg);
            memcpy(err->msg, msg, sizeof msg);
            return st;
        }
        device->counters.dispatches++;
    }
    device->counters.submissions++;
    return XF_OK;
}

static void cpu_graph_release(xf_device_t* device, void* state) {
    (void)device;
    (void)state;
}

static void cpu_counters(const xf_device_t* device, xf_exec_counters_t* out) { *out = device->counters; }

const xf_backend_vtable_t xf_cpu_backend = {
    .kind = XF_BACKEND_CPU,
    .name = "cpu",
    .list_devices = cpu_list_devices,
    .device_open = cpu_device_open,
    .device_close = cpu_device_close,
    .device_info = cpu_device_info,
    .supports = cpu_supports,
    .buffer_alloc = cpu_buffer_alloc,
    .buffer_free = cpu_buffer_free,
    .buffer_write = cpu_buffer_write,
    .buffer_read = cpu_buffer_read,
    .graph_prepare = cpu_graph_prepare,
    .graph_compute = cpu_graph_compute,
    .graph_release = cpu_graph_release,
    .counters = cpu_counters,
    .op_coverage = cpu_op_coverage,
};
