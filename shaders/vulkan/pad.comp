#version 450
// PAD: dst[c] = src[c - before] inside the source, |value| elsewhere; one invocation per dst element.
#include "common.glsl"
layout(local_size_x_id = 0) in;

layout(binding = 0) readonly buffer X { XF_ST x[]; };
layout(binding = 4) writeonly buffer D { XF_ST d[]; };
layout(push_constant) uniform P {
    uvec4 sne;
    uvec4 dne;
    uvec4 before;
    uint x_off, d_off;
    float value;
} p;

void main() {
    uint i = xf_linear_id();
    if (i >= p.dne.x * p.dne.y * p.dne.z * p.dne.w) return;
    uvec4 c;
    c.w = i % p.dne.w;
    uint r = i / p.dne.w;
    c.z = r % p.dne.z;
    r /= p.dne.z;
    c.y = r % p.dne.y;
    c.x = r / p.dne.y;
    // Unsigned wrap-around makes coordinates before the source huge, so one comparison covers both sides.
    uvec4 s = c - p.before;
    bool inside = all(lessThan(s, p.sne));
    // Selecting in f32 keeps 16-bit storage free of f16 arithmetic (no shaderFloat16 needed).
    float v = inside ? float(x[p.x_off + ((s.x * p.sne.y + s.y) * p.sne.z + s.z) * p.sne.w + s.w]) : p.value;
    d[p.d_off + i] = XF_ST(v);
}
