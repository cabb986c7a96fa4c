#version 450
// Element-wise dst = a + b (OP 0) or a * b (OP 1) with broadcasting: a source dimension of size 1
// has stride 0. ne is the destination shape.
#include "common.glsl"
layout(local_size_x_id = 0) in;
layout(constant_id = 1) const uint OP = 0;

layout(binding = 0) readonly buffer A { XF_ST a[]; };
layout(binding = 1) readonly buffer B { XF_ST b[]; };
layout(binding = 4) writeonly buffer D { XF_ST d[]; };
layout(push_constant) uniform P {
    uvec4 ne;
    uvec4 sa;
    uvec4 sb;
    uint a_off, b_off, d_off;
} p;

void main() {
    uint i = xf_linear_id();
    if (i >= p.ne.x * p.ne.y * p.ne.z * p.ne.w) return;
    uint i3 = i % p.ne.w;
    uint r = i / p.ne.w;
    uint i2 = r % p.ne.z;
    r /= p.ne.z;
    uint i1 = r % p.ne.y;
    uint i0 = r / p.ne.y;
    float x = float(a[p.a_off + i0 * p.sa.x + i1 * p.sa.y + i2 * p.sa.z + i3 * p.sa.w]);
    float y = float(b[p.b_off + i0 * p.sb.x + i1 * p.sb.y + i2 * p.sb.z + i3 * p.sb.w]);
    d[p.d_off + i] = XF_ST(OP == 0 ? x + y : x * y);
}
