// SPDX-License-Identifier: MIT
// Internal state of xf_model_t and the helpers the architecture builders share.
#ifndef XF_LIB_MODEL_INTERNAL_H_
#define XF_LIB_MODEL_INTERNAL_H_

#include "core.h"
#include "safetensors.h"
#include "xformer.h"

#define XF_SEG_MAX_STAGES 8

// A timm VisionTransformer (docs/MODELS.md names each field's config key).
typedef struct xf_vit_config_s {
    int64_t img_h, img_w, patch, in_chans, dim, depth, heads, classes, mlp_hidden, reg_tokens;
    bool qkv_bias, qk_norm, class_token, distilled, no_embed_class, pre_norm, dynamic_img_pad;
    bool layer_scale;  // blocks.N.ls1/ls2.gamma, folded into attn.proj and mlp.fc2 at load
    bool avg_pool;     // global_pool "avg" (mean of the patch tokens), else the class token
    bool fc_norm;      // the final norm after pooling (fc_norm) instead of before (norm)
    bool dist_head;    // distilled: the distillation token's head is averaged in (else only the class head)
    xf_activation_t act;
    float eps;
    const char* hf;    // Hugging Face tensor names under this prefix ("vit." or "deit."), NULL for timm names
} xf_vit_config_t;

// Tokens before the patch tokens: class, distillation and register tokens.
static inline int64_t xf_vit_prefix_tokens(const xf_vit_config_t* v) {
    return (v->class_token ? 1 : 0) + (v->distilled ? 1 : 0) + v->reg_tokens;
}

// A timm SwinTransformer.
typedef struct xf_swin_config_s {
    int64_t img_h, img_w, patch, in_chans, dim, stages, window, classes;
    int64_t depths[XF_SEG_MAX_STAGES], heads[XF_SEG_MAX_STAGES];
    double mlp_ratio;
    bool qkv_bias;
    float eps;
    const char* hf;  // "swin." for transformers' SwinForImageClassification names, NULL for timm's
} xf_swin_config_t;

typedef struct xf_seg_config_s {
    int64_t channels, stages, decoder_dim, classes, img_h, img_w;
    int64_t depths[XF_SEG_MAX_STAGES], sr[XF_SEG_MAX_STAGES], dims[XF_SEG_MAX_STAGES];
    int64_t patch[XF_SEG_MAX_STAGES], stride[XF_SEG_MAX_STAGES], heads[XF_SEG_MAX_STAGES];
    int64_t mlp_hidden[XF_SEG_MAX_STAGES];
} xf_seg_config_t;

// How a linear weight is kept on the device when |on|: int8 with one |scale_dtype| scale per |block|
// elements of K (0: per output channel), xf_tensor_set_scale.
typedef struct xf_quant_format_s {
    bool on;
    int block;
    xf_dtype_t scale_dtype;
} xf_quant_format_t;

struct xf_model_s {
    xf_context_t* ctx;
    xf_model_info_t info;
    char** labels;
    int64_t nlabels;
    char prefix[32];  // prepended to every weight name in the context ("" or "model2/")

    xf_model_weights_t weight_storage;  // xf_model_options_t.weights
    xf_quant_format_t file_quant;       // the format of the file's int8 weights (the first one's), if any
    xf_tensor_t** weights;  // context tensors this model owns
    size_t nweights, capweights;

    xf_graph_t* graph;
    size_t pool_limit;  // bytes the graph's intermediates may take (xf_model_options_t.max_bytes)
    xf_tensor_t* input;
    xf_tensor_t* output;

    // Graph inputs then outputs (xf_model_run_io); names are owned.
    int n_inputs, n_outputs;
    xf_model_io_t* io;
    xf_tensor_t** io_tensors;
    int onnx_fusions[4];  // patterns fused by the ONNX importer (LayerNorm, GELU, linear, attention)

    xf_graph_t* mask_graph;  // built on the first xf_model_mask
    xf_tensor_t* mask_input;
    xf_tensor_t* mask_output;
    float* logits;  // host copy of the last run's logits
    bool have_logits;

    // Geometry of the Pillow preprocessing pipeline (info.interpolation set): resize to resize_h x
    // resize_w when set, else timm's crop_pct rule; then a centre crop at floor offsets (Hugging Face)
    // or rounded half to even (torchvision).
    int64_t resize_h, resize_w;
    bool crop_floor;

    // Load-time only.
    xf_st_file_t* file;
    const char* path;

    union {
        xf_vit_config_t vit;
        xf_seg_config_t seg;
        xf_swin_config_t swin;
    } cfg;
};

// Creates the context tensor |name| (prefixed) from the file tensor of the same name after checking
// that it exists, is a float tensor and has |shape|. Marks it used. |out| may be NULL.
xf_status_t xf_model_weight(xf_model_t* m, const char* name, int ndim, const int64_t* shape,
                            xf_tensor_t** out);
// Reads the file tensor |name| (checked like xf_model_weight) into a new f32 host array the caller
// frees. Marks it used.
xf_status_t xf_model_weight_host(xf_model_t* m, const char* name, int ndim, const int64_t* shape,
                                 float** out);
// Reads the optional integer file tensor |name| (I32 or I64, checked for |shape|) into a new host array
// the caller frees; *out is NULL when the file has no such tensor. Marks it used.
xf_status_t xf_model_index_host(xf_model_t* m, const char* name, int ndim, const int64_t* shape, int32_t** out);
// Creates the context tensor |name| (prefixed) from host data.
xf_status_t xf_model_weight_upload(xf_model_t* m, const char* name, int ndim, const int64_t* shape,
                                   const float* data, xf_tensor_t** out);
// A convolution weight the model runs as a linear layer (ViT's patch embedding, flattened to |shape| [out,
// in * kh * kw]): int8 when the model's linear weights are (xf_model_options_t.weights, or the file's), else f32.
// *out is NULL when it stays a convolution weight (nothing uploaded).
xf_status_t xf_model_patch_linear_weight(xf_model_t* m, const char* name, const int64_t* conv_shape,
                                         xf_tensor_t** out);
// Uploads |data| (|dtype|, dense) as a model-owned tensor that is not a parameter (an index, a table).
xf_status_t xf_model_constant_upload(xf_model_t* m, const char* name, xf_dtype_t dtype, int ndim,
                                     const int64_t* shape, const void* data, xf_tensor_t** out);
// Writes prefix + a formatted name into |buf|.
void xf_model_name(const xf_model_t* m, char* buf, size_t size, const char* fmt, ...)
    __attribute__((format(printf, 4, 5)));

// Architecture builders: upload weights and build m->graph / m->input / m->output.
xf_status_t xf_model_build_vit(xf_model_t* m);
xf_status_t xf_model_build_segformer(xf_model_t* m);
xf_status_t xf_model_build_swin(xf_model_t* m);

// Resamples a [gh0, gw0, C] grid to [gh, gw, C] like PyTorch's F.interpolate(mode="bicubic",
// antialias=True, align_corners=False), which timm's resample_abs_pos_embed uses.
void xf_model_resample_bicubic_aa(const float* src, int64_t gh0, int64_t gw0, int64_t c, float* dst,
                                  int64_t gh, int64_t gw);

#endif  // XF_LIB_MODEL_INTERNAL_H_
