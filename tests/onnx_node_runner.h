// SPDX-License-Identifier: MIT
// Runs the ONNX backend node tests (a directory per test: model.onnx and test_data_set_N/{input,output}_K.pb).
#ifndef XF_TESTS_ONNX_NODE_RUNNER_H_
#define XF_TESTS_ONNX_NODE_RUNNER_H_

#include <stdbool.h>
#include <stddef.h>

#include "xformer.h"

typedef enum { XF_NODE_PASS, XF_NODE_UNSUPPORTED, XF_NODE_FAIL } xf_node_result_t;

// Runs node test |dir| on |ctx|: every output within 1e-4 + 1e-3 |want| of the expected one. UNSUPPORTED: the
// model does not load with XF_ERR_UNIMPLEMENTED, or its inputs or expected outputs have element types
// libxformer does not take. |model|: also cosine >= 0.9999 per output and, for [1, classes] outputs, the same
// top-5 classes in the same order. |why| says what happened.
xf_node_result_t xf_run_node_test(xf_context_t* ctx, const char* dir, bool model, char* why, size_t why_size);

#endif
