// SPDX-License-Identifier: MIT
// Contexts: backend and device selection, device listing.
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core.h"

void xf_context_options_init(xf_context_options_t* out_options) {
    if (!out_options) return;
    memset(out_options, 0, sizeof *out_options);
    out_options->backend = XF_BACKEND_FROM_ENV;
    out_options->device = -1;
    out_options->log_level = -1;
}

static xf_status_t backend_from_env(xf_backend_t* out) {
    const char* v = getenv("XFORMER_BACKEND");
    if (!v || !*v) {
        *out = XF_BACKEND_AUTO;
        return XF_OK;
    }
    xf_status_t st = xf_backend_from_name(v, out);
    if (st == XF_ERR_INVALID_ARGUMENT) {
        char names[128];
        xf_backend_names(names, sizeof names);
        return xf_set_last_error(st, "XFORMER_BACKEND='%s' is not a backend; valid choices in this build: %s", v,
                                 names);
    }
    // A known backend this build lacks is reported when the context is created, as for the options.
    return st == XF_ERR_UNAVAILABLE ? XF_OK : st;
}

// A device `auto` may take.
typedef struct candidate_s {
    const xf_backend_entry_t* row;
    xf_device_info_t info;
} candidate_t;

#define XF_AUTO_MAX_DEVICES 64

static int auto_key(const candidate_t* c) {
    int rank = xf_device_type_rank(c->info.type);
    return rank * 16 + (c->info.type == XF_DEVICE_TYPE_CPU ? c->row->auto_rank_cpu : c->row->auto_rank);
}

// Every device of every compiled GPU backend, in the order `auto` takes them: by device class
// (discrete GPU, integrated GPU, accelerator, other, CPU), then by the backend the registry ranks
// first for that class, then in the backend's own order.
static size_t auto_candidates(const xf_device_options_t* dopts, candidate_t* out, size_t cap) {
    size_t rows_n = 0, n = 0;
    const xf_backend_entry_t* rows = xf_backend_entries(&rows_n);
    for (size_t r = 0; r < rows_n; ++r) {
        if (!rows[r].vtable || rows[r].auto_rank == 0) continue;
        xf_device_info_t infos[16];
        size_t count = 0;
        xf_err_t err = {{0}};
        if (rows[r].vtable->list_devices(dopts, infos, 16, &count, &err) != XF_OK) continue;
        for (size_t i = 0; i < count && i < 16 && n < cap; ++i) out[n++] = (candidate_t){&rows[r], infos[i]};
    }
    for (size_t i = 1; i < n; ++i) {
        candidate_t c = out[i];
        size_t j = i;
        while (j > 0 && auto_key(&out[j - 1]) > auto_key(&c)) {
            out[j] = out[j - 1];
            --j;
        }
        out[j] = c;
    }
    return n;
}

static xf_status_t device_from_env(int* out) {
    const char* v = getenv("XFORMER_DEVICE");
    if (!v || !*v) {
        *out = 0;
        return XF_OK;
    }
    char* end = NULL;
    long n = strtol(v, &end, 10);
    if (*end != '\0' || n < 0 || n > 1 << 20) {
        return xf_set_last_error(XF_ERR_INVALID_ARGUMENT,
                                 "XFORMER_DEVICE='%s' is not a device index; use a number from 0 "
                                 "(list devices with xformer-devices)", v);
    }
    *out = (int)n;
    return XF_OK;
}

// Reads a word of |names| from environment variable |env| into *out (its index); unset or empty
// leaves *out alone. Anything else is an error naming the valid words.
static xf_status_t choice_from_env(const char* env, const char* const* names, int count, int* out) {
    const char* v = getenv(env);
    if (!v || !*v) return XF_OK;
    for (int i = 0; i < count; ++i) {
        if (strcmp(v, names[i]) == 0) {
            *out = i;
            return XF_OK;
        }
    }
    char valid[96] = "";
    for (int i = 0; i < count; ++i) {
        size_t len = strlen(valid);
        snprintf(valid + len, sizeof valid - len, "%s%s", i ? ", " : "", names[i]);
    }
    return xf_set_last_error(XF_ERR_INVALID_ARGUMENT, "%s='%s' is not valid; use one of: %s", env, v, valid);
}

