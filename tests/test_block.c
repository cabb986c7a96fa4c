// SPDX-License-Identifier: MIT
// Block lowering: xf_graph_block against the same block composed here from single ops, on every
// backend column; missing and mis-shaped weights name the tensor.
#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"

#define OK(expr) cr_assert_eq((expr), XF_OK, "%s: %s", #expr, xf_last_error())

static const xf_block_names_t hf_segformer = {
    .norm1 = "layer_norm_1",
    .qkv = "",
    .q = "attention.self.query",
    .k = "attention.self.key",
    .v = "attention.self.value",
    .proj = "attention.output.dense",
    .sr = "attention.self.sr",
    .sr_norm = "attention.self.layer_norm",
    .norm2 = "layer_norm_2",
    .fc1 = "mlp.dense1",
    .dwconv = "mlp.dwconv.dwconv",
    .fc2 = "mlp.dense2",
};

typedef struct {
    const char* name;
    int64_t dim, heads, hidden, tokens, gh, gw;
    int sr;
    bool mix, post, rms, qkv_bias;
    xf_activation_t act;
    const xf_block_names_t* names;
    bool qk_norm;
} block_case_t;

static const block_case_t bcases[] = {
    {"vit pre-norm gelu", 48, 3, 192, 197, 0, 0, 1, false, false, false, true, XF_ACT_GELU, NULL, false},
    {"segformer sr2 mix-ffn", 32, 2, 128, 90, 10, 9, 2, true, false, false, true, XF_ACT_GELU, &hf_segformer, false},
    {"post-norm rmsnorm silu", 40, 5, 72, 33, 0, 0, 1, false, true, true, false, XF_ACT_SILU, NULL, false},
    {"vit qk_norm quick_gelu", 36, 3, 100, 53, 0, 0, 1, false, false, false, true, XF_ACT_QUICK_GELU, NULL, true},
};

static xf_tensor_t* W(xf_context_t* ctx, const char* prefix, const char* name, const char* suffix) {
    char full[256];
    snprintf(full, sizeof full, "%s%s%s", prefix, name, suffix);
    xf_tensor_t* t = NULL;
    xf_context_find_tensor(ctx, full, &t);
    return t;
}

static xf_tensor_t* norm(xf_graph_t* g, xf_context_t* ctx, const block_case_t* bc, const char* p, const char* name,
                         xf_tensor_t* x) {
    xf_tensor_t* y;
    if (bc->rms) OK(xf_rmsnorm(g, x, W(ctx, p, name, ".weight"), 1e-6f, &y));
    else OK(xf_layernorm(g, x, W(ctx, p, name, ".weight"), W(ctx, p, name, ".bias"), 1e-6f, &y));
    return y;
}

// [1, L, C] -> [1, H, L, hd] through reshape + permute.
static xf_tensor_t* heads(xf_graph_t* g, xf_tensor_t* x, int64_t len, int64_t h, int64_t hd) {
    xf_tensor_t *r, *p;
    OK(xf_reshape(g, x, 4, (int64_t[]){1, len, h, hd}, &r));
    OK(xf_permute(g, r, (int[]){0, 2, 1, 3}, &p));
    return p;
}

static xf_tensor_t* to_image(xf_graph_t* g, xf_tensor_t* x, int64_t c, int64_t h, int64_t w) {
    xf_tensor_t *t, *r;
    OK(xf_permute(g, x, (int[]){0, 2, 1}, &t));
    OK(xf_reshape(g, t, 4, (int64_t[]){1, c, h, w}, &r));
    return r;
}

static xf_tensor_t* to_tokens(xf_graph_t* g, xf_tensor_t* x) {
    xf_tensor_t *r, *t;
    int64_t c = xf_tensor_dim(x, 1), n = xf_tensor_dim(x, 2) * xf_tensor_dim(x, 3);
    OK(xf_reshape(g, x, 3, (int64_t[]){1, c, n}, &r));
    OK(xf_transpose(g, r, 1, 2, &t));
    return t;
}

