// SPDX-License-Identifier: MIT
// Error paths of the public API: environment values, NULL arguments, shapes, call order. Every
// failure returns a status and a message, prints nothing and leaves the caller's objects usable.
#include <criterion/criterion.h>
#include <criterion/redirect.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "xformer.h"

static xf_context_t* cpu_context(void) {
    xf_context_options_t o;
    xf_context_options_init(&o);
    o.backend = XF_BACKEND_CPU;
    xf_context_t* ctx = NULL;
    cr_assert_eq(xf_context_create(&o, &ctx), XF_OK, "%s", xf_last_error());
    return ctx;
}

static void silence(void) {
    cr_redirect_stdout();
    cr_redirect_stderr();
}

Test(env, bogus_backend_is_one_line_error_naming_choices, .init = silence) {
    setenv("XFORMER_BACKEND", "bogus", 1);
    xf_context_t* ctx = (xf_context_t*)0x1;
    cr_assert_eq(xf_context_create(NULL, &ctx), XF_ERR_INVALID_ARGUMENT);
    cr_assert_null(ctx);
    const char* msg = xf_last_error();
    cr_assert(strstr(msg, "bogus") && strstr(msg, "valid choices") && strstr(msg, "cpu"), "%s", msg);
    cr_assert_null(strchr(msg, '\n'), "message is one line: %s", msg);
    fflush(stdout);
    fflush(stderr);
    cr_assert_stdout_eq_str("");
    cr_assert_stderr_eq_str("");
}

Test(env, bogus_values_are_errors_naming_choices) {
    static const struct {
        const char *name, *value, *valid;
    } bad[] = {{"XFORMER_KERNELS", "gpux", "cpu, gpu"},
               {"XFORMER_ATTENTION", "flash", "fused, split"},
               {"XFORMER_DISABLE", "fp16,shuffle", "fp16, subgroup"},
               {"XFORMER_TUNE", "yes", "off, fast, full"},
               {"XFORMER_VK_VALIDATION", "yes", "0, 1"},
               {"XFORMER_VK_STAGING", "on", "0, 1"}};
    setenv("XFORMER_BACKEND", "cpu", 1);
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; ++i) {
        setenv(bad[i].name, bad[i].value, 1);
        xf_context_t* ctx = (xf_context_t*)0x1;
        cr_expect_eq(xf_context_create(NULL, &ctx), XF_ERR_INVALID_ARGUMENT, "%s=%s", bad[i].name, bad[i].value);
        cr_expect_null(ctx);
        const char* msg = xf_last_error();
        cr_expect(strstr(msg, bad[i].name) && strstr(msg, bad[i].valid), "%s", msg);
        size_t n = 0;
        cr_expect_eq(xf_device_list(NULL, 0, &n), XF_ERR_INVALID_ARGUMENT, "xf_device_list with %s", bad[i].name);
        unsetenv(bad[i].name);
    }
    setenv("XFORMER_LOG", "verbose", 1);
    xf_context_t* ctx_log = (xf_context_t*)0x1;
    cr_expect_eq(xf_context_create(NULL, &ctx_log), XF_ERR_INVALID_ARGUMENT);
    cr_expect(strstr(xf_last_error(), "XFORMER_LOG") && strstr(xf_last_error(), "error, warn, info, debug"), "%s",
              xf_last_error());
    setenv("XFORMER_LOG", "debug", 1);
    cr_expect_eq(xf_context_create(NULL, &ctx_log), XF_OK, "%s", xf_last_error());
    xf_context_destroy(ctx_log);
    unsetenv("XFORMER_LOG");
    xf_context_options_t o;
    xf_context_options_init(&o);
    o.backend = XF_BACKEND_CPU;
    o.kernels = (xf_kernel_style_t)7;
    xf_context_t* ctx = NULL;
    cr_expect_eq(xf_context_create(&o, &ctx), XF_ERR_INVALID_ARGUMENT);
    o.kernels = XF_KERNELS_AUTO;
    o.tune = (xf_tune_t)3;
    cr_expect_eq(xf_context_create(&o, &ctx), XF_ERR_INVALID_ARGUMENT);
    o.tune = XF_TUNE_FULL;
    o.kernels = XF_KERNELS_GPU;
    o.attention = XF_ATTENTION_FUSED;
    o.disable_features = XF_FEATURE_FP16 | XF_FEATURE_SUBGROUP;
    cr_assert_eq(xf_context_create(&o, &ctx), XF_OK, "%s", xf_last_error());
    xf_context_destroy(ctx);
    unsetenv("XFORMER_BACKEND");
}

