// SPDX-License-Identifier: MIT
// Vulkan backend: per-operator variant choice, bindings, push constants and dispatch sizes.
// Kernel style (cpu: barrier-free register-blocked shaders; gpu: shared-memory tiles) is decided
// once per device in vk_device.c and read here as dev->cpu_style.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vk_internal.h"

typedef struct xf_vk_push_s {
    uint32_t w[XF_VK_PUSH_BYTES / 4];
    uint32_t n;
} xf_vk_push_t;

static void xf_vk_pu(xf_vk_push_t* p, uint64_t v) { p->w[p->n++] = (uint32_t)v; }

static void xf_vk_pf(xf_vk_push_t* p, float v) { memcpy(&p->w[p->n++], &v, 4); }

static const char* xf_vk_dt(xf_dtype_t t) { return t == XF_DTYPE_F16 ? "f16" : t == XF_DTYPE_I32 ? "u32" : "f32"; }

// Elements from the first to one past the last element |t| addresses (nb are byte strides).
static int64_t xf_vk_span(const xf_tref_t* t) {
    int64_t last = 0, es = (int64_t)xf_dtype_size(t->dtype);
    for (int d = 0; d < 4; ++d) last += (t->ne[d] - 1) * (t->nb[d] / es);
    return last + 1;
}

// Dense byte strides of |t|'s shape.
static void xf_vk_dense_bytes(xf_tref_t* t) {
    t->nb[3] = (int64_t)xf_dtype_size(t->dtype);
    for (int d = 2; d >= 0; --d) t->nb[d] = t->nb[d + 1] * t->ne[d + 1];
}

static uint32_t xf_vk_pow2_at_least(uint64_t n, uint32_t lo, uint32_t hi) {
    uint32_t w = lo;
    while (w < hi && w < n) w *= 2;
    return w;
}

static VkDeviceSize xf_vk_max_range(const xf_device_t* dev) {
    return dev->props.limits.maxStorageBufferRange - dev->props.limits.minStorageBufferOffsetAlignment;
}

// Binds |count| elements of |t| starting at element |first|.
static xf_status_t xf_vk_bind(xf_device_t* dev, const xf_tref_t* t, int64_t first, int64_t count, xf_vk_binding_t* b,
                              xf_err_t* err) {
    VkDeviceSize es = xf_dtype_size(t->dtype);
    VkDeviceSize start = t->offset + (VkDeviceSize)first * es;
    VkDeviceSize end = start + (VkDeviceSize)(count > 0 ? count : 1) * es;
    VkDeviceSize align = dev->props.limits.minStorageBufferOffsetAlignment;
    if (align == 0) align = 1;
    VkDeviceSize aligned = start / align * align;
    // The descriptor covers exactly the bytes used: synchronization validation takes the bound
    // range as the accessed range.
    VkDeviceSize range = end - aligned;
    if (end > t->buffer->size)
        return xf_err_set(err, XF_ERR_INTERNAL, "Vulkan: tensor range [%llu, %llu) exceeds its %llu-byte buffer",
                          (unsigned long long)start, (unsigned long long)end, (unsigned long long)t->buffer->size);
    if (range > dev->props.limits.maxStorageBufferRange)
        return xf_err_set(err, XF_ERR_INCOMPATIBLE,
                          "Vulkan: a binding of %llu bytes exceeds the device's maxStorageBufferRange (%u bytes)",
                          (unsigned long long)range, dev->props.limits.maxStorageBufferRange);
    // Barriers follow the bound range, which starts at the aligned offset: validation (and a driver) may
    // take it as accessed, so pieces of one result whose ranges share an alignment block are ordered.
    *b = (xf_vk_binding_t){.buffer = t->buffer,
                           .offset = aligned,
                           .range = range,
                           .elem_offset = (uint32_t)((start - aligned) / es),
                           .used_begin = aligned,
                           .used_end = end};
    return XF_OK;
}

// True when |t| is the B operand of a GEMM stored apart from its other operands in 8 or 16 bits, or an int8
// B's scales: the shader variant reads it as 32-bit words (no 8- or 16-bit storage needed).
static bool xf_vk_b_in_words(const xf_exec_node_t* n, const xf_tref_t* t) {
    if (n->op != XF_OP_MATMUL) return false;
    if (t == &n->src[4]) return n->params.matmul.has_scale;
    return t == &n->src[1] && t->dtype != n->dst.dtype && xf_dtype_size(t->dtype) <= 2;
}

// Widens a binding to whole 32-bit words for a shader that reads 8- or 16-bit elements in words. Buffer sizes
// are multiples of 16 bytes (vk_memory.c), so the widened range stays inside the buffer.
static void xf_vk_bind_words(xf_vk_binding_t* b) {
    VkDeviceSize end = b->offset + (b->range + 3) / 4 * 4;
    if (end > b->buffer->size) return;
    b->range = end - b->offset;
    if (end > b->used_end) b->used_end = end;
}

// The shader-variant suffix of a GEMM whose B is stored apart ("_wf16"...), or NULL.
static const char* xf_vk_b_suffix(const xf_exec_node_t* n) {
    xf_dtype_t b = n->src[1].dtype;
    if (b == n->dst.dtype) return NULL;
    return b == XF_DTYPE_F16 ? "_wf16" : b == XF_DTYPE_BF16 ? "_wbf16" : b == XF_DTYPE_I8 ? "_wi8" : "_wf32";
}

static xf_status_t xf_vk_bind_all(xf_device_t* dev, const xf_tref_t* t, xf_vk_binding_t* b, xf_err_t* err) {
    return xf_vk_bind(dev, t, 0, xf_tref_elements(t), b, err);
}

static xf_vk_dispatch_t* xf_vk_new_dispatch(xf_vk_plan_t* plan, xf_err_t* err) {
    if (plan->count == plan->cap) {
        size_t cap = plan->cap ? 2 * plan->cap : 64;
        xf_vk_dispatch_t* items = xf_realloc(plan->items, cap * sizeof *items);
        if (!items) {
            xf_err_set(err, XF_ERR_OUT_OF_MEMORY, "Vulkan: out of host memory");
            return NULL;
        }
        plan->items = items;
        plan->cap = cap;
    }
    xf_vk_dispatch_t* d = &plan->items[plan->count];
    memset(d, 0, sizeof *d);
    return d;
}

// Finishes the dispatch being built at the end of |plan|.
static xf_status_t xf_vk_commit(xf_device_t* dev, xf_vk_plan_t* plan, const char* op, xf_dtype_t dt, const char* suffix,
                                const uint32_t* spec, uint32_t nspec, const xf_vk_push_t* push, uint64_t gx,
                                uint64_t gy, uint64_t gz, xf_err_t* err) {
    xf_vk_dispatch_t* d = &plan->items[plan->count];
    const uint32_t* lim = dev->props.limits.maxComputeWorkGroupCount;
    if (gx == 0 || gy == 0 || gz == 0) return XF_OK;
    if (gx > lim[0] || gy > lim[1] || gz > lim[2])
        return xf_err_set(err, XF_ERR_INCOMPATIBLE,
                          "Vulkan: %s needs %llu x %llu x %llu work-groups; the device allows %u x %u x %u", op,
                          (unsigned long long)gx, (unsigned long long)gy, (unsigned long long)gz, lim[0], lim[1], lim[2]);
    char variant[48];
    snprintf(variant, sizeof variant, "%s_%s%s", op, xf_vk_dt(dt), suffix ? suffix : "");
    xf_status_t st = xf_vk_pipeline_get(dev, variant, spec, nspec, &d->pipeline, &d->layout, err);
    if (st != XF_OK) return st;
    memcpy(d->push, push->w, push->n * 4);
    d->push_words = push->n;
    d->groups[0] = (uint32_t)gx;
    d->groups[1] = (uint32_t)gy;
    d->groups[2] = (uint32_t)gz;
    plan->count++;
    return XF_OK;
}

// Splits |n| invocations of work-group size |wg| over x and y.
static void xf_vk_grid(const xf_device_t* dev, uint64_t n, uint32_t wg, uint64_t* gx, uint64_t* gy) {
    uint64_t g = (n + wg - 1) / wg;
    uint64_t lim = dev->props.limits.maxComputeWorkGroupCount[0];
    *gx = g < lim ? g : lim;
    *gy = *gx ? (g + *gx - 1) / *gx : 0;
}

static uint32_t xf_vk_wg(const xf_device_t* dev) {
    uint32_t w = 256;
    while (w > dev->props.limits.maxComputeWorkGroupInvocations || w > dev->props.limits.maxComputeWorkGroupSize[0])
        w /= 2;
    return w;
}

// Grid for 4-D element-wise shaders: x over ne[3], y over ne[2], z over ne[0] * ne[1] when they fit
// (no per-element division), else a linear grid.
static void xf_vk_grid4(const xf_device_t* dev, const int64_t* ne, uint32_t* wg, uint64_t g[3], bool* grid3) {
    const uint32_t* lim = dev->props.limits.maxComputeWorkGroupCount;
    *grid3 = (uint64_t)ne[2] <= lim[1] && (uint64_t)(ne[0] * ne[1]) <= lim[2];
    if (*grid3) {
        *wg = xf_vk_pow2_at_least((uint64_t)ne[3], 8, xf_vk_wg(dev) < 64 ? xf_vk_wg(dev) : 64);
        g[0] = (uint64_t)(ne[3] + *wg - 1) / *wg;
        g[1] = (uint64_t)ne[2];
        g[2] = (uint64_t)(ne[0] * ne[1]);
    } else {
        *wg = xf_vk_wg(dev);
        xf_vk_grid(dev, (uint64_t)(ne[0] * ne[1] * ne[2] * ne[3]), *wg, &g[0], &g[1]);
        g[2] = 1;
    }
}

static xf_status_t xf_vk_elementwise(xf_device_t* dev, xf_vk_plan_t* plan, const char* op, xf_dtype_t dt,
                                     uint32_t spec1, uint64_t n, const xf_vk_push_t* push, xf_err_t* err) {
    uint32_t wg = xf_vk_wg(dev);
    uint32_t spec[2] = {wg, spec1};
    uint64_t gx, gy;
    xf_vk_grid(dev, n, wg, &gx, &gy);
    return xf_vk_commit(dev, plan, op, dt, NULL, spec, 2, push, gx, gy, 1, err);
}

