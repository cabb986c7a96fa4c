// SPDX-License-Identifier: MIT
// Vulkan GEMM variants against the CPU backend: the subgroup, register-blocked and tiled shaders,
// vec4 and scalar loads, A.B and A.B^T, batch broadcasting, fused bias/activation/residual, f32 and
// f16, both kernel styles. The op table covers the common shapes; this covers every code path.
#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../backends/common/xf_tune.h"

#include "harness.h"
#include "xformer.h"

typedef struct gemm_case_s {
    int64_t b0, b1, m, k, n, c0, c1;
    bool tb, bias, residual;
    xf_activation_t act;
} gemm_case_t;

static const gemm_case_t cases[] = {
    {1, 1, 197, 64, 96, 1, 1, false, true, true, XF_ACT_GELU},   // A.B, vec4 along K and N
    {2, 3, 33, 28, 20, 1, 3, false, false, true, XF_ACT_NONE},   // batched A.B, b broadcast over dim 0
    {2, 2, 65, 32, 36, 2, 1, true, true, false, XF_ACT_RELU},    // batched A.B^T, b broadcast over dim 1
    {1, 1, 197, 768, 100, 1, 1, true, true, true, XF_ACT_SILU},  // linear with every epilogue
    {1, 1, 5, 8, 4, 1, 1, false, false, false, XF_ACT_NONE},     // fewer rows and columns than a subgroup
    {1, 1, 19, 30, 22, 1, 1, false, true, false, XF_ACT_GELU_TANH}, // K % 4 != 0: scalar loads
};
#define NCASES (sizeof cases / sizeof cases[0])

typedef struct gemm_param_s {
    int c;
    int style;  // 0: device's choice, 1: XFORMER_KERNELS=gpu, 2: device's choice tuned (XFORMER_TUNE=fast)
    int f16;
} gemm_param_t;

static void fill(float* p, int64_t n, uint64_t seed) {
    xf_rng_t rng = {seed};
    for (int64_t i = 0; i < n; ++i) p[i] = xf_rng_uniform(&rng, -1.0f, 1.0f);
}

// Runs |gc| on |backend| and returns the result (caller frees), or NULL to skip.
static float* run(xf_backend_t backend, const gemm_case_t* gc, xf_dtype_t dt) {
    xf_context_t* ctx = xf_test_context(backend);
    xf_device_info_t info;
    cr_assert_eq(xf_context_device_info(ctx, &info), XF_OK);
    if (dt == XF_DTYPE_F16 && !info.fp16) {
        xf_context_destroy(ctx);
        return NULL;
    }
    int64_t bn0 = gc->tb ? gc->n : gc->k, bn1 = gc->tb ? gc->k : gc->n;
    int64_t ashape[4] = {gc->b0, gc->b1, gc->m, gc->k}, bshape[4] = {gc->c0, gc->c1, bn0, bn1};
    int64_t cshape[4] = {gc->b0, gc->b1, gc->m, gc->n};
    int64_t na = gc->b0 * gc->b1 * gc->m * gc->k, nb = gc->c0 * gc->c1 * gc->k * gc->n;
    int64_t nc = gc->b0 * gc->b1 * gc->m * gc->n;
    float* host = malloc(sizeof(float) * (size_t)(na + nb + gc->n + nc));
    fill(host, na + nb + gc->n + nc, 42);
    xf_graph_t* g = NULL;
    cr_assert_eq(xf_graph_create(ctx, &g), XF_OK);
    xf_tensor_t *a, *b, *bias = NULL, *res = NULL, *c;
    cr_assert_eq(xf_graph_input(g, "a", dt, 4, ashape, &a), XF_OK);
    cr_assert_eq(xf_graph_input(g, "b", dt, 4, bshape, &b), XF_OK);
    if (gc->bias) cr_assert_eq(xf_graph_input(g, "bias", dt, 1, &gc->n, &bias), XF_OK);
    if (gc->residual) cr_assert_eq(xf_graph_input(g, "res", dt, 4, cshape, &res), XF_OK);
    xf_matmul_options_t mo = {.transpose_b = gc->tb, .bias = bias, .activation = gc->act, .residual = res};
    cr_assert_eq(xf_matmul(g, a, b, &mo, &c), XF_OK, "%s", xf_context_error(ctx));
    cr_assert_eq(xf_graph_mark_output(g, c), XF_OK);
    cr_assert_eq(xf_tensor_upload_f32(a, host, (size_t)na), XF_OK);
    cr_assert_eq(xf_tensor_upload_f32(b, host + na, (size_t)nb), XF_OK);
    if (bias) cr_assert_eq(xf_tensor_upload_f32(bias, host + na + nb, (size_t)gc->n), XF_OK);
    if (res) cr_assert_eq(xf_tensor_upload_f32(res, host + na + nb + gc->n, (size_t)nc), XF_OK);
    cr_assert(xf_test_poison(g));
    cr_assert_eq(xf_graph_compute(g), XF_OK, "%s", xf_context_error(ctx));
    float* out = malloc(sizeof(float) * (size_t)nc);
    cr_assert_eq(xf_tensor_download_f32(c, out, (size_t)nc), XF_OK);
    free(host);
    xf_graph_destroy(g);
    xf_context_destroy(ctx);
    return out;
}

