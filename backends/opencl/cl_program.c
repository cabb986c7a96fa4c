// SPDX-License-Identifier: MIT
// OpenCL program building and the on-disk program binary cache.
//
// A cache file holds one program binary for one device. Its name is a hash of the key (device name,
// driver version, platform version, build options, source hash); the file repeats the full key and
// carries a checksum of the binary, so a stale, truncated or corrupted file is detected, rebuilt
// and rewritten. Files are written to a temporary name and renamed, so readers never see a partial
// file. An unwritable directory only disables caching.
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cl_internal.h"
#include "embedded.h"

extern const xf_embedded_file_t xf_cl_kernels[];

// One program per file (and storage type), each prefixed by common.cl and built when a graph first
// needs one of its kernels: building and serialising a program compiles all of its kernels, so
// smaller programs keep the first run short.
static const char* const kernel_files[XF_CL_PROGRAM_FILES] = {
    "copy.cl",          "eltwise.cl",       "norm.cl",       "matmul_cpu.cl", "matmul_gpu.cl",
    "attention_cpu.cl", "attention_gpu.cl", "conv2d_cpu.cl", "conv2d_gpu.cl", "misc.cl",
};

#define CACHE_MAGIC "XFCLPRG1"

typedef struct cache_header_s {
    char magic[8];
    uint32_t key_len;
    uint32_t reserved;
    uint64_t payload_len;
    uint64_t payload_hash;
} cache_header_t;

static pthread_mutex_t stats_lock = PTHREAD_MUTEX_INITIALIZER;
static xf_cl_cache_stats_t stats;

void xf_cl_cache_stats(xf_cl_cache_stats_t* out) {
    pthread_mutex_lock(&stats_lock);
    *out = stats;
    pthread_mutex_unlock(&stats_lock);
}

static void count(uint64_t* field) {
    pthread_mutex_lock(&stats_lock);
    ++*field;
    pthread_mutex_unlock(&stats_lock);
}

static uint64_t fnv1a(const void* data, size_t n, uint64_t h) {
    const unsigned char* p = data;
    for (size_t i = 0; i < n; ++i) {
        h ^= p[i];
        h *= 0x100000001b3ull;
    }
    return h;
}
#define FNV_SEED 0xcbf29ce484222325ull

// Returns the cache directory in |out| (created if missing), or false when caching is off.
static bool cache_dir(char* out, size_t cap) {
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
    // mkdir -p
    for (char* p = out + 1; *p; ++p) {
        if (*p != '/') continue;
        *p = '\0';
        if (mkdir(out, 0755) != 0 && errno != EEXIST) {
            *p = '/';
            return false;
        }
        *p = '/';
    }
    if (mkdir(out, 0755) != 0 && errno != EEXIST) return false;
    return true;
}

// Reads a cache file; returns the binary (malloc'd) if the header, key and checksum match.
static unsigned char* cache_read(const char* path, const char* key, size_t* out_len) {
    FILE* f = fopen(path, "rb");
    if (!f) return NULL;
    cache_header_t h;
    size_t key_len = strlen(key);
    unsigned char* payload = NULL;
    char* stored_key = NULL;
    bool ok = fread(&h, sizeof h, 1, f) == 1 && memcmp(h.magic, CACHE_MAGIC, 8) == 0 &&
              h.key_len == key_len && h.payload_len > 0 && h.payload_len < ((uint64_t)1 << 32);
    if (ok) {
        stored_key = malloc(key_len + 1);
        payload = malloc(h.payload_len);
        ok = stored_key && payload && fread(stored_key, 1, key_len, f) == key_len &&
             memcmp(stored_key, key, key_len) == 0 && fread(payload, 1, h.payload_len, f) == h.payload_len &&
             fnv1a(payload, h.payload_len, FNV_SEED) == h.payload_hash && fgetc(f) == EOF;
    }
    fclose(f);
    free(stored_key);
    if (!ok) {
        free(payload);
        count(&stats.cache_rejects);
        return NULL;
    }
    *out_len = h.payload_len;
    return payload;
}

