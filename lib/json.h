// SPDX-License-Identifier: MIT
// A strict JSON parser (RFC 8259) for safetensors headers and model configs. A document lives in one arena
// whose blocks come from the caller's allocation functions, so a failed allocation is an out-of-memory status
// (never a crash or a message blaming the file), and xf_json_free releases everything. No global state.
// Rejected: duplicate object keys, invalid UTF-8, control characters in strings, nesting deeper than 64,
// anything after the value but whitespace.
#ifndef XF_LIB_JSON_H_
#define XF_LIB_JSON_H_

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "xformer.h"

typedef enum xf_json_type_e {
    XF_JSON_NULL,
    XF_JSON_BOOL,
    XF_JSON_INT,   // an integer literal that fits int64
    XF_JSON_REAL,  // any other number
    XF_JSON_STRING,
    XF_JSON_ARRAY,
    XF_JSON_OBJECT,
} xf_json_type_t;

typedef struct xf_json_s xf_json_t;
typedef struct xf_json_member_s xf_json_member_t;

struct xf_json_s {
    xf_json_type_t type;
    size_t count;  // array items, object members or string bytes
    union {
        bool b;
        int64_t i;
        double d;
        const char* s;  // NUL-terminated UTF-8 (may contain \u0000 as a NUL byte; |count| is the length)
        xf_json_t* items;
        xf_json_member_t* members;  // in document order
    } u;
};

struct xf_json_member_s {
    const char* key;
    xf_json_t value;
};

typedef struct xf_json_alloc_s {
    void* (*alloc)(void* user_data, size_t size);
    void (*free)(void* user_data, void* ptr);
    void* user_data;
} xf_json_alloc_t;

typedef struct xf_json_doc_s xf_json_doc_t;

// Parses |len| bytes of |text|. On success *out_doc owns the tree, whose root is xf_json_root(*out_doc). On
// failure returns XF_ERR_DATA_LOSS (malformed: *err_pos is the byte offset, |err| says what) or
// XF_ERR_OUT_OF_MEMORY. |alloc| may be NULL for malloc and free.
xf_status_t xf_json_parse(const xf_json_alloc_t* alloc, const char* text, size_t len, xf_json_doc_t** out_doc,
                          size_t* err_pos, char* err, size_t err_size);
void xf_json_free(xf_json_doc_t* doc);
const xf_json_t* xf_json_root(const xf_json_doc_t* doc);

// The member |key| of object |obj|, or NULL (also when |obj| is not an object).
const xf_json_t* xf_json_get(const xf_json_t* obj, const char* key);
// A number as a double (INT or REAL); false for anything else.
bool xf_json_number(const xf_json_t* v, double* out);
// "null", "true", "an integer", "a number", "a string", "an array", "an object".
const char* xf_json_type_name(const xf_json_t* v);
// Writes |v| compactly into |buf| for messages, cut with "..." when longer than |size| - 1.
void xf_json_snippet(const xf_json_t* v, char* buf, size_t size);
// Writes |v| as JSON text that parses back to the same value (no NUL is added); returns its length, which is
// more than |size| when it did not fit. xf_json_write(v, NULL, 0) measures.
size_t xf_json_write(const xf_json_t* v, char* buf, size_t size);

#endif  // XF_LIB_JSON_H_
