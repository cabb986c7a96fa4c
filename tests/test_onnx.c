// SPDX-License-Identifier: MIT
// ONNX import: the ONNX backend node tests Debian ships (libonnx-testdata) on every backend column, models
// exported from PyTorch (tools/make_onnx_models.py) against PyTorch's outputs, the fusions and the errors.
#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "harness.h"
#include "onnx.pb-c.h"
#include "onnx_node_runner.h"
#include "xformer.h"

static const char* node_dir(void) {
    const char* d = getenv("XFORMER_ONNX_NODE_DIR");
    return d && d[0] ? d : "/usr/share/libonnx-testdata/data/node";
}

static bool required(const char* var) {
    const char* v = getenv(var);
    return v && strcmp(v, "1") == 0;
}

static int cmp_names(const void* a, const void* b) { return strcmp(*(char* const*)a, *(char* const*)b); }

// Sorted subdirectory names of |root|; NULL when it cannot be read.
static char** list_dirs(const char* root, int* count) {
    DIR* d = opendir(root);
    if (!d) return NULL;
    int cap = 64, n = 0;
    char** names = malloc(sizeof *names * (size_t)cap);
    struct dirent* e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.') continue;
        if (n == cap) names = realloc(names, sizeof *names * (size_t)(cap *= 2));
        names[n++] = strdup(e->d_name);
    }
    closedir(d);
    qsort(names, (size_t)n, sizeof *names, cmp_names);
    *count = n;
    return names;
}

static void free_dirs(char** names, int n) {
    for (int k = 0; k < n; k++) free(names[k]);
    free(names);
}

// Operators whose node tests reach their device lowering; each must pass at least one. (Reshape, Slice,
// Squeeze, Unsqueeze with axes, Expand, Resize, Pad and ReduceSum node tests give their shapes, axes or sizes
// as graph inputs, which libxformer needs at load time: the exported models cover them. Shape, Equal and the
// like run only at load time.)
static const char* const device_ops[] = {"abs", "add", "clip", "concat", "conv", "div", "erf", "exp", "flatten",
                                         "gemm", "globalaveragepool", "identity", "layer_normalization", "matmul",
                                         "mul", "neg", "pow", "reciprocal", "reduce_max", "reduce_mean",
                                         "reduce_min", "relu", "sigmoid", "softmax", "split", "sqrt", "sub", "tanh",
                                         "transpose", "where"};

ParameterizedTestParameters(onnx, node_tests) { return xf_test_column_params(); }

// Every node test either passes or is refused at load with XF_ERR_UNIMPLEMENTED (counted, and named with
// XFORMER_ONNX_VERBOSE=1); none fails. The supported ones cover every device operator.
ParameterizedTest(int* column, onnx, node_tests, .timeout = 900) {
    int n = 0;
    char** names = list_dirs(node_dir(), &n);
    if (!names) {
        if (required("XFORMER_REQUIRE_ONNX"))
            cr_assert_fail("XFORMER_REQUIRE_ONNX=1 but %s cannot be read", node_dir());
        cr_skip_test("no ONNX node tests at %s (Debian: libonnx-testdata)", node_dir());
    }
    xf_test_column_t col;
    xf_context_t* ctx = xf_test_column_context(*column, &col);
    int pass = 0, unsupported = 0, fail = 0;
    bool covered[sizeof device_ops / sizeof device_ops[0]] = {false};
    bool verbose = required("XFORMER_ONNX_VERBOSE");
    for (int k = 0; k < n; k++) {
        char dir[1200], why[1600];
        snprintf(dir, sizeof dir, "%s/%s", node_dir(), names[k]);
        xf_node_result_t r = xf_run_node_test(ctx, dir, false, why, sizeof why);
        if (r == XF_NODE_PASS) {
            pass++;
            for (size_t o = 0; o < sizeof device_ops / sizeof device_ops[0]; o++) {
                size_t len = strlen(device_ops[o]);
                if (strncmp(names[k] + 5, device_ops[o], len) == 0 &&
                    (names[k][5 + len] == '\0' || names[k][5 + len] == '_'))
                    covered[o] = true;
            }
        } else if (r == XF_NODE_UNSUPPORTED) {
            unsupported++;
            if (verbose) cr_log_info("%s: unsupported: %s", names[k], why);
        } else {
            fail++;
            cr_log_error("%s on %s: %s", names[k], col.name, why);
        }
    }
    cr_log_info("ONNX node tests on %s: %d pass, %d unsupported, %d fail (of %d)", col.name, pass, unsupported, fail,
                n);
    free_dirs(names, n);
    xf_context_destroy(ctx);
    cr_expect_eq(fail, 0, "%d node tests failed on %s", fail, col.name);
    for (size_t o = 0; o < sizeof device_ops / sizeof device_ops[0]; o++)
        cr_expect(covered[o], "no node test of '%s' passed on %s", device_ops[o], col.name);
    // Debian bookworm's libonnx-testdata 1.12: 149 pass. Fewer means the importer lost an operator.
    if (n >= 900) cr_expect_geq(pass, 149, "only %d node tests pass on %s", pass, col.name);
}

