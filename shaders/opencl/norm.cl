// SPDX-License-Identifier: MIT
// Row reductions over the innermost dim: LAYERNORM, RMSNORM, SOFTMAX.
// One work-item per row, no barriers; statistics in float.

// Rows go XF_VW_ROW floats at a time (the host sets it from the device's native vector width:
// -DXF_VW_ROW=4|8|16), then element by element for the tail.
#ifndef XF_VW_ROW
#define XF_VW_ROW 16
#endif
#define XF_RCAT_(a, b) a##b
#define XF_RCAT(a, b) XF_RCAT_(a, b)
#define rvf XF_RCAT(float, XF_VW_ROW)
#if XF_F16
#define LDR(p) XF_RCAT(vload_half, XF_VW_ROW)(0, (p))
#define STR(p, v) XF_RCAT(vstore_half, XF_VW_ROW)((v), 0, (p))
#else
#define LDR(p) XF_RCAT(vload, XF_VW_ROW)(0, (p))
#define STR(p, v) XF_RCAT(vstore, XF_VW_ROW)((v), 0, (p))
#endif

inline float xf_row_sum(rvf v) {
#if XF_VW_ROW == 16
    float8 h8 = v.lo + v.hi;
#elif XF_VW_ROW == 8
    float8 h8 = v;
#endif
#if XF_VW_ROW >= 8
    float4 h4 = h8.lo + h8.hi;
#else
    float4 h4 = v;
#endif
    return (h4.x + h4.y) + (h4.z + h4.w);
}

inline float xf_row_max(rvf v) {
#if XF_VW_ROW == 16
    float8 h8 = fmax(v.lo, v.hi);
#elif XF_VW_ROW == 8
    float8 h8 = v;
#endif
#if XF_VW_ROW >= 8
    float4 h4 = fmax(h8.lo, h8.hi);
#else
    float4 h4 = v;
#endif
    return fmax(fmax(h4.x, h4.y), fmax(h4.z, h4.w));
}

// mode 0: layernorm, 1: rmsnorm. |w|/|b| are read only when has_w/has_b.
__kernel void norm(__global const st_t* src, int s_off, __global const st_t* w, int w_off,
                   __global const st_t* b, int b_off, __global st_t* dst, int d_off, int rows, int cols,
                   float eps, int mode, int has_w, int has_b) {
    int r = get_global_id(0);
    if (r >= rows) return;
    __global const st_t* x = src + s_off + r * cols;
    __global st_t* y = dst + d_off + r * cols;
    int vec_end = cols / XF_VW_ROW * XF_VW_ROW;
    float mean = 0.0f;
    if (mode == 0) {
        rvf s = 0.0f;
        for (int j = 0; j < vec_end; j += XF_VW_ROW) s += LDR(x + j);
        float sum = xf_row_sum(s);
        for (int j = vec_end; j < cols; ++j) sum += LD(x, j);
        mean = sum / cols;
    }
    rvf v = 0.0f;
    for (int j = 0; j < vec_end; j += XF_VW_ROW) {
        rvf d = LDR(x + j) - mean;
        v = fma(d, d, v);
    }
    float var = xf_row_sum(v);
    for (int j = vec_end; j < cols; ++j) {
        float d = LD(x, j) - mean;
        var += d * d;
    }
    float inv = 1.0f / sqrt(var / cols + eps);
    for (int j = 0; j < vec_end; j += XF_VW_ROW) {
        rvf t = (LDR(x + j) - mean) * inv;
        if (has_w) t *= LDR(w + w_off + j);
        if (has_b) t += LDR(b + b_off + j);
        STR(y + j, t);
    }
    for (int j = vec_end; j < cols; ++j) {
        float t = (LD(x, j) - mean) * inv;
        if (has_w) t *= LD(w, w_off + j);
        if (has_b) t += LD(b, b_off + j);
        ST(y, j, t);
    }
}

// dst = softmax(src * scale + mask) over the innermost dim; may run in place. |ms| are the mask's
// broadcast strides (0 along dims of size 1); the mask is read only when has_mask. Columns go
// XF_VW_ROW at a time (vector exp) when the mask row is contiguous or absent.
inline float xf_sm_in(__global const st_t* x, __global const st_t* mask, int mrow, int ms, int j, float scale,
                      int has_mask) {
    return LD(x, j) * scale + (has_mask ? LD(mask, mrow + j * ms) : 0.0f);
}

inline rvf xf_sm_inv(__global const st_t* x, __global const st_t* mask, int mrow, int j, float scale, int has_mask) {
    rvf v = LDR(x + j) * scale;
    return has_mask ? v + LDR(mask + mrow + j) : v;
}

__kernel void softmax(__global const st_t* src, int s_off, __global const st_t* mask, int m_off, int4 ms,
                      __global st_t* dst, int d_off, int4 ne, float scale, int has_mask) {
    int r = get_global_id(0);
    int rows = ne.x * ne.y * ne.z, cols = ne.w;
    if (r >= rows) return;
    int4 c = xf_coords(r * cols, ne);
    __global const st_t* x = src + s_off + r * cols;
    __global st_t* y = dst + d_off + r * cols;
    int mrow = m_off + xf_dot4i(c, ms);
    int vec_end = (!has_mask || ms.w == 1) ? cols / XF_VW_ROW * XF_VW_ROW : 0;
    rvf mxv = -INFINITY;
    for (int j = 0; j < vec_end; j += XF_VW_ROW) mxv = fmax(mxv, xf_sm_inv(x, mask, mrow, j, scale, has_mask));
    float mx = xf_row_max(mxv);
    for (int j = vec_end; j < cols; ++j) mx = fmax(mx, xf_sm_in(x, mask, mrow, ms.w, j, scale, has_mask));
    // exp once: written to y, then scaled in place (y may be src: each element is read before it is
    // written).
    rvf sumv = 0.0f;
    for (int j = 0; j < vec_end; j += XF_VW_ROW) {
        rvf e = exp(xf_sm_inv(x, mask, mrow, j, scale, has_mask) - mx);
        sumv += e;
        STR(y + j, e);
    }
    float sum = xf_row_sum(sumv);
    for (int j = vec_end; j < cols; ++j) {
        float e = exp(xf_sm_in(x, mask, mrow, ms.w, j, scale, has_mask) - mx);
        sum += e;
        ST(y, j, e);
    }
    float inv = 1.0f / sum;
    for (int j = 0; j < vec_end; j += XF_VW_ROW) STR(y + j, LDR(y + j) * inv);
    for (int j = vec_end; j < cols; ++j) ST(y, j, LD(y, j) * inv);
}