static void cache_write(const char* path, const char* key, const unsigned char* bin, size_t len) {
    static unsigned long serial;
    pthread_mutex_lock(&stats_lock);
    unsigned long id = ++serial;
    pthread_mutex_unlock(&stats_lock);
    char tmp[1200];
    if ((size_t)snprintf(tmp, sizeof tmp, "%s.tmp.%ld.%lu", path, (long)getpid(), id) >= sizeof tmp) return;
    FILE* f = fopen(tmp, "wb");
    if (!f) return;
    cache_header_t h;
    memcpy(h.magic, CACHE_MAGIC, 8);
    h.key_len = (uint32_t)strlen(key);
    h.reserved = 0;
    h.payload_len = len;
    h.payload_hash = fnv1a(bin, len, FNV_SEED);
    bool ok = fwrite(&h, sizeof h, 1, f) == 1 && fwrite(key, 1, h.key_len, f) == h.key_len &&
              fwrite(bin, 1, len, f) == len;
    ok = (fclose(f) == 0) && ok;
    if (ok && rename(tmp, path) == 0) {
        count(&stats.cache_writes);
    } else {
        unlink(tmp);
    }
}

// Reports a failed build with the beginning of its build log.
static xf_status_t build_failed(xf_device_t* dev, cl_program prog, cl_int rc, const char* options,
                                xf_err_t* err) {
    char log[1536] = "";
    size_t len = 0;
    xf_cl.clGetProgramBuildInfo(prog, dev->device, CL_PROGRAM_BUILD_LOG, 0, NULL, &len);
    char* full = len ? malloc(len + 1) : NULL;
    if (full &&
        xf_cl.clGetProgramBuildInfo(prog, dev->device, CL_PROGRAM_BUILD_LOG, len, full, NULL) == CL_SUCCESS) {
        full[len] = '\0';
        snprintf(log, sizeof log, "%s", full);
    }
    free(full);
    return xf_err_set(
        err, rc == CL_OUT_OF_HOST_MEMORY || rc == CL_OUT_OF_RESOURCES ? XF_ERR_OUT_OF_MEMORY : XF_ERR_BACKEND,
        "clBuildProgram failed: %s (%d) for %s with options '%s'; build log:\n%s", xf_cl_error_name(rc),
        (int)rc, dev->info.name, options, log);
}

xf_status_t xf_cl_build_source(xf_device_t* dev, const char* src, const char* options, cl_program* out,
                               xf_err_t* err) {
    cl_int rc = CL_SUCCESS;
    cl_program prog = xf_cl.clCreateProgramWithSource(dev->context, 1, &src, NULL, &rc);
    if (rc != CL_SUCCESS) return xf_cl_fail(err, rc, "clCreateProgramWithSource", NULL);
    rc = xf_cl.clBuildProgram(prog, 1, &dev->device, options, NULL, NULL);
    if (rc != CL_SUCCESS) {
        xf_status_t st = build_failed(dev, prog, rc, options, err);
        xf_cl.clReleaseProgram(prog);
        return st;
    }
    count(&stats.builds);
    *out = prog;
    return XF_OK;
}

static cl_program build_from_binary(xf_device_t* dev, const unsigned char* bin, size_t len,
                                    const char* options) {
    cl_int rc = CL_SUCCESS, bin_status = CL_SUCCESS;
    cl_program prog =
        xf_cl.clCreateProgramWithBinary(dev->context, 1, &dev->device, &len, &bin, &bin_status, &rc);
    if (rc != CL_SUCCESS || bin_status != CL_SUCCESS) return NULL;
    if (xf_cl.clBuildProgram(prog, 1, &dev->device, options, NULL, NULL) != CL_SUCCESS) {
        xf_cl.clReleaseProgram(prog);
        return NULL;
    }
    return prog;
}

