// SPDX-License-Identifier: MIT
// Vulkan backend: device memory sub-allocated from large blocks, uploads and downloads.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vk_internal.h"

typedef struct xf_vk_range_s {
    VkDeviceSize offset, size;
} xf_vk_range_t;

struct xf_vk_block_s {
    VkDeviceMemory memory;
    VkDeviceSize size;
    void* mapped;
    bool dedicated;
    size_t live;  // buffers placed in this block
    xf_vk_range_t* free;  // sorted by offset, coalesced
    size_t nfree, cap;
    xf_vk_block_t* next;
};

static VkDeviceSize xf_vk_align(VkDeviceSize v, VkDeviceSize a) { return (v + a - 1) / a * a; }

static xf_status_t xf_vk_block_create(xf_device_t* dev, VkDeviceSize size, bool dedicated, xf_vk_block_t** out,
                                      xf_err_t* err) {
    xf_vk_block_t* b = xf_calloc(1, sizeof *b);
    if (!b) return xf_err_set(err, XF_ERR_OUT_OF_MEMORY, "Vulkan: out of host memory");
    VkMemoryAllocateInfo ai = {.sType = VK_STRUCTURE_TYPE_MEMORY_ALLOCATE_INFO,
                               .allocationSize = size,
                               .memoryTypeIndex = dev->mem_type};
    VkResult r = dev->vk.vkAllocateMemory(dev->device, &ai, NULL, &b->memory);
    if (r != VK_SUCCESS) {
        xf_free(b);
        xf_status_t st = xf_vk_fail(err, r, "vkAllocateMemory");
        size_t n = strlen(err->msg);
        snprintf(err->msg + n, sizeof err->msg - n, " (%llu bytes)", (unsigned long long)size);
        return st;
    }
    if (dev->host_visible) {
        r = dev->vk.vkMapMemory(dev->device, b->memory, 0, VK_WHOLE_SIZE, 0, &b->mapped);
        if (r != VK_SUCCESS) {
            dev->vk.vkFreeMemory(dev->device, b->memory, NULL);
            xf_free(b);
            return xf_vk_fail(err, r, "vkMapMemory");
        }
    }
    b->size = size;
    b->dedicated = dedicated;
    b->free = xf_malloc(4 * sizeof *b->free);
    if (!b->free) {
        dev->vk.vkFreeMemory(dev->device, b->memory, NULL);
        xf_free(b);
        return xf_err_set(err, XF_ERR_OUT_OF_MEMORY, "Vulkan: out of host memory");
    }
    b->cap = 4;
    b->free[0] = (xf_vk_range_t){0, size};
    b->nfree = 1;
    b->next = dev->blocks;
    dev->blocks = b;
    *out = b;
    return XF_OK;
}

static void xf_vk_block_destroy(xf_device_t* dev, xf_vk_block_t* b) {
    for (xf_vk_block_t** p = &dev->blocks; *p; p = &(*p)->next) {
        if (*p == b) {
            *p = b->next;
            break;
        }
    }
    if (b->mapped) dev->vk.vkUnmapMemory(dev->device, b->memory);
    dev->vk.vkFreeMemory(dev->device, b->memory, NULL);
    xf_free(b->free);
    xf_free(b);
}

static bool xf_vk_block_take(xf_vk_block_t* b, VkDeviceSize size, VkDeviceSize align, VkDeviceSize* out) {
    for (size_t i = 0; i < b->nfree; ++i) {
        VkDeviceSize start = xf_vk_align(b->free[i].offset, align);
        VkDeviceSize end = b->free[i].offset + b->free[i].size;
        if (start + size > end) continue;
        VkDeviceSize lead = start - b->free[i].offset;
        VkDeviceSize tail = end - (start + size);
        if (lead && tail) {
            if (b->nfree == b->cap) {
                xf_vk_range_t* nf = xf_realloc(b->free, 2 * b->cap * sizeof *nf);
                if (!nf) return false;
                b->free = nf;
                b->cap *= 2;
            }
            memmove(&b->free[i + 2], &b->free[i + 1], (b->nfree - i - 1) * sizeof *b->free);
            b->free[i].size = lead;
            b->free[i + 1] = (xf_vk_range_t){start + size, tail};
            b->nfree++;
        } else if (lead) {
            b->free[i].size = lead;
        } else if (tail) {
            b->free[i] = (xf_vk_range_t){start + size, tail};
        } else {
            memmove(&b->free[i], &b->free[i + 1], (b->nfree - i - 1) * sizeof *b->free);
            b->nfree--;
        }
        *out = start;
        b->live++;
        return true;
    }
    return false;
}

