// SPDX-License-Identifier: MIT
// Row reductions over the innermost dim: LAYERNORM, RMSNORM, SOFTMAX.
// One work-item per row, no barriers; statistics in float.

// mode 0: layernorm, 1: rmsnorm. |w|/|b| are read only when has_w/has_b.
__kernel void norm(__global const st_t* src, int s_off, __global const st_t* w, int w_off,
                   __global const st_t* b, int b_off, __global st_t* dst, int d_off, int rows, int cols,
                   float eps, int mode, int has_w, int has_b) {
    int r = get_global_id(0);
    if (r >= rows) return;
    __global const st_t* x = src + s_off + r * cols;
    float mean = 0.0f;
    if (mode == 0) {
        float sum = 0.0f;
        for (int j = 0; j < cols; ++j) sum += LD(x, j);
        mean = sum / cols;
    }
    float var = 0.0f;
    for (int j = 0; j < cols; ++j) {
        float d = LD(x, j) - mean;
        var += d * d;
    }
    float inv = 1.0f / sqrt(var / cols + eps);
    for (int j = 0; j < cols; ++j) {
        float y = (LD(x, j) - mean) * inv;
        if (has_w) y *= LD(w, w_off + j);
        if (has_b) y += LD(b, b_off + j);
        ST(dst, d_off + r * cols + j, y);
    }
}

// dst = softmax(src * scale + mask) over the innermost dim; may run in place. |ms| are the mask's
// broadcast strides (0 along dims of size 1); the mask is read only when has_mask. Columns go 16 at
// a time (vector exp) when the mask row is contiguous or absent.
inline float xf_sm_in(__global const st_t* x, __global const st_t* mask, int mrow, int ms, int j, float scale,
                      int has_mask) {
    return LD(x, j) * scale + (has_mask ? LD(mask, mrow + j * ms) : 0.0f);
}

inline float16 xf_sm_in16(__global const st_t* x, __global const st_t* mask, int mrow, int j, float scale,
                          int has_mask) {
    float16 v = LD16(x + j) * scale;
    return has_mask ? v + LD16(mask + mrow + j) : v;
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
    int vec_end = (!has_mask || ms.w == 1) ? cols / 16 * 16 : 0;
    float16 mx16 = -INFINITY;
    for (int j = 0; j < vec_end; j += 16) mx16 = fmax(mx16, xf_sm_in16(x, mask, mrow, j, scale, has_mask));
    float8 m8 = fmax(mx16.lo, mx16.hi);
    float4 m4 = fmax(m8.lo, m8.hi);
    float mx = fmax(fmax(m4.x, m4.y), fmax(m4.z, m4.w));
    for (int j = vec_end; j < cols; ++j) mx = fmax(mx, xf_sm_in(x, mask, mrow, ms.w, j, scale, has_mask));
    // exp once: written to y, then scaled in place (y may be src: each element is read before it is
    // written).
    float16 sum16 = 0.0f;
    for (int j = 0; j < vec_end; j += 16) {
        float16 e = exp(xf_sm_in16(x, mask, mrow, j, scale, has_mask) - mx);
        sum16 += e;
        ST16(y + j, e);
    }
    float sum = 0.0f;
    for (int j = vec_end; j < cols; ++j) {
        float e = exp(xf_sm_in(x, mask, mrow, ms.w, j, scale, has_mask) - mx);
        sum += e;
        ST(y, j, e);
    }
    float8 s8 = sum16.lo + sum16.hi;
    float4 s4 = s8.lo + s8.hi;
    sum += (s4.x + s4.y) + (s4.z + s4.w);
    float inv = 1.0f / sum;
    for (int j = 0; j < vec_end; j += 16) ST16(y + j, LD16(y + j) * inv);
    for (int j = vec_end; j < cols; ++j) ST(y, j, LD(y, j) * inv);
}