static xf_tensor_t* composed(xf_graph_t* g, xf_context_t* ctx, const block_case_t* bc, const char* p, xf_tensor_t* x) {
    const xf_block_names_t* n = bc->names;
    const char* qn = n ? n->q : "attn.q";
    int64_t c = bc->dim, hd = c / bc->heads, N = bc->tokens;
    xf_tensor_t* h = bc->post ? x : norm(g, ctx, bc, p, n ? n->norm1 : "norm1", x);
    xf_tensor_t *q, *k, *v;
    if (!n && bc->sr <= 1) {
        xf_tensor_t *qkv, *parts[3];
        OK(xf_linear(g, h, W(ctx, p, "attn.qkv", ".weight"), W(ctx, p, "attn.qkv", ".bias"), &qkv));
        for (int i = 0; i < 3; ++i) OK(xf_slice(g, qkv, -1, i * c, (i + 1) * c, &parts[i]));
        q = heads(g, parts[0], N, bc->heads, hd);
        k = heads(g, parts[1], N, bc->heads, hd);
        v = heads(g, parts[2], N, bc->heads, hd);
    } else {
        xf_tensor_t *qt, *kt, *vt, *kv = h;
        int64_t len = N;
        if (bc->sr > 1) {
            xf_tensor_t* red;
            xf_conv2d_params_t cp = {.stride = {bc->sr, bc->sr}};
            OK(xf_conv2d(g, to_image(g, h, c, bc->gh, bc->gw), W(ctx, p, n->sr, ".weight"), W(ctx, p, n->sr, ".bias"),
                         &cp, &red));
            len = xf_tensor_dim(red, 2) * xf_tensor_dim(red, 3);
            OK(xf_layernorm(g, to_tokens(g, red), W(ctx, p, n->sr_norm, ".weight"), W(ctx, p, n->sr_norm, ".bias"),
                            1e-6f, &kv));
        }
        OK(xf_linear(g, h, W(ctx, p, qn, ".weight"), W(ctx, p, qn, ".bias"), &qt));
        OK(xf_linear(g, kv, W(ctx, p, n->k, ".weight"), W(ctx, p, n->k, ".bias"), &kt));
        OK(xf_linear(g, kv, W(ctx, p, n->v, ".weight"), W(ctx, p, n->v, ".bias"), &vt));
        q = heads(g, qt, N, bc->heads, hd);
        k = heads(g, kt, len, bc->heads, hd);
        v = heads(g, vt, len, bc->heads, hd);
    }
    if (bc->qk_norm) {
        q = norm(g, ctx, bc, p, "attn.q_norm", q);
        k = norm(g, ctx, bc, p, "attn.k_norm", k);
    }
    xf_tensor_t *o, *ot, *merged, *proj, *x1, *f, *f2, *y;
    OK(xf_attention(g, q, k, v, NULL, 1.0f / sqrtf((float)hd), &o));
    OK(xf_permute(g, o, (int[]){0, 2, 1, 3}, &ot));
    OK(xf_reshape(g, ot, 3, (int64_t[]){1, N, c}, &merged));
    const char* pn = n ? n->proj : "attn.proj";
    OK(xf_linear(g, merged, W(ctx, p, pn, ".weight"), W(ctx, p, pn, ".bias"), &proj));
    OK(xf_add(g, x, proj, &x1));
    if (bc->post) x1 = norm(g, ctx, bc, p, "norm1", x1);
    h = bc->post ? x1 : norm(g, ctx, bc, p, n ? n->norm2 : "norm2", x1);
    const char* f1 = n ? n->fc1 : "mlp.fc1";
    OK(xf_linear(g, h, W(ctx, p, f1, ".weight"), W(ctx, p, f1, ".bias"), &f));
    if (bc->mix) {
        xf_conv2d_params_t cp = {.padding = {1, 1}, .groups = (int)bc->hidden};
        xf_tensor_t* conv;
        OK(xf_conv2d(g, to_image(g, f, bc->hidden, bc->gh, bc->gw), W(ctx, p, n->dwconv, ".weight"),
                     W(ctx, p, n->dwconv, ".bias"), &cp, &conv));
        f = to_tokens(g, conv);
    }
    OK(xf_activation(g, f, bc->act, &f));
    const char* f2n = n ? n->fc2 : "mlp.fc2";
    OK(xf_linear(g, f, W(ctx, p, f2n, ".weight"), W(ctx, p, f2n, ".bias"), &f2));
    OK(xf_add(g, x1, f2, &y));
    return bc->post ? norm(g, ctx, bc, p, "norm2", y) : y;
}

static void fill_desc(const block_case_t* bc, xf_block_desc_t* d) {
    xf_block_desc_init(d, bc->dim, bc->heads, bc->hidden);
    d->sr_ratio = bc->sr;
    d->mix_ffn = bc->mix;
    d->post_norm = bc->post;
    d->norm = bc->rms ? XF_NORM_RMSNORM : XF_NORM_LAYERNORM;
    d->qkv_bias = bc->qkv_bias;
    d->activation = bc->act;
    d->names = bc->names;
    d->qk_norm = bc->qk_norm;
}

typedef struct {
    int c, column;
} block_param_t;

static void free_params(struct criterion_test_params* params) { cr_free(params->params); }

