// SPDX-License-Identifier: MIT
// WINDOW_ATTENTION (Swin W-MSA / SW-MSA) straight from the token grid: qkv [B, H, W, 3C] -> dst [B, H, W, C].
// The rolled, padded grid and its windows are index arithmetic: grid position p along an axis holds
// token (p + shift) mod size, positions past the size are padding tokens (qkv |pad|, or zeros). The
// relative-position bias is read from |table| [rows, heads] at timm's index (or |index| [area, area]),
// and token pairs from different bands of a shifted window get |mask|. Online softmax in f32.
// |g| = (H, W, window h, window w), |sh| = (shift h, shift w, heads, head size). Both kernels are
// window-major: a work-group takes queries of one window, head and image.
#ifndef WA_GPU_DMAX
#define WA_GPU_DMAX 128  // largest head size the GPU-style kernel holds in registers and local memory
#endif
#ifndef WA_WG
#define WA_WG 64  // queries per work-group of the GPU-style kernel
#endif

// timm's mask bands along one axis of |padded| positions (one band without shift).
int wa_band(int pos, int padded, int window, int shift) {
    return shift == 0 ? 0 : pos < padded - window ? 0 : pos < padded - shift ? 1 : 2;
}

// Element offset of the qkv row of grid position (gy, gx) of image |b|, or -1 for a padding token.
int wa_row(int b, int gy, int gx, int4 g, int4 sh) {
    if (gy >= g.x || gx >= g.y) return -1;
    int y = gy + sh.x, x = gx + sh.y;
    y -= y >= g.x ? g.x : 0;
    x -= x >= g.y ? g.y : 0;
    return ((b * g.x + y) * g.y + x) * 3 * sh.z * sh.w;
}

// The additive term of score (i, j) of head |h|: bias from the table plus the mask across bands.
float wa_bias(__global const st_t* table, int t_off, int rows, __global const int* index, int i_off, int has_index,
              int i, int j, int h, int4 g, int4 sh, int py, int px, int gy, int gx, int hp, int wp, float mask) {
    int ww = g.w, area = g.z * g.w;
    int r = has_index ? index[i_off + i * area + j]
                      : (i / ww - j / ww + g.z - 1) * (2 * ww - 1) + (i % ww - j % ww + ww - 1);
    float v = r >= 0 && r < rows ? LD(table, t_off + r * sh.z + h) : 0.0f;
    if (wa_band(py, hp, g.z, sh.x) != wa_band(gy, hp, g.z, sh.x) || wa_band(px, wp, g.w, sh.y) != wa_band(gx, wp, g.w, sh.y))
        v += mask;
    return v;
}

// The query a work-item of a window-major launch takes: work-groups along dim 0 are windows x chunks of
// |wg| queries; |*qy|, |*qx| its grid position, (*y0, *x0) its window's corner. False past the window or
// on a padding token.
bool wa_query(int wg, int4 g, int* i, int* y0, int* x0, int* qy, int* qx) {
    int area = g.z * g.w, wp = (g.y + g.w - 1) / g.w * g.w;
    int chunks = (area + wg - 1) / wg, win = get_group_id(0) / chunks;
    *i = (get_group_id(0) - win * chunks) * wg + get_local_id(0);
    *y0 = win / (wp / g.w) * g.z;
    *x0 = win % (wp / g.w) * g.w;
    int ic = min(*i, area - 1);
    *qy = *y0 + ic / g.w;
    *qx = *x0 + ic % g.w;
    return *i < area && *qy < g.x && *qx < g.y;
}

// CPU-style: one work-item per query, the work-items of a group the queries of one window and head (every
// key and value row read is the same for the whole group). The head size WA_HD is compiled in and walked in
// vectors of WA_VW floats, so q and the output row stay in vector registers; keys are visited row by row
// of the window, so the loop has no division. No barriers.
#ifdef WA_HD
#if WA_VW == 8
typedef float8 wa_vec;
#define WA_LD(p) LD8(p)
#define WA_HSUM(v) ((v).s0 + (v).s1 + (v).s2 + (v).s3 + (v).s4 + (v).s5 + (v).s6 + (v).s7)
#elif WA_VW == 4
typedef float4 wa_vec;
#define WA_LD(p) LD4(p)
#define WA_HSUM(v) (((v).x + (v).y) + ((v).z + (v).w))
#else
typedef float wa_vec;
#define WA_LD(p) LD(p, 0)
#define WA_HSUM(v) (v)
#endif
#define WA_NV (WA_HD / WA_VW)

