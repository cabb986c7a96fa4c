// SPDX-License-Identifier: MIT
// The backend registry: every backend libxformer knows, its name, whether this build has it, and
// where `auto` tries it. Nothing else in the core, the tools or the tests names a backend.
#include <stdio.h>
#include <string.h>

#include "core.h"
#include "embedded.h"

extern const xf_backend_vtable_t xf_cpu_backend;
#ifdef XF_HAVE_OPENCL
extern const xf_backend_vtable_t xf_cl_backend;
#define XF_CL_VTABLE &xf_cl_backend
#else
#define XF_CL_VTABLE NULL
#endif
#ifdef XF_HAVE_VULKAN
extern const xf_backend_vtable_t xf_vk_backend;
#define XF_VK_VTABLE &xf_vk_backend
#else
#define XF_VK_VTABLE NULL
#endif

// The GPU kernels' storage types: bf16 is converted on the host until kernels read it (the weights issue).
#define XF_DTYPES_GPU ((1u << XF_DTYPE_F32) | (1u << XF_DTYPE_F16) | (1u << XF_DTYPE_I32))

// auto_rank, auto_rank_cpu: the order among backends for `auto` (0: only the fallback after all others).
// On CPU-type devices PoCL's barrier-free kernels run 6-15x faster than lavapipe's shaders
// (docs/PERFORMANCE.md), so OpenCL comes first there; on GPUs Vulkan does.
static const xf_backend_entry_t registry[] = {
    {XF_BACKEND_CPU, "cpu", &xf_cpu_backend, 0, 0, "", XF_DTYPES_ANY, XF_DTYPES_FLOAT | XF_DTYPES_QUANT},
    {XF_BACKEND_OPENCL, "opencl", XF_CL_VTABLE, 2, 1, "gpu fused tuned", XF_DTYPES_GPU, XF_DTYPES_FLOAT | XF_DTYPES_QUANT},
    {XF_BACKEND_VULKAN, "vulkan", XF_VK_VTABLE, 1, 2, "gpu nofp16+nosubgroup+smallbind", XF_DTYPES_GPU,
     XF_DTYPES_FLOAT | XF_DTYPES_QUANT},
};
#define REGISTRY_SIZE (sizeof registry / sizeof registry[0])

const xf_backend_entry_t* xf_backend_entries(size_t* out_count) {
    *out_count = REGISTRY_SIZE;
    return registry;
}

static const xf_backend_entry_t* entry_of(xf_backend_t kind) {
    for (size_t i = 0; i < REGISTRY_SIZE; ++i) {
        if (registry[i].kind == kind) return &registry[i];
    }
    return NULL;
}

unsigned xf_backend_dtypes(xf_backend_t kind) {
    const xf_backend_entry_t* e = entry_of(kind);
    return e ? e->dtypes : 0;
}

unsigned xf_backend_weight_dtypes(xf_backend_t kind) {
    const xf_backend_entry_t* e = entry_of(kind);
    return e ? e->dtypes | e->weight_dtypes : 0;
}

const xf_backend_vtable_t* xf_backend_find(xf_backend_t kind) {
    const xf_backend_entry_t* e = entry_of(kind);
    return e ? e->vtable : NULL;
}

bool xf_backend_compiled(xf_backend_t kind) { return xf_backend_find(kind) != NULL; }

const char* xf_backend_name(xf_backend_t backend) {
    const xf_backend_entry_t* e = entry_of(backend);
    if (e) return e->name;
    return backend == XF_BACKEND_AUTO ? "auto" : backend == XF_BACKEND_FROM_ENV ? "from-env" : "unknown";
}

void xf_backend_names(char* out, size_t size) {
    snprintf(out, size, "auto");
    for (size_t i = 0; i < REGISTRY_SIZE; ++i) {
        size_t len = strlen(out);
        if (registry[i].vtable) snprintf(out + len, size - len, ", %s", registry[i].name);
    }
}

xf_status_t xf_backend_from_name(const char* name, xf_backend_t* out_backend) {
    if (!name || !out_backend) return xf_set_last_error(XF_ERR_INVALID_ARGUMENT, "xf_backend_from_name: NULL argument");
    if (strcmp(name, "auto") == 0) {
        *out_backend = XF_BACKEND_AUTO;
        return XF_OK;
    }
    const xf_backend_entry_t* e = NULL;
    for (size_t i = 0; i < REGISTRY_SIZE && !e; ++i) {
        if (strcmp(registry[i].name, name) == 0) e = &registry[i];
    }
    char names[128];
    xf_backend_names(names, sizeof names);
    if (!e) return xf_set_last_error(XF_ERR_INVALID_ARGUMENT, "'%s' is not a backend; valid choices in this build: %s",
                                     name, names);
    *out_backend = e->kind;
    if (!e->vtable) {
        return xf_set_last_error(XF_ERR_UNAVAILABLE,
                                 "the %s backend is not compiled into this build of libxformer; valid choices: %s",
                                 name, names);
    }
    return XF_OK;
}

size_t xf_backend_list(xf_backend_t* out_backends, size_t capacity) {
    size_t n = 0;
    for (size_t i = 0; i < REGISTRY_SIZE; ++i) {
        if (!registry[i].vtable) continue;
        if (n < capacity && out_backends) out_backends[n] = registry[i].kind;
        ++n;
    }
    return n;
}

const xf_embedded_file_t* xf_embedded_find(const xf_embedded_file_t* table, const char* name) {
    for (; table && table->name; ++table) {
        if (strcmp(table->name, name) == 0) return table;
    }
    return NULL;
}
