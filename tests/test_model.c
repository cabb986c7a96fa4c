// SPDX-License-Identifier: MIT
// Models end to end on every backend column (XFORMER_TEST_BACKENDS): the bundled Fashion-MNIST
// models against PyTorch's outputs for the sample images, hash-initialised standard
// configurations (deit_tiny_patch16_224, SegFormer-B0, torchvision vit_b_16 through the converter)
// against PyTorch, and model-level errors.
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <pthread.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define STB_IMAGE_IMPLEMENTATION
#define STBI_ONLY_PNG
#define STBI_NO_STDIO_WARNINGS
#include <stb/stb_image.h>

#include "harness.h"
#include "json.h"
#include "model_internal.h"
#include "safetensors.h"
#include "test_model_common.c"
#include "xformer.h"

static char g_src[1024];

// The source tree: $XFORMER_SOURCE_DIR, else found upwards from the working directory.
static const char* src_dir(void) {
    if (g_src[0]) return g_src;
    const char* env = getenv("XFORMER_SOURCE_DIR");
    if (env && *env) {
        snprintf(g_src, sizeof g_src, "%s", env);
        return g_src;
    }
    const char* tries[] = {".", "..", "../..", "../../.."};
    for (size_t i = 0; i < sizeof tries / sizeof tries[0]; i++) {
        char p[1100];
        struct stat sb;
        snprintf(p, sizeof p, "%s/tests/data/deit_tiny_config.json", tries[i]);
        if (stat(p, &sb) == 0) {
            snprintf(g_src, sizeof g_src, "%s", tries[i]);
            return g_src;
        }
    }
    snprintf(g_src, sizeof g_src, ".");
    return g_src;
}

static xf_context_t* cpu_context(void);
static bool is_training_key(const char* key);

static bool file_exists(const char* path) {
    struct stat sb;
    return stat(path, &sb) == 0;
}

// Runs |fn| once per backend column with a fresh context.
typedef void (*column_fn)(xf_context_t* ctx, const char* column, void* user);
// Runs |fn| on every column; with |device_style_only|, only on columns that leave the kernel style to
// the device (variant columns run the same kernels' other style, which the op table already covers).
static void each_column_of(column_fn fn, void* user, bool device_style_only) {
    xf_test_column_t cols[XF_TEST_MAX_COLUMNS];
    int n = xf_test_columns(cols, XF_TEST_MAX_COLUMNS);
    int ran = 0;
    for (int i = 0; i < n; i++) {
        if (device_style_only && cols[i].kernels != XF_KERNELS_AUTO) continue;
        xf_context_t* ctx;
        bool skip;
        char why[512];
        if (!xf_test_open(&cols[i], &ctx, &skip, why, sizeof why)) {
            cr_assert(skip, "%s", why);
            cr_log_warn("skipping column %s: %s", cols[i].name, why);
            continue;
        }
        fn(ctx, cols[i].name, user);
        xf_context_destroy(ctx);
        ran++;
    }
    cr_assert(ran > 0, "no backend column could run");
}

static void each_column(column_fn fn, void* user) { each_column_of(fn, user, false); }

static float max_abs(const float* v, size_t n) {
    float m = 0;
    for (size_t i = 0; i < n; i++) m = fmaxf(m, fabsf(v[i]));
    return m;
}

static int64_t argmax(const float* v, int64_t n, int64_t stride) {
    int64_t best = 0;
    for (int64_t i = 1; i < n; i++)
        if (v[i * stride] > v[best * stride]) best = i;
    return best;
}

static float* ref_f32(xf_st_file_t* f, const char* name, size_t* count) {
    xf_st_tensor_t* t = xf_st_find(f, name);
    cr_assert(t, "reference tensor '%s' is missing", name);
    float* v = malloc((size_t)t->elements * sizeof(float));
    cr_assert(xf_st_read_f32(t, v, (size_t)t->elements) == XF_OK);
    *count = (size_t)t->elements;
    return v;
}

static xf_st_file_t* open_ref(const char* path) {
    xf_st_file_t* f = NULL;
    char err[1024];
    xf_status_t st = xf_st_open(path, &f, err, sizeof err);
    cr_assert(st == XF_OK, "%s", err);
    return f;
}

// Parses JSON text the test relies on (a reference's metadata, a config it writes).
static xf_json_doc_t* parse_json(const char* text) {
    xf_json_doc_t* doc = NULL;
    size_t pos;
    char why[128];
    cr_assert(text, "JSON text is missing");
    cr_assert(xf_json_parse(NULL, text, strlen(text), &doc, &pos, why, sizeof why) == XF_OK, "%s at %zu", why, pos);
    return doc;
}

// The reference's __metadata__[|key|], parsed.
static xf_json_doc_t* ref_json(xf_st_file_t* ref, const char* key) {
    const char* text = xf_st_metadata(ref, key);
    cr_assert(text, "the reference has no __metadata__ '%s'", key);
    return parse_json(text);
}

// Adds hash-initialised F32 tensors with the names and shapes of the JSON object |shapes| ({name: [dims]}).
static void add_shaped_tensors(tm_file_t* f, const char* shapes) {
    xf_json_doc_t* doc = parse_json(shapes);
    const xf_json_t* root = xf_json_root(doc);
    for (size_t i = 0; i < root->count; i++) {
        const xf_json_t* dims = &root->u.members[i].value;
        int64_t sh[4] = {0};
        if (dims->count == 0) {  // BatchNorm's num_batches_tracked: an integer scalar
            int64_t zero = 0;
            tm_add_raw(f, root->u.members[i].key, "I64", 0, NULL, &zero, sizeof zero);
            continue;
        }
        cr_assert(dims->count <= 4);
        for (size_t d = 0; d < dims->count; d++) sh[d] = dims->u.items[d].u.i;
        const char* key = root->u.members[i].key;
        const char* suffix = "relative_position_index";
        if (strlen(key) > strlen(suffix) && strcmp(key + strlen(key) - strlen(suffix), suffix) == 0) {
            // Swin's saved index of a square window: (dy + ws - 1) * (2 ws - 1) + dx + ws - 1, as I64.
            int64_t n = sh[0], ws = (int64_t)lround(sqrt((double)n));
            cr_assert(dims->count == 2 && sh[1] == n && ws * ws == n, "%s: not a square window's index", key);
            int64_t* idx = malloc(sizeof(int64_t) * (size_t)(n * n));
            for (int64_t a = 0; a < n; a++)
                for (int64_t b = 0; b < n; b++)
                    idx[a * n + b] = (a / ws - b / ws + ws - 1) * (2 * ws - 1) + (a % ws - b % ws + ws - 1);
            tm_add_raw(f, key, "I64", 2, sh, idx, sizeof(int64_t) * (size_t)(n * n));
            free(idx);
            continue;
        }
        tm_add(f, key, (int)dims->count, sh[0], sh[1], sh[2], sh[3]);
    }
    xf_json_free(doc);
}

// Removes a model directory the tests wrote and what they put in it.
static void remove_model_dir(const char* dir) {
    const char* files[] = {"model.safetensors", "config.json", "preprocessor_config.json"};
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        char path[1100];
        snprintf(path, sizeof path, "%s/%s", dir, files[i]);
        unlink(path);
    }
    rmdir(dir);
}

// |base| (a JSON object) with |key| set to an object, which no config key takes, replacing it where |base| has it.
static void config_with_object(const char* base, const char* key, char* out, size_t size) {
    xf_json_doc_t* doc = parse_json(base);
    const xf_json_t* root = xf_json_root(doc);
    size_t n = (size_t)snprintf(out, size, "{\"%s\":{\"unexpected\":1}", key);
    for (size_t k = 0; k < root->count && n < size; k++) {
        if (strcmp(root->u.members[k].key, key) == 0) continue;
        n += (size_t)snprintf(out + n, size - n, ",\"%s\":", root->u.members[k].key);
        if (n < size) n += xf_json_write(&root->u.members[k].value, out + n, size - n);
    }
    cr_assert(n + 2 < size);
    out[n++] = '}';
    out[n] = '\0';
    xf_json_free(doc);
}

// The verdict on a load whose config set |key| to an object: loaded when the key is |accepted| (training-only or
// descriptive), else refused with a message naming the key.
static void expect_key_verdict(const char* what, const char* key, bool accepted, xf_status_t st, const char* err) {
    char quoted[160];
    snprintf(quoted, sizeof quoted, "'%s'", key);
    if (accepted)
        cr_expect_eq(st, XF_OK, "%s key '%s' is refused: %s", what, key, err);
    else
        cr_expect(st != XF_OK && strstr(err, quoted), "%s key '%s' with an object value: %s (%s)", what, key,
                  xf_status_string(st), err);
}

// Logits within atol = |ref|max * rel_atol and rtol of the reference, and identical top-1.
static void check_logits(const char* what, const char* column, const float* got, const float* want, size_t n,
                         float rel_atol, float rtol) {
    char why[512];
    float atol = rel_atol * max_abs(want, n) + 1e-5f;
    cr_expect(xf_test_close(got, want, (int64_t)n, atol, rtol, why, sizeof why), "%s [%s]: %s", what, column,
              why);
}

//===----------------------------------------------------------------------===//
// Hash-initialised standard configurations
//===----------------------------------------------------------------------===//

typedef struct {
    const char* model;  // written here
    const char* ref;    // PyTorch reference with "input" and "logits"
    float rel_atol, rtol;
    // Linear weights stored as f16 (XF_MODEL_WEIGHTS_F16): logits within |min_cosine| of the reference
    // instead of the tolerances, and at most |max_weight_ratio| of the f32 weights' bytes on the device.
    xf_model_weights_t weights;
    double min_cosine, max_weight_ratio;
} std_case_t;

static double cosine(const float* a, const float* b, size_t n);

static void run_std(xf_context_t* ctx, const char* column, void* user) {
    const std_case_t* c = user;
    // Weights stored in fewer bits: on the GPU-API backends (the reference backend's reads are the op table's).
    bool narrow = c->weights != XF_MODEL_WEIGHTS_AS_STORED && c->weights != XF_MODEL_WEIGHTS_F32;
    if (narrow && strcmp(column, "cpu") == 0) return;
    xf_model_t* m;
    xf_model_options_t o;
    xf_model_options_init(&o);
    o.weights = c->weights;
    xf_status_t st = xf_model_load(ctx, c->model, &o, &m);
    cr_assert(st == XF_OK, "[%s] load %s: %s", column, c->model, xf_context_error(ctx));
    xf_model_info_t info;
    cr_assert(xf_model_info(m, &info) == XF_OK);
    xf_st_file_t* ref = open_ref(c->ref);
    size_t nin, nout;
    float* input = ref_f32(ref, "input", &nin);
    float* want = ref_f32(ref, "logits", &nout);
    cr_assert_eq(nin, (size_t)info.input_elements, "[%s] input %zu vs model %lld", column, nin,
                 (long long)info.input_elements);
    cr_assert_eq(nout, (size_t)info.output_elements);
    float* got = malloc(nout * sizeof(float));
    st = xf_model_run(m, input, nin, got, nout);
    cr_assert(st == XF_OK, "[%s] run: %s", column, xf_context_error(ctx));
    if (narrow) {
        static const char* const kinds[] = {"stored", "f16", "f32", "int8-channel", "int8-block32"};
        const char* kind = kinds[c->weights];
        double cos = cosine(got, want, nout), ratio = (double)info.weight_bytes / (double)(info.parameters * 4);
        cr_expect(cos >= c->min_cosine, "[%s] %s with %s weights: cosine %.7f to the reference", column, c->model,
                  kind, cos);
        cr_expect(ratio <= c->max_weight_ratio, "[%s] %s weights take %.3f of the f32 bytes", column, kind, ratio);
        cr_log_info("[%s] %s weights: cosine %.7f, %.3f of the f32 bytes", column, kind, cos, ratio);
    } else {
        check_logits(c->model, column, got, want, nout, c->rel_atol, c->rtol);
    }
    // Top-1 per position, where the reference's winner is clear of the runner-up (int8 weights: the cosine).
    const int64_t k = info.classes, pos = info.output_height * info.output_width;
    int64_t differ = 0;
    for (int64_t p = 0; p < pos && c->weights < XF_MODEL_WEIGHTS_INT8_CHANNEL; p++) {
        int64_t a = argmax(got + p, k, pos), b = argmax(want + p, k, pos);
        if (a != b && fabsf(want[a * pos + p] - want[b * pos + p]) > 1e-4f * max_abs(want, nout)) differ++;
    }
    cr_expect_eq(differ, 0, "[%s] %lld of %lld positions have a different top-1", column, (long long)differ,
                 (long long)pos);
    free(got);
    free(input);
    free(want);
    xf_st_close(ref);
    xf_model_destroy(m);
}

