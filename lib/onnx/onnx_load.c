// SPDX-License-Identifier: MIT
// ONNX import: parses the protobuf (protobuf-c, generated from Debian's onnx.proto at build time), turns
// initializers and Constant nodes into host constants, folds everything computable on the host (shape
// arithmetic) and lowers the rest to libxformer operators (onnx_ops.c), fusing the patterns PyTorch exports
// (onnx_fuse.c).
#include <errno.h>
#include <stdlib.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "onnx/onnx.h"
#include "onnx/onnx_internal.h"
#include "onnx/onnx_ops.h"

#define XO_MAX_FILE ((int64_t)4 << 30)

xf_status_t xo_fail(xo_imp_t* im, xf_status_t status, const char* fmt, ...) {
    char msg[700];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (!im->node) return xf_ctx_fail(im->ctx, status, "%s: %s", im->path, msg);
    const Onnx__NodeProto* n = im->node;
    return xf_ctx_fail(im->ctx, status, "%s: node %zu '%.100s' (%.60s, opset %lld): %s", im->path, im->node_index,
                       n->name && n->name[0] ? n->name : (n->n_output ? n->output[0] : "?"), n->op_type,
                       (long long)im->opset, msg);
}

bool xo_is_float_type(int ety) {
    return ety == XO_FLOAT || ety == XO_FLOAT16 || ety == XO_DOUBLE || ety == XO_BFLOAT16;
}

double xo_get(const xo_val_t* v, int64_t k) { return v->f ? (double)v->f[k] : (double)v->i[k]; }

int64_t xo_to_int(double x) {
    if (x != x) return 0;
    return x >= 9.2e18 ? INT64_MAX : x <= -9.2e18 ? INT64_MIN : (int64_t)x;
}

void xo_set(xo_val_t* v, int64_t k, double x) {
    if (v->f) {
        v->f[k] = (float)x;
    } else if (v->ety == XO_BOOL) {
        v->i[k] = x != 0;
    } else {
        // Shape arithmetic only: values past int64 (INT64_MAX in Slice ends) saturate.
        v->i[k] = xo_to_int(x);
    }
}

static int64_t elements(int nd, const int64_t* shape) {
    int64_t n = 1;
    for (int d = 0; d < nd; d++) n *= shape[d];
    return n;
}

xf_status_t xo_const_new(xo_imp_t* im, xo_val_t* v, int ety, int nd, const int64_t* shape) {
    if (nd < 0 || nd > XO_MAX_RANK) return xo_fail(im, XF_ERR_UNIMPLEMENTED, "rank %d is over %d", nd, XO_MAX_RANK);
    int64_t n = 1;
    for (int d = 0; d < nd; d++) {
        if (shape[d] < 0 || (shape[d] && n > ((int64_t)1 << 40) / shape[d]))
            return xo_fail(im, XF_ERR_OUT_OF_RANGE, "a constant of dimension %lld is out of range",
                           (long long)shape[d]);
        n *= shape[d];
    }
    size_t bytes = (size_t)(n ? n : 1) * (xo_is_float_type(ety) ? sizeof(float) : sizeof(int64_t));
    void* p = xf_calloc(1, bytes);
    if (!p) return xo_fail(im, XF_ERR_OUT_OF_MEMORY, "out of host memory for a constant of %lld elements",
                           (long long)n);
    v->is_const = true;
    v->known = true;
    v->ety = ety;
    v->nd = nd;
    if (nd) memcpy(v->shape, shape, sizeof(int64_t) * (size_t)nd);
    v->n = n;
    if (xo_is_float_type(ety))
        v->f = p;
    else
        v->i = p;
    return XF_OK;
}

// Reads |bytes| at |offset| of the external data file |location| (relative to the model's directory).
static xf_status_t read_external(xo_imp_t* im, const Onnx__TensorProto* tp, uint8_t** out, size_t want) {
    const char *location = NULL;
    int64_t offset = 0, length = -1;
    for (size_t k = 0; k < tp->n_external_data; k++) {
        const Onnx__StringStringEntryProto* e = tp->external_data[k];
        if (!e->key || !e->value) continue;
        if (strcmp(e->key, "location") == 0) location = e->value;
        else if (strcmp(e->key, "offset") == 0) offset = strtoll(e->value, NULL, 10);
        else if (strcmp(e->key, "length") == 0) length = strtoll(e->value, NULL, 10);
    }
    const char* name = tp->name ? tp->name : "?";
    if (!location || !location[0] || location[0] == '/' || strstr(location, ".."))
        return xo_fail(im, XF_ERR_DATA_LOSS, "initializer '%.200s': external data needs a relative 'location' "
                       "inside the model's directory", name);
    if (offset < 0 || (length >= 0 && (size_t)length != want))
        return xo_fail(im, XF_ERR_DATA_LOSS, "initializer '%.200s': external data offset %lld / length %lld do not "
                       "match its %zu bytes", name, (long long)offset, (long long)length, want);
    char file[2048];
    snprintf(file, sizeof file, "%s/%s", im->dir, location);
    FILE* f = fopen(file, "rb");
    if (!f) return xo_fail(im, XF_ERR_NOT_FOUND, "initializer '%.200s': cannot open external data file '%s': %s",
                           name, file, strerror(errno));
    uint8_t* buf = xf_malloc(want ? want : 1);
    xf_status_t st = XF_OK;
    if (!buf) st = xo_fail(im, XF_ERR_OUT_OF_MEMORY, "out of host memory reading '%s'", file);
    else if (fseeko(f, (off_t)offset, SEEK_SET) != 0 || fread(buf, 1, want, f) != want)
        st = xo_fail(im, XF_ERR_DATA_LOSS, "initializer '%.200s': external data file '%s' ends before byte %lld",
                     name, file, (long long)(offset + (int64_t)want));
    fclose(f);
    if (st != XF_OK) {
        xf_free(buf);
        return st;
    }
    *out = buf;
    return XF_OK;
}