// Returns [offset, offset + size) to |b|; the range list keeps room because a freed range either
// merges with a neighbour or takes a slot given up when it was split.
static void xf_vk_block_give(xf_vk_block_t* b, VkDeviceSize offset, VkDeviceSize size) {
    size_t i = 0;
    while (i < b->nfree && b->free[i].offset < offset) ++i;
    bool merge_prev = i > 0 && b->free[i - 1].offset + b->free[i - 1].size == offset;
    bool merge_next = i < b->nfree && offset + size == b->free[i].offset;
    if (merge_prev && merge_next) {
        b->free[i - 1].size += size + b->free[i].size;
        memmove(&b->free[i], &b->free[i + 1], (b->nfree - i - 1) * sizeof *b->free);
        b->nfree--;
    } else if (merge_prev) {
        b->free[i - 1].size += size;
    } else if (merge_next) {
        b->free[i].offset = offset;
        b->free[i].size += size;
    } else {
        if (b->nfree == b->cap) {
            xf_vk_range_t* nf = xf_realloc(b->free, 2 * b->cap * sizeof *nf);
            if (!nf) return;  // the range leaks inside the block until the block is freed
            b->free = nf;
            b->cap *= 2;
        }
        memmove(&b->free[i + 1], &b->free[i], (b->nfree - i) * sizeof *b->free);
        b->free[i] = (xf_vk_range_t){offset, size};
        b->nfree++;
    }
    b->live--;
}

// Shared blocks start at 1/64 of the full size and double with each one the device holds, so a small model
// does not reserve (and, on CPU devices, the driver does not allocate) a full 128 MiB block.
static VkDeviceSize xf_vk_next_block_size(const xf_device_t* dev, VkDeviceSize request) {
    VkDeviceSize size = dev->block_size / 64;
    for (const xf_vk_block_t* b = dev->blocks; b && size < dev->block_size; b = b->next) {
        if (!b->dedicated) size *= 2;
    }
    // Requests here are at most half a full block, so the loop always ends at or above them.
    while (size < dev->block_size && size < 2 * request) size *= 2;
    return size;
}

