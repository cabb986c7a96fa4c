// SPDX-License-Identifier: MIT
// Shared preamble of the libxformer compute shaders.
// Storage types: XF_F16 selects float16_t tensors (arithmetic stays f32; only 16-bit storage is
// required, not shaderFloat16), XF_U32 moves raw 32-bit words (i32 tensors). XF_SRC_F16 / XF_DST_F16
// pick the two sides of a converting copy.
#extension GL_EXT_shader_16bit_storage : require
#extension GL_EXT_shader_explicit_arithmetic_types_float16 : enable

#if defined(XF_F16)
#define XF_ST float16_t
#define XF_ST4 f16vec4
#elif defined(XF_U32)
#define XF_ST uint
#define XF_ST4 uvec4
#else
#define XF_ST float
#define XF_ST4 vec4
#endif

// Packed 4-element loads: each divergent load is one scalar load per lane on CPU devices, so f16
// data is read as two 32-bit words and unpacked (3x faster GEMM on lavapipe than f16vec4 loads).
#if defined(XF_F16)
#define XF_PK4 uvec2
vec4 xf_unpack4(uvec2 u) { return vec4(unpackHalf2x16(u.x), unpackHalf2x16(u.y)); }
#else
#define XF_PK4 vec4
vec4 xf_unpack4(vec4 v) { return v; }
#endif

// A GEMM's B operand (a weight) may be stored apart from the other tensors: variants with XF_B_F32,
// XF_B_F16, XF_B_BF16 or XF_B_I8. The 8- and 16-bit forms are read as 32-bit words and widened in
// registers, so they need no 8- or 16-bit storage; bfloat16 is the top half of an f32. XF_B_SCALE(i) is
// scale i of an int8 weight (1.0 for the others).
#if defined(XF_B_F16) || defined(XF_B_BF16)
#define XF_BST uint  // two elements per word
#define XF_BPK4 uvec2
#if defined(XF_B_F16)
vec2 xf_b_unpack2(uint w) { return unpackHalf2x16(w); }
#else
vec2 xf_b_unpack2(uint w) { return vec2(uintBitsToFloat(w << 16), uintBitsToFloat(w & 0xffff0000u)); }
#endif
vec4 xf_b_unpack4(uvec2 u) { return vec4(xf_b_unpack2(u.x), xf_b_unpack2(u.y)); }
#define XF_B_LOAD(buf, i) (xf_b_unpack2(buf[(i) >> 1u])[(i) & 1u])
#elif defined(XF_B_I8)
// An int8 weight (xf_tensor_set_scale), four elements per word; its scales are the matmul shaders'
// binding 5, f32 or (SCALE_F16) f16 read as words, one per p.qb elements of K.
#define XF_BST uint
#define XF_BPK4 uint
vec4 xf_b_unpack4(uint w) { return vec4(ivec4(int(w) << 24, int(w) << 16, int(w) << 8, int(w)) >> 24); }
#define XF_B_LOAD(buf, i) float(bitfieldExtract(int(buf[(i) >> 2u]), int(((i) & 3u) * 8u), 8))
layout(constant_id = 8) const bool SCALE_F16 = false;
layout(binding = 5) readonly buffer Scales { uint scale_words[]; };
float xf_b_scale(uint i) {
    return SCALE_F16 ? unpackHalf2x16(scale_words[i >> 1u])[i & 1u] : uintBitsToFloat(scale_words[i]);
}
#define XF_B_SCALE(i) xf_b_scale(i)
#elif defined(XF_B_F32)
#define XF_BST float
#define XF_BPK4 vec4
vec4 xf_b_unpack4(vec4 v) { return v; }
#define XF_B_LOAD(buf, i) (buf[i])
#else
#define XF_BST XF_ST
#define XF_BPK4 XF_PK4
#define xf_b_unpack4 xf_unpack4
#define XF_B_LOAD(buf, i) float(buf[i])
#endif
#ifndef XF_B_SCALE
#define XF_B_SCALE(i) 1.0
#endif

#extension GL_GOOGLE_include_directive : enable
#include "xf_abi.h"

// The work-group size along x. The host specialises it to the local_size_x_id value: some drivers
// (lavapipe 22.3) do not specialise gl_WorkGroupSize inside expressions.
layout(constant_id = 10) const uint XF_WG = 64;

// Linear invocation index over a grid that may be split into x and y (65535 groups per dimension).
uint xf_linear_id() {
    return (gl_WorkGroupID.y * gl_NumWorkGroups.x + gl_WorkGroupID.x) * XF_WG + gl_LocalInvocationID.x;
}

uint xf_linear_group() { return gl_WorkGroupID.y * gl_NumWorkGroups.x + gl_WorkGroupID.x; }

// erf with absolute error < 5e-7: a Taylor polynomial near 0, Numerical Recipes' erfc fit beyond.
float xf_erf(float x) {
    float ax = abs(x);
    float r;
    if (ax < 0.5) {
        float t = x * x;
        r = ax * (1.128379143519084 + t * (-0.376125230455470 + t * (0.112835234624290 + t * (-0.026866170645131 +
                                                                                           t * 0.005188163952437))));
    } else {
        float t = 1.0 / (1.0 + 0.5 * ax);
        float y = t * exp(-ax * ax - 1.26551223 +
                          t * (1.00002368 + t * (0.37409196 + t * (0.09678418 + t * (-0.18628806 +
                          t * (0.27886807 + t * (-1.13520398 + t * (1.48851587 + t * (-0.82215223 +
                          t * 0.17087277)))))))));
        r = 1.0 - y;
    }
    return x < 0.0 ? -r : r;
}

float xf_tanh(float u) {
    float e = exp(2.0 * clamp(u, -15.0, 15.0));
    return (e - 1.0) / (e + 1.0);
}

// The unary functions of xf_abi.h; |lo| and |hi| are XF_UFN_CLIP's bounds.
float xf_ufn(float x, uint fn, float lo, float hi) {
    switch (int(fn)) {
        case XF_UFN_GELU: return 0.5 * x * (1.0 + xf_erf(x * 0.7071067811865476));
        case XF_UFN_GELU_TANH: return 0.5 * x * (1.0 + xf_tanh(0.7978845608028654 * (x + 0.044715 * x * x * x)));
        case XF_UFN_SILU: return x / (1.0 + exp(-x));
        case XF_UFN_RELU: return max(x, 0.0);
        case XF_UFN_QUICK_GELU: return x / (1.0 + exp(-1.702 * x));
        case XF_UFN_SQRT: return sqrt(x);
        case XF_UFN_EXP: return exp(x);
        case XF_UFN_ERF: return xf_erf(x);
        case XF_UFN_TANH: return xf_tanh(x);
        case XF_UFN_SIGMOID: return 1.0 / (1.0 + exp(-x));
        case XF_UFN_NEG: return -x;
        case XF_UFN_ABS: return abs(x);
        case XF_UFN_CLIP: return min(max(x, lo), hi);
        default: return x;
    }
}

float xf_act(float x, uint act) { return xf_ufn(x, act, 0.0, 0.0); }