static size_t raw_size(int ety) {
    switch (ety) {
        case XO_FLOAT: case XO_INT32: case XO_UINT32: return 4;
        case XO_INT64: case XO_UINT64: case XO_DOUBLE: return 8;
        case XO_FLOAT16: case XO_BFLOAT16: case XO_INT16: case XO_UINT16: return 2;
        case XO_INT8: case XO_UINT8: case XO_BOOL: return 1;
        default: return 0;
    }
}

static double raw_value(const uint8_t* p, int ety) {
    switch (ety) {
        case XO_FLOAT: { float x; memcpy(&x, p, 4); return x; }
        case XO_DOUBLE: { double x; memcpy(&x, p, 8); return x; }
        case XO_INT32: { int32_t x; memcpy(&x, p, 4); return x; }
        case XO_UINT32: { uint32_t x; memcpy(&x, p, 4); return x; }
        case XO_INT64: { int64_t x; memcpy(&x, p, 8); return (double)x; }
        case XO_UINT64: { uint64_t x; memcpy(&x, p, 8); return (double)x; }
        case XO_FLOAT16: { uint16_t x; memcpy(&x, p, 2); return xf_f16_to_f32(x); }
        case XO_BFLOAT16: { uint16_t x; memcpy(&x, p, 2); return xf_bf16_to_f32(x); }
        case XO_INT16: { int16_t x; memcpy(&x, p, 2); return x; }
        case XO_UINT16: { uint16_t x; memcpy(&x, p, 2); return x; }
        case XO_INT8: return (int8_t)p[0];
        case XO_UINT8: return p[0];
        case XO_BOOL: return p[0] != 0;
        default: return 0;
    }
}

xf_status_t xo_parse_tensor(xo_imp_t* im, const Onnx__TensorProto* tp, xo_val_t* v) {
    const char* name = tp->name ? tp->name : "";
    int ety = tp->has_data_type ? tp->data_type : 0;
    size_t esize = raw_size(ety);
    if (!esize)
        return xo_fail(im, XF_ERR_UNIMPLEMENTED, "tensor '%.200s' has element type %d, which libxformer does not "
                       "import (float, float16, bfloat16, double, bool and integers are)", name, ety);
    if (tp->n_dims > XO_MAX_RANK)
        return xo_fail(im, XF_ERR_UNIMPLEMENTED, "tensor '%.200s' has %zu dims (at most %d)", name, tp->n_dims,
                       XO_MAX_RANK);
    if (tp->segment) return xo_fail(im, XF_ERR_UNIMPLEMENTED, "tensor '%.200s' is segmented", name);
    int64_t shape[XO_MAX_RANK];
    for (size_t d = 0; d < tp->n_dims; d++) shape[d] = tp->dims[d];
    XO_CHECK(xo_const_new(im, v, ety, (int)tp->n_dims, shape));
    const int64_t n = v->n;
    const uint8_t* raw = NULL;
    uint8_t* external = NULL;
    if (tp->has_data_location && tp->data_location == ONNX__TENSOR_PROTO__DATA_LOCATION__EXTERNAL) {
        XO_CHECK(read_external(im, tp, &external, (size_t)n * esize));
        raw = external;
    } else if (tp->has_raw_data) {
        if (tp->raw_data.len != (size_t)n * esize)
            return xo_fail(im, XF_ERR_DATA_LOSS, "tensor '%.200s': raw_data has %zu bytes, its shape needs %lld",
                           name, tp->raw_data.len, (long long)(n * (int64_t)esize));
        raw = tp->raw_data.data;
    }
    if (raw) {
        if (ety == XO_FLOAT) {
            memcpy(v->f, raw, (size_t)n * 4);
        } else {
            for (int64_t k = 0; k < n; k++) xo_set(v, k, raw_value(raw + k * (int64_t)esize, ety));
        }
        xf_free(external);
        return XF_OK;
    }
    size_t have;
    switch (ety) {
        case XO_FLOAT: have = tp->n_float_data; break;
        case XO_INT64: have = tp->n_int64_data; break;
        case XO_DOUBLE: have = tp->n_double_data; break;
        case XO_UINT32: case XO_UINT64: have = tp->n_uint64_data; break;
        default: have = tp->n_int32_data; break;
    }
    if (have != (size_t)n)
        return xo_fail(im, XF_ERR_DATA_LOSS, "tensor '%.200s' holds %zu values, its shape needs %lld", name, have,
                       (long long)n);
    for (int64_t k = 0; k < n; k++) {
        double x;
        switch (ety) {
            case XO_FLOAT: x = tp->float_data[k]; break;
            case XO_INT64: x = (double)tp->int64_data[k]; break;
            case XO_DOUBLE: x = tp->double_data[k]; break;
            case XO_UINT32: case XO_UINT64: x = (double)tp->uint64_data[k]; break;
            case XO_FLOAT16: x = xf_f16_to_f32((uint16_t)tp->int32_data[k]); break;
            case XO_BFLOAT16: x = xf_bf16_to_f32((uint16_t)tp->int32_data[k]); break;
            default: x = tp->int32_data[k]; break;
        }
        if (ety == XO_INT64) v->i[k] = tp->int64_data[k];  // exact, past 2^53 too
        else xo_set(v, k, x);
    }
    return XF_OK;
}

//===----------------------------------------------------------------------===//
// Values by name
//===----------------------------------------------------------------------===//

static uint64_t name_hash(const char* s) {
    uint64_t h = 1469598103934665603ull;
    for (; *s; s++) h = (h ^ (uint8_t)*s) * 1099511628211ull;
    return h;
}

