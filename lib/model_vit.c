// SPDX-License-Identifier: MIT
// ViT / DeiT image classifiers with timm tensor names.
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model_internal.h"

// Tensor names of a ViT: timm's, or Hugging Face's under "vit." / "deit.".
typedef struct vit_names_s {
    char patch[64], cls[64], dist[64], pos[64], norm[64], head[64], head_dist[64], pooler[64];
    char block[64];  // printf format of a block's prefix, with its index
    xf_block_names_t b;
} vit_names_t;

static const xf_block_names_t hf_block_names = {
    .norm1 = "layernorm_before",
    .qkv = "",
    .q = "attention.attention.query",
    .k = "attention.attention.key",
    .v = "attention.attention.value",
    .proj = "attention.output.dense",
    .norm2 = "layernorm_after",
    .fc1 = "intermediate.dense",
    .fc2 = "output.dense",
};

static void vit_names(const xf_vit_config_t* v, vit_names_t* n) {
    const char* p = v->hf;
    if (!p) {
        *n = (vit_names_t){"patch_embed.proj", "cls_token", "dist_token", "pos_embed", "norm",
                           "head",             "head_dist", "",           "blocks.%d.",  xf_block_timm_names};
        return;
    }
    snprintf(n->patch, sizeof n->patch, "%sembeddings.patch_embeddings.projection", p);
    snprintf(n->cls, sizeof n->cls, "%sembeddings.cls_token", p);
    snprintf(n->dist, sizeof n->dist, "%sembeddings.distillation_token", p);
    snprintf(n->pos, sizeof n->pos, "%sembeddings.position_embeddings", p);
    snprintf(n->norm, sizeof n->norm, "%slayernorm", p);
    snprintf(n->head, sizeof n->head, "%s", v->dist_head ? "cls_classifier" : "classifier");
    snprintf(n->head_dist, sizeof n->head_dist, "distillation_classifier");
    snprintf(n->pooler, sizeof n->pooler, "%spooler.dense", p);
    snprintf(n->block, sizeof n->block, "%sencoder.layer.%%d.", p);
    n->b = hf_block_names;
}

// PyTorch's antialiased cubic filter (the one PIL uses, a = -0.5).
static double aa_cubic(double x) {
    const double a = -0.5;
    if (x < 0) x = -x;
    if (x < 1) return ((a + 2) * x - (a + 3)) * x * x + 1;
    if (x < 2) return (((x - 5) * x + 8) * x - 4) * a;
    return 0;
}

// Weights of one output position along one axis, normalised to sum 1, as PyTorch's
// _upsample_bicubic2d_aa computes them.
static int aa_weights(int64_t out_i, int64_t in_size, int64_t out_size, int64_t* xmin, double* w, int cap) {
    double scale = (double)in_size / (double)out_size;
    double support = scale >= 1 ? 2.0 * scale : 2.0;
    double center = scale * ((double)out_i + 0.5);
    double invscale = scale >= 1 ? 1.0 / scale : 1.0;
    int64_t lo = (int64_t)(center - support + 0.5);
    if (lo < 0) lo = 0;
    int64_t hi = (int64_t)(center + support + 0.5);
    if (hi > in_size) hi = in_size;
    int n = (int)(hi - lo);
    if (n > cap) n = cap;
    double total = 0;
    for (int j = 0; j < n; j++) {
        w[j] = aa_cubic(((double)(j + lo) - center + 0.5) * invscale);
        total += w[j];
    }
    for (int j = 0; j < n && total != 0; j++) w[j] /= total;
    *xmin = lo;
    return n;
}

