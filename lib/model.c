// SPDX-License-Identifier: MIT
// Model loading (file, config, weights), host preprocessing, running and masks.
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "json.h"
#ifdef XF_HAVE_ONNX
#include "onnx/onnx.h"
#endif
#include "model_internal.h"

#define XF_MODEL_MAX_CONFIG (16u * 1024u * 1024u)

void xf_model_options_init(xf_model_options_t* out_options) {
    if (out_options) memset(out_options, 0, sizeof *out_options);
}

void xf_model_name(const xf_model_t* m, char* buf, size_t size, const char* fmt, ...) {
    size_t n = (size_t)snprintf(buf, size, "%s", m->prefix);
    if (n >= size) return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf + n, size - n, fmt, ap);
    va_end(ap);
}

static void shape_str(char* buf, size_t size, int ndim, const int64_t* shape) {
    size_t n = (size_t)snprintf(buf, size, "[");
    for (int i = 0; i < ndim && n < size; i++)
        n += (size_t)snprintf(buf + n, size - n, "%s%lld", i ? ", " : "", (long long)shape[i]);
    if (n < size) snprintf(buf + n, size - n, "]");
}

// The file tensor |name| checked for |shape| and a float dtype (|integer|: I32 or I64). Marks it used.
static xf_status_t model_file_tensor_of(xf_model_t* m, const char* name, bool integer, int ndim,
                                        const int64_t* shape, xf_st_tensor_t** out) {
    xf_st_tensor_t* t = xf_st_find(m->file, name);
    if (!t)
        return xf_ctx_fail(m->ctx, XF_ERR_NOT_FOUND, "%s: tensor '%s' is missing from the model file",
                           m->path, name);
    char want[96], have[96];
    shape_str(want, sizeof want, ndim, shape);
    shape_str(have, sizeof have, t->ndim, t->shape);
    if (!integer && !xf_st_dtype_is_float(t->dtype) && !(t->dtype == XF_ST_I8 && t->ndim == 2))
        return xf_ctx_fail(m->ctx, XF_ERR_INVALID_ARGUMENT,
                           "%s: tensor '%s' has dtype %s; weights must be F32, F16 or BF16 (or a 2-D I8 linear "
                           "weight with its scales)", m->path, name, xf_st_dtype_name(t->dtype));
    if (integer && t->dtype != XF_ST_I32 && t->dtype != XF_ST_I64)
        return xf_ctx_fail(m->ctx, XF_ERR_INVALID_ARGUMENT, "%s: tensor '%s' has dtype %s; an index must be I32 or I64",
                           m->path, name, xf_st_dtype_name(t->dtype));
    bool same = t->ndim == ndim;
    for (int i = 0; same && i < ndim; i++) same = t->shape[i] == shape[i];
    if (!same)
        return xf_ctx_fail(
            m->ctx, XF_ERR_INVALID_ARGUMENT,
            "%s: tensor '%s' has shape %s but the config implies %s; the config does not match "
            "the weights",
            m->path, name, have, want);
    t->used = 1;
    *out = t;
    return XF_OK;
}

static xf_status_t model_file_tensor(xf_model_t* m, const char* name, int ndim, const int64_t* shape,
                                     xf_st_tensor_t** out) {
    return model_file_tensor_of(m, name, false, ndim, shape, out);
}

// The scales of the file's int8 weight |t| [N, K]: F32 or F16 tensor |t|_scale, [N] (per output channel) or
// [N, ceil(K / 32)] (blocks of 32), in |*out_scale|, and the format in |*out_format| (scale_dtype F32 or F16).
static xf_status_t file_scales(xf_model_t* m, const xf_st_tensor_t* t, xf_st_tensor_t** out_scale,
                               xf_quant_format_t* out_format) {
    char name[320];
    snprintf(name, sizeof name, "%s_scale", t->name);
    xf_st_tensor_t* s = xf_st_find(m->file, name);
    int64_t n = t->shape[0], k = t->shape[1], blocks = xf_quant_groups(k, XF_QUANT_BLOCK);
    if (!s)
        return xf_ctx_fail(m->ctx, XF_ERR_INVALID_ARGUMENT,
                           "%s: int8 weight '%s' has no scale tensor '%s' (docs/MODELS.md)", m->path, t->name, name);
    int block = xf_quant_block_of(n, k, s->ndim, s->shape);
    if ((s->dtype != XF_ST_F32 && s->dtype != XF_ST_F16) || block < 0) {
        char have[96];
        shape_str(have, sizeof have, s->ndim, s->shape);
        return xf_ctx_fail(m->ctx, XF_ERR_INVALID_ARGUMENT,
                           "%s: scale tensor '%s' is %s %s; int8 weight [%lld, %lld] needs F32 or F16 [%lld] "
                           "(per channel) or [%lld, %lld] (blocks of %d)",
                           m->path, name, xf_st_dtype_name(s->dtype), have, (long long)n, (long long)k, (long long)n,
                           (long long)n, (long long)blocks, XF_QUANT_BLOCK);
    }
    s->used = 1;
    *out_scale = s;
    *out_format = (xf_quant_format_t){true, block, s->dtype == XF_ST_F16 ? XF_DTYPE_F16 : XF_DTYPE_F32};
    return XF_OK;
}

// Reads the file's int8 weight |t| and its scales (as f32 values).
static xf_status_t read_quantized(xf_model_t* m, const xf_st_tensor_t* t, int8_t** out_q, float** out_s,
                                  xf_quant_format_t* out_format) {
    xf_st_tensor_t* s = NULL;
    xf_status_t st = file_scales(m, t, &s, out_format);
    if (st != XF_OK) return st;
    *out_q = xf_malloc((size_t)(t->elements ? t->elements : 1));
    *out_s = xf_malloc((size_t)s->elements * sizeof(float));
    if (!*out_q || !*out_s) st = XF_ERR_OUT_OF_MEMORY;
    if (st == XF_OK) st = xf_st_read_i8(t, *out_q, (size_t)t->elements);
    if (st == XF_OK) st = xf_st_read_f32(s, *out_s, (size_t)s->elements);
    if (st != XF_OK) {
        xf_free(*out_q);
        xf_free(*out_s);
        *out_q = NULL;
        *out_s = NULL;
        return xf_ctx_fail(m->ctx, st, "reading int8 weight '%s': %s", t->name,
                           st == XF_ERR_OUT_OF_MEMORY ? "out of host memory" : m->file->error);
    }
    return XF_OK;
}

xf_status_t xf_model_index_host(xf_model_t* m, const char* name, int ndim, const int64_t* shape, int32_t** out) {
    *out = NULL;
    if (!xf_st_find(m->file, name)) return XF_OK;
    xf_st_tensor_t* t = NULL;
    xf_status_t st = model_file_tensor_of(m, name, true, ndim, shape, &t);
    if (st != XF_OK) return st;
    int32_t* data = xf_malloc((size_t)(t->elements ? t->elements : 1) * sizeof(int32_t));
    if (!data) return xf_ctx_fail(m->ctx, XF_ERR_OUT_OF_MEMORY, "out of host memory reading tensor '%s'", name);
    st = xf_st_read_i32(t, data, (size_t)t->elements);
    if (st != XF_OK) {
        xf_free(data);
        return xf_ctx_fail(m->ctx, st, "reading tensor '%s': %s", name, m->file->error);
    }
    *out = data;
    return XF_OK;
}

xf_status_t xf_model_weight_host(xf_model_t* m, const char* name, int ndim, const int64_t* shape,
                                 float** out) {
    xf_st_tensor_t* t = NULL;
    xf_status_t st = model_file_tensor(m, name, ndim, shape, &t);
    if (st != XF_OK) return st;
    if (t->dtype == XF_ST_I8) {
        // An int8 weight for a loader that rewrites it (folds, joins): its values, requantized at upload.
        int8_t* q;
        float* scales;
        xf_quant_format_t f;
        if ((st = read_quantized(m, t, &q, &scales, &f)) != XF_OK) return st;
        int64_t n = t->shape[0], k = t->shape[1], group = f.block ? f.block : k, groups = xf_quant_groups(k, f.block);
        float* data = xf_malloc((size_t)(t->elements ? t->elements : 1) * sizeof(float));
        for (int64_t i = 0; data && i < n * k; ++i) data[i] = (float)q[i] * scales[i / k * groups + i % k / group];
        xf_free(q);
        xf_free(scales);
        if (!data) return xf_ctx_fail(m->ctx, XF_ERR_OUT_OF_MEMORY, "out of host memory reading tensor '%s'", name);
        *out = data;
        return XF_OK;
    }
    float* data = xf_malloc((size_t)(t->elements ? t->elements : 1) * sizeof(float));
    if (!data)
        return xf_ctx_fail(m->ctx, XF_ERR_OUT_OF_MEMORY, "out of host memory reading tensor '%s'", name);
    st = xf_st_read_f32(t, data, (size_t)t->elements);
    if (st != XF_OK) {
        xf_free(data);
        return xf_ctx_fail(m->ctx, st, "reading tensor '%s': %s", name, m->file->error);
    }
    *out = data;
    return XF_OK;
}

// The file's type of tensor |name|, or of its first float tensor when it has no such tensor (one the
// loader builds from others).
static xf_dtype_t file_float_dtype(const xf_model_t* m, const char* name) {
    if (!m->file) return XF_DTYPE_F32;  // an ONNX model's weights are f32 on the host
    const xf_st_tensor_t* t = xf_st_find(m->file, name);
    for (size_t i = 0; !t && i < m->file->count; ++i) {
        if (xf_st_dtype_is_float(m->file->tensors[i].dtype)) t = &m->file->tensors[i];
    }
    if (!t) return XF_DTYPE_F32;
    return t->dtype == XF_ST_F16 ? XF_DTYPE_F16 : t->dtype == XF_ST_BF16 ? XF_DTYPE_BF16 : XF_DTYPE_F32;
}

static bool is_linear_weight(const char* name, int ndim) {
    size_t len = strlen(name);
    return ndim == 2 && len >= 7 && strcmp(name + len - 7, ".weight") == 0;
}

// The int8 format xf_model_options_t.weights asks for (on), none (F32: off), or the file's (|*from_file|).
static xf_quant_format_t option_quant(const xf_model_t* m, bool* from_file) {
    *from_file = false;
    switch (m->weight_storage) {
        case XF_MODEL_WEIGHTS_INT8_CHANNEL: return (xf_quant_format_t){true, 0, XF_DTYPE_F32};
        case XF_MODEL_WEIGHTS_INT8_BLOCK32: return (xf_quant_format_t){true, XF_QUANT_BLOCK, XF_DTYPE_F16};
        case XF_MODEL_WEIGHTS_F32: return (xf_quant_format_t){0};
        default: *from_file = true; return m->file_quant;
    }
}

// How linear weight |name| is quantized on the device: as xf_model_options_t.weights asks, else as the
// file stores it (a weight the loader builds from others: as the file's int8 weights are).
static xf_quant_format_t weight_quant(const xf_model_t* m, const char* name, int ndim) {
    xf_quant_format_t none = {0};
    if (!is_linear_weight(name, ndim)) return none;
    bool from_file;
    xf_quant_format_t asked = option_quant(m, &from_file);
    if (!from_file) return asked;
    if (!m->file) return none;
    const xf_st_tensor_t* t = xf_st_find(m->file, name);
    if (!t) return m->file_quant;
    if (t->dtype != XF_ST_I8) return none;
    xf_st_tensor_t* s;
    xf_quant_format_t f;
    return file_scales((xf_model_t*)m, t, &s, &f) == XF_OK ? f : none;
}

// Device storage of weight |name|: a linear layer's [out, in] weight (a matmul's B operand) as
// xf_model_options_t.weights says, every other weight f32.
static xf_dtype_t weight_dtype(const xf_model_t* m, const char* name, int ndim) {
    if (!is_linear_weight(name, ndim)) return XF_DTYPE_F32;
    if (weight_quant(m, name, ndim).on) return XF_DTYPE_I8;
    if (m->weight_storage == XF_MODEL_WEIGHTS_F32) return XF_DTYPE_F32;
    xf_dtype_t stored = file_float_dtype(m, name);
    return m->weight_storage == XF_MODEL_WEIGHTS_F16 && stored == XF_DTYPE_F32 ? XF_DTYPE_F16 : stored;
}

// Uploads int8 weight |name| [n, k] and its scales (f32 values, stored as |f| says) as |name|_scale, joined
// with xf_tensor_set_scale.
static xf_status_t upload_quantized(xf_model_t* m, const char* name, int64_t n, int64_t k, const int8_t* q,
                                    const float* scales, xf_quant_format_t f, xf_tensor_t** out) {
    int64_t groups = xf_quant_groups(k, f.block);
    xf_tensor_t *t, *s;
    xf_status_t st = xf_model_constant_upload(m, name, XF_DTYPE_I8, 2, (int64_t[]){n, k}, q, &t);
    if (st != XF_OK) return st;
    void* stored = xf_malloc((size_t)(n * groups) * xf_dtype_size(f.scale_dtype));
    if (!stored) return xf_ctx_fail(m->ctx, XF_ERR_OUT_OF_MEMORY, "out of host memory storing '%s'", name);
    xf_dtype_traits(f.scale_dtype)->from_f32(scales, stored, (size_t)(n * groups));
    char sname[320];
    snprintf(sname, sizeof sname, "%s_scale", name);
    st = xf_model_constant_upload(m, sname, f.scale_dtype, f.block ? 2 : 1, (int64_t[]){n, groups}, stored, &s);
    xf_free(stored);
    if (st == XF_OK) st = xf_tensor_set_scale(t, s);
    if (st != XF_OK) return st;
    m->info.parameters += n * k;
    if (out) *out = t;
    return XF_OK;
}

