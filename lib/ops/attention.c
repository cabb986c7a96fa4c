// SPDX-License-Identifier: MIT
// ATTENTION: softmax(q.k^T * scale + bias).v over [B, H, L, D], fused.
#include <stdlib.h>

#include "ops/ops_internal.h"

xf_status_t xf_attention(xf_graph_t* graph, xf_tensor_t* q, xf_tensor_t* k, xf_tensor_t* v, xf_tensor_t* bias,
                         float scale, xf_tensor_t** out) {
    const char* fn = "xf_attention";
    XF_CHECK(xf_op_begin(graph, fn, out));
    XF_CHECK(xf_op_check_input(graph, XF_OP_ATTENTION, fn, q, "q"));
    XF_CHECK(xf_op_check_input(graph, XF_OP_ATTENTION, fn, k, "k"));
    XF_CHECK(xf_op_check_input(graph, XF_OP_ATTENTION, fn, v, "v"));
    XF_CHECK(xf_op_check_same_dtype(graph, fn, q, k, "k"));
    XF_CHECK(xf_op_check_same_dtype(graph, fn, q, v, "v"));
    if (q->ndim != 4 || k->ndim != 4 || v->ndim != 4) return xf_op_fail(graph, fn, "q, k and v must be [B, H, L, D]");
    char sq[96], sk[96], sv[96];
    xf_op_shape_str(q, sq, sizeof sq);
    xf_op_shape_str(k, sk, sizeof sk);
    xf_op_shape_str(v, sv, sizeof sv);
    if (k->shape[0] != q->shape[0] || k->shape[1] != q->shape[1] || k->shape[3] != q->shape[3] ||
        v->shape[0] != q->shape[0] || v->shape[1] != q->shape[1] || v->shape[2] != k->shape[2]) {
        return xf_op_fail(graph, fn, "shapes q %s, k %s, v %s do not fit [B,H,Lq,D], [B,H,Lk,D], [B,H,Lk,Dv]", sq, sk,
                          sv);
    }
    int64_t scores[4] = {q->shape[0], q->shape[1], q->shape[2], k->shape[2]};
    if (bias) {
        XF_CHECK(xf_op_check_input(graph, XF_OP_ATTENTION, fn, bias, "bias"));
        XF_CHECK(xf_op_check_same_dtype(graph, fn, q, bias, "bias"));
        XF_CHECK(xf_op_check_broadcasts_to(graph, fn, bias, 4, scores, "bias"));
    }
    int64_t shape[4] = {q->shape[0], q->shape[1], q->shape[2], v->shape[3]};
    xf_op_params_t p = {.attention = {scale, bias != NULL}};
    xf_tensor_t* src[4] = {q, k, v, bias};
    return xf_graph_append(graph, XF_OP_ATTENTION, src, 4, &p, q->dtype, 4, shape, out);
}

xf_status_t xf_ref_attention(const xf_exec_node_t* n, xf_err_t* err) {
    const xf_tref_t *q = &n->src[0], *k = &n->src[1], *v = &n->src[2], *bias = &n->src[3], *d = &n->dst;
    int64_t lq = q->ne[2], lk = k->ne[2], dh = q->ne[3], dv = v->ne[3];
    float* p = xf_malloc(sizeof(float) * (size_t)lk);
    if (!p) return xf_err_set(err, XF_ERR_OUT_OF_MEMORY, "out of host memory");
    for (int64_t b = 0; b < q->ne[0]; ++b) {
        for (int64_t h = 0; h < q->ne[1]; ++h) {
            int64_t bh = b * q->ne[1] + h;
            for (int64_t i = 0; i < lq; ++i) {
                float mx = -INFINITY;
                for (int64_t j = 0; j < lk; ++j) {
                    double s = 0.0;
                    for (int64_t c = 0; c < dh; ++c) {
                        s += (double)xf_ref_ld(q, (bh * lq + i) * dh + c) * xf_ref_ld(k, (bh * lk + j) * dh + c);
                    }
                    p[j] = (float)s * n->params.attention.scale;
                    if (n->params.attention.has_bias) p[j] += xf_ref_ld(bias, xf_ref_bidx(bias, b, h, i, j));
                    if (p[j] > mx) mx = p[j];
                }
                double sum = 0.0;
                for (int64_t j = 0; j < lk; ++j) {
                    p[j] = mx == -INFINITY ? 0.0f : expf(p[j] - mx);
                    sum += p[j];
                }
                for (int64_t c = 0; c < dv; ++c) {
                    double acc = 0.0;
                    for (int64_t j = 0; j < lk; ++j) acc += (double)p[j] * xf_ref_ld(v, (bh * lk + j) * dv + c);
                    xf_ref_st(d, (bh * lq + i) * dv + c, sum > 0.0 ? (float)(acc / sum) : 0.0f);
                }
            }
        }
    }
    xf_free(p);
    return XF_OK;
}

