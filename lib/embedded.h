// SPDX-License-Identifier: MIT
// Files embedded into the library at build time by tools/embed_files.py (kernel sources, SPIR-V).
#ifndef XF_LIB_EMBEDDED_H_
#define XF_LIB_EMBEDDED_H_

#include <stddef.h>

typedef struct xf_embedded_file_s {
    const char* name;  // base name, e.g. "matmul.cl"
    const unsigned char* data;  // NUL-terminated
    size_t size;  // without the terminating NUL
} xf_embedded_file_t;

// Returns the entry named |name| in a NULL-terminated table, or NULL.
const xf_embedded_file_t* xf_embedded_find(const xf_embedded_file_t* table, const char* name);

#endif  // XF_LIB_EMBEDDED_H_
