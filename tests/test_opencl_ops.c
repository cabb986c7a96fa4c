// SPDX-License-Identifier: MIT
// OpenCL backend: every op and kernel variant on small, awkward shapes against the CPU backend,
// in both kernel styles, plus device info and error mapping. Small enough to run under oclgrind
// (tools/oclgrind-check.sh).
#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../backends/opencl/cl_internal.h"
#include "harness.h"
#include "xformer.h"

typedef xf_status_t (*build_fn)(xf_graph_t* g, xf_tensor_t** in, xf_tensor_t** out);

typedef struct input_s {
    int ndim;
    int64_t shape[4];
    int index_max;  // > 0: an i32 index input with values in [-1, index_max]
} input_t;

typedef struct op_case_s {
    const char* name;
    build_fn build;
    int nin;
    input_t in[4];
    const char* attention;  // XFORMER_CL_ATTENTION for this case, or NULL
} op_case_t;

#define BUILD(fn, ...)                                                          \
    static xf_status_t fn(xf_graph_t* g, xf_tensor_t** in, xf_tensor_t** out) { \
        __VA_ARGS__                                                             \
    }

BUILD(b_mm, return xf_matmul(g, in[0], in[1], NULL, out);)
BUILD(b_mm_full_nt, xf_matmul_options_t o = {.transpose_b = true,
                                             .bias = in[2],
                                             .activation = XF_ACT_GELU,
                                             .residual = in[3]};
      return xf_matmul(g, in[0], in[1], &o, out);)
BUILD(b_mm_full_nn, xf_matmul_options_t o = {.bias = in[2], .activation = XF_ACT_SILU, .residual = in[3]};
      return xf_matmul(g, in[0], in[1], &o, out);)
BUILD(b_add, return xf_add(g, in[0], in[1], out);)
BUILD(b_mul, return xf_mul(g, in[0], in[1], out);)
BUILD(b_scale, return xf_scale(g, in[0], 1.5f, -0.25f, out);)
BUILD(b_layernorm, return xf_layernorm(g, in[0], in[1], in[2], 1e-5f, out);)
BUILD(b_rmsnorm, return xf_rmsnorm(g, in[0], in[1], 1e-6f, out);)
BUILD(b_softmax_mask, return xf_softmax(g, in[0], 0.7f, in[1], out);)
BUILD(b_softmax, return xf_softmax(g, in[0], 1.0f, NULL, out);)
BUILD(b_gelu, return xf_activation(g, in[0], XF_ACT_GELU, out);)
BUILD(b_gelu_tanh, return xf_activation(g, in[0], XF_ACT_GELU_TANH, out);)
BUILD(b_silu, return xf_activation(g, in[0], XF_ACT_SILU, out);)
BUILD(b_relu, return xf_activation(g, in[0], XF_ACT_RELU, out);)
BUILD(b_glu, return xf_glu(g, in[0], XF_ACT_GELU, out);)
BUILD(b_attention, return xf_attention(g, in[0], in[1], in[2], NULL, 0.35f, out);)
BUILD(b_attention_bias, return xf_attention(g, in[0], in[1], in[2], in[3], 0.3f, out);)
BUILD(b_conv, xf_conv2d_params_t p = {{1, 1}, {1, 1}, {1, 1}, 1};
      return xf_conv2d(g, in[0], in[1], in[2], &p, out);)
BUILD(b_conv_s2, xf_conv2d_params_t p = {{2, 2}, {1, 0}, {1, 1}, 1};
      return xf_conv2d(g, in[0], in[1], NULL, &p, out);)
BUILD(b_conv_dw, xf_conv2d_params_t p = {{1, 1}, {2, 2}, {2, 2}, 6};
      return xf_conv2d(g, in[0], in[1], in[2], &p, out);)
BUILD(b_conv_g2, xf_conv2d_params_t p = {{1, 2}, {0, 1}, {1, 1}, 2};
      return xf_conv2d(g, in[0], in[1], in[2], &p, out);)
BUILD(b_conv_gemm, xf_conv2d_params_t p = {{2, 1}, {1, 0}, {1, 2}, 2};
      return xf_conv2d(g, in[0], in[1], in[2], &p, out);)
