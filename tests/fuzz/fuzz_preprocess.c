// SPDX-License-Identifier: MIT
// libFuzzer harness: xf_model_preprocess on any image size, channel count and pixels, for models whose
// configs differ in input size, channels, crop_pct and architecture (the first bytes choose them).
#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);

enum { MODELS = FUZZ_SEEDS * 3 };
static xf_model_t* models[MODELS];

// Each seed model at three input sizes: its own, an odd one and a larger one.
static void load_models(void) {
    static const int64_t sizes[3][2] = {{0, 0}, {33, 41}, {64, 48}};
    char dir[512];
    tm_tmpdir(dir, sizeof dir);
    for (int s = 0; s < FUZZ_SEEDS; s++) {
        char path[700];
        snprintf(path, sizeof path, "%s/seed%d.safetensors", dir, s);
        tm_file_t f;
        fuzz_seed_model(s, &f);
        if (!tm_write(&f, path)) abort();
        tm_free(&f);
        for (int k = 0; k < 3; k++) {
            xf_model_options_t opt;
            fuzz_model_options(&opt);
            opt.input_height = sizes[k][0];
            opt.input_width = sizes[k][1];
            if (xf_model_load(fuzz_context(), path, &opt, &models[s * 3 + k]) != XF_OK) {
                fprintf(stderr, "fuzz_preprocess: seed %d at size %d: %s\n", s, k, xf_context_error(fuzz_context()));
                abort();
            }
        }
        unlink(path);
    }
    rmdir(dir);
}

int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    if (!models[0]) load_models();
    if (size < 6) return 0;
    xf_model_t* m = models[data[0] % MODELS];
    // Sides up to 65536 (beyond: rejected), at most 256 KiB of pixels: the input's bytes, repeated.
    int width = 1 + (data[1] | data[2] << 8) % 65600, height = 1 + (data[3] | data[4] << 8) % 65600;
    int channels = data[5] % 6;
    const size_t px = (size_t)(channels ? channels : 1), cap = (size_t)1 << 18;
    if ((size_t)width * (size_t)height * px > cap) {
        height = (int)(cap / ((size_t)width * px));
        if (height < 1) height = 1;
    }
    size_t pixels_bytes = (size_t)width * (size_t)height * px;
    uint8_t* pixels = malloc(pixels_bytes);
    if (!pixels) return 0;
    const uint8_t* payload = data + 6;
    size_t n = size - 6;
    size_t filled = n < pixels_bytes ? n : pixels_bytes;
    if (n) memcpy(pixels, payload, filled);
    else memset(pixels, 0x80, filled = pixels_bytes);
    for (; filled < pixels_bytes; filled *= 2)
        memcpy(pixels + filled, pixels, filled < pixels_bytes - filled ? filled : pixels_bytes - filled);
    xf_model_info_t info;
    xf_model_info(m, &info);
    float* out = malloc((size_t)info.input_elements * sizeof(float));
    if (out && xf_model_preprocess(m, pixels, width, height, channels, out, (size_t)info.input_elements) == XF_OK) {
        for (int64_t i = 0; i < info.input_elements; i++) {
            if (!(out[i] > -1e6f && out[i] < 1e6f)) abort();  // finite and within the normalised range
        }
    }
    free(out);
    free(pixels);
    return 0;
}