__kernel void wattn_cpu(__global const st_t* qkv, int q_off, __global const st_t* table, int t_off, int rows,
                        __global const int* index, int i_off, int has_index, __global const st_t* pad, int p_off,
                        int has_pad, __global st_t* dst, int d_off, int4 g, int4 sh, float scale, float mask) {
    int h = get_global_id(1), b = get_global_id(2), i, y0, x0, py, px;
    if (!wa_query(get_local_size(0), g, &i, &y0, &x0, &py, &px)) return;
    const int C = sh.z * WA_HD, area = g.z * g.w, span = 2 * g.w - 1;
    const int hp = (g.x + g.z - 1) / g.z * g.z, wp = (g.y + g.w - 1) / g.w * g.w;
    const int iy = py - y0, ix = px - x0;
    const int qband_y = wa_band(py, hp, g.z, sh.x), qband_x = wa_band(px, wp, g.w, sh.y);
    __global const st_t* qr = qkv + q_off + wa_row(b, py, px, g, sh) + h * WA_HD;
    wa_vec q[WA_NV], acc[WA_NV];
    for (int v = 0; v < WA_NV; ++v) {
        q[v] = WA_LD(qr + v * WA_VW) * scale;
        acc[v] = 0.0f;
    }
    float mx = -INFINITY, sum = 0.0f;
    // Keys eight at a time along a window row, all loops of constant length: eight independent dot products
    // per step, and the softmax's exp, max and rescale on float8. A key past the row or a zero padding token
    // reads some valid row and is weighted out.
    for (int jy = 0; jy < g.z; ++jy) {
        const int gy = y0 + jy;
        const bool ymask = wa_band(gy, hp, g.z, sh.x) != qband_y;
        for (int jx0 = 0; jx0 < g.w; jx0 += 8) {
            __global const st_t* kp[8];
            float keep[8], sc[8];
            for (int k = 0; k < 8; ++k) {
                const int jx = min(jx0 + k, g.w - 1), gx = x0 + jx, row = wa_row(b, gy, gx, g, sh);
                kp[k] = (row >= 0 ? qkv + q_off + row : has_pad ? pad + p_off : qr - h * WA_HD) + C + h * WA_HD;
                keep[k] = row >= 0 || has_pad ? 1.0f : 0.0f;
                int r = has_index ? index[i_off + i * area + jy * g.w + jx]
                                  : (iy - jy + g.z - 1) * span + (ix - jx + g.w - 1);
                float bias = r >= 0 && r < rows ? LD(table, t_off + r * sh.z + h) : 0.0f;
                sc[k] = jx0 + k >= g.w ? -INFINITY
                        : ymask || wa_band(gx, wp, g.w, sh.y) != qband_x ? bias + mask : bias;
            }
            wa_vec d[8];
            for (int k = 0; k < 8; ++k) d[k] = 0.0f;
            for (int v = 0; v < WA_NV; ++v)
                for (int k = 0; k < 8; ++k) d[k] = fma(q[v], WA_LD(kp[k] + v * WA_VW), d[k]);
            for (int k = 0; k < 8; ++k) sc[k] += keep[k] * WA_HSUM(d[k]);
            float8 s8 = vload8(0, sc);
            float4 m4 = fmax(s8.lo, s8.hi);
            float mn = fmax(mx, fmax(fmax(m4.x, m4.y), fmax(m4.z, m4.w)));
            float corr = exp(mx - mn);
            float8 p8 = exp(s8 - mn);
            float4 p4 = p8.lo + p8.hi;
            sum = sum * corr + ((p4.x + p4.y) + (p4.z + p4.w));
            mx = mn;
            float pc[8];
            vstore8(p8 * vload8(0, keep), 0, pc);
            for (int v = 0; v < WA_NV; ++v) {
                wa_vec a = acc[v] * corr;
                for (int k = 0; k < 8; ++k) a = fma(pc[k], WA_LD(kp[k] + C + v * WA_VW), a);
                acc[v] = a;
            }
        }
    }
    int y = py + sh.x, x = px + sh.y;
    y -= y >= g.x ? g.x : 0;
    x -= x >= g.y ? g.y : 0;
    float inv = 1.0f / sum;
    __global st_t* o = dst + d_off + ((b * g.x + y) * g.y + x) * C + h * WA_HD;
    for (int v = 0; v < WA_NV; ++v) {
        wa_vec r = acc[v] * inv;
#if WA_VW == 1
        ST(o, v, r);
#else
        for (int e = 0; e < WA_VW; ++e) ST(o, v * WA_VW + e, ((float*)&r)[e]);
#endif
    }
}
#endif

