// SPDX-License-Identifier: MIT
// xformer-classify: classifies PNG/JPEG images with a ViT/DeiT model and prints the top labels.
#include <math.h>
#include <stb_image.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"

#define PROG "xformer-classify"

static const char synopsis[] = "usage: " PROG " [OPTION]... MODEL IMAGE...\n";

static void usage(void) {
    printf("%s\n"
           "Classifies each IMAGE (PNG, JPEG, BMP, ...) with the ViT/DeiT safetensors MODEL and prints the\n"
           "top K (default 5) classes with their softmax probabilities, the backend and device used and the\n"
           "time taken. Labels come from the model's config, or from FILE (one per line). An image that\n"
           "cannot be read, or has more than 65536 pixels on a side, is reported and the others still\n"
           "run; the exit status is then 1.\n"
           "\n"
           "Options:\n"
           "  --labels FILE      class labels, one per line\n"
           "  --top K            print the K most likely classes (default 5)\n"
           "  --backend NAME     cpu, opencl, vulkan or auto (default: XFORMER_BACKEND, else auto)\n"
           "  --json             print one JSON document on stdout instead of text (docs/TOOLS.md)\n"
           "  -h, --help         print this help and exit\n"
           "  -V, --version      print the version and exit\n"
           "\n"
           "XFORMER_DEVICE picks the device. Exit status: 0 success, 1 a failure, 2 a usage error.\n",
           synopsis);
}

typedef struct options_s {
    const char* model_path;
    const char* labels_path;
    char** images;
    int nimages;
    int top;
    xf_backend_t backend;
    bool json;
} options_t;

// Returns -1 to go on, else the exit status.
static int parse_args(int argc, char** argv, options_t* o) {
    enum { OPT_LABELS = 256, OPT_TOP, OPT_BACKEND, OPT_JSON };
    static const struct option longopts[] = {
        {"labels", required_argument, NULL, OPT_LABELS}, {"top", required_argument, NULL, OPT_TOP},
        {"backend", required_argument, NULL, OPT_BACKEND}, {"json", no_argument, NULL, OPT_JSON},
        {"help", no_argument, NULL, 'h'},                {"version", no_argument, NULL, 'V'},
        {NULL, 0, NULL, 0},
    };
    *o = (options_t){.top = 5, .backend = XF_BACKEND_FROM_ENV};
    static const char shortopts[] = ":hV";
    opterr = 0;
    int c;
    while ((c = getopt_long(argc, argv, shortopts, longopts, NULL)) != -1) {
        long k;
        switch (c) {
            case 'h': usage(); return 0;
            case 'V': ex_print_version(PROG); return 0;
            case OPT_LABELS: o->labels_path = optarg; break;
            case OPT_TOP:
                if (!ex_parse_int(optarg, 1, 1000000, &k))
                    return ex_usage_error(PROG, NULL, "--top needs a positive integer, got '%s'", optarg);
                o->top = (int)k;
                break;
            case OPT_BACKEND:
                if (!ex_parse_backend(optarg, &o->backend))
                    return ex_usage_error(PROG, NULL, "unknown backend '%s' (cpu, opencl, vulkan, auto)", optarg);
                break;
            case OPT_JSON: o->json = true; break;
            default: return ex_option_error(PROG, c, argv, shortopts);
        }
    }
    if (optind >= argc) return ex_usage_error(PROG, synopsis, "missing MODEL and IMAGE");
    if (optind + 1 >= argc) return ex_usage_error(PROG, synopsis, "missing IMAGE");
    o->model_path = argv[optind];
    o->images = argv + optind + 1;
    o->nimages = argc - optind - 1;
    return -1;
}

typedef struct scored_s {
    int index;
    float p;
} scored_t;

static int by_prob(const void* a, const void* b) {
    const scored_t* x = a;
    const scored_t* y = b;
    return x->p < y->p ? 1 : x->p > y->p ? -1 : x->index - y->index;
}

