// SPDX-License-Identifier: MIT
// SegFormer (MiT encoder + all-MLP decode head) with Hugging Face transformers tensor names.
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model_internal.h"

// Hugging Face builds every SegFormer LayerNorm with PyTorch's default eps and ignores the config's
// layer_norm_eps; BatchNorm2d's default is the same value.
#define XF_SEG_NORM_EPS 1e-5f
#define XF_SEG_BN_EPS 1e-5

static const xf_block_names_t xf_seg_names = {
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

static xf_status_t seg_weight(xf_model_t* m, const char* prefix, const char* name, int ndim, int64_t s0,
                              int64_t s1, int64_t s2, int64_t s3, xf_tensor_t** out) {
    char full[256];
    snprintf(full, sizeof full, "%s%s", prefix, name);
    int64_t shape[4] = {s0, s1, s2, s3};
    return xf_model_weight(m, full, ndim, shape, out);
}

static xf_status_t seg_block_weights(xf_model_t* m, int stage, int j) {
    const xf_seg_config_t* s = &m->cfg.seg;
    const int64_t d = s->dims[stage], hid = s->mlp_hidden[stage], r = s->sr[stage];
    char prefix[96];
    snprintf(prefix, sizeof prefix, "segformer.encoder.block.%d.%d.", stage, j);
    xf_status_t st;
    static const char* const linear[] = {"attention.self.query", "attention.self.key", "attention.self.value",
                                         "attention.output.dense"};
    char name[64];
    if ((st = seg_weight(m, prefix, "layer_norm_1.weight", 1, d, 0, 0, 0, NULL)) != XF_OK) return st;
    if ((st = seg_weight(m, prefix, "layer_norm_1.bias", 1, d, 0, 0, 0, NULL)) != XF_OK) return st;
    for (int k = 0; k < 4; k++) {
        snprintf(name, sizeof name, "%s.weight", linear[k]);
        if ((st = seg_weight(m, prefix, name, 2, d, d, 0, 0, NULL)) != XF_OK) return st;
        snprintf(name, sizeof name, "%s.bias", linear[k]);
        if ((st = seg_weight(m, prefix, name, 1, d, 0, 0, 0, NULL)) != XF_OK) return st;
    }
    if (r > 1) {
        if ((st = seg_weight(m, prefix, "attention.self.sr.weight", 4, d, d, r, r, NULL)) != XF_OK) return st;
        if ((st = seg_weight(m, prefix, "attention.self.sr.bias", 1, d, 0, 0, 0, NULL)) != XF_OK) return st;
        if ((st = seg_weight(m, prefix, "attention.self.layer_norm.weight", 1, d, 0, 0, 0, NULL)) != XF_OK)
            return st;
        if ((st = seg_weight(m, prefix, "attention.self.layer_norm.bias", 1, d, 0, 0, 0, NULL)) != XF_OK)
            return st;
    }
    if ((st = seg_weight(m, prefix, "layer_norm_2.weight", 1, d, 0, 0, 0, NULL)) != XF_OK) return st;
    if ((st = seg_weight(m, prefix, "layer_norm_2.bias", 1, d, 0, 0, 0, NULL)) != XF_OK) return st;
    if ((st = seg_weight(m, prefix, "mlp.dense1.weight", 2, hid, d, 0, 0, NULL)) != XF_OK) return st;
    if ((st = seg_weight(m, prefix, "mlp.dense1.bias", 1, hid, 0, 0, 0, NULL)) != XF_OK) return st;
    if ((st = seg_weight(m, prefix, "mlp.dwconv.dwconv.weight", 4, hid, 1, 3, 3, NULL)) != XF_OK) return st;
    if ((st = seg_weight(m, prefix, "mlp.dwconv.dwconv.bias", 1, hid, 0, 0, 0, NULL)) != XF_OK) return st;
    if ((st = seg_weight(m, prefix, "mlp.dense2.weight", 2, d, hid, 0, 0, NULL)) != XF_OK) return st;
    return seg_weight(m, prefix, "mlp.dense2.bias", 1, d, 0, 0, 0, NULL);
}

// Folds the eval-mode BatchNorm after linear_fuse into the 1x1 conv: w' = w * g / sqrt(var + eps),
// b' = beta - mean * g / sqrt(var + eps). The folded weight keeps the file's name; the new bias is
// "decode_head.linear_fuse.bias".
// The decode head's linear_c.i followed by its part of linear_fuse (BatchNorm folded in) as one linear per
// stage. fuse(concat_k(resize(lc_k(f_k)))) = sum_k resize(W_k lc_k(f_k)) + b exactly, because bilinear resizing
// (weights summing to one) commutes with mixing channels, and W_k lc_k(f) = (W_k W_lc) f + W_k b_lc. This drops
// the [B, stages * dd, H/4, W/4] concatenation (268 MB for SegFormer-B1 at 1024x1024) and the convolution over
// it (about half of SegFormer-B0's arithmetic at 512x512). Stage i takes fuse part n-1-i (the concatenation
// runs last stage first); stage 0 also carries the fuse bias.
static xf_status_t seg_decoder_weights(xf_model_t* m, xf_tensor_t** out_w, xf_tensor_t** out_b) {
    const xf_seg_config_t* s = &m->cfg.seg;
    const int64_t dd = s->decoder_dim, n = s->stages, in_ch = n * dd;
    int64_t wshape[4] = {dd, in_ch, 1, 1}, vshape[1] = {dd};
    float *w = NULL, *g = NULL, *beta = NULL, *mean = NULL, *var = NULL, *lw = NULL, *lb = NULL;
    xf_status_t st = xf_model_weight_host(m, "decode_head.linear_fuse.weight", 4, wshape, &w);
    if (st == XF_OK) st = xf_model_weight_host(m, "decode_head.batch_norm.weight", 1, vshape, &g);
    if (st == XF_OK) st = xf_model_weight_host(m, "decode_head.batch_norm.bias", 1, vshape, &beta);
    if (st == XF_OK) st = xf_model_weight_host(m, "decode_head.batch_norm.running_mean", 1, vshape, &mean);
    if (st == XF_OK) st = xf_model_weight_host(m, "decode_head.batch_norm.running_var", 1, vshape, &var);
    int64_t widest = 0;
    for (int i = 0; i < n; i++) widest = s->dims[i] > widest ? s->dims[i] : widest;
    float* bias = st == XF_OK ? xf_malloc((size_t)dd * sizeof(float)) : NULL;
    float* fw = st == XF_OK ? xf_malloc((size_t)(dd * widest) * sizeof(float)) : NULL;
    float* fb = st == XF_OK ? xf_malloc((size_t)dd * sizeof(float)) : NULL;
    if (st == XF_OK && (!bias || !fw || !fb)) st = xf_ctx_fail(m->ctx, XF_ERR_OUT_OF_MEMORY, "out of host memory");
    if (st == XF_OK) {
        for (int64_t o = 0; o < dd; o++) {
            if (!(var[o] >= 0)) {
                st = xf_ctx_fail(m->ctx, XF_ERR_INVALID_ARGUMENT,
                                 "decode_head.batch_norm.running_var[%lld] is %g; variances must be >= 0",
                                 (long long)o, (double)var[o]);
                break;
            }
            double k = (double)g[o] / sqrt((double)var[o] + XF_SEG_BN_EPS);
            for (int64_t i = 0; i < in_ch; i++) w[o * in_ch + i] = (float)((double)w[o * in_ch + i] * k);
            bias[o] = (float)((double)beta[o] - (double)mean[o] * k);
        }
    }
    for (int i = 0; st == XF_OK && i < n; i++) {
        const int64_t d = s->dims[i], part = (n - 1 - i) * dd;
        char name[96];
        snprintf(name, sizeof name, "decode_head.linear_c.%d.proj.weight", i);
        st = xf_model_weight_host(m, name, 2, (int64_t[]){dd, d}, &lw);
        snprintf(name, sizeof name, "decode_head.linear_c.%d.proj.bias", i);
        if (st == XF_OK) st = xf_model_weight_host(m, name, 1, (int64_t[]){dd}, &lb);
        for (int64_t o = 0; st == XF_OK && o < dd; o++) {
            const float* wo = w + o * in_ch + part;
            double acc_b = i == 0 ? bias[o] : 0.0;
            for (int64_t j = 0; j < dd; j++) acc_b += (double)wo[j] * lb[j];
            fb[o] = (float)acc_b;
            for (int64_t c = 0; c < d; c++) {
                double acc = 0.0;
                for (int64_t j = 0; j < dd; j++) acc += (double)wo[j] * lw[j * d + c];
                fw[o * d + c] = (float)acc;
            }
        }
        snprintf(name, sizeof name, "decode_head.linear_c.%d.fused.weight", i);
        if (st == XF_OK) st = xf_model_weight_upload(m, name, 2, (int64_t[]){dd, d}, fw, &out_w[i]);
        snprintf(name, sizeof name, "decode_head.linear_c.%d.fused.bias", i);
        if (st == XF_OK) st = xf_model_weight_upload(m, name, 1, (int64_t[]){dd}, fb, &out_b[i]);
        xf_free(lw);
        xf_free(lb);
        lw = lb = NULL;
    }
    xf_free(w);
    xf_free(g);
    xf_free(beta);
    xf_free(mean);
    xf_free(var);
    xf_free(bias);
    xf_free(fw);
    xf_free(fb);
    return st;
}

// [B, N, C] tokens of an h x w grid -> [B, C, h, w].
static xf_status_t tokens_to_nchw(xf_graph_t* g, xf_tensor_t* x, int64_t c, int64_t h, int64_t w,
                                  xf_tensor_t** out) {
    xf_tensor_t* t;
    xf_status_t st = xf_transpose(g, x, 1, 2, &t);
    int64_t shape[4] = {xf_tensor_dim(x, 0), c, h, w};
    if (st == XF_OK) st = xf_reshape(g, t, 4, shape, out);
    return st;
}

xf_status_t xf_model_build_segformer(xf_model_t* m) {
    const xf_seg_config_t* s = &m->cfg.seg;
    const int64_t n = s->stages, dd = s->decoder_dim;
    xf_status_t st;

    // Grid sizes per stage: each overlapping patch embedding is a conv with padding patch / 2.
    int64_t gh[XF_SEG_MAX_STAGES], gw[XF_SEG_MAX_STAGES];
    int64_t h = m->info.input_height, w = m->info.input_width;
    for (int i = 0; i < n; i++) {
        const int64_t k = s->patch[i], pad = k / 2;
        h = h + 2 * pad - k >= 0 ? (h + 2 * pad - k) / s->stride[i] + 1 : 0;
        w = w + 2 * pad - k >= 0 ? (w + 2 * pad - k) / s->stride[i] + 1 : 0;
        if (h < 1 || w < 1 || (s->sr[i] > 1 && (h < s->sr[i] || w < s->sr[i])))
            return xf_ctx_fail(
                m->ctx, XF_ERR_INVALID_ARGUMENT,
                "input %lldx%lld is too small for SegFormer stage %d (grid %lldx%lld, sr_ratio %lld)",
                (long long)m->info.input_height, (long long)m->info.input_width, i, (long long)h,
                (long long)w, (long long)s->sr[i]);
        gh[i] = h;
        gw[i] = w;
    }

    xf_tensor_t *pe_w[XF_SEG_MAX_STAGES], *pe_b[XF_SEG_MAX_STAGES], *pe_nw[XF_SEG_MAX_STAGES],
        *pe_nb[XF_SEG_MAX_STAGES], *st_nw[XF_SEG_MAX_STAGES], *st_nb[XF_SEG_MAX_STAGES],
        *lc_w[XF_SEG_MAX_STAGES], *lc_b[XF_SEG_MAX_STAGES], *cls_w, *cls_b;
    for (int i = 0; i < n; i++) {
        char prefix[96];
        const int64_t d = s->dims[i], cin = i ? s->dims[i - 1] : s->channels, k = s->patch[i];
        snprintf(prefix, sizeof prefix, "segformer.encoder.patch_embeddings.%d.", i);
        if ((st = seg_weight(m, prefix, "proj.weight", 4, d, cin, k, k, &pe_w[i])) != XF_OK) return st;
        if ((st = seg_weight(m, prefix, "proj.bias", 1, d, 0, 0, 0, &pe_b[i])) != XF_OK) return st;
        if ((st = seg_weight(m, prefix, "layer_norm.weight", 1, d, 0, 0, 0, &pe_nw[i])) != XF_OK) return st;
        if ((st = seg_weight(m, prefix, "layer_norm.bias", 1, d, 0, 0, 0, &pe_nb[i])) != XF_OK) return st;
        for (int j = 0; j < s->depths[i]; j++)
            if ((st = seg_block_weights(m, i, j)) != XF_OK) return st;
        snprintf(prefix, sizeof prefix, "segformer.encoder.layer_norm.%d.", i);
        if ((st = seg_weight(m, prefix, "weight", 1, d, 0, 0, 0, &st_nw[i])) != XF_OK) return st;
        if ((st = seg_weight(m, prefix, "bias", 1, d, 0, 0, 0, &st_nb[i])) != XF_OK) return st;
    }
    if ((st = seg_decoder_weights(m, lc_w, lc_b)) != XF_OK) return st;
    if ((st = seg_weight(m, "decode_head.", "classifier.weight", 4, s->classes, dd, 1, 1, &cls_w)) != XF_OK)
        return st;
    if ((st = seg_weight(m, "decode_head.", "classifier.bias", 1, s->classes, 0, 0, 0, &cls_b)) != XF_OK)
        return st;

    if ((st = xf_graph_create(m->ctx, &m->graph)) != XF_OK) return st;
    xf_graph_t* g = m->graph;
    int64_t in_shape[4] = {m->info.batch, s->channels, m->info.input_height, m->info.input_width};
    if ((st = xf_graph_input(g, "pixels", XF_DTYPE_F32, 4, in_shape, &m->input)) != XF_OK) return st;

    xf_tensor_t* x = m->input;  // NCHW between stages
    xf_tensor_t* feats[XF_SEG_MAX_STAGES];
    for (int i = 0; i < n; i++) {
        const int64_t d = s->dims[i];
        xf_conv2d_params_t cp = {.stride = {(int)s->stride[i], (int)s->stride[i]},
                                 .padding = {(int)(s->patch[i] / 2), (int)(s->patch[i] / 2)}};
        xf_tensor_t* t;
        if ((st = xf_conv2d(g, x, pe_w[i], pe_b[i], &cp, &t)) != XF_OK) return st;
        int64_t flat[3] = {m->info.batch, d, gh[i] * gw[i]};
        if ((st = xf_reshape(g, t, 3, flat, &t)) != XF_OK) return st;
        if ((st = xf_transpose(g, t, 1, 2, &t)) != XF_OK) return st;
        if ((st = xf_layernorm(g, t, pe_nw[i], pe_nb[i], XF_SEG_NORM_EPS, &t)) != XF_OK) return st;

        xf_block_desc_t desc;
        xf_block_desc_init(&desc, d, s->heads[i], s->mlp_hidden[i]);
        desc.norm_eps = XF_SEG_NORM_EPS;
        desc.qkv_bias = true;
        desc.sr_ratio = (int)s->sr[i];
        desc.mix_ffn = true;
        desc.activation = XF_ACT_GELU;
        desc.names = &xf_seg_names;
        for (int j = 0; j < s->depths[i]; j++) {
            char prefix[96];
            xf_model_name(m, prefix, sizeof prefix, "segformer.encoder.block.%d.%d.", i, j);
            if ((st = xf_graph_block(g, &desc, prefix, t, gh[i], gw[i], &t)) != XF_OK) return st;
        }
        if ((st = xf_layernorm(g, t, st_nw[i], st_nb[i], XF_SEG_NORM_EPS, &t)) != XF_OK) return st;
        feats[i] = t;
        if (i + 1 < n && (st = tokens_to_nchw(g, t, d, gh[i], gw[i], &x)) != XF_OK) return st;
    }

    // Decoder: per stage linear_c with its part of linear_fuse (seg_decoder_weights) -> NCHW -> bilinear to the
    // stage-1 size, summed.
    xf_tensor_t* y = NULL;
    for (int i = n - 1; i >= 0; i--) {
        xf_tensor_t* t;
        if ((st = xf_linear(g, feats[i], lc_w[i], lc_b[i], &t)) != XF_OK) return st;
        if ((st = tokens_to_nchw(g, t, dd, gh[i], gw[i], &t)) != XF_OK) return st;
        if ((gh[i] != gh[0] || gw[i] != gw[0]) &&
            (st = xf_resize_bilinear(g, t, gh[0], gw[0], false, &t)) != XF_OK)
            return st;
        if (y && (st = xf_add(g, y, t, &t)) != XF_OK) return st;
        y = t;
    }
    xf_tensor_t* logits;
    if ((st = xf_activation(g, y, XF_ACT_RELU, &y)) != XF_OK) return st;
    if ((st = xf_conv2d(g, y, cls_w, cls_b, NULL, &logits)) != XF_OK) return st;
    if ((st = xf_graph_mark_output(g, logits)) != XF_OK) return st;
    m->output = logits;
    m->info.classes = s->classes;
    m->info.output_height = gh[0];
    m->info.output_width = gw[0];
    return XF_OK;
}
