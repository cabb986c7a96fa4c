// SPDX-License-Identifier: MIT
// libFuzzer harness: an ONNX file through xf_model_load on the CPU reference (protobuf parsing, initializers,
// load-time folding, lowering, fusion and planning); graphs with small inputs are also run once.
#define _GNU_SOURCE
#include <fcntl.h>
#include <unistd.h>

#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    static char path[64];
    if (!path[0]) snprintf(path, sizeof path, "/dev/shm/xf-fuzz-%d.onnx", (int)getpid());
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) return 0;
    bool written = write(fd, data, size) == (ssize_t)size;
    close(fd);
    if (!written) return 0;
    xf_context_t* ctx = fuzz_context();
    xf_model_options_t opt;
    fuzz_model_options(&opt);
    xf_model_t* m = NULL;
    if (xf_model_load(ctx, path, &opt, &m) == XF_OK) {
        void* in[64] = {0};
        void* out[64] = {0};
        int nin = xf_model_io_count(m, false), nout = xf_model_io_count(m, true);
        int64_t total = 0;
        bool ok = true;
        for (int k = 0; k < nin + nout && ok; k++) {
            xf_model_io_t io;
            xf_model_io_info(m, k >= nin, k >= nin ? k - nin : k, &io);
            int64_t n = 1;
            for (int d = 0; d < io.ndim; d++) n *= io.shape[d];
            total += n;
            ok = total <= 65536;
            if (ok) (k < nin ? in : out)[k < nin ? k : k - nin] = calloc((size_t)n, 4);
        }
        if (ok) (void)xf_model_run_io(m, (const void* const*)in, out);
        for (int k = 0; k < 64; k++) {
            free(in[k]);
            free(out[k]);
        }
        xf_model_destroy(m);
    }
    return 0;
}
