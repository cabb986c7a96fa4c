// SPDX-License-Identifier: MIT
// Small helpers shared by the programs (examples/, tools/xformer-devices.c, bench/): backend selection,
// device banner, timing, the command-line conventions (--help, --version, usage errors), JSON output and the
// steps xformer-classify and xformer-segment share (opening the model, the loop over the images).
#ifndef XF_EXAMPLES_COMMON_H_
#define XF_EXAMPLES_COMMON_H_

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "xformer.h"

static inline double ex_now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

//===----------------------------------------------------------------------===//
// Command line
//===----------------------------------------------------------------------===//

// "PROG (libxformer X.Y.Z)" on stdout: the version of the library actually linked.
static inline void ex_print_version(const char* prog) {
    printf("%s (libxformer %s)\n", prog, xf_version_string());
}

#if defined(__GNUC__)
#define EX_PRINTF(fmt, args) __attribute__((format(printf, fmt, args)))
#else
#define EX_PRINTF(fmt, args)
#endif

// Reports a usage error on stderr: "PROG: MESSAGE", then |synopsis| when given, then a pointer to --help.
// Returns 2, the exit status of every usage error.
EX_PRINTF(3, 4) static inline int ex_usage_error(const char* prog, const char* synopsis, const char* fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "%s: ", prog);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\n%sTry '%s --help' for more information.\n", synopsis ? synopsis : "", prog);
    return 2;
}

// Reports what getopt_long(argc, argv, |shortopts|, ...) rejected, running with opterr = 0 and |shortopts|
// starting with ':': |c| is ':' (a missing value) or '?' (an unknown option, or a value given to a flag).
// Returns 2.
static inline int ex_option_error(const char* prog, int c, char** argv, const char* shortopts) {
    const char* arg = optind > 0 ? argv[optind - 1] : "";
    bool is_long = strncmp(arg, "--", 2) == 0;
    if (c == ':') {
        if (is_long) return ex_usage_error(prog, NULL, "option '%s' needs a value", arg);
        return ex_usage_error(prog, NULL, "option '-%c' needs a value", optopt);
    }
    // Within a cluster such as -xV, argv[optind - 1] is not the offending word: optopt alone tells.
    if (optopt > 0 && optopt < 256 && !strchr(shortopts + 1, optopt))
        return ex_usage_error(prog, NULL, "unknown option '-%c'", optopt);
    if (optopt) return ex_usage_error(prog, NULL, "option '%.*s' takes no value", (int)strcspn(arg, "="), arg);
    return ex_usage_error(prog, NULL, "unknown option '%s'", arg);
}

// getopt_long with getopt's own messages off, as ex_option_error wants: |shortopts| starts with ':'.
static inline int ex_getopt(int argc, char** argv, const char* shortopts, const struct option* longopts) {
    opterr = 0;
    return getopt_long(argc, argv, shortopts, longopts, NULL);
}

// The default of every program's switch on ex_getopt: -h/--help runs |usage| and -V/--version prints the version
// (exit status 0); anything else is what getopt rejected (ex_option_error, 2).
static inline int ex_common_option(const char* prog, void (*usage)(void), int c, char** argv, const char* shortopts) {
    if (c == 'h') {
        usage();
        return 0;
    }
    if (c == 'V') {
        ex_print_version(prog);
        return 0;
    }
    return ex_option_error(prog, c, argv, shortopts);
}

// The operands MODEL IMAGE... of xformer-classify and xformer-segment, after the options. Returns -1 to go on,
// else the exit status of the usage error.
static inline int ex_model_and_images(const char* prog, const char* synopsis, int argc, char** argv,
                                      const char** model, char*** images, int* nimages) {
    if (optind >= argc) return ex_usage_error(prog, synopsis, "missing MODEL and IMAGE");
    if (optind + 1 >= argc) return ex_usage_error(prog, synopsis, "missing IMAGE");
    *model = argv[optind];
    *images = argv + optind + 1;
    *nimages = argc - optind - 1;
    return -1;
}

// Parses a decimal integer in [lo, hi]; false for anything else (empty, trailing text, out of range).
static inline bool ex_parse_int(const char* s, long lo, long hi, long* out) {
    char* end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (end == s || *end || errno || v < lo || v > hi) return false;
    *out = v;
    return true;
}