// Quantizes |data| [n, k] as |f| says and uploads it with its scales.
static xf_status_t quantize_upload(xf_model_t* m, const char* name, const int64_t* shape, const float* data,
                                   xf_quant_format_t f, xf_tensor_t** out) {
    int64_t n = shape[0], k = shape[1], groups = xf_quant_groups(k, f.block);
    int8_t* q = xf_malloc((size_t)(n * k > 0 ? n * k : 1));
    float* scales = xf_malloc((size_t)(n * groups > 0 ? n * groups : 1) * sizeof(float));
    xf_status_t st = q && scales ? XF_OK : xf_ctx_fail(m->ctx, XF_ERR_OUT_OF_MEMORY, "out of host memory storing '%s'", name);
    if (st == XF_OK) xf_quantize_int8(data, n, k, f.block, f.scale_dtype, q, scales);
    if (st == XF_OK) st = upload_quantized(m, name, n, k, q, scales, f, out);
    xf_free(q);
    xf_free(scales);
    return st;
}

xf_status_t xf_model_patch_linear_weight(xf_model_t* m, const char* name, const int64_t* conv_shape,
                                         xf_tensor_t** out) {
    *out = NULL;
    bool from_file;
    xf_quant_format_t f = option_quant(m, &from_file);
    if (!f.on) return XF_OK;
    float* data;
    xf_status_t st = xf_model_weight_host(m, name, 4, conv_shape, &data);
    if (st != XF_OK) return st;
    int64_t shape[2] = {conv_shape[0], conv_shape[1] * conv_shape[2] * conv_shape[3]};
    st = quantize_upload(m, name, shape, data, f, out);
    xf_free(data);
    return st;
}

xf_status_t xf_model_weight_upload(xf_model_t* m, const char* name, int ndim, const int64_t* shape,
                                   const float* data, xf_tensor_t** out) {
    xf_tensor_t* t;
    xf_dtype_t dtype = weight_dtype(m, name, ndim);
    xf_status_t st;
    if (dtype == XF_DTYPE_I8) return quantize_upload(m, name, shape, data, weight_quant(m, name, ndim), out);
    if (dtype == XF_DTYPE_F32) {
        st = xf_model_constant_upload(m, name, XF_DTYPE_F32, ndim, shape, data, &t);
    } else {
        size_t n = (size_t)(ndim ? shape[0] : 1) * (size_t)(ndim > 1 ? shape[1] : 1);
        void* half = xf_malloc(n ? n * 2 : 2);
        if (!half) return xf_ctx_fail(m->ctx, XF_ERR_OUT_OF_MEMORY, "out of host memory storing '%s'", name);
        xf_dtype_traits(dtype)->from_f32(data, half, n);
        st = xf_model_constant_upload(m, name, dtype, ndim, shape, half, &t);
        xf_free(half);
    }
    if (st != XF_OK) return st;
    m->info.parameters += xf_tensor_elements(t);
    if (out) *out = t;
    return XF_OK;
}

xf_status_t xf_model_constant_upload(xf_model_t* m, const char* name, xf_dtype_t dtype, int ndim,
                                     const int64_t* shape, const void* data, xf_tensor_t** out) {
    if (m->nweights == m->capweights) {
        size_t cap = m->capweights ? 2 * m->capweights : 64;
        xf_tensor_t** w = xf_realloc(m->weights, cap * sizeof *w);
        if (!w) return xf_ctx_fail(m->ctx, XF_ERR_OUT_OF_MEMORY, "out of host memory");
        m->weights = w;
        m->capweights = cap;
    }
    char full[256];
    xf_model_name(m, full, sizeof full, "%s", name);
    xf_tensor_t* t;
    xf_status_t st = xf_tensor_create(m->ctx, full, dtype, ndim, shape, &t);
    if (st != XF_OK) return st;
    m->weights[m->nweights++] = t;
    st = dtype == XF_DTYPE_F32 ? xf_tensor_upload_f32(t, data, (size_t)xf_tensor_elements(t))
                               : xf_tensor_upload(t, data, xf_tensor_bytes(t));
    if (st != XF_OK) return st;
    m->info.weight_bytes += (int64_t)xf_tensor_bytes(t);
    *out = t;
    return XF_OK;
}

xf_status_t xf_model_weight(xf_model_t* m, const char* name, int ndim, const int64_t* shape,
                            xf_tensor_t** out) {
    xf_st_tensor_t* t = xf_st_find(m->file, name);
    xf_quant_format_t want = weight_quant(m, name, ndim);
    if (t && t->dtype == XF_ST_I8 && want.on) {
        // Stored int8 in the format the device keeps: uploaded as it is (else requantized below).
        xf_st_tensor_t* checked;
        xf_status_t st = model_file_tensor(m, name, ndim, shape, &checked);
        int8_t* q = NULL;
        float* scales = NULL;
        xf_quant_format_t f;
        if (st == XF_OK) st = read_quantized(m, t, &q, &scales, &f);
        if (st != XF_OK) return st;
        bool same = f.block == want.block && f.scale_dtype == want.scale_dtype;
        if (same) st = upload_quantized(m, name, shape[0], shape[1], q, scales, f, out);
        xf_free(q);
        xf_free(scales);
        if (same) return st;
    }
    float* data;
    xf_status_t st = xf_model_weight_host(m, name, ndim, shape, &data);
    if (st != XF_OK) return st;
    st = xf_model_weight_upload(m, name, ndim, shape, data, out);
    xf_free(data);
    return st;
}

//===----------------------------------------------------------------------===//
// Config
//===----------------------------------------------------------------------===//

typedef struct cfg_s {
    xf_model_t* m;
    const xf_json_t* obj;
    const char* where;
} cfg_t;

// The value of |key|, or NULL when it is absent or null.
static const xf_json_t* cfg_get(const cfg_t* c, const char* key) {
    const xf_json_t* v = xf_json_get(c->obj, key);
    return v && v->type != XF_JSON_NULL ? v : NULL;
}

static xf_status_t cfg_bad(cfg_t* c, const char* key, const char* what) {
    return xf_ctx_fail(c->m->ctx, XF_ERR_INVALID_ARGUMENT, "%s: config key '%s' %s", c->where, key, what);
}

// Reads an integer key in [lo, hi]. |required| false keeps *out when the key is absent.
static xf_status_t cfg_int(cfg_t* c, const char* key, bool required, int64_t lo, int64_t hi, int64_t* out) {
    const xf_json_t* v = cfg_get(c, key);
    if (!v)
        return required ? xf_ctx_fail(c->m->ctx, XF_ERR_INVALID_ARGUMENT, "%s: config key '%s' is missing",
                                      c->where, key)
                        : XF_OK;
    if (v->type != XF_JSON_INT) return cfg_bad(c, key, "must be an integer");
    int64_t x = v->u.i;
    if (x < lo || x > hi) {
        char msg[96];
        snprintf(msg, sizeof msg, "is %lld, expected %lld..%lld", (long long)x, (long long)lo, (long long)hi);
        return cfg_bad(c, key, msg);
    }
    *out = x;
    return XF_OK;
}

static xf_status_t cfg_double(cfg_t* c, const char* key, double lo, double hi, double* out) {
    const xf_json_t* v = cfg_get(c, key);
    if (!v) return XF_OK;
    double x;
    if (!xf_json_number(v, &x)) return cfg_bad(c, key, "must be a number");
    if (!(x >= lo && x <= hi)) return cfg_bad(c, key, "is out of range");
    *out = x;
    return XF_OK;
}

static xf_status_t cfg_bool(cfg_t* c, const char* key, bool* out) {
    const xf_json_t* v = cfg_get(c, key);
    if (!v) return XF_OK;
    if (v->type != XF_JSON_BOOL) return cfg_bad(c, key, "must be true or false");
    *out = v->u.b;
    return XF_OK;
}

// Reads a number array of exactly |n| entries (|n| < 0: any length up to |cap|, stored in *count).
static xf_status_t cfg_numbers(cfg_t* c, const char* key, bool required, bool integers, int n, int cap,
                               double* out, int* count) {
    const xf_json_t* v = cfg_get(c, key);
    if (!v)
        return required ? xf_ctx_fail(c->m->ctx, XF_ERR_INVALID_ARGUMENT, "%s: config key '%s' is missing",
                                      c->where, key)
                        : XF_OK;
    if (v->type != XF_JSON_ARRAY) return cfg_bad(c, key, "must be an array");
    int len = v->count > (size_t)cap ? cap + 1 : (int)v->count;
    if ((n >= 0 && len != n) || len > cap || len == 0) {
        char msg[96];
        snprintf(msg, sizeof msg, "has %d entries, expected %d", len, n >= 0 ? n : cap);
        return cfg_bad(c, key, msg);
    }
    for (int i = 0; i < len; i++) {
        const xf_json_t* e = &v->u.items[i];
        bool ok = e->type == XF_JSON_INT || (!integers && e->type == XF_JSON_REAL);
        if (!ok || !xf_json_number(e, &out[i]))
            return cfg_bad(c, key, integers ? "must hold integers" : "must hold numbers");
    }
    if (count) *count = len;
    return XF_OK;
}

// "img_size" / "image_size": an integer or [h, w].
static xf_status_t cfg_size(cfg_t* c, const char* key, int64_t* h, int64_t* w) {
    const xf_json_t* v = cfg_get(c, key);
    if (!v) return XF_OK;
    if (v->type == XF_JSON_INT) {
        int64_t x;
        xf_status_t st = cfg_int(c, key, true, 1, 1 << 16, &x);
        if (st == XF_OK) *h = *w = x;
        return st;
    }
    double hw[2];
    xf_status_t st = cfg_numbers(c, key, true, true, 2, 2, hw, NULL);
    if (st != XF_OK) return st;
    if (hw[0] < 1 || hw[1] < 1 || hw[0] > 65536 || hw[1] > 65536) return cfg_bad(c, key, "is out of range");
    *h = (int64_t)hw[0];
    *w = (int64_t)hw[1];
    return XF_OK;
}

// A string key: its index in |choices| (NULL-terminated), or -1 when absent. Anything else fails.
static xf_status_t cfg_choice(cfg_t* c, const char* key, const char* const* choices, int* out) {
    const xf_json_t* v = cfg_get(c, key);
    *out = -1;
    if (!v) return XF_OK;
    if (v->type == XF_JSON_STRING)
        for (int i = 0; choices[i]; i++)
            if (strcmp(v->u.s, choices[i]) == 0) {
                *out = i;
                return XF_OK;
            }
    char msg[256];
    size_t n = (size_t)snprintf(msg, sizeof msg, "must be one of");
    for (int i = 0; choices[i] && n < sizeof msg; i++)
        n += (size_t)snprintf(msg + n, sizeof msg - n, "%s \"%s\"", i ? "," : "", choices[i]);
    return cfg_bad(c, key, msg);
}

static xf_status_t cfg_refuse(cfg_t* c, const char* key, const char* what) {
    return xf_ctx_fail(c->m->ctx, XF_ERR_UNIMPLEMENTED, "%s: config key '%s': %s", c->where, key, what);
}

static bool in_list(const char* key, const char* const* list) {
    for (; *list; list++)
        if (strcmp(key, *list) == 0) return true;
    return false;
}

// Keys that describe a checkpoint, its training or text generation (the Hugging Face PretrainedConfig
// fields) and cannot change what a vision model computes.
static const char* const descriptive_keys[] = {
    "_name_or_path", "add_cross_attention", "architectures", "bad_words_ids", "begin_suppress_tokens",
    "bos_token_id", "chunk_size_feed_forward", "cross_attention_hidden_size", "decoder_start_token_id",
    "description", "diversity_penalty", "do_sample", "early_stopping", "encoder_no_repeat_ngram_size",
    "eos_token_id", "exponential_decay_length_penalty", "finetuning_task", "forced_bos_token_id",
    "forced_eos_token_id", "is_decoder", "is_encoder_decoder", "label2id", "length_penalty", "license",
    "max_length", "min_length", "name", "no_repeat_ngram_size", "num_beam_groups", "num_beams",
    "num_return_sequences", "output_attentions", "output_hidden_states", "output_scores", "pad_token_id",
    "prefix", "problem_type", "remove_invalid_values", "repetition_penalty", "return_dict",
    "return_dict_in_generate", "sep_token_id", "source", "suppress_tokens", "tags", "task_specific_params",
    "temperature", "tf_legacy_loss", "tie_encoder_decoder", "tie_word_embeddings", "tokenizer_class", "top_k",
    "top_p", "torch_dtype", "torchscript", "transformers_version", "typical_p", "use_bfloat16", NULL};