void xf_model_resample_bicubic_aa(const float* src, int64_t gh0, int64_t gw0, int64_t c, float* dst,
                                  int64_t gh, int64_t gw) {
    // Separable: rows first into a [gh, gw0, c] temporary, then columns.
    int cap_h = (int)(4 * (gh0 > gh ? (gh0 + gh - 1) / gh : 1) + 4);
    int cap_w = (int)(4 * (gw0 > gw ? (gw0 + gw - 1) / gw : 1) + 4);
    double* wh = xf_malloc((size_t)cap_h * sizeof(double));
    double* ww = xf_malloc((size_t)cap_w * sizeof(double));
    double* tmp = xf_calloc((size_t)(gh * gw0 * c), sizeof(double));
    if (!wh || !ww || !tmp) {
        xf_free(wh);
        xf_free(ww);
        xf_free(tmp);
        memset(dst, 0, (size_t)(gh * gw * c) * sizeof(float));
        return;
    }
    for (int64_t y = 0; y < gh; y++) {
        int64_t lo;
        int n = aa_weights(y, gh0, gh, &lo, wh, cap_h);
        for (int j = 0; j < n; j++)
            for (int64_t x = 0; x < gw0; x++)
                for (int64_t k = 0; k < c; k++)
                    tmp[(y * gw0 + x) * c + k] += wh[j] * src[((lo + j) * gw0 + x) * c + k];
    }
    for (int64_t x = 0; x < gw; x++) {
        int64_t lo;
        int n = aa_weights(x, gw0, gw, &lo, ww, cap_w);
        for (int64_t y = 0; y < gh; y++)
            for (int64_t k = 0; k < c; k++) {
                double acc = 0;
                for (int j = 0; j < n; j++) acc += ww[j] * tmp[(y * gw0 + lo + j) * c + k];
                dst[(y * gw + x) * c + k] = (float)acc;
            }
    }
    xf_free(wh);
    xf_free(ww);
    xf_free(tmp);
}

// PyTorch's cubic convolution (A = -0.75), as F.interpolate(mode="bicubic", antialias=False) weights it.
static void cubic_weights(double t, double w[4]) {
    const double a = -0.75;
    double x = t + 1;
    w[0] = ((a * x - 5 * a) * x + 8 * a) * x - 4 * a;
    w[1] = ((a + 2) * t - (a + 3)) * t * t + 1;
    x = 1 - t;
    w[2] = ((a + 2) * x - (a + 3)) * x * x + 1;
    x = 2 - t;
    w[3] = ((a * x - 5 * a) * x + 8 * a) * x - 4 * a;
}

// Hugging Face's interpolate_pos_encoding: F.interpolate(mode="bicubic", align_corners=False) of the
// [g0, g0, C] grid with scale factors (gh + 0.1) / g0 and (gw + 0.1) / g0, no antialiasing, edges clamped.
static void resample_bicubic_hf(const float* src, int64_t g0, int64_t c, float* dst, int64_t gh, int64_t gw) {
    const double sy = (double)g0 / ((double)gh + 0.1), sx = (double)g0 / ((double)gw + 0.1);
    for (int64_t y = 0; y < gh; y++) {
        const double ry = sy * ((double)y + 0.5) - 0.5;
        const int64_t iy = (int64_t)floor(ry);
        double wy[4];
        cubic_weights(ry - (double)iy, wy);
        for (int64_t x = 0; x < gw; x++) {
            const double rx = sx * ((double)x + 0.5) - 0.5;
            const int64_t ix = (int64_t)floor(rx);
            double wx[4];
            cubic_weights(rx - (double)ix, wx);
            for (int64_t k = 0; k < c; k++) {
                double acc = 0;
                for (int i = 0; i < 4; i++) {
                    int64_t yy = iy - 1 + i;
                    yy = yy < 0 ? 0 : yy >= g0 ? g0 - 1 : yy;
                    double row = 0;
                    for (int j = 0; j < 4; j++) {
                        int64_t xx = ix - 1 + j;
                        xx = xx < 0 ? 0 : xx >= g0 ? g0 - 1 : xx;
                        row += wx[j] * src[(yy * g0 + xx) * c + k];
                    }
                    acc += wy[i] * row;
                }
                dst[(y * gw + x) * c + k] = (float)acc;
            }
        }
    }
}

