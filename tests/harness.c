// SPDX-License-Identifier: MIT
#include "harness.h"

#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core.h"
#include "../backends/common/xf_tune.h"

static bool parse_column(const char* word, xf_test_column_t* col) {
    memset(col, 0, sizeof *col);
    snprintf(col->name, sizeof col->name, "%s", word);
    char buf[48];
    snprintf(buf, sizeof buf, "%s", word);
    char* save = NULL;
    char* base = strtok_r(buf, "+", &save);
    xf_status_t st = base ? xf_backend_from_name(base, &col->backend) : XF_ERR_INVALID_ARGUMENT;
    if ((st != XF_OK && st != XF_ERR_UNAVAILABLE) || col->backend == XF_BACKEND_AUTO) return false;
    for (char* m = strtok_r(NULL, "+", &save); m; m = strtok_r(NULL, "+", &save)) {
        if (strcmp(m, "gpu") == 0) col->kernels = XF_KERNELS_GPU;
        else if (strcmp(m, "cpu") == 0) col->kernels = XF_KERNELS_CPU;
        else if (strcmp(m, "fused") == 0) col->attention = XF_ATTENTION_FUSED;
        else if (strcmp(m, "split") == 0) col->attention = XF_ATTENTION_SPLIT;
        else if (strcmp(m, "nofp16") == 0) col->disable_features |= XF_FEATURE_FP16;
        else if (strcmp(m, "nosubgroup") == 0) col->disable_features |= XF_FEATURE_SUBGROUP;
        else if (strcmp(m, "tuned") == 0) col->tune = XF_TUNE_FAST;
        else if (strcmp(m, "smallbind") == 0) col->max_binding_bytes = XF_TEST_SMALL_BINDING;
        else return false;
    }
    return true;
}

// Appends column |word| unless a column of that name is already there.
static void add_column(xf_test_column_t* out, int* n, int capacity, const char* word, bool requested) {
    for (int i = 0; i < *n; ++i) {
        if (strcmp(out[i].name, word) == 0) return;
    }
    if (*n >= capacity) return;
    if (!parse_column(word, &out[*n])) {
        // An unknown name becomes a column that fails, so typos cannot pass silently.
        memset(&out[*n], 0, sizeof out[*n]);
        snprintf(out[*n].name, sizeof out[*n].name, "%s", word);
        out[*n].backend = XF_BACKEND_FROM_ENV;
    }
    out[*n].requested = requested;
    ++*n;
}

// Appends the variant columns ("NAME+gpu", ...) of backend row |row|.
static void add_variants(xf_test_column_t* out, int* n, int capacity, const xf_backend_entry_t* row, bool requested) {
    char list[128];
    snprintf(list, sizeof list, "%s", row->test_variants ? row->test_variants : "");
    char* save = NULL;
    for (char* v = strtok_r(list, " ", &save); v; v = strtok_r(NULL, " ", &save)) {
        char word[48];
        snprintf(word, sizeof word, "%s+%s", row->name, v);
        add_column(out, n, capacity, word, requested);
    }
}

static int columns(xf_test_column_t* out, int capacity, bool op_variants) {
    const char* env = getenv("XFORMER_TEST_BACKENDS");
    const char* variants = getenv("XFORMER_TEST_VARIANTS");
    bool with_variants = !(variants && strcmp(variants, "0") == 0);
    size_t rows_n = 0;
    const xf_backend_entry_t* rows = xf_backend_entries(&rows_n);
    int n = 0;
    if (variants && strcmp(variants, "0") != 0 && strcmp(variants, "1") != 0) {
        char word[48];
        snprintf(word, sizeof word, "XFORMER_TEST_VARIANTS=%s", variants);
        add_column(out, &n, capacity, word, true);
    }
    if (env && *env) {
        char buf[256];
        snprintf(buf, sizeof buf, "%s", env);
        char* save = NULL;
        for (char* tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
            add_column(out, &n, capacity, tok, true);
        }
        if (op_variants && with_variants) {
            int listed = n;
            for (size_t r = 0; r < rows_n; ++r) {
                bool present = false;
                for (int i = 0; i < listed; ++i) present |= out[i].backend == rows[r].kind;
                if (present) add_variants(out, &n, capacity, &rows[r], true);
            }
        }
        return n;
    }
    for (size_t r = 0; r < rows_n; ++r) {
        if (!rows[r].vtable) continue;
        add_column(out, &n, capacity, rows[r].name, false);
        if (with_variants) add_variants(out, &n, capacity, &rows[r], false);
    }
    return n;
}

