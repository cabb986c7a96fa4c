// SPDX-License-Identifier: MIT
// Shared test harness: backend columns, random inputs, poisoned outputs, tolerant comparison.
#ifndef XF_TESTS_HARNESS_H_
#define XF_TESTS_HARNESS_H_

#include <stdbool.h>
#include <stdint.h>

#include <criterion/parameterized.h>

#include "xformer.h"

#define XF_TEST_MAX_COLUMNS 16
// The binding limit of "smallbind" columns: below most op-table operands, above the largest weight or
// key/value block an operator must read whole.
#define XF_TEST_SMALL_BINDING 65536

// A backend column of the test table: a backend name and kernel-variant modifiers, each set through
// the context options: "cpu", "opencl", "opencl+gpu" (GPU-style kernels), "opencl+fused" (fused
// attention), "vulkan+nofp16+nosubgroup" (optional features off), "vulkan+smallbind" (a small binding
// limit, xf_context_options_t.max_binding_bytes), ...
typedef struct {
    char name[48];
    xf_backend_t backend;
    xf_kernel_style_t kernels;
    xf_attention_variant_t attention;
    unsigned disable_features;
    xf_tune_t tune;
    uint64_t max_binding_bytes;  // "smallbind": XF_TEST_SMALL_BINDING, so operands run in pieces
    bool requested;  // named in XFORMER_TEST_BACKENDS: a missing device is a failure, not a skip
} xf_test_column_t;

// Parses XFORMER_TEST_BACKENDS (default: every compiled backend and its variant columns). Touches no device.
int xf_test_columns(xf_test_column_t* out, int capacity);
// The columns of the op table: xf_test_columns plus, for each backend among them, the variant columns
// its registry row declares (lib/backends.c), so every kernel variant runs every op case; with
// XFORMER_TEST_VARIANTS=0, only the columns XFORMER_TEST_BACKENDS lists.
int xf_test_op_columns(xf_test_column_t* out, int capacity);

// Creates a context for |col|. Returns false and sets *skip when the column may be skipped (not
// requested and no device); returns false with *skip false on a real failure (message in |why|).
bool xf_test_open(const xf_test_column_t* col, xf_context_t** out, bool* skip, char* why, size_t why_size);

// Criterion parameters 0..n-1 over the columns of xf_test_columns.
struct criterion_test_params xf_test_column_params(void);
// Opens column |index| of xf_test_columns for a test: skips the test when the column may be skipped,
// fails it on any other error. Fills *out_col when not NULL.
xf_context_t* xf_test_column_context(int index, xf_test_column_t* out_col);

// Column |index| of xf_test_columns without opening it; skips the test for a kernel-variant column
// ("opencl+gpu"...), whose |why| it does not change. For tests of what every backend does alike.
xf_test_column_t xf_test_base_column(int index, const char* why);

// True when XFORMER_TEST_BACKENDS names a column of |backend|: a missing device must then fail.
bool xf_test_backend_required(xf_backend_t backend);

// Creates a context on device 0 of |backend| with tuning |tune|; the status of xf_context_create.
xf_status_t xf_test_create(xf_backend_t backend, xf_tune_t tune, xf_context_t** out);

// Opens device 0 of |backend| for a backend-specific test: skips it when the device is missing and
// not required, fails it on any other error.
xf_context_t* xf_test_context(xf_backend_t backend);

// Deterministic uniform values in [lo, hi).
typedef struct {
    uint64_t state;
} xf_rng_t;
float xf_rng_uniform(xf_rng_t* rng, float lo, float hi);

// Fills the graph's planned intermediate memory with NaN, so unwritten outputs cannot pass.
bool xf_test_poison(xf_graph_t* graph);

// Compares |got| to |want|: |got - want| <= atol + rtol * |want| everywhere, no NaN. On failure
// writes the first bad index and values to |why|.
bool xf_test_close(const float* got, const float* want, int64_t n, float atol, float rtol, char* why, size_t why_size);



// Creates random weights named as xf_graph_block expects for |desc| under |prefix| (timm names,
// or HF SegFormer names when |segformer|), in |dtype|. Returns false on failure.
bool xf_test_block_weights(xf_context_t* ctx, const char* prefix, const xf_block_desc_t* desc, xf_dtype_t dtype,
                           xf_rng_t* rng);
// Runs y = x . w^T (7x19 by 37x19, w a context tensor) on |ctx| |rounds| times, uploading new random
// weights before each compute, and asserts every result against a host reference. Fills
// |out_stats| (may be NULL) with the graph's stats after the last compute.
enum { XF_TEST_LINEAR_N = 37, XF_TEST_LINEAR_K = 19 };
void xf_test_linear_rounds(xf_context_t* ctx, int rounds, uint64_t seed, xf_graph_stats_t* out_stats);
// The same without Criterion (usable in a forked child): returns false and says why in |why|.
bool xf_test_linear_ok(xf_context_t* ctx, int rounds, uint64_t seed, xf_graph_stats_t* out_stats, char* why,
                       size_t why_size);
// Body of a forked child that runs the linear layer once on device 0 of |backend|. Returns its exit
// status: 0 when the result was right, XF_TEST_CHILD_NO_DEVICE, or 1 (the reason on stderr).
// Never uses Criterion: assertions in a forked child confuse its runner.
enum { XF_TEST_CHILD_NO_DEVICE = 77 };
int xf_test_linear_child(xf_backend_t backend, xf_tune_t tune, uint64_t seed);
// Body of a forked child that tunes the linear layer's shapes on device 0 of |backend|. Returns its
// exit status: 0 when it tuned and saved, XF_TEST_CHILD_NO_DEVICE, or 1 (the reason on stderr).
int xf_test_tuning_child(xf_backend_t backend, uint64_t seed);

#endif  // XF_TESTS_HARNESS_H_
