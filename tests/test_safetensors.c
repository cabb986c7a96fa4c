// SPDX-License-Identifier: MIT
// The safetensors reader and the model loader on corrupt, truncated and mismatched files: every
// case must give the documented status and a message naming the problem, and none may crash
// (CI also runs this under ASan/UBSan).
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "safetensors.h"
#include "test_model_common.c"
#include "xformer.h"

static char g_dir[512];

static void setup(void) {
    tm_tmpdir(g_dir, sizeof g_dir);
    cr_assert(g_dir[0], "mkdtemp failed");
}

static void teardown(void) {
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", g_dir);
    if (g_dir[0] && strstr(g_dir, "xf-model-test-")) cr_expect(system(cmd) == 0);
}

TestSuite(safetensors, .init = setup, .fini = teardown);

static const char* tmp_path(const char* name) {
    static char p[700];
    snprintf(p, sizeof p, "%s/%s", g_dir, name);
    return p;
}

// Writes an 8-byte length |hlen| (as given, even if wrong), |header| and |data_bytes| bytes of data.
static const char* write_raw(uint64_t hlen, const char* header, size_t data_bytes) {
    const char* path = tmp_path("raw.safetensors");
    size_t n = strlen(header);
    size_t size = 8 + n + data_bytes;
    uint8_t* buf = calloc(1, size);
    for (int i = 0; i < 8; i++) buf[i] = (uint8_t)(hlen >> (8 * i));
    memcpy(buf + 8, header, n);
    for (size_t i = 0; i < data_bytes; i++) buf[8 + n + i] = (uint8_t)i;
    cr_assert(tm_write_bytes(path, buf, size));
    free(buf);
    return path;
}

static const char* write_header(const char* header, size_t data_bytes) {
    return write_raw(strlen(header), header, data_bytes);
}

// Opens |path| and expects |want| with every word of |needles| ("|"-separated) in the message.
static void expect_open(const char* path, xf_status_t want, const char* needles) {
    xf_st_file_t* f = NULL;
    char err[1024] = "";
    xf_status_t st = xf_st_open(path, &f, err, sizeof err);
    cr_expect_eq(st, want, "status %s, want %s; message: %s", xf_status_string(st), xf_status_string(want),
                 err);
    if (st == XF_OK) {
        xf_st_close(f);
        return;
    }
    cr_expect(f == NULL);
    char buf[256];
    snprintf(buf, sizeof buf, "%s", needles);
    for (char* w = strtok(buf, "|"); w; w = strtok(NULL, "|"))
        cr_expect(strstr(err, w), "message '%s' does not mention '%s'", err, w);
}