// GPU-style: a work-group of WA_WG work-items takes WA_WG queries of one window, head and image
// (windows of more than WA_WG tokens take several groups); the window's keys and values are staged in
// local memory XF_TILE at a time. Needs head size <= WA_GPU_DMAX. Groups along dim 0: windows x chunks.
__kernel void wattn_gpu(__global const st_t* qkv, int q_off, __global const st_t* table, int t_off, int rows,
                        __global const int* index, int i_off, int has_index, __global const st_t* pad, int p_off,
                        int has_pad, __global st_t* dst, int d_off, int4 g, int4 sh, float scale, float mask) {
    __local float Ks[XF_TILE][WA_GPU_DMAX];
    __local float Vs[XF_TILE][WA_GPU_DMAX];
    int t = get_local_id(0), h = get_global_id(1), b = get_global_id(2), i, y0, x0, py, px;
    int C = sh.z * sh.w, hd = sh.w, area = g.z * g.w;
    int hp = (g.x + g.z - 1) / g.z * g.z, wp = (g.y + g.w - 1) / g.w * g.w;
    bool active = wa_query(WA_WG, g, &i, &y0, &x0, &py, &px);
    int ic = min(i, area - 1);
    int qrow = active ? wa_row(b, py, px, g, sh) : 0;
    float q[WA_GPU_DMAX];
    for (int c = 0; c < hd; ++c) q[c] = active ? LD(qkv, q_off + qrow + h * hd + c) * scale : 0.0f;
    float acc[WA_GPU_DMAX];
    for (int e = 0; e < hd; ++e) acc[e] = 0.0f;
    float mx = -INFINITY, sum = 0.0f;
    for (int j0 = 0; j0 < area; j0 += XF_TILE) {
        int jn = min(XF_TILE, area - j0);
        for (int e = t; e < XF_TILE * hd; e += WA_WG) {
            int r = e / hd, c = e - r * hd, j = j0 + r;
            float kv = 0.0f, vv = 0.0f;
            if (r < jn) {
                int row = wa_row(b, y0 + j / g.w, x0 + j % g.w, g, sh);
                if (row >= 0) {
                    kv = LD(qkv, q_off + row + C + h * hd + c);
                    vv = LD(qkv, q_off + row + 2 * C + h * hd + c);
                } else if (has_pad) {
                    kv = LD(pad, p_off + C + h * hd + c);
                    vv = LD(pad, p_off + 2 * C + h * hd + c);
                }
            }
            Ks[r][c] = kv;
            Vs[r][c] = vv;
        }
        barrier(CLK_LOCAL_MEM_FENCE);
        if (active) {
            for (int jj = 0; jj < jn; ++jj) {
                int j = j0 + jj, gy = y0 + j / g.w, gx = x0 + j % g.w;
                float s = 0.0f;
                for (int c = 0; c < hd; ++c) s = fma(q[c], Ks[jj][c], s);
                s += wa_bias(table, t_off, rows, index, i_off, has_index, ic, j, h, g, sh, py, px, gy, gx, hp, wp,
                             mask);
                if (s > mx) {
                    float corr = exp(mx - s);
                    sum *= corr;
                    for (int e = 0; e < hd; ++e) acc[e] *= corr;
                    mx = s;
                }
                float p = exp(s - mx);
                sum += p;
                for (int e = 0; e < hd; ++e) acc[e] = fma(p, Vs[jj][e], acc[e]);
            }
        }
        barrier(CLK_LOCAL_MEM_FENCE);
    }
    if (active) {
        int y = py + sh.x, x = px + sh.y;
        y -= y >= g.x ? g.x : 0;
        x -= x >= g.y ? g.y : 0;
        float inv = 1.0f / sum;
        __global st_t* o = dst + d_off + ((b * g.x + y) * g.y + x) * C + h * hd;
        for (int e = 0; e < hd; ++e) ST(o, e, acc[e] * inv);
    }
}
