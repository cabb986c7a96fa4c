// SPDX-License-Identifier: MIT
// Liveness-based memory planner: places every intermediate at an offset of one pool so that tensors
// whose lifetimes do not overlap share memory. Nodes are in recording order, which is a valid
// execution order, so a tensor is live from its producer to its last reader.
#include <stdlib.h>
#include <string.h>

#include "core.h"

#define XF_PLAN_ALIGN 256  // covers minStorageBufferOffsetAlignment and CL_DEVICE_MEM_BASE_ADDR_ALIGN

typedef struct {
    size_t offset, size;
} block_t;

typedef struct {
    block_t* free;
    size_t count, capacity;
    size_t end;      // high-water mark of the pool
    size_t segment;  // 0, or the size of the device buffers the pool is cut into: no block straddles one
} arena_t;

// Where a block of |size| can start in the free range [off, off + len): |off|, or the next segment start when
// the block would straddle a segment boundary; SIZE_MAX when it does not fit.
static size_t place(const arena_t* a, size_t off, size_t len, size_t size) {
    size_t at = off;
    if (a->segment && at / a->segment != (at + size - 1) / a->segment) at = (at / a->segment + 1) * a->segment;
    return at + size <= off + len ? at : SIZE_MAX;
}

static size_t align_up(size_t n) { return (n + XF_PLAN_ALIGN - 1) / XF_PLAN_ALIGN * XF_PLAN_ALIGN; }

static bool arena_insert(arena_t* a, size_t at, block_t b) {
    if (a->count == a->capacity) {
        size_t cap = a->capacity ? a->capacity * 2 : 32;
        block_t* p = xf_realloc(a->free, cap * sizeof *p);
        if (!p) return false;
        a->free = p;
        a->capacity = cap;
    }
    memmove(a->free + at + 1, a->free + at, (a->count - at) * sizeof *a->free);
    a->free[at] = b;
    a->count++;
    return true;
}

static void arena_remove(arena_t* a, size_t at) {
    memmove(a->free + at, a->free + at + 1, (a->count - at - 1) * sizeof *a->free);
    a->count--;
}

// Takes [at, at + size) out of free block |i|, keeping what lies before and after it free.
static bool arena_take(arena_t* a, size_t i, size_t at, size_t size) {
    block_t b = a->free[i];
    size_t before = at - b.offset, after = b.offset + b.size - (at + size);
    if (before == 0 && after == 0) {
        arena_remove(a, i);
        return true;
    }
    if (before == 0) {
        a->free[i] = (block_t){at + size, after};
        return true;
    }
    a->free[i].size = before;
    return after == 0 || arena_insert(a, i + 1, (block_t){at + size, after});
}

// Best fit among free blocks; otherwise grow the pool (extending a free block at its end).
static bool arena_alloc(arena_t* a, size_t size, size_t* out_offset) {
    size_t best = SIZE_MAX, best_at = 0;
    for (size_t i = 0; i < a->count; ++i) {
        size_t at = place(a, a->free[i].offset, a->free[i].size, size);
        if (at != SIZE_MAX && (best == SIZE_MAX || a->free[i].size < a->free[best].size)) {
            best = i;
            best_at = at;
        }
    }
    if (best != SIZE_MAX) {
        *out_offset = best_at;
        return arena_take(a, best, best_at, size);
    }
    size_t start = a->end;
    bool tail = a->count && a->free[a->count - 1].offset + a->free[a->count - 1].size == a->end;
    if (tail) start = a->free[a->count - 1].offset;
    size_t at = place(a, start, SIZE_MAX - start, size);
    if (tail) {
        // The free tail up to |at| stays free (a segment boundary may skip part of it).
        if (at == start) arena_remove(a, a->count - 1);
        else a->free[a->count - 1].size = at - start;
        *out_offset = at;
        a->end = at + size;
        return true;
    }
    if (at > a->end && !arena_insert(a, a->count, (block_t){a->end, at - a->end})) return false;
    *out_offset = at;
    a->end = at + size;
    return true;
}

// Returns a block to the sorted free list, merging neighbours.
static bool arena_free(arena_t* a, size_t offset, size_t size) {
    size_t i = 0;
    while (i < a->count && a->free[i].offset < offset) ++i;
    if (!arena_insert(a, i, (block_t){offset, size})) return false;
    if (i + 1 < a->count && a->free[i].offset + a->free[i].size == a->free[i + 1].offset) {
        a->free[i].size += a->free[i + 1].size;
        arena_remove(a, i + 1);
    }
    if (i > 0 && a->free[i - 1].offset + a->free[i - 1].size == a->free[i].offset) {
        a->free[i - 1].size += a->free[i].size;
        arena_remove(a, i);
    }
    return true;
}

static xf_tensor_t* storage_root(xf_tensor_t* t) { return t->kind == XF_TENSOR_VIEW ? t->base : t; }

