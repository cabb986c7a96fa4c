// SPDX-License-Identifier: MIT
// Shared by test_model.c and test_safetensors.c (#included): a small safetensors writer, the
// deterministic "hash init" of docs/MODELS_SPEC and the tensor lists of the standard configurations.
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "backend.h"

typedef struct {
    char name[128];
    const char* dtype;  // "F32" unless set
    int ndim;
    int64_t shape[4];
    void* data;  // owned
    size_t bytes;
} tm_tensor_t;

typedef struct {
    tm_tensor_t* t;
    size_t n, cap;
    char config[8192];
} tm_file_t;

static __attribute__((unused)) uint64_t tm_fnv1a(const char* s) {
    uint64_t h = 0xcbf29ce484222325ull;
    for (; *s; s++) {
        h ^= (uint8_t)*s;
        h *= 0x100000001b3ull;
    }
    return h;
}

static __attribute__((unused)) double tm_uniform(uint64_t seed, uint64_t i) {
    uint64_t z = seed + (i + 1) * 0x9E3779B97F4A7C15ull;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    z = z ^ (z >> 31);
    return (double)(z >> 11) * 0x1p-53;
}

static __attribute__((unused)) int tm_ends(const char* s, const char* suffix) {
    size_t a = strlen(s), b = strlen(suffix);
    return a >= b && strcmp(s + a - b, suffix) == 0;
}

static __attribute__((unused)) int64_t tm_elements(int ndim, const int64_t* shape) {
    int64_t n = 1;
    for (int i = 0; i < ndim; i++) n *= shape[i];
    return n;
}

// Hash-init values of tensor |name| with |shape| (docs/MODELS_SPEC).
static __attribute__((unused)) void tm_hash_init(const char* name, int ndim, const int64_t* shape,
                                                 float* out) {
    const uint64_t seed = tm_fnv1a(name);
    const int64_t n = tm_elements(ndim, shape);
    const int64_t fan_in = ndim >= 2 ? n / shape[0] : 1;
    for (int64_t i = 0; i < n; i++) {
        double u = tm_uniform(seed, (uint64_t)i), r = 2 * u - 1, v;
        if (tm_ends(name, "running_var"))
            v = 1 + 0.5 * u;
        else if (tm_ends(name, "running_mean"))
            v = 0.1 * r;
        else if (ndim == 1 && tm_ends(name, ".weight"))
            v = 1 + 0.1 * r;
        else if (tm_ends(name, ".bias"))
            v = 0.05 * r;
        else if (ndim >= 2 && tm_ends(name, ".weight"))
            v = r * sqrt(3.0 / (double)fan_in);
        else
            v = 0.5 * r;
        out[i] = (float)v;
    }
}

static __attribute__((unused)) tm_tensor_t* tm_add_raw(tm_file_t* f, const char* name, const char* dtype,
                                                       int ndim, const int64_t* shape, const void* data,
                                                       size_t bytes) {
    if (f->n == f->cap) {
        f->cap = f->cap ? 2 * f->cap : 64;
        f->t = realloc(f->t, f->cap * sizeof *f->t);
    }
    tm_tensor_t* t = &f->t[f->n++];
    memset(t, 0, sizeof *t);
    snprintf(t->name, sizeof t->name, "%s", name);
    t->dtype = dtype;
    t->ndim = ndim;
    for (int i = 0; i < ndim; i++) t->shape[i] = shape[i];
    t->data = malloc(bytes ? bytes : 1);
    if (bytes) memcpy(t->data, data, bytes);
    t->bytes = bytes;
    return t;
}

// Adds a hash-initialised F32 tensor.
static __attribute__((unused)) void tm_add(tm_file_t* f, const char* name, int ndim, int64_t s0, int64_t s1,
                                           int64_t s2, int64_t s3) {
    int64_t shape[4] = {s0, s1, s2, s3};
    int64_t n = tm_elements(ndim, shape);
    float* v = malloc((size_t)n * sizeof(float));
    tm_hash_init(name, ndim, shape, v);
    tm_add_raw(f, name, "F32", ndim, shape, v, (size_t)n * sizeof(float));
    free(v);
}

static __attribute__((unused)) tm_tensor_t* tm_find(tm_file_t* f, const char* name) {
    for (size_t i = 0; i < f->n; i++)
        if (strcmp(f->t[i].name, name) == 0) return &f->t[i];
    return NULL;
}