Test(safetensors, valid_file_with_every_dtype) {
    const char* h =
        "{\"a\":{\"dtype\":\"F32\",\"shape\":[2,2],\"data_offsets\":[0,16]},"
        "\"b\":{\"dtype\":\"F16\",\"shape\":[2],\"data_offsets\":[16,20]},"
        "\"c\":{\"dtype\":\"BF16\",\"shape\":[2],\"data_offsets\":[20,24]},"
        "\"d\":{\"dtype\":\"I64\",\"shape\":[],\"data_offsets\":[24,32]},"
        "\"e\":{\"dtype\":\"I32\",\"shape\":[0,3],\"data_offsets\":[32,32]},"
        "\"__metadata__\":{\"config\":\"{}\",\"format\":\"pt\"}}   ";
    const char* path = tmp_path("ok.safetensors");
    size_t hl = strlen(h);
    uint8_t buf[8 + 512];
    memset(buf, 0, sizeof buf);
    for (int k = 0; k < 8; k++) buf[k] = (uint8_t)((uint64_t)hl >> (8 * k));
    memcpy(buf + 8, h, hl);
    uint8_t* d = buf + 8 + hl;
    float a[4] = {1.5f, -2, 3, 0.25f};
    memcpy(d, a, 16);
    uint16_t b[2] = {0x3c00, 0xc000};  // 1, -2
    memcpy(d + 16, b, 4);
    uint16_t c[2] = {0x3f80, 0x4040};  // 1, 3
    memcpy(d + 20, c, 4);
    int64_t e = -7;
    memcpy(d + 24, &e, 8);
    cr_assert(tm_write_bytes(path, buf, 8 + hl + 32));

    xf_st_file_t* f;
    char err[1024];
    cr_assert_eq(xf_st_open(path, &f, err, sizeof err), XF_OK, "%s", err);
    cr_assert_eq(f->count, 5);
    cr_assert_str_eq(xf_st_metadata(f, "format"), "pt");
    cr_assert_null(xf_st_metadata(f, "nope"));
    float v[4];
    cr_assert_eq(xf_st_read_f32(xf_st_find(f, "a"), v, 4), XF_OK);
    cr_assert(v[0] == 1.5f && v[1] == -2 && v[3] == 0.25f);
    cr_assert_eq(xf_st_read_f32(xf_st_find(f, "b"), v, 2), XF_OK);
    cr_assert(v[0] == 1 && v[1] == -2);
    cr_assert_eq(xf_st_read_f32(xf_st_find(f, "c"), v, 2), XF_OK);
    cr_assert(v[0] == 1 && v[1] == 3);
    int32_t i;
    cr_assert_eq(xf_st_read_i32(xf_st_find(f, "d"), &i, 1), XF_OK);
    cr_assert_eq(i, -7);
    cr_assert_eq(xf_st_find(f, "e")->elements, 0);
    cr_assert_eq(xf_st_read_f32(xf_st_find(f, "d"), v, 1), XF_ERR_INVALID_ARGUMENT);
    cr_assert_eq(xf_st_read_f32(xf_st_find(f, "a"), v, 3), XF_ERR_INVALID_ARGUMENT);
    xf_st_close(f);
}

Test(safetensors, missing_file_directory_and_fifo) {
    expect_open(tmp_path("nope.safetensors"), XF_ERR_NOT_FOUND, "nope.safetensors");
    expect_open(g_dir, XF_ERR_INVALID_ARGUMENT, "not a regular file");
    const char* fifo = tmp_path("fifo.safetensors");
    cr_assert(mkfifo(fifo, 0600) == 0);
    expect_open(fifo, XF_ERR_INVALID_ARGUMENT, "not a regular file");
}

Test(safetensors, shorter_than_length_field) {
    const char* path = tmp_path("short.safetensors");
    cr_assert(tm_write_bytes(path, "\x10\0\0", 3));
    expect_open(path, XF_ERR_DATA_LOSS, "3 bytes");
    cr_assert(tm_write_bytes(path, "", 0));
    expect_open(path, XF_ERR_DATA_LOSS, "0 bytes");
}

Test(safetensors, huge_header_length) {
    expect_open(write_raw(0x4000000000000000ull, "{}", 0), XF_ERR_DATA_LOSS, "header length|limit");
    expect_open(write_raw(UINT64_MAX, "{}", 0), XF_ERR_DATA_LOSS, "header length");
}

Test(safetensors, header_length_beyond_file) {
    expect_open(write_raw(4096, "{}", 16), XF_ERR_DATA_LOSS, "header length 4096|truncated");
}

Test(safetensors, bad_json) {
    expect_open(write_header("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]", 4),
                XF_ERR_DATA_LOSS, "JSON");
    expect_open(write_header("{\"a\" {}}", 0), XF_ERR_DATA_LOSS, "JSON");
    expect_open(write_header("{} xx", 0), XF_ERR_DATA_LOSS, "after the JSON");
    expect_open(write_header("{\"a\":\0}", 0), XF_ERR_DATA_LOSS, "JSON");
}

