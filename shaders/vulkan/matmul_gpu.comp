#version 450
// variants: matmul_gpu_f32 matmul_gpu_f16=XF_F16 matmul_gpu_f32_wf16=XF_B_F16 matmul_gpu_f32_wbf16=XF_B_BF16
// variants: matmul_gpu_f16_wf32=XF_F16,XF_B_F32 matmul_gpu_f16_wbf16=XF_F16,XF_B_BF16
// variants: matmul_gpu_f32_wi8=XF_B_I8 matmul_gpu_f16_wi8=XF_F16,XF_B_I8
// Batched GEMM for GPUs: TS x TS tiles of a and b staged in shared memory, one dst element per
// invocation. Same operands, layout and push constants as matmul_cpu.comp.
// Tunables: TS (work-group TS x TS; shared memory 2 * TS * TS floats).
#include "common.glsl"
layout(local_size_x_id = 0, local_size_y_id = 0) in;
layout(constant_id = 0) const uint TS = 16;
layout(constant_id = 3) const bool TRANS_B = true;
layout(constant_id = 5) const uint ACT = 0;
layout(constant_id = 6) const bool HAS_BIAS = false;
layout(constant_id = 7) const bool HAS_RES = false;

layout(binding = 0) readonly buffer A { XF_ST a[]; };
layout(binding = 1) readonly buffer B { XF_BST b[]; };
layout(binding = 2) readonly buffer Bias { XF_ST bias[]; };
layout(binding = 3) readonly buffer Res { XF_ST res[]; };
layout(binding = 4) writeonly buffer D { XF_ST d[]; };
layout(push_constant) uniform P {
    uint m, n, k, ldb, ldc, b1;
    uint sa0, sa1, sb0, sb1, sc0, sc1;
    uint a_off, b_off, bias_off, res_off, d_off;
    uint qb, s_off, s_row;  // an int8 b's scales: scale of (n, k) at s_off + n * s_row + k / qb
} p;

shared float ta[TS][TS];
shared float tb[TS][TS];

void main() {
    uint tx = gl_LocalInvocationID.x, ty = gl_LocalInvocationID.y;
    uint n = gl_WorkGroupID.x * TS + tx;
    uint m = gl_WorkGroupID.y * TS + ty;
    uint z = gl_WorkGroupID.z;
    uint z0 = z / p.b1, z1 = z % p.b1;
    uint aoff = p.a_off + z0 * p.sa0 + z1 * p.sa1;
    uint boff = p.b_off + z0 * p.sb0 + z1 * p.sb1;
    float acc = 0.0;
    for (uint k0 = 0u; k0 < p.k; k0 += TS) {
        uint ka = k0 + tx;
        ta[ty][tx] = (m < p.m && ka < p.k) ? float(a[aoff + m * p.k + ka]) : 0.0;
        // tb[kk][nn]: for TRANS_B the invocation (tx, ty) loads b[n = n-tile + ty][k0 + tx] so that
        // neighbouring invocations read neighbouring addresses.
        if (TRANS_B) {
            uint nb = gl_WorkGroupID.x * TS + ty;
            tb[tx][ty] = (nb < p.n && ka < p.k)
                             ? XF_B_LOAD(b, boff + nb * p.k + ka) * XF_B_SCALE(p.s_off + nb * p.s_row + ka / p.qb)
                             : 0.0;
        } else {
            uint kb = k0 + ty;
            tb[ty][tx] = (n < p.n && kb < p.k) ? XF_B_LOAD(b, boff + kb * p.ldb + n) : 0.0;
        }
        barrier();
        for (uint kk = 0u; kk < TS; ++kk) acc = fma(ta[ty][kk], tb[kk][tx], acc);
        barrier();
    }
    if (m >= p.m || n >= p.n) return;
    float v = acc;
    if (HAS_BIAS) v += float(bias[p.bias_off + n]);
    v = xf_act(v, ACT);
    uint c = m * p.ldc + n + z0 * p.sc0 + z1 * p.sc1;
    if (HAS_RES) v += float(res[p.res_off + c]);
    d[p.d_off + c] = XF_ST(v);
}
