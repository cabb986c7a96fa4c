// SPDX-License-Identifier: MIT
// xformer-segment: semantic segmentation of one image with a SegFormer model; writes a colour mask.
#include <errno.h>
#include <stb_image.h>
#include <stb_image_write.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"

static void usage(FILE* f) {
    fprintf(f,
            "usage: xformer-segment MODEL IMAGE -o MASK.png [--overlay OUT.png] [--labels FILE]\n"
            "                       [--backend cpu|opencl|vulkan|auto]\n"
            "\n"
            "Segments IMAGE (PNG, JPEG, ...) with the SegFormer safetensors MODEL. Writes the per-pixel "
            "class as\n"
            "a colour PNG at the image's size (class 0 black, then a fixed palette), optionally the image "
            "blended\n"
            "with the colours of the non-zero classes, and prints each class's share of the pixels.\n"
            "Labels come from the model's config, or from FILE (one per line).\n"
            "The backend defaults to XFORMER_BACKEND (cpu|opencl|vulkan|auto); XFORMER_DEVICE picks the "
            "device.\n");
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

typedef struct {
    int cls;
    long count;
} share_t;

static int by_count(const void* a, const void* b) {
    const share_t* x = a;
    const share_t* y = b;
    return x->count < y->count ? 1 : x->count > y->count ? -1 : x->cls - y->cls;
}

int main(int argc, char** argv) {
    const char *model_path = NULL, *image_path = NULL, *mask_path = NULL, *overlay_path = NULL,
               *labels_path = NULL;
    xf_backend_t backend = XF_BACKEND_FROM_ENV;
    for (int i = 1; i < argc; i++) {
        const char* a = argv[i];
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            usage(stdout);
            return 0;
        } else if (strcmp(a, "-o") == 0 || strcmp(a, "--overlay") == 0 || strcmp(a, "--labels") == 0 ||
                   strcmp(a, "--backend") == 0) {
            if (i + 1 >= argc) {
                fprintf(stderr, "xformer-segment: %s needs a value\n", a);
                return 2;
            }
            const char* v = argv[++i];
            if (strcmp(a, "-o") == 0)
                mask_path = v;
            else if (strcmp(a, "--overlay") == 0)
                overlay_path = v;
            else if (strcmp(a, "--labels") == 0)
                labels_path = v;
            else if (!ex_parse_backend(v, &backend)) {
                fprintf(stderr, "xformer-segment: unknown backend '%s' (cpu, opencl, vulkan, auto)\n", v);
                return 2;
            }
        } else if (a[0] == '-' && a[1]) {
            fprintf(stderr, "xformer-segment: unknown option '%s'\n", a);
            usage(stderr);
            return 2;
        } else if (!model_path) {
            model_path = a;
        } else if (!image_path) {
            image_path = a;
        } else {
            fprintf(stderr, "xformer-segment: one image at a time ('%s' is extra)\n", a);
            return 2;
        }
    }
    if (!model_path || !image_path || !mask_path) {
        usage(stderr);
        return 2;
    }

    int w, h, ch;
    uint8_t* pixels = stbi_load(image_path, &w, &h, &ch, 0);
    if (!pixels) {
        FILE* probe = fopen(image_path, "rb");
        fprintf(stderr, "xformer-segment: %s: %s\n", image_path,
                probe ? stbi_failure_reason() : strerror(errno));
        if (probe) fclose(probe);
        return 1;
    }
    xf_context_t* ctx = ex_context(backend, "xformer-segment");
    if (!ctx) {
        stbi_image_free(pixels);
        return 1;
    }
    ex_print_device(stdout, ctx);
    double t0 = ex_now_ms();
    xf_model_t* model;
    ex_status("loading the model and preparing its kernels (compiled on the first run, cached after)...");
    xf_status_t loaded = xf_model_load(ctx, model_path, NULL, &model);
    ex_status(NULL);
    if (loaded != XF_OK) {
        fprintf(stderr, "xformer-segment: %s\n", xf_context_error(ctx));
        stbi_image_free(pixels);
        xf_context_destroy(ctx);
        return 1;
    }
    double t_load = ex_now_ms() - t0;
    xf_model_info_t info;
    xf_model_info(model, &info);
    int rc = 0;
    float* input = NULL;
    int32_t* mask = NULL;
    uint8_t *out = NULL, *blend = NULL;
    share_t* shares = NULL;
    if (info.task != XF_MODEL_TASK_SEGMENTATION) {
        fprintf(stderr, "xformer-segment: %s is a %s %s model, not a segmenter; use xformer-classify\n",
                model_path, info.architecture, ex_task_name(info.task));
        rc = 1;
        goto done;
    }
    if (labels_path && xf_model_load_labels(model, labels_path) != XF_OK) {
        fprintf(stderr, "xformer-segment: %s\n", xf_context_error(ctx));
        rc = 1;
        goto done;
    }
    ex_print_model(stdout, model_path, &info);
    printf("load: %.1f ms (validation, upload, graph)\n", t_load);

    const size_t mh = (size_t)info.input_height, mw = (size_t)info.input_width;
    input = malloc((size_t)info.input_elements * sizeof(float));
    mask = malloc(mh * mw * sizeof(int32_t));
    out = malloc((size_t)w * (size_t)h * 3);
    shares = calloc((size_t)info.classes, sizeof *shares);
    if (!input || !mask || !out || !shares) {
        fprintf(stderr, "xformer-segment: out of memory\n");
        rc = 1;
        goto done;
    }
    double t1 = ex_now_ms();
    xf_status_t st = xf_model_preprocess(model, pixels, w, h, ch, input, (size_t)info.input_elements);
    double t2 = ex_now_ms();
    ex_status("running (the first run finishes compiling the kernels)...");
    if (st == XF_OK) st = xf_model_run(model, input, (size_t)info.input_elements, NULL, 0);
    ex_status(NULL);
    double t3 = ex_now_ms();
    if (st == XF_OK) st = xf_model_mask(model, mask, mh * mw);
    double t4 = ex_now_ms();
    if (st != XF_OK) {
        fprintf(stderr, "xformer-segment: %s\n", xf_context_error(ctx));
        rc = 1;
        goto done;
    }
    printf("%s (%dx%d, %d channel%s): preprocess %.2f ms, run %.2f ms, mask %.2f ms\n", image_path, w, h, ch,
           ch > 1 ? "s" : "", t2 - t1, t3 - t2, t4 - t3);

    // Nearest-neighbour back to the image size, as PyTorch's mode="nearest": src = floor(dst * in / out).
    for (int i = 0; i < info.classes; i++) shares[i].cls = i;
    for (int y = 0; y < h; y++) {
        size_t sy = (size_t)((float)y * ((float)mh / (float)h));
        if (sy >= mh) sy = mh - 1;
        for (int x = 0; x < w; x++) {
            size_t sx = (size_t)((float)x * ((float)mw / (float)w));
            if (sx >= mw) sx = mw - 1;
            int c = mask[sy * mw + sx];
            if (c >= 0 && c < info.classes) shares[c].count++;
            class_colour(c, out + ((size_t)y * (size_t)w + (size_t)x) * 3);
        }
    }
    if (!stbi_write_png(mask_path, w, h, 3, out, w * 3)) {
        fprintf(stderr, "xformer-segment: cannot write %s\n", mask_path);
        rc = 1;
        goto done;
    }
    printf("mask: %s\n", mask_path);
    if (overlay_path) {
        blend = malloc((size_t)w * (size_t)h * 3);
        if (!blend) {
            fprintf(stderr, "xformer-segment: out of memory\n");
            rc = 1;
            goto done;
        }
        for (size_t i = 0; i < (size_t)w * (size_t)h; i++) {
            const uint8_t* p = pixels + i * (size_t)ch;
            uint8_t rgb[3] = {p[0], ch >= 3 ? p[1] : p[0], ch >= 3 ? p[2] : p[0]};
            const uint8_t* m = out + i * 3;
            bool background = m[0] == 0 && m[1] == 0 && m[2] == 0;
            for (int k = 0; k < 3; k++)
                blend[i * 3 + k] = background ? rgb[k] : (uint8_t)((rgb[k] + m[k] + 1) / 2);
        }
        if (!stbi_write_png(overlay_path, w, h, 3, blend, w * 3)) {
            fprintf(stderr, "xformer-segment: cannot write %s\n", overlay_path);
            rc = 1;
            goto done;
        }
        printf("overlay: %s\n", overlay_path);
    }
    qsort(shares, (size_t)info.classes, sizeof *shares, by_count);
    printf("class shares:\n");
    for (int i = 0; i < info.classes && shares[i].count > 0; i++) {
        const char* label = xf_model_label(model, shares[i].cls);
        uint8_t rgb[3];
        class_colour(shares[i].cls, rgb);
        printf("  %7.3f%%  %3d  #%02x%02x%02x  %s\n", 100.0 * (double)shares[i].count / ((double)w * h),
               shares[i].cls, rgb[0], rgb[1], rgb[2], label ? label : "");
    }

done:
    free(input);
    free(mask);
    free(out);
    free(blend);
    free(shares);
    stbi_image_free(pixels);
    xf_model_destroy(model);
    xf_context_destroy(ctx);
    return rc;
}
