// SPDX-License-Identifier: MIT
// Graphs: node recording, view materialisation, planning and execution.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core.h"

xf_status_t xf_graph_create(xf_context_t* context, xf_graph_t** out_graph) {
    if (!context) return xf_set_last_error(XF_ERR_INVALID_ARGUMENT, "xf_graph_create: context is NULL");
    if (!out_graph) return xf_ctx_fail(context, XF_ERR_INVALID_ARGUMENT, "xf_graph_create: out_graph is NULL");
    *out_graph = NULL;
    xf_alloc_use(&context->allocator);
    xf_graph_t* g = xf_calloc(1, sizeof *g);
    if (!g) return xf_ctx_fail(context, XF_ERR_OUT_OF_MEMORY, "xf_graph_create: out of host memory");
    g->context = context;
    g->reuse = true;
    context->graphs++;
    *out_graph = g;
    return XF_OK;
}

static void graph_unprepare(xf_graph_t* g) {
    xf_context_t* ctx = g->context;
    if (g->backend_state) ctx->backend->graph_release(ctx->device, g->backend_state);
    g->backend_state = NULL;
    for (size_t i = 0; i < g->npools; ++i) ctx->backend->buffer_free(ctx->device, g->pools[i]);
    xf_free(g->pools);
    g->pools = NULL;
    g->npools = 0;
    for (xf_tensor_t* t = g->tensors; t; t = t->next) {
        if (t->kind == XF_TENSOR_RESULT) t->buffer = NULL;
    }
    xf_free(g->exec);
    g->exec = NULL;
    g->prepared = false;
}

void xf_graph_destroy(xf_graph_t* graph) {
    if (!graph) return;
    xf_alloc_use(&graph->context->allocator);
    graph_unprepare(graph);
    while (graph->tensors) {
        xf_tensor_t* t = graph->tensors;
        graph->tensors = t->next;
        xf_tensor_free(t);
    }
    xf_free(graph->nodes);
    graph->context->graphs--;
    xf_free(graph);
}

xf_status_t xf_graph_new_tensor(xf_graph_t* graph, xf_tensor_kind_t kind, xf_dtype_t dtype, int ndim,
                                const int64_t* shape, xf_tensor_t** out) {
    xf_context_t* ctx = graph->context;
    xf_alloc_use(&ctx->allocator);
    xf_status_t st = xf_check_shape(ctx, "graph tensor", ndim, shape);
    if (st != XF_OK) return st;
    xf_tensor_t* t = xf_calloc(1, sizeof *t);
    if (!t) return xf_ctx_fail(ctx, XF_ERR_OUT_OF_MEMORY, "out of host memory");
    t->name = xf_strdup("");
    if (!t->name) {
        xf_free(t);
        return xf_ctx_fail(ctx, XF_ERR_OUT_OF_MEMORY, "out of host memory");
    }
    t->context = ctx;
    t->graph = graph;
    t->kind = kind;
    t->dtype = dtype;
    t->ndim = ndim;
    memcpy(t->shape, shape, sizeof(int64_t) * (size_t)ndim);
    xf_shape_dense_strides(ndim, shape, t->stride);
    t->producer = -1;
    t->last_use = -1;
    t->next = graph->tensors;
    graph->tensors = t;
    *out = t;
    return XF_OK;
}

