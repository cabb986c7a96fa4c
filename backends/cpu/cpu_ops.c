// SPDX-License-Identifier: MIT
// CPU reference kernels: one plain loop nest per operator, in f32 (or double where it costs nothing).
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cpu.h"

static void* base_of(const xf_tref_t* t) { return t->buffer->data + t->offset; }

// Element |i| of a tensor, counting in its own element strides.
static float ld(const xf_tref_t* t, int64_t i) {
    const void* p = base_of(t);
    switch (t->dtype) {
        case XF_DTYPE_F32: return ((const float*)p)[i];
        case XF_DTYPE_F16: return xf_f16_to_f32(((const uint16_t*)p)[i]);
        case XF_DTYPE_I32: return (float)((const int32_t*)p)[i];
    }
    return NAN;
}

static void st(const xf_tref_t* t, int64_t i, float v) {
    void* p = base_of(t);
    switch (t->dtype) {
        case XF_DTYPE_F32: ((float*)p)[i] = v; break;
        case XF_DTYPE_F16: ((uint16_t*)p)[i] = xf_f32_to_f16(v); break;
        case XF_DTYPE_I32: ((int32_t*)p)[i] = (int32_t)v; break;
    }
}

// Dense index of (i0, i1, i2, i3) in |t|, where dims of size 1 broadcast.
static int64_t bidx(const xf_tref_t* t, int64_t i0, int64_t i1, int64_t i2, int64_t i3) {
    int64_t idx[4] = {i0, i1, i2, i3};
    int64_t off = 0;
    for (int d = 0; d < 4; ++d) off = off * t->ne[d] + (t->ne[d] == 1 ? 0 : idx[d]);
    return off;
}

static float activate(xf_activation_t act, float x) {
    switch (act) {
        case XF_ACT_NONE: return x;
        case XF_ACT_GELU: return 0.5f * x * (1.0f + erff(x * 0.70710678118654752f));
        case XF_ACT_GELU_TANH: {
            float u = 0.79788456080286536f * (x + 0.044715f * x * x * x);
            return 0.5f * x * (1.0f + tanhf(u));
        }
        case XF_ACT_SILU: return x / (1.0f + expf(-x));
        case XF_ACT_RELU: return x > 0.0f ? x : 0.0f;
    }
    return x;
}

#define FOR4(t)                                    \
    for (int64_t i0 = 0; i0 < (t)->ne[0]; ++i0)    \
        for (int64_t i1 = 0; i1 < (t)->ne[1]; ++i1) \
            for (int64_t i2 = 0; i2 < (t)->ne[2]; ++i2) \
                for (int64_t i3 = 0; i3 < (t)->ne[3]; ++i3)

static void op_copy(const xf_exec_node_t* n) {
    const xf_tref_t *s = &n->src[0], *d = &n->dst;
    int64_t o = 0;
    FOR4(d) {
        st(d, o++, ld(s, i0 * s->nb[0] + i1 * s->nb[1] + i2 * s->nb[2] + i3 * s->nb[3]));
    }
}

static void op_matmul(const xf_exec_node_t* n) {
    const xf_tref_t *a = &n->src[0], *b = &n->src[1], *d = &n->dst;
    int64_t m = a->ne[2], k = a->ne[3], nn = d->ne[3];
    bool tb = n->params.matmul.transpose_b;
    for (int64_t i0 = 0; i0 < d->ne[0]; ++i0) {
        for (int64_t i1 = 0; i1 < d->ne[1]; ++i1) {
            int64_t abase = (i0 * a->ne[1] + i1) * m * k;
            int64_t bbase = ((b->ne[0] == 1 ? 0 : i0) * b->ne[1] + (b->ne[1] == 1 ? 0 : i1)) * k * nn;
            for (int64_t i = 0; i < m; ++i) {
                for (int64_t j = 0; j < nn; ++j) {
                    double acc = 0.0;
                    for (int64_t p = 0; p < k; ++p) {
                        float bv = tb ? ld(b, bbase + j * k + p) : ld(b, bbase + p * nn + j);
                        acc += (double)ld(a, abase + i * k + p) * bv;
                    }
                    float v = (float)acc;
                    if (n->params.matmul.has_bias) v += ld(&n->src[2], j);
                    v = activate(n->params.matmul.activation, v);
                    int64_t o = ((i0 * d->ne[1] + i1) * m + i) * nn + j;
                    if (n->params.matmul.has_residual) v += ld(&n->src[3], o);
                    st(d, o, v);
                }
            }
        }
    }
}

