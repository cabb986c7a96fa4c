// SPDX-License-Identifier: MIT
// Image families: CONV2D (NCHW, grouped, strided, dilated) and RESIZE (bilinear).
#include <string.h>

#include "ops/ops_internal.h"

xf_status_t xf_conv2d(xf_graph_t* graph, xf_tensor_t* x, xf_tensor_t* weight, xf_tensor_t* bias,
                      const xf_conv2d_params_t* params, xf_tensor_t** out) {
    const char* fn = "xf_conv2d";
    XF_CHECK(xf_op_begin(graph, fn, out));
    XF_CHECK(xf_op_check_input(graph, XF_OP_CONV2D, fn, x, "x"));
    XF_CHECK(xf_op_check_input(graph, XF_OP_CONV2D, fn, weight, "weight"));
    XF_CHECK(xf_op_check_same_dtype(graph, fn, x, weight, "weight"));
    xf_conv2d_params_t cp = {{1, 1}, {0, 0}, {1, 1}, 1};
    if (params) cp = *params;
    for (int i = 0; i < 2; ++i) {
        if (cp.stride[i] == 0) cp.stride[i] = 1;
        if (cp.dilation[i] == 0) cp.dilation[i] = 1;
        if (cp.stride[i] < 0 || cp.dilation[i] < 0 || cp.padding[i] < 0) {
            return xf_op_fail(graph, fn, "stride, dilation and padding must be non-negative");
        }
    }
    if (cp.groups == 0) cp.groups = 1;
    if (x->ndim != 4 || weight->ndim != 4) {
        return xf_op_fail(graph, fn, "x must be [N, C, H, W] and weight [O, C/g, KH, KW]");
    }
    int64_t c = x->shape[1], o = weight->shape[0];
    if (cp.groups < 0 || c % cp.groups || o % cp.groups || weight->shape[1] * cp.groups != c) {
        char sx[96], sw[96];
        xf_op_shape_str(x, sx, sizeof sx);
        xf_op_shape_str(weight, sw, sizeof sw);
        return xf_op_fail(graph, fn, "x %s and weight '%s' %s do not fit groups=%d", sx, weight->name, sw, cp.groups);
    }
    XF_CHECK(xf_op_check_vector(graph, fn, bias, x, o, "bias"));
    int64_t ho = (x->shape[2] + 2 * cp.padding[0] - cp.dilation[0] * (weight->shape[2] - 1) - 1) / cp.stride[0] + 1;
    int64_t wo = (x->shape[3] + 2 * cp.padding[1] - cp.dilation[1] * (weight->shape[3] - 1) - 1) / cp.stride[1] + 1;
    if (ho <= 0 || wo <= 0) return xf_op_fail(graph, fn, "the kernel is larger than the padded input");
    int64_t shape[4] = {x->shape[0], o, ho, wo};
    xf_op_params_t p;
    memset(&p, 0, sizeof p);
    for (int i = 0; i < 2; ++i) {
        p.conv2d.stride[i] = cp.stride[i];
        p.conv2d.padding[i] = cp.padding[i];
        p.conv2d.dilation[i] = cp.dilation[i];
    }
    p.conv2d.groups = cp.groups;
    p.conv2d.has_bias = bias != NULL;
    xf_tensor_t* src[3] = {x, weight, bias};
    return xf_graph_append(graph, XF_OP_CONV2D, src, 3, &p, x->dtype, 4, shape, out);
}

xf_status_t xf_ref_conv2d(const xf_exec_node_t* n, xf_err_t* err) {
    (void)err;
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
                    double acc = n->params.conv2d.has_bias ? xf_ref_ld(&n->src[2], oc) : 0.0;
                    for (int64_t ic = 0; ic < cg; ++ic) {
                        for (int64_t ky = 0; ky < kh; ++ky) {
                            int64_t iy = oy * s[0] - pd[0] + ky * dl[0];
                            if (iy < 0 || iy >= h) continue;
                            for (int64_t kx = 0; kx < kw; ++kx) {
                                int64_t ix = ox * s[1] - pd[1] + kx * dl[1];
                                if (ix < 0 || ix >= wd) continue;
                                acc += (double)xf_ref_ld(x, ((b * c + grp * cg + ic) * h + iy) * wd + ix) *
                                       xf_ref_ld(w, ((oc * cg + ic) * kh + ky) * kw + kx);
                            }
                        }
                    }
                    xf_ref_st(d, ((b * o + oc) * ho + oy) * wo + ox, (float)acc);
                }
            }
        }
    }
    return XF_OK;
}

xf_status_t xf_resize_bilinear(xf_graph_t* graph, xf_tensor_t* x, int64_t out_h, int64_t out_w, bool align_corners,
                               xf_tensor_t** out) {
    const char* fn = "xf_resize_bilinear";
    XF_CHECK(xf_op_begin(graph, fn, out));
    XF_CHECK(xf_op_check_input(graph, XF_OP_RESIZE, fn, x, "x"));
    if (x->ndim != 4) return xf_op_fail(graph, fn, "x must be [N, C, H, W]");
    if (out_h <= 0 || out_w <= 0) return xf_op_fail(graph, fn, "output size must be positive");
    int64_t shape[4] = {x->shape[0], x->shape[1], out_h, out_w};
    xf_op_params_t p = {.resize = {align_corners}};
    return xf_graph_append(graph, XF_OP_RESIZE, &x, 1, &p, x->dtype, 4, shape, out);
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

xf_status_t xf_ref_resize(const xf_exec_node_t* n, xf_err_t* err) {
    (void)err;
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
                float top = xf_ref_ld(x, b + y0 * w + x0) * (1.0f - fx) + xf_ref_ld(x, b + y0 * w + x1) * fx;
                float bot = xf_ref_ld(x, b + y1 * w + x0) * (1.0f - fx) + xf_ref_ld(x, b + y1 * w + x1) * fx;
                xf_ref_st(d, (p * ho + oy) * wo + ox, top * (1.0f - fy) + bot * fy);
            }
        }
    }
    return XF_OK;
}