Test(env, backend_not_compiled_names_choices, .init = silence) {
    const xf_backend_t gpu[] = {XF_BACKEND_OPENCL, XF_BACKEND_VULKAN};
    for (int i = 0; i < 2; ++i) {
        if (xf_backend_compiled(gpu[i])) continue;
        setenv("XFORMER_BACKEND", xf_backend_name(gpu[i]), 1);
        xf_context_t* ctx = NULL;
        cr_assert_eq(xf_context_create(NULL, &ctx), XF_ERR_UNAVAILABLE);
        const char* msg = xf_last_error();
        cr_assert(strstr(msg, "not compiled") && strstr(msg, "valid choices"), "%s", msg);
        cr_assert_null(strchr(msg, '\n'));
    }
    fflush(stdout);
    fflush(stderr);
    cr_assert_stdout_eq_str("");
    cr_assert_stderr_eq_str("");
}

Test(env, device_index) {
    setenv("XFORMER_BACKEND", "cpu", 1);
    setenv("XFORMER_DEVICE", "7", 1);
    xf_context_t* ctx = NULL;
    cr_assert_eq(xf_context_create(NULL, &ctx), XF_ERR_OUT_OF_RANGE);
    cr_assert(strstr(xf_last_error(), "out of range"), "%s", xf_last_error());
    setenv("XFORMER_DEVICE", "one", 1);
    cr_assert_eq(xf_context_create(NULL, &ctx), XF_ERR_INVALID_ARGUMENT);
    cr_assert(strstr(xf_last_error(), "XFORMER_DEVICE"), "%s", xf_last_error());
    setenv("XFORMER_DEVICE", "0", 1);
    cr_assert_eq(xf_context_create(NULL, &ctx), XF_OK);
    xf_device_info_t info;
    cr_assert_eq(xf_context_device_info(ctx, &info), XF_OK);
    cr_assert_eq(info.backend, XF_BACKEND_CPU);
    xf_context_destroy(ctx);
}

Test(env, auto_picks_a_device) {
    setenv("XFORMER_BACKEND", "auto", 1);
    unsetenv("XFORMER_DEVICE");
    xf_context_t* ctx = NULL;
    cr_assert_eq(xf_context_create(NULL, &ctx), XF_OK, "%s", xf_last_error());
    xf_device_info_t info;
    cr_assert_eq(xf_context_device_info(ctx, &info), XF_OK);
    cr_assert(info.name[0]);
    xf_context_destroy(ctx);
}

