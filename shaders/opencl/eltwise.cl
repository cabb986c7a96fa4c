// SPDX-License-Identifier: MIT
// Element-wise ops: BINARY (XF_BIN_*) with broadcasting, UNARY (XF_UFN_* of x * mul + add), GLU and
// WHERE. One work-item per dst element unless noted. Broadcast strides are 0 along dims of size 1.

inline float xf_binary(float x, float y, int fn) {
    switch (fn) {
        case XF_BIN_MUL: return x * y;
        case XF_BIN_SUB: return x - y;
        case XF_BIN_DIV: return x / y;
        case XF_BIN_POW: return pow(x, y);
        default: return x + y;
    }
}

__kernel void binary(__global const st_t* a, int a_off, int4 sa, __global const st_t* b, int b_off, int4 sb,
                     __global st_t* dst, int d_off, int4 ne, int n, int fn) {
    int i = get_global_id(0);
    if (i >= n) return;
    int4 c = xf_coords(i, ne);
    float x = LD(a, a_off + xf_dot4i(c, sa));
    float y = LD(b, b_off + xf_dot4i(c, sb));
    ST(dst, d_off + i, xf_binary(x, y, fn));
}

// 16 elements per work-item.
__kernel void unary(__global const st_t* src, int s_off, __global st_t* dst, int d_off, int n, int fn, float mul,
                    float add, float lo, float hi) {
    int i = get_global_id(0) * 16;
    if (i >= n) return;
    if (i + 16 <= n) {
        ST16(dst + d_off + i, xf_ufn16(LD16(src + s_off + i) * mul + add, fn, lo, hi));
        return;
    }
    for (; i < n; ++i) ST(dst, d_off + i, xf_ufn(LD(src, s_off + i) * mul + add, fn, lo, hi));
}

// src [rows, 2h] -> dst [rows, h]: act(src[r, j]) * src[r, h + j]. 16 outputs per work-item; a run
// of 16 never crosses a row when h % 16 == 0, else each element is handled on its own.
__kernel void glu(__global const st_t* src, int s_off, __global st_t* dst, int d_off, int n, int h, int act) {
    int i0 = get_global_id(0) * 16;
    if (i0 >= n) return;
    if (h % 16 == 0 && i0 + 16 <= n) {
        int r = i0 / h, j = i0 - r * h;
        __global const st_t* s = src + s_off + r * 2 * h + j;
        ST16(dst + d_off + i0, xf_act16(LD16(s), act) * LD16(s + h));
        return;
    }
    for (int i = i0; i < min(i0 + 16, n); ++i) {
        int r = i / h, j = i - r * h;
        int s = s_off + r * 2 * h + j;
        ST(dst, d_off + i, xf_act(LD(src, s), act) * LD(src, s + h));
    }
}

// WHERE: dst = cond != 0 ? a : b; the condition has the storage type of a and b, or i32.
__kernel void where_select(__global const st_t* c, int c_off, int4 sc, __global const st_t* a, int a_off, int4 sa,
                           __global const st_t* b, int b_off, int4 sb, __global st_t* dst, int d_off, int4 ne,
                           int n) {
    int i = get_global_id(0);
    if (i >= n) return;
    int4 k = xf_coords(i, ne);
    bool take_a = LD(c, c_off + xf_dot4i(k, sc)) != 0.0f;
    ST(dst, d_off + i, take_a ? LD(a, a_off + xf_dot4i(k, sa)) : LD(b, b_off + xf_dot4i(k, sb)));
}

__kernel void where_select_i32(__global const int* c, int c_off, int4 sc, __global const st_t* a, int a_off,
                               int4 sa, __global const st_t* b, int b_off, int4 sb, __global st_t* dst, int d_off,
                               int4 ne, int n) {
    int i = get_global_id(0);
    if (i >= n) return;
    int4 k = xf_coords(i, ne);
    bool take_a = c[c_off + xf_dot4i(k, sc)] != 0;
    ST(dst, d_off + i, take_a ? LD(a, a_off + xf_dot4i(k, sa)) : LD(b, b_off + xf_dot4i(k, sb)));
}
