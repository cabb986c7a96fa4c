// SPDX-License-Identifier: MIT
// Swin Transformer image classifiers with timm's tensor names (timm 0.9 SwinTransformer) or transformers'
// (SwinForImageClassification): each block's shifted-window attention is one fused operator on the token
// grid (xf_window_attention), which rolls, pads, partitions and masks by index arithmetic.
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model_internal.h"

#define CHECK(expr)                       \
    do {                                          \
        xf_status_t check_st_ = (expr);           \
        if (check_st_ != XF_OK) return check_st_; \
    } while (0)

// timm's attention mask value for pairs of tokens from different regions of a shifted window.
#define SWIN_MASKED (-100.0f)

typedef struct swin_stage_s {
    int64_t h, w;    // token grid of the stage
    int64_t wh, ww;  // window, as timm clamps it to the grid
    int64_t sh, sw;  // shifts of odd blocks along H and W (0: none along that axis)
} swin_stage_t;

// timm's _calc_window_shift per axis: a window no larger than the grid, no shift along an axis the window
// covers. transformers' set_shift_and_window_size: square windows, no shift when the grid's smaller side is
// no larger than the window; it pads before the shift, which matches timm's order only when nothing is padded
// or nothing shifts.
static xf_status_t stage_geometry(xf_model_t* m, int64_t h, int64_t w, swin_stage_t* g) {
    const int64_t win = m->cfg.swin.window;
    g->h = h;
    g->w = w;
    if (!m->cfg.swin.hf) {
        g->wh = h <= win ? h : win;
        g->ww = w <= win ? w : win;
        g->sh = h <= g->wh ? 0 : win / 2;
        g->sw = w <= g->ww ? 0 : win / 2;
        return XF_OK;
    }
    const int64_t side = h < w ? h : w;
    g->wh = g->ww = side <= win ? side : win;
    g->sh = g->sw = side <= win ? 0 : win / 2;
    if (g->wh != win)
        return xf_ctx_fail(m->ctx, XF_ERR_INVALID_ARGUMENT,
                           "input %lldx%lld: a %lldx%lld stage grid is smaller than the %lld-token window, which "
                           "transformers' Swin cannot run either",
                           (long long)m->info.input_height, (long long)m->info.input_width, (long long)h,
                           (long long)w, (long long)win);
    if (g->sh && (h % win || w % win))
        return xf_ctx_fail(m->ctx, XF_ERR_UNIMPLEMENTED,
                           "input %lldx%lld: transformers' Swin pads the %lldx%lld stage grid before shifting its "
                           "windows, which is not supported; use an input whose stage grids are multiples of %lld",
                           (long long)m->info.input_height, (long long)m->info.input_width, (long long)h,
                           (long long)w, (long long)win);
    return XF_OK;
}

// Tensor names of one layout; blocks are "<block><name>" with <block> from |block| (stage, index).
typedef struct swin_names_s {
    const char *patch_proj, *patch_norm, *block, *norm1, *table, *index, *qkv, *q, *k, *v, *proj, *norm2, *fc1, *fc2,
        *final_norm, *head;
    const char* downsample;  // "%d": the stage it leads into (timm) or the stage it ends (transformers)
    int downsample_stage;    // 0: the stage it leads into; -1: the one before
} swin_names_t;

static const swin_names_t timm_names = {
    "patch_embed.proj.", "patch_embed.norm.", "layers.%d.blocks.%d.", "norm1.", "attn.relative_position_bias_table",
    "attn.relative_position_index", "attn.qkv.", NULL, NULL, NULL, "attn.proj.", "norm2.", "mlp.fc1.", "mlp.fc2.",
    "norm.", "head.fc.", "layers.%d.downsample.", 0};

