// SPDX-License-Identifier: MIT
// Vulkan backend: a graph becomes one command buffer, recorded once at prepare time, with pipeline
// barriers only between dispatches that touch overlapping memory; compute submits it once.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vk_internal.h"

typedef struct xf_vk_graph_state_s {
    xf_vk_plan_t plan;
    size_t* node_of;  // dispatch -> node index
    VkDescriptorPool pool;
    VkCommandBuffer cmd;
    size_t barriers;
    bool computed;  // lavapipe compiles machine code at the first dispatch
} xf_vk_graph_state_t;

typedef struct xf_vk_access_s {
    const xf_buffer_t* buffer;
    VkDeviceSize begin, end;
} xf_vk_access_t;

typedef struct xf_vk_tracker_s {
    xf_vk_access_t* reads;
    xf_vk_access_t* writes;
    size_t nreads, nwrites, cap;
} xf_vk_tracker_t;

static bool xf_vk_overlaps(const xf_vk_access_t* list, size_t n, const xf_vk_access_t* a) {
    for (size_t i = 0; i < n; ++i) {
        if (list[i].buffer == a->buffer && list[i].begin < a->end && a->begin < list[i].end) return true;
    }
    return false;
}

// Returns whether |d| depends on an access since the last barrier: read-after-write,
// write-after-write or write-after-read.
static bool xf_vk_needs_barrier(const xf_vk_tracker_t* t, const xf_vk_dispatch_t* d) {
    for (int b = 0; b < XF_VK_BINDINGS; ++b) {
        const xf_vk_binding_t* bd = &d->bind[b];
        if (bd->used_end == 0) continue;
        xf_vk_access_t a = {bd->buffer, bd->used_begin, bd->used_end};
        if (xf_vk_overlaps(t->writes, t->nwrites, &a)) return true;
        if (b == XF_VK_DST_BINDING && xf_vk_overlaps(t->reads, t->nreads, &a)) return true;
    }
    return false;
}

static bool xf_vk_track(xf_vk_tracker_t* t, const xf_vk_dispatch_t* d) {
    if (t->nreads + XF_VK_BINDINGS > t->cap || t->nwrites + 1 > t->cap) {
        size_t cap = t->cap ? 2 * t->cap : 64;
        xf_vk_access_t* r = xf_realloc(t->reads, cap * sizeof *r);
        if (!r) return false;
        t->reads = r;
        xf_vk_access_t* w = xf_realloc(t->writes, cap * sizeof *w);
        if (!w) return false;
        t->writes = w;
        t->cap = cap;
    }
    for (int b = 0; b < XF_VK_BINDINGS; ++b) {
        const xf_vk_binding_t* bd = &d->bind[b];
        if (bd->used_end == 0) continue;
        xf_vk_access_t a = {bd->buffer, bd->used_begin, bd->used_end};
        if (b == XF_VK_DST_BINDING) t->writes[t->nwrites++] = a;
        else t->reads[t->nreads++] = a;
    }
    return true;
}

static void xf_vk_barrier(xf_device_t* dev, VkCommandBuffer cb, VkPipelineStageFlags src, VkAccessFlags src_access,
                          VkPipelineStageFlags dst, VkAccessFlags dst_access) {
    VkMemoryBarrier mb = {.sType = VK_STRUCTURE_TYPE_MEMORY_BARRIER, .srcAccessMask = src_access, .dstAccessMask = dst_access};
    dev->vk.vkCmdPipelineBarrier(cb, src, dst, 0, 1, &mb, 0, NULL, 0, NULL);
}

void xf_vk_graph_release(xf_device_t* dev, void* state) {
    xf_vk_graph_state_t* s = state;
    if (!s) return;
    if (s->cmd) dev->vk.vkFreeCommandBuffers(dev->device, dev->cmd_pool, 1, &s->cmd);
    if (s->pool) dev->vk.vkDestroyDescriptorPool(dev->device, s->pool, NULL);
    xf_free(s->plan.items);
    xf_free(s->node_of);
    xf_free(s);
}