xf_status_t xf_vk_buffer_alloc(xf_device_t* dev, size_t bytes, xf_buffer_t** out, xf_err_t* err) {
    *out = NULL;
    xf_buffer_t* buf = xf_calloc(1, sizeof *buf);
    if (!buf) return xf_err_set(err, XF_ERR_OUT_OF_MEMORY, "Vulkan: out of host memory");
    buf->size = xf_vk_align(bytes ? bytes : 4, 16);
    VkBufferCreateInfo bci = {.sType = VK_STRUCTURE_TYPE_BUFFER_CREATE_INFO,
                              .size = buf->size,
                              .usage = VK_BUFFER_USAGE_STORAGE_BUFFER_BIT | VK_BUFFER_USAGE_TRANSFER_SRC_BIT |
                                       VK_BUFFER_USAGE_TRANSFER_DST_BIT,
                              .sharingMode = VK_SHARING_MODE_EXCLUSIVE};
    VkResult r = dev->vk.vkCreateBuffer(dev->device, &bci, NULL, &buf->buffer);
    if (r != VK_SUCCESS) {
        xf_free(buf);
        return xf_vk_fail(err, r, "vkCreateBuffer");
    }
    VkMemoryRequirements req;
    dev->vk.vkGetBufferMemoryRequirements(dev->device, buf->buffer, &req);
    buf->reserved = req.size;
    xf_status_t st = XF_OK;
    if (!(req.memoryTypeBits & (1u << dev->mem_type))) {
        st = xf_err_set(err, XF_ERR_INCOMPATIBLE, "Vulkan: storage buffers cannot use memory type %u", dev->mem_type);
    } else if (req.size > dev->block_size / 2) {
        xf_vk_block_t* b = NULL;
        st = xf_vk_block_create(dev, req.size, true, &b, err);
        if (st == XF_OK) {
            xf_vk_block_take(b, req.size, 1, &buf->offset);
            buf->block = b;
        }
    } else {
        for (xf_vk_block_t* b = dev->blocks; b && !buf->block; b = b->next) {
            if (!b->dedicated && xf_vk_block_take(b, req.size, req.alignment, &buf->offset)) buf->block = b;
        }
        if (!buf->block) {
            xf_vk_block_t* b = NULL;
            st = xf_vk_block_create(dev, xf_vk_next_block_size(dev, req.size), false, &b, err);
            if (st == XF_OK && xf_vk_block_take(b, req.size, req.alignment, &buf->offset)) buf->block = b;
            else if (st == XF_OK) st = xf_err_set(err, XF_ERR_OUT_OF_MEMORY, "Vulkan: out of host memory");
        }
    }
    if (st == XF_OK) {
        r = dev->vk.vkBindBufferMemory(dev->device, buf->buffer, buf->block->memory, buf->offset);
        if (r != VK_SUCCESS) st = xf_vk_fail(err, r, "vkBindBufferMemory");
    }
    if (st != XF_OK) {
        xf_vk_buffer_free(dev, buf);
        return st;
    }
    *out = buf;
    return XF_OK;
}

void xf_vk_buffer_free(xf_device_t* dev, xf_buffer_t* buf) {
    if (!buf) return;
    if (buf->buffer) dev->vk.vkDestroyBuffer(dev->device, buf->buffer, NULL);
    if (buf->block) {
        xf_vk_block_t* b = buf->block;
        xf_vk_block_give(b, buf->offset, buf->reserved);
        if (b->live == 0) xf_vk_block_destroy(dev, b);
    }
    xf_free(buf);
}

VkDeviceSize xf_vk_memory_reserved(const xf_device_t* dev, size_t* blocks) {
    VkDeviceSize total = 0;
    *blocks = 0;
    for (const xf_vk_block_t* b = dev->blocks; b; b = b->next) {
        total += b->size;
        ++*blocks;
    }
    return total;
}

void xf_vk_memory_release(xf_device_t* dev) {
    while (dev->blocks) xf_vk_block_destroy(dev, dev->blocks);
}

xf_status_t xf_vk_submit_once(xf_device_t* dev, void (*fill)(xf_device_t*, VkCommandBuffer, void*), void* user,
                              const char* what, xf_err_t* err) {
    VkCommandBufferAllocateInfo ai = {.sType = VK_STRUCTURE_TYPE_COMMAND_BUFFER_ALLOCATE_INFO,
                                      .commandPool = dev->cmd_pool,
                                      .level = VK_COMMAND_BUFFER_LEVEL_PRIMARY,
                                      .commandBufferCount = 1};
    VkCommandBuffer cb;
    VkResult r = dev->vk.vkAllocateCommandBuffers(dev->device, &ai, &cb);
    if (r != VK_SUCCESS) return xf_vk_fail(err, r, "vkAllocateCommandBuffers");
    VkCommandBufferBeginInfo bi = {.sType = VK_STRUCTURE_TYPE_COMMAND_BUFFER_BEGIN_INFO,
                                   .flags = VK_COMMAND_BUFFER_USAGE_ONE_TIME_SUBMIT_BIT};
    r = dev->vk.vkBeginCommandBuffer(cb, &bi);
    const char* step = "vkBeginCommandBuffer";
    if (r == VK_SUCCESS) {
        fill(dev, cb, user);
        r = dev->vk.vkEndCommandBuffer(cb);
        step = "vkEndCommandBuffer";
    }
    if (r == VK_SUCCESS) {
        VkSubmitInfo si = {.sType = VK_STRUCTURE_TYPE_SUBMIT_INFO, .commandBufferCount = 1, .pCommandBuffers = &cb};
        r = dev->vk.vkQueueSubmit(dev->queue, 1, &si, dev->fence);
        step = "vkQueueSubmit";
    }
    if (r == VK_SUCCESS) {
        r = dev->vk.vkWaitForFences(dev->device, 1, &dev->fence, VK_TRUE, UINT64_MAX);
        step = "vkWaitForFences";
        VkResult r2 = dev->vk.vkResetFences(dev->device, 1, &dev->fence);
        if (r == VK_SUCCESS && r2 != VK_SUCCESS) {
            r = r2;
            step = "vkResetFences";
        }
    }
    dev->vk.vkFreeCommandBuffers(dev->device, dev->cmd_pool, 1, &cb);
    if (r != VK_SUCCESS) {
        xf_status_t st = xf_vk_fail(err, r, step);
        size_t n = strlen(err->msg);
        snprintf(err->msg + n, sizeof err->msg - n, " during %s", what);
        return st;
    }
    return XF_OK;
}

