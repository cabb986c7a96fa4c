// SPDX-License-Identifier: MIT
// CONV2D, CPU-style variant: each work-item computes CV_CO output channels x CV_WO output columns
// of one output row, in registers, no barriers.
// x [N, C, H, W], w [O, C/g, KH, KW], bias [O], dst [N, O, Ho, Wo].
// Work-items: dim 0 = column block, dim 1 = output row, dim 2 = (n * g + group) * ocb + channel block,
// where ocb = ceil((O/g) / CV_CO). |p| = {stride h, stride w, pad h, pad w}, |dl| = dilation (h, w).
#ifndef CV_CO
#define CV_CO 4  // output channels per work-item
#endif
#ifndef CV_WO
#define CV_WO 16  // output columns per work-item
#endif

__kernel void conv_cpu(__global const st_t* x, int x_off, __global const st_t* w, int w_off,
                       __global const st_t* bias, int bias_off, __global st_t* dst, int d_off, int4 xs,
                       int4 ds, int KH, int KW, int4 p, int2 dl, int groups, int ocb, int has_bias) {
    int C = xs.y, H = xs.z, W = xs.w, O = ds.y, Ho = ds.z, Wo = ds.w;
    int wo0 = get_global_id(0) * CV_WO, ho = get_global_id(1), z = get_global_id(2);
    int Cg = C / groups, Og = O / groups;
    int ob = z % ocb, ng = z / ocb, g = ng % groups, n = ng / groups;
    if (wo0 >= Wo || ho >= Ho || n >= ds.x) return;
    int o0 = g * Og + ob * CV_CO;
    int on = min(CV_CO, Og - ob * CV_CO);
    float acc[CV_CO][CV_WO];
    for (int o = 0; o < CV_CO; ++o)
        for (int j = 0; j < CV_WO; ++j) acc[o][j] = 0.0f;
    for (int c = 0; c < Cg; ++c) {
        __global const st_t* xc = x + x_off + ((n * C) + g * Cg + c) * H * W;
        for (int kh = 0; kh < KH; ++kh) {
            int hi = ho * p.x - p.z + kh * dl.x;
            if (hi < 0 || hi >= H) continue;
            for (int kw = 0; kw < KW; ++kw) {
                float xv[CV_WO];
                for (int j = 0; j < CV_WO; ++j) {
                    int wi = (wo0 + j) * p.y - p.w + kw * dl.y;
                    xv[j] = (wi >= 0 && wi < W) ? LD(xc, hi * W + wi) : 0.0f;
                }
                for (int o = 0; o < CV_CO; ++o) {
                    float wv = o < on ? LD(w, w_off + (((o0 + o) * Cg + c) * KH + kh) * KW + kw) : 0.0f;
                    for (int j = 0; j < CV_WO; ++j) acc[o][j] = fma(wv, xv[j], acc[o][j]);
                }
            }
        }
    }
    for (int o = 0; o < on; ++o) {
        float b = has_bias ? LD(bias, bias_off + o0 + o) : 0.0f;
        __global st_t* out = dst + d_off + ((n * O + o0 + o) * Ho + ho) * Wo;
        for (int j = 0; j < CV_WO && wo0 + j < Wo; ++j) ST(out, wo0 + j, acc[o][j] + b);
    }
}