Test(model, deit_tiny_hash_init, .timeout = 1800) {
    char dir[512], model[640], ref[1100], cfgpath[1100];
    tm_tmpdir(dir, sizeof dir);
    cr_assert(dir[0], "mkdtemp failed");
    snprintf(model, sizeof model, "%s/deit_tiny.safetensors", dir);
    snprintf(ref, sizeof ref, "%s/tests/data/deit_tiny_ref.safetensors", src_dir());
    snprintf(cfgpath, sizeof cfgpath, "%s/tests/data/deit_tiny_config.json", src_dir());
    tm_file_t f = {0};
    tm_read_file(cfgpath, f.config, sizeof f.config);
    cr_assert(f.config[0], "cannot read %s", cfgpath);
    tm_vit_tensors(&f, 224, 16, 3, 192, 12, 1000, 0);
    cr_assert(tm_write(&f, model));
    tm_free(&f);

    // The C generator reproduces the reference input bit for bit.
    xf_st_file_t* r = open_ref(ref);
    size_t n;
    float* input = ref_f32(r, "input", &n);
    float* mine = malloc(n * sizeof(float));
    tm_input(mine, (int64_t)n);
    cr_assert(memcmp(input, mine, n * sizeof(float)) == 0, "hash-init input differs from tools/hashinit.py");
    free(input);
    free(mine);
    xf_st_close(r);

    std_case_t c = {model, ref, 2e-3f, 2e-3f, XF_MODEL_WEIGHTS_AS_STORED, 0, 0};
    // On the device-style columns: the GPU-style kernels run whole models in the bundled-model tests.
    each_column_of(run_std, &c, true);

    // The shipped ImageNet-1k labels (tools/imagenet_labels.py) fit a 1000-class checkpoint.
    char labels[1100];
    snprintf(labels, sizeof labels, "%s/models/imagenet1k.labels", src_dir());
    xf_context_t* ctx = cpu_context();
    xf_model_t* m;
    cr_assert(xf_model_load(ctx, model, NULL, &m) == XF_OK, "%s", xf_context_error(ctx));
    cr_assert(xf_model_load_labels(m, labels) == XF_OK, "%s", xf_context_error(ctx));
    cr_expect_str_eq(xf_model_label(m, 0), "tench");
    cr_expect_str_eq(xf_model_label(m, 999), "toilet tissue");
    xf_model_destroy(m);
    xf_context_destroy(ctx);
    unlink(model);
    rmdir(dir);
}

// tests/data/segformer_b0_config.json (SegFormer-B0, 150 classes) with hash-initialised weights, at |path|.
static void write_segformer_b0(const char* path) {
    char cfgpath[1100];
    snprintf(cfgpath, sizeof cfgpath, "%s/tests/data/segformer_b0_config.json", src_dir());
    tm_file_t f = {0};
    tm_read_file(cfgpath, f.config, sizeof f.config);
    cr_assert(f.config[0], "cannot read %s", cfgpath);
    const int64_t dims[4] = {32, 64, 160, 256}, depths[4] = {2, 2, 2, 2}, sr[4] = {8, 4, 2, 1},
                  patch[4] = {7, 3, 3, 3};
    tm_segformer_tensors(&f, 4, dims, depths, sr, patch, 3, 256, 150);
    cr_assert(tm_write(&f, path));
    tm_free(&f);
}

Test(model, segformer_b0_hash_init, .timeout = 1800) {
    char dir[512], model[640], ref[1100];
    tm_tmpdir(dir, sizeof dir);
    cr_assert(dir[0], "mkdtemp failed");
    snprintf(model, sizeof model, "%s/segformer_b0.safetensors", dir);
    snprintf(ref, sizeof ref, "%s/tests/data/segformer_b0_ref.safetensors", src_dir());
    write_segformer_b0(model);
    std_case_t c = {model, ref, 2e-3f, 2e-3f, XF_MODEL_WEIGHTS_AS_STORED, 0, 0};
    each_column(run_std, &c);
    unlink(model);
    rmdir(dir);
}


// Logits and mask of |model| at |size|x|size| on |col| (NULL when the column has no device and may skip).
static bool segment_on(const xf_test_column_t* col, const char* model, int64_t size, const float* input,
                       float* logits, size_t nout, int32_t* mask) {
    char why[512];
    bool skip;
    xf_context_t* ctx;
    if (!xf_test_open(col, &ctx, &skip, why, sizeof why)) {
        cr_assert(skip, "%s", why);
        return false;
    }
    xf_model_options_t opt;
    xf_model_options_init(&opt);
    opt.input_height = opt.input_width = size;
    xf_model_t* m;
    cr_assert(xf_model_load(ctx, model, &opt, &m) == XF_OK, "[%s] load: %s", col->name, xf_context_error(ctx));
    xf_model_info_t mi;
    cr_assert(xf_model_info(m, &mi) == XF_OK);
    cr_assert(xf_model_run(m, input, (size_t)mi.input_elements, logits, nout) == XF_OK, "[%s] run: %s", col->name,
              xf_context_error(ctx));
    cr_assert(xf_model_mask(m, mask, (size_t)(size * size)) == XF_OK, "[%s] mask: %s", col->name,
              xf_context_error(ctx));
    xf_model_destroy(m);
    xf_context_destroy(ctx);
    return true;
}

// SegFormer with 150 classes at 512x512: its mask graph holds [1, 150, 512, 512] (157 MB), past lavapipe's
// 128 MiB maxStorageBufferRange, so the resize, the permuting copy and the argmax run in pieces. Logits and
// masks equal OpenCL's (which matches PyTorch on this model in segformer_b0_hash_init). The op table's
// smallbind column runs every op family in pieces.
Test(model, segformer_150_classes_past_one_binding, .timeout = 900) {
    char dir[512], model[640];
    tm_tmpdir(dir, sizeof dir);
    snprintf(model, sizeof model, "%s/segformer_b0.safetensors", dir);
    write_segformer_b0(model);
    const int64_t size = 512, px = size * size;
    const size_t nout = (size_t)(150 * (size / 4) * (size / 4));
    float* input = malloc(sizeof(float) * (size_t)(3 * px));
    tm_input(input, 3 * px);
    float *want = malloc(sizeof(float) * nout), *got = malloc(sizeof(float) * nout);
    int32_t *want_mask = malloc(sizeof(int32_t) * (size_t)px), *mask = malloc(sizeof(int32_t) * (size_t)px);
    xf_test_column_t cl = {.name = "opencl", .backend = XF_BACKEND_OPENCL,
                           .requested = xf_test_backend_required(XF_BACKEND_OPENCL)};
    xf_test_column_t vk[1] = {{.name = "vulkan", .backend = XF_BACKEND_VULKAN}};
    bool have_ref = segment_on(&cl, model, size, input, want, nout, want_mask);
    for (int i = 0; i < 1 && have_ref; i++) {
        vk[i].requested = xf_test_backend_required(XF_BACKEND_VULKAN);
        if (!segment_on(&vk[i], model, size, input, got, nout, mask)) break;
        double cos = cosine(got, want, nout);
        cr_expect(cos >= 0.99999, "[%s] logits cosine %.7f against OpenCL", vk[i].name, cos);
        check_logits("segformer 150 classes at 512", vk[i].name, got, want, nout, 1e-3f, 1e-3f);
        int64_t differ = 0;
        for (int64_t k = 0; k < px; k++) differ += mask[k] != want_mask[k];
        cr_expect(differ <= px / 10000, "[%s] %lld of %lld mask pixels differ from OpenCL's", vk[i].name,
                  (long long)differ, (long long)px);
    }
    if (!have_ref) cr_skip_test("no OpenCL device to compare with");
    free(input);
    free(want);
    free(got);
    free(want_mask);
    free(mask);
    unlink(model);
    rmdir(dir);
}

//===----------------------------------------------------------------------===//
// The ViT family as timm ships it (tests/data/vit_variants_ref.safetensors)
//===----------------------------------------------------------------------===//

typedef struct {
    const char* variant;
    const char* model;
    const float *input, *want;
    size_t nin, nout;
} variant_case_t;

static double cosine(const float* a, const float* b, size_t n) {
    double ab = 0, aa = 0, bb = 0;
    for (size_t i = 0; i < n; i++) {
        ab += (double)a[i] * b[i];
        aa += (double)a[i] * a[i];
        bb += (double)b[i] * b[i];
    }
    return ab / sqrt(aa * bb);
}

// Indices of the |k| largest values, best first.
static void top_k(const float* v, size_t n, int k, int* out) {
    for (int j = 0; j < k; j++) {
        int best = -1;
        for (size_t i = 0; i < n; i++) {
            bool taken = false;
            for (int t = 0; t < j; t++) taken |= out[t] == (int)i;
            if (!taken && (best < 0 || v[i] > v[best])) best = (int)i;
        }
        out[j] = best;
    }
}

static void run_variant(xf_context_t* ctx, const char* column, void* user) {
    const variant_case_t* c = user;
    xf_model_t* m;
    xf_status_t st = xf_model_load(ctx, c->model, NULL, &m);
    cr_assert(st == XF_OK, "[%s] %s: load: %s", column, c->variant, xf_context_error(ctx));
    float* got = malloc(c->nout * sizeof(float));
    st = xf_model_run(m, c->input, c->nin, got, c->nout);
    cr_assert(st == XF_OK, "[%s] %s: run: %s", column, c->variant, xf_context_error(ctx));
    double cos = cosine(got, c->want, c->nout);
    cr_expect(cos >= 0.9999, "[%s] %s: cosine %.7f against timm", column, c->variant, cos);
    int a[5], b[5];
    top_k(got, c->nout, 5, a);
    top_k(c->want, c->nout, 5, b);
    cr_expect(memcmp(a, b, sizeof a) == 0, "[%s] %s: top-5 %d %d %d %d %d, timm %d %d %d %d %d", column, c->variant,
              a[0], a[1], a[2], a[3], a[4], b[0], b[1], b[2], b[3], b[4]);
    check_logits(c->variant, column, got, c->want, c->nout, 1e-3f, 1e-3f);
    free(got);
    xf_model_destroy(m);
}

// Writes the hash-initialised model of |variant| (tensor names and shapes as the reference lists them).
// |config| replaces the reference's config when not NULL.
static void write_variant_with(xf_st_file_t* ref, const char* variant, const char* path, const char* config) {
    char key[128];
    snprintf(key, sizeof key, "%s.tensors", variant);
    const char* shapes = xf_st_metadata(ref, key);
    snprintf(key, sizeof key, "%s.config", variant);
    if (!config) config = xf_st_metadata(ref, key);
    cr_assert(shapes && config, "%s: the reference lacks its config or tensor list", variant);
    tm_file_t f = {0};
    snprintf(f.config, sizeof f.config, "%s", config);
    add_shaped_tensors(&f, shapes);
    cr_assert(tm_write(&f, path));
    tm_free(&f);
}

static void write_variant(xf_st_file_t* ref, const char* variant, const char* path) {
    write_variant_with(ref, variant, path, NULL);
}

// Every variant matches timm's VisionTransformer on every column: LayerScale, average pooling with and
// without fc_norm, no class token, register tokens with and without position embeddings, qk_norm, tanh
// GELU, and CLIP's quick GELU with norm_pre.
Test(model, vit_variants_match_timm, .timeout = 900) {
    char dir[512], model[640], refpath[1100];
    tm_tmpdir(dir, sizeof dir);
    cr_assert(dir[0], "mkdtemp failed");
    snprintf(model, sizeof model, "%s/variant.safetensors", dir);
    snprintf(refpath, sizeof refpath, "%s/tests/data/vit_variants_ref.safetensors", src_dir());
    xf_st_file_t* ref = open_ref(refpath);
    xf_json_doc_t* doc = ref_json(ref, "variants");
    const xf_json_t* names = xf_json_root(doc);
    cr_assert(names->type == XF_JSON_ARRAY && names->count >= 9);
    size_t nin;
    float* input = ref_f32(ref, "input", &nin);
    for (size_t i = 0; i < names->count; i++) {
        variant_case_t c = {names->u.items[i].u.s, model, input, NULL, nin, 0};
        char key[128];
        snprintf(key, sizeof key, "%s.logits", c.variant);
        float* want = ref_f32(ref, key, &c.nout);
        c.want = want;
        write_variant(ref, c.variant, model);
        each_column(run_variant, &c);
        free(want);
    }
    free(input);
    xf_json_free(doc);
    xf_st_close(ref);
    unlink(model);
    rmdir(dir);
}