// Refuses every key of the config that is neither |understood| by the architecture's parser nor
// descriptive: a key that may shape the model must never be dropped silently.
static xf_status_t cfg_strict(cfg_t* c, const char* arch, const char* const* understood) {
    for (size_t i = 0; i < c->obj->count; i++) {
        const char* key = c->obj->u.members[i].key;
        if (in_list(key, understood) || in_list(key, descriptive_keys)) continue;
        if (strcmp(key, "pruned_heads") == 0) {
            const xf_json_t* v = &c->obj->u.members[i].value;
            if ((v->type == XF_JSON_OBJECT || v->type == XF_JSON_ARRAY) && v->count == 0) continue;
            return cfg_refuse(c, key, "pruned attention heads are not supported");
        }
        return xf_ctx_fail(c->m->ctx, XF_ERR_UNIMPLEMENTED,
                           "%s: config key '%.64s' is not supported by the %s loader; it may change the model, so "
                           "the load stops instead of running a different one (docs/MODELS.md lists the keys)",
                           c->where, key, arch);
    }
    return XF_OK;
}

static void labels_free(char** labels, int64_t n) {
    if (!labels) return;
    for (int64_t i = 0; i < n; i++) xf_free(labels[i]);
    xf_free(labels);
}

// "labels": [..] or Hugging Face's "id2label": {"0": "..", ...}.
static xf_status_t cfg_labels(cfg_t* c, int64_t classes) {
    xf_model_t* m = c->m;
    const xf_json_t *arr = cfg_get(c, "labels"), *map = cfg_get(c, "id2label");
    if (!arr && !map) return XF_OK;
    const char* key = arr ? "labels" : "id2label";
    if (arr && arr->type != XF_JSON_ARRAY) return cfg_bad(c, key, "must be an array of strings");
    if (!arr && map->type != XF_JSON_OBJECT) return cfg_bad(c, key, "must be an object");
    int64_t n = (int64_t)(arr ? arr->count : map->count);
    if (n != classes) {
        char msg[128];
        snprintf(msg, sizeof msg, "has %lld labels but the model has %lld classes", (long long)n,
                 (long long)classes);
        return cfg_bad(c, key, msg);
    }
    char** labels = xf_calloc((size_t)n, sizeof *labels);
    if (!labels) return xf_ctx_fail(m->ctx, XF_ERR_OUT_OF_MEMORY, "out of host memory");
    for (int64_t i = 0; i < n; i++) {
        const xf_json_t* e = NULL;
        if (arr) {
            e = &arr->u.items[i];
        } else {
            char idx[32];
            snprintf(idx, sizeof idx, "%lld", (long long)i);
            e = xf_json_get(map, idx);
        }
        if (!e || e->type != XF_JSON_STRING) {
            labels_free(labels, n);
            return cfg_bad(c, key, arr ? "must hold strings" : "must map \"0\"..\"N-1\" to strings");
        }
        labels[i] = xf_strdup(e->u.s);
        if (!labels[i]) {
            labels_free(labels, n);
            return xf_ctx_fail(m->ctx, XF_ERR_OUT_OF_MEMORY, "out of host memory");
        }
    }
    labels_free(m->labels, m->nlabels);
    m->labels = labels;
    m->nlabels = n;
    return XF_OK;
}

// Per-channel |mean_key| and |std_key| (1 value for every channel, as the reference tooling allows, or
// one per channel) into the model's normalisation; absent keys keep it.
static xf_status_t cfg_mean_std(cfg_t* c, const char* mean_key, const char* std_key, int64_t channels) {
    const char* keys[2] = {mean_key, std_key};
    for (int k = 0; k < 2; k++) {
        if (!cfg_get(c, keys[k])) continue;
        double v[4];
        int n = 0;
        xf_status_t st = cfg_numbers(c, keys[k], true, false, -1, 4, v, &n);
        if (st != XF_OK) return st;
        if (n != 1 && n != channels) {
            char msg[96];
            snprintf(msg, sizeof msg, "has %d entries, expected 1 or %lld", n, (long long)channels);
            return cfg_bad(c, keys[k], msg);
        }
        for (int i = 0; i < channels; i++) {
            float x = (float)v[n == 1 ? 0 : i];
            if (k == 1 && !(x > 0)) return cfg_bad(c, keys[k], "must hold positive numbers");
            (k == 0 ? c->m->info.mean : c->m->info.std)[i] = x;
        }
    }
    return XF_OK;
}

static xf_status_t cfg_norm(cfg_t* c, int64_t channels) {
    xf_model_t* m = c->m;
    static const char* const interpolations[] = {"bicubic", "bilinear", NULL};
    int interpolation;
    xf_status_t ist = cfg_choice(c, "interpolation", interpolations, &interpolation);
    if (ist != XF_OK) return ist;
    m->info.interpolation = interpolation < 0   ? XF_INTERPOLATION_DEFAULT
                            : interpolation == 0 ? XF_INTERPOLATION_BICUBIC
                                                 : XF_INTERPOLATION_BILINEAR;
    static const float imagenet_mean[3] = {0.485f, 0.456f, 0.406f},
                       imagenet_std[3] = {0.229f, 0.224f, 0.225f};
    if (channels > 4)
        return xf_ctx_fail(m->ctx, XF_ERR_UNIMPLEMENTED, "%s: %lld input channels; at most 4 are supported",
                           c->where, (long long)channels);
    for (int i = 0; i < channels; i++) {
        m->info.mean[i] = channels == 3 ? imagenet_mean[i] : 0.5f;
        m->info.std[i] = channels == 3 ? imagenet_std[i] : 0.5f;
    }
    return cfg_mean_std(c, "mean", "std", channels);
}

static const char* const vit_keys[] = {
    "architecture", "model_type", "img_size", "patch_size", "in_chans", "embed_dim", "depth", "num_heads",
    "num_classes", "num_features", "mlp_ratio", "norm_eps", "qkv_bias", "qk_norm", "init_values", "class_token",
    "no_embed_class", "reg_tokens", "pre_norm", "fc_norm", "global_pool", "act_layer", "norm_layer", "distilled",
    "dynamic_img_size", "dynamic_img_pad", "crop_pct", "interpolation", "mean", "std", "labels", "id2label",
    // Training only.
    "drop_rate", "pos_drop_rate", "patch_drop_rate", "proj_drop_rate", "attn_drop_rate", "drop_path_rate",
    "weight_init", "fix_init", NULL};

static xf_status_t parse_vit_config(cfg_t* c) {
    xf_vit_config_t* v = &c->m->cfg.vit;
    const int64_t big = 1 << 20;
    v->img_h = v->img_w = 224;
    v->patch = 16;
    v->in_chans = 3;
    v->depth = 12;
    v->classes = 1000;
    v->qkv_bias = true;
    v->class_token = true;
    v->distilled = false;
    v->act = XF_ACT_GELU;
    double mlp_ratio = 4.0, eps = 1e-6, crop = 1.0, init_values = 0;
    bool fc_norm = false;
    xf_status_t st;
    if ((st = cfg_strict(c, "ViT", vit_keys)) != XF_OK) return st;
    if ((st = cfg_size(c, "img_size", &v->img_h, &v->img_w)) != XF_OK) return st;
    if ((st = cfg_int(c, "patch_size", false, 1, 1024, &v->patch)) != XF_OK) return st;
    if ((st = cfg_int(c, "in_chans", false, 1, 4, &v->in_chans)) != XF_OK) return st;
    if ((st = cfg_int(c, "embed_dim", true, 1, big, &v->dim)) != XF_OK) return st;
    if ((st = cfg_int(c, "depth", false, 0, 4096, &v->depth)) != XF_OK) return st;
    if ((st = cfg_int(c, "num_heads", true, 1, v->dim, &v->heads)) != XF_OK) return st;
    if ((st = cfg_int(c, "num_classes", false, 1, big, &v->classes)) != XF_OK) return st;
    if ((st = cfg_int(c, "reg_tokens", false, 0, 1024, &v->reg_tokens)) != XF_OK) return st;
    if ((st = cfg_double(c, "mlp_ratio", 1e-3, 1e3, &mlp_ratio)) != XF_OK) return st;
    if ((st = cfg_double(c, "norm_eps", 0, 1, &eps)) != XF_OK) return st;
    if ((st = cfg_double(c, "crop_pct", 1e-3, 1e3, &crop)) != XF_OK) return st;
    if ((st = cfg_double(c, "init_values", -1e6, 1e6, &init_values)) != XF_OK) return st;
    if ((st = cfg_bool(c, "qkv_bias", &v->qkv_bias)) != XF_OK) return st;
    if ((st = cfg_bool(c, "qk_norm", &v->qk_norm)) != XF_OK) return st;
    if ((st = cfg_bool(c, "class_token", &v->class_token)) != XF_OK) return st;
    if ((st = cfg_bool(c, "no_embed_class", &v->no_embed_class)) != XF_OK) return st;
    if ((st = cfg_bool(c, "pre_norm", &v->pre_norm)) != XF_OK) return st;
    if ((st = cfg_bool(c, "distilled", &v->distilled)) != XF_OK) return st;
    if ((st = cfg_bool(c, "dynamic_img_pad", &v->dynamic_img_pad)) != XF_OK) return st;
    bool dynamic_size = false;
    if ((st = cfg_bool(c, "dynamic_img_size", &dynamic_size)) != XF_OK) return st;
    if (v->dim % v->heads != 0) return cfg_bad(c, "num_heads", "must divide embed_dim");
    int64_t features = v->dim;
    if ((st = cfg_int(c, "num_features", false, 1, big, &features)) != XF_OK) return st;
    if (features != v->dim) return cfg_bad(c, "num_features", "must equal embed_dim");
    // timm: LayerScale only for a non-zero init_values; its gammas come from the file.
    v->layer_scale = init_values != 0;

    static const char* const pools[] = {"token", "avg", "", "map", NULL};
    int pool;
    if ((st = cfg_choice(c, "global_pool", pools, &pool)) != XF_OK) return st;
    if (pool == 2) return cfg_refuse(c, "global_pool", "'' (logits for every token) is not supported");
    if (pool == 3) return cfg_refuse(c, "global_pool", "'map' (attention pooling) is not supported");
    v->avg_pool = pool == 1;
    fc_norm = v->avg_pool;
    if ((st = cfg_bool(c, "fc_norm", &fc_norm)) != XF_OK) return st;
    v->fc_norm = fc_norm;
    if (!v->class_token && !v->avg_pool)
        return cfg_bad(c, "global_pool", "must be \"avg\" when 'class_token' is false");

    static const char* const acts[] = {"gelu",  "gelu_tanh", "gelu_new", "gelu_pytorch_tanh", "quick_gelu",
                                       "relu",  "silu",      "swish",    NULL};
    static const xf_activation_t act_of[] = {XF_ACT_GELU,       XF_ACT_GELU_TANH, XF_ACT_GELU_TANH,
                                             XF_ACT_GELU_TANH,  XF_ACT_QUICK_GELU, XF_ACT_RELU,
                                             XF_ACT_SILU,       XF_ACT_SILU};
    int act;
    if ((st = cfg_choice(c, "act_layer", acts, &act)) != XF_OK) return st;
    if (act >= 0) v->act = act_of[act];
    static const char* const norms[] = {"layernorm", NULL};
    int norm_layer;
    if ((st = cfg_choice(c, "norm_layer", norms, &norm_layer)) != XF_OK) return st;
    if (v->distilled && (v->avg_pool || v->fc_norm || !v->class_token || v->reg_tokens || v->no_embed_class))
        return cfg_refuse(c, "distilled",
                          "a distilled DeiT has a class token, token pooling without fc_norm, no register "
                          "tokens and position embeddings for its prefix tokens");
    v->mlp_hidden = (int64_t)(v->dim * mlp_ratio);
    if (v->mlp_hidden < 1) return cfg_bad(c, "mlp_ratio", "gives an empty MLP");
    v->eps = (float)eps;
    c->m->info.crop_pct = (float)crop;
    if ((st = cfg_norm(c, v->in_chans)) != XF_OK) return st;
    return cfg_labels(c, v->classes);
}

// Hugging Face's ViTConfig / DeiTConfig fields.
static const char* const hf_vit_keys[] = {
    "model_type", "architectures", "hidden_size", "num_hidden_layers", "num_attention_heads", "intermediate_size",
    "hidden_act", "layer_norm_eps", "image_size", "patch_size", "num_channels", "qkv_bias", "id2label", "labels",
    // Only the masked-image-modelling head uses it.
    "encoder_stride",
    // Training only.
    "hidden_dropout_prob", "attention_probs_dropout_prob", "initializer_range", NULL};

static const char* const hf_acts[] = {"gelu", "gelu_new", "gelu_pytorch_tanh", "quick_gelu", "relu", "silu", NULL};
static const xf_activation_t hf_act_of[] = {XF_ACT_GELU, XF_ACT_GELU_TANH, XF_ACT_GELU_TANH, XF_ACT_QUICK_GELU,
                                            XF_ACT_RELU, XF_ACT_SILU};

