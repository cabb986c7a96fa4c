// SPDX-License-Identifier: MIT
// Memory planner: a 4-block ViT-style graph needs at most half the sum of its intermediates, gives
// results identical to a run without reuse, and reruns with new inputs; backend scratch is planned.
#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"

#define OK(expr) cr_assert_eq((expr), XF_OK, "%s: %s", #expr, xf_last_error())

enum { TOKENS = 197, DIM = 64, HEADS = 4, BLOCKS = 4 };

// Random weights of the BLOCKS blocks in |ctx|.
static void block_weights(xf_context_t* ctx, xf_rng_t* rng) {
    xf_block_desc_t d;
    xf_block_desc_init(&d, DIM, HEADS, 4 * DIM);
    for (int b = 0; b < BLOCKS; ++b) {
        char prefix[32];
        snprintf(prefix, sizeof prefix, "blocks.%d.", b);
        cr_assert(xf_test_block_weights(ctx, prefix, &d, XF_DTYPE_F32, rng));
    }
}

ParameterizedTestParameters(planner, vit4) { return xf_test_column_params(); }

static xf_graph_t* build(xf_context_t* ctx, bool reuse, xf_tensor_t** x, xf_tensor_t** y) {
    xf_graph_t* g;
    OK(xf_graph_create(ctx, &g));
    OK(xf_graph_set_memory_reuse(g, reuse));
    OK(xf_graph_input(g, "x", XF_DTYPE_F32, 3, (int64_t[]){1, TOKENS, DIM}, x));
    xf_block_desc_t d;
    xf_block_desc_init(&d, DIM, HEADS, 4 * DIM);
    xf_tensor_t* h = *x;
    for (int b = 0; b < BLOCKS; ++b) {
        char prefix[32];
        snprintf(prefix, sizeof prefix, "blocks.%d.", b);
        OK(xf_graph_block(g, &d, prefix, h, 0, 0, &h));
    }
    OK(xf_graph_mark_output(g, h));
    *y = h;
    return g;
}

ParameterizedTest(int* column, planner, vit4, .timeout = 300) {
    xf_test_column_t col;
    xf_context_t* ctx = xf_test_column_context(*column, &col);
    xf_rng_t rng = {7};
    block_weights(ctx, &rng);
    size_t n = TOKENS * DIM;
    float* in = malloc(sizeof(float) * n);
    float* out[2] = {malloc(sizeof(float) * n), malloc(sizeof(float) * n)};
    xf_graph_stats_t stats[2];
    xf_graph_t* g[2];
    xf_tensor_t *x[2], *y[2];
    for (int r = 0; r < 2; ++r) g[r] = build(ctx, r == 0, &x[r], &y[r]);
    for (int round = 0; round < 2; ++round) {
        for (size_t i = 0; i < n; ++i) in[i] = xf_rng_uniform(&rng, -1, 1);
        for (int r = 0; r < 2; ++r) {
            OK(xf_tensor_upload(x[r], in, sizeof(float) * n));
            if (round == 0) cr_assert(xf_test_poison(g[r]));
            cr_assert_eq(xf_graph_compute(g[r]), XF_OK, "[%s] %s", col.name, xf_context_error(ctx));
            OK(xf_tensor_download(y[r], out[r], sizeof(float) * n));
            OK(xf_graph_stats(g[r], &stats[r]));
        }
        cr_assert(memcmp(out[0], out[1], sizeof(float) * n) == 0, "[%s] round %d: reuse changed the results",
                  col.name, round);
        for (size_t i = 0; i < n; ++i) cr_assert(out[0][i] == out[0][i], "NaN at %zu", i);
    }
    cr_assert_eq(stats[0].intermediate_bytes_sum, stats[1].intermediate_bytes_sum);
    cr_assert_geq(stats[1].peak_intermediate_bytes, stats[1].intermediate_bytes_sum, "no reuse means no sharing");
    cr_assert_leq(stats[0].peak_intermediate_bytes * 2, stats[0].intermediate_bytes_sum,
                  "peak %zu bytes is more than half of the %zu-byte sum", stats[0].peak_intermediate_bytes,
                  stats[0].intermediate_bytes_sum);
    cr_assert_gt(stats[0].inplace_reuses, 0);
    cr_assert_eq(stats[0].computes, 2);
    cr_log_info("[%s] %zu nodes, %zu intermediates: sum %zu bytes, peak %zu bytes (%.1f%%), %zu in place, "
                "%llu submissions",
                col.name, stats[0].nodes, stats[0].intermediates, stats[0].intermediate_bytes_sum,
                stats[0].peak_intermediate_bytes,
                100.0 * (double)stats[0].peak_intermediate_bytes / (double)stats[0].intermediate_bytes_sum,
                stats[0].inplace_reuses, (unsigned long long)stats[0].submissions);
    for (int r = 0; r < 2; ++r) xf_graph_destroy(g[r]);
    free(in);
    free(out[0]);
    free(out[1]);
    xf_context_destroy(ctx);
}

// Backend scratch (a GEMM's transposed operand, attention scores) is placed by the planner: reported
// by the stats, inside the pool, and the results stay right with memory reuse on and off.
ParameterizedTestParameters(planner, scratch) { return xf_test_column_params(); }

