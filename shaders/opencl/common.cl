// SPDX-License-Identifier: MIT
// Shared preamble of every libxformer OpenCL program (prepended by the host, after xf_abi.h).
//
// Storage type: XF_F16=1 stores tensors as half and converts with vload_half/vstore_half (core
// OpenCL 1.2, no cl_khr_fp16 needed); arithmetic is always float. Offsets and sizes arrive as int
// element counts. Work sizes are padded to a multiple of the work-group size, so every kernel
// bounds-checks its ids.
#ifndef XF_F16
#define XF_F16 0  // 1: tensors are stored as half
#endif
#ifndef XF_TILE
#define XF_TILE 16  // edge of the square tiles of the GPU-style kernels (work-group XF_TILE^2)
#endif

#if XF_F16
typedef half st_t;
#define LD(p, i) vload_half((i), (p))
#define ST(p, i, v) vstore_half((v), (i), (p))
#define LD4(p) vload_half4(0, (p))
#define LD8(p) vload_half8(0, (p))
#define LD16(p) vload_half16(0, (p))
#define ST16(p, v) vstore_half16((v), 0, (p))
#else
typedef float st_t;
#define LD(p, i) ((p)[i])
#define ST(p, i, v) ((p)[i] = (v))
#define LD4(p) vload4(0, (p))
#define LD8(p) vload8(0, (p))
#define LD16(p) vload16(0, (p))
#define ST16(p, v) vstore16((v), 0, (p))
#endif

// A GEMM's B operand (a weight) may be stored apart from the other tensors: XF_BT 0 float, 1 half,
// 2 bfloat16 (the top half of a float), 3 int8 of a quantized weight, read through LDB and widened in
// registers. Both 16-bit forms move as ushort, so copying them (packing panels) needs no half
// arithmetic. An int8 B (XF_BQ) has scales, read through LDSC: half with XF_SF16, else float.
#ifndef XF_BT
#define XF_BT XF_F16
#endif
#if XF_BT == 0
typedef float bt_t;
#define LDB(p, i) ((p)[i])
#elif XF_BT == 1
typedef ushort bt_t;
#define LDB(p, i) vload_half((i), (__global const half*)(p))
#elif XF_BT == 2
typedef ushort bt_t;
#define LDB(p, i) as_float((uint)(p)[i] << 16)
#else
typedef char bt_t;
#define LDB(p, i) ((float)(p)[i])
#define XF_BQ 1
#endif
#ifndef XF_BQ
#define XF_BQ 0
#endif
#if XF_SF16
typedef ushort sc_t;
#define LDSC(p, i) vload_half((i), (__global const half*)(p))
#else
typedef float sc_t;
#define LDSC(p, i) ((p)[i])
#endif

// The unary functions of shaders/xf_abi.h (prepended by the host). One body for the scalar and the
// 16-lane form (OpenCL C has no user-defined overloads); the vector erf/tanh/exp are several times
// faster than 16 scalar calls. |lo| and |hi| are XF_UFN_CLIP's bounds.
#define XF_UFN_BODY(x, fn, lo, hi)                                                           \
    switch (fn) {                                                                            \
        case XF_UFN_GELU:                                                                    \
            return 0.5f * x * (1.0f + erf(x * 0.70710678118654752f));                        \
        case XF_UFN_GELU_TANH:                                                               \
            return 0.5f * x * (1.0f + tanh(0.79788456080286536f * (x + 0.044715f * x * x * x))); \
        case XF_UFN_SILU:                                                                    \
            return x / (1.0f + exp(-x));                                                     \
        case XF_UFN_RELU:                                                                    \
            return fmax(x, 0.0f);                                                            \
        case XF_UFN_QUICK_GELU:                                                              \
            return x / (1.0f + exp(-1.702f * x));                                            \
        case XF_UFN_SQRT:                                                                    \
            return sqrt(x);                                                                  \
        case XF_UFN_EXP:                                                                     \
            return exp(x);                                                                   \
        case XF_UFN_ERF:                                                                     \
            return erf(x);                                                                   \
        case XF_UFN_TANH:                                                                    \
            return tanh(x);                                                                  \
        case XF_UFN_SIGMOID:                                                                 \
            return 1.0f / (1.0f + exp(-x));                                                  \
        case XF_UFN_NEG:                                                                     \
            return -x;                                                                       \
        case XF_UFN_ABS:                                                                     \
            return fabs(x);                                                                  \
        case XF_UFN_CLIP:                                                                    \
            return fmin(fmax(x, lo), hi);                                                    \
        default:                                                                             \
            return x;                                                                        \
    }

inline float xf_ufn(float x, int fn, float lo, float hi) { XF_UFN_BODY(x, fn, lo, hi) }
inline float16 xf_ufn16(float16 x, int fn, float lo, float hi) { XF_UFN_BODY(x, fn, lo, hi) }
inline float xf_act(float x, int act) { return xf_ufn(x, act, 0.0f, 0.0f); }
inline float16 xf_act16(float16 x, int act) { return xf_ufn16(x, act, 0.0f, 0.0f); }

// Splits a linear index over a 4-D shape (ne.x outermost) into coordinates.
inline int4 xf_coords(int i, int4 ne) {
    int4 c;
    c.w = i % ne.w;
    i /= ne.w;
    c.z = i % ne.z;
    i /= ne.z;
    c.y = i % ne.y;
    c.x = i / ne.y;
    return c;
}

inline int xf_dot4i(int4 c, int4 s) {
    return c.x * s.x + c.y * s.y + c.z * s.z + c.w * s.w;
}