BUILD(b_resize_ac, return xf_resize_bilinear(g, in[0], 7, 9, true, out);)
BUILD(b_resize, return xf_resize_bilinear(g, in[0], 7, 9, false, out);)
BUILD(b_resize_down, return xf_resize_bilinear(g, in[0], 3, 2, false, out);)
BUILD(b_concat, xf_tensor_t* t[3] = {in[0], in[1], in[2]}; return xf_concat(g, t, 3, 1, out);)
BUILD(b_concat_last, xf_tensor_t* t[2] = {in[0], in[1]}; return xf_concat(g, t, 2, -1, out);)
BUILD(b_mean0, return xf_mean(g, in[0], 0, false, out);)
BUILD(b_mean2, return xf_mean(g, in[0], 2, true, out);)
BUILD(b_argmax, return xf_argmax(g, in[0], out);)
BUILD(b_gather0, return xf_gather(g, in[0], 0, in[1], out);)
BUILD(b_gather1, return xf_gather(g, in[0], 1, in[1], out);)
BUILD(b_permute, xf_tensor_t* t; xf_status_t s = xf_permute(g, in[0], (int[]){0, 2, 1, 3}, &t);
      return s ? s : xf_scale(g, t, 1.0f, 0.0f, out);)
BUILD(b_cast, xf_tensor_t* t; xf_dtype_t d = xf_tensor_dtype(in[0]);
      xf_status_t s = xf_cast(g, in[0], d == XF_DTYPE_F32 ? XF_DTYPE_F16 : XF_DTYPE_F32, &t);
      return s ? s : xf_cast(g, t, d, out);)

#define IN(n, ...) \
    { n, {__VA_ARGS__}, 0 }