xo_val_t* xo_find(xo_imp_t* im, const char* name) {
    if (!name || !name[0]) return NULL;
    for (size_t k = name_hash(name) & (im->hashcap - 1);; k = (k + 1) & (im->hashcap - 1)) {
        int32_t idx = im->hash[k];
        if (idx < 0) return NULL;
        if (strcmp(im->vals[idx].name, name) == 0) return &im->vals[idx];
    }
}

// The value named |name|, added when new. Capacity is reserved before, so pointers stay valid.
static xo_val_t* val_add(xo_imp_t* im, const char* name) {
    xo_val_t* v = xo_find(im, name);
    if (v || im->nvals == im->capvals) return v;
    size_t k = name_hash(name) & (im->hashcap - 1);
    while (im->hash[k] >= 0) k = (k + 1) & (im->hashcap - 1);
    im->hash[k] = (int32_t)im->nvals;
    v = &im->vals[im->nvals++];
    memset(v, 0, sizeof *v);
    v->name = name;
    v->producer = -1;
    return v;
}

void val_free(xo_val_t* v) {
    if (!v->borrowed) xf_free(v->f);
    xf_free(v->i);
    v->f = NULL;
    v->i = NULL;
}

bool raw_type_ok(int ety) { return raw_size(ety) != 0; }

//===----------------------------------------------------------------------===//
// Attributes
//===----------------------------------------------------------------------===//

const Onnx__AttributeProto* xo_attr(const Onnx__NodeProto* n, const char* name) {
    for (size_t k = 0; k < n->n_attribute; k++)
        if (n->attribute[k]->name && strcmp(n->attribute[k]->name, name) == 0) return n->attribute[k];
    return NULL;
}

int64_t xo_attr_int(const Onnx__NodeProto* n, const char* name, int64_t fallback) {
    const Onnx__AttributeProto* a = xo_attr(n, name);
    return a && a->has_i ? a->i : fallback;
}

float xo_attr_float(const Onnx__NodeProto* n, const char* name, float fallback) {
    const Onnx__AttributeProto* a = xo_attr(n, name);
    return a && a->has_f ? a->f : fallback;
}

const char* xo_attr_string(const Onnx__NodeProto* n, const char* name, const char* fallback) {
    static _Thread_local char buf[64];
    const Onnx__AttributeProto* a = xo_attr(n, name);
    if (!a || !a->has_s) return fallback;
    size_t len = a->s.len < sizeof buf - 1 ? a->s.len : sizeof buf - 1;
    memcpy(buf, a->s.data, len);
    buf[len] = '\0';
    return buf;
}

//===----------------------------------------------------------------------===//
// Device values
//===----------------------------------------------------------------------===//

xf_status_t xo_result(xo_imp_t* im, xo_val_t* v, xf_tensor_t* t, int nd, const int64_t* shape) {
    v->known = true;
    v->is_const = false;
    v->ety = t->dtype == XF_DTYPE_I32 ? XO_INT32 : XO_FLOAT;
    v->nd = nd;
    memcpy(v->shape, shape, sizeof(int64_t) * (size_t)nd);
    v->n = elements(nd, shape);
    v->scale_of = NULL;
    if (t->kind == XF_TENSOR_VIEW && nd == t->ndim && memcmp(shape, t->shape, sizeof(int64_t) * (size_t)nd) == 0) {
        v->base = t->base;
        v->off = t->view_offset;
        memcpy(v->stride, t->stride, sizeof(int64_t) * (size_t)nd);
        return XF_OK;
    }
    // |t| holds the value in row-major order; a strided view of another shape is copied first.
    if (t->kind == XF_TENSOR_VIEW) {
        int64_t s = 1;
        bool dense = true;
        for (int d = t->ndim - 1; d >= 0; d--) {
            if (t->shape[d] != 1 && t->stride[d] != s) dense = false;
            s *= t->shape[d];
        }
        if (!dense) XO_CHECK(xf_graph_dense(im->g, t, &t));
    }
    v->base = t->kind == XF_TENSOR_VIEW ? t->base : t;
    v->off = t->kind == XF_TENSOR_VIEW ? t->view_offset : 0;
    int64_t s = 1;
    for (int d = nd - 1; d >= 0; d--) {
        v->stride[d] = s;
        s *= shape[d];
    }
    return XF_OK;
}

bool xo_is_dense(const xo_val_t* v) {
    int64_t s = 1;
    for (int d = v->nd - 1; d >= 0; d--) {
        if (v->shape[d] != 1 && v->stride[d] != s) return false;
        s *= v->shape[d];
    }
    return true;
}

// Collapses |v|'s logical view: unit dims dropped, adjacent dims merged where contiguous. Returns the rank.
static int collapse_one(const xo_val_t* v, int64_t* shape, int64_t* stride) {
    int nd = 0;
    for (int d = 0; d < v->nd; d++) {
        if (v->shape[d] == 1) continue;
        if (nd && stride[nd - 1] == v->stride[d] * v->shape[d]) {
            shape[nd - 1] *= v->shape[d];
            stride[nd - 1] = v->stride[d];
            continue;
        }
        shape[nd] = v->shape[d];
        stride[nd] = v->stride[d];
        nd++;
    }
    return nd;
}