static const char* models_dir(void) { return getenv("XFORMER_ONNX_MODELS_DIR"); }

ParameterizedTestParameters(onnx, exported_models) { return xf_test_column_params(); }

// Runs every model directory under |root| on |ctx|; returns how many ran.
static int run_model_dirs(xf_context_t* ctx, const char* root, const char* column) {
    int n = 0;
    char** names = root && root[0] ? list_dirs(root, &n) : NULL;
    for (int k = 0; k < n; k++) {
        char dir[1200], why[1600];
        snprintf(dir, sizeof dir, "%s/%s", root, names[k]);
        xf_node_result_t r = xf_run_node_test(ctx, dir, true, why, sizeof why);
        cr_expect_eq(r, XF_NODE_PASS, "%s on %s: %s", names[k], column, why);
    }
    if (names) free_dirs(names, n);
    return n;
}

// Models exported by torch.onnx.export (tools/make_onnx_models.py) match the exporter's outputs: torchvision's
// ViT, DeiT-S and Swin-T layouts exported in CI (XFORMER_ONNX_MODELS_DIR), and transformers' SegFormer, whose
// export needs PyPI packages, kept in tests/data/onnx.
ParameterizedTest(int* column, onnx, exported_models, .timeout = 900) {
    const char* root = models_dir();
    bool have = root && root[0];
    if (!have && required("XFORMER_REQUIRE_ONNX"))
        cr_assert_fail("XFORMER_REQUIRE_ONNX=1 but XFORMER_ONNX_MODELS_DIR is not set");
    xf_test_column_t col;
    xf_context_t* ctx = xf_test_column_context(*column, &col);
    if (col.max_binding_bytes) {
        // Convolutions are not split into pieces; the op table's smallbind rows cover what is.
        xf_context_destroy(ctx);
        cr_skip_test("%s: 64 KiB bindings are too small for these models' convolutions", col.name);
    }
    char data[1024];
    const char* src = getenv("XFORMER_SOURCE_DIR");
    snprintf(data, sizeof data, "%s/tests/data/onnx", src ? src : ".");
    cr_expect_geq(run_model_dirs(ctx, data, col.name), 1, "no models in %s", data);
    if (have) {
        int n = run_model_dirs(ctx, root, col.name);
        if (required("XFORMER_REQUIRE_ONNX")) cr_expect_geq(n, 4, "%d models in %s", n, root);
    }
    xf_context_destroy(ctx);
}

// Runs the model of |dir| with fusion on or off: its logits and graph statistics.
static float* run_exported(xf_context_t* ctx, const char* dir, bool fuse, xf_graph_stats_t* stats, int64_t* count) {
    char path[1200];
    snprintf(path, sizeof path, "%s/model.onnx", dir);
    setenv("XFORMER_ONNX_FUSION", fuse ? "1" : "0", 1);
    xf_model_t* m;
    xf_status_t st = xf_model_load(ctx, path, NULL, &m);
    unsetenv("XFORMER_ONNX_FUSION");
    cr_assert_eq(st, XF_OK, "%s", xf_context_error(ctx));
    xf_model_info_t info;
    xf_model_info(m, &info);
    cr_assert_eq(info.task, XF_MODEL_TASK_CLASSIFICATION);
    float* x = malloc(sizeof(float) * (size_t)info.input_elements);
    xf_rng_t rng = {42};
    for (int64_t i = 0; i < info.input_elements; i++) x[i] = xf_rng_uniform(&rng, -1, 1);
    float* y = malloc(sizeof(float) * (size_t)info.output_elements);
    cr_assert_eq(xf_model_run(m, x, (size_t)info.input_elements, y, (size_t)info.output_elements), XF_OK, "%s",
                 xf_context_error(ctx));
    cr_assert_eq(xf_model_stats(m, stats), XF_OK);
    *count = info.output_elements;
    free(x);
    xf_model_destroy(m);
    return y;
}

