// SPDX-License-Identifier: MIT
// ATTENTION, GPU-style variant (flash-attention tiling): a work-group of XF_TILE work-items takes
// XF_TILE query rows of one (batch*head); tiles of XF_TILE keys and values are staged in local
// memory, and each work-item keeps an online softmax for its row. Requires D, Dv <= ATT_GPU_DMAX
// (the host uses the CPU-style kernel otherwise). Layouts as in attention_cpu.cl.
#ifndef ATT_GPU_DMAX
#define ATT_GPU_DMAX 128  // largest head size held in local memory and registers
#endif

__kernel void attn_gpu(__global const st_t* q, int q_off, __global const st_t* k, int k_off,
                       __global const st_t* v, int v_off, __global const st_t* bias, int bias_off, int4 bs,
                       __global st_t* dst, int d_off, int BH, int nh, int Lq, int Lk, int D, int Dv,
                       float scale, int has_bias) {
    __local float Ks[XF_TILE][ATT_GPU_DMAX];
    __local float Vs[XF_TILE][ATT_GPU_DMAX];
    int t = get_local_id(0);
    int i = get_group_id(0) * XF_TILE + t, bh = get_global_id(1);
    bool active = i < Lq && bh < BH;
    int ic = min(i, Lq - 1);
    __global const st_t* qr = q + q_off + (bh * Lq + ic) * D;
    int brow = bias_off + (bh / nh) * bs.x + (bh % nh) * bs.y + ic * bs.z;
    float acc[ATT_GPU_DMAX];
    for (int e = 0; e < Dv; ++e) acc[e] = 0.0f;
    float mx = -INFINITY, sum = 0.0f;
    for (int j0 = 0; j0 < Lk; j0 += XF_TILE) {
        int jn = min(XF_TILE, Lk - j0);
        for (int x = t; x < XF_TILE * D; x += XF_TILE) {
            int r = x / D, c = x - r * D;
            Ks[r][c] = r < jn ? LD(k, k_off + (bh * Lk + j0 + r) * D + c) : 0.0f;
        }
        for (int x = t; x < XF_TILE * Dv; x += XF_TILE) {
            int r = x / Dv, c = x - r * Dv;
            Vs[r][c] = r < jn ? LD(v, v_off + (bh * Lk + j0 + r) * Dv + c) : 0.0f;
        }
        barrier(CLK_LOCAL_MEM_FENCE);
        if (active) {
            for (int j = 0; j < jn; ++j) {
                float s = 0.0f;
                for (int d = 0; d < D; ++d) s = fma(LD(qr, d), Ks[j][d], s);
                s *= scale;
                if (has_bias) s += LD(bias, brow + (j0 + j) * bs.w);
                if (s > mx) {
                    float c = exp(mx - s);
                    sum *= c;
                    for (int e = 0; e < Dv; ++e) acc[e] *= c;
                    mx = s;
                }
                float p = exp(s - mx);
                sum += p;
                for (int e = 0; e < Dv; ++e) acc[e] = fma(p, Vs[j][e], acc[e]);
            }
        }
        barrier(CLK_LOCAL_MEM_FENCE);
    }
    if (active) {
        float inv = 1.0f / sum;
        __global st_t* o = dst + d_off + (bh * Lq + i) * Dv;
        for (int e = 0; e < Dv; ++e) ST(o, e, acc[e] * inv);
    }
}
