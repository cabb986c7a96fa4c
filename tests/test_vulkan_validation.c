// SPDX-License-Identifier: MIT
// XFORMER_VK_VALIDATION=1: a validation error raised by any Vulkan call is reported by the next
// backend call as XF_ERR_BACKEND "Vulkan validation: ..." (here provoked with an invalid
// vkCreateBuffer issued directly on the backend's device).
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "../backends/vulkan/vk_internal.h"
#include "core.h"
#include "harness.h"
#include "xformer.h"

static xf_context_t* open_validated(void) {
    setenv("XFORMER_VK_VALIDATION", "1", 1);
    return xf_test_context(XF_BACKEND_VULKAN);
}

Test(vulkan_validation, error_is_reported_by_next_call) {
    xf_context_t* ctx = open_validated();
    xf_device_t* dev = ctx->device;
    xf_err_t err = {{0}};
    xf_buffer_t* ok = NULL;
    cr_assert_eq(ctx->backend->buffer_alloc(dev, 256, &ok, &err), XF_OK, "%s", err.msg);
    ctx->backend->buffer_free(dev, ok);
    // size 0 violates VUID-VkBufferCreateInfo-size-00912; the layer reports it and skips the call.
    VkBufferCreateInfo bad = {.sType = VK_STRUCTURE_TYPE_BUFFER_CREATE_INFO,
                              .size = 0,
                              .usage = VK_BUFFER_USAGE_STORAGE_BUFFER_BIT,
                              .sharingMode = VK_SHARING_MODE_EXCLUSIVE};
    VkBuffer b = VK_NULL_HANDLE;
    VkResult r = dev->vk.vkCreateBuffer(dev->device, &bad, NULL, &b);
    if (r == VK_SUCCESS && b) dev->vk.vkDestroyBuffer(dev->device, b, NULL);
    xf_buffer_t* buf = NULL;
    xf_status_t st = ctx->backend->buffer_alloc(dev, 256, &buf, &err);
    cr_assert_eq(st, XF_ERR_BACKEND, "got %d: %s", st, err.msg);
    cr_assert(strstr(err.msg, "Vulkan validation: ") == err.msg, "message: %s", err.msg);
    cr_assert(strstr(err.msg, "VUID-VkBufferCreateInfo-size"), "message: %s", err.msg);
    if (buf) ctx->backend->buffer_free(dev, buf);
    // Reported once: the following call succeeds again.
    cr_assert_eq(ctx->backend->buffer_alloc(dev, 256, &buf, &err), XF_OK, "%s", err.msg);
    ctx->backend->buffer_free(dev, buf);
    xf_context_destroy(ctx);
}

Test(vulkan_validation, clean_graph_has_no_messages) {
    xf_context_t* ctx = open_validated();
    xf_graph_t* g = NULL;
    cr_assert_eq(xf_graph_create(ctx, &g), XF_OK);
    xf_tensor_t *x, *y, *z;
    cr_assert_eq(xf_graph_input(g, "x", XF_DTYPE_F32, 2, (int64_t[]){4, 8}, &x), XF_OK);
    cr_assert_eq(xf_softmax(g, x, 1.0f, NULL, &y), XF_OK);
    cr_assert_eq(xf_add(g, y, x, &z), XF_OK);
    cr_assert_eq(xf_graph_mark_output(g, z), XF_OK);
    float in[32] = {0};
    cr_assert_eq(xf_tensor_upload(x, in, sizeof in), XF_OK);
    for (int i = 0; i < 3; ++i) cr_assert_eq(xf_graph_compute(g), XF_OK, "%s", xf_context_error(ctx));
    xf_graph_destroy(g);
    xf_context_destroy(ctx);
}

// A common developer setup enables the layer twice, through the loader's environment as well: the
// loader's general note about it is not a validation finding.
Test(vulkan_validation, layer_also_enabled_by_the_loader_environment) {
    setenv("VK_INSTANCE_LAYERS", "VK_LAYER_KHRONOS_validation", 1);
    setenv("VK_LOADER_LAYERS_ENABLE", "*validation", 1);
    xf_context_t* ctx = open_validated();
    xf_test_linear_rounds(ctx, 1, 5, NULL);
    xf_context_destroy(ctx);
}