static xf_status_t xf_vk_copy(xf_device_t* dev, const xf_tref_t* src, const xf_tref_t* dst, int64_t dst_first,
                              const int64_t* dst_strides, xf_vk_plan_t* plan, xf_err_t* err) {
    xf_vk_dispatch_t* d = xf_vk_new_dispatch(plan, err);
    if (!d) return XF_ERR_OUT_OF_MEMORY;
    xf_status_t st = xf_vk_bind(dev, src, 0, xf_vk_span(src), &d->bind[0], err);
    xf_tref_t dv = *dst;
    memcpy(dv.ne, src->ne, sizeof dv.ne);
    for (int i = 0; i < 4; ++i) dv.nb[i] = dst_strides[i] * (int64_t)xf_dtype_size(dst->dtype);
    if (st == XF_OK) st = xf_vk_bind(dev, &dv, dst_first, xf_vk_span(&dv), &d->bind[4], err);
    if (st != XF_OK) return st;
    xf_vk_push_t p = {0};
    for (int i = 0; i < 4; ++i) xf_vk_pu(&p, src->ne[i]);
    int64_t src_strides[4];
    xf_tref_elem_strides(src, src_strides);
    for (int i = 0; i < 4; ++i) xf_vk_pu(&p, src_strides[i]);
    for (int i = 0; i < 4; ++i) xf_vk_pu(&p, dst_strides[i]);
    xf_vk_pu(&p, d->bind[0].elem_offset);
    xf_vk_pu(&p, d->bind[4].elem_offset);
    char op[24];
    if (src->dtype == XF_DTYPE_I32) snprintf(op, sizeof op, "copy");
    else snprintf(op, sizeof op, "copy_%s", xf_vk_dt(src->dtype));
    uint32_t wg;
    uint64_t g[3];
    bool grid3;
    xf_vk_grid4(dev, src->ne, &wg, g, &grid3);
    uint32_t spec[2] = {wg, grid3};
    return xf_vk_commit(dev, plan, op, dst->dtype, NULL, spec, 2, &p, g[0], g[1], g[2], err);
}

// Dense element strides of shape |ne| (what the copy shader indexes with).
static void xf_vk_dense_strides(const int64_t* ne, int64_t* nb) {
    nb[3] = 1;
    for (int d = 2; d >= 0; --d) nb[d] = nb[d + 1] * ne[d + 1];
}

static xf_status_t xf_vk_op_copy(xf_device_t* dev, const xf_exec_node_t* n, xf_vk_plan_t* plan, xf_err_t* err) {
    // The destination's own strides: a piece of a split copy writes a strided block.
    int64_t nb[4];
    xf_tref_elem_strides(&n->dst, nb);
    return xf_vk_copy(dev, &n->src[0], &n->dst, 0, nb, plan, err);
}

static xf_status_t xf_vk_op_concat(xf_device_t* dev, const xf_exec_node_t* n, xf_vk_plan_t* plan, xf_err_t* err) {
    int ax = n->params.axis.axis;
    int64_t nb[4];
    xf_vk_dense_strides(n->dst.ne, nb);
    int64_t start = 0;
    xf_status_t st = XF_OK;
    for (int s = 0; s < n->params.axis.count && st == XF_OK; ++s) {
        if (xf_tref_elements(&n->src[s]) > 0) st = xf_vk_copy(dev, &n->src[s], &n->dst, start * nb[ax], nb, plan, err);
        start += n->src[s].ne[ax];
    }
    return st;
}

static void xf_vk_bcast_strides(const xf_tref_t* t, xf_vk_push_t* p) {
    int64_t s[4];
    xf_tref_bcast_strides(t, s);
    for (int d = 0; d < 4; ++d) xf_vk_pu(p, s[d]);
}

static xf_status_t xf_vk_op_binary(xf_device_t* dev, const xf_exec_node_t* n, xf_vk_plan_t* plan, xf_err_t* err) {
    xf_vk_dispatch_t* d = xf_vk_new_dispatch(plan, err);
    if (!d) return XF_ERR_OUT_OF_MEMORY;
    xf_status_t st = xf_vk_bind_all(dev, &n->src[0], &d->bind[0], err);
    if (st == XF_OK) st = xf_vk_bind_all(dev, &n->src[1], &d->bind[1], err);
    if (st == XF_OK) st = xf_vk_bind_all(dev, &n->dst, &d->bind[4], err);
    if (st != XF_OK) return st;
    xf_vk_push_t p = {0};
    for (int i = 0; i < 4; ++i) xf_vk_pu(&p, n->dst.ne[i]);
    xf_vk_bcast_strides(&n->src[0], &p);
    xf_vk_bcast_strides(&n->src[1], &p);
    xf_vk_pu(&p, d->bind[0].elem_offset);
    xf_vk_pu(&p, d->bind[1].elem_offset);
    xf_vk_pu(&p, d->bind[4].elem_offset);
    uint32_t wg;
    uint64_t g[3];
    bool grid3;
    xf_vk_grid4(dev, n->dst.ne, &wg, g, &grid3);
    uint32_t spec[3] = {wg, (uint32_t)xf_node_code(n), grid3};
    return xf_vk_commit(dev, plan, "binary", n->dst.dtype, NULL, spec, 3, &p, g[0], g[1], g[2], err);
}

static xf_status_t xf_vk_op_unary(xf_device_t* dev, const xf_exec_node_t* n, xf_vk_plan_t* plan, xf_err_t* err) {
    xf_vk_dispatch_t* d = xf_vk_new_dispatch(plan, err);
    if (!d) return XF_ERR_OUT_OF_MEMORY;
    xf_status_t st = xf_vk_bind_all(dev, &n->src[0], &d->bind[0], err);
    if (st == XF_OK) st = xf_vk_bind_all(dev, &n->dst, &d->bind[4], err);
    if (st != XF_OK) return st;
    bool scale = n->op == XF_OP_SCALE, clip = n->op == XF_OP_CLIP;
    xf_vk_push_t p = {0};
    xf_vk_pu(&p, xf_tref_elements(&n->dst));
    xf_vk_pu(&p, d->bind[0].elem_offset);
    xf_vk_pu(&p, d->bind[4].elem_offset);
    xf_vk_pf(&p, scale ? n->params.scale.scale : 1.0f);
    xf_vk_pf(&p, scale ? n->params.scale.shift : 0.0f);
    xf_vk_pf(&p, clip ? n->params.clip.lo : 0.0f);
    xf_vk_pf(&p, clip ? n->params.clip.hi : 0.0f);
    return xf_vk_elementwise(dev, plan, "unary", n->dst.dtype, (uint32_t)xf_node_code(n),
                             (uint64_t)xf_tref_elements(&n->dst), &p, err);
}

static xf_status_t xf_vk_op_glu(xf_device_t* dev, const xf_exec_node_t* n, xf_vk_plan_t* plan, xf_err_t* err) {
    xf_vk_dispatch_t* d = xf_vk_new_dispatch(plan, err);
    if (!d) return XF_ERR_OUT_OF_MEMORY;
    xf_status_t st = xf_vk_bind_all(dev, &n->src[0], &d->bind[0], err);
    if (st == XF_OK) st = xf_vk_bind_all(dev, &n->dst, &d->bind[4], err);
    if (st != XF_OK) return st;
    xf_vk_push_t p = {0};
    xf_vk_pu(&p, xf_tref_elements(&n->dst));
    xf_vk_pu(&p, n->dst.ne[3]);
    xf_vk_pu(&p, d->bind[0].elem_offset);
    xf_vk_pu(&p, d->bind[4].elem_offset);
    return xf_vk_elementwise(dev, plan, "glu", n->dst.dtype, (uint32_t)n->params.unary.activation,
                             (uint64_t)xf_tref_elements(&n->dst), &p, err);
}

static xf_status_t xf_vk_op_where(xf_device_t* dev, const xf_exec_node_t* n, xf_vk_plan_t* plan, xf_err_t* err) {
    xf_vk_dispatch_t* d = xf_vk_new_dispatch(plan, err);
    if (!d) return XF_ERR_OUT_OF_MEMORY;
    xf_status_t st = XF_OK;
    for (int i = 0; i < 3 && st == XF_OK; ++i) st = xf_vk_bind_all(dev, &n->src[i], &d->bind[i], err);
    if (st == XF_OK) st = xf_vk_bind_all(dev, &n->dst, &d->bind[4], err);
    if (st != XF_OK) return st;
    xf_vk_push_t p = {0};
    for (int i = 0; i < 4; ++i) xf_vk_pu(&p, n->dst.ne[i]);
    for (int i = 0; i < 3; ++i) xf_vk_bcast_strides(&n->src[i], &p);
    for (int i = 0; i < 3; ++i) xf_vk_pu(&p, d->bind[i].elem_offset);
    xf_vk_pu(&p, d->bind[4].elem_offset);
    uint32_t wg = xf_vk_wg(dev);
    uint32_t spec[1] = {wg};
    uint64_t gx, gy;
    xf_vk_grid(dev, (uint64_t)xf_tref_elements(&n->dst), wg, &gx, &gy);
    return xf_vk_commit(dev, plan, "where", n->dst.dtype, n->src[0].dtype == XF_DTYPE_I32 ? "_i32" : NULL, spec, 1,
                        &p, gx, gy, 1, err);
}

// ROLL and PAD: one invocation per dst element, indices from 4-D shapes and per-dim offsets.
static xf_status_t xf_vk_op_shift(xf_device_t* dev, const xf_exec_node_t* n, xf_vk_plan_t* plan, xf_err_t* err) {
    xf_vk_dispatch_t* d = xf_vk_new_dispatch(plan, err);
    if (!d) return XF_ERR_OUT_OF_MEMORY;
    xf_status_t st = xf_vk_bind_all(dev, &n->src[0], &d->bind[0], err);
    if (st == XF_OK) st = xf_vk_bind_all(dev, &n->dst, &d->bind[4], err);
    if (st != XF_OK) return st;
    bool pad = n->op == XF_OP_PAD;
    xf_vk_push_t p = {0};
    if (pad) {
        for (int i = 0; i < 4; ++i) xf_vk_pu(&p, n->src[0].ne[i]);
    }
    for (int i = 0; i < 4; ++i) xf_vk_pu(&p, n->dst.ne[i]);
    for (int i = 0; i < 4; ++i) xf_vk_pu(&p, pad ? n->params.pad.before[i] : n->params.roll.shift[i]);
    xf_vk_pu(&p, d->bind[0].elem_offset);
    xf_vk_pu(&p, d->bind[4].elem_offset);
    if (pad) xf_vk_pf(&p, n->params.pad.value);
    return xf_vk_elementwise(dev, plan, pad ? "pad" : "roll", n->dst.dtype, 0, (uint64_t)xf_tref_elements(&n->dst),
                             &p, err);
}

// Rows of a row-wise shader per work-group, and the work-group size.
static void xf_vk_row_layout(const xf_device_t* dev, uint32_t* wg, uint32_t* rows_per_wg) {
    if (dev->use_subgroup) {
        uint32_t sg = dev->feat.subgroup_size;
        uint32_t per = 4;
        while (per > 1 && (sg * per > dev->props.limits.maxComputeWorkGroupInvocations ||
                           sg * per > dev->props.limits.maxComputeWorkGroupSize[0]))
            per /= 2;
        *wg = sg * per;
        *rows_per_wg = per;
    } else {
        *wg = xf_vk_wg(dev) / 2;
        *rows_per_wg = 1;
    }
}

