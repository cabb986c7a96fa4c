// SPDX-License-Identifier: MIT
// Vulkan device discovery: device info contents, and a machine without a Vulkan driver (no ICD)
// lists zero Vulkan devices and fails context creation with an explanation instead of crashing.
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "xformer.h"

Test(vulkan_device, info_is_filled) {
    size_t n = 0;
    cr_assert_eq(xf_device_list(NULL, 0, &n), XF_OK);
    xf_device_info_t* all = calloc(n ? n : 1, sizeof *all);
    cr_assert_eq(xf_device_list(all, n, &n), XF_OK);
    int vk = 0;
    for (size_t i = 0; i < n; ++i) {
        if (all[i].backend != XF_BACKEND_VULKAN) continue;
        const xf_device_info_t* d = &all[i];
        cr_expect_eq(d->index, vk, "Vulkan devices are indexed in ranked order");
        cr_expect(d->name[0] && d->platform[0] && d->driver_version[0]);
        cr_expect(strncmp(d->api_version, "Vulkan 1.", 9) == 0, "api_version '%s'", d->api_version);
        cr_expect(d->max_buffer_bytes > 0 && d->shared_memory_bytes > 0 && d->max_workgroup_size > 0);
        cr_expect(!d->subgroups || d->subgroup_size > 0);
        cr_expect(strcmp(d->kernel_style, "cpu") == 0 || strcmp(d->kernel_style, "gpu") == 0);
        if (vk > 0) {
            // GPUs rank before CPU devices.
            cr_expect(!(all[i - 1].type == XF_DEVICE_TYPE_CPU && (d->type == XF_DEVICE_TYPE_DISCRETE_GPU ||
                                                                  d->type == XF_DEVICE_TYPE_INTEGRATED_GPU)));
        }
        vk++;
    }
    free(all);
    if (vk == 0 && !xf_test_backend_required(XF_BACKEND_VULKAN)) cr_skip_test("no Vulkan device");
    cr_assert_gt(vk, 0, "XFORMER_TEST_BACKENDS names vulkan but no Vulkan device was listed");
}

Test(vulkan_device, no_driver_means_no_devices) {
    // The loader then finds no ICD: vkCreateInstance fails with VK_ERROR_INCOMPATIBLE_DRIVER.
    setenv("VK_ICD_FILENAMES", "/nonexistent/icd.json", 1);
    setenv("VK_DRIVER_FILES", "/nonexistent/icd.json", 1);
    unsetenv("XFORMER_VK_VALIDATION");
    size_t n = 0;
    cr_assert_eq(xf_device_list(NULL, 0, &n), XF_OK, "%s", xf_last_error());
    xf_device_info_t* all = calloc(n ? n : 1, sizeof *all);
    cr_assert_eq(xf_device_list(all, n, &n), XF_OK);
    for (size_t i = 0; i < n; ++i) cr_assert_neq(all[i].backend, XF_BACKEND_VULKAN);
    free(all);
    xf_context_options_t opt;
    xf_context_options_init(&opt);
    opt.backend = XF_BACKEND_VULKAN;
    opt.device = 0;
    xf_context_t* ctx = NULL;
    xf_status_t st = xf_context_create(&opt, &ctx);
    cr_assert_eq(st, XF_ERR_UNAVAILABLE, "got %s: %s", xf_status_string(st), xf_last_error());
    cr_assert_null(ctx);
    cr_assert(strstr(xf_last_error(), "Vulkan") || strstr(xf_last_error(), "vulkan"), "message: %s", xf_last_error());
}
