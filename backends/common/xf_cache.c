// SPDX-License-Identifier: MIT
// On-disk cache plumbing shared by the GPU backends.
#include "xf_cache.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "backend.h"

typedef struct xf_cache_header_s {
    char magic[8];
    uint32_t key_len;
    uint32_t reserved;
    uint64_t payload_len;
    uint64_t payload_hash;
} xf_cache_header_t;

// Larger payloads are taken for corruption rather than allocated.
#define XF_CACHE_MAX_PAYLOAD ((uint64_t)1 << 32)

uint64_t xf_fnv1a(const void* data, size_t n, uint64_t seed) {
    const unsigned char* p = data;
    uint64_t h = seed;
    for (size_t i = 0; i < n; ++i) {
        h ^= p[i];
        h *= 0x100000001b3ull;
    }
    return h;
}

static bool make_dir(const char* path) {
    return mkdir(path, 0755) == 0 || errno == EEXIST;
}

bool xf_cache_dir(char* out, size_t cap) {
    const char* dir = getenv("XFORMER_CACHE_DIR");
    const char* xdg = getenv("XDG_CACHE_HOME");
    const char* home = getenv("HOME");
    int n;
    if (dir && *dir) {
        n = snprintf(out, cap, "%s", dir);
    } else if (xdg && *xdg) {
        n = snprintf(out, cap, "%s/xformer", xdg);
    } else if (home && *home) {
        n = snprintf(out, cap, "%s/.cache/xformer", home);
    } else {
        return false;
    }
    if (n <= 0 || (size_t)n >= cap) return false;
    for (char* p = out + 1; *p; ++p) {
        if (*p != '/') continue;
        *p = '\0';
        bool ok = make_dir(out);
        *p = '/';
        if (!ok) return false;
    }
    return make_dir(out) && access(out, W_OK) == 0;
}

bool xf_cache_file_write(const char* path, const char* magic8, const char* key, const void* payload,
                         size_t len) {
    // Unique per process and call, so concurrent writers never share a temporary file.
    static atomic_ulong serial;
    unsigned long id = atomic_fetch_add(&serial, 1) + 1;
    size_t key_len = strlen(key);
    if (key_len > UINT32_MAX || (uint64_t)len >= XF_CACHE_MAX_PAYLOAD) return false;
    size_t tmp_cap = strlen(path) + 64;
    char* tmp = xf_malloc(tmp_cap);
    if (!tmp) return false;
    snprintf(tmp, tmp_cap, "%s.tmp.%ld.%lu", path, (long)getpid(), id);
    FILE* f = fopen(tmp, "wb");
    if (!f) {
        xf_free(tmp);
        return false;
    }
    xf_cache_header_t h = {.key_len = (uint32_t)key_len,
                           .payload_len = len,
                           .payload_hash = xf_fnv1a(payload, len, XF_FNV_SEED)};
    memcpy(h.magic, magic8, sizeof h.magic);
    bool ok = fwrite(&h, sizeof h, 1, f) == 1 && fwrite(key, 1, key_len, f) == key_len &&
              fwrite(payload, 1, len, f) == len;
    ok = fclose(f) == 0 && ok;
    ok = ok && rename(tmp, path) == 0;
    if (!ok) unlink(tmp);
    xf_free(tmp);
    return ok;
}

void* xf_cache_file_read(const char* path, const char* magic8, const char* key, size_t* out_len,
                         bool* out_invalid) {
    if (out_invalid) *out_invalid = false;
    FILE* f = fopen(path, "rb");
    if (!f) return NULL;
    xf_cache_header_t h;
    size_t key_len = strlen(key);
    char* stored_key = NULL;
    void* payload = NULL;
    bool ok = fread(&h, sizeof h, 1, f) == 1 && memcmp(h.magic, magic8, sizeof h.magic) == 0 &&
              h.key_len == key_len && h.payload_len > 0 && h.payload_len < XF_CACHE_MAX_PAYLOAD;
    if (ok) {
        stored_key = xf_malloc(key_len + 1);
        payload = xf_malloc(h.payload_len);
        ok = stored_key && payload && fread(stored_key, 1, key_len, f) == key_len &&
             memcmp(stored_key, key, key_len) == 0 && fread(payload, 1, h.payload_len, f) == h.payload_len &&
             xf_fnv1a(payload, h.payload_len, XF_FNV_SEED) == h.payload_hash && fgetc(f) == EOF;
    }
    fclose(f);
    xf_free(stored_key);
    if (!ok) {
        xf_free(payload);
        if (out_invalid) *out_invalid = true;
        return NULL;
    }
    *out_len = h.payload_len;
    return payload;
}