static __attribute__((unused)) void tm_remove(tm_file_t* f, const char* name) {
    tm_tensor_t* t = tm_find(f, name);
    if (!t) return;
    free(t->data);
    memmove(t, t + 1, (size_t)(f->t + f->n - t - 1) * sizeof *t);
    f->n--;
}

static __attribute__((unused)) void tm_free(tm_file_t* f) {
    for (size_t i = 0; i < f->n; i++) free(f->t[i].data);
    free(f->t);
    memset(f, 0, sizeof *f);
}

// Serialises |f| to memory: 8-byte length, JSON header (space padded to 8 bytes), data.
static __attribute__((unused)) uint8_t* tm_serialize(const tm_file_t* f, size_t* out_size) {
    size_t cap = 65536 + f->n * 256 + strlen(f->config) * 2;
    char* h = malloc(cap);
    size_t n = (size_t)snprintf(h, cap, "{");
    uint64_t off = 0;
    for (size_t i = 0; i < f->n; i++) {
        const tm_tensor_t* t = &f->t[i];
        n += (size_t)snprintf(h + n, cap - n, "%s\"%s\":{\"dtype\":\"%s\",\"shape\":[", i ? "," : "", t->name,
                              t->dtype ? t->dtype : "F32");
        for (int d = 0; d < t->ndim; d++)
            n += (size_t)snprintf(h + n, cap - n, "%s%lld", d ? "," : "", (long long)t->shape[d]);
        n += (size_t)snprintf(h + n, cap - n, "],\"data_offsets\":[%llu,%llu]}", (unsigned long long)off,
                              (unsigned long long)(off + t->bytes));
        off += t->bytes;
    }
    if (f->config[0]) {
        n += (size_t)snprintf(h + n, cap - n, "%s\"__metadata__\":{\"config\":\"", f->n ? "," : "");
        for (const char* c = f->config; *c; c++) {
            if (*c == '"' || *c == '\\') h[n++] = '\\';
            if (*c == '\n') {
                h[n++] = ' ';
                continue;
            }
            h[n++] = *c;
        }
        n += (size_t)snprintf(h + n, cap - n, "\"}");
    }
    n += (size_t)snprintf(h + n, cap - n, "}");
    while (n % 8) h[n++] = ' ';
    size_t size = 8 + n + off;
    uint8_t* buf = malloc(size);
    for (int i = 0; i < 8; i++) buf[i] = (uint8_t)((uint64_t)n >> (8 * i));
    memcpy(buf + 8, h, n);
    size_t p = 8 + n;
    for (size_t i = 0; i < f->n; i++) {
        memcpy(buf + p, f->t[i].data, f->t[i].bytes);
        p += f->t[i].bytes;
    }
    free(h);
    *out_size = size;
    return buf;
}

static __attribute__((unused)) int tm_write_bytes(const char* path, const void* data, size_t size) {
    FILE* fp = fopen(path, "wb");
    if (!fp) return 0;
    int ok = fwrite(data, 1, size, fp) == size;
    return fclose(fp) == 0 && ok;
}

static __attribute__((unused)) int tm_write(const tm_file_t* f, const char* path) {
    size_t size;
    uint8_t* buf = tm_serialize(f, &size);
    int ok = tm_write_bytes(path, buf, size);
    free(buf);
    return ok;
}

// A fresh temporary directory; the path is static per call site buffer.
static __attribute__((unused)) void tm_tmpdir(char* out, size_t size) {
    const char* base = getenv("TMPDIR");
    snprintf(out, size, "%s/xf-model-test-XXXXXX", base && *base ? base : "/tmp");
    if (!mkdtemp(out)) out[0] = '\0';
}

