// SPDX-License-Identifier: MIT
// Small helpers shared by the example programs: backend selection, device banner, timing.
#ifndef XF_EXAMPLES_COMMON_H_
#define XF_EXAMPLES_COMMON_H_

#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "xformer.h"

static inline double ex_now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

// Parses a backend name ("auto" or any backend libxformer knows); returns false for anything else.
static inline bool ex_parse_backend(const char* s, xf_backend_t* out) {
    xf_status_t st = xf_backend_from_name(s, out);
    return st == XF_OK || st == XF_ERR_UNAVAILABLE;
}

// Creates a context on |backend| (XF_BACKEND_FROM_ENV: XFORMER_BACKEND / XFORMER_DEVICE decide).
static inline xf_context_t* ex_context(xf_backend_t backend, const char* prog) {
    xf_context_options_t o;
    xf_context_options_init(&o);
    o.backend = backend;
    xf_context_t* ctx = NULL;
    if (xf_context_create(&o, &ctx) != XF_OK) {
        fprintf(stderr, "%s: cannot create a context: %s\n", prog, xf_last_error());
        return NULL;
    }
    return ctx;
}

// One status line on a terminal while a slow step runs (a cold cache means compiling kernels); it is
// erased when |msg| is NULL. Nothing is written when stderr is not a terminal, so pipes and logs stay clean.
static inline void ex_status(const char* msg) {
    if (!isatty(STDERR_FILENO)) return;
    fprintf(stderr, "\r\033[K%s", msg ? msg : "");
    fflush(stderr);
}

static inline void ex_print_device(FILE* f, xf_context_t* ctx) {
    xf_device_info_t d;
    if (xf_context_device_info(ctx, &d) != XF_OK) return;
    fprintf(f, "backend: %s, device %d: %s (%s, %s kernels%s)\n", xf_backend_name(d.backend), d.index, d.name,
            d.platform, d.kernel_style, d.fp16 ? ", fp16" : "");
}

static inline const char* ex_task_name(xf_model_task_t t) {
    return t == XF_MODEL_TASK_CLASSIFICATION ? "classifier" : "segmenter";
}

static inline void ex_print_model(FILE* f, const char* path, const xf_model_info_t* info) {
    fprintf(f, "model: %s: %s %s, %lld classes, input %lldx%lldx%lld, %.2fM parameters\n", path,
            info->architecture, ex_task_name(info->task), (long long)info->classes,
            (long long)info->input_channels, (long long)info->input_height, (long long)info->input_width,
            (double)info->parameters / 1e6);
}

#endif  // XF_EXAMPLES_COMMON_H_
