// SPDX-License-Identifier: MIT
// MATMUL, GPU-style variant: XF_TILE x XF_TILE tiles of A and B staged in local memory, one output
// per work-item. Work-group (XF_TILE, XF_TILE, 1); dim 0 = column, dim 1 = row, dim 2 = batch.
// |trans_b|: B is [N, K] instead of [K, N], stored as bt_t (common.cl). Out-of-range tile elements
// load as zero. An int8 B (XF_BQ) is scaled by S[s_off + n * s_row + k / qb] (per channel: qb = K).
__kernel void mm_gpu(__global const st_t* A, int a_off, __global const bt_t* B, int b_off,
                     __global const st_t* bias, int bias_off, __global const st_t* R, int r_off,
                     __global st_t* C, int c_off, int M, int N, int K, int nb1, int sa0, int sa1, int sb0,
                     int sb1, int has_bias, int has_res, int act, int trans_b
#if XF_BQ
                     , __global const sc_t* S, int s_off, int qb, int s_row
#endif
                     ) {
    __local float As[XF_TILE][XF_TILE];
    __local float Bs[XF_TILE][XF_TILE + 1];
    int tx = get_local_id(0), ty = get_local_id(1);
    int n = get_group_id(0) * XF_TILE + tx, m = get_group_id(1) * XF_TILE + ty;
    int bt = get_global_id(2);
    int b0 = bt / nb1, b1 = bt - b0 * nb1;
    int a_base = a_off + b0 * sa0 + b1 * sa1, b_base = b_off + b0 * sb0 + b1 * sb1, c_base = bt * M * N;
    float acc = 0.0f;
    for (int k0 = 0; k0 < K; k0 += XF_TILE) {
        int ka = k0 + tx;
        As[ty][tx] = (m < M && ka < K) ? LD(A, a_base + m * K + ka) : 0.0f;
        // Bs[kk][nn]: work-item (tx, ty) loads k = k0 + ty, column n.
        int kb = k0 + ty;
        float bv = 0.0f;
        if (n < N && kb < K) bv = LDB(B, b_base + (trans_b ? n * K + kb : kb * N + n));
#if XF_BQ
        if (n < N && kb < K) bv *= LDSC(S, s_off + n * s_row + kb / qb);
#endif
        Bs[ty][tx] = bv;
        barrier(CLK_LOCAL_MEM_FENCE);
        for (int kk = 0; kk < XF_TILE; ++kk) acc = fma(As[ty][kk], Bs[kk][tx], acc);
        barrier(CLK_LOCAL_MEM_FENCE);
    }
    if (m < M && n < N) {
        int i = c_base + m * N + n;
        float v = acc;
        if (has_bias) v += LD(bias, bias_off + n);
        v = xf_act(v, act);
        if (has_res) v += LD(R, r_off + i);
        ST(C, c_off + i, v);
    }
}
