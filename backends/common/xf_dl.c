// SPDX-License-Identifier: MIT
// Run-time loading of a GPU API's shared library.
#include "xf_dl.h"

#include <dlfcn.h>

void* xf_dl_open_first(const char* const* names, size_t count) {
    void* lib = NULL;
    for (size_t i = 0; i < count && !lib; ++i) lib = dlopen(names[i], RTLD_NOW | RTLD_LOCAL);
    return lib;
}
