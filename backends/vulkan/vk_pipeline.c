// SPDX-License-Identifier: MIT
// Vulkan backend: shader modules from the embedded SPIR-V, pipelines specialised per variant, and
// the pipeline cache persisted on disk.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../common/xf_cache.h"
#include "embedded.h"
#include "vk_internal.h"

extern const xf_embedded_file_t xf_vk_spirv[];
extern const size_t xf_vk_spirv_count;

// A file's key names the device and driver, so one from another device, driver or pipeline cache
// layout is discarded (never handed to the driver) and rewritten.
#define XF_VK_CACHE_MAGIC "XFVKPC01"

static void xf_vk_cache_key(const xf_device_t* dev, char* key, size_t cap) {
    char uuid[2 * VK_UUID_SIZE + 1];
    for (size_t i = 0; i < VK_UUID_SIZE; ++i) snprintf(uuid + 2 * i, 3, "%02x", dev->props.pipelineCacheUUID[i]);
    snprintf(key, cap, "vendor %04x device %04x driver %08x uuid %s", dev->props.vendorID, dev->props.deviceID,
             dev->props.driverVersion, uuid);
}

static void xf_vk_cache_locate(xf_device_t* dev) {
    char dir[900];
    dev->cache_path[0] = 0;
    if (!xf_cache_dir(dir, sizeof dir)) return;
    snprintf(dev->cache_path, sizeof dev->cache_path, "%s/vulkan-%04x-%04x.pipelines", dir, dev->props.vendorID,
             dev->props.deviceID);
}

// Returns the cache payload of the file if it was written for this device and driver, else NULL.
static void* xf_vk_cache_read(xf_device_t* dev, size_t* out_size) {
    *out_size = 0;
    if (!dev->cache_path[0]) return NULL;
    char key[128];
    xf_vk_cache_key(dev, key, sizeof key);
    return xf_cache_file_read(dev->cache_path, XF_VK_CACHE_MAGIC, key, out_size, NULL);
}

void xf_vk_cache_save(xf_device_t* dev) {
    if (!dev->cache_dirty || !dev->pipe_cache || !dev->cache_path[0]) return;
    size_t size = 0;
    VkResult r = dev->vk.vkGetPipelineCacheData(dev->device, dev->pipe_cache, &size, NULL);
    if (r != VK_SUCCESS || size == 0) return;
    unsigned char* data = xf_malloc(size);
    if (!data) return;
    r = dev->vk.vkGetPipelineCacheData(dev->device, dev->pipe_cache, &size, data);
    uint64_t sum = xf_fnv1a(data, size, XF_FNV_SEED);
    if (r == VK_SUCCESS && size == dev->cache_size && sum == dev->cache_sum) {
        dev->cache_dirty = false;
    } else if (r == VK_SUCCESS) {
        char key[128];
        xf_vk_cache_key(dev, key, sizeof key);
        if (xf_cache_file_write(dev->cache_path, XF_VK_CACHE_MAGIC, key, data, size)) {
            dev->cache_dirty = false;
            dev->cache_sum = sum;
            dev->cache_size = size;
        } else {
            dev->cache_path[0] = 0;  // unwritable: stop trying
        }
    }
    xf_free(data);
}

// The device's tuning results, keyed by device, driver, API version and every embedded SPIR-V module.
void xf_vk_tune_open(xf_device_t* dev) {
    uint64_t sources = XF_FNV_SEED;
    for (size_t i = 0; i < xf_vk_spirv_count; ++i) {
        sources = xf_fnv1a(xf_vk_spirv[i].name, strlen(xf_vk_spirv[i].name), sources);
        sources = xf_fnv1a(xf_vk_spirv[i].data, xf_vk_spirv[i].size, sources);
    }
    char key[800];
    snprintf(key, sizeof key, "%s|%s|%u|%08x|%016llx", dev->info.name, dev->info.driver_version,
             dev->props.apiVersion, dev->props.driverVersion, (unsigned long long)sources);
    xf_tune_open(&dev->tune_db, "vulkan", key);
}

