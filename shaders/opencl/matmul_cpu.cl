// SPDX-License-Identifier: MIT
// MATMUL, CPU-style variants: no local memory, no barriers; each work-item computes a register
// block with float16 vectors held in named variables (arrays of vectors end up in memory on PoCL).
//   C[bt, M, N] = act(A[bt, M, K] . B + bias[N]) + R[bt, M, N]
//   mm_cpu_nt: B is [N, K] (PyTorch linear weight): 4x4 outputs per work-item as 16 float16
//              partial dot products along K, reduced once at the end. The fast path.
//   mm_cpu_nn: B is [K, N]: 8 rows x 16 columns per work-item, float16 vectors along N. Slow when
//              B's row stride is a multiple of 1 KiB (cache-set aliasing), so the host transposes B
//              with mm_transpose and uses mm_cpu_nt for those.
// Work-items: dim 0 = row block, dim 1 = column block, dim 2 = batch. Rows (and nt columns) past the
// edge read the last valid row (clamped) and skip their store, so the inner loops have no bounds
// checks. |nb1| is the batch's inner count; |sa0|/|sa1| and |sb0|/|sb1| are A's and B's batch strides
// (0 when broadcast).

#define XF_R4(X) X(0) X(1) X(2) X(3)
#define XF_R8(X) X(0) X(1) X(2) X(3) X(4) X(5) X(6) X(7)

inline float xf_mm_epilogue(float v, __global const st_t* bias, int bias_off, __global const st_t* res,
                            int r_idx, int n, int has_bias, int has_res, int act) {
    if (has_bias) v += LD(bias, bias_off + n);
    v = xf_act(v, act);
    if (has_res) v += LD(res, r_idx);
    return v;
}

inline float xf_hsum16(float16 v) {
    float8 h8 = v.lo + v.hi;
    float4 h4 = h8.lo + h8.hi;
    float2 h2 = h4.lo + h4.hi;
    return h2.x + h2.y;
}

