// SPDX-License-Identifier: MIT
// Fusion of the decomposed patterns torch.onnx.export writes: LayerNorm (ReduceMean, Sub, Pow, ReduceMean,
// Add, Sqrt, Div, Mul, Add), GELU (Div, Erf, Add, Mul, Mul), linear layers (MatMul with a constant weight,
// then its bias, GELU and residual Add) and scaled-dot-product attention (MatMul, Mul/Div, Softmax, MatMul).
// Each is matched at its first node, looking at the nodes that consume its values; every value inside a
// pattern must have that one consumer.
#include <math.h>
#include <string.h>

#include "onnx/onnx_internal.h"
#include "onnx/onnx_ops.h"

typedef struct {
    size_t nodes[16];
    int count;
} chain_t;

static const Onnx__NodeProto* node_at(xo_imp_t* im, size_t j) { return im->gp->node[j]; }

static bool is_op(const Onnx__NodeProto* n, const char* op) {
    return n->op_type && strcmp(n->op_type, op) == 0 && (!n->domain || !n->domain[0]);
}

// The one node after |from| that reads |v| (v has one use and is not a graph output), or -1.
static long sole_consumer(xo_imp_t* im, const xo_val_t* v, size_t from) {
    if (!v || v->uses != 1 || v->graph_output) return -1;
    for (size_t j = from + 1; j < im->gp->n_node; j++) {
        const Onnx__NodeProto* n = node_at(im, j);
        for (size_t k = 0; k < n->n_input; k++)
            if (n->input[k] && strcmp(n->input[k], v->name) == 0) return im->absorbed[j] ? -1 : (long)j;
    }
    return -1;
}

static xo_val_t* out0(xo_imp_t* im, const Onnx__NodeProto* n) {
    return n->n_output >= 1 && n->n_output <= 2 ? xo_find(im, n->output[0]) : NULL;
}

// A Constant node's value may come later in the node order than the pattern's first node: evaluate it now.
static xo_val_t* early(xo_imp_t* im, const char* name) {
    xo_val_t* v = xo_find(im, name);
    if (!v || v->known) return v;
    if (v->producer < 0 || !is_op(node_at(im, (size_t)v->producer), "Constant")) return v;
    const Onnx__NodeProto* saved = im->node;
    size_t saved_i = im->node_index;
    im->node = node_at(im, (size_t)v->producer);
    im->node_index = (size_t)v->producer;
    xo_val_t* outs[1] = {v};
    xf_status_t st = xo_op_find("Constant")->fn(im, im->node, NULL, 0, outs, 1);
    im->node = saved;
    im->node_index = saved_i;
    if (st != XF_OK) {
        im->fuse_status = st;
        return NULL;
    }
    im->absorbed[v->producer] = true;
    return v;
}

static bool scalar_is(xo_imp_t* im, const char* name, double want, double tol) {
    xo_val_t* v = early(im, name);
    return v && v->known && v->is_const && v->n == 1 && fabs(xo_get(v, 0) - want) <= tol;
}

// The other input of binary node |n| when one of them is |v|'s name.
static const char* other_input(const Onnx__NodeProto* n, const xo_val_t* v) {
    if (n->n_input != 2 || !n->input[0] || !n->input[1]) return NULL;
    if (strcmp(n->input[0], v->name) == 0) return n->input[1];
    if (strcmp(n->input[1], v->name) == 0) return n->input[0];
    return NULL;
}

// Takes the one consumer of *v into |c| when it is |op|, moves *v to its output and returns the node's other
// input ("" for a unary node); NULL when the chain does not go on that way.
static const char* step(xo_imp_t* im, chain_t* c, const char* op, xo_val_t** v) {
    long j = sole_consumer(im, *v, c->nodes[c->count - 1]);
    if (j < 0 || !is_op(node_at(im, (size_t)j), op)) return NULL;
    const Onnx__NodeProto* n = node_at(im, (size_t)j);
    const char* other = n->n_input == 1 ? "" : other_input(n, *v);
    if (!other || c->count == (int)(sizeof c->nodes / sizeof c->nodes[0])) return NULL;
    c->nodes[c->count++] = (size_t)j;
    *v = out0(im, n);
    return other;
}

