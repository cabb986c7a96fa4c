// SPDX-License-Identifier: MIT
// Transformer block lowering: one descriptor and a weight prefix become the block's nodes.
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "core.h"

#define CHECK(expr)                               \
    do {                                          \
        xf_status_t check_st_ = (expr);           \
        if (check_st_ != XF_OK) return check_st_; \
    } while (0)

const xf_block_names_t xf_block_timm_names = {
    .norm1 = "norm1",
    .qkv = "attn.qkv",
    .q = "attn.q",
    .k = "attn.k",
    .v = "attn.v",
    .proj = "attn.proj",
    .sr = "attn.sr",
    .sr_norm = "attn.norm",
    .norm2 = "norm2",
    .fc1 = "mlp.fc1",
    .dwconv = "mlp.dwconv",
    .fc2 = "mlp.fc2",
    .q_norm = "attn.q_norm",
    .k_norm = "attn.k_norm",
};

typedef struct {
    xf_graph_t* g;
    const xf_block_desc_t* d;
    xf_block_names_t names;
    const char* prefix;
    int64_t batch, tokens, dim;
    xf_dtype_t dtype;
} block_t;

void xf_block_desc_init(xf_block_desc_t* out_desc, int64_t dim, int64_t heads, int64_t mlp_hidden) {
    if (!out_desc) return;
    memset(out_desc, 0, sizeof *out_desc);
    out_desc->dim = dim;
    out_desc->heads = heads;
    out_desc->mlp_hidden = mlp_hidden;
    out_desc->norm = XF_NORM_LAYERNORM;
    out_desc->norm_eps = 1e-6f;
    out_desc->activation = XF_ACT_GELU;
    out_desc->qkv_bias = true;
    out_desc->sr_ratio = 1;
}

// Finds |prefix||name||suffix| with the expected shape (dims of -1 match anything); NULL |out| on
// an optional miss.
// A linear layer's [out, in] weight (|matrix|) may also be stored in any float type (a matmul's B operand).
static xf_status_t weight_of(block_t* b, const char* name, const char* suffix, int ndim, const int64_t* shape,
                             bool required, bool matrix, xf_tensor_t** out) {
    xf_context_t* ctx = b->g->context;
    char full[512];
    snprintf(full, sizeof full, "%s%s%s", b->prefix, name, suffix);
    *out = NULL;
    xf_tensor_t* t = NULL;
    for (t = ctx->tensors; t && strcmp(t->name, full) != 0; t = t->next) {
    }
    if (!t) {
        if (!required) return XF_OK;
        return xf_ctx_fail(ctx, XF_ERR_NOT_FOUND, "block weight '%s' is missing", full);
    }
    bool fits = t->ndim == ndim;
    for (int i = 0; fits && i < ndim; ++i) fits = shape[i] < 0 || t->shape[i] == shape[i];
    bool dtype_ok = t->dtype == b->dtype || (matrix && ((XF_DTYPES_FLOAT | XF_DTYPES_QUANT) & (1u << t->dtype)));
    if (!fits || !dtype_ok) {
        char want[128], have[128];
        size_t lw = 0, lh = 0;
        for (int i = 0; i < ndim; ++i) lw += (size_t)snprintf(want + lw, sizeof want - lw, "%s%lld", i ? ", " : "", (long long)shape[i]);
        for (int i = 0; i < t->ndim; ++i) lh += (size_t)snprintf(have + lh, sizeof have - lh, "%s%lld", i ? ", " : "", (long long)t->shape[i]);
        if (!ndim) want[0] = '\0';
        if (!t->ndim) have[0] = '\0';
        return xf_ctx_fail(ctx, XF_ERR_INVALID_ARGUMENT, "block weight '%s' is %s [%s]; expected %s [%s]", full,
                           xf_dtype_name(t->dtype), have, xf_dtype_name(b->dtype), want);
    }
    *out = t;
    return XF_OK;
}