// ViTForImageClassification, DeiTForImageClassification and DeiTForImageClassificationWithTeacher with their
// own tensor names (a Hugging Face directory).
static xf_status_t parse_hf_vit_config(cfg_t* c, bool deit) {
    xf_model_t* m = c->m;
    xf_vit_config_t* v = &m->cfg.vit;
    const int64_t big = 1 << 20;
    xf_status_t st;
    if ((st = cfg_strict(c, deit ? "Hugging Face DeiT" : "Hugging Face ViT", hf_vit_keys)) != XF_OK) return st;
    const xf_json_t* archs = cfg_get(c, "architectures");
    const char* head = deit ? "DeiTForImageClassificationWithTeacher" : "ViTForImageClassification";
    if (archs) {
        if (archs->type != XF_JSON_ARRAY || archs->count != 1 || archs->u.items[0].type != XF_JSON_STRING)
            return cfg_bad(c, "architectures", "must hold one class name");
        head = archs->u.items[0].u.s;
    } else if (deit) {
        return cfg_bad(c, "architectures", "is missing: DeiTForImageClassification or ...WithTeacher?");
    }
    const bool teacher = deit && strcmp(head, "DeiTForImageClassificationWithTeacher") == 0;
    if (strcmp(head, deit ? "DeiTForImageClassification" : "ViTForImageClassification") != 0 && !teacher)
        return cfg_refuse(c, "architectures", "only the image classification heads are supported");
    v->hf = deit ? "deit." : "vit.";
    v->patch = 16;
    v->img_h = v->img_w = 224;
    v->in_chans = 3;
    v->qkv_bias = true;
    v->class_token = true;
    v->distilled = deit;
    v->dist_head = teacher;
    v->act = XF_ACT_GELU;
    double eps = 1e-12;
    if ((st = cfg_int(c, "hidden_size", true, 1, big, &v->dim)) != XF_OK) return st;
    if ((st = cfg_int(c, "num_hidden_layers", true, 0, 4096, &v->depth)) != XF_OK) return st;
    if ((st = cfg_int(c, "num_attention_heads", true, 1, v->dim, &v->heads)) != XF_OK) return st;
    if ((st = cfg_int(c, "intermediate_size", true, 1, big, &v->mlp_hidden)) != XF_OK) return st;
    if ((st = cfg_int(c, "patch_size", false, 1, 1024, &v->patch)) != XF_OK) return st;
    if ((st = cfg_int(c, "num_channels", false, 1, 4, &v->in_chans)) != XF_OK) return st;
    if ((st = cfg_size(c, "image_size", &v->img_h, &v->img_w)) != XF_OK) return st;
    if ((st = cfg_double(c, "layer_norm_eps", 0, 1, &eps)) != XF_OK) return st;
    if ((st = cfg_bool(c, "qkv_bias", &v->qkv_bias)) != XF_OK) return st;
    int act;
    if ((st = cfg_choice(c, "hidden_act", hf_acts, &act)) != XF_OK) return st;
    if (act >= 0) v->act = hf_act_of[act];
    if (v->dim % v->heads != 0) return cfg_bad(c, "num_attention_heads", "must divide hidden_size");
    v->eps = (float)eps;
    // The head's size is the checkpoint's (id2label may be absent).
    char name[64];
    snprintf(name, sizeof name, "%s", teacher ? "cls_classifier.weight" : "classifier.weight");
    const xf_st_tensor_t* t = xf_st_find(m->file, name);
    if (!t || t->ndim != 2)
        return xf_ctx_fail(m->ctx, XF_ERR_NOT_FOUND,
                           "%s: tensor '%s' is missing or not a matrix: a %s checkpoint has an image classification "
                           "head",
                           m->path, name, head);
    v->classes = t->shape[0];
    if (v->classes < 1 || v->classes > big) return cfg_bad(c, "id2label", "the head's size is out of range");
    m->info.crop_pct = 1.0f;
    if ((st = cfg_norm(c, v->in_chans)) != XF_OK) return st;
    // Hugging Face's processors default to a plain resize to the model's size with Pillow's bilinear filter.
    m->info.interpolation = XF_INTERPOLATION_BILINEAR;
    m->resize_h = v->img_h;
    m->resize_w = v->img_w;
    m->crop_floor = true;
    for (int i = 0; i < v->in_chans; i++) m->info.mean[i] = m->info.std[i] = 0.5f;
    return cfg_labels(c, v->classes);
}

// Reads a {"height": H, "width": W} size of an image processor config (ViT's and DeiT's take no other).
static xf_status_t cfg_hf_size(cfg_t* c, const char* key, int64_t* h, int64_t* w) {
    const xf_json_t* v = cfg_get(c, key);
    *h = *w = 0;
    if (!v) return XF_OK;
    if (v->type != XF_JSON_OBJECT || v->count != 2)
        return cfg_bad(c, key, "must be {\"height\": H, \"width\": W}");
    cfg_t sub = {c->m, v, c->where};
    xf_status_t st = cfg_int(&sub, "height", true, 1, 1 << 16, h);
    if (st == XF_OK) st = cfg_int(&sub, "width", true, 1, 1 << 16, w);
    return st;
}

static const char* const hf_processor_keys[] = {
    "do_resize", "size", "resample", "do_center_crop", "crop_size", "do_rescale", "rescale_factor", "do_normalize",
    "image_mean", "image_std", "image_processor_type", "feature_extractor_type", "processor_class",
    "_processor_class",
    // SegformerImageProcessor: only the training labels.
    "do_reduce_labels", "reduce_labels", NULL};

// Hugging Face's preprocessor_config.json (ViTImageProcessor, DeiTImageProcessor): the Pillow pipeline's
// geometry, filter, mean and std.
static xf_status_t parse_hf_processor(cfg_t* c, bool size_from_processor) {
    xf_model_t* m = c->m;
    const int64_t chans = m->info.input_channels;
    xf_status_t st = cfg_strict(c, "Hugging Face image processor", hf_processor_keys);
    bool resize = true, crop = false, rescale = true, normalize = true;
    if (st == XF_OK) st = cfg_bool(c, "do_resize", &resize);
    if (st == XF_OK) st = cfg_bool(c, "do_center_crop", &crop);
    if (st == XF_OK) st = cfg_bool(c, "do_rescale", &rescale);
    if (st == XF_OK) st = cfg_bool(c, "do_normalize", &normalize);
    if (st != XF_OK) return st;
    double factor = 1.0 / 255.0;
    if ((st = cfg_double(c, "rescale_factor", 0, 1, &factor)) != XF_OK) return st;
    if (!rescale || fabs(factor * 255.0 - 1.0) > 1e-9)
        return cfg_refuse(c, "rescale_factor", "only rescaling by 1/255 is supported");
    int64_t rh, rw, ch, cw;
    if ((st = cfg_hf_size(c, "size", &rh, &rw)) != XF_OK) return st;
    if ((st = cfg_hf_size(c, "crop_size", &ch, &cw)) != XF_OK) return st;
    if (size_from_processor && rh && !crop) {
        m->cfg.seg.img_h = m->info.input_height = rh;
        m->cfg.seg.img_w = m->info.input_width = rw;
    }
    const int64_t oh = m->info.input_height, ow = m->info.input_width;
    if (crop && ch && (ch != oh || cw != ow)) return cfg_bad(c, "crop_size", "must be the model's image_size");
    if (!resize) return cfg_refuse(c, "do_resize", "false (no resize) is not supported");
    if (!crop && rh && (rh != oh || rw != ow))
        return cfg_bad(c, "size", "must be the model's image_size when there is no centre crop");
    m->resize_h = rh ? rh : oh;
    m->resize_w = rw ? rw : ow;
    const xf_json_t* r = cfg_get(c, "resample");
    if (r) {
        if (r->type != XF_JSON_INT || (r->u.i != 2 && r->u.i != 3))
            return cfg_refuse(c, "resample", "only Pillow's bilinear (2) and bicubic (3) filters are supported");
        m->info.interpolation = r->u.i == 3 ? XF_INTERPOLATION_BICUBIC : XF_INTERPOLATION_BILINEAR;
    }
    if (!normalize) {
        for (int i = 0; i < chans; i++) {
            m->info.mean[i] = 0.0f;
            m->info.std[i] = 1.0f;
        }
        return XF_OK;
    }
    return cfg_mean_std(c, "image_mean", "image_std", chans);
}

static const char* const swin_keys[] = {
    "architecture", "img_size", "patch_size", "in_chans", "num_classes", "num_features", "embed_dim", "depths",
    "num_heads", "window_size", "mlp_ratio", "qkv_bias", "global_pool", "head_dim", "norm_eps", "crop_pct",
    "interpolation", "mean", "std", "labels", "id2label",
    // Training only.
    "drop_rate", "proj_drop_rate", "attn_drop_rate", "drop_path_rate", "weight_init", NULL};

static xf_status_t swin_stages(cfg_t* c, xf_swin_config_t* s);

// swin_tiny_patch4_window7_224, the default of timm's SwinTransformer and transformers' SwinConfig.
static void swin_defaults(xf_swin_config_t* s) {
    s->img_h = s->img_w = 224;
    s->patch = 4;
    s->in_chans = 3;
    s->classes = 1000;
    s->dim = 96;
    s->window = 7;
    s->mlp_ratio = 4.0;
    s->qkv_bias = true;
    s->stages = 4;
    static const int64_t depths[4] = {2, 2, 6, 2}, heads[4] = {3, 6, 12, 24};
    memcpy(s->depths, depths, sizeof depths);
    memcpy(s->heads, heads, sizeof heads);
}

// timm's SwinTransformer keyword arguments (defaults: swin_tiny_patch4_window7_224).
static xf_status_t parse_swin_config(cfg_t* c) {
    xf_swin_config_t* s = &c->m->cfg.swin;
    xf_status_t st;
    if ((st = cfg_strict(c, "Swin", swin_keys)) != XF_OK) return st;
    swin_defaults(s);
    double eps = 1e-5, crop = 1.0;
    if ((st = cfg_size(c, "img_size", &s->img_h, &s->img_w)) != XF_OK) return st;
    if ((st = cfg_int(c, "patch_size", false, 1, 1024, &s->patch)) != XF_OK) return st;
    if ((st = cfg_int(c, "in_chans", false, 1, 4, &s->in_chans)) != XF_OK) return st;
    if ((st = cfg_int(c, "num_classes", false, 1, 1 << 20, &s->classes)) != XF_OK) return st;
    if ((st = cfg_int(c, "embed_dim", false, 1, 1 << 16, &s->dim)) != XF_OK) return st;
    if ((st = cfg_int(c, "window_size", false, 1, 64, &s->window)) != XF_OK) return st;
    if ((st = cfg_double(c, "mlp_ratio", 1e-3, 1e3, &s->mlp_ratio)) != XF_OK) return st;
    if ((st = cfg_double(c, "norm_eps", 0, 1, &eps)) != XF_OK) return st;
    if ((st = cfg_double(c, "crop_pct", 1e-3, 1e3, &crop)) != XF_OK) return st;
    if ((st = cfg_bool(c, "qkv_bias", &s->qkv_bias)) != XF_OK) return st;
    if ((st = swin_stages(c, s)) != XF_OK) return st;
    static const char* const pools[] = {"avg", NULL};
    int pool;
    if ((st = cfg_choice(c, "global_pool", pools, &pool)) != XF_OK) return st;
    const xf_json_t* head_dim = cfg_get(c, "head_dim");
    if (head_dim) return cfg_refuse(c, "head_dim", "a head width other than width / heads is not supported");
    int64_t features = s->dim << (s->stages - 1);
    if ((st = cfg_int(c, "num_features", false, 1, 1 << 20, &features)) != XF_OK) return st;
    if (features != s->dim << (s->stages - 1)) return cfg_bad(c, "num_features", "must be the last stage's width");
    s->eps = (float)eps;
    c->m->info.crop_pct = (float)crop;
    if ((st = cfg_norm(c, s->in_chans)) != XF_OK) return st;
    return cfg_labels(c, s->classes);
}

// Swin's "depths" and "num_heads" (timm's and Hugging Face's keys alike), each head count dividing its
// stage's width.
static xf_status_t swin_stages(cfg_t* c, xf_swin_config_t* s) {
    double a[XF_SEG_MAX_STAGES];
    int n = 0;
    xf_status_t st;
    if (cfg_get(c, "depths")) {
        if ((st = cfg_numbers(c, "depths", true, true, -1, XF_SEG_MAX_STAGES, a, &n)) != XF_OK) return st;
        s->stages = n;
        for (int i = 0; i < n; i++) {
            if (a[i] < 1 || a[i] > 1024) return cfg_bad(c, "depths", "holds an out-of-range value");
            s->depths[i] = (int64_t)a[i];
        }
    }
    if ((st = cfg_numbers(c, "num_heads", cfg_get(c, "depths") != NULL, true, (int)s->stages, XF_SEG_MAX_STAGES, a,
                          NULL)) != XF_OK)
        return st;
    if (cfg_get(c, "num_heads"))
        for (int i = 0; i < s->stages; i++) s->heads[i] = (int64_t)a[i];
    for (int i = 0; i < s->stages; i++) {
        const int64_t dim = s->dim << i;
        if (s->heads[i] < 1 || dim % s->heads[i]) return cfg_bad(c, "num_heads", "must divide each stage's width");
    }
    return XF_OK;
}