// GELU from node |i| = Div(x, sqrt 2) or Mul(x, 1/sqrt 2): Erf, Add 1, Mul x, Mul 0.5. Sets the last value.
static bool match_gelu(xo_imp_t* im, size_t i, const xo_val_t* x, chain_t* c, xo_val_t** last) {
    const Onnx__NodeProto* n = node_at(im, i);
    if (n->n_input != 2 || !x || strcmp(n->input[0], x->name) != 0) return false;
    if (!(is_op(n, "Div") && scalar_is(im, n->input[1], M_SQRT2, 1e-4)) &&
        !(is_op(n, "Mul") && scalar_is(im, n->input[1], M_SQRT1_2, 1e-4)))
        return false;
    c->count = 0;
    c->nodes[c->count++] = i;
    xo_val_t* v = out0(im, n);
    const char* o;
    if (!step(im, c, "Erf", &v)) return false;
    if (!(o = step(im, c, "Add", &v)) || !scalar_is(im, o, 1.0, 1e-6)) return false;
    if (!(o = step(im, c, "Mul", &v)) || strcmp(o, x->name) != 0) return false;
    if (!(o = step(im, c, "Mul", &v)) || !scalar_is(im, o, 0.5, 1e-6)) return false;
    *last = v;
    return *last != NULL;
}

static void absorb(xo_imp_t* im, const chain_t* c) {
    for (int k = 0; k < c->count; k++) im->absorbed[c->nodes[k]] = true;
}

static bool fuse_gelu(xo_imp_t* im, size_t i, xo_val_t** in, int nin) {
    chain_t c;
    xo_val_t* last;
    if (nin != 2 || !in[0] || in[0]->is_const || in[0]->ety != XO_FLOAT || !match_gelu(im, i, in[0], &c, &last))
        return false;
    absorb(im, &c);
    xf_tensor_t *t, *r;
    int nd = in[0]->nd;
    int64_t shape[XO_MAX_RANK];
    memcpy(shape, in[0]->shape, sizeof shape);
    xf_status_t st = xo_tensor_of(im, in[0], &t);
    if (st == XF_OK) st = xf_activation(im->g, t, XF_ACT_GELU, &r);
    if (st == XF_OK) st = xo_result(im, last, r, nd, shape);
    im->fuse_status = st;
    im->fused[XO_FUSE_GELU]++;
    return true;
}

// MatMul(a, W) [+ bias] [GELU] [+ residual] with a constant 2-D W.
static bool fuse_linear(xo_imp_t* im, size_t i, xo_val_t** in, int nin) {
    if (nin != 2 || !in[0] || !in[1] || in[0]->is_const || !in[1]->is_const || in[1]->nd != 2 ||
        in[0]->ety != XO_FLOAT || in[0]->nd < 2)
        return false;
    const int64_t nn = in[1]->shape[1];
    chain_t c = {.count = 0};
    c.nodes[c.count++] = i;
    xo_val_t* y = out0(im, node_at(im, i));
    xo_val_t *bias = NULL, *residual = NULL;
    xf_activation_t act = XF_ACT_NONE;
    long j = sole_consumer(im, y, i);
    if (j >= 0 && is_op(node_at(im, (size_t)j), "Add")) {
        const char* b = other_input(node_at(im, (size_t)j), y);
        xo_val_t* bv = b ? early(im, b) : NULL;
        if (bv && bv->known && bv->is_const && bv->n == nn && bv->shape[bv->nd ? bv->nd - 1 : 0] == nn &&
            bv->nd <= in[0]->nd) {
            bias = bv;
            c.nodes[c.count++] = (size_t)j;
            y = out0(im, node_at(im, (size_t)j));
        }
    }
    // GELU: y feeds Div (or Mul) and the later Mul of the pattern.
    if (y && y->uses == 2 && !y->graph_output) {
        for (size_t k = c.nodes[c.count - 1] + 1; k < im->gp->n_node; k++) {
            const Onnx__NodeProto* n = node_at(im, k);
            if (n->n_input == 2 && n->input[0] && strcmp(n->input[0], y->name) == 0 &&
                (is_op(n, "Div") || is_op(n, "Mul"))) {
                chain_t g;
                xo_val_t* last;
                if (match_gelu(im, k, y, &g, &last)) {
                    for (int q = 0; q < g.count; q++) c.nodes[c.count++] = g.nodes[q];
                    act = XF_ACT_GELU;
                    y = last;
                }
                break;
            }
        }
    }
    j = sole_consumer(im, y, c.nodes[c.count - 1]);
    if (j >= 0 && is_op(node_at(im, (size_t)j), "Add")) {
        const char* r = other_input(node_at(im, (size_t)j), y);
        xo_val_t* rv = r ? xo_find(im, r) : NULL;
        bool same = rv && rv->known && !rv->is_const && rv->ety == XO_FLOAT && rv->nd == in[0]->nd && !rv->scale_of;
        for (int d = 0; same && d < rv->nd - 1; d++) same = rv->shape[d] == in[0]->shape[d];
        if (same && rv->shape[rv->nd - 1] == nn) {
            residual = rv;
            c.nodes[c.count++] = (size_t)j;
            y = out0(im, node_at(im, (size_t)j));
        }
    }
    if (!y || (c.count == 1 && !bias)) {
        // A bare MatMul lowers as one anyway.
        if (c.count == 1) return false;
    }
    absorb(im, &c);
    im->fuse_status = xo_linear(im, in[0], in[1], false, 1.0f, bias, 1.0f, act, residual, y);
    im->fused[XO_FUSE_LINEAR]++;
    if (act == XF_ACT_GELU) im->fused[XO_FUSE_GELU]++;
    return true;
}

