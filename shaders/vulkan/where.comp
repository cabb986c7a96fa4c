#version 450
// variants: where_f32 where_f16=XF_F16 where_f32_i32=XF_COND_U32 where_f16_i32=XF_F16,XF_COND_U32
// WHERE: dst = cond != 0 ? a : b with broadcasting (stride 0 along size-1 dims); the condition has
// the storage type of a and b, or is i32 (XF_COND_U32).
#include "common.glsl"
layout(local_size_x_id = 0) in;

#ifdef XF_COND_U32
layout(binding = 0) readonly buffer C { uint c[]; };
#else
layout(binding = 0) readonly buffer C { XF_ST c[]; };
#endif
layout(binding = 1) readonly buffer A { XF_ST a[]; };
layout(binding = 2) readonly buffer B { XF_ST b[]; };
layout(binding = 4) writeonly buffer D { XF_ST d[]; };
layout(push_constant) uniform P {
    uvec4 ne;
    uvec4 sc;
    uvec4 sa;
    uvec4 sb;
    uint c_off, a_off, b_off, d_off;
} p;

void main() {
    uint i = xf_linear_id();
    if (i >= p.ne.x * p.ne.y * p.ne.z * p.ne.w) return;
    uvec4 k;
    k.w = i % p.ne.w;
    uint r = i / p.ne.w;
    k.z = r % p.ne.z;
    r /= p.ne.z;
    k.y = r % p.ne.y;
    k.x = r / p.ne.y;
#ifdef XF_COND_U32
    bool take_a = c[p.c_off + k.x * p.sc.x + k.y * p.sc.y + k.z * p.sc.z + k.w * p.sc.w] != 0u;
#else
    bool take_a = float(c[p.c_off + k.x * p.sc.x + k.y * p.sc.y + k.z * p.sc.z + k.w * p.sc.w]) != 0.0;
#endif
    // Selecting in f32 keeps 16-bit storage free of f16 arithmetic (no shaderFloat16 needed).
    float v = take_a ? float(a[p.a_off + k.x * p.sa.x + k.y * p.sa.y + k.z * p.sa.z + k.w * p.sa.w])
                     : float(b[p.b_off + k.x * p.sb.x + k.y * p.sb.y + k.z * p.sb.z + k.w * p.sb.w]);
    d[p.d_off + i] = XF_ST(v);
}
