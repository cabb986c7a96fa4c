// SPDX-License-Identifier: MIT
// MATMUL on packed B panels, CPU-style (no local memory, no barriers), parameterized at build time:
//   XF_MR  rows of A per work-item (1..8)
//   XF_VW  float vector width of the accumulators (4, 8 or 16)
//   XF_NR  columns per work-item and panel width, a multiple of XF_VW (up to 4 vectors)
// Each work-item keeps XF_MR x XF_NR/XF_VW vector accumulators in registers, broadcasts one A value
// per row and streams its panel with unit stride; the host picks the parameters from the device
// (defaults by device class, or the tuning cache).
//
// B and its panels are stored as bt_t (common.cl: float, half or bfloat16 weights under any st_t).
// mm_pack: P[bt][panel][k][j] = B(k, panel * XF_NR + j), zero past N, for B as [N, K] (trans, a
//          linear weight) or [K, N]. Weights are packed once when a graph is prepared; other
//          operands each run into the node's scratch.
// mm_packed: C[bt, M, N] = act(A[bt, M, K] . B + bias[N]) + R[bt, M, N]. Rows past the edge read the
//          last valid row (clamped) and skip their store, so the inner loop has no bounds checks.
// im2col_packed: a convolution's im2col matrix written straight into panels (the B of mm_packed).
// Batching: bt = bo * nb1 + bi, A at bo * sa0 + bi * sa1, packed B at bo * sb0 + bi * sb1 (elements).
// An int8 B (XF_BQ, one matrix [N, K]) is packed as int8 panels followed, at byte |sq_off|, by its scales as
// float panels PS[panel][kb][j] = S(panel * XF_NR + j, kb), one per |qb| elements of K; mm_packed widens
// each panel vector in registers and sums each group apart, then adds it times its scales.
#ifndef XF_MR
#define XF_MR 6
#endif
#ifndef XF_VW
#define XF_VW 8
#endif
#ifndef XF_NR
#define XF_NR 16
#endif

#define XF_CAT_(a, b) a##b
#define XF_CAT(a, b) XF_CAT_(a, b)
#define vf XF_CAT(float, XF_VW)
#define XF_NV (XF_NR / XF_VW)
#if XF_BT == 0
#define LDBV(p) XF_CAT(vload, XF_VW)(0, (p))
#elif XF_BT == 3
// An aligned vector load: PoCL turns vloadn of chars into byte loads (int8 weights ran 1.3x slower than f32).
#define LDBV(p) XF_CAT(convert_float, XF_VW)(*(__global const XF_CAT(char, XF_VW)*)(p))
#elif XF_BT == 1
#define LDBV(p) XF_CAT(vload_half, XF_VW)(0, (__global const half*)(p))
#else
#define LDBV(p) XF_CAT(as_float, XF_VW)(XF_CAT(convert_uint, XF_VW)(XF_CAT(vload, XF_VW)(0, (p))) << 16)
#endif
#if XF_F16
#define LDV(p) XF_CAT(vload_half, XF_VW)(0, (p))
#define STV(p, v) XF_CAT(vstore_half, XF_VW)((v), 0, (p))
#else
#define LDV(p) XF_CAT(vload, XF_VW)(0, (p))
#define STV(p, v) XF_CAT(vstore, XF_VW)((v), 0, (p))
#endif

#if XF_MR == 1
#define XF_RM(X) X(0)
#elif XF_MR == 2
#define XF_RM(X) X(0) X(1)
#elif XF_MR == 3
#define XF_RM(X) X(0) X(1) X(2)
#elif XF_MR == 4
#define XF_RM(X) X(0) X(1) X(2) X(3)
#elif XF_MR == 5
#define XF_RM(X) X(0) X(1) X(2) X(3) X(4)
#elif XF_MR == 6
#define XF_RM(X) X(0) X(1) X(2) X(3) X(4) X(5)
#elif XF_MR == 7
#define XF_RM(X) X(0) X(1) X(2) X(3) X(4) X(5) X(6)
#elif XF_MR == 8
#define XF_RM(X) X(0) X(1) X(2) X(3) X(4) X(5) X(6) X(7)
#else
#error "XF_MR must be 1..8"
#endif
#if XF_NV == 1
#define XF_RN(X, i) X(i, 0)
#elif XF_NV == 2
#define XF_RN(X, i) X(i, 0) X(i, 1)
#elif XF_NV == 3
#define XF_RN(X, i) X(i, 0) X(i, 1) X(i, 2)
#elif XF_NV == 4
#define XF_RN(X, i) X(i, 0) X(i, 1) X(i, 2) X(i, 3)
#else
#error "XF_NR must be 1..4 times XF_VW"
#endif

