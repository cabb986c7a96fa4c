// SPDX-License-Identifier: MIT
// How the GPU backends order their devices (XFORMER_DEVICE indexes that order): GPUs first, CPUs last.
#ifndef XF_BACKENDS_COMMON_XF_DEVICE_RANK_H_
#define XF_BACKENDS_COMMON_XF_DEVICE_RANK_H_

#include "xformer.h"

// Lower ranks come first; devices of one rank keep the driver's order.
static inline int xf_device_type_rank(xf_device_type_t type) {
    switch (type) {
        case XF_DEVICE_TYPE_DISCRETE_GPU: return 0;
        case XF_DEVICE_TYPE_INTEGRATED_GPU: return 1;
        case XF_DEVICE_TYPE_ACCELERATOR: return 2;
        case XF_DEVICE_TYPE_OTHER: return 3;
        case XF_DEVICE_TYPE_CPU: return 4;
    }
    return 3;
}
#define XF_DEVICE_RANKS 5

#endif  // XF_BACKENDS_COMMON_XF_DEVICE_RANK_H_