// The device tensor of |v| with its logical shape (rank <= 4; a higher rank is collapsed when its layout
// allows, else XF_ERR_UNIMPLEMENTED). A pending scale is applied first.
xf_status_t xo_tensor_of(xo_imp_t* im, xo_val_t* v, xf_tensor_t** out) {
    if (v->is_const) return xo_const_tensor(im, v, xo_is_float_type(v->ety) ? XF_DTYPE_F32 : XF_DTYPE_I32, out);
    if (v->scale_of) {
        xf_tensor_t *src, *t;
        xo_val_t* s = v->scale_of;
        XO_CHECK(xo_tensor_of(im, s, &src));
        XO_CHECK(xf_scale(im->g, src, v->scale, 0.0f, &t));
        XO_CHECK(xo_result(im, v, t, s->nd, s->shape));
    }
    if (v->nd >= 1 && v->nd <= XF_MAX_DIMS) {
        if (v->base->kind != XF_TENSOR_VIEW && v->off == 0 && xo_is_dense(v) && v->nd == v->base->ndim &&
            memcmp(v->shape, v->base->shape, sizeof(int64_t) * (size_t)v->nd) == 0) {
            *out = v->base;
            return XF_OK;
        }
        return xf_graph_view(im->g, v->base, v->nd, v->shape, v->stride, v->off, out);
    }
    int64_t shape[XO_MAX_RANK], stride[XO_MAX_RANK];
    int nd = collapse_one(v, shape, stride);
    if (nd == 0) {
        shape[0] = 1;
        stride[0] = 1;
        nd = 1;
    }
    if (nd > XF_MAX_DIMS)
        return xo_fail(im, XF_ERR_UNIMPLEMENTED, "value '%.200s' is a %d-D strided view that does not fold to 4 dims",
                       v->name, v->nd);
    // The collapsed view holds the elements in the logical row-major order.
    return xf_graph_view(im->g, v->base, nd, shape, stride, v->off, out);
}

// Makes |v| dense (a copy when its view is strided), so that any reshape of it is a view.
xf_status_t xo_densify(xo_imp_t* im, xo_val_t* v) {
    if (v->is_const || (xo_is_dense(v) && !v->scale_of)) return XF_OK;
    int64_t shape[XO_MAX_RANK];
    memcpy(shape, v->shape, sizeof shape);
    int nd = v->nd;
    xf_tensor_t *t, *dense;
    XO_CHECK(xo_tensor_of(im, v, &t));
    XO_CHECK(xf_graph_dense(im->g, t, &dense));
    return xo_result(im, v, dense, nd, shape);
}

// Uploads constant |v| as |dtype| (f32 or i32), once; rank 0 becomes [1], ranks over 4 are flattened to the
// last 4 dims' row-major order (only elementwise consumers see those).
xf_status_t xo_const_tensor(xo_imp_t* im, xo_val_t* v, xf_dtype_t dtype, xf_tensor_t** out) {
    xf_tensor_t** cached = dtype == XF_DTYPE_I32 ? &v->up_i32 : &v->up_f32;
    if (*cached) {
        *out = *cached;
        return XF_OK;
    }
    if (v->n == 0) return xo_fail(im, XF_ERR_UNIMPLEMENTED, "constant '%.200s' is empty", v->name);
    int64_t shape[XF_MAX_DIMS];
    int nd = v->nd;
    if (nd == 0) {
        nd = 1;
        shape[0] = 1;
    } else if (nd <= XF_MAX_DIMS) {
        memcpy(shape, v->shape, sizeof(int64_t) * (size_t)nd);
    } else {
        int64_t lead = 1;
        for (int d = 0; d < v->nd - 3; d++) lead *= v->shape[d];
        if (lead != 1)
            return xo_fail(im, XF_ERR_UNIMPLEMENTED, "constant '%.200s' has %d dims that do not fold to 4", v->name,
                           v->nd);
        nd = 3;
        memcpy(shape, v->shape + v->nd - 3, sizeof(int64_t) * 3);
    }
    void* data = xf_malloc((size_t)v->n * 4);
    if (!data) return xo_fail(im, XF_ERR_OUT_OF_MEMORY, "out of host memory uploading '%.200s'", v->name);
    for (int64_t k = 0; k < v->n; k++) {
        if (dtype == XF_DTYPE_F32) ((float*)data)[k] = (float)xo_get(v, k);
        else {
            int64_t x = xo_to_int(xo_get(v, k));
            ((int32_t*)data)[k] = x > INT32_MAX ? INT32_MAX : x < INT32_MIN ? INT32_MIN : (int32_t)x;
        }
    }
    char name[300];
    snprintf(name, sizeof name, "onnx%llu:%.200s", (unsigned long long)im->uploads++, v->name);
    xf_status_t st = xf_model_constant_upload(im->m, name, dtype, nd, shape, data, cached);
    xf_free(data);
    if (st != XF_OK) return st;
    *out = *cached;
    return XF_OK;
}

//===----------------------------------------------------------------------===//
// Loading
//===----------------------------------------------------------------------===//

// protobuf-c returns NULL alike for a malformed file and a failed allocation: |data| tells them apart.
static void* pb_alloc(void* data, size_t size) {
    void* p = xf_malloc(size ? size : 1);
    if (!p) *(bool*)data = true;
    return p;
}
static void pb_free(void* data, void* p) {
    (void)data;
    xf_free(p);
}

static xf_status_t read_file(xo_imp_t* im, uint8_t** out, size_t* size) {
    FILE* f = fopen(im->path, "rb");
    if (!f) return xo_fail(im, XF_ERR_NOT_FOUND, "cannot open: %s", strerror(errno));
    xf_status_t st = XF_OK;
    off_t len = -1;
    if (fseeko(f, 0, SEEK_END) == 0) len = ftello(f);
    if (len < 0 || fseeko(f, 0, SEEK_SET) != 0) st = xo_fail(im, XF_ERR_DATA_LOSS, "cannot read the file size");
    else if ((int64_t)len > XO_MAX_FILE) st = xo_fail(im, XF_ERR_OUT_OF_RANGE, "the file is over 4 GiB");
    uint8_t* buf = NULL;
    if (st == XF_OK && !(buf = xf_malloc((size_t)len + 1)))
        st = xo_fail(im, XF_ERR_OUT_OF_MEMORY, "out of host memory reading %lld bytes", (long long)len);
    if (st == XF_OK && fread(buf, 1, (size_t)len, f) != (size_t)len)
        st = xo_fail(im, XF_ERR_DATA_LOSS, "short read");
    fclose(f);
    if (st != XF_OK) {
        xf_free(buf);
        return st;
    }
    *out = buf;
    *size = (size_t)len;
    return XF_OK;
}