// Hugging Face's SwinConfig.
static const char* const hf_swin_keys[] = {
    "model_type", "architectures", "image_size", "patch_size", "num_channels", "embed_dim", "depths", "num_heads",
    "num_layers", "window_size", "mlp_ratio", "qkv_bias", "hidden_act", "hidden_size", "layer_norm_eps",
    "use_absolute_embeddings", "id2label", "labels",
    // Only the masked-image-modelling head and the backbone wrapper use them.
    "encoder_stride", "out_features", "out_indices", "stage_names",
    // Training only.
    "hidden_dropout_prob", "attention_probs_dropout_prob", "drop_path_rate", "initializer_range", NULL};

// SwinForImageClassification with its own tensor names (a Hugging Face directory).
static xf_status_t parse_hf_swin_config(cfg_t* c) {
    xf_model_t* m = c->m;
    xf_swin_config_t* s = &m->cfg.swin;
    xf_status_t st;
    if ((st = cfg_strict(c, "Hugging Face Swin", hf_swin_keys)) != XF_OK) return st;
    const xf_json_t* archs = cfg_get(c, "architectures");
    if (archs && (archs->type != XF_JSON_ARRAY || archs->count != 1 || archs->u.items[0].type != XF_JSON_STRING ||
                  strcmp(archs->u.items[0].u.s, "SwinForImageClassification") != 0))
        return cfg_refuse(c, "architectures", "only SwinForImageClassification is supported");
    s->hf = "swin.";
    swin_defaults(s);
    double eps = 1e-5;
    bool absolute = false;
    if ((st = cfg_size(c, "image_size", &s->img_h, &s->img_w)) != XF_OK) return st;
    if ((st = cfg_int(c, "patch_size", false, 1, 1024, &s->patch)) != XF_OK) return st;
    if ((st = cfg_int(c, "num_channels", false, 1, 4, &s->in_chans)) != XF_OK) return st;
    if ((st = cfg_int(c, "embed_dim", false, 1, 1 << 16, &s->dim)) != XF_OK) return st;
    if ((st = cfg_int(c, "window_size", false, 1, 64, &s->window)) != XF_OK) return st;
    if ((st = cfg_double(c, "mlp_ratio", 1e-3, 1e3, &s->mlp_ratio)) != XF_OK) return st;
    if ((st = cfg_double(c, "layer_norm_eps", 0, 1, &eps)) != XF_OK) return st;
    if ((st = cfg_bool(c, "qkv_bias", &s->qkv_bias)) != XF_OK) return st;
    if ((st = cfg_bool(c, "use_absolute_embeddings", &absolute)) != XF_OK) return st;
    if (absolute) return cfg_refuse(c, "use_absolute_embeddings", "absolute position embeddings are not supported");
    if ((st = swin_stages(c, s)) != XF_OK) return st;
    int64_t layers = s->stages, hidden = s->dim << (s->stages - 1);
    if ((st = cfg_int(c, "num_layers", false, 1, XF_SEG_MAX_STAGES, &layers)) != XF_OK) return st;
    if (layers != s->stages) return cfg_bad(c, "num_layers", "must be the length of depths");
    if ((st = cfg_int(c, "hidden_size", false, 1, 1 << 20, &hidden)) != XF_OK) return st;
    if (hidden != s->dim << (s->stages - 1)) return cfg_bad(c, "hidden_size", "must be the last stage's width");
    static const char* const acts[] = {"gelu", NULL};
    int act;
    if ((st = cfg_choice(c, "hidden_act", acts, &act)) != XF_OK) return st;
    s->eps = (float)eps;
    // The head's size is the checkpoint's (id2label may be absent).
    const xf_st_tensor_t* t = xf_st_find(m->file, "classifier.weight");
    if (!t || t->ndim != 2 || t->shape[0] < 1 || t->shape[0] > (1 << 20))
        return xf_ctx_fail(m->ctx, XF_ERR_NOT_FOUND,
                           "%s: tensor 'classifier.weight' is missing or not a matrix: a SwinForImageClassification "
                           "checkpoint has an image classification head",
                           m->path);
    s->classes = t->shape[0];
    m->info.crop_pct = 1.0f;
    if ((st = cfg_norm(c, s->in_chans)) != XF_OK) return st;
    // The image processor (ViTImageProcessor) defaults to a plain bicubic resize to the model's size.
    m->info.interpolation = XF_INTERPOLATION_BICUBIC;
    m->resize_h = s->img_h;
    m->resize_w = s->img_w;
    m->crop_floor = true;
    return cfg_labels(c, s->classes);
}

static const char* const seg_keys[] = {
    "architecture", "model_type", "num_channels", "num_encoder_blocks", "hidden_sizes", "depths", "sr_ratios",
    "patch_sizes", "strides", "num_attention_heads", "mlp_ratios", "hidden_act", "decoder_hidden_size",
    "num_labels", "image_size", "reshape_last_stage", "interpolation", "mean", "std", "labels", "id2label",
    // Hugging Face builds every SegFormer LayerNorm with eps 1e-5 whatever this says (docs/MODELS.md).
    "layer_norm_eps",
    // Training only.
    "hidden_dropout_prob", "attention_probs_dropout_prob", "classifier_dropout_prob", "drop_path_rate",
    "initializer_range", "semantic_loss_ignore_index", NULL};

static xf_status_t parse_seg_config(cfg_t* c) {
    xf_seg_config_t* s = &c->m->cfg.seg;
    double a[XF_SEG_MAX_STAGES];
    int n = 0;
    xf_status_t st;
    s->channels = 3;
    s->decoder_dim = 256;
    s->classes = 150;
    s->img_h = s->img_w = 512;
    if ((st = cfg_strict(c, "SegFormer", seg_keys)) != XF_OK) return st;
    static const char* const acts[] = {"gelu", NULL};
    int act;
    if ((st = cfg_choice(c, "hidden_act", acts, &act)) != XF_OK) return st;
    bool reshape_last = true;
    if ((st = cfg_bool(c, "reshape_last_stage", &reshape_last)) != XF_OK) return st;
    if (!reshape_last) return cfg_refuse(c, "reshape_last_stage", "false is not supported");
    double unused_eps = 0;
    if ((st = cfg_double(c, "layer_norm_eps", 0, 1, &unused_eps)) != XF_OK) return st;
    if ((st = cfg_int(c, "num_channels", false, 1, 4, &s->channels)) != XF_OK) return st;
    if ((st = cfg_int(c, "decoder_hidden_size", false, 1, 1 << 16, &s->decoder_dim)) != XF_OK) return st;
    if ((st = cfg_size(c, "image_size", &s->img_h, &s->img_w)) != XF_OK) return st;
    const xf_json_t* id2label = xf_json_get(c->obj, "id2label");
    if (xf_json_get(c->obj, "num_labels")) {
        if ((st = cfg_int(c, "num_labels", true, 1, 1 << 20, &s->classes)) != XF_OK) return st;
    } else if (id2label && id2label->type == XF_JSON_OBJECT) {
        s->classes = (int64_t)id2label->count;
    }
    if ((st = cfg_numbers(c, "hidden_sizes", true, true, -1, XF_SEG_MAX_STAGES, a, &n)) != XF_OK) return st;
    s->stages = n;
    for (int i = 0; i < n; i++) s->dims[i] = (int64_t)a[i];
    int64_t blocks = n;
    if ((st = cfg_int(c, "num_encoder_blocks", false, 1, XF_SEG_MAX_STAGES, &blocks)) != XF_OK) return st;
    if (blocks != n) return cfg_bad(c, "num_encoder_blocks", "must equal the number of hidden_sizes");
    static const int64_t def_depth = 2, def_patch[2] = {7, 3}, def_stride[2] = {4, 2};
    static const int64_t def_sr[4] = {8, 4, 2, 1};
    for (int i = 0; i < n; i++) {
        s->depths[i] = def_depth;
        s->patch[i] = def_patch[i > 0];
        s->stride[i] = def_stride[i > 0];
        s->sr[i] = i < 4 ? def_sr[i] : 1;
        s->heads[i] = 1;
        s->mlp_hidden[i] = 4 * s->dims[i];
    }
    struct {
        const char* key;
        int64_t* dst;
        int64_t lo, hi;
    } arrays[] = {
        {"depths", s->depths, 0, 4096},
        {"sr_ratios", s->sr, 1, 1024},
        {"patch_sizes", s->patch, 1, 1024},
        {"strides", s->stride, 1, 1024},
        {"num_attention_heads", s->heads, 1, 1 << 16},
    };
    for (size_t k = 0; k < sizeof arrays / sizeof arrays[0]; k++) {
        if (!xf_json_get(c->obj, arrays[k].key)) continue;
        if ((st = cfg_numbers(c, arrays[k].key, true, true, n, XF_SEG_MAX_STAGES, a, NULL)) != XF_OK)
            return st;
        for (int i = 0; i < n; i++) {
            if (a[i] < (double)arrays[k].lo || a[i] > (double)arrays[k].hi)
                return cfg_bad(c, arrays[k].key, "holds an out-of-range value");
            arrays[k].dst[i] = (int64_t)a[i];
        }
    }
    if (xf_json_get(c->obj, "mlp_ratios")) {
        if ((st = cfg_numbers(c, "mlp_ratios", true, false, n, XF_SEG_MAX_STAGES, a, NULL)) != XF_OK)
            return st;
        for (int i = 0; i < n; i++) s->mlp_hidden[i] = (int64_t)(s->dims[i] * a[i]);
    }
    for (int i = 0; i < n; i++) {
        if (s->dims[i] < 1 || s->dims[i] > (1 << 16))
            return cfg_bad(c, "hidden_sizes", "holds an out-of-range value");
        if (s->dims[i] % s->heads[i] != 0)
            return cfg_bad(c, "num_attention_heads", "must divide hidden_sizes");
        if (s->mlp_hidden[i] < 1) return cfg_bad(c, "mlp_ratios", "gives an empty MLP");
    }
    c->m->info.crop_pct = 1.0f;
    if ((st = cfg_norm(c, s->channels)) != XF_OK) return st;
    return cfg_labels(c, s->classes);
}

static xf_status_t read_text_file(xf_context_t* ctx, const char* path, size_t limit, char** out) {
    FILE* f = fopen(path, "rb");
    if (!f) {
        int e = errno;
        return xf_ctx_fail(ctx, e == ENOENT ? XF_ERR_NOT_FOUND : XF_ERR_INVALID_ARGUMENT,
                           "%s: cannot open: %s", path, strerror(e));
    }
    size_t cap = 4096, n = 0;
    char* buf = xf_malloc(cap);
    while (buf) {
        if (n + 1 == cap) {
            if (cap > limit) break;
            char* nb = xf_realloc(buf, cap * 2);
            if (!nb) {
                xf_free(buf);
                buf = NULL;
                break;
            }
            buf = nb;
            cap *= 2;
        }
        size_t r = fread(buf + n, 1, cap - 1 - n, f);
        n += r;
        if (r == 0) break;
    }
    int err = ferror(f);
    fclose(f);
    if (!buf) return xf_ctx_fail(ctx, XF_ERR_OUT_OF_MEMORY, "%s: out of host memory", path);
    if (n + 1 == cap && cap > limit) {
        xf_free(buf);
        return xf_ctx_fail(ctx, XF_ERR_INVALID_ARGUMENT, "%s: larger than %zu bytes", path, limit);
    }
    if (err) {
        xf_free(buf);
        return xf_ctx_fail(ctx, XF_ERR_DATA_LOSS, "%s: read error", path);
    }
    buf[n] = '\0';
    *out = buf;
    return XF_OK;
}

static xf_status_t parse_json_text(xf_context_t* ctx, const char* where, const char* text, xf_json_doc_t** out) {
    size_t pos = 0;
    char why[200];
    xf_status_t st = xf_json_parse(NULL, text, strlen(text), out, &pos, why, sizeof why);
    if (st == XF_ERR_OUT_OF_MEMORY) return xf_ctx_fail(ctx, st, "%s: out of host memory parsing the config", where);
    if (st != XF_OK) return xf_ctx_fail(ctx, XF_ERR_INVALID_ARGUMENT, "%s: invalid JSON at byte %zu: %s", where, pos, why);
    if (xf_json_root(*out)->type != XF_JSON_OBJECT) {
        xf_json_free(*out);
        *out = NULL;
        return xf_ctx_fail(ctx, XF_ERR_INVALID_ARGUMENT, "%s: the config is not a JSON object", where);
    }
    return XF_OK;
}