xf_status_t xf_vk_pipelines_init(xf_device_t* dev, xf_err_t* err) {
    dev->nmodules = xf_vk_spirv_count;
    dev->modules = xf_calloc(dev->nmodules ? dev->nmodules : 1, sizeof *dev->modules);
    dev->module_bindings = xf_calloc(dev->nmodules ? dev->nmodules : 1, sizeof *dev->module_bindings);
    if (!dev->modules || !dev->module_bindings) return xf_err_set(err, XF_ERR_OUT_OF_MEMORY, "Vulkan: out of host memory");
    xf_vk_cache_locate(dev);
    size_t size = 0;
    void* data = xf_vk_cache_read(dev, &size);
    VkPipelineCacheCreateInfo ci = {.sType = VK_STRUCTURE_TYPE_PIPELINE_CACHE_CREATE_INFO,
                                    .initialDataSize = size,
                                    .pInitialData = data};
    VkResult r = dev->vk.vkCreatePipelineCache(dev->device, &ci, NULL, &dev->pipe_cache);
    if (r != VK_SUCCESS && data) {
        ci.initialDataSize = 0;
        ci.pInitialData = NULL;
        r = dev->vk.vkCreatePipelineCache(dev->device, &ci, NULL, &dev->pipe_cache);
    }
    if (data) {
        dev->cache_sum = xf_fnv1a(data, size, XF_FNV_SEED);
        dev->cache_size = size;
    }
    xf_free(data);
    if (r != VK_SUCCESS) return xf_vk_fail(err, r, "vkCreatePipelineCache");
    // A missing or rejected file is rewritten once pipelines exist.
    dev->cache_dirty = data == NULL;
    return XF_OK;
}

void xf_vk_pipelines_release(xf_device_t* dev) {
    for (size_t i = 0; i < dev->npipelines; ++i) dev->vk.vkDestroyPipeline(dev->device, dev->pipelines[i].pipeline, NULL);
    xf_free(dev->pipelines);
    dev->pipelines = NULL;
    dev->npipelines = 0;
    for (size_t i = 0; dev->modules && i < dev->nmodules; ++i) {
        if (dev->modules[i]) dev->vk.vkDestroyShaderModule(dev->device, dev->modules[i], NULL);
    }
    xf_free(dev->modules);
    dev->modules = NULL;
    xf_free(dev->module_bindings);
    dev->module_bindings = NULL;
    for (size_t i = 0; i < dev->nlayouts; ++i) {
        dev->vk.vkDestroyPipelineLayout(dev->device, dev->layouts[i].pipe, NULL);
        dev->vk.vkDestroyDescriptorSetLayout(dev->device, dev->layouts[i].set, NULL);
    }
    dev->nlayouts = 0;
    if (dev->pipe_cache) dev->vk.vkDestroyPipelineCache(dev->device, dev->pipe_cache, NULL);
    dev->pipe_cache = VK_NULL_HANDLE;
}

// The descriptor bindings a SPIR-V module declares (OpDecorate ... Binding n), as a bit mask.
static uint32_t xf_vk_reflect_bindings(const uint32_t* code, size_t words) {
    enum { OP_DECORATE = 71, DECORATION_BINDING = 33 };
    uint32_t mask = 0;
    for (size_t i = 5; i < words;) {
        uint32_t count = code[i] >> 16, op = code[i] & 0xffffu;
        if (count == 0) break;
        if (op == OP_DECORATE && count >= 4 && i + 3 < words && code[i + 2] == DECORATION_BINDING && code[i + 3] < 32)
            mask |= 1u << code[i + 3];
        i += count;
    }
    return mask;
}