Test(safetensors, non_object_json) {
    expect_open(write_header("[1, 2, 3]", 0), XF_ERR_DATA_LOSS, "array|expected an object");
    expect_open(write_header("\"text\"", 0), XF_ERR_DATA_LOSS, "string");
    expect_open(write_header("{\"a\":[1]}", 4), XF_ERR_DATA_LOSS, "'a'|expected an object");
    expect_open(write_header("{\"__metadata__\":[]}", 0), XF_ERR_DATA_LOSS, "__metadata__");
    expect_open(write_header("{\"__metadata__\":{\"k\":3}}", 0), XF_ERR_DATA_LOSS, "__metadata__|'k'");
}

Test(safetensors, fields) {
    expect_open(write_header("{\"w\":{\"shape\":[1],\"data_offsets\":[0,4]}}", 4), XF_ERR_DATA_LOSS,
                "'w'|dtype");
    expect_open(write_header("{\"w\":{\"dtype\":\"F32\",\"data_offsets\":[0,4]}}", 4), XF_ERR_DATA_LOSS,
                "'w'|shape");
    expect_open(write_header("{\"w\":{\"dtype\":\"F32\",\"shape\":[1]}}", 4), XF_ERR_DATA_LOSS,
                "'w'|data_offsets");
    expect_open(write_header("{\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4],\"x\":1}}", 4),
                XF_ERR_DATA_LOSS, "'w'|unknown field 'x'");
    expect_open(write_header("{\"w\":{\"dtype\":5,\"shape\":[1],\"data_offsets\":[0,4]}}", 4),
                XF_ERR_DATA_LOSS, "'w'|dtype");
    expect_open(write_header("{\"w\":{\"dtype\":\"F32\",\"shape\":1,\"data_offsets\":[0,4]}}", 4),
                XF_ERR_DATA_LOSS, "'w'|shape");
    expect_open(write_header("{\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0]}}", 4),
                XF_ERR_DATA_LOSS, "'w'|data_offsets");
    expect_open(write_header("{\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,\"4\"]}}", 4),
                XF_ERR_DATA_LOSS, "'w'|data_offsets");
}

Test(safetensors, wrong_dtype) {
    expect_open(write_header("{\"w\":{\"dtype\":\"Q7\",\"shape\":[1],\"data_offsets\":[0,4]}}", 4),
                XF_ERR_DATA_LOSS, "'w'|unknown dtype 'Q7'");
    expect_open(write_header("{\"w\":{\"dtype\":\"F64\",\"shape\":[1],\"data_offsets\":[0,8]}}", 8),
                XF_ERR_UNIMPLEMENTED, "'w'|F64|not supported");
}

Test(safetensors, negative_and_fractional_shape) {
    expect_open(write_header("{\"w\":{\"dtype\":\"F32\",\"shape\":[-1,4],\"data_offsets\":[0,16]}}", 16),
                XF_ERR_DATA_LOSS, "'w'|shape[0]|non-negative");
    expect_open(write_header("{\"w\":{\"dtype\":\"F32\",\"shape\":[2.5],\"data_offsets\":[0,10]}}", 16),
                XF_ERR_DATA_LOSS, "'w'|shape[0]");
    expect_open(
        write_header("{\"w\":{\"dtype\":\"F32\",\"shape\":[1,1,1,1,1,1,1,1,1],\"data_offsets\":[0,4]}}", 4),
        XF_ERR_DATA_LOSS, "'w'|dimensions");
}

Test(safetensors, shape_size_mismatch) {
    expect_open(write_header("{\"w\":{\"dtype\":\"F32\",\"shape\":[2,3],\"data_offsets\":[0,20]}}", 24),
                XF_ERR_DATA_LOSS, "'w'|24 bytes|20");
    expect_open(
        write_header(
            "{\"w\":{\"dtype\":\"F32\",\"shape\":[4294967296,4294967296,16],\"data_offsets\":[0,4]}}", 4),
        XF_ERR_DATA_LOSS, "'w'|too large");
}