// The index of |s| among the |n| |words|, or -1.
static inline int ex_parse_word(const char* s, const char* const* words, int n) {
    for (int i = 0; i < n; ++i) {
        if (strcmp(s, words[i]) == 0) return i;
    }
    return -1;
}

// The --weights words, in xf_model_weights_t order.
static const char* const ex_weights_words[] = {"stored", "f16", "f32", "int8-channel", "int8-block32"};
#define EX_WEIGHTS_COUNT 5
#define EX_WEIGHTS_HELP "stored, f16, f32, int8-channel or int8-block32"

// Parses a backend name ("auto" or any backend libxformer knows); returns false for anything else.
static inline bool ex_parse_backend(const char* s, xf_backend_t* out) {
    xf_status_t st = xf_backend_from_name(s, out);
    return st == XF_OK || st == XF_ERR_UNAVAILABLE;
}

//===----------------------------------------------------------------------===//
// Contexts, devices, models
//===----------------------------------------------------------------------===//

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
    return t == XF_MODEL_TASK_CLASSIFICATION ? "classifier" : t == XF_MODEL_TASK_SEGMENTATION ? "segmenter" : "generic";
}

// --size, --mean, --std and --interpolation: the preprocessing of models whose file carries none (ONNX).
enum { EX_OPT_SIZE = 400, EX_OPT_MEAN, EX_OPT_STD, EX_OPT_INTERPOLATION };
#define EX_PREPROCESS_LONGOPTS                                                                            \
    {"size", required_argument, NULL, EX_OPT_SIZE}, {"mean", required_argument, NULL, EX_OPT_MEAN},      \
        {"std", required_argument, NULL, EX_OPT_STD},                                                     \
        {"interpolation", required_argument, NULL, EX_OPT_INTERPOLATION}
#define EX_PREPROCESS_HELP                                                                                \
    "  --size H[xW]       input size the model is built for (models with a dynamic input size)\n"        \
    "  --mean A,B,C       per-channel mean of the normalisation (default: the model's; ONNX: ImageNet)\n" \
    "  --std A,B,C        per-channel standard deviation\n"                                               \
    "  --interpolation M  resize with bicubic or bilinear (Pillow, as timm) or default (libxformer's)\n"
typedef struct ex_preprocess_s {
    long height, width;
    float mean[4], std[4];
    int nmean, nstd;
    int interpolation;  // -1: the model's
} ex_preprocess_t;
static ex_preprocess_t ex_pp = {.interpolation = -1};

static inline int ex_parse_floats(const char* s, float* out, int cap) {
    int n = 0;
    while (*s && n < cap) {
        char* end;
        double x = strtod(s, &end);
        if (end == s || !isfinite(x)) return -1;
        out[n++] = (float)x;
        s = end;
        if (*s == ',') s++;
        else if (*s) return -1;
    }
    return *s ? -1 : n;
}

// Handles a preprocessing option: 1 taken, 0 not one of them, 2 a usage error (reported).
static inline int ex_preprocess_option(const char* prog, int c, const char* arg) {
    if (c == EX_OPT_SIZE) {
        char* end;
        long h = strtol(arg, &end, 10), w = h;
        if (*end == 'x') w = strtol(end + 1, &end, 10);
        if (*end || h < 1 || w < 1 || h > 65536 || w > 65536) {
            fprintf(stderr, "%s: --size needs H or HxW (1 to 65536), got '%s'\n", prog, arg);
            return 2;
        }
        ex_pp.height = h;
        ex_pp.width = w;
        return 1;
    }
    if (c == EX_OPT_MEAN || c == EX_OPT_STD) {
        float* v = c == EX_OPT_MEAN ? ex_pp.mean : ex_pp.std;
        int n = ex_parse_floats(arg, v, 4);
        bool ok = n >= 1;
        for (int k = 0; ok && c == EX_OPT_STD && k < n; k++) ok = v[k] > 0;
        if (!ok) {
            fprintf(stderr, "%s: --%s needs 1 to 4 comma-separated numbers%s, got '%s'\n", prog,
                    c == EX_OPT_MEAN ? "mean" : "std", c == EX_OPT_STD ? " above 0" : "", arg);
            return 2;
        }
        *(c == EX_OPT_MEAN ? &ex_pp.nmean : &ex_pp.nstd) = n;
        return 1;
    }
    if (c == EX_OPT_INTERPOLATION) {
        static const char* const words[] = {"default", "bicubic", "bilinear"};
        int k = ex_parse_word(arg, words, 3);
        if (k < 0) {
            fprintf(stderr, "%s: --interpolation needs bicubic, bilinear or default, got '%s'\n", prog, arg);
            return 2;
        }
        ex_pp.interpolation = k;
        return 1;
    }
    return 0;
}

