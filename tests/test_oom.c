// SPDX-License-Identifier: MIT
// Out of host memory: a context whose allocator fails its N-th allocation, for every N of a context
// creation, model loads (a plain ViT, one with every variant as a batch, a timm directory's config, an ONNX
// file),
// preprocessing on Pillow's pipeline, forward passes and teardown on the CPU reference (a spread sample of N on the GPU
// backends, whose runs take longer). Every call must return XF_OK or XF_ERR_OUT_OF_MEMORY (never another
// status, never a crash), and nothing may stay allocated. CI runs this under ASan and LSan too.
#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "test_model_common.c"

typedef struct {
    long calls, fail_at, live, failed;
} counting_t;

static void* counting_alloc(void* user, size_t size) {
    counting_t* c = user;
    if (++c->calls == c->fail_at) {
        c->failed++;
        return NULL;
    }
    void* p = malloc(size);
    c->live += p != NULL;
    return p;
}

static void* counting_realloc(void* user, void* ptr, size_t size) {
    counting_t* c = user;
    if (++c->calls == c->fail_at) {
        c->failed++;
        return NULL;
    }
    void* p = realloc(ptr, size);
    c->live += p && !ptr;
    return p;
}

static void counting_free(void* user, void* ptr) {
    counting_t* c = user;
    c->live -= ptr != NULL;
    free(ptr);
}

static char dir_path[512], model_path[700], variants_path[700], timm_path[700];

// A plain ViT, one with every variant (run as a batch, with Pillow preprocessing) and one with a timm
// directory's config.
static void write_models(void) {
    tm_tmpdir(dir_path, sizeof dir_path);
    snprintf(model_path, sizeof model_path, "%s/oom.safetensors", dir_path);
    snprintf(variants_path, sizeof variants_path, "%s/variants.safetensors", dir_path);
    snprintf(timm_path, sizeof timm_path, "%s/timm.safetensors", dir_path);
    tm_file_t f = {0};
    snprintf(f.config, sizeof f.config,
             "{\"architecture\":\"vit\",\"img_size\":32,\"patch_size\":8,\"in_chans\":1,\"embed_dim\":16,\"depth\":1,"
             "\"num_heads\":2,\"mlp_ratio\":4.0,\"num_classes\":3,\"labels\":[\"a\",\"b\",\"c\"]}");
    tm_vit_tensors(&f, 32, 8, 1, 16, 1, 3, 0);
    cr_assert(tm_write(&f, model_path));
    tm_free(&f);
    tm_vit_every_variant(&f);
    cr_assert(tm_write(&f, variants_path));
    tm_free(&f);
    tm_vit_timm_config(&f);
    cr_assert(tm_write(&f, timm_path));
    tm_free(&f);
}

static void remove_models(void) {
    unlink(model_path);
    unlink(variants_path);
    unlink(timm_path);
    rmdir(dir_path);
}