static xf_status_t load_config(xf_model_t* m, const char* path, const xf_model_options_t* opt,
                               xf_json_doc_t** out, char* where, size_t where_size) {
    char* text = NULL;
    xf_status_t st;
    if (opt && opt->config_path) {
        snprintf(where, where_size, "%s", opt->config_path);
        st = read_text_file(m->ctx, opt->config_path, XF_MODEL_MAX_CONFIG, &text);
        if (st != XF_OK) return st;
    } else if (xf_st_metadata(m->file, "config")) {
        snprintf(where, where_size, "%s: __metadata__.config", path);
        text = xf_strdup(xf_st_metadata(m->file, "config"));
        if (!text) return xf_ctx_fail(m->ctx, XF_ERR_OUT_OF_MEMORY, "out of host memory");
    } else {
        const char* slash = strrchr(path, '/');
        int dirlen = slash ? (int)(slash - path) : 1;
        snprintf(where, where_size, "%.*s/config.json", dirlen, slash ? path : ".");
        st = read_text_file(m->ctx, where, XF_MODEL_MAX_CONFIG, &text);
        if (st == XF_ERR_NOT_FOUND)
            return xf_ctx_fail(m->ctx, XF_ERR_NOT_FOUND,
                               "%s: no config: the file has no __metadata__.config and there is no %s; pass "
                               "xf_model_options_t.config_path",
                               path, where);
        if (st != XF_OK) return st;
    }
    st = parse_json_text(m->ctx, where, text, out);
    xf_free(text);
    return st;
}

//===----------------------------------------------------------------------===//
// timm directories: config.json naming a registered timm model
//===----------------------------------------------------------------------===//

typedef struct timm_model_s {
    const char *name, *args;
} timm_model_t;

static const timm_model_t timm_models[] = {
#define XF_TIMM_MODEL(name, args) {name, args},
#include "timm_models.h"
#undef XF_TIMM_MODEL
};

static const char* const timm_dir_keys[] = {"architecture", "num_classes",   "num_features",       "global_pool",
                                            "model_args",   "pretrained_cfg", "label_names", "label_descriptions",
                                            NULL};
static const char* const timm_pretrained_keys[] = {
    "tag",        "custom_load", "hf_hub_id",  "hf_hub_filename", "url",          "file",
    "license",    "description", "origin_url", "paper_ids",       "paper_name",   "notes",
    "first_conv", "classifier",  "pool_size",  "fixed_input_size", "test_input_size", "test_crop_pct",
    "min_input_size", "crop_mode", "input_size", "interpolation", "crop_pct",  "mean",
    "std",        "num_classes", "label_offset", NULL};

// Keys the flat config takes from the directory's config and pretrained_cfg, over the model's arguments
// (which set img_size and in_chans when they differ from pretrained_cfg's input_size).
static const char* const timm_set_keys[] = {"num_classes", "num_features", "global_pool", "crop_pct",
                                            "interpolation", "mean",       "std",         "labels",  NULL};

typedef struct text_s {
    char* p;
    size_t n, cap;
    bool oom;
} text_t;

static void text_add(text_t* t, const char* s, size_t n) {
    if (t->oom) return;
    if (t->n + n + 1 > t->cap) {
        size_t cap = (t->n + n + 1) * 2;
        char* p = xf_realloc(t->p, cap);
        if (!p) {
            t->oom = true;
            return;
        }
        t->p = p;
        t->cap = cap;
    }
    memcpy(t->p + t->n, s, n);
    t->n += n;
    t->p[t->n] = '\0';
}

// Appends "key": value to an object opened with "{".
static void text_member(text_t* t, const char* key, const xf_json_t* v) {
    text_add(t, t->n > 1 ? ",\"" : "\"", t->n > 1 ? 2 : 1);
    text_add(t, key, strlen(key));
    text_add(t, "\":", 2);
    size_t n = xf_json_write(v, NULL, 0);
    if (t->oom) return;
    char* buf = xf_malloc(n + 1);
    if (!buf) {
        t->oom = true;
        return;
    }
    xf_json_write(v, buf, n);
    text_add(t, buf, n);
    xf_free(buf);
}

// A timm directory's config.json (timm's push_to_hf_hub layout: "architecture" names a registered model,
// "model_args" overrides its arguments, "pretrained_cfg" holds the input size and preprocessing) as the
// flat ViT config of the same model, in *out (xf_free).
static xf_status_t timm_flat_config(cfg_t* c, char** out) {
    xf_model_t* m = c->m;
    xf_status_t st = cfg_strict(c, "timm directory (a config with 'pretrained_cfg')", timm_dir_keys);
    if (st != XF_OK) return st;
    const xf_json_t* a = cfg_get(c, "architecture");
    if (!a || a->type != XF_JSON_STRING) return cfg_bad(c, "architecture", "must name a timm model");
    const char* dot = strchr(a->u.s, '.');
    size_t len = dot ? (size_t)(dot - a->u.s) : strlen(a->u.s);
    const timm_model_t* model = NULL;
    for (size_t i = 0; i < sizeof timm_models / sizeof timm_models[0] && !model; i++)
        if (strlen(timm_models[i].name) == len && strncmp(timm_models[i].name, a->u.s, len) == 0)
            model = &timm_models[i];
    if (!model)
        return xf_ctx_fail(m->ctx, XF_ERR_UNIMPLEMENTED,
                           "%s: timm architecture '%.*s' is not supported (the ViTs, DeiTs and Swins timm 0.9 registers "
                           "are, lib/timm_models.h)",
                           c->where, (int)len, a->u.s);
    const xf_json_t* args = cfg_get(c, "model_args");
    const xf_json_t* pre = cfg_get(c, "pretrained_cfg");
    if (args && args->type != XF_JSON_OBJECT) return cfg_bad(c, "model_args", "must be an object");
    if (!pre || pre->type != XF_JSON_OBJECT) return cfg_bad(c, "pretrained_cfg", "must be an object");
    cfg_t p = {m, pre, c->where};
    if ((st = cfg_strict(&p, "timm pretrained_cfg", timm_pretrained_keys)) != XF_OK) return st;
    static const char* const modes[] = {"center", NULL};
    int mode;
    if ((st = cfg_choice(&p, "crop_mode", modes, &mode)) != XF_OK) return st;
    int64_t offset = 0;
    if ((st = cfg_int(&p, "label_offset", false, 0, 0, &offset)) != XF_OK) return st;
    double size[3];
    if ((st = cfg_numbers(&p, "input_size", true, true, 3, 3, size, NULL)) != XF_OK) return st;
    int64_t classes = 0, pre_classes = 0;
    if ((st = cfg_int(c, "num_classes", true, 1, 1 << 20, &classes)) != XF_OK) return st;
    if ((st = cfg_int(&p, "num_classes", false, 0, 1 << 20, &pre_classes)) != XF_OK) return st;

    xf_json_doc_t* base = NULL;
    if ((st = parse_json_text(m->ctx, model->name, model->args, &base)) != XF_OK) return st;
    text_t t = {0};
    const xf_json_t* b = xf_json_root(base);
    text_add(&t, "{", 1);
    // The table's arguments start with the family ("vit" or "swin") as "architecture".
    for (size_t i = 0; i < b->count; i++) {
        const char* key = b->u.members[i].key;
        if (!in_list(key, timm_set_keys) && !(args && xf_json_get(args, key)))
            text_member(&t, key, &b->u.members[i].value);
    }
    for (size_t i = 0; args && i < args->count; i++)
        if (!in_list(args->u.members[i].key, timm_set_keys))
            text_member(&t, args->u.members[i].key, &args->u.members[i].value);
    xf_json_free(base);
    static const char* const top[] = {"num_classes", "num_features", "global_pool"};
    for (size_t i = 0; i < 3; i++)
        if (cfg_get(c, top[i])) text_member(&t, top[i], cfg_get(c, top[i]));
    static const char* const from_pre[] = {"crop_pct", "interpolation", "mean", "std"};
    for (size_t i = 0; i < 4; i++)
        if (cfg_get(&p, from_pre[i])) text_member(&t, from_pre[i], cfg_get(&p, from_pre[i]));
    const xf_json_t* input = cfg_get(&p, "input_size");
    if (!(args && xf_json_get(args, "in_chans"))) text_member(&t, "in_chans", &input->u.items[0]);
    xf_json_t hw = {.type = XF_JSON_ARRAY, .count = 2, .u.items = input->u.items + 1};
    if (!(args && xf_json_get(args, "img_size"))) text_member(&t, "img_size", &hw);
    const xf_json_t* names = cfg_get(c, "label_names");
    if (names && names->type == XF_JSON_ARRAY) text_member(&t, "labels", names);
    text_add(&t, "}", 1);
    if (t.oom) {
        xf_free(t.p);
        return xf_ctx_fail(m->ctx, XF_ERR_OUT_OF_MEMORY, "out of host memory");
    }
    if (pre_classes && pre_classes != classes) {
        xf_log(m->ctx, XF_LOG_INFO, "%s: pretrained_cfg has %lld classes; the model has num_classes %lld", c->where,
               (long long)pre_classes, (long long)classes);
    }
    *out = t.p;
    return XF_OK;
}

// A Hugging Face directory's preprocessor_config.json, when there is one beside the model file.
// |size_from_processor|: a SegFormer config without image_size takes the processor's size.
// The input tensor's channels and size as the config gives them.
static void model_input_geometry(xf_model_t* m) {
    if (m->info.arch == XF_MODEL_ARCH_VIT) {
        m->info.input_channels = m->cfg.vit.in_chans;
        m->info.input_height = m->cfg.vit.img_h;
        m->info.input_width = m->cfg.vit.img_w;
    } else if (m->info.arch == XF_MODEL_ARCH_SWIN) {
        m->info.input_channels = m->cfg.swin.in_chans;
        m->info.input_height = m->cfg.swin.img_h;
        m->info.input_width = m->cfg.swin.img_w;
    } else {
        m->info.input_channels = m->cfg.seg.channels;
        m->info.input_height = m->cfg.seg.img_h;
        m->info.input_width = m->cfg.seg.img_w;
    }
}

static xf_status_t load_hf_processor(xf_model_t* m, bool size_from_processor) {
    model_input_geometry(m);
    const char* slash = strrchr(m->path, '/');
    char where[1100];
    snprintf(where, sizeof where, "%.*s/preprocessor_config.json", slash ? (int)(slash - m->path) : 1,
             slash ? m->path : ".");
    char* text = NULL;
    xf_status_t st = read_text_file(m->ctx, where, XF_MODEL_MAX_CONFIG, &text);
    if (st == XF_ERR_NOT_FOUND) return XF_OK;
    if (st != XF_OK) return st;
    xf_json_doc_t* doc = NULL;
    st = parse_json_text(m->ctx, where, text, &doc);
    xf_free(text);
    if (st != XF_OK) return st;
    cfg_t c = {m, xf_json_root(doc), where};
    st = parse_hf_processor(&c, size_from_processor);
    xf_json_free(doc);
    return st;
}

// Picks a name prefix so that this model's weights do not collide with tensors already in the context.
static xf_status_t choose_prefix(xf_model_t* m) {
    for (int k = 1; k < 1000; k++) {
        if (k == 1)
            m->prefix[0] = '\0';
        else
            snprintf(m->prefix, sizeof m->prefix, "model%d/", k);
        bool clash = false;
        for (size_t i = 0; i < m->file->count && !clash; i++) {
            char full[512];
            xf_tensor_t* t;
            xf_model_name(m, full, sizeof full, "%s", m->file->tensors[i].name);
            clash = xf_context_find_tensor(m->ctx, full, &t) == XF_OK;
        }
        // Synthesised weights (the folded decoder bias) must be free too.
        xf_tensor_t* t;
        char full[512];
        xf_model_name(m, full, sizeof full, "decode_head.linear_fuse.bias");
        if (!clash && xf_context_find_tensor(m->ctx, full, &t) != XF_OK) return XF_OK;
    }
    return xf_ctx_fail(m->ctx, XF_ERR_OUT_OF_RANGE, "too many models in one context");
}

static bool ignored_tensor(const char* name) {
    size_t n = strlen(name);
    static const char suffix[] = "num_batches_tracked";
    return n >= sizeof suffix - 1 && strcmp(name + n - (sizeof suffix - 1), suffix) == 0;
}

static int64_t limit_or_default(int64_t value, int64_t fallback) { return value > 0 ? value : fallback; }