int xf_test_columns(xf_test_column_t* out, int capacity) { return columns(out, capacity, false); }

int xf_test_op_columns(xf_test_column_t* out, int capacity) { return columns(out, capacity, true); }

bool xf_test_open(const xf_test_column_t* col, xf_context_t** out, bool* skip, char* why, size_t why_size) {
    *skip = false;
    *out = NULL;
    if (col->backend == XF_BACKEND_FROM_ENV) {
        snprintf(why, why_size, "unknown column '%s' (XFORMER_TEST_BACKENDS; XFORMER_TEST_VARIANTS is 0 or 1)",
                 col->name);
        return false;
    }
    xf_context_options_t opts;
    xf_context_options_init(&opts);
    opts.backend = col->backend;
    opts.device = 0;
    opts.kernels = col->kernels;
    opts.attention = col->attention;
    opts.disable_features = col->disable_features;
    opts.max_binding_bytes = col->max_binding_bytes;
    opts.tune = col->tune;
    xf_status_t st = xf_context_create(&opts, out);
    if (st == XF_OK) return true;
    snprintf(why, why_size, "column %s: %s: %s", col->name, xf_status_string(st), xf_last_error());
    *skip = !col->requested && (st == XF_ERR_UNAVAILABLE);
    return false;
}

static void free_column_params(struct criterion_test_params* params) { cr_free(params->params); }

struct criterion_test_params xf_test_column_params(void) {
    xf_test_column_t cols[XF_TEST_MAX_COLUMNS];
    int n = xf_test_columns(cols, XF_TEST_MAX_COLUMNS);
    int* p = cr_malloc(sizeof(int) * (size_t)(n ? n : 1));
    for (int i = 0; i < n; ++i) p[i] = i;
    return cr_make_param_array(int, p, (size_t)n, free_column_params);
}

xf_context_t* xf_test_column_context(int index, xf_test_column_t* out_col) {
    xf_test_column_t cols[XF_TEST_MAX_COLUMNS];
    xf_test_columns(cols, XF_TEST_MAX_COLUMNS);
    if (out_col) *out_col = cols[index];
    char why[512];
    bool skip;
    xf_context_t* ctx = NULL;
    if (!xf_test_open(&cols[index], &ctx, &skip, why, sizeof why)) {
        if (skip) cr_skip_test("%s", why);
        cr_assert_fail("%s", why);
    }
    return ctx;
}

bool xf_test_backend_required(xf_backend_t backend) {
    xf_test_column_t cols[XF_TEST_MAX_COLUMNS];
    int n = xf_test_columns(cols, XF_TEST_MAX_COLUMNS);
    for (int i = 0; i < n; ++i) {
        if (cols[i].requested && cols[i].backend == backend) return true;
    }
    return false;
}

xf_test_column_t xf_test_base_column(int index, const char* why) {
    xf_test_column_t cols[XF_TEST_MAX_COLUMNS];
    cr_assert_lt(index, xf_test_columns(cols, XF_TEST_MAX_COLUMNS));
    if (strchr(cols[index].name, '+')) cr_skip_test("%s: kernel variants do not change %s", cols[index].name, why);
    return cols[index];
}

xf_context_t* xf_test_context(xf_backend_t backend) {
    xf_context_t* ctx = NULL;
    xf_status_t st = xf_test_create(backend, XF_TUNE_OFF, &ctx);
    if (st == XF_ERR_UNAVAILABLE && !xf_test_backend_required(backend)) {
        cr_skip_test("no %s device: %s", xf_backend_name(backend), xf_last_error());
    }
    cr_assert_eq(st, XF_OK, "%s: %s", xf_backend_name(backend), xf_last_error());
    return ctx;
}

