// SPDX-License-Identifier: MIT
// Lists every device of every compiled-in backend, as XFORMER_BACKEND / XFORMER_DEVICE select them, in the
// order XFORMER_BACKEND=auto ranks them.
#define _POSIX_C_SOURCE 200809L  // clock_gettime and isatty in common.h
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

#include "../examples/common.h"

#define PROG "xformer-devices"

static void usage(void) {
    printf("usage: " PROG " [OPTION]...\n"
           "\n"
           "Lists the devices libxformer can use, in the order XFORMER_BACKEND=auto ranks them. Select one\n"
           "with XFORMER_BACKEND=<backend> XFORMER_DEVICE=<index>.\n"
           "\n"
           "Options:\n"
           "  --json             print one JSON document on stdout instead of text (docs/TOOLS.md)\n"
           "  -h, --help         print this help and exit\n"
           "  -V, --version      print the version and exit\n"
           "\n"
           "Exit status: 0 success, 1 a failure, 2 a usage error.\n");
}

static const char* type_name(xf_device_type_t t) {
    switch (t) {
        case XF_DEVICE_TYPE_DISCRETE_GPU: return "discrete GPU";
        case XF_DEVICE_TYPE_INTEGRATED_GPU: return "integrated GPU";
        case XF_DEVICE_TYPE_ACCELERATOR: return "accelerator";
        case XF_DEVICE_TYPE_CPU: return "CPU";
        default: return "other";
    }
}

static void print_text(const xf_device_info_t* devs, size_t n) {
    for (xf_backend_t b = XF_BACKEND_CPU; b < XF_BACKEND_FROM_ENV; ++b) {
        if (!xf_backend_compiled(b)) printf("(%s backend not compiled in)\n", xf_backend_name(b));
    }
    printf("In the order XFORMER_BACKEND=auto takes them (XFORMER_DEVICE=N with auto picks the N-th): discrete GPUs,\n"
           "integrated GPUs, accelerators, other devices, CPU-type devices (OpenCL before Vulkan there: its kernels\n"
           "run several times faster on CPUs), the CPU reference last.\n");
    for (size_t i = 0; i < n; ++i) {
        const xf_device_info_t* d = &devs[i];
        printf("[%zu] XFORMER_BACKEND=%s XFORMER_DEVICE=%d%s\n", i, xf_backend_name(d->backend), d->index,
               i == 0 ? "  (auto)" : "");
        printf("  %s (%s)\n  platform/driver: %s, %s, %s\n", d->name, type_name(d->type), d->platform,
               d->driver_version, d->api_version);
        printf("  fp16 %s, subgroups %s (size %u), kernels %s\n", d->fp16 ? "yes" : "no", d->subgroups ? "yes" : "no",
               d->subgroup_size, d->kernel_style);
        printf("  memory %" PRIu64 " MiB, max buffer %" PRIu64 " MiB, shared %" PRIu64 " KiB, work-group %u\n",
               d->global_memory_bytes >> 20, d->max_buffer_bytes >> 20, d->shared_memory_bytes >> 10,
               d->max_workgroup_size);
    }
}

static void print_json(const xf_device_info_t* devs, size_t n, const char* error) {
    ex_json_t j;
    ex_json_document(&j, PROG);
    ex_json_array(&j, "backends");
    for (xf_backend_t b = XF_BACKEND_CPU; b < XF_BACKEND_FROM_ENV; ++b) {
        ex_json_object(&j, NULL);
        ex_json_str(&j, "name", xf_backend_name(b));
        ex_json_bool(&j, "compiled", xf_backend_compiled(b));
        ex_json_end_object(&j);
    }
    ex_json_end_array(&j);
    ex_json_array(&j, "devices");
    for (size_t i = 0; i < n; ++i) {
        ex_json_object(&j, NULL);
        ex_json_uint(&j, "rank", i);
        ex_json_device_fields(&j, &devs[i]);
        ex_json_end_object(&j);
    }
    ex_json_end_array(&j);
    ex_json_finish(&j, error);
}

int main(int argc, char** argv) {
    enum { OPT_JSON = 256 };
    static const struct option longopts[] = {
        {"json", no_argument, NULL, OPT_JSON},
        {"help", no_argument, NULL, 'h'},
        {"version", no_argument, NULL, 'V'},
        {NULL, 0, NULL, 0},
    };
    bool json = false;
    static const char shortopts[] = ":hV";
    int c;
    while ((c = ex_getopt(argc, argv, shortopts, longopts)) != -1) {
        switch (c) {
            case OPT_JSON: json = true; break;
            default: return ex_common_option(PROG, usage, c, argv, shortopts);
        }
    }
    if (optind < argc) return ex_usage_error(PROG, NULL, "unexpected argument '%s'", argv[optind]);

    size_t n = 0;
    xf_device_info_t* devs = NULL;
    if (xf_device_list(NULL, 0, &n) == XF_OK) devs = calloc(n ? n : 1, sizeof *devs);
    if (!devs || xf_device_list(devs, n, &n) != XF_OK) {
        char error[2048];
        snprintf(error, sizeof error, "%s", devs ? xf_last_error() : "cannot list the devices");
        fprintf(stderr, PROG ": %s\n", error);
        if (json) print_json(NULL, 0, error);
        free(devs);
        return 1;
    }
    if (json)
        print_json(devs, n, NULL);
    else
        print_text(devs, n);
    free(devs);
    return 0;
}
