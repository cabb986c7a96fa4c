// SPDX-License-Identifier: MIT
//
// libxformer models: load a ViT/DeiT classifier or a SegFormer segmenter from a safetensors file
// with its original (timm / Hugging Face) tensor names, preprocess 8-bit images exactly like the
// reference tooling, and run it.
//
//   xf_model_t* model;
//   if (xf_model_load(ctx, "vit.safetensors", NULL, &model) != XF_OK) { puts(xf_context_error(ctx)); ... }
//   xf_model_info_t info;
//   xf_model_info(model, &info);
//   float* input = malloc(info.input_elements * sizeof(float));
//   xf_model_preprocess(model, pixels, width, height, channels, input, info.input_elements);
//   float* logits = malloc(info.output_elements * sizeof(float));
//   xf_model_run(model, input, info.input_elements, logits, info.output_elements);
//   xf_model_destroy(model);
//
// NOTE: this header is a section of xformer.h kept apart while the model code is written; it will
// be merged into include/xformer.h.

#ifndef XFORMER_MODEL_H_
#define XFORMER_MODEL_H_

#include "xformer.h"

#ifdef __cplusplus
extern "C" {
#endif

//===----------------------------------------------------------------------===//
// Models
//===----------------------------------------------------------------------===//

typedef enum xf_model_arch_e {
    // Vision Transformer / DeiT image classifier with timm tensor names.
    XF_MODEL_ARCH_VIT = 1,
    // SegFormer (MiT encoder + all-MLP decoder) with Hugging Face transformers tensor names.
    XF_MODEL_ARCH_SEGFORMER,
} xf_model_arch_t;

typedef enum xf_model_task_e {
    XF_MODEL_TASK_CLASSIFICATION = 1,  // logits [1, classes]
    XF_MODEL_TASK_SEGMENTATION,        // logits [1, classes, H/4, W/4]; a mask via xf_model_mask
} xf_model_task_t;

// Options for xf_model_load; fill with xf_model_options_init.
typedef struct xf_model_options_s {
    // Input size the graph is built for; 0 means the size in the model's config. A ViT whose size
    // differs from its training size gets its position embeddings resampled at load time (bicubic
    // with antialiasing, as timm; see docs/MODELS.md) and uses a floor(H / patch) x floor(W / patch)
    // grid. A SegFormer takes any size large enough for its strides and reduction ratios.
    int64_t input_height;
    int64_t input_width;
    // Optional path of the JSON config; NULL means "__metadata__"["config"] of the model file, else
    // config.json in the model's directory.
    const char* config_path;
} xf_model_options_t;

// Fills |out_options| with defaults: the configured input size, the config from the file.
XF_API void xf_model_options_init(xf_model_options_t* out_options);

typedef struct xf_model_s xf_model_t;

// What a loaded model is and what it expects. Strings are owned by the model.
typedef struct xf_model_info_s {
    xf_model_arch_t arch;
    xf_model_task_t task;
    const char* architecture;  // "vit" or "segformer"
    int64_t input_channels;    // C of the input tensor [1, C, H, W]
    int64_t input_height;      // H, W the graph was built for
    int64_t input_width;
    int64_t input_elements;  // C * H * W
    int64_t classes;         // number of logits per position
    int64_t output_height;   // 1 for classifiers; H/4 for SegFormer
    int64_t output_width;
    int64_t output_elements;  // classes * output_height * output_width
    float mean[4];            // per-channel normalisation used by xf_model_preprocess
    float std[4];
    float crop_pct;      // ViT: resize the short side to floor(size / crop_pct), then crop
    int64_t parameters;  // weights loaded, in elements
    bool has_labels;     // labels came with the config or xf_model_load_labels
} xf_model_info_t;

// Loads the safetensors model at |path| into |context|: validates the file and its config, uploads
// every weight as a context tensor named as in the file and builds the graph for the input size.
// |options| may be NULL. Every problem is reported in xf_context_error naming the file, tensor or
// config key: XF_ERR_NOT_FOUND (missing file or tensor), XF_ERR_DATA_LOSS (corrupt file),
// XF_ERR_INVALID_ARGUMENT (bad config, wrong shapes, extra tensors), XF_ERR_UNIMPLEMENTED
// (an architecture or variant this runtime does not build).
// NOTE: weight names are taken as they are when free; loading a second model whose names are
// already used in |context| prefixes its weights with "model<N>/".
XF_API xf_status_t xf_model_load(xf_context_t* context, const char* path, const xf_model_options_t* options,
                                 xf_model_t** out_model);

// Destroys |model|, its graphs and its weight tensors. NULL is a no-op.
XF_API void xf_model_destroy(xf_model_t* model);

// Describes |model|.
XF_API xf_status_t xf_model_info(const xf_model_t* model, xf_model_info_t* out_info);

// Returns the label of class |index|, or NULL when the model has no labels or |index| is out of
// range. The string is owned by the model.
XF_API const char* xf_model_label(const xf_model_t* model, int64_t index);

// Replaces the model's labels with the lines of the text file at |path| (one label per line; a
// trailing empty line is ignored). The line count must equal the number of classes
// (XF_ERR_INVALID_ARGUMENT otherwise; XF_ERR_NOT_FOUND when the file is missing).
XF_API xf_status_t xf_model_load_labels(xf_model_t* model, const char* path);

// Turns a decoded 8-bit image (|height| rows of |width| pixels, |channels| interleaved bytes per
// pixel: 1 grey, 2 grey+alpha, 3 RGB, 4 RGBA; rows packed) into the model's input tensor
// [1, C, H, W] in |out| (|count| = info.input_elements floats), exactly as the reference tooling
// does: channel conversion (BT.601 luma for grey models, replication for RGB models, alpha
// dropped), /255, bilinear resize (align_corners = false, no antialiasing; ViT: short side to
// floor(size / crop_pct) then a centre crop; SegFormer: straight to the input size) and
// per-channel (x - mean) / std. Runs on the host; all arithmetic in f32.
XF_API xf_status_t xf_model_preprocess(const xf_model_t* model, const uint8_t* pixels, int width, int height,
                                       int channels, float* out, size_t count);

// Runs |model| on |input| (|input_count| = info.input_elements floats, usually from
// xf_model_preprocess) and copies the logits to |out_logits| (|logits_count| =
// info.output_elements floats; classifiers: [classes]; segmenters: [classes, H/4, W/4]).
// |out_logits| may be NULL when only a mask is wanted afterwards.
XF_API xf_status_t xf_model_run(xf_model_t* model, const float* input, size_t input_count, float* out_logits,
                                size_t logits_count);

// For a segmenter, after xf_model_run: upsamples the last logits to the input size (bilinear,
// align_corners = false) and writes the per-pixel argmax (first maximum wins) to |out_mask|
// (|count| = input_height * input_width, row-major). The work runs on the device.
// Returns XF_ERR_INVALID_ARGUMENT for a classifier, XF_ERR_FAILED_PRECONDITION before a run.
XF_API xf_status_t xf_model_mask(xf_model_t* model, int32_t* out_mask, size_t count);

// Returns the model's context (borrowed).
XF_API xf_context_t* xf_model_context(const xf_model_t* model);

#ifdef __cplusplus
}  // extern "C"
#endif

#endif  // XFORMER_MODEL_H_