static xf_status_t xf_vk_write_sets(xf_device_t* dev, xf_vk_graph_state_t* s, xf_err_t* err) {
    size_t n = s->plan.count;
    if (n == 0) return XF_OK;
    uint32_t descriptors = 0;
    for (size_t i = 0; i < n; ++i) descriptors += (uint32_t)__builtin_popcount(s->plan.items[i].layout->bindings);
    VkDescriptorPoolSize ps = {.type = VK_DESCRIPTOR_TYPE_STORAGE_BUFFER, .descriptorCount = descriptors ? descriptors : 1};
    VkDescriptorPoolCreateInfo pci = {.sType = VK_STRUCTURE_TYPE_DESCRIPTOR_POOL_CREATE_INFO,
                                      .maxSets = (uint32_t)n,
                                      .poolSizeCount = 1,
                                      .pPoolSizes = &ps};
    VkResult r = dev->vk.vkCreateDescriptorPool(dev->device, &pci, NULL, &s->pool);
    if (r != VK_SUCCESS) return xf_vk_fail(err, r, "vkCreateDescriptorPool");
    for (size_t i = 0; i < n; i += 64) {
        VkDescriptorSet sets[64];
        VkDescriptorSetLayout layouts[64];
        uint32_t cnt = (uint32_t)(n - i < 64 ? n - i : 64);
        for (uint32_t j = 0; j < cnt; ++j) layouts[j] = s->plan.items[i + j].layout->set;
        VkDescriptorSetAllocateInfo ai = {.sType = VK_STRUCTURE_TYPE_DESCRIPTOR_SET_ALLOCATE_INFO,
                                          .descriptorPool = s->pool,
                                          .descriptorSetCount = cnt,
                                          .pSetLayouts = layouts};
        r = dev->vk.vkAllocateDescriptorSets(dev->device, &ai, sets);
        if (r != VK_SUCCESS) return xf_vk_fail(err, r, "vkAllocateDescriptorSets");
        VkDescriptorBufferInfo infos[64 * XF_VK_BINDINGS];
        VkWriteDescriptorSet writes[64 * XF_VK_BINDINGS];
        uint32_t nw = 0;
        for (uint32_t j = 0; j < cnt; ++j) {
            xf_vk_dispatch_t* d = &s->plan.items[i + j];
            d->set = sets[j];
            for (uint32_t b = 0; b < XF_VK_BINDINGS; ++b) {
                if (!(d->layout->bindings & (1u << b))) continue;
                // A declared binding whose optional source is absent gets the destination (never read).
                const xf_vk_binding_t* bd = d->bind[b].buffer ? &d->bind[b] : &d->bind[XF_VK_DST_BINDING];
                infos[nw] =
                    (VkDescriptorBufferInfo){.buffer = bd->buffer->buffer, .offset = bd->offset, .range = bd->range};
                writes[nw] = (VkWriteDescriptorSet){.sType = VK_STRUCTURE_TYPE_WRITE_DESCRIPTOR_SET,
                                                    .dstSet = sets[j],
                                                    .dstBinding = b,
                                                    .descriptorCount = 1,
                                                    .descriptorType = VK_DESCRIPTOR_TYPE_STORAGE_BUFFER,
                                                    .pBufferInfo = &infos[nw]};
                nw++;
            }
        }
        dev->vk.vkUpdateDescriptorSets(dev->device, nw, writes, 0, NULL);
    }
    return XF_OK;
}