// Applies --mean, --std and --interpolation to a loaded model; false with |why| when they do not fit it.
static inline bool ex_apply_preprocess(xf_model_t* m, char* why, size_t why_size) {
    xf_model_info_t info;
    xf_model_info(m, &info);
    if ((ex_pp.nmean && ex_pp.nmean != info.input_channels) || (ex_pp.nstd && ex_pp.nstd != info.input_channels)) {
        snprintf(why, why_size, "--mean and --std need %lld numbers for this model's %lld channels",
                 (long long)info.input_channels, (long long)info.input_channels);
        return false;
    }
    if (!ex_pp.nmean && !ex_pp.nstd && ex_pp.interpolation < 0) return true;
    xf_interpolation_t interp = ex_pp.interpolation < 0 ? info.interpolation : (xf_interpolation_t)ex_pp.interpolation;
    if (xf_model_set_preprocess(m, ex_pp.nmean ? ex_pp.mean : NULL, ex_pp.nstd ? ex_pp.std : NULL, 0, interp) !=
        XF_OK) {
        snprintf(why, why_size, "%s", xf_context_error(xf_model_context(m)));
        return false;
    }
    return true;
}

static inline void ex_print_model(FILE* f, const char* path, const xf_model_info_t* info) {
    fprintf(f, "model: %s: %s %s, %lld classes, input %lldx%lldx%lld, %.2fM parameters\n", path,
            info->architecture, ex_task_name(info->task), (long long)info->classes,
            (long long)info->input_channels, (long long)info->input_height, (long long)info->input_width,
            (double)info->parameters / 1e6);
}

// "PATH (WxH, C channels): preprocess T ms, run T ms" on stdout, without the line's end: a program adds its own times.
static inline void ex_print_image(const char* path, int w, int h, int ch, double preprocess_ms, double run_ms) {
    printf("%s (%dx%d, %d channel%s): preprocess %.2f ms, run %.2f ms", path, w, h, ch, ch > 1 ? "s" : "",
           preprocess_ms, run_ms);
}

// Destroys |model|, then its context.
static inline void ex_close_model(xf_model_t* model) {
    xf_context_t* ctx = xf_model_context(model);
    xf_model_destroy(model);
    xf_context_destroy(ctx);
}

// xf_model_run; on the first run (|*first_run|, cleared here) a status line tells that it finishes compiling kernels.
static inline xf_status_t ex_run_model(xf_model_t* model, const float* input, size_t input_count, float* out,
                                       size_t out_count, bool* first_run) {
    if (*first_run) ex_status("running (the first run finishes compiling the kernels)...");
    xf_status_t st = xf_model_run(model, input, input_count, out, out_count);
    if (*first_run) ex_status(NULL);
    *first_run = false;
    return st;
}

// Stable identifiers of device types for machine-readable output.
static inline const char* ex_device_type_id(xf_device_type_t t) {
    switch (t) {
        case XF_DEVICE_TYPE_DISCRETE_GPU: return "discrete-gpu";
        case XF_DEVICE_TYPE_INTEGRATED_GPU: return "integrated-gpu";
        case XF_DEVICE_TYPE_ACCELERATOR: return "accelerator";
        case XF_DEVICE_TYPE_CPU: return "cpu";
        default: return "other";
    }
}

//===----------------------------------------------------------------------===//
// JSON output: one document, written as it goes, indented two spaces per level
//===----------------------------------------------------------------------===//

#define EX_JSON_MAX_DEPTH 16

