// SPDX-License-Identifier: MIT
// xformer-classify: classifies PNG/JPEG images with a ViT/DeiT model and prints the top labels.
#include <errno.h>
#include <math.h>
#include <stb_image.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"

static void usage(FILE* f) {
    fprintf(
        f,
        "usage: xformer-classify MODEL IMAGE... [--labels FILE] [--top K] [--backend "
        "cpu|opencl|vulkan|auto]\n"
        "\n"
        "Classifies each IMAGE (PNG, JPEG, BMP, ...) with the ViT/DeiT safetensors MODEL and prints the\n"
        "top K (default 5) classes with their softmax probabilities, the backend and device used and the\n"
        "time taken. Labels come from the model's config, or from FILE (one per line).\n"
        "The backend defaults to XFORMER_BACKEND (cpu|opencl|vulkan|auto); XFORMER_DEVICE picks the "
        "device.\n");
}

typedef struct {
    int index;
    float p;
} scored_t;

static int by_prob(const void* a, const void* b) {
    const scored_t* x = a;
    const scored_t* y = b;
    return x->p < y->p ? 1 : x->p > y->p ? -1 : x->index - y->index;
}

int main(int argc, char** argv) {
    const char* model_path = NULL;
    const char* labels_path = NULL;
    const char* images[256];
    int nimages = 0, top = 5;
    xf_backend_t backend = XF_BACKEND_FROM_ENV;
    for (int i = 1; i < argc; i++) {
        const char* a = argv[i];
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            usage(stdout);
            return 0;
        } else if (strcmp(a, "--labels") == 0 || strcmp(a, "--top") == 0 || strcmp(a, "--backend") == 0) {
            if (i + 1 >= argc) {
                fprintf(stderr, "xformer-classify: %s needs a value\n", a);
                return 2;
            }
            const char* v = argv[++i];
            if (strcmp(a, "--labels") == 0) {
                labels_path = v;
            } else if (strcmp(a, "--top") == 0) {
                char* end;
                errno = 0;
                long k = strtol(v, &end, 10);
                if (*end || errno || k < 1 || k > 1000000) {
                    fprintf(stderr, "xformer-classify: --top needs a positive integer, got '%s'\n", v);
                    return 2;
                }
                top = (int)k;
            } else if (!ex_parse_backend(v, &backend)) {
                fprintf(stderr, "xformer-classify: unknown backend '%s' (cpu, opencl, vulkan, auto)\n", v);
                return 2;
            }
        } else if (a[0] == '-' && a[1]) {
            fprintf(stderr, "xformer-classify: unknown option '%s'\n", a);
            usage(stderr);
            return 2;
        } else if (!model_path) {
            model_path = a;
        } else if (nimages < (int)(sizeof images / sizeof images[0])) {
            images[nimages++] = a;
        } else {
            fprintf(stderr, "xformer-classify: at most %zu images\n", sizeof images / sizeof images[0]);
            return 2;
        }
    }
    if (!model_path || nimages == 0) {
        usage(stderr);
        return 2;
    }

    xf_context_t* ctx = ex_context(backend, "xformer-classify");
    if (!ctx) return 1;
    ex_print_device(stdout, ctx);
    double t0 = ex_now_ms();
    xf_model_t* model;
    ex_status("loading the model and preparing its kernels (compiled on the first run, cached after)...");
    xf_status_t loaded = xf_model_load(ctx, model_path, NULL, &model);
    ex_status(NULL);
    if (loaded != XF_OK) {
        fprintf(stderr, "xformer-classify: %s\n", xf_context_error(ctx));
        xf_context_destroy(ctx);
        return 1;
    }
    double t_load = ex_now_ms() - t0;
    xf_model_info_t info;
    xf_model_info(model, &info);
    int rc = 0;
    if (info.task != XF_MODEL_TASK_CLASSIFICATION) {
        fprintf(stderr, "xformer-classify: %s is a %s %s model, not a classifier; use xformer-segment\n",
                model_path, info.architecture, ex_task_name(info.task));
        rc = 1;
    }
    if (rc == 0 && labels_path && xf_model_load_labels(model, labels_path) != XF_OK) {
        fprintf(stderr, "xformer-classify: %s\n", xf_context_error(ctx));
        rc = 1;
    }
    if (rc == 0) {
        ex_print_model(stdout, model_path, &info);
        printf("load: %.1f ms (validation, upload, graph)\n", t_load);
    }
    float* input = malloc((size_t)info.input_elements * sizeof(float));
    float* logits = malloc((size_t)info.output_elements * sizeof(float));
    scored_t* s = malloc((size_t)info.classes * sizeof *s);
    if (rc == 0 && (!input || !logits || !s)) {
        fprintf(stderr, "xformer-classify: out of memory\n");
        rc = 1;
    }
    if (top > info.classes) top = (int)info.classes;
    // An unreadable image is reported and skipped; a failing device stops the run.
    bool fatal = rc != 0;
    for (int n = 0; !fatal && n < nimages; n++) {
        int w, h, ch;
        uint8_t* pixels = stbi_load(images[n], &w, &h, &ch, 0);
        if (!pixels) {
            FILE* probe = fopen(images[n], "rb");
            fprintf(stderr, "xformer-classify: %s: %s\n", images[n],
                    probe ? stbi_failure_reason() : strerror(errno));
            if (probe) fclose(probe);
            rc = 1;
            continue;
        }
        double t1 = ex_now_ms();
        xf_status_t st = xf_model_preprocess(model, pixels, w, h, ch, input, (size_t)info.input_elements);
        stbi_image_free(pixels);
        double t2 = ex_now_ms();
        if (n == 0) ex_status("running (the first run finishes compiling the kernels)...");
        if (st == XF_OK)
            st =
                xf_model_run(model, input, (size_t)info.input_elements, logits, (size_t)info.output_elements);
        if (n == 0) ex_status(NULL);
        double t3 = ex_now_ms();
        if (st != XF_OK) {
            fprintf(stderr, "xformer-classify: %s: %s\n", images[n], xf_context_error(ctx));
            rc = 1;
            fatal = true;
            break;
        }
        float mx = logits[0];
        for (int64_t i = 1; i < info.classes; i++) mx = fmaxf(mx, logits[i]);
        double sum = 0;
        for (int64_t i = 0; i < info.classes; i++) sum += exp((double)(logits[i] - mx));
        for (int64_t i = 0; i < info.classes; i++) {
            s[i].index = (int)i;
            s[i].p = (float)(exp((double)(logits[i] - mx)) / sum);
        }
        qsort(s, (size_t)info.classes, sizeof *s, by_prob);
        printf("%s (%dx%d, %d channel%s): preprocess %.2f ms, run %.2f ms\n", images[n], w, h, ch,
               ch > 1 ? "s" : "", t2 - t1, t3 - t2);
        for (int k = 0; k < top; k++) {
            const char* label = xf_model_label(model, s[k].index);
            if (label)
                printf("  %7.3f%%  %s\n", 100.0 * s[k].p, label);
            else
                printf("  %7.3f%%  class %d\n", 100.0 * s[k].p, s[k].index);
        }
    }
    free(input);
    free(logits);
    free(s);
    xf_model_destroy(model);
    xf_context_destroy(ctx);
    return rc;
}