xf_status_t xf_graph_input(xf_graph_t* graph, const char* name, xf_dtype_t dtype, int ndim, const int64_t* shape,
                           xf_tensor_t** out_tensor) {
    if (!graph) return xf_set_last_error(XF_ERR_INVALID_ARGUMENT, "xf_graph_input: graph is NULL");
    xf_context_t* ctx = graph->context;
    if (!out_tensor) return xf_ctx_fail(ctx, XF_ERR_INVALID_ARGUMENT, "xf_graph_input: out_tensor is NULL");
    *out_tensor = NULL;
    if (xf_dtype_size(dtype) == 0) {
        return xf_ctx_fail(ctx, XF_ERR_INVALID_ARGUMENT, "xf_graph_input: unknown dtype %d", (int)dtype);
    }
    xf_status_t st = xf_check_shape(ctx, "xf_graph_input", ndim, shape);
    if (st != XF_OK) return st;
    xf_tensor_t* t = NULL;
    st = xf_graph_new_tensor(graph, XF_TENSOR_INPUT, dtype, ndim, shape, &t);
    if (st != XF_OK) return st;
    char* copy = name ? xf_strdup(name) : NULL;
    if (name && !copy) {
        graph->tensors = t->next;
        xf_tensor_free(t);
        return xf_ctx_fail(ctx, XF_ERR_OUT_OF_MEMORY, "xf_graph_input: out of host memory");
    }
    if (copy) {
        xf_free(t->name);
        t->name = copy;
    }
    xf_err_t err = {{0}};
    st = ctx->backend->buffer_alloc(ctx->device, xf_tensor_bytes(t), &t->buffer, &err);
    if (st != XF_OK) {
        graph->tensors = t->next;
        xf_tensor_free(t);
        return xf_ctx_fail_err(ctx, st, &err, "xf_graph_input: allocating input storage");
    }
    *out_tensor = t;
    return XF_OK;
}

xf_status_t xf_graph_check_tensor(xf_graph_t* graph, const xf_tensor_t* t, const char* what) {
    if (!t) return xf_ctx_fail(graph->context, XF_ERR_INVALID_ARGUMENT, "%s is NULL", what);
    if (t->context != graph->context) {
        return xf_ctx_fail(graph->context, XF_ERR_INVALID_ARGUMENT, "%s belongs to another context", what);
    }
    if (t->graph && t->graph != graph) {
        return xf_ctx_fail(graph->context, XF_ERR_INVALID_ARGUMENT, "%s belongs to another graph", what);
    }
    return XF_OK;
}

static xf_status_t push_node(xf_graph_t* g, const xf_node_t* node) {
    xf_alloc_use(&g->context->allocator);
    if (g->count == g->capacity) {
        size_t cap = g->capacity ? g->capacity * 2 : 64;
        xf_node_t* nodes = xf_realloc(g->nodes, cap * sizeof *nodes);
        if (!nodes) return xf_ctx_fail(g->context, XF_ERR_OUT_OF_MEMORY, "out of host memory");
        g->nodes = nodes;
        g->capacity = cap;
    }
    g->nodes[g->count++] = *node;
    return XF_OK;
}

static xf_status_t append_raw(xf_graph_t* g, xf_op_t op, xf_tensor_t* const* src, int nsrc,
                              const xf_op_params_t* params, xf_dtype_t dtype, int ndim, const int64_t* shape,
                              xf_tensor_t** out) {
    if (g->prepared) graph_unprepare(g);
    xf_tensor_t* dst = NULL;
    xf_status_t st = xf_graph_new_tensor(g, XF_TENSOR_RESULT, dtype, ndim, shape, &dst);
    if (st != XF_OK) return st;
    xf_node_t node;
    memset(&node, 0, sizeof node);
    node.op = op;
    node.nsrc = nsrc;
    for (int i = 0; i < nsrc; ++i) node.src[i] = src[i];
    node.dst = dst;
    if (params) node.params = *params;
    snprintf(node.label, sizeof node.label, "node %zu (%s)", g->count, xf_op_name(op));
    dst->producer = (int)g->count;
    st = push_node(g, &node);
    if (st != XF_OK) {
        g->tensors = dst->next;
        xf_tensor_free(dst);
        return st;
    }
    *out = dst;
    return XF_OK;
}

xf_status_t xf_graph_dense(xf_graph_t* graph, xf_tensor_t* t, xf_tensor_t** out) {
    if (t->kind != XF_TENSOR_VIEW || xf_tensor_is_dense(t)) {
        *out = t;
        return XF_OK;
    }
    if (!t->materialized) {
        xf_status_t st = append_raw(graph, XF_OP_COPY, &t, 1, NULL, t->dtype, t->ndim, t->shape, &t->materialized);
        if (st != XF_OK) return st;
    }
    *out = t->materialized;
    return XF_OK;
}

