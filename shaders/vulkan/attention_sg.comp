#version 450
// Fused attention for CPU-like devices with subgroup shuffles (same operands and push constants as
// attention_cpu.comp). A work-group is one subgroup; lane l handles query row i0 + l. Every key and
// value row is loaded once per subgroup, spread over the lanes in vec4 chunks, and broadcast with
// subgroupShuffle; on llvmpipe that replaces SG per-lane loads of each element by one.
// Requires D % 4 == 0, DV % 4 == 0 and 4-element aligned k/v offsets. Tunables: SG (the subgroup
// size); D and DV are specialised per head size.
#include "common.glsl"
#extension GL_KHR_shader_subgroup_basic : require
#extension GL_KHR_shader_subgroup_shuffle : require
layout(local_size_x_id = 0) in;
layout(constant_id = 0) const uint SG = 8;
layout(constant_id = 1) const uint D = 64;
layout(constant_id = 2) const uint DV = 64;
layout(constant_id = 3) const bool HAS_BIAS = false;

layout(binding = 0) readonly buffer Q { XF_ST q[]; };
layout(binding = 1) readonly buffer K4 { XF_PK4 k4[]; };
layout(binding = 2) readonly buffer V4 { XF_PK4 v4[]; };
layout(binding = 3) readonly buffer Bias { XF_ST bias[]; };
layout(binding = 4) writeonly buffer O { XF_ST o[]; };
layout(push_constant) uniform P {
    uint lq, lk, h;
    uint q_off, k_off, v_off, bias_off, d_off;
    uvec4 bs;
    float scale;
} p;

const uint D4 = D / 4u, DV4 = DV / 4u;
const uint CK = (D4 + SG - 1u) / SG, CV = (DV4 + SG - 1u) / SG;
vec4 qr[D4];
vec4 acc[DV4];

void main() {
    uint lane = gl_SubgroupInvocationID;
    uint i = min(gl_WorkGroupID.x * SG + lane, p.lq - 1u);
    uint z = gl_WorkGroupID.y;
    uint qb = p.q_off + (z * p.lq + i) * D;
    for (uint c = 0u; c < D4; ++c)
        qr[c] = vec4(float(q[qb + 4u * c]), float(q[qb + 4u * c + 1u]), float(q[qb + 4u * c + 2u]),
                     float(q[qb + 4u * c + 3u])) * p.scale;
    for (uint c = 0u; c < DV4; ++c) acc[c] = vec4(0.0);
    uint bbase = p.bias_off + (z / p.h) * p.bs.x + (z % p.h) * p.bs.y + i * p.bs.z;
    uint kbase = p.k_off / 4u + z * p.lk * D4, vbase = p.v_off / 4u + z * p.lk * DV4;
    float mx = -3.402823466e38, l = 0.0;
    for (uint j = 0u; j < p.lk; ++j) {
        vec4 kc[CK];
        for (uint t = 0u; t < CK; ++t) kc[t] = xf_unpack4(k4[kbase + j * D4 + min(lane + t * SG, D4 - 1u)]);
        vec4 vc[CV];
        for (uint t = 0u; t < CV; ++t) vc[t] = xf_unpack4(v4[vbase + j * DV4 + min(lane + t * SG, DV4 - 1u)]);
        vec4 s4 = vec4(0.0);
        for (uint c = 0u; c < D4; ++c) s4 = fma(qr[c], subgroupShuffle(kc[c / SG], c % SG), s4);
        float s = (s4.x + s4.y) + (s4.z + s4.w);
        if (HAS_BIAS) s += float(bias[bbase + j * p.bs.w]);
        float mn = max(mx, s);
        float corr = exp(mx - mn), pj = exp(s - mn);
        mx = mn;
        l = l * corr + pj;
        for (uint c = 0u; c < DV4; ++c) acc[c] = fma(acc[c], vec4(corr), pj * subgroupShuffle(vc[c / SG], c % SG));
    }
    if (gl_WorkGroupID.x * SG + lane < p.lq) {
        uint ob = p.d_off + (z * p.lq + i) * DV;
        for (uint c = 0u; c < DV4; ++c)
            for (uint e = 0u; e < 4u; ++e) o[ob + 4u * c + e] = XF_ST(acc[c][e] / l);
    }
}