// Not inlined: one copy of the vector activations instead of one per accumulator (driver compile time).
__attribute__((noinline)) vf xf_actv(vf x, int act) { XF_UFN_BODY(x, act, 0.0f, 0.0f) }
__attribute__((noinline)) float xf_act1(float x, int act) { return xf_act(x, act); }

__kernel void mm_pack(__global const bt_t* B, int b_off, __global bt_t* P, int p_off, int K, int N, int trans
#if XF_BQ
                      , __global const sc_t* S, int s_off, int qb, int sq_off
#endif
                      ) {
    int k = get_global_id(0), panel = get_global_id(1), bt = get_global_id(2);
    int panels = (N + XF_NR - 1) / XF_NR;
    if (k >= K || panel >= panels) return;
#if XF_BQ
    int groups = (K + qb - 1) / qb;
    if (k < groups) {
        __global float* ps = (__global float*)((__global char*)P + sq_off) + (panel * groups + k) * XF_NR;
        for (int j = 0; j < XF_NR; ++j) {
            int n = panel * XF_NR + j;
            ps[j] = n < N ? LDSC(S, s_off + n * groups + k) : 0.0f;
        }
    }
#endif
    __global const bt_t* b = B + b_off + bt * K * N;
    __global bt_t* p = P + p_off + (bt * panels + panel) * K * XF_NR + k * XF_NR;
    int n0 = panel * XF_NR;
    for (int j = 0; j < XF_NR; ++j) {
        int n = n0 + j;
        p[j] = n < N ? b[trans ? n * K + k : k * N + n] : (bt_t)0;
    }
}

// x [N, C, H, W] (xs), dst [N, O, Ho, Wo] (ds), kernel KH x KW, |p| = {stride h, stride w, pad h,
// pad w}, |dl| = dilation. P[n * groups + g][panel][k][j] = x at pixel panel * XF_NR + j and
// (channel, kh, kw) = k of group g, zero outside the image and past the last pixel.
__kernel void im2col_packed(__global const st_t* x, int x_off, __global st_t* P, int p_off, int4 xs, int4 ds,
                            int KH, int KW, int4 p, int2 dl, int groups) {
    int C = xs.y, H = xs.z, W = xs.w, Wo = ds.w, pixels = ds.z * ds.w;
    int Cg = C / groups, KK = Cg * KH * KW, panels = (pixels + XF_NR - 1) / XF_NR;
    int k = get_global_id(0), panel = get_global_id(1), z = get_global_id(2);
    if (k >= KK || panel >= panels || z >= ds.x * groups) return;
    int g = z % groups, n = z / groups;
    int c = k / (KH * KW), r = k - c * (KH * KW);
    int kh = r / KW, kw = r - kh * KW;
    __global const st_t* plane = x + x_off + (n * C + g * Cg + c) * H * W;
    __global st_t* out = P + p_off + (z * panels + panel) * KK * XF_NR + k * XF_NR;
    for (int j = 0; j < XF_NR; ++j) {
        int pix = panel * XF_NR + j, ho = pix / Wo, wo = pix - ho * Wo;
        int hi = ho * p.x - p.z + kh * dl.x, wi = wo * p.y - p.w + kw * dl.y;
        bool inside = pix < pixels && hi >= 0 && hi < H && wi >= 0 && wi < W;
        ST(out, j, inside ? LD(plane, hi * W + wi) : 0.0f);
    }
}