xf_status_t xf_graph_append(xf_graph_t* graph, xf_op_t op, xf_tensor_t* const* src, int nsrc,
                            const xf_op_params_t* params, xf_dtype_t dtype, int ndim, const int64_t* shape,
                            xf_tensor_t** out) {
    xf_tensor_t* dense[XF_MAX_SRC] = {0};
    for (int i = 0; i < nsrc; ++i) {
        if (!src[i]) continue;
        xf_status_t st = xf_graph_dense(graph, src[i], &dense[i]);
        if (st != XF_OK) return st;
    }
    return append_raw(graph, op, dense, nsrc, params, dtype, ndim, shape, out);
}

xf_status_t xf_graph_mark_output(xf_graph_t* graph, xf_tensor_t* tensor) {
    if (!graph) return xf_set_last_error(XF_ERR_INVALID_ARGUMENT, "xf_graph_mark_output: graph is NULL");
    xf_status_t st = xf_graph_check_tensor(graph, tensor, "xf_graph_mark_output: tensor");
    if (st != XF_OK) return st;
    xf_tensor_t* t = tensor;
    if (t->kind == XF_TENSOR_VIEW) {
        if (xf_tensor_is_dense(t)) t = t->base;
        else if ((st = xf_graph_dense(graph, tensor, &t)) != XF_OK) return st;
    }
    if (t->kind != XF_TENSOR_RESULT) {
        return xf_ctx_fail(graph->context, XF_ERR_INVALID_ARGUMENT,
                           "xf_graph_mark_output: '%s' is not computed by this graph", tensor->name);
    }
    if (!t->is_output && graph->prepared) graph_unprepare(graph);
    t->is_output = true;
    return XF_OK;
}

xf_status_t xf_graph_set_memory_reuse(xf_graph_t* graph, bool enabled) {
    if (!graph) return xf_set_last_error(XF_ERR_INVALID_ARGUMENT, "xf_graph_set_memory_reuse: graph is NULL");
    if (graph->prepared) graph_unprepare(graph);
    graph->reuse = enabled;
    return XF_OK;
}

// The pool buffer holding pool offset |*offset|, which becomes the offset within that buffer.
static xf_buffer_t* pool_at(const xf_graph_t* graph, size_t* offset) {
    if (!graph->plan.segment) return graph->npools ? graph->pools[0] : NULL;
    size_t i = *offset / graph->plan.segment;
    *offset -= i * graph->plan.segment;
    return i < graph->npools ? graph->pools[i] : NULL;
}

static void make_tref(const xf_tensor_t* t, xf_tref_t* r) {
    memset(r, 0, sizeof *r);
    bool view = t->kind == XF_TENSOR_VIEW;
    const xf_tensor_t* s = view ? t->base : t;
    r->buffer = s->buffer;
    r->offset = s->offset + (view ? (size_t)t->view_offset * xf_dtype_size(t->dtype) : 0);
    r->dtype = t->dtype;
    int pad = 4 - t->ndim;
    int64_t dense = 1, es = (int64_t)xf_dtype_size(t->dtype);
    for (int i = 3; i >= 0; --i) {
        r->ne[i] = i < pad ? 1 : t->shape[i - pad];
        r->nb[i] = (view && i >= pad ? t->stride[i - pad] : dense) * es;
        dense *= r->ne[i];
    }
}

// Fills the exec node of graph node |i| from its tensors.
static void make_exec_node(const xf_graph_t* graph, size_t i, xf_exec_node_t* e) {
    const xf_node_t* n = &graph->nodes[i];
    memset(e, 0, sizeof *e);
    e->op = n->op;
    e->nsrc = n->nsrc;
    e->params = n->params;
    e->label = n->label;
    for (int s = 0; s < n->nsrc; ++s) {
        const xf_tensor_t* t = n->src[s];
        if (!t) continue;
        make_tref(t, &e->src[s]);
        if ((t->kind == XF_TENSOR_VIEW ? t->base : t)->kind == XF_TENSOR_STORED) e->constant_srcs |= 1u << s;
    }
    make_tref(n->dst, &e->dst);
    if (n->scratch_bytes) {
        e->scratch_offset = n->scratch_offset;
        e->scratch = pool_at(graph, &e->scratch_offset);
        e->scratch_bytes = n->scratch_bytes;
    }
}