// pos_embed covers the prefix tokens too, unless no_embed_class.
static xf_status_t vit_pos_embed(xf_model_t* m, const char* name, int64_t gh, int64_t gw, xf_tensor_t** out) {
    const xf_vit_config_t* v = &m->cfg.vit;
    const int64_t gh0 = v->img_h / v->patch, gw0 = v->img_w / v->patch;
    const int64_t prefix = v->no_embed_class ? 0 : xf_vit_prefix_tokens(v);
    int64_t shape0[3] = {1, prefix + gh0 * gw0, v->dim};
    if (gh == gh0 && gw == gw0) return xf_model_weight(m, name, 3, shape0, out);
    // Hugging Face's interpolate_pos_encoding starts from a square grid.
    if (v->hf && gh0 != gw0)
        return xf_ctx_fail(m->ctx, XF_ERR_UNIMPLEMENTED,
                           "%s: a Hugging Face ViT with a %lldx%lld patch grid runs only at its config's image_size",
                           m->path, (long long)gh0, (long long)gw0);
    float* src;
    xf_status_t st = xf_model_weight_host(m, name, 3, shape0, &src);
    if (st != XF_OK) return st;
    int64_t shape[3] = {1, prefix + gh * gw, v->dim};
    float* dst = xf_malloc((size_t)(shape[1] * v->dim) * sizeof(float));
    if (!dst) {
        xf_free(src);
        return xf_ctx_fail(m->ctx, XF_ERR_OUT_OF_MEMORY, "out of host memory");
    }
    memcpy(dst, src, (size_t)(prefix * v->dim) * sizeof(float));
    if (v->hf)
        resample_bicubic_hf(src + prefix * v->dim, gh0, v->dim, dst + prefix * v->dim, gh, gw);
    else
        xf_model_resample_bicubic_aa(src + prefix * v->dim, gh0, gw0, v->dim, dst + prefix * v->dim, gh, gw);
    xf_log(m->ctx, XF_LOG_INFO, "%s resampled from a %lldx%lld to a %lldx%lld grid (%s)", name, (long long)gh0,
           (long long)gw0, (long long)gh, (long long)gw,
           v->hf ? "Hugging Face's interpolate_pos_encoding" : "timm's resample_abs_pos_embed");
    st = xf_model_weight_upload(m, name, 3, shape, dst, out);
    xf_free(src);
    xf_free(dst);
    return st;
}

// The patch embedding (a |p| x |p| convolution of stride |p|) as a linear layer over flattened patches, for an
// int8 weight |w| [dim, c * p * p]: [B, c, H, W] -> [B, gh * gw, dim], the tokens in the convolution's order.
static xf_status_t vit_patch_linear(xf_graph_t* g, xf_tensor_t* img, xf_tensor_t* w, xf_tensor_t* b, int64_t p,
                                    int64_t gh, int64_t gw, xf_tensor_t** out) {
    int64_t batch = xf_tensor_dim(img, 0), c = xf_tensor_dim(img, 1);
    xf_tensor_t* x = img;
    xf_status_t st = XF_OK;
    // Rows and columns past the last whole patch, which the convolution leaves out.
    if (xf_tensor_dim(x, 2) != gh * p) st = xf_slice(g, x, 2, 0, gh * p, &x);
    if (st == XF_OK && xf_tensor_dim(x, 3) != gw * p) st = xf_slice(g, x, 3, 0, gw * p, &x);
    if (st == XF_OK) st = xf_reshape(g, x, 4, (int64_t[]){batch * c * gh, p, gw, p}, &x);
    if (st == XF_OK) st = xf_permute(g, x, (const int[]){0, 2, 1, 3}, &x);
    if (st == XF_OK) st = xf_reshape(g, x, 4, (int64_t[]){batch, c, gh * gw, p * p}, &x);
    if (st == XF_OK) st = xf_permute(g, x, (const int[]){0, 2, 1, 3}, &x);
    if (st == XF_OK) st = xf_reshape(g, x, 3, (int64_t[]){batch, gh * gw, c * p * p}, &x);
    if (st == XF_OK) st = xf_linear(g, x, w, b, out);
    return st;
}

// Uploads blocks.|i|.|layer| ([out, in] weight, optional [out] bias) with LayerScale's
// blocks.|i|.|gamma| [out] folded in: gamma * (W x + b) is (gamma W) x + gamma b.
static xf_status_t vit_scaled_linear(xf_model_t* m, int i, const char* layer, const char* gamma, int64_t rows,
                                     int64_t cols, bool bias) {
    char gname[128], wname[128], bname[128];
    snprintf(gname, sizeof gname, "blocks.%d.%s.gamma", i, gamma);
    snprintf(wname, sizeof wname, "blocks.%d.%s.weight", i, layer);
    snprintf(bname, sizeof bname, "blocks.%d.%s.bias", i, layer);
    float *g = NULL, *w = NULL, *b = NULL;
    xf_status_t st = xf_model_weight_host(m, gname, 1, (int64_t[]){rows}, &g);
    if (st == XF_OK) st = xf_model_weight_host(m, wname, 2, (int64_t[]){rows, cols}, &w);
    if (st == XF_OK && bias) st = xf_model_weight_host(m, bname, 1, (int64_t[]){rows}, &b);
    if (st == XF_OK) {
        for (int64_t r = 0; r < rows; r++) {
            for (int64_t k = 0; k < cols; k++) w[r * cols + k] *= g[r];
            if (b) b[r] *= g[r];
        }
        st = xf_model_weight_upload(m, wname, 2, (int64_t[]){rows, cols}, w, NULL);
    }
    if (st == XF_OK && b) st = xf_model_weight_upload(m, bname, 1, (int64_t[]){rows}, b, NULL);
    xf_free(g);
    xf_free(w);
    xf_free(b);
    return st;
}

