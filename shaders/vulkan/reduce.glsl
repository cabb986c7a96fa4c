// SPDX-License-Identifier: MIT
// Row reductions for the row-wise shaders (norm, softmax). With XF_SUBGROUP one subgroup owns a
// row and reduces with subgroup arithmetic (no barriers); without it one work-group owns a row and
// reduces through shared memory (work-group size: a power of two).
#ifdef XF_SUBGROUP
#extension GL_KHR_shader_subgroup_basic : require
#extension GL_KHR_shader_subgroup_arithmetic : require
#define XF_ROW() (xf_linear_group() * gl_NumSubgroups + gl_SubgroupID)
#define XF_LANE() gl_SubgroupInvocationID
#define XF_LANES() gl_SubgroupSize
float xf_row_sum(float v) { return subgroupAdd(v); }
float xf_row_max(float v) { return subgroupMax(v); }
#else
#define XF_ROW() xf_linear_group()
#define XF_LANE() gl_LocalInvocationID.x
#define XF_LANES() XF_WG
shared float xf_red[XF_WG];
float xf_row_sum(float v) {
    uint t = gl_LocalInvocationID.x;
    barrier();
    xf_red[t] = v;
    barrier();
    for (uint s = XF_WG / 2u; s > 0u; s >>= 1) {
        if (t < s) xf_red[t] += xf_red[t + s];
        barrier();
    }
    return xf_red[0];
}
float xf_row_max(float v) {
    uint t = gl_LocalInvocationID.x;
    barrier();
    xf_red[t] = v;
    barrier();
    for (uint s = XF_WG / 2u; s > 0u; s >>= 1) {
        if (t < s) xf_red[t] = max(xf_red[t], xf_red[t + s]);
        barrier();
    }
    return xf_red[0];
}
#endif