// Identity, or a Dropout that passes its input through (ratio 0 or not training) with its mask unused.
static bool no_op(xo_imp_t* im, const Onnx__NodeProto* n) {
    if (is_op(n, "Identity")) return n->n_output == 1;
    if (!is_op(n, "Dropout") || n->n_input < 1) return false;
    if (n->n_output > 1 && n->output[1] && n->output[1][0]) {
        xo_val_t* mask = xo_find(im, n->output[1]);
        if (mask && mask->uses) return false;
    }
    double ratio = 0.5, training = 0;
    if (n->n_input > 1 && n->input[1] && n->input[1][0]) {
        xo_val_t* r = early(im, n->input[1]);
        if (!r || !r->known || !r->is_const || r->n != 1) return false;
        ratio = xo_get(r, 0);
    }
    if (n->n_input > 2 && n->input[2] && n->input[2][0]) {
        xo_val_t* t = early(im, n->input[2]);
        if (!t || !t->known || !t->is_const || t->n != 1) return false;
        training = xo_get(t, 0);
    }
    return training == 0 || ratio == 0;
}

// softmax(q·kᵀ * scale)·v from the first MatMul (q, kᵀ both device values).
static bool fuse_attention(xo_imp_t* im, size_t i, xo_val_t** in, int nin) {
    if (nin != 2 || !in[0] || !in[1] || in[0]->is_const || in[1]->is_const) return false;
    xo_val_t *q = in[0], *kt = in[1];
    if (q->nd != kt->nd || q->nd < 3 || q->nd > 4 || q->ety != XO_FLOAT || kt->ety != XO_FLOAT) return false;
    chain_t c = {.count = 0};
    c.nodes[c.count++] = i;
    xo_val_t* s = out0(im, node_at(im, i));
    double scale = 1.0;
    long j = sole_consumer(im, s, i);
    if (j < 0) return false;
    const Onnx__NodeProto* n = node_at(im, (size_t)j);
    if ((is_op(n, "Mul") || is_op(n, "Div")) && n->n_input == 2 && strcmp(n->input[0], s->name) == 0) {
        xo_val_t* f = early(im, n->input[1]);
        if (!f || !f->known || !f->is_const || f->n != 1 || xo_get(f, 0) == 0) return false;
        scale = is_op(n, "Mul") ? xo_get(f, 0) : 1.0 / xo_get(f, 0);
        c.nodes[c.count++] = (size_t)j;
        s = out0(im, n);
        j = sole_consumer(im, s, (size_t)j);
        if (j < 0) return false;
        n = node_at(im, (size_t)j);
    }
    xo_val_t* bias = NULL;
    if (is_op(n, "Add") && n->n_input == 2) {
        // A constant bias on the scores (Swin's relative-position bias).
        const char* bn = other_input(n, s);
        bias = bn ? early(im, bn) : NULL;
        if (!bias || !bias->known || !bias->is_const || bias->nd > 4 || bias->ety != XO_FLOAT) return false;
        for (int d = 0; d < bias->nd; d++) {
            int64_t want = d == bias->nd - 1 ? kt->shape[kt->nd - 1] : d == bias->nd - 2 ? q->shape[q->nd - 2]
                                                                                        : -1;
            int qd = q->nd - bias->nd + d;
            if (want < 0) want = qd >= 0 && qd < q->nd - 2 ? q->shape[qd] : 1;
            if (bias->shape[d] != 1 && bias->shape[d] != want) return false;
        }
        c.nodes[c.count++] = (size_t)j;
        s = out0(im, n);
        j = sole_consumer(im, s, (size_t)j);
        if (j < 0) return false;
        n = node_at(im, (size_t)j);
    }
    if (!is_op(n, "Softmax")) return false;
    int64_t axis = xo_attr_int(n, "axis", im->opset < 13 ? 1 : -1);
    if (axis != -1 && axis != q->nd - 1) return false;
    c.nodes[c.count++] = (size_t)j;
    xo_val_t* p = out0(im, n);
    long l = sole_consumer(im, p, (size_t)j);
    // Inference's no-ops between the softmax and the product (exports of attention dropout with p = 0).
    while (l >= 0 && c.count < 15 && no_op(im, node_at(im, (size_t)l))) {
        c.nodes[c.count++] = (size_t)l;
        p = out0(im, node_at(im, (size_t)l));
        l = sole_consumer(im, p, (size_t)l);
    }
    if (l < 0 || !is_op(node_at(im, (size_t)l), "MatMul") || strcmp(node_at(im, (size_t)l)->input[0], p->name) != 0)
        return false;
    xo_val_t* v = xo_find(im, node_at(im, (size_t)l)->input[1]);
    if (!v || !v->known || v->is_const || v->nd != q->nd || v->ety != XO_FLOAT) return false;
    for (int d = 0; d < q->nd - 2; d++)
        if (kt->shape[d] != q->shape[d] || v->shape[d] != q->shape[d]) return false;
    if (v->shape[q->nd - 2] != kt->shape[q->nd - 1] || q->shape[q->nd - 1] != kt->shape[q->nd - 2]) return false;
    c.nodes[c.count++] = (size_t)l;
    xo_val_t* o = out0(im, node_at(im, (size_t)l));
    if (!o) return false;
    absorb(im, &c);
    // q, k and v as [B, H, L, D] views: k is kᵀ with its last two dims swapped back.
    xo_val_t qv = *q, kv = *kt, vv = *v;
    for (int pass = 0; pass < 3; pass++) {
        xo_val_t* x = pass == 0 ? &qv : pass == 1 ? &kv : &vv;
        if (x->scale_of) {
            scale *= x->scale;
            *x = *x->scale_of;
        }
    }
    int64_t t = kv.shape[kv.nd - 1];
    kv.shape[kv.nd - 1] = kv.shape[kv.nd - 2];
    kv.shape[kv.nd - 2] = t;
    t = kv.stride[kv.nd - 1];
    kv.stride[kv.nd - 1] = kv.stride[kv.nd - 2];
    kv.stride[kv.nd - 2] = t;
    const int nd = q->nd;
    int64_t shape[XO_MAX_RANK];
    memcpy(shape, q->shape, sizeof shape);
    shape[nd - 1] = v->shape[nd - 1];
    xf_tensor_t* x4[3];
    xf_status_t st = XF_OK;
    for (int pass = 0; pass < 3 && st == XF_OK; pass++) {
        xo_val_t* x = pass == 0 ? &qv : pass == 1 ? &kv : &vv;
        if (nd == 3) {
            memmove(x->shape + 1, x->shape, 3 * sizeof(int64_t));
            memmove(x->stride + 1, x->stride, 3 * sizeof(int64_t));
            x->shape[0] = 1;
            x->stride[0] = x->n;
            x->nd = 4;
        }
        st = xo_tensor_of(im, x, &x4[pass]);
    }
    xf_tensor_t *r = NULL, *bt = NULL;
    // xf_attention adds the bias after the scale, as the pattern does (the scale comes before the Add).
    if (st == XF_OK && bias) st = xo_const_tensor(im, bias, XF_DTYPE_F32, &bt);
    if (st == XF_OK) st = xf_attention(im->g, x4[0], x4[1], x4[2], bt, (float)scale, &r);
    if (st == XF_OK) st = xo_result(im, o, r, nd, shape);
    im->fuse_status = st;
    im->fused[XO_FUSE_ATTENTION]++;
    return true;
}