// The set and pipeline layouts for |bindings| (created once per distinct set).
static xf_status_t xf_vk_layout(xf_device_t* dev, uint32_t bindings, const xf_vk_layout_t** out, xf_err_t* err) {
    for (size_t i = 0; i < dev->nlayouts; ++i) {
        if (dev->layouts[i].bindings == bindings) {
            *out = &dev->layouts[i];
            return XF_OK;
        }
    }
    if (dev->nlayouts == XF_VK_MAX_LAYOUTS) return xf_err_set(err, XF_ERR_INTERNAL, "Vulkan: too many binding layouts");
    if (bindings >> XF_VK_BINDINGS)
        return xf_err_set(err, XF_ERR_INTERNAL, "Vulkan: a shader declares a binding beyond %d", XF_VK_BINDINGS - 1);
    VkDescriptorSetLayoutBinding b[XF_VK_BINDINGS];
    uint32_t nb = 0;
    for (uint32_t i = 0; i < XF_VK_BINDINGS; ++i) {
        if (!(bindings & (1u << i))) continue;
        b[nb++] = (VkDescriptorSetLayoutBinding){.binding = i,
                                                 .descriptorType = VK_DESCRIPTOR_TYPE_STORAGE_BUFFER,
                                                 .descriptorCount = 1,
                                                 .stageFlags = VK_SHADER_STAGE_COMPUTE_BIT};
    }
    xf_vk_layout_t* l = &dev->layouts[dev->nlayouts];
    VkDescriptorSetLayoutCreateInfo lci = {.sType = VK_STRUCTURE_TYPE_DESCRIPTOR_SET_LAYOUT_CREATE_INFO,
                                           .bindingCount = nb,
                                           .pBindings = b};
    VkResult r = dev->vk.vkCreateDescriptorSetLayout(dev->device, &lci, NULL, &l->set);
    if (r != VK_SUCCESS) return xf_vk_fail(err, r, "vkCreateDescriptorSetLayout");
    VkPushConstantRange pcr = {.stageFlags = VK_SHADER_STAGE_COMPUTE_BIT, .offset = 0, .size = XF_VK_PUSH_BYTES};
    VkPipelineLayoutCreateInfo plci = {.sType = VK_STRUCTURE_TYPE_PIPELINE_LAYOUT_CREATE_INFO,
                                       .setLayoutCount = 1,
                                       .pSetLayouts = &l->set,
                                       .pushConstantRangeCount = 1,
                                       .pPushConstantRanges = &pcr};
    r = dev->vk.vkCreatePipelineLayout(dev->device, &plci, NULL, &l->pipe);
    if (r != VK_SUCCESS) {
        dev->vk.vkDestroyDescriptorSetLayout(dev->device, l->set, NULL);
        return xf_vk_fail(err, r, "vkCreatePipelineLayout");
    }
    l->bindings = bindings;
    dev->nlayouts++;
    *out = l;
    return XF_OK;
}

static xf_status_t xf_vk_module(xf_device_t* dev, const char* variant, VkShaderModule* out, uint32_t* out_bindings,
                                xf_err_t* err) {
    char name[64];
    snprintf(name, sizeof name, "%s.spv", variant);
    const xf_embedded_file_t* f = xf_embedded_find(xf_vk_spirv, name);
    if (!f) return xf_err_set(err, XF_ERR_INTERNAL, "Vulkan: shader %s is not embedded in the library", name);
    size_t i = (size_t)(f - xf_vk_spirv);
    if (!dev->modules[i]) {
        // The embedded bytes are not 4-byte aligned in general; copy to an aligned buffer.
        uint32_t* code = xf_malloc(f->size);
        if (!code) return xf_err_set(err, XF_ERR_OUT_OF_MEMORY, "Vulkan: out of host memory");
        memcpy(code, f->data, f->size);
        VkShaderModuleCreateInfo ci = {.sType = VK_STRUCTURE_TYPE_SHADER_MODULE_CREATE_INFO,
                                       .codeSize = f->size,
                                       .pCode = code};
        VkResult r = dev->vk.vkCreateShaderModule(dev->device, &ci, NULL, &dev->modules[i]);
        dev->module_bindings[i] = xf_vk_reflect_bindings(code, f->size / 4);
        xf_free(code);
        if (r != VK_SUCCESS) return xf_vk_fail(err, r, "vkCreateShaderModule");
    }
    *out = dev->modules[i];
    *out_bindings = dev->module_bindings[i];
    return XF_OK;
}