float xf_rng_uniform(xf_rng_t* rng, float lo, float hi) {
    rng->state = rng->state * 6364136223846793005ULL + 1442695040888963407ULL;
    uint32_t bits = (uint32_t)(rng->state >> 40);
    return lo + (hi - lo) * (float)bits / 16777216.0f;
}

bool xf_test_poison(xf_graph_t* graph) {
    if (xf_graph_plan(graph) != XF_OK) return false;
    if (!graph->npools) return true;
    xf_context_t* ctx = graph->context;
    size_t n = graph->plan.pool_bytes, seg = graph->plan.segment && graph->plan.segment < n ? graph->plan.segment : n;
    unsigned char* nan = malloc(seg);
    if (!nan) return false;
    // 0xFF bytes are NaN in f32 and f16 and -1 in i32.
    memset(nan, 0xff, seg);
    xf_err_t err;
    bool ok = true;
    for (size_t i = 0; i < graph->npools && ok; ++i) {
        size_t bytes = i + 1 < graph->npools ? seg : n - i * seg;
        ok = ctx->backend->buffer_write(ctx->device, graph->pools[i], 0, nan, bytes, &err) == XF_OK;
    }
    free(nan);
    return ok;
}

bool xf_test_close(const float* got, const float* want, int64_t n, float atol, float rtol, char* why,
                   size_t why_size) {
    for (int64_t i = 0; i < n; ++i) {
        float d = fabsf(got[i] - want[i]);
        if (!(d <= atol + rtol * fabsf(want[i]))) {
            snprintf(why, why_size, "element %lld: got %.7g, want %.7g (|diff| %.3g > %.3g + %.3g*|want|)",
                     (long long)i, got[i], want[i], d, atol, rtol);
            return false;
        }
    }
    return true;
}

static bool add_weight(xf_context_t* ctx, const char* prefix, const char* name, const char* suffix, xf_dtype_t dt,
                       int ndim, const int64_t* shape, float lo, float hi, xf_rng_t* rng) {
    char full[256];
    snprintf(full, sizeof full, "%s%s%s", prefix, name, suffix);
    int64_t n = 1;
    for (int i = 0; i < ndim; ++i) n *= shape[i];
    float* v = malloc(sizeof(float) * (size_t)n);
    for (int64_t i = 0; i < n; ++i) v[i] = xf_rng_uniform(rng, lo, hi);
    xf_tensor_t* t;
    bool ok = xf_tensor_create(ctx, full, dt, ndim, shape, &t) == XF_OK &&
              xf_tensor_upload_f32(t, v, (size_t)n) == XF_OK;
    free(v);
    return ok;
}