ParameterizedTest(int* column, planner, scratch, .timeout = 300) {
    xf_test_column_t col;
    xf_context_t* ctx = xf_test_column_context(*column, &col);
    enum { M = 67, K = 96, N = 40 };
    float* a = malloc(sizeof(float) * M * K);
    float* b = malloc(sizeof(float) * K * N);
    xf_rng_t rng = {11};
    for (int i = 0; i < M * K; ++i) a[i] = xf_rng_uniform(&rng, -1, 1);
    for (int i = 0; i < K * N; ++i) b[i] = xf_rng_uniform(&rng, -1, 1);
    float* got[2] = {malloc(sizeof(float) * M * N), malloc(sizeof(float) * M * N)};
    for (int reuse = 0; reuse < 2; ++reuse) {
        xf_graph_t* g;
        xf_tensor_t *ta, *tb, *t1, *t2, *y;
        OK(xf_graph_create(ctx, &g));
        OK(xf_graph_set_memory_reuse(g, reuse));
        OK(xf_graph_input(g, "a", XF_DTYPE_F32, 2, (int64_t[]){M, K}, &ta));
        OK(xf_graph_input(g, "b", XF_DTYPE_F32, 2, (int64_t[]){K, N}, &tb));
        OK(xf_matmul(g, ta, tb, NULL, &t1));
        OK(xf_scale(g, t1, 0.5f, 0.0f, &t2));
        OK(xf_matmul(g, ta, tb, NULL, &y));
        OK(xf_add(g, t2, y, &y));
        OK(xf_graph_mark_output(g, y));
        OK(xf_graph_plan(g));
        cr_assert(xf_test_poison(g));
        OK(xf_tensor_upload_f32(ta, a, M * K));
        OK(xf_tensor_upload_f32(tb, b, K * N));
        OK(xf_graph_compute(g));
        OK(xf_tensor_download_f32(y, got[reuse], M * N));
        xf_graph_stats_t st;
        OK(xf_graph_stats(g, &st));
        cr_expect_leq(st.peak_scratch_bytes + M * N * 4, st.peak_intermediate_bytes,
                      "[%s] scratch %zu is not inside the pool (%zu bytes)", col.name, st.peak_scratch_bytes,
                      st.peak_intermediate_bytes);
        xf_graph_destroy(g);
    }
    for (int i = 0; i < M; ++i)
        for (int j = 0; j < N; ++j) {
            double acc = 0;
            for (int k = 0; k < K; ++k) acc += (double)a[i * K + k] * b[k * N + j];
            cr_assert_float_eq(got[0][i * N + j], (float)(1.5 * acc), 1e-3, "[%s] no reuse", col.name);
            cr_assert_float_eq(got[1][i * N + j], got[0][i * N + j], 1e-6, "[%s] reuse", col.name);
        }
    free(a);
    free(b);
    free(got[0]);
    free(got[1]);
    xf_context_destroy(ctx);
}

// A device whose buffers are smaller than the graph's pool (OpenCL's CL_DEVICE_MAX_MEM_ALLOC_SIZE, here capped
// with max_binding_bytes; fused attention, so no node needs more than that in one piece): the intermediates are
// spread over several buffers, none straddled, and the results equal those of one buffer.
Test(planner, pool_over_several_buffers, .timeout = 300) {
    const size_t n = TOKENS * DIM;
    float* in = malloc(sizeof(float) * n);
    float* out[2] = {malloc(sizeof(float) * n), malloc(sizeof(float) * n)};
    xf_rng_t rng = {11};
    for (size_t i = 0; i < n; ++i) in[i] = xf_rng_uniform(&rng, -1, 1);
    size_t pools[2] = {0, 0}, peak = 0;
    for (int r = 0; r < 2; ++r) {
        xf_test_column_t col = {.name = "opencl", .backend = XF_BACKEND_OPENCL,
                                .requested = xf_test_backend_required(XF_BACKEND_OPENCL),
                                .attention = XF_ATTENTION_FUSED, .max_binding_bytes = r ? 256u << 10 : 0};
        char why[512];
        bool skip;
        xf_context_t* ctx;
        if (!xf_test_open(&col, &ctx, &skip, why, sizeof why)) {
            if (skip) cr_skip_test("%s", why);
            cr_assert_fail("%s", why);
        }
        xf_rng_t wrng = {7};
        block_weights(ctx, &wrng);
        xf_tensor_t *x, *y;
        xf_graph_t* g = build(ctx, true, &x, &y);
        OK(xf_tensor_upload(x, in, sizeof(float) * n));
        cr_assert(xf_test_poison(g), "%s", xf_context_error(ctx));
        cr_assert_eq(xf_graph_compute(g), XF_OK, "%s", xf_context_error(ctx));
        OK(xf_tensor_download(y, out[r], sizeof(float) * n));
        xf_graph_stats_t st;
        OK(xf_graph_stats(g, &st));
        pools[r] = st.pool_buffers;
        peak = st.peak_intermediate_bytes;
        xf_graph_destroy(g);
        xf_context_destroy(ctx);
    }
    cr_expect_eq(pools[0], 1);
    cr_expect_gt(pools[1], 1, "a %zu-byte pool in buffers of 256 KiB is one buffer", peak);
    cr_expect(memcmp(out[0], out[1], sizeof(float) * n) == 0, "spreading the pool changed the results");
    free(in);
    free(out[0]);
    free(out[1]);
}
