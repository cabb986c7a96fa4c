// SPDX-License-Identifier: MIT
// Swin Transformer image classifiers with timm tensor names (timm 0.9 SwinTransformer): shifted-window
// attention built from rolls, padding, window partitions as 4-D reshapes and attention with an additive
// bias that holds the relative-position bias and, for shifted windows, the mask.
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
    int64_t h, w;       // token grid of the stage
    int64_t ws;         // window size, as timm clamps it to the grid
    int64_t sh, sw;     // shifts of odd blocks along H and W (0: none along that axis)
    int64_t hp, wp;     // the grid padded to whole windows
} swin_stage_t;

// timm's _calc_window_shift per axis: a window no larger than the grid, no shift along an axis the window
// covers. Windows stay square here; a grid that would make them oblong is refused.
static xf_status_t stage_geometry(xf_model_t* m, int64_t h, int64_t w, swin_stage_t* g) {
    const int64_t win = m->cfg.swin.window;
    const int64_t wh = h <= win ? h : win, ww = w <= win ? w : win;
    if (wh != ww)
        return xf_ctx_fail(m->ctx, XF_ERR_UNIMPLEMENTED,
                           "a %lldx%lld token grid makes timm's Swin windows %lldx%lld; only square windows are "
                           "supported",
                           (long long)h, (long long)w, (long long)wh, (long long)ww);
    g->h = h;
    g->w = w;
    g->ws = wh;
    g->sh = h <= wh ? 0 : win / 2;
    g->sw = w <= ww ? 0 : win / 2;
    g->hp = (h + g->ws - 1) / g->ws * g->ws;
    g->wp = (w + g->ws - 1) / g->ws * g->ws;
    return XF_OK;
}

// The additive attention bias of one stage's blocks: relative-position bias [heads, N, N] gathered from the
// table, plus (shifted blocks) timm's mask of token pairs from different regions, per window:
// [batch * windows or 1, heads, N, N].
static xf_status_t window_bias(xf_model_t* m, const char* table_name, int64_t heads, const swin_stage_t* g,
                               bool shifted, xf_tensor_t** out) {
    const int64_t ws = g->ws, n = ws * ws, span = 2 * ws - 1;
    const int64_t nw = shifted ? (g->hp / ws) * (g->wp / ws) : 1, copies = shifted ? m->info.batch : 1;
    float* table;
    CHECK(xf_model_weight_host(m, table_name, 2, (int64_t[]){span * span, heads}, &table));
    int32_t* region = xf_malloc((size_t)(g->hp * g->wp) * sizeof(int32_t));
    float* bias = xf_malloc((size_t)(copies * nw * heads * n * n) * sizeof(float));
    if (!region || !bias) {
        xf_free(table);
        xf_free(region);
        xf_free(bias);
        return xf_ctx_fail(m->ctx, XF_ERR_OUT_OF_MEMORY, "out of host memory");
    }
    // timm's img_mask: three bands per shifted axis, [0, -ws), [-ws, -shift), [-shift, end); one band
    // along an axis without shift (there timm's last slice covers the whole axis).
    for (int64_t y = 0; y < g->hp; y++)
        for (int64_t x = 0; x < g->wp; x++) {
            int by = !g->sh ? 0 : y < g->hp - ws ? 0 : y < g->hp - g->sh ? 1 : 2;
            int bx = !g->sw ? 0 : x < g->wp - ws ? 0 : x < g->wp - g->sw ? 1 : 2;
            region[y * g->wp + x] = by * 3 + bx;
        }
    const int64_t wn = g->wp / ws;
    for (int64_t win = 0; win < nw; win++) {
        const int64_t wy = win / wn, wx = win % wn;
        for (int64_t h = 0; h < heads; h++)
            for (int64_t i = 0; i < n; i++)
                for (int64_t j = 0; j < n; j++) {
                    const int64_t yi = i / ws, xi = i % ws, yj = j / ws, xj = j % ws;
                    // timm's relative_position_index: (dy + ws - 1) * (2 ws - 1) + (dx + ws - 1).
                    const int64_t idx = (yi - yj + ws - 1) * span + (xi - xj + ws - 1);
                    float v = table[idx * heads + h];
                    if (shifted && region[(wy * ws + yi) * g->wp + wx * ws + xi] !=
                                       region[(wy * ws + yj) * g->wp + wx * ws + xj])
                        v += SWIN_MASKED;
                    bias[((win * heads + h) * n + i) * n + j] = v;
                }
    }
    for (int64_t b = 1; b < copies; b++)
        memcpy(bias + b * nw * heads * n * n, bias, (size_t)(nw * heads * n * n) * sizeof(float));
    char name[192];
    snprintf(name, sizeof name, "%.160s.%s", table_name, shifted ? "shifted_bias" : "bias");
    xf_status_t st = xf_model_weight_upload(m, name, 4, (int64_t[]){copies * nw, heads, n, n}, bias, out);
    // A synthesised constant, not a parameter of the model.
    if (st == XF_OK) m->info.parameters -= copies * nw * heads * n * n;
    xf_free(table);
    xf_free(region);
    xf_free(bias);
    return st;
}

