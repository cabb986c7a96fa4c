// SPDX-License-Identifier: MIT
// Tensors: shapes, storage, host transfers, f16 conversion.
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core.h"

size_t xf_dtype_size(xf_dtype_t dtype) {
    switch (dtype) {
        case XF_DTYPE_F32: return 4;
        case XF_DTYPE_F16: return 2;
        case XF_DTYPE_I32: return 4;
    }
    return 0;
}

const char* xf_dtype_name(xf_dtype_t dtype) {
    switch (dtype) {
        case XF_DTYPE_F32: return "f32";
        case XF_DTYPE_F16: return "f16";
        case XF_DTYPE_I32: return "i32";
    }
    return "unknown";
}

uint16_t xf_f32_to_f16(float value) {
    uint32_t x;
    memcpy(&x, &value, 4);
    uint32_t sign = (x >> 16) & 0x8000u;
    uint32_t exp = (x >> 23) & 0xffu;
    uint32_t mant = x & 0x7fffffu;
    if (exp == 0xff) return (uint16_t)(sign | 0x7c00u | (mant ? 0x200u : 0));
    int32_t e = (int32_t)exp - 127 + 15;
    if (e >= 31) return (uint16_t)(sign | 0x7c00u);
    if (e <= 0) {
        if (e < -10) return (uint16_t)sign;
        mant |= 0x800000u;
        uint32_t shift = (uint32_t)(14 - e);
        uint32_t half = mant >> shift;
        uint32_t rem = mant & ((1u << shift) - 1);
        uint32_t mid = 1u << (shift - 1);
        if (rem > mid || (rem == mid && (half & 1u))) half++;
        return (uint16_t)(sign | half);
    }
    uint32_t half = sign | ((uint32_t)e << 10) | (mant >> 13);
    uint32_t rem = mant & 0x1fffu;
    // Round to nearest even; a carry into the exponent is the correct result.
    if (rem > 0x1000u || (rem == 0x1000u && (half & 1u))) half++;
    return (uint16_t)half;
}

float xf_f16_to_f32(uint16_t value) {
    uint32_t sign = (uint32_t)(value & 0x8000u) << 16;
    uint32_t exp = (value >> 10) & 0x1fu;
    uint32_t mant = value & 0x3ffu;
    uint32_t x;
    if (exp == 0) {
        if (mant == 0) {
            x = sign;
        } else {
            int e = -1;
            do {
                mant <<= 1;
                e++;
            } while (!(mant & 0x400u));
            x = sign | ((uint32_t)(127 - 15 - e) << 23) | ((mant & 0x3ffu) << 13);
        }
    } else if (exp == 31) {
        x = sign | 0x7f800000u | (mant << 13);
    } else {
        x = sign | ((exp + 127 - 15) << 23) | (mant << 13);
    }
    float f;
    memcpy(&f, &x, 4);
    return f;
}

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
    xf_tensor_t* t = calloc(1, sizeof *t);
    if (!t) return xf_ctx_fail(context, XF_ERR_OUT_OF_MEMORY, "xf_tensor_create: out of host memory");
    t->context = context;
    t->kind = XF_TENSOR_STORED;
    t->dtype = dtype;
    t->ndim = ndim;
    memcpy(t->shape, shape, sizeof(int64_t) * (size_t)ndim);
    xf_shape_dense_strides(ndim, shape, t->stride);
    t->producer = -1;
    t->name = strdup(name ? name : "");
    if (!t->name) {
        free(t);
        return xf_ctx_fail(context, XF_ERR_OUT_OF_MEMORY, "xf_tensor_create: out of host memory");
    }
    st = init_storage(context, t);
    if (st != XF_OK) {
        free(t->name);
        free(t);
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
    free(t->name);
    free(t);
}

void xf_tensor_destroy(xf_tensor_t* tensor) {
    if (!tensor || tensor->kind != XF_TENSOR_STORED) return;
    xf_context_t* ctx = tensor->context;
    for (xf_tensor_t** p = &ctx->tensors; *p; p = &(*p)->next) {
        if (*p == tensor) {
            *p = tensor->next;
            break;
        }
    }
    xf_tensor_free(tensor);
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

xf_status_t xf_tensor_upload_f32(xf_tensor_t* tensor, const float* data, size_t count) {
    if (!tensor) return xf_set_last_error(XF_ERR_INVALID_ARGUMENT, "xf_tensor_upload_f32: tensor is NULL");
    if (tensor->dtype == XF_DTYPE_F32) return xf_tensor_upload(tensor, data, count * sizeof(float));
    if (tensor->dtype != XF_DTYPE_F16 || !data || count != (size_t)xf_tensor_elements(tensor)) {
        return xf_ctx_fail(tensor->context, XF_ERR_INVALID_ARGUMENT,
                           "xf_tensor_upload_f32: needs a float tensor and %lld non-NULL elements",
                           (long long)xf_tensor_elements(tensor));
    }
    uint16_t* tmp = malloc(count * 2);
    if (!tmp) return xf_ctx_fail(tensor->context, XF_ERR_OUT_OF_MEMORY, "xf_tensor_upload_f32: out of host memory");
    for (size_t i = 0; i < count; ++i) tmp[i] = xf_f32_to_f16(data[i]);
    xf_status_t st = xf_tensor_upload(tensor, tmp, count * 2);
    free(tmp);
    return st;
}

xf_status_t xf_tensor_download_f32(const xf_tensor_t* tensor, float* data, size_t count) {
    if (!tensor) return xf_set_last_error(XF_ERR_INVALID_ARGUMENT, "xf_tensor_download_f32: tensor is NULL");
    if (tensor->dtype == XF_DTYPE_F32) return xf_tensor_download(tensor, data, count * sizeof(float));
    if (tensor->dtype != XF_DTYPE_F16 || !data || count != (size_t)xf_tensor_elements(tensor)) {
        return xf_ctx_fail(tensor->context, XF_ERR_INVALID_ARGUMENT,
                           "xf_tensor_download_f32: needs a float tensor and %lld non-NULL elements",
                           (long long)xf_tensor_elements(tensor));
    }
    uint16_t* tmp = malloc(count * 2);
    if (!tmp) return xf_ctx_fail(tensor->context, XF_ERR_OUT_OF_MEMORY, "xf_tensor_download_f32: out of host memory");
    xf_status_t st = xf_tensor_download(tensor, tmp, count * 2);
    for (size_t i = 0; st == XF_OK && i < count; ++i) data[i] = xf_f16_to_f32(tmp[i]);
    free(tmp);
    return st;
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
    return tensor ? (size_t)xf_tensor_elements(tensor) * xf_dtype_size(tensor->dtype) : 0;
}

const char* xf_tensor_name(const xf_tensor_t* tensor) { return tensor && tensor->name ? tensor->name : ""; }