static const swin_names_t hf_names = {
    "swin.embeddings.patch_embeddings.projection.", "swin.embeddings.norm.", "swin.encoder.layers.%d.blocks.%d.",
    "layernorm_before.", "attention.self.relative_position_bias_table", "attention.self.relative_position_index",
    NULL, "attention.self.query.", "attention.self.key.", "attention.self.value.", "attention.output.dense.",
    "layernorm_after.", "intermediate.dense.", "output.dense.", "swin.layernorm.", "classifier.",
    "swin.encoder.layers.%d.downsample.", -1};

static xf_status_t weight(xf_model_t* m, const char* prefix, const char* name, int ndim, int64_t s0, int64_t s1,
                          xf_tensor_t** out) {
    char full[320];
    snprintf(full, sizeof full, "%s%s", prefix, name);
    return xf_model_weight(m, full, ndim, (int64_t[]){s0, s1}, out);
}

static xf_status_t layernorm(xf_model_t* m, const char* prefix, int64_t dim, xf_tensor_t* x, xf_tensor_t** out) {
    xf_tensor_t *w, *b;
    CHECK(weight(m, prefix, "weight", 1, dim, 0, &w));
    CHECK(weight(m, prefix, "bias", 1, dim, 0, &b));
    return xf_layernorm(m->graph, x, w, b, m->cfg.swin.eps, out);
}

// x . W^T + b of the block |p|'s layer |layer| ("<p><layer>weight" [out, in] and "bias"), then |act|, plus
// |residual| when given.
static xf_status_t linear(xf_model_t* m, const char* p, const char* layer, xf_tensor_t* x, int64_t out_dim,
                          int64_t in_dim, xf_activation_t act, xf_tensor_t* residual, xf_tensor_t** out) {
    char name[256];
    xf_tensor_t *w, *b;
    snprintf(name, sizeof name, "%s%s", p, layer);
    CHECK(weight(m, name, "weight", 2, out_dim, in_dim, &w));
    CHECK(weight(m, name, "bias", 1, out_dim, 0, &b));
    xf_matmul_options_t o = {.transpose_b = true, .bias = b, .activation = act, .residual = residual};
    return xf_matmul(m->graph, x, w, &o, out);
}

// The block's relative_position_index when the file has one (transformers, older timm and the original Swin
// save it; timm 0.9 computes it, and so does the operator), checked against the table; NULL otherwise. A
// saved attn_mask is the same function of the geometry as the mask the operator computes.
static xf_status_t saved_index(xf_model_t* m, const swin_names_t* nm, const char* p, int64_t area, int64_t rows,
                               xf_tensor_t** out) {
    char name[256];
    *out = NULL;
    snprintf(name, sizeof name, "%sattn_mask", p);
    xf_st_tensor_t* mask = xf_st_find(m->file, name);
    if (mask) mask->used = 1;
    snprintf(name, sizeof name, "%s%s", p, nm->index);
    int32_t* index;
    CHECK(xf_model_index_host(m, name, 2, (int64_t[]){area, area}, &index));
    if (!index) return XF_OK;
    for (int64_t i = 0; i < area * area; i++) {
        if (index[i] < 0 || index[i] >= rows) {
            xf_status_t st = xf_ctx_fail(m->ctx, XF_ERR_INVALID_ARGUMENT,
                                         "%s: tensor '%s' holds %d at %lld, outside the %lld rows of the bias table",
                                         m->path, name, index[i], (long long)i, (long long)rows);
            xf_free(index);
            return st;
        }
    }
    xf_status_t st = xf_model_constant_upload(m, name, XF_DTYPE_I32, 2, (int64_t[]){area, area}, index, out);
    xf_free(index);
    return st;
}

