// SPDX-License-Identifier: MIT
// OpenCL program building and the on-disk program binary cache.
//
// A cache file holds one program binary for one device. Its name is a hash of the key (device name,
// driver version, platform version, build options, source hash); the file repeats the full key and
// carries a checksum of the binary, so a stale, truncated or corrupted file is detected, rebuilt
// and rewritten. Files are written to a temporary name and renamed, so readers never see a partial
// file. An unwritable directory only disables caching.
//
// Asking a driver for a program's binary can compile every kernel in it (PoCL: 0.5-1 s per program,
// doubling a cold start), and most drivers keep a cache of their own. So the first build of a
// program only leaves a marker file; a later build from source that is still slow shows a driver
// without such a cache, and only then is the binary written.
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../common/xf_cache.h"
#include "cl_internal.h"
#include "embedded.h"

extern const xf_embedded_file_t xf_cl_kernels[];

// One program per kernel file (and storage type): every embedded .cl except common.cl, each prefixed
// by xf_abi.h and common.cl and built when a graph first needs one of its kernels. Building and
// serialising a program compiles all of its kernels, so smaller programs keep the first run short.
static bool is_program_file(const char* name) {
    size_t n = strlen(name);
    return n > 3 && strcmp(name + n - 3, ".cl") == 0 && strcmp(name, "common.cl") != 0;
}

#define CACHE_MAGIC "XFCLPRG1"
#define SEEN_MAGIC "XFCLSEEN"
// A build from source slower than this was not served by a driver cache.
#define SLOW_BUILD_SECONDS 0.15

static bool eager_binaries;

void xf_cl_cache_set_eager(bool eager) {
    eager_binaries = eager;
}

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

// Reports a failed build with the beginning of its build log.
static xf_status_t build_failed(xf_device_t* dev, cl_program prog, cl_int rc, const char* options,
                                xf_err_t* err) {
    char log[1536] = "";
    size_t len = 0;
    xf_cl.clGetProgramBuildInfo(prog, dev->device, CL_PROGRAM_BUILD_LOG, 0, NULL, &len);
    char* full = len ? xf_malloc(len + 1) : NULL;
    if (full &&
        xf_cl.clGetProgramBuildInfo(prog, dev->device, CL_PROGRAM_BUILD_LOG, len, full, NULL) == CL_SUCCESS) {
        full[len] = '\0';
        snprintf(log, sizeof log, "%s", full);
    }
    xf_free(full);
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
    // Whatever the compiler said goes to the context's log, never to the user's stderr.
    size_t len = 0;
    if (dev->log.fn &&
        xf_cl.clGetProgramBuildInfo(prog, dev->device, CL_PROGRAM_BUILD_LOG, 0, NULL, &len) == CL_SUCCESS && len > 1) {
        char* log = xf_malloc(len + 1);
        if (log && xf_cl.clGetProgramBuildInfo(prog, dev->device, CL_PROGRAM_BUILD_LOG, len, log, NULL) == CL_SUCCESS) {
            log[len] = '\0';
            xf_sink_log(&dev->log, XF_LOG_DEBUG, "OpenCL build log (options '%s'): %.300s", options, log);
        }
        xf_free(log);
    }
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
    unsigned char* bin = xf_malloc(len);
    if (!bin) return NULL;
    if (xf_cl.clGetProgramInfo(prog, CL_PROGRAM_BINARIES, sizeof bin, &bin, NULL) != CL_SUCCESS) {
        xf_free(bin);
        return NULL;
    }
    *out_len = len;
    return bin;
}

