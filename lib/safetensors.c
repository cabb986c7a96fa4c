// SPDX-License-Identifier: MIT
#include "safetensors.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "backend.h"
#include "json.h"

// The reference implementation refuses headers above 100 MB; so do we, before allocating anything.
#define XF_ST_MAX_HEADER (100u * 1024u * 1024u)

static const struct {
    const char* name;
    xf_st_dtype_t dtype;
    size_t size;
} xf_st_dtypes[] = {
    {"F32", XF_ST_F32, 4}, {"F16", XF_ST_F16, 2}, {"BF16", XF_ST_BF16, 2},
    {"I32", XF_ST_I32, 4}, {"I64", XF_ST_I64, 8}, {"I8", XF_ST_I8, 1},
};

// Dtypes of the format that this runtime does not read; named so the error can say so.
static const char* const xf_st_unsupported[] = {"F64",           "U8",      "I16",     "U16",
                                                "U32",     "U64", "BOOL",    "F8_E4M3", "F8_E5M2",
                                                "F8_E8M0", "F4",  "F6_E2M3", "F6_E3M2", "C64"};

const char* xf_st_dtype_name(xf_st_dtype_t dtype) {
    for (size_t i = 0; i < sizeof xf_st_dtypes / sizeof xf_st_dtypes[0]; i++)
        if (xf_st_dtypes[i].dtype == dtype) return xf_st_dtypes[i].name;
    return "?";
}

size_t xf_st_dtype_size(xf_st_dtype_t dtype) {
    for (size_t i = 0; i < sizeof xf_st_dtypes / sizeof xf_st_dtypes[0]; i++)
        if (xf_st_dtypes[i].dtype == dtype) return xf_st_dtypes[i].size;
    return 0;
}

int xf_st_dtype_is_float(xf_st_dtype_t dtype) {
    return dtype == XF_ST_F32 || dtype == XF_ST_F16 || dtype == XF_ST_BF16;
}

static xf_status_t st_fail(char* err, size_t errlen, xf_status_t status, const char* fmt, ...)
    __attribute__((format(printf, 4, 5)));
static xf_status_t st_fail(char* err, size_t errlen, xf_status_t status, const char* fmt, ...) {
    if (err && errlen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
    }
    return status;
}

void xf_st_close(xf_st_file_t* file) {
    if (!file) return;
    xf_free(file->tensors);
    xf_json_free(file->doc);
    if (file->fd >= 0) close(file->fd);
    xf_free(file->path);
    xf_free(file);
}

static int st_cmp_offset(const void* a, const void* b) {
    const xf_st_tensor_t* x = a;
    const xf_st_tensor_t* y = b;
    if (x->begin != y->begin) return x->begin < y->begin ? -1 : 1;
    return x->end < y->end ? -1 : x->end > y->end;
}

// Reads a non-negative JSON integer.
static int st_get_uint(const xf_json_t* v, uint64_t* out) {
    if (!v || v->type != XF_JSON_INT || v->u.i < 0) return 0;
    *out = (uint64_t)v->u.i;
    return 1;
}