__kernel void mm_packed(__global const st_t* A, int a_off, __global const bt_t* P, int p_off,
                        __global const st_t* bias, int bias_off, __global const st_t* R, int r_off,
                        __global st_t* C, int c_off, int M, int N, int K, int nb1, int sa0, int sa1, int sb0,
                        int sb1, int has_bias, int has_res, int act
#if XF_BQ
                        , int qb, int sq_off
#endif
                        ) {
    int m0 = get_global_id(0) * XF_MR, panel = get_global_id(1), bt = get_global_id(2);
    int n0 = panel * XF_NR;
    if (m0 >= M || n0 >= N) return;
    int bo = bt / nb1, bi = bt - bo * nb1;
    a_off += bo * sa0 + bi * sa1;
    __global const bt_t* p = P + p_off + bo * sb0 + bi * sb1 + panel * K * XF_NR;
    c_off += bt * M * N;
    r_off += bt * M * N;
#define XF_PA(i) __global const st_t* a##i = A + a_off + min(m0 + i, M - 1) * K;
#define XF_ACC1(i, j) vf c##i##_##j = 0.0f;
#define XF_ACC(i) XF_RN(XF_ACC1, i)
    XF_RM(XF_PA)
    XF_RM(XF_ACC)
#define XF_LB(_, j) vf b##j = LDBV(p + j * XF_VW);
#define XF_FMA1(i, j) c##i##_##j = fma(av, b##j, c##i##_##j);
#define XF_FMA(i)                 \
    {                             \
        vf av = (vf)(LD(a##i, k)); \
        XF_RN(XF_FMA1, i)         \
    }
#if XF_BQ
    int groups = (K + qb - 1) / qb;
    __global const float* ps = (__global const float*)((__global const char*)P + sq_off) + panel * groups * XF_NR;
#define XF_LS(_, j) vf s##j = XF_CAT(vload, XF_VW)(0, ps + j * XF_VW);
#define XF_SCALE_ACC1(i, j) c##i##_##j *= s##j;
#define XF_SCALE_ACC(i) XF_RN(XF_SCALE_ACC1, i)
    // Scales multiply sums, not weights: per column once at the end, per block of qb as each block's sums are added.
    if (groups == 1) {
        for (int k = 0; k < K; ++k) {
            XF_RN(XF_LB, _)
            p += XF_NR;
            XF_RM(XF_FMA)
        }
        XF_RN(XF_LS, _)
        XF_RM(XF_SCALE_ACC)
    } else {
#define XF_PZ1(i, j) vf d##i##_##j = 0.0f;
#define XF_PZ(i) XF_RN(XF_PZ1, i)
#define XF_PF1(i, j) d##i##_##j = fma(av, b##j, d##i##_##j);
#define XF_PF(i)                   \
    {                              \
        vf av = (vf)(LD(a##i, k)); \
        XF_RN(XF_PF1, i)           \
    }
#define XF_PM1(i, j) c##i##_##j = fma(d##i##_##j, s##j, c##i##_##j);
#define XF_PM(i) XF_RN(XF_PM1, i)
        for (int k0 = 0; k0 < K; k0 += qb, ps += XF_NR) {
            int k1 = min(K, k0 + qb);
            XF_RM(XF_PZ)
            for (int k = k0; k < k1; ++k) {
                XF_RN(XF_LB, _)
                p += XF_NR;
                XF_RM(XF_PF)
            }
            XF_RN(XF_LS, _)
            XF_RM(XF_PM)
        }
    }
#else
    for (int k = 0; k < K; ++k) {
        XF_RN(XF_LB, _)
        p += XF_NR;
        XF_RM(XF_FMA)
    }
#endif
    // Epilogue per vector of columns: full vectors store directly, the last partial one by element.
#define XF_EPI1(i, j)                                                                   \
    {                                                                                   \
        int n = n0 + j * XF_VW, row = (m0 + i) * N;                                     \
        vf v = c##i##_##j;                                                              \
        if (n + XF_VW <= N) {                                                           \
            if (has_bias) v += LDV(bias + bias_off + n);                                \
            v = xf_actv(v, act);                                                        \
            if (has_res) v += LDV(R + r_off + row + n);                                 \
            STV(C + c_off + row + n, v);                                                \
        } else {                                                                        \
            float t[XF_VW];                                                             \
            XF_CAT(vstore, XF_VW)(v, 0, t);                                             \
            for (int e = 0; e < XF_VW && n + e < N; ++e) {                              \
                float s = xf_act1(t[e] + (has_bias ? LD(bias, bias_off + n + e) : 0.0f), act); \
                ST(C, c_off + row + n + e, s + (has_res ? LD(R, r_off + row + n + e) : 0.0f)); \
            }                                                                           \
        }                                                                               \
    }
#define XF_EPI(i) \
    if (m0 + i < M) { XF_RN(XF_EPI1, i) }
    XF_RM(XF_EPI)
}
