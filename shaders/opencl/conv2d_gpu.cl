// SPDX-License-Identifier: MIT
// CONV2D, GPU-style variant: implicit GEMM per (image, group), out[o, pixel] = sum_k w[o, k] *
// im2col(x)[k, pixel] with k = (c, kh, kw); XF_TILE x XF_TILE tiles of both staged in local
// memory. Work-group (XF_TILE, XF_TILE, 1); dim 0 = output pixel, dim 1 = output channel in the
// group, dim 2 = n * groups + group. Layouts and parameters as in conv2d_cpu.cl.
__kernel void conv_gpu(__global const st_t* x, int x_off, __global const st_t* w, int w_off,
                       __global const st_t* bias, int bias_off, __global st_t* dst, int d_off, int4 xs,
                       int4 ds, int KH, int KW, int4 p, int2 dl, int groups, int ocb, int has_bias) {
    __local float Ws[XF_TILE][XF_TILE];
    __local float Xs[XF_TILE][XF_TILE + 1];
    int C = xs.y, H = xs.z, W = xs.w, O = ds.y, Ho = ds.z, Wo = ds.w;
    int Cg = C / groups, Og = O / groups, KK = Cg * KH * KW, P = Ho * Wo;
    int tx = get_local_id(0), ty = get_local_id(1);
    int pix = get_group_id(0) * XF_TILE + tx, o = get_group_id(1) * XF_TILE + ty;
    int ng = get_global_id(2), g = ng % groups, n = ng / groups;
    int ho = pix / Wo, wo = pix - (pix / Wo) * Wo;
    float acc = 0.0f;
    for (int k0 = 0; k0 < KK; k0 += XF_TILE) {
        int kw_idx = k0 + tx;
        Ws[ty][tx] = (o < Og && kw_idx < KK) ? LD(w, w_off + (g * Og + o) * KK + kw_idx) : 0.0f;
        // Xs[kk][pixel]: work-item (tx, ty) loads k = k0 + ty for its pixel.
        int k = k0 + ty;
        float xv = 0.0f;
        if (pix < P && k < KK) {
            int c = k / (KH * KW), r = k - c * (KH * KW);
            int kh = r / KW, kw = r - kh * KW;
            int hi = ho * p.x - p.z + kh * dl.x, wi = wo * p.y - p.w + kw * dl.y;
            if (hi >= 0 && hi < H && wi >= 0 && wi < W)
                xv = LD(x, x_off + ((n * C + g * Cg + c) * H + hi) * W + wi);
        }
        Xs[ty][tx] = xv;
        barrier(CLK_LOCAL_MEM_FENCE);
        for (int kk = 0; kk < XF_TILE; ++kk) acc = fma(Ws[ty][kk], Xs[kk][tx], acc);
        barrier(CLK_LOCAL_MEM_FENCE);
    }
    if (o < Og && pix < P && n < ds.x) {
        int oc = g * Og + o;
        float v = acc + (has_bias ? LD(bias, bias_off + oc) : 0.0f);
        ST(dst, d_off + (n * O + oc) * P + pix, v);
    }
}