static xf_status_t weight(block_t* b, const char* name, const char* suffix, int ndim, const int64_t* shape,
                          bool required, xf_tensor_t** out) {
    return weight_of(b, name, suffix, ndim, shape, required, false, out);
}

static xf_status_t linear_weights(block_t* b, const char* name, int64_t out_dim, int64_t in_dim, bool bias_required,
                                  xf_tensor_t** w, xf_tensor_t** bias) {
    CHECK(weight_of(b, name, ".weight", 2, (int64_t[]){out_dim, in_dim}, true, true, w));
    return weight(b, name, ".bias", 1, (int64_t[]){out_dim}, bias_required, bias);
}

// The block's norm over the last axis of |x|, |width| wide.
static xf_status_t norm_of(block_t* b, const char* name, xf_tensor_t* x, int64_t width, xf_tensor_t** out) {
    xf_tensor_t *w, *bias;
    CHECK(weight(b, name, ".weight", 1, (int64_t[]){width}, true, &w));
    float eps = b->d->norm_eps > 0.0f ? b->d->norm_eps : 1e-6f;
    if (b->d->norm == XF_NORM_RMSNORM) return xf_rmsnorm(b->g, x, w, eps, out);
    CHECK(weight(b, name, ".bias", 1, (int64_t[]){width}, false, &bias));
    return xf_layernorm(b->g, x, w, bias, eps, out);
}

static xf_status_t norm(block_t* b, const char* name, xf_tensor_t* x, xf_tensor_t** out) {
    return norm_of(b, name, x, b->dim, out);
}

// [B, L, C] tokens, C = heads * hd, at element |offset| with row stride |row| -> [B, heads, L, hd].
static xf_status_t split_heads(block_t* b, xf_tensor_t* x, int64_t len, int64_t row, int64_t offset,
                               xf_tensor_t** out) {
    int64_t hd = b->dim / b->d->heads;
    int64_t shape[4] = {b->batch, b->d->heads, len, hd};
    int64_t stride[4] = {len * row, hd, row, 1};
    return xf_graph_view(b->g, x, 4, shape, stride, offset, out);
}

// [B, N, C] -> [B, C, H, W] and back, for the convolutions inside SegFormer blocks.
static xf_status_t tokens_to_image(block_t* b, xf_tensor_t* x, int64_t c, int64_t h, int64_t w, xf_tensor_t** out) {
    xf_tensor_t* t;
    CHECK(xf_transpose(b->g, x, 1, 2, &t));
    return xf_reshape(b->g, t, 4, (int64_t[]){b->batch, c, h, w}, out);
}

static xf_status_t image_to_tokens(block_t* b, xf_tensor_t* x, xf_tensor_t** out) {
    xf_tensor_t* t;
    int64_t c = x->shape[1], n = x->shape[2] * x->shape[3];
    CHECK(xf_reshape(b->g, x, 3, (int64_t[]){b->batch, c, n}, &t));
    return xf_transpose(b->g, t, 1, 2, out);
}