static xf_status_t vit_block_weights(xf_model_t* m, const vit_names_t* n, int i) {
    const xf_vit_config_t* v = &m->cfg.vit;
    const xf_block_names_t* b = &n->b;
    const int64_t d = v->dim, hid = v->mlp_hidden, hd = v->dim / v->heads;
    const bool ls = v->layer_scale, fused = b->qkv[0] != '\0';
    struct {
        const char *layer, *suffix;
        int ndim;
        int64_t s0, s1;
        bool present;
    } w[] = {
        {b->norm1, "weight", 1, d, 0, true},
        {b->norm1, "bias", 1, d, 0, true},
        {b->qkv, "weight", 2, 3 * d, d, fused},
        {b->qkv, "bias", 1, 3 * d, 0, fused && v->qkv_bias},
        {b->q, "weight", 2, d, d, !fused},
        {b->q, "bias", 1, d, 0, !fused && v->qkv_bias},
        {b->k, "weight", 2, d, d, !fused},
        {b->k, "bias", 1, d, 0, !fused && v->qkv_bias},
        {b->v, "weight", 2, d, d, !fused},
        {b->v, "bias", 1, d, 0, !fused && v->qkv_bias},
        {b->q_norm, "weight", 1, hd, 0, v->qk_norm},
        {b->q_norm, "bias", 1, hd, 0, v->qk_norm},
        {b->k_norm, "weight", 1, hd, 0, v->qk_norm},
        {b->k_norm, "bias", 1, hd, 0, v->qk_norm},
        {b->proj, "weight", 2, d, d, !ls},
        {b->proj, "bias", 1, d, 0, !ls},
        {b->norm2, "weight", 1, d, 0, true},
        {b->norm2, "bias", 1, d, 0, true},
        {b->fc1, "weight", 2, hid, d, true},
        {b->fc1, "bias", 1, hid, 0, true},
        {b->fc2, "weight", 2, d, hid, !ls},
        {b->fc2, "bias", 1, d, 0, !ls},
    };
    char prefix[64];
    snprintf(prefix, sizeof prefix, n->block, i);
    for (size_t k = 0; k < sizeof w / sizeof w[0]; k++) {
        if (!w[k].present) continue;
        char name[192];
        snprintf(name, sizeof name, "%s%s.%s", prefix, w[k].layer, w[k].suffix);
        int64_t shape[2] = {w[k].s0, w[k].s1};
        xf_status_t st = xf_model_weight(m, name, w[k].ndim, shape, NULL);
        if (st != XF_OK) return st;
    }
    if (!ls) return XF_OK;
    xf_status_t st = vit_scaled_linear(m, i, "attn.proj", "ls1", d, d, true);
    return st == XF_OK ? vit_scaled_linear(m, i, "mlp.fc2", "ls2", d, hid, true) : st;
}

// A prefix-token weight [1, n, C] (class, distillation, register tokens), repeated for every image of
// the batch: [batch, n, C] under the same name.
static xf_status_t vit_tokens(xf_model_t* m, const char* name, int64_t n, xf_tensor_t** out) {
    const int64_t d = m->cfg.vit.dim, batch = m->info.batch;
    int64_t shape[3] = {1, n, d};
    if (batch == 1) return xf_model_weight(m, name, 3, shape, out);
    float* one;
    xf_status_t st = xf_model_weight_host(m, name, 3, shape, &one);
    if (st != XF_OK) return st;
    float* all = xf_malloc((size_t)(batch * n * d) * sizeof(float));
    if (!all) {
        xf_free(one);
        return xf_ctx_fail(m->ctx, XF_ERR_OUT_OF_MEMORY, "out of host memory");
    }
    for (int64_t b = 0; b < batch; b++) memcpy(all + b * n * d, one, (size_t)(n * d) * sizeof(float));
    shape[0] = batch;
    st = xf_model_weight_upload(m, name, 3, shape, all, out);
    if (st == XF_OK) m->info.parameters -= (batch - 1) * n * d;
    xf_free(one);
    xf_free(all);
    return st;
}

