#version 450
// variants: norm_f32 norm_f16=XF_F16 norm_f32_sg=XF_SUBGROUP norm_f16_sg=XF_SUBGROUP,XF_F16
// LayerNorm (RMS 0) and RMSNorm (RMS 1) over the innermost dimension C of [rows, C]; statistics in
// f32, two passes (mean, then centred variance). Variants: XF_F16, XF_SUBGROUP (see reduce.glsl).
#include "common.glsl"
layout(local_size_x_id = 0) in;
#include "reduce.glsl"
layout(constant_id = 1) const bool RMS = false;
layout(constant_id = 2) const bool HAS_W = false;
layout(constant_id = 3) const bool HAS_B = false;

layout(binding = 0) readonly buffer X { XF_ST x[]; };
layout(binding = 1) readonly buffer W { XF_ST w[]; };
layout(binding = 2) readonly buffer Bs { XF_ST bias[]; };
layout(binding = 4) writeonly buffer D { XF_ST d[]; };
layout(push_constant) uniform P {
    uint rows, c, x_off, w_off, b_off, d_off;
    float eps;
} p;

void main() {
    uint row = XF_ROW();
    // The whole subgroup or work-group shares |row|, so it leaves together.
    if (row >= p.rows) return;
    uint base = p.x_off + row * p.c;
    float mean = 0.0;
    if (!RMS) {
        float s = 0.0;
        for (uint i = XF_LANE(); i < p.c; i += XF_LANES()) s += float(x[base + i]);
        mean = xf_row_sum(s) / float(p.c);
    }
    float v = 0.0;
    for (uint i = XF_LANE(); i < p.c; i += XF_LANES()) {
        float t = float(x[base + i]) - mean;
        v += t * t;
    }
    float inv = 1.0 / sqrt(xf_row_sum(v) / float(p.c) + p.eps);
    for (uint i = XF_LANE(); i < p.c; i += XF_LANES()) {
        float y = (float(x[base + i]) - mean) * inv;
        if (HAS_W) y *= float(w[p.w_off + i]);
        if (HAS_B) y += float(bias[p.b_off + i]);
        d[p.d_off + row * p.c + i] = XF_ST(y);
    }
}