static void free_params(struct criterion_test_params* crp) { cr_free(crp->params); }

ParameterizedTestParameters(vulkan_gemm, paths) {
    size_t n = NCASES * 3 * 2;
    gemm_param_t* p = cr_malloc(sizeof *p * n);
    size_t k = 0;
    for (int c = 0; c < (int)NCASES; ++c)
        for (int s = 0; s < 3; ++s)
            for (int h = 0; h < 2; ++h) p[k++] = (gemm_param_t){c, s, h};
    return cr_make_param_array(gemm_param_t, p, n, free_params);
}

ParameterizedTest(gemm_param_t* prm, vulkan_gemm, paths) {
    const gemm_case_t* gc = &cases[prm->c];
    xf_dtype_t dt = prm->f16 ? XF_DTYPE_F16 : XF_DTYPE_F32;
    if (prm->style == 1) setenv("XFORMER_KERNELS", "gpu", 1);
    if (prm->style == 2) setenv("XFORMER_TUNE", "fast", 1);
    float* got = run(XF_BACKEND_VULKAN, gc, dt);
    if (!got) cr_skip_test("no f16 storage");
    unsetenv("XFORMER_KERNELS");
    unsetenv("XFORMER_TUNE");
    float* want = run(XF_BACKEND_CPU, gc, dt);
    char why[256];
    float tol = dt == XF_DTYPE_F32 ? 1e-4f : 1e-2f;
    cr_expect(xf_test_close(got, want, gc->b0 * gc->b1 * gc->m * gc->n, tol, tol, why, sizeof why),
              "case %d (%lldx%lldx%lld%s) %s %s: %s", prm->c, (long long)gc->m, (long long)gc->k, (long long)gc->n,
              gc->tb ? " B^T" : "", prm->style == 1 ? "gpu" : prm->style == 2 ? "tuned" : "default",
              prm->f16 ? "f16" : "f32", why);
    free(got);
    free(want);
}

// Convolutions that the Vulkan backend runs as im2col + GEMM (C * KH * KW a multiple of 4, one
// group) on CPU-like devices, and as direct kernels otherwise, against the CPU backend.
typedef struct conv_case_s {
    int64_t n, c, h, w, o, kh, kw;
    int stride, pad, dil;
    bool bias;
} conv_case_t;

static const conv_case_t conv_cases[] = {
    {2, 8, 11, 13, 12, 3, 3, 1, 1, 1, true},   // two images, padding, bias
    {1, 4, 17, 15, 6, 4, 4, 2, 1, 2, false},   // stride 2, dilation 2, no bias
    {1, 3, 32, 48, 20, 16, 16, 16, 0, 1, true}, // ViT patch embedding shape
};