static char fusion_log[1024];
static void capture_fusions(void* user, xf_log_level_t level, const char* message) {
    (void)user;
    (void)level;
    if (strstr(message, "ONNX nodes")) snprintf(fusion_log, sizeof fusion_log, "%s", message);
}

// The fused ViT (2 blocks) runs fewer dispatches than the node-by-node lowering, with the same logits: at opset
// 17 (LayerNormalization nodes) and 13 (LayerNorm decomposed), every block's linear layers (with their bias,
// GELU and residual), attention and LayerNorms are fused, and the info log says so.
Test(onnx, fusion_cuts_dispatches, .timeout = 600) {
    const char* root = models_dir();
    char path[1300];
    snprintf(path, sizeof path, "%s/vit_opset13/model.onnx", root ? root : "");
    FILE* f = root ? fopen(path, "rb") : NULL;
    if (!f) {
        if (required("XFORMER_REQUIRE_ONNX")) cr_assert_fail("XFORMER_REQUIRE_ONNX=1 but %s is missing", path);
        cr_skip_test("no exported ViT (XFORMER_ONNX_MODELS_DIR)");
    }
    fclose(f);
    xf_context_options_t o;
    xf_context_options_init(&o);
    o.backend = XF_BACKEND_OPENCL;
    o.log_fn = capture_fusions;
    o.log_level = XF_LOG_INFO;
    xf_context_t* ctx;
    if (xf_context_create(&o, &ctx) != XF_OK) {
        cr_assert(!xf_test_backend_required(XF_BACKEND_OPENCL), "%s", xf_last_error());
        cr_skip_test("no OpenCL device");
    }
    const char* models[2] = {"vit", "vit_opset13"};
    const char* fused_what[2] = {"fused 0 LayerNorm, 2 GELU, 6 linear, 2 attention",
                                 "fused 5 LayerNorm, 2 GELU, 6 linear, 2 attention"};
    for (int k = 0; k < 2; k++) {
        char dir[1200];
        snprintf(dir, sizeof dir, "%s/%s", root, models[k]);
        xf_graph_stats_t fused, plain;
        int64_t n1, n2;
        fusion_log[0] = '\0';
        float* a = run_exported(ctx, dir, true, &fused, &n1);
        cr_expect(strstr(fusion_log, fused_what[k]), "%s: log '%s', want '%s'", models[k], fusion_log, fused_what[k]);
        float* b = run_exported(ctx, dir, false, &plain, &n2);
        cr_assert_eq(n1, n2);
        char why[256];
        cr_expect(xf_test_close(a, b, n1, 1e-4f, 1e-3f, why, sizeof why), "%s: fused and plain differ: %s", models[k],
                  why);
        // What the fused lowering of this 2-block ViT dispatches on OpenCL: a lost fusion shows here.
        cr_expect_eq(fused.dispatches, 46, "%s: %llu dispatches fused (node by node: %llu)", models[k],
                     (unsigned long long)fused.dispatches, (unsigned long long)plain.dispatches);
        cr_expect_gt(plain.dispatches, fused.dispatches + 10, "%s: node by node %llu", models[k],
                     (unsigned long long)plain.dispatches);
        free(a);
        free(b);
    }
    xf_context_destroy(ctx);
}

