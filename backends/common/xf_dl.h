// SPDX-License-Identifier: MIT
// Run-time loading of a GPU API's shared library.
#ifndef XF_DL_H
#define XF_DL_H

#include <stddef.h>

// Returns a handle (RTLD_NOW | RTLD_LOCAL) to the first of |names| that loads, or NULL; then
// dlerror() describes the last attempt.
void* xf_dl_open_first(const char* const* names, size_t count);

#endif