// auto ranks devices by class (GPUs first, CPU-type devices last), prefers OpenCL among CPU-type
// devices (PoCL over lavapipe), lists them in that order, and takes the first.
Test(env, auto_ranks_devices_by_class_and_prefers_opencl_on_cpus) {
    setenv("XFORMER_BACKEND", "auto", 1);
    unsetenv("XFORMER_DEVICE");
    xf_device_info_t devs[64];
    size_t n = 0;
    cr_assert_eq(xf_device_list(devs, 64, &n), XF_OK, "%s", xf_last_error());
    cr_assert_gt(n, 0);
    cr_expect_eq(devs[n - 1].backend, XF_BACKEND_CPU, "the CPU reference comes last");
    static const int rank[] = {[XF_DEVICE_TYPE_DISCRETE_GPU] = 0, [XF_DEVICE_TYPE_INTEGRATED_GPU] = 1,
                               [XF_DEVICE_TYPE_ACCELERATOR] = 2, [XF_DEVICE_TYPE_OTHER] = 3, [XF_DEVICE_TYPE_CPU] = 4};
    bool seen_vulkan_cpu = false;
    for (size_t i = 0; i + 1 < n; ++i) {
        if (i > 0) cr_expect_leq(rank[devs[i - 1].type], rank[devs[i].type], "device %zu is ranked out of class order", i);
        if (devs[i].type != XF_DEVICE_TYPE_CPU) continue;
        if (devs[i].backend == XF_BACKEND_VULKAN) seen_vulkan_cpu = true;
        if (devs[i].backend == XF_BACKEND_OPENCL) cr_expect(!seen_vulkan_cpu, "an OpenCL CPU device after a Vulkan one");
    }
    xf_context_t* ctx = NULL;
    cr_assert_eq(xf_context_create(NULL, &ctx), XF_OK, "%s", xf_last_error());
    xf_device_info_t info;
    cr_assert_eq(xf_context_device_info(ctx, &info), XF_OK);
    cr_expect(info.backend == devs[0].backend && info.index == devs[0].index, "auto took %s %d, the list starts with %s %d",
              xf_backend_name(info.backend), info.index, xf_backend_name(devs[0].backend), devs[0].index);
    xf_context_destroy(ctx);
    char idx[16];
    snprintf(idx, sizeof idx, "%zu", n);
    setenv("XFORMER_DEVICE", idx, 1);
    cr_expect_eq(xf_context_create(NULL, &ctx), XF_ERR_OUT_OF_RANGE, "XFORMER_DEVICE=%zu with auto", n);
    unsetenv("XFORMER_DEVICE");
    unsetenv("XFORMER_BACKEND");
}

static int log_calls;
static void count_log(void* user, xf_log_level_t level, const char* message) {
    (void)level;
    cr_assert(message && *message);
    ++*(int*)user;
}

Test(api, log_callback_receives_messages) {
    xf_context_options_t o;
    xf_context_options_init(&o);
    o.backend = XF_BACKEND_CPU;
    o.log_fn = count_log;
    o.log_user_data = &log_calls;
    o.log_level = XF_LOG_DEBUG;
    xf_context_t* ctx = NULL;
    cr_assert_eq(xf_context_create(&o, &ctx), XF_OK);
    cr_assert_gt(log_calls, 0);
    xf_context_destroy(ctx);
}

Test(api, device_list_has_the_cpu) {
    size_t n = 0;
    cr_assert_eq(xf_device_list(NULL, 0, &n), XF_OK);
    cr_assert_geq(n, 1);
    xf_device_info_t* all = calloc(n, sizeof *all);
    size_t n2 = 0;
    cr_assert_eq(xf_device_list(all, n, &n2), XF_OK);
    cr_assert_eq(n, n2);
    bool cpu = false;
    for (size_t i = 0; i < n; ++i) cpu |= all[i].backend == XF_BACKEND_CPU;
    cr_assert(cpu);
    free(all);
    cr_assert_eq(xf_device_list(NULL, 3, &n), XF_ERR_INVALID_ARGUMENT);
}

Test(api, null_arguments) {
    cr_assert_eq(xf_context_create(NULL, NULL), XF_ERR_INVALID_ARGUMENT);
    cr_assert_eq(xf_graph_create(NULL, NULL), XF_ERR_INVALID_ARGUMENT);
    cr_assert_eq(xf_graph_compute(NULL), XF_ERR_INVALID_ARGUMENT);
    cr_assert_eq(xf_tensor_upload(NULL, NULL, 0), XF_ERR_INVALID_ARGUMENT);
    cr_assert_eq(xf_linear(NULL, NULL, NULL, NULL, NULL), XF_ERR_INVALID_ARGUMENT);
    xf_context_destroy(NULL);
    xf_graph_destroy(NULL);
    xf_tensor_destroy(NULL);
    xf_context_t* ctx = cpu_context();
    xf_graph_t* g;
    cr_assert_eq(xf_graph_create(ctx, &g), XF_OK);
    xf_tensor_t* out = (xf_tensor_t*)0x1;
    cr_assert_eq(xf_add(g, NULL, NULL, &out), XF_ERR_INVALID_ARGUMENT);
    cr_assert_null(out);
    cr_assert(strstr(xf_context_error(ctx), "xf_add"), "%s", xf_context_error(ctx));
    cr_assert_eq(xf_graph_compute(g), XF_ERR_FAILED_PRECONDITION, "an empty graph");
    xf_graph_destroy(g);
    xf_context_destroy(ctx);
}