// Asks the backend how much scratch each node needs, before memory is planned. Results have no
// storage yet: they stand in with a placeholder buffer that node_scratch never dereferences.
static xf_status_t query_scratch(xf_graph_t* graph) {
    xf_context_t* ctx = graph->context;
    static unsigned char unplanned;
    for (xf_tensor_t* t = graph->tensors; t; t = t->next) {
        if (t->kind == XF_TENSOR_RESULT) t->buffer = (xf_buffer_t*)&unplanned;
    }
    for (size_t i = 0; i < graph->count; ++i) {
        xf_node_t* n = &graph->nodes[i];
        n->scratch_bytes = 0;
        if (!ctx->backend->node_scratch) continue;
        xf_exec_node_t e;
        make_exec_node(graph, i, &e);
        n->scratch_bytes = ctx->backend->node_scratch(ctx->device, &e);
    }
    for (xf_tensor_t* t = graph->tensors; t; t = t->next) {
        if (t->kind == XF_TENSOR_RESULT) t->buffer = NULL;
    }
    return XF_OK;
}

// Every tensor of |e| must have a storage type the backend runs (its registry row).
static xf_status_t check_dtypes(const xf_context_t* ctx, const xf_exec_node_t* e, xf_err_t* err) {
    unsigned ok = xf_backend_dtypes(ctx->backend->kind);
    unsigned weight_ok = xf_backend_weight_dtypes(ctx->backend->kind);
    for (int i = -1; i < e->nsrc; ++i) {
        const xf_tref_t* t = i < 0 ? &e->dst : &e->src[i];
        if (i >= 0 && !t->buffer) continue;
        if (!((e->op == XF_OP_MATMUL && i == 1 ? weight_ok : ok) & (1u << t->dtype))) {
            return xf_err_set(err, XF_ERR_UNIMPLEMENTED,
                              "the %s backend does not store %s tensors; cast to f16 or f32 (xf_cast) or use the "
                              "cpu backend", ctx->backend->name, xf_dtype_name(t->dtype));
        }
    }
    return XF_OK;
}

xf_status_t xf_graph_plan(xf_graph_t* graph) {
    if (!graph) return xf_set_last_error(XF_ERR_INVALID_ARGUMENT, "xf_graph_plan: graph is NULL");
    if (graph->prepared) return XF_OK;
    xf_context_t* ctx = graph->context;
    xf_alloc_use(&ctx->allocator);
    if (graph->count == 0) return xf_ctx_fail(ctx, XF_ERR_FAILED_PRECONDITION, "the graph has no nodes");
    xf_status_t st = query_scratch(graph);
    if (st == XF_OK) st = xf_plan_memory(graph);
    if (st != XF_OK) return st;
    if (graph->pool_limit && graph->plan.pool_bytes > graph->pool_limit)
        return xf_ctx_fail(ctx, XF_ERR_OUT_OF_RANGE,
                           "the graph's intermediates need %zu bytes, over the %zu left by %s; raise it to run this",
                           graph->plan.pool_bytes, graph->pool_limit,
                           graph->pool_limit_what ? graph->pool_limit_what : "the limit");
    xf_err_t err = {{0}};
    if (graph->plan.pool_bytes) {
        const size_t seg = graph->plan.segment, total = graph->plan.pool_bytes;
        const size_t count = seg ? (total + seg - 1) / seg : 1;
        graph->pools = xf_calloc(count, sizeof *graph->pools);
        if (!graph->pools) return xf_ctx_fail(ctx, XF_ERR_OUT_OF_MEMORY, "out of host memory");
        for (size_t i = 0; i < count && st == XF_OK; ++i) {
            size_t bytes = seg ? (i + 1 < count ? seg : total - i * seg) : total;
            st = ctx->backend->buffer_alloc(ctx->device, bytes, &graph->pools[i], &err);
            if (st == XF_OK) graph->npools++;
        }
        if (st != XF_OK) {
            graph_unprepare(graph);
            return xf_ctx_fail(ctx, st, "allocating %zu bytes for the graph's intermediates: %s", total, err.msg);
        }
    }
    // From here a result's offset is within its buffer of the pool (the planner sets them afresh each plan).
    for (xf_tensor_t* t = graph->tensors; t; t = t->next) {
        if (t->kind == XF_TENSOR_RESULT) t->buffer = pool_at(graph, &t->offset);
    }
    graph->exec = xf_calloc(graph->count, sizeof *graph->exec);
    if (!graph->exec) {
        graph_unprepare(graph);
        return xf_ctx_fail(ctx, XF_ERR_OUT_OF_MEMORY, "out of host memory");
    }
    for (size_t i = 0; i < graph->count; ++i) {
        const xf_node_t* n = &graph->nodes[i];
        xf_exec_node_t* e = &graph->exec[i];
        make_exec_node(graph, i, e);
        st = check_dtypes(ctx, e, &err);
        if (st == XF_OK) st = ctx->backend->supports(ctx->device, e, &err);
        if (st != XF_OK) {
            graph_unprepare(graph);
            return xf_ctx_fail(ctx, st, "%s on %s (%s %s): %s", n->label, ctx->backend->name, ctx->info.name,
                               xf_dtype_name(n->dst->dtype), err.msg);
        }
    }
    xf_exec_graph_t eg = {graph->exec, graph->count};
    st = ctx->backend->graph_prepare(ctx->device, &eg, &graph->backend_state, &err);
    if (st != XF_OK) {
        graph_unprepare(graph);
        return xf_ctx_fail_err(ctx, st, &err, "preparing the graph");
    }
    graph->prepared = true;
    graph->stored_generation = ctx->stored_generation;
    return XF_OK;
}