bool xf_test_block_weights(xf_context_t* ctx, const char* prefix, const xf_block_desc_t* d, xf_dtype_t dt,
                           xf_rng_t* rng) {
    xf_block_names_t n = {"norm1", "attn.qkv", "attn.q",  "attn.k",     "attn.v",  "attn.proj",   "attn.sr",
                          "attn.norm", "norm2", "mlp.fc1", "mlp.dwconv", "mlp.fc2", "attn.q_norm", "attn.k_norm"};
    if (d->names) {
        const char** dst = (const char**)&n;
        const char* const* src = (const char* const*)d->names;
        for (size_t i = 0; i < sizeof n / sizeof(char*); ++i) {
            if (src[i]) dst[i] = src[i];
        }
    }
    int64_t c = d->dim, h = d->mlp_hidden;
    float wc = 1.0f / sqrtf((float)c), wh = 1.0f / sqrtf((float)h);
    bool ok = add_weight(ctx, prefix, n.norm1, ".weight", dt, 1, (int64_t[]){c}, 0.5f, 1.5f, rng) &&
              add_weight(ctx, prefix, n.norm1, ".bias", dt, 1, (int64_t[]){c}, -0.2f, 0.2f, rng) &&
              add_weight(ctx, prefix, n.norm2, ".weight", dt, 1, (int64_t[]){c}, 0.5f, 1.5f, rng) &&
              add_weight(ctx, prefix, n.norm2, ".bias", dt, 1, (int64_t[]){c}, -0.2f, 0.2f, rng) &&
              add_weight(ctx, prefix, n.proj, ".weight", dt, 2, (int64_t[]){c, c}, -wc, wc, rng) &&
              add_weight(ctx, prefix, n.proj, ".bias", dt, 1, (int64_t[]){c}, -0.1f, 0.1f, rng) &&
              add_weight(ctx, prefix, n.fc1, ".weight", dt, 2, (int64_t[]){h, c}, -wc, wc, rng) &&
              add_weight(ctx, prefix, n.fc1, ".bias", dt, 1, (int64_t[]){h}, -0.1f, 0.1f, rng) &&
              add_weight(ctx, prefix, n.fc2, ".weight", dt, 2, (int64_t[]){c, h}, -wh, wh, rng) &&
              add_weight(ctx, prefix, n.fc2, ".bias", dt, 1, (int64_t[]){c}, -0.1f, 0.1f, rng);
    bool fused = n.qkv[0] && d->sr_ratio <= 1;
    if (fused) {
        ok = ok && add_weight(ctx, prefix, n.qkv, ".weight", dt, 2, (int64_t[]){3 * c, c}, -wc, wc, rng);
        if (d->qkv_bias) ok = ok && add_weight(ctx, prefix, n.qkv, ".bias", dt, 1, (int64_t[]){3 * c}, -0.1f, 0.1f, rng);
    } else {
        const char* qkv[3] = {n.q, n.k, n.v};
        for (int i = 0; i < 3; ++i) {
            ok = ok && add_weight(ctx, prefix, qkv[i], ".weight", dt, 2, (int64_t[]){c, c}, -wc, wc, rng);
            if (d->qkv_bias) ok = ok && add_weight(ctx, prefix, qkv[i], ".bias", dt, 1, (int64_t[]){c}, -0.1f, 0.1f, rng);
        }
    }
    if (d->sr_ratio > 1) {
        int64_t r = d->sr_ratio;
        float ws = 1.0f / sqrtf((float)(c * r * r));
        ok = ok && add_weight(ctx, prefix, n.sr, ".weight", dt, 4, (int64_t[]){c, c, r, r}, -ws, ws, rng) &&
             add_weight(ctx, prefix, n.sr, ".bias", dt, 1, (int64_t[]){c}, -0.1f, 0.1f, rng) &&
             add_weight(ctx, prefix, n.sr_norm, ".weight", dt, 1, (int64_t[]){c}, 0.5f, 1.5f, rng) &&
             add_weight(ctx, prefix, n.sr_norm, ".bias", dt, 1, (int64_t[]){c}, -0.2f, 0.2f, rng);
    }
    if (d->qk_norm) {
        int64_t hd = c / d->heads;
        ok = ok && add_weight(ctx, prefix, n.q_norm, ".weight", dt, 1, (int64_t[]){hd}, 0.5f, 1.5f, rng) &&
             add_weight(ctx, prefix, n.q_norm, ".bias", dt, 1, (int64_t[]){hd}, -0.2f, 0.2f, rng) &&
             add_weight(ctx, prefix, n.k_norm, ".weight", dt, 1, (int64_t[]){hd}, 0.5f, 1.5f, rng) &&
             add_weight(ctx, prefix, n.k_norm, ".bias", dt, 1, (int64_t[]){hd}, -0.2f, 0.2f, rng);
    }
    if (d->mix_ffn) {
        ok = ok && add_weight(ctx, prefix, n.dwconv, ".weight", dt, 4, (int64_t[]){h, 1, 3, 3}, -0.3f, 0.3f, rng) &&
             add_weight(ctx, prefix, n.dwconv, ".bias", dt, 1, (int64_t[]){h}, -0.1f, 0.1f, rng);
    }
    return ok;
}

