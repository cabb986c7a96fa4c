#version 450
// variants: matmul_cpu_f32 matmul_cpu_f16=XF_F16 matmul_cpu_f32_wf16=XF_B_F16 matmul_cpu_f32_wbf16=XF_B_BF16
// variants: matmul_cpu_f16_wf32=XF_F16,XF_B_F32 matmul_cpu_f16_wbf16=XF_F16,XF_B_BF16
// variants: matmul_cpu_f32_wi8=XF_B_I8 matmul_cpu_f16_wi8=XF_F16,XF_B_I8
// Batched GEMM for CPU-like devices: no shared memory, no barriers; each invocation owns a TM x TN
// block of dst and keeps it in registers.
//   dst[z][m][n] = act(sum_k a[z][m][k] * b[z][k][n] + bias[n]) + res[z][m][n]
// a: [M, K] rows of length K; b: [K, N] with row stride ldb, or [N, K] (TRANS_B); dst/res: row stride
// ldc. Batch z = (z0, z1) with z1 < B1; each operand has its own batch strides (0 = broadcast).
// Loads: VEC uses vec4 loads along K (TRANS_B) or along K and N; it requires K % 4 == 0, N % 4 == 0
// (not TRANS_B), TN % 4 == 0 (not TRANS_B) and 4-element aligned offsets. Otherwise scalar loads.
// An int8 b (XF_B_I8, TRANS_B) is widened and scaled in registers, per group of p.qb elements of K.
// Tunables (specialization constants): WG, TM, TN.
#include "common.glsl"
layout(local_size_x_id = 0) in;
layout(constant_id = 1) const uint TM = 4;
layout(constant_id = 2) const uint TN = 4;
layout(constant_id = 3) const bool TRANS_B = true;
layout(constant_id = 4) const bool VEC = false;
layout(constant_id = 5) const uint ACT = 0;
layout(constant_id = 6) const bool HAS_BIAS = false;
layout(constant_id = 7) const bool HAS_RES = false;

layout(binding = 0) readonly buffer A { XF_ST a[]; };
layout(binding = 0) readonly buffer A4 { XF_ST4 a4[]; };
layout(binding = 1) readonly buffer B { XF_BST b[]; };
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

// Never 0: a zero-length array is invalid SPIR-V even where the vec4 path (TN % 4 == 0) is not taken.
const uint TN4 = TN >= 4u ? TN / 4u : 1u;
float acc[TM * TN];

void epilogue(uint m0, uint n0, uint coff, uint roff) {
    for (uint i = 0u; i < TM; ++i) {
        uint m = m0 + i;
        if (m >= p.m) break;
        for (uint j = 0u; j < TN; ++j) {
            uint n = n0 + j;
            if (n >= p.n) break;
            float v = acc[i * TN + j];
            if (HAS_BIAS) v += float(bias[p.bias_off + n]);
            v = xf_act(v, ACT);
            if (HAS_RES) v += float(res[roff + m * p.ldc + n]);
            d[coff + m * p.ldc + n] = XF_ST(v);
        }
    }
}

