// SPDX-License-Identifier: MIT
// Row reductions over the innermost dim: LAYERNORM, RMSNORM, SOFTMAX.
// One work-item per row, no barriers; statistics in float.

// mode 0: layernorm, 1: rmsnorm. |w|/|b| are read only when has_w/has_b.
__kernel void norm(__global const st_t* src, int s_off, __global const st_t* w, int w_off, __global const st_t* b,
                   int b_off, __global st_t* dst, int d_off, int rows, int cols, float eps, int mode, int has_w,
                   int has_b) {
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

// dst = softmax(src * scale + mask) over the innermost dim. |ms| are the mask's broadcast strides
// (0 along dims of size 1); the mask is read only when has_mask.
__kernel void softmax(__global const st_t* src, int s_off, __global const st_t* mask, int m_off, int4 ms,
                      __global st_t* dst, int d_off, int4 ne, float scale, int has_mask) {
    int r = get_global_id(0);
    int rows = ne.x * ne.y * ne.z, cols = ne.w;
    if (r >= rows) return;
    int4 c = xf_coords(r * cols, ne);
    __global const st_t* x = src + s_off + r * cols;
    int mrow = m_off + xf_dot4i(c, ms);
    float mx = -INFINITY;
    for (int j = 0; j < cols; ++j) {
        float v = LD(x, j) * scale + (has_mask ? LD(mask, mrow + j * ms.w) : 0.0f);
        mx = fmax(mx, v);
    }
    float sum = 0.0f;
    for (int j = 0; j < cols; ++j) {
        float v = LD(x, j) * scale + (has_mask ? LD(mask, mrow + j * ms.w) : 0.0f);
        sum += exp(v - mx);
    }
    float inv = 1.0f / sum;
    for (int j = 0; j < cols; ++j) {
        float v = LD(x, j) * scale + (has_mask ? LD(mask, mrow + j * ms.w) : 0.0f);
        ST(dst, d_off + r * cols + j, exp(v - mx) * inv);
    }
}