bool xf_test_linear_ok(xf_context_t* ctx, int rounds, uint64_t seed, xf_graph_stats_t* out_stats, char* why,
                       size_t why_size) {
    enum { M = 7, K = XF_TEST_LINEAR_K, N = XF_TEST_LINEAR_N };
    float xs[M * K], ws[N * K], out[M * N];
    xf_graph_t* g = NULL;
    xf_tensor_t *x, *w = NULL, *y;
    bool ok = false;
    xf_rng_t rng = {seed};
    for (int i = 0; i < M * K; ++i) xs[i] = xf_rng_uniform(&rng, -1.0f, 1.0f);
    if (xf_graph_create(ctx, &g) != XF_OK || xf_graph_input(g, "x", XF_DTYPE_F32, 2, (int64_t[]){M, K}, &x) != XF_OK ||
        xf_tensor_create(ctx, "w", XF_DTYPE_F32, 2, (int64_t[]){N, K}, &w) != XF_OK ||
        xf_linear(g, x, w, NULL, &y) != XF_OK || xf_graph_mark_output(g, y) != XF_OK ||
        xf_tensor_upload(x, xs, sizeof xs) != XF_OK) {
        snprintf(why, why_size, "building the graph: %s", xf_context_error(ctx));
        goto done;
    }
    for (int round = 0; round < rounds; ++round) {
        for (int i = 0; i < N * K; ++i) ws[i] = xf_rng_uniform(&rng, -1.0f, 1.0f);
        if (xf_tensor_upload(w, ws, sizeof ws) != XF_OK || xf_graph_compute(g) != XF_OK ||
            xf_tensor_download(y, out, sizeof out) != XF_OK) {
            snprintf(why, why_size, "round %d: %s", round, xf_context_error(ctx));
            goto done;
        }
        for (int i = 0; i < M; ++i)
            for (int j = 0; j < N; ++j) {
                float want = 0;
                for (int k = 0; k < K; ++k) want += xs[i * K + k] * ws[j * K + k];
                if (!(fabsf(out[i * N + j] - want) <= 1e-4f)) {
                    snprintf(why, why_size, "round %d, [%d, %d]: %g, expected %g", round, i, j, out[i * N + j],
                             want);
                    goto done;
                }
            }
    }
    ok = !out_stats || xf_graph_stats(g, out_stats) == XF_OK;
    if (!ok) snprintf(why, why_size, "graph stats: %s", xf_context_error(ctx));
done:
    xf_graph_destroy(g);
    xf_tensor_destroy(w);
    return ok;
}

void xf_test_linear_rounds(xf_context_t* ctx, int rounds, uint64_t seed, xf_graph_stats_t* out_stats) {
    char why[256];
    cr_assert(xf_test_linear_ok(ctx, rounds, seed, out_stats, why, sizeof why), "%s", why);
}

xf_status_t xf_test_create(xf_backend_t backend, xf_tune_t tune, xf_context_t** out) {
    xf_context_options_t opts;
    xf_context_options_init(&opts);
    opts.backend = backend;
    opts.device = 0;
    opts.tune = tune;
    *out = NULL;
    return xf_context_create(&opts, out);
}

int xf_test_linear_child(xf_backend_t backend, xf_tune_t tune, uint64_t seed) {
    // A hung child would otherwise hang the test that waits for it.
    alarm(300);
    xf_context_t* ctx = NULL;
    xf_status_t st = xf_test_create(backend, tune, &ctx);
    if (st == XF_ERR_UNAVAILABLE && !xf_test_backend_required(backend)) return XF_TEST_CHILD_NO_DEVICE;
    if (st != XF_OK) {
        fprintf(stderr, "child: %s\n", xf_last_error());
        return 1;
    }
    char why[1024];
    bool ok = xf_test_linear_ok(ctx, 1, seed, NULL, why, sizeof why);
    if (!ok) fprintf(stderr, "child: %s\n", why);
    xf_context_destroy(ctx);
    return ok ? 0 : 1;
}

int xf_test_tuning_child(xf_backend_t backend, uint64_t seed) {
    int code = xf_test_linear_child(backend, XF_TUNE_FAST, seed);
    if (code) return code;
    xf_tune_stats_t s;
    xf_tune_stats(&s);
    if (s.tuned >= 1 && s.writes >= 1) return 0;
    fprintf(stderr, "tuning child: tuned %d shapes, wrote %d files\n", (int)s.tuned, (int)s.writes);
    return 1;
}