static void op_binary(const xf_exec_node_t* n) {
    const xf_tref_t *a = &n->src[0], *b = &n->src[1], *d = &n->dst;
    int64_t o = 0;
    FOR4(d) {
        float x = ld(a, bidx(a, i0, i1, i2, i3)), y = ld(b, bidx(b, i0, i1, i2, i3));
        st(d, o++, n->op == XF_OP_ADD ? x + y : x * y);
    }
}

static void op_scale(const xf_exec_node_t* n) {
    int64_t count = xf_tref_elements(&n->dst);
    for (int64_t i = 0; i < count; ++i) {
        st(&n->dst, i, ld(&n->src[0], i) * n->params.scale.scale + n->params.scale.shift);
    }
}

static void op_norm(const xf_exec_node_t* n) {
    const xf_tref_t *x = &n->src[0], *d = &n->dst;
    int64_t c = x->ne[3], rows = xf_tref_elements(x) / c;
    bool layer = n->op == XF_OP_LAYERNORM;
    for (int64_t r = 0; r < rows; ++r) {
        double mean = 0.0, sq = 0.0;
        for (int64_t i = 0; i < c; ++i) mean += ld(x, r * c + i);
        mean = layer ? mean / (double)c : 0.0;
        for (int64_t i = 0; i < c; ++i) {
            double v = ld(x, r * c + i) - mean;
            sq += v * v;
        }
        double inv = 1.0 / sqrt(sq / (double)c + n->params.norm.eps);
        for (int64_t i = 0; i < c; ++i) {
            float v = (float)((ld(x, r * c + i) - mean) * inv);
            if (n->params.norm.has_weight) v *= ld(&n->src[1], i);
            if (n->params.norm.has_bias) v += ld(&n->src[2], i);
            st(d, r * c + i, v);
        }
    }
}

static bool op_softmax(const xf_exec_node_t* n) {
    const xf_tref_t *x = &n->src[0], *mask = &n->src[1], *d = &n->dst;
    int64_t c = x->ne[3];
    float* row = malloc(sizeof(float) * (size_t)c);
    if (!row) return false;
    for (int64_t i0 = 0; i0 < x->ne[0]; ++i0) {
        for (int64_t i1 = 0; i1 < x->ne[1]; ++i1) {
            for (int64_t i2 = 0; i2 < x->ne[2]; ++i2) {
                int64_t base = ((i0 * x->ne[1] + i1) * x->ne[2] + i2) * c;
                float mx = -INFINITY;
                for (int64_t i = 0; i < c; ++i) {
                    row[i] = ld(x, base + i) * n->params.softmax.scale;
                    if (n->params.softmax.has_mask) row[i] += ld(mask, bidx(mask, i0, i1, i2, i));
                    if (row[i] > mx) mx = row[i];
                }
                double sum = 0.0;
                for (int64_t i = 0; i < c; ++i) {
                    row[i] = mx == -INFINITY ? 0.0f : expf(row[i] - mx);
                    sum += row[i];
                }
                for (int64_t i = 0; i < c; ++i) st(d, base + i, sum > 0.0 ? (float)(row[i] / sum) : 0.0f);
            }
        }
    }
    free(row);
    return true;
}

static void op_unary(const xf_exec_node_t* n) {
    int64_t count = xf_tref_elements(&n->dst);
    for (int64_t i = 0; i < count; ++i) st(&n->dst, i, activate(n->params.unary.activation, ld(&n->src[0], i)));
}

static void op_glu(const xf_exec_node_t* n) {
    int64_t h = n->dst.ne[3], rows = xf_tref_elements(&n->dst) / h;
    for (int64_t r = 0; r < rows; ++r) {
        for (int64_t i = 0; i < h; ++i) {
            float a = ld(&n->src[0], r * 2 * h + i), b = ld(&n->src[0], r * 2 * h + h + i);
            st(&n->dst, r * h + i, activate(n->params.unary.activation, a) * b);
        }
    }
}