static xf_status_t xf_vk_op_norm(xf_device_t* dev, const xf_exec_node_t* n, xf_vk_plan_t* plan, xf_err_t* err) {
    xf_vk_dispatch_t* d = xf_vk_new_dispatch(plan, err);
    if (!d) return XF_ERR_OUT_OF_MEMORY;
    bool rms = n->op == XF_OP_RMSNORM;
    bool hw = n->params.norm.has_weight, hb = !rms && n->params.norm.has_bias;
    xf_status_t st = xf_vk_bind_all(dev, &n->src[0], &d->bind[0], err);
    if (st == XF_OK && hw) st = xf_vk_bind_all(dev, &n->src[1], &d->bind[1], err);
    if (st == XF_OK && hb) st = xf_vk_bind_all(dev, &n->src[2], &d->bind[2], err);
    if (st == XF_OK) st = xf_vk_bind_all(dev, &n->dst, &d->bind[4], err);
    if (st != XF_OK) return st;
    int64_t c = n->dst.ne[3], rows = xf_tref_elements(&n->dst) / (c ? c : 1);
    xf_vk_push_t p = {0};
    xf_vk_pu(&p, rows);
    xf_vk_pu(&p, c);
    xf_vk_pu(&p, d->bind[0].elem_offset);
    xf_vk_pu(&p, d->bind[1].elem_offset);
    xf_vk_pu(&p, d->bind[2].elem_offset);
    xf_vk_pu(&p, d->bind[4].elem_offset);
    xf_vk_pf(&p, n->params.norm.eps);
    uint32_t wg, per;
    xf_vk_row_layout(dev, &wg, &per);
    uint32_t spec[4] = {wg, rms, hw, hb};
    uint64_t gx, gy;
    xf_vk_grid(dev, (uint64_t)rows, per, &gx, &gy);
    return xf_vk_commit(dev, plan, "norm", n->dst.dtype, dev->use_subgroup ? "_sg" : NULL, spec, 4, &p, gx, gy, 1, err);
}

static xf_status_t xf_vk_op_softmax(xf_device_t* dev, const xf_exec_node_t* n, xf_vk_plan_t* plan, xf_err_t* err) {
    xf_vk_dispatch_t* d = xf_vk_new_dispatch(plan, err);
    if (!d) return XF_ERR_OUT_OF_MEMORY;
    bool hm = n->params.softmax.has_mask;
    xf_status_t st = xf_vk_bind_all(dev, &n->src[0], &d->bind[0], err);
    if (st == XF_OK && hm) st = xf_vk_bind_all(dev, &n->src[1], &d->bind[1], err);
    if (st == XF_OK) st = xf_vk_bind_all(dev, &n->dst, &d->bind[4], err);
    if (st != XF_OK) return st;
    xf_vk_push_t p = {0};
    for (int i = 0; i < 4; ++i) xf_vk_pu(&p, n->dst.ne[i]);
    if (hm) xf_vk_bcast_strides(&n->src[1], &p);
    else for (int i = 0; i < 4; ++i) xf_vk_pu(&p, 0);
    xf_vk_pu(&p, d->bind[0].elem_offset);
    xf_vk_pu(&p, d->bind[1].elem_offset);
    xf_vk_pu(&p, d->bind[4].elem_offset);
    xf_vk_pf(&p, n->params.softmax.scale);
    int64_t rows = n->dst.ne[0] * n->dst.ne[1] * n->dst.ne[2];
    uint32_t wg, per;
    xf_vk_row_layout(dev, &wg, &per);
    uint32_t spec[2] = {wg, hm};
    uint64_t gx, gy;
    xf_vk_grid(dev, (uint64_t)rows, per, &gx, &gy);
    return xf_vk_commit(dev, plan, "softmax", n->dst.dtype, dev->use_subgroup ? "_sg" : NULL, spec, 2, &p, gx, gy, 1,
                        err);
}

// Register blocking of the CPU-style GEMM shaders by device: matmul_sg (p[0] = rows per lane R,
// p[1] = columns per lane TN) keeps SG * R * TN accumulators per lane; 32 (the vector register file
// of AVX2/AVX-512 hosts) measured best on lavapipe at SG 8 (2 x 2 for A.B^T; 4x4 spilled, 2-3x
// slower). matmul_cpu (p[0] = TM, p[1] = TN): 4x4, 8x8 with vec4 loads along N.
static void gemm_default(const xf_device_t* dev, bool sg_kernel, bool tb, bool vec, int p[2]) {
    if (sg_kernel) {
        uint32_t sg = dev->feat.subgroup_size;
        p[0] = tb ? (sg >= 16 ? 1 : 2) : 1;
        p[1] = tb ? (sg >= 32 ? 1 : 2) : 4;
    } else {
        p[0] = p[1] = vec && !tb ? 8 : 4;
    }
}

// Blockings the shaders accept: matmul_sg R, TN in 1..4 (TN 4 for a [K, N] b, read as vec4 along N);
// matmul_cpu TM, TN in 2..8 (TN a multiple of 4 with vec4 loads along N).
static bool gemm_legal(bool sg_kernel, bool tb, bool vec, const int p[2]) {
    bool pow2 = p[0] > 0 && p[1] > 0 && !(p[0] & (p[0] - 1)) && !(p[1] & (p[1] - 1));
    if (sg_kernel) return pow2 && p[0] <= 4 && p[1] <= 4 && (tb || p[1] == 4);
    return pow2 && p[0] >= 2 && p[0] <= 8 && p[1] >= 2 && p[1] <= 8 && (tb || !vec || p[1] % 4 == 0);
}

// Candidate blockings around the default: accumulators per lane (matmul_sg: SG * R * TN) or per
// invocation (matmul_cpu: TM * TN) from 16 to 32 (fast) or 8 to 64 (full).
static int gemm_candidates(const xf_device_t* dev, bool sg_kernel, bool tb, bool vec, bool full, int out[][2],
                           int cap) {
    int n = 0, lo = full ? 8 : 16, hi = full ? 64 : 32;
    gemm_default(dev, sg_kernel, tb, vec, out[n++]);
    static const int sizes[] = {1, 2, 4, 8};
    for (int i = 0; i < 4; ++i) {
        for (int j = 0; j < 4; ++j) {
            int a = sizes[i], b = sizes[j];
            int acc = sg_kernel ? (int)dev->feat.subgroup_size * a * b : a * b;
            if (!gemm_legal(sg_kernel, tb, vec, (int[2]){a, b})) continue;
            if (acc < lo || acc > hi || n == cap || (a == out[0][0] && b == out[0][1])) continue;
            out[n][0] = a;
            out[n][1] = b;
            ++n;
        }
    }
    return n;
}

// Times the candidate blockings on a one-node graph (M x K by K x N, zero operands) and returns the
// fastest in |p|; false when none ran.
static bool tune_gemm(xf_device_t* dev, bool sg_kernel, bool tb, bool vec, int64_t M, int64_t N, int64_t K,
                      xf_dtype_t dtype, int p[2], double* out_us) {
    int cands[32][2];
    bool full = dev->tune == XF_TUNE_FULL;
    int n = gemm_candidates(dev, sg_kernel, tb, vec, full, cands, 32), reps = full ? 3 : 2;
    size_t es = xf_dtype_size(dtype), sizes[3] = {(size_t)(M * K) * es, (size_t)(K * N) * es, (size_t)(M * N) * es};
    xf_buffer_t* bufs[3] = {NULL, NULL, NULL};
    xf_err_t err = {{0}};
    bool ok = true;
    void* zeros = xf_calloc(1, sizes[0] > sizes[1] ? (sizes[0] > sizes[2] ? sizes[0] : sizes[2])
                                                 : (sizes[1] > sizes[2] ? sizes[1] : sizes[2]));
    for (int i = 0; i < 3 && ok; ++i) {
        ok = zeros && xf_vk_buffer_alloc(dev, sizes[i], &bufs[i], &err) == XF_OK &&
             xf_vk_buffer_write(dev, bufs[i], 0, zeros, sizes[i], &err) == XF_OK;
    }
    xf_free(zeros);
    xf_exec_node_t node = {.op = XF_OP_MATMUL, .nsrc = 2, .label = "kernel tuning"};
    node.params.matmul.transpose_b = tb;
    const int64_t shapes[3][2] = {{M, K}, {tb ? N : K, tb ? K : N}, {M, N}};
    for (int i = 0; i < 3; ++i) {
        xf_tref_t* t = i < 2 ? &node.src[i] : &node.dst;
        *t = (xf_tref_t){.buffer = bufs[i], .dtype = dtype, .ne = {1, 1, shapes[i][0], shapes[i][1]}};
        t->nb[3] = (int64_t)es;
        t->nb[2] = shapes[i][1] * t->nb[3];
        t->nb[1] = t->nb[0] = shapes[i][0] * t->nb[2];
    }
    xf_exec_graph_t graph = {&node, 1};
    double best = -1;
    if (ok) {
        xf_sink_log(&dev->log, XF_LOG_INFO, "tuning %s %s %lldx%lldx%lld: %d candidates",
                    sg_kernel ? "matmul_sg" : "matmul_cpu", xf_dtype_name(dtype), (long long)M, (long long)N,
                    (long long)K, n);
    }
    for (int i = 0; i < n && ok; ++i) {
        int force[3] = {cands[i][0], cands[i][1], vec};
        dev->tune_force = force;
        void* state = NULL;
        double t = -1;
        if (xf_vk_graph_prepare(dev, &graph, &state, &err) == XF_OK &&
            xf_vk_graph_compute(dev, &graph, state, &err) == XF_OK) {
            for (int r = 0; r < reps; ++r) {
                double t0 = xf_seconds();
                if (xf_vk_graph_compute(dev, &graph, state, &err) != XF_OK) {
                    t = -1;
                    break;
                }
                double s = xf_seconds() - t0;
                if (t < 0 || s < t) t = s;
                if (best >= 0 && s > 3 * best) break;  // clearly slower: stop timing it
            }
        }
        if (state) xf_vk_graph_release(dev, state);
        dev->tune_force = NULL;
        if (t < 0) {
            xf_sink_log(&dev->log, XF_LOG_WARN, "tuning %s: candidate %d x %d skipped: %s",
                        sg_kernel ? "matmul_sg" : "matmul_cpu", cands[i][0], cands[i][1], err.msg);
            // A validation message the candidate raised must still fail the graph being prepared.
            const char* prefix = "Vulkan validation: ";
            if (strncmp(err.msg, prefix, strlen(prefix)) == 0) xf_vk_validation_report(dev, err.msg + strlen(prefix));
        } else if (best < 0 || t < best) {
            best = t;
            p[0] = cands[i][0];
            p[1] = cands[i][1];
        }
    }
    for (int i = 0; i < 3; ++i) xf_vk_buffer_free(dev, bufs[i]);
    *out_us = best * 1e6;
    if (best >= 0) {
        xf_sink_log(&dev->log, XF_LOG_INFO, "tuned %s %s %lldx%lldx%lld: %d x %d (%.0f us)",
                    sg_kernel ? "matmul_sg" : "matmul_cpu", xf_dtype_name(dtype), (long long)M, (long long)N,
                    (long long)K, p[0], p[1], *out_us);
    }
    return best >= 0;
}