// Swin Transformers (timm's SwinTransformer, hash-init): shifted windows, windows padded past the grid
// (window 5 on 16x16 and 8x8 grids), three stages on a non-square input without q/k/v biases (shifted along W
// only in the last stage), and swin_tiny_patch4_window7_224 at 224.
Test(model, swin_matches_timm, .timeout = 900) {
    char dir[512], model[640], refpath[1100];
    tm_tmpdir(dir, sizeof dir);
    snprintf(model, sizeof model, "%s/swin.safetensors", dir);
    snprintf(refpath, sizeof refpath, "%s/tests/data/swin_ref.safetensors", src_dir());
    xf_st_file_t* ref = open_ref(refpath);
    xf_json_doc_t* doc = ref_json(ref, "models");
    const xf_json_t* names = xf_json_root(doc);
    cr_assert(names->count >= 3);
    for (size_t i = 0; i < names->count; i++) {
        variant_case_t c = {names->u.items[i].u.s, model, NULL, NULL, 0, 0};
        char key[128];
        snprintf(key, sizeof key, "%s.input", c.variant);
        float* input = ref_f32(ref, key, &c.nin);
        snprintf(key, sizeof key, "%s.logits", c.variant);
        float* want = ref_f32(ref, key, &c.nout);
        c.input = input;
        c.want = want;
        write_variant(ref, c.variant, model);
        // Swin-T at 224 runs the kernels each device picks; GPU-style kernels on the CPU devices CI has take
        // minutes for it, and the small Swins check that style on every op they use.
        each_column_of(run_variant, &c, strncmp(c.variant, "swin_tiny", 9) == 0);
        free(input);
        free(want);
    }
    xf_json_free(doc);

    // Every keyword of timm's SwinTransformer is understood or refused by name (training-only ones load).
    doc = ref_json(ref, "timm_swin_keys");
    const xf_json_t* keys = xf_json_root(doc);
    cr_assert(keys->count > 10);
    const char* base = xf_st_metadata(ref, "swin_small_windows.config");
    for (size_t i = 0; i < keys->count; i++) {
        const char* key = keys->u.items[i].u.s;
        char config[8192];
        config_with_object(base, key, config, sizeof config);
        write_variant_with(ref, "swin_small_windows", model, config);
        xf_context_t* ctx = cpu_context();
        xf_model_t* m = NULL;
        xf_status_t st = xf_model_load(ctx, model, NULL, &m);
        expect_key_verdict("Swin", key, is_training_key(key), st, xf_context_error(ctx));
        xf_model_destroy(m);
        xf_context_destroy(ctx);
    }
    xf_json_free(doc);
    xf_st_close(ref);
    unlink(model);
    rmdir(dir);
}

Test(model, vit_b_16_converted, .timeout = 1800) {
    const char* dir = getenv("XFORMER_VITB16_DIR");
    const char* require = getenv("XFORMER_REQUIRE_VITB16");
    char model[1100], ref[1100];
    snprintf(model, sizeof model, "%s/vit_b_16.safetensors", dir ? dir : "");
    snprintf(ref, sizeof ref, "%s/vit_b_16_ref.safetensors", dir ? dir : "");
    if (!dir || !*dir || !file_exists(model) || !file_exists(ref)) {
        cr_assert(!(require && strcmp(require, "1") == 0),
                  "XFORMER_REQUIRE_VITB16=1 but XFORMER_VITB16_DIR (%s) has no vit_b_16.safetensors and "
                  "vit_b_16_ref.safetensors; run tools/make_vitb16_reference.py DIR",
                  dir ? dir : "unset");
        cr_skip_test(
            "set XFORMER_VITB16_DIR to the output of tools/make_vitb16_reference.py to run this test");
    }
    std_case_t c = {model, ref, 2e-3f, 2e-3f, XF_MODEL_WEIGHTS_AS_STORED, 0, 0};
    // 86 M parameters: GPU-style kernels on the CPU devices CI has take minutes per forward here, and the
    // op table, block tests and bundled models check that style on every op.
    each_column_of(run_std, &c, true);
    // Linear weights stored as f16: half their bytes (norms, biases, embeddings stay f32), nearly the same logits.
    // On the GPU-API backends: the reference backend's f16 reads are the op table's.
    std_case_t h = {model, ref, 0, 0, XF_MODEL_WEIGHTS_F16, 0.9999, 0.52};
    each_column_of(run_std, &h, true);
    // int8 in blocks of 32 with f16 scales (Q8_0): about a quarter of the bytes.
    std_case_t q = {model, ref, 0, 0, XF_MODEL_WEIGHTS_INT8_BLOCK32, 0.999, 0.3};
    each_column_of(run_std, &q, true);
}

//===----------------------------------------------------------------------===//
// Bundled models on the sample images
//===----------------------------------------------------------------------===//

typedef struct {
    const char* model;
    const char* refs;
    const char* labels;
} bundled_t;

static void run_bundled(xf_context_t* ctx, const char* column, void* user) {
    const bundled_t* b = user;
    xf_model_t* m;
    xf_status_t st = xf_model_load(ctx, b->model, NULL, &m);
    cr_assert(st == XF_OK, "[%s] load %s: %s", column, b->model, xf_context_error(ctx));
    xf_model_info_t info;
    xf_model_info(m, &info);
    if (b->labels) {
        st = xf_model_load_labels(m, b->labels);
        cr_assert(st == XF_OK, "%s", xf_context_error(ctx));
        cr_assert(xf_model_label(m, 0) != NULL);
    }
    xf_st_file_t* ref = open_ref(b->refs);
    const char* images = xf_st_metadata(ref, "images");
    cr_assert(images, "%s has no __metadata__.images", b->refs);
    // images is a JSON list of file names: ["a.png", "b.png"].
    char list[4096];
    snprintf(list, sizeof list, "%s", images);
    int tested = 0;
    for (char* p = strchr(list, '"'); p; p = strchr(p, '"')) {
        char* e = strchr(p + 1, '"');
        cr_assert(e);
        *e = '\0';
        const char* name = p + 1;
        p = e + 1;
        char path[1100], key[300];
        snprintf(path, sizeof path, "%s/examples/images/%s", src_dir(), name);
        int w, h, ch;
        uint8_t* pixels = stbi_load(path, &w, &h, &ch, 0);
        cr_assert(pixels, "cannot decode %s: %s", path, stbi_failure_reason());
        float* input = malloc((size_t)info.input_elements * sizeof(float));
        st = xf_model_preprocess(m, pixels, w, h, ch, input, (size_t)info.input_elements);
        cr_assert(st == XF_OK, "%s", xf_context_error(ctx));
        stbi_image_free(pixels);
        size_t n;
        snprintf(key, sizeof key, "%s.input", name);
        float* want_in = ref_f32(ref, key, &n);
        cr_assert_eq(n, (size_t)info.input_elements, "%s: input size", name);
        char why[512];
        cr_expect(xf_test_close(input, want_in, (int64_t)n, 1e-5f, 1e-5f, why, sizeof why),
                  "%s: preprocessing differs from tools/preprocess.py: %s", name, why);
        free(want_in);

        snprintf(key, sizeof key, "%s.logits", name);
        float* want = ref_f32(ref, key, &n);
        cr_assert_eq(n, (size_t)info.output_elements);
        float* got = malloc(n * sizeof(float));
        st = xf_model_run(m, input, (size_t)info.input_elements, got, n);
        cr_assert(st == XF_OK, "[%s] run: %s", column, xf_context_error(ctx));
        char what[400];
        snprintf(what, sizeof what, "%s on %s", b->model, name);
        check_logits(what, column, got, want, n, 1e-3f, 1e-3f);
        if (info.task == XF_MODEL_TASK_CLASSIFICATION) {
            cr_expect_eq(argmax(got, info.classes, 1), argmax(want, info.classes, 1),
                         "[%s] %s: top-1 differs", column, name);
        } else {
            snprintf(key, sizeof key, "%s.mask", name);
            xf_st_tensor_t* mt = xf_st_find(ref, key);
            cr_assert(mt, "missing %s", key);
            size_t px = (size_t)(info.input_height * info.input_width);
            cr_assert_eq((size_t)mt->elements, px);
            int32_t* want_mask = malloc(px * sizeof(int32_t));
            int32_t* mask = malloc(px * sizeof(int32_t));
            cr_assert(xf_st_read_i32(mt, want_mask, px) == XF_OK);
            st = xf_model_mask(m, mask, px);
            cr_assert(st == XF_OK, "[%s] mask: %s", column, xf_context_error(ctx));
            size_t differ = 0;
            for (size_t i = 0; i < px; i++) differ += mask[i] != want_mask[i];
            cr_expect_eq(differ, 0, "[%s] %s: %zu of %zu mask pixels differ from PyTorch", column, name,
                         differ, px);
            free(want_mask);
            free(mask);
        }
        free(want);
        free(got);
        free(input);
        tested++;
    }
    cr_assert(tested > 0);
    xf_st_close(ref);
    xf_model_destroy(m);
}

static void bundled(const char* model, const char* refs, const char* labels) {
    char mp[1100], rp[1100], lp[1100];
    snprintf(mp, sizeof mp, "%s/models/%s", src_dir(), model);
    snprintf(rp, sizeof rp, "%s/tests/data/%s", src_dir(), refs);
    snprintf(lp, sizeof lp, "%s/models/%s", src_dir(), labels);
    cr_assert(file_exists(mp), "bundled model %s is missing", mp);
    cr_assert(file_exists(rp), "reference %s is missing", rp);
    bundled_t b = {mp, rp, file_exists(lp) ? lp : NULL};
    each_column(run_bundled, &b);
}

Test(model, vit_fmnist_samples, .timeout = 1800) {
    bundled("vit-fmnist.safetensors", "vit-fmnist-refs.safetensors", "fashion-mnist.labels");
}

Test(model, segformer_fmnist_samples, .timeout = 1800) {
    bundled("segformer-fmnist.safetensors", "segformer-fmnist-refs.safetensors", "segmentation.labels");
}

//===----------------------------------------------------------------------===//
// Smaller checks on a tiny ViT written here
//===----------------------------------------------------------------------===//

static const char tiny_vit_config[] =
    "{\"architecture\":\"vit\",\"img_size\":32,\"patch_size\":8,\"in_chans\":1,\"embed_dim\":16,\"depth\":1,"
    "\"num_heads\":2,\"mlp_ratio\":4.0,\"num_classes\":3,\"distilled\":%s,\"mean\":[0.5],\"std\":[0.25],"
    "\"labels\":[\"a\",\"b\",\"c\"]}";

static void write_tiny_vit(const char* path, int distilled) {
    tm_file_t f = {0};
    snprintf(f.config, sizeof f.config, tiny_vit_config, distilled ? "true" : "false");
    tm_vit_tensors(&f, 32, 8, 1, 16, 1, 3, distilled);
    cr_assert(tm_write(&f, path));
    tm_free(&f);
}

static xf_context_t* cpu_context(void) {
    xf_context_options_t o;
    xf_context_options_init(&o);
    o.backend = XF_BACKEND_CPU;
    xf_context_t* ctx;
    cr_assert(xf_context_create(&o, &ctx) == XF_OK, "%s", xf_last_error());
    return ctx;
}

// A ViT with distillation head whose every tensor is stored as |dtype| ("F32", "F16" or "BF16").
static void write_weights_vit(const char* path, const char* dtype, int64_t* linear_elements) {
    tm_file_t f = {0};
    snprintf(f.config, sizeof f.config,
             "{\"architecture\":\"vit\",\"img_size\":32,\"patch_size\":8,\"in_chans\":1,\"embed_dim\":64,"
             "\"depth\":2,\"num_heads\":4,\"mlp_ratio\":4.0,\"num_classes\":10,\"distilled\":true}");
    tm_vit_tensors(&f, 32, 8, 1, 64, 2, 10, 1);
    *linear_elements = 0;
    for (size_t i = 0; i < f.n; i++) {
        tm_tensor_t* t = &f.t[i];
        if (t->ndim == 2 && tm_ends(t->name, ".weight")) *linear_elements += t->shape[0] * t->shape[1];
        if (strcmp(dtype, "F32") == 0 || strncmp(dtype, "Q8", 2) == 0) continue;
        size_t n = t->bytes / 4;
        uint16_t* h = malloc(n * 2 + 1);
        for (size_t k = 0; k < n; k++) {
            float v = ((const float*)t->data)[k];
            h[k] = strcmp(dtype, "F16") == 0 ? xf_f32_to_f16(v) : xf_f32_to_bf16(v);
        }
        free(t->data);
        t->data = h;
        t->bytes = n * 2;
        t->dtype = dtype;
    }
    if (strncmp(dtype, "Q8", 2) == 0) tm_quantize(&f, dtype[2] == 'B' ? 32 : 0, dtype[3] ? dtype[3] - '0' : 0);
    cr_assert(tm_write(&f, path));
    tm_free(&f);
}

// Loads |path| with weight storage |storage|; its logits for the hash-init input and its weight bytes.
static void load_weights_vit(xf_context_t* ctx, const char* column, const char* path, xf_model_weights_t storage,
                             float* logits, int64_t* weight_bytes) {
    xf_model_options_t o;
    xf_model_options_init(&o);
    o.weights = storage;
    xf_model_t* m;
    cr_assert_eq(xf_model_load(ctx, path, &o, &m), XF_OK, "[%s] %s", column, xf_context_error(ctx));
    float in[32 * 32];
    tm_input(in, 32 * 32);
    cr_assert_eq(xf_model_run(m, in, 32 * 32, logits, 10), XF_OK, "[%s] %s", column, xf_context_error(ctx));
    xf_model_info_t info;
    cr_assert_eq(xf_model_info(m, &info), XF_OK);
    *weight_bytes = info.weight_bytes;
    xf_model_destroy(m);
}

