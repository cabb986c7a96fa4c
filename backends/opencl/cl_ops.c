// SPDX-License-Identifier: MIT
// OpenCL backend: per-node kernel choice, arguments and work sizes.
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cl_internal.h"

// Register-block sizes of the fixed CPU-style kernels; they must match the defaults in the .cl files.
enum { CV_CO = 4, CV_WO = 16, ATT_GPU_DMAX = 128, WA_GPU_DMAX = 128, WA_WG = 64 };

typedef struct args_s {
    cl_kernel kernel;
    cl_uint next;
    cl_int rc;
    const char* failed;
    xf_tref_t scratch;     // the node's planned scratch (packed operands, attention scores, im2col)
    int launches;          // launches used by the node
    xf_cl_graph_t* graph;  // receives the node's packed weights
} args_t;

static void arg(args_t* a, size_t size, const void* value) {
    if (a->rc != CL_SUCCESS) return;
    a->rc = xf_cl.clSetKernelArg(a->kernel, a->next++, size, value);
    if (a->rc != CL_SUCCESS) a->failed = "clSetKernelArg";
}
static void arg_int(args_t* a, int64_t v) {
    cl_int x = (cl_int)v;
    arg(a, sizeof x, &x);
}
static void arg_float(args_t* a, float v) {
    arg(a, sizeof v, &v);
}
static void arg_int4(args_t* a, const int64_t v[4]) {
    cl_int4 x = {{(cl_int)v[0], (cl_int)v[1], (cl_int)v[2], (cl_int)v[3]}};
    arg(a, sizeof x, &x);
}
// Binds |t|'s buffer and its element offset; an absent optional tensor binds |fallback|.
static void arg_tensor(args_t* a, const xf_tref_t* t, const xf_tref_t* fallback) {
    const xf_tref_t* u = t->buffer ? t : fallback;
    arg(a, sizeof(cl_mem), &u->buffer->mem);
    arg_int(a, t->buffer ? (int64_t)(t->offset / xf_dtype_size(t->dtype)) : 0);
}

static size_t round_up(size_t x, size_t m) {
    return (x + m - 1) / m * m;
}
static int64_t ceil_div(int64_t x, int64_t m) {
    return (x + m - 1) / m;
}

static const char* kernel_style_name(bool gpu) {
    return gpu ? "gpu" : "cpu";
}

typedef enum variant_e {
    VARIANT_TILED = 0,   // GPU-style: local-memory tiles and barriers
    VARIANT_CPU,         // CPU-style: register blocks, wide vectors, no barriers (MATMUL: on packed B)
    VARIANT_CPU_SPLIT,   // ATTENTION: scores = q.k^T into scratch, softmax in place, then scores.v;
                         // CONV2D: im2col into scratch, then the CPU-style A.B^T kernel
} variant_t;

// Largest im2col matrix (bytes) a CPU-style convolution writes to scratch.
#define XF_CL_IM2COL_MAX ((size_t)64 << 20)

// The convolution as a GEMM per image and group: M = output channels of the group, N = output
// pixels, K = input channels of the group x kernel area.
typedef struct conv_gemm_s {
    int64_t groups, batches, M, N, K;
} conv_gemm_t;

static conv_gemm_t conv_gemm(const xf_exec_node_t* node) {
    const xf_tref_t *w = &node->src[1], *y = &node->dst;
    int64_t groups = node->params.conv2d.groups;
    return (conv_gemm_t){groups, y->ne[0] * groups, y->ne[1] / groups, y->ne[2] * y->ne[3],
                         w->ne[1] * w->ne[2] * w->ne[3]};
}

static size_t im2col_bytes(const xf_exec_node_t* node) {
    conv_gemm_t g = conv_gemm(node);
    return (size_t)(g.batches * g.N * g.K) * xf_dtype_size(node->src[0].dtype);
}

// Largest score matrix (bytes) the split attention keeps in scratch; longer sequences use the fused
// online-softmax kernel, whose memory use does not grow with Lq * Lk.
#define XF_CL_ATTN_SCRATCH_MAX ((size_t)64 << 20)

static size_t attn_scores_bytes(const xf_exec_node_t* node) {
    const xf_tref_t* q = &node->src[0];
    return (size_t)(q->ne[0] * q->ne[1] * q->ne[2] * node->src[1].ne[2]) * xf_dtype_size(q->dtype);
}

// The one place that picks an op's kernel variant: the device's style (the context's choice or device
// type and limits, see xf_cl_select_style), the context's attention choice, then each variant's
// preconditions.
static variant_t choose_variant(const xf_device_t* dev, const xf_exec_node_t* node) {
    size_t t = (size_t)dev->tile;
    bool gpu = dev->style == XF_CL_STYLE_GPU;
    switch (node->op) {
        case XF_OP_MATMUL:
            if (gpu && dev->max_wg >= t * t && dev->local_mem >= 2 * t * (t + 1) * sizeof(float))
                return VARIANT_TILED;
            return VARIANT_CPU;
        case XF_OP_CONV2D:
            if (gpu && dev->max_wg >= t * t && dev->local_mem >= 2 * t * (t + 1) * sizeof(float))
                return VARIANT_TILED;
            // As a GEMM when each output sums enough products for the register-blocked kernel
            // (not depthwise) and the im2col matrix fits the scratch budget.
            return node->src[1].ne[1] * node->src[1].ne[2] * node->src[1].ne[3] >= 16 &&
                           node->dst.ne[1] / node->params.conv2d.groups >= 4 &&
                           im2col_bytes(node) <= XF_CL_IM2COL_MAX
                       ? VARIANT_CPU_SPLIT
                       : VARIANT_CPU;
        case XF_OP_ATTENTION:
            return gpu && node->src[0].ne[3] <= ATT_GPU_DMAX && node->src[2].ne[3] <= ATT_GPU_DMAX &&
                           dev->max_wg >= t && dev->local_mem >= 2 * t * ATT_GPU_DMAX * sizeof(float)
                       ? VARIANT_TILED
                   // The two register-blocked GEMMs outrun the fused kernel's per-row dot products.
                   : dev->attention == XF_ATTENTION_SPLIT ||
                           (dev->attention == XF_ATTENTION_AUTO && attn_scores_bytes(node) <= XF_CL_ATTN_SCRATCH_MAX)
                       ? VARIANT_CPU_SPLIT
                       : VARIANT_CPU;
        case XF_OP_WINDOW_ATTENTION:
            // One launch either way: on CPU devices the vectorised per-query kernel runs as fast as scores
            // through the packed GEMM did (docs/PERFORMANCE.md), without their scratch and copies.
            return gpu && node->dst.ne[3] / node->params.window_attention.heads <= WA_GPU_DMAX &&
                           dev->max_wg >= WA_WG && dev->max_item[0] >= WA_WG &&
                           dev->local_mem >= 2 * t * WA_GPU_DMAX * sizeof(float)
                       ? VARIANT_TILED
                       : VARIANT_CPU;
        default:
            return VARIANT_CPU;
    }
}

static bool use_tiled(const xf_device_t* dev, const xf_exec_node_t* node) {
    return choose_variant(dev, node) == VARIANT_TILED;
}

// Register blocking of mm_packed (shaders/opencl/matmul_packed.cl): |mr| rows by |nr| columns per
// work-item in vectors of |vw| floats.
typedef struct gemm_cfg_s {
    int mr, nr, vw;
} gemm_cfg_t;

// Starting parameters by device class. Registers are not reported; the native vector width stands
// in for the SIMD unit, and about twelve to sixteen vector accumulators fit the register files of
// CPUs with that width (AVX2: 6x16 floats in 12 ymm; AVX-512: 8x32 in 16 zmm; SSE/NEON: 4x8).
static gemm_cfg_t gemm_default(const xf_device_t* dev) {
    if (dev->float_width >= 16) return (gemm_cfg_t){8, 32, 16};
    if (dev->float_width >= 8) return (gemm_cfg_t){6, 16, 8};
    return (gemm_cfg_t){4, 8, 4};
}

// An int8 GEMM B's scales (xf_tensor_set_scale): |block| elements of K per scale, 0 per output channel.
typedef struct quant_s {
    const xf_tref_t* scale;
    int block;
} quant_t;

static int64_t quant_group(const quant_t* q, int64_t K) { return q->block ? q->block : K; }