static xf_status_t attention(block_t* b, xf_tensor_t* h, xf_tensor_t* residual, int64_t gh, int64_t gw,
                             xf_tensor_t** out) {
    const xf_block_names_t* nm = &b->names;
    int64_t c = b->dim, n = b->tokens;
    xf_tensor_t *q, *k, *v, *w, *bias;
    if (nm->qkv && nm->qkv[0] && b->d->sr_ratio <= 1) {
        xf_tensor_t* qkv;
        CHECK(linear_weights(b, nm->qkv, 3 * c, c, b->d->qkv_bias, &w, &bias));
        CHECK(xf_linear(b->g, h, w, bias, &qkv));
        CHECK(split_heads(b, qkv, n, 3 * c, 0, &q));
        CHECK(split_heads(b, qkv, n, 3 * c, c, &k));
        CHECK(split_heads(b, qkv, n, 3 * c, 2 * c, &v));
    } else {
        xf_tensor_t *qt, *kt, *vt, *kv_in = h;
        int64_t len = n;
        if (b->d->sr_ratio > 1) {
            xf_tensor_t *img, *red, *sr_w, *sr_b;
            int r = b->d->sr_ratio;
            CHECK(weight(b, nm->sr, ".weight", 4, (int64_t[]){c, c, r, r}, true, &sr_w));
            CHECK(weight(b, nm->sr, ".bias", 1, (int64_t[]){c}, false, &sr_b));
            CHECK(tokens_to_image(b, h, c, gh, gw, &img));
            xf_conv2d_params_t p = {.stride = {r, r}};
            CHECK(xf_conv2d(b->g, img, sr_w, sr_b, &p, &red));
            len = red->shape[2] * red->shape[3];
            CHECK(image_to_tokens(b, red, &kv_in));
            CHECK(norm(b, nm->sr_norm, kv_in, &kv_in));
        }
        CHECK(linear_weights(b, nm->q, c, c, b->d->qkv_bias, &w, &bias));
        CHECK(xf_linear(b->g, h, w, bias, &qt));
        CHECK(linear_weights(b, nm->k, c, c, b->d->qkv_bias, &w, &bias));
        CHECK(xf_linear(b->g, kv_in, w, bias, &kt));
        CHECK(linear_weights(b, nm->v, c, c, b->d->qkv_bias, &w, &bias));
        CHECK(xf_linear(b->g, kv_in, w, bias, &vt));
        CHECK(split_heads(b, qt, n, c, 0, &q));
        CHECK(split_heads(b, kt, len, c, 0, &k));
        CHECK(split_heads(b, vt, len, c, 0, &v));
    }
    if (b->d->qk_norm) {
        CHECK(norm_of(b, nm->q_norm, q, c / b->d->heads, &q));
        CHECK(norm_of(b, nm->k_norm, k, c / b->d->heads, &k));
    }
    xf_tensor_t *o, *merged;
    CHECK(xf_attention(b->g, q, k, v, NULL, 1.0f / sqrtf((float)(c / b->d->heads)), &o));
    CHECK(xf_transpose(b->g, o, 1, 2, &o));
    CHECK(xf_reshape(b->g, o, 3, (int64_t[]){b->batch, n, c}, &merged));
    CHECK(linear_weights(b, nm->proj, c, c, false, &w, &bias));
    xf_matmul_options_t mo = {.transpose_b = true, .bias = bias, .residual = residual};
    return xf_matmul(b->g, merged, w, &mo, out);
}

static xf_status_t mlp(block_t* b, xf_tensor_t* h, xf_tensor_t* residual, int64_t gh, int64_t gw, xf_tensor_t** out) {
    const xf_block_names_t* nm = &b->names;
    int64_t c = b->dim, hid = b->d->mlp_hidden;
    xf_activation_t act = b->d->activation == XF_ACT_NONE ? XF_ACT_GELU : b->d->activation;
    xf_tensor_t *w, *bias, *f;
    CHECK(linear_weights(b, nm->fc1, hid, c, false, &w, &bias));
    xf_matmul_options_t fo = {.transpose_b = true, .bias = bias, .activation = b->d->mix_ffn ? XF_ACT_NONE : act};
    CHECK(xf_matmul(b->g, h, w, &fo, &f));
    if (b->d->mix_ffn) {
        xf_tensor_t *img, *conv, *dw_w, *dw_b;
        CHECK(weight(b, nm->dwconv, ".weight", 4, (int64_t[]){hid, 1, 3, 3}, true, &dw_w));
        CHECK(weight(b, nm->dwconv, ".bias", 1, (int64_t[]){hid}, false, &dw_b));
        CHECK(tokens_to_image(b, f, hid, gh, gw, &img));
        xf_conv2d_params_t p = {.padding = {1, 1}, .groups = (int)hid};
        CHECK(xf_conv2d(b->g, img, dw_w, dw_b, &p, &conv));
        CHECK(xf_activation(b->g, conv, act, &conv));
        CHECK(image_to_tokens(b, conv, &f));
    }
    CHECK(linear_weights(b, nm->fc2, c, hid, false, &w, &bias));
    xf_matmul_options_t mo = {.transpose_b = true, .bias = bias, .residual = residual};
    return xf_matmul(b->g, f, w, &mo, out);
}

