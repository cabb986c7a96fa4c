// SPDX-License-Identifier: MIT
// OpenCL backend specifics: device info, kernel style, ranking, limits and error mapping. The ops
// themselves run in the op table (tests/test_ops.c), on every OpenCL variant column.
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../backends/opencl/cl_internal.h"
#include "harness.h"
#include "xformer.h"

static bool open_device(xf_context_t** ctx) {
    xf_context_options_t opt;
    xf_context_options_init(&opt);
    opt.backend = XF_BACKEND_OPENCL;
    opt.device = 0;
    xf_status_t st = xf_context_create(&opt, ctx);
    if (st != XF_OK && !xf_test_backend_required(XF_BACKEND_OPENCL)) return false;
    cr_assert_eq(st, XF_OK, "%s", xf_last_error());
    return true;
}

Test(opencl_device, info_and_kernel_style) {
    unsetenv("XFORMER_KERNELS");
    xf_context_t* ctx;
    if (!open_device(&ctx)) cr_skip_test("no OpenCL device");
    xf_device_info_t info;
    cr_assert_eq(xf_context_device_info(ctx, &info), XF_OK);
    cr_expect_eq(info.backend, XF_BACKEND_OPENCL);
    cr_expect_neq(info.name[0], '\0');
    cr_expect_neq(info.platform[0], '\0');
    cr_expect_neq(info.driver_version[0], '\0');
    cr_expect(strncmp(info.api_version, "OpenCL", 6) == 0, "api_version '%s'", info.api_version);
    cr_expect(info.fp16, "f16 storage (vload_half) is core OpenCL 1.2");
    cr_expect_gt(info.max_workgroup_size, 0);
    cr_expect_gt(info.max_buffer_bytes, 0);
    const char* want = info.type == XF_DEVICE_TYPE_CPU ? "cpu" : NULL;
    if (want) cr_expect_str_eq(info.kernel_style, want);
    xf_context_destroy(ctx);
    setenv("XFORMER_KERNELS", "gpu", 1);
    cr_assert(open_device(&ctx));
    cr_assert_eq(xf_context_device_info(ctx, &info), XF_OK);
    cr_expect_str_eq(info.kernel_style, "gpu");
    xf_context_destroy(ctx);
}

Test(opencl_device, ranking_puts_cpus_last) {
    xf_device_info_t devs[32];
    size_t n = 0;
    cr_assert_eq(xf_device_list(devs, 32, &n), XF_OK);
    bool seen_cpu = false;
    for (size_t i = 0; i < n && i < 32; ++i) {
        if (devs[i].backend != XF_BACKEND_OPENCL) continue;
        if (devs[i].type == XF_DEVICE_TYPE_CPU)
            seen_cpu = true;
        else
            cr_expect(!seen_cpu, "OpenCL device %d (%s) is ranked after a CPU device", devs[i].index,
                      devs[i].name);
    }
}

Test(opencl_device, huge_tensor_is_out_of_memory) {
    xf_context_t* ctx;
    if (!open_device(&ctx)) cr_skip_test("no OpenCL device");
    xf_device_info_t info;
    cr_assert_eq(xf_context_device_info(ctx, &info), XF_OK);
    int64_t shape[2] = {(int64_t)(info.max_buffer_bytes / 4096) + 1, 1024};
    xf_tensor_t* t = NULL;
    cr_expect_eq(xf_tensor_create(ctx, "huge", XF_DTYPE_F32, 2, shape, &t), XF_ERR_OUT_OF_MEMORY, "%s",
                 xf_context_error(ctx));
    xf_context_destroy(ctx);
}