static xf_status_t st_parse_tensor(const char* path, const char* name, const xf_json_t* obj, uint64_t data_size,
                                   xf_st_tensor_t* t, char* err, size_t errlen) {
    if (obj->type != XF_JSON_OBJECT)
        return st_fail(err, errlen, XF_ERR_DATA_LOSS,
                       "%s: tensor '%s': header entry is %s, expected an object", path, name,
                       xf_json_type_name(obj));
    const xf_json_t *jdtype = NULL, *jshape = NULL, *joffsets = NULL;
    char text[160];
    for (size_t m = 0; m < obj->count; m++) {
        const char* key = obj->u.members[m].key;
        const xf_json_t* val = &obj->u.members[m].value;
        if (strcmp(key, "dtype") == 0)
            jdtype = val;
        else if (strcmp(key, "shape") == 0)
            jshape = val;
        else if (strcmp(key, "data_offsets") == 0)
            joffsets = val;
        else
            return st_fail(err, errlen, XF_ERR_DATA_LOSS, "%s: tensor '%s': unknown field '%s'", path, name,
                           key);
    }
    if (!jdtype || !jshape || !joffsets)
        return st_fail(err, errlen, XF_ERR_DATA_LOSS, "%s: tensor '%s': missing field '%s'", path, name,
                       !jdtype   ? "dtype"
                       : !jshape ? "shape"
                                 : "data_offsets");

    if (jdtype->type != XF_JSON_STRING)
        return st_fail(err, errlen, XF_ERR_DATA_LOSS, "%s: tensor '%s': 'dtype' is not a string", path, name);
    const char* dt = jdtype->u.s;
    size_t elsize = 0;
    for (size_t i = 0; i < sizeof xf_st_dtypes / sizeof xf_st_dtypes[0]; i++) {
        if (strcmp(dt, xf_st_dtypes[i].name) == 0) {
            t->dtype = xf_st_dtypes[i].dtype;
            elsize = xf_st_dtypes[i].size;
        }
    }
    if (!elsize) {
        for (size_t i = 0; i < sizeof xf_st_unsupported / sizeof xf_st_unsupported[0]; i++)
            if (strcmp(dt, xf_st_unsupported[i]) == 0)
                return st_fail(err, errlen, XF_ERR_UNIMPLEMENTED,
                               "%s: tensor '%s': dtype %s is not supported (F32, F16, BF16, I32, I64, I8 are); "
                               "convert the file",
                               path, name, dt);
        return st_fail(err, errlen, XF_ERR_DATA_LOSS, "%s: tensor '%s': unknown dtype '%.32s'", path, name,
                       dt);
    }

    if (jshape->type != XF_JSON_ARRAY)
        return st_fail(err, errlen, XF_ERR_DATA_LOSS, "%s: tensor '%s': 'shape' is not an array", path, name);
    size_t nd = jshape->count;
    if (nd > XF_ST_MAX_DIMS)
        return st_fail(err, errlen, XF_ERR_DATA_LOSS,
                       "%s: tensor '%s': %zu dimensions, at most %d are supported", path, name, nd,
                       XF_ST_MAX_DIMS);
    t->ndim = (int)nd;
    uint64_t elements = 1;
    int overflow = 0;
    for (size_t i = 0; i < nd; i++) {
        const xf_json_t* d = &jshape->u.items[i];
        uint64_t v;
        if (!st_get_uint(d, &v)) {
            xf_json_snippet(d, text, sizeof text);
            return st_fail(err, errlen, XF_ERR_DATA_LOSS,
                           "%s: tensor '%s': shape[%zu] is %s, expected a non-negative integer", path, name,
                           i, text);
        }
        t->shape[i] = (int64_t)v;
        if (__builtin_mul_overflow(elements, v, &elements)) overflow = 1;
    }
    uint64_t bytes = 0;
    xf_json_snippet(jshape, text, sizeof text);
    if (overflow || __builtin_mul_overflow(elements, (uint64_t)elsize, &bytes) ||
        elements > (uint64_t)INT64_MAX)
        return st_fail(err, errlen, XF_ERR_DATA_LOSS, "%s: tensor '%s': shape %s is too large", path, name,
                       text);
    t->elements = (int64_t)elements;

    if (joffsets->type != XF_JSON_ARRAY || joffsets->count != 2)
        return st_fail(err, errlen, XF_ERR_DATA_LOSS, "%s: tensor '%s': 'data_offsets' must be [begin, end]",
                       path, name);
    if (!st_get_uint(&joffsets->u.items[0], &t->begin) || !st_get_uint(&joffsets->u.items[1], &t->end)) {
        xf_json_snippet(joffsets, text, sizeof text);
        return st_fail(err, errlen, XF_ERR_DATA_LOSS,
                       "%s: tensor '%s': data_offsets %s are not non-negative integers", path, name, text);
    }
    if (t->end < t->begin)
        return st_fail(err, errlen, XF_ERR_DATA_LOSS,
                       "%s: tensor '%s': data_offsets end %llu is before begin %llu", path, name,
                       (unsigned long long)t->end, (unsigned long long)t->begin);
    if (t->end > data_size)
        return st_fail(
            err, errlen, XF_ERR_DATA_LOSS,
            "%s: tensor '%s': data_offsets [%llu, %llu] run past the data section (%llu bytes); the "
            "file is truncated or corrupt",
            path, name, (unsigned long long)t->begin, (unsigned long long)t->end,
            (unsigned long long)data_size);
    if (t->end - t->begin != bytes)
        return st_fail(err, errlen, XF_ERR_DATA_LOSS,
                       "%s: tensor '%s': shape %s of %s needs %llu bytes but data_offsets span %llu", path,
                       name, text, dt,
                       (unsigned long long)bytes, (unsigned long long)(t->end - t->begin));
    return XF_OK;
}