Test(api, bad_shapes_leave_graph_intact) {
    xf_context_t* ctx = cpu_context();
    xf_graph_t* g;
    cr_assert_eq(xf_graph_create(ctx, &g), XF_OK);
    xf_tensor_t *x, *w, *y, *bad = NULL;
    cr_assert_eq(xf_graph_input(g, "x", XF_DTYPE_F32, 2, (int64_t[]){3, 4}, &x), XF_OK);
    cr_assert_eq(xf_tensor_create(ctx, "w", XF_DTYPE_F32, 2, (int64_t[]){5, 4}, &w), XF_OK);
    float xs[12], ws[20];
    for (int i = 0; i < 20; ++i) ws[i] = (float)i / 20.0f;
    for (int i = 0; i < 12; ++i) xs[i] = (float)i;
    cr_assert_eq(xf_tensor_upload(x, xs, sizeof xs), XF_OK);
    cr_assert_eq(xf_tensor_upload(w, ws, sizeof ws), XF_OK);
    cr_assert_eq(xf_linear(g, x, w, NULL, &y), XF_OK);
    cr_assert_eq(xf_graph_mark_output(g, y), XF_OK);

    cr_assert_eq(xf_matmul(g, x, x, NULL, &bad), XF_ERR_INVALID_ARGUMENT);
    cr_assert(strstr(xf_context_error(ctx), "inner dimensions"), "%s", xf_context_error(ctx));
    cr_assert_eq(xf_add(g, x, y, &bad), XF_ERR_INVALID_ARGUMENT);
    cr_assert(strstr(xf_context_error(ctx), "do not broadcast"), "%s", xf_context_error(ctx));
    cr_assert_eq(xf_conv2d(g, x, w, NULL, NULL, &bad), XF_ERR_INVALID_ARGUMENT);
    cr_assert_eq(xf_attention(g, x, x, x, NULL, 1.0f, &bad), XF_ERR_INVALID_ARGUMENT);
    cr_assert_eq(xf_slice(g, x, 1, 3, 9, &bad), XF_ERR_OUT_OF_RANGE);
    cr_assert_eq(xf_reshape(g, x, 2, (int64_t[]){5, -1}, &bad), XF_ERR_INVALID_ARGUMENT);
    cr_assert_eq(xf_permute(g, x, (int[]){0, 0}, &bad), XF_ERR_INVALID_ARGUMENT);
    cr_assert_eq(xf_mean(g, x, 2, false, &bad), XF_ERR_OUT_OF_RANGE);
    cr_assert_eq(xf_softmax(g, x, 1.0f, y, &bad), XF_ERR_INVALID_ARGUMENT);
    cr_assert_eq(xf_activation(g, x, (xf_activation_t)99, &bad), XF_ERR_INVALID_ARGUMENT);
    cr_assert_null(bad);
    cr_assert_eq(xf_tensor_upload(x, xs, 7), XF_ERR_INVALID_ARGUMENT);
    float out[15];
    cr_assert_eq(xf_tensor_download(y, out, sizeof out), XF_ERR_FAILED_PRECONDITION, "download before compute");
    cr_assert_eq(xf_tensor_upload(y, out, sizeof out), XF_ERR_INVALID_ARGUMENT, "results are not uploaded");

    xf_graph_stats_t s;
    cr_assert_eq(xf_graph_stats(g, &s), XF_OK);
    cr_assert_eq(s.nodes, 1, "failed calls added no nodes");
    cr_assert_eq(xf_graph_compute(g), XF_OK, "%s", xf_context_error(ctx));
    cr_assert_eq(xf_tensor_download(y, out, sizeof out), XF_OK);
    for (int i = 0; i < 3; ++i)
        for (int j = 0; j < 5; ++j) {
            float want = 0;
            for (int k = 0; k < 4; ++k) want += xs[i * 4 + k] * ws[j * 4 + k];
            cr_assert_float_eq(out[i * 5 + j], want, 1e-4f);
        }
    xf_graph_destroy(g);
    xf_context_destroy(ctx);
}