// The blocking of one GEMM dispatch: the candidate a tuning run forces, else the device's tuning
// result for the shape, else (tuned now when the context tunes) the default.
static void gemm_blocking(xf_device_t* dev, bool sg_kernel, bool tb, bool vec, int64_t M, int64_t N, int64_t K,
                          xf_dtype_t dtype, int p[2]) {
    if (dev->tune_force) {
        p[0] = dev->tune_force[0];
        p[1] = dev->tune_force[1];
        return;
    }
    char key[64];
    snprintf(key, sizeof key, "%s%s%s %s %lldx%lldx%lld", sg_kernel ? "matmul_sg" : "matmul_cpu", tb ? " nt" : " nn",
             vec ? " vec" : "", xf_dtype_name(dtype), (long long)M, (long long)N, (long long)K);
    int found[4];
    // A result that the shaders would not accept (a foreign or edited file) is ignored.
    if (xf_tune_find(&dev->tune_db, key, found) && gemm_legal(sg_kernel, tb, vec, found)) {
        p[0] = found[0];
        p[1] = found[1];
        return;
    }
    gemm_default(dev, sg_kernel, tb, vec, p);
    double us = 0;
    if (dev->tune != XF_TUNE_OFF && tune_gemm(dev, sg_kernel, tb, vec, M, N, K, dtype, p, &us)) {
        xf_tune_store(&dev->tune_db, key, (int[4]){p[0], p[1], 0, 0}, us);
    }
}

// One GEMM dispatch over rows [m0, m0 + mc) and columns [n0, n0 + nc) of a 2-D problem, or over
// the whole batched problem when |batched|.
static xf_status_t xf_vk_gemm(xf_device_t* dev, const xf_exec_node_t* n, bool batched, int64_t m0, int64_t mc,
                              int64_t n0, int64_t nc, xf_vk_plan_t* plan, xf_err_t* err) {
    const xf_tref_t *a = &n->src[0], *b = &n->src[1], *c = &n->dst, *scale = &n->src[4];
    bool tb = n->params.matmul.transpose_b, hb = n->params.matmul.has_bias, hr = n->params.matmul.has_residual;
    bool quant = n->params.matmul.has_scale;
    int64_t M = c->ne[2], N = c->ne[3], K = a->ne[3];
    int64_t qb = quant && n->params.matmul.scale_block ? n->params.matmul.scale_block : K;
    int64_t s_row = quant ? xf_quant_groups(K, n->params.matmul.scale_block) : 0;
    xf_vk_dispatch_t* d = xf_vk_new_dispatch(plan, err);
    if (!d) return XF_ERR_OUT_OF_MEMORY;
    xf_status_t st;
    if (batched) {
        st = xf_vk_bind_all(dev, a, &d->bind[0], err);
        if (st == XF_OK) st = xf_vk_bind_all(dev, b, &d->bind[1], err);
        if (st == XF_OK && hb) st = xf_vk_bind_all(dev, &n->src[2], &d->bind[2], err);
        if (st == XF_OK && hr) st = xf_vk_bind_all(dev, &n->src[3], &d->bind[3], err);
        if (st == XF_OK) st = xf_vk_bind_all(dev, c, &d->bind[4], err);
        if (st == XF_OK && quant) st = xf_vk_bind_all(dev, scale, &d->bind[5], err);
    } else {
        int64_t cfirst = m0 * N + n0, ccount = (mc - 1) * N + nc;
        st = xf_vk_bind(dev, a, m0 * K, mc * K, &d->bind[0], err);
        if (st == XF_OK) {
            st = tb ? xf_vk_bind(dev, b, n0 * K, nc * K, &d->bind[1], err)
                    : xf_vk_bind(dev, b, n0, (K - 1) * N + nc, &d->bind[1], err);
        }
        if (st == XF_OK && hb) st = xf_vk_bind(dev, &n->src[2], n0, nc, &d->bind[2], err);
        if (st == XF_OK && hr) st = xf_vk_bind(dev, &n->src[3], cfirst, ccount, &d->bind[3], err);
        if (st == XF_OK) st = xf_vk_bind(dev, c, cfirst, ccount, &d->bind[4], err);
        if (st == XF_OK && quant) st = xf_vk_bind(dev, scale, n0 * s_row, nc * s_row, &d->bind[5], err);
        M = mc;
    }
    if (st != XF_OK) return st;
    if (xf_vk_b_in_words(n, b)) xf_vk_bind_words(&d->bind[1]);
    if (quant) xf_vk_bind_words(&d->bind[5]);
    const char* suffix = xf_vk_b_suffix(n);
    int64_t B1 = c->ne[1], Z = c->ne[0] * c->ne[1];
    xf_vk_push_t p = {0};
    xf_vk_pu(&p, M);
    xf_vk_pu(&p, batched ? N : nc);
    xf_vk_pu(&p, K);
    xf_vk_pu(&p, N);  // ldb for [K, N]
    xf_vk_pu(&p, N);  // ldc
    xf_vk_pu(&p, B1);
    xf_vk_pu(&p, B1 * M * K);
    xf_vk_pu(&p, M * K);
    xf_vk_pu(&p, b->ne[0] == 1 ? 0 : b->ne[1] * K * N);
    xf_vk_pu(&p, b->ne[1] == 1 ? 0 : K * N);
    xf_vk_pu(&p, B1 * M * N);
    xf_vk_pu(&p, M * N);
    for (int i = 0; i < 5; ++i) xf_vk_pu(&p, d->bind[i].elem_offset);
    xf_vk_pu(&p, qb);
    xf_vk_pu(&p, d->bind[5].elem_offset);
    xf_vk_pu(&p, s_row);
    int64_t ncols = batched ? N : nc;
    uint32_t act = (uint32_t)n->params.matmul.activation;
    uint32_t scale_f16 = quant && scale->dtype == XF_DTYPE_F16;
    if (dev->cpu_style) {
        bool vec = K % 4 == 0 && d->bind[0].elem_offset % 4 == 0 && d->bind[1].elem_offset % 4 == 0 &&
                   (tb || (N % 4 == 0));
        if (dev->tune_force && !dev->tune_force[2]) vec = false;
        bool sg_kernel = vec && dev->use_shuffle;
        int bp[2];
        gemm_blocking(dev, sg_kernel, tb, vec, M, ncols, K, c->dtype, bp);
        if (sg_kernel) {
            uint32_t sg = dev->feat.subgroup_size, r = (uint32_t)bp[0], tn = (uint32_t)bp[1];
            uint32_t spec[9] = {sg, r, tn, tb, 0, act, hb, hr, scale_f16};
            uint64_t cols = (uint64_t)(ncols + tn - 1) / tn;
            return xf_vk_commit(dev, plan, "matmul_sg", c->dtype, suffix, spec, 9, &p, (cols + sg - 1) / sg,
                                (uint64_t)(M + sg * r - 1) / (sg * r), (uint64_t)Z, err);
        }
        uint32_t tm = (uint32_t)bp[0], tn = (uint32_t)bp[1];
        uint64_t bx = (uint64_t)(ncols + tn - 1) / tn;
        uint32_t wg = xf_vk_pow2_at_least(bx, 8, 64);
        uint32_t spec[9] = {wg, tm, tn, tb, vec, act, hb, hr, scale_f16};
        return xf_vk_commit(dev, plan, "matmul_cpu", c->dtype, suffix, spec, 9, &p, (bx + wg - 1) / wg,
                            (uint64_t)(M + tm - 1) / tm, (uint64_t)Z, err);
    }
    uint32_t ts = 16;
    while (ts > 4 && (ts * ts > dev->props.limits.maxComputeWorkGroupInvocations ||
                      2 * ts * ts * 4 > dev->props.limits.maxComputeSharedMemorySize))
        ts /= 2;
    uint32_t spec[9] = {ts, 0, 0, tb, 0, act, hb, hr, scale_f16};
    return xf_vk_commit(dev, plan, "matmul_gpu", c->dtype, suffix, spec, 9, &p, (uint64_t)(ncols + ts - 1) / ts,
                        (uint64_t)(M + ts - 1) / ts, (uint64_t)Z, err);
}

static bool xf_vk_fits(const xf_device_t* dev, const xf_tref_t* t) {
    return (VkDeviceSize)xf_vk_span(t) * xf_dtype_size(t->dtype) <= xf_vk_max_range(dev);
}

static bool xf_vk_node_fits(const xf_device_t* dev, const xf_exec_node_t* n) {
    for (int i = 0; i < XF_MAX_SRC; ++i) {
        if (n->src[i].buffer && !xf_vk_fits(dev, &n->src[i])) return false;
    }
    return xf_vk_fits(dev, &n->dst);
}

// Scratch chunks start at this alignment (a multiple of any minStorageBufferOffsetAlignment in practice;
// the binding code rounds down to the device's own and passes the element offset).
#define XF_VK_SCRATCH_ALIGN 256

static VkDeviceSize xf_vk_scratch_size(xf_dtype_t dt, const int64_t* ne) {
    VkDeviceSize bytes = (VkDeviceSize)(ne[0] * ne[1] * ne[2] * ne[3]) * xf_dtype_size(dt);
    return (bytes + XF_VK_SCRATCH_ALIGN - 1) / XF_VK_SCRATCH_ALIGN * XF_VK_SCRATCH_ALIGN;
}

// Takes a dense temporary of shape |ne| from the node's planned scratch and describes it in |out|.
static xf_status_t xf_vk_scratch(xf_device_t* dev, xf_vk_plan_t* plan, xf_dtype_t dt, const int64_t* ne,
                                 xf_tref_t* out, xf_err_t* err) {
    (void)dev;
    VkDeviceSize size = xf_vk_scratch_size(dt, ne);
    if (!plan->scratch || plan->scratch_at + size > plan->scratch_end)
        return xf_err_set(err, XF_ERR_INTERNAL, "Vulkan: a node needs more scratch than it declared");
    memset(out, 0, sizeof *out);
    out->buffer = plan->scratch;
    out->offset = (size_t)plan->scratch_at;
    out->dtype = dt;
    memcpy(out->ne, ne, sizeof out->ne);
    xf_vk_dense_bytes(out);
    plan->scratch_at += size;
    return XF_OK;
}

// The subgroup GEMM is fastest for A.B^T (both operands K-contiguous); an A.B that fits one binding
// is run as a transposing copy of B into a graph-owned buffer, then A.B^T.
static xf_status_t xf_vk_matmul_via_bt(xf_device_t* dev, const xf_exec_node_t* n, xf_vk_plan_t* plan,
                                       xf_err_t* err) {
    const xf_tref_t* b = &n->src[1];
    int64_t K = b->ne[2], N = b->ne[3];
    xf_tref_t src = *b, bt;
    src.ne[2] = N;
    src.ne[3] = K;
    int64_t es = (int64_t)xf_dtype_size(b->dtype);
    src.nb[0] = b->ne[1] * K * N * es;
    src.nb[1] = K * N * es;
    src.nb[2] = es;
    src.nb[3] = N * es;
    xf_status_t st = xf_vk_scratch(dev, plan, b->dtype, src.ne, &bt, err);
    if (st != XF_OK) return st;
    int64_t bt_strides[4];
    xf_vk_dense_strides(bt.ne, bt_strides);
    st = xf_vk_copy(dev, &src, &bt, 0, bt_strides, plan, err);
    if (st != XF_OK) return st;
    xf_exec_node_t tn = *n;
    tn.src[1] = bt;
    tn.params.matmul.transpose_b = true;
    return xf_vk_gemm(dev, &tn, true, 0, 0, 0, 0, plan, err);
}

