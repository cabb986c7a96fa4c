#version 450
// The XF_RED_* reduction (FN) over one axis: src viewed as [outer, len, inner], dst [outer, inner];
// f32 accumulation.
#include "common.glsl"
layout(local_size_x_id = 0) in;
layout(constant_id = 1) const uint FN = XF_RED_MEAN;

layout(binding = 0) readonly buffer X { XF_ST x[]; };
layout(binding = 4) writeonly buffer D { XF_ST d[]; };
layout(push_constant) uniform P {
    uint outer, len, inner, x_off, d_off;
} p;

void main() {
    uint i = xf_linear_id();
    if (i >= p.outer * p.inner) return;
    uint o = i / p.inner, in_ = i % p.inner;
    uint base = p.x_off + o * p.len * p.inner + in_;
    float s = float(x[base]);
    for (uint j = 1u; j < p.len; ++j) {
        float v = float(x[base + j * p.inner]);
        s = FN == XF_RED_MAX ? max(s, v) : FN == XF_RED_MIN ? min(s, v) : s + v;
    }
    d[p.d_off + i] = XF_ST(FN == XF_RED_MEAN ? s / float(p.len) : s);
}
