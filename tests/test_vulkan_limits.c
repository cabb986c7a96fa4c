// SPDX-License-Identifier: MIT
// Tensors beyond the device's maxStorageBufferRange still work in a linear layer (the weight is
// bound in pieces), tensors at unaligned offsets (slices) are handled, and device memory blocks grow with
// what is allocated.
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../backends/vulkan/vk_internal.h"
#include "core.h"
#include "harness.h"
#include "xformer.h"

// Deterministic values, so sampled outputs can be recomputed without keeping the weight.
static float wval(int64_t n, int64_t k) { return (float)((n * 131 + k * 71) % 197) / 197.0f - 0.5f; }
static float xval(int64_t m, int64_t k) { return (float)((m * 37 + k * 13) % 101) / 101.0f - 0.5f; }

Test(vulkan_limits, linear_weight_larger_than_max_storage_buffer_range) {
    xf_context_t* ctx = xf_test_context(XF_BACKEND_VULKAN);
    xf_device_info_t info;
    cr_assert_eq(xf_context_device_info(ctx, &info), XF_OK);
    const int64_t K = 2048, M = 5;
    int64_t N = (int64_t)(info.max_buffer_bytes / (uint64_t)(K * 4)) + 77;  // just past the limit
    cr_assert_gt((uint64_t)(N * K * 4), info.max_buffer_bytes);
    xf_tensor_t *w = NULL, *b = NULL;
    cr_assert_eq(xf_tensor_create(ctx, "w", XF_DTYPE_F32, 2, (int64_t[]){N, K}, &w), XF_OK, "%s",
                 xf_context_error(ctx));
    cr_assert_eq(xf_tensor_create(ctx, "b", XF_DTYPE_F32, 1, (int64_t[]){N}, &b), XF_OK);
    float* host = malloc(sizeof(float) * (size_t)(N * K));
    cr_assert_not_null(host);
    for (int64_t n = 0; n < N; ++n)
        for (int64_t k = 0; k < K; ++k) host[n * K + k] = wval(n, k);
    cr_assert_eq(xf_tensor_upload(w, host, sizeof(float) * (size_t)(N * K)), XF_OK);
    free(host);
    float* bias = malloc(sizeof(float) * (size_t)N);
    for (int64_t n = 0; n < N; ++n) bias[n] = (float)(n % 13) * 0.25f;
    cr_assert_eq(xf_tensor_upload(b, bias, sizeof(float) * (size_t)N), XF_OK);
    xf_graph_t* g = NULL;
    cr_assert_eq(xf_graph_create(ctx, &g), XF_OK);
    xf_tensor_t *x = NULL, *y = NULL;
    cr_assert_eq(xf_graph_input(g, "x", XF_DTYPE_F32, 2, (int64_t[]){M, K}, &x), XF_OK);
    cr_assert_eq(xf_linear(g, x, w, b, &y), XF_OK, "%s", xf_context_error(ctx));
    cr_assert_eq(xf_graph_mark_output(g, y), XF_OK);
    float* xin = malloc(sizeof(float) * (size_t)(M * K));
    for (int64_t m = 0; m < M; ++m)
        for (int64_t k = 0; k < K; ++k) xin[m * K + k] = xval(m, k);
    cr_assert_eq(xf_tensor_upload(x, xin, sizeof(float) * (size_t)(M * K)), XF_OK);
    cr_assert_eq(xf_graph_compute(g), XF_OK, "%s", xf_context_error(ctx));
    float* out = malloc(sizeof(float) * (size_t)(M * N));
    cr_assert_eq(xf_tensor_download(y, out, sizeof(float) * (size_t)(M * N)), XF_OK);
    // Samples across the whole output, including both ends of every weight piece's range.
    int64_t cols[] = {0, 1, 7, N / 3, N / 2, N / 2 + 1, N - 78, N - 77, N - 76, N - 2, N - 1};
    for (int64_t m = 0; m < M; ++m) {
        for (size_t c = 0; c < sizeof cols / sizeof cols[0]; ++c) {
            int64_t n = cols[c];
            double acc = bias[n];
            for (int64_t k = 0; k < K; ++k) acc += (double)xval(m, k) * wval(n, k);
            cr_assert(fabs(out[m * N + n] - acc) <= 1e-3 + 1e-4 * fabs(acc), "y[%lld, %lld] = %g, want %g",
                      (long long)m, (long long)n, out[m * N + n], acc);
        }
    }
    for (int64_t i = 0; i < M * N; ++i) cr_assert(isfinite(out[i]), "y[%lld] = %g", (long long)i, out[i]);
    free(out);
    free(xin);
    free(bias);
    xf_graph_destroy(g);
    xf_context_destroy(ctx);
}