// "-DXF_BT=..." when a GEMM's B is stored apart from its other operands (common.cl), else "". |scale_f16|:
// an int8 B's scales are half (read as stored by mm_pack and mm_gpu).
static const char* b_storage_define(xf_dtype_t gemm_dtype, xf_dtype_t b_dtype, bool scale_f16) {
    if (b_dtype == XF_DTYPE_I8) return scale_f16 ? "-DXF_BT=3 -DXF_SF16=1" : "-DXF_BT=3";
    if (b_dtype == gemm_dtype) return "";
    return b_dtype == XF_DTYPE_F16 ? "-DXF_BT=1" : b_dtype == XF_DTYPE_BF16 ? "-DXF_BT=2" : "-DXF_BT=0";
}

static void gemm_defines(gemm_cfg_t c, xf_dtype_t gemm_dtype, xf_dtype_t b_dtype, const quant_t* q, char* out,
                         size_t size) {
    const char* bt = b_storage_define(gemm_dtype, b_dtype, q && q->scale->dtype == XF_DTYPE_F16);
    snprintf(out, size, "-DXF_MR=%d -DXF_NR=%d -DXF_VW=%d%s%s", c.mr, c.nr, c.vw, bt[0] ? " " : "", bt);
}

static bool tune_gemm(xf_device_t* dev, int64_t M, int64_t N, int64_t K, xf_dtype_t dtype, gemm_cfg_t* out,
                      double* out_us);

// The register blocking for one GEMM shape: tuned on this device (the tuning cache, or now when the
// context tunes), else the device-class default.
static gemm_cfg_t gemm_config(xf_device_t* dev, int64_t M, int64_t N, int64_t K, xf_dtype_t dtype) {
    char key[64];
    snprintf(key, sizeof key, "mm_packed %s %lldx%lldx%lld", xf_dtype_name(dtype), (long long)M, (long long)N,
             (long long)K);
    int p[4];
    // A result the kernel would not build with (a foreign or edited file) is ignored.
    if (xf_tune_find(&dev->tune_db, key, p) && (p[2] == 4 || p[2] == 8 || p[2] == 16) && p[0] >= 1 && p[0] <= 8 &&
        p[1] % p[2] == 0 && p[1] >= p[2] && p[1] <= 4 * p[2]) {
        return (gemm_cfg_t){p[0], p[1], p[2]};
    }
    gemm_cfg_t c = gemm_default(dev);
    double us = 0;
    if (dev->tune != XF_TUNE_OFF && tune_gemm(dev, M, N, K, dtype, &c, &us)) {
        xf_tune_store(&dev->tune_db, key, (int[4]){c.mr, c.nr, c.vw, 0}, us);
    }
    return c;
}

// Elements of |batches| matrices [K, N] packed in panels of c.nr columns.
static int64_t packed_elements(gemm_cfg_t c, int64_t batches, int64_t K, int64_t N) {
    return batches * ceil_div(N, c.nr) * c.nr * K;
}

static size_t matmul_packed_scratch(xf_device_t* dev, const xf_exec_node_t* node) {
    if (node->constant_srcs & 2u) return 0;
    const xf_tref_t *A = &node->src[0], *B = &node->src[1];
    int64_t N = node->dst.ne[3], K = A->ne[3];
    return (size_t)packed_elements(gemm_config(dev, A->ne[2], N, K, A->dtype), B->ne[0] * B->ne[1], K, N) *
           xf_dtype_size(B->dtype);
}

// The attention split's packed k (for q.k^T) and v (for scores.v) take turns after the scores.
static size_t attn_packed_bytes(xf_device_t* dev, const xf_exec_node_t* node) {
    const xf_tref_t *q = &node->src[0], *k = &node->src[1], *v = &node->src[2];
    int64_t BH = q->ne[0] * q->ne[1], Lq = q->ne[2], Lk = k->ne[2], D = q->ne[3], Dv = v->ne[3];
    int64_t pk = packed_elements(gemm_config(dev, Lq, Lk, D, q->dtype), BH, D, Lk);
    int64_t pv = packed_elements(gemm_config(dev, Lq, Dv, Lk, q->dtype), BH, Lk, Dv);
    return (size_t)(pk > pv ? pk : pv) * xf_dtype_size(q->dtype);
}

static size_t align_up(size_t x, size_t a) {
    return (x + a - 1) / a * a;
}

size_t xf_cl_node_scratch_bytes(xf_device_t* dev, const xf_exec_node_t* node) {
    variant_t v = choose_variant(dev, node);
    if (node->op == XF_OP_MATMUL && v == VARIANT_CPU) return matmul_packed_scratch(dev, node);
    if (node->op == XF_OP_ATTENTION && v == VARIANT_CPU_SPLIT) {
        return align_up(attn_scores_bytes(node), 256) + attn_packed_bytes(dev, node);
    }
    if (node->op == XF_OP_CONV2D && v == VARIANT_CPU_SPLIT) {
        conv_gemm_t g = conv_gemm(node);
        return (size_t)packed_elements(gemm_config(dev, g.M, g.N, g.K, node->src[0].dtype), g.batches, g.K, g.N) *
               xf_dtype_size(node->src[0].dtype);
    }
    return 0;
}

// Creates |name| from the program for |dtype| built with |defines| and starts its argument list.
static xf_status_t make_kernel_with(xf_device_t* dev, xf_dtype_t dtype, const char* name, const char* defines,
                                    xf_cl_launch_t* l, args_t* a, xf_err_t* err) {
    cl_program prog = NULL;
    xf_status_t st = xf_cl_program_get(dev, dtype, name, defines, &prog, err);
    if (st != XF_OK) return st;
    cl_int rc = CL_SUCCESS;
    l->kernel = xf_cl.clCreateKernel(prog, name, &rc);
    if (rc != CL_SUCCESS) return xf_cl_fail(err, rc, "clCreateKernel", name);
    a->kernel = l->kernel;
    a->next = 0;
    a->launches++;
    return XF_OK;
}

static xf_status_t make_kernel(xf_device_t* dev, xf_dtype_t dtype, const char* name, xf_cl_launch_t* l,
                               args_t* a, xf_err_t* err) {
    return make_kernel_with(dev, dtype, name, NULL, l, a, err);
}

// Starts kernel |name| of the dst dtype's program with its first arguments: source 0 and dst.
static xf_status_t begin_src_dst(xf_device_t* dev, const xf_exec_node_t* nd, const char* name, xf_cl_launch_t* l,
                                 args_t* a, xf_err_t* err) {
    xf_status_t st = make_kernel(dev, nd->dst.dtype, name, l, a, err);
    if (st != XF_OK) return st;
    arg_tensor(a, &nd->src[0], NULL);
    arg_tensor(a, &nd->dst, NULL);
    return XF_OK;
}

static void launch_1d(const xf_device_t* dev, xf_cl_launch_t* l, int64_t n) {
    size_t local = dev->max_wg < 64 ? dev->max_wg : 64;
    if (local > dev->max_item[0]) local = dev->max_item[0];
    l->dims = 1;
    l->local[0] = local;
    l->global[0] = round_up((size_t)(n > 0 ? n : 1), local);
}

// Passes the element count |n| as the last argument and launches one work-item per element.
static xf_status_t finish_1d(const xf_device_t* dev, xf_cl_launch_t* l, args_t* a, int64_t n) {
    arg_int(a, n);
    launch_1d(dev, l, n);
    return XF_OK;
}

// A work-group size along dim 1 for CPU-style kernels: a few neighbouring blocks per group.
static size_t cpu_local(const xf_device_t* dev, size_t want) {
    size_t l = want;
    if (l > dev->max_wg) l = dev->max_wg;
    if (l > dev->max_item[1]) l = dev->max_item[1];
    return l ? l : 1;
}

static void launch_3d(xf_cl_launch_t* l, const size_t global[3], const size_t local[3]) {
    l->dims = 3;
    for (int d = 0; d < 3; ++d) {
        l->local[d] = local[d];
        l->global[d] = round_up(global[d] ? global[d] : 1, local[d]);
    }
}