__kernel void mm_cpu_nt(__global const st_t* A, int a_off, __global const st_t* B, int b_off,
                        __global const st_t* bias, int bias_off, __global const st_t* R, int r_off,
                        __global st_t* C, int c_off, int M, int N, int K, int nb1, int sa0, int sa1, int sb0,
                        int sb1, int has_bias, int has_res, int act) {
    int m0 = get_global_id(0) * 4, n0 = get_global_id(1) * 4, bt = get_global_id(2);
    if (m0 >= M || n0 >= N) return;
    int bo = bt / nb1, bi = bt - bo * nb1;
    a_off += bo * sa0 + bi * sa1;
    b_off += bo * sb0 + bi * sb1;
    c_off += bt * M * N;
    r_off += bt * M * N;
#define XF_PA(i) __global const st_t* a##i = A + a_off + min(m0 + i, M - 1) * K;
#define XF_PB(i) __global const st_t* b##i = B + b_off + min(n0 + i, N - 1) * K;
#define XF_ACC(i) float16 c##i##0 = 0.0f, c##i##1 = 0.0f, c##i##2 = 0.0f, c##i##3 = 0.0f;
    XF_R4(XF_PA)
    XF_R4(XF_PB)
    XF_R4(XF_ACC)
    int k = 0;
    for (; k + 16 <= K; k += 16) {
#define XF_LA(i) float16 va##i = LD16(a##i + k);
#define XF_LB(i) float16 vb##i = LD16(b##i + k);
#define XF_FMA(i)                       \
    c##i##0 = fma(va##i, vb0, c##i##0); \
    c##i##1 = fma(va##i, vb1, c##i##1); \
    c##i##2 = fma(va##i, vb2, c##i##2); \
    c##i##3 = fma(va##i, vb3, c##i##3);
        XF_R4(XF_LA)
        XF_R4(XF_LB)
        XF_R4(XF_FMA)
    }
    float s[4][4];
#define XF_HS(i)                  \
    s[i][0] = xf_hsum16(c##i##0); \
    s[i][1] = xf_hsum16(c##i##1); \
    s[i][2] = xf_hsum16(c##i##2); \
    s[i][3] = xf_hsum16(c##i##3);
    XF_R4(XF_HS)
    __global const st_t* ap[4] = {a0, a1, a2, a3};
    __global const st_t* bp[4] = {b0, b1, b2, b3};
    for (; k < K; ++k) {
        for (int i = 0; i < 4; ++i) {
            float av = LD(ap[i], k);
            for (int j = 0; j < 4; ++j) s[i][j] = fma(av, LD(bp[j], k), s[i][j]);
        }
    }
    // Bias and activation on all 16 outputs at once (vector erf/exp).
    float16 v = vload16(0, &s[0][0]);
    if (has_bias) {
        float4 b4 =
            (float4)(LD(bias, bias_off + min(n0, N - 1)), LD(bias, bias_off + min(n0 + 1, N - 1)),
                     LD(bias, bias_off + min(n0 + 2, N - 1)), LD(bias, bias_off + min(n0 + 3, N - 1)));
        v += (float16)(b4, b4, b4, b4);
    }
    vstore16(xf_act16(v, act), 0, &s[0][0]);
    for (int i = 0; i < 4 && m0 + i < M; ++i) {
        int row = (m0 + i) * N;
        for (int j = 0; j < 4 && n0 + j < N; ++j) {
            int n = n0 + j;
            ST(C, c_off + row + n, s[i][j] + (has_res ? LD(R, r_off + row + n) : 0.0f));
        }
    }
}

__kernel void mm_cpu_nn(__global const st_t* A, int a_off, __global const st_t* B, int b_off,
                        __global const st_t* bias, int bias_off, __global const st_t* R, int r_off,
                        __global st_t* C, int c_off, int M, int N, int K, int nb1, int sa0, int sa1, int sb0,
                        int sb1, int has_bias, int has_res, int act) {
    int m0 = get_global_id(0) * 8, n0 = get_global_id(1) * 16, bt = get_global_id(2);
    if (m0 >= M || n0 >= N) return;
    int bo = bt / nb1, bi = bt - bo * nb1;
    a_off += bo * sa0 + bi * sa1;
    b_off += bo * sb0 + bi * sb1;
    c_off += bt * M * N;
    r_off += bt * M * N;
#define XF_PA8(i) __global const st_t* a##i = A + a_off + min(m0 + i, M - 1) * K;
    XF_R8(XF_PA8)
    if (n0 + 16 <= N) {
        float16 c0 = 0.0f, c1 = 0.0f, c2 = 0.0f, c3 = 0.0f, c4 = 0.0f, c5 = 0.0f, c6 = 0.0f, c7 = 0.0f;
        __global const st_t* b = B + b_off + n0;
        for (int k = 0; k < K; ++k) {
            float16 bv = LD16(b);
            b += N;
#define XF_NN(i) c##i = fma((float16)LD(a##i, k), bv, c##i);
            XF_R8(XF_NN)
        }
        float t[8][16];
#define XF_SPILL(i) vstore16(c##i, 0, t[i]);
        XF_R8(XF_SPILL)
        float16 bv = has_bias ? LD16(bias + bias_off + n0) : (float16)0.0f;
        for (int i = 0; i < 8 && m0 + i < M; ++i) {
            int row = (m0 + i) * N;
            float16 v = xf_act16(vload16(0, t[i]) + bv, act);
            if (has_res) v += LD16(R + r_off + row + n0);
            ST16(C + c_off + row + n0, v);
        }
        return;
    }
    __global const st_t* ap[8] = {a0, a1, a2, a3, a4, a5, a6, a7};
    for (int i = 0; i < 8 && m0 + i < M; ++i) {
        int row = (m0 + i) * N;
        for (int n = n0; n < N; ++n) {
            float s = 0.0f;
            for (int k = 0; k < K; ++k) s = fma(LD(ap[i], k), LD(B, b_off + k * N + n), s);
            ST(C, c_off + row + n,
               xf_mm_epilogue(s, bias, bias_off, R, r_off + row + n, n, has_bias, has_res, act));
        }
    }
}

// dst[bt, N, K] = src[bt, K, N]^T for dense matrices; one 16x16 tile per work-item (dim 0 = tile
// along N, dim 1 = tile along K, dim 2 = batch). Full tiles are transposed in 16 float16 registers.
#define XF_T16(X) X(0) X(1) X(2) X(3) X(4) X(5) X(6) X(7) X(8) X(9) X(a) X(b) X(c) X(d) X(e) X(f)
__kernel void mm_transpose(__global const st_t* src, int s_off, __global st_t* dst, int d_off, int K, int N) {
    int n0 = get_global_id(0) * 16, k0 = get_global_id(1) * 16, bt = get_global_id(2);
    if (n0 >= N || k0 >= K) return;
    __global const st_t* s = src + s_off + bt * K * N + k0 * N + n0;
    __global st_t* d = dst + d_off + bt * K * N + n0 * K + k0;
    if (n0 + 16 <= N && k0 + 16 <= K) {
#define XF_TR_LOAD(i) float16 r##i = LD16(s + 0x##i * N);
#define XF_TR_STORE(j)                                                                                    \
    ST16(d + 0x##j * K, (float16)(r0.s##j, r1.s##j, r2.s##j, r3.s##j, r4.s##j, r5.s##j, r6.s##j, r7.s##j, \
                                  r8.s##j, r9.s##j, ra.s##j, rb.s##j, rc.s##j, rd.s##j, re.s##j, rf.s##j));
        XF_T16(XF_TR_LOAD)
        XF_T16(XF_TR_STORE)
        return;
    }
    int kn = min(16, K - k0), nn = min(16, N - n0);
    for (int n = 0; n < nn; ++n)
        for (int k = 0; k < kn; ++k) ST(d, n * K + k, LD(s, k * N + n));
}