static bool op_attention(const xf_exec_node_t* n) {
    const xf_tref_t *q = &n->src[0], *k = &n->src[1], *v = &n->src[2], *bias = &n->src[3], *d = &n->dst;
    int64_t lq = q->ne[2], lk = k->ne[2], dh = q->ne[3], dv = v->ne[3];
    float* p = malloc(sizeof(float) * (size_t)lk);
    if (!p) return false;
    for (int64_t b = 0; b < q->ne[0]; ++b) {
        for (int64_t h = 0; h < q->ne[1]; ++h) {
            int64_t bh = b * q->ne[1] + h;
            for (int64_t i = 0; i < lq; ++i) {
                float mx = -INFINITY;
                for (int64_t j = 0; j < lk; ++j) {
                    double s = 0.0;
                    for (int64_t c = 0; c < dh; ++c) s += (double)ld(q, (bh * lq + i) * dh + c) * ld(k, (bh * lk + j) * dh + c);
                    p[j] = (float)s * n->params.attention.scale;
                    if (n->params.attention.has_bias) p[j] += ld(bias, bidx(bias, b, h, i, j));
                    if (p[j] > mx) mx = p[j];
                }
                double sum = 0.0;
                for (int64_t j = 0; j < lk; ++j) {
                    p[j] = mx == -INFINITY ? 0.0f : expf(p[j] - mx);
                    sum += p[j];
                }
                for (int64_t c = 0; c < dv; ++c) {
                    double acc = 0.0;
                    for (int64_t j = 0; j < lk; ++j) acc += (double)p[j] * ld(v, (bh * lk + j) * dv + c);
                    st(d, (bh * lq + i) * dv + c, sum > 0.0 ? (float)(acc / sum) : 0.0f);
                }
            }
        }
    }
    free(p);
    return true;
}

static void op_conv2d(const xf_exec_node_t* n) {
    const xf_tref_t *x = &n->src[0], *w = &n->src[1], *d = &n->dst;
    int64_t c = x->ne[1], h = x->ne[2], wd = x->ne[3];
    int64_t o = d->ne[1], ho = d->ne[2], wo = d->ne[3], kh = w->ne[2], kw = w->ne[3];
    int g = n->params.conv2d.groups;
    int64_t cg = c / g, og = o / g;
    const int *s = n->params.conv2d.stride, *pd = n->params.conv2d.padding, *dl = n->params.conv2d.dilation;
    for (int64_t b = 0; b < x->ne[0]; ++b) {
        for (int64_t oc = 0; oc < o; ++oc) {
            int64_t grp = oc / og;
            for (int64_t oy = 0; oy < ho; ++oy) {
                for (int64_t ox = 0; ox < wo; ++ox) {
                    double acc = n->params.conv2d.has_bias ? ld(&n->src[2], oc) : 0.0;
                    for (int64_t ic = 0; ic < cg; ++ic) {
                        for (int64_t ky = 0; ky < kh; ++ky) {
                            int64_t iy = oy * s[0] - pd[0] + ky * dl[0];
                            if (iy < 0 || iy >= h) continue;
                            for (int64_t kx = 0; kx < kw; ++kx) {
                                int64_t ix = ox * s[1] - pd[1] + kx * dl[1];
                                if (ix < 0 || ix >= wd) continue;
                                acc += (double)ld(x, ((b * c + grp * cg + ic) * h + iy) * wd + ix) *
                                       ld(w, ((oc * cg + ic) * kh + ky) * kw + kx);
                            }
                        }
                    }
                    st(d, ((b * o + oc) * ho + oy) * wo + ox, (float)acc);
                }
            }
        }
    }
}

// Source coordinate of output index |i| along an axis of |in| -> |out| samples, as PyTorch computes it.
static void resize_coord(int64_t i, int64_t in, int64_t out, bool align, int64_t* i0, int64_t* i1, float* frac) {
    float src;
    if (align) {
        src = out > 1 ? (float)i * (float)(in - 1) / (float)(out - 1) : 0.0f;
    } else {
        src = ((float)i + 0.5f) * ((float)in / (float)out) - 0.5f;
        if (src < 0.0f) src = 0.0f;
    }
    int64_t lo = (int64_t)src;
    if (lo > in - 1) lo = in - 1;
    *i0 = lo;
    *i1 = lo + 1 < in ? lo + 1 : in - 1;
    *frac = src - (float)lo;
}

static void op_resize(const xf_exec_node_t* n) {
    const xf_tref_t *x = &n->src[0], *d = &n->dst;
    bool align = n->params.resize.align_corners;
    int64_t h = x->ne[2], w = x->ne[3], ho = d->ne[2], wo = d->ne[3];
    for (int64_t p = 0; p < d->ne[0] * d->ne[1]; ++p) {
        for (int64_t oy = 0; oy < ho; ++oy) {
            int64_t y0, y1;
            float fy;
            resize_coord(oy, h, ho, align, &y0, &y1, &fy);
            for (int64_t ox = 0; ox < wo; ++ox) {
                int64_t x0, x1;
                float fx;
                resize_coord(ox, w, wo, align, &x0, &x1, &fx);
                const int64_t b = p * h * w;
                float top = ld(x, b + y0 * w + x0) * (1.0f - fx) + ld(x, b + y0 * w + x1) * fx;
                float bot = ld(x, b + y1 * w + x0) * (1.0f - fx) + ld(x, b + y1 * w + x1) * fx;
                st(d, (p * ho + oy) * wo + ox, top * (1.0f - fy) + bot * fy);
            }
        }
    }
}

