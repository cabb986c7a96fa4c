// SPDX-License-Identifier: MIT
// A program built against an installed or subproject libxformer: the header and the library agree
// on the version, and a softmax runs on the CPU reference.
#include <math.h>
#include <stdio.h>
#include <xformer.h>

int main(void) {
    if (xf_version() != XF_VERSION) {
        fprintf(stderr, "consumer: header version %d, library version %d\n", XF_VERSION, xf_version());
        return 1;
    }
    xf_context_options_t o;
    xf_context_options_init(&o);
    o.backend = XF_BACKEND_CPU;
    xf_context_t* ctx = NULL;
    if (xf_context_create(&o, &ctx) != XF_OK) {
        fprintf(stderr, "consumer: %s\n", xf_last_error());
        return 1;
    }
    xf_graph_t* g = NULL;
    xf_tensor_t *x, *y;
    float in[6] = {1, 2, 3, -1, 0, 1}, out[6] = {0};
    xf_status_t st = xf_graph_create(ctx, &g);
    if (st == XF_OK) st = xf_graph_input(g, "x", XF_DTYPE_F32, 2, (int64_t[]){2, 3}, &x);
    if (st == XF_OK) st = xf_softmax(g, x, 1.0f, NULL, &y);
    if (st == XF_OK) st = xf_graph_mark_output(g, y);
    if (st == XF_OK) st = xf_tensor_upload_f32(x, in, 6);
    if (st == XF_OK) st = xf_graph_compute(g);
    if (st == XF_OK) st = xf_tensor_download_f32(y, out, 6);
    if (st != XF_OK) fprintf(stderr, "consumer: %s\n", xf_context_error(ctx));
    xf_graph_destroy(g);
    xf_context_destroy(ctx);
    if (st != XF_OK) return 1;
    double expected = exp(3.0) / (exp(1.0) + exp(2.0) + exp(3.0));
    if (fabs(out[2] - expected) > 1e-6 || fabs(out[3] + out[4] + out[5] - 1.0) > 1e-6) {
        fprintf(stderr, "consumer: softmax gave %g, expected %g\n", out[2], expected);
        return 1;
    }
    printf("libxformer %s works\n", xf_version_string());
    return 0;
}
