// SPDX-License-Identifier: MIT
// A.B^T without packing, CPU-style (no local memory, no barriers), for the convolution's im2col
// GEMM, whose weight is the left operand; MATMUL runs on packed panels (matmul_packed.cl).
//   C[bt, M, N] = act(A[bt, M, K] . B + bias[N]) + R[bt, M, N], B is [N, K]
// 4x4 outputs per work-item as 16 float16 partial dot products along K, held in named variables
// (arrays of vectors end up in memory on PoCL) and reduced once at the end.
// Work-items: dim 0 = row block, dim 1 = column block, dim 2 = batch. Rows and columns past the
// edge read the last valid row (clamped) and skip their store, so the inner loops have no bounds
// checks. |nb1| is the batch's inner count; |sa0|/|sa1| and |sb0|/|sb1| are A's and B's batch strides
// (0 when broadcast).

#define XF_R4(X) X(0) X(1) X(2) X(3)

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
