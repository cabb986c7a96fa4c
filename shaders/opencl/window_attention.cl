// SPDX-License-Identifier: MIT
// WINDOW_ATTENTION (Swin W-MSA / SW-MSA) straight from the token grid: qkv [B, H, W, 3C] -> dst [B, H, W, C].
// The rolled, padded grid and its windows are index arithmetic: grid position p along an axis holds
// token (p + shift) mod size, positions past the size are padding tokens (qkv |pad|, or zeros). The
// relative-position bias is read from |table| [rows, heads] at timm's index (or |index| [area, area]),
// and token pairs from different bands of a shifted window get |mask|. Online softmax in f32.
// |g| = (H, W, window h, window w), |sh| = (shift h, shift w, heads, head size).
#ifndef WA_DV
#define WA_DV 64  // output columns per pass of the CPU-style kernel
#endif
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

// CPU-style: one work-item per (token, head, image), keys of its window in a loop, no barriers.
__kernel void wattn_cpu(__global const st_t* qkv, int q_off, __global const st_t* table, int t_off, int rows,
                        __global const int* index, int i_off, int has_index, __global const st_t* pad, int p_off,
                        int has_pad, __global st_t* dst, int d_off, int4 g, int4 sh, float scale, float mask) {
    int tok = get_global_id(0), h = get_global_id(1), b = get_global_id(2);
    if (tok >= g.x * g.y) return;
    int y = tok / g.y, x = tok - y * g.y, C = sh.z * sh.w, hd = sh.w;
    int hp = (g.x + g.z - 1) / g.z * g.z, wp = (g.y + g.w - 1) / g.w * g.w, area = g.z * g.w;
    int py = y - sh.x, px = x - sh.y;
    py += py < 0 ? g.x : 0;
    px += px < 0 ? g.y : 0;
    int y0 = py / g.z * g.z, x0 = px / g.w * g.w, i = (py - y0) * g.w + (px - x0);
    __global const st_t* qr = qkv + q_off + ((b * g.x + y) * g.y + x) * 3 * C + h * hd;
    for (int d0 = 0; d0 < hd; d0 += WA_DV) {
        int dn = min(WA_DV, hd - d0);
        float acc[WA_DV];
        for (int e = 0; e < WA_DV; ++e) acc[e] = 0.0f;
        float mx = -INFINITY, sum = 0.0f;
        for (int j = 0; j < area; ++j) {
            int gy = y0 + j / g.w, gx = x0 + j % g.w, row = wa_row(b, gy, gx, g, sh);
            if (row < 0 && !has_pad) row = -2;
            __global const st_t* kr = row >= 0 ? qkv + q_off + row + C + h * hd : pad + p_off + C + h * hd;
            float s = 0.0f;
            if (row != -2) {
                int c = 0;
                for (; c + 4 <= hd; c += 4) {
                    float4 p = LD4(qr + c) * LD4(kr + c);
                    s += (p.x + p.y) + (p.z + p.w);
                }
                for (; c < hd; ++c) s = fma(LD(qr, c), LD(kr, c), s);
            }
            s = s * scale + wa_bias(table, t_off, rows, index, i_off, has_index, i, j, h, g, sh, py, px, gy, gx, hp,
                                    wp, mask);
            if (s > mx) {
                float corr = exp(mx - s);
                sum *= corr;
                for (int e = 0; e < dn; ++e) acc[e] *= corr;
                mx = s;
            }
            float p = exp(s - mx);
            sum += p;
            if (row != -2) {
                __global const st_t* vr = kr + C + d0;
                for (int e = 0; e < dn; ++e) acc[e] = fma(p, LD(vr, e), acc[e]);
            }
        }
        float inv = 1.0f / sum;
        __global st_t* o = dst + d_off + ((b * g.x + y) * g.y + x) * C + h * hd + d0;
        for (int e = 0; e < dn; ++e) ST(o, e, acc[e] * inv);
    }
}

// GPU-style: a work-group of WA_WG work-items takes WA_WG queries of one window, head and image
// (windows of more than WA_WG tokens take several groups); the window's keys and values are staged in
// local memory XF_TILE at a time. Needs head size <= WA_GPU_DMAX. Groups along dim 0: windows x chunks.
__kernel void wattn_gpu(__global const st_t* qkv, int q_off, __global const st_t* table, int t_off, int rows,
                        __global const int* index, int i_off, int has_index, __global const st_t* pad, int p_off,
                        int has_pad, __global st_t* dst, int d_off, int4 g, int4 sh, float scale, float mask) {
    __local float Ks[XF_TILE][WA_GPU_DMAX];
    __local float Vs[XF_TILE][WA_GPU_DMAX];
    int t = get_local_id(0), h = get_global_id(1), b = get_global_id(2);
    int C = sh.z * sh.w, hd = sh.w, area = g.z * g.w;
    int hp = (g.x + g.z - 1) / g.z * g.z, wp = (g.y + g.w - 1) / g.w * g.w;
    int chunks = (area + WA_WG - 1) / WA_WG, win = get_group_id(0) / chunks;
    int i = (get_group_id(0) - win * chunks) * WA_WG + t;
    int y0 = win / (wp / g.w) * g.z, x0 = win % (wp / g.w) * g.w;
    int ic = min(i, area - 1);
    int py = y0 + ic / g.w, px = x0 + ic % g.w;
    bool active = i < area && py < g.x && px < g.y;
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
