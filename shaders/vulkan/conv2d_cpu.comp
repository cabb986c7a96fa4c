#version 450
// Direct 2-D convolution (cross-correlation) for CPU-like devices: one invocation computes OB output
// channels of one output pixel, all in registers; neighbouring invocations take neighbouring
// pixels, so they read the same weights. x [N, C, H, W], w [O, C/G, KH, KW], dst [N, O, Ho, Wo].
// The OB channels of an invocation lie in one group ((O / G) % OB == 0). Tunables: WG, OB.
#include "common.glsl"
layout(local_size_x_id = 0) in;
layout(constant_id = 1) const uint OB = 4;
layout(constant_id = 2) const bool HAS_BIAS = false;

layout(binding = 0) readonly buffer X { XF_ST x[]; };
layout(binding = 1) readonly buffer W { XF_ST w[]; };
layout(binding = 2) readonly buffer Bs { XF_ST bias[]; };
layout(binding = 4) writeonly buffer D { XF_ST d[]; };
layout(push_constant) uniform P {
    uint n, c, h, w, o, kh, kw, ho, wo;
    uint sy, sx, py, px, dy, dx, groups;
    uint x_off, w_off, b_off, d_off;
} p;

void main() {
    uint idx = xf_linear_id();
    uint nob = p.o / OB;
    uint pix = p.ho * p.wo;
    if (idx >= p.n * nob * pix) return;
    uint pxl = idx % pix;
    uint r = idx / pix;
    uint ob = r % nob, nn = r / nob;
    uint oy = pxl / p.wo, ox = pxl % p.wo;
    uint o0 = ob * OB;
    uint cg = p.c / p.groups, og = p.o / p.groups;
    uint g = o0 / og;
    float acc[OB];
    for (uint e = 0u; e < OB; ++e) acc[e] = HAS_BIAS ? float(bias[p.b_off + o0 + e]) : 0.0;
    uint wstride = cg * p.kh * p.kw;
    for (uint ci = 0u; ci < cg; ++ci) {
        uint xc = p.x_off + (nn * p.c + g * cg + ci) * p.h * p.w;
        for (uint ky = 0u; ky < p.kh; ++ky) {
            int iy = int(oy * p.sy + ky * p.dy) - int(p.py);
            if (iy < 0 || iy >= int(p.h)) continue;
            for (uint kx = 0u; kx < p.kw; ++kx) {
                int ix = int(ox * p.sx + kx * p.dx) - int(p.px);
                if (ix < 0 || ix >= int(p.w)) continue;
                float xv = float(x[xc + uint(iy) * p.w + uint(ix)]);
                uint wi = p.w_off + o0 * wstride + (ci * p.kh + ky) * p.kw + kx;
                for (uint e = 0u; e < OB; ++e) acc[e] = fma(xv, float(w[wi + e * wstride]), acc[e]);
            }
        }
    }
    for (uint e = 0u; e < OB; ++e) d[p.d_off + ((nn * p.o + o0 + e) * p.ho + oy) * p.wo + ox] = XF_ST(acc[e]);
}