// The kernel-variant choices: |opts| (or the defaults), overridden by the environment.
static xf_status_t device_options(const xf_context_options_t* opts, xf_device_options_t* out) {
    memset(out, 0, sizeof *out);
    if (opts) {
        out->kernels = opts->kernels;
        out->attention = opts->attention;
        out->disable = opts->disable_features;
        out->tune = opts->tune;
        out->max_binding = opts->max_binding_bytes;
    }
    if (out->max_binding && out->max_binding < 4096)
        return xf_set_last_error(XF_ERR_INVALID_ARGUMENT,
                                 "xf_context_create: max_binding_bytes %llu is below 4096 (0 means the device's limit)",
                                 (unsigned long long)out->max_binding);
    if ((unsigned)out->kernels > XF_KERNELS_GPU || (unsigned)out->attention > XF_ATTENTION_SPLIT ||
        (out->disable & ~(XF_FEATURE_FP16 | XF_FEATURE_SUBGROUP)) || (unsigned)out->tune > XF_TUNE_FULL) {
        return xf_set_last_error(XF_ERR_INVALID_ARGUMENT,
                                 "xf_context_create: unknown kernels (%d), attention (%d), disable_features (0x%x) or "
                                 "tune (%d)",
                                 (int)out->kernels, (int)out->attention, out->disable, (int)out->tune);
    }
    static const char* const styles[] = {"auto", "cpu", "gpu"};
    static const char* const attention[] = {"auto", "fused", "split"};
    static const char* const tune[] = {"off", "fast", "full"};
    int k = (int)out->kernels, a = (int)out->attention, t = (int)out->tune;
    xf_status_t st = choice_from_env("XFORMER_KERNELS", styles, 3, &k);
    if (st == XF_OK) st = choice_from_env("XFORMER_ATTENTION", attention, 3, &a);
    if (st == XF_OK) st = choice_from_env("XFORMER_TUNE", tune, 3, &t);
    if (st != XF_OK) return st;
    out->kernels = (xf_kernel_style_t)k;
    out->attention = (xf_attention_variant_t)a;
    out->tune = (xf_tune_t)t;
    // Read by the Vulkan backend; checked here so that a typo fails on every backend.
    static const char* const off_on[] = {"0", "1"};
    int unused = 0;
    if ((st = choice_from_env("XFORMER_VK_VALIDATION", off_on, 2, &unused)) != XF_OK ||
        (st = choice_from_env("XFORMER_VK_STAGING", off_on, 2, &unused)) != XF_OK)
        return st;
    const char* v = getenv("XFORMER_DISABLE");
    if (v && *v) {
        out->disable = 0;
        char buf[128];
        snprintf(buf, sizeof buf, "%s", v);
        char* save = NULL;
        for (char* w = strtok_r(buf, ",", &save); w; w = strtok_r(NULL, ",", &save)) {
            if (strcmp(w, "fp16") == 0) {
                out->disable |= XF_FEATURE_FP16;
            } else if (strcmp(w, "subgroup") == 0) {
                out->disable |= XF_FEATURE_SUBGROUP;
            } else {
                return xf_set_last_error(XF_ERR_INVALID_ARGUMENT,
                                         "XFORMER_DISABLE='%s': '%s' is not a feature; use fp16, subgroup or both, "
                                         "comma-separated", v, w);
            }
        }
    }
    return XF_OK;
}

static void device_log(void* user, xf_log_level_t level, const char* message) {
    xf_log(user, level, "%s", message);
}

