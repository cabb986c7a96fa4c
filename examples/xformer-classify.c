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
           "Classifies each IMAGE (PNG, JPEG, BMP, ...) with the ViT/DeiT/Swin MODEL (a safetensors file, a\n"
           "timm or Hugging Face checkpoint directory, or an ONNX file) and prints the top K (default 5)\n"
           "classes with their softmax probabilities, the backend and device used and the time taken.\n"
           "Labels come from the model's config, or from FILE (one per line). An image that cannot be read,\n"
           "or has more than 65536 pixels on a side, is reported and the others still run; the exit status\n"
           "is then 1.\n"
           "\n"
           "Options:\n"
           "  --labels FILE      class labels, one per line\n"
           "  --top K            print the K most likely classes (default 5)\n"
           "  --batch N          run the images N at a time, in one graph built for N images (default 1);\n"
           "                     each result equals the image's result alone\n"
           EX_PREPROCESS_HELP
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
    int batch;
    xf_backend_t backend;
    bool json;
} options_t;

// Returns -1 to go on, else the exit status.
static int parse_args(int argc, char** argv, options_t* o) {
    enum { OPT_LABELS = 256, OPT_TOP, OPT_BATCH, OPT_BACKEND, OPT_JSON };
    static const struct option longopts[] = {
        {"labels", required_argument, NULL, OPT_LABELS}, {"top", required_argument, NULL, OPT_TOP},
        {"batch", required_argument, NULL, OPT_BATCH},
        {"backend", required_argument, NULL, OPT_BACKEND}, {"json", no_argument, NULL, OPT_JSON},
        EX_PREPROCESS_LONGOPTS,
        {"help", no_argument, NULL, 'h'},                {"version", no_argument, NULL, 'V'},
        {NULL, 0, NULL, 0},
    };
    *o = (options_t){.top = 5, .batch = 1, .backend = XF_BACKEND_FROM_ENV};
    static const char shortopts[] = ":hV";
    int c;
    while ((c = ex_getopt(argc, argv, shortopts, longopts)) != -1) {
        long k;
        switch (c) {
            case OPT_LABELS: o->labels_path = optarg; break;
            case OPT_TOP:
                if (!ex_parse_int(optarg, 1, 1000000, &k))
                    return ex_usage_error(PROG, NULL, "--top needs a positive integer, got '%s'", optarg);
                o->top = (int)k;
                break;
            case OPT_BATCH:
                if (!ex_parse_int(optarg, 1, XF_MODEL_MAX_BATCH, &k))
                    return ex_usage_error(PROG, NULL, "--batch needs an integer from 1 to %lld, got '%s'",
                                          (long long)XF_MODEL_MAX_BATCH, optarg);
                o->batch = (int)k;
                break;
            case OPT_BACKEND:
                if (!ex_parse_backend(optarg, &o->backend))
                    return ex_usage_error(PROG, NULL, "unknown backend '%s' (cpu, opencl, vulkan, auto)", optarg);
                break;
            case OPT_JSON: o->json = true; break;
            default: {
                int taken = ex_preprocess_option(PROG, c, optarg);
                if (taken == 2) return 2;
                if (taken == 0) return ex_common_option(PROG, usage, c, argv, shortopts);
            }
        }
    }
    return ex_model_and_images(PROG, synopsis, argc, argv, &o->model_path, &o->images, &o->nimages);
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

// One image waiting in the batch.
typedef struct pending_s {
    const char* path;
    int w, h, ch;
    double t_pre;
} pending_t;

// What every image shares: the model, its batch-sized buffers, the images waiting in the batch and the
// JSON document (NULL for text).
typedef struct cls_s {
    xf_model_t* model;
    xf_model_info_t info;
    ex_json_t* j;
    int top;  // how many classes to show
    float* input;
    float* logits;
    scored_t* scored;
    pending_t* pending;
    int npending, nimages;
    bool first_run;
} cls_t;

// Prints the top classes of the |k|th image of the last run.
static void report(cls_t* c, int k, double t_run) {
    const xf_model_info_t* info = &c->info;
    const pending_t* p = &c->pending[k];
    const float* logits = c->logits + (size_t)k * (size_t)info->output_elements;
    scored_t* s = c->scored;
    float mx = logits[0];
    for (int64_t i = 1; i < info->classes; i++) mx = fmaxf(mx, logits[i]);
    double sum = 0;
    for (int64_t i = 0; i < info->classes; i++) sum += exp((double)(logits[i] - mx));
    for (int64_t i = 0; i < info->classes; i++) {
        s[i].index = (int)i;
        s[i].p = (float)(exp((double)(logits[i] - mx)) / sum);
    }
    qsort(s, (size_t)info->classes, sizeof *s, by_prob);
    if (c->j) {
        ex_json_t* j = c->j;
        ex_json_image(j, p->path, p->w, p->h, p->ch, p->t_pre, t_run);
        ex_json_array(j, "top");
        for (int i = 0; i < c->top; i++) {
            ex_json_object(j, NULL);
            ex_json_int(j, "index", s[i].index);
            ex_json_str(j, "label", xf_model_label(c->model, s[i].index));
            ex_json_num(j, "probability", s[i].p, 6);
            ex_json_end_object(j);
        }
        ex_json_end_array(j);
        ex_json_end_object(j);
        return;
    }
    ex_print_image(p->path, p->w, p->h, p->ch, p->t_pre, t_run);
    if (info->batch > 1) printf(" (the batch of %lld)", (long long)info->batch);
    printf("\n");
    for (int i = 0; i < c->top; i++) {
        const char* label = xf_model_label(c->model, s[i].index);
        if (label)
            printf("  %7.3f%%  %s\n", 100.0 * s[i].p, label);
        else
            printf("  %7.3f%%  class %d\n", 100.0 * s[i].p, s[i].index);
    }
}

// Preprocesses image |n| into the next slot of the batch and, once the batch is full or this is the last
// image, runs it and reports every image in it (an ex_image_fn). A partial last batch repeats its last image.
static ex_outcome_t classify_one(void* arg, int n, const char* path, char* why, size_t why_size) {
    cls_t* c = arg;
    const xf_model_info_t* info = &c->info;
    const size_t image = (size_t)info->input_elements;
    pending_t* p = &c->pending[c->npending];
    bool last = n == c->nimages - 1;
    uint8_t* pixels =
        ex_load_input(c->model, path, c->input + c->npending * image, &p->w, &p->h, &p->ch, &p->t_pre, why, why_size);
    if (pixels) {
        stbi_image_free(pixels);
        p->path = path;
        c->npending++;
    }
    if (c->npending == 0 || (c->npending < info->batch && !last)) return pixels ? EX_IMAGE_DONE : EX_IMAGE_FAILED;
    for (int k = c->npending; k < info->batch; k++)
        memcpy(c->input + k * image, c->input + (c->npending - 1) * image, image * sizeof(float));
    double t0 = ex_now_ms();
    xf_status_t st = ex_run_model(c->model, c->input, (size_t)info->batch * image, c->logits,
                                  (size_t)(info->batch * info->output_elements), &c->first_run);
    double t_run = ex_now_ms() - t0;
    if (st != XF_OK) {
        snprintf(why, why_size, "%s", xf_context_error(xf_model_context(c->model)));
        // ex_run_images reports this image; the others waiting in the batch failed with it.
        for (int k = 0; k < c->npending; k++)
            if (c->pending[k].path != path) ex_image_error(c->j, PROG, c->pending[k].path, why);
        return EX_RUN_FAILED;
    }
    for (int k = 0; k < c->npending; k++) report(c, k, t_run);
    c->npending = 0;
    return pixels ? EX_IMAGE_DONE : EX_IMAGE_FAILED;
}

// Loads the model and classifies; |fatal| gets what stopped the run, if anything. Returns the exit status.
static int run(const options_t* o, ex_json_t* j, char* fatal, size_t fatal_size) {
    cls_t c = {.j = j, .first_run = true, .nimages = o->nimages};
    int batch = o->batch < o->nimages ? o->batch : o->nimages;
    c.model = ex_open_model(PROG, XF_MODEL_TASK_CLASSIFICATION, o->backend, o->model_path, o->labels_path, batch, j,
                            fatal, fatal_size);
    if (!c.model) {
        ex_list_not_run(j, PROG, o->images, o->nimages);
        return 1;
    }
    xf_model_info(c.model, &c.info);
    c.top = o->top > c.info.classes ? (int)c.info.classes : o->top;
    c.input = malloc((size_t)(c.info.batch * c.info.input_elements) * sizeof(float));
    c.logits = malloc((size_t)(c.info.batch * c.info.output_elements) * sizeof(float));
    c.scored = malloc((size_t)c.info.classes * sizeof *c.scored);
    c.pending = malloc((size_t)c.info.batch * sizeof *c.pending);
    if (!c.input || !c.logits || !c.scored || !c.pending) {
        snprintf(fatal, fatal_size, "out of memory");
        fprintf(stderr, PROG ": %s\n", fatal);
    }
    int failed = ex_run_images(PROG, o->images, o->nimages, j, classify_one, &c, fatal, fatal_size);
    free(c.input);
    free(c.logits);
    free(c.scored);
    free(c.pending);
    ex_close_model(c.model);
    return fatal[0] || failed ? 1 : 0;
}

int main(int argc, char** argv) {
    options_t o;
    int rc = parse_args(argc, argv, &o);
    if (rc >= 0) return rc;
    ex_json_t json;
    ex_json_t* j = o.json ? ex_json_document(&json, PROG) : NULL;
    char fatal[2 * PATH_MAX] = "";
    rc = run(&o, j, fatal, sizeof fatal);
    ex_json_finish(j, fatal);
    return rc;
}