static xf_status_t st_parse_header(xf_st_file_t* f, const char* path, const char* header, size_t hlen,
                                   uint64_t data_size, char* err, size_t errlen) {
    size_t pos = 0;
    char why[200];
    xf_status_t st = xf_json_parse(NULL, header, hlen, &f->doc, &pos, why, sizeof why);
    if (st == XF_ERR_OUT_OF_MEMORY)
        return st_fail(err, errlen, st, "%s: out of memory parsing the %zu-byte header", path, hlen);
    if (st != XF_OK)
        return st_fail(err, errlen, XF_ERR_DATA_LOSS, "%s: the JSON header is invalid at byte %zu: %s", path, pos,
                       why);
    const xf_json_t* root = xf_json_root(f->doc);
    if (root->type != XF_JSON_OBJECT)
        return st_fail(err, errlen, XF_ERR_DATA_LOSS, "%s: the header is %s, expected an object", path,
                       xf_json_type_name(root));

    f->tensors = xf_calloc(root->count ? root->count : 1, sizeof *f->tensors);
    if (!f->tensors) return st_fail(err, errlen, XF_ERR_OUT_OF_MEMORY, "%s: out of memory", path);
    for (size_t m = 0; m < root->count; m++) {
        const char* key = root->u.members[m].key;
        const xf_json_t* val = &root->u.members[m].value;
        if (strcmp(key, "__metadata__") == 0) {
            if (val->type != XF_JSON_OBJECT)
                return st_fail(err, errlen, XF_ERR_DATA_LOSS, "%s: '__metadata__' is not an object", path);
            for (size_t k = 0; k < val->count; k++) {
                if (val->u.members[k].value.type != XF_JSON_STRING)
                    return st_fail(err, errlen, XF_ERR_DATA_LOSS,
                                   "%s: '__metadata__' entry '%s' is not a string", path, val->u.members[k].key);
            }
            f->metadata = val;
            continue;
        }
        xf_st_tensor_t* t = &f->tensors[f->count];
        st = st_parse_tensor(path, key, val, data_size, t, err, errlen);
        if (st != XF_OK) return st;
        t->name = key;
        f->count++;
    }

    // The format requires the data section to be covered exactly: no overlaps, no holes, nothing after
    // the last tensor.
    qsort(f->tensors, f->count, sizeof *f->tensors, st_cmp_offset);
    uint64_t covered = 0;
    const xf_st_tensor_t* prev = NULL;
    for (size_t i = 0; i < f->count; i++) {
        const xf_st_tensor_t* t = &f->tensors[i];
        if (t->end == t->begin) continue;
        if (t->begin < covered)
            return st_fail(err, errlen, XF_ERR_DATA_LOSS,
                           "%s: tensors '%s' [%llu, %llu] and '%s' [%llu, %llu] overlap in the data section",
                           path, prev->name, (unsigned long long)prev->begin, (unsigned long long)prev->end,
                           t->name, (unsigned long long)t->begin, (unsigned long long)t->end);
        if (t->begin > covered)
            return st_fail(
                err, errlen, XF_ERR_DATA_LOSS,
                "%s: bytes [%llu, %llu) of the data section belong to no tensor (a hole before '%s'); "
                "the header is corrupt",
                path, (unsigned long long)covered, (unsigned long long)t->begin, t->name);
        covered = t->end;
        prev = t;
    }
    if (covered != data_size)
        return st_fail(
            err, errlen, XF_ERR_DATA_LOSS,
            "%s: %llu bytes after the last tensor's data; the header does not describe the whole file", path,
            (unsigned long long)(data_size - covered));
    return XF_OK;
}

static xf_status_t st_check_header_length(const char* path, uint64_t hlen, size_t size, char* err,
                                          size_t errlen) {
    if (hlen > XF_ST_MAX_HEADER)
        return st_fail(
            err, errlen, XF_ERR_DATA_LOSS,
            "%s: header length %llu is larger than the 100 MiB limit; not a safetensors file or corrupt",
            path, (unsigned long long)hlen);
    if (hlen > size - 8)
        return st_fail(
            err, errlen, XF_ERR_DATA_LOSS,
            "%s: header length %llu exceeds the %zu bytes after the length field; the file is truncated",
            path, (unsigned long long)hlen, size - 8);
    if (hlen < 2)
        return st_fail(err, errlen, XF_ERR_DATA_LOSS, "%s: header length %llu is too small for a JSON object",
                       path, (unsigned long long)hlen);
    return XF_OK;
}