static void fill_names(xf_block_names_t* n, const xf_block_names_t* user) {
    *n = xf_block_timm_names;
    if (!user) return;
    const char** dst = (const char**)n;
    const char* const* src = (const char* const*)user;
    for (size_t i = 0; i < sizeof *n / sizeof(const char*); ++i) {
        if (src[i]) dst[i] = src[i];
    }
}

xf_status_t xf_graph_block(xf_graph_t* graph, const xf_block_desc_t* desc, const char* prefix, xf_tensor_t* x,
                           int64_t grid_h, int64_t grid_w, xf_tensor_t** out) {
    if (!graph) return xf_set_last_error(XF_ERR_INVALID_ARGUMENT, "xf_graph_block: graph is NULL");
    xf_context_t* ctx = graph->context;
    if (!out || !desc) return xf_ctx_fail(ctx, XF_ERR_INVALID_ARGUMENT, "xf_graph_block: NULL argument");
    *out = NULL;
    CHECK(xf_graph_check_tensor(graph, x, "xf_graph_block: x"));
    if (x->ndim != 3 || x->shape[2] != desc->dim) {
        return xf_ctx_fail(ctx, XF_ERR_INVALID_ARGUMENT, "xf_graph_block: x must be [B, N, %lld]", (long long)desc->dim);
    }
    if (desc->dim <= 0 || desc->heads <= 0 || desc->dim % desc->heads || desc->mlp_hidden <= 0) {
        return xf_ctx_fail(ctx, XF_ERR_INVALID_ARGUMENT,
                           "xf_graph_block: dim %lld, heads %lld, mlp_hidden %lld: dim must be a positive multiple of heads",
                           (long long)desc->dim, (long long)desc->heads, (long long)desc->mlp_hidden);
    }
    bool spatial = desc->sr_ratio > 1 || desc->mix_ffn;
    if (spatial && (grid_h <= 0 || grid_w <= 0 || grid_h * grid_w != x->shape[1])) {
        return xf_ctx_fail(ctx, XF_ERR_INVALID_ARGUMENT,
                           "xf_graph_block: sr_ratio/mix_ffn need grid_h * grid_w == tokens (%lld x %lld vs %lld)",
                           (long long)grid_h, (long long)grid_w, (long long)x->shape[1]);
    }
    if ((unsigned)desc->norm > XF_NORM_RMSNORM || (unsigned)desc->activation > XF_ACT_QUICK_GELU) {
        return xf_ctx_fail(ctx, XF_ERR_INVALID_ARGUMENT, "xf_graph_block: unknown norm or activation");
    }
    block_t b = {graph, desc, {0}, prefix ? prefix : "", x->shape[0], x->shape[1], desc->dim, x->dtype};
    fill_names(&b.names, desc->names);
    xf_tensor_t *h, *x1, *y;
    if (!desc->post_norm) {
        CHECK(norm(&b, b.names.norm1, x, &h));
        CHECK(attention(&b, h, x, grid_h, grid_w, &x1));
        CHECK(norm(&b, b.names.norm2, x1, &h));
        return mlp(&b, h, x1, grid_h, grid_w, out);
    }
    CHECK(attention(&b, x, x, grid_h, grid_w, &y));
    CHECK(norm(&b, b.names.norm1, y, &x1));
    CHECK(mlp(&b, x1, x1, grid_h, grid_w, &y));
    return norm(&b, b.names.norm2, y, out);
}