// Classifies every image on a loaded classifier; returns how many gave no result. A failing run stops
// the loop (the device is in doubt) and fills |fatal|.
static int classify_images(const options_t* o, xf_model_t* model, const xf_model_info_t* info, ex_json_t* j,
                           char* fatal, size_t fatal_size) {
    xf_context_t* ctx = xf_model_context(model);
    float* input = malloc((size_t)info->input_elements * sizeof(float));
    float* logits = malloc((size_t)info->output_elements * sizeof(float));
    scored_t* s = malloc((size_t)info->classes * sizeof *s);
    int failed = 0;
    if (!input || !logits || !s) {
        snprintf(fatal, fatal_size, "out of memory");
        fprintf(stderr, PROG ": %s\n", fatal);
    }
    const int top = o->top > info->classes ? (int)info->classes : o->top;
    bool first_run = true;
    if (j) ex_json_array(j, "images");
    int n = 0;
    for (; n < o->nimages && !fatal[0]; n++) {
        const char* path = o->images[n];
        char why[1024];
        int w, h, ch;
        uint8_t* pixels = ex_load_image(path, &w, &h, &ch, why, sizeof why);
        double t1 = ex_now_ms();
        xf_status_t st = XF_ERR_INVALID_ARGUMENT;
        if (pixels) {
            st = xf_model_preprocess(model, pixels, w, h, ch, input, (size_t)info->input_elements);
            if (st != XF_OK) snprintf(why, sizeof why, "%s", xf_context_error(ctx));
            stbi_image_free(pixels);
        }
        double t2 = ex_now_ms();
        if (st != XF_OK) {
            ex_image_error(j, PROG, path, why);
            failed++;
            continue;
        }
        if (first_run) ex_status("running (the first run finishes compiling the kernels)...");
        st = xf_model_run(model, input, (size_t)info->input_elements, logits, (size_t)info->output_elements);
        if (first_run) ex_status(NULL);
        first_run = false;
        double t3 = ex_now_ms();
        if (st != XF_OK) {
            snprintf(fatal, fatal_size, "%s: %s", path, xf_context_error(ctx));
            ex_image_error(j, PROG, path, xf_context_error(ctx));
            failed++;
            continue;
        }
        float mx = logits[0];
        for (int64_t i = 1; i < info->classes; i++) mx = fmaxf(mx, logits[i]);
        double sum = 0;
        for (int64_t i = 0; i < info->classes; i++) sum += exp((double)(logits[i] - mx));
        for (int64_t i = 0; i < info->classes; i++) {
            s[i].index = (int)i;
            s[i].p = (float)(exp((double)(logits[i] - mx)) / sum);
        }
        qsort(s, (size_t)info->classes, sizeof *s, by_prob);
        if (j) {
            ex_json_object(j, NULL);
            ex_json_str(j, "path", path);
            ex_json_int(j, "width", w);
            ex_json_int(j, "height", h);
            ex_json_int(j, "channels", ch);
            ex_json_num(j, "preprocess_ms", t2 - t1, 6);
            ex_json_num(j, "run_ms", t3 - t2, 6);
            ex_json_array(j, "top");
            for (int k = 0; k < top; k++) {
                ex_json_object(j, NULL);
                ex_json_int(j, "index", s[k].index);
                ex_json_str(j, "label", xf_model_label(model, s[k].index));
                ex_json_num(j, "probability", s[k].p, 6);
                ex_json_end_object(j);
            }
            ex_json_end_array(j);
            ex_json_end_object(j);
            continue;
        }
        printf("%s (%dx%d, %d channel%s): preprocess %.2f ms, run %.2f ms\n", path, w, h, ch, ch > 1 ? "s" : "",
               t2 - t1, t3 - t2);
        for (int k = 0; k < top; k++) {
            const char* label = xf_model_label(model, s[k].index);
            if (label)
                printf("  %7.3f%%  %s\n", 100.0 * s[k].p, label);
            else
                printf("  %7.3f%%  class %d\n", 100.0 * s[k].p, s[k].index);
        }
    }
    ex_images_not_run(j, PROG, o->images + n, o->nimages - n, n > 0);
    if (j) ex_json_end_array(j);
    free(input);
    free(logits);
    free(s);
    return failed + o->nimages - n;
}

// In the JSON document, the images a failure before the first left unprocessed.
static void list_not_run(const options_t* o, ex_json_t* j) {
    if (!j) return;
    ex_json_array(j, "images");
    ex_images_not_run(j, PROG, o->images, o->nimages, false);
    ex_json_end_array(j);
}

// Loads the model and classifies; |fatal| gets what stopped the run, if anything. Returns the exit status.
static int run(const options_t* o, ex_json_t* j, char* fatal, size_t fatal_size) {
    xf_context_t* ctx = ex_context(o->backend, PROG);
    if (!ctx) {
        snprintf(fatal, fatal_size, "cannot create a context: %s", xf_last_error());
        list_not_run(o, j);
        return 1;
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
    xf_status_t loaded = xf_model_load(ctx, o->model_path, NULL, &model);
    ex_status(NULL);
    if (loaded != XF_OK) {
        snprintf(fatal, fatal_size, "%s", xf_context_error(ctx));
        fprintf(stderr, PROG ": %s\n", fatal);
        list_not_run(o, j);
        xf_context_destroy(ctx);
        return 1;
    }
    double t_load = ex_now_ms() - t0;
    xf_model_info_t info;
    xf_model_info(model, &info);
    if (info.task != XF_MODEL_TASK_CLASSIFICATION) {
        snprintf(fatal, fatal_size, "%s is a %s %s model, not a classifier; use xformer-segment", o->model_path,
                 info.architecture, ex_task_name(info.task));
    } else if (o->labels_path && xf_model_load_labels(model, o->labels_path) != XF_OK) {
        snprintf(fatal, fatal_size, "%s", xf_context_error(ctx));
    }
    if (fatal[0]) fprintf(stderr, PROG ": %s\n", fatal);
    if (j) {
        xf_model_info(model, &info);
        ex_json_object(j, "model");
        ex_json_model_fields(j, o->model_path, &info);
        ex_json_num(j, "load_ms", t_load, 6);
        ex_json_end_object(j);
    } else if (!fatal[0]) {
        ex_print_model(stdout, o->model_path, &info);
        printf("load: %.1f ms (validation, upload, graph)\n", t_load);
    }
    if (fatal[0]) list_not_run(o, j);
    int failed = fatal[0] ? 0 : classify_images(o, model, &info, j, fatal, fatal_size);
    xf_model_destroy(model);
    xf_context_destroy(ctx);
    return fatal[0] || failed ? 1 : 0;
}

int main(int argc, char** argv) {
    options_t o;
    int rc = parse_args(argc, argv, &o);
    if (rc >= 0) return rc;
    ex_json_t json;
    ex_json_t* j = o.json ? &json : NULL;
    if (j) {
        ex_json_begin(j, stdout);
        ex_json_header(j, PROG);
    }
    char fatal[2048] = "";
    rc = run(&o, j, fatal, sizeof fatal);
    if (j) {
        if (fatal[0]) ex_json_str(j, "error", fatal);
        ex_json_end(j);
    }
    return rc;
}