// Reads |n| bytes at |offset| into |out|. The file is read, never mapped, and checked against the
// size and modification time it had when opened: a file truncated or rewritten meanwhile gives an
// error, never a signal or a mix of old and new content.
static xf_status_t st_read_at(const xf_st_file_t* f, uint64_t offset, void* out, size_t n, char* err,
                              size_t errlen) {
    uint8_t* p = out;
    size_t done = 0;
    while (done < n) {
        ssize_t r = pread(f->fd, p + done, n - done, (off_t)(offset + done));
        if (r < 0 && errno == EINTR) continue;
        if (r < 0)
            return st_fail(err, errlen, XF_ERR_DATA_LOSS, "%s: cannot read: %s", f->path, strerror(errno));
        if (r == 0) break;
        done += (size_t)r;
    }
    struct stat now;
    bool same = fstat(f->fd, &now) == 0 && now.st_size == f->stamp.st_size &&
                now.st_mtim.tv_sec == f->stamp.st_mtim.tv_sec && now.st_mtim.tv_nsec == f->stamp.st_mtim.tv_nsec;
    if (done < n || !same)
        return st_fail(err, errlen, XF_ERR_DATA_LOSS,
                       "%s: the file changed while it was being loaded (it is %s); load it again once it is "
                       "written completely",
                       f->path, done < n ? "shorter now" : "modified");
    return XF_OK;
}

xf_status_t xf_st_open(const char* path, xf_st_file_t** out_file, char* err, size_t errlen) {
    if (!path || !out_file)
        return st_fail(err, errlen, XF_ERR_INVALID_ARGUMENT, "path and out_file must not be NULL");
    // O_NONBLOCK: a FIFO given as the model must fail at fstat, not block in open.
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0) {
        int e = errno;
        return st_fail(err, errlen, e == ENOENT || e == ENOTDIR ? XF_ERR_NOT_FOUND : XF_ERR_INVALID_ARGUMENT,
                       "%s: cannot open: %s", path, strerror(e));
    }
    struct stat sb;
    if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
        close(fd);
        return st_fail(err, errlen, XF_ERR_INVALID_ARGUMENT, "%s: not a regular file", path);
    }
    size_t size = (size_t)sb.st_size;
    if (size < 8) {
        close(fd);
        return st_fail(err, errlen, XF_ERR_DATA_LOSS,
                       "%s: file is %zu bytes, too short for the 8-byte header length of a safetensors file",
                       path, size);
    }
    xf_st_file_t* f = xf_calloc(1, sizeof *f);
    if (!f) {
        close(fd);
        return st_fail(err, errlen, XF_ERR_OUT_OF_MEMORY, "%s: out of memory", path);
    }
    f->fd = fd;
    f->size = size;
    f->stamp = sb;
    f->path = xf_strdup(path);
    if (!f->path) {
        xf_st_close(f);
        return st_fail(err, errlen, XF_ERR_OUT_OF_MEMORY, "%s: out of memory", path);
    }

    uint8_t len_bytes[8];
    uint64_t hlen = 0;
    xf_status_t st = st_read_at(f, 0, len_bytes, 8, err, errlen);
    if (st == XF_OK) {
        for (int i = 7; i >= 0; i--) hlen = (hlen << 8) | len_bytes[i];
        st = st_check_header_length(path, hlen, size, err, errlen);
    }
    char* header = NULL;
    if (st == XF_OK) {
        header = xf_malloc((size_t)hlen);
        if (!header) st = st_fail(err, errlen, XF_ERR_OUT_OF_MEMORY, "%s: out of memory for the header", path);
    }
    if (st == XF_OK) st = st_read_at(f, 8, header, (size_t)hlen, err, errlen);
    if (st == XF_OK) st = st_parse_header(f, path, header, (size_t)hlen, size - 8 - hlen, err, errlen);
    xf_free(header);
    if (st != XF_OK) {
        xf_st_close(f);
        return st;
    }
    for (size_t i = 0; i < f->count; i++) {
        f->tensors[i].file = f;
        f->tensors[i].offset = 8 + hlen + f->tensors[i].begin;
    }
    *out_file = f;
    return XF_OK;
}

