#version 450
// WINDOW_ATTENTION for CPU-like devices: Swin's shifted-window attention straight from the token grid,
// qkv [B, H, W, 3C] -> o [B, H, W, C]. One invocation per (token, head, image): the keys of its window
// in a loop with an online softmax (f32), no shared memory. Windows, roll, padding, relative-position
// bias and mask are index arithmetic (window_attention.glsl). Tunables: WG; HD is specialised.
#include "common.glsl"
layout(local_size_x_id = 0) in;
#include "window_attention.glsl"

float qr[HD];
float acc[HD];

void main() {
    uint tok = gl_GlobalInvocationID.x, hh = gl_GlobalInvocationID.y, b = gl_GlobalInvocationID.z;
    if (tok >= p.h * p.w) return;
    uint y = tok / p.w, x = tok % p.w, c3 = 3u * p.heads * HD;
    uint py = y + p.h - p.sh, px = x + p.w - p.sw;
    if (py >= p.h) py -= p.h;
    if (px >= p.w) px -= p.w;
    uint y0 = py / p.wh * p.wh, x0 = px / p.ww * p.ww, i = (py - y0) * p.ww + (px - x0), area = p.wh * p.ww;
    uint qb = p.q_off + ((b * p.h + y) * p.w + x) * c3 + hh * HD;
    for (uint c = 0u; c < HD; ++c) {
        qr[c] = float(qkv[qb + c]) * p.scale;
        acc[c] = 0.0;
    }
    float mx = -3.402823466e38, l = 0.0;
    for (uint j = 0u; j < area; ++j) {
        uint gy = y0 + j / p.ww, gx = x0 + j % p.ww;
        int row = wa_row(b, gy, gx);
        float s = 0.0;
        for (uint c = 0u; c < HD; ++c) s = fma(qr[c], wa_kv(row, 1u, hh, c), s);
        s += wa_bias(i, j, hh, py, px, gy, gx);
        float mn = max(mx, s);
        float corr = exp(mx - mn), pj = exp(s - mn);
        mx = mn;
        l = l * corr + pj;
        for (uint c = 0u; c < HD; ++c) acc[c] = fma(acc[c], corr, pj * wa_kv(row, 2u, hh, c));
    }
    float inv = 1.0 / l;
    uint ob = p.d_off + ((b * p.h + y) * p.w + x) * p.heads * HD + hh * HD;
    for (uint c = 0u; c < HD; ++c) o[ob + c] = XF_ST(acc[c] * inv);
}