// Tensors of a timm ViT (deit_tiny_patch16_224 and friends).
static __attribute__((unused)) void tm_vit_tensors(tm_file_t* f, int64_t img, int64_t patch, int64_t chans,
                                                   int64_t dim, int depth, int64_t classes, int distilled) {
    int64_t grid = img / patch, tokens = grid * grid + 1 + distilled;
    tm_add(f, "patch_embed.proj.weight", 4, dim, chans, patch, patch);
    tm_add(f, "patch_embed.proj.bias", 1, dim, 0, 0, 0);
    tm_add(f, "cls_token", 3, 1, 1, dim, 0);
    if (distilled) tm_add(f, "dist_token", 3, 1, 1, dim, 0);
    tm_add(f, "pos_embed", 3, 1, tokens, dim, 0);
    for (int i = 0; i < depth; i++) {
        char n[128];
#define TM_B(suffix, nd, a, b)                        \
    snprintf(n, sizeof n, "blocks.%d.%s", i, suffix); \
    tm_add(f, n, nd, a, b, 0, 0)
        TM_B("norm1.weight", 1, dim, 0);
        TM_B("norm1.bias", 1, dim, 0);
        TM_B("attn.qkv.weight", 2, 3 * dim, dim);
        TM_B("attn.qkv.bias", 1, 3 * dim, 0);
        TM_B("attn.proj.weight", 2, dim, dim);
        TM_B("attn.proj.bias", 1, dim, 0);
        TM_B("norm2.weight", 1, dim, 0);
        TM_B("norm2.bias", 1, dim, 0);
        TM_B("mlp.fc1.weight", 2, 4 * dim, dim);
        TM_B("mlp.fc1.bias", 1, 4 * dim, 0);
        TM_B("mlp.fc2.weight", 2, dim, 4 * dim);
        TM_B("mlp.fc2.bias", 1, dim, 0);
#undef TM_B
    }
    tm_add(f, "norm.weight", 1, dim, 0, 0, 0);
    tm_add(f, "norm.bias", 1, dim, 0, 0, 0);
    tm_add(f, "head.weight", 2, classes, dim, 0, 0);
    tm_add(f, "head.bias", 1, classes, 0, 0, 0);
    if (distilled) {
        tm_add(f, "head_dist.weight", 2, classes, dim, 0, 0);
        tm_add(f, "head_dist.bias", 1, classes, 0, 0, 0);
    }
}

// A tiny grey 32x32 ViT with every variant at once: registers, no_embed_class, LayerScale, qk_norm,
// norm_pre (no patch bias), quick GELU, average pooling with fc_norm, Pillow bicubic preprocessing.
static __attribute__((unused)) void tm_vit_every_variant(tm_file_t* f) {
    memset(f, 0, sizeof *f);
    snprintf(f->config, sizeof f->config,
             "{\"architecture\":\"vit\",\"img_size\":32,\"patch_size\":8,\"in_chans\":1,\"embed_dim\":8,"
             "\"depth\":1,\"num_heads\":2,\"mlp_ratio\":4.0,\"num_classes\":3,\"global_pool\":\"avg\","
             "\"reg_tokens\":2,\"no_embed_class\":true,\"init_values\":0.1,\"qk_norm\":true,"
             "\"pre_norm\":true,\"act_layer\":\"quick_gelu\",\"interpolation\":\"bicubic\",\"crop_pct\":0.9,"
             "\"mean\":[0.5],\"std\":[0.25]}");
    tm_vit_tensors(f, 32, 8, 1, 8, 1, 3, 0);
    const char* gone[] = {"patch_embed.proj.bias", "pos_embed", "norm.weight", "norm.bias"};
    for (size_t i = 0; i < sizeof gone / sizeof gone[0]; i++) tm_remove(f, gone[i]);
    tm_add(f, "reg_token", 3, 1, 2, 8, 0);
    tm_add(f, "pos_embed", 3, 1, 16, 8, 0);
    const char* vectors[] = {"norm_pre.weight", "norm_pre.bias",      "fc_norm.weight",
                             "fc_norm.bias",    "blocks.0.ls1.gamma", "blocks.0.ls2.gamma"};
    for (size_t i = 0; i < sizeof vectors / sizeof vectors[0]; i++) tm_add(f, vectors[i], 1, 8, 0, 0, 0);
    const char* head_vectors[] = {"blocks.0.attn.q_norm.weight", "blocks.0.attn.q_norm.bias",
                                  "blocks.0.attn.k_norm.weight", "blocks.0.attn.k_norm.bias"};
    for (size_t i = 0; i < sizeof head_vectors / sizeof head_vectors[0]; i++) tm_add(f, head_vectors[i], 1, 4, 0, 0, 0);
}

