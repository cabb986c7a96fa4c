// SPDX-License-Identifier: MIT
// Lists every device of every compiled-in backend, as XFORMER_BACKEND / XFORMER_DEVICE select them, in the
// order XFORMER_BACKEND=auto ranks them.
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <xformer.h>

static const char* type_name(xf_device_type_t t) {
    switch (t) {
        case XF_DEVICE_TYPE_DISCRETE_GPU: return "discrete GPU";
        case XF_DEVICE_TYPE_INTEGRATED_GPU: return "integrated GPU";
        case XF_DEVICE_TYPE_ACCELERATOR: return "accelerator";
        case XF_DEVICE_TYPE_CPU: return "CPU";
        default: return "other";
    }
}

int main(int argc, char** argv) {
    if (argc > 1) {
        printf("usage: %s\nLists the devices libxformer can use. Select one with\n"
               "XFORMER_BACKEND=<backend> XFORMER_DEVICE=<index>.\n", argv[0]);
        return argv[1][0] == '-' && argv[1][1] == 'h' ? 0 : 2;
    }
    size_t n = 0;
    if (xf_device_list(NULL, 0, &n) != XF_OK) {
        fprintf(stderr, "xformer-devices: %s\n", xf_last_error());
        return 1;
    }
    xf_device_info_t* devs = calloc(n ? n : 1, sizeof *devs);
    if (!devs || xf_device_list(devs, n, &n) != XF_OK) {
        fprintf(stderr, "xformer-devices: %s\n", xf_last_error());
        return 1;
    }
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
    free(devs);
    return 0;
}
