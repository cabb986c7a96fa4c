// SPDX-License-Identifier: MIT
// libxformer benchmark: SGEMM through the public API on every available backend, next to CLBlast
// (same OpenCL device) and OpenBLAS (same thread count), plus the latency of one ViT-B/16 block.
// Prints Markdown tables, or with --json one JSON document (usage() and docs/TOOLS.md). OpenBLAS 0.3.21
// misdetects AVX-512 CPUs as "Prescott"; unless OPENBLAS_CORETYPE is set, the program re-executes itself
// with the core type of the CPU's features.
#define _GNU_SOURCE
#include <ftw.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "../examples/common.h"
#include "xformer.h"

#define PROG "xformer-bench"

#ifdef XF_BENCH_CLBLAST
#define CL_TARGET_OPENCL_VERSION 120
#include <clblast_c.h>
#endif
#ifdef XF_BENCH_OPENBLAS
#include <cblas.h>
void openblas_set_num_threads(int num_threads);
#endif

typedef struct shape_s {
    const char* name;
    int64_t m, k, n;
    bool transpose_b;  // B is [N, K] (linear weight)
} shape_t;

// clang-format off
static const shape_t shapes[] = {
    {"1024^3 (A.B)", 1024, 1024, 1024, false},
    {"1024^3 (A.B^T)", 1024, 1024, 1024, true},
    {"ViT qkv 197x768x2304", 197, 768, 2304, true},
    {"ViT proj 197x768x768", 197, 768, 768, true},
    {"ViT fc1 197x768x3072", 197, 768, 3072, true},
    {"ViT fc2 197x3072x768", 197, 3072, 768, true},
};
// clang-format on
#define NSHAPES (sizeof shapes / sizeof shapes[0])

typedef struct stats_s {
    double best, median;  // seconds
    bool ok;
} stats_t;

static int reps = 10;
static int64_t model_batch = 1;  // --batch: images per xf_model_run of --model
static xf_model_weights_t model_weights = XF_MODEL_WEIGHTS_AS_STORED;  // --weights
// Option words by enum value.
static const char* const tune_words[] = {"off", "fast", "full"};      // xf_tune_t
// --f16: the libxformer GEMMs use f16 tensors (f32 accumulation); peers stay f32.
static xf_dtype_t gemm_dtype = XF_DTYPE_F32;
static double time_budget = 4.0;  // seconds per measurement after warm-up

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static int cmp_double(const void* a, const void* b) {
    double x = *(const double*)a, y = *(const double*)b;
    return x < y ? -1 : x > y;
}

// Times |fn| after |warm| calls: at least 3 and at most |reps| runs, within the time budget.
static stats_t measure(bool (*fn)(void*), void* arg, int warm) {
    stats_t s = {0};
    for (int i = 0; i < warm; ++i) {
        if (!fn(arg)) return s;
    }
    double t[256];
    int n = 0;
    double start = now();
    while (n < reps && n < 256 && (n < 3 || now() - start < time_budget)) {
        double t0 = now();
        if (!fn(arg)) return s;
        t[n++] = now() - t0;
    }
    qsort(t, n, sizeof t[0], cmp_double);
    s.best = t[0];
    s.median = n % 2 ? t[n / 2] : 0.5 * (t[n / 2 - 1] + t[n / 2]);
    s.ok = true;
    return s;
}

static void fill_random(float* p, size_t n, unsigned seed) {
    for (size_t i = 0; i < n; ++i) {
        seed = seed * 1664525u + 1013904223u;
        p[i] = ((seed >> 9) & 0xffff) / 65536.0f - 0.5f;
    }
}

static double gflops(const shape_t* s, double sec) {
    return 2.0 * s->m * s->n * s->k / sec * 1e-9;
}

//===----------------------------------------------------------------------===//
// libxformer
//===----------------------------------------------------------------------===//

typedef struct xf_run_s {
    xf_context_t* ctx;
    xf_graph_t* graph;
} xf_run_t;

static bool xf_run_compute(void* arg) {
    xf_run_t* r = arg;
    xf_status_t st = xf_graph_compute(r->graph);
    if (st != XF_OK) fprintf(stderr, "compute failed: %s\n", xf_context_error(r->ctx));
    return st == XF_OK;
}

// Kernel tuning for every context (XFORMER_TUNE still overrides it); progress appears as one
// updating line when stderr is a terminal.
static xf_tune_t tune_mode = XF_TUNE_OFF;

static void progress_log(void* user, xf_log_level_t level, const char* message) {
    (void)user;
    if (level <= XF_LOG_WARN) {
        fprintf(stderr, "%s\n", message);
    } else if (isatty(2)) {
        fprintf(stderr, "\r\033[K%.*s", 100, message);
        fflush(stderr);
    }
}

static void progress_done(void) {
    if (isatty(2)) fprintf(stderr, "\r\033[K");
}

static xf_context_t* open_backend(xf_backend_t be, xf_device_info_t* info) {
    xf_context_options_t opt;
    xf_context_options_init(&opt);
    opt.backend = be;
    opt.tune = tune_mode;
    opt.log_fn = progress_log;
    opt.log_level = tune_mode != XF_TUNE_OFF ? XF_LOG_INFO : XF_LOG_WARN;
    xf_context_t* ctx = NULL;
    if (xf_context_create(&opt, &ctx) != XF_OK) return NULL;
    xf_context_device_info(ctx, info);
    return ctx;
}

