#version 450
// Gated unit: dst[r, j] = act(src[r, j]) * src[r, H + j] for src [rows, 2H], dst [rows, H].
#include "common.glsl"
layout(local_size_x_id = 0) in;
layout(constant_id = 1) const uint ACT = 0;

layout(binding = 0) readonly buffer X { XF_ST x[]; };
layout(binding = 4) writeonly buffer D { XF_ST d[]; };
layout(push_constant) uniform P {
    uint n, h, x_off, d_off;
} p;

void main() {
    uint i = xf_linear_id();
    if (i >= p.n) return;
    uint r = i / p.h, j = i % p.h;
    uint base = p.x_off + r * 2u * p.h + j;
    d[p.d_off + i] = XF_ST(xf_act(float(x[base]), ACT) * float(x[base + p.h]));
}
