// SPDX-License-Identifier: MIT
// The table of compiled-in backends.
#include <string.h>

#include "backend.h"
#include "embedded.h"

extern const xf_backend_vtable_t xf_cpu_backend;
#ifdef XF_HAVE_OPENCL
extern const xf_backend_vtable_t xf_cl_backend;
#endif
#ifdef XF_HAVE_VULKAN
extern const xf_backend_vtable_t xf_vk_backend;
#endif

static const xf_backend_vtable_t* const backends[] = {
    &xf_cpu_backend,
#ifdef XF_HAVE_OPENCL
    &xf_cl_backend,
#endif
#ifdef XF_HAVE_VULKAN
    &xf_vk_backend,
#endif
};

const xf_backend_vtable_t* xf_backend_find(xf_backend_t kind) {
    for (size_t i = 0; i < sizeof backends / sizeof backends[0]; ++i) {
        if (backends[i]->kind == kind) return backends[i];
    }
    return NULL;
}

bool xf_backend_compiled(xf_backend_t kind) { return xf_backend_find(kind) != NULL; }

const xf_embedded_file_t* xf_embedded_find(const xf_embedded_file_t* table, const char* name) {
    for (; table && table->name; ++table) {
        if (strcmp(table->name, name) == 0) return table;
    }
    return NULL;
}
