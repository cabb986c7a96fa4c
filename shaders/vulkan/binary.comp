#version 450
// Element-wise dst = a OP b (OP an XF_BIN_* code) with broadcasting: a source dimension of size 1
// has stride 0. ne is the destination shape.
#include "common.glsl"
layout(local_size_x_id = 0) in;
layout(constant_id = 1) const uint OP = 0;
layout(constant_id = 2) const bool GRID3 = false;

layout(binding = 0) readonly buffer A { XF_ST a[]; };
layout(binding = 1) readonly buffer B { XF_ST b[]; };
layout(binding = 4) writeonly buffer D { XF_ST d[]; };
layout(push_constant) uniform P {
    uvec4 ne;
    uvec4 sa;
    uvec4 sb;
    uint a_off, b_off, d_off;
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
    float x = float(a[p.a_off + i0 * p.sa.x + i1 * p.sa.y + i2 * p.sa.z + i3 * p.sa.w]);
    float y = float(b[p.b_off + i0 * p.sb.x + i1 * p.sb.y + i2 * p.sb.z + i3 * p.sb.w]);
    uint di = ((i0 * p.ne.y + i1) * p.ne.z + i2) * p.ne.w + i3;
    float r;
    switch (int(OP)) {
        case XF_BIN_MUL: r = x * y; break;
        case XF_BIN_SUB: r = x - y; break;
        case XF_BIN_DIV: r = x / y; break;
        // GLSL's pow is undefined for x < 0: take the sign from an integer exponent's parity, as C does.
        case XF_BIN_POW: {
            float m = pow(abs(x), y);
            r = x >= 0.0 ? m : (y == floor(y) ? (mod(y, 2.0) == 1.0 ? -m : m) : 0.0 / 0.0);
            break;
        }
        default: r = x + y; break;
    }
    d[p.d_off + di] = XF_ST(r);
}