static xf_status_t vit_norm(xf_model_t* m, const char* name, xf_tensor_t* x, xf_tensor_t** out) {
    const int64_t s1[1] = {m->cfg.vit.dim};
    char wn[64], bn[64];
    snprintf(wn, sizeof wn, "%s.weight", name);
    snprintf(bn, sizeof bn, "%s.bias", name);
    xf_tensor_t *w, *b;
    xf_status_t st = xf_model_weight(m, wn, 1, s1, &w);
    if (st == XF_OK) st = xf_model_weight(m, bn, 1, s1, &b);
    return st == XF_OK ? xf_layernorm(m->graph, x, w, b, m->cfg.vit.eps, out) : st;
}

xf_status_t xf_model_build_vit(xf_model_t* m) {
    const xf_vit_config_t* v = &m->cfg.vit;
    const int64_t d = v->dim, p = v->patch, c = v->in_chans;
    const int64_t h = m->info.input_height, w = m->info.input_width;
    const int64_t gh = h / p, gw = w / p;
    if (gh < 1 || gw < 1)
        return xf_ctx_fail(m->ctx, XF_ERR_INVALID_ARGUMENT,
                           "input %lldx%lld is smaller than the %lld-pixel patch", (long long)h, (long long)w,
                           (long long)p);
    if (v->dynamic_img_pad && (h % p || w % p))
        return xf_ctx_fail(m->ctx, XF_ERR_UNIMPLEMENTED,
                           "input %lldx%lld is not a multiple of the %lld-pixel patch and the config asks for "
                           "dynamic_img_pad (padding the image), which is not supported; choose a multiple",
                           (long long)h, (long long)w, (long long)p);
    const int64_t prefix = xf_vit_prefix_tokens(v);
    vit_names_t n;
    vit_names(v, &n);
    char wn[96], bn[96];
    snprintf(wn, sizeof wn, "%s.weight", n.patch);
    snprintf(bn, sizeof bn, "%s.bias", n.patch);

    xf_tensor_t *pw, *pb = NULL, *cls = NULL, *dist = NULL, *reg = NULL, *pos, *hw, *hb, *hdw = NULL, *hdb = NULL;
    xf_status_t st;
    const int64_t batch = m->info.batch;
    int64_t s4[4] = {d, c, p, p}, s1[1] = {d}, sh[2] = {v->classes, d}, shb[1] = {v->classes};
    if ((st = xf_model_patch_linear_weight(m, wn, s4, &pw)) != XF_OK) return st;
    if (!pw && (st = xf_model_weight(m, wn, 4, s4, &pw)) != XF_OK) return st;
    // timm drops the patch embedding's bias when norm_pre follows it.
    if (!v->pre_norm && (st = xf_model_weight(m, bn, 1, s1, &pb)) != XF_OK) return st;
    if (v->class_token && (st = vit_tokens(m, n.cls, 1, &cls)) != XF_OK) return st;
    if (v->distilled && (st = vit_tokens(m, n.dist, 1, &dist)) != XF_OK) return st;
    if (v->reg_tokens && (st = vit_tokens(m, "reg_token", v->reg_tokens, &reg)) != XF_OK) return st;
    if ((st = vit_pos_embed(m, n.pos, gh, gw, &pos)) != XF_OK) return st;
    for (int i = 0; i < v->depth; i++)
        if ((st = vit_block_weights(m, &n, i)) != XF_OK) return st;
    snprintf(wn, sizeof wn, "%s.weight", n.head);
    snprintf(bn, sizeof bn, "%s.bias", n.head);
    if ((st = xf_model_weight(m, wn, 2, sh, &hw)) != XF_OK) return st;
    if ((st = xf_model_weight(m, bn, 1, shb, &hb)) != XF_OK) return st;
    if (v->dist_head || (v->distilled && !v->hf)) {
        snprintf(wn, sizeof wn, "%s.weight", n.head_dist);
        snprintf(bn, sizeof bn, "%s.bias", n.head_dist);
        if ((st = xf_model_weight(m, wn, 2, sh, &hdw)) != XF_OK) return st;
        if ((st = xf_model_weight(m, bn, 1, shb, &hdb)) != XF_OK) return st;
    }
    // ViTModel's pooler, which the classification heads do not use.
    for (int k = 0; k < 2 && n.pooler[0]; k++) {
        snprintf(wn, sizeof wn, "%s.%s", n.pooler, k ? "bias" : "weight");
        xf_st_tensor_t* t = xf_st_find(m->file, wn);
        if (t) t->used = 1;
    }

    if ((st = xf_graph_create(m->ctx, &m->graph)) != XF_OK) return st;
    xf_graph_t* g = m->graph;
    int64_t in_shape[4] = {batch, c, h, w};
    if ((st = xf_graph_input(g, "pixels", XF_DTYPE_F32, 4, in_shape, &m->input)) != XF_OK) return st;
    xf_tensor_t *x, *t;
    if (xf_tensor_ndim(pw) == 2) {
        if ((st = vit_patch_linear(g, m->input, pw, pb, p, gh, gw, &x)) != XF_OK) return st;
    } else {
        xf_conv2d_params_t cp = {.stride = {(int)p, (int)p}};
        if ((st = xf_conv2d(g, m->input, pw, pb, &cp, &x)) != XF_OK) return st;
        int64_t flat[3] = {batch, d, gh * gw};
        if ((st = xf_reshape(g, x, 3, flat, &x)) != XF_OK) return st;
        if ((st = xf_transpose(g, x, 1, 2, &x)) != XF_OK) return st;
    }
    // timm's _pos_embed: prefix tokens (class, distillation or registers) first.
    if (v->no_embed_class && (st = xf_add(g, x, pos, &x)) != XF_OK) return st;
    xf_tensor_t* parts[4];
    int nparts = 0;
    if (cls) parts[nparts++] = cls;
    if (dist) parts[nparts++] = dist;
    if (reg) parts[nparts++] = reg;
    parts[nparts++] = x;
    if (nparts > 1 && (st = xf_concat(g, parts, nparts, 1, &x)) != XF_OK) return st;
    if (!v->no_embed_class && (st = xf_add(g, x, pos, &x)) != XF_OK) return st;
    if (v->pre_norm && (st = vit_norm(m, "norm_pre", x, &x)) != XF_OK) return st;

    xf_block_desc_t desc;
    xf_block_desc_init(&desc, d, v->heads, v->mlp_hidden);
    desc.norm_eps = v->eps;
    desc.qkv_bias = v->qkv_bias;
    desc.qk_norm = v->qk_norm;
    desc.activation = v->act;
    desc.names = &n.b;
    for (int i = 0; i < v->depth; i++) {
        char block[64], prefix_name[96];
        snprintf(block, sizeof block, n.block, i);
        xf_model_name(m, prefix_name, sizeof prefix_name, "%s", block);
        if ((st = xf_graph_block(g, &desc, prefix_name, x, 0, 0, &x)) != XF_OK) return st;
    }
    if (!v->fc_norm && (st = vit_norm(m, n.norm, x, &x)) != XF_OK) return st;
    xf_tensor_t* pooled;
    if (v->avg_pool) {
        if ((st = xf_slice(g, x, 1, prefix, prefix + gh * gw, &t)) != XF_OK) return st;
        if ((st = xf_mean(g, t, 1, true, &pooled)) != XF_OK) return st;
    } else if ((st = xf_slice(g, x, 1, 0, 1, &pooled)) != XF_OK) {
        return st;
    }
    if (v->fc_norm && (st = vit_norm(m, "fc_norm", pooled, &pooled)) != XF_OK) return st;
    xf_tensor_t* logits;
    if ((st = xf_linear(g, pooled, hw, hb, &logits)) != XF_OK) return st;
    if (hdw) {
        xf_tensor_t* ld;
        if ((st = xf_slice(g, x, 1, 1, 2, &t)) != XF_OK) return st;
        if ((st = xf_linear(g, t, hdw, hdb, &ld)) != XF_OK) return st;
        if ((st = xf_add(g, logits, ld, &logits)) != XF_OK) return st;
        if ((st = xf_scale(g, logits, 0.5f, 0.0f, &logits)) != XF_OK) return st;
    }
    if ((st = xf_graph_mark_output(g, logits)) != XF_OK) return st;
    m->output = logits;
    m->info.classes = v->classes;
    m->info.output_height = m->info.output_width = 1;
    return XF_OK;
}
