#version 450
// Mean over one axis: src viewed as [outer, len, inner], dst [outer, inner]; f32 accumulation.
#include "common.glsl"
layout(local_size_x_id = 0) in;

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
    float s = 0.0;
    for (uint j = 0u; j < p.len; ++j) s += float(x[base + j * p.inner]);
    d[p.d_off + i] = XF_ST(s / float(p.len));
}
