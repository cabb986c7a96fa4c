#version 450
// Direct 2-D convolution for GPUs: a work-group covers WG output pixels of one output channel
// (work-group y = n * O + o) and stages that channel's weights in shared memory, WG at a time.
// Layouts and push constants as conv2d_cpu.comp. Tunables: WG.
#include "common.glsl"
layout(local_size_x_id = 0) in;
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

shared float ws[XF_WG];

void main() {
    uint t = gl_LocalInvocationID.x;
    uint wg = XF_WG;
    uint pxl = gl_WorkGroupID.x * wg + t;
    uint no = gl_WorkGroupID.y;
    uint oc = no % p.o, nn = no / p.o;
    uint cg = p.c / p.groups, og = p.o / p.groups;
    uint g = oc / og;
    bool live = pxl < p.ho * p.wo;
    uint oy = live ? pxl / p.wo : 0u, ox = live ? pxl % p.wo : 0u;
    uint khw = p.kh * p.kw;
    uint total = cg * khw;
    uint wbase = p.w_off + oc * total;
    float acc = HAS_BIAS ? float(bias[p.b_off + oc]) : 0.0;
    for (uint w0 = 0u; w0 < total; w0 += wg) {
        barrier();
        ws[t] = w0 + t < total ? float(w[wbase + w0 + t]) : 0.0;
        barrier();
        uint cnt = min(wg, total - w0);
        for (uint e = 0u; e < cnt && live; ++e) {
            uint wi = w0 + e;
            uint ci = wi / khw, kk = wi % khw;
            uint ky = kk / p.kw, kx = kk % p.kw;
            int iy = int(oy * p.sy + ky * p.dy) - int(p.py);
            int ix = int(ox * p.sx + kx * p.dx) - int(p.px);
            if (iy < 0 || iy >= int(p.h) || ix < 0 || ix >= int(p.w)) continue;
            acc = fma(float(x[p.x_off + ((nn * p.c + g * cg + ci) * p.h + uint(iy)) * p.w + uint(ix)]), ws[e], acc);
        }
    }
    if (live) d[p.d_off + (no * p.ho + oy) * p.wo + ox] = XF_ST(acc);
}