typedef struct xf_vk_copy_s {
    VkBuffer src, dst;
    VkBufferCopy region;
    bool upload;
} xf_vk_copy_t;

static void xf_vk_fill_copy(xf_device_t* dev, VkCommandBuffer cb, void* user) {
    xf_vk_copy_t* c = user;
    // Earlier submissions' shader accesses must finish before the transfer touches the buffer, and
    // an upload must be visible to later dispatches.
    VkMemoryBarrier mb = {.sType = VK_STRUCTURE_TYPE_MEMORY_BARRIER,
                          .srcAccessMask = VK_ACCESS_SHADER_WRITE_BIT | VK_ACCESS_SHADER_READ_BIT,
                          .dstAccessMask = VK_ACCESS_TRANSFER_READ_BIT | VK_ACCESS_TRANSFER_WRITE_BIT};
    dev->vk.vkCmdPipelineBarrier(cb, VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT, VK_PIPELINE_STAGE_TRANSFER_BIT, 0, 1, &mb,
                                 0, NULL, 0, NULL);
    dev->vk.vkCmdCopyBuffer(cb, c->src, c->dst, 1, &c->region);
    VkMemoryBarrier after = {.sType = VK_STRUCTURE_TYPE_MEMORY_BARRIER,
                             .srcAccessMask = VK_ACCESS_TRANSFER_WRITE_BIT,
                             .dstAccessMask = c->upload ? VK_ACCESS_SHADER_READ_BIT | VK_ACCESS_SHADER_WRITE_BIT
                                                        : VK_ACCESS_HOST_READ_BIT};
    dev->vk.vkCmdPipelineBarrier(cb, VK_PIPELINE_STAGE_TRANSFER_BIT,
                                 c->upload ? VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT : VK_PIPELINE_STAGE_HOST_BIT, 0, 1,
                                 &after, 0, NULL, 0, NULL);
}

