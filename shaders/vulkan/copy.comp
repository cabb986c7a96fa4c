#version 450
// variants: copy_f32_f32 copy_f32_f16=XF_DST_F16 copy_f16_f32=XF_SRC_F16 copy_f16_f16=XF_SRC_F16,XF_DST_F16 copy_u32=XF_U32
// Strided 4-D copy with optional f32 <-> f16 conversion: dst[i] = src[i] for every index i of ne,
// both sides addressed through element strides. Used by COPY and by CONCAT (one dispatch per
// source, writing a slice of the destination). Variants: XF_SRC_F16, XF_DST_F16, XF_U32 (raw words).
#include "common.glsl"
layout(local_size_x_id = 0) in;
layout(constant_id = 1) const bool GRID3 = false;

#if defined(XF_U32)
#define SRC_T uint
#define DST_T uint
#define CONV(v) (v)
#else
#ifdef XF_SRC_F16
#define SRC_T float16_t
#else
#define SRC_T float
#endif
#ifdef XF_DST_F16
#define DST_T float16_t
#else
#define DST_T float
#endif
#define CONV(v) DST_T(float(v))
#endif

layout(binding = 0) readonly buffer Src { SRC_T src[]; };
layout(binding = 4) writeonly buffer Dst { DST_T dst[]; };
layout(push_constant) uniform P {
    uvec4 ne;
    uvec4 sb;  // source strides
    uvec4 db;  // destination strides
    uint src_off, dst_off;
} p;

void main() {
    uint i0, i1, i2, i3;
    if (GRID3) {
        // x: innermost index, y: ne[2], z: ne[0] * ne[1]. Integer division is emulated per lane on
        // CPU devices; here only the work-group-uniform z needs one.
        i3 = gl_GlobalInvocationID.x;
        if (i3 >= p.ne.w) return;
        i2 = gl_WorkGroupID.y;
        i1 = gl_WorkGroupID.z % p.ne.y;
        i0 = gl_WorkGroupID.z / p.ne.y;
    } else {
        uint i = xf_linear_id();
        if (i >= p.ne.x * p.ne.y * p.ne.z * p.ne.w) return;
        i3 = i % p.ne.w;
        uint r = i / p.ne.w;
        i2 = r % p.ne.z;
        r /= p.ne.z;
        i1 = r % p.ne.y;
        i0 = r / p.ne.y;
    }
    uvec4 idx = uvec4(i0, i1, i2, i3);
    dst[p.dst_off + idx.x * p.db.x + idx.y * p.db.y + idx.z * p.db.z + idx.w * p.db.w] =
        CONV(src[p.src_off + idx.x * p.sb.x + idx.y * p.sb.y + idx.z * p.sb.z + idx.w * p.sb.w]);
}