// Refuses, before any weight is uploaded, a model whose input size, token count or memory is past
// the options' bounds, and bounds the graph's intermediates by what the weights leave.
static xf_status_t check_limits(xf_model_t* m, const xf_model_options_t* o) {
    const int64_t max_pixels = limit_or_default(o ? o->max_input_pixels : 0, XF_MODEL_DEFAULT_MAX_INPUT_PIXELS);
    const int64_t max_tokens = limit_or_default(o ? o->max_tokens : 0, XF_MODEL_DEFAULT_MAX_TOKENS);
    const int64_t max_bytes = limit_or_default(o ? o->max_bytes : 0, XF_MODEL_DEFAULT_MAX_BYTES);
    const int64_t h = m->info.input_height, w = m->info.input_width;
    if (h * w > max_pixels)
        return xf_ctx_fail(m->ctx, XF_ERR_OUT_OF_RANGE,
                           "%s: the input is %lldx%lld = %lld pixels, over max_input_pixels (%lld); raise it in "
                           "xf_model_options_t to load this model at this size",
                           m->path, (long long)h, (long long)w, (long long)(h * w), (long long)max_pixels);
    int64_t tokens;
    if (m->info.arch == XF_MODEL_ARCH_VIT) {
        const xf_vit_config_t* v = &m->cfg.vit;
        tokens = (h / v->patch) * (w / v->patch) + xf_vit_prefix_tokens(v);
    } else if (m->info.arch == XF_MODEL_ARCH_SWIN) {
        tokens = (h / m->cfg.swin.patch) * (w / m->cfg.swin.patch);
    } else {
        const int64_t s = m->cfg.seg.stride[0];
        tokens = ((h + s - 1) / s) * ((w + s - 1) / s);
    }
    if (tokens > max_tokens)
        return xf_ctx_fail(m->ctx, XF_ERR_OUT_OF_RANGE,
                           "%s: at %lldx%lld the model has sequences of %lld tokens, over max_tokens (%lld); raise "
                           "it in xf_model_options_t or load at a smaller input size",
                           m->path, (long long)h, (long long)w, (long long)tokens, (long long)max_tokens);
    int64_t weight_bytes = 0;
    for (size_t i = 0; i < m->file->count; i++) weight_bytes += m->file->tensors[i].elements * (int64_t)sizeof(float);
    if (weight_bytes > max_bytes)
        return xf_ctx_fail(m->ctx, XF_ERR_OUT_OF_RANGE,
                           "%s: the weights take %lld bytes as f32, over max_bytes (%lld); raise it in "
                           "xf_model_options_t to load this model",
                           m->path, (long long)weight_bytes, (long long)max_bytes);
    m->pool_limit = (size_t)(max_bytes - weight_bytes);
    return XF_OK;
}

static xf_status_t finish_load(xf_model_t* m, xf_status_t st, xf_model_t** out_model);

static bool is_onnx_path(const char* path) {
    size_t n = strlen(path);
    return n >= 5 && strcasecmp(path + n - 5, ".onnx") == 0;
}

// The image models' one input and one output, as xf_model_run_io sees them.
static xf_status_t image_model_io(xf_model_t* m) {
    m->n_inputs = m->n_outputs = 1;
    m->io = xf_calloc(2, sizeof *m->io);
    m->io_tensors = xf_calloc(2, sizeof *m->io_tensors);
    if (!m->io || !m->io_tensors) return xf_ctx_fail(m->ctx, XF_ERR_OUT_OF_MEMORY, "out of host memory");
    const char* names[2] = {"input", "logits"};
    xf_tensor_t* t[2] = {m->input, m->output};
    for (int k = 0; k < 2; k++) {
        m->io[k].name = xf_strdup(names[k]);
        if (!m->io[k].name) return xf_ctx_fail(m->ctx, XF_ERR_OUT_OF_MEMORY, "out of host memory");
        m->io[k].dtype = t[k]->dtype;
        m->io[k].ndim = t[k]->ndim;
        memcpy(m->io[k].shape, t[k]->shape, sizeof t[k]->shape);
        m->io_tensors[k] = t[k];
    }
    return XF_OK;
}

static xf_status_t load_onnx(xf_model_t* m, const xf_model_options_t* options, xf_model_t** out_model) {
#ifdef XF_HAVE_ONNX
    const int64_t max_bytes = limit_or_default(options ? options->max_bytes : 0, XF_MODEL_DEFAULT_MAX_BYTES);
    xf_status_t st = xf_model_load_onnx(m, options);
    if (st == XF_OK) {
        m->input = m->io_tensors[0];
        m->output = m->io_tensors[m->n_inputs];
        if (m->info.weight_bytes > max_bytes)
            st = xf_ctx_fail(m->ctx, XF_ERR_OUT_OF_RANGE, "%s: the weights take %lld bytes, over max_bytes (%lld); "
                             "raise it in xf_model_options_t to load this model", m->path,
                             (long long)m->info.weight_bytes, (long long)max_bytes);
        m->pool_limit = (size_t)(max_bytes - m->info.weight_bytes);
    }
    return finish_load(m, st, out_model);
#else
    (void)options;
    xf_status_t st = xf_ctx_fail(m->ctx, XF_ERR_UNIMPLEMENTED, "%s: this libxformer was built without ONNX import "
                                 "(it needs protobuf-c and onnx.proto at build time: meson -Donnx=enabled)", m->path);
    return finish_load(m, st, out_model);
#endif
}

xf_status_t xf_model_load(xf_context_t* ctx, const char* path, const xf_model_options_t* options,
                          xf_model_t** out_model) {
    if (!ctx) return xf_set_last_error(XF_ERR_INVALID_ARGUMENT, "xf_model_load: context is NULL");
    xf_alloc_use(&ctx->allocator);
    if (!path || !out_model)
        return xf_ctx_fail(ctx, XF_ERR_INVALID_ARGUMENT,
                           "xf_model_load: path and out_model must not be NULL");
    if (options && (options->input_height < 0 || options->input_width < 0 || options->input_height > 65536 ||
                    options->input_width > 65536))
        return xf_ctx_fail(ctx, XF_ERR_INVALID_ARGUMENT,
                           "xf_model_load: input size %lldx%lld is out of range",
                           (long long)options->input_height, (long long)options->input_width);
    if (options && (options->batch < 0 || options->batch > XF_MODEL_MAX_BATCH))
        return xf_ctx_fail(ctx, XF_ERR_INVALID_ARGUMENT, "xf_model_load: batch %lld is out of range (0..%lld)",
                           (long long)options->batch, (long long)XF_MODEL_MAX_BATCH);
    if (options && (unsigned)options->weights > XF_MODEL_WEIGHTS_INT8_BLOCK32)
        return xf_ctx_fail(ctx, XF_ERR_INVALID_ARGUMENT,
                           "xf_model_load: weights %d is not an xf_model_weights_t (AS_STORED, F16, F32, "
                           "INT8_CHANNEL or INT8_BLOCK32)", (int)options->weights);
    // A directory (Hugging Face or timm layout) holds model.safetensors beside its config.json.
    char in_dir[1024];
    struct stat sb;
    if (stat(path, &sb) == 0 && S_ISDIR(sb.st_mode)) {
        if ((size_t)snprintf(in_dir, sizeof in_dir, "%s/model.safetensors", path) >= sizeof in_dir)
            return xf_ctx_fail(ctx, XF_ERR_INVALID_ARGUMENT, "xf_model_load: the path is too long");
        path = in_dir;
    }
    xf_model_t* m = xf_calloc(1, sizeof *m);
    if (!m) return xf_ctx_fail(ctx, XF_ERR_OUT_OF_MEMORY, "out of host memory");
    m->ctx = ctx;
    m->path = path;
    m->info.batch = options && options->batch ? options->batch : 1;
    m->weight_storage = options ? options->weights : XF_MODEL_WEIGHTS_AS_STORED;
    if (is_onnx_path(path)) return load_onnx(m, options, out_model);

    char err[1024] = "";
    xf_status_t st = xf_st_open(path, &m->file, err, sizeof err);
    if (st != XF_OK) {
        xf_free(m);
        return xf_ctx_fail(ctx, st, "%s", err);
    }
    // Weights the loader builds from others are kept as the file's int8 weights are (its first one's format).
    for (size_t i = 0; i < m->file->count && !m->file_quant.on; i++) {
        xf_st_tensor_t *t = &m->file->tensors[i], *scale;
        if (t->dtype != XF_ST_I8 || t->ndim != 2) continue;
        int used = t->used;
        if (file_scales(m, t, &scale, &m->file_quant) != XF_OK) m->file_quant.on = false;
        else scale->used = used;
    }
    xf_json_doc_t* config = NULL;
    char where[1100];
    st = load_config(m, path, options, &config, where, sizeof where);
    if (st == XF_OK) {
        cfg_t c = {m, xf_json_root(config), where};
        if (xf_json_get(c.obj, "pretrained_cfg")) {
            // A timm directory: read as the flat config of the model it names.
            char* flat = NULL;
            st = timm_flat_config(&c, &flat);
            xf_json_doc_t* flat_doc = NULL;
            if (st == XF_OK) st = parse_json_text(ctx, where, flat, &flat_doc);
            xf_free(flat);
            if (st == XF_OK) {
                xf_json_free(config);
                config = flat_doc;
                c.obj = xf_json_root(config);
            }
        }
        const xf_json_t* a = xf_json_get(c.obj, "architecture");
        if (!a) a = xf_json_get(c.obj, "model_type");
        const char* arch = a && a->type == XF_JSON_STRING ? a->u.s : NULL;
        if (st != XF_OK) {
            // The timm directory's config was refused.
        } else if (!arch) {
            st = xf_ctx_fail(ctx, XF_ERR_INVALID_ARGUMENT,
                             "%s: config key 'architecture' is missing (\"vit\" or \"segformer\")", where);
        } else if ((strcmp(arch, "vit") == 0 || strcmp(arch, "deit") == 0) && xf_json_get(c.obj, "hidden_size")) {
            m->info.arch = XF_MODEL_ARCH_VIT;
            m->info.task = XF_MODEL_TASK_CLASSIFICATION;
            m->info.architecture = "vit";
            st = parse_hf_vit_config(&c, strcmp(arch, "deit") == 0);
            if (st == XF_OK) st = load_hf_processor(m, false);
        } else if (strcmp(arch, "vit") == 0 || strcmp(arch, "deit") == 0) {
            m->info.arch = XF_MODEL_ARCH_VIT;
            m->info.task = XF_MODEL_TASK_CLASSIFICATION;
            m->info.architecture = "vit";
            st = parse_vit_config(&c);
        } else if (strcmp(arch, "swin") == 0) {
            m->info.arch = XF_MODEL_ARCH_SWIN;
            m->info.task = XF_MODEL_TASK_CLASSIFICATION;
            m->info.architecture = "swin";
            // transformers' configs name the model_type; libxformer's and timm's the architecture.
            if (xf_json_get(c.obj, "architecture")) {
                st = parse_swin_config(&c);
            } else {
                st = parse_hf_swin_config(&c);
                if (st == XF_OK) st = load_hf_processor(m, false);
            }
        } else if (strcmp(arch, "segformer") == 0) {
            m->info.arch = XF_MODEL_ARCH_SEGFORMER;
            m->info.task = XF_MODEL_TASK_SEGMENTATION;
            m->info.architecture = "segformer";
            st = parse_seg_config(&c);
            // A Hugging Face directory (config.json as transformers saves it): its image processor's Pillow
            // pipeline, by default a bilinear resize to 512x512.
            const xf_json_t* archs = cfg_get(&c, "architectures");
            if (st == XF_OK && archs) {
                if (archs->type != XF_JSON_ARRAY || archs->count != 1 || archs->u.items[0].type != XF_JSON_STRING ||
                    strcmp(archs->u.items[0].u.s, "SegformerForSemanticSegmentation") != 0)
                    st = cfg_refuse(&c, "architectures", "only SegformerForSemanticSegmentation is supported");
                m->info.interpolation = XF_INTERPOLATION_BILINEAR;
                m->resize_h = m->cfg.seg.img_h;
                m->resize_w = m->cfg.seg.img_w;
                m->crop_floor = true;
                if (st == XF_OK) st = load_hf_processor(m, !cfg_get(&c, "image_size"));
            }
        } else {
            st = xf_ctx_fail(ctx, XF_ERR_UNIMPLEMENTED,
                             "%s: architecture '%.64s' is not supported (\"vit\", \"swin\" and \"segformer\" are)",
                             where, arch);
        }
        xf_json_free(config);
    }
    if (st == XF_OK) {
        model_input_geometry(m);
        if (options && options->input_height) m->info.input_height = options->input_height;
        if (options && options->input_width) m->info.input_width = options->input_width;
        // A Hugging Face processor at another input size resizes straight to it.
        if (m->resize_h && m->info.arch == XF_MODEL_ARCH_VIT &&
            (m->info.input_height != m->cfg.vit.img_h || m->info.input_width != m->cfg.vit.img_w)) {
            m->resize_h = m->info.input_height;
            m->resize_w = m->info.input_width;
        }
        m->info.input_elements = m->info.input_channels * m->info.input_height * m->info.input_width;
        st = check_limits(m, options);
    }
    if (st == XF_OK) st = choose_prefix(m);
    if (st == XF_OK)
        st = m->info.arch == XF_MODEL_ARCH_VIT    ? xf_model_build_vit(m)
             : m->info.arch == XF_MODEL_ARCH_SWIN ? xf_model_build_swin(m)
                                                  : xf_model_build_segformer(m);
    for (size_t i = 0; st == XF_OK && i < m->file->count; i++) {
        const xf_st_tensor_t* t = &m->file->tensors[i];
        if (!t->used && !ignored_tensor(t->name))
            st = xf_ctx_fail(
                ctx, XF_ERR_INVALID_ARGUMENT,
                "%s: extra tensor '%s' is not used by the %s model this config describes; the file "
                "and config do not match",
                path, t->name, m->info.architecture);
    }
    if (st == XF_OK) {
        m->info.output_elements = m->info.classes * m->info.output_height * m->info.output_width;
        st = image_model_io(m);
    }
    xf_st_close(m->file);
    m->file = NULL;
    return finish_load(m, st, out_model);
}