// True when an A.B runs as a transposing copy of B into scratch, then the subgroup A.B^T GEMM.
static bool xf_vk_matmul_uses_bt(const xf_device_t* dev, const xf_exec_node_t* n) {
    int64_t K = n->src[0].ne[3];
    return xf_vk_node_fits(dev, n) && dev->cpu_style && dev->use_shuffle && !n->params.matmul.transpose_b &&
           n->src[1].dtype == n->dst.dtype &&
           K % 4 == 0 && K >= 64 && n->dst.ne[2] >= 32;
}

static xf_status_t xf_vk_op_matmul(xf_device_t* dev, const xf_exec_node_t* n, xf_vk_plan_t* plan, xf_err_t* err) {
    int64_t K = n->src[0].ne[3];
    if (xf_vk_matmul_uses_bt(dev, n)) return xf_vk_matmul_via_bt(dev, n, plan, err);
    if (xf_vk_node_fits(dev, n)) return xf_vk_gemm(dev, n, true, 0, 0, 0, 0, plan, err);
    // Too large for one binding (maxStorageBufferRange): a 2-D problem is split into row and
    // column blocks, each bound at its own offset (supports() rejects the rest).
    const xf_tref_t* c = &n->dst;
    int64_t M = c->ne[2], N = c->ne[3];
    VkDeviceSize es = xf_dtype_size(c->dtype), es_b = xf_dtype_size(n->src[1].dtype), lim = xf_vk_max_range(dev);
    int64_t nc = N;
    if (n->params.matmul.transpose_b) {
        int64_t fit = (int64_t)(lim / ((VkDeviceSize)K * es_b));
        if (fit < nc) nc = fit >= 8 ? fit / 8 * 8 : (fit > 0 ? fit : 1);
    }
    int64_t mc = M;
    while (mc > 1 && ((VkDeviceSize)(mc * K) * es > lim || (VkDeviceSize)(mc * N) * es > lim)) mc = (mc + 1) / 2;
    xf_status_t st = XF_OK;
    for (int64_t m0 = 0; m0 < M && st == XF_OK; m0 += mc) {
        for (int64_t n0 = 0; n0 < N && st == XF_OK; n0 += nc) {
            st = xf_vk_gemm(dev, n, false, m0, mc < M - m0 ? mc : M - m0, n0, nc < N - n0 ? nc : N - n0, plan, err);
        }
    }
    return st;
}

static xf_status_t xf_vk_op_attention(xf_device_t* dev, const xf_exec_node_t* n, xf_vk_plan_t* plan, xf_err_t* err) {
    const xf_tref_t *q = &n->src[0], *k = &n->src[1], *v = &n->src[2], *o = &n->dst;
    bool hb = n->params.attention.has_bias;
    xf_vk_dispatch_t* d = xf_vk_new_dispatch(plan, err);
    if (!d) return XF_ERR_OUT_OF_MEMORY;
    xf_status_t st = xf_vk_bind_all(dev, q, &d->bind[0], err);
    if (st == XF_OK) st = xf_vk_bind_all(dev, k, &d->bind[1], err);
    if (st == XF_OK) st = xf_vk_bind_all(dev, v, &d->bind[2], err);
    if (st == XF_OK && hb) st = xf_vk_bind_all(dev, &n->src[3], &d->bind[3], err);
    if (st == XF_OK) st = xf_vk_bind_all(dev, o, &d->bind[4], err);
    if (st != XF_OK) return st;
    int64_t Z = q->ne[0] * q->ne[1], Lq = q->ne[2], Lk = k->ne[2], D = q->ne[3], DV = v->ne[3];
    xf_vk_push_t p = {0};
    xf_vk_pu(&p, Lq);
    xf_vk_pu(&p, Lk);
    xf_vk_pu(&p, q->ne[1]);
    for (int i = 0; i < 5; ++i) xf_vk_pu(&p, d->bind[i].elem_offset);
    if (hb) xf_vk_bcast_strides(&n->src[3], &p);
    else for (int i = 0; i < 4; ++i) xf_vk_pu(&p, 0);
    xf_vk_pf(&p, n->params.attention.scale);
    bool vec = D % 4 == 0 && DV % 4 == 0 && d->bind[1].elem_offset % 4 == 0 && d->bind[2].elem_offset % 4 == 0;
    if (dev->cpu_style && vec && dev->use_shuffle && D <= 256 && DV <= 256) {
        uint32_t sg = dev->feat.subgroup_size;
        uint32_t spec[4] = {sg, (uint32_t)D, (uint32_t)DV, hb};
        return xf_vk_commit(dev, plan, "attention_sg", o->dtype, NULL, spec, 4, &p, (uint64_t)(Lq + sg - 1) / sg,
                            (uint64_t)Z, 1, err);
    }
    if (dev->cpu_style && D <= 256 && DV <= 256) {
        uint32_t wg = xf_vk_pow2_at_least((uint64_t)Lq, 8, 32);
        uint32_t spec[5] = {wg, (uint32_t)D, (uint32_t)DV, hb, vec};
        return xf_vk_commit(dev, plan, "attention_cpu", o->dtype, NULL, spec, 5, &p, (uint64_t)(Lq + wg - 1) / wg,
                            (uint64_t)Z, 1, err);
    }
    uint32_t wg = 64;
    if ((uint64_t)(D + wg) * 4 > dev->props.limits.maxComputeSharedMemorySize)
        return xf_err_set(err, XF_ERR_INCOMPATIBLE, "Vulkan: attention head size %lld exceeds shared memory",
                          (long long)D);
    uint32_t spec[6] = {wg, (uint32_t)D, (uint32_t)DV, hb, 0, (uint32_t)((DV + wg - 1) / wg)};
    return xf_vk_commit(dev, plan, "attention_gpu", o->dtype, NULL, spec, 6, &p, (uint64_t)Lq, (uint64_t)Z, 1, err);
}

// The window attention's GPU-style shader needs its work-group and two key/value tiles of shared memory.
static bool xf_vk_window_attention_tiled(const xf_device_t* dev, const xf_exec_node_t* n, uint32_t* wg, uint32_t* kt) {
    const uint32_t hd = (uint32_t)(n->dst.ne[3] / n->params.window_attention.heads);
    *wg = 64;
    *kt = 16;
    while (*kt > 1 && 2u * *kt * hd * 4u > dev->props.limits.maxComputeSharedMemorySize) *kt /= 2;
    return !dev->cpu_style && hd <= 256 && *wg <= xf_vk_wg(dev) &&
           2u * *kt * hd * 4u <= dev->props.limits.maxComputeSharedMemorySize;
}

static xf_status_t xf_vk_op_window_attention(xf_device_t* dev, const xf_exec_node_t* n, xf_vk_plan_t* plan,
                                             xf_err_t* err) {
    const xf_tref_t *qkv = &n->src[0], *o = &n->dst;
    const xf_op_params_t* pr = &n->params;
    const int64_t heads = pr->window_attention.heads, hd = o->ne[3] / heads;
    const int64_t B = qkv->ne[0], H = qkv->ne[1], W = qkv->ne[2];
    const int* win = pr->window_attention.window;
    const bool has_index = pr->window_attention.has_index, has_pad = pr->window_attention.has_pad;
    xf_vk_dispatch_t* d = xf_vk_new_dispatch(plan, err);
    if (!d) return XF_ERR_OUT_OF_MEMORY;
    xf_status_t st = xf_vk_bind_all(dev, qkv, &d->bind[0], err);
    if (st == XF_OK) st = xf_vk_bind_all(dev, &n->src[1], &d->bind[1], err);
    if (st == XF_OK && has_index) st = xf_vk_bind_all(dev, &n->src[2], &d->bind[2], err);
    if (st == XF_OK && has_pad) st = xf_vk_bind_all(dev, &n->src[3], &d->bind[3], err);
    if (st == XF_OK) st = xf_vk_bind_all(dev, o, &d->bind[4], err);
    if (st != XF_OK) return st;
    xf_vk_push_t p = {0};
    int64_t vals[] = {H, W, win[0], win[1], pr->window_attention.shift[0], pr->window_attention.shift[1], heads,
                      n->src[1].ne[2]};
    for (size_t i = 0; i < sizeof vals / sizeof vals[0]; ++i) xf_vk_pu(&p, vals[i]);
    xf_vk_pu(&p, d->bind[0].elem_offset);
    xf_vk_pu(&p, d->bind[1].elem_offset);
    xf_vk_pu(&p, has_index ? d->bind[2].elem_offset : 0);
    xf_vk_pu(&p, has_pad ? d->bind[3].elem_offset : 0);
    xf_vk_pu(&p, d->bind[4].elem_offset);
    xf_vk_pf(&p, pr->window_attention.scale);
    xf_vk_pf(&p, pr->window_attention.mask_value);
    uint32_t wg, kt;
    if (xf_vk_window_attention_tiled(dev, n, &wg, &kt)) {
        int64_t area = (int64_t)win[0] * win[1];
        int64_t windows = ((H + win[0] - 1) / win[0]) * ((W + win[1] - 1) / win[1]);
        uint32_t spec[5] = {wg, (uint32_t)hd, has_index, has_pad, kt};
        return xf_vk_commit(dev, plan, "window_attention_gpu", o->dtype, NULL, spec, 5, &p,
                            (uint64_t)(windows * ((area + wg - 1) / wg)), (uint64_t)heads, (uint64_t)B, err);
    }
    if (hd > 256)
        return xf_err_set(err, XF_ERR_UNIMPLEMENTED, "Vulkan: window attention head size %lld is over 256",
                          (long long)hd);
    const bool vec = hd % 4 == 0 && d->bind[0].elem_offset % 4 == 0 && (!has_pad || d->bind[3].elem_offset % 4 == 0);
    if (dev->cpu_style && dev->use_shuffle && vec && hd <= 256) {
        const uint32_t sg = dev->feat.subgroup_size;
        const int64_t area = (int64_t)win[0] * win[1];
        const int64_t windows = ((H + win[0] - 1) / win[0]) * ((W + win[1] - 1) / win[1]);
        uint32_t spec[4] = {sg, (uint32_t)hd, has_index, has_pad};
        return xf_vk_commit(dev, plan, "window_attention_sg", o->dtype, NULL, spec, 4, &p,
                            (uint64_t)(windows * ((area + sg - 1) / sg)), (uint64_t)heads, (uint64_t)B, err);
    }
    // Window-major like the GPU style: a work-group per window (up to 64 queries).
    const int64_t area = (int64_t)win[0] * win[1];
    const int64_t windows = ((H + win[0] - 1) / win[0]) * ((W + win[1] - 1) / win[1]);
    wg = xf_vk_pow2_at_least((uint64_t)area, 8, xf_vk_wg(dev) < 64 ? xf_vk_wg(dev) : 64);
    uint32_t spec[4] = {wg, (uint32_t)hd, has_index, has_pad};
    return xf_vk_commit(dev, plan, "window_attention_cpu", o->dtype, NULL, spec, 4, &p,
                        (uint64_t)(windows * ((area + wg - 1) / wg)), (uint64_t)heads, (uint64_t)B, err);
}