static const op_case_t cases[] = {
    {"matmul A.B 5x9x7", b_mm, 2, {IN(2, 5, 9), IN(2, 9, 7)}, NULL},
    {"matmul A.B 33x19x37 (B transposed first)", b_mm, 2, {IN(2, 33, 19), IN(2, 19, 37)}, NULL},
    {"matmul A.B^T+bias,gelu,residual 6x21x18",
     b_mm_full_nt,
     4,
     {IN(2, 6, 21), IN(2, 18, 21), IN(1, 18), IN(2, 6, 18)},
     NULL},
    {"matmul A.B+bias,silu,residual 9x17x35",
     b_mm_full_nn,
     4,
     {IN(2, 9, 17), IN(2, 17, 35), IN(1, 35), IN(2, 9, 35)},
     NULL},
    {"matmul batched broadcast B", b_mm, 2, {IN(4, 2, 3, 5, 17), IN(4, 1, 3, 17, 6)}, NULL},
    {"add broadcast", b_add, 2, {IN(3, 4, 5, 7), IN(3, 4, 1, 7)}, NULL},
    {"mul broadcast both", b_mul, 2, {IN(3, 1, 5, 7), IN(3, 4, 5, 1)}, NULL},
    {"scale", b_scale, 1, {IN(2, 3, 17)}, NULL},
    {"layernorm", b_layernorm, 3, {IN(2, 5, 37), IN(1, 37), IN(1, 37)}, NULL},
    {"rmsnorm", b_rmsnorm, 2, {IN(2, 5, 37), IN(1, 37)}, NULL},
    {"softmax mask", b_softmax_mask, 2, {IN(4, 2, 2, 3, 37), IN(4, 2, 1, 3, 37)}, NULL},
    {"softmax", b_softmax, 1, {IN(2, 3, 35)}, NULL},
    {"gelu", b_gelu, 1, {IN(2, 3, 13)}, NULL},
    {"gelu_tanh", b_gelu_tanh, 1, {IN(2, 3, 13)}, NULL},
    {"silu", b_silu, 1, {IN(2, 3, 13)}, NULL},
    {"relu", b_relu, 1, {IN(2, 3, 13)}, NULL},
    {"glu", b_glu, 1, {IN(2, 3, 14)}, NULL},
    {"glu, 16-wide runs", b_glu, 1, {IN(2, 3, 64)}, NULL},
    {"attention split", b_attention, 3, {IN(4, 1, 2, 5, 8), IN(4, 1, 2, 7, 8), IN(4, 1, 2, 7, 6)}, NULL},
    {"attention split + bias",
     b_attention_bias,
     4,
     {IN(4, 2, 2, 5, 5), IN(4, 2, 2, 6, 5), IN(4, 2, 2, 6, 3), IN(4, 1, 2, 1, 6)},
     NULL},
    {"attention fused + bias",
     b_attention_bias,
     4,
     {IN(4, 2, 2, 5, 5), IN(4, 2, 2, 6, 5), IN(4, 2, 2, 6, 3), IN(4, 1, 2, 5, 1)},
     "fused"},
    {"attention fused, Dv > 64",
     b_attention,
     3,
     {IN(4, 1, 1, 3, 4), IN(4, 1, 1, 5, 4), IN(4, 1, 1, 5, 70)},
     "fused"},
    {"conv2d 3x3 pad 1", b_conv, 3, {IN(4, 2, 3, 5, 6), IN(4, 5, 3, 3, 3), IN(1, 5)}, NULL},
    {"conv2d stride 2", b_conv_s2, 2, {IN(4, 1, 2, 6, 7), IN(4, 3, 2, 3, 2)}, NULL},
    {"conv2d depthwise dilated", b_conv_dw, 3, {IN(4, 1, 6, 5, 4), IN(4, 6, 1, 3, 3), IN(1, 6)}, NULL},
    {"conv2d groups", b_conv_g2, 3, {IN(4, 1, 4, 4, 5), IN(4, 6, 2, 2, 3), IN(1, 6)}, NULL},
    {"conv2d groups, stride, dilation as GEMM",
     b_conv_gemm,
     3,
     {IN(4, 2, 8, 6, 7), IN(4, 8, 4, 3, 2), IN(1, 8)},
     NULL},
    {"resize align_corners", b_resize_ac, 1, {IN(4, 1, 2, 3, 4)}, NULL},
    {"resize", b_resize, 1, {IN(4, 1, 2, 3, 4)}, NULL},
    {"resize down", b_resize_down, 1, {IN(4, 1, 2, 5, 4)}, NULL},
    {"concat axis 1", b_concat, 3, {IN(3, 2, 3, 5), IN(3, 2, 1, 5), IN(3, 2, 2, 5)}, NULL},
    {"concat last axis", b_concat_last, 2, {IN(2, 3, 5), IN(2, 3, 2)}, NULL},
    {"mean axis 0", b_mean0, 1, {IN(3, 4, 5, 7)}, NULL},
    {"mean axis 2 keepdim", b_mean2, 1, {IN(3, 4, 5, 7)}, NULL},
    {"argmax", b_argmax, 1, {IN(2, 5, 19)}, NULL},
    {"gather axis 0", b_gather0, 2, {IN(2, 10, 7), {1, {6}, 10}}, NULL},
    {"gather axis 1", b_gather1, 2, {IN(3, 2, 10, 7), {1, {6}, 10}}, NULL},
    {"permute copy", b_permute, 1, {IN(4, 2, 3, 4, 5)}, NULL},
    {"permute copy, 16-wide rows", b_permute, 1, {IN(4, 2, 3, 4, 32)}, NULL},
    {"cast round trip, 16-wide rows", b_cast, 1, {IN(2, 3, 48)}, NULL},
    {"cast round trip", b_cast, 1, {IN(2, 3, 17)}, NULL},
};
#define NUM_CASES (sizeof cases / sizeof cases[0])

static float next_random(uint32_t* s) {
    *s = *s * 1664525u + 1013904223u;
    return (float)((*s >> 8) & 0xffff) / 32768.0f - 1.0f;
}

