#version 450
// variants: gather_f32 gather_f16=XF_F16 gather_u32=XF_U32
// Gather along one axis: src viewed as [outer, len, inner], i32 indices [M], dst [outer, M, inner];
// an index outside [0, len) gives zeros. Variants: f32, f16, XF_U32 (raw words, for i32 data).
#include "common.glsl"
layout(local_size_x_id = 0) in;

layout(binding = 0) readonly buffer X { XF_ST x[]; };
layout(binding = 1) readonly buffer I { int idx[]; };
layout(binding = 4) writeonly buffer D { XF_ST d[]; };
layout(push_constant) uniform P {
    uint outer, len, inner, m, x_off, i_off, d_off;
} p;

void main() {
    uint i = xf_linear_id();
    if (i >= p.outer * p.m * p.inner) return;
    uint in_ = i % p.inner, r = i / p.inner;
    uint j = r % p.m, o = r / p.m;
    int k = idx[p.i_off + j];
    bool ok = k >= 0 && uint(k) < p.len;
    uint src = ok ? p.x_off + (o * p.len + uint(k)) * p.inner + in_ : p.x_off;
#ifdef XF_U32
    d[p.d_off + i] = ok ? x[src] : 0u;
#else
    // Converting through f32 keeps f16 variants free of f16 arithmetic (storage-only devices).
    d[p.d_off + i] = XF_ST(ok ? float(x[src]) : 0.0);
#endif
}