void main() {
    uint n0 = gl_GlobalInvocationID.x * TN;
    uint m0 = gl_WorkGroupID.y * TM;  // work-group uniform: a loads become scalar loads + broadcast
    // No early return for lanes past N: llvmpipe turns loads at work-group-uniform addresses (the a
    // rows here) into one scalar load only outside conditional control flow. Their loads are clamped
    // and the epilogue skips their stores.
    uint z = gl_GlobalInvocationID.z;
    uint z0 = z / p.b1, z1 = z % p.b1;
    uint aoff = p.a_off + z0 * p.sa0 + z1 * p.sa1;
    uint boff = p.b_off + z0 * p.sb0 + z1 * p.sb1;
    uint coff = p.d_off + z0 * p.sc0 + z1 * p.sc1;
    uint roff = p.res_off + z0 * p.sc0 + z1 * p.sc1;
    uint arow[TM];
    for (uint i = 0u; i < TM; ++i) arow[i] = min(m0 + i, p.m - 1u) * p.k;
    for (uint i = 0u; i < TM * TN; ++i) acc[i] = 0.0;

    if (VEC && TRANS_B) {
        // Scalar accumulators fed by vec4 dot products keep the register count at TM * TN + 4 * TN.
        uint brow[TN];
        for (uint j = 0u; j < TN; ++j) brow[j] = (boff + min(n0 + j, p.n - 1u) * p.k) / 4u;
        uint a4off = aoff / 4u;
        for (uint i = 0u; i < TM; ++i) arow[i] = a4off + arow[i] / 4u;
        uint srow[TN];
        for (uint j = 0u; j < TN; ++j) srow[j] = p.s_off + min(n0 + j, p.n - 1u) * p.s_row;
        // Groups of K that share a scale (one group unless b is int8).
        uint nk4 = p.k / 4u, g4 = p.qb / 4u;
        for (uint g0 = 0u; g0 < nk4; g0 += g4) {
            float sc[TN];
            for (uint j = 0u; j < TN; ++j) sc[j] = XF_B_SCALE(srow[j] + g0 / g4);
            for (uint k4 = g0; k4 < min(g0 + g4, nk4); ++k4) {
                vec4 bv[TN];
                for (uint j = 0u; j < TN; ++j) bv[j] = xf_b_unpack4(b4[brow[j] + k4]) * sc[j];
                for (uint i = 0u; i < TM; ++i) {
                    vec4 av = vec4(a4[arow[i] + k4]);
                    for (uint j = 0u; j < TN; ++j)
                        acc[i * TN + j] = fma(av.w, bv[j].w, fma(av.z, bv[j].z, fma(av.y, bv[j].y, fma(av.x, bv[j].x, acc[i * TN + j]))));
                }
            }
        }
    } else if (VEC) {
        vec4 acc4[TM * TN4];
        for (uint i = 0u; i < TM * TN4; ++i) acc4[i] = vec4(0.0);
        uint a4off = aoff / 4u;
        for (uint i = 0u; i < TM; ++i) arow[i] = a4off + arow[i] / 4u;
        uint ncol4 = p.n / 4u;
        uint bcol[TN4];
        for (uint j = 0u; j < TN4; ++j) bcol[j] = boff / 4u + min(n0 / 4u + j, ncol4 - 1u);
        uint ldb4 = p.ldb / 4u;
        for (uint k4 = 0u; k4 < p.k / 4u; ++k4) {
            vec4 av[TM];
            for (uint i = 0u; i < TM; ++i) av[i] = vec4(a4[arow[i] + k4]);
            for (uint kk = 0u; kk < 4u; ++kk) {
                uint krow = (k4 * 4u + kk) * ldb4;
                for (uint j = 0u; j < TN4; ++j) {
                    vec4 bv = xf_b_unpack4(b4[krow + bcol[j]]);
                    for (uint i = 0u; i < TM; ++i) acc4[i * TN4 + j] = fma(vec4(av[i][kk]), bv, acc4[i * TN4 + j]);
                }
            }
        }
        for (uint i = 0u; i < TM; ++i)
            for (uint j = 0u; j < TN4; ++j)
                for (uint c = 0u; c < 4u; ++c) acc[i * TN + j * 4u + c] = acc4[i * TN4 + j][c];
    } else {
        uint bidx[TN];
        for (uint j = 0u; j < TN; ++j) {
            uint n = min(n0 + j, p.n - 1u);
            bidx[j] = TRANS_B ? boff + n * p.k : boff + n;
        }
        uint bstep = TRANS_B ? 1u : p.ldb;
        for (uint k = 0u; k < p.k; ++k) {
            float av[TM];
            for (uint i = 0u; i < TM; ++i) av[i] = float(a[aoff + arow[i] + k]);
            for (uint j = 0u; j < TN; ++j) {
                float bv = XF_B_LOAD(b, bidx[j] + k * bstep) * XF_B_SCALE(p.s_off + min(n0 + j, p.n - 1u) * p.s_row + k / p.qb);
                for (uint i = 0u; i < TM; ++i) acc[i * TN + j] = fma(av[i], bv, acc[i * TN + j]);
            }
        }
    }
    epilogue(m0, n0, coff, roff);
}