static void run_weight_storage(xf_context_t* ctx, const char* column, void* user) {
    const char* dir = user;
    const char* dtypes[] = {"F32", "F16", "BF16"};
    for (int d = 0; d < 3; d++) {
        char path[700];
        snprintf(path, sizeof path, "%s/weights_%s.safetensors", dir, dtypes[d]);
        int64_t linear;
        write_weights_vit(path, dtypes[d], &linear);
        float wide[10], kept[10], as_f16[10];
        int64_t wide_bytes, kept_bytes, f16_bytes;
        load_weights_vit(ctx, column, path, XF_MODEL_WEIGHTS_F32, wide, &wide_bytes);
        load_weights_vit(ctx, column, path, XF_MODEL_WEIGHTS_AS_STORED, kept, &kept_bytes);
        load_weights_vit(ctx, column, path, XF_MODEL_WEIGHTS_F16, as_f16, &f16_bytes);
        bool half_file = d > 0;
        // Half files keep their linear weights half: 2 bytes less per element, the same values.
        cr_expect_eq(kept_bytes, wide_bytes - (half_file ? 2 * linear : 0), "[%s] %s file: %lld bytes kept, %lld wide",
                     column, dtypes[d], (long long)kept_bytes, (long long)wide_bytes);
        cr_expect_eq(f16_bytes, wide_bytes - 2 * linear, "[%s] %s file as f16: %lld bytes", column, dtypes[d],
                     (long long)f16_bytes);
        for (int i = 0; i < 10; i++) {
            cr_expect(fabsf(kept[i] - wide[i]) <= 1e-4f * (1 + fabsf(wide[i])), "[%s] %s file, logit %d: %g, widened %g",
                      column, dtypes[d], i, kept[i], wide[i]);
        }
        // An f32 file stored as f16 rounds each weight once.
        double cos = cosine(as_f16, wide, 10);
        cr_expect(cos >= 0.9999, "[%s] %s file as f16: cosine %.6f to f32", column, dtypes[d], cos);
        unlink(path);
    }
}

// int8 files (tools/quantize.py's layout) keep their weights int8 and give the logits of the float file
// quantized at load; F32 widens them.
static void run_int8_storage(xf_context_t* ctx, const char* column, void* user) {
    const char* dir = user;
    static const char* const kinds[] = {"Q8C", "Q8B"};
    for (int d = 0; d < 2; d++) {
        char f32_path[700], q_path[700];
        snprintf(f32_path, sizeof f32_path, "%s/int8_f32.safetensors", dir);
        snprintf(q_path, sizeof q_path, "%s/int8_%s.safetensors", dir, kinds[d]);
        int64_t linear;
        write_weights_vit(f32_path, "F32", &linear);
        write_weights_vit(q_path, kinds[d], &linear);
        xf_model_weights_t at_load = d ? XF_MODEL_WEIGHTS_INT8_BLOCK32 : XF_MODEL_WEIGHTS_INT8_CHANNEL;
        float wide[10], kept[10], quantized[10], widened[10];
        int64_t wide_bytes, kept_bytes, quantized_bytes, widened_bytes;
        load_weights_vit(ctx, column, f32_path, XF_MODEL_WEIGHTS_AS_STORED, wide, &wide_bytes);
        load_weights_vit(ctx, column, q_path, XF_MODEL_WEIGHTS_AS_STORED, kept, &kept_bytes);
        load_weights_vit(ctx, column, f32_path, at_load, quantized, &quantized_bytes);
        load_weights_vit(ctx, column, q_path, XF_MODEL_WEIGHTS_F32, widened, &widened_bytes);
        cr_expect_eq(kept_bytes, quantized_bytes, "[%s] %s file: %lld bytes, quantized at load %lld", column,
                     kinds[d], (long long)kept_bytes, (long long)quantized_bytes);
        cr_expect(kept_bytes < wide_bytes - 2 * linear, "[%s] %s file: %lld bytes against %lld as f32", column,
                  kinds[d], (long long)kept_bytes, (long long)wide_bytes);
        cr_expect_eq(widened_bytes, wide_bytes, "[%s] %s file widened: %lld bytes", column, kinds[d],
                     (long long)widened_bytes);
        for (int i = 0; i < 10; i++) {
            cr_expect(fabsf(kept[i] - quantized[i]) <= 1e-5f * (1 + fabsf(quantized[i])),
                      "[%s] %s file, logit %d: %g, quantized at load %g", column, kinds[d], i, kept[i], quantized[i]);
        }
        // Widened: the linear weights' values as stored, the patch embedding back to its f32 convolution.
        cr_expect(cosine(widened, kept, 10) >= 0.9999, "[%s] %s file widened: cosine %.6f to int8", column, kinds[d],
                  cosine(widened, kept, 10));
        double cos = cosine(kept, wide, 10);
        cr_expect(cos >= 0.999, "[%s] %s file: cosine %.6f to f32", column, kinds[d], cos);
        unlink(f32_path);
        unlink(q_path);
    }
}

Test(model, int8_weight_files) {
    char dir[512];
    tm_tmpdir(dir, sizeof dir);
    cr_assert(dir[0], "mkdtemp failed");
    each_column(run_int8_storage, dir);
    // The patch embedding runs as an int8 linear layer over the patches; an input that is not a whole number of
    // patches leaves the last rows and columns out, as the convolution does.
    char f32_path[700];
    snprintf(f32_path, sizeof f32_path, "%s/patches.safetensors", dir);
    int64_t linear_elements;
    write_weights_vit(f32_path, "F32", &linear_elements);
    float logits[2][10], in[37 * 35];
    tm_input(in, 37 * 35);
    for (int q = 0; q < 2; q++) {
        xf_context_t* ctx = cpu_context();
        xf_model_options_t o;
        xf_model_options_init(&o);
        o.input_height = 37;
        o.input_width = 35;
        o.weights = q ? XF_MODEL_WEIGHTS_INT8_CHANNEL : XF_MODEL_WEIGHTS_AS_STORED;
        xf_model_t* m = NULL;
        cr_assert_eq(xf_model_load(ctx, f32_path, &o, &m), XF_OK, "%s", xf_context_error(ctx));
        xf_tensor_t* patch;
        cr_assert_eq(xf_context_find_tensor(ctx, "patch_embed.proj.weight", &patch), XF_OK);
        cr_expect_eq(xf_tensor_dtype(patch), q ? XF_DTYPE_I8 : XF_DTYPE_F32);
        cr_assert_eq(xf_model_run(m, in, 37 * 35, logits[q], 10), XF_OK, "%s", xf_context_error(ctx));
        xf_model_destroy(m);
        xf_context_destroy(ctx);
    }
    cr_expect(cosine(logits[1], logits[0], 10) >= 0.999, "37x35 input, int8: cosine %.6f to f32",
              cosine(logits[1], logits[0], 10));
    unlink(f32_path);

    // A scale that is missing or has the wrong shape is refused by name.
    static const char* const bad[] = {"Q8C1", "Q8B2"};
    static const char* const why[] = {"has no scale tensor 'blocks.0.attn.qkv.weight_scale'",
                                      "scale tensor 'blocks.0.attn.qkv.weight_scale' is F16 [192, 3]"};
    for (int i = 0; i < 2; i++) {
        char path[700];
        snprintf(path, sizeof path, "%s/bad.safetensors", dir);
        int64_t linear;
        write_weights_vit(path, bad[i], &linear);
        xf_context_t* ctx = cpu_context();
        xf_model_t* m = NULL;
        cr_expect_eq(xf_model_load(ctx, path, NULL, &m), XF_ERR_INVALID_ARGUMENT, "%s", bad[i]);
        cr_expect(strstr(xf_context_error(ctx), why[i]), "%s: %s", bad[i], xf_context_error(ctx));
        xf_context_destroy(ctx);
        unlink(path);
    }
    rmdir(dir);
}

// Linear-layer weights stay in the file's half type on the device (f16 and bf16 files), or are stored
// as xf_model_options_t.weights asks, with the bytes xf_model_info reports.
Test(model, linear_weights_stored_as_asked) {
    char dir[512];
    tm_tmpdir(dir, sizeof dir);
    cr_assert(dir[0], "mkdtemp failed");
    each_column(run_weight_storage, dir);

    char path[700];
    snprintf(path, sizeof path, "%s/weights.safetensors", dir);
    int64_t linear;
    write_weights_vit(path, "F32", &linear);
    xf_context_t* ctx = cpu_context();
    xf_model_options_t o;
    xf_model_options_init(&o);
    o.weights = (xf_model_weights_t)7;
    xf_model_t* m = NULL;
    cr_expect_eq(xf_model_load(ctx, path, &o, &m), XF_ERR_INVALID_ARGUMENT);
    cr_expect(strstr(xf_context_error(ctx), "weights"), "%s", xf_context_error(ctx));
    xf_context_destroy(ctx);
    unlink(path);
    rmdir(dir);
}

Test(model, info_labels_and_two_models_in_one_context) {
    char dir[512], path[700], labels[700];
    tm_tmpdir(dir, sizeof dir);
    snprintf(path, sizeof path, "%s/tiny.safetensors", dir);
    snprintf(labels, sizeof labels, "%s/tiny.labels", dir);
    write_tiny_vit(path, 1);
    xf_context_t* ctx = cpu_context();
    xf_model_t *a, *b;
    cr_assert(xf_model_load(ctx, path, NULL, &a) == XF_OK, "%s", xf_context_error(ctx));
    cr_assert(xf_model_load(ctx, path, NULL, &b) == XF_OK, "%s", xf_context_error(ctx));
    xf_tensor_t* t;
    cr_assert(xf_context_find_tensor(ctx, "cls_token", &t) == XF_OK);
    cr_assert(xf_context_find_tensor(ctx, "model2/cls_token", &t) == XF_OK);
    xf_model_info_t info;
    cr_assert(xf_model_info(a, &info) == XF_OK);
    cr_assert_eq(info.arch, XF_MODEL_ARCH_VIT);
    cr_assert_eq(info.task, XF_MODEL_TASK_CLASSIFICATION);
    cr_assert_eq(info.input_channels, 1);
    cr_assert_eq(info.input_height, 32);
    cr_assert_eq(info.classes, 3);
    cr_assert_eq(info.output_elements, 3);
    cr_assert(info.has_labels);
    cr_assert_str_eq(xf_model_label(a, 2), "c");
    cr_assert_null(xf_model_label(a, 3));
    cr_assert_float_eq(info.mean[0], 0.5f, 1e-7);
    cr_assert_float_eq(info.std[0], 0.25f, 1e-7);

    float in[32 * 32], la[3], lb[3];
    tm_input(in, 32 * 32);
    cr_assert(xf_model_run(a, in, 1024, la, 3) == XF_OK, "%s", xf_context_error(ctx));
    cr_assert(xf_model_run(b, in, 1024, lb, 3) == XF_OK, "%s", xf_context_error(ctx));
    cr_assert(memcmp(la, lb, sizeof la) == 0, "two loads of one file give different logits");
    for (int i = 0; i < 3; i++) cr_assert(isfinite(la[i]));

    // Wrong sizes are refused with a message.
    cr_assert_eq(xf_model_run(a, in, 1000, la, 3), XF_ERR_INVALID_ARGUMENT);
    cr_assert(strstr(xf_context_error(ctx), "1024"));
    int32_t mask[4];
    cr_assert_eq(xf_model_mask(a, mask, 4), XF_ERR_INVALID_ARGUMENT);
    cr_assert(strstr(xf_context_error(ctx), "not a segmenter"), "%s", xf_context_error(ctx));

    FILE* fp = fopen(labels, "w");
    fputs("x\ny\r\nz\n", fp);
    fclose(fp);
    cr_assert(xf_model_load_labels(a, labels) == XF_OK, "%s", xf_context_error(ctx));
    cr_assert_str_eq(xf_model_label(a, 1), "y");
    fp = fopen(labels, "w");
    fputs("x\ny\n", fp);
    fclose(fp);
    cr_assert_eq(xf_model_load_labels(a, labels), XF_ERR_INVALID_ARGUMENT);
    cr_assert(strstr(xf_context_error(ctx), "2 labels"), "%s", xf_context_error(ctx));
    cr_assert_eq(xf_model_load_labels(a, "/nonexistent/labels"), XF_ERR_NOT_FOUND);

    xf_model_destroy(b);
    xf_model_destroy(a);
    // Weights go with their model.
    cr_assert_eq(xf_context_find_tensor(ctx, "cls_token", &t), XF_ERR_NOT_FOUND);
    xf_context_destroy(ctx);
    unlink(path);
    unlink(labels);
    rmdir(dir);
}

