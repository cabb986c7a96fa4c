#version 450
// Fused attention for GPUs: one work-group per query row. Keys are processed in chunks of WG: each
// invocation scores one key into shared memory, then every invocation updates its DPT output
// columns (c = t, t + WG, ...) with the chunk's probabilities (online softmax in f32).
// Same operands and push constants as attention_cpu.comp. Tunables: WG; DPT = ceil(DV / WG).
#include "common.glsl"
layout(local_size_x_id = 0) in;
layout(constant_id = 1) const uint D = 64;
layout(constant_id = 2) const uint DV = 64;
layout(constant_id = 3) const bool HAS_BIAS = false;
layout(constant_id = 5) const uint DPT = 1;

layout(binding = 0) readonly buffer Q { XF_ST q[]; };
layout(binding = 1) readonly buffer K { XF_ST k[]; };
layout(binding = 2) readonly buffer V { XF_ST v[]; };
layout(binding = 3) readonly buffer Bias { XF_ST bias[]; };
layout(binding = 4) writeonly buffer O { XF_ST o[]; };
layout(push_constant) uniform P {
    uint lq, lk, h;
    uint q_off, k_off, v_off, bias_off, d_off;
    uvec4 bs;
    float scale;
} p;

shared float qs[D];
shared float ps[XF_WG];

void main() {
    uint t = gl_LocalInvocationID.x;
    uint wg = XF_WG;
    uint i = gl_WorkGroupID.x;
    uint z = gl_WorkGroupID.y;
    for (uint c = t; c < D; c += wg) qs[c] = float(q[p.q_off + (z * p.lq + i) * D + c]) * p.scale;
    float acc[DPT];
    for (uint e = 0u; e < DPT; ++e) acc[e] = 0.0;
    uint bbase = p.bias_off + (z / p.h) * p.bs.x + (z % p.h) * p.bs.y + i * p.bs.z;
    float mx = -3.402823466e38, l = 0.0;
    barrier();
    for (uint j0 = 0u; j0 < p.lk; j0 += wg) {
        uint cnt = min(wg, p.lk - j0);
        float s = -3.402823466e38;
        if (t < cnt) {
            uint kb = p.k_off + (z * p.lk + j0 + t) * D;
            s = 0.0;
            for (uint c = 0u; c < D; ++c) s = fma(qs[c], float(k[kb + c]), s);
            if (HAS_BIAS) s += float(bias[bbase + (j0 + t) * p.bs.w]);
        }
        ps[t] = s;
        barrier();
        float cm = mx;
        for (uint j = 0u; j < cnt; ++j) cm = max(cm, ps[j]);
        float corr = exp(mx - cm);
        barrier();
        ps[t] = t < cnt ? exp(s - cm) : 0.0;
        barrier();
        float sum = 0.0;
        for (uint e = 0u; e < DPT; ++e) acc[e] *= corr;
        for (uint j = 0u; j < cnt; ++j) {
            float pj = ps[j];
            sum += pj;
            uint vb = p.v_off + (z * p.lk + j0 + j) * DV;
            for (uint e = 0u; e < DPT; ++e) {
                uint c = t + e * wg;
                if (c < DV) acc[e] = fma(pj, float(v[vb + c]), acc[e]);
            }
        }
        l = l * corr + sum;
        mx = cm;
        barrier();
    }
    for (uint e = 0u; e < DPT; ++e) {
        uint c = t + e * wg;
        if (c < DV) o[p.d_off + (z * p.lq + i) * DV + c] = XF_ST(acc[e] / l);
    }
}