Test(api, tensors_names_and_dtypes) {
    xf_context_t* ctx = cpu_context();
    xf_tensor_t *t, *found, *dup = NULL;
    cr_assert_eq(xf_tensor_create(ctx, "a.weight", XF_DTYPE_F16, 3, (int64_t[]){2, 3, 5}, &t), XF_OK);
    cr_assert_eq(xf_tensor_create(ctx, "a.weight", XF_DTYPE_F32, 1, (int64_t[]){1}, &dup), XF_ERR_INVALID_ARGUMENT);
    cr_assert_eq(xf_tensor_create(ctx, "z", XF_DTYPE_F32, 5, (int64_t[]){1, 1, 1, 1, 1}, &dup), XF_ERR_INVALID_ARGUMENT);
    cr_assert_eq(xf_tensor_create(ctx, "z", XF_DTYPE_F32, 2, (int64_t[]){1, 0}, &dup), XF_ERR_INVALID_ARGUMENT);
    cr_assert_eq(xf_tensor_create(ctx, "z", (xf_dtype_t)42, 1, (int64_t[]){1}, &dup), XF_ERR_INVALID_ARGUMENT);
    cr_assert_eq(xf_context_find_tensor(ctx, "a.weight", &found), XF_OK);
    cr_assert_eq(found, t);
    cr_assert_eq(xf_context_find_tensor(ctx, "nope", &found), XF_ERR_NOT_FOUND);
    cr_assert_eq(xf_tensor_bytes(t), 60);
    cr_assert_eq(xf_tensor_dim(t, -1), 5);
    float in[30], back[30];
    for (int i = 0; i < 30; ++i) in[i] = (float)i * 0.25f - 3.0f;
    cr_assert_eq(xf_tensor_upload_f32(t, in, 30), XF_OK);
    cr_assert_eq(xf_tensor_download_f32(t, back, 30), XF_OK);
    for (int i = 0; i < 30; ++i) cr_assert_eq(in[i], back[i]);
    xf_tensor_destroy(t);
    cr_assert_eq(xf_context_find_tensor(ctx, "a.weight", &found), XF_ERR_NOT_FOUND);
    xf_context_destroy(ctx);
}