// The source an op may overwrite with its result, element for element, or -1 (the registry's rule).
static int inplace_source(const xf_node_t* n) {
    switch (xf_op_info(n->op)->inplace) {
        case XF_INPLACE_SRC0: return 0;
        case XF_INPLACE_RESIDUAL: return n->params.matmul.has_residual ? 3 : -1;
        case XF_INPLACE_NONE: break;
    }
    return -1;
}

xf_status_t xf_plan_memory(xf_graph_t* graph) {
    xf_plan_t plan = {0};
    for (xf_tensor_t* t = graph->tensors; t; t = t->next) t->last_use = -1;
    for (size_t i = 0; i < graph->count; ++i) {
        const xf_node_t* n = &graph->nodes[i];
        for (int s = 0; s < n->nsrc; ++s) {
            if (n->src[s]) storage_root(n->src[s])->last_use = (int)i;
        }
    }
    // Device buffers are limited in size (OpenCL CL_DEVICE_MAX_MEM_ALLOC_SIZE, Vulkan maxMemoryAllocationSize):
    // a larger pool is cut into buffers of that size, and no block may straddle two.
    const uint64_t max_alloc = graph->context->info.max_allocation_bytes;
    arena_t arena = {.segment = max_alloc && max_alloc < SIZE_MAX / 2 ? (size_t)max_alloc / XF_PLAN_ALIGN * XF_PLAN_ALIGN : 0};
    for (size_t i = 0; arena.segment && i < graph->count; ++i) {
        const xf_node_t* n = &graph->nodes[i];
        size_t need = align_up(xf_tensor_bytes(n->dst)), scratch = align_up(n->scratch_bytes);
        if (need > arena.segment || scratch > arena.segment)
            return xf_ctx_fail(graph->context, XF_ERR_INCOMPATIBLE,
                               "%s needs %zu bytes in one buffer, over the device's largest allocation of %llu bytes",
                               n->label, need > scratch ? need : scratch, (unsigned long long)max_alloc);
    }
    graph->plan.segment = arena.segment;
    bool ok = true;
    for (size_t i = 0; i < graph->count && ok; ++i) {
        xf_node_t* n = &graph->nodes[i];
        xf_tensor_t* dst = n->dst;
        size_t size = align_up(xf_tensor_bytes(dst));
        plan.intermediates++;
        plan.intermediate_bytes_sum += xf_tensor_bytes(dst);
        int in = graph->reuse && !dst->is_output ? inplace_source(n) : -1;
        xf_tensor_t* victim = in >= 0 ? n->src[in] : NULL;
        // A reshape (a dense view of a whole result) gives up its base's block.
        if (victim && victim->kind == XF_TENSOR_VIEW && victim->view_offset == 0 && xf_tensor_is_dense(victim) &&
            xf_tensor_bytes(victim) == xf_tensor_bytes(victim->base))
            victim = victim->base;
        if (victim && victim->kind == XF_TENSOR_RESULT && !victim->is_output && victim->last_use == (int)i &&
            victim->dtype == dst->dtype && xf_tensor_bytes(victim) == xf_tensor_bytes(dst)) {
            dst->offset = victim->offset;
            victim->last_use = -1;  // ownership of the block moves to |dst|
            plan.inplace_reuses++;
        } else {
            ok = arena_alloc(&arena, size, &dst->offset);
        }
        // Scratch lives while the node runs: placed after its result, freed with its dying sources,
        // so it never overlaps anything the node reads or writes.
        if (ok && n->scratch_bytes) {
            size_t ssize = align_up(n->scratch_bytes);
            ok = arena_alloc(&arena, ssize, &n->scratch_offset);
            if (ok && graph->reuse) ok = arena_free(&arena, n->scratch_offset, ssize);
            if (n->scratch_bytes > plan.scratch_bytes_max) plan.scratch_bytes_max = n->scratch_bytes;
        }
        if (!graph->reuse) continue;
        for (int s = 0; s < n->nsrc && ok; ++s) {
            if (!n->src[s]) continue;
            xf_tensor_t* r = storage_root(n->src[s]);
            bool dup = false;
            for (int p = 0; p < s; ++p) dup |= n->src[p] && storage_root(n->src[p]) == r;
            if (dup || r->kind != XF_TENSOR_RESULT || r->is_output || r->last_use != (int)i) continue;
            ok = arena_free(&arena, r->offset, align_up(xf_tensor_bytes(r)));
        }
        if (ok && dst->last_use < 0 && !dst->is_output && dst->offset + size <= arena.end) {
            // A result nobody reads is still written; keep its block until the end of this node only.
            ok = arena_free(&arena, dst->offset, size);
        }
    }
    xf_free(arena.free);
    if (!ok) return xf_ctx_fail(graph->context, XF_ERR_OUT_OF_MEMORY, "memory planner: out of host memory");
    plan.pool_bytes = arena.end;
    plan.segment = arena.segment;
    graph->plan = plan;
    return XF_OK;
}