// Host-visible staging memory for devices whose tensor memory cannot be mapped.
static xf_status_t xf_vk_staged(xf_device_t* dev, xf_buffer_t* buf, size_t offset, void* data, size_t bytes,
                                bool upload, xf_err_t* err) {
    const VkMemoryPropertyFlags want = VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT | VK_MEMORY_PROPERTY_HOST_COHERENT_BIT;
    VkBufferCreateInfo bci = {.sType = VK_STRUCTURE_TYPE_BUFFER_CREATE_INFO,
                              .size = bytes,
                              .usage = VK_BUFFER_USAGE_TRANSFER_SRC_BIT | VK_BUFFER_USAGE_TRANSFER_DST_BIT,
                              .sharingMode = VK_SHARING_MODE_EXCLUSIVE};
    VkBuffer sb = VK_NULL_HANDLE;
    VkDeviceMemory sm = VK_NULL_HANDLE;
    void* p = NULL;
    VkResult r = dev->vk.vkCreateBuffer(dev->device, &bci, NULL, &sb);
    if (r != VK_SUCCESS) return xf_vk_fail(err, r, "vkCreateBuffer (staging)");
    VkMemoryRequirements req;
    dev->vk.vkGetBufferMemoryRequirements(dev->device, sb, &req);
    int type = -1;
    for (uint32_t i = 0; i < dev->mem_props.memoryTypeCount && type < 0; ++i) {
        if ((req.memoryTypeBits & (1u << i)) && (dev->mem_props.memoryTypes[i].propertyFlags & want) == want)
            type = (int)i;
    }
    xf_status_t st = XF_OK;
    if (type < 0) st = xf_err_set(err, XF_ERR_INCOMPATIBLE, "Vulkan: no host-visible memory for staging");
    if (st == XF_OK) {
        VkMemoryAllocateInfo ai = {.sType = VK_STRUCTURE_TYPE_MEMORY_ALLOCATE_INFO,
                                   .allocationSize = req.size,
                                   .memoryTypeIndex = (uint32_t)type};
        r = dev->vk.vkAllocateMemory(dev->device, &ai, NULL, &sm);
        if (r == VK_SUCCESS) r = dev->vk.vkBindBufferMemory(dev->device, sb, sm, 0);
        if (r == VK_SUCCESS) r = dev->vk.vkMapMemory(dev->device, sm, 0, VK_WHOLE_SIZE, 0, &p);
        if (r != VK_SUCCESS) st = xf_vk_fail(err, r, "staging memory");
    }
    if (st == XF_OK) {
        if (upload) memcpy(p, data, bytes);
        xf_vk_copy_t c = {.src = upload ? sb : buf->buffer,
                          .dst = upload ? buf->buffer : sb,
                          .region = {.srcOffset = upload ? 0 : offset, .dstOffset = upload ? offset : 0, .size = bytes},
                          .upload = upload};
        st = xf_vk_submit_once(dev, xf_vk_fill_copy, &c, upload ? "an upload" : "a download", err);
        if (st == XF_OK && !upload) memcpy(data, p, bytes);
    }
    if (p) dev->vk.vkUnmapMemory(dev->device, sm);
    if (sm) dev->vk.vkFreeMemory(dev->device, sm, NULL);
    dev->vk.vkDestroyBuffer(dev->device, sb, NULL);
    return st;
}

static xf_status_t xf_vk_check_range(const xf_buffer_t* buf, size_t offset, size_t bytes, xf_err_t* err) {
    if (offset > buf->size || bytes > buf->size - offset)
        return xf_err_set(err, XF_ERR_OUT_OF_RANGE, "Vulkan: access of %zu bytes at %zu exceeds a %llu-byte buffer",
                          bytes, offset, (unsigned long long)buf->size);
    return XF_OK;
}

xf_status_t xf_vk_buffer_write(xf_device_t* dev, xf_buffer_t* buf, size_t offset, const void* data, size_t bytes,
                               xf_err_t* err) {
    xf_status_t st = xf_vk_check_range(buf, offset, bytes, err);
    if (st != XF_OK || bytes == 0) return st;
    if (buf->block->mapped) {
        memcpy((char*)buf->block->mapped + buf->offset + offset, data, bytes);
        return XF_OK;
    }
    return xf_vk_staged(dev, buf, offset, (void*)data, bytes, true, err);
}

xf_status_t xf_vk_buffer_read(xf_device_t* dev, xf_buffer_t* buf, size_t offset, void* data, size_t bytes,
                              xf_err_t* err) {
    xf_status_t st = xf_vk_check_range(buf, offset, bytes, err);
    if (st != XF_OK || bytes == 0) return st;
    if (buf->block->mapped) {
        memcpy(data, (char*)buf->block->mapped + buf->offset + offset, bytes);
        return XF_OK;
    }
    return xf_vk_staged(dev, buf, offset, data, bytes, false, err);
}