static const char* metadata(const Onnx__ModelProto* mp, const char* key) {
    for (size_t k = 0; k < mp->n_metadata_props; k++) {
        const Onnx__StringStringEntryProto* e = mp->metadata_props[k];
        if (e->key && e->value && strcmp(e->key, key) == 0) return e->value;
    }
    return NULL;
}

static int parse_floats(const char* s, float* out, int cap) {
    int n = 0;
    while (s && *s && n < cap) {
        char* end;
        double x = strtod(s, &end);
        if (end == s) return -1;
        out[n++] = (float)x;
        s = end;
        while (*s == ',' || *s == ' ' || *s == '[' || *s == ']') s++;
    }
    return n;
}

// Preprocessing from the file's metadata_props (mean, std, crop_pct, interpolation), else ImageNet's.
static xf_status_t read_preprocessing(xo_imp_t* im) {
    xf_model_info_t* info = &im->m->info;
    const float mean[3] = {0.485f, 0.456f, 0.406f}, std[3] = {0.229f, 0.224f, 0.225f};
    for (int c = 0; c < 4; c++) {
        info->mean[c] = c < 3 ? mean[c] : 0.0f;
        info->std[c] = c < 3 ? std[c] : 1.0f;
    }
    if (info->input_channels == 1) {
        info->mean[0] = 0.5f;
        info->std[0] = 0.5f;
    }
    info->crop_pct = 0.875f;
    const char* keys[2] = {"mean", "std"};
    for (int k = 0; k < 2; k++) {
        const char* s = metadata(im->mp, keys[k]);
        if (!s) continue;
        float v[4];
        int n = parse_floats(s, v, 4);
        if (n != info->input_channels) return xo_fail(im, XF_ERR_INVALID_ARGUMENT, "metadata '%s' = '%.100s' needs "
                                                      "%lld numbers", keys[k], s, (long long)info->input_channels);
        for (int c = 0; c < n; c++) {
            if (k == 1 && !(v[c] > 0)) return xo_fail(im, XF_ERR_INVALID_ARGUMENT, "metadata 'std' must be positive");
            (k ? info->std : info->mean)[c] = v[c];
        }
    }
    const char* s = metadata(im->mp, "crop_pct");
    if (s) {
        float v;
        if (parse_floats(s, &v, 1) != 1 || !(v >= 1e-3f && v <= 1.0f))
            return xo_fail(im, XF_ERR_INVALID_ARGUMENT, "metadata 'crop_pct' = '%.100s' is not in [0.001, 1]", s);
        info->crop_pct = v;
    }
    s = metadata(im->mp, "interpolation");
    if (s) {
        if (strcmp(s, "bicubic") == 0) info->interpolation = XF_INTERPOLATION_BICUBIC;
        else if (strcmp(s, "bilinear") == 0) info->interpolation = XF_INTERPOLATION_BILINEAR;
        else if (strcmp(s, "default") == 0) info->interpolation = XF_INTERPOLATION_DEFAULT;
        else return xo_fail(im, XF_ERR_INVALID_ARGUMENT, "metadata 'interpolation' = '%.100s' (bicubic, bilinear or "
                            "default)", s);
    }
    return XF_OK;
}

// A graph input: its element type and the shape the graph is built for (dynamic dims from the options).
static xf_status_t add_input(xo_imp_t* im, const Onnx__ValueInfoProto* vi, int index) {
    const char* name = vi->name ? vi->name : "";
    const Onnx__TypeProto* tp = vi->type;
    if (!tp || tp->value_case != ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE || !tp->tensor_type)
        return xo_fail(im, XF_ERR_UNIMPLEMENTED, "input '%.200s' is not a tensor", name);
    const Onnx__TypeProto__Tensor* tt = tp->tensor_type;
    int ety = tt->has_elem_type ? tt->elem_type : 0;
    xf_dtype_t dt;
    if (ety == XO_FLOAT) dt = XF_DTYPE_F32;
    else if (ety == XO_INT64 || ety == XO_INT32 || ety == XO_BOOL) dt = XF_DTYPE_I32;
    else return xo_fail(im, XF_ERR_UNIMPLEMENTED, "input '%.200s' has element type %d (float32, int32, int64 and "
                        "bool inputs are supported)", name, ety);
    if (!tt->shape) return xo_fail(im, XF_ERR_UNIMPLEMENTED, "input '%.200s' has no shape", name);
    int nd = (int)tt->shape->n_dim;
    if (nd > XF_MAX_DIMS)
        return xo_fail(im, XF_ERR_UNIMPLEMENTED, "input '%.200s' has %d dims (at most %d)", name, nd, XF_MAX_DIMS);
    int64_t shape[XF_MAX_DIMS];
    const xf_model_options_t* o = im->options;
    for (int d = 0; d < nd; d++) {
        const Onnx__TensorShapeProto__Dimension* dim = tt->shape->dim[d];
        bool fixed = dim->value_case == ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE && dim->dim_value > 0;
        if (dim->value_case == ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE && dim->dim_value == 0)
            return xo_fail(im, XF_ERR_UNIMPLEMENTED, "input '%.200s' is empty (dim %d is 0)", name, d);
        int64_t v = fixed ? dim->dim_value : 0;
        if (!fixed && d == 0) v = im->m->info.batch;
        if (!fixed && nd == 4 && d == 2 && o && o->input_height) v = o->input_height;
        if (!fixed && nd == 4 && d == 3 && o && o->input_width) v = o->input_width;
        if (fixed && d == 0 && o && o->batch && o->batch != v)
            return xo_fail(im, XF_ERR_INVALID_ARGUMENT,
                           "input '%.200s' has a fixed batch of %lld; options ask for %lld",
                           name, (long long)v, (long long)o->batch);
        if (fixed && nd == 4 && ((d == 2 && o && o->input_height && o->input_height != v) ||
                                 (d == 3 && o && o->input_width && o->input_width != v)))
            return xo_fail(im, XF_ERR_INVALID_ARGUMENT, "input '%.200s' has a fixed size %lldx%lld; the options ask "
                           "for another (export the model with dynamic height and width to change it)", name,
                           (long long)tt->shape->dim[2]->dim_value, (long long)tt->shape->dim[3]->dim_value);
        if (v <= 0 || v > (1 << 24))
            return xo_fail(im, XF_ERR_INVALID_ARGUMENT, "dim %d of input '%.200s' is dynamic; give it in "
                           "xf_model_options_t (input_height, input_width; batch for dim 0)", d, name);
        shape[d] = v;
    }
    if (nd == 0) {
        nd = 1;
        shape[0] = 1;
    }
    xo_val_t* v = val_add(im, name);
    if (!v) return xo_fail(im, XF_ERR_INTERNAL, "value table full");
    if (v->known) return xo_fail(im, XF_ERR_INVALID_ARGUMENT, "input '%.200s' is defined twice", name);
    xf_tensor_t* t;
    XO_CHECK(xf_graph_input(im->g, name, dt, nd, shape, &t));
    XO_CHECK(xo_result(im, v, t, (int)tt->shape->n_dim, shape));
    im->m->io[index] = (xf_model_io_t){.name = v->name, .dtype = dt, .ndim = nd};
    memcpy(im->m->io[index].shape, shape, sizeof(int64_t) * (size_t)nd);
    im->m->io_tensors[index] = t;
    return XF_OK;
}