// A model built for another input size resamples pos_embed and still runs.
Test(model, vit_other_input_size) {
    char dir[512], path[700];
    tm_tmpdir(dir, sizeof dir);
    snprintf(path, sizeof path, "%s/tiny.safetensors", dir);
    write_tiny_vit(path, 0);
    xf_context_t* ctx = cpu_context();
    xf_model_options_t opt;
    xf_model_options_init(&opt);
    opt.input_height = 48;
    opt.input_width = 40;
    xf_model_t* m;
    cr_assert(xf_model_load(ctx, path, &opt, &m) == XF_OK, "%s", xf_context_error(ctx));
    xf_model_info_t info;
    xf_model_info(m, &info);
    cr_assert_eq(info.input_height, 48);
    cr_assert_eq(info.input_width, 40);
    xf_tensor_t* pos;
    cr_assert(xf_context_find_tensor(ctx, "pos_embed", &pos) == XF_OK);
    cr_assert_eq(xf_tensor_dim(pos, 1), 1 + 6 * 5);
    float in[48 * 40], out[3];
    tm_input(in, 48 * 40);
    cr_assert(xf_model_run(m, in, 48 * 40, out, 3) == XF_OK, "%s", xf_context_error(ctx));
    for (int i = 0; i < 3; i++) cr_assert(isfinite(out[i]));
    xf_model_destroy(m);
    xf_context_destroy(ctx);
    unlink(path);
    rmdir(dir);
}

// Antialiased bicubic upsampling reproduces a linear ramp wherever its whole support lies inside
// the grid; downsampling keeps a constant; scale 1 is the identity.
static void check_ramp(int64_t oh, int64_t ow) {
    enum { N = 12 };
    float src[N * N], dst[32 * 32];
    for (int y = 0; y < N; y++)
        for (int x = 0; x < N; x++) src[y * N + x] = (float)(3 * y + x);
    xf_model_resample_bicubic_aa(src, N, N, 1, dst, oh, ow);
    int checked = 0;
    for (int64_t y = 0; y < oh; y++)
        for (int64_t x = 0; x < ow; x++) {
            double scy = (double)N / oh, scx = (double)N / ow;
            double cy = (y + 0.5) * scy, cx = (x + 0.5) * scx;
            double ry = 2 * (scy > 1 ? scy : 1), rx = 2 * (scx > 1 ? scx : 1);
            if (cy - ry < 0 || cy + ry > N || cx - rx < 0 || cx + rx > N) continue;
            cr_assert_float_eq(dst[y * ow + x], 3 * (cy - 0.5) + (cx - 0.5), 1e-4,
                               "%lldx%lld at (%lld, %lld)", (long long)oh, (long long)ow, (long long)y,
                               (long long)x);
            checked++;
        }
    cr_assert(checked > 0);
}

Test(model, pos_embed_resampling) {
    float src[16], same[16];
    for (int i = 0; i < 16; i++) src[i] = (float)(i * i % 7);
    xf_model_resample_bicubic_aa(src, 4, 4, 1, same, 4, 4);
    for (int i = 0; i < 16; i++) cr_assert_float_eq(same[i], src[i], 1e-6);
    check_ramp(29, 23);
    check_ramp(13, 17);
    float ones[12 * 12], small[5 * 7];
    for (int i = 0; i < 144; i++) ones[i] = 2.5f;
    xf_model_resample_bicubic_aa(ones, 12, 12, 1, small, 5, 7);
    for (int i = 0; i < 35; i++) cr_assert_float_eq(small[i], 2.5f, 1e-5);
}

Test(model, preprocess_channels_and_crop) {
    char dir[512], path[700];
    tm_tmpdir(dir, sizeof dir);
    snprintf(path, sizeof path, "%s/tiny.safetensors", dir);
    write_tiny_vit(path, 0);
    xf_context_t* ctx = cpu_context();
    xf_model_t* m;
    cr_assert(xf_model_load(ctx, path, NULL, &m) == XF_OK, "%s", xf_context_error(ctx));
    // A 32x32 RGB image: grey = 0.299 R + 0.587 G + 0.114 B, then (v/255 - 0.5) / 0.25; no resize.
    uint8_t rgb[32 * 32 * 3];
    for (int i = 0; i < 32 * 32; i++) {
        rgb[3 * i] = (uint8_t)i;
        rgb[3 * i + 1] = (uint8_t)(i * 7);
        rgb[3 * i + 2] = (uint8_t)(255 - i);
    }
    float out[32 * 32];
    cr_assert(xf_model_preprocess(m, rgb, 32, 32, 3, out, 1024) == XF_OK, "%s", xf_context_error(ctx));
    for (int i = 0; i < 32 * 32; i++) {
        float g = (0.299f * rgb[3 * i] + 0.587f * rgb[3 * i + 1]) + 0.114f * rgb[3 * i + 2];
        cr_assert_float_eq(out[i], (g / 255.0f - 0.5f) / 0.25f, 1e-6, "pixel %d", i);
    }
    // A 64x32 grey image: the short side is already 32; the crop takes columns 16..47.
    uint8_t grey[32 * 64];
    for (int i = 0; i < 32 * 64; i++) grey[i] = (uint8_t)(i % 64);
    cr_assert(xf_model_preprocess(m, grey, 64, 32, 1, out, 1024) == XF_OK);
    for (int y = 0; y < 32; y++)
        for (int x = 0; x < 32; x++)
            cr_assert_float_eq(out[y * 32 + x], ((float)(x + 16) / 255.0f - 0.5f) / 0.25f, 1e-6);
    // Bad arguments.
    cr_assert_eq(xf_model_preprocess(m, grey, 64, 32, 1, out, 1000), XF_ERR_INVALID_ARGUMENT);
    cr_assert_eq(xf_model_preprocess(m, grey, 0, 32, 1, out, 1024), XF_ERR_INVALID_ARGUMENT);
    cr_assert_eq(xf_model_preprocess(m, grey, 64, 32, 5, out, 1024), XF_ERR_INVALID_ARGUMENT);
    xf_model_destroy(m);
    xf_context_destroy(ctx);
    unlink(path);
    rmdir(dir);
}

// A 32x32 RGB ViT whose config asks for |crop_pct|.
static xf_model_t* load_rgb_vit(xf_context_t* ctx, const char* dir, double crop_pct, const xf_model_options_t* opt,
                                xf_status_t* out_status) {
    char path[700];
    snprintf(path, sizeof path, "%s/rgb.safetensors", dir);
    tm_file_t f = {0};
    snprintf(f.config, sizeof f.config,
             "{\"architecture\":\"vit\",\"img_size\":32,\"patch_size\":8,\"in_chans\":3,\"embed_dim\":16,"
             "\"depth\":1,\"num_heads\":2,\"mlp_ratio\":4.0,\"num_classes\":3,\"crop_pct\":%.17g,"
             "\"mean\":[0.485,0.456,0.406],\"std\":[0.229,0.224,0.225]}",
             crop_pct);
    tm_vit_tensors(&f, 32, 8, 3, 16, 1, 3, 0);
    cr_assert(tm_write(&f, path));
    tm_free(&f);
    xf_model_t* m = NULL;
    *out_status = xf_model_load(ctx, path, opt, &m);
    unlink(path);
    return m;
}

// The whole-image reference: every pixel to [0, 1], bilinear resize of the whole image to
// rh x rw (align_corners = false), then the centre crop.
static void preprocess_reference(const uint8_t* px, int64_t w, int64_t h, const xf_model_info_t* info, float* out) {
    const int64_t oh = info->input_height, ow = info->input_width;
    int64_t s = (int64_t)floor(32.0 / (double)info->crop_pct), rh, rw;
    if (h <= w) {
        rh = s;
        rw = (int64_t)floor((double)(w * s) / (double)h + 0.5);
    } else {
        rw = s;
        rh = (int64_t)floor((double)(h * s) / (double)w + 0.5);
    }
    float* resized = malloc(sizeof(float) * (size_t)(3 * rh * rw));
    for (int64_t y = 0; y < rh; y++)
        for (int64_t x = 0; x < rw; x++) {
            float sy = fmaxf((float)h / (float)rh * ((float)y + 0.5f) - 0.5f, 0.0f);
            float sx = fmaxf((float)w / (float)rw * ((float)x + 0.5f) - 0.5f, 0.0f);
            int64_t y0 = (int64_t)sy < h - 1 ? (int64_t)sy : h - 1, x0 = (int64_t)sx < w - 1 ? (int64_t)sx : w - 1;
            int64_t y1 = y0 + (y0 < h - 1), x1 = x0 + (x0 < w - 1);
            float ly = sy - (float)y0, lx = sx - (float)x0;
            for (int k = 0; k < 3; k++) {
#define P(yy, xx) ((float)px[((yy) * w + (xx)) * 3 + k] / 255.0f)
                resized[(k * rh + y) * rw + x] = (1 - ly) * ((1 - lx) * P(y0, x0) + lx * P(y0, x1)) +
                                                 ly * ((1 - lx) * P(y1, x0) + lx * P(y1, x1));
#undef P
            }
        }
    const int64_t top = (rh - oh) / 2, left = (rw - ow) / 2;
    for (int k = 0; k < 3; k++)
        for (int64_t y = 0; y < oh; y++)
            for (int64_t x = 0; x < ow; x++)
                out[(k * oh + y) * ow + x] =
                    (resized[(k * rh + y + top) * rw + x + left] - info->mean[k]) / info->std[k];
    free(resized);
}

// Preprocessing computes only the crop, straight from the source: it equals resizing the whole
// image first, on sizes that are not multiples of anything and both orientations.
Test(model, preprocess_crops_before_resizing) {
    char dir[512];
    tm_tmpdir(dir, sizeof dir);
    xf_context_t* ctx = cpu_context();
    xf_status_t st;
    xf_model_t* m = load_rgb_vit(ctx, dir, 0.875, NULL, &st);
    cr_assert_eq(st, XF_OK, "%s", xf_context_error(ctx));
    xf_model_info_t info;
    xf_model_info(m, &info);
    static const int sizes[][2] = {{53, 37}, {37, 53}, {97, 61}, {29, 29}, {400, 7}};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        const int w = sizes[i][0], h = sizes[i][1];
        uint8_t* px = malloc((size_t)(w * h * 3));
        xf_rng_t rng = {i + 1};
        for (int j = 0; j < w * h * 3; j++) px[j] = (uint8_t)xf_rng_uniform(&rng, 0.0f, 255.99f);
        float got[3 * 32 * 32], want[3 * 32 * 32];
        cr_assert_eq(xf_model_preprocess(m, px, w, h, 3, got, 3 * 32 * 32), XF_OK, "%s", xf_context_error(ctx));
        preprocess_reference(px, w, h, &info, want);
        char why[256];
        cr_expect(xf_test_close(got, want, 3 * 32 * 32, 1e-6f, 1e-6f, why, sizeof why), "%dx%d: %s", w, h, why);
        free(px);
    }
    xf_model_destroy(m);
    xf_context_destroy(ctx);
    rmdir(dir);
}

// Regression: the smallest crop_pct the loader accepts with images of extreme aspect made the resize
// size arithmetic wrap (a heap overflow) and cost memory in proportion to the resized image. Now
// the cost follows the model's input size and every output is the image's constant colour.
// Writes a tiny model for the Pillow-pipeline |config| (ViT or SegFormer).
static void write_pil_model(const char* config, const char* path) {
    xf_json_doc_t* doc = parse_json(config);
    const xf_json_t* root = xf_json_root(doc);
    tm_file_t f = {0};
    snprintf(f.config, sizeof f.config, "%s", config);
    if (strcmp(xf_json_get(root, "architecture")->u.s, "vit") == 0) {
        const xf_json_t* size = xf_json_get(root, "img_size");
        int64_t h = size->type == XF_JSON_ARRAY ? size->u.items[0].u.i : size->u.i;
        int64_t w = size->type == XF_JSON_ARRAY ? size->u.items[1].u.i : size->u.i;
        int64_t chans = xf_json_get(root, "in_chans")->u.i;
        tm_vit_tensors(&f, h, 8, chans, 8, 1, 3, 0);
        tm_remove(&f, "pos_embed");
        tm_add(&f, "pos_embed", 3, 1, 1 + (h / 8) * (w / 8), 8, 0);
    } else {
        const int64_t dims[2] = {16, 32}, depths[2] = {1, 1}, sr[2] = {2, 1}, patch[2] = {7, 3};
        tm_segformer_tensors(&f, 2, dims, depths, sr, patch, 3, 24, 150);
    }
    xf_json_free(doc);
    cr_assert(tm_write(&f, path));
    tm_free(&f);
}

