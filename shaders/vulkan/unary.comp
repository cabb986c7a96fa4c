#version 450
// Element-wise dst = fn(src * scale + shift), fn an XF_UFN_* code: the UNARY family (SCALE is fn
// NONE; the others have scale 1, shift 0; lo and hi are CLIP's bounds).
#include "common.glsl"
layout(local_size_x_id = 0) in;
layout(constant_id = 1) const uint FN = 0;

layout(binding = 0) readonly buffer X { XF_ST x[]; };
layout(binding = 4) writeonly buffer D { XF_ST d[]; };
layout(push_constant) uniform P {
    uint n, x_off, d_off;
    float scale, shift, lo, hi;
} p;

void main() {
    uint i = xf_linear_id();
    if (i >= p.n) return;
    d[p.d_off + i] = XF_ST(xf_ufn(float(x[p.x_off + i]) * p.scale + p.shift, FN, p.lo, p.hi));
}
