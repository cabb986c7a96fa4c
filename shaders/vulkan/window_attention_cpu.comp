#version 450
// WINDOW_ATTENTION for CPU-like devices: Swin's shifted-window attention straight from the token grid,
// qkv [B, H, W, 3C] -> o [B, H, W, C]. One invocation per query; the invocations of a work-group are the
// queries of one window, head and image, so every key and value row they read is the same for all of them
// (one load per subgroup on SIMD devices, not a gather). Keys are visited row by row of the window (no
// division in the loop), with an online softmax (f32). Roll, padding, relative-position bias and mask are
// index arithmetic (window_attention.glsl). Groups: x = windows x query chunks, y = heads, z = images.
// Tunables: WG; HD is specialised.
#include "common.glsl"
layout(local_size_x_id = 0) in;
#include "window_attention.glsl"

float qr[HD];
float acc[HD];

void main() {
    uint hh = gl_WorkGroupID.y, b = gl_WorkGroupID.z, wg = XF_WG;
    uint area = p.wh * p.ww, chunks = (area + wg - 1u) / wg, win = gl_WorkGroupID.x / chunks;
    uint i = (gl_WorkGroupID.x % chunks) * wg + gl_LocalInvocationID.x, wn = wa_wp() / p.ww;
    uint y0 = win / wn * p.wh, x0 = win % wn * p.ww, ic = min(i, area - 1u);
    uint iy = ic / p.ww, ix = ic % p.ww, py = y0 + iy, px = x0 + ix;
    if (i >= area || py >= p.h || px >= p.w) return;
    uint hp = wa_hp(), wp = wa_wp(), span = 2u * p.ww - 1u;
    uint qband_y = wa_band(py, hp, p.wh, p.sh), qband_x = wa_band(px, wp, p.ww, p.sw);
    uint qb = p.q_off + uint(wa_row(b, py, px)) + hh * HD;
    for (uint c = 0u; c < HD; ++c) {
        qr[c] = float(qkv[qb + c]) * p.scale;
        acc[c] = 0.0;
    }
    float mx = -3.402823466e38, l = 0.0;
    for (uint jy = 0u; jy < p.wh; ++jy) {
        uint gy = y0 + jy;
        bool ymask = wa_band(gy, hp, p.wh, p.sh) != qband_y;
        for (uint jx = 0u; jx < p.ww; ++jx) {
            uint gx = x0 + jx;
            int row = wa_row(b, gy, gx);
            float s = 0.0;
            for (uint c = 0u; c < HD; ++c) s = fma(qr[c], wa_kv(row, 1u, hh, c), s);
            int r = HAS_INDEX ? index[p.i_off + i * area + jy * p.ww + jx]
                              : int((iy + p.wh - 1u - jy) * span + (ix + p.ww - 1u - jx));
            s += r >= 0 && uint(r) < p.rows ? float(table[p.t_off + uint(r) * p.heads + hh]) : 0.0;
            if (ymask || wa_band(gx, wp, p.ww, p.sw) != qband_x) s += p.mask;
            float mn = max(mx, s);
            float corr = exp(mx - mn), pj = exp(s - mn);
            mx = mn;
            l = l * corr + pj;
            for (uint c = 0u; c < HD; ++c) acc[c] = fma(acc[c], corr, pj * wa_kv(row, 2u, hh, c));
        }
    }
    uint y = py + p.sh, x = px + p.sw;
    if (y >= p.h) y -= p.h;
    if (x >= p.w) x -= p.w;
    float inv = 1.0 / l;
    uint ob = p.d_off + ((b * p.h + y) * p.w + x) * p.heads * HD + hh * HD;
    for (uint c = 0u; c < HD; ++c) o[ob + c] = XF_ST(acc[c] * inv);
}
