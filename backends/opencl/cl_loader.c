// SPDX-License-Identifier: MIT
// Run-time loading of the OpenCL ICD loader and OpenCL error reporting.
#define _GNU_SOURCE  // RTLD_DEFAULT
#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "../common/xf_dl.h"
#include "cl_internal.h"

xf_cl_syms_t xf_cl;

static pthread_once_t load_once = PTHREAD_ONCE_INIT;
static bool load_ok;
static char load_error[512];

xf_driver_cache_t xf_cl_driver_cache = XF_DRIVER_CACHE_INIT("POCL_CACHE_DIR", "pocl");

static void load(void) {
    xf_driver_cache_init(&xf_cl_driver_cache);
#if defined(__APPLE__)
    static const char* const names[] = {"/System/Library/Frameworks/OpenCL.framework/OpenCL", "libOpenCL.dylib"};
#else
    static const char* const names[] = {"libOpenCL.so.1", "libOpenCL.so"};
#endif
    // An OpenCL already in the process wins: the application's own -lOpenCL, or a preloaded tool
    // such as oclgrind, which must see every call.
    bool in_process = dlsym(RTLD_DEFAULT, "clGetPlatformIDs") != NULL;
    // RTLD_DEFAULT is NULL in glibc: test |in_process|, not |lib|.
    void* lib = in_process ? RTLD_DEFAULT : xf_dl_open_first(names, sizeof names / sizeof names[0]);
    if (!in_process && !lib) {
        const char* why = dlerror();
        snprintf(
            load_error, sizeof load_error,
            "cannot load the OpenCL ICD loader %s (%s); install one (e.g. ocl-icd-libopencl1) "
            "and an OpenCL driver (e.g. pocl-opencl-icd)",
            names[0], why ? why : "not found");
        return;
    }
#define X(name)                                                                                            \
    xf_cl.name = (__typeof__(xf_cl.name))dlsym(lib, #name);                                                \
    if (!xf_cl.name) {                                                                                     \
        snprintf(load_error, sizeof load_error, "the OpenCL loader lacks %s; it is older than OpenCL 1.2", \
                 #name);                                                                                   \
        if (!in_process) dlclose(lib);                                                                     \
        return;                                                                                            \
    }
#include "cl_syms.def"
#undef X
    load_ok = true;
}

bool xf_cl_load(xf_err_t* err) {
    pthread_once(&load_once, load);
    if (!load_ok && err) xf_err_set(err, XF_ERR_UNAVAILABLE, "%s", load_error);
    return load_ok;
}

typedef struct cl_error_name_s {
    cl_int code;
    const char* name;
} cl_error_name_t;

// clang-format off
#define E(c) {c, #c},
static const cl_error_name_t error_names[] = {
    E(CL_SUCCESS)
    E(CL_DEVICE_NOT_FOUND)
    E(CL_DEVICE_NOT_AVAILABLE)
    E(CL_COMPILER_NOT_AVAILABLE)
    E(CL_MEM_OBJECT_ALLOCATION_FAILURE)
    E(CL_OUT_OF_RESOURCES)
    E(CL_OUT_OF_HOST_MEMORY)
    E(CL_PROFILING_INFO_NOT_AVAILABLE)
    E(CL_MEM_COPY_OVERLAP)
    E(CL_IMAGE_FORMAT_MISMATCH)
    E(CL_IMAGE_FORMAT_NOT_SUPPORTED)
    E(CL_BUILD_PROGRAM_FAILURE)
    E(CL_MAP_FAILURE)
    E(CL_MISALIGNED_SUB_BUFFER_OFFSET)
    E(CL_EXEC_STATUS_ERROR_FOR_EVENTS_IN_WAIT_LIST)
    E(CL_COMPILE_PROGRAM_FAILURE)
    E(CL_LINKER_NOT_AVAILABLE)
    E(CL_LINK_PROGRAM_FAILURE)
    E(CL_DEVICE_PARTITION_FAILED)
    E(CL_KERNEL_ARG_INFO_NOT_AVAILABLE)
    E(CL_INVALID_VALUE)
    E(CL_INVALID_DEVICE_TYPE)
    E(CL_INVALID_PLATFORM)
    E(CL_INVALID_DEVICE)
    E(CL_INVALID_CONTEXT)
    E(CL_INVALID_QUEUE_PROPERTIES)
    E(CL_INVALID_COMMAND_QUEUE)
    E(CL_INVALID_HOST_PTR)
    E(CL_INVALID_MEM_OBJECT)
    E(CL_INVALID_IMAGE_FORMAT_DESCRIPTOR)
    E(CL_INVALID_IMAGE_SIZE)
    E(CL_INVALID_SAMPLER)
    E(CL_INVALID_BINARY)
    E(CL_INVALID_BUILD_OPTIONS)
    E(CL_INVALID_PROGRAM)
    E(CL_INVALID_PROGRAM_EXECUTABLE)
    E(CL_INVALID_KERNEL_NAME)
    E(CL_INVALID_KERNEL_DEFINITION)
    E(CL_INVALID_KERNEL)
    E(CL_INVALID_ARG_INDEX)
    E(CL_INVALID_ARG_VALUE)
    E(CL_INVALID_ARG_SIZE)
    E(CL_INVALID_KERNEL_ARGS)
    E(CL_INVALID_WORK_DIMENSION)
    E(CL_INVALID_WORK_GROUP_SIZE)
    E(CL_INVALID_WORK_ITEM_SIZE)
    E(CL_INVALID_GLOBAL_OFFSET)
    E(CL_INVALID_EVENT_WAIT_LIST)
    E(CL_INVALID_EVENT)
    E(CL_INVALID_OPERATION)
    E(CL_INVALID_GL_OBJECT)
    E(CL_INVALID_BUFFER_SIZE)
    E(CL_INVALID_MIP_LEVEL)
    E(CL_INVALID_GLOBAL_WORK_SIZE)
    E(CL_INVALID_PROPERTY)
    E(CL_INVALID_IMAGE_DESCRIPTOR)
    E(CL_INVALID_COMPILER_OPTIONS)
    E(CL_INVALID_LINKER_OPTIONS)
    E(CL_INVALID_DEVICE_PARTITION_COUNT)
};
// clang-format on
#undef E

const char* xf_cl_error_name(cl_int code) {
    for (size_t i = 0; i < sizeof error_names / sizeof error_names[0]; ++i) {
        if (error_names[i].code == code) return error_names[i].name;
    }
    return "unknown OpenCL error";
}

xf_status_t xf_cl_fail(xf_err_t* err, cl_int code, const char* what, const char* where) {
    xf_status_t status = XF_ERR_BACKEND;
    const char* hint = "";
    switch (code) {
        case CL_MEM_OBJECT_ALLOCATION_FAILURE:
        case CL_OUT_OF_RESOURCES:
        case CL_OUT_OF_HOST_MEMORY:
            status = XF_ERR_OUT_OF_MEMORY;
            hint = "; free tensors or use a smaller model/batch";
            break;
        case CL_DEVICE_NOT_AVAILABLE:
        case CL_DEVICE_NOT_FOUND:
            status = XF_ERR_UNAVAILABLE;
            break;
        default:
            break;
    }
    return xf_err_set(err, status, "%s failed: %s (%d)%s%s%s", what, xf_cl_error_name(code), (int)code,
                      where && *where ? " in " : "", where ? where : "", hint);
}
