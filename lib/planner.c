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
    size_t end;  // high-water mark of the pool
} arena_t;

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

// Best fit among free blocks; otherwise grow the pool (extending a free block at its end).
static bool arena_alloc(arena_t* a, size_t size, size_t* out_offset) {
    size_t best = SIZE_MAX;
    for (size_t i = 0; i < a->count; ++i) {
        if (a->free[i].size >= size && (best == SIZE_MAX || a->free[i].size < a->free[best].size)) best = i;
    }
    if (best != SIZE_MAX) {
        *out_offset = a->free[best].offset;
        a->free[best].offset += size;
        a->free[best].size -= size;
        if (a->free[best].size == 0) arena_remove(a, best);
        return true;
    }
    if (a->count && a->free[a->count - 1].offset + a->free[a->count - 1].size == a->end) {
        *out_offset = a->free[a->count - 1].offset;
        a->end = *out_offset + size;
        arena_remove(a, a->count - 1);
        return true;
    }
    *out_offset = a->end;
    a->end += size;
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
    arena_t arena = {0};
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
    graph->plan = plan;
    return XF_OK;
}