Test(opencl_errors, codes_are_named_and_mapped) {
    xf_err_t err;
    cr_expect_eq(
        xf_cl_fail(&err, CL_INVALID_WORK_GROUP_SIZE, "clEnqueueNDRangeKernel", "node 12 (matmul 'x')"),
        XF_ERR_BACKEND);
    cr_expect_str_eq(
        err.msg, "clEnqueueNDRangeKernel failed: CL_INVALID_WORK_GROUP_SIZE (-54) in node 12 (matmul 'x')");
    cr_expect_eq(xf_cl_fail(&err, CL_MEM_OBJECT_ALLOCATION_FAILURE, "clCreateBuffer", NULL),
                 XF_ERR_OUT_OF_MEMORY);
    cr_expect(strstr(err.msg, "CL_MEM_OBJECT_ALLOCATION_FAILURE (-4)") != NULL, "%s", err.msg);
    cr_expect_eq(xf_cl_fail(&err, CL_OUT_OF_RESOURCES, "clFinish", NULL), XF_ERR_OUT_OF_MEMORY);
    cr_expect_eq(xf_cl_fail(&err, CL_OUT_OF_HOST_MEMORY, "clFinish", NULL), XF_ERR_OUT_OF_MEMORY);
    cr_expect_str_eq(xf_cl_error_name(CL_INVALID_KERNEL_ARGS), "CL_INVALID_KERNEL_ARGS");
    cr_expect_str_eq(xf_cl_error_name(-9999), "unknown OpenCL error");
}

Test(opencl_exec, one_submission_per_compute) {
    xf_context_t* ctx;
    if (!open_device(&ctx)) cr_skip_test("no OpenCL device");
    xf_graph_t* g;
    xf_tensor_t *x, *w, *y, *z;
    cr_assert_eq(xf_graph_create(ctx, &g), XF_OK);
    cr_assert_eq(xf_graph_input(g, "x", XF_DTYPE_F32, 2, (int64_t[]){40, 16}, &x), XF_OK);
    cr_assert_eq(xf_graph_input(g, "w", XF_DTYPE_F32, 2, (int64_t[]){16, 24}, &w), XF_OK);
    cr_assert_eq(xf_matmul(g, x, w, NULL, &y), XF_OK);
    cr_assert_eq(xf_activation(g, y, XF_ACT_RELU, &z), XF_OK);
    cr_assert_eq(xf_graph_mark_output(g, z), XF_OK);
    float hx[40 * 16] = {0}, hw[16 * 24] = {0};
    cr_assert_eq(xf_tensor_upload(x, hx, sizeof hx), XF_OK);
    cr_assert_eq(xf_tensor_upload(w, hw, sizeof hw), XF_OK);
    cr_assert_eq(xf_graph_compute(g), XF_OK, "%s", xf_context_error(ctx));
    cr_assert_eq(xf_graph_compute(g), XF_OK, "%s", xf_context_error(ctx));
    xf_graph_stats_t st;
    cr_assert_eq(xf_graph_stats(g, &st), XF_OK);
    cr_expect_eq(st.submissions, 2);
    cr_expect_geq(st.dispatches, 2 * st.nodes);
    xf_graph_destroy(g);
    xf_context_destroy(ctx);
}

Test(opencl_errors, build_failure_carries_the_log) {
    extern const xf_backend_vtable_t xf_cl_backend;
    xf_err_t err = {{0}};
    xf_device_t* dev = NULL;
    xf_device_options_t opts = {0};
    xf_status_t st = xf_cl_backend.device_open(0, &opts, &dev, &err);
    if (st != XF_OK && !xf_test_backend_required(XF_BACKEND_OPENCL)) cr_skip_test("no OpenCL device: %s", err.msg);
    cr_assert_eq(st, XF_OK, "%s", err.msg);
    cl_program prog = NULL;
    st = xf_cl_build_source(dev, "__kernel void broken(__global float* x) { x[0] = undefined_name; }",
                            "-cl-std=CL1.2", &prog, &err);
    cr_expect_neq(st, XF_OK);
    cr_expect_null(prog);
    cr_expect(strstr(err.msg, "clBuildProgram failed: CL_BUILD_PROGRAM_FAILURE (-11)") != NULL, "%s",
              err.msg);
    cr_expect(strstr(err.msg, "undefined_name") != NULL, "the build log is missing: %s", err.msg);
    xf_cl_backend.device_close(dev);
}