// Plans the graph and keeps |m| in *out_model, or destroys it keeping the context's message.
static xf_status_t finish_load(xf_model_t* m, xf_status_t st, xf_model_t** out_model) {
    xf_context_t* ctx = m->ctx;
    if (st == XF_OK) {
        m->graph->pool_limit = m->pool_limit ? m->pool_limit : 1;
        m->graph->pool_limit_what = "xf_model_options_t.max_bytes after the weights";
        st = xf_graph_plan(m->graph);
    }
    if (st == XF_OK) {
        m->logits = xf_malloc((size_t)(m->info.batch * m->info.output_elements) * sizeof(float));
        if (!m->logits) st = xf_ctx_fail(ctx, XF_ERR_OUT_OF_MEMORY, "out of host memory");
    }
    m->path = NULL;
    if (st != XF_OK) {
        char saved[sizeof ctx->err.msg];
        snprintf(saved, sizeof saved, "%s", xf_context_error(ctx));
        xf_model_destroy(m);
        xf_ctx_fail(ctx, st, "%s", saved);
        return st;
    }
    m->info.has_labels = m->labels != NULL;
    *out_model = m;
    return XF_OK;
}

void xf_model_destroy(xf_model_t* m) {
    if (!m) return;
    xf_alloc_use(&m->ctx->allocator);
    xf_graph_destroy(m->mask_graph);
    xf_graph_destroy(m->graph);
    for (size_t i = 0; i < m->nweights; i++) xf_tensor_destroy(m->weights[i]);
    xf_free(m->weights);
    labels_free(m->labels, m->nlabels);
    xf_free(m->logits);
    for (int k = 0; m->io && k < m->n_inputs + m->n_outputs; k++) xf_free((char*)m->io[k].name);
    xf_free(m->io);
    xf_free(m->io_tensors);
    if (m->file) xf_st_close(m->file);
    xf_free(m);
}

xf_status_t xf_model_info(const xf_model_t* m, xf_model_info_t* out_info) {
    if (!m || !out_info) return xf_set_last_error(XF_ERR_INVALID_ARGUMENT, "xf_model_info: NULL argument");
    *out_info = m->info;
    out_info->has_labels = m->labels != NULL;
    return XF_OK;
}

xf_context_t* xf_model_context(const xf_model_t* m) { return m ? m->ctx : NULL; }

const char* xf_model_label(const xf_model_t* m, int64_t index) {
    if (!m || !m->labels || index < 0 || index >= m->nlabels) return NULL;
    return m->labels[index];
}

xf_status_t xf_model_load_labels(xf_model_t* m, const char* path) {
    if (!m) return xf_set_last_error(XF_ERR_INVALID_ARGUMENT, "xf_model_load_labels: model is NULL");
    if (!path) return xf_ctx_fail(m->ctx, XF_ERR_INVALID_ARGUMENT, "xf_model_load_labels: path is NULL");
    xf_alloc_use(&m->ctx->allocator);
    char* text;
    xf_status_t st = read_text_file(m->ctx, path, XF_MODEL_MAX_CONFIG, &text);
    if (st != XF_OK) return st;
    int64_t lines = 0;
    size_t len = strlen(text);
    for (size_t i = 0; i < len; i++) lines += text[i] == '\n';
    if (len && text[len - 1] != '\n') lines++;
    if (lines != m->info.classes) {
        xf_free(text);
        return xf_ctx_fail(m->ctx, XF_ERR_INVALID_ARGUMENT, "%s: %lld labels but the model has %lld classes",
                           path, (long long)lines, (long long)m->info.classes);
    }
    char** labels = xf_calloc((size_t)lines, sizeof *labels);
    if (!labels) {
        xf_free(text);
        return xf_ctx_fail(m->ctx, XF_ERR_OUT_OF_MEMORY, "out of host memory");
    }
    char* p = text;
    for (int64_t i = 0; i < lines; i++) {
        char* nl = strchr(p, '\n');
        size_t n = nl ? (size_t)(nl - p) : strlen(p);
        if (n && p[n - 1] == '\r') n--;
        labels[i] = xf_strndup(p, n);
        if (!labels[i]) {
            labels_free(labels, lines);
            xf_free(text);
            return xf_ctx_fail(m->ctx, XF_ERR_OUT_OF_MEMORY, "out of host memory");
        }
        p = nl ? nl + 1 : p + n;
    }
    xf_free(text);
    labels_free(m->labels, m->nlabels);
    m->labels = labels;
    m->nlabels = lines;
    m->info.has_labels = true;
    return XF_OK;
}

//===----------------------------------------------------------------------===//
// Running
//===----------------------------------------------------------------------===//

xf_status_t xf_model_run(xf_model_t* m, const float* input, size_t input_count, float* out_logits,
                         size_t logits_count) {
    if (!m) return xf_set_last_error(XF_ERR_INVALID_ARGUMENT, "xf_model_run: model is NULL");
    xf_alloc_use(&m->ctx->allocator);
    const size_t in_total = (size_t)(m->info.batch * m->info.input_elements),
                 out_total = (size_t)(m->info.batch * m->info.output_elements);
    if (!input || input_count != in_total)
        return xf_ctx_fail(m->ctx, XF_ERR_INVALID_ARGUMENT,
                           "xf_model_run: the input must be %zu floats ([%lld, %lld, %lld, %lld]), got %zu",
                           in_total, (long long)m->info.batch, (long long)m->info.input_channels,
                           (long long)m->info.input_height, (long long)m->info.input_width, input ? input_count : 0);
    if (out_logits && logits_count != out_total)
        return xf_ctx_fail(m->ctx, XF_ERR_INVALID_ARGUMENT,
                           "xf_model_run: the logits buffer must be %zu floats (%lld images), got %zu", out_total,
                           (long long)m->info.batch, logits_count);
    m->have_logits = false;
    xf_status_t st = xf_tensor_upload_f32(m->input, input, input_count);
    if (st == XF_OK) st = xf_graph_compute(m->graph);
    if (st == XF_OK) st = xf_tensor_download_f32(m->output, m->logits, out_total);
    if (st != XF_OK) return st;
    m->have_logits = true;
    if (out_logits) memcpy(out_logits, m->logits, logits_count * sizeof(float));
    return XF_OK;
}

static xf_status_t build_mask_graph(xf_model_t* m) {
    xf_graph_t* g;
    xf_status_t st = xf_graph_create(m->ctx, &g);
    if (st != XF_OK) return st;
    int64_t shape[4] = {m->info.batch, m->info.classes, m->info.output_height, m->info.output_width};
    xf_tensor_t *x, *up, *nhwc, *mask;
    static const int perm[4] = {0, 2, 3, 1};
    st = xf_graph_input(g, "logits", XF_DTYPE_F32, 4, shape, &x);
    if (st == XF_OK) st = xf_resize_bilinear(g, x, m->info.input_height, m->info.input_width, false, &up);
    if (st == XF_OK) st = xf_permute(g, up, perm, &nhwc);
    if (st == XF_OK) st = xf_argmax(g, nhwc, &mask);
    if (st == XF_OK) st = xf_graph_mark_output(g, mask);
    if (st != XF_OK) {
        xf_graph_destroy(g);
        return st;
    }
    m->mask_graph = g;
    m->mask_input = x;
    m->mask_output = mask;
    return XF_OK;
}

xf_status_t xf_model_mask(xf_model_t* m, int32_t* out_mask, size_t count) {
    if (!m) return xf_set_last_error(XF_ERR_INVALID_ARGUMENT, "xf_model_mask: model is NULL");
    xf_alloc_use(&m->ctx->allocator);
    if (m->info.task != XF_MODEL_TASK_SEGMENTATION)
        return xf_ctx_fail(m->ctx, XF_ERR_INVALID_ARGUMENT,
                           "xf_model_mask: the model is a %s classifier, not a segmenter",
                           m->info.architecture);
    size_t want = (size_t)(m->info.batch * m->info.input_height * m->info.input_width);
    if (!out_mask || count != want)
        return xf_ctx_fail(m->ctx, XF_ERR_INVALID_ARGUMENT,
                           "xf_model_mask: the mask buffer must be %zu int32s (%lld images), got %zu", want,
                           (long long)m->info.batch, out_mask ? count : 0);
    if (!m->have_logits)
        return xf_ctx_fail(m->ctx, XF_ERR_FAILED_PRECONDITION, "xf_model_mask: call xf_model_run first");
    xf_status_t st = XF_OK;
    if (!m->mask_graph) st = build_mask_graph(m);
    if (st == XF_OK)
        st = xf_tensor_upload_f32(m->mask_input, m->logits, (size_t)(m->info.batch * m->info.output_elements));
    if (st == XF_OK) st = xf_graph_compute(m->mask_graph);
    if (st == XF_OK) st = xf_tensor_download(m->mask_output, out_mask, count * sizeof(int32_t));
    return st;
}

xf_status_t xf_model_set_preprocess(xf_model_t* m, const float* mean, const float* std, float crop_pct,
                                    xf_interpolation_t interpolation) {
    if (!m) return xf_set_last_error(XF_ERR_INVALID_ARGUMENT, "xf_model_set_preprocess: model is NULL");
    const int64_t c = m->info.input_channels;
    for (int64_t k = 0; std && k < c; k++)
        if (!(std[k] > 0) || !isfinite(std[k]))
            return xf_ctx_fail(m->ctx, XF_ERR_INVALID_ARGUMENT, "xf_model_set_preprocess: std[%lld] must be positive",
                               (long long)k);
    for (int64_t k = 0; mean && k < c; k++)
        if (!isfinite(mean[k]))
            return xf_ctx_fail(m->ctx, XF_ERR_INVALID_ARGUMENT, "xf_model_set_preprocess: mean[%lld] is not finite",
                               (long long)k);
    if (crop_pct != 0 && !(crop_pct >= 1e-3f && crop_pct <= 1.0f))
        return xf_ctx_fail(m->ctx, XF_ERR_INVALID_ARGUMENT, "xf_model_set_preprocess: crop_pct %g is not in [0.001, 1]",
                           (double)crop_pct);
    if ((unsigned)interpolation > XF_INTERPOLATION_BILINEAR)
        return xf_ctx_fail(m->ctx, XF_ERR_INVALID_ARGUMENT, "xf_model_set_preprocess: interpolation %d is unknown",
                           (int)interpolation);
    for (int64_t k = 0; k < c && k < 4; k++) {
        if (mean) m->info.mean[k] = mean[k];
        if (std) m->info.std[k] = std[k];
    }
    if (crop_pct != 0) m->info.crop_pct = crop_pct;
    m->info.interpolation = interpolation;
    return XF_OK;
}

int xf_model_io_count(const xf_model_t* m, bool outputs) { return !m ? 0 : outputs ? m->n_outputs : m->n_inputs; }

xf_status_t xf_model_io_info(const xf_model_t* m, bool output, int index, xf_model_io_t* out_io) {
    if (!m || !out_io) return xf_set_last_error(XF_ERR_INVALID_ARGUMENT, "xf_model_io_info: NULL argument");
    int count = output ? m->n_outputs : m->n_inputs;
    if (index < 0 || index >= count)
        return xf_ctx_fail(m->ctx, XF_ERR_OUT_OF_RANGE, "xf_model_io_info: %s %d of %d", output ? "output" : "input",
                           index, count);
    *out_io = m->io[(output ? m->n_inputs : 0) + index];
    return XF_OK;
}

xf_status_t xf_model_run_io(xf_model_t* m, const void* const* inputs, void* const* outputs) {
    if (!m) return xf_set_last_error(XF_ERR_INVALID_ARGUMENT, "xf_model_run_io: model is NULL");
    xf_alloc_use(&m->ctx->allocator);
    if (!inputs || !outputs) return xf_ctx_fail(m->ctx, XF_ERR_INVALID_ARGUMENT, "xf_model_run_io: NULL array");
    m->have_logits = false;
    xf_status_t st = XF_OK;
    for (int k = 0; k < m->n_inputs && st == XF_OK; k++) {
        if (!inputs[k])
            return xf_ctx_fail(m->ctx, XF_ERR_INVALID_ARGUMENT, "xf_model_run_io: input %d ('%s') is NULL", k,
                               m->io[k].name);
        st = xf_tensor_upload(m->io_tensors[k], inputs[k], xf_tensor_bytes(m->io_tensors[k]));
    }
    if (st == XF_OK) st = xf_graph_compute(m->graph);
    for (int k = 0; k < m->n_outputs && st == XF_OK; k++) {
        xf_tensor_t* t = m->io_tensors[m->n_inputs + k];
        if (outputs[k]) st = xf_tensor_download(t, outputs[k], xf_tensor_bytes(t));
    }
    return st;
}

xf_status_t xf_model_stats(const xf_model_t* m, xf_graph_stats_t* out_stats) {
    if (!m) return xf_set_last_error(XF_ERR_INVALID_ARGUMENT, "xf_model_stats: model is NULL");
    return xf_graph_stats(m->graph, out_stats);
}
