// SPDX-License-Identifier: MIT
// Run-time loading of a GPU API's shared library.
#ifndef XF_DL_H
#define XF_DL_H

#include <stddef.h>

// Returns a handle (RTLD_NOW | RTLD_LOCAL) to the first of |names| that loads, or NULL; then
// dlerror() describes the last attempt.
void* xf_dl_open_first(const char* const* names, size_t count);

// Keeps every loaded library whose path contains |name_part| loaded for the life of the process (one
// more reference that is never dropped). Drivers a loader would unload when its last instance goes:
// reloading them per instance costs time, and leak checkers cannot attribute an unloaded library's
// allocations.
void xf_dl_pin_loaded(const char* name_part);

#endif
