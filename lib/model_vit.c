// SPDX-License-Identifier: MIT
// ViT / DeiT image classifiers with timm tensor names.
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model_internal.h"

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

static xf_status_t vit_pos_embed(xf_model_t* m, int64_t prefix_tokens, int64_t gh, int64_t gw,
                                 xf_tensor_t** out) {
    const xf_vit_config_t* v = &m->cfg.vit;
    const int64_t gh0 = v->img_h / v->patch, gw0 = v->img_w / v->patch;
    int64_t shape0[3] = {1, prefix_tokens + gh0 * gw0, v->dim};
    if (gh == gh0 && gw == gw0) return xf_model_weight(m, "pos_embed", 3, shape0, out);
    float* src;
    xf_status_t st = xf_model_weight_host(m, "pos_embed", 3, shape0, &src);
    if (st != XF_OK) return st;
    int64_t shape[3] = {1, prefix_tokens + gh * gw, v->dim};
    float* dst = xf_malloc((size_t)(shape[1] * v->dim) * sizeof(float));
    if (!dst) {
        xf_free(src);
        return xf_ctx_fail(m->ctx, XF_ERR_OUT_OF_MEMORY, "out of host memory");
    }
    memcpy(dst, src, (size_t)(prefix_tokens * v->dim) * sizeof(float));
    xf_model_resample_bicubic_aa(src + prefix_tokens * v->dim, gh0, gw0, v->dim, dst + prefix_tokens * v->dim,
                                 gh, gw);
    xf_log(m->ctx, XF_LOG_INFO, "pos_embed resampled from a %lldx%lld to a %lldx%lld grid", (long long)gh0,
           (long long)gw0, (long long)gh, (long long)gw);
    st = xf_model_weight_upload(m, "pos_embed", 3, shape, dst, out);
    xf_free(src);
    xf_free(dst);
    return st;
}

static xf_status_t vit_block_weights(xf_model_t* m, int i) {
    const xf_vit_config_t* v = &m->cfg.vit;
    const int64_t d = v->dim, hid = v->mlp_hidden;
    struct {
        const char* name;
        int ndim;
        int64_t s0, s1;
        bool present;
    } w[] = {
        {"norm1.weight", 1, d, 0, true},        {"norm1.bias", 1, d, 0, true},
        {"attn.qkv.weight", 2, 3 * d, d, true}, {"attn.qkv.bias", 1, 3 * d, 0, v->qkv_bias},
        {"attn.proj.weight", 2, d, d, true},    {"attn.proj.bias", 1, d, 0, true},
        {"norm2.weight", 1, d, 0, true},        {"norm2.bias", 1, d, 0, true},
        {"mlp.fc1.weight", 2, hid, d, true},    {"mlp.fc1.bias", 1, hid, 0, true},
        {"mlp.fc2.weight", 2, d, hid, true},    {"mlp.fc2.bias", 1, d, 0, true},
    };
    for (size_t k = 0; k < sizeof w / sizeof w[0]; k++) {
        if (!w[k].present) continue;
        char name[128];
        snprintf(name, sizeof name, "blocks.%d.%s", i, w[k].name);
        int64_t shape[2] = {w[k].s0, w[k].s1};
        xf_status_t st = xf_model_weight(m, name, w[k].ndim, shape, NULL);
        if (st != XF_OK) return st;
    }
    return XF_OK;
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
    const int64_t prefix_tokens = 1 + (v->distilled ? 1 : 0);

    xf_tensor_t *pw, *pb, *cls, *dist = NULL, *pos, *nw, *nb, *hw, *hb, *hdw = NULL, *hdb = NULL;
    xf_status_t st;
    int64_t s4[4] = {d, c, p, p}, s1[1] = {d}, s3[3] = {1, 1, d}, sh[2] = {v->classes, d},
            shb[1] = {v->classes};
    if ((st = xf_model_weight(m, "patch_embed.proj.weight", 4, s4, &pw)) != XF_OK) return st;
    if ((st = xf_model_weight(m, "patch_embed.proj.bias", 1, s1, &pb)) != XF_OK) return st;
    if ((st = xf_model_weight(m, "cls_token", 3, s3, &cls)) != XF_OK) return st;
    if (v->distilled && (st = xf_model_weight(m, "dist_token", 3, s3, &dist)) != XF_OK) return st;
    if ((st = vit_pos_embed(m, prefix_tokens, gh, gw, &pos)) != XF_OK) return st;
    for (int i = 0; i < v->depth; i++)
        if ((st = vit_block_weights(m, i)) != XF_OK) return st;
    if ((st = xf_model_weight(m, "norm.weight", 1, s1, &nw)) != XF_OK) return st;
    if ((st = xf_model_weight(m, "norm.bias", 1, s1, &nb)) != XF_OK) return st;
    if ((st = xf_model_weight(m, "head.weight", 2, sh, &hw)) != XF_OK) return st;
    if ((st = xf_model_weight(m, "head.bias", 1, shb, &hb)) != XF_OK) return st;
    if (v->distilled) {
        if ((st = xf_model_weight(m, "head_dist.weight", 2, sh, &hdw)) != XF_OK) return st;
        if ((st = xf_model_weight(m, "head_dist.bias", 1, shb, &hdb)) != XF_OK) return st;
    }

    if ((st = xf_graph_create(m->ctx, &m->graph)) != XF_OK) return st;
    xf_graph_t* g = m->graph;
    int64_t in_shape[4] = {1, c, h, w};
    if ((st = xf_graph_input(g, "pixels", XF_DTYPE_F32, 4, in_shape, &m->input)) != XF_OK) return st;
    xf_conv2d_params_t cp = {.stride = {(int)p, (int)p}};
    xf_tensor_t *x, *t;
    if ((st = xf_conv2d(g, m->input, pw, pb, &cp, &x)) != XF_OK) return st;
    int64_t flat[3] = {1, d, gh * gw};
    if ((st = xf_reshape(g, x, 3, flat, &x)) != XF_OK) return st;
    if ((st = xf_transpose(g, x, 1, 2, &x)) != XF_OK) return st;
    xf_tensor_t* parts[3] = {cls, dist ? dist : x, x};
    if ((st = xf_concat(g, parts, (int)prefix_tokens + 1, 1, &x)) != XF_OK) return st;
    if ((st = xf_add(g, x, pos, &x)) != XF_OK) return st;

    xf_block_desc_t desc;
    xf_block_desc_init(&desc, d, v->heads, v->mlp_hidden);
    desc.norm_eps = v->eps;
    desc.qkv_bias = v->qkv_bias;
    for (int i = 0; i < v->depth; i++) {
        char prefix[96];
        xf_model_name(m, prefix, sizeof prefix, "blocks.%d.", i);
        if ((st = xf_graph_block(g, &desc, prefix, x, 0, 0, &x)) != XF_OK) return st;
    }
    if ((st = xf_layernorm(g, x, nw, nb, v->eps, &x)) != XF_OK) return st;
    xf_tensor_t* logits;
    if ((st = xf_slice(g, x, 1, 0, 1, &t)) != XF_OK) return st;
    if ((st = xf_linear(g, t, hw, hb, &logits)) != XF_OK) return st;
    if (v->distilled) {
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