static xf_status_t prep_copy(xf_device_t* dev, const xf_exec_node_t* nd, xf_cl_launch_t* l, args_t* a,
                             xf_err_t* err) {
    static const char* const names[3][3] = {{"copy_f32_f32", "copy_f32_f16", NULL},
                                            {"copy_f16_f32", "copy_f16_f16", NULL},
                                            {NULL, NULL, "copy_i32_i32"}};
    const char* name = names[nd->src[0].dtype][nd->dst.dtype];
    xf_status_t st = make_kernel(dev, XF_DTYPE_F32, name, l, a, err);
    if (st != XF_OK) return st;
    int64_t strides[4];
    xf_tref_elem_strides(&nd->src[0], strides);
    arg_tensor(a, &nd->src[0], NULL);
    arg_int4(a, strides);
    arg_tensor(a, &nd->dst, NULL);
    arg_int4(a, nd->dst.ne);
    const int64_t* ne = nd->dst.ne;
    bool vec16 = strides[3] == 1 && ne[3] % 16 == 0;
    int64_t per_row = vec16 ? ne[3] / 16 : ne[3];
    arg_int(a, vec16);
    size_t l0 = 1;
    while (l0 < 64 && (int64_t)l0 < per_row) l0 *= 2;
    if (l0 > dev->max_wg) l0 = dev->max_wg;
    if (l0 > dev->max_item[0]) l0 = dev->max_item[0];
    l->dims = 2;
    l->local[0] = l0;
    l->local[1] = 1;
    l->global[0] = round_up((size_t)(per_row > 0 ? per_row : 1), l0);
    l->global[1] = (size_t)(ne[0] * ne[1] * ne[2] > 0 ? ne[0] * ne[1] * ne[2] : 1);
    return XF_OK;
}

// The arguments mm_packed and mm_gpu share: C[bt] = act(A[bt] . B[bt] + bias) + R[bt], C dense, batched
// as bt = b0 * nb1 + b1 with A at b0 * sa[0] + b1 * sa[1] and B at b0 * sb[0] + b1 * sb[1] (elements).
static void gemm_kernel_args(args_t* a, const xf_tref_t* A, const xf_tref_t* B, const xf_tref_t* bias,
                             const xf_tref_t* R, const xf_tref_t* C, int64_t M, int64_t N, int64_t K, int64_t nb1,
                             const int64_t sa[2], const int64_t sb[2], int act) {
    arg_tensor(a, A, NULL);
    arg_tensor(a, B, NULL);
    arg_tensor(a, bias ? bias : &(xf_tref_t){0}, C);
    arg_tensor(a, R ? R : &(xf_tref_t){0}, C);
    arg_tensor(a, C, NULL);
    arg_int(a, M);
    arg_int(a, N);
    arg_int(a, K);
    arg_int(a, nb1);
    arg_int(a, sa[0]);
    arg_int(a, sa[1]);
    arg_int(a, sb[0]);
    arg_int(a, sb[1]);
    arg_int(a, bias != NULL);
    arg_int(a, R != NULL);
    arg_int(a, act);
}

// Launches mm_pack: |batches| dense matrices B ([N, K] when |trans|, else [K, N]) into panels at P, in
// B's storage type, for a GEMM in |gemm_dtype|.
// An int8 B (|q|) has its scales packed after the panels, at byte |sq_off| of P's buffer.
static xf_status_t launch_pack(xf_device_t* dev, xf_dtype_t gemm_dtype, const xf_tref_t* B, const xf_tref_t* P,
                               int64_t batches, int64_t K, int64_t N, bool trans, gemm_cfg_t c, const quant_t* q,
                               int64_t sq_off, xf_cl_launch_t* l, args_t* a, xf_err_t* err) {
    char defines[128];
    gemm_defines(c, gemm_dtype, B->dtype, q, defines, sizeof defines);
    xf_status_t st = make_kernel_with(dev, gemm_dtype, "mm_pack", defines, l, a, err);
    if (st != XF_OK) return st;
    arg_tensor(a, B, NULL);
    arg_tensor(a, P, NULL);
    arg_int(a, K);
    arg_int(a, N);
    arg_int(a, trans);
    if (q) {
        arg_tensor(a, q->scale, NULL);
        arg_int(a, quant_group(q, K));
        arg_int(a, sq_off);
    }
    launch_3d(l, (size_t[3]){(size_t)K, (size_t)ceil_div(N, c.nr), (size_t)batches},
              (size_t[3]){cpu_local(dev, 16), 1, 1});
    return XF_OK;
}

// The graph's packed copy of weight |B| (its cl_mem in |*out|), made at first use; its packing
// launch runs when the graph is prepared and again when the weight is uploaded.
static xf_status_t packed_weight(xf_device_t* dev, args_t* a, xf_dtype_t gemm_dtype, const xf_tref_t* B,
                                 int64_t batches, int64_t K, int64_t N, bool trans, gemm_cfg_t c, const quant_t* q,
                                 cl_mem* out, xf_err_t* err) {
    xf_cl_graph_t* g = a->graph;
    char layout[96];
    // An int8 weight's packing includes its scales: another scale tensor is another packing.
    snprintf(layout, sizeof layout, "%d/%d/%d %lldx%lldx%lld%s %d %d %p+%zu", c.mr, c.nr, c.vw, (long long)batches,
             (long long)K, (long long)N, trans ? "t" : "", (int)B->dtype, q ? q->block : -1,
             q ? (void*)q->scale->buffer->mem : NULL, q ? q->scale->offset : 0);
    for (size_t i = 0; i < g->packed_count; ++i) {
        const xf_cl_packed_t* pk = &g->packed[i];
        if (pk->source == B->buffer->mem && pk->source_offset == B->offset && strcmp(pk->layout, layout) == 0) {
            *out = pk->mem;
            return XF_OK;
        }
    }
    if (g->packed_count == g->packed_capacity) {
        size_t cap = g->packed_capacity ? 2 * g->packed_capacity : 32;
        xf_cl_packed_t* grown = xf_realloc(g->packed, cap * sizeof *grown);
        if (!grown) return xf_err_set(err, XF_ERR_OUT_OF_MEMORY, "out of host memory packing weights");
        g->packed = grown;
        g->packed_capacity = cap;
    }
    size_t bytes = (size_t)packed_elements(c, batches, K, N) * xf_dtype_size(B->dtype);
    size_t sq_off = bytes;
    if (q) bytes += (size_t)packed_elements(c, batches, xf_quant_groups(K, q->block), N) * sizeof(float);
    if (bytes > dev->info.max_buffer_bytes) {
        return xf_err_set(err, XF_ERR_OUT_OF_MEMORY,
                          "a packed weight of %zu bytes exceeds the device's largest allocation (%llu bytes)", bytes,
                          (unsigned long long)dev->info.max_buffer_bytes);
    }
    cl_int rc = CL_SUCCESS;
    xf_buffer_t packed = {.mem = xf_cl.clCreateBuffer(dev->context, CL_MEM_READ_WRITE, bytes, NULL, &rc),
                          .bytes = bytes};
    if (rc != CL_SUCCESS) return xf_cl_fail(err, rc, "clCreateBuffer", "a packed weight");
    xf_cl_packed_t* p = &g->packed[g->packed_count++];
    *p = (xf_cl_packed_t){.source = B->buffer->mem, .source_offset = B->offset, .mem = packed.mem};
    snprintf(p->layout, sizeof p->layout, "%s", layout);
    g->packed_bytes += bytes;
    args_t pa = {0};
    xf_status_t st = launch_pack(dev, gemm_dtype, B, &(xf_tref_t){.buffer = &packed, .dtype = B->dtype}, batches, K,
                                 N, trans, c, q, (int64_t)sq_off, &p->pack, &pa, err);
    if (st != XF_OK) return st;
    if (pa.rc != CL_SUCCESS) return xf_cl_fail(err, pa.rc, pa.failed, "packing a weight");
    *out = p->mem;
    return XF_OK;
}

