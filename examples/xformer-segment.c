// SPDX-License-Identifier: MIT
// xformer-segment: semantic segmentation of images with a SegFormer model; writes colour masks.
#include <stb_image.h>
#include <stb_image_write.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "common.h"

#define PROG "xformer-segment"

static const char synopsis[] = "usage: " PROG " [OPTION]... MODEL IMAGE... -o MASK\n";

static void usage(void) {
    printf("%s\n"
           "Segments each IMAGE (PNG, JPEG, ...) with the SegFormer MODEL (safetensors or ONNX). Writes the\n"
           "per-pixel "
           "class as a colour PNG at the image's size (class 0 black, then a fixed palette), optionally the\n"
           "image blended with the colours of the non-zero classes, and prints each class's share of the\n"
           "pixels. Labels come from the model's config, or from FILE (one per line). An image that cannot be\n"
           "read (or has more than 65536 pixels on a side) or written is reported and the others still run;\n"
           "the exit status is then 1.\n"
           "\n"
           "Options:\n"
           "  -o, --output MASK  the mask PNG; with several images, or when MASK is a directory, the\n"
           "                     directory (created if needed) that gets STEM-mask.png per image\n"
           "  --overlay OUT      the blended PNG; a directory as for -o, with STEM-overlay.png\n"
           "  --labels FILE      class labels, one per line\n"
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
    const char* mask_arg;
    const char* overlay_arg;
    const char* labels_path;
    char** images;
    int nimages;
    xf_backend_t backend;
    bool json;
    bool mask_dir, overlay_dir;  // outputs go to DIR/STEM-mask.png, DIR/STEM-overlay.png
} options_t;

// Returns -1 to go on, else the exit status.
static int parse_args(int argc, char** argv, options_t* o) {
    enum { OPT_OVERLAY = 256, OPT_LABELS, OPT_BACKEND, OPT_JSON };
    static const struct option longopts[] = {
        {"output", required_argument, NULL, 'o'},          {"overlay", required_argument, NULL, OPT_OVERLAY},
        {"labels", required_argument, NULL, OPT_LABELS},   {"backend", required_argument, NULL, OPT_BACKEND},
        {"json", no_argument, NULL, OPT_JSON},             EX_PREPROCESS_LONGOPTS,
        {"help", no_argument, NULL, 'h'},
        {"version", no_argument, NULL, 'V'},               {NULL, 0, NULL, 0},
    };
    *o = (options_t){.backend = XF_BACKEND_FROM_ENV};
    static const char shortopts[] = ":ho:V";
    int c;
    while ((c = ex_getopt(argc, argv, shortopts, longopts)) != -1) {
        switch (c) {
            case 'o': o->mask_arg = optarg; break;
            case OPT_OVERLAY: o->overlay_arg = optarg; break;
            case OPT_LABELS: o->labels_path = optarg; break;
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
    int rc = ex_model_and_images(PROG, synopsis, argc, argv, &o->model_path, &o->images, &o->nimages);
    if (rc >= 0) return rc;
    if (!o->mask_arg) return ex_usage_error(PROG, synopsis, "missing -o MASK");
    return -1;
}

static bool is_directory(const char* path) {
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

// With several images an output names a directory, created when missing. Returns false after reporting.
static bool prepare_output(const char* path, int nimages, bool* dir) {
    *dir = is_directory(path);
    if (*dir || nimages == 1) return true;
    if (mkdir(path, 0777) != 0) {
        fprintf(stderr, PROG ": cannot create the directory %s: %s\n", path, strerror(errno));
        return false;
    }
    *dir = true;
    return true;
}

// The image's file name without its directory and last extension.
static void image_stem(const char* image, char* out, size_t size) {
    const char* base = strrchr(image, '/');
    base = base ? base + 1 : image;
    const char* dot = strrchr(base, '.');
    size_t len = dot && dot != base ? (size_t)(dot - base) : strlen(base);
    snprintf(out, size, "%.*s", (int)len, base);
}

// Class 0 is black; the others cycle through 20 well-separated colours.
static void class_colour(int c, uint8_t rgb[3]) {
    static const uint8_t palette[20][3] = {
        {230, 25, 75},   {60, 180, 75},   {255, 225, 25},  {0, 130, 200},   {245, 130, 48},
        {145, 30, 180},  {70, 240, 240},  {240, 50, 230},  {210, 245, 60},  {250, 190, 212},
        {0, 128, 128},   {220, 190, 255}, {170, 110, 40},  {255, 250, 200}, {128, 0, 0},
        {170, 255, 195}, {128, 128, 0},   {255, 215, 180}, {0, 0, 128},     {128, 128, 128},
    };
    if (c <= 0) {
        rgb[0] = rgb[1] = rgb[2] = 0;
        return;
    }
    memcpy(rgb, palette[(c - 1) % 20], 3);
}

typedef struct share_s {
    int cls;
    long count;
} share_t;

static int by_count(const void* a, const void* b) {
    const share_t* x = a;
    const share_t* y = b;
    return x->count < y->count ? 1 : x->count > y->count ? -1 : x->cls - y->cls;
}

// What every image shares: the options, the model, its input-sized buffers and the JSON document (NULL for text).
typedef struct seg_s {
    const options_t* o;
    xf_model_t* model;
    xf_model_info_t info;
    ex_json_t* j;
    float* input;
    int32_t* mask;
    share_t* shares;
    bool first_run;
} seg_t;

static void write_json_entry(seg_t* s, const char* path, int w, int h, int ch, const double ms[3],
                             const char* mask_path, const char* overlay_path) {
    ex_json_t* j = s->j;
    ex_json_image(j, path, w, h, ch, ms[0], ms[1]);
    ex_json_num(j, "mask_ms", ms[2], 6);
    ex_json_str(j, "mask", mask_path);
    ex_json_str(j, "overlay", overlay_path);
    ex_json_array(j, "classes");
    for (int i = 0; i < s->info.classes && s->shares[i].count > 0; i++) {
        uint8_t rgb[3];
        char colour[8];
        class_colour(s->shares[i].cls, rgb);
        snprintf(colour, sizeof colour, "#%02x%02x%02x", rgb[0], rgb[1], rgb[2]);
        ex_json_object(j, NULL);
        ex_json_int(j, "index", s->shares[i].cls);
        ex_json_str(j, "label", xf_model_label(s->model, s->shares[i].cls));
        ex_json_str(j, "colour", colour);
        ex_json_int(j, "pixels", s->shares[i].count);
        ex_json_num(j, "share", (double)s->shares[i].count / ((double)w * h), 6);
        ex_json_end_object(j);
    }
    ex_json_end_array(j);
    ex_json_end_object(j);
}

// Segments one image and writes its mask (and overlay when |overlay_path| is given); |why| gets the reason
// of a failure.
static ex_outcome_t segment_one(seg_t* s, const char* path, const char* mask_path, const char* overlay_path,
                                char* why, size_t why_size) {
    const xf_model_info_t* info = &s->info;
    const size_t mh = (size_t)info->input_height, mw = (size_t)info->input_width;
    int w, h, ch;
    double t_pre;
    uint8_t* pixels = ex_load_input(s->model, path, s->input, &w, &h, &ch, &t_pre, why, why_size);
    if (!pixels) return EX_IMAGE_FAILED;
    ex_outcome_t result = EX_IMAGE_FAILED;
    uint8_t *out = NULL, *blend = NULL;
    double t2 = ex_now_ms();
    xf_status_t st = ex_run_model(s->model, s->input, (size_t)info->input_elements, NULL, 0, &s->first_run);
    double t3 = ex_now_ms();
    if (st == XF_OK) st = xf_model_mask(s->model, s->mask, mh * mw);
    double t4 = ex_now_ms();
    if (st != XF_OK) {
        snprintf(why, why_size, "%s", xf_context_error(xf_model_context(s->model)));
        result = EX_RUN_FAILED;
        goto done;
    }
    out = malloc((size_t)w * (size_t)h * 3);
    blend = overlay_path ? malloc((size_t)w * (size_t)h * 3) : NULL;
    if (!out || (overlay_path && !blend)) {
        snprintf(why, why_size, "out of memory for a %dx%d image", w, h);
        goto done;
    }
    if (!s->j) {
        ex_print_image(path, w, h, ch, t_pre, t3 - t2);
        printf(", mask %.2f ms\n", t4 - t3);
    }

    // Nearest-neighbour back to the image size, as PyTorch's mode="nearest": src = floor(dst * in / out).
    for (int i = 0; i < info->classes; i++) s->shares[i] = (share_t){.cls = i};
    for (int y = 0; y < h; y++) {
        size_t sy = (size_t)((float)y * ((float)mh / (float)h));
        if (sy >= mh) sy = mh - 1;
        for (int x = 0; x < w; x++) {
            size_t sx = (size_t)((float)x * ((float)mw / (float)w));
            if (sx >= mw) sx = mw - 1;
            int c = s->mask[sy * mw + sx];
            if (c >= 0 && c < info->classes) s->shares[c].count++;
            class_colour(c, out + ((size_t)y * (size_t)w + (size_t)x) * 3);
        }
    }
    if (!stbi_write_png(mask_path, w, h, 3, out, w * 3)) {
        snprintf(why, why_size, "cannot write %s", mask_path);
        goto done;
    }
    if (!s->j) printf("mask: %s\n", mask_path);
    if (overlay_path) {
        for (size_t i = 0; i < (size_t)w * (size_t)h; i++) {
            const uint8_t* p = pixels + i * (size_t)ch;
            uint8_t rgb[3] = {p[0], ch >= 3 ? p[1] : p[0], ch >= 3 ? p[2] : p[0]};
            const uint8_t* m = out + i * 3;
            bool background = m[0] == 0 && m[1] == 0 && m[2] == 0;
            for (int k = 0; k < 3; k++)
                blend[i * 3 + k] = background ? rgb[k] : (uint8_t)((rgb[k] + m[k] + 1) / 2);
        }
        if (!stbi_write_png(overlay_path, w, h, 3, blend, w * 3)) {
            snprintf(why, why_size, "cannot write %s", overlay_path);
            goto done;
        }
        if (!s->j) printf("overlay: %s\n", overlay_path);
    }
    qsort(s->shares, (size_t)info->classes, sizeof *s->shares, by_count);
    if (s->j) {
        write_json_entry(s, path, w, h, ch, (double[3]){t_pre, t3 - t2, t4 - t3}, mask_path, overlay_path);
    } else {
        printf("class shares:\n");
        for (int i = 0; i < info->classes && s->shares[i].count > 0; i++) {
            const char* label = xf_model_label(s->model, s->shares[i].cls);
            uint8_t rgb[3];
            class_colour(s->shares[i].cls, rgb);
            printf("  %7.3f%%  %3d  #%02x%02x%02x  %s\n", 100.0 * (double)s->shares[i].count / ((double)w * h),
                   s->shares[i].cls, rgb[0], rgb[1], rgb[2], label ? label : "");
        }
    }
    result = EX_IMAGE_DONE;
done:
    free(out);
    free(blend);
    stbi_image_free(pixels);
    return result;
}

// Output file |kind| ("mask", "overlay") of image |n|: |arg| itself, or DIR/STEM-KIND.png.
static bool output_path(const options_t* o, int n, const char* arg, bool dir, const char* kind, char* out,
                        size_t size) {
    if (!dir) return (size_t)snprintf(out, size, "%s", arg) < size;
    char stem[1024];
    image_stem(o->images[n], stem, sizeof stem);
    return (size_t)snprintf(out, size, "%s/%s-%s.png", arg, stem, kind) < size;
}

// Segments image |n| once its output paths are known (an ex_image_fn).
static ex_outcome_t segment_image(void* arg, int n, const char* path, char* why, size_t why_size) {
    seg_t* s = arg;
    const options_t* o = s->o;
    char mask_path[PATH_MAX], overlay_path[PATH_MAX], stem[1024], earlier[1024];
    image_stem(path, stem, sizeof stem);
    int same = -1;
    for (int k = 0; k < n && (o->mask_dir || o->overlay_dir) && same < 0; k++) {
        image_stem(o->images[k], earlier, sizeof earlier);
        if (strcmp(stem, earlier) == 0) same = k;
    }
    if (same >= 0) {
        snprintf(why, why_size, "its outputs would overwrite those of %s", o->images[same]);
    } else if (!output_path(o, n, o->mask_arg, o->mask_dir, "mask", mask_path, sizeof mask_path) ||
               (o->overlay_arg &&
                !output_path(o, n, o->overlay_arg, o->overlay_dir, "overlay", overlay_path, sizeof overlay_path))) {
        snprintf(why, why_size, "the output path is too long");
    } else {
        return segment_one(s, path, mask_path, o->overlay_arg ? overlay_path : NULL, why, why_size);
    }
    return EX_IMAGE_FAILED;
}

// Loads the model and segments; |fatal| gets what stopped the run, if anything. Returns the exit status.
static int run(const options_t* o, ex_json_t* j, char* fatal, size_t fatal_size) {
    seg_t s = {.o = o, .j = j, .first_run = true};
    s.model = ex_open_model(PROG, XF_MODEL_TASK_SEGMENTATION, o->backend, o->model_path, o->labels_path, 1, j, fatal,
                            fatal_size);
    if (!s.model) {
        ex_list_not_run(j, PROG, o->images, o->nimages);
        return 1;
    }
    xf_model_info(s.model, &s.info);
    s.input = malloc((size_t)s.info.input_elements * sizeof(float));
    s.mask = malloc((size_t)s.info.input_height * (size_t)s.info.input_width * sizeof(int32_t));
    s.shares = calloc((size_t)s.info.classes, sizeof *s.shares);
    if (!s.input || !s.mask || !s.shares) {
        snprintf(fatal, fatal_size, "out of memory");
        fprintf(stderr, PROG ": %s\n", fatal);
    }
    int failed = ex_run_images(PROG, o->images, o->nimages, j, segment_image, &s, fatal, fatal_size);
    free(s.input);
    free(s.mask);
    free(s.shares);
    ex_close_model(s.model);
    return fatal[0] || failed ? 1 : 0;
}

int main(int argc, char** argv) {
    options_t o;
    int rc = parse_args(argc, argv, &o);
    if (rc >= 0) return rc;
    if (!prepare_output(o.mask_arg, o.nimages, &o.mask_dir) ||
        (o.overlay_arg && !prepare_output(o.overlay_arg, o.nimages, &o.overlay_dir)))
        return 1;
    ex_json_t json;
    ex_json_t* j = o.json ? ex_json_document(&json, PROG) : NULL;
    char fatal[2 * PATH_MAX] = "";
    rc = run(&o, j, fatal, sizeof fatal);
    ex_json_finish(j, fatal);
    return rc;
}