// With an "interpolation" in the config, preprocessing is timm's (and Hugging Face's) evaluation transform on
// Pillow, bit for bit: antialiased bicubic and bilinear resizing in 8-bit fixed point, torchvision's resize
// rounding and CenterCrop (padding when the image is smaller), Pillow's luma for grey models.
Test(model, preprocess_matches_pillow_and_timm) {
    char refpath[1100], dir[512], path[700];
    snprintf(refpath, sizeof refpath, "%s/tests/data/pil_preprocess_refs.safetensors", src_dir());
    tm_tmpdir(dir, sizeof dir);
    snprintf(path, sizeof path, "%s/m.safetensors", dir);
    xf_st_file_t* ref = open_ref(refpath);
    xf_json_doc_t* doc = ref_json(ref, "cases");
    const xf_json_t* cases = xf_json_root(doc);
    cr_assert(cases->count >= 10);
    xf_context_t* ctx = cpu_context();
    for (size_t i = 0; i < cases->count; i++) {
        const char* name = cases->u.items[i].u.s;
        char key[128];
        snprintf(key, sizeof key, "%s.config", name);
        write_pil_model(xf_st_metadata(ref, key), path);
        xf_model_t* m;
        cr_assert(xf_model_load(ctx, path, NULL, &m) == XF_OK, "%s: %s", name, xf_context_error(ctx));
        xf_model_info_t info;
        xf_model_info(m, &info);
        cr_assert_neq(info.interpolation, XF_INTERPOLATION_DEFAULT);
        snprintf(key, sizeof key, "%s.image", name);
        xf_st_tensor_t* t = xf_st_find(ref, key);
        cr_assert(t && t->ndim == 3);
        int32_t* wide = malloc((size_t)t->elements * sizeof(int32_t));
        uint8_t* px = malloc((size_t)t->elements);
        cr_assert(xf_st_read_i32(t, wide, (size_t)t->elements) == XF_OK);
        for (int64_t k = 0; k < t->elements; k++) px[k] = (uint8_t)wide[k];
        size_t n;
        snprintf(key, sizeof key, "%s.want", name);
        float* want = ref_f32(ref, key, &n);
        cr_assert_eq(n, (size_t)info.input_elements, "%s", name);
        float* got = malloc(n * sizeof(float));
        cr_assert(xf_model_preprocess(m, px, (int)t->shape[1], (int)t->shape[0], (int)t->shape[2], got, n) == XF_OK,
                  "%s: %s", name, xf_context_error(ctx));
        // Hugging Face rescales in double before rounding to f32: at most an ulp apart.
        int64_t off = 0;
        float worst = 0;
        for (size_t k = 0; k < n; k++) {
            float d = fabsf(got[k] - want[k]);
            if (d > 1e-6f) off++;
            if (d > worst) worst = d;
        }
        cr_expect(off == 0, "%s: %lld of %zu values differ from timm / Hugging Face (worst by %g, %.1f grey levels)",
                  name, (long long)off, n, worst, worst * 255);
        free(wide);
        free(px);
        free(want);
        free(got);
        xf_model_destroy(m);
    }
    xf_context_destroy(ctx);
    xf_json_free(doc);
    xf_st_close(ref);
    unlink(path);
    rmdir(dir);
}

Test(model, preprocess_extreme_aspect_and_crop_pct) {
    char dir[512];
    tm_tmpdir(dir, sizeof dir);
    xf_context_t* ctx = cpu_context();
    xf_status_t st;
    xf_model_t* m = load_rgb_vit(ctx, dir, 1e-3, NULL, &st);
    cr_assert_eq(st, XF_OK, "%s", xf_context_error(ctx));
    xf_model_info_t info;
    xf_model_info(m, &info);
    static const int sizes[][2] = {{1, 65536}, {65536, 1}, {65536, 3}, {1, 1}, {2, 40000}};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        const int w = sizes[i][0], h = sizes[i][1];
        uint8_t* px = malloc((size_t)w * (size_t)h * 3);
        for (size_t j = 0; j < (size_t)w * (size_t)h; j++) memcpy(px + 3 * j, (uint8_t[]){200, 100, 50}, 3);
        float out[3 * 32 * 32];
        cr_assert_eq(xf_model_preprocess(m, px, w, h, 3, out, 3 * 32 * 32), XF_OK, "%dx%d: %s", w, h,
                     xf_context_error(ctx));
        for (int k = 0; k < 3; k++) {
            float want = ((float)(k == 0 ? 200 : k == 1 ? 100 : 50) / 255.0f - info.mean[k]) / info.std[k];
            for (int j = 0; j < 32 * 32; j++)
                cr_assert_float_eq(out[k * 32 * 32 + j], want, 1e-5f, "%dx%d, channel %d, pixel %d", w, h, k, j);
        }
        free(px);
    }
    xf_model_destroy(m);
    xf_context_destroy(ctx);
    rmdir(dir);
}