// Runs |c| on |backend| and returns the result as floats (NULL with a message on failure).
static float* run_case(const op_case_t* c, xf_backend_t backend, xf_dtype_t dt, float* const* data,
                       size_t* out_n, char* why, size_t why_size) {
    xf_context_options_t opt;
    xf_context_options_init(&opt);
    opt.backend = backend;
    opt.device = 0;
    xf_context_t* ctx = NULL;
    if (xf_context_create(&opt, &ctx) != XF_OK) {
        snprintf(why, why_size, "context: %s", xf_last_error());
        return NULL;
    }
    xf_graph_t* g = NULL;
    xf_tensor_t *in[4], *out = NULL;
    float* result = NULL;
    bool ok = xf_graph_create(ctx, &g) == XF_OK;
    for (int i = 0; i < c->nin && ok; ++i) {
        char name[16];
        snprintf(name, sizeof name, "in%d", i);
        ok = xf_graph_input(g, name, c->in[i].index_max ? XF_DTYPE_I32 : dt, c->in[i].ndim, c->in[i].shape,
                            &in[i]) == XF_OK;
    }
    ok = ok && c->build(g, in, &out) == XF_OK && xf_graph_mark_output(g, out) == XF_OK;
    for (int i = 0; i < c->nin && ok; ++i) {
        size_t n = (size_t)xf_tensor_elements(in[i]);
        if (c->in[i].index_max) {
            int32_t idx[64];
            for (size_t j = 0; j < n && j < 64; ++j) idx[j] = (int32_t)data[i][j];
            ok = xf_tensor_upload(in[i], idx, n * sizeof(int32_t)) == XF_OK;
        } else {
            ok = xf_tensor_upload_f32(in[i], data[i], n) == XF_OK;
        }
    }
    ok = ok && xf_graph_compute(g) == XF_OK;
    if (ok) {
        size_t n = (size_t)xf_tensor_elements(out);
        result = malloc(n * sizeof(float));
        if (xf_tensor_dtype(out) == XF_DTYPE_I32) {
            int32_t* idx = malloc(n * sizeof(int32_t));
            ok = xf_tensor_download(out, idx, n * sizeof(int32_t)) == XF_OK;
            for (size_t j = 0; j < n; ++j) result[j] = (float)idx[j];
            free(idx);
        } else {
            ok = xf_tensor_download_f32(out, result, n) == XF_OK;
        }
        *out_n = n;
    }
    if (!ok) {
        snprintf(why, why_size, "%s: %s", xf_backend_name(backend), xf_context_error(ctx));
        free(result);
        result = NULL;
    }
    xf_graph_destroy(g);
    xf_context_destroy(ctx);
    return result;
}

typedef struct param_s {
    int c;
    int f16;
    int gpu;  // XFORMER_KERNELS=gpu
} param_t;

static void free_params(struct criterion_test_params* p) {
    cr_free(p->params);
}

ParameterizedTestParameters(opencl_ops, matches_cpu) {
    size_t n = NUM_CASES * 4, k = 0;
    param_t* p = cr_malloc(sizeof *p * n);
    for (int gpu = 0; gpu < 2; ++gpu)
        for (int f16 = 0; f16 < 2; ++f16)
            for (size_t c = 0; c < NUM_CASES; ++c) p[k++] = (param_t){(int)c, f16, gpu};
    return cr_make_param_array(param_t, p, n, free_params);
}

ParameterizedTest(param_t* p, opencl_ops, matches_cpu, .timeout = 600) {
    const op_case_t* c = &cases[p->c];
    setenv("XFORMER_KERNELS", p->gpu ? "gpu" : "cpu", 1);
    if (c->attention) setenv("XFORMER_CL_ATTENTION", c->attention, 1);
    xf_dtype_t dt = p->f16 ? XF_DTYPE_F16 : XF_DTYPE_F32;
    uint32_t seed = 12345u + (uint32_t)p->c * 77u;
    float* data[4] = {0};
    for (int i = 0; i < c->nin; ++i) {
        size_t n = 1;
        for (int d = 0; d < c->in[i].ndim; ++d) n *= (size_t)c->in[i].shape[d];
        data[i] = malloc(n * sizeof(float));
        for (size_t j = 0; j < n; ++j) {
            float r = next_random(&seed);
            // Indices cover -1 .. index_max: both out-of-range ends give zeros.
            data[i][j] =
                c->in[i].index_max ? floorf((r + 1.0f) * 0.5f * (float)(c->in[i].index_max + 1)) - 1.0f : r;
        }
    }
    char why[2300] = "";
    size_t nw = 0, ng = 0;
    float* want = run_case(c, XF_BACKEND_CPU, dt, data, &nw, why, sizeof why);
    cr_assert_not_null(want, "%s", why);
    float* got = run_case(c, XF_BACKEND_OPENCL, dt, data, &ng, why, sizeof why);
    if (!got && strstr(why, "context:") && !xf_test_backend_required(XF_BACKEND_OPENCL)) cr_skip_test("no OpenCL device: %s", why);
    cr_assert_not_null(got, "%s %s: %s", c->name, p->f16 ? "f16" : "f32", why);
    cr_assert_eq(ng, nw);
    double atol = p->f16 ? 4e-3 : 2e-5, rtol = p->f16 ? 8e-3 : 2e-4;
    for (size_t j = 0; j < nw; ++j) {
        double d = fabs((double)got[j] - want[j]);
        cr_assert(d <= atol + rtol * fabs(want[j]), "%s %s (%s kernels): element %zu is %g, want %g", c->name,
                  p->f16 ? "f16" : "f32", p->gpu ? "gpu" : "cpu", j, got[j], want[j]);
    }
    free(want);
    free(got);
    for (int i = 0; i < c->nin; ++i) free(data[i]);
}

