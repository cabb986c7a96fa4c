#version 450
// WINDOW_ATTENTION for CPU-like devices with subgroup shuffles (operands and push constants as
// window_attention_cpu.comp). A work-group is one subgroup; lane l takes query i0 + l of one window, head and
// image, so all lanes read the same key and value rows: each row is loaded once, spread over the lanes in
// vec4 chunks, and broadcast with subgroupShuffle (on llvmpipe that replaces SG scalar gathers per element).
// Requires HD % 4 == 0 and 4-element aligned qkv and pad offsets. Tunables: SG (the subgroup size).
#include "common.glsl"
#extension GL_KHR_shader_subgroup_basic : require
#extension GL_KHR_shader_subgroup_shuffle : require
layout(local_size_x_id = 0) in;
layout(constant_id = 0) const uint SG = 8;
#include "window_attention.glsl"
layout(binding = 0) readonly buffer QKV4 { XF_PK4 qkv4[]; };
layout(binding = 3) readonly buffer Pad4 { XF_PK4 pad4[]; };

const uint H4 = HD / 4u, CH = (H4 + SG - 1u) / SG;
vec4 qr[H4];
vec4 acc[H4];

// Chunks of the key (|part| 1) or value (2) row of head |hh| at qkv row |row| (-1: padding), lane-spread.
void wa_load(int row, uint part, uint hh, uint lane, out vec4 chunk[CH]) {
    uint base = (row >= 0 ? p.q_off + uint(row) : p.p_off) / 4u + (part * p.heads * HD + hh * HD) / 4u;
    for (uint t = 0u; t < CH; ++t) {
        uint at = base + min(lane + t * SG, H4 - 1u);
        chunk[t] = row >= 0 ? xf_unpack4(qkv4[at]) : HAS_PAD ? xf_unpack4(pad4[at]) : vec4(0.0);
    }
}

void main() {
    uint lane = gl_SubgroupInvocationID, hh = gl_WorkGroupID.y, b = gl_WorkGroupID.z;
    uint area = p.wh * p.ww, chunks = (area + SG - 1u) / SG, win = gl_WorkGroupID.x / chunks;
    uint i = (gl_WorkGroupID.x % chunks) * SG + lane, wn = wa_wp() / p.ww;
    uint y0 = win / wn * p.wh, x0 = win % wn * p.ww, ic = min(i, area - 1u);
    uint iy = ic / p.ww, ix = ic % p.ww, py = y0 + iy, px = x0 + ix;
    // Every lane takes part in the shuffles; only live ones store.
    bool live = i < area && py < p.h && px < p.w;
    uint hp = wa_hp(), wp = wa_wp(), span = 2u * p.ww - 1u;
    uint qband_y = wa_band(py, hp, p.wh, p.sh), qband_x = wa_band(px, wp, p.ww, p.sw);
    int qrow = wa_row(b, min(py, p.h - 1u), min(px, p.w - 1u));
    uint qb = p.q_off + uint(qrow) + hh * HD;
    for (uint c = 0u; c < H4; ++c) {
        qr[c] = vec4(float(qkv[qb + 4u * c]), float(qkv[qb + 4u * c + 1u]), float(qkv[qb + 4u * c + 2u]),
                     float(qkv[qb + 4u * c + 3u])) * p.scale;
        acc[c] = vec4(0.0);
    }
    float mx = -3.402823466e38, l = 0.0;
    for (uint jy = 0u; jy < p.wh; ++jy) {
        uint gy = y0 + jy;
        bool ymask = wa_band(gy, hp, p.wh, p.sh) != qband_y;
        for (uint jx = 0u; jx < p.ww; ++jx) {
            uint gx = x0 + jx;
            int row = wa_row(b, gy, gx);
            vec4 kc[CH], vc[CH];
            wa_load(row, 1u, hh, lane, kc);
            wa_load(row, 2u, hh, lane, vc);
            vec4 s4 = vec4(0.0);
            for (uint c = 0u; c < H4; ++c) s4 = fma(qr[c], subgroupShuffle(kc[c / SG], c % SG), s4);
            float s = (s4.x + s4.y) + (s4.z + s4.w);
            int r = HAS_INDEX ? index[p.i_off + ic * area + jy * p.ww + jx]
                              : int((iy + p.wh - 1u - jy) * span + (ix + p.ww - 1u - jx));
            s += r >= 0 && uint(r) < p.rows ? float(table[p.t_off + uint(r) * p.heads + hh]) : 0.0;
            if (ymask || wa_band(gx, wp, p.ww, p.sw) != qband_x) s += p.mask;
            float mn = max(mx, s);
            float corr = exp(mx - mn), pj = exp(s - mn);
            mx = mn;
            l = l * corr + pj;
            for (uint c = 0u; c < H4; ++c) acc[c] = fma(acc[c], vec4(corr), pj * subgroupShuffle(vc[c / SG], c % SG));
        }
    }
    if (live) {
        uint y = py + p.sh, x = px + p.sw;
        if (y >= p.h) y -= p.h;
        if (x >= p.w) x -= p.w;
        uint ob = p.d_off + ((b * p.h + y) * p.w + x) * p.heads * HD + hh * HD;
        for (uint c = 0u; c < H4; ++c)
            for (uint e = 0u; e < 4u; ++e) o[ob + 4u * c + e] = XF_ST(acc[c][e] / l);
    }
}