// Each bound of xf_model_options_t refuses a model past it, naming the option, and a model within
// them loads.
Test(model, load_limits) {
    char dir[512];
    tm_tmpdir(dir, sizeof dir);
    xf_context_t* ctx = cpu_context();
    xf_status_t st;
    xf_model_options_t opt;
    xf_model_options_init(&opt);
    xf_model_t* m = load_rgb_vit(ctx, dir, 0.9, &opt, &st);
    cr_assert_eq(st, XF_OK, "%s", xf_context_error(ctx));
    xf_model_info_t info;
    xf_model_info(m, &info);
    xf_model_destroy(m);
    const int64_t weight_bytes = info.parameters * 4;
    struct {
        int64_t pixels, tokens, bytes;
        const char* named;
    } cases[] = {
        {32 * 32 - 1, 0, 0, "max_input_pixels"},
        {0, 16, 0, "max_tokens"},  // 16 patches and the class token
        {0, 0, weight_bytes - 1, "max_bytes"},
        {0, 0, weight_bytes + 64, "max_bytes after the weights"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        xf_model_options_init(&opt);
        opt.max_input_pixels = cases[i].pixels;
        opt.max_tokens = cases[i].tokens;
        opt.max_bytes = cases[i].bytes;
        m = load_rgb_vit(ctx, dir, 0.9, &opt, &st);
        cr_expect_eq(st, XF_ERR_OUT_OF_RANGE, "case %zu: %d (%s)", i, st, xf_context_error(ctx));
        cr_expect_null(m);
        cr_expect(strstr(xf_context_error(ctx), cases[i].named), "case %zu: %s", i, xf_context_error(ctx));
        xf_tensor_t* t = NULL;
        cr_expect_neq(xf_context_find_tensor(ctx, "pos_embed", &t), XF_OK, "case %zu left weights behind", i);
    }
    xf_model_options_init(&opt);
    opt.max_input_pixels = 32 * 32;
    opt.max_tokens = 17;
    m = load_rgb_vit(ctx, dir, 0.9, &opt, &st);
    cr_expect_eq(st, XF_OK, "%s", xf_context_error(ctx));
    xf_model_destroy(m);
    xf_context_destroy(ctx);
    rmdir(dir);
}

typedef struct {
    const char* path;
    const uint8_t* versions[2];
    size_t sizes[2];
    volatile int stop;
    int rewrites;
} rewriter_t;

// Rewrites the file in place, alternating two versions, in small writes so that loads see it short,
// partly written and changing.
static void* rewrite_loop(void* arg) {
    rewriter_t* r = arg;
    for (int v = 0; !r->stop; v ^= 1, r->rewrites++) {
        int fd = open(r->path, O_WRONLY | O_TRUNC);
        if (fd < 0) break;
        for (size_t off = 0; off < r->sizes[v]; off += 4096) {
            size_t n = r->sizes[v] - off < 4096 ? r->sizes[v] - off : 4096;
            if (write(fd, r->versions[v] + off, n) != (ssize_t)n) break;
        }
        close(fd);
        nanosleep(&(struct timespec){0, 300000}, NULL);  // complete files are seen too
    }
    return NULL;
}

static void tiny_vit_logits(xf_context_t* ctx, const char* path, const float* in, float* out, xf_status_t* st) {
    xf_model_t* m = NULL;
    *st = xf_model_load(ctx, path, NULL, &m);
    if (*st == XF_OK) *st = xf_model_run(m, in, 32 * 32, out, 3);
    xf_model_destroy(m);
}

// A model file rewritten by another thread while it loads: every load gives an error or one whole
// version of the file, never a signal (the reader once mapped the file: a truncation meant SIGBUS).
Test(model, file_rewritten_during_loads) {
    char dir[512], path[700];
    tm_tmpdir(dir, sizeof dir);
    snprintf(path, sizeof path, "%s/changing.safetensors", dir);
    tm_file_t f[2] = {{0}, {0}};
    uint8_t* bytes[2];
    size_t sizes[2];
    float in[32 * 32], want[2][3];
    tm_input(in, 32 * 32);
    xf_context_t* ctx = cpu_context();
    for (int v = 0; v < 2; v++) {
        snprintf(f[v].config, sizeof f[v].config, tiny_vit_config, "false");
        tm_vit_tensors(&f[v], 32, 8, 1, 16, 1, 3, 0);
        float* bias = (float*)tm_find(&f[v], "head.bias")->data;
        for (int i = 0; i < 3; i++) bias[i] = (float)(v * 10 + i);
        bytes[v] = tm_serialize(&f[v], &sizes[v]);
        cr_assert(tm_write_bytes(path, bytes[v], sizes[v]));
        xf_status_t st;
        tiny_vit_logits(ctx, path, in, want[v], &st);
        cr_assert_eq(st, XF_OK, "%s", xf_context_error(ctx));
    }
    rewriter_t r = {.path = path, .versions = {bytes[0], bytes[1]}, .sizes = {sizes[0], sizes[1]}};
    pthread_t writer;
    cr_assert_eq(pthread_create(&writer, NULL, rewrite_loop, &r), 0);
    // Until loads have both succeeded and been refused, within bounds.
    int loaded[2] = {0, 0}, refused = 0, i = 0;
    for (; i < 300 || ((!refused || !(loaded[0] + loaded[1])) && i < 20000); i++) {
        float got[3];
        xf_status_t st;
        tiny_vit_logits(ctx, path, in, got, &st);
        if (st != XF_OK) {
            if (!refused++) cr_log_info("first refusal: %s", xf_context_error(ctx));
            continue;
        }
        int v = memcmp(got, want[0], sizeof got) == 0 ? 0 : memcmp(got, want[1], sizeof got) == 0 ? 1 : -1;
        cr_expect_neq(v, -1, "load %d gave neither version: %g %g %g", i, got[0], got[1], got[2]);
        if (v >= 0) loaded[v]++;
    }
    r.stop = 1;
    pthread_join(writer, NULL);
    cr_log_info("%d loads during %d rewrites: %d of version A, %d of B, %d refused", i, r.rewrites, loaded[0],
                loaded[1], refused);
    cr_expect_gt(refused, 0, "no load saw the file changing");
    cr_expect_gt(loaded[0] + loaded[1], 0, "no load saw a whole file");
    for (int v = 0; v < 2; v++) {
        free(bytes[v]);
        tm_free(&f[v]);
    }
    xf_context_destroy(ctx);
    unlink(path);
    rmdir(dir);
}

// Distilled DeiT averages its two heads: with zero head weights the logits are (b_head + b_dist) / 2.
Test(model, distilled_heads_are_averaged) {
    char dir[512], path[700];
    tm_tmpdir(dir, sizeof dir);
    snprintf(path, sizeof path, "%s/deit.safetensors", dir);
    tm_file_t f = {0};
    snprintf(f.config, sizeof f.config, tiny_vit_config, "true");
    tm_vit_tensors(&f, 32, 8, 1, 16, 1, 3, 1);
    memset(tm_find(&f, "head.weight")->data, 0, 3 * 16 * sizeof(float));
    memset(tm_find(&f, "head_dist.weight")->data, 0, 3 * 16 * sizeof(float));
    float b1[3], b2[3];
    memcpy(b1, tm_find(&f, "head.bias")->data, sizeof b1);
    memcpy(b2, tm_find(&f, "head_dist.bias")->data, sizeof b2);
    cr_assert(tm_write(&f, path));
    tm_free(&f);
    xf_context_t* ctx = cpu_context();
    xf_model_t* m;
    cr_assert(xf_model_load(ctx, path, NULL, &m) == XF_OK, "%s", xf_context_error(ctx));
    float in[1024], out[3];
    tm_input(in, 1024);
    cr_assert(xf_model_run(m, in, 1024, out, 3) == XF_OK, "%s", xf_context_error(ctx));
    for (int i = 0; i < 3; i++) cr_assert_float_eq(out[i], (b1[i] + b2[i]) / 2, 1e-6, "logit %d", i);
    xf_model_destroy(m);
    xf_context_destroy(ctx);
    unlink(path);
    rmdir(dir);
}

// xf_model_mask equals a host bilinear upsample + argmax of the logits, on every backend.
static void run_mask(xf_context_t* ctx, const char* column, void* user) {
    const char* path = user;
    xf_model_t* m;
    cr_assert(xf_model_load(ctx, path, NULL, &m) == XF_OK, "[%s] %s", column, xf_context_error(ctx));
    xf_model_info_t info;
    xf_model_info(m, &info);
    cr_assert_eq(info.task, XF_MODEL_TASK_SEGMENTATION);
    cr_assert_eq(info.output_height, 10);  // 40 / 4
    cr_assert_eq(info.output_width, 12);   // 48 / 4
    const int64_t h = info.input_height, w = info.input_width, k = info.classes;
    const int64_t oh = info.output_height, ow = info.output_width;
    int32_t* mask = malloc((size_t)(h * w) * sizeof(int32_t));
    cr_assert_eq(xf_model_mask(m, mask, (size_t)(h * w)), XF_ERR_FAILED_PRECONDITION);
    float* in = malloc((size_t)info.input_elements * sizeof(float));
    float* logits = malloc((size_t)info.output_elements * sizeof(float));
    tm_input(in, info.input_elements);
    cr_assert(xf_model_run(m, in, (size_t)info.input_elements, logits, (size_t)info.output_elements) == XF_OK,
              "[%s] %s", column, xf_context_error(ctx));
    cr_assert(xf_model_mask(m, mask, (size_t)(h * w)) == XF_OK, "[%s] %s", column, xf_context_error(ctx));
    int64_t differ = 0;
    float* up = malloc((size_t)k * sizeof(float));
    for (int64_t y = 0; y < h; y++) {
        float sy = fmaxf(((float)y + 0.5f) * (float)oh / (float)h - 0.5f, 0);
        int64_t y0 = (int64_t)sy, y1 = y0 + (y0 < oh - 1);
        float ly = sy - (float)y0;
        for (int64_t x = 0; x < w; x++) {
            float sx = fmaxf(((float)x + 0.5f) * (float)ow / (float)w - 0.5f, 0);
            int64_t x0 = (int64_t)sx, x1 = x0 + (x0 < ow - 1);
            float lx = sx - (float)x0;
            for (int64_t c = 0; c < k; c++) {
                const float* p = logits + c * oh * ow;
                up[c] = (1 - ly) * ((1 - lx) * p[y0 * ow + x0] + lx * p[y0 * ow + x1]) +
                        ly * ((1 - lx) * p[y1 * ow + x0] + lx * p[y1 * ow + x1]);
            }
            int64_t best = argmax(up, k, 1), got = mask[y * w + x];
            // Near-ties may flip with rounding; count only clear disagreements.
            if (got != best && (got < 0 || got >= k || up[best] - up[got] > 1e-4f)) differ++;
        }
    }
    cr_expect_eq(differ, 0, "[%s] %lld mask pixels differ from the host argmax", column, (long long)differ);
    free(up);
    free(mask);
    free(in);
    free(logits);
    xf_model_destroy(m);
}

static const char tiny_seg_config[] =
    "{\"model_type\":\"segformer\",\"num_channels\":3,\"depths\":[1,1],\"sr_ratios\":[2,1],"
    "\"hidden_sizes\":[16,32],\"patch_sizes\":[7,3],\"strides\":[4,2],\"num_attention_heads\":[1,2],"
    "\"mlp_ratios\":[4,4],\"decoder_hidden_size\":24,\"image_size\":[40,48],"
    "\"id2label\":{\"0\":\"bg\",\"1\":\"a\",\"2\":\"b\",\"3\":\"c\",\"4\":\"d\"}}";

//===----------------------------------------------------------------------===//
// Hugging Face directories (tests/data/hf_dirs_ref.safetensors)
//===----------------------------------------------------------------------===//

// Writes |model| of the reference as a Hugging Face directory in |dir|: model.safetensors (hash-initialised,
// the reference's names and shapes), config.json and, unless |config| replaces the config, its
// preprocessor_config.json.
static void write_hf_dir(xf_st_file_t* ref, const char* model, const char* dir, const char* config) {
    char key[128], path[700];
    snprintf(key, sizeof key, "%s.tensors", model);
    const char* shapes = xf_st_metadata(ref, key);
    snprintf(key, sizeof key, "%s.config", model);
    const char* cfg = config ? config : xf_st_metadata(ref, key);
    snprintf(key, sizeof key, "%s.processor", model);
    const char* processor = xf_st_metadata(ref, key);  // none in a timm directory
    cr_assert(shapes && cfg, "%s: the reference is incomplete", model);
    tm_file_t f = {0};
    add_shaped_tensors(&f, shapes);
    snprintf(path, sizeof path, "%s/model.safetensors", dir);
    cr_assert(tm_write(&f, path));
    tm_free(&f);
    snprintf(path, sizeof path, "%s/config.json", dir);
    cr_assert(tm_write_bytes(path, cfg, strlen(cfg)));
    snprintf(path, sizeof path, "%s/preprocessor_config.json", dir);
    if (config || !processor) unlink(path);
    else cr_assert(tm_write_bytes(path, processor, strlen(processor)));
}

typedef struct {
    const char* dir;
    const char* model;
    const float *input, *want;
    size_t nin, nout;
} hf_case_t;

static void run_hf_dir(xf_context_t* ctx, const char* column, void* user) {
    const hf_case_t* c = user;
    variant_case_t v = {c->model, c->dir, c->input, c->want, c->nin, c->nout};
    run_variant(ctx, column, &v);
}

// Each model of |models| (in the reference |ref|) written as a directory in |dir|: loaded by its directory,
// its logits match the reference on every column and its preprocessing the reference's pixels.
static void check_directories(xf_st_file_t* ref, const xf_json_t* models, const char* dir) {
    size_t nin;
    float* input = ref_f32(ref, "input", &nin);
    for (size_t i = 0; i < models->count; i++) {
        const char* name = models->u.items[i].u.s;
        write_hf_dir(ref, name, dir, NULL);
        char key[128];
        snprintf(key, sizeof key, "%s.logits", name);
        hf_case_t c = {dir, name, input, NULL, nin, 0};
        float* want = ref_f32(ref, key, &c.nout);
        c.want = want;
        each_column(run_hf_dir, &c);
        free(want);

        xf_context_t* ctx = cpu_context();
        xf_model_t* m;
        cr_assert(xf_model_load(ctx, dir, NULL, &m) == XF_OK, "%s: %s", name, xf_context_error(ctx));
        snprintf(key, sizeof key, "%s.image", name);
        xf_st_tensor_t* t = xf_st_find(ref, key);
        cr_assert(t && t->ndim == 3);
        int32_t* wide = malloc((size_t)t->elements * sizeof(int32_t));
        uint8_t* px = malloc((size_t)t->elements);
        cr_assert(xf_st_read_i32(t, wide, (size_t)t->elements) == XF_OK);
        for (int64_t k = 0; k < t->elements; k++) px[k] = (uint8_t)wide[k];
        size_t n;
        snprintf(key, sizeof key, "%s.pixels", name);
        float* pixels = ref_f32(ref, key, &n);
        float* got = malloc(n * sizeof(float));
        cr_assert(xf_model_preprocess(m, px, (int)t->shape[1], (int)t->shape[0], 3, got, n) == XF_OK, "%s: %s",
                  name, xf_context_error(ctx));
        float worst = 0;
        for (size_t k = 0; k < n; k++) worst = fmaxf(worst, fabsf(got[k] - pixels[k]));
        cr_expect(worst <= 1e-5f, "%s: preprocessing differs from the image processor by %g", name, worst);
        free(wide);
        free(px);
        free(pixels);
        free(got);
        xf_model_destroy(m);
        xf_context_destroy(ctx);
    }
    free(input);
}

// Each field of the reference's list |keys| in |model|'s config, set to an object (which no field takes): the
// directory loads when the field is in |accepted| (ignored fields), else the error names the field.
static void check_hf_config_keys(xf_st_file_t* ref, const char* model, const char* keys_name, const char* what,
                                 const char* const* accepted, const char* dir) {
    xf_json_doc_t* doc = ref_json(ref, keys_name);
    const xf_json_t* keys = xf_json_root(doc);
    char cfg_key[96];
    snprintf(cfg_key, sizeof cfg_key, "%s.config", model);
    const char* base = xf_st_metadata(ref, cfg_key);
    for (size_t i = 0; i < keys->count; i++) {
        const char* key = keys->u.items[i].u.s;
        char config[8192];
        config_with_object(base, key, config, sizeof config);
        write_hf_dir(ref, model, dir, config);
        xf_context_t* ctx = cpu_context();
        xf_model_t* m = NULL;
        xf_status_t st = xf_model_load(ctx, dir, NULL, &m);
        bool ignored = false;
        for (const char* const* a = accepted; *a; a++) ignored |= strcmp(*a, key) == 0;
        expect_key_verdict(what, key, ignored, st, xf_context_error(ctx));
        xf_model_destroy(m);
        xf_context_destroy(ctx);
    }
    xf_json_free(doc);
}

// ViTForImageClassification (GELU and tanh GELU without q/k/v biases), DeiTForImageClassification,
// DeiTForImageClassificationWithTeacher, SegformerForSemanticSegmentation and SwinForImageClassification load
// from their directories as transformers saves them, match transformers on every column, and preprocess as
// their image processors do.
Test(model, hugging_face_directories, .timeout = 900) {
    char refpath[1100], dir[512];
    snprintf(refpath, sizeof refpath, "%s/tests/data/hf_dirs_ref.safetensors", src_dir());
    tm_tmpdir(dir, sizeof dir);
    xf_st_file_t* ref = open_ref(refpath);
    xf_json_doc_t* doc = ref_json(ref, "models");
    const xf_json_t* models = xf_json_root(doc);
    cr_assert(models->count >= 4);
    check_directories(ref, models, dir);

    // At another input size, position embeddings are resampled as transformers' interpolate_pos_encoding does.
    write_hf_dir(ref, "hf_vit", dir, NULL);
    size_t nin, nout;
    float* input = ref_f32(ref, "input_48x40", &nin);
    float* want = ref_f32(ref, "hf_vit.logits_48x40", &nout);
    xf_context_t* ctx = cpu_context();
    xf_model_options_t opt;
    xf_model_options_init(&opt);
    opt.input_height = 48;
    opt.input_width = 40;
    xf_model_t* m;
    cr_assert(xf_model_load(ctx, dir, &opt, &m) == XF_OK, "%s", xf_context_error(ctx));
    float got[64];
    cr_assert(nout <= 64);
    cr_assert(xf_model_run(m, input, nin, got, nout) == XF_OK, "%s", xf_context_error(ctx));
    check_logits("hf_vit at 48x40", "cpu", got, want, nout, 1e-4f, 1e-4f);
    xf_model_destroy(m);
    xf_context_destroy(ctx);
    free(input);
    free(want);
    xf_json_free(doc);

    // Every ViTConfig and SwinConfig field transformers has is understood or refused by name.
    static const char* const vit_accepted[] = {"encoder_stride", "hidden_dropout_prob", "attention_probs_dropout_prob",
                                               "initializer_range", NULL};
    static const char* const swin_accepted[] = {"encoder_stride", "out_features", "out_indices", "stage_names",
                                                "hidden_dropout_prob", "attention_probs_dropout_prob",
                                                "drop_path_rate", "initializer_range", NULL};
    check_hf_config_keys(ref, "hf_vit", "hf_vit_keys", "ViTConfig", vit_accepted, dir);
    check_hf_config_keys(ref, "hf_swin", "hf_swin_keys", "SwinConfig", swin_accepted, dir);
    xf_st_close(ref);
    remove_model_dir(dir);
}

// timm directories as push_to_hf_hub saves them (config.json naming the architecture, model_args,
// pretrained_cfg): plain, DeiT III, OpenAI CLIP, registers with average pooling and distilled DeiT.
Test(model, timm_directories, .timeout = 900) {
    char refpath[1100], dir[512];
    snprintf(refpath, sizeof refpath, "%s/tests/data/timm_dirs_ref.safetensors", src_dir());
    tm_tmpdir(dir, sizeof dir);
    xf_st_file_t* ref = open_ref(refpath);
    xf_json_doc_t* doc = ref_json(ref, "models");
    cr_assert(xf_json_root(doc)->count >= 5);
    check_directories(ref, xf_json_root(doc), dir);
    xf_json_free(doc);

    // An architecture timm does not register, or one the loader does not build, is refused by name.
    static const struct {
        const char *config, *needle;
    } bad[] = {
        {"{\"architecture\":\"resnet50.a1_in1k\",\"num_classes\":10,\"pretrained_cfg\":{\"input_size\":[3,32,32]}}",
         "'resnet50'"},
        {"{\"architecture\":\"vit_base_patch16_siglip_224\",\"num_classes\":10,\"pretrained_cfg\":"
         "{\"input_size\":[3,32,32]},\"model_args\":{\"embed_dim\":48,\"depth\":2,\"num_heads\":3,\"img_size\":32,"
         "\"patch_size\":8}}",
         "'global_pool'"},
        {"{\"architecture\":\"vit_base_patch16_224\",\"num_classes\":10,\"pretrained_cfg\":{\"input_size\":[3,32,32],"
         "\"crop_mode\":\"squash\"}}",
         "'crop_mode'"},
        {"{\"architecture\":\"vit_base_patch16_224\",\"num_classes\":10,\"pretrained_cfg\":{\"input_size\":[3,32,32],"
         "\"mystery\":1}}",
         "'mystery'"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        write_hf_dir(ref, "vit_base_patch16_224.augreg2_in21k_ft_in1k", dir, bad[i].config);
        xf_context_t* ctx = cpu_context();
        xf_model_t* m = NULL;
        xf_status_t st = xf_model_load(ctx, dir, NULL, &m);
        cr_expect(st != XF_OK && strstr(xf_context_error(ctx), bad[i].needle), "%s: %s", bad[i].config,
                  xf_context_error(ctx));
        xf_model_destroy(m);
        xf_context_destroy(ctx);
    }
    xf_st_close(ref);
    remove_model_dir(dir);
}

//===----------------------------------------------------------------------===//
// Batches
//===----------------------------------------------------------------------===//

// Loads |path| for |batch| images on |ctx| and runs |input| (batch images); fills |logits| and, for a
// segmenter, |mask|.
static void run_batch(xf_context_t* ctx, const char* column, const char* path, int64_t batch, const float* input,
                      float* logits, int32_t* mask) {
    xf_model_options_t opt;
    xf_model_options_init(&opt);
    opt.batch = batch;
    xf_model_t* m;
    cr_assert(xf_model_load(ctx, path, &opt, &m) == XF_OK, "[%s] batch %lld: %s", column, (long long)batch,
              xf_context_error(ctx));
    xf_model_info_t info;
    xf_model_info(m, &info);
    cr_assert_eq(info.batch, batch);
    size_t nin = (size_t)(batch * info.input_elements), nout = (size_t)(batch * info.output_elements);
    cr_assert(xf_model_run(m, input, nin - 1, logits, nout) == XF_ERR_INVALID_ARGUMENT);
    cr_assert(xf_model_run(m, input, nin, logits, nout) == XF_OK, "[%s] %s", column, xf_context_error(ctx));
    if (mask) {
        size_t px = (size_t)(batch * info.input_height * info.input_width);
        cr_assert(xf_model_mask(m, mask, px) == XF_OK, "[%s] %s", column, xf_context_error(ctx));
    }
    xf_model_destroy(m);
}

typedef struct {
    const char* path;
    bool seg;
} batch_case_t;

enum { BATCH = 3 };

static void run_batch_vs_single(xf_context_t* ctx, const char* column, void* user) {
    const batch_case_t* c = user;
    xf_model_t* probe;
    cr_assert(xf_model_load(ctx, c->path, NULL, &probe) == XF_OK, "%s", xf_context_error(ctx));
    xf_model_info_t info;
    xf_model_info(probe, &info);
    xf_model_destroy(probe);
    const int64_t nin = info.input_elements, nout = info.output_elements, px = info.input_height * info.input_width;
    float* input = malloc((size_t)(BATCH * nin) * sizeof(float));
    tm_input(input, BATCH * nin);  // three different images
    float* batched = malloc((size_t)(BATCH * nout) * sizeof(float));
    float* single = malloc((size_t)nout * sizeof(float));
    int32_t* mask_b = c->seg ? malloc((size_t)(BATCH * px) * sizeof(int32_t)) : NULL;
    int32_t* mask_s = c->seg ? malloc((size_t)px * sizeof(int32_t)) : NULL;
    run_batch(ctx, column, c->path, BATCH, input, batched, mask_b);
    for (int i = 0; i < BATCH; i++) {
        run_batch(ctx, column, c->path, 1, input + i * nin, single, mask_s);
        char what[64];
        snprintf(what, sizeof what, "%s image %d of %d", c->path, i, BATCH);
        check_logits(what, column, batched + i * nout, single, (size_t)nout, 1e-4f, 1e-4f);
        if (c->seg) {
            int64_t differ = 0;
            for (int64_t p = 0; p < px; p++) differ += mask_b[i * px + p] != mask_s[p];
            cr_expect(differ == 0, "[%s] %s: %lld mask pixels differ", column, what, (long long)differ);
        }
    }
    free(input);
    free(batched);
    free(single);
    free(mask_b);
    free(mask_s);
}

// A batch of three gives each image's single-image result on every column: a ViT with every prefix
// token kind and average pooling, a distilled DeiT, and a SegFormer with its masks.
Test(model, batches_equal_single_images, .timeout = 900) {
    char dir[512], vit[700], deit[700], seg[700];
    tm_tmpdir(dir, sizeof dir);
    snprintf(vit, sizeof vit, "%s/variants.safetensors", dir);
    snprintf(deit, sizeof deit, "%s/deit.safetensors", dir);
    snprintf(seg, sizeof seg, "%s/seg.safetensors", dir);
    tm_file_t f;
    tm_vit_every_variant(&f);
    cr_assert(tm_write(&f, vit));
    tm_free(&f);
    write_tiny_vit(deit, 1);
    memset(&f, 0, sizeof f);
    snprintf(f.config, sizeof f.config, "%s", tiny_seg_config);
    const int64_t dims[2] = {16, 32}, depths[2] = {1, 1}, sr[2] = {2, 1}, patch[2] = {7, 3};
    tm_segformer_tensors(&f, 2, dims, depths, sr, patch, 3, 24, 5);
    cr_assert(tm_write(&f, seg));
    tm_free(&f);
    const batch_case_t cases[3] = {{vit, false}, {deit, false}, {seg, true}};
    for (int i = 0; i < 3; i++) each_column(run_batch_vs_single, (void*)&cases[i]);
    xf_model_options_t opt;
    xf_model_options_init(&opt);
    opt.batch = XF_MODEL_MAX_BATCH + 1;
    xf_context_t* ctx = cpu_context();
    xf_model_t* m;
    cr_expect(xf_model_load(ctx, deit, &opt, &m) == XF_ERR_INVALID_ARGUMENT);
    cr_expect(strstr(xf_context_error(ctx), "batch"), "%s", xf_context_error(ctx));
    xf_context_destroy(ctx);
    unlink(vit);
    unlink(deit);
    unlink(seg);
    rmdir(dir);
}

//===----------------------------------------------------------------------===//
// Strict configs: no key that may shape a model is ignored
//===----------------------------------------------------------------------===//

// Loads the tiny ViT or SegFormer whose config gains "|key|": |value| (JSON); returns the status and
// copies the context's message into |err|.
static xf_status_t load_with_key(bool seg, const char* key, const char* value, char* err, size_t err_size) {
    char dir[512], path[700];
    tm_tmpdir(dir, sizeof dir);
    snprintf(path, sizeof path, "%s/m.safetensors", dir);
    tm_file_t f = {0};
    char base[2048];
    snprintf(base, sizeof base, seg ? "%s" : tiny_vit_config, seg ? tiny_seg_config : "false");
    base[strlen(base) - 1] = '\0';
    snprintf(f.config, sizeof f.config, "%s,\"%s\":%s}", base, key, value);
    if (seg) {
        const int64_t dims[2] = {16, 32}, depths[2] = {1, 1}, sr[2] = {2, 1}, patch[2] = {7, 3};
        tm_segformer_tensors(&f, 2, dims, depths, sr, patch, 3, 24, 5);
    } else {
        tm_vit_tensors(&f, 32, 8, 1, 16, 1, 3, 0);
    }
    cr_assert(tm_write(&f, path));
    tm_free(&f);
    xf_context_t* ctx = cpu_context();
    xf_model_t* m = NULL;
    xf_status_t st = xf_model_load(ctx, path, NULL, &m);
    snprintf(err, err_size, "%s", st == XF_OK ? "" : xf_context_error(ctx));
    xf_model_destroy(m);
    xf_context_destroy(ctx);
    unlink(path);
    rmdir(dir);
    return st;
}

// Keys of timm's VisionTransformer and transformers' SegformerConfig that only matter for training.
static const char* const training_keys[] = {
    "drop_rate",           "pos_drop_rate",     "patch_drop_rate",         "proj_drop_rate",
    "attn_drop_rate",      "drop_path_rate",    "weight_init",             "fix_init",
    "hidden_dropout_prob", "initializer_range", "semantic_loss_ignore_index", "attention_probs_dropout_prob",
    "classifier_dropout_prob", NULL};

static bool is_training_key(const char* key) {
    for (const char* const* k = training_keys; *k; k++)
        if (strcmp(*k, key) == 0) return true;
    return false;
}

// Each key, given a value no key accepts (an object), fails the load with a message naming it; training-only
// keys load with any value.
static void check_keys(bool seg, const xf_json_t* keys) {
    cr_assert(keys && keys->type == XF_JSON_ARRAY && keys->count > 5);
    for (size_t i = 0; i < keys->count; i++) {
        const char* key = keys->u.items[i].u.s;
        char err[1024];
        xf_status_t st = load_with_key(seg, key, "{\"unexpected\":1}", err, sizeof err);
        expect_key_verdict(seg ? "SegFormer" : "ViT", key, is_training_key(key), st, err);
    }
}

// Every model key the reference's timm and transformers versions take (listed in
// tests/data/vit_variants_ref.safetensors) is understood or refused by name.
Test(model, every_model_key_is_understood_or_refused, .timeout = 300) {
    char refpath[1100];
    snprintf(refpath, sizeof refpath, "%s/tests/data/vit_variants_ref.safetensors", src_dir());
    xf_st_file_t* ref = open_ref(refpath);
    const char* which[2] = {"timm_vit_keys", "hf_segformer_keys"};
    for (int seg = 0; seg < 2; seg++) {
        xf_json_doc_t* doc = ref_json(ref, which[seg]);
        check_keys(seg, xf_json_root(doc));
        xf_json_free(doc);
    }
    xf_st_close(ref);
}

// Valid values the loader does not implement, keys of newer timm releases and of other layouts: refused by name.
Test(model, unimplemented_variants_are_refused_by_name) {
    static const struct {
        bool seg;
        const char *key, *value, *needle;
    } cases[] = {
        {false, "global_pool", "\"map\"", "attention pooling"},
        {false, "global_pool", "\"\"", "every token"},
        {false, "global_pool", "\"max\"", "\"avg\""},
        {false, "act_layer", "\"prelu\"", "quick_gelu"},
        {false, "norm_layer", "\"rmsnorm\"", "layernorm"},
        {false, "class_token", "false", "global_pool"},
        {false, "distilled", "true,\"global_pool\":\"avg\"", "distilled"},
        {false, "num_features", "17", "embed_dim"},
        {false, "final_norm", "false", "not supported"},
        {false, "proj_bias", "false", "not supported"},
        {false, "pos_embed", "\"none\"", "not supported"},
        {false, "model_args", "{}", "not supported"},
        {false, "pretrained_cfg", "{}", "not supported"},
        {false, "pruned_heads", "{\"0\":[1]}", "pruned"},
        {true, "hidden_act", "\"relu\"", "\"gelu\""},
        {true, "reshape_last_stage", "false", "not supported"},
        {true, "num_encoder_blocks", "3", "hidden_sizes"},
        {true, "decoder_layer_norm", "true", "not supported"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char err[1024], quoted[160];
        xf_status_t st = load_with_key(cases[i].seg, cases[i].key, cases[i].value, err, sizeof err);
        snprintf(quoted, sizeof quoted, "'%s'", cases[i].key);
        cr_expect(st != XF_OK && strstr(err, quoted) && strstr(err, cases[i].needle),
                  "'%s': %s: %s (want '%s')", cases[i].key, cases[i].value, err, cases[i].needle);
    }
    // Descriptive keys and the values that keep the standard model load.
    static const struct {
        bool seg;
        const char *key, *value;
    } fine[] = {
        {false, "global_pool", "\"token\""}, {false, "act_layer", "\"gelu\""},     {false, "norm_layer", "\"layernorm\""},
        {false, "license", "\"mit\""},       {false, "pruned_heads", "{}"},        {false, "num_features", "16"},
        {false, "dynamic_img_size", "true"}, {false, "init_values", "null"},       {false, "fc_norm", "null"},
        {true, "transformers_version", "\"4.36.2\""}, {true, "layer_norm_eps", "1e-6"}, {true, "hidden_act", "\"gelu\""},
    };
    for (size_t i = 0; i < sizeof fine / sizeof fine[0]; i++) {
        char err[1024];
        xf_status_t st = load_with_key(fine[i].seg, fine[i].key, fine[i].value, err, sizeof err);
        cr_expect_eq(st, XF_OK, "'%s': %s: %s", fine[i].key, fine[i].value, err);
    }
}

Test(model, segformer_mask_matches_host) {
    char dir[512], path[700];
    tm_tmpdir(dir, sizeof dir);
    snprintf(path, sizeof path, "%s/seg.safetensors", dir);
    tm_file_t f = {0};
    snprintf(f.config, sizeof f.config,
             "{\"model_type\":\"segformer\",\"num_channels\":3,\"depths\":[1,1],\"sr_ratios\":[2,1],"
             "\"hidden_sizes\":[16,32],\"patch_sizes\":[7,3],\"strides\":[4,2],\"num_attention_heads\":[1,2],"
             "\"mlp_ratios\":[4,4],\"decoder_hidden_size\":24,\"image_size\":[40,48],"
             "\"id2label\":{\"0\":\"bg\",\"1\":\"a\",\"2\":\"b\",\"3\":\"c\",\"4\":\"d\"}}");
    const int64_t dims[2] = {16, 32}, depths[2] = {1, 1}, sr[2] = {2, 1}, patch[2] = {7, 3};
    tm_segformer_tensors(&f, 2, dims, depths, sr, patch, 3, 24, 5);
    cr_assert(tm_write(&f, path));
    tm_free(&f);
    each_column(run_mask, path);
    unlink(path);
    rmdir(dir);
}