// Convolution as im2col + the subgroup A.B^T GEMM (weights [O, C*KH*KW] are already B^T), then a
// transposing copy (or bias add) from [pixels, O] to [O, pixels].
static xf_status_t xf_vk_conv_gemm(xf_device_t* dev, const xf_exec_node_t* n, xf_vk_plan_t* plan, xf_err_t* err) {
    const xf_tref_t *x = &n->src[0], *w = &n->src[1], *o = &n->dst;
    const xf_op_params_t* pr = &n->params;
    int64_t N = x->ne[0], C = x->ne[1], O = o->ne[1], P = o->ne[2] * o->ne[3], CK = C * w->ne[2] * w->ne[3];
    xf_tref_t cols, cm;
    xf_status_t st = xf_vk_scratch(dev, plan, x->dtype, (int64_t[]){1, 1, N * P, CK}, &cols, err);
    if (st == XF_OK) st = xf_vk_scratch(dev, plan, x->dtype, (int64_t[]){1, 1, N * P, O}, &cm, err);
    xf_vk_dispatch_t* d = st == XF_OK ? xf_vk_new_dispatch(plan, err) : NULL;
    if (!d) return st != XF_OK ? st : XF_ERR_OUT_OF_MEMORY;
    st = xf_vk_bind_all(dev, x, &d->bind[0], err);
    if (st == XF_OK) st = xf_vk_bind_all(dev, &cols, &d->bind[4], err);
    if (st != XF_OK) return st;
    xf_vk_push_t p = {0};
    int64_t vals[] = {C, x->ne[2], x->ne[3], w->ne[2], w->ne[3], o->ne[3], pr->conv2d.stride[0], pr->conv2d.stride[1],
                      pr->conv2d.padding[0], pr->conv2d.padding[1], pr->conv2d.dilation[0], pr->conv2d.dilation[1]};
    for (size_t i = 0; i < sizeof vals / sizeof vals[0]; ++i) xf_vk_pu(&p, vals[i]);
    xf_vk_pu(&p, d->bind[0].elem_offset);
    xf_vk_pu(&p, CK);
    xf_vk_pu(&p, P);
    uint32_t wg = xf_vk_pow2_at_least((uint64_t)CK, 8, 64);
    uint32_t spec[1] = {wg};
    st = xf_vk_commit(dev, plan, "im2col", x->dtype, NULL, spec, 1, &p, (uint64_t)(CK + wg - 1) / wg, (uint64_t)P,
                      (uint64_t)N, err);
    if (st != XF_OK) return st;
    xf_exec_node_t g = {.op = XF_OP_MATMUL, .nsrc = 2, .label = n->label};
    g.src[0] = cols;
    g.src[1] = *w;
    int64_t wne[4] = {1, 1, O, CK};
    memcpy(g.src[1].ne, wne, sizeof wne);
    xf_vk_dense_bytes(&g.src[1]);
    g.dst = cm;
    g.params.matmul.transpose_b = true;
    st = xf_vk_gemm(dev, &g, true, 0, 0, 0, 0, plan, err);
    if (st != XF_OK) return st;
    xf_tref_t view = cm, out = *o;
    int64_t es = (int64_t)xf_dtype_size(o->dtype);
    int64_t vne[4] = {1, N, O, P}, vnb[4] = {0, P * O * es, es, O * es};
    memcpy(view.ne, vne, sizeof vne);
    memcpy(view.nb, vnb, sizeof vnb);
    memcpy(out.ne, vne, sizeof vne);
    xf_vk_dense_bytes(&out);
    int64_t out_strides[4];
    xf_vk_dense_strides(out.ne, out_strides);
    if (!pr->conv2d.has_bias) return xf_vk_copy(dev, &view, &out, 0, out_strides, plan, err);
    xf_exec_node_t add = {.op = XF_OP_ADD, .nsrc = 2, .label = n->label};
    add.src[0] = view;
    add.src[1] = n->src[2];
    int64_t bne[4] = {1, 1, O, 1}, bnb[4] = {0, 0, es, 0};
    memcpy(add.src[1].ne, bne, sizeof bne);
    memcpy(add.src[1].nb, bnb, sizeof bnb);
    add.dst = out;
    return xf_vk_op_binary(dev, &add, plan, err);
}

// True when a convolution runs as im2col + the subgroup GEMM (both through scratch).
static bool xf_vk_conv_uses_gemm(const xf_device_t* dev, const xf_exec_node_t* n) {
    const xf_tref_t *x = &n->src[0], *w = &n->src[1], *o = &n->dst;
    int64_t pix = o->ne[2] * o->ne[3], ck = x->ne[1] * w->ne[2] * w->ne[3];
    VkDeviceSize es = xf_dtype_size(o->dtype);
    const uint32_t* lim = dev->props.limits.maxComputeWorkGroupCount;
    return dev->cpu_style && dev->use_shuffle && n->params.conv2d.groups == 1 && ck % 4 == 0 && ck >= 64 &&
           (uint64_t)pix <= lim[1] && (uint64_t)x->ne[0] <= lim[2] &&
           (VkDeviceSize)(x->ne[0] * pix) * (VkDeviceSize)(ck > o->ne[1] ? ck : o->ne[1]) * es <= xf_vk_max_range(dev);
}

static xf_status_t xf_vk_op_conv2d(xf_device_t* dev, const xf_exec_node_t* n, xf_vk_plan_t* plan, xf_err_t* err) {
    const xf_tref_t *x = &n->src[0], *w = &n->src[1], *o = &n->dst;
    bool hb = n->params.conv2d.has_bias;
    xf_vk_dispatch_t* d = xf_vk_new_dispatch(plan, err);
    if (!d) return XF_ERR_OUT_OF_MEMORY;
    xf_status_t st = xf_vk_bind_all(dev, x, &d->bind[0], err);
    if (st == XF_OK) st = xf_vk_bind_all(dev, w, &d->bind[1], err);
    if (st == XF_OK && hb) st = xf_vk_bind_all(dev, &n->src[2], &d->bind[2], err);
    if (st == XF_OK) st = xf_vk_bind_all(dev, o, &d->bind[4], err);
    if (st != XF_OK) return st;
    const xf_op_params_t* pr = &n->params;
    xf_vk_push_t p = {0};
    int64_t vals[] = {x->ne[0], x->ne[1], x->ne[2], x->ne[3], o->ne[1], w->ne[2], w->ne[3], o->ne[2], o->ne[3],
                      pr->conv2d.stride[0], pr->conv2d.stride[1], pr->conv2d.padding[0], pr->conv2d.padding[1],
                      pr->conv2d.dilation[0], pr->conv2d.dilation[1], pr->conv2d.groups};
    for (size_t i = 0; i < sizeof vals / sizeof vals[0]; ++i) xf_vk_pu(&p, vals[i]);
    xf_vk_pu(&p, d->bind[0].elem_offset);
    xf_vk_pu(&p, d->bind[1].elem_offset);
    xf_vk_pu(&p, d->bind[2].elem_offset);
    xf_vk_pu(&p, d->bind[4].elem_offset);
    int64_t og = o->ne[1] / pr->conv2d.groups, pix = o->ne[2] * o->ne[3];
    if (xf_vk_conv_uses_gemm(dev, n)) return xf_vk_conv_gemm(dev, n, plan, err);
    if (dev->cpu_style) {
        uint32_t ob = og % 4 == 0 ? 4 : og % 2 == 0 ? 2 : 1;
        uint32_t wg = 64;
        uint32_t spec[3] = {wg, ob, hb};
        uint64_t gx, gy;
        xf_vk_grid(dev, (uint64_t)(o->ne[0] * (o->ne[1] / ob) * pix), wg, &gx, &gy);
        return xf_vk_commit(dev, plan, "conv2d_cpu", o->dtype, NULL, spec, 3, &p, gx, gy, 1, err);
    }
    uint32_t wg = 64;
    uint32_t spec[3] = {wg, 1, hb};
    return xf_vk_commit(dev, plan, "conv2d_gpu", o->dtype, NULL, spec, 3, &p, (uint64_t)(pix + wg - 1) / wg,
                        (uint64_t)(o->ne[0] * o->ne[1]), 1, err);
}

// Ops over [outer, len, inner] views of one axis: REDUCE, GATHER.
static void xf_vk_axis_split(const xf_tref_t* t, int ax, int64_t* outer, int64_t* len, int64_t* inner) {
    *outer = *inner = 1;
    for (int d = 0; d < ax; ++d) *outer *= t->ne[d];
    for (int d = ax + 1; d < 4; ++d) *inner *= t->ne[d];
    *len = t->ne[ax];
}

static xf_status_t xf_vk_op_simple(xf_device_t* dev, const xf_exec_node_t* n, xf_vk_plan_t* plan, xf_err_t* err) {
    const xf_tref_t *x = &n->src[0], *o = &n->dst;
    xf_vk_dispatch_t* d = xf_vk_new_dispatch(plan, err);
    if (!d) return XF_ERR_OUT_OF_MEMORY;
    xf_status_t st = xf_vk_bind_all(dev, x, &d->bind[0], err);
    if (st == XF_OK && n->op == XF_OP_GATHER) st = xf_vk_bind_all(dev, &n->src[1], &d->bind[1], err);
    if (st == XF_OK) st = xf_vk_bind_all(dev, o, &d->bind[4], err);
    if (st != XF_OK) return st;
    xf_vk_push_t p = {0};
    int64_t outer, len, inner;
    const char* op = NULL;
    uint32_t code = 0;
    xf_dtype_t dt = x->dtype;
    switch (n->op) {
        case XF_OP_RESIZE:
            op = "resize";
            xf_vk_pu(&p, x->ne[0] * x->ne[1]);
            xf_vk_pu(&p, x->ne[2]);
            xf_vk_pu(&p, x->ne[3]);
            xf_vk_pu(&p, o->ne[2]);
            xf_vk_pu(&p, o->ne[3]);
            xf_vk_pu(&p, n->params.resize.align_corners);
            break;
        case XF_OP_SUM:
        case XF_OP_MEAN:
        case XF_OP_MAX:
        case XF_OP_MIN:
            op = "reduce_axis";
            code = (uint32_t)xf_node_code(n);
            xf_vk_axis_split(x, n->params.axis.axis, &outer, &len, &inner);
            xf_vk_pu(&p, outer);
            xf_vk_pu(&p, len);
            xf_vk_pu(&p, inner);
            break;
        case XF_OP_ARGMAX:
            op = "argmax";
            xf_vk_pu(&p, xf_tref_elements(x) / x->ne[3]);
            xf_vk_pu(&p, x->ne[3]);
            break;
        default:  // GATHER
            op = "gather";
            xf_vk_axis_split(x, n->params.axis.axis, &outer, &len, &inner);
            xf_vk_pu(&p, outer);
            xf_vk_pu(&p, len);
            xf_vk_pu(&p, inner);
            xf_vk_pu(&p, xf_tref_elements(&n->src[1]));
            break;
    }
    xf_vk_pu(&p, d->bind[0].elem_offset);
    if (n->op == XF_OP_GATHER) xf_vk_pu(&p, d->bind[1].elem_offset);
    xf_vk_pu(&p, d->bind[4].elem_offset);
    uint64_t threads = (uint64_t)xf_tref_elements(o);
    return xf_vk_elementwise(dev, plan, op, dt, code, threads, &p, err);
}