static stats_t bench_xf_gemm(xf_backend_t be, const shape_t* s) {
    stats_t res = {0};
    xf_device_info_t info;
    xf_context_t* ctx = open_backend(be, &info);
    if (!ctx) return res;
    xf_graph_t* g = NULL;
    xf_tensor_t *a = NULL, *b = NULL, *c = NULL;
    int64_t bshape[2] = {s->transpose_b ? s->n : s->k, s->transpose_b ? s->k : s->n};
    size_t na = (size_t)(s->m * s->k), nb = (size_t)(s->k * s->n);
    float* ha = malloc(na * sizeof(float));
    float* hb = malloc(nb * sizeof(float));
    fill_random(ha, na, 1);
    fill_random(hb, nb, 2);
    xf_matmul_options_t mo = {.transpose_b = s->transpose_b};
    bool ok = ha && hb && xf_tensor_create(ctx, "b", gemm_dtype, 2, bshape, &b) == XF_OK &&
              xf_tensor_upload_f32(b, hb, nb) == XF_OK && xf_graph_create(ctx, &g) == XF_OK &&
              xf_graph_input(g, "a", gemm_dtype, 2, (int64_t[]){s->m, s->k}, &a) == XF_OK &&
              xf_matmul(g, a, b, &mo, &c) == XF_OK && xf_graph_mark_output(g, c) == XF_OK &&
              xf_tensor_upload_f32(a, ha, na) == XF_OK;
    if (ok) {
        xf_run_t r = {ctx, g};
        res = measure(xf_run_compute, &r, 2);
        progress_done();
    } else {
        fprintf(stderr, "%s gemm setup failed: %s\n", xf_backend_name(be), xf_context_error(ctx));
    }
    free(ha);
    free(hb);
    xf_graph_destroy(g);
    xf_context_destroy(ctx);
    return res;
}

// Builds one ViT-B/16 encoder block (dim 768, 12 heads, MLP 3072, 197 tokens) with random weights
// on |ctx|; returns the graph or NULL.
static xf_graph_t* make_block(xf_context_t* ctx) {
    const int64_t c = 768, hid = 3072, tokens = 197;
    static const struct {
        const char* name;
        int ndim;
        int64_t shape[2];
    } w[] = {
        {"blk.norm1.weight", 1, {768}},          {"blk.norm1.bias", 1, {768}},
        {"blk.attn.qkv.weight", 2, {2304, 768}}, {"blk.attn.qkv.bias", 1, {2304}},
        {"blk.attn.proj.weight", 2, {768, 768}}, {"blk.attn.proj.bias", 1, {768}},
        {"blk.norm2.weight", 1, {768}},          {"blk.norm2.bias", 1, {768}},
        {"blk.mlp.fc1.weight", 2, {3072, 768}},  {"blk.mlp.fc1.bias", 1, {3072}},
        {"blk.mlp.fc2.weight", 2, {768, 3072}},  {"blk.mlp.fc2.bias", 1, {768}},
    };
    bool ok = true;
    float* host = malloc(3072 * 768 * sizeof(float));
    for (size_t i = 0; i < sizeof w / sizeof w[0] && ok; ++i) {
        xf_tensor_t* t = NULL;
        size_t n = (size_t)w[i].shape[0] * (w[i].ndim == 2 ? (size_t)w[i].shape[1] : 1);
        fill_random(host, n, 10 + (unsigned)i);
        if (strstr(w[i].name, "norm") && strstr(w[i].name, "weight")) {
            for (size_t j = 0; j < n; ++j) host[j] += 1.0f;
        }
        float scale = w[i].ndim == 2 ? 1.0f / sqrtf((float)w[i].shape[1]) : 0.1f;
        for (size_t j = 0; j < n && w[i].ndim == 2; ++j) host[j] *= scale;
        ok = xf_tensor_create(ctx, w[i].name, XF_DTYPE_F32, w[i].ndim, w[i].shape, &t) == XF_OK &&
             xf_tensor_upload(t, host, n * sizeof(float)) == XF_OK;
    }
    xf_block_desc_t desc;
    xf_block_desc_init(&desc, c, 12, hid);
    xf_graph_t* g = NULL;
    xf_tensor_t *x = NULL, *y = NULL;
    ok = ok && xf_graph_create(ctx, &g) == XF_OK &&
         xf_graph_input(g, "x", XF_DTYPE_F32, 3, (int64_t[]){1, tokens, c}, &x) == XF_OK &&
         xf_graph_block(g, &desc, "blk.", x, 0, 0, &y) == XF_OK && xf_graph_mark_output(g, y) == XF_OK;
    if (ok) {
        fill_random(host, (size_t)(tokens * c), 99);
        ok = xf_tensor_upload(x, host, (size_t)(tokens * c) * sizeof(float)) == XF_OK;
    }
    free(host);
    if (!ok) {
        fprintf(stderr, "block setup failed: %s\n", xf_context_error(ctx));
        xf_graph_destroy(g);
        return NULL;
    }
    return g;
}

