// SPDX-License-Identifier: MIT
// Data movement and small reductions: RESIZE (bilinear), CONCAT, REDUCE, ARGMAX, GATHER.
// One work-item per dst element (ARGMAX: per row). Shapes are 4-D, ne.x outermost.

inline int xf_get(int4 v, int axis) {
    return axis == 0 ? v.x : axis == 1 ? v.y : axis == 2 ? v.z : v.w;
}
inline int4 xf_set(int4 v, int axis, int val) {
    if (axis == 0)
        v.x = val;
    else if (axis == 1)
        v.y = val;
    else if (axis == 2)
        v.z = val;
    else
        v.w = val;
    return v;
}
inline int xf_dense_index(int4 c, int4 ne) {
    return ((c.x * ne.y + c.y) * ne.z + c.z) * ne.w + c.w;
}

// src [N, C, H, W] -> dst [N, C, Ho, Wo], PyTorch bilinear semantics for both align_corners values.
inline float xf_resize_src(int o, int in, int out, int align) {
    if (align) return out > 1 ? (float)o * (float)(in - 1) / (float)(out - 1) : 0.0f;
    return fmax(((float)o + 0.5f) * ((float)in / (float)out) - 0.5f, 0.0f);
}

__kernel void resize(__global const st_t* src, int s_off, __global st_t* dst, int d_off, int4 sne, int4 dne,
                     int n, int align) {
    int i = get_global_id(0);
    if (i >= n) return;
    int4 c = xf_coords(i, dne);
    float sy = xf_resize_src(c.z, sne.z, dne.z, align), sx = xf_resize_src(c.w, sne.w, dne.w, align);
    int y0 = min((int)sy, sne.z - 1), x0 = min((int)sx, sne.w - 1);
    int y1 = min(y0 + 1, sne.z - 1), x1 = min(x0 + 1, sne.w - 1);
    float ly = sy - y0, lx = sx - x0;
    __global const st_t* p = src + s_off + (c.x * sne.y + c.y) * sne.z * sne.w;
    float top = (1.0f - lx) * LD(p, y0 * sne.w + x0) + lx * LD(p, y0 * sne.w + x1);
    float bot = (1.0f - lx) * LD(p, y1 * sne.w + x0) + lx * LD(p, y1 * sne.w + x1);
    ST(dst, d_off + i, (1.0f - ly) * top + ly * bot);
}

// Up to 4 dense sources along |axis|; |end| holds each source's exclusive end position on the axis.
__kernel void concat(__global const st_t* s0, int o0, __global const st_t* s1, int o1,
                     __global const st_t* s2, int o2, __global const st_t* s3, int o3, __global st_t* dst,
                     int d_off, int4 ne, int4 end, int axis, int n) {
    int i = get_global_id(0);
    if (i >= n) return;
    int4 c = xf_coords(i, ne);
    int a = xf_get(c, axis);
    int s = a < end.x ? 0 : a < end.y ? 1 : a < end.z ? 2 : 3;
    int start = s == 0 ? 0 : s == 1 ? end.x : s == 2 ? end.y : end.z;
    int stop = s == 0 ? end.x : s == 1 ? end.y : s == 2 ? end.z : end.w;
    int4 sne = xf_set(ne, axis, stop - start);
    int si = xf_dense_index(xf_set(c, axis, a - start), sne);
    float v = s == 0   ? LD(s0, o0 + si)
              : s == 1 ? LD(s1, o1 + si)
              : s == 2 ? LD(s2, o2 + si)
                       : LD(s3, o3 + si);
    ST(dst, d_off + i, v);
}

// dst = the XF_RED_* reduction of src over |axis|; dst has ne[axis] = 1.
__kernel void reduce_axis(__global const st_t* src, int s_off, __global st_t* dst, int d_off, int4 sne,
                          int axis, int n, int fn) {
    int i = get_global_id(0);
    if (i >= n) return;
    int4 dne = xf_set(sne, axis, 1);
    int4 c = xf_coords(i, dne);
    int len = xf_get(sne, axis);
    int stride = axis == 0 ? sne.y * sne.z * sne.w : axis == 1 ? sne.z * sne.w : axis == 2 ? sne.w : 1;
    int base = s_off + xf_dense_index(c, sne);
    float acc = LD(src, base);
    if (fn == XF_RED_MAX) {
        for (int j = 1; j < len; ++j) acc = fmax(acc, LD(src, base + j * stride));
    } else if (fn == XF_RED_MIN) {
        for (int j = 1; j < len; ++j) acc = fmin(acc, LD(src, base + j * stride));
    } else {
        for (int j = 1; j < len; ++j) acc += LD(src, base + j * stride);
        if (fn == XF_RED_MEAN) acc /= len;
    }
    ST(dst, d_off + i, acc);
}

// dst[r] = index of the first maximum of src row r (i32).
__kernel void argmax_rows(__global const st_t* src, int s_off, __global int* dst, int d_off, int rows,
                          int cols) {
    int r = get_global_id(0);
    if (r >= rows) return;
    __global const st_t* x = src + s_off + r * cols;
    float best = LD(x, 0);
    int bi = 0;
    for (int j = 1; j < cols; ++j) {
        float v = LD(x, j);
        if (v > best) {
            best = v;
            bi = j;
        }
    }
    dst[d_off + r] = bi;
}

// dst = src with ne[axis] replaced by the M gathered indices; out-of-range indices give 0.
__kernel void gather(__global const st_t* src, int s_off, __global const int* idx, int i_off,
                     __global st_t* dst, int d_off, int4 sne, int4 dne, int axis, int n) {
    int i = get_global_id(0);
    if (i >= n) return;
    int4 c = xf_coords(i, dne);
    int j = idx[i_off + xf_get(c, axis)];
    float v = 0.0f;
    if (j >= 0 && j < xf_get(sne, axis)) v = LD(src, s_off + xf_dense_index(xf_set(c, axis, j), sne));
    ST(dst, d_off + i, v);
}