static bool is_ident(char c) {
    return c == '_' || (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

// Returns true if |text| defines kernel |name| ("__kernel void name(") or instantiates it from a
// macro at the start of a line ("MACRO(name,"); comments that mention it do not count.
static bool defines_kernel(const char* text, const char* name) {
    static const char def[] = "__kernel void ";
    size_t n = strlen(name), d = sizeof def - 1;
    for (const char* at = strstr(text, name); at; at = strstr(at + 1, name)) {
        if ((size_t)(at - text) >= d && strncmp(at - d, def, d) == 0 && at[n] == '(') return true;
        if (at > text && at[-1] == '(' && at[n] == ',') {
            const char* line = at - 1;
            while (line > text && line[-1] != '\n') --line;
            while (line < at && is_ident(*line)) ++line;
            if (line == at - 1) return true;
        }
    }
    return false;
}

// Returns xf_abi.h + common.cl + the file's source (malloc'd), or NULL.
// The program's source: the ABI header, common.cl and |file|.
static xf_status_t program_source(const char* file, char** out, xf_err_t* err) {
    const xf_embedded_file_t* parts[3] = {xf_embedded_find(xf_cl_kernels, "xf_abi.h"),
                                          xf_embedded_find(xf_cl_kernels, "common.cl"),
                                          xf_embedded_find(xf_cl_kernels, file)};
    size_t total = 1;
    for (int i = 0; i < 3; ++i) {
        if (!parts[i])
            return xf_err_set(err, XF_ERR_INTERNAL, "OpenCL kernel source %s is missing from the library", file);
        total += parts[i]->size + 1;
    }
    char* src = xf_malloc(total);
    if (!src) return xf_err_set(err, XF_ERR_OUT_OF_MEMORY, "out of host memory for the OpenCL program %s", file);
    size_t at = 0;
    for (int i = 0; i < 3; ++i) {
        memcpy(src + at, parts[i]->data, parts[i]->size);
        at += parts[i]->size;
        src[at++] = '\n';
    }
    src[at] = '\0';
    *out = src;
    return XF_OK;
}

// Returns the program slot of (file, storage type, defines), or NULL when the table is full.
static cl_program* program_slot(xf_device_t* dev, int slot, int file, const char* defines) {
    if (!defines[0]) return &dev->programs[slot][file];
    for (int i = 0; i < dev->param_program_count; ++i) {
        xf_cl_param_program_t* p = &dev->param_programs[i];
        if (p->slot == slot && p->file == file && strcmp(p->defines, defines) == 0) return &p->program;
    }
    if (dev->param_program_count == XF_CL_PARAM_PROGRAMS) return NULL;
    xf_cl_param_program_t* p = &dev->param_programs[dev->param_program_count++];
    p->slot = slot;
    p->file = file;
    snprintf(p->defines, sizeof p->defines, "%s", defines);
    p->program = NULL;
    return &p->program;
}

xf_status_t xf_cl_program_get(xf_device_t* dev, xf_dtype_t dtype, const char* kernel, const char* defines,
                              cl_program* out, xf_err_t* err) {
    if (!defines) defines = "";
    if (strlen(defines) >= sizeof dev->param_programs[0].defines) {
        return xf_err_set(err, XF_ERR_INTERNAL, "kernel parameters '%s' are too long", defines);
    }
    int slot = dtype == XF_DTYPE_F16 ? XF_CL_PROGRAM_F16 : XF_CL_PROGRAM_F32;
    int file = -1;
    for (int i = 0; xf_cl_kernels[i].name && file < 0; ++i) {
        const xf_embedded_file_t* f = &xf_cl_kernels[i];
        if (is_program_file(f->name) && defines_kernel((const char*)f->data, kernel)) file = i;
    }
    if (file < 0) return xf_err_set(err, XF_ERR_INTERNAL, "no OpenCL kernel file defines '%s'", kernel);
    if (file >= XF_CL_PROGRAM_FILES) {
        return xf_err_set(err, XF_ERR_INTERNAL, "more than %d embedded OpenCL files; raise XF_CL_PROGRAM_FILES",
                          XF_CL_PROGRAM_FILES);
    }
    const char* file_name = xf_cl_kernels[file].name;
    cl_program* cached = program_slot(dev, slot, file, defines);
    if (!cached) {
        return xf_err_set(err, XF_ERR_INTERNAL, "more than %d parameterized OpenCL programs on one device",
                          XF_CL_PARAM_PROGRAMS);
    }
    if (*cached) {
        *out = *cached;
        return XF_OK;
    }
    char* src = NULL;
    xf_status_t st = program_source(file_name, &src, err);
    if (st != XF_OK) return st;
    char options[256];
    int row_width = dev->float_width <= 4 ? 4 : dev->float_width >= 16 ? 16 : 8;
    snprintf(options, sizeof options, "-cl-std=CL1.2 -w -DXF_F16=%d -DXF_TILE=%d -DXF_VW_ROW=%d%s%s",
             slot == XF_CL_PROGRAM_F16, dev->tile, row_width, defines[0] ? " " : "", defines);
    char key[1200];
    snprintf(key, sizeof key, "%s|%s|%s|%s|%s|%016llx", dev->info.name, dev->info.driver_version,
             dev->platform_version, options, file_name,
             (unsigned long long)xf_fnv1a(src, strlen(src), XF_FNV_SEED));
    char dir[900], path[1100];
    bool caching = xf_cache_dir(dir, sizeof dir);
    if (caching) {
        snprintf(path, sizeof path, "%s/opencl-%016llx.bin", dir,
                 (unsigned long long)xf_fnv1a(key, strlen(key), XF_FNV_SEED));
    }
    cl_program prog = NULL;
    bool seen = false;
    if (caching) {
        size_t len = 0;
        bool invalid = false;
        unsigned char* bin = xf_cache_file_read(path, CACHE_MAGIC, key, &len, &invalid);
        if (!bin && invalid) {
            void* marker = xf_cache_file_read(path, SEEN_MAGIC, key, &len, NULL);
            if (marker) {
                seen = true;
                invalid = false;
            }
            xf_free(marker);
        }
        if (invalid) count(&stats.cache_rejects);
        if (bin) {
            prog = build_from_binary(dev, bin, len, options);
            count(prog ? &stats.cache_hits : &stats.cache_rejects);
            xf_free(bin);
        }
    }
    st = XF_OK;
    if (!prog) {
        xf_sink_log(&dev->log, XF_LOG_INFO, "compiling OpenCL program %s%s%s for %s", file_name, defines[0] ? " " : "",
                  defines, dev->info.name);
        double start = xf_seconds();
        st = xf_cl_build_source(dev, src, options, &prog, err);
        bool slow = xf_seconds() - start > SLOW_BUILD_SECONDS;
        if (st == XF_OK && caching && (eager_binaries || (seen && slow))) {
            size_t len = 0;
            unsigned char* bin = program_binary(prog, &len);
            if (bin && xf_cache_file_write(path, CACHE_MAGIC, key, bin, len)) count(&stats.cache_writes);
            xf_free(bin);
        } else if (st == XF_OK && caching && !seen) {
            if (xf_cache_file_write(path, SEEN_MAGIC, key, "seen", 4)) count(&stats.cache_marks);
        }
    }
    xf_free(src);
    if (st != XF_OK) return st;
    *cached = prog;
    *out = prog;
    return XF_OK;
}
