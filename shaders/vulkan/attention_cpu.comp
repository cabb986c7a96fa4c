#version 450
// Fused attention for CPU-like devices: one invocation per query row, online softmax (f32) over
// all keys, q and the output row in registers, no shared memory.
//   dst[z][i] = sum_j softmax_j(q[z][i] . k[z][j] * scale + bias[z][i][j]) v[z][j]
// q [Z, Lq, D], k [Z, Lk, D], v [Z, Lk, DV], dst [Z, Lq, DV] with Z = B * H; bias indexed by
// (z / H, z % H, i, j) through strides (0 = broadcast). VEC: vec4 loads (D % 4 == DV % 4 == 0 and
// 4-aligned offsets). Tunables: WG; D and DV are specialised per head size.
#include "common.glsl"
layout(local_size_x_id = 0) in;
layout(constant_id = 1) const uint D = 64;
layout(constant_id = 2) const uint DV = 64;
layout(constant_id = 3) const bool HAS_BIAS = false;
layout(constant_id = 4) const bool VEC = false;

layout(binding = 0) readonly buffer Q { XF_ST q[]; };
layout(binding = 1) readonly buffer K { XF_ST k[]; };
layout(binding = 1) readonly buffer K4 { XF_ST4 k4[]; };
layout(binding = 2) readonly buffer V { XF_ST v[]; };
layout(binding = 2) readonly buffer V4 { XF_ST4 v4[]; };
layout(binding = 3) readonly buffer Bias { XF_ST bias[]; };
layout(binding = 4) writeonly buffer O { XF_ST o[]; };
layout(push_constant) uniform P {
    uint lq, lk, h;
    uint q_off, k_off, v_off, bias_off, d_off;
    uvec4 bs;
    float scale;
} p;

float qr[D];
float acc[DV];

void main() {
    uint i = gl_GlobalInvocationID.x;
    uint z = gl_GlobalInvocationID.y;
    if (i >= p.lq) return;
    for (uint c = 0u; c < D; ++c) qr[c] = float(q[p.q_off + (z * p.lq + i) * D + c]) * p.scale;
    for (uint c = 0u; c < DV; ++c) acc[c] = 0.0;
    uint bbase = p.bias_off + (z / p.h) * p.bs.x + (z % p.h) * p.bs.y + i * p.bs.z;
    float mx = -3.402823466e38, l = 0.0;
    for (uint j = 0u; j < p.lk; ++j) {
        float s = 0.0;
        uint kb = p.k_off + (z * p.lk + j) * D;
        if (VEC) {
            vec4 s4 = vec4(0.0);
            for (uint c = 0u; c < D / 4u; ++c)
                s4 = fma(vec4(qr[4u * c], qr[4u * c + 1u], qr[4u * c + 2u], qr[4u * c + 3u]), vec4(k4[kb / 4u + c]), s4);
            s = (s4.x + s4.y) + (s4.z + s4.w);
        } else {
            for (uint c = 0u; c < D; ++c) s = fma(qr[c], float(k[kb + c]), s);
        }
        if (HAS_BIAS) s += float(bias[bbase + j * p.bs.w]);
        float mn = max(mx, s);
        float corr = exp(mx - mn), pj = exp(s - mn);
        mx = mn;
        l = l * corr + pj;
        uint vb = p.v_off + (z * p.lk + j) * DV;
        if (VEC) {
            for (uint c = 0u; c < DV / 4u; ++c) {
                vec4 vv = vec4(v4[vb / 4u + c]);
                for (uint e = 0u; e < 4u; ++e) acc[4u * c + e] = fma(acc[4u * c + e], corr, pj * vv[e]);
            }
        } else {
            for (uint c = 0u; c < DV; ++c) acc[c] = fma(acc[c], corr, pj * float(v[vb + c]));
        }
    }
    float inv = 1.0 / l;
    for (uint c = 0u; c < DV; ++c) o[p.d_off + (z * p.lq + i) * DV + c] = XF_ST(acc[c] * inv);
}