// Writes |path|: a graph of |nodes| (and |inits|) from the float input "x" [2, 3] (|dynamic_batch|: ["N", 3]) to
// the output "y" of the same shape, opset |opset|.
static void write_graph(const char* path, Onnx__NodeProto** nodes, size_t n_nodes, Onnx__TensorProto** inits,
                        size_t n_inits, int64_t opset, bool dynamic_batch) {
    Onnx__TypeProto__Tensor tt = ONNX__TYPE_PROTO__TENSOR__INIT;
    Onnx__TensorShapeProto shape = ONNX__TENSOR_SHAPE_PROTO__INIT;
    Onnx__TensorShapeProto__Dimension d0 = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__INIT, d1 = d0;
    d0.value_case = d1.value_case = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE;
    d0.dim_value = 2;
    d1.dim_value = 3;
    if (dynamic_batch) {
        d0.value_case = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_PARAM;
        d0.dim_param = "N";
    }
    Onnx__TensorShapeProto__Dimension* dims[2] = {&d0, &d1};
    shape.n_dim = 2;
    shape.dim = dims;
    tt.has_elem_type = 1;
    tt.elem_type = 1;
    tt.shape = &shape;
    Onnx__TypeProto type = ONNX__TYPE_PROTO__INIT;
    type.value_case = ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE;
    type.tensor_type = &tt;
    Onnx__ValueInfoProto x = ONNX__VALUE_INFO_PROTO__INIT, y = ONNX__VALUE_INFO_PROTO__INIT;
    x.name = "x";
    x.type = &type;
    y.name = "y";
    y.type = &type;
    Onnx__ValueInfoProto* ins[1] = {&x};
    Onnx__ValueInfoProto* outs[1] = {&y};
    Onnx__GraphProto g = ONNX__GRAPH_PROTO__INIT;
    g.n_node = n_nodes;
    g.node = nodes;
    g.n_input = 1;
    g.input = ins;
    g.n_output = 1;
    g.output = outs;
    g.n_initializer = n_inits;
    g.initializer = inits;
    Onnx__OperatorSetIdProto os = ONNX__OPERATOR_SET_ID_PROTO__INIT;
    os.domain = "";
    os.has_version = 1;
    os.version = opset;
    Onnx__OperatorSetIdProto* oss[1] = {&os};
    Onnx__ModelProto m = ONNX__MODEL_PROTO__INIT;
    m.has_ir_version = 1;
    m.ir_version = 8;
    m.n_opset_import = 1;
    m.opset_import = oss;
    m.graph = &g;
    size_t size = onnx__model_proto__get_packed_size(&m);
    uint8_t* buf = malloc(size);
    onnx__model_proto__pack(&m, buf);
    FILE* f = fopen(path, "wb");
    cr_assert(f);
    fwrite(buf, 1, size, f);
    fclose(f);
    free(buf);
}

// Writes a model of one node |op| (opset |opset|) from "x" to "y" (write_graph). |node_output| other than "y": a
// first node of the same op writes it (an unnamed output when "") and the second one "y".
static void write_model_named(const char* path, const char* op, int64_t opset, bool dynamic_batch,
                              const char* node_output) {
    Onnx__NodeProto node = ONNX__NODE_PROTO__INIT;
    char* in[1] = {"x"};
    char* out[1] = {"y"};
    char* first_out[1] = {(char*)node_output};
    node.n_input = 1;
    node.input = in;
    node.n_output = 1;
    node.output = out;
    node.op_type = (char*)op;
    node.name = "the_node";
    Onnx__NodeProto first = node;
    first.output = first_out;
    first.name = "first";
    Onnx__NodeProto* nodes[2] = {&first, &node};
    const bool two = strcmp(node_output, "y") != 0;
    write_graph(path, two ? nodes : nodes + 1, two ? 2 : 1, NULL, 0, opset, dynamic_batch);
}

static void write_model_dims(const char* path, const char* op, int64_t opset, bool dynamic_batch) {
    write_model_named(path, op, opset, dynamic_batch, "y");
}

static void write_model(const char* path, const char* op, int64_t opset) {
    write_model_dims(path, op, opset, false);
}

static void tmp_path(char* buf, size_t size, const char* name) {
    const char* t = getenv("TMPDIR");
    snprintf(buf, size, "%s/xf_onnx_%d_%s", t && t[0] ? t : "/tmp", (int)getpid(), name);
}