// transformers' separate query, key and value projections of block |p| as one [3C, C] weight and [3C] bias
// (|b| NULL without biases), so the attention reads one qkv grid.
static xf_status_t joined_qkv(xf_model_t* m, const swin_names_t* nm, const char* p, int64_t c, xf_tensor_t** w,
                              xf_tensor_t** b) {
    const char* parts[3] = {nm->q, nm->k, nm->v};
    float* wj = xf_malloc((size_t)(3 * c * c) * sizeof(float));
    float* bj = xf_malloc((size_t)(3 * c) * sizeof(float));
    xf_status_t st = wj && bj ? XF_OK : xf_ctx_fail(m->ctx, XF_ERR_OUT_OF_MEMORY, "out of host memory");
    char name[256];
    for (int i = 0; st == XF_OK && i < 3; i++) {
        float* t = NULL;
        snprintf(name, sizeof name, "%s%sweight", p, parts[i]);
        st = xf_model_weight_host(m, name, 2, (int64_t[]){c, c}, &t);
        if (st == XF_OK) memcpy(wj + i * c * c, t, (size_t)(c * c) * sizeof(float));
        xf_free(t);
        t = NULL;
        snprintf(name, sizeof name, "%s%sbias", p, parts[i]);
        if (st == XF_OK && b) st = xf_model_weight_host(m, name, 1, (int64_t[]){c}, &t);
        if (st == XF_OK && b) memcpy(bj + i * c, t, (size_t)c * sizeof(float));
        xf_free(t);
    }
    if (st == XF_OK) {
        snprintf(name, sizeof name, "%sattention.self.qkv.weight", p);
        st = xf_model_weight_upload(m, name, 2, (int64_t[]){3 * c, c}, wj, w);
    }
    if (st == XF_OK && b) {
        snprintf(name, sizeof name, "%sattention.self.qkv.bias", p);
        st = xf_model_weight_upload(m, name, 1, (int64_t[]){3 * c}, bj, b);
    }
    xf_free(wj);
    xf_free(bj);
    return st;
}

// One Swin block on x [B, H, W, C]: x + proj(W-MSA/SW-MSA(qkv(norm1(x)))), then + MLP(norm2(·)).
static xf_status_t swin_block(xf_model_t* m, const swin_names_t* nm, const char* p, xf_tensor_t* x, int64_t c,
                              int64_t heads, const swin_stage_t* s, bool shifted, xf_tensor_t** out) {
    xf_graph_t* g = m->graph;
    const int64_t hidden = (int64_t)((double)c * m->cfg.swin.mlp_ratio);
    const int64_t area = s->wh * s->ww, rows = (2 * s->wh - 1) * (2 * s->ww - 1);
    const bool padded = s->h % s->wh || s->w % s->ww;
    char name[256];
    xf_tensor_t *h, *w, *b, *qkv, *table, *index, *o;
    snprintf(name, sizeof name, "%s%s", p, nm->norm1);
    CHECK(layernorm(m, name, c, x, &h));
    b = NULL;
    if (nm->qkv) {
        snprintf(name, sizeof name, "%s%s", p, nm->qkv);
        CHECK(weight(m, name, "weight", 2, 3 * c, c, &w));
        if (m->cfg.swin.qkv_bias) CHECK(weight(m, name, "bias", 1, 3 * c, 0, &b));
    } else {
        CHECK(joined_qkv(m, nm, p, c, &w, m->cfg.swin.qkv_bias ? &b : NULL));
    }
    CHECK(xf_linear(g, h, w, b, &qkv));
    CHECK(weight(m, p, nm->table, 2, rows, heads, &table));
    CHECK(saved_index(m, nm, p, area, rows, &index));
    // Padding tokens are zeros after norm1, so their qkv is the projection's bias.
    xf_window_attention_params_t wa = {.window = {(int)s->wh, (int)s->ww},
                                       .shift = {shifted ? (int)s->sh : 0, shifted ? (int)s->sw : 0},
                                       .heads = (int)heads,
                                       .mask_value = SWIN_MASKED};
    CHECK(xf_window_attention(g, qkv, table, index, padded ? b : NULL, &wa, &o));
    CHECK(linear(m, p, nm->proj, o, c, c, XF_ACT_NONE, x, &x));
    snprintf(name, sizeof name, "%s%s", p, nm->norm2);
    CHECK(layernorm(m, name, c, x, &h));
    CHECK(linear(m, p, nm->fc1, h, hidden, c, XF_ACT_GELU, NULL, &h));
    return linear(m, p, nm->fc2, h, c, hidden, XF_ACT_NONE, x, out);
}