static xf_status_t open_device(const xf_backend_vtable_t* be, int index, const xf_device_options_t* dopts,
                               xf_context_t* ctx) {
    xf_err_t err = {{0}};
    size_t count = 0;
    xf_status_t st = be->list_devices(dopts, NULL, 0, &count, &err);
    if (st != XF_OK) return xf_set_last_error(st, "%s backend: %s", be->name, err.msg);
    if (count == 0) {
        return xf_set_last_error(XF_ERR_UNAVAILABLE, "%s backend has no device%s%s", be->name,
                                 err.msg[0] ? ": " : "", err.msg);
    }
    if ((size_t)index >= count) {
        return xf_set_last_error(XF_ERR_OUT_OF_RANGE,
                                 "device index %d is out of range: the %s backend has %zu device%s (valid: 0..%zu)",
                                 index, be->name, count, count == 1 ? "" : "s", count - 1);
    }
    st = be->device_open(index, dopts, &ctx->device, &err);
    if (st != XF_OK) return xf_set_last_error(st, "%s device %d: %s", be->name, index, err.msg);
    ctx->backend = be;
    be->device_info(ctx->device, &ctx->info);
    return XF_OK;
}

// Drivers' enumeration and instance setup are not thread-safe (PoCL crashes with two threads in
// it), so every opening, closing and listing of devices holds this lock.
static pthread_mutex_t driver_lock = PTHREAD_MUTEX_INITIALIZER;

static xf_status_t context_create_locked(const xf_context_options_t* options, xf_context_t** out_context) {
    if (!out_context) return xf_set_last_error(XF_ERR_INVALID_ARGUMENT, "xf_context_create: out_context is NULL");
    *out_context = NULL;
    xf_context_options_t opts;
    if (options) {
        opts = *options;
    } else {
        xf_context_options_init(&opts);
    }
    xf_backend_t kind = opts.backend;
    if (kind == XF_BACKEND_FROM_ENV) {
        xf_status_t st = backend_from_env(&kind);
        if (st != XF_OK) return st;
    } else if ((unsigned)kind > XF_BACKEND_VULKAN) {
        return xf_set_last_error(XF_ERR_INVALID_ARGUMENT, "xf_context_create: unknown backend value %d", (int)kind);
    }
    int index = opts.device;
    if (index < 0) {
        xf_status_t st = device_from_env(&index);
        if (st != XF_OK) return st;
    }
    xf_device_options_t dopts;
    xf_status_t dst = device_options(&opts, &dopts);
    int log_level = XF_LOG_WARN;
    static const char* const levels[] = {"error", "warn", "info", "debug"};
    if (dst == XF_OK && opts.log_level < 0) dst = choice_from_env("XFORMER_LOG", levels, 4, &log_level);
    if (dst != XF_OK) return dst;

    const xf_allocator_t* a = &opts.allocator;
    if ((a->alloc || a->realloc || a->free || a->user_data) && !(a->alloc && a->free))
        return xf_set_last_error(XF_ERR_INVALID_ARGUMENT,
                                 "xf_context_create: the allocator needs alloc and free (realloc is optional)");
    xf_alloc_use(a);
    xf_context_t* ctx = xf_calloc(1, sizeof *ctx);
    if (!ctx) return xf_set_last_error(XF_ERR_OUT_OF_MEMORY, "xf_context_create: out of host memory");
    ctx->allocator = *a;
    ctx->log_fn = opts.log_fn;
    ctx->log_user_data = opts.log_user_data;
    ctx->log_level = opts.log_level >= 0 ? opts.log_level : log_level;

    dopts.log = (xf_log_sink_t){device_log, ctx};
    xf_status_t st;
    if (kind == XF_BACKEND_AUTO) {
        // The index counts devices in the ranking xf_device_list reports; one that fails to open is
        // skipped for the next, and the CPU reference is the last resort.
        st = XF_ERR_UNAVAILABLE;
        candidate_t found[XF_AUTO_MAX_DEVICES];
        size_t n = auto_candidates(&dopts, found, XF_AUTO_MAX_DEVICES);
        for (size_t i = (size_t)index; i < n && st != XF_OK; ++i) {
            st = open_device(found[i].row->vtable, found[i].info.index, &dopts, ctx);
            if (st != XF_OK) {
                xf_log(ctx, XF_LOG_INFO, "auto: skipping %s device %d: %s", found[i].row->name, found[i].info.index,
                       xf_last_error());
            } else {
                xf_log(ctx, XF_LOG_INFO, "auto: %s device %d (%s) ranks %zu of %zu", found[i].row->name,
                       found[i].info.index, found[i].info.name, i, n);
                index = found[i].info.index;
            }
        }
        if (st != XF_OK && (size_t)index > n) {
            st = xf_set_last_error(XF_ERR_OUT_OF_RANGE,
                                   "device index %d is out of range: auto ranks %zu device%s (valid: 0..%zu, the last "
                                   "being the CPU reference; list them with xformer-devices)",
                                   index, n + 1, n ? "s" : "", n);
        } else if (st != XF_OK) {
            index = 0;
            st = open_device(xf_backend_find(XF_BACKEND_CPU), 0, &dopts, ctx);
        }
    } else {
        const xf_backend_vtable_t* be = xf_backend_find(kind);
        if (!be) {
            char names[128];
            xf_backend_names(names, sizeof names);
            st = xf_set_last_error(XF_ERR_UNAVAILABLE,
                                   "the %s backend is not compiled into this build of libxformer; valid choices: %s",
                                   xf_backend_name(kind), names);
        } else {
            st = open_device(be, index, &dopts, ctx);
        }
    }
    if (st != XF_OK) {
        xf_free(ctx);
        return st;
    }
    xf_log(ctx, XF_LOG_INFO, "using %s device %d: %s", ctx->backend->name, index, ctx->info.name);
    *out_context = ctx;
    return XF_OK;
}