// mm_packed on B packed at P (batch strides |sp| in packed elements); see gemm_kernel_args. An int8 B
// (|q|) has its scales packed at byte |sq_off| of P's buffer.
static xf_status_t launch_packed_qgemm(xf_device_t* dev, const xf_tref_t* A, const xf_tref_t* P,
                                       const xf_tref_t* bias, const xf_tref_t* R, const xf_tref_t* C, int64_t M,
                                       int64_t N, int64_t K, int64_t nb1, const int64_t sa[2], const int64_t sp[2],
                                       int act, gemm_cfg_t c, const quant_t* q, int64_t sq_off, xf_cl_launch_t* l,
                                       args_t* a, xf_err_t* err) {
    char defines[128];
    gemm_defines(c, A->dtype, P->dtype, NULL, defines, sizeof defines);
    xf_status_t st = make_kernel_with(dev, A->dtype, "mm_packed", defines, l, a, err);
    if (st != XF_OK) return st;
    gemm_kernel_args(a, A, P, bias, R, C, M, N, K, nb1, sa, sp, act);
    if (q) {
        arg_int(a, quant_group(q, K));
        arg_int(a, sq_off);
    }
    int64_t batch = C->ne[0] * C->ne[1];
    launch_3d(l, (size_t[3]){(size_t)ceil_div(M, c.mr), (size_t)ceil_div(N, c.nr), (size_t)batch},
              (size_t[3]){1, 1, 1});
    return XF_OK;
}

static xf_status_t launch_packed_gemm(xf_device_t* dev, const xf_tref_t* A, const xf_tref_t* P,
                                      const xf_tref_t* bias, const xf_tref_t* R, const xf_tref_t* C, int64_t M,
                                      int64_t N, int64_t K, int64_t nb1, const int64_t sa[2], const int64_t sp[2],
                                      int act, gemm_cfg_t c, xf_cl_launch_t* l, args_t* a, xf_err_t* err) {
    return launch_packed_qgemm(dev, A, P, bias, R, C, M, N, K, nb1, sa, sp, act, c, NULL, 0, l, a, err);
}

// Packs B (a weight once per graph, another operand into |scratch| each run) and launches mm_packed. An
// int8 B (|q|) is always a weight.
static xf_status_t packed_matmul(xf_device_t* dev, const xf_tref_t* A, const xf_tref_t* B,
                                 bool b_constant, bool trans, const xf_tref_t* scratch, const xf_tref_t* bias,
                                 const xf_tref_t* R, const xf_tref_t* C, int act, const quant_t* q, xf_cl_launch_t* l,
                                 args_t* a, xf_err_t* err) {
    int64_t M = A->ne[2], K = A->ne[3], N = C->ne[3];
    int64_t batches = B->ne[0] * B->ne[1];
    gemm_cfg_t c = gemm_config(dev, M, N, K, A->dtype);
    int64_t panel_set = packed_elements(c, 1, K, N);
    int64_t sp[2] = {B->ne[0] == 1 ? 0 : B->ne[1] * panel_set, B->ne[1] == 1 ? 0 : panel_set};
    int64_t sa[2] = {C->ne[1] * M * K, M * K};
    if (A->ne[0] == 1) sa[0] = 0;
    if (A->ne[1] == 1) sa[1] = 0;
    xf_buffer_t weight = {0};
    xf_tref_t P = *scratch;
    P.dtype = B->dtype;
    if (b_constant) {
        xf_status_t st = packed_weight(dev, a, A->dtype, B, batches, K, N, trans, c, q, &weight.mem, err);
        if (st != XF_OK) return st;
        P = (xf_tref_t){.buffer = &weight, .dtype = B->dtype};
    } else if (q) {
        return xf_err_set(err, XF_ERR_UNIMPLEMENTED, "OpenCL: an int8 matmul operand must be a weight");
    } else {
        xf_status_t st = launch_pack(dev, A->dtype, B, &P, batches, K, N, trans, c, NULL, 0, l, a, err);
        if (st != XF_OK || a->rc != CL_SUCCESS) return st;
        ++l;
    }
    return launch_packed_qgemm(dev, A, &P, bias, R, C, M, N, K, C->ne[1], sa, sp, act, c, q,
                               batches * panel_set * (int64_t)xf_dtype_size(B->dtype), l, a, err);
}

static xf_status_t prep_matmul(xf_device_t* dev, const xf_exec_node_t* nd, xf_cl_launch_t* l, args_t* a,
                               xf_err_t* err) {
    const xf_tref_t *A = &nd->src[0], *B = &nd->src[1], *C = &nd->dst;
    const xf_op_params_t* pr = &nd->params;
    bool trans = pr->matmul.transpose_b;
    const xf_tref_t* bias = pr->matmul.has_bias ? &nd->src[2] : NULL;
    const xf_tref_t* R = pr->matmul.has_residual ? &nd->src[3] : NULL;
    quant_t quant = {&nd->src[4], pr->matmul.scale_block};
    const quant_t* q = pr->matmul.has_scale ? &quant : NULL;
    if (choose_variant(dev, nd) != VARIANT_TILED) {
        return packed_matmul(dev, A, B, (nd->constant_srcs & 2u) != 0, trans, &a->scratch, bias, R, C,
                             pr->matmul.activation, q, l, a, err);
    }
    int64_t M = A->ne[2], K = A->ne[3], N = C->ne[3];
    int64_t batch = C->ne[0] * C->ne[1];
    int64_t sb1 = B->ne[1] == 1 ? 0 : K * N, sb0 = B->ne[0] == 1 ? 0 : B->ne[1] * K * N;
    const char* defines = b_storage_define(A->dtype, B->dtype, q && q->scale->dtype == XF_DTYPE_F16);
    xf_status_t st = make_kernel_with(dev, A->dtype, "mm_gpu", defines, l, a, err);
    if (st != XF_OK) return st;
    gemm_kernel_args(a, A, B, bias, R, C, M, N, K, C->ne[1], (int64_t[2]){C->ne[1] * M * K, M * K},
                     (int64_t[2]){sb0, sb1}, pr->matmul.activation);
    arg_int(a, trans);
    if (q) {
        arg_tensor(a, q->scale, NULL);
        arg_int(a, quant_group(q, K));
        arg_int(a, xf_quant_groups(K, q->block));
    }
    size_t t = (size_t)dev->tile;
    launch_3d(l, (size_t[3]){(size_t)N, (size_t)M, (size_t)batch}, (size_t[3]){t, t, 1});
    return XF_OK;
}

// Candidate register blockings. Registers are not reported, so the native vector width stands in
// for the register file: blocks whose accumulators fill 8 to 16 native vectors (fast), or 4 to 24
// with vectors half and twice as wide (full).
static int gemm_candidates(const xf_device_t* dev, bool full, gemm_cfg_t* out, int cap) {
    int w = dev->float_width < 4 ? 4 : dev->float_width > 16 ? 16 : dev->float_width, n = 0;
    out[n++] = gemm_default(dev);
    for (int vw = full ? 4 : w; vw <= (full ? 16 : w); vw *= 2) {
        if (full && (vw < w / 2 || vw > 2 * w)) continue;
        for (int nv = 1; nv <= (full ? 4 : 3); ++nv) {
            for (int mr = full ? 1 : 2; mr <= 8; mr += full ? 1 : 2) {
                int acc = mr * nv * vw / w, lo = full ? 4 : 8, hi = full ? 24 : 16;
                gemm_cfg_t c = {mr, nv * vw, vw};
                if (acc < lo || acc > hi || n == cap) continue;
                if (c.mr == out[0].mr && c.nr == out[0].nr && c.vw == out[0].vw) continue;
                out[n++] = c;
            }
        }
    }
    return n;
}

// Runs the launches once and waits; the time in seconds, or a negative value on failure.
static double run_launches(xf_device_t* dev, const xf_cl_launch_t* l, int count) {
    double t0 = xf_seconds();
    for (int i = 0; i < count; ++i) {
        if (xf_cl.clEnqueueNDRangeKernel(dev->queue, l[i].kernel, l[i].dims, NULL, l[i].global, l[i].local, 0, NULL,
                                         NULL) != CL_SUCCESS) {
            xf_cl.clFinish(dev->queue);
            return -1;
        }
    }
    if (xf_cl.clFinish(dev->queue) != CL_SUCCESS) return -1;
    return xf_seconds() - t0;
}