// Unsupported operators and opsets, and broken files, fail the load with a message naming what and where.
Test(onnx, errors_name_node_op_and_opset) {
    xf_context_t* ctx = xf_test_context(XF_BACKEND_CPU);
    char path[512];
    xf_model_t* m = NULL;

    tmp_path(path, sizeof path, "op.onnx");
    write_model(path, "Sinh", 13);
    cr_expect_eq(xf_model_load(ctx, path, NULL, &m), XF_ERR_UNIMPLEMENTED);
    const char* e = xf_context_error(ctx);
    cr_expect(strstr(e, "the_node") && strstr(e, "Sinh") && strstr(e, "opset 13"), "message: %s", e);
    remove(path);

    tmp_path(path, sizeof path, "opset.onnx");
    write_model(path, "Relu", 21);
    cr_expect_eq(xf_model_load(ctx, path, NULL, &m), XF_ERR_UNIMPLEMENTED);
    cr_expect(strstr(xf_context_error(ctx), "opset 21"), "message: %s", xf_context_error(ctx));
    remove(path);

    tmp_path(path, sizeof path, "unnamed.onnx");
    // A node whose (optional) first output is unnamed computes nothing anyone reads; the graph still runs.
    write_model_named(path, "Relu", 13, false, "");
    cr_assert_eq(xf_model_load(ctx, path, NULL, &m), XF_OK, "%s", xf_context_error(ctx));
    float in2[6] = {-1, 2, -3, 4, -5, 6}, out2[6];
    cr_expect_eq(xf_model_run(m, in2, 6, out2, 6), XF_OK, "%s", xf_context_error(ctx));
    cr_expect_eq(out2[1], 2.0f);
    xf_model_destroy(m);
    remove(path);

    tmp_path(path, sizeof path, "ok.onnx");
    write_model(path, "Relu", 13);
    cr_assert_eq(xf_model_load(ctx, path, NULL, &m), XF_OK, "%s", xf_context_error(ctx));
    xf_model_info_t info;
    xf_model_info(m, &info);
    cr_expect_eq(info.arch, XF_MODEL_ARCH_ONNX);
    cr_expect_eq(info.task, XF_MODEL_TASK_GENERIC);
    float x[6] = {-1, 2, -3, 4, -5, 6}, y[6];
    cr_assert_eq(xf_model_run(m, x, 6, y, 6), XF_OK, "%s", xf_context_error(ctx));
    for (int k = 0; k < 6; k++) cr_expect_eq(y[k], x[k] > 0 ? x[k] : 0);
    xf_model_destroy(m);

    // Truncated and garbage files.
    FILE* f = fopen(path, "rb");
    uint8_t buf[4096];
    size_t size = fread(buf, 1, sizeof buf, f);
    fclose(f);
    for (size_t cut = 1; cut < size; cut += size / 7 + 1) {
        f = fopen(path, "wb");
        fwrite(buf, 1, cut, f);
        fclose(f);
        m = NULL;
        xf_status_t st = xf_model_load(ctx, path, NULL, &m);
        cr_expect_neq(st, XF_OK, "a file cut at %zu of %zu bytes loaded", cut, size);
        cr_expect(m == NULL);
        cr_expect(strstr(xf_context_error(ctx), path), "message: %s", xf_context_error(ctx));
    }
    f = fopen(path, "wb");
    fputs("this is not a protobuf at all", f);
    fclose(f);
    cr_expect_eq(xf_model_load(ctx, path, NULL, &m), XF_ERR_DATA_LOSS, "%s", xf_context_error(ctx));
    remove(path);
    tmp_path(path, sizeof path, "missing.onnx");
    cr_expect_eq(xf_model_load(ctx, path, NULL, &m), XF_ERR_NOT_FOUND);
    xf_context_destroy(ctx);
}

// A dynamic batch dim takes xf_model_options_t.batch (1 by default); the model runs at that size.
Test(onnx, dynamic_batch_from_options) {
    xf_context_t* ctx = xf_test_context(XF_BACKEND_CPU);
    char path[512];
    tmp_path(path, sizeof path, "dyn.onnx");
    write_model_dims(path, "Sigmoid", 13, true);
    for (int64_t batch = 1; batch <= 3; batch += 2) {
        xf_model_options_t o;
        xf_model_options_init(&o);
        o.batch = batch == 1 ? 0 : batch;
        xf_model_t* m;
        cr_assert_eq(xf_model_load(ctx, path, &o, &m), XF_OK, "%s", xf_context_error(ctx));
        xf_model_io_t in, out;
        cr_assert_eq(xf_model_io_count(m, false), 1);
        cr_assert_eq(xf_model_io_info(m, false, 0, &in), XF_OK);
        cr_assert_eq(xf_model_io_info(m, true, 0, &out), XF_OK);
        cr_expect_str_eq(in.name, "x");
        cr_expect_str_eq(out.name, "y");
        cr_expect(in.ndim == 2 && in.shape[0] == batch && in.shape[1] == 3);
        cr_expect(out.ndim == 2 && out.shape[0] == batch && out.shape[1] == 3);
        float x[9], y[9];
        for (int k = 0; k < 9; k++) x[k] = (float)k - 4.0f;
        const void* ins[1] = {x};
        void* outs[1] = {y};
        cr_assert_eq(xf_model_run_io(m, ins, outs), XF_OK, "%s", xf_context_error(ctx));
        for (int k = 0; k < 3 * batch; k++) cr_expect_float_eq(y[k], 1.0f / (1.0f + expf(-x[k])), 1e-6f);
        cr_expect_eq(xf_model_io_info(m, true, 1, &out), XF_ERR_OUT_OF_RANGE);
        xf_model_destroy(m);
    }
    remove(path);
    xf_context_destroy(ctx);
}