ParameterizedTestParameters(block, lowered_matches_composed) {
    xf_test_column_t cols[XF_TEST_MAX_COLUMNS];
    int ncol = xf_test_columns(cols, XF_TEST_MAX_COLUMNS);
    size_t nc = sizeof bcases / sizeof bcases[0], n = nc * (size_t)ncol, k = 0;
    block_param_t* p = cr_malloc(sizeof *p * n);
    for (int col = 0; col < ncol; ++col)
        for (size_t c = 0; c < nc; ++c) p[k++] = (block_param_t){(int)c, col};
    return cr_make_param_array(block_param_t, p, n, free_params);
}

ParameterizedTest(block_param_t* param, block, lowered_matches_composed, .timeout = 300) {
    xf_test_column_t cols[XF_TEST_MAX_COLUMNS];
    xf_test_columns(cols, XF_TEST_MAX_COLUMNS);
    const block_case_t* bc = &bcases[param->c];
    char why[512];
    bool skip;
    xf_context_t* ctx;
    if (!xf_test_open(&cols[param->column], &ctx, &skip, why, sizeof why)) {
        if (skip) cr_skip_test("%s", why);
        cr_assert_fail("%s", why);
    }
    xf_block_desc_t d;
    fill_desc(bc, &d);
    xf_rng_t rng = {42 + (uint64_t)param->c};
    cr_assert(xf_test_block_weights(ctx, "blk.", &d, XF_DTYPE_F32, &rng), "%s", xf_context_error(ctx));
    int64_t n = bc->tokens * bc->dim;
    float* xs = malloc(sizeof(float) * (size_t)n);
    for (int64_t i = 0; i < n; ++i) xs[i] = xf_rng_uniform(&rng, -1, 1);
    float* res[2];
    for (int pass = 0; pass < 2; ++pass) {
        xf_graph_t* g;
        xf_tensor_t *x, *y;
        OK(xf_graph_create(ctx, &g));
        OK(xf_graph_input(g, "x", XF_DTYPE_F32, 3, (int64_t[]){1, bc->tokens, bc->dim}, &x));
        OK(xf_tensor_upload(x, xs, sizeof(float) * (size_t)n));
        if (pass == 0) OK(xf_graph_block(g, &d, "blk.", x, bc->gh, bc->gw, &y));
        else y = composed(g, ctx, bc, "blk.", x);
        OK(xf_graph_mark_output(g, y));
        cr_assert(xf_test_poison(g));
        cr_assert_eq(xf_graph_compute(g), XF_OK, "[%s] %s: %s", cols[param->column].name, bc->name,
                     xf_context_error(ctx));
        res[pass] = malloc(sizeof(float) * (size_t)n);
        OK(xf_tensor_download(y, res[pass], sizeof(float) * (size_t)n));
        xf_graph_destroy(g);
    }
    cr_expect(xf_test_close(res[0], res[1], n, 1e-4f, 1e-3f, why, sizeof why), "[%s] %s: %s",
              cols[param->column].name, bc->name, why);
    free(res[0]);
    free(res[1]);
    free(xs);
    xf_context_destroy(ctx);
}

Test(block, missing_and_misshaped_weights_are_named) {
    xf_context_options_t o;
    xf_context_options_init(&o);
    o.backend = XF_BACKEND_CPU;
    xf_context_t* ctx;
    OK(xf_context_create(&o, &ctx));
    xf_block_desc_t d;
    fill_desc(&bcases[0], &d);
    xf_rng_t rng = {1};
    cr_assert(xf_test_block_weights(ctx, "b.", &d, XF_DTYPE_F32, &rng));
    xf_graph_t* g;
    xf_tensor_t *x, *y = NULL, *t;
    OK(xf_graph_create(ctx, &g));
    OK(xf_graph_input(g, "x", XF_DTYPE_F32, 3, (int64_t[]){1, 5, d.dim}, &x));
    cr_assert_eq(xf_graph_block(g, &d, "nothere.", x, 0, 0, &y), XF_ERR_NOT_FOUND);
    cr_assert(strstr(xf_context_error(ctx), "nothere.norm1.weight"), "%s", xf_context_error(ctx));
    OK(xf_context_find_tensor(ctx, "b.mlp.fc2.weight", &t));
    xf_tensor_destroy(t);
    OK(xf_tensor_create(ctx, "b.mlp.fc2.weight", XF_DTYPE_F32, 2, (int64_t[]){d.dim, d.mlp_hidden + 1}, &t));
    cr_assert_eq(xf_graph_block(g, &d, "b.", x, 0, 0, &y), XF_ERR_INVALID_ARGUMENT);
    cr_assert(strstr(xf_context_error(ctx), "b.mlp.fc2.weight"), "%s", xf_context_error(ctx));
    cr_assert_null(y);
    d.sr_ratio = 2;
    cr_assert_eq(xf_graph_block(g, &d, "b.", x, 2, 2, &y), XF_ERR_INVALID_ARGUMENT, "grid does not match tokens");
    xf_graph_destroy(g);
    xf_context_destroy(ctx);
}