// Times the candidate blockings of mm_packed on an M x K by K x N product with scratch operands and
// returns the fastest. Candidates that fail to build or run are skipped.
static bool tune_gemm(xf_device_t* dev, int64_t M, int64_t N, int64_t K, xf_dtype_t dtype, gemm_cfg_t* out,
                      double* out_us) {
    gemm_cfg_t cands[64];
    bool full = dev->tune == XF_TUNE_FULL;
    int n = gemm_candidates(dev, full, cands, 64), reps = full ? 5 : 3;
    int64_t packed_max = 0;
    for (int i = 0; i < n; ++i) {
        int64_t e = packed_elements(cands[i], 1, K, N);
        if (e > packed_max) packed_max = e;
    }
    size_t es = xf_dtype_size(dtype), sizes[4] = {(size_t)(M * K) * es, (size_t)(N * K) * es,
                                                  (size_t)packed_max * es, (size_t)(M * N) * es};
    xf_buffer_t bufs[4] = {{0}};
    bool ok = true;
    for (int i = 0; i < 4 && ok; ++i) {
        cl_int rc = CL_SUCCESS;
        bufs[i].bytes = sizes[i];
        bufs[i].mem = sizes[i] <= dev->info.max_buffer_bytes
                          ? xf_cl.clCreateBuffer(dev->context, CL_MEM_READ_WRITE, sizes[i], NULL, &rc)
                          : NULL;
        ok = bufs[i].mem && rc == CL_SUCCESS;
        // Zeros: the timing does not depend on the values, and nothing uninitialised is read.
        static const float zero = 0;
        if (ok) {
            ok = xf_cl.clEnqueueFillBuffer(dev->queue, bufs[i].mem, &zero, es, 0, sizes[i], 0, NULL, NULL) ==
                 CL_SUCCESS;
        }
    }
    xf_tref_t A = {.buffer = &bufs[0], .dtype = dtype, .ne = {1, 1, M, K}};
    xf_tref_t B = {.buffer = &bufs[1], .dtype = dtype, .ne = {1, 1, N, K}};
    xf_tref_t P = {.buffer = &bufs[2], .dtype = dtype};
    xf_tref_t C = {.buffer = &bufs[3], .dtype = dtype, .ne = {1, 1, M, N}};
    double best = -1;
    xf_sink_log(&dev->log, XF_LOG_INFO, "tuning mm_packed %s %lldx%lldx%lld: %d candidates", xf_dtype_name(dtype),
              (long long)M, (long long)N, (long long)K, n);
    for (int i = 0; i < n && ok; ++i) {
        xf_cl_launch_t l[2] = {{0}};
        args_t a = {0};
        xf_err_t err = {{0}};
        double t = -1;
        if (launch_pack(dev, dtype, &B, &P, 1, K, N, true, cands[i], NULL, 0, &l[0], &a, &err) == XF_OK && a.rc == CL_SUCCESS &&
            launch_packed_gemm(dev, &A, &P, NULL, NULL, &C, M, N, K, 1, (int64_t[2]){0, 0}, (int64_t[2]){0, 0},
                               XF_ACT_NONE, cands[i], &l[1], &a, &err) == XF_OK &&
            a.rc == CL_SUCCESS && run_launches(dev, l, 2) >= 0) {
            for (int r = 0; r < reps; ++r) {
                double s = run_launches(dev, &l[1], 1);
                if (s < 0) {
                    t = -1;
                    break;
                }
                if (t < 0 || s < t) t = s;
                if (best >= 0 && s > 3 * best) break;  // clearly slower: stop timing it
            }
        }
        for (int j = 0; j < 2; ++j) {
            if (l[j].kernel) xf_cl.clReleaseKernel(l[j].kernel);
        }
        if (t < 0) {
            xf_sink_log(&dev->log, XF_LOG_WARN, "tuning mm_packed: candidate %dx%d (vectors of %d) skipped: %s",
                        cands[i].mr, cands[i].nr, cands[i].vw, err.msg[0] ? err.msg : "it failed to run");
        } else if (best < 0 || t < best) {
            best = t;
            *out = cands[i];
        }
    }
    for (int i = 0; i < 4; ++i) {
        if (bufs[i].mem) xf_cl.clReleaseMemObject(bufs[i].mem);
    }
    *out_us = best * 1e6;
    if (best >= 0) {
        xf_sink_log(&dev->log, XF_LOG_INFO,
                    "tuned mm_packed %s %lldx%lldx%lld: %d rows x %d columns, vectors of %d (%.0f us)",
                    xf_dtype_name(dtype), (long long)M, (long long)N, (long long)K, out->mr, out->nr, out->vw, *out_us);
    }
    return best >= 0;
}

static xf_status_t prep_binary(xf_device_t* dev, const xf_exec_node_t* nd, xf_cl_launch_t* l, args_t* a,
                               xf_err_t* err) {
    xf_status_t st = make_kernel(dev, nd->dst.dtype, "binary", l, a, err);
    if (st != XF_OK) return st;
    int64_t s0[4], s1[4];
    xf_tref_bcast_strides(&nd->src[0], s0);
    xf_tref_bcast_strides(&nd->src[1], s1);
    arg_tensor(a, &nd->src[0], NULL);
    arg_int4(a, s0);
    arg_tensor(a, &nd->src[1], NULL);
    arg_int4(a, s1);
    arg_tensor(a, &nd->dst, NULL);
    arg_int4(a, nd->dst.ne);
    arg_int(a, xf_tref_elements(&nd->dst));
    arg_int(a, xf_node_code(nd));
    launch_1d(dev, l, xf_tref_elements(&nd->dst));
    return XF_OK;
}

static xf_status_t prep_unary(xf_device_t* dev, const xf_exec_node_t* nd, xf_cl_launch_t* l, args_t* a,
                              xf_err_t* err) {
    xf_status_t st = begin_src_dst(dev, nd, "unary", l, a, err);
    if (st != XF_OK) return st;
    int64_t n = xf_tref_elements(&nd->dst);
    bool scale = nd->op == XF_OP_SCALE, clip = nd->op == XF_OP_CLIP;
    arg_int(a, n);
    arg_int(a, xf_node_code(nd));
    arg_float(a, scale ? nd->params.scale.scale : 1.0f);
    arg_float(a, scale ? nd->params.scale.shift : 0.0f);
    arg_float(a, clip ? nd->params.clip.lo : 0.0f);
    arg_float(a, clip ? nd->params.clip.hi : 0.0f);
    launch_1d(dev, l, ceil_div(n, 16));
    return XF_OK;
}

static xf_status_t prep_glu(xf_device_t* dev, const xf_exec_node_t* nd, xf_cl_launch_t* l, args_t* a,
                            xf_err_t* err) {
    xf_status_t st = begin_src_dst(dev, nd, "glu", l, a, err);
    if (st != XF_OK) return st;
    int64_t n = xf_tref_elements(&nd->dst);
    arg_int(a, n);
    arg_int(a, nd->dst.ne[3]);
    arg_int(a, nd->params.unary.activation);
    launch_1d(dev, l, ceil_div(n, 16));
    return XF_OK;
}

static xf_status_t prep_where(xf_device_t* dev, const xf_exec_node_t* nd, xf_cl_launch_t* l, args_t* a,
                              xf_err_t* err) {
    bool i32 = nd->src[0].dtype == XF_DTYPE_I32;
    xf_status_t st = make_kernel(dev, nd->dst.dtype, i32 ? "where_select_i32" : "where_select", l, a, err);
    if (st != XF_OK) return st;
    for (int i = 0; i < 3; ++i) {
        int64_t s[4];
        xf_tref_bcast_strides(&nd->src[i], s);
        arg_tensor(a, &nd->src[i], NULL);
        arg_int4(a, s);
    }
    int64_t n = xf_tref_elements(&nd->dst);
    arg_tensor(a, &nd->dst, NULL);
    arg_int4(a, nd->dst.ne);
    return finish_1d(dev, l, a, n);
}

static xf_status_t prep_roll(xf_device_t* dev, const xf_exec_node_t* nd, xf_cl_launch_t* l, args_t* a,
                             xf_err_t* err) {
    xf_status_t st = begin_src_dst(dev, nd, "roll", l, a, err);
    if (st != XF_OK) return st;
    int64_t n = xf_tref_elements(&nd->dst);
    arg_int4(a, nd->dst.ne);
    arg_int4(a, nd->params.roll.shift);
    return finish_1d(dev, l, a, n);
}

static xf_status_t prep_pad(xf_device_t* dev, const xf_exec_node_t* nd, xf_cl_launch_t* l, args_t* a,
                            xf_err_t* err) {
    xf_status_t st = begin_src_dst(dev, nd, "pad", l, a, err);
    if (st != XF_OK) return st;
    int64_t n = xf_tref_elements(&nd->dst);
    arg_int4(a, nd->src[0].ne);
    arg_int4(a, nd->dst.ne);
    arg_int4(a, nd->params.pad.before);
    arg_float(a, nd->params.pad.value);
    return finish_1d(dev, l, a, n);
}