xf_status_t xf_graph_compute(xf_graph_t* graph) {
    if (!graph) return xf_set_last_error(XF_ERR_INVALID_ARGUMENT, "xf_graph_compute: graph is NULL");
    xf_alloc_use(&graph->context->allocator);
    xf_status_t st = xf_graph_plan(graph);
    if (st != XF_OK) return st;
    xf_context_t* ctx = graph->context;
    xf_exec_counters_t before = {0}, after = {0};
    ctx->backend->counters(ctx->device, &before);
    xf_err_t err = {{0}};
    xf_exec_graph_t eg = {graph->exec, graph->count};
    if (graph->stored_generation != ctx->stored_generation && ctx->backend->graph_refresh) {
        st = ctx->backend->graph_refresh(ctx->device, &eg, graph->backend_state, &err);
        if (st != XF_OK) return xf_ctx_fail_err(ctx, st, &err, "refreshing the graph's copies of its weights");
    }
    graph->stored_generation = ctx->stored_generation;
    st = ctx->backend->graph_compute(ctx->device, &eg, graph->backend_state, &err);
    if (st != XF_OK) return xf_ctx_fail_err(ctx, st, &err, "computing the graph");
    ctx->backend->counters(ctx->device, &after);
    graph->counters.submissions += after.submissions - before.submissions;
    graph->counters.dispatches += after.dispatches - before.dispatches;
    graph->computes++;
    return XF_OK;
}

xf_status_t xf_graph_stats(const xf_graph_t* graph, xf_graph_stats_t* out_stats) {
    if (!graph || !out_stats) return xf_set_last_error(XF_ERR_INVALID_ARGUMENT, "xf_graph_stats: NULL argument");
    memset(out_stats, 0, sizeof *out_stats);
    out_stats->nodes = graph->count;
    out_stats->intermediates = graph->plan.intermediates;
    out_stats->intermediate_bytes_sum = graph->plan.intermediate_bytes_sum;
    out_stats->peak_intermediate_bytes = graph->plan.pool_bytes;
    out_stats->pool_buffers = graph->npools;
    out_stats->inplace_reuses = graph->plan.inplace_reuses;
    out_stats->peak_scratch_bytes = graph->plan.scratch_bytes_max;
    out_stats->computes = graph->computes;
    out_stats->submissions = graph->counters.submissions;
    out_stats->dispatches = graph->counters.dispatches;
    const xf_context_t* ctx = graph->context;
    if (graph->backend_state && ctx->backend->graph_memory) {
        out_stats->repacked_weight_bytes = ctx->backend->graph_memory(ctx->device, graph->backend_state);
    }
    return XF_OK;
}
