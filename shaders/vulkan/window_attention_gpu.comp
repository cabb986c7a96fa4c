#version 450
// WINDOW_ATTENTION for GPUs: a work-group of WG invocations takes WG queries of one window, head and
// image (larger windows take several groups); the window's keys and values pass through shared memory
// KT rows at a time, and each invocation keeps an online softmax (f32) for its query. Operands and
// index arithmetic as window_attention_cpu.comp. Groups: x = windows x query chunks, y = heads, z =
// images. Tunables: WG, KT (2 * KT * HD floats of shared memory).
#include "common.glsl"
layout(local_size_x_id = 0) in;
#include "window_attention.glsl"
layout(constant_id = 4) const uint KT = 16;

shared float ks[KT * HD];
shared float vs[KT * HD];
float qr[HD];
float acc[HD];

void main() {
    uint t = gl_LocalInvocationID.x, hh = gl_WorkGroupID.y, b = gl_WorkGroupID.z, wg = XF_WG;
    uint area = p.wh * p.ww, chunks = (area + wg - 1u) / wg, win = gl_WorkGroupID.x / chunks;
    uint i = (gl_WorkGroupID.x % chunks) * wg + t, wn = wa_wp() / p.ww;
    uint y0 = win / wn * p.wh, x0 = win % wn * p.ww, ic = min(i, area - 1u);
    uint py = y0 + ic / p.ww, px = x0 + ic % p.ww;
    bool live = i < area && py < p.h && px < p.w;
    int qrow = wa_row(b, py, px);
    for (uint c = 0u; c < HD; ++c) {
        qr[c] = live ? float(qkv[p.q_off + uint(qrow) + hh * HD + c]) * p.scale : 0.0;
        acc[c] = 0.0;
    }
    float mx = -3.402823466e38, l = 0.0;
    for (uint j0 = 0u; j0 < area; j0 += KT) {
        uint jn = min(KT, area - j0);
        for (uint e = t; e < KT * HD; e += wg) {
            uint r = e / HD, c = e % HD, j = j0 + r;
            int row = r < jn ? wa_row(b, y0 + j / p.ww, x0 + j % p.ww) : -1;
            ks[e] = r < jn ? wa_kv(row, 1u, hh, c) : 0.0;
            vs[e] = r < jn ? wa_kv(row, 2u, hh, c) : 0.0;
        }
        barrier();
        if (live) {
            for (uint jj = 0u; jj < jn; ++jj) {
                uint j = j0 + jj;
                float s = 0.0;
                for (uint c = 0u; c < HD; ++c) s = fma(qr[c], ks[jj * HD + c], s);
                s += wa_bias(ic, j, hh, py, px, y0 + j / p.ww, x0 + j % p.ww);
                float mn = max(mx, s);
                float corr = exp(mx - mn), pj = exp(s - mn);
                mx = mn;
                l = l * corr + pj;
                for (uint c = 0u; c < HD; ++c) acc[c] = fma(acc[c], corr, pj * vs[jj * HD + c]);
            }
        }
        barrier();
    }
    if (live) {
        uint y = py + p.sh, x = px + p.sw;
        if (y >= p.h) y -= p.h;
        if (x >= p.w) x -= p.w;
        float inv = 1.0 / l;
        uint ob = p.d_off + ((b * p.h + y) * p.w + x) * p.heads * HD + hh * HD;
        for (uint c = 0u; c < HD; ++c) o[ob + c] = XF_ST(acc[c] * inv);
    }
}