static xf_status_t xf_vk_record(xf_device_t* dev, xf_vk_graph_state_t* s, xf_err_t* err) {
    VkCommandBufferAllocateInfo ai = {.sType = VK_STRUCTURE_TYPE_COMMAND_BUFFER_ALLOCATE_INFO,
                                      .commandPool = dev->cmd_pool,
                                      .level = VK_COMMAND_BUFFER_LEVEL_PRIMARY,
                                      .commandBufferCount = 1};
    VkResult r = dev->vk.vkAllocateCommandBuffers(dev->device, &ai, &s->cmd);
    if (r != VK_SUCCESS) return xf_vk_fail(err, r, "vkAllocateCommandBuffers");
    VkCommandBufferBeginInfo bi = {.sType = VK_STRUCTURE_TYPE_COMMAND_BUFFER_BEGIN_INFO};
    r = dev->vk.vkBeginCommandBuffer(s->cmd, &bi);
    if (r != VK_SUCCESS) return xf_vk_fail(err, r, "vkBeginCommandBuffer");
    VkCommandBuffer cb = s->cmd;
    // Work of earlier submissions (previous computes, transfers) and host writes come first.
    xf_vk_barrier(dev, cb,
                  VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT | VK_PIPELINE_STAGE_TRANSFER_BIT | VK_PIPELINE_STAGE_HOST_BIT,
                  VK_ACCESS_SHADER_WRITE_BIT | VK_ACCESS_SHADER_READ_BIT | VK_ACCESS_TRANSFER_WRITE_BIT |
                      VK_ACCESS_HOST_WRITE_BIT,
                  VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT, VK_ACCESS_SHADER_READ_BIT | VK_ACCESS_SHADER_WRITE_BIT);
    xf_vk_tracker_t t = {0};
    VkPipeline bound = VK_NULL_HANDLE;
    xf_status_t st = XF_OK;
    for (size_t i = 0; i < s->plan.count && st == XF_OK; ++i) {
        xf_vk_dispatch_t* d = &s->plan.items[i];
        if (xf_vk_needs_barrier(&t, d)) {
            xf_vk_barrier(dev, cb, VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT, VK_ACCESS_SHADER_WRITE_BIT | VK_ACCESS_SHADER_READ_BIT,
                          VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT, VK_ACCESS_SHADER_READ_BIT | VK_ACCESS_SHADER_WRITE_BIT);
            t.nreads = t.nwrites = 0;
            s->barriers++;
        }
        if (!xf_vk_track(&t, d)) st = xf_err_set(err, XF_ERR_OUT_OF_MEMORY, "Vulkan: out of host memory");
        if (d->pipeline != bound) {
            dev->vk.vkCmdBindPipeline(cb, VK_PIPELINE_BIND_POINT_COMPUTE, d->pipeline);
            bound = d->pipeline;
        }
        dev->vk.vkCmdBindDescriptorSets(cb, VK_PIPELINE_BIND_POINT_COMPUTE, d->layout->pipe, 0, 1, &d->set, 0, NULL);
        if (d->push_words)
            dev->vk.vkCmdPushConstants(cb, d->layout->pipe, VK_SHADER_STAGE_COMPUTE_BIT, 0, d->push_words * 4, d->push);
        dev->vk.vkCmdDispatch(cb, d->groups[0], d->groups[1], d->groups[2]);
    }
    xf_free(t.reads);
    xf_free(t.writes);
    xf_vk_barrier(dev, cb, VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT, VK_ACCESS_SHADER_WRITE_BIT,
                  VK_PIPELINE_STAGE_HOST_BIT | VK_PIPELINE_STAGE_TRANSFER_BIT,
                  VK_ACCESS_HOST_READ_BIT | VK_ACCESS_TRANSFER_READ_BIT);
    r = dev->vk.vkEndCommandBuffer(cb);
    if (st == XF_OK && r != VK_SUCCESS) st = xf_vk_fail(err, r, "vkEndCommandBuffer");
    return st;
}

static xf_status_t graph_prepare(xf_device_t* dev, const xf_exec_graph_t* graph, void** out_state, xf_err_t* err);

// Pipelines are compiled here and at their first dispatch (Mesa writes its shader cache meanwhile).
xf_status_t xf_vk_graph_prepare(xf_device_t* dev, const xf_exec_graph_t* graph, void** out_state, xf_err_t* err) {
    xf_driver_cache_begin(&xf_vk_driver_cache);
    xf_status_t st = graph_prepare(dev, graph, out_state, err);
    xf_driver_cache_end(&xf_vk_driver_cache);
    return st;
}