Test(safetensors, offsets_out_of_range) {
    expect_open(write_header("{\"w\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16]}}", 12),
                XF_ERR_DATA_LOSS, "'w'|past the data section");
    expect_open(write_header("{\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[8,4]}}", 12),
                XF_ERR_DATA_LOSS, "'w'|before begin");
    expect_open(write_header("{\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[-4,0]}}", 12),
                XF_ERR_DATA_LOSS, "'w'|data_offsets");
    expect_open(write_header("{\"w\":{\"dtype\":\"F32\",\"shape\":[1],"
                             "\"data_offsets\":[18446744073709551612,18446744073709551616]}}",
                             12),
                XF_ERR_DATA_LOSS, "'w'");
}

Test(safetensors, overlapping_tensors) {
    expect_open(write_header("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
                             "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}",
                             12),
                XF_ERR_DATA_LOSS, "'a'|'b'|overlap");
    expect_open(write_header("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
                             "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}",
                             8),
                XF_ERR_DATA_LOSS, "overlap");
}

Test(safetensors, holes_and_trailing_bytes) {
    expect_open(write_header("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
                             "\"b\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[8,12]}}",
                             12),
                XF_ERR_DATA_LOSS, "[4, 8)|'b'|no tensor");
    expect_open(write_header("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", 9),
                XF_ERR_DATA_LOSS, "5 bytes after");
    // A duplicated name is refused by name.
    expect_open(write_header("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
                             "\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}",
                             8),
                XF_ERR_DATA_LOSS, "duplicate key 'a'");
}

//===----------------------------------------------------------------------===//
// Model-level checks on a tiny ViT
//===----------------------------------------------------------------------===//

static const char tiny_config[] =
    "{\"architecture\":\"vit\",\"img_size\":16,\"patch_size\":8,\"in_chans\":1,\"embed_dim\":8,\"depth\":1,"
    "\"num_heads\":2,\"mlp_ratio\":4.0,\"num_classes\":3,\"mean\":[0.5],\"std\":[0.5]}";

static void tiny(tm_file_t* f) {
    memset(f, 0, sizeof *f);
    snprintf(f->config, sizeof f->config, "%s", tiny_config);
    tm_vit_tensors(f, 16, 8, 1, 8, 1, 3, 0);
}

static xf_context_t* cpu(void) {
    xf_context_options_t o;
    xf_context_options_init(&o);
    o.backend = XF_BACKEND_CPU;
    xf_context_t* ctx;
    cr_assert(xf_context_create(&o, &ctx) == XF_OK, "%s", xf_last_error());
    return ctx;
}

static void expect_load(tm_file_t* f, xf_status_t want, const char* needles) {
    const char* path = tmp_path("model.safetensors");
    cr_assert(tm_write(f, path));
    tm_free(f);
    xf_context_t* ctx = cpu();
    xf_model_t* m = NULL;
    xf_status_t st = xf_model_load(ctx, path, NULL, &m);
    const char* err = xf_context_error(ctx);
    cr_expect_eq(st, want, "status %s, want %s: %s", xf_status_string(st), xf_status_string(want), err);
    if (st != XF_OK) {
        char buf[256];
        snprintf(buf, sizeof buf, "%s", needles);
        for (char* w = strtok(buf, "|"); w; w = strtok(NULL, "|"))
            cr_expect(strstr(err, w), "message '%s' does not mention '%s'", err, w);
        // A failed load leaves no weights behind.
        xf_tensor_t* t;
        cr_expect_eq(xf_context_find_tensor(ctx, "cls_token", &t), XF_ERR_NOT_FOUND);
    }
    xf_model_destroy(m);
    xf_context_destroy(ctx);
}

Test(safetensors, model_loads) {
    tm_file_t f;
    tiny(&f);
    expect_load(&f, XF_OK, "");
}

Test(safetensors, model_missing_tensor) {
    tm_file_t f;
    tiny(&f);
    tm_remove(&f, "blocks.0.mlp.fc2.bias");
    expect_load(&f, XF_ERR_NOT_FOUND, "blocks.0.mlp.fc2.bias|missing");
}