static bool open_device(xf_context_t** ctx) {
    xf_context_options_t opt;
    xf_context_options_init(&opt);
    opt.backend = XF_BACKEND_OPENCL;
    opt.device = 0;
    xf_status_t st = xf_context_create(&opt, ctx);
    if (st != XF_OK && !xf_test_backend_required(XF_BACKEND_OPENCL)) return false;
    cr_assert_eq(st, XF_OK, "%s", xf_last_error());
    return true;
}

Test(opencl_device, info_and_kernel_style) {
    unsetenv("XFORMER_KERNELS");
    xf_context_t* ctx;
    if (!open_device(&ctx)) cr_skip_test("no OpenCL device");
    xf_device_info_t info;
    cr_assert_eq(xf_context_device_info(ctx, &info), XF_OK);
    cr_expect_eq(info.backend, XF_BACKEND_OPENCL);
    cr_expect_neq(info.name[0], '\0');
    cr_expect_neq(info.platform[0], '\0');
    cr_expect_neq(info.driver_version[0], '\0');
    cr_expect(strncmp(info.api_version, "OpenCL", 6) == 0, "api_version '%s'", info.api_version);
    cr_expect(info.fp16, "f16 storage (vload_half) is core OpenCL 1.2");
    cr_expect_gt(info.max_workgroup_size, 0);
    cr_expect_gt(info.max_buffer_bytes, 0);
    const char* want = info.type == XF_DEVICE_TYPE_CPU ? "cpu" : NULL;
    if (want) cr_expect_str_eq(info.kernel_style, want);
    xf_context_destroy(ctx);
    setenv("XFORMER_KERNELS", "gpu", 1);
    cr_assert(open_device(&ctx));
    cr_assert_eq(xf_context_device_info(ctx, &info), XF_OK);
    cr_expect_str_eq(info.kernel_style, "gpu");
    xf_context_destroy(ctx);
}

Test(opencl_device, ranking_puts_cpus_last) {
    xf_device_info_t devs[32];
    size_t n = 0;
    cr_assert_eq(xf_device_list(devs, 32, &n), XF_OK);
    bool seen_cpu = false;
    for (size_t i = 0; i < n && i < 32; ++i) {
        if (devs[i].backend != XF_BACKEND_OPENCL) continue;
        if (devs[i].type == XF_DEVICE_TYPE_CPU)
            seen_cpu = true;
        else
            cr_expect(!seen_cpu, "OpenCL device %d (%s) is ranked after a CPU device", devs[i].index,
                      devs[i].name);
    }
}

Test(opencl_device, huge_tensor_is_out_of_memory) {
    xf_context_t* ctx;
    if (!open_device(&ctx)) cr_skip_test("no OpenCL device");
    xf_device_info_t info;
    cr_assert_eq(xf_context_device_info(ctx, &info), XF_OK);
    int64_t shape[2] = {(int64_t)(info.max_buffer_bytes / 4096) + 1, 1024};
    xf_tensor_t* t = NULL;
    cr_expect_eq(xf_tensor_create(ctx, "huge", XF_DTYPE_F32, 2, shape, &t), XF_ERR_OUT_OF_MEMORY, "%s",
                 xf_context_error(ctx));
    xf_context_destroy(ctx);
}

