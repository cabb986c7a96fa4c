#version 450
// Bilinear resize of [NC, H, W] to [NC, Ho, Wo] with PyTorch's source-index rules for
// align_corners true and false.
#include "common.glsl"
layout(local_size_x_id = 0) in;

layout(binding = 0) readonly buffer X { XF_ST x[]; };
layout(binding = 4) writeonly buffer D { XF_ST d[]; };
layout(push_constant) uniform P {
    uint nc, h, w, ho, wo, align_corners, x_off, d_off;
} p;

float src_index(uint o, uint in_size, uint out_size) {
    if (p.align_corners != 0u) return out_size > 1u ? float(o) * (float(in_size - 1u) / float(out_size - 1u)) : 0.0;
    return max((float(o) + 0.5) * (float(in_size) / float(out_size)) - 0.5, 0.0);
}

void main() {
    uint i = xf_linear_id();
    if (i >= p.nc * p.ho * p.wo) return;
    uint ox = i % p.wo, r = i / p.wo;
    uint oy = r % p.ho, c = r / p.ho;
    float sy = src_index(oy, p.h, p.ho), sx = src_index(ox, p.w, p.wo);
    uint y0 = min(uint(sy), p.h - 1u), x0 = min(uint(sx), p.w - 1u);
    uint y1 = min(y0 + 1u, p.h - 1u), x1 = min(x0 + 1u, p.w - 1u);
    float ly = sy - float(y0), lx = sx - float(x0);
    uint base = p.x_off + c * p.h * p.w;
    float v00 = float(x[base + y0 * p.w + x0]), v01 = float(x[base + y0 * p.w + x1]);
    float v10 = float(x[base + y1 * p.w + x0]), v11 = float(x[base + y1 * p.w + x1]);
    float v = (1.0 - ly) * ((1.0 - lx) * v00 + lx * v01) + ly * ((1.0 - lx) * v10 + lx * v11);
    d[p.d_off + i] = XF_ST(v);
}