typedef struct ex_json_s {
    FILE* f;
    int depth;
    bool has_items[EX_JSON_MAX_DEPTH];  // per open level: a comma goes before the next item
} ex_json_t;

// Length of the well-formed UTF-8 sequence at |p| (lead byte >= 0x80), or 0.
static inline int ex_utf8_length(const unsigned char* p) {
    int n = p[0] >= 0xc2 && p[0] <= 0xdf ? 2 : p[0] >= 0xe0 && p[0] <= 0xef ? 3 : p[0] >= 0xf0 && p[0] <= 0xf4 ? 4 : 0;
    // The second byte's range excludes overlong forms, surrogates and code points above U+10FFFF.
    unsigned lo = p[0] == 0xe0 ? 0xa0 : p[0] == 0xf0 ? 0x90 : 0x80;
    unsigned hi = p[0] == 0xed ? 0x9f : p[0] == 0xf4 ? 0x8f : 0xbf;
    if (n == 0 || p[1] < lo || p[1] > hi) return 0;
    for (int i = 2; i < n; i++)
        if ((p[i] & 0xc0) != 0x80) return 0;
    return n;
}

// Writes |s| as a JSON string (NULL as null); bytes that are not UTF-8 become U+FFFD.
static inline void ex_json_string(FILE* f, const char* s) {
    if (!s) {
        fputs("null", f);
        return;
    }
    fputc('"', f);
    for (const unsigned char* p = (const unsigned char*)s; *p; p++) {
        switch (*p) {
            case '"': fputs("\\\"", f); break;
            case '\\': fputs("\\\\", f); break;
            case '\n': fputs("\\n", f); break;
            case '\r': fputs("\\r", f); break;
            case '\t': fputs("\\t", f); break;
            default:
                if (*p < 0x20 || *p == 0x7f) {
                    fprintf(f, "\\u%04x", *p);
                } else if (*p < 0x80) {
                    fputc(*p, f);
                } else {
                    int n = ex_utf8_length(p);
                    if (n == 0) {
                        fputs("\\ufffd", f);
                    } else {
                        fwrite(p, 1, (size_t)n, f);
                        p += n - 1;
                    }
                }
        }
    }
    fputc('"', f);
}

// Starts an item of the current object (|key| given) or array (|key| NULL).
static inline void ex_json_item(ex_json_t* j, const char* key) {
    if (j->depth > 0) {
        fputs(j->has_items[j->depth - 1] ? ",\n" : "\n", j->f);
        j->has_items[j->depth - 1] = true;
        fprintf(j->f, "%*s", 2 * j->depth, "");
    }
    if (key) {
        ex_json_string(j->f, key);
        fputs(": ", j->f);
    }
}

static inline void ex_json_open(ex_json_t* j, const char* key, char bracket) {
    ex_json_item(j, key);
    fputc(bracket, j->f);
    if (j->depth < EX_JSON_MAX_DEPTH) j->has_items[j->depth] = false;
    j->depth++;
}

static inline void ex_json_close(ex_json_t* j, char bracket) {
    j->depth--;
    if (j->depth < EX_JSON_MAX_DEPTH && j->has_items[j->depth]) fprintf(j->f, "\n%*s", 2 * j->depth, "");
    fputc(bracket, j->f);
    if (j->depth == 0) fputc('\n', j->f);
}

static inline void ex_json_begin(ex_json_t* j, FILE* f) {
    *j = (ex_json_t){.f = f};
    ex_json_open(j, NULL, '{');
}

static inline void ex_json_end(ex_json_t* j) {
    while (j->depth > 0) ex_json_close(j, '}');
    fflush(j->f);
}

static inline void ex_json_object(ex_json_t* j, const char* key) { ex_json_open(j, key, '{'); }
static inline void ex_json_end_object(ex_json_t* j) { ex_json_close(j, '}'); }
static inline void ex_json_array(ex_json_t* j, const char* key) { ex_json_open(j, key, '['); }
static inline void ex_json_end_array(ex_json_t* j) { ex_json_close(j, ']'); }

static inline void ex_json_str(ex_json_t* j, const char* key, const char* value) {
    ex_json_item(j, key);
    ex_json_string(j->f, value);
}

