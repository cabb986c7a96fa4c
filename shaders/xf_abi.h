// SPDX-License-Identifier: MIT
// The kernel ABI: codes shared by the C host code, the OpenCL C kernels and the GLSL shaders.
// Included by all three (the OpenCL host prepends it to every program; GLSL #includes it), so it
// holds nothing but integer #defines and comments.
#ifndef XF_SHADERS_XF_ABI_H_
#define XF_SHADERS_XF_ABI_H_

// Element-wise unary functions. 0-5 are the public xf_activation_t values (checked at compile time
// in lib/ops/registry.c); the rest are the math operators of the op registry.
#define XF_UFN_NONE 0
#define XF_UFN_GELU 1
#define XF_UFN_GELU_TANH 2
#define XF_UFN_SILU 3
#define XF_UFN_RELU 4
#define XF_UFN_QUICK_GELU 5
#define XF_UFN_SQRT 6
#define XF_UFN_EXP 7
#define XF_UFN_ERF 8
#define XF_UFN_TANH 9
#define XF_UFN_SIGMOID 10
#define XF_UFN_NEG 11
#define XF_UFN_ABS 12
#define XF_UFN_CLIP 13

// Element-wise binary functions with broadcasting.
#define XF_BIN_ADD 0
#define XF_BIN_MUL 1
#define XF_BIN_SUB 2
#define XF_BIN_DIV 3
#define XF_BIN_POW 4

// Reductions over one axis.
#define XF_RED_SUM 0
#define XF_RED_MEAN 1
#define XF_RED_MAX 2
#define XF_RED_MIN 3

#endif  // XF_SHADERS_XF_ABI_H_
