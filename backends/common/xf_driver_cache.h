// SPDX-License-Identifier: MIT
// The drivers' own on-disk caches (PoCL's kernel cache, Mesa's shader cache). Unless the user chose their
// place, they live in libxformer's cache directory, and a process that dies while the driver compiles (and
// may have left a half-written entry that makes the driver abort in every later process) leaves a marker
// by which the next process clears that cache before using the driver.
#ifndef XF_DRIVER_CACHE_H
#define XF_DRIVER_CACHE_H

#include <pthread.h>
#include <stdbool.h>

typedef struct xf_driver_cache_s {
    const char* env;   // the driver's variable for its cache directory, e.g. "POCL_CACHE_DIR"
    const char* name;  // the directory's name under <cache dir>/driver/
    pthread_mutex_t lock;
    bool owned;  // libxformer set |env|: the directory is its own to clear
    int depth;   // nested begin/end in this process
    char dir[512];
    char marker[600];
    int clears;  // stale markers acted on in this process, for tests
} xf_driver_cache_t;

#define XF_DRIVER_CACHE_INIT(env_name, dir_name) {(env_name), (dir_name), PTHREAD_MUTEX_INITIALIZER, false, 0, "", "", 0}

// Once per process, before the driver reads its environment: points |env| at <cache dir>/driver/<name>
// unless it is set, and clears that directory when a marker of a process that is gone is found.
void xf_driver_cache_init(xf_driver_cache_t* cache);

// Brackets work during which the driver may compile and write its cache (nesting is counted).
void xf_driver_cache_begin(xf_driver_cache_t* cache);
void xf_driver_cache_end(xf_driver_cache_t* cache);

#endif
