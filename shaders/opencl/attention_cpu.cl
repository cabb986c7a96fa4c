// SPDX-License-Identifier: MIT
// ATTENTION, CPU-style variant: dst = softmax(q . k^T * scale + bias) . v, per (batch*head, query
// row) one work-item, online softmax (running max and sum), no barriers.
// q [BH, Lq, D], k [BH, Lk, D], v [BH, Lk, Dv], dst [BH, Lq, Dv]; |bs| are the bias's broadcast
// strides over [B, H, Lq, Lk] (0 along dims of size 1), |nh| = H. The output is produced in chunks of
// ATT_DV columns; each chunk recomputes the scores (one chunk for the usual head sizes <= ATT_DV).
#ifndef ATT_DV
#define ATT_DV 64  // output columns accumulated per pass
#endif

__kernel void attn_cpu(__global const st_t* q, int q_off, __global const st_t* k, int k_off,
                       __global const st_t* v, int v_off, __global const st_t* bias, int bias_off, int4 bs,
                       __global st_t* dst, int d_off, int BH, int nh, int Lq, int Lk, int D, int Dv,
                       float scale, int has_bias) {
    int i = get_global_id(0), bh = get_global_id(1);
    if (i >= Lq || bh >= BH) return;
    __global const st_t* qr = q + q_off + (bh * Lq + i) * D;
    __global const st_t* kb = k + k_off + bh * Lk * D;
    __global const st_t* vb = v + v_off + bh * Lk * Dv;
    int brow = bias_off + (bh / nh) * bs.x + (bh % nh) * bs.y + i * bs.z;
    for (int d0 = 0; d0 < Dv; d0 += ATT_DV) {
        int dn = min(ATT_DV, Dv - d0);
        float acc[ATT_DV];
        for (int d = 0; d < ATT_DV; ++d) acc[d] = 0.0f;
        float mx = -INFINITY, sum = 0.0f;
        for (int j = 0; j < Lk; ++j) {
            __global const st_t* kr = kb + j * D;
            float s = 0.0f;
            int d = 0;
            for (; d + 4 <= D; d += 4) {
                float4 p = LD4(qr + d) * LD4(kr + d);
                s += (p.x + p.y) + (p.z + p.w);
            }
            for (; d < D; ++d) s = fma(LD(qr, d), LD(kr, d), s);
            s *= scale;
            if (has_bias) s += LD(bias, brow + j * bs.w);
            if (s > mx) {
                float c = exp(mx - s);
                sum *= c;
                for (int e = 0; e < dn; ++e) acc[e] *= c;
                mx = s;
            }
            float p = exp(s - mx);
            sum += p;
            __global const st_t* vr = vb + j * Dv + d0;
            for (int e = 0; e < dn; ++e) acc[e] = fma(p, LD(vr, e), acc[e]);
        }
        float inv = 1.0f / sum;
        __global st_t* o = dst + d_off + (bh * Lq + i) * Dv + d0;
        for (int e = 0; e < dn; ++e) ST(o, e, acc[e] * inv);
    }
}