static xf_status_t weight(xf_model_t* m, const char* prefix, const char* name, int ndim, int64_t s0, int64_t s1,
                          xf_tensor_t** out) {
    char full[192];
    snprintf(full, sizeof full, "%s%s", prefix, name);
    return xf_model_weight(m, full, ndim, (int64_t[]){s0, s1}, out);
}

static xf_status_t layernorm(xf_model_t* m, const char* prefix, int64_t dim, xf_tensor_t* x, xf_tensor_t** out) {
    xf_tensor_t *w, *b;
    CHECK(weight(m, prefix, "weight", 1, dim, 0, &w));
    CHECK(weight(m, prefix, "bias", 1, dim, 0, &b));
    return xf_layernorm(m->graph, x, w, b, m->cfg.swin.eps, out);
}

// [B, Hp, Wp, C] -> [B * windows, ws * ws, C] (timm's window_partition), and back.
static xf_status_t partition(xf_graph_t* g, xf_tensor_t* x, int64_t batch, const swin_stage_t* s, int64_t c,
                             xf_tensor_t** out) {
    xf_tensor_t* t;
    CHECK(xf_reshape(g, x, 4, (int64_t[]){batch * s->hp / s->ws, s->ws, s->wp / s->ws, s->ws * c}, &t));
    CHECK(xf_permute(g, t, (int[]){0, 2, 1, 3}, &t));
    return xf_reshape(g, t, 3, (int64_t[]){batch * (s->hp / s->ws) * (s->wp / s->ws), s->ws * s->ws, c}, out);
}

static xf_status_t unpartition(xf_graph_t* g, xf_tensor_t* x, int64_t batch, const swin_stage_t* s, int64_t c,
                               xf_tensor_t** out) {
    xf_tensor_t* t;
    CHECK(xf_reshape(g, x, 4, (int64_t[]){batch * s->hp / s->ws, s->wp / s->ws, s->ws, s->ws * c}, &t));
    CHECK(xf_permute(g, t, (int[]){0, 2, 1, 3}, &t));
    return xf_reshape(g, t, 4, (int64_t[]){batch, s->hp, s->wp, c}, out);
}

