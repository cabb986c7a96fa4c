// SPDX-License-Identifier: MIT
// Run-time loading of a GPU API's shared library.
// dl_iterate_phdr and struct dl_phdr_info are GNU extensions.
#define _GNU_SOURCE
#include "xf_dl.h"

#include <dlfcn.h>
#include <link.h>
#include <string.h>

void* xf_dl_open_first(const char* const* names, size_t count) {
    void* lib = NULL;
    for (size_t i = 0; i < count && !lib; ++i) lib = dlopen(names[i], RTLD_NOW | RTLD_LOCAL);
    return lib;
}

static int pin_matching(struct dl_phdr_info* info, size_t size, void* part) {
    (void)size;
    if (info->dlpi_name && *info->dlpi_name && strstr(info->dlpi_name, (const char*)part)) {
        (void)dlopen(info->dlpi_name, RTLD_NOW | RTLD_NOLOAD);
    }
    return 0;
}

void xf_dl_pin_loaded(const char* name_part) { dl_iterate_phdr(pin_matching, (void*)name_part); }
