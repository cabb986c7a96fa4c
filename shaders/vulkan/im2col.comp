#version 450
// im2col for convolutions run as GEMMs: dst[r][c] with r = (n, oy, ox) and c = (ci, ky, kx), i.e.
// the input patch of each output pixel as a row of C * KH * KW values (zeros where the kernel
// overlaps the padding). Grid: x over c, y over the pixels of one image, z over images.
#include "common.glsl"
layout(local_size_x_id = 0) in;

layout(binding = 0) readonly buffer X { XF_ST x[]; };
layout(binding = 4) writeonly buffer D { XF_ST d[]; };
layout(push_constant) uniform P {
    uint c, h, w, kh, kw, wo, sy, sx, py, px, dy, dx, x_off, ck, pix;
} p;

void main() {
    uint col = gl_GlobalInvocationID.x;
    if (col >= p.ck) return;
    uint pxl = gl_WorkGroupID.y, n = gl_WorkGroupID.z;
    uint oy = pxl / p.wo, ox = pxl % p.wo;
    uint khw = p.kh * p.kw;
    uint ci = col / khw, kk = col % khw;
    uint ky = kk / p.kw, kx = kk % p.kw;
    int iy = int(oy * p.sy + ky * p.dy) - int(p.py);
    int ix = int(ox * p.sx + kx * p.dx) - int(p.px);
    bool inside = iy >= 0 && iy < int(p.h) && ix >= 0 && ix < int(p.w);
    uint src = inside ? p.x_off + ((n * p.c + ci) * p.h + uint(iy)) * p.w + uint(ix) : p.x_off;
    // Through f32, so f16 variants need no f16 arithmetic.
    d[(n * p.pix + pxl) * p.ck + col] = XF_ST(inside ? float(x[src]) : 0.0);
}
