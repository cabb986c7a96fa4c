#version 450
// variants: softmax_f32 softmax_f16=XF_F16 softmax_f32_sg=XF_SUBGROUP softmax_f16_sg=XF_SUBGROUP,XF_F16
// Softmax over the innermost dimension of src [n0, n1, n2, C] of src * scale + mask, max
// subtracted first, all in f32. The mask broadcasts: stride 0 in a dimension of size 1.
// Variants: XF_F16, XF_SUBGROUP (see reduce.glsl).
#include "common.glsl"
layout(local_size_x_id = 0) in;
#include "reduce.glsl"
layout(constant_id = 1) const bool HAS_MASK = false;

layout(binding = 0) readonly buffer X { XF_ST x[]; };
layout(binding = 1) readonly buffer M { XF_ST mask[]; };
layout(binding = 4) writeonly buffer D { XF_ST d[]; };
layout(push_constant) uniform P {
    uvec4 ne;
    uvec4 ms;  // mask strides
    uint x_off, m_off, d_off;
    float scale;
} p;

float val(uint base, uint mbase, uint i) {
    float v = float(x[base + i]) * p.scale;
    if (HAS_MASK) v += float(mask[mbase + i * p.ms.w]);
    return v;
}

void main() {
    uint row = XF_ROW();
    if (row >= p.ne.x * p.ne.y * p.ne.z) return;
    uint c = p.ne.w;
    uint i2 = row % p.ne.z, r = row / p.ne.z;
    uint i1 = r % p.ne.y, i0 = r / p.ne.y;
    uint base = p.x_off + row * c;
    uint mbase = p.m_off + i0 * p.ms.x + i1 * p.ms.y + i2 * p.ms.z;
    float m = -3.402823466e38;
    for (uint i = XF_LANE(); i < c; i += XF_LANES()) m = max(m, val(base, mbase, i));
    m = xf_row_max(m);
    float s = 0.0;
    for (uint i = XF_LANE(); i < c; i += XF_LANES()) s += exp(val(base, mbase, i) - m);
    float inv = 1.0 / xf_row_sum(s);
    for (uint i = XF_LANE(); i < c; i += XF_LANES()) d[p.d_off + row * c + i] = XF_ST(exp(val(base, mbase, i) - m) * inv);
}