static unsigned char* program_binary(cl_program prog, size_t* out_len) {
    size_t len = 0;
    if (xf_cl.clGetProgramInfo(prog, CL_PROGRAM_BINARY_SIZES, sizeof len, &len, NULL) != CL_SUCCESS ||
        len == 0) {
        return NULL;
    }
    unsigned char* bin = malloc(len);
    if (!bin) return NULL;
    if (xf_cl.clGetProgramInfo(prog, CL_PROGRAM_BINARIES, sizeof bin, &bin, NULL) != CL_SUCCESS) {
        free(bin);
        return NULL;
    }
    *out_len = len;
    return bin;
}

static bool is_ident(char c) {
    return c == '_' || (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

// Returns true if |text| defines or instantiates |name| (followed by '(' or ',').
static bool mentions_kernel(const char* text, const char* name) {
    size_t n = strlen(name);
    for (const char* at = strstr(text, name); at; at = strstr(at + 1, name)) {
        if ((at == text || !is_ident(at[-1])) && (at[n] == '(' || at[n] == ',')) return true;
    }
    return false;
}

// Returns common.cl + the file's source (malloc'd), or NULL.
static char* program_source(const char* file) {
    const xf_embedded_file_t* common = xf_embedded_find(xf_cl_kernels, "common.cl");
    const xf_embedded_file_t* f = xf_embedded_find(xf_cl_kernels, file);
    if (!common || !f) return NULL;
    char* src = malloc(common->size + f->size + 2);
    if (!src) return NULL;
    memcpy(src, common->data, common->size);
    src[common->size] = '\n';
    memcpy(src + common->size + 1, f->data, f->size + 1);
    return src;
}

xf_status_t xf_cl_program_get(xf_device_t* dev, xf_dtype_t dtype, const char* kernel, cl_program* out,
                              xf_err_t* err) {
    int slot = dtype == XF_DTYPE_F16 ? XF_CL_PROGRAM_F16 : XF_CL_PROGRAM_F32;
    int file = -1;
    for (int i = 0; i < XF_CL_PROGRAM_FILES && file < 0; ++i) {
        const xf_embedded_file_t* f = xf_embedded_find(xf_cl_kernels, kernel_files[i]);
        if (f && mentions_kernel((const char*)f->data, kernel)) file = i;
    }
    if (file < 0) return xf_err_set(err, XF_ERR_INTERNAL, "no OpenCL kernel file defines '%s'", kernel);
    if (dev->programs[slot][file]) {
        *out = dev->programs[slot][file];
        return XF_OK;
    }
    char* src = program_source(kernel_files[file]);
    if (!src) return xf_err_set(err, XF_ERR_INTERNAL, "OpenCL kernel sources are missing from the library");
    char options[256];
    snprintf(options, sizeof options, "-cl-std=CL1.2 -DXF_F16=%d -DXF_TILE=%d", slot == XF_CL_PROGRAM_F16,
             dev->tile);
    char key[1200];
    snprintf(key, sizeof key, "%s|%s|%s|%s|%s|%016llx", dev->info.name, dev->info.driver_version,
             dev->platform_version, options, kernel_files[file],
             (unsigned long long)fnv1a(src, strlen(src), FNV_SEED));
    char dir[900], path[1100];
    bool caching = cache_dir(dir, sizeof dir);
    if (caching) {
        snprintf(path, sizeof path, "%s/opencl-%016llx.bin", dir,
                 (unsigned long long)fnv1a(key, strlen(key), FNV_SEED));
    }
    cl_program prog = NULL;
    if (caching) {
        size_t len = 0;
        unsigned char* bin = cache_read(path, key, &len);
        if (bin) {
            prog = build_from_binary(dev, bin, len, options);
            count(prog ? &stats.cache_hits : &stats.cache_rejects);
            free(bin);
        }
    }
    xf_status_t st = XF_OK;
    if (!prog) {
        st = xf_cl_build_source(dev, src, options, &prog, err);
        if (st == XF_OK && caching) {
            size_t len = 0;
            unsigned char* bin = program_binary(prog, &len);
            if (bin) cache_write(path, key, bin, len);
            free(bin);
        }
    }
    free(src);
    if (st != XF_OK) return st;
    dev->programs[slot][file] = prog;
    *out = prog;
    return XF_OK;
}