static bool xf_vk_float(xf_dtype_t t) { return t == XF_DTYPE_F32 || t == XF_DTYPE_F16; }

// The Vulkan op table: one entry per op family of lib/ops/ops.def.
typedef struct xf_vk_op_entry_s {
    xf_status_t (*record)(xf_device_t* dev, const xf_exec_node_t* n, xf_vk_plan_t* plan, xf_err_t* err);
    const char* refused;
} xf_vk_op_entry_t;

static const xf_vk_op_entry_t xf_vk_family_copy = {.record = xf_vk_op_copy};
static const xf_vk_op_entry_t xf_vk_family_matmul = {.record = xf_vk_op_matmul};
static const xf_vk_op_entry_t xf_vk_family_binary = {.record = xf_vk_op_binary};
static const xf_vk_op_entry_t xf_vk_family_unary = {.record = xf_vk_op_unary};
static const xf_vk_op_entry_t xf_vk_family_glu = {.record = xf_vk_op_glu};
static const xf_vk_op_entry_t xf_vk_family_norm = {.record = xf_vk_op_norm};
static const xf_vk_op_entry_t xf_vk_family_softmax = {.record = xf_vk_op_softmax};
static const xf_vk_op_entry_t xf_vk_family_attention = {.record = xf_vk_op_attention};
static const xf_vk_op_entry_t xf_vk_family_window_attention = {.record = xf_vk_op_window_attention};
static const xf_vk_op_entry_t xf_vk_family_conv2d = {.record = xf_vk_op_conv2d};
static const xf_vk_op_entry_t xf_vk_family_resize = {.record = xf_vk_op_simple};
static const xf_vk_op_entry_t xf_vk_family_concat = {.record = xf_vk_op_concat};
static const xf_vk_op_entry_t xf_vk_family_reduce = {.record = xf_vk_op_simple};
static const xf_vk_op_entry_t xf_vk_family_argmax = {.record = xf_vk_op_simple};
static const xf_vk_op_entry_t xf_vk_family_gather = {.record = xf_vk_op_simple};
static const xf_vk_op_entry_t xf_vk_family_roll = {.record = xf_vk_op_shift};
static const xf_vk_op_entry_t xf_vk_family_pad = {.record = xf_vk_op_shift};
static const xf_vk_op_entry_t xf_vk_family_where = {.record = xf_vk_op_where};

static const xf_vk_op_entry_t* const xf_vk_ops[XF_OP_COUNT] = {
#define XF_OP(NAME, FAMILY, MAX_SRC, INPLACE, DTYPES, CODE) [XF_OP_##NAME] = &xf_vk_family_##FAMILY,
#include "ops/ops.def"
};

bool xf_vk_op_coverage(xf_op_t op, const char** reason) {
    const xf_vk_op_entry_t* e = (unsigned)op < XF_OP_COUNT ? xf_vk_ops[op] : NULL;
    *reason = e ? e->refused : NULL;
    return e && (e->record || e->refused);
}

typedef enum { XF_VK_PIECES_CHECK, XF_VK_PIECES_SCRATCH, XF_VK_PIECES_RECORD } xf_vk_pieces_mode_t;

typedef struct xf_vk_pieces_s {
    xf_vk_pieces_mode_t mode;
    xf_vk_plan_t* plan;       // RECORD
    VkDeviceSize scratch_at;  // RECORD: where every piece's scratch starts (they run one after another)
    size_t scratch;           // SCRATCH: the largest piece's
} xf_vk_pieces_t;

// Runs |n| as pieces whose operands each fit one binding (below).
static xf_status_t xf_vk_pieces(xf_device_t* dev, const xf_exec_node_t* n, xf_vk_pieces_t* pc, xf_err_t* err);

xf_status_t xf_vk_supports(xf_device_t* dev, const xf_exec_node_t* n, xf_err_t* err) {
    const xf_vk_op_entry_t* e = (unsigned)n->op < XF_OP_COUNT ? xf_vk_ops[n->op] : NULL;
    if (!e || !e->record) {
        return xf_err_set(err, XF_ERR_UNIMPLEMENTED, "Vulkan: %s is not run by this backend: %s", xf_op_name(n->op),
                          e && e->refused ? e->refused : "no op-table entry");
    }
    const xf_tref_t* all[XF_MAX_SRC + 1];
    int cnt = 0;
    for (int i = 0; i < XF_MAX_SRC; ++i) {
        if (n->src[i].buffer) all[cnt++] = &n->src[i];
    }
    all[cnt++] = &n->dst;
    for (int i = 0; i < cnt; ++i) {
        if (all[i]->dtype == XF_DTYPE_F16 && !dev->use_fp16 && !xf_vk_b_in_words(n, all[i]))
            return xf_err_set(err, XF_ERR_INCOMPATIBLE, "Vulkan: %s has no 16-bit storage%s; use f32 tensors",
                              dev->info.name,
                              dev->feat.storage16 ? " enabled (XFORMER_DISABLE=fp16 or disable_features)" : " (storageBuffer16BitAccess)");
        if (xf_tref_elements(all[i]) >= ((int64_t)1 << 31))
            return xf_err_set(err, XF_ERR_UNIMPLEMENTED, "Vulkan: tensors of 2^31 or more elements are not supported");
    }
    bool ok;
    switch (n->op) {
        case XF_OP_COPY:
            ok = (xf_vk_float(n->src[0].dtype) && xf_vk_float(n->dst.dtype)) ||
                 (n->src[0].dtype == XF_DTYPE_I32 && n->dst.dtype == XF_DTYPE_I32);
            break;
        case XF_OP_CONCAT:
            ok = true;
            for (int i = 0; i < n->params.axis.count; ++i) ok = ok && n->src[i].dtype == n->dst.dtype;
            break;
        case XF_OP_ARGMAX:
            ok = xf_vk_float(n->src[0].dtype) && n->dst.dtype == XF_DTYPE_I32;
            break;
        case XF_OP_GATHER:
            ok = n->src[1].dtype == XF_DTYPE_I32 && n->src[0].dtype == n->dst.dtype;
            break;
        case XF_OP_WINDOW_ATTENTION:
            ok = xf_vk_float(n->dst.dtype) && n->src[0].dtype == n->dst.dtype && n->src[1].dtype == n->dst.dtype &&
                 (!n->params.window_attention.has_index || n->src[2].dtype == XF_DTYPE_I32) &&
                 (!n->params.window_attention.has_pad || n->src[3].dtype == n->dst.dtype);
            break;
        case XF_OP_MATMUL:
            ok = xf_vk_float(n->dst.dtype) && n->src[0].dtype == n->dst.dtype &&
                 (xf_vk_float(n->src[1].dtype) || n->src[1].dtype == XF_DTYPE_BF16 ||
                  (n->src[1].dtype == XF_DTYPE_I8 && n->params.matmul.has_scale && n->params.matmul.transpose_b)) &&
                 (!n->params.matmul.has_bias || n->src[2].dtype == n->dst.dtype) &&
                 (!n->params.matmul.has_residual || n->src[3].dtype == n->dst.dtype);
            break;
        case XF_OP_WHERE:
            ok = (n->src[0].dtype == XF_DTYPE_I32 || n->src[0].dtype == n->dst.dtype) &&
                 n->src[1].dtype == n->dst.dtype && n->src[2].dtype == n->dst.dtype && xf_vk_float(n->dst.dtype);
            break;
        default:
            ok = true;
            for (int i = 0; i < cnt; ++i) ok = ok && xf_vk_float(all[i]->dtype) && all[i]->dtype == n->dst.dtype;
            break;
    }
    if (!ok) return xf_err_set(err, XF_ERR_UNIMPLEMENTED, "Vulkan: %s does not support this dtype combination",
                               xf_op_name(n->op));
    xf_vk_pieces_t pc = {.mode = XF_VK_PIECES_CHECK};
    return xf_vk_pieces(dev, n, &pc, err);
}

static size_t xf_vk_leaf_scratch(xf_device_t* dev, const xf_exec_node_t* n) {
    if (n->op == XF_OP_MATMUL && xf_vk_matmul_uses_bt(dev, n)) {
        const xf_tref_t* b = &n->src[1];
        return (size_t)xf_vk_scratch_size(b->dtype, (int64_t[]){b->ne[0], b->ne[1], b->ne[3], b->ne[2]});
    }
    if (n->op == XF_OP_CONV2D && xf_vk_conv_uses_gemm(dev, n)) {
        const xf_tref_t *x = &n->src[0], *w = &n->src[1], *o = &n->dst;
        int64_t NP = x->ne[0] * o->ne[2] * o->ne[3], CK = x->ne[1] * w->ne[2] * w->ne[3];
        return (size_t)(xf_vk_scratch_size(x->dtype, (int64_t[]){1, 1, NP, CK}) +
                        xf_vk_scratch_size(x->dtype, (int64_t[]){1, 1, NP, o->ne[1]}));
    }
    return 0;
}

//===----------------------------------------------------------------------===//
// Operands past one binding (maxStorageBufferRange): a node runs as pieces, each a node of the same op on
// slices of its operands that fit. A piece cuts the outermost dimension of the result that is not 1 (so the
// result's slice stays contiguous for shaders that write densely); the sources that run along that dimension
// are cut with it, the others are read whole. Copies (strided on both sides) are cut along any dimensions,
// a concatenation becomes one copy per source, and a 2-D matmul splits itself into row and column blocks.
//===----------------------------------------------------------------------===//


static void xf_vk_cut(xf_tref_t* t, int dim, int64_t start, int64_t len) {
    t->offset += (size_t)(start * t->nb[dim]);
    t->ne[dim] = len;
}

// A convolution whose every output channel reads its own input channel.
static bool xf_vk_depthwise(const xf_exec_node_t* n) {
    return n->params.conv2d.groups == n->src[0].ne[1] && n->dst.ne[1] == n->src[0].ne[1];
}

