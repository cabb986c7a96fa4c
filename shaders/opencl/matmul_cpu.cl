// SPDX-License-Identifier: MIT
// MATMUL, CPU-style variants: no local memory, no barriers; each work-item computes a register
// block with wide vectors.
//   C[bt, M, N] = act(A[bt, M, K] . B + bias[N]) + R[bt, M, N]
//   mm_cpu_nn: B is [K, N]; block MM_RM rows x 16*MM_VN cols, float16 vectors along N.
//   mm_cpu_nt: B is [N, K] (PyTorch linear weight); block MT_RM x MT_RN dot products, float16
//              vectors along K, reduced once at the end.
// Work-items: dim 0 = row block (fastest, so neighbours share the B panel), dim 1 = column block,
// dim 2 = batch. Rows past M read row M-1 (clamped) and skip their store, so the inner loops need no
// bounds checks. |nb1| is the batch's inner count and |sb0|/|sb1| are B's batch strides (0 when
// broadcast).
#ifndef MM_RM
#define MM_RM 8  // rows per work-item (nn)
#endif
#ifndef MM_VN
#define MM_VN 2  // float16 vectors of columns per work-item (nn)
#endif
#ifndef MT_RM
#define MT_RM 4  // rows per work-item (nt)
#endif
#ifndef MT_RN
#define MT_RN 4  // columns per work-item (nt)
#endif

inline float xf_mm_epilogue(float v, __global const st_t* bias, int bias_off, __global const st_t* res,
                            int r_idx, int n, int has_bias, int has_res, int act) {
    if (has_bias) v += LD(bias, bias_off + n);
    v = xf_act(v, act);
    if (has_res) v += LD(res, r_idx);
    return v;
}

inline void xf_mm_batch(int bt, int nb1, int sb0, int sb1, int M, int N, int K, int* a_base, int* b_base,
                        int* c_base) {
    int b0 = bt / nb1, b1 = bt - b0 * nb1;
    *a_base += bt * M * K;
    *b_base += b0 * sb0 + b1 * sb1;
    *c_base += bt * M * N;
}

__kernel void mm_cpu_nn(__global const st_t* A, int a_off, __global const st_t* B, int b_off,
                        __global const st_t* bias, int bias_off, __global const st_t* R, int r_off,
                        __global st_t* C, int c_off, int M, int N, int K, int nb1, int sb0, int sb1, int has_bias,
                        int has_res, int act) {
    int m0 = get_global_id(0) * MM_RM, n0 = get_global_id(1) * (16 * MM_VN);
    if (m0 >= M || n0 >= N) return;
    int c_base = 0;
    xf_mm_batch(get_global_id(2), nb1, sb0, sb1, M, N, K, &a_off, &b_off, &c_base);
    __global const st_t* a[MM_RM];
    for (int r = 0; r < MM_RM; ++r) a[r] = A + a_off + min(m0 + r, M - 1) * K;
    if (n0 + 16 * MM_VN <= N) {
        float16 acc[MM_RM][MM_VN];
        for (int r = 0; r < MM_RM; ++r)
            for (int v = 0; v < MM_VN; ++v) acc[r][v] = (float16)0.0f;
        __global const st_t* b = B + b_off + n0;
        for (int k = 0; k < K; ++k) {
            float16 bv[MM_VN];
            for (int v = 0; v < MM_VN; ++v) bv[v] = LD16(b + v * 16);
            b += N;
            for (int r = 0; r < MM_RM; ++r) {
                float av = LD(a[r], k);
                for (int v = 0; v < MM_VN; ++v) acc[r][v] = fma((float16)av, bv[v], acc[r][v]);
            }
        }
        for (int r = 0; r < MM_RM && m0 + r < M; ++r) {
            int row = c_base + (m0 + r) * N;
            for (int v = 0; v < MM_VN; ++v) {
                float t[16];
                vstore16(acc[r][v], 0, t);
                for (int j = 0; j < 16; ++j) {
                    int n = n0 + v * 16 + j;
                    ST(C, c_off + row + n,
                       xf_mm_epilogue(t[j], bias, bias_off, R, r_off + row + n, n, has_bias, has_res, act));
                }
            }
        }
        return;
    }
    // Right edge: fewer than 16 * MM_VN columns left.
    for (int r = 0; r < MM_RM && m0 + r < M; ++r) {
        int row = c_base + (m0 + r) * N;
        for (int n = n0; n < N; ++n) {
            float s = 0.0f;
            for (int k = 0; k < K; ++k) s = fma(LD(a[r], k), LD(B, b_off + k * N + n), s);
            ST(C, c_off + row + n, xf_mm_epilogue(s, bias, bias_off, R, r_off + row + n, n, has_bias, has_res, act));
        }
    }
}

__kernel void mm_cpu_nt(__global const st_t* A, int a_off, __global const st_t* B, int b_off,
                        __global const st_t* bias, int bias_off, __global const st_t* R, int r_off,
                        __global st_t* C, int c_off, int M, int N, int K, int nb1, int sb0, int sb1, int has_bias,
                        int has_res, int act) {
    int m0 = get_global_id(0) * MT_RM, n0 = get_global_id(1) * MT_RN;
    if (m0 >= M || n0 >= N) return;
    int c_base = 0;
    xf_mm_batch(get_global_id(2), nb1, sb0, sb1, M, N, K, &a_off, &b_off, &c_base);
    __global const st_t* a[MT_RM];
    __global const st_t* b[MT_RN];
    for (int r = 0; r < MT_RM; ++r) a[r] = A + a_off + min(m0 + r, M - 1) * K;
    for (int c = 0; c < MT_RN; ++c) b[c] = B + b_off + min(n0 + c, N - 1) * K;
    float16 acc[MT_RM][MT_RN];
    for (int r = 0; r < MT_RM; ++r)
        for (int c = 0; c < MT_RN; ++c) acc[r][c] = (float16)0.0f;
    int k = 0;
    for (; k + 16 <= K; k += 16) {
        float16 av[MT_RM], bv[MT_RN];
        for (int r = 0; r < MT_RM; ++r) av[r] = LD16(a[r] + k);
        for (int c = 0; c < MT_RN; ++c) bv[c] = LD16(b[c] + k);
        for (int r = 0; r < MT_RM; ++r)
            for (int c = 0; c < MT_RN; ++c) acc[r][c] = fma(av[r], bv[c], acc[r][c]);
    }
    float s[MT_RM][MT_RN];
    for (int r = 0; r < MT_RM; ++r) {
        for (int c = 0; c < MT_RN; ++c) {
            float8 h8 = acc[r][c].lo + acc[r][c].hi;
            float4 h4 = h8.lo + h8.hi;
            float2 h2 = h4.lo + h4.hi;
            s[r][c] = h2.x + h2.y;
        }
    }
    for (; k < K; ++k) {
        for (int r = 0; r < MT_RM; ++r) {
            float av = LD(a[r], k);
            for (int c = 0; c < MT_RN; ++c) s[r][c] = fma(av, LD(b[c], k), s[r][c]);
        }
    }
    for (int r = 0; r < MT_RM && m0 + r < M; ++r) {
        int row = c_base + (m0 + r) * N;
        for (int c = 0; c < MT_RN && n0 + c < N; ++c) {
            int n = n0 + c;
            ST(C, c_off + row + n,
               xf_mm_epilogue(s[r][c], bias, bias_off, R, r_off + row + n, n, has_bias, has_res, act));
        }
    }
}
