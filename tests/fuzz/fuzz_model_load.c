// SPDX-License-Identifier: MIT
// libFuzzer harness: a whole model file (safetensors header, tensors, the config in its metadata) through
// xf_model_load on the CPU reference (validation, config, weights, graph building and planning), then
// its info and labels. The forward pass is left to the op tests: it would take most of each execution.
#define _GNU_SOURCE
#include <sys/mman.h>
#include <unistd.h>

#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    int fd = memfd_create("fuzz-model", MFD_CLOEXEC);
    if (fd < 0) return 0;
    char path[64];
    snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
    if (write(fd, data, size) != (ssize_t)size) {
        close(fd);
        return 0;
    }
    xf_context_t* ctx = fuzz_context();
    xf_model_options_t opt;
    fuzz_model_options(&opt);
    xf_model_t* m = NULL;
    if (xf_model_load(ctx, path, &opt, &m) == XF_OK) {
        xf_model_info_t info;
        xf_model_info(m, &info);
        for (int64_t i = 0; i < info.classes && i < 4; i++) (void)xf_model_label(m, i);
        xf_model_destroy(m);
    }
    close(fd);
    return 0;
}
