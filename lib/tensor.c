// SPDX-License-Identifier: MIT
// Tensors: shapes, storage, host transfers, f16 conversion.
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core.h"


int64_t xf_shape_elements(int ndim, const int64_t* shape) {
    int64_t n = 1;
    for (int i = 0; i < ndim; ++i) n *= shape[i];
    return n;
}

void xf_shape_dense_strides(int ndim, const int64_t* shape, int64_t* out_stride) {
    int64_t s = 1;
    for (int i = ndim - 1; i >= 0; --i) {
        out_stride[i] = s;
        s *= shape[i];
    }
}

bool xf_tensor_is_dense(const xf_tensor_t* t) {
    int64_t s = 1;
    for (int i = t->ndim - 1; i >= 0; --i) {
        if (t->shape[i] != 1 && t->stride[i] != s) return false;
        s *= t->shape[i];
    }
    return true;
}

xf_status_t xf_check_shape(xf_context_t* ctx, const char* what, int ndim, const int64_t* shape) {
    if (ndim < 1 || ndim > XF_MAX_DIMS) {
        return xf_ctx_fail(ctx, XF_ERR_INVALID_ARGUMENT, "%s: %d dimensions; tensors have 1 to %d", what, ndim,
                           XF_MAX_DIMS);
    }
    if (!shape) return xf_ctx_fail(ctx, XF_ERR_INVALID_ARGUMENT, "%s: shape is NULL", what);
    int64_t n = 1;
    for (int i = 0; i < ndim; ++i) {
        if (shape[i] <= 0 || shape[i] > (INT64_C(1) << 40) / n) {
            return xf_ctx_fail(ctx, XF_ERR_INVALID_ARGUMENT, "%s: dimension %d has size %lld; sizes must be positive "
                               "and the tensor under 2^40 elements", what, i, (long long)shape[i]);
        }
        n *= shape[i];
    }
    return XF_OK;
}

static xf_status_t init_storage(xf_context_t* ctx, xf_tensor_t* t) {
    xf_err_t err = {{0}};
    xf_status_t st = ctx->backend->buffer_alloc(ctx->device, xf_tensor_bytes(t), &t->buffer, &err);
    if (st != XF_OK) return xf_ctx_fail_err(ctx, st, &err, "allocating tensor storage");
    return XF_OK;
}

xf_status_t xf_tensor_create(xf_context_t* context, const char* name, xf_dtype_t dtype, int ndim,
                             const int64_t* shape, xf_tensor_t** out_tensor) {
    if (!context) return xf_set_last_error(XF_ERR_INVALID_ARGUMENT, "xf_tensor_create: context is NULL");
    if (!out_tensor) return xf_ctx_fail(context, XF_ERR_INVALID_ARGUMENT, "xf_tensor_create: out_tensor is NULL");
    *out_tensor = NULL;
    xf_alloc_use(&context->allocator);
    if (xf_dtype_size(dtype) == 0) {
        return xf_ctx_fail(context, XF_ERR_INVALID_ARGUMENT, "xf_tensor_create: unknown dtype %d", (int)dtype);
    }
    xf_status_t st = xf_check_shape(context, "xf_tensor_create", ndim, shape);
    if (st != XF_OK) return st;
    if (name && *name) {
        xf_tensor_t* existing = NULL;
        if (xf_context_find_tensor(context, name, &existing) == XF_OK) {
            return xf_ctx_fail(context, XF_ERR_INVALID_ARGUMENT, "xf_tensor_create: a tensor named '%s' exists", name);
        }
    }
    xf_tensor_t* t = xf_calloc(1, sizeof *t);
    if (!t) return xf_ctx_fail(context, XF_ERR_OUT_OF_MEMORY, "xf_tensor_create: out of host memory");
    t->context = context;
    t->kind = XF_TENSOR_STORED;
    t->dtype = dtype;
    t->ndim = ndim;
    memcpy(t->shape, shape, sizeof(int64_t) * (size_t)ndim);
    xf_shape_dense_strides(ndim, shape, t->stride);
    t->producer = -1;
    t->name = xf_strdup(name ? name : "");
    if (!t->name) {
        xf_free(t);
        return xf_ctx_fail(context, XF_ERR_OUT_OF_MEMORY, "xf_tensor_create: out of host memory");
    }
    st = init_storage(context, t);
    if (st != XF_OK) {
        xf_free(t->name);
        xf_free(t);
        return st;
    }
    t->next = context->tensors;
    context->tensors = t;
    *out_tensor = t;
    return XF_OK;
}

void xf_tensor_free(xf_tensor_t* t) {
    if (t->buffer && (t->kind == XF_TENSOR_STORED || t->kind == XF_TENSOR_INPUT)) {
        t->context->backend->buffer_free(t->context->device, t->buffer);
    }
    xf_free(t->name);
    xf_free(t);
}