// A number with up to |digits| significant digits; NaN and infinities, which JSON lacks, are null.
static inline void ex_json_num(ex_json_t* j, const char* key, double value, int digits) {
    ex_json_item(j, key);
    if (isfinite(value))
        fprintf(j->f, "%.*g", digits, value);
    else
        fputs("null", j->f);
}

static inline void ex_json_int(ex_json_t* j, const char* key, long long value) {
    ex_json_item(j, key);
    fprintf(j->f, "%lld", value);
}

static inline void ex_json_uint(ex_json_t* j, const char* key, unsigned long long value) {
    ex_json_item(j, key);
    fprintf(j->f, "%llu", value);
}

static inline void ex_json_bool(ex_json_t* j, const char* key, bool value) {
    ex_json_item(j, key);
    fputs(value ? "true" : "false", j->f);
}

static inline void ex_json_null(ex_json_t* j, const char* key) {
    ex_json_item(j, key);
    fputs("null", j->f);
}

// The fields of xf_device_info_t, as members of the current object.
static inline void ex_json_device_fields(ex_json_t* j, const xf_device_info_t* d) {
    ex_json_str(j, "backend", xf_backend_name(d->backend));
    ex_json_int(j, "index", d->index);
    ex_json_str(j, "type", ex_device_type_id(d->type));
    ex_json_str(j, "name", d->name);
    ex_json_str(j, "platform", d->platform);
    ex_json_str(j, "driver_version", d->driver_version);
    ex_json_str(j, "api_version", d->api_version);
    ex_json_bool(j, "fp16", d->fp16);
    ex_json_bool(j, "subgroups", d->subgroups);
    ex_json_uint(j, "subgroup_size", d->subgroup_size);
    ex_json_uint(j, "global_memory_bytes", d->global_memory_bytes);
    ex_json_uint(j, "max_buffer_bytes", d->max_buffer_bytes);
    ex_json_uint(j, "shared_memory_bytes", d->shared_memory_bytes);
    ex_json_uint(j, "max_workgroup_size", d->max_workgroup_size);
    ex_json_str(j, "kernel_style", d->kernel_style);
}

static inline void ex_json_model_fields(ex_json_t* j, const char* path, const xf_model_info_t* info) {
    ex_json_str(j, "path", path);
    ex_json_str(j, "architecture", info->architecture);
    ex_json_str(j, "task", ex_task_name(info->task));
    ex_json_int(j, "classes", info->classes);
    ex_json_int(j, "input_channels", info->input_channels);
    ex_json_int(j, "input_height", info->input_height);
    ex_json_int(j, "input_width", info->input_width);
    ex_json_int(j, "parameters", info->parameters);
    ex_json_bool(j, "has_labels", info->has_labels);
}

// The program and library version, first members of every document.
static inline void ex_json_header(ex_json_t* j, const char* prog) {
    ex_json_str(j, "program", prog);
    ex_json_str(j, "version", xf_version_string());
}

// Starts the document of |prog| on stdout in |j|, header included; returns |j|.
static inline ex_json_t* ex_json_document(ex_json_t* j, const char* prog) {
    ex_json_begin(j, stdout);
    ex_json_header(j, prog);
    return j;
}

// Ends the document |j| (nothing when NULL), with "error": |error| when that is given and not empty.
static inline void ex_json_finish(ex_json_t* j, const char* error) {
    if (!j) return;
    if (error && error[0]) ex_json_str(j, "error", error);
    ex_json_end(j);
}

// The JSON entry {path, error} of an image that gave no result.
static inline void ex_json_image_error(ex_json_t* j, const char* path, const char* why) {
    ex_json_object(j, NULL);
    ex_json_str(j, "path", path);
    ex_json_str(j, "error", why);
    ex_json_end_object(j);
}

// An image that gave no result: "PROG: PATH: WHY" on stderr and {path, error} in the JSON document |j|.
static inline void ex_image_error(ex_json_t* j, const char* prog, const char* path, const char* why) {
    fprintf(stderr, "%s: %s: %s\n", prog, path, why);
    if (j) ex_json_image_error(j, path, why);
}