// timm's PatchMerging: [B, H, W, C] -> 2x2 neighbourhoods [B, H/2, W/2, 4C] -> LayerNorm -> Linear(4C, 2C),
// no bias. The neighbourhood is gathered as (row offset, column offset, channel) with 4-D views; timm
// orders it (column offset, row offset, channel), so the norm and reduction weights are permuted to match at
// load.
static xf_status_t merge(xf_model_t* m, const char* p, xf_tensor_t* x, int64_t h, int64_t w, int64_t c,
                         xf_tensor_t** out) {
    xf_graph_t* g = m->graph;
    const int64_t batch = m->info.batch, c4 = 4 * c;
    xf_tensor_t* t;
    CHECK(xf_reshape(g, x, 4, (int64_t[]){batch * h / 2, 2, w / 2, 2 * c}, &t));
    CHECK(xf_permute(g, t, (int[]){0, 2, 1, 3}, &t));
    CHECK(xf_reshape(g, t, 4, (int64_t[]){batch, h / 2, w / 2, c4}, &t));
    // Column |k| of the gathered order (i, j, ch) is column (j, i, ch) of timm's.
    int64_t* from = xf_malloc((size_t)c4 * sizeof(int64_t));
    float *nw = NULL, *nb = NULL, *rw = NULL, *tmp = xf_malloc((size_t)(2 * c * c4) * sizeof(float));
    char name[256];
    xf_status_t st = from && tmp ? XF_OK : xf_ctx_fail(m->ctx, XF_ERR_OUT_OF_MEMORY, "out of host memory");
    for (int64_t i = 0; st == XF_OK && i < 2; i++)
        for (int64_t j = 0; j < 2; j++)
            for (int64_t ch = 0; ch < c; ch++) from[(i * 2 + j) * c + ch] = (j * 2 + i) * c + ch;
    if (st == XF_OK) {
        snprintf(name, sizeof name, "%snorm.weight", p);
        st = xf_model_weight_host(m, name, 1, (int64_t[]){c4}, &nw);
    }
    if (st == XF_OK) {
        snprintf(name, sizeof name, "%snorm.bias", p);
        st = xf_model_weight_host(m, name, 1, (int64_t[]){c4}, &nb);
    }
    if (st == XF_OK) {
        snprintf(name, sizeof name, "%sreduction.weight", p);
        st = xf_model_weight_host(m, name, 2, (int64_t[]){2 * c, c4}, &rw);
    }
    xf_tensor_t *tnw = NULL, *tnb = NULL, *trw = NULL;
    if (st == XF_OK) {
        for (int64_t k = 0; k < c4; k++) tmp[k] = nw[from[k]];
        snprintf(name, sizeof name, "%snorm.weight", p);
        st = xf_model_weight_upload(m, name, 1, (int64_t[]){c4}, tmp, &tnw);
    }
    if (st == XF_OK) {
        for (int64_t k = 0; k < c4; k++) tmp[k] = nb[from[k]];
        snprintf(name, sizeof name, "%snorm.bias", p);
        st = xf_model_weight_upload(m, name, 1, (int64_t[]){c4}, tmp, &tnb);
    }
    if (st == XF_OK) {
        for (int64_t r = 0; r < 2 * c; r++)
            for (int64_t k = 0; k < c4; k++) tmp[r * c4 + k] = rw[r * c4 + from[k]];
        snprintf(name, sizeof name, "%sreduction.weight", p);
        st = xf_model_weight_upload(m, name, 2, (int64_t[]){2 * c, c4}, tmp, &trw);
    }
    xf_free(from);
    xf_free(tmp);
    xf_free(nw);
    xf_free(nb);
    xf_free(rw);
    if (st != XF_OK) return st;
    CHECK(xf_layernorm(g, t, tnw, tnb, m->cfg.swin.eps, &t));
    return xf_linear(g, t, trw, NULL, out);
}

