#version 450
// ROLL: dst[c] = src[(c - shift) mod ne] per dim, one invocation per dst element; shifts in [0, ne).
#include "common.glsl"
layout(local_size_x_id = 0) in;

layout(binding = 0) readonly buffer X { XF_ST x[]; };
layout(binding = 4) writeonly buffer D { XF_ST d[]; };
layout(push_constant) uniform P {
    uvec4 ne;
    uvec4 shift;
    uint x_off, d_off;
} p;

void main() {
    uint i = xf_linear_id();
    if (i >= p.ne.x * p.ne.y * p.ne.z * p.ne.w) return;
    uvec4 c;
    c.w = i % p.ne.w;
    uint r = i / p.ne.w;
    c.z = r % p.ne.z;
    r /= p.ne.z;
    c.y = r % p.ne.y;
    c.x = r / p.ne.y;
    c = (c + p.ne - p.shift) % p.ne;
    d[p.d_off + i] = x[p.x_off + ((c.x * p.ne.y + c.y) * p.ne.z + c.z) * p.ne.w + c.w];
}