static xf_status_t prep_norm(xf_device_t* dev, const xf_exec_node_t* nd, xf_cl_launch_t* l, args_t* a,
                             xf_err_t* err) {
    xf_status_t st = make_kernel(dev, nd->dst.dtype, "norm", l, a, err);
    if (st != XF_OK) return st;
    int64_t cols = nd->dst.ne[3], rows = xf_tref_elements(&nd->dst) / (cols ? cols : 1);
    bool has_w = nd->params.norm.has_weight, has_b = nd->op == XF_OP_LAYERNORM && nd->params.norm.has_bias;
    arg_tensor(a, &nd->src[0], NULL);
    arg_tensor(a, has_w ? &nd->src[1] : &(xf_tref_t){0}, &nd->dst);
    arg_tensor(a, has_b ? &nd->src[2] : &(xf_tref_t){0}, &nd->dst);
    arg_tensor(a, &nd->dst, NULL);
    arg_int(a, rows);
    arg_int(a, cols);
    arg_float(a, nd->params.norm.eps);
    arg_int(a, nd->op == XF_OP_RMSNORM);
    arg_int(a, has_w);
    arg_int(a, has_b);
    launch_1d(dev, l, rows);
    return XF_OK;
}

static xf_status_t prep_softmax(xf_device_t* dev, const xf_exec_node_t* nd, xf_cl_launch_t* l, args_t* a,
                                xf_err_t* err) {
    xf_status_t st = make_kernel(dev, nd->dst.dtype, "softmax", l, a, err);
    if (st != XF_OK) return st;
    bool has_mask = nd->params.softmax.has_mask;
    int64_t ms[4] = {0, 0, 0, 0};
    if (has_mask) xf_tref_bcast_strides(&nd->src[1], ms);
    arg_tensor(a, &nd->src[0], NULL);
    arg_tensor(a, has_mask ? &nd->src[1] : &(xf_tref_t){0}, &nd->dst);
    arg_int4(a, ms);
    arg_tensor(a, &nd->dst, NULL);
    arg_int4(a, nd->dst.ne);
    arg_float(a, nd->params.softmax.scale);
    arg_int(a, has_mask);
    launch_1d(dev, l, xf_tref_elements(&nd->dst) / (nd->dst.ne[3] ? nd->dst.ne[3] : 1));
    return XF_OK;
}

// ATTENTION as scores = q.k^T, softmax(scores * scale + bias) in place, dst = scores.v, batched over
// B*H: both products on operands packed into the scratch after the scores (k, then v).
static xf_status_t prep_attention_split(xf_device_t* dev, const xf_exec_node_t* nd, xf_cl_launch_t* l,
                                        args_t* a, xf_err_t* err) {
    const xf_tref_t *q = &nd->src[0], *k = &nd->src[1], *v = &nd->src[2];
    int64_t BH = q->ne[0] * q->ne[1], Lq = q->ne[2], Lk = k->ne[2];
    bool has_bias = nd->params.attention.has_bias;
    xf_tref_t S = {.buffer = a->scratch.buffer, .offset = a->scratch.offset, .dtype = q->dtype,
                   .ne = {q->ne[0], q->ne[1], Lq, Lk}};
    xf_tref_t P = S;
    P.offset += align_up(attn_scores_bytes(nd), 256);
    xf_status_t st = packed_matmul(dev, q, k, false, true, &P, NULL, NULL, &S, XF_ACT_NONE, NULL, &l[0], a, err);
    if (st != XF_OK || a->rc != CL_SUCCESS) return st;

    l += a->launches;
    st = make_kernel(dev, q->dtype, "softmax", l, a, err);
    if (st != XF_OK) return st;
    int64_t bs[4] = {0, 0, 0, 0};
    if (has_bias) xf_tref_bcast_strides(&nd->src[3], bs);
    arg_tensor(a, &S, NULL);
    arg_tensor(a, has_bias ? &nd->src[3] : &(xf_tref_t){0}, &S);
    arg_int4(a, bs);
    arg_tensor(a, &S, NULL);
    arg_int4(a, S.ne);
    arg_float(a, nd->params.attention.scale);
    arg_int(a, has_bias);
    launch_1d(dev, l, BH * Lq);
    if (a->rc != CL_SUCCESS) return XF_OK;

    ++l;
    return packed_matmul(dev, &S, v, false, false, &P, NULL, NULL, &nd->dst, XF_ACT_NONE, NULL, l, a, err);
}

static xf_status_t prep_attention(xf_device_t* dev, const xf_exec_node_t* nd, xf_cl_launch_t* l, args_t* a,
                                  xf_err_t* err) {
    if (choose_variant(dev, nd) == VARIANT_CPU_SPLIT) return prep_attention_split(dev, nd, l, a, err);
    const xf_tref_t *q = &nd->src[0], *k = &nd->src[1], *v = &nd->src[2];
    bool tiled = use_tiled(dev, nd), has_bias = nd->params.attention.has_bias;
    xf_status_t st = make_kernel(dev, q->dtype, tiled ? "attn_gpu" : "attn_cpu", l, a, err);
    if (st != XF_OK) return st;
    int64_t bs[4] = {0, 0, 0, 0};
    if (has_bias) xf_tref_bcast_strides(&nd->src[3], bs);
    int64_t BH = q->ne[0] * q->ne[1], Lq = q->ne[2];
    arg_tensor(a, q, NULL);
    arg_tensor(a, k, NULL);
    arg_tensor(a, v, NULL);
    arg_tensor(a, has_bias ? &nd->src[3] : &(xf_tref_t){0}, &nd->dst);
    arg_int4(a, bs);
    arg_tensor(a, &nd->dst, NULL);
    arg_int(a, BH);
    arg_int(a, q->ne[1]);
    arg_int(a, Lq);
    arg_int(a, k->ne[2]);
    arg_int(a, q->ne[3]);
    arg_int(a, v->ne[3]);
    arg_float(a, nd->params.attention.scale);
    arg_int(a, has_bias);
    size_t t = tiled ? (size_t)dev->tile : (dev->max_wg < 8 ? dev->max_wg : 8);
    launch_3d(l, (size_t[3]){(size_t)Lq, (size_t)BH, 1}, (size_t[3]){t, 1, 1});
    return XF_OK;
}

static xf_status_t prep_window_attention(xf_device_t* dev, const xf_exec_node_t* nd, xf_cl_launch_t* l, args_t* a,
                                         xf_err_t* err) {
    const xf_tref_t *qkv = &nd->src[0], *o = &nd->dst;
    const bool tiled = use_tiled(dev, nd);
    const int64_t hd = o->ne[3] / nd->params.window_attention.heads;
    // The CPU-style kernel is compiled for the head size, walked in the widest vectors that divide it.
    char defines[64];
    snprintf(defines, sizeof defines, "-DWA_HD=%lld -DWA_VW=%d", (long long)hd, hd % 8 == 0 ? 8 : hd % 4 == 0 ? 4 : 1);
    xf_status_t st = make_kernel_with(dev, o->dtype, tiled ? "wattn_gpu" : "wattn_cpu", tiled ? NULL : defines, l, a,
                                      err);
    if (st != XF_OK) return st;
    const int* win = nd->params.window_attention.window;
    const int* shift = nd->params.window_attention.shift;
    const int64_t B = qkv->ne[0], H = qkv->ne[1], W = qkv->ne[2], heads = nd->params.window_attention.heads;
    const bool has_index = nd->params.window_attention.has_index, has_pad = nd->params.window_attention.has_pad;
    arg_tensor(a, qkv, NULL);
    arg_tensor(a, &nd->src[1], NULL);
    arg_int(a, nd->src[1].ne[2]);
    // An absent index binds the table's buffer; the kernel does not read it then.
    arg_tensor(a, has_index ? &nd->src[2] : &(xf_tref_t){0}, &nd->src[1]);
    arg_int(a, has_index);
    arg_tensor(a, has_pad ? &nd->src[3] : &(xf_tref_t){0}, qkv);
    arg_int(a, has_pad);
    arg_tensor(a, o, NULL);
    arg_int4(a, (int64_t[4]){H, W, win[0], win[1]});
    arg_int4(a, (int64_t[4]){shift[0], shift[1], heads, o->ne[3] / heads});
    arg_float(a, nd->params.window_attention.scale);
    arg_float(a, nd->params.window_attention.mask_value);
    // Window-major: each work-group holds queries of one window (CPU style: a group per window up to 64).
    const int64_t windows = ceil_div(H, win[0]) * ceil_div(W, win[1]), area = (int64_t)win[0] * win[1];
    size_t wg = WA_WG;
    if (!tiled) {
        wg = 8;
        while (wg < (size_t)area && wg < WA_WG) wg *= 2;
        if (wg > dev->max_wg) wg = dev->max_wg;
        if (wg > dev->max_item[0]) wg = dev->max_item[0];
    }
    launch_3d(l, (size_t[3]){(size_t)windows * (size_t)ceil_div(area, (int64_t)wg) * wg, (size_t)heads, (size_t)B},
              (size_t[3]){wg, 1, 1});
    return XF_OK;
}