static xf_status_t lower_nodes(xo_imp_t* im) {
    Onnx__GraphProto* gp = im->gp;
    for (size_t i = 0; i < gp->n_node; i++) {
        const Onnx__NodeProto* n = gp->node[i];
        im->node = n;
        im->node_index = i;
        if (im->absorbed[i]) continue;
        if (!n->op_type) return xo_fail(im, XF_ERR_DATA_LOSS, "a node has no op_type");
        if (n->domain && n->domain[0] && strcmp(n->domain, "ai.onnx") != 0)
            return xo_fail(im, XF_ERR_UNIMPLEMENTED, "operator domain '%.100s' is not supported (only the default "
                           "ONNX domain is)", n->domain);
        if (n->n_input > 64 || n->n_output > 64 || n->n_output == 0)
            return xo_fail(im, XF_ERR_UNIMPLEMENTED, "%zu inputs and %zu outputs", n->n_input, n->n_output);
        xo_val_t* in[64];
        xo_val_t* out[64];
        for (size_t k = 0; k < n->n_input; k++) {
            in[k] = xo_find(im, n->input[k]);
            if (n->input[k] && n->input[k][0] && (!in[k] || !in[k]->known))
                return xo_fail(im, XF_ERR_INVALID_ARGUMENT, "input '%.200s' is not produced before this node "
                               "(the graph is not in topological order or names an unknown value)", n->input[k]);
        }
        for (size_t k = 0; k < n->n_output; k++) {
            out[k] = xo_find(im, n->output[k]);
            if (out[k] && out[k]->known)
                return xo_fail(im, XF_ERR_INVALID_ARGUMENT, "output '%.200s' is produced twice", n->output[k]);
        }
        im->fuse_status = XF_OK;
        bool fused = xo_fuse(im, i, in, (int)n->n_input, out, (int)n->n_output);
        if (im->fuse_status != XF_OK) return im->fuse_status;
        if (fused) continue;
        const xo_op_row_t* row = xo_op_find(n->op_type);
        if (!row)
            return xo_fail(im, XF_ERR_UNIMPLEMENTED, "operator %.60s is not supported (docs/ONNX.md lists the "
                           "ONNX operators libxformer imports)", n->op_type);
        if (im->opset < row->since)
            return xo_fail(im, XF_ERR_UNIMPLEMENTED, "%.60s before opset %d is not supported", n->op_type, row->since);
        // An unnamed first output (optional, as RNN's Y) still needs somewhere to go: a value nothing reads.
        xo_val_t unnamed = {.name = "", .producer = (int)i};
        if (!out[0]) out[0] = &unnamed;
        xf_status_t st = row->fn(im, n, in, (int)n->n_input, out, (int)n->n_output);
        val_free(&unnamed);
        XO_CHECK(st);
        for (size_t k = 0; k < n->n_output; k++) {
            if (out[k] && !out[k]->known && out[k]->uses)
                return xo_fail(im, XF_ERR_INTERNAL, "output '%.200s' was not produced", n->output[k]);
        }
    }
    im->node = NULL;
    return XF_OK;
}

static xf_status_t classify(xo_imp_t* im) {
    xf_model_t* m = im->m;
    xf_model_info_t* info = &m->info;
    info->arch = XF_MODEL_ARCH_ONNX;
    info->architecture = "onnx";
    info->task = XF_MODEL_TASK_GENERIC;
    const xf_model_io_t *in = &m->io[0], *out = &m->io[m->n_inputs];
    info->batch = in->ndim >= 1 ? in->shape[0] : 1;
    info->input_channels = in->ndim == 4 ? in->shape[1] : 1;
    info->input_height = in->ndim == 4 ? in->shape[2] : 1;
    info->input_width = in->ndim == 4 ? in->shape[3] : 1;
    info->input_elements = elements(in->ndim, in->shape) / (info->batch ? info->batch : 1);
    info->classes = out->ndim >= 2 ? out->shape[1] : out->shape[0];
    info->output_height = out->ndim == 4 ? out->shape[2] : 1;
    info->output_width = out->ndim == 4 ? out->shape[3] : 1;
    bool image = m->n_inputs == 1 && m->n_outputs == 1 && in->dtype == XF_DTYPE_F32 && out->dtype == XF_DTYPE_F32 &&
                 in->ndim == 4 && in->shape[1] <= 4 && out->shape[0] == in->shape[0];
    if (image && out->ndim == 2) info->task = XF_MODEL_TASK_CLASSIFICATION;
    if (image && out->ndim == 4) info->task = XF_MODEL_TASK_SEGMENTATION;
    if (info->task != XF_MODEL_TASK_GENERIC) {
        info->output_elements = info->classes * info->output_height * info->output_width;
    } else {
        // Other graphs run whole: xf_model_run takes the first input and gives the first output.
        info->batch = 1;
        info->input_elements = elements(in->ndim, in->shape);
        info->output_elements = elements(out->ndim, out->shape);
    }
    return read_preprocessing(im);
}

