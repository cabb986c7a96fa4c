// SPDX-License-Identifier: MIT
// What both WINDOW_ATTENTION shaders share (see window_attention_cpu.comp): operands, push constants, and
// the index arithmetic of timm's rolled, padded window grid. Grid position q along an axis holds token
// (q + shift) mod size; positions past the size are padding tokens (|pad| or zeros).
layout(constant_id = 1) const uint HD = 32;  // head size
layout(constant_id = 2) const bool HAS_INDEX = false;
layout(constant_id = 3) const bool HAS_PAD = false;

layout(binding = 0) readonly buffer QKV { XF_ST qkv[]; };
layout(binding = 1) readonly buffer Table { XF_ST table[]; };
layout(binding = 2) readonly buffer Index { int index[]; };
layout(binding = 3) readonly buffer Pad { XF_ST pad[]; };
layout(binding = 4) writeonly buffer O { XF_ST o[]; };
layout(push_constant) uniform P {
    uint h, w, wh, ww;       // grid and window
    uint sh, sw, heads, rows;  // shift, heads, rows of the table
    uint q_off, t_off, i_off, p_off, d_off;
    float scale, mask;
} p;

uint wa_hp() { return (p.h + p.wh - 1u) / p.wh * p.wh; }
uint wa_wp() { return (p.w + p.ww - 1u) / p.ww * p.ww; }

// timm's mask bands along one axis of |padded| positions (one band without shift).
uint wa_band(uint pos, uint padded, uint window, uint shift) {
    return shift == 0u ? 0u : pos < padded - window ? 0u : pos < padded - shift ? 1u : 2u;
}

// Element offset of the qkv row at grid position (gy, gx) of image |b|, or -1 for a padding token.
int wa_row(uint b, uint gy, uint gx) {
    if (gy >= p.h || gx >= p.w) return -1;
    uint y = gy + p.sh, x = gx + p.sw;
    if (y >= p.h) y -= p.h;
    if (x >= p.w) x -= p.w;
    return int(((b * p.h + y) * p.w + x) * 3u * p.heads * HD);
}

// Bias table entry of score (i, j) of head |hh| plus the mask when (py, px) and (gy, gx) lie in
// different bands.
float wa_bias(uint i, uint j, uint hh, uint py, uint px, uint gy, uint gx) {
    uint area = p.wh * p.ww;
    int r = HAS_INDEX ? index[p.i_off + i * area + j]
                      : int((i / p.ww + p.wh - 1u - j / p.ww) * (2u * p.ww - 1u) + (i % p.ww + p.ww - 1u - j % p.ww));
    float v = r >= 0 && uint(r) < p.rows ? float(table[p.t_off + uint(r) * p.heads + hh]) : 0.0;
    uint hp = wa_hp(), wp = wa_wp();
    if (wa_band(py, hp, p.wh, p.sh) != wa_band(gy, hp, p.wh, p.sh) || wa_band(px, wp, p.ww, p.sw) != wa_band(gx, wp, p.ww, p.sw))
        v += p.mask;
    return v;
}

// Key (or value, |part| 2) element |c| of head |hh| at qkv row |row| (-1: padding).
float wa_kv(int row, uint part, uint hh, uint c) {
    if (row >= 0) return float(qkv[p.q_off + uint(row) + part * p.heads * HD + hh * HD + c]);
    return HAS_PAD ? float(pad[p.p_off + part * p.heads * HD + hh * HD + c]) : 0.0;
}