xf_status_t xf_model_build_swin(xf_model_t* m) {
    const xf_swin_config_t* s = &m->cfg.swin;
    const int64_t batch = m->info.batch, p = s->patch, c0 = s->dim;
    const int64_t H = m->info.input_height, W = m->info.input_width;
    int64_t h = H / p, w = W / p;
    if (h < 1 || w < 1 || H % p || W % p)
        return xf_ctx_fail(m->ctx, XF_ERR_INVALID_ARGUMENT,
                           "input %lldx%lld is not a multiple of the %lld-pixel patch (timm's Swin refuses it too)",
                           (long long)H, (long long)W, (long long)p);
    for (int i = 1; i < s->stages; i++) {
        if ((h >> (i - 1)) % 2 || (w >> (i - 1)) % 2)
            return xf_ctx_fail(m->ctx, XF_ERR_INVALID_ARGUMENT,
                               "input %lldx%lld: stage %d's %lldx%lld grid is odd, and patch merging needs it even",
                               (long long)H, (long long)W, i, (long long)(h >> (i - 1)), (long long)(w >> (i - 1)));
    }
    const swin_names_t* nm = s->hf ? &hf_names : &timm_names;
    char name[128];
    xf_tensor_t *pw, *pb, *x;
    snprintf(name, sizeof name, "%sweight", nm->patch_proj);
    CHECK(xf_model_weight(m, name, 4, (int64_t[]){c0, s->in_chans, p, p}, &pw));
    snprintf(name, sizeof name, "%sbias", nm->patch_proj);
    CHECK(xf_model_weight(m, name, 1, (int64_t[]){c0}, &pb));
    CHECK(xf_graph_create(m->ctx, &m->graph));
    xf_graph_t* g = m->graph;
    CHECK(xf_graph_input(g, "pixels", XF_DTYPE_F32, 4, (int64_t[]){batch, s->in_chans, H, W}, &m->input));
    xf_conv2d_params_t cp = {.stride = {(int)p, (int)p}};
    CHECK(xf_conv2d(g, m->input, pw, pb, &cp, &x));
    CHECK(xf_permute(g, x, (int[]){0, 2, 3, 1}, &x));
    CHECK(layernorm(m, nm->patch_norm, c0, x, &x));
    int64_t c = c0;
    for (int i = 0; i < s->stages; i++) {
        if (i > 0) {
            snprintf(name, sizeof name, nm->downsample, i + nm->downsample_stage);
            CHECK(merge(m, name, x, h, w, c, &x));
            h /= 2;
            w /= 2;
            c *= 2;
        }
        swin_stage_t geo = {0};
        CHECK(stage_geometry(m, h, w, &geo));
        for (int j = 0; j < s->depths[i]; j++) {
            snprintf(name, sizeof name, nm->block, i, j);
            const bool shifted = (j % 2) == 1 && (geo.sh > 0 || geo.sw > 0);
            CHECK(swin_block(m, nm, name, x, c, s->heads[i], &geo, shifted, &x));
        }
    }
    CHECK(layernorm(m, nm->final_norm, c, x, &x));
    CHECK(xf_reshape(g, x, 3, (int64_t[]){batch, h * w, c}, &x));
    CHECK(xf_mean(g, x, 1, true, &x));
    xf_tensor_t *hw, *hb, *logits;
    snprintf(name, sizeof name, "%sweight", nm->head);
    CHECK(xf_model_weight(m, name, 2, (int64_t[]){s->classes, c}, &hw));
    snprintf(name, sizeof name, "%sbias", nm->head);
    CHECK(xf_model_weight(m, name, 1, (int64_t[]){s->classes}, &hb));
    CHECK(xf_linear(g, x, hw, hb, &logits));
    CHECK(xf_graph_mark_output(g, logits));
    m->output = logits;
    m->info.classes = s->classes;
    m->info.output_height = m->info.output_width = 1;
    return XF_OK;
}
