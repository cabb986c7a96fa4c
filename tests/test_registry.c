// SPDX-License-Identifier: MIT
// The op registry (lib/ops/ops.def) against every compiled backend: no backend's op table may have a
// hole, and registry rows must be consistent. Needs no device.
#include <criterion/criterion.h>
#include <string.h>

#include "backend.h"

static const xf_backend_t kinds[] = {XF_BACKEND_CPU, XF_BACKEND_OPENCL, XF_BACKEND_VULKAN};

Test(registry, every_compiled_backend_covers_every_op) {
    int backends = 0;
    for (size_t k = 0; k < sizeof kinds / sizeof kinds[0]; ++k) {
        const xf_backend_vtable_t* be = xf_backend_find(kinds[k]);
        if (!be) continue;
        ++backends;
        cr_assert_not_null(be->op_coverage, "backend %s has no op_coverage", be->name);
        for (int op = 0; op < XF_OP_COUNT; ++op) {
            const char* reason = "unset";
            bool covered = be->op_coverage((xf_op_t)op, &reason);
            cr_expect(covered, "backend %s: op %s has no op-table entry (neither an implementation nor a reason)",
                      be->name, xf_op_name((xf_op_t)op));
            if (covered && reason) cr_expect(strlen(reason) > 8, "backend %s refuses %s without a real reason",
                                             be->name, xf_op_name((xf_op_t)op));
        }
        const char* reason = NULL;
        cr_expect(!be->op_coverage(XF_OP_COUNT, &reason), "backend %s covers an op past the registry", be->name);
    }
    cr_assert_geq(backends, 1);
}

Test(registry, rows_are_consistent) {
    for (int a = 0; a < XF_OP_COUNT; ++a) {
        const xf_op_info_t* ia = xf_op_info((xf_op_t)a);
        cr_expect(ia->name && *ia->name && ia->family && *ia->family, "op %d has no name or family", a);
        cr_expect(ia->max_src >= 1 && ia->max_src <= XF_MAX_SRC, "%s: max_src %d", ia->name, ia->max_src);
        cr_expect(ia->dtypes & (1u << XF_DTYPE_F32), "%s does not take f32", ia->name);
        cr_expect(ia->inplace != XF_INPLACE_RESIDUAL || ia->max_src >= 4, "%s: RESIDUAL needs source 3", ia->name);
        for (int b = a + 1; b < XF_OP_COUNT; ++b) {
            const xf_op_info_t* ib = xf_op_info((xf_op_t)b);
            cr_expect(strcmp(ia->name, ib->name) != 0, "two ops are named %s", ia->name);
            // Ops of one family are told apart by their kernel-ABI code (or by their params, code -1).
            if (strcmp(ia->family, ib->family) == 0 && ia->code >= 0 && ib->code >= 0) {
                cr_expect(ia->code != ib->code, "%s and %s share family %s and code %d", ia->name, ib->name, ia->family,
                          ia->code);
            }
        }
    }
}

Test(registry, kernel_abi_codes_match_the_public_enums) {
    // One header (shaders/xf_abi.h) feeds C, OpenCL C and GLSL; the public enums must agree with it.
    cr_expect_eq(XF_ACT_NONE, XF_UFN_NONE);
    cr_expect_eq(XF_ACT_GELU, XF_UFN_GELU);
    cr_expect_eq(XF_ACT_GELU_TANH, XF_UFN_GELU_TANH);
    cr_expect_eq(XF_ACT_SILU, XF_UFN_SILU);
    cr_expect_eq(XF_ACT_RELU, XF_UFN_RELU);
    cr_expect_eq(xf_op_info(XF_OP_SUB)->code, XF_BIN_SUB);
    cr_expect_eq(xf_op_info(XF_OP_MAX)->code, XF_RED_MAX);
}
