// SPDX-License-Identifier: MIT
// xformer-accuracy: runs the Fashion-MNIST test set through a classifier on each backend and
// prints the accuracy, the agreement with the first backend and the throughput.
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "common.h"

#define FMNIST_DIR "/usr/share/datasets/fashion-mnist"

static void usage(FILE* f) {
    fprintf(f,
            "usage: xformer-accuracy MODEL [--data DIR] [--limit N] [--backends LIST]\n"
            "\n"
            "Classifies the Fashion-MNIST test set (DIR/t10k-images-idx3-ubyte.gz and "
            "t10k-labels-idx1-ubyte.gz,\n"
            "default " FMNIST_DIR
            ") with MODEL, preprocessed exactly like xformer-classify, on each\n"
            "backend of LIST (comma-separated cpu,opencl,vulkan; default: every compiled backend), and "
            "prints the\n"
            "accuracy, the predictions' agreement with the first backend and images per second.\n");
}

// Reads a gzip'd IDX file; returns the payload after the header and fills dims.
static uint8_t* read_idx(const char* path, int want_dims, uint32_t* dims, size_t* count) {
    gzFile gz = gzopen(path, "rb");
    if (!gz) {
        fprintf(stderr, "xformer-accuracy: cannot open %s: %s\n", path, strerror(errno));
        return NULL;
    }
    uint8_t head[4 + 4 * 3];
    int hlen = 4 + 4 * want_dims;
    if (gzread(gz, head, (unsigned)hlen) != hlen || head[0] || head[1] || head[2] != 0x08 ||
        head[3] != want_dims) {
        fprintf(stderr, "xformer-accuracy: %s is not an IDX file of %d-D unsigned bytes\n", path, want_dims);
        gzclose(gz);
        return NULL;
    }
    size_t n = 1;
    for (int i = 0; i < want_dims; i++) {
        const uint8_t* p = head + 4 + 4 * i;
        dims[i] = (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
        n *= dims[i];
    }
    uint8_t* data = malloc(n ? n : 1);
    if (!data || gzread(gz, data, (unsigned)n) != (int)n) {
        fprintf(stderr, "xformer-accuracy: %s is truncated\n", path);
        free(data);
        gzclose(gz);
        return NULL;
    }
    gzclose(gz);
    *count = n;
    return data;
}

int main(int argc, char** argv) {
    const char *model_path = NULL, *dir = FMNIST_DIR, *backends = NULL;
    long limit = 0;
    for (int i = 1; i < argc; i++) {
        const char* a = argv[i];
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            usage(stdout);
            return 0;
        } else if (strcmp(a, "--data") == 0 || strcmp(a, "--limit") == 0 || strcmp(a, "--backends") == 0) {
            if (i + 1 >= argc) {
                fprintf(stderr, "xformer-accuracy: %s needs a value\n", a);
                return 2;
            }
            const char* v = argv[++i];
            if (strcmp(a, "--data") == 0)
                dir = v;
            else if (strcmp(a, "--backends") == 0)
                backends = v;
            else {
                char* end;
                limit = strtol(v, &end, 10);
                if (*end || limit < 1) {
                    fprintf(stderr, "xformer-accuracy: --limit needs a positive integer\n");
                    return 2;
                }
            }
        } else if (a[0] == '-' && a[1]) {
            fprintf(stderr, "xformer-accuracy: unknown option '%s'\n", a);
            return 2;
        } else if (!model_path) {
            model_path = a;
        } else {
            usage(stderr);
            return 2;
        }
    }
    if (!model_path) {
        usage(stderr);
        return 2;
    }

    char ipath[1024], lpath[1024];
    snprintf(ipath, sizeof ipath, "%s/t10k-images-idx3-ubyte.gz", dir);
    snprintf(lpath, sizeof lpath, "%s/t10k-labels-idx1-ubyte.gz", dir);
    uint32_t idims[3], ldims[1];
    size_t icount, lcount;
    uint8_t* images = read_idx(ipath, 3, idims, &icount);
    uint8_t* labels = images ? read_idx(lpath, 1, ldims, &lcount) : NULL;
    if (!images || !labels) {
        free(images);
        return 1;
    }
    if (ldims[0] != idims[0]) {
        fprintf(stderr, "xformer-accuracy: %u images but %u labels\n", idims[0], ldims[0]);
        return 1;
    }
    size_t n = idims[0];
    if (limit && (size_t)limit < n) n = (size_t)limit;
    const int ih = (int)idims[1], iw = (int)idims[2];

    char list[256];
    if (backends) {
        snprintf(list, sizeof list, "%s", backends);
    } else {
        list[0] = '\0';
        const xf_backend_t all[] = {XF_BACKEND_CPU, XF_BACKEND_OPENCL, XF_BACKEND_VULKAN};
        for (int i = 0; i < 3; i++)
            if (xf_backend_compiled(all[i]))
                snprintf(list + strlen(list), sizeof list - strlen(list), "%s%s", list[0] ? "," : "",
                         xf_backend_name(all[i]));
    }
    int* first = malloc(n * sizeof(int));
    int* pred = malloc(n * sizeof(int));
    int rc = 0, have_first = 0;
    printf("Fashion-MNIST test set: %zu images of %dx%d, model %s\n", n, iw, ih, model_path);
    printf("%-8s %-40s %9s %10s %10s\n", "backend", "device", "accuracy", "agreement", "images/s");
    char* save = NULL;
    for (char* tok = strtok_r(list, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        xf_backend_t b;
        if (!ex_parse_backend(tok, &b)) {
            fprintf(stderr, "xformer-accuracy: unknown backend '%s'\n", tok);
            rc = 1;
            continue;
        }
        xf_context_t* ctx = ex_context(b, "xformer-accuracy");
        if (!ctx) {
            rc = 1;
            continue;
        }
        xf_device_info_t dev;
        xf_context_device_info(ctx, &dev);
        xf_model_t* model;
        if (xf_model_load(ctx, model_path, NULL, &model) != XF_OK) {
            fprintf(stderr, "xformer-accuracy: %s\n", xf_context_error(ctx));
            xf_context_destroy(ctx);
            rc = 1;
            break;
        }
        xf_model_info_t info;
        xf_model_info(model, &info);
        if (info.task != XF_MODEL_TASK_CLASSIFICATION || info.classes != 10) {
            fprintf(stderr, "xformer-accuracy: %s is not a 10-class classifier\n", model_path);
            xf_model_destroy(model);
            xf_context_destroy(ctx);
            rc = 1;
            break;
        }
        float* input = malloc((size_t)info.input_elements * sizeof(float));
        float logits[10];
        size_t correct = 0, agree = 0, done = 0;
        double t0 = ex_now_ms();
        for (size_t i = 0; i < n; i++) {
            xf_status_t st = xf_model_preprocess(model, images + i * (size_t)(ih * iw), iw, ih, 1, input,
                                                 (size_t)info.input_elements);
            if (st == XF_OK) st = xf_model_run(model, input, (size_t)info.input_elements, logits, 10);
            if (st != XF_OK) {
                fprintf(stderr, "xformer-accuracy: %s: image %zu: %s\n", tok, i, xf_context_error(ctx));
                rc = 1;
                break;
            }
            int best = 0;
            for (int k = 1; k < 10; k++)
                if (logits[k] > logits[best]) best = k;
            pred[i] = best;
            correct += best == labels[i];
            if (have_first) agree += best == first[i];
            done++;
        }
        double secs = (ex_now_ms() - t0) / 1e3;
        char agreement[32] = "-";
        if (have_first) snprintf(agreement, sizeof agreement, "%.2f%%", 100.0 * (double)agree / (double)done);
        printf("%-8s %-40.40s %8.2f%% %10s %10.1f\n", tok, dev.name,
               100.0 * (double)correct / (double)(done ? done : 1), agreement, (double)done / secs);
        fflush(stdout);
        if (!have_first && done == n) {
            memcpy(first, pred, n * sizeof(int));
            have_first = 1;
        }
        free(input);
        xf_model_destroy(model);
        xf_context_destroy(ctx);
    }
    free(first);
    free(pred);
    free(images);
    free(labels);
    return rc;
}