Test(opencl_errors, codes_are_named_and_mapped) {
    xf_err_t err;
    cr_expect_eq(
        xf_cl_fail(&err, CL_INVALID_WORK_GROUP_SIZE, "clEnqueueNDRangeKernel", "node 12 (matmul 'x')"),
        XF_ERR_BACKEND);
    cr_expect_str_eq(
        err.msg, "clEnqueueNDRangeKernel failed: CL_INVALID_WORK_GROUP_SIZE (-54) in node 12 (matmul 'x')");
    cr_expect_eq(xf_cl_fail(&err, CL_MEM_OBJECT_ALLOCATION_FAILURE, "clCreateBuffer", NULL),
                 XF_ERR_OUT_OF_MEMORY);
    cr_expect(strstr(err.msg, "CL_MEM_OBJECT_ALLOCATION_FAILURE (-4)") != NULL, "%s", err.msg);
    cr_expect_eq(xf_cl_fail(&err, CL_OUT_OF_RESOURCES, "clFinish", NULL), XF_ERR_OUT_OF_MEMORY);
    cr_expect_eq(xf_cl_fail(&err, CL_OUT_OF_HOST_MEMORY, "clFinish", NULL), XF_ERR_OUT_OF_MEMORY);
    cr_expect_str_eq(xf_cl_error_name(CL_INVALID_KERNEL_ARGS), "CL_INVALID_KERNEL_ARGS");
    cr_expect_str_eq(xf_cl_error_name(-9999), "unknown OpenCL error");
}

Test(opencl_exec, one_submission_per_compute) {
    xf_context_t* ctx;
    if (!open_device(&ctx)) cr_skip_test("no OpenCL device");
    xf_graph_t* g;
    xf_tensor_t *x, *w, *y, *z;
    cr_assert_eq(xf_graph_create(ctx, &g), XF_OK);
    cr_assert_eq(xf_graph_input(g, "x", XF_DTYPE_F32, 2, (int64_t[]){40, 16}, &x), XF_OK);
    cr_assert_eq(xf_graph_input(g, "w", XF_DTYPE_F32, 2, (int64_t[]){16, 24}, &w), XF_OK);
    cr_assert_eq(xf_matmul(g, x, w, NULL, &y), XF_OK);
    cr_assert_eq(xf_activation(g, y, XF_ACT_RELU, &z), XF_OK);
    cr_assert_eq(xf_graph_mark_output(g, z), XF_OK);
    float hx[40 * 16] = {0}, hw[16 * 24] = {0};
    cr_assert_eq(xf_tensor_upload(x, hx, sizeof hx), XF_OK);
    cr_assert_eq(xf_tensor_upload(w, hw, sizeof hw), XF_OK);
    cr_assert_eq(xf_graph_compute(g), XF_OK, "%s", xf_context_error(ctx));
    cr_assert_eq(xf_graph_compute(g), XF_OK, "%s", xf_context_error(ctx));
    xf_graph_stats_t st;
    cr_assert_eq(xf_graph_stats(g, &st), XF_OK);
    cr_expect_eq(st.submissions, 2);
    cr_expect_geq(st.dispatches, 2 * st.nodes);
    xf_graph_destroy(g);
    xf_context_destroy(ctx);
}

Test(opencl_errors, build_failure_carries_the_log) {
    extern const xf_backend_vtable_t xf_cl_backend;
    xf_err_t err = {{0}};
    xf_device_t* dev = NULL;
    xf_status_t st = xf_cl_backend.device_open(0, &dev, &err);
    if (st != XF_OK && !xf_test_backend_required(XF_BACKEND_OPENCL)) cr_skip_test("no OpenCL device: %s", err.msg);
    cr_assert_eq(st, XF_OK, "%s", err.msg);
    cl_program prog = NULL;
    st = xf_cl_build_source(dev, "__kernel void broken(__global float* x) { x[0] = undefined_name; }",
                            "-cl-std=CL1.2", &prog, &err);
    cr_expect_neq(st, XF_OK);
    cr_expect_null(prog);
    cr_expect(strstr(err.msg, "clBuildProgram failed: CL_BUILD_PROGRAM_FAILURE (-11)") != NULL, "%s",
              err.msg);
    cr_expect(strstr(err.msg, "undefined_name") != NULL, "the build log is missing: %s", err.msg);
    xf_cl_backend.device_close(dev);
}