static xf_status_t graph_prepare(xf_device_t* dev, const xf_exec_graph_t* graph, void** out_state, xf_err_t* err) {
    *out_state = NULL;
    xf_vk_graph_state_t* s = xf_calloc(1, sizeof *s);
    if (!s) return xf_err_set(err, XF_ERR_OUT_OF_MEMORY, "Vulkan: out of host memory");
    xf_status_t st = XF_OK;
    size_t cap = 0;
    for (size_t i = 0; i < graph->count && st == XF_OK; ++i) {
        size_t before = s->plan.count;
        st = xf_vk_record_node(dev, &graph->nodes[i], &s->plan, err);
        if (st != XF_OK) {
            size_t n = strlen(err->msg);
            snprintf(err->msg + n, sizeof err->msg - n, " [%s]", xf_node_label(&graph->nodes[i]));
            break;
        }
        if (s->plan.count > cap) {
            size_t* no = xf_realloc(s->node_of, s->plan.cap * sizeof *no);
            if (!no) {
                st = xf_err_set(err, XF_ERR_OUT_OF_MEMORY, "Vulkan: out of host memory");
                break;
            }
            s->node_of = no;
            cap = s->plan.cap;
        }
        for (size_t j = before; j < s->plan.count; ++j) s->node_of[j] = i;
    }
    if (st == XF_OK) st = xf_vk_write_sets(dev, s, err);
    if (st == XF_OK) st = xf_vk_record(dev, s, err);
    xf_vk_cache_save(dev);
    st = xf_vk_check_validation(dev, st, err);
    if (st != XF_OK) {
        xf_vk_graph_release(dev, s);
        return st;
    }
    *out_state = s;
    return XF_OK;
}

static xf_status_t graph_run(xf_device_t* dev, const xf_exec_graph_t* graph, void* state, xf_err_t* err);

xf_status_t xf_vk_graph_compute(xf_device_t* dev, const xf_exec_graph_t* graph, void* state, xf_err_t* err) {
    xf_vk_graph_state_t* s = state;
    if (!s || s->computed) return graph_run(dev, graph, state, err);
    xf_driver_cache_begin(&xf_vk_driver_cache);
    xf_status_t st = graph_run(dev, graph, state, err);
    xf_driver_cache_end(&xf_vk_driver_cache);
    s->computed = st == XF_OK;
    return st;
}

static xf_status_t graph_run(xf_device_t* dev, const xf_exec_graph_t* graph, void* state, xf_err_t* err) {
    xf_vk_graph_state_t* s = state;
    if (!s || s->plan.count == 0) return xf_vk_check_validation(dev, XF_OK, err);
    VkSubmitInfo si = {.sType = VK_STRUCTURE_TYPE_SUBMIT_INFO, .commandBufferCount = 1, .pCommandBuffers = &s->cmd};
    VkResult r = dev->vk.vkQueueSubmit(dev->queue, 1, &si, dev->fence);
    const char* step = "vkQueueSubmit";
    if (r == VK_SUCCESS) {
        r = dev->vk.vkWaitForFences(dev->device, 1, &dev->fence, VK_TRUE, UINT64_MAX);
        step = "vkWaitForFences";
        VkResult r2 = dev->vk.vkResetFences(dev->device, 1, &dev->fence);
        if (r == VK_SUCCESS && r2 != VK_SUCCESS) {
            r = r2;
            step = "vkResetFences";
        }
    }
    xf_status_t st = XF_OK;
    if (r != VK_SUCCESS) {
        // One submission runs every node, so the failing node cannot be singled out: name them.
        st = xf_vk_fail(err, r, step);
        size_t n = strlen(err->msg);
        const xf_exec_node_t* first = &graph->nodes[s->node_of[0]];
        const xf_exec_node_t* last = &graph->nodes[s->node_of[s->plan.count - 1]];
        snprintf(err->msg + n, sizeof err->msg - n, " while executing the graph's %zu nodes in one submission (%s .. %s)",
                 graph->count, xf_node_label(first), xf_node_label(last));
    } else {
        dev->counters.submissions += 1;
        dev->counters.dispatches += s->plan.count;
    }
    return xf_vk_check_validation(dev, st, err);
}