// A quantized weight needs an i8 [N, K] context tensor and f32/f16 scales of shape [N] or [N, ceil(K / 32)];
// a matmul refuses an i8 B without them, or not transposed; a destroyed scale detaches itself.
Test(api, int8_weight_scales_are_checked) {
    xf_context_t* ctx = cpu_context();
    xf_tensor_t *w, *f, *s_ch, *s_blk, *s_bad, *s_i32;
    cr_assert_eq(xf_tensor_create(ctx, "w", XF_DTYPE_I8, 2, (int64_t[]){6, 70}, &w), XF_OK);
    cr_assert_eq(xf_tensor_bytes(w), 420);
    cr_assert_eq(xf_tensor_create(ctx, "f", XF_DTYPE_F32, 2, (int64_t[]){6, 70}, &f), XF_OK);
    cr_assert_eq(xf_tensor_create(ctx, "s_ch", XF_DTYPE_F32, 1, (int64_t[]){6}, &s_ch), XF_OK);
    cr_assert_eq(xf_tensor_create(ctx, "s_blk", XF_DTYPE_F16, 2, (int64_t[]){6, 3}, &s_blk), XF_OK);
    cr_assert_eq(xf_tensor_create(ctx, "s_bad", XF_DTYPE_F32, 2, (int64_t[]){6, 2}, &s_bad), XF_OK);
    cr_assert_eq(xf_tensor_create(ctx, "s_i32", XF_DTYPE_I32, 1, (int64_t[]){6}, &s_i32), XF_OK);
    cr_expect_eq(xf_tensor_set_scale(f, s_ch), XF_ERR_INVALID_ARGUMENT);
    cr_expect(strstr(xf_context_error(ctx), "'f' is not a 2-D i8 tensor"), "%s", xf_context_error(ctx));
    cr_expect_eq(xf_tensor_set_scale(w, s_bad), XF_ERR_INVALID_ARGUMENT);
    cr_expect(strstr(xf_context_error(ctx), "[6] (per channel) or [6, 3] (blocks of 32)"), "%s", xf_context_error(ctx));
    cr_expect_eq(xf_tensor_set_scale(w, s_i32), XF_ERR_INVALID_ARGUMENT);
    cr_expect_eq(xf_tensor_set_scale(NULL, s_ch), XF_ERR_INVALID_ARGUMENT);

    xf_graph_t* g;
    xf_tensor_t *x, *y = NULL;
    cr_assert_eq(xf_graph_create(ctx, &g), XF_OK);
    cr_assert_eq(xf_graph_input(g, "x", XF_DTYPE_F32, 2, (int64_t[]){4, 70}, &x), XF_OK);
    cr_expect_eq(xf_linear(g, x, w, NULL, &y), XF_ERR_INVALID_ARGUMENT);
    cr_expect(strstr(xf_context_error(ctx), "a scale (xf_tensor_set_scale)"), "%s", xf_context_error(ctx));
    cr_assert_eq(xf_tensor_set_scale(w, s_blk), XF_OK);
    xf_matmul_options_t plain = {0};
    xf_tensor_t* x2;
    cr_assert_eq(xf_graph_input(g, "x2", XF_DTYPE_F32, 2, (int64_t[]){4, 6}, &x2), XF_OK);
    cr_expect_eq(xf_matmul(g, x2, w, &plain, &y), XF_ERR_INVALID_ARGUMENT);
    cr_expect_eq(xf_linear(g, x, w, NULL, &y), XF_OK, "%s", xf_context_error(ctx));
    cr_expect_eq(xf_tensor_set_scale(w, s_ch), XF_OK);
    xf_graph_destroy(g);
    xf_tensor_destroy(s_ch);
    cr_assert_eq(xf_graph_create(ctx, &g), XF_OK);
    cr_assert_eq(xf_graph_input(g, "x", XF_DTYPE_F32, 2, (int64_t[]){4, 70}, &x), XF_OK);
    cr_expect_eq(xf_linear(g, x, w, NULL, &y), XF_ERR_INVALID_ARGUMENT, "the destroyed scale is still attached");
    xf_graph_destroy(g);
    xf_context_destroy(ctx);
}

Test(api, f16_conversion_round_trips_every_half) {
    for (uint32_t h = 0; h < 65536; ++h) {
        float f = xf_f16_to_f32((uint16_t)h);
        if (isnan(f)) continue;
        cr_assert_eq(xf_f32_to_f16(f), h, "half 0x%04x -> %g", h, f);
    }
    cr_assert_eq(xf_f32_to_f16(65520.0f), 0x7c00, "rounds to infinity");
    cr_assert_eq(xf_f32_to_f16(1.0f + 1.0f / 2048.0f), 0x3c00, "ties to even");
    cr_assert_eq(xf_f32_to_f16(5.96e-8f), 0x0001, "smallest subnormal");
}

Test(api, status_strings) {
    for (int s = XF_OK; s <= XF_ERR_INTERNAL; ++s) cr_assert_str_neq(xf_status_string((xf_status_t)s), "unknown status");
}