// When the one consumer of *y (the chain's last node's value) is |op| with a constant other operand of |count|
// elements, takes that node into |c|, moves *y to its output and returns the constant; else NULL.
static xo_val_t* const_step(xo_imp_t* im, chain_t* c, const char* op, xo_val_t** y, int64_t count) {
    chain_t tried = *c;
    xo_val_t* v = *y;
    const char* name = step(im, &tried, op, &v);
    xo_val_t* k = name && name[0] ? early(im, name) : NULL;
    if (!k || !k->known || !k->is_const || k->n != count) return NULL;
    *c = tried;
    *y = v;
    return k;
}

// LayerNorm decomposed: ReduceMean(x), Sub, Pow 2, ReduceMean, Add eps, Sqrt, Div [, Mul gamma] [, Add beta].
static bool fuse_layernorm(xo_imp_t* im, size_t i, xo_val_t** in, int nin) {
    if (nin < 1 || !in[0] || in[0]->is_const || in[0]->ety != XO_FLOAT || in[0]->nd < 1) return false;
    xo_val_t* x = in[0];
    const Onnx__NodeProto* n = node_at(im, i);
    int64_t axes[2];
    const Onnx__AttributeProto* a = xo_attr(n, "axes");
    if (im->opset >= 18 || !a || a->n_ints != 1 || xo_attr_int(n, "keepdims", 1) != 1) return false;
    axes[0] = a->ints[0];
    if (axes[0] != -1 && axes[0] != x->nd - 1) return false;
    chain_t c = {.count = 0};
    c.nodes[c.count++] = i;
    xo_val_t* mean = out0(im, n);
    long j = sole_consumer(im, mean, i);
    if (j < 0 || !is_op(node_at(im, (size_t)j), "Sub")) return false;
    const Onnx__NodeProto* sub = node_at(im, (size_t)j);
    if (strcmp(sub->input[0], x->name) != 0 || strcmp(sub->input[1], mean->name) != 0) return false;
    c.nodes[c.count++] = (size_t)j;
    xo_val_t* d = out0(im, sub);
    if (!d || d->uses != 2 || d->graph_output) return false;
    long pw = -1, dv = -1;
    for (size_t k = (size_t)j + 1; k < im->gp->n_node; k++) {
        const Onnx__NodeProto* m = node_at(im, k);
        if (m->n_input == 2 && m->input[0] && strcmp(m->input[0], d->name) == 0) {
            if (is_op(m, "Pow") && pw < 0) pw = (long)k;
            else if (is_op(m, "Div") && dv < 0) dv = (long)k;
        }
    }
    if (pw < 0 || dv < 0 || !scalar_is(im, node_at(im, (size_t)pw)->input[1], 2.0, 0)) return false;
    c.nodes[c.count++] = (size_t)pw;
    long r = sole_consumer(im, out0(im, node_at(im, (size_t)pw)), (size_t)pw);
    if (r < 0 || !is_op(node_at(im, (size_t)r), "ReduceMean")) return false;
    const Onnx__AttributeProto* a2 = xo_attr(node_at(im, (size_t)r), "axes");
    if (!a2 || a2->n_ints != 1 || (a2->ints[0] != -1 && a2->ints[0] != x->nd - 1)) return false;
    c.nodes[c.count++] = (size_t)r;
    long e = sole_consumer(im, out0(im, node_at(im, (size_t)r)), (size_t)r);
    if (e < 0 || !is_op(node_at(im, (size_t)e), "Add")) return false;
    const char* epsn = other_input(node_at(im, (size_t)e), out0(im, node_at(im, (size_t)r)));
    xo_val_t* ev = epsn ? early(im, epsn) : NULL;
    if (!ev || !ev->known || !ev->is_const || ev->n != 1) return false;
    float eps = (float)xo_get(ev, 0);
    c.nodes[c.count++] = (size_t)e;
    long sq = sole_consumer(im, out0(im, node_at(im, (size_t)e)), (size_t)e);
    if (sq < 0 || !is_op(node_at(im, (size_t)sq), "Sqrt")) return false;
    c.nodes[c.count++] = (size_t)sq;
    if (sole_consumer(im, out0(im, node_at(im, (size_t)sq)), (size_t)sq) != dv) return false;
    c.nodes[c.count++] = (size_t)dv;
    xo_val_t* y = out0(im, node_at(im, (size_t)dv));
    xo_val_t* gamma = const_step(im, &c, "Mul", &y, x->shape[x->nd - 1]);
    xo_val_t* beta = gamma ? const_step(im, &c, "Add", &y, x->shape[x->nd - 1]) : NULL;
    if (!y) return false;
    absorb(im, &c);
    im->fuse_status = xo_layernorm(im, x, x->nd - 1, gamma, beta, eps, y);
    im->fused[XO_FUSE_LAYERNORM]++;
    return true;
}

bool xo_fuse(xo_imp_t* im, size_t i, xo_val_t** in, int nin, xo_val_t** out, int nout) {
    (void)out;
    if (nout != 1 || im->no_fusion) return false;
    const Onnx__NodeProto* n = node_at(im, i);
    if (is_op(n, "MatMul"))
        return fuse_linear(im, i, in, nin) || (im->fuse_status == XF_OK && fuse_attention(im, i, in, nin));
    if (is_op(n, "Div") || is_op(n, "Mul")) return fuse_gelu(im, i, in, nin);
    if (is_op(n, "ReduceMean")) return fuse_layernorm(im, i, in, nin);
    return false;
}