// The |n| images a failure left unprocessed: an entry each in the JSON document, one line on stderr if |tell|.
static inline void ex_images_not_run(ex_json_t* j, const char* prog, char* const* paths, int n, bool tell) {
    if (n <= 0) return;
    if (tell) fprintf(stderr, "%s: %d image%s not run\n", prog, n, n > 1 ? "s" : "");
    for (int i = 0; j && i < n; i++) ex_json_image_error(j, paths[i], "not run: an earlier failure stopped the run");
}

// Opens the JSON entry of an image that gave a result with its path, size and the times of preprocessing and run.
static inline void ex_json_image(ex_json_t* j, const char* path, int w, int h, int ch, double preprocess_ms,
                                 double run_ms) {
    ex_json_object(j, NULL);
    ex_json_str(j, "path", path);
    ex_json_int(j, "width", w);
    ex_json_int(j, "height", h);
    ex_json_int(j, "channels", ch);
    ex_json_num(j, "preprocess_ms", preprocess_ms, 6);
    ex_json_num(j, "run_ms", run_ms, 6);
}

//===----------------------------------------------------------------------===//
// The image programs: xformer-classify, xformer-segment
//===----------------------------------------------------------------------===//

// Loads the |task| model at |path| for |batch| images per run on a new context on |backend|, with the labels at
// |labels_path| if given, and reports the device, the model and its load time (text on stdout, or "device" and
// "model" in |j|). Returns the model (ex_close_model), or NULL once |fatal| says what stopped the run (on stderr
// too) and nothing is left open.
static inline xf_model_t* ex_open_model(const char* prog, xf_model_task_t task, xf_backend_t backend,
                                        const char* path, const char* labels_path, int batch, ex_json_t* j,
                                        char* fatal, size_t fatal_size) {
    fatal[0] = '\0';
    xf_context_t* ctx = ex_context(backend, prog);
    if (!ctx) {
        snprintf(fatal, fatal_size, "cannot create a context: %s", xf_last_error());
        return NULL;
    }
    xf_device_info_t dev;
    if (!j) {
        ex_print_device(stdout, ctx);
    } else if (xf_context_device_info(ctx, &dev) == XF_OK) {
        ex_json_object(j, "device");
        ex_json_device_fields(j, &dev);
        ex_json_end_object(j);
    }
    double t0 = ex_now_ms();
    xf_model_t* model;
    ex_status("loading the model and preparing its kernels (compiled on the first run, cached after)...");
    xf_model_options_t options;
    xf_model_options_init(&options);
    options.batch = batch;
    options.input_height = ex_pp.height;
    options.input_width = ex_pp.width;
    xf_status_t loaded = xf_model_load(ctx, path, &options, &model);
    ex_status(NULL);
    if (loaded != XF_OK) {
        snprintf(fatal, fatal_size, "%s", xf_context_error(ctx));
        fprintf(stderr, "%s: %s\n", prog, fatal);
        xf_context_destroy(ctx);
        return NULL;
    }
    double t_load = ex_now_ms() - t0;
    xf_model_info_t info;
    xf_model_info(model, &info);
    if (info.task != task) {
        snprintf(fatal, fatal_size, "%s is a %s %s model, not a %s; use %s", path, info.architecture,
                 ex_task_name(info.task), ex_task_name(task),
                 task == XF_MODEL_TASK_CLASSIFICATION ? "xformer-segment" : "xformer-classify");
    } else if (labels_path && xf_model_load_labels(model, labels_path) != XF_OK) {
        snprintf(fatal, fatal_size, "%s", xf_context_error(ctx));
    } else if (!ex_apply_preprocess(model, fatal, fatal_size)) {
        // fatal says why
    }
    if (fatal[0]) fprintf(stderr, "%s: %s\n", prog, fatal);
    if (j) {
        xf_model_info(model, &info);
        ex_json_object(j, "model");
        ex_json_model_fields(j, path, &info);
        ex_json_num(j, "load_ms", t_load, 6);
        ex_json_end_object(j);
    } else if (!fatal[0]) {
        ex_print_model(stdout, path, &info);
        printf("load: %.1f ms (validation, upload, graph)\n", t_load);
    }
    if (!fatal[0]) return model;
    ex_close_model(model);
    return NULL;
}