// CONV2D as im2col written straight into packed panels (scratch [n*g][panels][C/g*KH*KW][NR]) and
// out[o, pixel] = w[o, :] . col[pixel, :] (mm_packed, batched over images and groups), then the bias
// as a broadcast add in place.
static xf_status_t prep_conv2d_split(xf_device_t* dev, const xf_exec_node_t* nd, xf_cl_launch_t* l, args_t* a,
                                     xf_err_t* err) {
    const xf_tref_t *x = &nd->src[0], *w = &nd->src[1], *y = &nd->dst;
    const int* s = nd->params.conv2d.stride;
    const int* p = nd->params.conv2d.padding;
    const int* dl = nd->params.conv2d.dilation;
    conv_gemm_t g = conv_gemm(nd);
    gemm_cfg_t c = gemm_config(dev, g.M, g.N, g.K, x->dtype);
    char defines[96];
    gemm_defines(c, x->dtype, x->dtype, NULL, defines, sizeof defines);
    xf_tref_t P = {.buffer = a->scratch.buffer, .offset = a->scratch.offset, .dtype = x->dtype};
    xf_status_t st = make_kernel_with(dev, x->dtype, "im2col_packed", defines, &l[0], a, err);
    if (st != XF_OK) return st;
    arg_tensor(a, x, NULL);
    arg_tensor(a, &P, NULL);
    arg_int4(a, x->ne);
    arg_int4(a, y->ne);
    arg_int(a, w->ne[2]);
    arg_int(a, w->ne[3]);
    arg_int4(a, (int64_t[4]){s[0], s[1], p[0], p[1]});
    cl_int2 d2 = {{dl[0], dl[1]}};
    arg(a, sizeof d2, &d2);
    arg_int(a, g.groups);
    launch_3d(&l[0], (size_t[3]){(size_t)g.K, (size_t)ceil_div(g.N, c.nr), (size_t)g.batches},
              (size_t[3]){cpu_local(dev, 16), 1, 1});
    if (a->rc != CL_SUCCESS) return XF_OK;

    int64_t panel_set = packed_elements(c, 1, g.K, g.N);
    xf_tref_t C = *y;
    C.ne[0] = 1;
    C.ne[1] = g.batches;
    C.ne[2] = g.M;
    C.ne[3] = g.N;
    st = launch_packed_gemm(dev, w, &P, NULL, NULL, &C, g.M, g.N, g.K, g.groups, (int64_t[2]){0, g.M * g.K},
                            (int64_t[2]){g.groups * panel_set, panel_set}, XF_ACT_NONE, c, &l[1], a, err);
    if (st != XF_OK) return st;
    if (a->rc != CL_SUCCESS || !nd->params.conv2d.has_bias) return XF_OK;

    st = make_kernel(dev, x->dtype, "binary", &l[2], a, err);
    if (st != XF_OK) return st;
    int64_t ys[4], bs[4] = {0, 1, 0, 0};
    xf_tref_bcast_strides(y, ys);
    arg_tensor(a, y, NULL);
    arg_int4(a, ys);
    arg_tensor(a, &nd->src[2], NULL);
    arg_int4(a, bs);
    arg_tensor(a, y, NULL);
    arg_int4(a, y->ne);
    arg_int(a, xf_tref_elements(y));
    arg_int(a, XF_BIN_ADD);
    launch_1d(dev, &l[2], xf_tref_elements(y));
    return XF_OK;
}

static xf_status_t prep_conv2d(xf_device_t* dev, const xf_exec_node_t* nd, xf_cl_launch_t* l, args_t* a,
                               xf_err_t* err) {
    if (choose_variant(dev, nd) == VARIANT_CPU_SPLIT) return prep_conv2d_split(dev, nd, l, a, err);
    const xf_tref_t *x = &nd->src[0], *w = &nd->src[1], *y = &nd->dst;
    bool tiled = use_tiled(dev, nd), has_bias = nd->params.conv2d.has_bias;
    xf_status_t st = make_kernel(dev, x->dtype, tiled ? "conv_gpu" : "conv_cpu", l, a, err);
    if (st != XF_OK) return st;
    const int* s = nd->params.conv2d.stride;
    const int* p = nd->params.conv2d.padding;
    const int* dl = nd->params.conv2d.dilation;
    int64_t groups = nd->params.conv2d.groups, og = y->ne[1] / groups, ocb = ceil_div(og, CV_CO);
    arg_tensor(a, x, NULL);
    arg_tensor(a, w, NULL);
    arg_tensor(a, has_bias ? &nd->src[2] : &(xf_tref_t){0}, y);
    arg_tensor(a, y, NULL);
    arg_int4(a, x->ne);
    arg_int4(a, y->ne);
    arg_int(a, w->ne[2]);
    arg_int(a, w->ne[3]);
    arg_int4(a, (int64_t[4]){s[0], s[1], p[0], p[1]});
    cl_int2 d2 = {{dl[0], dl[1]}};
    arg(a, sizeof d2, &d2);
    arg_int(a, groups);
    arg_int(a, ocb);
    arg_int(a, has_bias);
    if (tiled) {
        size_t t = (size_t)dev->tile;
        launch_3d(l, (size_t[3]){(size_t)(y->ne[2] * y->ne[3]), (size_t)og, (size_t)(y->ne[0] * groups)},
                  (size_t[3]){t, t, 1});
    } else {
        launch_3d(l,
                  (size_t[3]){(size_t)ceil_div(y->ne[3], CV_WO), (size_t)y->ne[2],
                              (size_t)(y->ne[0] * groups * ocb)},
                  (size_t[3]){1, 1, 1});
    }
    return XF_OK;
}

static xf_status_t prep_resize(xf_device_t* dev, const xf_exec_node_t* nd, xf_cl_launch_t* l, args_t* a,
                               xf_err_t* err) {
    xf_status_t st = begin_src_dst(dev, nd, "resize", l, a, err);
    if (st != XF_OK) return st;
    int64_t n = xf_tref_elements(&nd->dst);
    arg_int4(a, nd->src[0].ne);
    arg_int4(a, nd->dst.ne);
    arg_int(a, n);
    arg_int(a, nd->params.resize.align_corners);
    launch_1d(dev, l, n);
    return XF_OK;
}

static xf_status_t prep_concat(xf_device_t* dev, const xf_exec_node_t* nd, xf_cl_launch_t* l, args_t* a,
                               xf_err_t* err) {
    xf_status_t st = make_kernel(dev, nd->dst.dtype, "concat", l, a, err);
    if (st != XF_OK) return st;
    int axis = nd->params.axis.axis, count = nd->params.axis.count;
    int64_t end[4], at = 0;
    for (int i = 0; i < 4; ++i) {
        if (i < count) at += nd->src[i].ne[axis];
        end[i] = i < count ? at : INT_MAX;
        arg_tensor(a, i < count ? &nd->src[i] : &(xf_tref_t){0}, &nd->dst);
    }
    int64_t n = xf_tref_elements(&nd->dst);
    arg_tensor(a, &nd->dst, NULL);
    arg_int4(a, nd->dst.ne);
    arg_int4(a, end);
    arg_int(a, axis);
    return finish_1d(dev, l, a, n);
}

static xf_status_t prep_reduce(xf_device_t* dev, const xf_exec_node_t* nd, xf_cl_launch_t* l, args_t* a,
                               xf_err_t* err) {
    xf_status_t st = begin_src_dst(dev, nd, "reduce_axis", l, a, err);
    if (st != XF_OK) return st;
    int64_t n = xf_tref_elements(&nd->dst);
    arg_int4(a, nd->src[0].ne);
    arg_int(a, nd->params.axis.axis);
    arg_int(a, n);
    arg_int(a, xf_node_code(nd));
    launch_1d(dev, l, n);
    return XF_OK;
}