// WINDOW_ATTENTION: Swin's shifted-window attention on a token grid; see xf_window_attention.
xf_status_t xf_window_attention(xf_graph_t* graph, xf_tensor_t* qkv, xf_tensor_t* table, xf_tensor_t* index,
                                xf_tensor_t* pad_qkv, const xf_window_attention_params_t* params,
                                xf_tensor_t** out) {
    const char* fn = "xf_window_attention";
    XF_CHECK(xf_op_begin(graph, fn, out));
    XF_CHECK(xf_op_check_input(graph, XF_OP_WINDOW_ATTENTION, fn, qkv, "qkv"));
    XF_CHECK(xf_op_check_input(graph, XF_OP_WINDOW_ATTENTION, fn, table, "table"));
    XF_CHECK(xf_op_check_same_dtype(graph, fn, qkv, table, "table"));
    if (!params) return xf_op_fail(graph, fn, "params is NULL");
    const xf_window_attention_params_t* p = params;
    char s[96];
    xf_op_shape_str(qkv, s, sizeof s);
    if (qkv->ndim != 4 || qkv->shape[3] % 3) return xf_op_fail(graph, fn, "qkv %s is not [B, H, W, 3C]", s);
    const int64_t c = qkv->shape[3] / 3;
    if (p->heads < 1 || c % p->heads)
        return xf_op_fail(graph, fn, "%d heads do not divide the %lld channels of qkv %s", p->heads, (long long)c, s);
    for (int a = 0; a < 2; ++a) {
        if (p->window[a] < 1 || p->window[a] > 64)
            return xf_op_fail(graph, fn, "window (%d, %d) must be 1 to 64 tokens per axis", p->window[0], p->window[1]);
        if (p->shift[a] < 0 || p->shift[a] >= p->window[a])
            return xf_op_fail(graph, fn, "shift (%d, %d) must lie in [0, window) per axis", p->shift[0], p->shift[1]);
        if (p->shift[a] >= qkv->shape[1 + a])
            return xf_op_fail(graph, fn, "shift (%d, %d) must be smaller than the %lldx%lld grid", p->shift[0],
                              p->shift[1], (long long)qkv->shape[1], (long long)qkv->shape[2]);
    }
    if (!isfinite(p->scale) || !isfinite(p->mask_value))
        return xf_op_fail(graph, fn, "scale and mask_value must be finite");
    const int64_t rel = (int64_t)(2 * p->window[0] - 1) * (2 * p->window[1] - 1), n = (int64_t)p->window[0] * p->window[1];
    xf_op_shape_str(table, s, sizeof s);
    if (table->ndim != 2 || table->shape[1] != p->heads || (!index && table->shape[0] != rel))
        return xf_op_fail(graph, fn, "table %s is not [%s, %d] for window (%d, %d)", s, index ? "rows" : "(2wh-1)(2ww-1)",
                          p->heads, p->window[0], p->window[1]);
    if (index) {
        XF_CHECK(xf_graph_check_tensor(graph, index, "xf_window_attention: index"));
        if (index->dtype != XF_DTYPE_I32 || index->ndim != 2 || index->shape[0] != n || index->shape[1] != n)
            return xf_op_fail(graph, fn, "index must be i32 [%lld, %lld] (window area squared)", (long long)n,
                              (long long)n);
    }
    if (pad_qkv) XF_CHECK(xf_op_check_vector(graph, fn, pad_qkv, qkv, 3 * c, "pad_qkv"));
    const int64_t hd = c / p->heads;
    xf_op_params_t op = {.window_attention = {{p->window[0], p->window[1]}, {p->shift[0], p->shift[1]}, p->heads,
                                              p->scale != 0.0f ? p->scale : 1.0f / sqrtf((float)hd), p->mask_value,
                                              index != NULL, pad_qkv != NULL}};
    int64_t shape[4] = {qkv->shape[0], qkv->shape[1], qkv->shape[2], c};
    xf_tensor_t* src[4] = {qkv, table, index, pad_qkv};
    return xf_graph_append(graph, XF_OP_WINDOW_ATTENTION, src, 4, &op, qkv->dtype, 4, shape, out);
}