Test(vulkan_limits, unaligned_slices) {
    xf_context_t* ctx = xf_test_context(XF_BACKEND_VULKAN);
    xf_graph_t* g = NULL;
    cr_assert_eq(xf_graph_create(ctx, &g), XF_OK);
    xf_tensor_t *x = NULL, *s = NULL, *y = NULL;
    const int64_t R = 7, C = 13;
    cr_assert_eq(xf_graph_input(g, "x", XF_DTYPE_F32, 2, (int64_t[]){R, C}, &x), XF_OK);
    // Rows 1..6 start at byte 52: not a multiple of minStorageBufferOffsetAlignment.
    cr_assert_eq(xf_slice(g, x, 0, 1, R, &s), XF_OK);
    cr_assert_eq(xf_scale(g, s, 3.0f, -1.0f, &y), XF_OK, "%s", xf_context_error(ctx));
    cr_assert_eq(xf_graph_mark_output(g, y), XF_OK);
    float in[R * C], out[(R - 1) * C];
    for (int i = 0; i < R * C; ++i) in[i] = (float)i * 0.5f;
    cr_assert_eq(xf_tensor_upload(x, in, sizeof in), XF_OK);
    cr_assert_eq(xf_graph_compute(g), XF_OK, "%s", xf_context_error(ctx));
    cr_assert_eq(xf_tensor_download(y, out, sizeof out), XF_OK);
    for (int i = 0; i < (R - 1) * C; ++i) cr_assert_float_eq(out[i], in[C + i] * 3.0f - 1.0f, 1e-5f);
    xf_graph_destroy(g);
    xf_context_destroy(ctx);
}

// A small buffer reserves a small block, not a full one; blocks double as more is allocated, a buffer over half
// a full block gets its own, and freeing everything gives every block back.
Test(vulkan_limits, memory_blocks_grow_with_use) {
    xf_context_t* ctx = xf_test_context(XF_BACKEND_VULKAN);
    xf_device_t* dev = ctx->device;
    xf_err_t err = {{0}};
    size_t blocks0, blocks;
    const VkDeviceSize before = xf_vk_memory_reserved(dev, &blocks0);
    const VkDeviceSize full = dev->block_size;
    enum { N = 12 };
    xf_buffer_t* bufs[N] = {NULL};
    cr_assert_eq(xf_vk_buffer_alloc(dev, 256, &bufs[0], &err), XF_OK, "%s", err.msg);
    VkDeviceSize reserved = xf_vk_memory_reserved(dev, &blocks) - before;
    cr_expect_leq(reserved, full / 32, "a 256-byte buffer reserved %llu bytes (full block %llu)",
                  (unsigned long long)reserved, (unsigned long long)full);
    VkDeviceSize live = 256;
    for (int i = 1; i < N - 1; ++i) {
        size_t bytes = (size_t)(full / 64) * (size_t)i / 3 + 52;
        cr_assert_eq(xf_vk_buffer_alloc(dev, bytes, &bufs[i], &err), XF_OK, "%s", err.msg);
        live += bytes;
        reserved = xf_vk_memory_reserved(dev, &blocks) - before;
        cr_expect_leq(reserved, 4 * live + full / 32, "%llu bytes live in %llu reserved",
                      (unsigned long long)live, (unsigned long long)reserved);
    }
    const size_t shared_blocks = blocks;
    cr_assert_eq(xf_vk_buffer_alloc(dev, (size_t)(full / 2) + 4096, &bufs[N - 1], &err), XF_OK, "%s", err.msg);
    reserved = xf_vk_memory_reserved(dev, &blocks);
    cr_expect_eq(blocks, shared_blocks + 1, "a buffer over half a block gets a block of its own");
    // Each buffer keeps its own bytes while its neighbours are written.
    for (int i = 0; i < N; ++i) {
        uint32_t v = 0x9e3779b9u * (uint32_t)(i + 1);
        cr_assert_eq(xf_vk_buffer_write(dev, bufs[i], 0, &v, sizeof v, &err), XF_OK, "%s", err.msg);
    }
    for (int i = 0; i < N; ++i) {
        uint32_t v = 0;
        cr_assert_eq(xf_vk_buffer_read(dev, bufs[i], 0, &v, sizeof v, &err), XF_OK, "%s", err.msg);
        cr_expect_eq(v, 0x9e3779b9u * (uint32_t)(i + 1), "buffer %d", i);
    }
    for (int i = 0; i < N; ++i) xf_vk_buffer_free(dev, bufs[i]);
    cr_expect_eq(xf_vk_memory_reserved(dev, &blocks), before);
    cr_expect_eq(blocks, blocks0);
    xf_context_destroy(ctx);
}