static xf_status_t prep_argmax(xf_device_t* dev, const xf_exec_node_t* nd, xf_cl_launch_t* l, args_t* a,
                               xf_err_t* err) {
    xf_status_t st = make_kernel(dev, nd->src[0].dtype, "argmax_rows", l, a, err);
    if (st != XF_OK) return st;
    int64_t cols = nd->src[0].ne[3], rows = xf_tref_elements(&nd->dst);
    arg_tensor(a, &nd->src[0], NULL);
    arg_tensor(a, &nd->dst, NULL);
    arg_int(a, rows);
    arg_int(a, cols);
    launch_1d(dev, l, rows);
    return XF_OK;
}

static xf_status_t prep_gather(xf_device_t* dev, const xf_exec_node_t* nd, xf_cl_launch_t* l, args_t* a,
                               xf_err_t* err) {
    xf_status_t st = make_kernel(dev, nd->dst.dtype, "gather", l, a, err);
    if (st != XF_OK) return st;
    int64_t n = xf_tref_elements(&nd->dst);
    arg_tensor(a, &nd->src[0], NULL);
    arg_tensor(a, &nd->src[1], NULL);
    arg_tensor(a, &nd->dst, NULL);
    arg_int4(a, nd->src[0].ne);
    arg_int4(a, nd->dst.ne);
    arg_int(a, nd->params.axis.axis);
    return finish_1d(dev, l, a, n);
}

typedef xf_status_t (*prep_fn)(xf_device_t*, const xf_exec_node_t*, xf_cl_launch_t*, args_t*, xf_err_t*);

// The OpenCL op table: one entry per op family of lib/ops/ops.def.
typedef struct cl_op_entry_s {
    prep_fn prepare;
    const char* refused;
} cl_op_entry_t;

static const cl_op_entry_t cl_family_copy = {.prepare = prep_copy};
static const cl_op_entry_t cl_family_matmul = {.prepare = prep_matmul};
static const cl_op_entry_t cl_family_binary = {.prepare = prep_binary};
static const cl_op_entry_t cl_family_unary = {.prepare = prep_unary};
static const cl_op_entry_t cl_family_glu = {.prepare = prep_glu};
static const cl_op_entry_t cl_family_norm = {.prepare = prep_norm};
static const cl_op_entry_t cl_family_softmax = {.prepare = prep_softmax};
static const cl_op_entry_t cl_family_attention = {.prepare = prep_attention};
static const cl_op_entry_t cl_family_window_attention = {.prepare = prep_window_attention};
static const cl_op_entry_t cl_family_conv2d = {.prepare = prep_conv2d};
static const cl_op_entry_t cl_family_resize = {.prepare = prep_resize};
static const cl_op_entry_t cl_family_concat = {.prepare = prep_concat};
static const cl_op_entry_t cl_family_reduce = {.prepare = prep_reduce};
static const cl_op_entry_t cl_family_argmax = {.prepare = prep_argmax};
static const cl_op_entry_t cl_family_gather = {.prepare = prep_gather};
static const cl_op_entry_t cl_family_roll = {.prepare = prep_roll};
static const cl_op_entry_t cl_family_pad = {.prepare = prep_pad};
static const cl_op_entry_t cl_family_where = {.prepare = prep_where};

static const cl_op_entry_t* const cl_ops[XF_OP_COUNT] = {
#define XF_OP(NAME, FAMILY, MAX_SRC, INPLACE, DTYPES, CODE) [XF_OP_##NAME] = &cl_family_##FAMILY,
#include "ops/ops.def"
};

bool xf_cl_op_coverage(xf_op_t op, const char** reason) {
    const cl_op_entry_t* e = (unsigned)op < XF_OP_COUNT ? cl_ops[op] : NULL;
    *reason = e ? e->refused : NULL;
    return e && (e->prepare || e->refused);
}

xf_status_t xf_cl_node_supported(xf_device_t* dev, const xf_exec_node_t* node, xf_err_t* err) {
    (void)dev;
    const cl_op_entry_t* e = (unsigned)node->op < XF_OP_COUNT ? cl_ops[node->op] : NULL;
    if (!e || !e->prepare) {
        return xf_err_set(err, XF_ERR_UNIMPLEMENTED, "the OpenCL backend does not run %s: %s", xf_op_name(node->op),
                          e && e->refused ? e->refused : "no op-table entry");
    }
    for (int i = 0; i < XF_MAX_SRC; ++i) {
        const xf_tref_t* t = &node->src[i];
        if (!t->buffer) continue;
        if (xf_tref_elements(t) > INT_MAX || t->offset / xf_dtype_size(t->dtype) > INT_MAX) {
            return xf_err_set(
                err, XF_ERR_UNIMPLEMENTED,
                "the OpenCL backend indexes tensors with 32-bit ints; source %d of %s has too many "
                "elements",
                i, xf_node_label(node));
        }
    }
    if (xf_tref_elements(&node->dst) > INT_MAX) {
        return xf_err_set(err, XF_ERR_UNIMPLEMENTED,
                          "the OpenCL backend indexes tensors with 32-bit ints; %s is too large",
                          xf_node_label(node));
    }
    xf_dtype_t dt = node->op == XF_OP_COPY ? node->dst.dtype : node->src[0].dtype;
    if (node->op != XF_OP_COPY && node->op != XF_OP_WHERE && dt == XF_DTYPE_I32) {
        return xf_err_set(err, XF_ERR_UNIMPLEMENTED,
                          "the OpenCL backend runs %s on f32 and f16 tensors only, not i32",
                          xf_op_name(node->op));
    }
    if (node->op == XF_OP_COPY && (node->src[0].dtype == XF_DTYPE_I32) != (node->dst.dtype == XF_DTYPE_I32)) {
        return xf_err_set(err, XF_ERR_UNIMPLEMENTED,
                          "the OpenCL backend cannot convert between i32 and floats");
    }
    if (node->op == XF_OP_CONCAT && (node->params.axis.count < 1 || node->params.axis.count > 4)) {
        return xf_err_set(err, XF_ERR_UNIMPLEMENTED, "OpenCL concat takes 1 to 4 sources, not %d",
                          node->params.axis.count);
    }
    return XF_OK;
}

xf_status_t xf_cl_node_prepare(xf_device_t* dev, xf_cl_graph_t* graph, const xf_exec_node_t* node,
                               xf_cl_node_t* out, xf_err_t* err) {
    const char* label = xf_node_label(node);
    memset(out, 0, sizeof *out);
    args_t a = {.scratch = {.buffer = node->scratch, .offset = node->scratch_offset}, .graph = graph};
    xf_status_t st = cl_ops[node->op]->prepare(dev, node, &out->launch[0], &a, err);
    out->count = a.launches;
    if (st != XF_OK) return st;
    if (a.rc != CL_SUCCESS) {
        char where[192];
        snprintf(where, sizeof where, "argument %u of %s", a.next - 1, label);
        return xf_cl_fail(err, a.rc, a.failed, where);
    }
    // Each work-group must fit the compiled kernel's limit, which can be below the device's.
    for (int i = 0; i < out->count; ++i) {
        xf_cl_launch_t* l = &out->launch[i];
        size_t kwg = 0, wg = 1;
        for (cl_uint d = 0; d < l->dims; ++d) wg *= l->local[d];
        cl_int rc = xf_cl.clGetKernelWorkGroupInfo(l->kernel, dev->device, CL_KERNEL_WORK_GROUP_SIZE,
                                                   sizeof kwg, &kwg, NULL);
        if (rc != CL_SUCCESS) return xf_cl_fail(err, rc, "clGetKernelWorkGroupInfo", label);
        if (wg > kwg) {
            return xf_err_set(
                err, XF_ERR_INCOMPATIBLE,
                "%s needs a work-group of %zu for its %s-style kernel but the device allows %zu; use "
                "XFORMER_KERNELS=cpu (or the context option kernels = XF_KERNELS_CPU)",
                label, wg, kernel_style_name(dev->style == XF_CL_STYLE_GPU), kwg);
        }
    }
    return XF_OK;
}