Test(safetensors, model_extra_tensor) {
    tm_file_t f;
    tiny(&f);
    tm_add(&f, "blocks.1.norm1.weight", 1, 8, 0, 0, 0);
    expect_load(&f, XF_ERR_INVALID_ARGUMENT, "extra tensor 'blocks.1.norm1.weight'");
}

Test(safetensors, model_ignored_tensor_is_fine) {
    tm_file_t f;
    tiny(&f);
    int64_t zero = 0;
    tm_add_raw(&f, "bn.num_batches_tracked", "I64", 0, NULL, &zero, 8);
    expect_load(&f, XF_OK, "");
}

Test(safetensors, model_wrong_shape) {
    tm_file_t f;
    tiny(&f);
    tm_remove(&f, "head.weight");
    tm_add(&f, "head.weight", 2, 4, 8, 0, 0);
    expect_load(&f, XF_ERR_INVALID_ARGUMENT, "head.weight|[4, 8]|[3, 8]");
}

Test(safetensors, model_integer_weight) {
    tm_file_t f;
    tiny(&f);
    tm_remove(&f, "norm.bias");
    int64_t v[8] = {0};
    int64_t shape[1] = {8};
    tm_add_raw(&f, "norm.bias", "I64", 1, shape, v, sizeof v);
    expect_load(&f, XF_ERR_INVALID_ARGUMENT, "norm.bias|I64");
}

Test(safetensors, model_config_problems) {
    tm_file_t f;
    tiny(&f);
    f.config[0] = '\0';
    expect_load(&f, XF_ERR_NOT_FOUND, "config");
    tiny(&f);
    snprintf(f.config, sizeof f.config, "{\"architecture\":\"vit\",");
    expect_load(&f, XF_ERR_INVALID_ARGUMENT, "JSON");
    tiny(&f);
    snprintf(f.config, sizeof f.config, "{\"architecture\":\"resnet\"}");
    expect_load(&f, XF_ERR_UNIMPLEMENTED, "resnet");
    tiny(&f);
    snprintf(f.config, sizeof f.config, "{\"architecture\":\"vit\",\"embed_dim\":\"8\",\"num_heads\":2}");
    expect_load(&f, XF_ERR_INVALID_ARGUMENT, "embed_dim|integer");
    tiny(&f);
    snprintf(f.config, sizeof f.config, "{\"architecture\":\"vit\",\"embed_dim\":8,\"num_heads\":3}");
    expect_load(&f, XF_ERR_INVALID_ARGUMENT, "num_heads");
    tiny(&f);
    snprintf(f.config, sizeof f.config,
             "{\"architecture\":\"vit\",\"img_size\":16,\"patch_size\":8,\"in_chans\":1,\"embed_dim\":8,"
             "\"depth\":1,\"num_heads\":2,\"num_classes\":3,\"labels\":[\"a\",\"b\"]}");
    expect_load(&f, XF_ERR_INVALID_ARGUMENT, "labels|2 labels|3 classes");
}

// The config may also sit beside the model as config.json.
Test(safetensors, model_config_json_beside) {
    tm_file_t f;
    tiny(&f);
    char cfg[sizeof f.config];
    snprintf(cfg, sizeof cfg, "%s", f.config);
    f.config[0] = '\0';
    const char* cpath = tmp_path("config.json");
    cr_assert(tm_write_bytes(cpath, cfg, strlen(cfg)));
    expect_load(&f, XF_OK, "");
}