// One Swin block on x [B, H, W, C]: x + W-MSA/SW-MSA(norm1(x)), then + MLP(norm2(·)).
static xf_status_t swin_block(xf_model_t* m, const char* p, xf_tensor_t* x, int64_t c, int64_t heads,
                              const swin_stage_t* s, bool shifted, xf_tensor_t* bias, xf_tensor_t** out) {
    xf_graph_t* g = m->graph;
    const int64_t batch = m->info.batch, n = s->ws * s->ws, hd = c / heads;
    const int64_t hidden = (int64_t)((double)c * m->cfg.swin.mlp_ratio);
    char name[192];
    xf_tensor_t *h, *w, *b, *qkv, *q, *k, *v, *o;
    snprintf(name, sizeof name, "%snorm1.", p);
    CHECK(layernorm(m, name, c, x, &h));
    if (shifted) CHECK(xf_roll(g, h, 2, (int[]){1, 2}, (int64_t[]){-s->sh, -s->sw}, &h));
    if (s->hp != s->h || s->wp != s->w)
        CHECK(xf_pad(g, h, (int64_t[]){0, 0, 0, 0}, (int64_t[]){0, s->hp - s->h, s->wp - s->w, 0}, 0.0f, &h));
    CHECK(partition(g, h, batch, s, c, &h));
    CHECK(weight(m, p, "attn.qkv.weight", 2, 3 * c, c, &w));
    b = NULL;
    if (m->cfg.swin.qkv_bias) CHECK(weight(m, p, "attn.qkv.bias", 1, 3 * c, 0, &b));
    CHECK(xf_linear(g, h, w, b, &qkv));
    const int64_t wins = xf_tensor_dim(qkv, 0);
    const int64_t stride[4] = {n * 3 * c, hd, 3 * c, 1}, shape[4] = {wins, heads, n, hd};
    CHECK(xf_graph_view(g, qkv, 4, shape, stride, 0, &q));
    CHECK(xf_graph_view(g, qkv, 4, shape, stride, c, &k));
    CHECK(xf_graph_view(g, qkv, 4, shape, stride, 2 * c, &v));
    CHECK(xf_attention(g, q, k, v, bias, 1.0f / sqrtf((float)hd), &o));
    CHECK(xf_transpose(g, o, 1, 2, &o));
    CHECK(xf_reshape(g, o, 3, (int64_t[]){wins, n, c}, &o));
    CHECK(weight(m, p, "attn.proj.weight", 2, c, c, &w));
    CHECK(weight(m, p, "attn.proj.bias", 1, c, 0, &b));
    CHECK(xf_linear(g, o, w, b, &o));
    CHECK(unpartition(g, o, batch, s, c, &o));
    if (s->hp != s->h || s->wp != s->w) {
        CHECK(xf_slice(g, o, 1, 0, s->h, &o));
        CHECK(xf_slice(g, o, 2, 0, s->w, &o));
    }
    if (shifted) CHECK(xf_roll(g, o, 2, (int[]){1, 2}, (int64_t[]){s->sh, s->sw}, &o));
    CHECK(xf_add(g, x, o, &x));
    snprintf(name, sizeof name, "%snorm2.", p);
    CHECK(layernorm(m, name, c, x, &h));
    CHECK(weight(m, p, "mlp.fc1.weight", 2, hidden, c, &w));
    CHECK(weight(m, p, "mlp.fc1.bias", 1, hidden, 0, &b));
    xf_matmul_options_t f1 = {.transpose_b = true, .bias = b, .activation = XF_ACT_GELU};
    CHECK(xf_matmul(g, h, w, &f1, &h));
    CHECK(weight(m, p, "mlp.fc2.weight", 2, c, hidden, &w));
    CHECK(weight(m, p, "mlp.fc2.bias", 1, c, 0, &b));
    xf_matmul_options_t f2 = {.transpose_b = true, .bias = b, .residual = x};
    return xf_matmul(g, h, w, &f2, out);
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
    char name[192];
    xf_status_t st = from && tmp ? XF_OK : xf_ctx_fail(m->ctx, XF_ERR_OUT_OF_MEMORY, "out of host memory");
    for (int64_t i = 0; st == XF_OK && i < 2; i++)
        for (int64_t j = 0; j < 2; j++)
            for (int64_t ch = 0; ch < c; ch++) from[(i * 2 + j) * c + ch] = (j * 2 + i) * c + ch;
    if (st == XF_OK) {
        snprintf(name, sizeof name, "%sdownsample.norm.weight", p);
        st = xf_model_weight_host(m, name, 1, (int64_t[]){c4}, &nw);
    }
    if (st == XF_OK) {
        snprintf(name, sizeof name, "%sdownsample.norm.bias", p);
        st = xf_model_weight_host(m, name, 1, (int64_t[]){c4}, &nb);
    }
    if (st == XF_OK) {
        snprintf(name, sizeof name, "%sdownsample.reduction.weight", p);
        st = xf_model_weight_host(m, name, 2, (int64_t[]){2 * c, c4}, &rw);
    }
    xf_tensor_t *tnw = NULL, *tnb = NULL, *trw = NULL;
    if (st == XF_OK) {
        for (int64_t k = 0; k < c4; k++) tmp[k] = nw[from[k]];
        snprintf(name, sizeof name, "%sdownsample.norm.weight", p);
        st = xf_model_weight_upload(m, name, 1, (int64_t[]){c4}, tmp, &tnw);
    }
    if (st == XF_OK) {
        for (int64_t k = 0; k < c4; k++) tmp[k] = nb[from[k]];
        snprintf(name, sizeof name, "%sdownsample.norm.bias", p);
        st = xf_model_weight_upload(m, name, 1, (int64_t[]){c4}, tmp, &tnb);
    }
    if (st == XF_OK) {
        for (int64_t r = 0; r < 2 * c; r++)
            for (int64_t k = 0; k < c4; k++) tmp[r * c4 + k] = rw[r * c4 + from[k]];
        snprintf(name, sizeof name, "%sdownsample.reduction.weight", p);
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
    xf_tensor_t *pw, *pb, *x;
    CHECK(xf_model_weight(m, "patch_embed.proj.weight", 4, (int64_t[]){c0, s->in_chans, p, p}, &pw));
    CHECK(xf_model_weight(m, "patch_embed.proj.bias", 1, (int64_t[]){c0}, &pb));
    CHECK(xf_graph_create(m->ctx, &m->graph));
    xf_graph_t* g = m->graph;
    CHECK(xf_graph_input(g, "pixels", XF_DTYPE_F32, 4, (int64_t[]){batch, s->in_chans, H, W}, &m->input));
    xf_conv2d_params_t cp = {.stride = {(int)p, (int)p}};
    CHECK(xf_conv2d(g, m->input, pw, pb, &cp, &x));
    CHECK(xf_permute(g, x, (int[]){0, 2, 3, 1}, &x));
    CHECK(layernorm(m, "patch_embed.norm.", c0, x, &x));
    int64_t c = c0;
    for (int i = 0; i < s->stages; i++) {
        char prefix[64];
        snprintf(prefix, sizeof prefix, "layers.%d.", i);
        if (i > 0) {
            CHECK(merge(m, prefix, x, h, w, c, &x));
            h /= 2;
            w /= 2;
            c *= 2;
        }
        swin_stage_t geo = {0};
        CHECK(stage_geometry(m, h, w, &geo));
        for (int j = 0; j < s->depths[i]; j++) {
            char block[96], table[160];
            snprintf(block, sizeof block, "%sblocks.%d.", prefix, j);
            snprintf(table, sizeof table, "%sattn.relative_position_bias_table", block);
            const bool shifted = (j % 2) == 1 && (geo.sh > 0 || geo.sw > 0);
            xf_tensor_t* bias;
            CHECK(window_bias(m, table, s->heads[i], &geo, shifted, &bias));
            CHECK(swin_block(m, block, x, c, s->heads[i], &geo, shifted, bias, &x));
        }
    }
    CHECK(layernorm(m, "norm.", c, x, &x));
    CHECK(xf_reshape(g, x, 3, (int64_t[]){batch, h * w, c}, &x));
    CHECK(xf_mean(g, x, 1, true, &x));
    xf_tensor_t *hw, *hb, *logits;
    CHECK(xf_model_weight(m, "head.fc.weight", 2, (int64_t[]){s->classes, c}, &hw));
    CHECK(xf_model_weight(m, "head.fc.bias", 1, (int64_t[]){s->classes}, &hb));
    CHECK(xf_linear(g, x, hw, hb, &logits));
    CHECK(xf_graph_mark_output(g, logits));
    m->output = logits;
    m->info.classes = s->classes;
    m->info.output_height = m->info.output_width = 1;
    return XF_OK;
}