// For a cut of dst dim |d| of |n|: the dim of each source that runs along it, or -1 when every piece reads
// that source whole. False when |n| cannot be cut along |d|.
static bool xf_vk_cut_dims(const xf_exec_node_t* n, int d, int f[XF_MAX_SRC]) {
    const xf_tref_t* o = &n->dst;
    const xf_op_params_t* pr = &n->params;
    for (int i = 0; i < XF_MAX_SRC; ++i) f[i] = n->src[i].buffer && n->src[i].ne[d] == o->ne[d] ? d : -1;
    switch (n->op) {
        case XF_OP_MATMUL:
            return d < 2;
        case XF_OP_ATTENTION:
            if (d == 2) f[1] = f[2] = -1;  // every query row reads all keys and values
            return d < 3;
        case XF_OP_WINDOW_ATTENTION:
            f[1] = f[2] = f[3] = -1;
            return d == 0;
        case XF_OP_CONV2D: {
            const bool pointwise = n->src[1].ne[2] == 1 && n->src[1].ne[3] == 1 && pr->conv2d.stride[0] == 1 &&
                                   pr->conv2d.stride[1] == 1 && pr->conv2d.padding[0] == 0 && pr->conv2d.padding[1] == 0;
            for (int i = 0; i < XF_MAX_SRC; ++i) f[i] = -1;
            if (d == 0 || (d >= 2 && pointwise)) f[0] = d;
            // Output channels, with the weights (and, depthwise, the input channels: piece.groups follows).
            if (d == 1 && (pr->conv2d.groups == 1 || xf_vk_depthwise(n))) {
                f[1] = 0;
                if (pr->conv2d.has_bias) f[2] = 3;
                if (pr->conv2d.groups > 1) f[0] = 1;
            }
            return f[0] >= 0 || f[1] >= 0;
        }
        case XF_OP_RESIZE:
            return d < 2;
        case XF_OP_CONCAT:
            return d != pr->axis.axis;
        case XF_OP_ROLL:
            return pr->roll.shift[d] == 0;
        case XF_OP_PAD:
            return f[0] == d && pr->pad.before[d] == 0;
        case XF_OP_GATHER:
            f[1] = -1;
            return d != pr->axis.axis;
        case XF_OP_ARGMAX:  // over the last dim, which the result keeps as 1
            f[0] = d;
            return d < 3;
        case XF_OP_SUM:
        case XF_OP_MEAN:
        case XF_OP_MAX:
        case XF_OP_MIN:
            f[0] = d;
            return d != pr->axis.axis;
        case XF_OP_LAYERNORM:
        case XF_OP_RMSNORM:
        case XF_OP_SOFTMAX:
        case XF_OP_GLU:
            if (n->op != XF_OP_SOFTMAX) f[1] = f[2] = -1;
            f[0] = d;
            return d < 3;
        default:  // element-wise: sources broadcast along |d| (size 1) are read whole
            return true;
    }
}

// The first operand of |n| past one binding, for messages.
static const xf_tref_t* xf_vk_too_large(const xf_device_t* dev, const xf_exec_node_t* n) {
    for (int i = 0; i < XF_MAX_SRC; ++i)
        if (n->src[i].buffer && !xf_vk_fits(dev, &n->src[i])) return &n->src[i];
    return &n->dst;
}

static xf_status_t xf_vk_unsplittable(const xf_device_t* dev, const xf_exec_node_t* n, const char* why, xf_err_t* err) {
    const xf_tref_t* t = xf_vk_too_large(dev, n);
    return xf_err_set(err, XF_ERR_INCOMPATIBLE,
                      "Vulkan: a %s operand of %llu bytes exceeds maxStorageBufferRange (%u bytes) and %s",
                      xf_op_name(n->op), (unsigned long long)(xf_vk_span(t) * (int64_t)xf_dtype_size(t->dtype)),
                      dev->props.limits.maxStorageBufferRange, why);
}

static xf_status_t xf_vk_leaf(xf_device_t* dev, const xf_exec_node_t* n, xf_vk_pieces_t* pc, xf_err_t* err) {
    if (n->op == XF_OP_MATMUL && !xf_vk_node_fits(dev, n)) {
        // A 2-D product: split into row and column blocks by its own recorder when each K-long row fits.
        const xf_tref_t* c = &n->dst;
        int64_t K = n->src[0].ne[3];
        VkDeviceSize es = xf_dtype_size(c->dtype), es_b = xf_dtype_size(n->src[1].dtype);
        if (es_b > es) es = es_b;
        if (!((n->params.matmul.transpose_b || xf_vk_fits(dev, &n->src[1])) &&
              (VkDeviceSize)(K + c->ne[3]) * es <= xf_vk_max_range(dev)))
            return xf_vk_unsplittable(dev, n, "the product cannot be split into blocks that fit", err);
    }
    switch (pc->mode) {
        case XF_VK_PIECES_CHECK: return XF_OK;
        case XF_VK_PIECES_SCRATCH: {
            size_t need = xf_vk_leaf_scratch(dev, n);
            if (need > pc->scratch) pc->scratch = need;
            return XF_OK;
        }
        default:
            pc->plan->scratch_at = pc->scratch_at;
            return xf_vk_ops[n->op]->record(dev, n, pc->plan, err);
    }
}

// A copy cut along any dims (both sides strided) until both blocks fit, then block by block.
static xf_status_t xf_vk_copy_pieces(xf_device_t* dev, const xf_exec_node_t* n, xf_vk_pieces_t* pc, xf_err_t* err) {
    const xf_tref_t *src = &n->src[0], *dst = &n->dst;
    if (memcmp(src->ne, dst->ne, sizeof src->ne) != 0)
        return xf_vk_unsplittable(dev, n, "a reshaping copy cannot be split", err);
    int64_t cs[4] = {dst->ne[0], dst->ne[1], dst->ne[2], dst->ne[3]};
    for (;;) {
        xf_tref_t a = *src, b = *dst;
        memcpy(a.ne, cs, sizeof cs);
        memcpy(b.ne, cs, sizeof cs);
        const bool fa = xf_vk_fits(dev, &a), fb = xf_vk_fits(dev, &b);
        if (fa && fb) break;
        const xf_tref_t* bad = fa ? &b : &a;
        int best = -1;
        int64_t widest = 0;
        for (int d = 0; d < 4; ++d) {
            if (cs[d] > 1 && (cs[d] - 1) * bad->nb[d] > widest) {
                widest = (cs[d] - 1) * bad->nb[d];
                best = d;
            }
        }
        if (best < 0) return xf_vk_unsplittable(dev, n, "one element row does not fit", err);
        cs[best] = (cs[best] + 1) / 2;
    }
    xf_status_t st = XF_OK;
    int64_t at[4];
    for (at[0] = 0; at[0] < dst->ne[0] && st == XF_OK; at[0] += cs[0])
        for (at[1] = 0; at[1] < dst->ne[1] && st == XF_OK; at[1] += cs[1])
            for (at[2] = 0; at[2] < dst->ne[2] && st == XF_OK; at[2] += cs[2])
                for (at[3] = 0; at[3] < dst->ne[3] && st == XF_OK; at[3] += cs[3]) {
                    xf_exec_node_t piece = *n;
                    for (int d = 0; d < 4; ++d) {
                        int64_t len = cs[d] < dst->ne[d] - at[d] ? cs[d] : dst->ne[d] - at[d];
                        xf_vk_cut(&piece.src[0], d, at[d], len);
                        xf_vk_cut(&piece.dst, d, at[d], len);
                    }
                    st = xf_vk_leaf(dev, &piece, pc, err);
                }
    return st;
}

static xf_status_t xf_vk_pieces(xf_device_t* dev, const xf_exec_node_t* n, xf_vk_pieces_t* pc, xf_err_t* err) {
    const xf_tref_t* o = &n->dst;
    if (xf_vk_node_fits(dev, n) || (n->op == XF_OP_MATMUL && o->ne[0] * o->ne[1] == 1)) return xf_vk_leaf(dev, n, pc, err);
    if (n->op == XF_OP_COPY) return xf_vk_copy_pieces(dev, n, pc, err);
    int d = 0;
    while (d < 4 && o->ne[d] == 1) ++d;
    if (n->op == XF_OP_CONCAT && (d == 4 || d == n->params.axis.axis)) {
        // One copy per source into its slice of the result.
        xf_status_t st = XF_OK;
        int ax = n->params.axis.axis;
        int64_t at = 0;
        for (int i = 0; i < n->params.axis.count && st == XF_OK; ++i) {
            xf_exec_node_t piece = {.op = XF_OP_COPY, .nsrc = 1, .label = n->label, .dst = *o};
            piece.src[0] = n->src[i];
            xf_vk_cut(&piece.dst, ax, at, n->src[i].ne[ax]);
            at += n->src[i].ne[ax];
            st = xf_vk_pieces(dev, &piece, pc, err);
        }
        return st;
    }
    int f[XF_MAX_SRC];
    if (d == 4 || !xf_vk_cut_dims(n, d, f))
        return xf_vk_unsplittable(dev, n, "the operator cannot be split along its outermost dimension", err);
    // The longest run of dst dim |d| whose cut operands fit; the operands read whole must fit on their own,
    // else the pieces are single steps of |d| and are cut further inside.
    int64_t c = o->ne[d];
    for (;;) {
        xf_exec_node_t piece = *n;
        xf_vk_cut(&piece.dst, d, 0, c);
        bool fit = xf_vk_fits(dev, &piece.dst);
        for (int i = 0; i < XF_MAX_SRC; ++i) {
            if (!n->src[i].buffer) continue;
            if (f[i] >= 0) xf_vk_cut(&piece.src[i], f[i], 0, c);
            fit = fit && xf_vk_fits(dev, &piece.src[i]);
        }
        if (fit || c == 1) break;
        c = (c + 1) / 2;
    }
    xf_status_t st = XF_OK;
    for (int64_t at = 0; at < o->ne[d] && st == XF_OK; at += c) {
        xf_exec_node_t piece = *n;
        int64_t len = c < o->ne[d] - at ? c : o->ne[d] - at;
        xf_vk_cut(&piece.dst, d, at, len);
        for (int i = 0; i < XF_MAX_SRC; ++i)
            if (n->src[i].buffer && f[i] >= 0) xf_vk_cut(&piece.src[i], f[i], at, len);
        if (n->op == XF_OP_CONV2D && d == 1 && n->params.conv2d.groups > 1) piece.params.conv2d.groups = (int)len;
        st = xf_vk_pieces(dev, &piece, pc, err);
    }
    return st;
}

size_t xf_vk_node_scratch(xf_device_t* dev, const xf_exec_node_t* n) {
    xf_vk_pieces_t pc = {.mode = XF_VK_PIECES_SCRATCH};
    xf_err_t err;
    return xf_vk_pieces(dev, n, &pc, &err) == XF_OK ? pc.scratch : 0;
}

// Records |n|, which xf_vk_supports accepted when the graph was planned.
xf_status_t xf_vk_record_node(xf_device_t* dev, const xf_exec_node_t* n, xf_vk_plan_t* plan, xf_err_t* err) {
    if (xf_tref_elements(&n->dst) == 0) return XF_OK;
    plan->scratch = n->scratch;
    plan->scratch_at = n->scratch_offset;
    plan->scratch_end = n->scratch_offset + n->scratch_bytes;
    xf_vk_pieces_t pc = {.mode = XF_VK_PIECES_RECORD, .plan = plan, .scratch_at = n->scratch_offset};
    return xf_vk_pieces(dev, n, &pc, err);
}