xf_st_tensor_t* xf_st_find(const xf_st_file_t* file, const char* name) {
    for (size_t i = 0; i < file->count; i++)
        if (strcmp(file->tensors[i].name, name) == 0) return &file->tensors[i];
    return NULL;
}

const char* xf_st_metadata(const xf_st_file_t* file, const char* key) {
    const xf_json_t* v = xf_json_get(file->metadata, key);
    return v ? v->u.s : NULL;
}

static float st_bf16_to_f32(uint16_t h) {
    uint32_t bits = (uint32_t)h << 16;
    float f;
    memcpy(&f, &bits, 4);
    return f;
}

// Reads tensor |t|'s bytes into |out| (|bytes| of them), with the message in the file on failure.
static xf_status_t st_read_tensor(const xf_st_tensor_t* t, void* out, size_t bytes) {
    xf_st_file_t* f = t->file;
    return st_read_at(f, t->offset, out, bytes, f->error, sizeof f->error);
}

static uint32_t st_le32(const uint8_t* p) {
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

xf_status_t xf_st_read_f32(const xf_st_tensor_t* t, float* out, size_t count) {
    if ((int64_t)count != t->elements || !xf_st_dtype_is_float(t->dtype)) return XF_ERR_INVALID_ARGUMENT;
    const size_t bytes = (size_t)(t->end - t->begin);
    if (t->dtype == XF_ST_F32) {
        // Read in place: each value is decoded from its own 4 bytes.
        xf_status_t st = st_read_tensor(t, out, bytes);
        if (st != XF_OK) return st;
        for (size_t i = 0; i < count; i++) {
            uint32_t bits = st_le32((const uint8_t*)&out[i]);
            memcpy(&out[i], &bits, 4);
        }
        return XF_OK;
    }
    uint8_t* p = xf_malloc(bytes ? bytes : 1);
    if (!p) return st_fail(t->file->error, sizeof t->file->error, XF_ERR_OUT_OF_MEMORY, "out of host memory");
    xf_status_t st = st_read_tensor(t, p, bytes);
    for (size_t i = 0; st == XF_OK && i < count; i++) {
        uint16_t h = (uint16_t)(p[2 * i] | p[2 * i + 1] << 8);
        out[i] = t->dtype == XF_ST_F16 ? xf_f16_to_f32(h) : st_bf16_to_f32(h);
    }
    xf_free(p);
    return st;
}

xf_status_t xf_st_read_i8(const xf_st_tensor_t* t, int8_t* out, size_t count) {
    if ((int64_t)count != t->elements || t->dtype != XF_ST_I8) return XF_ERR_INVALID_ARGUMENT;
    return st_read_tensor(t, out, count);
}

xf_status_t xf_st_read_i32(const xf_st_tensor_t* t, int32_t* out, size_t count) {
    if ((int64_t)count != t->elements || (t->dtype != XF_ST_I32 && t->dtype != XF_ST_I64))
        return XF_ERR_INVALID_ARGUMENT;
    const size_t bytes = (size_t)(t->end - t->begin);
    uint8_t* p = xf_malloc(bytes ? bytes : 1);
    if (!p) return st_fail(t->file->error, sizeof t->file->error, XF_ERR_OUT_OF_MEMORY, "out of host memory");
    xf_status_t st = st_read_tensor(t, p, bytes);
    for (size_t i = 0; st == XF_OK && i < count; i++) {
        if (t->dtype == XF_ST_I32) {
            uint32_t u = st_le32(p + 4 * i);
            memcpy(&out[i], &u, 4);
        } else {
            uint64_t u = 0;
            for (int b = 7; b >= 0; b--) u = (u << 8) | p[8 * i + (size_t)b];
            int64_t v;
            memcpy(&v, &u, 8);
            if (v < INT32_MIN || v > INT32_MAX) {
                st = st_fail(t->file->error, sizeof t->file->error, XF_ERR_OUT_OF_RANGE,
                             "%s: tensor '%s': value %lld at %zu does not fit in 32 bits", t->file->path, t->name,
                             (long long)v, i);
            } else {
                out[i] = (int32_t)v;
            }
        }
    }
    xf_free(p);
    return st;
}
