// SPDX-License-Identifier: MIT
// Writes the seed corpora of the fuzz harnesses into DIR/model_load and DIR/preprocess (the checked-in
// tests/fuzz/corpus was made with it): the seed models as files, and images for each model choice.
// usage: fuzz_make_seeds DIR
#include <sys/stat.h>

#include "fuzz_common.h"

int main(int argc, char** argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: %s DIR\n", argv[0]);
        return 2;
    }
    char path[1024];
    snprintf(path, sizeof path, "%s/model_load", argv[1]);
    mkdir(argv[1], 0755);
    mkdir(path, 0755);
    for (int s = 0; s < FUZZ_SEEDS; s++) {
        tm_file_t f;
        fuzz_seed_model(s, &f);
        snprintf(path, sizeof path, "%s/model_load/seed%d.safetensors", argv[1], s);
        if (!tm_write(&f, path)) {
            fprintf(stderr, "%s: cannot write %s\n", argv[0], path);
            return 1;
        }
        tm_free(&f);
    }
    snprintf(path, sizeof path, "%s/preprocess", argv[1]);
    mkdir(path, 0755);
    // model, width (2 bytes), height (2 bytes), channels, then pixels.
    static const uint8_t images[][10] = {
        {0, 32, 0, 32, 0, 1, 10, 200, 30, 90}, {5, 64, 0, 17, 0, 3, 255, 0, 128, 7},
        {8, 0, 1, 3, 0, 4, 1, 2, 3, 4},        {11, 1, 0, 0, 1, 2, 9, 99, 199, 250},
    };
    for (size_t i = 0; i < sizeof images / sizeof images[0]; i++) {
        snprintf(path, sizeof path, "%s/preprocess/image%zu", argv[1], i);
        if (!tm_write_bytes(path, images[i], sizeof images[i])) {
            fprintf(stderr, "%s: cannot write %s\n", argv[0], path);
            return 1;
        }
    }
    return 0;
}