static stats_t bench_xf_block(xf_backend_t be) {
    stats_t res = {0};
    xf_device_info_t info;
    xf_context_t* ctx = open_backend(be, &info);
    if (!ctx) return res;
    xf_graph_t* g = make_block(ctx);
    if (g) {
        xf_run_t r = {ctx, g};
        res = measure(xf_run_compute, &r, 2);
        progress_done();
    }
    xf_graph_destroy(g);
    xf_context_destroy(ctx);
    return res;
}

typedef struct model_run_s {
    xf_model_t* model;
    const float* input;
    size_t input_count;
    float* logits;
    size_t logits_count;
} model_run_t;

static bool model_run(void* arg) {
    model_run_t* r = arg;
    xf_status_t st = xf_model_run(r->model, r->input, r->input_count, r->logits, r->logits_count);
    if (st != XF_OK) fprintf(stderr, "model run failed: %s\n", xf_context_error(xf_model_context(r->model)));
    return st == XF_OK;
}

typedef struct model_result_s {
    bool ok;
    double load_s, first_s;
    stats_t runs;
} model_result_t;

// --model: whole-model latency (host input upload, graph, logits download) of the model file at |path|
// on |be|, input [batch, C, H, W] uniform in [-0.5, 0.5). Writes one Markdown row or JSON object; returns
// false when the model did not run.
static bool bench_xf_model(xf_backend_t be, const char* path, ex_json_t* j) {
    xf_device_info_t info;
    double t0 = now();
    xf_context_t* ctx = open_backend(be, &info);
    if (!ctx) {
        fprintf(stderr, PROG ": %s: %s\n", xf_backend_name(be), xf_last_error());
        if (j) {
            ex_json_object(j, NULL);
            ex_json_str(j, "backend", xf_backend_name(be));
            ex_json_str(j, "error", xf_last_error());
            ex_json_end_object(j);
        }
        return false;
    }
    xf_model_t* model = NULL;
    xf_model_info_t mi;
    float *input = NULL, *logits = NULL;
    model_result_t res = {0};
    xf_model_options_t mo;
    xf_model_options_init(&mo);
    mo.batch = model_batch;
    mo.weights = model_weights;
    if (xf_model_load(ctx, path, &mo, &model) == XF_OK && xf_model_info(model, &mi) == XF_OK) {
        res.load_s = now() - t0;
        const size_t nin = (size_t)(mi.batch * mi.input_elements), nout = (size_t)(mi.batch * mi.output_elements);
        input = malloc(nin * sizeof(float));
        logits = malloc(nout * sizeof(float));
        if (input && logits) {
            fill_random(input, nin, 7);
            model_run_t r = {model, input, nin, logits, nout};
            double first0 = now();
            bool ok = model_run(&r);
            res.first_s = now() - first0;
            progress_done();
            if (ok) res.runs = measure(model_run, &r, 1);
            res.ok = res.runs.ok;
        }
    }
    if (!res.ok) fprintf(stderr, "%s: %s\n", xf_backend_name(be), xf_context_error(ctx));
    if (j) {
        ex_json_object(j, NULL);
        ex_json_str(j, "backend", xf_backend_name(be));
        ex_json_str(j, "device", info.name);
        ex_json_num(j, "load_s", res.ok ? res.load_s : NAN, 6);
        ex_json_num(j, "first_run_s", res.ok ? res.first_s : NAN, 6);
        ex_json_num(j, "best_ms", res.ok ? res.runs.best * 1e3 : NAN, 6);
        ex_json_num(j, "median_ms", res.ok ? res.runs.median * 1e3 : NAN, 6);
        ex_json_num(j, "weight_mb", res.ok ? (double)mi.weight_bytes / 1e6 : NAN, 3);
        if (!res.ok) ex_json_str(j, "error", xf_context_error(ctx));
        ex_json_end_object(j);
    } else if (res.ok) {
        printf("| %s (%s) | %.1f | %.2f | %.2f | %.1f | %.1f |\n", xf_backend_name(be), info.name,
               (double)mi.weight_bytes / 1e6, res.load_s, res.first_s, res.runs.best * 1e3, res.runs.median * 1e3);
    } else {
        printf("| %s (%s) | n/a | n/a | n/a | n/a | n/a |\n", xf_backend_name(be), info.name);
    }
    fflush(stdout);
    free(input);
    free(logits);
    xf_model_destroy(model);
    xf_context_destroy(ctx);
    return res.ok;
}

// Child of --first-result: prints the seconds from context creation to the first ViT-block result.
static int first_result_child(xf_backend_t be) {
    double t0 = now();
    xf_device_info_t info;
    xf_context_t* ctx = open_backend(be, &info);
    if (!ctx) return 1;
    xf_graph_t* g = make_block(ctx);
    bool ok = g && xf_graph_compute(g) == XF_OK;
    double t1 = now();
    printf("%.3f\n", t1 - t0);
    xf_graph_destroy(g);
    xf_context_destroy(ctx);
    return ok ? 0 : 1;
}