void xf_tensor_destroy(xf_tensor_t* tensor) {
    if (!tensor || tensor->kind != XF_TENSOR_STORED) return;
    xf_context_t* ctx = tensor->context;
    for (xf_tensor_t** p = &ctx->tensors; *p;) {
        if (*p == tensor) {
            *p = tensor->next;
            continue;
        }
        if ((*p)->scale == tensor) (*p)->scale = NULL;
        p = &(*p)->next;
    }
    xf_tensor_free(tensor);
}

xf_status_t xf_tensor_set_scale(xf_tensor_t* weight, xf_tensor_t* scale) {
    if (!weight) return xf_set_last_error(XF_ERR_INVALID_ARGUMENT, "xf_tensor_set_scale: weight is NULL");
    xf_context_t* ctx = weight->context;
    if (weight->kind != XF_TENSOR_STORED || weight->dtype != XF_DTYPE_I8 || weight->ndim != 2) {
        return xf_ctx_fail(ctx, XF_ERR_INVALID_ARGUMENT,
                           "xf_tensor_set_scale: '%s' is not a 2-D i8 tensor made by xf_tensor_create",
                           weight->name ? weight->name : "(unnamed)");
    }
    if (!scale) {
        weight->scale = NULL;
        return XF_OK;
    }
    int64_t n = weight->shape[0], k = weight->shape[1], blocks = xf_quant_groups(k, XF_QUANT_BLOCK);
    if (scale->context != ctx || scale->kind != XF_TENSOR_STORED ||
        (scale->dtype != XF_DTYPE_F32 && scale->dtype != XF_DTYPE_F16) ||
        xf_quant_block_of(n, k, scale->ndim, scale->shape) < 0) {
        return xf_ctx_fail(ctx, XF_ERR_INVALID_ARGUMENT,
                           "xf_tensor_set_scale: the scale of '%s' [%lld, %lld] must be an f32 or f16 tensor of "
                           "this context shaped [%lld] (per channel) or [%lld, %lld] (blocks of %d)",
                           weight->name ? weight->name : "(unnamed)", (long long)n, (long long)k, (long long)n,
                           (long long)n, (long long)blocks, XF_QUANT_BLOCK);
    }
    weight->scale = scale;
    return XF_OK;
}

xf_status_t xf_context_find_tensor(xf_context_t* context, const char* name, xf_tensor_t** out_tensor) {
    if (!context || !name || !out_tensor) {
        return xf_set_last_error(XF_ERR_INVALID_ARGUMENT, "xf_context_find_tensor: NULL argument");
    }
    for (xf_tensor_t* t = context->tensors; t; t = t->next) {
        if (strcmp(t->name, name) == 0) {
            *out_tensor = t;
            return XF_OK;
        }
    }
    return xf_ctx_fail(context, XF_ERR_NOT_FOUND, "no tensor named '%s' in the context", name);
}

// The tensor whose buffer holds |t|'s data, and the byte offset of |t| in it.
static const xf_tensor_t* storage_of(const xf_tensor_t* t, size_t* out_offset) {
    if (t->kind == XF_TENSOR_VIEW) {
        if (t->materialized) return storage_of(t->materialized, out_offset);
        if (!xf_tensor_is_dense(t)) return NULL;
        *out_offset = t->base->offset + (size_t)t->view_offset * xf_dtype_size(t->dtype);
        return t->base;
    }
    *out_offset = t->offset;
    return t;
}

static xf_status_t transfer(const xf_tensor_t* tensor, void* data, size_t bytes, bool upload, const char* fn) {
    if (!tensor) return xf_set_last_error(XF_ERR_INVALID_ARGUMENT, "%s: tensor is NULL", fn);
    xf_context_t* ctx = tensor->context;
    xf_alloc_use(&ctx->allocator);
    if (!data) return xf_ctx_fail(ctx, XF_ERR_INVALID_ARGUMENT, "%s: data is NULL", fn);
    if (bytes != xf_tensor_bytes(tensor)) {
        return xf_ctx_fail(ctx, XF_ERR_INVALID_ARGUMENT, "%s: %zu bytes given, tensor '%s' holds %zu", fn, bytes,
                           tensor->name, xf_tensor_bytes(tensor));
    }
    if (upload && tensor->kind != XF_TENSOR_STORED && tensor->kind != XF_TENSOR_INPUT) {
        return xf_ctx_fail(ctx, XF_ERR_INVALID_ARGUMENT,
                           "%s: tensor '%s' is computed by its graph; upload to graph inputs or context tensors", fn,
                           tensor->name);
    }
    size_t offset = 0;
    const xf_tensor_t* s = storage_of(tensor, &offset);
    if (upload && s && s->kind == XF_TENSOR_STORED) ctx->stored_generation++;
    if (!s) {
        return xf_ctx_fail(ctx, XF_ERR_FAILED_PRECONDITION,
                           "%s: '%s' is a strided view; mark it as a graph output to read it", fn, tensor->name);
    }
    if (!s->buffer || (s->kind == XF_TENSOR_RESULT && (!s->is_output || !s->graph->computes))) {
        return xf_ctx_fail(ctx, XF_ERR_FAILED_PRECONDITION,
                           "%s: '%s' holds no result yet; mark it with xf_graph_mark_output and run xf_graph_compute",
                           fn, tensor->name);
    }
    xf_err_t err = {{0}};
    xf_status_t st = upload ? ctx->backend->buffer_write(ctx->device, s->buffer, offset, data, bytes, &err)
                            : ctx->backend->buffer_read(ctx->device, s->buffer, offset, data, bytes, &err);
    if (st != XF_OK) return xf_ctx_fail_err(ctx, st, &err, fn);
    return XF_OK;
}

