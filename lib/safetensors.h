// SPDX-License-Identifier: MIT
// A validating safetensors reader: the JSON header is read and parsed (lib/json.c) and every field is
// checked before any tensor data is touched; tensor data is read on demand (never mapped, so a file
// changed by another process gives an error, not a signal). Not part of the public API.
#ifndef XF_LIB_SAFETENSORS_H_
#define XF_LIB_SAFETENSORS_H_

#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>

#include "xformer.h"

#define XF_ST_MAX_DIMS 8

typedef enum xf_st_dtype_e {
    XF_ST_F32 = 0,
    XF_ST_F16,
    XF_ST_BF16,
    XF_ST_I32,
    XF_ST_I64,
    XF_ST_I8,  // quantized weights (with a scale tensor, docs/MODELS.md)
} xf_st_dtype_t;

typedef struct xf_st_file_s xf_st_file_t;

typedef struct xf_st_tensor_s {
    const char* name;  // in the parsed header
    xf_st_dtype_t dtype;
    int ndim;
    int64_t shape[XF_ST_MAX_DIMS];
    int64_t elements;
    xf_st_file_t* file;
    uint64_t offset;      // of the data in the file
    uint64_t begin, end;  // offsets into the data section, as in the header
    int used;             // set by the consumer to find extra tensors
} xf_st_tensor_t;

struct xf_st_file_s {
    int fd;
    char* path;
    size_t size;
    struct stat stamp;        // size and modification time when opened
    xf_st_tensor_t* tensors;  // sorted by data offset
    size_t count;
    const struct xf_json_s* metadata;  // the "__metadata__" object, or NULL
    struct xf_json_doc_s* doc;         // the parsed header
    char error[512];  // why the last xf_st_read_* failed
};

// Opens and validates |path|. On failure writes a message naming the file and the offending tensor or
// field to |err| (|errlen| bytes) and returns XF_ERR_NOT_FOUND (no such file), XF_ERR_DATA_LOSS
// (corrupt or truncated), XF_ERR_UNIMPLEMENTED (a dtype the runtime cannot read) or
// XF_ERR_OUT_OF_MEMORY.
xf_status_t xf_st_open(const char* path, xf_st_file_t** out_file, char* err, size_t errlen);
void xf_st_close(xf_st_file_t* file);

// Returns the tensor called |name|, or NULL.
xf_st_tensor_t* xf_st_find(const xf_st_file_t* file, const char* name);

// Returns the string value of "__metadata__"[key], or NULL.
const char* xf_st_metadata(const xf_st_file_t* file, const char* key);

// Reads a float tensor (F32, F16, BF16) as |count| f32 values. Returns XF_ERR_INVALID_ARGUMENT for
// other dtypes or a count mismatch, and XF_ERR_DATA_LOSS (file->error says why) when the file cannot
// be read or changed since it was opened.
xf_status_t xf_st_read_f32(const xf_st_tensor_t* tensor, float* out, size_t count);
// Copies an I32 tensor (I64 narrowed with a range check) to |count| i32 values.
xf_status_t xf_st_read_i32(const xf_st_tensor_t* tensor, int32_t* out, size_t count);
// Reads an I8 tensor as stored.
xf_status_t xf_st_read_i8(const xf_st_tensor_t* tensor, int8_t* out, size_t count);

const char* xf_st_dtype_name(xf_st_dtype_t dtype);
size_t xf_st_dtype_size(xf_st_dtype_t dtype);
int xf_st_dtype_is_float(xf_st_dtype_t dtype);

#endif  // XF_LIB_SAFETENSORS_H_