xf_status_t xf_vk_pipeline_get(xf_device_t* dev, const char* variant, const uint32_t* spec, uint32_t nspec,
                               VkPipeline* out, const xf_vk_layout_t** out_layout, xf_err_t* err) {
    for (size_t i = 0; i < dev->npipelines; ++i) {
        xf_vk_pipeline_t* p = &dev->pipelines[i];
        if (p->nspec == nspec && strcmp(p->variant, variant) == 0 && memcmp(p->spec, spec, nspec * 4) == 0) {
            *out = p->pipeline;
            *out_layout = p->layout;
            return XF_OK;
        }
    }
    if (nspec > XF_VK_MAX_SPEC) return xf_err_set(err, XF_ERR_INTERNAL, "Vulkan: too many specialization constants");
    if (dev->npipelines == dev->cap_pipelines) {
        size_t cap = dev->cap_pipelines ? 2 * dev->cap_pipelines : 32;
        xf_vk_pipeline_t* np = xf_realloc(dev->pipelines, cap * sizeof *np);
        if (!np) return xf_err_set(err, XF_ERR_OUT_OF_MEMORY, "Vulkan: out of host memory");
        dev->pipelines = np;
        dev->cap_pipelines = cap;
    }
    VkShaderModule module = VK_NULL_HANDLE;
    uint32_t bindings = 0;
    const xf_vk_layout_t* layout = NULL;
    xf_status_t st = xf_vk_module(dev, variant, &module, &bindings, err);
    if (st == XF_OK) st = xf_vk_layout(dev, bindings, &layout, err);
    if (st != XF_OK) return st;
    // Constant 10 (XF_WG in common.glsl) repeats constant 0, the work-group size.
    VkSpecializationMapEntry entries[XF_VK_MAX_SPEC + 1];
    for (uint32_t i = 0; i < nspec; ++i) entries[i] = (VkSpecializationMapEntry){i, i * 4, 4};
    entries[nspec] = (VkSpecializationMapEntry){10, 0, 4};
    VkSpecializationInfo si = {.mapEntryCount = nspec + 1, .pMapEntries = entries, .dataSize = nspec * 4, .pData = spec};
    VkComputePipelineCreateInfo ci = {
        .sType = VK_STRUCTURE_TYPE_COMPUTE_PIPELINE_CREATE_INFO,
        .stage = {.sType = VK_STRUCTURE_TYPE_PIPELINE_SHADER_STAGE_CREATE_INFO,
                  .stage = VK_SHADER_STAGE_COMPUTE_BIT,
                  .module = module,
                  .pName = "main",
                  .pSpecializationInfo = nspec ? &si : NULL},
        .layout = layout->pipe};
    xf_vk_pipeline_t* p = &dev->pipelines[dev->npipelines];
    VkResult r = dev->vk.vkCreateComputePipelines(dev->device, dev->pipe_cache, 1, &ci, NULL, &p->pipeline);
    if (r != VK_SUCCESS) {
        xf_status_t fst = xf_vk_fail(err, r, "vkCreateComputePipelines");
        size_t n = strlen(err->msg);
        snprintf(err->msg + n, sizeof err->msg - n, " for %s", variant);
        return fst;
    }
    snprintf(p->variant, sizeof p->variant, "%s", variant);
    memcpy(p->spec, spec, nspec * 4);
    p->nspec = nspec;
    p->layout = layout;
    dev->npipelines++;
    dev->cache_dirty = true;
    *out = p->pipeline;
    *out_layout = layout;
    return XF_OK;
}