// Writes |path|: y = x + w, x [2, 3] a graph input, w [3] an initializer whose data lives in the external file
// |location| (relative to the model) at byte |offset|.
static void write_external_model(const char* path, const char* location, int64_t offset) {
    Onnx__TensorProto w = ONNX__TENSOR_PROTO__INIT;
    int64_t wdims[1] = {3};
    w.name = "w";
    w.n_dims = 1;
    w.dims = wdims;
    w.has_data_type = 1;
    w.data_type = 1;
    w.has_data_location = 1;
    w.data_location = ONNX__TENSOR_PROTO__DATA_LOCATION__EXTERNAL;
    char off[32];
    snprintf(off, sizeof off, "%lld", (long long)offset);
    Onnx__StringStringEntryProto e0 = ONNX__STRING_STRING_ENTRY_PROTO__INIT, e1 = e0, e2 = e0;
    e0.key = "location";
    e0.value = (char*)location;
    e1.key = "offset";
    e1.value = off;
    e2.key = "length";
    e2.value = "12";
    Onnx__StringStringEntryProto* ext[3] = {&e0, &e1, &e2};
    w.n_external_data = 3;
    w.external_data = ext;
    Onnx__NodeProto node = ONNX__NODE_PROTO__INIT;
    char* in[2] = {"x", "w"};
    char* out[1] = {"y"};
    node.n_input = 2;
    node.input = in;
    node.n_output = 1;
    node.output = out;
    node.op_type = "Add";
    Onnx__NodeProto* nodes[1] = {&node};
    Onnx__TensorProto* inits[1] = {&w};
    write_graph(path, nodes, 1, inits, 1, 17, false);
}

// Initializers in an external data file beside the model are read from there; a location outside the model's
// directory, a missing file and a file too short are errors naming the initializer.
Test(onnx, external_data) {
    xf_context_t* ctx = xf_test_context(XF_BACKEND_CPU);
    char dir[512], model[600], data[600];
    tmp_path(dir, sizeof dir, "ext");
    cr_assert(mkdir(dir, 0700) == 0 || errno == EEXIST);
    snprintf(model, sizeof model, "%s/model.onnx", dir);
    snprintf(data, sizeof data, "%s/weights.bin", dir);
    const float w[5] = {99, 99, 10, 20, 30};  // the initializer at byte 8
    FILE* f = fopen(data, "wb");
    fwrite(w, sizeof w, 1, f);
    fclose(f);
    write_external_model(model, "weights.bin", 8);
    xf_model_t* m;
    cr_assert_eq(xf_model_load(ctx, model, NULL, &m), XF_OK, "%s", xf_context_error(ctx));
    float x[6] = {1, 2, 3, 4, 5, 6}, y[6];
    cr_assert_eq(xf_model_run(m, x, 6, y, 6), XF_OK, "%s", xf_context_error(ctx));
    for (int k = 0; k < 6; k++) cr_expect_eq(y[k], x[k] + w[2 + k % 3]);
    xf_model_destroy(m);

    write_external_model(model, "../weights.bin", 8);
    cr_expect_eq(xf_model_load(ctx, model, NULL, &m), XF_ERR_DATA_LOSS);
    cr_expect(strstr(xf_context_error(ctx), "'w'"), "%s", xf_context_error(ctx));
    write_external_model(model, "missing.bin", 0);
    cr_expect_eq(xf_model_load(ctx, model, NULL, &m), XF_ERR_NOT_FOUND);
    cr_expect(strstr(xf_context_error(ctx), "missing.bin"), "%s", xf_context_error(ctx));
    write_external_model(model, "weights.bin", 12);
    cr_expect_eq(xf_model_load(ctx, model, NULL, &m), XF_ERR_DATA_LOSS);
    cr_expect(strstr(xf_context_error(ctx), "ends before"), "%s", xf_context_error(ctx));
    remove(model);
    remove(data);
    rmdir(dir);
    xf_context_destroy(ctx);
}