// A tiny grey 32x32 ViT whose config is a timm directory's (a registered architecture shrunk through
// model_args, pretrained_cfg with Pillow bicubic preprocessing, label_names).
static __attribute__((unused)) void tm_vit_timm_config(tm_file_t* f) {
    memset(f, 0, sizeof *f);
    snprintf(f->config, sizeof f->config,
             "{\"architecture\":\"vit_base_patch16_224.augreg_in21k\",\"num_classes\":3,\"num_features\":8,"
             "\"global_pool\":\"token\",\"model_args\":{\"embed_dim\":8,\"depth\":1,\"num_heads\":2,"
             "\"img_size\":32,\"patch_size\":8,\"in_chans\":1},\"pretrained_cfg\":{\"tag\":\"augreg_in21k\","
             "\"input_size\":[1,32,32],\"interpolation\":\"bicubic\",\"crop_pct\":0.9,\"crop_mode\":\"center\","
             "\"mean\":[0.5],\"std\":[0.25],\"num_classes\":3},\"label_names\":[\"a\",\"b\",\"c\"]}");
    tm_vit_tensors(f, 32, 8, 1, 8, 1, 3, 0);
}

// Tensors of a Hugging Face SegformerForSemanticSegmentation.
static __attribute__((unused)) void tm_segformer_tensors(tm_file_t* f, int stages, const int64_t* dims,
                                                         const int64_t* depths, const int64_t* sr,
                                                         const int64_t* patch, int64_t chans, int64_t dec,
                                                         int64_t classes) {
    char n[160];
    for (int i = 0; i < stages; i++) {
        int64_t d = dims[i], cin = i ? dims[i - 1] : chans, h = 4 * d;
        snprintf(n, sizeof n, "segformer.encoder.patch_embeddings.%d.proj.weight", i);
        tm_add(f, n, 4, d, cin, patch[i], patch[i]);
        snprintf(n, sizeof n, "segformer.encoder.patch_embeddings.%d.proj.bias", i);
        tm_add(f, n, 1, d, 0, 0, 0);
        snprintf(n, sizeof n, "segformer.encoder.patch_embeddings.%d.layer_norm.weight", i);
        tm_add(f, n, 1, d, 0, 0, 0);
        snprintf(n, sizeof n, "segformer.encoder.patch_embeddings.%d.layer_norm.bias", i);
        tm_add(f, n, 1, d, 0, 0, 0);
        for (int j = 0; j < depths[i]; j++) {
#define TM_S(suffix, nd, a, b, c, e)                                         \
    snprintf(n, sizeof n, "segformer.encoder.block.%d.%d.%s", i, j, suffix); \
    tm_add(f, n, nd, a, b, c, e)
            TM_S("layer_norm_1.weight", 1, d, 0, 0, 0);
            TM_S("layer_norm_1.bias", 1, d, 0, 0, 0);
            TM_S("attention.self.query.weight", 2, d, d, 0, 0);
            TM_S("attention.self.query.bias", 1, d, 0, 0, 0);
            TM_S("attention.self.key.weight", 2, d, d, 0, 0);
            TM_S("attention.self.key.bias", 1, d, 0, 0, 0);
            TM_S("attention.self.value.weight", 2, d, d, 0, 0);
            TM_S("attention.self.value.bias", 1, d, 0, 0, 0);
            if (sr[i] > 1) {
                TM_S("attention.self.sr.weight", 4, d, d, sr[i], sr[i]);
                TM_S("attention.self.sr.bias", 1, d, 0, 0, 0);
                TM_S("attention.self.layer_norm.weight", 1, d, 0, 0, 0);
                TM_S("attention.self.layer_norm.bias", 1, d, 0, 0, 0);
            }
            TM_S("attention.output.dense.weight", 2, d, d, 0, 0);
            TM_S("attention.output.dense.bias", 1, d, 0, 0, 0);
            TM_S("layer_norm_2.weight", 1, d, 0, 0, 0);
            TM_S("layer_norm_2.bias", 1, d, 0, 0, 0);
            TM_S("mlp.dense1.weight", 2, h, d, 0, 0);
            TM_S("mlp.dense1.bias", 1, h, 0, 0, 0);
            TM_S("mlp.dwconv.dwconv.weight", 4, h, 1, 3, 3);
            TM_S("mlp.dwconv.dwconv.bias", 1, h, 0, 0, 0);
            TM_S("mlp.dense2.weight", 2, d, h, 0, 0);
            TM_S("mlp.dense2.bias", 1, d, 0, 0, 0);
#undef TM_S
        }
        snprintf(n, sizeof n, "segformer.encoder.layer_norm.%d.weight", i);
        tm_add(f, n, 1, d, 0, 0, 0);
        snprintf(n, sizeof n, "segformer.encoder.layer_norm.%d.bias", i);
        tm_add(f, n, 1, d, 0, 0, 0);
    }
    for (int i = 0; i < stages; i++) {
        snprintf(n, sizeof n, "decode_head.linear_c.%d.proj.weight", i);
        tm_add(f, n, 2, dec, dims[i], 0, 0);
        snprintf(n, sizeof n, "decode_head.linear_c.%d.proj.bias", i);
        tm_add(f, n, 1, dec, 0, 0, 0);
    }
    tm_add(f, "decode_head.linear_fuse.weight", 4, dec, stages * dec, 1, 1);
    tm_add(f, "decode_head.batch_norm.weight", 1, dec, 0, 0, 0);
    tm_add(f, "decode_head.batch_norm.bias", 1, dec, 0, 0, 0);
    tm_add(f, "decode_head.batch_norm.running_mean", 1, dec, 0, 0, 0);
    tm_add(f, "decode_head.batch_norm.running_var", 1, dec, 0, 0, 0);
    int64_t zero = 0;
    tm_add_raw(f, "decode_head.batch_norm.num_batches_tracked", "I64", 0, NULL, &zero, 8);
    tm_add(f, "decode_head.classifier.weight", 4, classes, dec, 1, 1);
    tm_add(f, "decode_head.classifier.bias", 1, classes, 0, 0, 0);
}

