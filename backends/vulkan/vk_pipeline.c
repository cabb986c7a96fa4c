// SPDX-License-Identifier: MIT
// Vulkan backend: shader modules from the embedded SPIR-V, pipelines specialised per variant, and
// the pipeline cache persisted on disk.
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "embedded.h"
#include "vk_internal.h"

extern const xf_embedded_file_t xf_vk_spirv[];
extern const size_t xf_vk_spirv_count;

// On-disk header in front of the driver's cache data. Everything is checked before the data is
// handed to the driver: a stale or corrupted file is discarded and rewritten.
#define XF_VK_CACHE_MAGIC "XFVKPC01"
#define XF_VK_CACHE_HEADER 56  // magic 8, vendor 4, device 4, driver 4, uuid 16, size 8, checksum 8, pad 4

static uint64_t xf_vk_fnv1a(const unsigned char* p, size_t n) {
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < n; ++i) h = (h ^ p[i]) * 1099511628211ull;
    return h;
}

static void xf_vk_cache_header(const xf_device_t* dev, uint64_t size, uint64_t sum, unsigned char* h) {
    memset(h, 0, XF_VK_CACHE_HEADER);
    memcpy(h, XF_VK_CACHE_MAGIC, 8);
    memcpy(h + 8, &dev->props.vendorID, 4);
    memcpy(h + 12, &dev->props.deviceID, 4);
    memcpy(h + 16, &dev->props.driverVersion, 4);
    memcpy(h + 20, dev->props.pipelineCacheUUID, VK_UUID_SIZE);
    memcpy(h + 36, &size, 8);
    memcpy(h + 44, &sum, 8);
}

static bool xf_vk_mkdirs(char* path) {
    for (char* p = path + 1; *p; ++p) {
        if (*p != '/') continue;
        *p = 0;
        bool ok = mkdir(path, 0755) == 0 || errno == EEXIST;
        *p = '/';
        if (!ok) return false;
    }
    return mkdir(path, 0755) == 0 || errno == EEXIST;
}

static void xf_vk_cache_locate(xf_device_t* dev) {
    char dir[900];
    const char* env = getenv("XFORMER_CACHE_DIR");
    const char* xdg = getenv("XDG_CACHE_HOME");
    const char* home = getenv("HOME");
    dev->cache_path[0] = 0;
    if (env && *env) snprintf(dir, sizeof dir, "%s", env);
    else if (xdg && *xdg) snprintf(dir, sizeof dir, "%s/xformer", xdg);
    else if (home && *home) snprintf(dir, sizeof dir, "%s/.cache/xformer", home);
    else return;
    if (!xf_vk_mkdirs(dir) || access(dir, W_OK) != 0) return;
    snprintf(dev->cache_path, sizeof dev->cache_path, "%s/vulkan-%04x-%04x.pipelines", dir, dev->props.vendorID,
             dev->props.deviceID);
}

// Returns the cache payload of the file if its header matches this device and driver, else NULL.
static void* xf_vk_cache_read(xf_device_t* dev, size_t* out_size) {
    *out_size = 0;
    FILE* f = dev->cache_path[0] ? fopen(dev->cache_path, "rb") : NULL;
    if (!f) return NULL;
    unsigned char h[XF_VK_CACHE_HEADER], want[XF_VK_CACHE_HEADER];
    void* data = NULL;
    uint64_t size = 0, sum = 0;
    if (fread(h, 1, sizeof h, f) == sizeof h) {
        memcpy(&size, h + 36, 8);
        memcpy(&sum, h + 44, 8);
        xf_vk_cache_header(dev, size, sum, want);
        if (memcmp(h, want, XF_VK_CACHE_HEADER) == 0 && size > 0 && size < ((uint64_t)1 << 31)) {
            data = malloc(size + 1);
            if (data && (fread(data, 1, size, f) != size || fgetc(f) != EOF ||
                         xf_vk_fnv1a(data, size) != sum)) {
                free(data);
                data = NULL;
            }
        }
    }
    fclose(f);
    if (data) *out_size = size;
    return data;
}

void xf_vk_cache_save(xf_device_t* dev) {
    if (!dev->cache_dirty || !dev->pipe_cache || !dev->cache_path[0]) return;
    size_t size = 0;
    VkResult r = dev->vk.vkGetPipelineCacheData(dev->device, dev->pipe_cache, &size, NULL);
    if (r != VK_SUCCESS || size == 0) return;
    unsigned char* data = malloc(size);
    if (!data) return;
    r = dev->vk.vkGetPipelineCacheData(dev->device, dev->pipe_cache, &size, data);
    uint64_t sum = xf_vk_fnv1a(data, size);
    if (r == VK_SUCCESS && size == dev->cache_size && sum == dev->cache_sum) {
        dev->cache_dirty = false;
    } else if (r == VK_SUCCESS) {
        char tmp[1100];
        snprintf(tmp, sizeof tmp, "%s.%ld.tmp", dev->cache_path, (long)getpid());
        unsigned char h[XF_VK_CACHE_HEADER];
        xf_vk_cache_header(dev, size, sum, h);
        FILE* f = fopen(tmp, "wb");
        bool ok = f && fwrite(h, 1, sizeof h, f) == sizeof h && fwrite(data, 1, size, f) == size;
        if (f && fclose(f) != 0) ok = false;
        if (ok && rename(tmp, dev->cache_path) == 0) {
            dev->cache_dirty = false;
            dev->cache_sum = sum;
            dev->cache_size = size;
        } else {
            unlink(tmp);
            dev->cache_path[0] = 0;  // unwritable: stop trying
        }
    }
    free(data);
}

