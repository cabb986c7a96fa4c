#version 450
// variants: matmul_sg_f32 matmul_sg_f16=XF_F16 matmul_sg_f32_wf16=XF_B_F16 matmul_sg_f32_wbf16=XF_B_BF16
// variants: matmul_sg_f16_wf32=XF_F16,XF_B_F32 matmul_sg_f16_wbf16=XF_F16,XF_B_BF16
// variants: matmul_sg_f32_wi8=XF_B_I8 matmul_sg_f16_wi8=XF_F16,XF_B_I8
// GEMM for CPU-like devices with subgroup shuffles (same operands, layout and push constants as
// matmul_cpu.comp). A work-group is one subgroup of SG lanes. Lane l loads R rows of a (rows
// m0 + l * R + r) and TN columns of b; the a rows are then broadcast to every lane with
// subgroupShuffle, so each loaded value feeds SG * R * TN multiply-adds. On llvmpipe every divergent
// load is SG scalar loads while a shuffle is a register extract, which makes this several times
// faster than loading the whole a block in every lane.
// Requires K % 4 == 0, 4-element aligned a/b offsets, and for [K, N] b also N % 4 == 0 and TN == 4.
// Tunables: SG (the device's subgroup size), R, TN.
#include "common.glsl"
#extension GL_KHR_shader_subgroup_basic : require
#extension GL_KHR_shader_subgroup_shuffle : require
layout(local_size_x_id = 0) in;
layout(constant_id = 0) const uint SG = 8;
layout(constant_id = 1) const uint R = 1;
layout(constant_id = 2) const uint TN = 4;
layout(constant_id = 3) const bool TRANS_B = true;
layout(constant_id = 5) const uint ACT = 0;
layout(constant_id = 6) const bool HAS_BIAS = false;
layout(constant_id = 7) const bool HAS_RES = false;

layout(binding = 0) readonly buffer A4 { XF_PK4 a4[]; };
layout(binding = 1) readonly buffer B4 { XF_BPK4 b4[]; };
layout(binding = 2) readonly buffer Bias { XF_ST bias[]; };
layout(binding = 3) readonly buffer Res { XF_ST res[]; };
layout(binding = 4) writeonly buffer D { XF_ST d[]; };
layout(push_constant) uniform P {
    uint m, n, k, ldb, ldc, b1;
    uint sa0, sa1, sb0, sb1, sc0, sc1;
    uint a_off, b_off, bias_off, res_off, d_off;
    uint qb, s_off, s_row;  // an int8 b's scales: scale of (n, k) at s_off + n * s_row + k / qb
} p;

const uint ROWS = SG * R;
float acc[ROWS * TN];

void main() {
    uint lane = gl_SubgroupInvocationID;
    uint m0 = gl_WorkGroupID.y * ROWS;
    uint n0 = (gl_WorkGroupID.x * SG + lane) * TN;
    uint z = gl_WorkGroupID.z;
    uint z0 = z / p.b1, z1 = z % p.b1;
    uint aoff = p.a_off + z0 * p.sa0 + z1 * p.sa1;
    uint boff = p.b_off + z0 * p.sb0 + z1 * p.sb1;
    uint coff = p.d_off + z0 * p.sc0 + z1 * p.sc1;
    uint roff = p.res_off + z0 * p.sc0 + z1 * p.sc1;
    uint k4n = p.k / 4u;
    uint arow[R];
    for (uint r = 0u; r < R; ++r) arow[r] = aoff / 4u + min(m0 + lane * R + r, p.m - 1u) * k4n;
    for (uint i = 0u; i < ROWS * TN; ++i) acc[i] = 0.0;
    if (TRANS_B) {
        uint brow[TN];
        for (uint j = 0u; j < TN; ++j) brow[j] = boff / 4u + min(n0 + j, p.n - 1u) * k4n;
        uint srow[TN];
        for (uint j = 0u; j < TN; ++j) srow[j] = p.s_off + min(n0 + j, p.n - 1u) * p.s_row;
        // Groups of K that share a scale (one group unless b is int8).
        uint g4 = p.qb / 4u;
        for (uint g0 = 0u; g0 < k4n; g0 += g4) {
            float sc[TN];
            for (uint j = 0u; j < TN; ++j) sc[j] = XF_B_SCALE(srow[j] + g0 / g4);
            for (uint k4 = g0; k4 < min(g0 + g4, k4n); ++k4) {
                vec4 av[R];
                for (uint r = 0u; r < R; ++r) av[r] = xf_unpack4(a4[arow[r] + k4]);
                vec4 bv[TN];
                for (uint j = 0u; j < TN; ++j) bv[j] = xf_b_unpack4(b4[brow[j] + k4]) * sc[j];
                for (uint s = 0u; s < SG; ++s) {
                    for (uint r = 0u; r < R; ++r) {
                        vec4 a = subgroupShuffle(av[r], s);
                        for (uint j = 0u; j < TN; ++j) {
                            uint i = (s * R + r) * TN + j;
                            acc[i] = fma(a.w, bv[j].w, fma(a.z, bv[j].z, fma(a.y, bv[j].y, fma(a.x, bv[j].x, acc[i]))));
                        }
                    }
                }
            }
        }
    } else {
        uint ldb4 = p.ldb / 4u;
        uint bcol = boff / 4u + min(n0, p.n - 4u) / 4u;
        for (uint k4 = 0u; k4 < k4n; ++k4) {
            vec4 av[R];
            for (uint r = 0u; r < R; ++r) av[r] = xf_unpack4(a4[arow[r] + k4]);
            vec4 bv[4];
            for (uint kk = 0u; kk < 4u; ++kk) bv[kk] = xf_b_unpack4(b4[(k4 * 4u + kk) * ldb4 + bcol]);
            for (uint s = 0u; s < SG; ++s) {
                for (uint r = 0u; r < R; ++r) {
                    vec4 a = subgroupShuffle(av[r], s);
                    uint i = (s * R + r) * TN;
                    vec4 c = vec4(acc[i], acc[i + 1u], acc[i + 2u], acc[i + 3u]);
                    c = fma(vec4(a.x), bv[0], c);
                    c = fma(vec4(a.y), bv[1], c);
                    c = fma(vec4(a.z), bv[2], c);
                    c = fma(vec4(a.w), bv[3], c);
                    acc[i] = c.x;
                    acc[i + 1u] = c.y;
                    acc[i + 2u] = c.z;
                    acc[i + 3u] = c.w;
                }
            }
        }
    }
    for (uint s = 0u; s < SG; ++s) {
        for (uint r = 0u; r < R; ++r) {
            uint m = m0 + s * R + r;
            for (uint j = 0u; j < TN; ++j) {
                uint n = n0 + j;
                if (m < p.m && n < p.n) {
                    float v = acc[(s * R + r) * TN + j];
                    if (HAS_BIAS) v += float(bias[p.bias_off + n]);
                    v = xf_act(v, ACT);
                    if (HAS_RES) v += float(res[roff + m * p.ldc + n]);
                    d[coff + m * p.ldc + n] = XF_ST(v);
                }
            }
        }
    }
}