// Hash-init "input" values (r = 2u - 1).
static __attribute__((unused)) void tm_input(float* out, int64_t n) {
    const uint64_t seed = tm_fnv1a("input");
    for (int64_t i = 0; i < n; i++) out[i] = (float)(2 * tm_uniform(seed, (uint64_t)i) - 1);
}

static __attribute__((unused)) void tm_read_file(const char* path, char* out, size_t size) {
    out[0] = '\0';
    FILE* fp = fopen(path, "rb");
    if (!fp) return;
    size_t n = fread(out, 1, size - 1, fp);
    out[n] = '\0';
    fclose(fp);
}

// |f|'s linear weights quantized as tools/quantize.py writes them: I8 W.weight + W.weight_scale, F32 [N]
// (|block| 0) or F16 [N, ceil(K / 32)]. |corrupt|: 1 drops the first scale, 2 gives it a wrong shape.
static __attribute__((unused)) void tm_quantize(tm_file_t* f, int block, int corrupt) {
    size_t n0 = f->n;
    for (size_t i = 0; i < n0; i++) {
        tm_tensor_t* t = &f->t[i];
        if (t->ndim != 2 || !tm_ends(t->name, ".weight")) continue;
        int64_t n = t->shape[0], k = t->shape[1], groups = xf_quant_groups(k, block);
        int8_t* q = malloc((size_t)(n * k));
        float* scales = malloc(sizeof(float) * (size_t)(n * groups));
        xf_quantize_int8(t->data, n, k, block, block ? XF_DTYPE_F16 : XF_DTYPE_F32, q, scales);
        free(t->data);
        t->data = q;
        t->bytes = (size_t)(n * k);
        t->dtype = "I8";
        char name[160];
        snprintf(name, sizeof name, "%s_scale", t->name);
        int64_t shape[2] = {n, corrupt == 2 ? groups + 1 : groups};
        uint16_t* half = calloc((size_t)(n * shape[1]), sizeof(uint16_t));
        for (int64_t j = 0; j < n * groups; j++) half[j] = xf_f32_to_f16(scales[j]);
        if (corrupt != 1) {
            if (block) tm_add_raw(f, name, "F16", 2, shape, half, sizeof(uint16_t) * (size_t)(n * shape[1]));
            else tm_add_raw(f, name, "F32", 1, shape, scales, sizeof(float) * (size_t)n);
        }
        corrupt = 0;
        free(half);
        free(scales);
    }
}
