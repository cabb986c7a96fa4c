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