// What became of one image.
typedef enum ex_outcome_e {
    EX_IMAGE_DONE,
    EX_IMAGE_FAILED,  // this image only
    EX_RUN_FAILED,    // the device is in doubt: stop
} ex_outcome_t;

// Processes image |n| of ex_run_images, at |path|; a failure puts its reason in |why|.
typedef ex_outcome_t (*ex_image_fn)(void* arg, int n, const char* path, char* why, size_t why_size);

// Runs |one| on each of the |nimages| images, as the "images" array of |j|. An image that fails is reported
// (ex_image_error) and the others still run; a failed run stops the loop with "PATH: WHY" in |fatal| and the rest
// reported as not run, as they all are when |fatal| is set already. Returns how many images gave no result.
static inline int ex_run_images(const char* prog, char* const* images, int nimages, ex_json_t* j, ex_image_fn one,
                                void* arg, char* fatal, size_t fatal_size) {
    int failed = 0;
    if (j) ex_json_array(j, "images");
    int n = 0;
    for (; n < nimages && !fatal[0]; n++) {
        char why[PATH_MAX + 256];
        ex_outcome_t r = one(arg, n, images[n], why, sizeof why);
        if (r == EX_RUN_FAILED) snprintf(fatal, fatal_size, "%s: %s", images[n], why);
        if (r != EX_IMAGE_DONE) {
            ex_image_error(j, prog, images[n], why);
            failed++;
        }
    }
    ex_images_not_run(j, prog, images + n, nimages - n, n > 0);
    if (j) ex_json_end_array(j);
    return failed + nimages - n;
}

// In the JSON document |j| (if any), the "images" a failure before the first left unprocessed.
static inline void ex_list_not_run(ex_json_t* j, const char* prog, char* const* images, int nimages) {
    if (!j) return;
    ex_json_array(j, "images");
    ex_images_not_run(j, prog, images, nimages, false);
    ex_json_end_array(j);
}

#ifdef STBI_VERSION
// Each side of an image xf_model_preprocess takes is at most this many pixels.
#define EX_MAX_IMAGE_SIDE 65536

// Decodes the image at |path| (8 bits per channel, its own channel count) once its header shows each side
// within EX_MAX_IMAGE_SIDE, so a huge image costs nothing. On failure returns NULL and the reason in |why|.
static inline uint8_t* ex_load_image(const char* path, int* w, int* h, int* ch, char* why, size_t why_size) {
    FILE* f = fopen(path, "rb");
    if (!f) {
        snprintf(why, why_size, "%s", strerror(errno));
        return NULL;
    }
    uint8_t* pixels = NULL;
    if (!stbi_info_from_file(f, w, h, ch))
        snprintf(why, why_size, "%s", stbi_failure_reason());
    else if (*w > EX_MAX_IMAGE_SIDE || *h > EX_MAX_IMAGE_SIDE)
        snprintf(why, why_size, "%dx%d pixels is too large (at most %d per side)", *w, *h, EX_MAX_IMAGE_SIDE);
    else if (!(pixels = stbi_load_from_file(f, w, h, ch, 0)))
        snprintf(why, why_size, "%s", stbi_failure_reason());
    fclose(f);
    return pixels;
}

// Decodes the image at |path| (ex_load_image) and preprocesses it into |input| for |model|, |preprocess_ms| the
// time that took. Returns the pixels (stbi_image_free), or NULL with the reason in |why|.
static inline uint8_t* ex_load_input(const xf_model_t* model, const char* path, float* input, int* w, int* h,
                                     int* ch, double* preprocess_ms, char* why, size_t why_size) {
    uint8_t* pixels = ex_load_image(path, w, h, ch, why, why_size);
    if (!pixels) return NULL;
    xf_model_info_t info;
    xf_model_info(model, &info);
    double t0 = ex_now_ms();
    xf_status_t st = xf_model_preprocess(model, pixels, *w, *h, *ch, input, (size_t)info.input_elements);
    *preprocess_ms = ex_now_ms() - t0;
    if (st == XF_OK) return pixels;
    snprintf(why, why_size, "%s", xf_context_error(xf_model_context(model)));
    stbi_image_free(pixels);
    return NULL;
}
#endif

#endif  // XF_EXAMPLES_COMMON_H_
