// SPDX-License-Identifier: MIT
// Shared preamble of every libxformer OpenCL program (prepended by the host).
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

#define XF_ACT_NONE 0
#define XF_ACT_GELU 1
#define XF_ACT_GELU_TANH 2
#define XF_ACT_SILU 3
#define XF_ACT_RELU 4

// One body for the scalar and the 16-lane form (OpenCL C has no user-defined overloads); the vector
// erf/tanh/exp are several times faster than 16 scalar calls.
#define XF_ACT_BODY(x, act)                                                                  \
    switch (act) {                                                                           \
        case XF_ACT_GELU:                                                                    \
            return 0.5f * x * (1.0f + erf(x * 0.70710678118654752f));                        \
        case XF_ACT_GELU_TANH:                                                               \
            return 0.5f * x * (1.0f + tanh(0.79788456080286536f * (x + 0.044715f * x * x * x))); \
        case XF_ACT_SILU:                                                                    \
            return x / (1.0f + exp(-x));                                                     \
        case XF_ACT_RELU:                                                                    \
            return fmax(x, 0.0f);                                                            \
        default:                                                                             \
            return x;                                                                        \
    }

inline float xf_act(float x, int act) { XF_ACT_BODY(x, act) }
inline float16 xf_act16(float16 x, int act) { XF_ACT_BODY(x, act) }

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