static int remove_entry(const char* path, const struct stat* st, int flag, struct FTW* ftw) {
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

// Runs first_result_child in a fresh process; returns seconds or -1.
static double first_result_run(const char* backend) {
    char self[1024], cmd[1200];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    if (n <= 0) return -1;
    self[n] = '\0';
    snprintf(cmd, sizeof cmd, "'%s' --first-result-child %s", self, backend);
    FILE* p = popen(cmd, "r");
    if (!p) return -1;
    double t = -1;
    if (fscanf(p, "%lf", &t) != 1) t = -1;
    return pclose(p) == 0 ? t : -1;
}

//===----------------------------------------------------------------------===//
// CLBlast on the OpenCL device libxformer picked
//===----------------------------------------------------------------------===//

#ifdef XF_BENCH_CLBLAST
typedef struct clb_s {
    cl_context ctx;
    cl_command_queue queue;
    cl_mem a, b, c;
    const shape_t* s;
} clb_t;

static bool clb_run(void* arg) {
    clb_t* r = arg;
    const shape_t* s = r->s;
    CLBlastStatusCode st = CLBlastSgemm(
        CLBlastLayoutRowMajor, CLBlastTransposeNo, s->transpose_b ? CLBlastTransposeYes : CLBlastTransposeNo,
        (size_t)s->m, (size_t)s->n, (size_t)s->k, 1.0f, r->a, 0, (size_t)s->k, r->b, 0,
        (size_t)(s->transpose_b ? s->k : s->n), 0.0f, r->c, 0, (size_t)s->n, &r->queue, NULL);
    if (st != CLBlastSuccess) {
        fprintf(stderr, "CLBlastSgemm failed: %d\n", (int)st);
        return false;
    }
    return clFinish(r->queue) == CL_SUCCESS;
}

// Finds the OpenCL device whose name is |name|.
static bool find_cl_device(const char* name, cl_platform_id* out_p, cl_device_id* out_d) {
    cl_platform_id plats[16];
    cl_uint np = 0;
    if (clGetPlatformIDs(16, plats, &np) != CL_SUCCESS) return false;
    for (cl_uint p = 0; p < np && p < 16; ++p) {
        cl_device_id devs[16];
        cl_uint nd = 0;
        if (clGetDeviceIDs(plats[p], CL_DEVICE_TYPE_ALL, 16, devs, &nd) != CL_SUCCESS) continue;
        for (cl_uint d = 0; d < nd && d < 16; ++d) {
            char dn[256] = "";
            clGetDeviceInfo(devs[d], CL_DEVICE_NAME, sizeof dn, dn, NULL);
            if (strcmp(dn, name) == 0) {
                *out_p = plats[p];
                *out_d = devs[d];
                return true;
            }
        }
    }
    return false;
}

static stats_t bench_clblast(const char* device_name, const shape_t* s) {
    stats_t res = {0};
    cl_platform_id plat;
    cl_device_id dev;
    if (!find_cl_device(device_name, &plat, &dev)) return res;
    cl_int rc = CL_SUCCESS;
    clb_t r = {.s = s};
    r.ctx = clCreateContext(NULL, 1, &dev, NULL, NULL, &rc);
    if (rc == CL_SUCCESS) r.queue = clCreateCommandQueue(r.ctx, dev, 0, &rc);
    size_t na = (size_t)(s->m * s->k), nb = (size_t)(s->k * s->n), nc = (size_t)(s->m * s->n);
    float* h = malloc((na > nb ? na : nb) * sizeof(float));
    if (rc == CL_SUCCESS && h) {
        fill_random(h, na, 1);
        r.a = clCreateBuffer(r.ctx, CL_MEM_READ_WRITE | CL_MEM_COPY_HOST_PTR, na * sizeof(float), h, &rc);
        fill_random(h, nb, 2);
        if (rc == CL_SUCCESS)
            r.b = clCreateBuffer(r.ctx, CL_MEM_READ_WRITE | CL_MEM_COPY_HOST_PTR, nb * 4, h, &rc);
        if (rc == CL_SUCCESS) r.c = clCreateBuffer(r.ctx, CL_MEM_READ_WRITE, nc * sizeof(float), NULL, &rc);
        // Two warm-ups: the first compiles CLBlast's kernels (seconds on PoCL with a cold cache).
        if (rc == CL_SUCCESS) res = measure(clb_run, &r, 2);
    }
    free(h);
    if (r.a) clReleaseMemObject(r.a);
    if (r.b) clReleaseMemObject(r.b);
    if (r.c) clReleaseMemObject(r.c);
    if (r.queue) clReleaseCommandQueue(r.queue);
    if (r.ctx) clReleaseContext(r.ctx);
    return res;
}
#endif

//===----------------------------------------------------------------------===//
// OpenBLAS
//===----------------------------------------------------------------------===//

#ifdef XF_BENCH_OPENBLAS
typedef struct blas_s {
    float *a, *b, *c;
    const shape_t* s;
} blas_t;

static bool blas_run(void* arg) {
    blas_t* r = arg;
    const shape_t* s = r->s;
    cblas_sgemm(CblasRowMajor, CblasNoTrans, s->transpose_b ? CblasTrans : CblasNoTrans, (int)s->m, (int)s->n,
                (int)s->k, 1.0f, r->a, (int)s->k, r->b, (int)(s->transpose_b ? s->k : s->n), 0.0f, r->c,
                (int)s->n);
    return true;
}

static stats_t bench_openblas(const shape_t* s, int threads) {
    openblas_set_num_threads(threads);
    blas_t r = {.s = s};
    r.a = malloc((size_t)(s->m * s->k) * sizeof(float));
    r.b = malloc((size_t)(s->k * s->n) * sizeof(float));
    r.c = malloc((size_t)(s->m * s->n) * sizeof(float));
    stats_t res = {0};
    if (r.a && r.b && r.c) {
        fill_random(r.a, (size_t)(s->m * s->k), 1);
        fill_random(r.b, (size_t)(s->k * s->n), 2);
        res = measure(blas_run, &r, 2);
    }
    free(r.a);
    free(r.b);
    free(r.c);
    return res;
}
#endif

//===----------------------------------------------------------------------===//

#ifdef XF_BENCH_OPENBLAS
// OpenBLAS 0.3.21 detects some AVX-512 CPUs as "Prescott" (5x slower): name the kernels from the CPU
// features instead, and only features the CPU has, since a wrong guess would fault.
static const char* openblas_coretype(void) {
#if defined(__x86_64__) && defined(__GNUC__)
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512bf16")) return "Cooperlake";
    if (__builtin_cpu_supports("avx512f")) return "SkylakeX";
    if (__builtin_cpu_supports("avx2")) return "Haswell";
#endif
    return NULL;
}
#endif

static void print_cell(const shape_t* s, stats_t st) {
    if (!st.ok) {
        printf(" n/a |");
        return;
    }
    printf(" %.1f [%.1f] |", gflops(s, st.best), gflops(s, st.median));
}

// One GEMM figure: a Markdown cell, or a JSON object naming the implementation (|threads| 0: not applicable).
static void gemm_result(ex_json_t* j, const shape_t* s, stats_t st, const char* impl, const char* backend,
                        xf_dtype_t dtype, int threads) {
    if (!j) {
        print_cell(s, st);
        fflush(stdout);
        return;
    }
    ex_json_object(j, NULL);
    ex_json_str(j, "implementation", impl);
    if (backend) ex_json_str(j, "backend", backend);
    ex_json_str(j, "dtype", xf_dtype_name(dtype));
    if (threads > 0) ex_json_int(j, "threads", threads);
    ex_json_num(j, "best_gflops", st.ok ? gflops(s, st.best) : NAN, 6);
    ex_json_num(j, "median_gflops", st.ok ? gflops(s, st.median) : NAN, 6);
    ex_json_end_object(j);
}

static const char synopsis[] =
    "usage: " PROG " [--backend cpu|opencl|vulkan|all] [--reps N] [--quick] [--first-result] [--f16]\n"
    "                     [--tune off|fast|full] [--json]\n"
    "       " PROG " --model FILE [--batch N] [--weights KIND] [--backend cpu|opencl|vulkan|all]\n"
    "                     [--reps N] [--tune off|fast|full] [--json]\n";

static void usage(void) {
    printf("%s\n"
           "Times SGEMM through libxformer on every backend next to CLBlast (on the same OpenCL device) and\n"
           "OpenBLAS (1 thread and one per CPU), then one ViT-B/16 encoder block, and prints Markdown tables:\n"
           "GFLOP/s best [median], latency in ms best and median.\n"
           "\n"
           "Options:\n"
           "  --backend NAME     cpu, opencl, vulkan or all (default all)\n"
           "  --reps N           at most N timed runs per measurement, at least 3 (default 10)\n"
           "  --quick            1 s per measurement instead of 4, and one 1024^3 shape fewer\n"
           "  --f16              libxformer GEMMs on f16 tensors (f32 accumulation); the peers stay f32\n"
           "  --first-result     seconds from context creation to the first ViT-block result in a fresh\n"
           "                     process, with cold and with warm kernel caches\n"
           "  --model FILE       whole-model latency of the model FILE (or directory)\n"
           "  --batch N          with --model: images per run (default 1)\n"
           "  --weights KIND     with --model: linear-layer weights as stored in the file (stored, the\n"
           "                     default), or on the device as f16, f32, int8-channel (one scale per\n"
           "                     output channel) or int8-block32 (one per 32 inputs), xf_model_options_t.weights\n"
           "  --tune MODE        kernel tuning for every context: off, fast or full (XFORMER_TUNE overrides);\n"
           "                     with --model it pre-tunes the model's kernels\n"
           "  --json             print one JSON document on stdout instead of Markdown (docs/TOOLS.md)\n"
           "  -h, --help         print this help and exit\n"
           "  -V, --version      print the version and exit\n"
           "\n"
           "Exit status: 0 success, 1 a libxformer measurement failed (n/a), 2 a usage error.\n",
           synopsis);
}

typedef struct options_s {
    const char* only;  // NULL: every backend
    const char* model_path;
    bool quick, first_result, json;
} options_t;

// Sets the global settings and |o|; returns -1 to go on, else the exit status.
static int parse_args(int argc, char** argv, options_t* o) {
    enum { OPT_BACKEND = 256, OPT_REPS, OPT_QUICK, OPT_F16, OPT_FIRST_RESULT, OPT_MODEL, OPT_BATCH, OPT_WEIGHTS, OPT_TUNE,
           OPT_JSON };
    static const struct option longopts[] = {
        {"backend", required_argument, NULL, OPT_BACKEND},
        {"reps", required_argument, NULL, OPT_REPS},
        {"quick", no_argument, NULL, OPT_QUICK},
        {"f16", no_argument, NULL, OPT_F16},
        {"first-result", no_argument, NULL, OPT_FIRST_RESULT},
        {"model", required_argument, NULL, OPT_MODEL},
        {"batch", required_argument, NULL, OPT_BATCH},
        {"weights", required_argument, NULL, OPT_WEIGHTS},
        {"tune", required_argument, NULL, OPT_TUNE},
        {"json", no_argument, NULL, OPT_JSON},
        {"help", no_argument, NULL, 'h'},
        {"version", no_argument, NULL, 'V'},
        {NULL, 0, NULL, 0},
    };
    *o = (options_t){0};
    static const char shortopts[] = ":hV";
    int c;
    while ((c = ex_getopt(argc, argv, shortopts, longopts)) != -1) {
        xf_backend_t be;
        long n;
        switch (c) {
            case OPT_BACKEND:
                if (strcmp(optarg, "all") != 0 && (!ex_parse_backend(optarg, &be) || be == XF_BACKEND_AUTO))
                    return ex_usage_error(PROG, NULL, "unknown backend '%s' (cpu, opencl, vulkan, all)", optarg);
                o->only = strcmp(optarg, "all") == 0 ? NULL : optarg;
                break;
            case OPT_REPS:
                if (!ex_parse_int(optarg, 1, 1000000, &n))
                    return ex_usage_error(PROG, NULL, "--reps needs a positive integer, got '%s'", optarg);
                reps = n < 3 ? 3 : (int)n;
                break;
            case OPT_QUICK:
                o->quick = true;
                time_budget = 1.0;
                break;
            case OPT_F16: gemm_dtype = XF_DTYPE_F16; break;
            case OPT_FIRST_RESULT: o->first_result = true; break;
            case OPT_MODEL: o->model_path = optarg; break;
            case OPT_BATCH:
                if (!ex_parse_int(optarg, 1, 4096, &n))
                    return ex_usage_error(PROG, NULL, "--batch needs an integer from 1 to 4096, got '%s'", optarg);
                model_batch = n;
                break;
            case OPT_WEIGHTS: {
                int w = ex_parse_word(optarg, ex_weights_words, EX_WEIGHTS_COUNT);
                if (w < 0) return ex_usage_error(PROG, NULL, "--weights takes " EX_WEIGHTS_HELP ", not '%s'", optarg);
                model_weights = (xf_model_weights_t)w;
                break;
            }
            case OPT_TUNE: {
                int t = ex_parse_word(optarg, tune_words, 3);
                if (t < 0) return ex_usage_error(PROG, NULL, "--tune takes off, fast or full, not '%s'", optarg);
                tune_mode = (xf_tune_t)t;
                break;
            }
            case OPT_JSON: o->json = true; break;
            default: return ex_common_option(PROG, usage, c, argv, shortopts);
        }
    }
    if (optind < argc) return ex_usage_error(PROG, synopsis, "unexpected argument '%s'", argv[optind]);
    if (model_batch != 1 && !o->model_path) return ex_usage_error(PROG, synopsis, "--batch needs --model");
    if (model_weights != XF_MODEL_WEIGHTS_AS_STORED && !o->model_path)
        return ex_usage_error(PROG, synopsis, "--weights needs --model");
    return -1;
}

// --model: one row per backend. Returns false when a backend did not run the model.
static bool bench_models(ex_json_t* j, const xf_backend_t* run, int nrun, const char* path) {
    bool ok = true;
    if (j) {
        ex_json_object(j, "model");
        ex_json_str(j, "path", path);
        ex_json_int(j, "reps", reps);
        ex_json_int(j, "batch", model_batch);
        ex_json_str(j, "weights", ex_weights_words[model_weights]);
        ex_json_array(j, "results");
    } else {
        printf("\n%s, batch %lld, f32 activations, linear weights as %s: weight MB on the device, load s (context + "
               "file + upload + graph), first run s, then best and median ms of up to %d runs\n\n",
               path, (long long)model_batch, ex_weights_words[model_weights], reps);
        printf("| backend (device) | weight MB | load s | first run s | best ms | median ms |\n"
               "|---|---|---|---|---|---|\n");
    }
    for (int i = 0; i < nrun; ++i) ok &= bench_xf_model(run[i], path, j);
    if (j) {
        ex_json_end_array(j);
        ex_json_end_object(j);
    }
    return ok;
}

// --first-result: cold and warm caches per GPU-API backend, each run a fresh process.
static bool bench_first_results(ex_json_t* j, const xf_backend_t* run, int nrun) {
    // Cold: empty libxformer and driver caches (XDG_CACHE_HOME also moves PoCL's kernel cache and
    // Mesa's shader cache); warm: the same directories again.
    char dir[] = "/tmp/xformer-bench-cache-XXXXXX";
    if (!mkdtemp(dir)) {
        fprintf(stderr, PROG ": cannot create a cache directory in /tmp: %s\n", strerror(errno));
        if (j) ex_json_str(j, "error", "cannot create a cache directory in /tmp");
        return false;
    }
    setenv("XDG_CACHE_HOME", dir, 1);
    unsetenv("XFORMER_CACHE_DIR");
    unsetenv("POCL_CACHE_DIR");
    unsetenv("MESA_SHADER_CACHE_DIR");
    if (j) {
        ex_json_object(j, "first_result");
        ex_json_array(j, "results");
    } else {
        printf("\nTime to first result (context creation to first ViT-block output, fresh process), seconds\n\n");
        printf("| backend | cold caches | warm caches |\n|---|---|---|\n");
    }
    bool ok = true;
    for (int i = 0; i < nrun; ++i) {
        if (run[i] == XF_BACKEND_CPU) continue;
        char sub[300];
        snprintf(sub, sizeof sub, "%s/%s", dir, xf_backend_name(run[i]));
        setenv("XDG_CACHE_HOME", sub, 1);
        double cold = first_result_run(xf_backend_name(run[i]));
        double warm = first_result_run(xf_backend_name(run[i]));
        double warm2 = first_result_run(xf_backend_name(run[i]));
        if (warm2 >= 0 && warm2 < warm) warm = warm2;
        if (cold < 0 || warm < 0) {
            fprintf(stderr, PROG ": %s: the first-result run failed\n", xf_backend_name(run[i]));
            ok = false;
        }
        if (j) {
            ex_json_object(j, NULL);
            ex_json_str(j, "backend", xf_backend_name(run[i]));
            ex_json_num(j, "cold_s", cold >= 0 ? cold : NAN, 6);
            ex_json_num(j, "warm_s", warm >= 0 ? warm : NAN, 6);
            ex_json_end_object(j);
        } else {
            printf("| %s | %.2f | %.2f |\n", xf_backend_name(run[i]), cold, warm);
            fflush(stdout);
        }
    }
    if (j) {
        ex_json_end_array(j);
        ex_json_end_object(j);
    }
    nftw(dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
    return ok;
}

// The SGEMM table: libxformer on each backend, then the peers. Returns false when a libxformer GEMM failed.
static bool bench_gemms(ex_json_t* j, const xf_backend_t* run, const xf_device_info_t* infos, int nrun, bool quick,
                        long ncpu) {
    const char* cl_device = NULL;
    for (int i = 0; i < nrun; ++i) {
        if (run[i] == XF_BACKEND_OPENCL) cl_device = infos[i].name;
    }
    (void)cl_device;  // only CLBlast needs it
    if (j) {
        ex_json_object(j, "gemm");
        ex_json_int(j, "reps", reps);
        ex_json_int(j, "warmups", 2);
        ex_json_array(j, "shapes");
    } else {
        printf("\nSGEMM GFLOP/s, best [median] of up to %d runs after 2 warm-ups (MxKxN; B^T = linear weight "
               "[N,K])\n\n",
               reps);
        printf("| shape |");
        for (int i = 0; i < nrun; ++i) printf(" xformer %s %s |", xf_backend_name(run[i]), xf_dtype_name(gemm_dtype));
#ifdef XF_BENCH_CLBLAST
        if (cl_device) printf(" CLBlast (same device) |");
#endif
#ifdef XF_BENCH_OPENBLAS
        printf(" OpenBLAS 1 thr | OpenBLAS %ld thr |", ncpu);
#endif
        printf("\n|---|");
        for (int i = 0; i < nrun; ++i) printf("---|");
#ifdef XF_BENCH_CLBLAST
        if (cl_device) printf("---|");
#endif
#ifdef XF_BENCH_OPENBLAS
        printf("---|---|");
#endif
        printf("\n");
    }
    bool ok = true;
    for (size_t si = 0; si < NSHAPES; ++si) {
        const shape_t* s = &shapes[si];
        if (quick && si == 1) continue;
        if (j) {
            ex_json_object(j, NULL);
            ex_json_str(j, "name", s->name);
            ex_json_int(j, "m", s->m);
            ex_json_int(j, "k", s->k);
            ex_json_int(j, "n", s->n);
            ex_json_bool(j, "transpose_b", s->transpose_b);
            ex_json_array(j, "results");
        } else {
            printf("| %s |", s->name);
            fflush(stdout);
        }
        for (int i = 0; i < nrun; ++i) {
            stats_t st = bench_xf_gemm(run[i], s);
            ok &= st.ok;
            gemm_result(j, s, st, "libxformer", xf_backend_name(run[i]), gemm_dtype, 0);
        }
#ifdef XF_BENCH_CLBLAST
        if (cl_device) gemm_result(j, s, bench_clblast(cl_device, s), "clblast", "opencl", XF_DTYPE_F32, 0);
#endif
#ifdef XF_BENCH_OPENBLAS
        gemm_result(j, s, bench_openblas(s, 1), "openblas", NULL, XF_DTYPE_F32, 1);
        gemm_result(j, s, bench_openblas(s, (int)ncpu), "openblas", NULL, XF_DTYPE_F32, (int)ncpu);
#endif
        if (j) {
            ex_json_end_array(j);
            ex_json_end_object(j);
        } else {
            printf("\n");
            fflush(stdout);
        }
    }
    if (j) {
        ex_json_end_array(j);
        ex_json_end_object(j);
    }
    return ok;
}

// The ViT-B/16 block table. Returns false when a backend did not run the block.
static bool bench_blocks(ex_json_t* j, const xf_backend_t* run, int nrun) {
    if (j) {
        ex_json_object(j, "block");
        ex_json_int(j, "dim", 768);
        ex_json_int(j, "heads", 12);
        ex_json_int(j, "mlp", 3072);
        ex_json_int(j, "tokens", 197);
        ex_json_str(j, "dtype", "f32");
        ex_json_array(j, "results");
    } else {
        printf("\nViT-B/16 block (dim 768, 12 heads, MLP 3072, 197 tokens, f32), latency ms best [median]\n\n");
        printf("| backend | best ms | median ms |\n|---|---|---|\n");
    }
    bool ok = true;
    for (int i = 0; i < nrun; ++i) {
        stats_t st = bench_xf_block(run[i]);
        ok &= st.ok;
        if (j) {
            ex_json_object(j, NULL);
            ex_json_str(j, "backend", xf_backend_name(run[i]));
            ex_json_num(j, "best_ms", st.ok ? st.best * 1e3 : NAN, 6);
            ex_json_num(j, "median_ms", st.ok ? st.median * 1e3 : NAN, 6);
            ex_json_end_object(j);
        } else if (st.ok) {
            printf("| %s | %.2f | %.2f |\n", xf_backend_name(run[i]), st.best * 1e3, st.median * 1e3);
        } else {
            printf("| %s | n/a | n/a |\n", xf_backend_name(run[i]));
        }
        fflush(stdout);
    }
    if (j) {
        ex_json_end_array(j);
        ex_json_end_object(j);
    }
    return ok;
}

int main(int argc, char** argv) {
#ifdef XF_BENCH_OPENBLAS
    const char* coretype = openblas_coretype();
    if (!getenv("OPENBLAS_CORETYPE") && coretype) {
        setenv("OPENBLAS_CORETYPE", coretype, 1);
        execv("/proc/self/exe", argv);
    }
#endif
    // The child process of --first-result: internal, so outside the options users see.
    if (argc == 3 && strcmp(argv[1], "--first-result-child") == 0) {
        xf_backend_t child = XF_BACKEND_CPU;
        if (xf_backend_from_name(argv[2], &child) != XF_OK) {
            fprintf(stderr, PROG ": %s\n", xf_last_error());
            return 2;
        }
        return first_result_child(child);
    }
    options_t o;
    int rc = parse_args(argc, argv, &o);
    if (rc >= 0) return rc;
    xf_backend_t all[8];
    int nall = (int)xf_backend_list(all, 8);
    xf_backend_t run[8];
    xf_device_info_t infos[8];
    int nrun = 0;
    for (int i = 0; i < nall; ++i) {
        if (o.only && strcmp(o.only, xf_backend_name(all[i])) != 0) continue;
        if (!xf_backend_compiled(all[i])) continue;
        xf_context_t* ctx = open_backend(all[i], &infos[nrun]);
        if (!ctx) continue;
        xf_context_destroy(ctx);
        run[nrun++] = all[i];
    }
    char date[64];
    time_t t = time(NULL);
    strftime(date, sizeof date, "%Y-%m-%d %H:%M UTC", gmtime(&t));
    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    ex_json_t json;
    ex_json_t* j = o.json ? ex_json_document(&json, PROG) : NULL;
    if (j) {
        ex_json_str(j, "date", date);
        ex_json_int(j, "cpus", ncpu);
        ex_json_str(j, "dtype", xf_dtype_name(gemm_dtype));
        ex_json_str(j, "tune", tune_words[tune_mode]);
        ex_json_array(j, "backends");
        for (int i = 0; i < nrun; ++i) {
            ex_json_object(j, NULL);
            ex_json_device_fields(j, &infos[i]);
            ex_json_end_object(j);
        }
        ex_json_end_array(j);
    } else {
        printf("# xformer-bench, %s, %ld CPUs online\n\n", date, ncpu);
        for (int i = 0; i < nrun; ++i) {
            printf("- %s: %s (%s, %s), kernel style %s\n", xf_backend_name(run[i]), infos[i].name,
                   infos[i].platform, infos[i].driver_version, infos[i].kernel_style);
        }
    }
    bool ok;
    if (nrun == 0) {
        char msg[300];
        snprintf(msg, sizeof msg, "no backend to run%s%s%s", o.only ? " (" : "", o.only ? o.only : "",
                 o.only ? " is not available)" : "");
        fprintf(stderr, PROG ": %s\n", msg);
        if (j) ex_json_str(j, "error", msg);
        ok = false;
    } else if (o.model_path) {
        ok = bench_models(j, run, nrun, o.model_path);
    } else if (o.first_result) {
        ok = bench_first_results(j, run, nrun);
    } else {
        ok = bench_gemms(j, run, infos, nrun, o.quick, ncpu);
        ok &= bench_blocks(j, run, nrun);
    }
    if (j) ex_json_end(j);
    return ok ? 0 : 1;
}