static void op_concat(const xf_exec_node_t* n) {
    const xf_tref_t* d = &n->dst;
    int ax = n->params.axis.axis;
    int64_t start = 0;
    for (int s = 0; s < n->params.axis.count; ++s) {
        const xf_tref_t* x = &n->src[s];
        int64_t i = 0;
        FOR4(x) {
            int64_t idx[4] = {i0, i1, i2, i3};
            idx[ax] += start;
            st(d, ((idx[0] * d->ne[1] + idx[1]) * d->ne[2] + idx[2]) * d->ne[3] + idx[3], ld(x, i++));
        }
        start += x->ne[ax];
    }
}

static void op_mean(const xf_exec_node_t* n) {
    const xf_tref_t *x = &n->src[0], *d = &n->dst;
    int ax = n->params.axis.axis;
    int64_t len = x->ne[ax], o = 0;
    FOR4(d) {
        double acc = 0.0;
        for (int64_t j = 0; j < len; ++j) {
            int64_t idx[4] = {i0, i1, i2, i3};
            idx[ax] = j;
            acc += ld(x, ((idx[0] * x->ne[1] + idx[1]) * x->ne[2] + idx[2]) * x->ne[3] + idx[3]);
        }
        st(d, o++, (float)(acc / (double)len));
    }
}

static void op_argmax(const xf_exec_node_t* n) {
    const xf_tref_t* x = &n->src[0];
    int64_t c = x->ne[3], rows = xf_tref_elements(x) / c;
    int32_t* out = base_of(&n->dst);
    for (int64_t r = 0; r < rows; ++r) {
        int64_t best = 0;
        float bv = ld(x, r * c);
        for (int64_t i = 1; i < c; ++i) {
            float v = ld(x, r * c + i);
            if (v > bv || (isnan(v) && !isnan(bv))) {
                bv = v;
                best = i;
            }
        }
        out[r] = (int32_t)best;
    }
}

static void op_gather(const xf_exec_node_t* n) {
    const xf_tref_t *x = &n->src[0], *d = &n->dst;
    const int32_t* index = base_of(&n->src[1]);
    int ax = n->params.axis.axis;
    int64_t o = 0;
    FOR4(d) {
        int64_t idx[4] = {i0, i1, i2, i3};
        int32_t j = index[idx[ax]];
        float v = 0.0f;
        if (j >= 0 && j < x->ne[ax]) {
            idx[ax] = j;
            v = ld(x, ((idx[0] * x->ne[1] + idx[1]) * x->ne[2] + idx[2]) * x->ne[3] + idx[3]);
        }
        st(d, o++, v);
    }
}

xf_status_t xf_cpu_run_node(const xf_exec_node_t* node, xf_err_t* err) {
    switch (node->op) {
        case XF_OP_COPY: op_copy(node); break;
        case XF_OP_MATMUL: op_matmul(node); break;
        case XF_OP_ADD:
        case XF_OP_MUL: op_binary(node); break;
        case XF_OP_SCALE: op_scale(node); break;
        case XF_OP_LAYERNORM:
        case XF_OP_RMSNORM: op_norm(node); break;
        case XF_OP_SOFTMAX:
            if (!op_softmax(node)) return xf_err_set(err, XF_ERR_OUT_OF_MEMORY, "out of host memory");
            break;
        case XF_OP_UNARY: op_unary(node); break;
        case XF_OP_GLU: op_glu(node); break;
        case XF_OP_ATTENTION:
            if (!op_attention(node)) return xf_err_set(err, XF_ERR_OUT_OF_MEMORY, "out of host memory");
            break;
        case XF_OP_CONV2D: op_conv2d(node); break;
        case XF_OP_RESIZE: op_resize(node); break;
        case XF_OP_CONCAT: op_concat(node); break;
        case XF_OP_MEAN: op_mean(node); break;
        case XF_OP_ARGMAX: op_argmax(node); break;
        case XF_OP_GATHER: op_gather(node); break;
        default: return xf_err_set(err, XF_ERR_UNIMPLEMENTED, "op %s", xf_op_name(node->op));
    }
    return XF_OK;
}