xf_status_t xf_context_create(const xf_context_options_t* options, xf_context_t** out_context) {
    pthread_mutex_lock(&driver_lock);
    xf_status_t st = context_create_locked(options, out_context);
    pthread_mutex_unlock(&driver_lock);
    return st;
}

void xf_context_destroy(xf_context_t* context) {
    if (!context) return;
    xf_alloc_use(&context->allocator);
    while (context->tensors) xf_tensor_destroy(context->tensors);
    pthread_mutex_lock(&driver_lock);
    context->backend->device_close(context->device);
    pthread_mutex_unlock(&driver_lock);
    xf_free(context);
}

xf_status_t xf_context_device_info(const xf_context_t* context, xf_device_info_t* out_info) {
    if (!context || !out_info) return xf_set_last_error(XF_ERR_INVALID_ARGUMENT, "xf_context_device_info: NULL argument");
    *out_info = context->info;
    return XF_OK;
}

static xf_status_t device_list_locked(xf_device_info_t* out_devices, size_t capacity, size_t* out_count) {
    if (!out_count || (capacity && !out_devices)) {
        return xf_set_last_error(XF_ERR_INVALID_ARGUMENT, "xf_device_list: NULL argument");
    }
    xf_device_options_t dopts;
    xf_status_t st = device_options(NULL, &dopts);
    if (st != XF_OK) return st;
    candidate_t found[XF_AUTO_MAX_DEVICES];
    size_t n = auto_candidates(&dopts, found, XF_AUTO_MAX_DEVICES);
    for (size_t i = 0; i < n && i < capacity; ++i) out_devices[i] = found[i].info;
    const xf_backend_vtable_t* cpu = xf_backend_find(XF_BACKEND_CPU);
    xf_err_t err = {{0}};
    size_t ncpu = 0;
    size_t room = n < capacity ? capacity - n : 0;
    if (cpu->list_devices(&dopts, room ? out_devices + n : NULL, room, &ncpu, &err) != XF_OK) ncpu = 0;
    *out_count = n + ncpu;
    return XF_OK;
}

xf_status_t xf_device_list(xf_device_info_t* out_devices, size_t capacity, size_t* out_count) {
    xf_alloc_use(NULL);
    pthread_mutex_lock(&driver_lock);
    xf_status_t st = device_list_locked(out_devices, capacity, out_count);
    pthread_mutex_unlock(&driver_lock);
    return st;
}