static float* run_conv(xf_backend_t backend, const conv_case_t* cc, xf_dtype_t dt, int64_t* out_n) {
    xf_context_t* ctx = xf_test_context(backend);
    xf_device_info_t info;
    cr_assert_eq(xf_context_device_info(ctx, &info), XF_OK);
    if (dt == XF_DTYPE_F16 && !info.fp16) {
        xf_context_destroy(ctx);
        return NULL;
    }
    int64_t xs[4] = {cc->n, cc->c, cc->h, cc->w}, ws[4] = {cc->o, cc->c, cc->kh, cc->kw};
    int64_t nx = cc->n * cc->c * cc->h * cc->w, nw = cc->o * cc->c * cc->kh * cc->kw;
    float* host = malloc(sizeof(float) * (size_t)(nx + nw + cc->o));
    fill(host, nx + nw + cc->o, 7);
    xf_graph_t* g = NULL;
    cr_assert_eq(xf_graph_create(ctx, &g), XF_OK);
    xf_tensor_t *x, *w, *b = NULL, *y;
    cr_assert_eq(xf_graph_input(g, "x", dt, 4, xs, &x), XF_OK);
    cr_assert_eq(xf_graph_input(g, "w", dt, 4, ws, &w), XF_OK);
    if (cc->bias) cr_assert_eq(xf_graph_input(g, "b", dt, 1, &cc->o, &b), XF_OK);
    xf_conv2d_params_t prm = {{cc->stride, cc->stride}, {cc->pad, cc->pad}, {cc->dil, cc->dil}, 1};
    cr_assert_eq(xf_conv2d(g, x, w, b, &prm, &y), XF_OK, "%s", xf_context_error(ctx));
    cr_assert_eq(xf_graph_mark_output(g, y), XF_OK);
    cr_assert_eq(xf_tensor_upload_f32(x, host, (size_t)nx), XF_OK);
    cr_assert_eq(xf_tensor_upload_f32(w, host + nx, (size_t)nw), XF_OK);
    if (b) cr_assert_eq(xf_tensor_upload_f32(b, host + nx + nw, (size_t)cc->o), XF_OK);
    cr_assert(xf_test_poison(g));
    cr_assert_eq(xf_graph_compute(g), XF_OK, "%s", xf_context_error(ctx));
    *out_n = xf_tensor_elements(y);
    float* out = malloc(sizeof(float) * (size_t)*out_n);
    cr_assert_eq(xf_tensor_download_f32(y, out, (size_t)*out_n), XF_OK);
    free(host);
    xf_graph_destroy(g);
    xf_context_destroy(ctx);
    return out;
}

ParameterizedTestParameters(vulkan_gemm, conv) {
    size_t n = sizeof conv_cases / sizeof conv_cases[0] * 4;
    gemm_param_t* p = cr_malloc(sizeof *p * n);
    size_t k = 0;
    for (int c = 0; c < (int)(sizeof conv_cases / sizeof conv_cases[0]); ++c)
        for (int s = 0; s < 2; ++s)
            for (int h = 0; h < 2; ++h) p[k++] = (gemm_param_t){c, s, h};
    return cr_make_param_array(gemm_param_t, p, n, free_params);
}

ParameterizedTest(gemm_param_t* prm, vulkan_gemm, conv) {
    const conv_case_t* cc = &conv_cases[prm->c];
    xf_dtype_t dt = prm->f16 ? XF_DTYPE_F16 : XF_DTYPE_F32;
    if (prm->style) setenv("XFORMER_KERNELS", "gpu", 1);
    else unsetenv("XFORMER_KERNELS");
    int64_t n = 0, m = 0;
    float* got = run_conv(XF_BACKEND_VULKAN, cc, dt, &n);
    if (!got) cr_skip_test("no f16 storage");
    unsetenv("XFORMER_KERNELS");
    float* want = run_conv(XF_BACKEND_CPU, cc, dt, &m);
    cr_assert_eq(n, m);
    char why[256];
    float tol = dt == XF_DTYPE_F32 ? 2e-4f : 2e-2f;
    cr_expect(xf_test_close(got, want, n, tol, tol, why, sizeof why), "conv case %d %s %s: %s", prm->c,
              prm->style ? "gpu" : "default", prm->f16 ? "f16" : "f32", why);
    free(got);
    free(want);
}

// Tuning results outlive the process: a first process tunes the shapes of a linear layer (with
// validation on, like every Vulkan test), a second one finds them in the cache and tunes nothing.
Test(vulkan_gemm, tuning_results_are_reloaded_by_another_process) {
    char dir[] = "/tmp/xf-vk-tune-XXXXXX";
    cr_assert_not_null(mkdtemp(dir));
    setenv("XFORMER_CACHE_DIR", dir, 1);
    setenv("XFORMER_TUNE", "fast", 1);
    pid_t pid = fork();
    cr_assert_neq(pid, -1);
    if (pid == 0) _exit(xf_test_tuning_child(XF_BACKEND_VULKAN, 3));
    int status = 0;
    cr_assert_eq(waitpid(pid, &status, 0), pid);
    if (WIFEXITED(status) && WEXITSTATUS(status) == XF_TEST_CHILD_NO_DEVICE) cr_skip_test("no Vulkan device");
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "the first process did not tune and save");
    xf_context_t* ctx = xf_test_context(XF_BACKEND_VULKAN);
    xf_test_linear_rounds(ctx, 1, 3, NULL);
    xf_context_destroy(ctx);
    xf_tune_stats_t s;
    xf_tune_stats(&s);
    cr_expect_geq(s.loaded, 1, "the tuning file was not read");
    cr_expect_eq(s.tuned, 0, "a shape tuned by the first process was tuned again");
    cr_expect_eq(s.rejects, 0);
    char cmd[64];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    cr_expect_eq(system(cmd), 0);
}