xf_status_t xf_model_load_onnx(xf_model_t* m, const xf_model_options_t* options) {
    xo_imp_t imp = {.m = m, .ctx = m->ctx, .path = m->path, .options = options};
    xo_imp_t* im = &imp;
    const char* fusion = getenv("XFORMER_ONNX_FUSION");
    if (fusion && strcmp(fusion, "0") != 0 && strcmp(fusion, "1") != 0)
        return xf_ctx_fail(m->ctx, XF_ERR_INVALID_ARGUMENT, "XFORMER_ONNX_FUSION is '%.40s'; use 1 (fuse, the "
                           "default) or 0 (lower node by node)", fusion);
    im->no_fusion = fusion && strcmp(fusion, "0") == 0;
    const char* slash = strrchr(m->path, '/');
    snprintf(im->dir, sizeof im->dir, "%.*s", slash ? (int)(slash - m->path) : 1, slash ? m->path : ".");
    const union { uint16_t u; uint8_t b[2]; } probe = {1};
    if (!probe.b[0]) return xo_fail(im, XF_ERR_UNIMPLEMENTED, "ONNX import needs a little-endian host");
    uint8_t* bytes = NULL;
    size_t size = 0;
    XO_CHECK(read_file(im, &bytes, &size));
    bool out_of_memory = false;
    ProtobufCAllocator alloc = {pb_alloc, pb_free, &out_of_memory};
    im->mp = onnx__model_proto__unpack(&alloc, size, bytes);
    xf_free(bytes);
    xf_status_t st = XF_OK;
    if (!im->mp) {
        st = out_of_memory ? xo_fail(im, XF_ERR_OUT_OF_MEMORY, "out of host memory parsing %zu bytes", size)
                           : xo_fail(im, XF_ERR_DATA_LOSS, "not a valid ONNX model (the protobuf does not parse)");
        goto done;
    }
    im->gp = im->mp->graph;
    if (!im->gp) {
        st = xo_fail(im, XF_ERR_DATA_LOSS, "the model has no graph");
        goto done;
    }
    for (size_t k = 0; k < im->mp->n_opset_import; k++) {
        const Onnx__OperatorSetIdProto* o = im->mp->opset_import[k];
        if (!o->domain || !o->domain[0] || strcmp(o->domain, "ai.onnx") == 0)
            im->opset = o->has_version ? o->version : 0;
    }
    if (im->mp->n_opset_import == 0) im->opset = 1;
    if (im->opset < XO_OPSET_MIN || im->opset > XO_OPSET_MAX) {
        st = xo_fail(im, XF_ERR_UNIMPLEMENTED, "opset %lld is not supported (libxformer imports opsets %d to %d; "
                     "re-export with opset_version=%d)",
                     (long long)im->opset, XO_OPSET_MIN, XO_OPSET_MAX, XO_OPSET_MAX);
        goto done;
    }
    Onnx__GraphProto* gp = im->gp;
    int64_t parameters = 0;
    size_t names = gp->n_input + gp->n_initializer + 1;
    for (size_t i = 0; i < gp->n_node; i++) {
        if (gp->node[i]->n_output > 64) {
            st = xo_fail(im, XF_ERR_UNIMPLEMENTED, "node %zu has %zu outputs", i, gp->node[i]->n_output);
            goto done;
        }
        names += gp->node[i]->n_output;
    }
    im->capvals = names;
    for (im->hashcap = 64; im->hashcap < 2 * names; im->hashcap *= 2) {}
    im->vals = xf_calloc(names, sizeof *im->vals);
    im->hash = xf_malloc(im->hashcap * sizeof *im->hash);
    im->absorbed = xf_calloc(gp->n_node + 1, sizeof *im->absorbed);
    m->n_inputs = 0;
    for (size_t k = 0; k < gp->n_input; k++) {
        bool init = false;
        for (size_t j = 0; j < gp->n_initializer && !init; j++)
            init = gp->input[k]->name && gp->initializer[j]->name &&
                   strcmp(gp->input[k]->name, gp->initializer[j]->name) == 0;
        if (!init) m->n_inputs++;
    }
    m->n_outputs = (int)gp->n_output;
    m->io = xf_calloc((size_t)(m->n_inputs + m->n_outputs) + 1, sizeof *m->io);
    m->io_tensors = xf_calloc((size_t)(m->n_inputs + m->n_outputs) + 1, sizeof *m->io_tensors);
    if (!im->vals || !im->hash || !im->absorbed || !m->io || !m->io_tensors) {
        st = xo_fail(im, XF_ERR_OUT_OF_MEMORY, "out of host memory");
        goto done;
    }
    memset(im->hash, 0xff, im->hashcap * sizeof *im->hash);
    if (m->n_inputs < 1 || m->n_outputs < 1 || m->n_inputs > 64 || m->n_outputs > 64) {
        st = xo_fail(im, XF_ERR_UNIMPLEMENTED, "the graph has %d inputs and %d outputs (1 to 64 each)", m->n_inputs,
                     m->n_outputs);
        goto done;
    }
    st = xf_graph_create(m->ctx, &m->graph);
    if (st != XF_OK) goto done;
    im->g = m->graph;
    for (size_t j = 0; j < gp->n_initializer && st == XF_OK; j++) {
        const Onnx__TensorProto* tp = gp->initializer[j];
        xo_val_t* v = tp->name && tp->name[0] ? val_add(im, tp->name) : NULL;
        if (!v) st = xo_fail(im, XF_ERR_INVALID_ARGUMENT, "an initializer has no name");
        else if (v->known) st = xo_fail(im, XF_ERR_INVALID_ARGUMENT, "initializer '%.200s' is defined twice", tp->name);
        else st = xo_parse_tensor(im, tp, v);
        if (st == XF_OK && v->f) parameters += v->n;
    }
    for (size_t k = 0, idx = 0; k < gp->n_input && st == XF_OK; k++) {
        const Onnx__ValueInfoProto* vi = gp->input[k];
        xo_val_t* v = vi->name ? xo_find(im, vi->name) : NULL;
        if (v && v->known) continue;
        st = add_input(im, vi, (int)idx++);
    }
    for (size_t i = 0; i < gp->n_node && st == XF_OK; i++) {
        const Onnx__NodeProto* n = gp->node[i];
        for (size_t k = 0; k < n->n_input; k++) {
            xo_val_t* v = xo_find(im, n->input[k]);
            if (v) v->uses++;
        }
        for (size_t k = 0; k < n->n_output; k++) {
            if (!n->output[k] || !n->output[k][0]) continue;
            xo_val_t* v = val_add(im, n->output[k]);
            if (v && v->producer < 0 && !v->known) v->producer = (int)i;
        }
    }
    for (size_t k = 0; k < gp->n_output && st == XF_OK; k++) {
        xo_val_t* v = gp->output[k]->name ? xo_find(im, gp->output[k]->name) : NULL;
        if (!v) st = xo_fail(im, XF_ERR_INVALID_ARGUMENT, "output '%.200s' is not produced by any node",
                             gp->output[k]->name ? gp->output[k]->name : "");
        else v->graph_output = true, v->uses++;
    }
    if (st == XF_OK) st = lower_nodes(im);
    for (size_t k = 0; k < gp->n_output && st == XF_OK; k++) {
        xo_val_t* v = xo_find(im, gp->output[k]->name);
        if (!v->known) {
            st = xo_fail(im, XF_ERR_INVALID_ARGUMENT, "output '%.200s' is never produced", v->name);
            break;
        }
        if (v->is_const) {
            st = xo_fail(im, XF_ERR_UNIMPLEMENTED, "output '%.200s' does not depend on the graph's inputs (a "
                         "constant); libxformer computes outputs on the device", v->name);
            break;
        }
        if (v->nd > XF_MAX_DIMS) {
            st = xo_fail(im, XF_ERR_UNIMPLEMENTED, "output '%.200s' has %d dims (at most %d)", v->name, v->nd,
                         XF_MAX_DIMS);
            break;
        }
        xf_tensor_t *t, *dense;
        st = xo_tensor_of(im, v, &t);
        if (st == XF_OK) st = xf_graph_dense(im->g, t, &dense);
        if (st != XF_OK) break;
        // An output is a whole result of its own: an input, a weight or part of a result is copied.
        const xf_tensor_t* base = dense->kind == XF_TENSOR_VIEW ? dense->base : dense;
        bool part = dense != base && (dense->view_offset || xf_tensor_elements(dense) != xf_tensor_elements(base));
        if (base->kind != XF_TENSOR_RESULT || part)
            st = dense->dtype == XF_DTYPE_I32
                     ? xo_fail(im, XF_ERR_UNIMPLEMENTED, "output '%.200s' copies integers", v->name)
                     : xf_cast(im->g, dense, dense->dtype, &dense);
        if (st == XF_OK) st = xf_graph_mark_output(im->g, dense);
        if (st != XF_OK) break;
        const int idx = m->n_inputs + (int)k;
        m->io[idx] = (xf_model_io_t){.name = v->name, .dtype = dense->dtype, .ndim = v->nd ? v->nd : 1};
        if (v->nd) memcpy(m->io[idx].shape, v->shape, sizeof(int64_t) * (size_t)v->nd);
        else m->io[idx].shape[0] = 1;
        m->io_tensors[idx] = dense;
    }
    if (st == XF_OK) st = classify(im);
    m->info.parameters = parameters;
    if (st == XF_OK) {
        for (int k = 0; k < XO_FUSE_COUNT; k++) m->onnx_fusions[k] = im->fused[k];
        xf_log(m->ctx, XF_LOG_INFO, "%s: %zu ONNX nodes, opset %lld; fused %d LayerNorm, %d GELU, %d linear, "
               "%d attention", m->path, gp->n_node, (long long)im->opset, im->fused[XO_FUSE_LAYERNORM],
               im->fused[XO_FUSE_GELU], im->fused[XO_FUSE_LINEAR], im->fused[XO_FUSE_ATTENTION]);
    }
done:
    // io names point into the protobuf: copy them before it goes.
    for (int k = 0; m->io && k < m->n_inputs + m->n_outputs; k++) {
        const char* name = m->io[k].name;
        m->io[k].name = st == XF_OK ? xf_strdup(name ? name : "") : NULL;
        if (st == XF_OK && !m->io[k].name) st = xo_fail(im, XF_ERR_OUT_OF_MEMORY, "out of host memory");
    }
    for (size_t k = 0; k < im->nvals; k++) val_free(&im->vals[k]);
    xf_free(im->vals);
    xf_free(im->hash);
    xf_free(im->absorbed);
    if (im->mp) onnx__model_proto__free_unpacked(im->mp, &alloc);
    return st;
}