xf_status_t xf_tensor_upload(xf_tensor_t* tensor, const void* data, size_t bytes) {
    return transfer(tensor, (void*)data, bytes, true, "xf_tensor_upload");
}

xf_status_t xf_tensor_download(const xf_tensor_t* tensor, void* data, size_t bytes) {
    return transfer(tensor, data, bytes, false, "xf_tensor_download");
}

// Converts through the dtype's traits into a staging copy (|upload|) or out of one.
static xf_status_t transfer_f32(xf_tensor_t* tensor, float* data, size_t count, bool upload, const char* fn) {
    if (!tensor) return xf_set_last_error(XF_ERR_INVALID_ARGUMENT, "%s: tensor is NULL", fn);
    const xf_dtype_traits_t* tr = xf_dtype_traits(tensor->dtype);
    if (!tr || !tr->is_float || !data || count != (size_t)xf_tensor_elements(tensor)) {
        return xf_ctx_fail(tensor->context, XF_ERR_INVALID_ARGUMENT,
                           "%s: needs a float tensor and %lld non-NULL elements", fn,
                           (long long)xf_tensor_elements(tensor));
    }
    if (tensor->dtype == XF_DTYPE_F32) {
        return upload ? xf_tensor_upload(tensor, data, count * sizeof(float))
                      : xf_tensor_download(tensor, data, count * sizeof(float));
    }
    size_t bytes = xf_tensor_bytes(tensor);
    xf_alloc_use(&tensor->context->allocator);
    void* tmp = xf_malloc(bytes ? bytes : 1);
    if (!tmp) return xf_ctx_fail(tensor->context, XF_ERR_OUT_OF_MEMORY, "%s: out of host memory", fn);
    xf_status_t st;
    if (upload) {
        tr->from_f32(data, tmp, count);
        st = xf_tensor_upload(tensor, tmp, bytes);
    } else {
        st = xf_tensor_download(tensor, tmp, bytes);
        if (st == XF_OK) tr->to_f32(tmp, data, count);
    }
    xf_free(tmp);
    return st;
}

xf_status_t xf_tensor_upload_f32(xf_tensor_t* tensor, const float* data, size_t count) {
    return transfer_f32(tensor, (float*)data, count, true, "xf_tensor_upload_f32");
}

xf_status_t xf_tensor_download_f32(const xf_tensor_t* tensor, float* data, size_t count) {
    return transfer_f32((xf_tensor_t*)tensor, data, count, false, "xf_tensor_download_f32");
}

xf_dtype_t xf_tensor_dtype(const xf_tensor_t* tensor) { return tensor ? tensor->dtype : XF_DTYPE_F32; }
int xf_tensor_ndim(const xf_tensor_t* tensor) { return tensor ? tensor->ndim : 0; }

int64_t xf_tensor_dim(const xf_tensor_t* tensor, int axis) {
    if (!tensor) return 0;
    if (axis < 0) axis += tensor->ndim;
    if (axis < 0 || axis >= tensor->ndim) return 0;
    return tensor->shape[axis];
}

int64_t xf_tensor_elements(const xf_tensor_t* tensor) {
    return tensor ? xf_shape_elements(tensor->ndim, tensor->shape) : 0;
}

size_t xf_tensor_bytes(const xf_tensor_t* tensor) {
    const xf_dtype_traits_t* tr = tensor ? xf_dtype_traits(tensor->dtype) : NULL;
    return tr ? (size_t)xf_tensor_elements(tensor) / (size_t)tr->block_elems * tr->block_bytes : 0;
}

const char* xf_tensor_name(const xf_tensor_t* tensor) { return tensor && tensor->name ? tensor->name : ""; }
