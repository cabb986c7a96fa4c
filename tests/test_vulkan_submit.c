// SPDX-License-Identifier: MIT
// A ViT-B block runs as one Vulkan submission per compute; a small block matches the CPU backend.
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "xformer.h"

// Builds one block on |ctx| with weights from |seed| and runs it |computes| times on |in|.
static void run_block(xf_context_t* ctx, int64_t dim, int64_t heads, int64_t tokens, uint64_t seed, const float* in,
                      float* out, int computes, xf_graph_stats_t* stats) {
    xf_block_desc_t desc;
    xf_block_desc_init(&desc, dim, heads, 4 * dim);
    desc.qkv_bias = true;
    xf_rng_t rng = {seed};
    cr_assert(xf_test_block_weights(ctx, "b.", &desc, XF_DTYPE_F32, &rng), "%s", xf_context_error(ctx));
    xf_graph_t* g = NULL;
    cr_assert_eq(xf_graph_create(ctx, &g), XF_OK);
    xf_tensor_t *x = NULL, *y = NULL;
    cr_assert_eq(xf_graph_input(g, "x", XF_DTYPE_F32, 3, (int64_t[]){1, tokens, dim}, &x), XF_OK);
    cr_assert_eq(xf_graph_block(g, &desc, "b.", x, 0, 0, &y), XF_OK, "%s", xf_context_error(ctx));
    cr_assert_eq(xf_graph_mark_output(g, y), XF_OK);
    size_t n = (size_t)(tokens * dim);
    for (int i = 0; i < computes; ++i) {
        cr_assert_eq(xf_tensor_upload_f32(x, in, n), XF_OK);
        cr_assert_eq(xf_graph_compute(g), XF_OK, "%s", xf_context_error(ctx));
    }
    cr_assert_eq(xf_tensor_download_f32(y, out, n), XF_OK);
    cr_assert_eq(xf_graph_stats(g, stats), XF_OK);
    xf_graph_destroy(g);
}

Test(vulkan_submit, vit_b_block_is_one_submission) {
    xf_context_t* ctx = xf_test_context(XF_BACKEND_VULKAN);
    const int64_t dim = 768, tokens = 197;
    float* in = malloc(sizeof(float) * tokens * dim);
    float* out = malloc(sizeof(float) * tokens * dim);
    xf_rng_t rng = {7};
    for (int64_t i = 0; i < tokens * dim; ++i) in[i] = xf_rng_uniform(&rng, -1.0f, 1.0f);
    xf_graph_stats_t stats;
    run_block(ctx, dim, 12, tokens, 1, in, out, 2, &stats);
    cr_assert_eq(stats.computes, 2);
    cr_assert_eq(stats.submissions, stats.computes, "%llu submissions for %llu computes",
                 (unsigned long long)stats.submissions, (unsigned long long)stats.computes);
    cr_assert_geq(stats.dispatches, 2 * 8, "a block has at least 8 dispatches");
    for (int64_t i = 0; i < tokens * dim; ++i) cr_assert(isfinite(out[i]), "output %lld is %g", (long long)i, out[i]);
    free(in);
    free(out);
    xf_context_destroy(ctx);
}

Test(vulkan_submit, small_block_matches_cpu) {
    const int64_t dim = 96, tokens = 37;
    float* in = malloc(sizeof(float) * tokens * dim);
    float* got = malloc(sizeof(float) * tokens * dim);
    float* want = malloc(sizeof(float) * tokens * dim);
    xf_rng_t rng = {11};
    for (int64_t i = 0; i < tokens * dim; ++i) in[i] = xf_rng_uniform(&rng, -1.0f, 1.0f);
    xf_graph_stats_t stats;
    xf_context_t* vk = xf_test_context(XF_BACKEND_VULKAN);
    run_block(vk, dim, 6, tokens, 3, in, got, 1, &stats);
    cr_assert_eq(stats.submissions, 1);
    xf_context_destroy(vk);
    xf_context_t* cpu = xf_test_context(XF_BACKEND_CPU);
    run_block(cpu, dim, 6, tokens, 3, in, want, 1, &stats);
    xf_context_destroy(cpu);
    char why[256];
    cr_assert(xf_test_close(got, want, tokens * dim, 1e-4f, 1e-4f, why, sizeof why), "%s", why);
    free(in);
    free(got);
    free(want);
}
