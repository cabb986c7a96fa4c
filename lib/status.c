// SPDX-License-Identifier: MIT
// Status strings, error messages and logging.
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core.h"

static _Thread_local char last_error[2048];

#define XF_STRINGIFY_(x) #x
#define XF_STRINGIFY(x) XF_STRINGIFY_(x)

int xf_version(void) { return XF_VERSION; }

const char* xf_version_string(void) {
    return XF_STRINGIFY(XF_VERSION_MAJOR) "." XF_STRINGIFY(XF_VERSION_MINOR) "." XF_STRINGIFY(XF_VERSION_PATCH);
}

const char* xf_status_string(xf_status_t status) {
    switch (status) {
        case XF_OK: return "ok";
        case XF_ERR_INVALID_ARGUMENT: return "invalid argument";
        case XF_ERR_OUT_OF_RANGE: return "out of range";
        case XF_ERR_NOT_FOUND: return "not found";
        case XF_ERR_OUT_OF_MEMORY: return "out of memory";
        case XF_ERR_FAILED_PRECONDITION: return "failed precondition";
        case XF_ERR_UNIMPLEMENTED: return "unimplemented";
        case XF_ERR_UNAVAILABLE: return "unavailable";
        case XF_ERR_INCOMPATIBLE: return "incompatible device";
        case XF_ERR_DATA_LOSS: return "data loss";
        case XF_ERR_DEVICE_LOST: return "device lost";
        case XF_ERR_BACKEND: return "backend error";
        case XF_ERR_INTERNAL: return "internal error";
    }
    return "unknown status";
}

const char* xf_last_error(void) { return last_error; }

xf_status_t xf_set_last_error(xf_status_t status, const char* fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(last_error, sizeof last_error, fmt, ap);
    va_end(ap);
    return status;
}

xf_status_t xf_err_set(xf_err_t* err, xf_status_t status, const char* fmt, ...) {
    if (err) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err->msg, sizeof err->msg, fmt, ap);
        va_end(ap);
    }
    return status;
}

xf_status_t xf_ctx_fail(xf_context_t* ctx, xf_status_t status, const char* fmt, ...) {
    char buf[sizeof ctx->err.msg];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    memcpy(ctx->err.msg, buf, sizeof buf);
    memcpy(last_error, buf, sizeof last_error < sizeof buf ? sizeof last_error : sizeof buf);
    last_error[sizeof last_error - 1] = '\0';
    xf_log(ctx, XF_LOG_DEBUG, "%s: %s", xf_status_string(status), buf);
    return status;
}

xf_status_t xf_ctx_fail_err(xf_context_t* ctx, xf_status_t status, const xf_err_t* err, const char* what) {
    return xf_ctx_fail(ctx, status, "%s: %s", what, err->msg[0] ? err->msg : xf_status_string(status));
}

static void vlog(void (*fn)(void*, xf_log_level_t, const char*), void* user, xf_log_level_t level, const char* fmt,
                 va_list ap) {
    char buf[2048];
    vsnprintf(buf, sizeof buf, fmt, ap);
    fn(user, level, buf);
}

void xf_log(xf_context_t* ctx, xf_log_level_t level, const char* fmt, ...) {
    if (!ctx || !ctx->log_fn || (int)level > ctx->log_level) return;
    va_list ap;
    va_start(ap, fmt);
    vlog(ctx->log_fn, ctx->log_user_data, level, fmt, ap);
    va_end(ap);
}

void xf_sink_log(const xf_log_sink_t* sink, xf_log_level_t level, const char* fmt, ...) {
    if (!sink->fn) return;
    va_list ap;
    va_start(ap, fmt);
    vlog(sink->fn, sink->user, level, fmt, ap);
    va_end(ap);
}

const char* xf_context_error(const xf_context_t* context) { return context ? context->err.msg : last_error; }
