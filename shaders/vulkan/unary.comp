#version 450
// Element-wise dst = act(src * scale + shift): SCALE (act NONE) and UNARY (scale 1, shift 0).
#include "common.glsl"
layout(local_size_x_id = 0) in;
layout(constant_id = 1) const uint ACT = 0;

layout(binding = 0) readonly buffer X { XF_ST x[]; };
layout(binding = 4) writeonly buffer D { XF_ST d[]; };
layout(push_constant) uniform P {
    uint n, x_off, d_off;
    float scale, shift;
} p;

void main() {
    uint i = xf_linear_id();
    if (i >= p.n) return;
    d[p.d_off + i] = XF_ST(xf_act(float(x[p.x_off + i]) * p.scale + p.shift, ACT));
}