// Band of grid position |pos| along an axis of |padded| positions for a shifted window: timm's three
// slices [0, -window), [-window, -shift), [-shift, end); one band without shift.
static int window_band(int64_t pos, int64_t padded, int64_t window, int64_t shift) {
    return !shift ? 0 : pos < padded - window ? 0 : pos < padded - shift ? 1 : 2;
}

xf_status_t xf_ref_window_attention(const xf_exec_node_t* n, xf_err_t* err) {
    const xf_tref_t *qkv = &n->src[0], *table = &n->src[1], *pad = &n->src[3], *d = &n->dst;
    const int32_t* index = n->params.window_attention.has_index ? xf_ref_base(&n->src[2]) : NULL;
    const int64_t B = qkv->ne[0], H = qkv->ne[1], W = qkv->ne[2], C = d->ne[3];
    const int64_t wh = n->params.window_attention.window[0], ww = n->params.window_attention.window[1];
    const int64_t sh = n->params.window_attention.shift[0], sw = n->params.window_attention.shift[1];
    const int64_t heads = n->params.window_attention.heads, hd = C / heads, area = wh * ww;
    const int64_t hp = (H + wh - 1) / wh * wh, wp = (W + ww - 1) / ww * ww, rows = table->ne[2];
    const float scale = n->params.window_attention.scale, mask = n->params.window_attention.mask_value;
    const bool has_pad = n->params.window_attention.has_pad;
    float* s = xf_malloc(sizeof(float) * (size_t)area);
    int64_t* key = xf_malloc(sizeof(int64_t) * (size_t)area);
    if (!s || !key) {
        xf_free(s);
        xf_free(key);
        return xf_err_set(err, XF_ERR_OUT_OF_MEMORY, "out of host memory");
    }
    for (int64_t b = 0; b < B; ++b)
        for (int64_t y = 0; y < H; ++y)
            for (int64_t x = 0; x < W; ++x) {
                // Where the rolled, padded grid holds this token, and the tokens of its window (-1: padding).
                const int64_t py = (y - sh + H) % H, px = (x - sw + W) % W, y0 = py / wh * wh, x0 = px / ww * ww;
                const int64_t i = (py - y0) * ww + (px - x0);
                for (int64_t j = 0; j < area; ++j) {
                    const int64_t gy = y0 + j / ww, gx = x0 + j % ww;
                    key[j] = gy < H && gx < W ? (b * H + (gy + sh) % H) * W + (gx + sw) % W : -1;
                }
                for (int64_t h = 0; h < heads; ++h) {
                    const int64_t qo = ((b * H + y) * W + x) * 3 * C + h * hd;
                    float mx = -INFINITY;
                    for (int64_t j = 0; j < area; ++j) {
                        const int64_t gy = y0 + j / ww, gx = x0 + j % ww;
                        double dot = 0.0;
                        for (int64_t c = 0; c < hd; ++c) {
                            float kv = key[j] >= 0 ? xf_ref_ld(qkv, key[j] * 3 * C + C + h * hd + c)
                                                   : has_pad ? xf_ref_ld(pad, C + h * hd + c) : 0.0f;
                            dot += (double)xf_ref_ld(qkv, qo + c) * kv;
                        }
                        int64_t r;
                        if (index) r = index[i * area + j];
                        else r = (i / ww - j / ww + wh - 1) * (2 * ww - 1) + (i % ww - j % ww + ww - 1);
                        float v = (float)dot * scale;
                        if (r >= 0 && r < rows) v += xf_ref_ld(table, r * heads + h);
                        if (window_band(py, hp, wh, sh) != window_band(gy, hp, wh, sh) ||
                            window_band(px, wp, ww, sw) != window_band(gx, wp, ww, sw))
                            v += mask;
                        s[j] = v;
                        if (v > mx) mx = v;
                    }
                    double sum = 0.0;
                    for (int64_t j = 0; j < area; ++j) {
                        s[j] = expf(s[j] - mx);
                        sum += s[j];
                    }
                    for (int64_t c = 0; c < hd; ++c) {
                        double acc = 0.0;
                        for (int64_t j = 0; j < area; ++j) {
                            float vv = key[j] >= 0 ? xf_ref_ld(qkv, key[j] * 3 * C + 2 * C + h * hd + c)
                                                   : has_pad ? xf_ref_ld(pad, 2 * C + h * hd + c) : 0.0f;
                            acc += (double)s[j] * vv;
                        }
                        xf_ref_st(d, ((b * H + y) * W + x) * C + h * hd + c, (float)(acc / sum));
                    }
                }
            }
    xf_free(s);
    xf_free(key);
    return XF_OK;
}
