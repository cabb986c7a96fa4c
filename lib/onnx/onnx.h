// SPDX-License-Identifier: MIT
// Loading ONNX files (xf_model_load on a path ending in .onnx).
#ifndef XF_LIB_ONNX_H_
#define XF_LIB_ONNX_H_

#include "model_internal.h"

// Builds |m| (context, path and batch set) from the ONNX file m->path: weights, graph, inputs and outputs.
xf_status_t xf_model_load_onnx(xf_model_t* m, const xf_model_options_t* options);

#endif  // XF_LIB_ONNX_H_
