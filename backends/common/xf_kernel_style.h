// SPDX-License-Identifier: MIT
// The kernel-style override both GPU backends honour: XFORMER_KERNELS=cpu|gpu.
#ifndef XF_BACKENDS_COMMON_XF_KERNEL_STYLE_H_
#define XF_BACKENDS_COMMON_XF_KERNEL_STYLE_H_

#include <stdlib.h>
#include <string.h>

typedef enum xf_kernel_style_e {
    XF_KERNEL_STYLE_DEVICE,  // the device's capabilities decide
    XF_KERNEL_STYLE_CPU,     // barrier-free, register-blocked, wide vectors
    XF_KERNEL_STYLE_GPU,     // shared/local-memory tiles and barriers
} xf_kernel_style_t;

static inline xf_kernel_style_t xf_kernel_style_from_env(void) {
    const char* v = getenv("XFORMER_KERNELS");
    if (v && strcmp(v, "cpu") == 0) return XF_KERNEL_STYLE_CPU;
    if (v && strcmp(v, "gpu") == 0) return XF_KERNEL_STYLE_GPU;
    return XF_KERNEL_STYLE_DEVICE;
}

#endif  // XF_BACKENDS_COMMON_XF_KERNEL_STYLE_H_