// A storage type a backend does not run is refused when the graph is planned, naming the type and
// what to do; the CPU reference runs it.
Test(dtypes, bf16_runs_on_cpu_and_is_refused_elsewhere) {
    xf_test_column_t cols[XF_TEST_MAX_COLUMNS];
    int n = xf_test_columns(cols, XF_TEST_MAX_COLUMNS);
    for (int c = 0; c < n; ++c) {
        char why[512];
        bool skip;
        xf_context_t* ctx;
        if (!xf_test_open(&cols[c], &ctx, &skip, why, sizeof why)) {
            cr_expect(skip, "%s", why);
            continue;
        }
        xf_graph_t* g;
        xf_tensor_t *x, *y;
        cr_assert_eq(xf_graph_create(ctx, &g), XF_OK);
        cr_assert_eq(xf_graph_input(g, "x", XF_DTYPE_BF16, 2, (int64_t[]){3, 5}, &x), XF_OK);
        cr_assert_eq(xf_exp(g, x, &y), XF_OK, "%s", xf_context_error(ctx));
        cr_assert_eq(xf_graph_mark_output(g, y), XF_OK);
        float in[15], out[15];
        for (int i = 0; i < 15; ++i) in[i] = (float)i / 8.0f - 1.0f;
        xf_status_t st = xf_graph_plan(g);
        if (cols[c].backend == XF_BACKEND_CPU) {
            cr_assert_eq(st, XF_OK, "%s", xf_context_error(ctx));
            cr_assert_eq(xf_tensor_upload_f32(x, in, 15), XF_OK);
            cr_assert_eq(xf_graph_compute(g), XF_OK);
            cr_assert_eq(xf_tensor_download_f32(y, out, 15), XF_OK);
            for (int i = 0; i < 15; ++i) cr_expect_float_eq(out[i], expf(in[i]), 0.02f * expf(in[i]));
        } else {
            cr_expect_eq(st, XF_ERR_UNIMPLEMENTED, "[%s] %s", cols[c].name, xf_context_error(ctx));
            cr_expect(strstr(xf_context_error(ctx), "bf16") && strstr(xf_context_error(ctx), "xf_cast"), "%s",
                      xf_context_error(ctx));
        }
        xf_graph_destroy(g);
        xf_context_destroy(ctx);
    }
}

// Backends may keep a repacked copy of a weight (OpenCL's packed GEMM panels): uploading the weight
// again between computes must still change the result, on every column.
ParameterizedTestParameters(api, weights_uploaded_again_are_used) { return xf_test_column_params(); }

ParameterizedTest(int* column, api, weights_uploaded_again_are_used) {
    xf_test_column_t col;
    xf_context_t* ctx = xf_test_column_context(*column, &col);
    xf_graph_stats_t s;
    xf_test_linear_rounds(ctx, 3, 42, &s);
    xf_device_info_t info;
    cr_assert_eq(xf_context_device_info(ctx, &info), XF_OK);
    size_t weight = XF_TEST_LINEAR_N * XF_TEST_LINEAR_K * sizeof(float);
    if (col.backend == XF_BACKEND_OPENCL && strcmp(info.kernel_style, "cpu") == 0) {
        // Panels pad N to whole panels of at most 64 columns.
        cr_expect(s.repacked_weight_bytes >= weight && s.repacked_weight_bytes <= 2 * weight,
                  "repacked %zu bytes for a %zu-byte weight", s.repacked_weight_bytes, weight);
    } else {
        cr_expect_eq(s.repacked_weight_bytes, 0);
    }
    xf_context_destroy(ctx);
}

Test(api, version_matches_the_header) {
    cr_assert_eq(xf_version(), XF_VERSION);
    char want[32];
    snprintf(want, sizeof want, "%d.%d.%d", XF_VERSION_MAJOR, XF_VERSION_MINOR, XF_VERSION_PATCH);
    cr_assert_str_eq(xf_version_string(), want);
}
