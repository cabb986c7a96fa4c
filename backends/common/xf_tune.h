// SPDX-License-Identifier: MIT
// Kernel-parameter tuning results of one device: a table in memory and one checked cache file per
// (backend, device, driver, kernel sources), shared by the GPU backends.
#ifndef XF_TUNE_H
#define XF_TUNE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

// One result: the best parameters found for a kernel and shape ("mm_packed f32 197x2304x768").
typedef struct xf_tune_entry_s {
    char key[64];
    int params[4];
    double us;  // its time
} xf_tune_entry_t;

typedef struct xf_tune_db_s {
    xf_tune_entry_t* entries;
    size_t count, capacity;
    char key[800];    // backend, device, driver, kernel-source hash
    char path[1100];  // empty: no cache directory
} xf_tune_db_t;

// Opens |db| for the file "tune-|backend|-<hash of key>.bin" in the cache directory and loads it. A
// file that fails its checks or does not parse is ignored (and rewritten at the next result).
void xf_tune_open(xf_tune_db_t* db, const char* backend, const char* key);
void xf_tune_close(xf_tune_db_t* db);
bool xf_tune_find(const xf_tune_db_t* db, const char* key, int params[4]);
// Adds a result and rewrites the file: it merges what other processes saved meanwhile and replaces
// the file atomically, so concurrent tuners never leave a torn file.
void xf_tune_store(xf_tune_db_t* db, const char* key, const int params[4], double us);

// Process-wide statistics (for tests).
typedef struct xf_tune_stats_s {
    uint64_t loaded;   // results read from tuning files
    uint64_t tuned;    // kernel/shape pairs timed on a device
    uint64_t rejects;  // tuning files found corrupt or mismatching (ignored, then rewritten)
    uint64_t writes;   // tuning files written
} xf_tune_stats_t;
void xf_tune_stats(xf_tune_stats_t* out);

#endif
