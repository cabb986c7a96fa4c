#version 450
// Index of the largest value of each row of [rows, C] (first one on ties; a NaN wins,
// as in the reference), written as i32.
#include "common.glsl"
layout(local_size_x_id = 0) in;

layout(binding = 0) readonly buffer X { XF_ST x[]; };
layout(binding = 4) writeonly buffer D { int d[]; };
layout(push_constant) uniform P {
    uint rows, c, x_off, d_off;
} p;

void main() {
    uint r = xf_linear_id();
    if (r >= p.rows) return;
    uint base = p.x_off + r * p.c;
    float best = float(x[base]);
    int bi = 0;
    for (uint j = 1u; j < p.c; ++j) {
        float v = float(x[base + j]);
        if (v > best || (isnan(v) && !isnan(best))) {
            best = v;
            bi = int(j);
        }
    }
    d[p.d_off + r] = bi;
}
