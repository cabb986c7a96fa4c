// SPDX-License-Identifier: MIT
// On-disk cache plumbing shared by the GPU backends: directory, hashing, checked file format.
#ifndef XF_CACHE_H
#define XF_CACHE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

// FNV-1a 64-bit offset basis; pass it as |seed| to start a hash, or a previous result to continue one.
#define XF_FNV_SEED 0xcbf29ce484222325ull

uint64_t xf_fnv1a(const void* data, size_t n, uint64_t seed);

// Writes the cache directory into |out| (XFORMER_CACHE_DIR, else $XDG_CACHE_HOME/xformer, else
// $HOME/.cache/xformer), creating it if missing. False means caching is off.
bool xf_cache_dir(char* out, size_t cap);

// A cache file is: an 8-byte magic, the key length, the payload length and hash, the key, the
// payload. Each backend keeps its own magic, so another backend's or format's file is rejected.
//
// Writes the file atomically (temporary name, then rename); returns false and leaves no file behind
// on failure.
bool xf_cache_file_write(const char* path, const char* magic8, const char* key, const void* payload,
                         size_t len);

// Returns the payload (malloc'd, *out_len bytes) if the file has |magic8| and |key|, its payload hash
// matches and nothing follows the payload; else NULL. |out_invalid| (may be NULL) tells a file that
// exists but was rejected from one that could not be opened.
void* xf_cache_file_read(const char* path, const char* magic8, const char* key, size_t* out_len,
                         bool* out_invalid);

#endif