// Creates a context, loads the model, runs it and tears everything down; the first failing status.
static xf_status_t scenario(const xf_test_column_t* col, counting_t* count, bool* skip) {
    xf_context_options_t o;
    xf_context_options_init(&o);
    o.backend = col->backend;
    o.device = 0;
    o.kernels = col->kernels;
    o.allocator = (xf_allocator_t){counting_alloc, counting_realloc, counting_free, count};
    xf_context_t* ctx = NULL;
    xf_status_t st = xf_context_create(&o, &ctx);
    *skip = st == XF_ERR_UNAVAILABLE && !col->requested;
    if (st != XF_OK) return st;
    xf_model_t *m = NULL, *v = NULL, *t = NULL;
    st = xf_model_load(ctx, model_path, NULL, &m);
    float in[2 * 32 * 32], out[2 * 3];
    tm_input(in, 32 * 32);
    if (st == XF_OK) st = xf_model_run(m, in, 32 * 32, out, 3);
    if (st == XF_OK) st = xf_model_run(m, in, 32 * 32, out, 3);
    xf_model_options_t opt;
    xf_model_options_init(&opt);
    opt.batch = 2;
    if (st == XF_OK) st = xf_model_load(ctx, variants_path, &opt, &v);
    uint8_t pixels[45 * 37];
    for (size_t i = 0; i < sizeof pixels; i++) pixels[i] = (uint8_t)(i * 37);
    for (int k = 0; k < 2 && st == XF_OK; k++) st = xf_model_preprocess(v, pixels, 45, 37, 1, in + k * 1024, 1024);
    if (st == XF_OK) st = xf_model_run(v, in, 2 * 32 * 32, out, 2 * 3);
    if (st == XF_OK) st = xf_model_load(ctx, timm_path, NULL, &t);
    if (st == XF_OK) st = xf_model_preprocess(t, pixels, 37, 45, 1, in, 1024);
    if (st == XF_OK) st = xf_model_run(t, in, 32 * 32, out, 3);
#ifdef XF_HAVE_ONNX
    // An ONNX file: protobuf parsing, folding, lowering and fusion (transformers' SegFormer, 64x64).
    xf_model_t* s = NULL;
    char onnx[1024];
    snprintf(onnx, sizeof onnx, "%s/tests/data/onnx/segformer/model.onnx",
             getenv("XFORMER_SOURCE_DIR") ? getenv("XFORMER_SOURCE_DIR") : ".");
    static float image[3 * 64 * 64], logits[5 * 16 * 16];
    if (st == XF_OK) st = xf_model_load(ctx, onnx, NULL, &s);
    if (st == XF_OK) st = xf_model_run(s, image, 3 * 64 * 64, logits, 5 * 16 * 16);
    xf_model_destroy(s);
#endif
    xf_model_destroy(t);
    xf_model_destroy(v);
    xf_model_destroy(m);
    xf_context_destroy(ctx);
    return st;
}

ParameterizedTestParameters(oom, every_allocation_fails_in_turn) { return xf_test_column_params(); }

ParameterizedTest(int* index, oom, every_allocation_fails_in_turn, .timeout = 1200) {
    const xf_test_column_t col = xf_test_base_column(*index, "how host memory is allocated");
    write_models();
    counting_t count = {0, 0, 0, 0};
    bool skip = false;
    xf_status_t st = scenario(&col, &count, &skip);
    if (skip) cr_skip_test("no %s device", col.name);
    cr_assert_eq(st, XF_OK, "[%s] without failures: %s", col.name, xf_last_error());
    cr_assert_eq(count.live, 0, "[%s] %ld blocks left without failures", col.name, count.live);
    const long total = count.calls;
    // Every N on the CPU reference (everywhere with XFORMER_TEST_OOM_SWEEP=1); on GPU backends the first and
    // last 8 and an even spread between.
    const char* sweep = getenv("XFORMER_TEST_OOM_SWEEP");
    const long samples = col.backend == XF_BACKEND_CPU || (sweep && strcmp(sweep, "1") == 0) ? total : 48;
    long ran = 0, refused = 0;
    for (long k = 0; k < samples && k < total; k++) {
        long n = samples >= total ? k + 1 : k < 8 ? k + 1 : k >= samples - 8 ? total - (samples - 1 - k)
                                                                             : 9 + (k - 8) * (total - 17) / (samples - 16);
        count = (counting_t){0, n, 0, 0};
        st = scenario(&col, &count, &skip);
        cr_expect(st == XF_OK || st == XF_ERR_OUT_OF_MEMORY, "[%s] allocation %ld of %ld failed: status %s (%s)",
                  col.name, n, total, xf_status_string(st), xf_last_error());
        cr_expect_eq(count.live, 0, "[%s] allocation %ld of %ld failed: %ld blocks left", col.name, n, total,
                     count.live);
        ran++;
        refused += st == XF_ERR_OUT_OF_MEMORY;
    }
    cr_log_info("[%s] %ld allocations in a run; failed each of %ld in turn: %ld runs out of memory, %ld absorbed",
                col.name, total, ran, refused, ran - refused);
    remove_models();
}