xf_status_t xf_vk_pipelines_init(xf_device_t* dev, xf_err_t* err) {
    dev->nmodules = xf_vk_spirv_count;
    dev->modules = calloc(dev->nmodules ? dev->nmodules : 1, sizeof *dev->modules);
    if (!dev->modules) return xf_err_set(err, XF_ERR_OUT_OF_MEMORY, "Vulkan: out of host memory");
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
        dev->cache_sum = xf_vk_fnv1a(data, size);
        dev->cache_size = size;
    }
    free(data);
    if (r != VK_SUCCESS) return xf_vk_fail(err, r, "vkCreatePipelineCache");
    // A missing or rejected file is rewritten once pipelines exist.
    dev->cache_dirty = data == NULL;
    return XF_OK;
}

void xf_vk_pipelines_release(xf_device_t* dev) {
    for (size_t i = 0; i < dev->npipelines; ++i) dev->vk.vkDestroyPipeline(dev->device, dev->pipelines[i].pipeline, NULL);
    free(dev->pipelines);
    dev->pipelines = NULL;
    dev->npipelines = 0;
    for (size_t i = 0; dev->modules && i < dev->nmodules; ++i) {
        if (dev->modules[i]) dev->vk.vkDestroyShaderModule(dev->device, dev->modules[i], NULL);
    }
    free(dev->modules);
    dev->modules = NULL;
    if (dev->pipe_cache) dev->vk.vkDestroyPipelineCache(dev->device, dev->pipe_cache, NULL);
    dev->pipe_cache = VK_NULL_HANDLE;
}

static xf_status_t xf_vk_module(xf_device_t* dev, const char* variant, VkShaderModule* out, xf_err_t* err) {
    char name[64];
    snprintf(name, sizeof name, "%s.spv", variant);
    const xf_embedded_file_t* f = xf_embedded_find(xf_vk_spirv, name);
    if (!f) return xf_err_set(err, XF_ERR_INTERNAL, "Vulkan: shader %s is not embedded in the library", name);
    size_t i = (size_t)(f - xf_vk_spirv);
    if (!dev->modules[i]) {
        // The embedded bytes are not 4-byte aligned in general; copy to an aligned buffer.
        uint32_t* code = malloc(f->size);
        if (!code) return xf_err_set(err, XF_ERR_OUT_OF_MEMORY, "Vulkan: out of host memory");
        memcpy(code, f->data, f->size);
        VkShaderModuleCreateInfo ci = {.sType = VK_STRUCTURE_TYPE_SHADER_MODULE_CREATE_INFO,
                                       .codeSize = f->size,
                                       .pCode = code};
        VkResult r = dev->vk.vkCreateShaderModule(dev->device, &ci, NULL, &dev->modules[i]);
        free(code);
        if (r != VK_SUCCESS) return xf_vk_fail(err, r, "vkCreateShaderModule");
    }
    *out = dev->modules[i];
    return XF_OK;
}

xf_status_t xf_vk_pipeline_get(xf_device_t* dev, const char* variant, const uint32_t* spec, uint32_t nspec,
                               VkPipeline* out, xf_err_t* err) {
    for (size_t i = 0; i < dev->npipelines; ++i) {
        xf_vk_pipeline_t* p = &dev->pipelines[i];
        if (p->nspec == nspec && strcmp(p->variant, variant) == 0 && memcmp(p->spec, spec, nspec * 4) == 0) {
            *out = p->pipeline;
            return XF_OK;
        }
    }
    if (nspec > XF_VK_MAX_SPEC) return xf_err_set(err, XF_ERR_INTERNAL, "Vulkan: too many specialization constants");
    if (dev->npipelines == dev->cap_pipelines) {
        size_t cap = dev->cap_pipelines ? 2 * dev->cap_pipelines : 32;
        xf_vk_pipeline_t* np = realloc(dev->pipelines, cap * sizeof *np);
        if (!np) return xf_err_set(err, XF_ERR_OUT_OF_MEMORY, "Vulkan: out of host memory");
        dev->pipelines = np;
        dev->cap_pipelines = cap;
    }
    VkShaderModule module = VK_NULL_HANDLE;
    xf_status_t st = xf_vk_module(dev, variant, &module, err);
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
        .layout = dev->pipe_layout};
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
    dev->npipelines++;
    dev->cache_dirty = true;
    *out = p->pipeline;
    return XF_OK;
}
