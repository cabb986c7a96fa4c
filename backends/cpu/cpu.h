// SPDX-License-Identifier: MIT
// CPU reference backend: plain, obviously correct C. f32 math; f16 converted on load and store.
#ifndef XF_BACKENDS_CPU_CPU_H_
#define XF_BACKENDS_CPU_CPU_H_

#include "backend.h"

struct xf_buffer_s {
    unsigned char* data;
    size_t size;
};

// Runs one node. Returns XF_ERR_UNIMPLEMENTED for an op/dtype it does not know.
xf_status_t xf_cpu_run_node(const xf_exec_node_t* node, xf_err_t* err);

#endif  // XF_BACKENDS_CPU_CPU_H_