// F16 and BF16 files load and give nearly the F32 model's logits.
Test(safetensors, model_half_precision_files) {
    float ref[3], got[3], in[256];
    tm_input(in, 256);
    for (int variant = 0; variant < 3; variant++) {
        tm_file_t f;
        tiny(&f);
        for (size_t i = 0; variant && i < f.n; i++) {
            tm_tensor_t* t = &f.t[i];
            size_t n = t->bytes / 4;
            uint16_t* h = malloc(n * 2 + 1);
            const float* v = t->data;
            for (size_t k = 0; k < n; k++) {
                uint32_t bits;
                memcpy(&bits, &v[k], 4);
                h[k] = variant == 1 ? xf_f32_to_f16(v[k])
                                    : (uint16_t)((bits + 0x7fff + ((bits >> 16) & 1)) >> 16);
            }
            free(t->data);
            t->data = h;
            t->bytes = n * 2;
            t->dtype = variant == 1 ? "F16" : "BF16";
        }
        const char* path = tmp_path("half.safetensors");
        cr_assert(tm_write(&f, path));
        tm_free(&f);
        xf_context_t* ctx = cpu();
        xf_model_t* m;
        cr_assert_eq(xf_model_load(ctx, path, NULL, &m), XF_OK, "%s", xf_context_error(ctx));
        cr_assert_eq(xf_model_run(m, in, 256, variant ? got : ref, 3), XF_OK, "%s", xf_context_error(ctx));
        for (int k = 0; variant && k < 3; k++)
            cr_expect(fabsf(got[k] - ref[k]) < (variant == 1 ? 0.02f : 0.1f) * (1 + fabsf(ref[k])),
                      "variant %d logit %d: %g vs %g", variant, k, got[k], ref[k]);
        xf_model_destroy(m);
        xf_context_destroy(ctx);
    }
}

// Truncation at many points and random byte damage in the header never crash the loader, on a float file
// and on its int8 forms (I8 weights with F32 or F16 scale tensors).
static void damage(int quantized) {
    tm_file_t f;
    tiny(&f);
    if (quantized) tm_quantize(&f, quantized == 2 ? 32 : 0, 0);
    size_t size;
    uint8_t* good = tm_serialize(&f, &size);
    tm_free(&f);
    const char* path = tmp_path("damaged.safetensors");
    xf_context_t* ctx = cpu();
    xf_model_t* whole = NULL;
    cr_assert(tm_write_bytes(path, good, size));
    cr_assert_eq(xf_model_load(ctx, path, NULL, &whole), XF_OK, "undamaged (int8: %d): %s", quantized,
                 xf_context_error(ctx));
    xf_model_destroy(whole);
    uint64_t hlen = 0;
    for (int i = 7; i >= 0; i--) hlen = (hlen << 8) | good[i];
    int failures = 0, cuts = 0;
    for (size_t cut = 0; cut < size; cut += 1 + cut / 3) {
        cr_assert(tm_write_bytes(path, good, cut));
        xf_model_t* m = NULL;
        xf_status_t st = xf_model_load(ctx, path, NULL, &m);
        cr_expect_eq(st, XF_ERR_DATA_LOSS, "cut at %zu of %zu: %s: %s", cut, size, xf_status_string(st),
                     xf_context_error(ctx));
        cr_expect(strlen(xf_context_error(ctx)) > 0);
        failures += st != XF_OK;
        cuts++;
        xf_model_destroy(m);
    }
    cr_expect_eq(failures, cuts);
    uint8_t* bad = malloc(size);
    uint64_t rng = 12345;
    for (int trial = 0; trial < 300; trial++) {
        memcpy(bad, good, size);
        for (int k = 0; k < 1 + trial % 4; k++) {
            rng = rng * 6364136223846793005ull + 1442695040888963407ull;
            size_t at = 8 + (size_t)((rng >> 33) % hlen);
            bad[at] = (uint8_t)(rng >> 20);
        }
        cr_assert(tm_write_bytes(path, bad, size));
        xf_model_t* m = NULL;
        xf_status_t st = xf_model_load(ctx, path, NULL, &m);
        if (st != XF_OK) cr_expect(strlen(xf_context_error(ctx)) > 0, "trial %d: empty message", trial);
        xf_model_destroy(m);
    }
    free(bad);
    free(good);
    xf_context_destroy(ctx);
}

Test(safetensors, truncation_and_damage_never_crash) {
    for (int quantized = 0; quantized < 3; quantized++) damage(quantized);
}
