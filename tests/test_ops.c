// SPDX-License-Identifier: MIT
// The op table: every operator case runs on every backend column and kernel-variant column (the
// backend registry's test_variants) and dtype, against a naive reference written here (independent
// of any backend), on random inputs with awkward shapes and NaN-poisoned outputs. A new op's test is
// a new row of |cases|; a new backend is a new column. XFORMER_TEST_SMALL=1 keeps the rows not marked
// big (the oclgrind run); XFORMER_TEST_OPS=TEXT keeps the rows whose name contains TEXT.
#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend.h"
#include "core.h"
#include "harness.h"

#define MAX_IN 6

typedef struct {
    xf_graph_t* g;
    xf_dtype_t dt;
    xf_rng_t rng;
    int nin;
    xf_tensor_t* in[MAX_IN];
    float* host[MAX_IN];
    int64_t shape[MAX_IN][4];  // padded to 4 dims, outermost first
    float* want;               // reference result, filled by the case
    int64_t want_n;
    bool failed;
} tc_t;

static int64_t numel4(const int64_t* s) { return s[0] * s[1] * s[2] * s[3]; }

// |v| as storage type |dt| holds it.
static float round_to(xf_dtype_t dt, float v) {
    return dt == XF_DTYPE_F16 ? xf_f16_to_f32(xf_f32_to_f16(v)) : dt == XF_DTYPE_BF16 ? xf_bf16_to_f32(xf_f32_to_bf16(v)) : v;
}

// The dtypes of the table: f32, f16, and bf16 where the column's backend stores it.
static const xf_dtype_t dtypes[] = {XF_DTYPE_F32, XF_DTYPE_F16, XF_DTYPE_BF16};
#define NUM_DTYPES (sizeof dtypes / sizeof dtypes[0])

// A random graph input of storage type |dt|; values rounded to it so the reference sees what the device sees.
static xf_tensor_t* input_as(tc_t* tc, xf_dtype_t dt, int ndim, const int64_t* shape, float lo, float hi) {
    int i = tc->nin++;
    int64_t n = 1;
    for (int d = 0; d < 4; ++d) tc->shape[i][d] = d < 4 - ndim ? 1 : shape[d - (4 - ndim)];
    for (int d = 0; d < ndim; ++d) n *= shape[d];
    tc->host[i] = malloc(sizeof(float) * (size_t)n);
    for (int64_t j = 0; j < n; ++j) {
        float v = xf_rng_uniform(&tc->rng, lo, hi);
        tc->host[i][j] = round_to(dt, v);
    }
    cr_assert_eq(xf_graph_input(tc->g, "in", dt, ndim, shape, &tc->in[i]), XF_OK, "%s", xf_last_error());
    cr_assert_eq(xf_tensor_upload_f32(tc->in[i], tc->host[i], (size_t)n), XF_OK, "%s", xf_last_error());
    return tc->in[i];
}

static xf_tensor_t* input(tc_t* tc, int ndim, const int64_t* shape, float lo, float hi) {
    return input_as(tc, tc->dt, ndim, shape, lo, hi);
}

static float* expect(tc_t* tc, int64_t n) {
    tc->want = calloc((size_t)n, sizeof(float));
    tc->want_n = n;
    return tc->want;
}

// The broadcast shape |so| of |sa| and |sb| (same rank), and the reference buffer for it.
static float* expect_broadcast(tc_t* tc, const int64_t* sa, const int64_t* sb, int64_t so[4]) {
    for (int d = 0; d < 4; ++d) so[d] = sa[d] > sb[d] ? sa[d] : sb[d];
    return expect(tc, numel4(so));
}

// Every index (i0, i1, i2, i3) of padded shape |s|, in row-major order.
#define FOR4(s)                                      \
    for (int64_t i0 = 0; i0 < (s)[0]; ++i0)          \
        for (int64_t i1 = 0; i1 < (s)[1]; ++i1)      \
            for (int64_t i2 = 0; i2 < (s)[2]; ++i2)  \
                for (int64_t i3 = 0; i3 < (s)[3]; ++i3)

// Index of (i0..i3) into a padded shape with size-1 dims broadcasting.
static int64_t bidx(const int64_t* s, int64_t i0, int64_t i1, int64_t i2, int64_t i3) {
    return (((s[0] == 1 ? 0 : i0) * s[1] + (s[1] == 1 ? 0 : i1)) * s[2] + (s[2] == 1 ? 0 : i2)) * s[3] +
           (s[3] == 1 ? 0 : i3);
}

static double act_ref(xf_activation_t a, double x) {
    switch (a) {
        case XF_ACT_GELU: return 0.5 * x * (1.0 + erf(x / sqrt(2.0)));
        case XF_ACT_GELU_TANH: return 0.5 * x * (1.0 + tanh(sqrt(2.0 / M_PI) * (x + 0.044715 * x * x * x)));
        case XF_ACT_SILU: return x / (1.0 + exp(-x));
        case XF_ACT_RELU: return x > 0 ? x : 0;
        case XF_ACT_QUICK_GELU: return x / (1.0 + exp(-1.702 * x));
        default: return x;
    }
}

#define OK(expr) cr_assert_eq((expr), XF_OK, "%s", xf_last_error())

//===----------------------------------------------------------------------===//
// Cases. Each builds its graph from random inputs, returns the result tensor and fills tc->want.
//===----------------------------------------------------------------------===//

// p: [batch0, batch1, M, K, N, b_batch0, b_batch1, flags, weight]; flags: 1 transpose_b, 2 bias, 4 residual,
// act<<4; weight: B's own storage type (W_F32, W_F16, W_BF16), int8 quantized (W_Q8C: per output channel, f32
// scales; W_Q8B: blocks of 32 along K, f16 scales; W_Q8C16: per channel, f16 scales), or 0 for the row's dtype.
enum { W_F32 = 1, W_F16, W_BF16, W_Q8C, W_Q8B, W_Q8C16 };

// A random int8 weight [n, k] with scales of mixed sign and magnitude (over three decades); the
// reference's copy in a new tc->host slot holds the values it means.
static xf_tensor_t* quantized_weight(tc_t* tc, int64_t n, int64_t k, int kind) {
    xf_context_t* ctx = tc->g->context;
    int64_t blocks = kind == W_Q8B ? (k + 31) / 32 : 1;
    xf_dtype_t sdt = kind == W_Q8C ? XF_DTYPE_F32 : XF_DTYPE_F16;
    int8_t* q = malloc((size_t)(n * k));
    float* s = malloc(sizeof(float) * (size_t)(n * blocks));
    for (int64_t i = 0; i < n * k; ++i) q[i] = (int8_t)lrintf(xf_rng_uniform(&tc->rng, -127.49f, 127.49f));
    for (int64_t i = 0; i < n * blocks; ++i) {
        float mag = powf(10.0f, xf_rng_uniform(&tc->rng, -2.0f, 1.0f)) / 127.0f;
        s[i] = round_to(sdt, xf_rng_uniform(&tc->rng, -1, 1) < 0 ? -mag : mag);
    }
    xf_tensor_t *w, *scale;
    OK(xf_tensor_create(ctx, NULL, XF_DTYPE_I8, 2, (int64_t[]){n, k}, &w));
    OK(xf_tensor_upload(w, q, (size_t)(n * k)));
    OK(xf_tensor_create(ctx, NULL, sdt, kind == W_Q8B ? 2 : 1, (int64_t[]){n, blocks}, &scale));
    OK(xf_tensor_upload_f32(scale, s, (size_t)(n * blocks)));
    OK(xf_tensor_set_scale(w, scale));
    int i = tc->nin++;
    tc->in[i] = w;
    tc->host[i] = malloc(sizeof(float) * (size_t)(n * k));
    for (int64_t j = 0; j < n; ++j)
        for (int64_t c = 0; c < k; ++c) tc->host[i][j * k + c] = (float)q[j * k + c] * s[j * blocks + c / 32 % blocks];
    free(q);
    free(s);
    return w;
}

static xf_tensor_t* case_matmul(tc_t* tc, const int* p) {
    int64_t b0 = p[0], b1 = p[1], m = p[2], k = p[3], n = p[4], c0 = p[5], c1 = p[6];
    bool tb = p[7] & 1, has_bias = p[7] & 2, has_res = p[7] & 4;
    xf_activation_t act = (xf_activation_t)(p[7] >> 4);
    xf_dtype_t wdt = p[8] == W_F32 ? XF_DTYPE_F32 : p[8] == W_F16 ? XF_DTYPE_F16 : p[8] == W_BF16 ? XF_DTYPE_BF16 : tc->dt;
    xf_tensor_t* a = input(tc, 4, (int64_t[]){b0, b1, m, k}, -1, 1);
    xf_tensor_t* b = p[8] >= W_Q8C ? quantized_weight(tc, n, k, p[8])
                                   : input_as(tc, wdt, 4, tb ? (int64_t[]){c0, c1, n, k} : (int64_t[]){c0, c1, k, n}, -1, 1);
    xf_matmul_options_t o = {.transpose_b = tb, .activation = act};
    if (has_bias) o.bias = input(tc, 1, (int64_t[]){n}, -1, 1);
    if (has_res) o.residual = input(tc, 4, (int64_t[]){b0, b1, m, n}, -1, 1);
    const float *A = tc->host[0], *B = tc->host[1], *bias = has_bias ? tc->host[2] : NULL;
    const float* res = has_res ? tc->host[has_bias ? 3 : 2] : NULL;
    float* w = expect(tc, b0 * b1 * m * n);
    for (int64_t i0 = 0; i0 < b0; ++i0)
        for (int64_t i1 = 0; i1 < b1; ++i1)
            for (int64_t i = 0; i < m; ++i)
                for (int64_t j = 0; j < n; ++j) {
                    double acc = 0;
                    int64_t bb = ((c0 == 1 ? 0 : i0) * c1 + (c1 == 1 ? 0 : i1)) * k * n;
                    for (int64_t q = 0; q < k; ++q) {
                        acc += (double)A[((i0 * b1 + i1) * m + i) * k + q] * B[bb + (tb ? j * k + q : q * n + j)];
                    }
                    if (bias) acc += bias[j];
                    acc = act_ref(act, acc);
                    int64_t o_idx = ((i0 * b1 + i1) * m + i) * n + j;
                    if (res) acc += res[o_idx];
                    w[o_idx] = (float)acc;
                }
    xf_tensor_t* out;
    OK(xf_matmul(tc->g, a, b, &o, &out));
    return out;
}

// p: a shape (4), b shape (4), op (0 add, 1 mul, 2 sub, 3 div, 4 pow, 5 pow with integer exponents)
static xf_tensor_t* case_binary(tc_t* tc, const int* p) {
    int64_t sa[4] = {p[0], p[1], p[2], p[3]}, sb[4] = {p[4], p[5], p[6], p[7]};
    int op = p[8];
    xf_tensor_t* a = input(tc, 4, sa, op == 4 ? 0.25f : -2, 2);
    xf_tensor_t* b = input(tc, 4, sb, op == 3 ? 0.5f : op == 5 ? 0 : -2, op == 3 ? 2.5f : op == 5 ? 4 : 2);
    if (op == 5) {
        for (int64_t i = 0; i < numel4(sb); ++i) tc->host[1][i] = floorf(tc->host[1][i]);
        OK(xf_tensor_upload_f32(b, tc->host[1], (size_t)numel4(sb)));
    }
    int64_t so[4];
    float* w = expect_broadcast(tc, sa, sb, so);
    int64_t o = 0;
    FOR4(so) {
                    double x = tc->host[0][bidx(sa, i0, i1, i2, i3)], y = tc->host[1][bidx(sb, i0, i1, i2, i3)];
                    double r = op == 0 ? x + y : op == 1 ? x * y : op == 2 ? x - y : op == 3 ? x / y : pow(x, y);
                    w[o++] = (float)r;
                }
    xf_tensor_t* out;
    xf_status_t (*const fns[])(xf_graph_t*, xf_tensor_t*, xf_tensor_t*, xf_tensor_t**) = {xf_add, xf_mul, xf_sub,
                                                                                          xf_div, xf_pow, xf_pow};
    OK(fns[op](tc->g, a, b, &out));
    return out;
}

// p: rows, cols, function (0 sqrt, 1 exp, 2 erf, 3 tanh, 4 sigmoid, 5 neg, 6 abs, 7 clip [-0.7, 0.45])
static xf_tensor_t* case_math(tc_t* tc, const int* p) {
    int64_t rows = p[0], cols = p[1], n = rows * cols;
    int fn = p[2];
    static const float lo[] = {0, -5, -3, -5, -8, -2, -2, -3}, hi[] = {4, 5, 3, 5, 8, 2, 2, 3};
    xf_tensor_t* x = input(tc, 2, (int64_t[]){rows, cols}, lo[fn], hi[fn]);
    float* w = expect(tc, n);
    for (int64_t i = 0; i < n; ++i) {
        double v = tc->host[0][i];
        double r = fn == 0 ? sqrt(v) : fn == 1 ? exp(v) : fn == 2 ? erf(v) : fn == 3 ? tanh(v)
                 : fn == 4 ? 1.0 / (1.0 + exp(-v)) : fn == 5 ? -v : fn == 6 ? fabs(v)
                 : (v < -0.7 ? -0.7 : v > 0.45 ? 0.45 : v);
        w[i] = (float)r;
    }
    xf_tensor_t* out;
    xf_status_t (*const fns[])(xf_graph_t*, xf_tensor_t*, xf_tensor_t**) = {xf_sqrt, xf_exp, xf_erf, xf_tanh,
                                                                           xf_sigmoid, xf_neg, xf_abs};
    OK(fn == 7 ? xf_clip(tc->g, x, -0.7f, 0.45f, &out) : fns[fn](tc->g, x, &out));
    return out;
}

// p: shape (4), axis (of 4), op (0 sum, 1 mean, 2 max, 3 min), keepdim
static xf_tensor_t* case_reduce(tc_t* tc, const int* p) {
    int64_t s[4] = {p[0], p[1], p[2], p[3]};
    int ax = p[4], op = p[5];
    xf_tensor_t* x = input(tc, 4, s, -3, 3);
    int64_t so[4] = {s[0], s[1], s[2], s[3]};
    so[ax] = 1;
    float* w = expect(tc, numel4(so));
    int64_t o = 0;
    for (int64_t i0 = 0; i0 < so[0]; ++i0)
        for (int64_t i1 = 0; i1 < so[1]; ++i1)
            for (int64_t i2 = 0; i2 < so[2]; ++i2)
                for (int64_t i3 = 0; i3 < so[3]; ++i3) {
                    double acc = op == 2 ? -INFINITY : op == 3 ? INFINITY : 0;
                    for (int64_t j = 0; j < s[ax]; ++j) {
                        int64_t id[4] = {i0, i1, i2, i3};
                        id[ax] = j;
                        double v = tc->host[0][((id[0] * s[1] + id[1]) * s[2] + id[2]) * s[3] + id[3]];
                        acc = op == 2 ? fmax(acc, v) : op == 3 ? fmin(acc, v) : acc + v;
                    }
                    w[o++] = (float)(op == 1 ? acc / s[ax] : acc);
                }
    xf_tensor_t* out;
    xf_status_t (*const fns[])(xf_graph_t*, xf_tensor_t*, int, bool, xf_tensor_t**) = {xf_sum, xf_mean, xf_max,
                                                                                        xf_min};
    OK(fns[op](tc->g, x, ax - 4, p[6], &out));
    cr_assert_eq(xf_tensor_ndim(out), p[6] ? 4 : 3, "keepdim=%d gives %d dims", p[6], xf_tensor_ndim(out));
    return out;
}

// p: shape (4), shifts per dim (4; 0 leaves the dim out of the call)
static xf_tensor_t* case_roll(tc_t* tc, const int* p) {
    int64_t s[4] = {p[0], p[1], p[2], p[3]};
    xf_tensor_t* x = input(tc, 4, s, -1, 1);
    int axes[4], naxes = 0;
    int64_t shifts[4];
    for (int d = 0; d < 4; ++d) {
        if (p[4 + d]) {
            axes[naxes] = d == 3 ? -1 : d;
            shifts[naxes++] = p[4 + d];
        }
    }
    float* w = expect(tc, numel4(s));
    for (int64_t i0 = 0; i0 < s[0]; ++i0)
        for (int64_t i1 = 0; i1 < s[1]; ++i1)
            for (int64_t i2 = 0; i2 < s[2]; ++i2)
                for (int64_t i3 = 0; i3 < s[3]; ++i3) {
                    int64_t c[4] = {i0, i1, i2, i3}, t[4];
                    for (int d = 0; d < 4; ++d) t[d] = ((c[d] + p[4 + d]) % s[d] + s[d]) % s[d];
                    w[((t[0] * s[1] + t[1]) * s[2] + t[2]) * s[3] + t[3]] =
                        tc->host[0][((i0 * s[1] + i1) * s[2] + i2) * s[3] + i3];
                }
    xf_tensor_t* out;
    OK(xf_roll(tc->g, x, naxes, axes, shifts, &out));
    return out;
}

// p: shape (3), before (3), after (3)
static xf_tensor_t* case_pad(tc_t* tc, const int* p) {
    int64_t s[3] = {p[0], p[1], p[2]}, b[3] = {p[3], p[4], p[5]}, a[3] = {p[6], p[7], p[8]};
    xf_tensor_t* x = input(tc, 3, s, -1, 1);
    int64_t so[3] = {s[0] + b[0] + a[0], s[1] + b[1] + a[1], s[2] + b[2] + a[2]};
    float* w = expect(tc, so[0] * so[1] * so[2]);
    int64_t o = 0;
    for (int64_t i = 0; i < so[0]; ++i)
        for (int64_t j = 0; j < so[1]; ++j)
            for (int64_t k = 0; k < so[2]; ++k) {
                int64_t u = i - b[0], v = j - b[1], t = k - b[2];
                bool in = u >= 0 && u < s[0] && v >= 0 && v < s[1] && t >= 0 && t < s[2];
                w[o++] = in ? tc->host[0][(u * s[1] + v) * s[2] + t] : -1.5f;
            }
    xf_tensor_t* out;
    OK(xf_pad(tc->g, x, b, a, -1.5f, &out));
    return out;
}

// p: cond shape (4), a shape (4), b shape (4), i32 condition
static xf_tensor_t* case_where(tc_t* tc, const int* p) {
    int64_t sc[4] = {p[0], p[1], p[2], p[3]}, sa[4] = {p[4], p[5], p[6], p[7]}, sb[4] = {p[8], p[9], p[10], p[11]};
    xf_tensor_t* c = input(tc, 4, sc, -1, 1);
    for (int64_t i = 0; i < numel4(sc); ++i) tc->host[0][i] = tc->host[0][i] > 0 ? 1.0f : 0.0f;
    if (p[12]) {
        int32_t* ci = malloc(sizeof(int32_t) * (size_t)numel4(sc));
        for (int64_t i = 0; i < numel4(sc); ++i) ci[i] = tc->host[0][i] != 0 ? (int32_t)(i % 7) + 1 : 0;
        OK(xf_graph_input(tc->g, "cond", XF_DTYPE_I32, 4, sc, &c));
        OK(xf_tensor_upload(c, ci, sizeof(int32_t) * (size_t)numel4(sc)));
        free(ci);
    } else {
        OK(xf_tensor_upload_f32(c, tc->host[0], (size_t)numel4(sc)));
    }
    xf_tensor_t* a = input(tc, 4, sa, -2, 2);
    xf_tensor_t* b = input(tc, 4, sb, -2, 2);
    int64_t so[4];
    float* w = expect_broadcast(tc, sa, sb, so);
    int64_t o = 0;
    FOR4(so) {
                    bool take_a = tc->host[0][bidx(sc, i0, i1, i2, i3)] != 0;
                    w[o++] = take_a ? tc->host[1][bidx(sa, i0, i1, i2, i3)] : tc->host[2][bidx(sb, i0, i1, i2, i3)];
                }
    xf_tensor_t* out;
    OK(xf_where(tc->g, c, a, b, &out));
    return out;
}

static xf_tensor_t* case_scale(tc_t* tc, const int* p) {
    xf_tensor_t* x = input(tc, 3, (int64_t[]){p[0], p[1], p[2]}, -3, 3);
    int64_t n = (int64_t)p[0] * p[1] * p[2];
    float* w = expect(tc, n);
    for (int64_t i = 0; i < n; ++i) w[i] = tc->host[0][i] * 0.37f - 1.25f;
    xf_tensor_t* out;
    OK(xf_scale(tc->g, x, 0.37f, -1.25f, &out));
    return out;
}

// p: rows, C, flags (1 weight, 2 bias, 4 rms)
static xf_tensor_t* case_norm(tc_t* tc, const int* p) {
    int64_t rows = p[0], c = p[1];
    bool hw = p[2] & 1, hb = p[2] & 2, rms = p[2] & 4;
    xf_tensor_t* x = input(tc, 2, (int64_t[]){rows, c}, -2, 3);
    xf_tensor_t* wt = hw ? input(tc, 1, (int64_t[]){c}, 0.5f, 1.5f) : NULL;
    xf_tensor_t* bs = hb ? input(tc, 1, (int64_t[]){c}, -1, 1) : NULL;
    const float* X = tc->host[0];
    float* w = expect(tc, rows * c);
    for (int64_t r = 0; r < rows; ++r) {
        double mean = 0, var = 0;
        for (int64_t i = 0; i < c; ++i) mean += X[r * c + i];
        mean = rms ? 0 : mean / c;
        for (int64_t i = 0; i < c; ++i) var += (X[r * c + i] - mean) * (X[r * c + i] - mean);
        double inv = 1.0 / sqrt(var / c + 1e-5);
        for (int64_t i = 0; i < c; ++i) {
            double v = (X[r * c + i] - mean) * inv;
            if (hw) v *= tc->host[1][i];
            if (hb) v += tc->host[hw ? 2 : 1][i];
            w[r * c + i] = (float)v;
        }
    }
    xf_tensor_t* out;
    OK(rms ? xf_rmsnorm(tc->g, x, wt, 1e-5f, &out) : xf_layernorm(tc->g, x, wt, bs, 1e-5f, &out));
    return out;
}

// p: shape (4), mask shape (4) or mask[0] == 0 for none
static xf_tensor_t* case_softmax(tc_t* tc, const int* p) {
    int64_t s[4] = {p[0], p[1], p[2], p[3]}, sm[4] = {p[4], p[5], p[6], p[7]};
    xf_tensor_t* x = input(tc, 4, s, -4, 4);
    xf_tensor_t* mask = p[4] ? input(tc, 4, sm, -3, 0) : NULL;
    float scale = 0.125f;
    float* w = expect(tc, numel4(s));
    for (int64_t i0 = 0; i0 < s[0]; ++i0)
        for (int64_t i1 = 0; i1 < s[1]; ++i1)
            for (int64_t i2 = 0; i2 < s[2]; ++i2) {
                int64_t base = ((i0 * s[1] + i1) * s[2] + i2) * s[3];
                double mx = -INFINITY, sum = 0;
                for (int64_t j = 0; j < s[3]; ++j) {
                    double v = tc->host[0][base + j] * (double)scale + (mask ? tc->host[1][bidx(sm, i0, i1, i2, j)] : 0);
                    mx = v > mx ? v : mx;
                }
                for (int64_t j = 0; j < s[3]; ++j) {
                    double v = tc->host[0][base + j] * (double)scale + (mask ? tc->host[1][bidx(sm, i0, i1, i2, j)] : 0);
                    sum += exp(v - mx);
                }
                for (int64_t j = 0; j < s[3]; ++j) {
                    double v = tc->host[0][base + j] * (double)scale + (mask ? tc->host[1][bidx(sm, i0, i1, i2, j)] : 0);
                    w[base + j] = (float)(exp(v - mx) / sum);
                }
            }
    xf_tensor_t* out;
    OK(xf_softmax(tc->g, x, scale, mask, &out));
    return out;
}

// p: rows, cols, activation, glu
static xf_tensor_t* case_unary(tc_t* tc, const int* p) {
    int64_t rows = p[0], cols = p[1];
    xf_activation_t act = (xf_activation_t)p[2];
    bool glu = p[3];
    xf_tensor_t* x = input(tc, 2, (int64_t[]){rows, glu ? 2 * cols : cols}, -5, 5);
    float* w = expect(tc, rows * cols);
    for (int64_t r = 0; r < rows; ++r)
        for (int64_t i = 0; i < cols; ++i) {
            w[r * cols + i] = glu ? (float)(act_ref(act, tc->host[0][r * 2 * cols + i]) * tc->host[0][r * 2 * cols + cols + i])
                                  : (float)act_ref(act, tc->host[0][r * cols + i]);
        }
    xf_tensor_t* out;
    OK(glu ? xf_glu(tc->g, x, act, &out) : xf_activation(tc->g, x, act, &out));
    return out;
}

// p: B, H, Lq, Lk, D, Dv, bias (0 none, 1 [1,H,Lq,Lk], 2 [Lk])
static xf_tensor_t* case_attention(tc_t* tc, const int* p) {
    int64_t B = p[0], H = p[1], lq = p[2], lk = p[3], D = p[4], dv = p[5];
    xf_tensor_t* q = input(tc, 4, (int64_t[]){B, H, lq, D}, -1, 1);
    xf_tensor_t* k = input(tc, 4, (int64_t[]){B, H, lk, D}, -1, 1);
    xf_tensor_t* v = input(tc, 4, (int64_t[]){B, H, lk, dv}, -1, 1);
    int64_t sb[4] = {1, H, lq, lk};
    if (p[6] == 2) sb[1] = sb[2] = 1;
    xf_tensor_t* bias = p[6] ? input(tc, 4, sb, -2, 0) : NULL;
    float scale = 1.0f / sqrtf((float)D);
    float* w = expect(tc, B * H * lq * dv);
    double* s = malloc(sizeof(double) * (size_t)lk);
    for (int64_t b = 0; b < B; ++b)
        for (int64_t h = 0; h < H; ++h)
            for (int64_t i = 0; i < lq; ++i) {
                double mx = -INFINITY, sum = 0;
                for (int64_t j = 0; j < lk; ++j) {
                    double acc = 0;
                    for (int64_t c = 0; c < D; ++c) {
                        acc += (double)tc->host[0][((b * H + h) * lq + i) * D + c] * tc->host[1][((b * H + h) * lk + j) * D + c];
                    }
                    s[j] = acc * scale + (bias ? tc->host[3][bidx(sb, b, h, i, j)] : 0);
                    mx = s[j] > mx ? s[j] : mx;
                }
                for (int64_t j = 0; j < lk; ++j) sum += (s[j] = exp(s[j] - mx));
                for (int64_t c = 0; c < dv; ++c) {
                    double acc = 0;
                    for (int64_t j = 0; j < lk; ++j) acc += s[j] * tc->host[2][((b * H + h) * lk + j) * dv + c];
                    w[((b * H + h) * lq + i) * dv + c] = (float)(acc / sum);
                }
            }
    free(s);
    xf_tensor_t* out;
    OK(xf_attention(tc->g, q, k, v, bias, scale, &out));
    return out;
}

// Python's s[start:stop] bounds on an axis of |n| (negative: from the end; INT_MAX: open end).
static void py_slice(int64_t n, int64_t start, int64_t stop, int64_t* lo, int64_t* hi) {
    *lo = start < 0 ? start + n : start;
    *hi = stop == INT_MAX ? n : stop < 0 ? stop + n : stop;
}

// Written as timm's SwinTransformerBlock._attn runs it: roll the grid, pad it, cut windows, build the
// mask from img_mask slices and the relative-position index from coordinates, attend, paste back.
// p: B, H, W, C, heads, wh, ww, sh, sw, flags (1: an explicit index, 2: pad qkv), mask value
static xf_tensor_t* case_window_attention(tc_t* tc, const int* p) {
    int64_t B = p[0], H = p[1], W = p[2], C = p[3], heads = p[4], wh = p[5], ww = p[6], sh = p[7], sw = p[8];
    bool has_index = p[9] & 1, has_pad = p[9] & 2;
    float mask_value = (float)p[10];
    int64_t hd = C / heads, area = wh * ww, rel = (2 * wh - 1) * (2 * ww - 1), rows = has_index ? rel + 5 : rel;
    int64_t hp = (H + wh - 1) / wh * wh, wp = (W + ww - 1) / ww * ww;
    xf_tensor_t* qkv = input(tc, 4, (int64_t[]){B, H, W, 3 * C}, -1, 1);
    xf_tensor_t* table = input(tc, 2, (int64_t[]){rows, heads}, -2, 2);
    int32_t* index = malloc(sizeof(int32_t) * (size_t)(area * area));
    for (int64_t i = 0; i < area; ++i)
        for (int64_t j = 0; j < area; ++j) {
            int64_t dy = i / ww - j / ww + wh - 1, dx = i % ww - j % ww + ww - 1;
            index[i * area + j] = has_index ? (int32_t)((i * 7 + j * 13) % rows) : (int32_t)(dy * (2 * ww - 1) + dx);
        }
    xf_tensor_t* idx = NULL;
    if (has_index) {
        OK(xf_graph_input(tc->g, "index", XF_DTYPE_I32, 2, (int64_t[]){area, area}, &idx));
        OK(xf_tensor_upload(idx, index, sizeof(int32_t) * (size_t)(area * area)));
    }
    xf_tensor_t* pad = has_pad ? input(tc, 1, (int64_t[]){3 * C}, -1, 1) : NULL;
    const float *X = tc->host[0], *T = tc->host[1], *P = has_pad ? tc->host[2] : NULL;
    // The rolled, padded grid [hp, wp, 3C] of one image, and its regions.
    float* grid = malloc(sizeof(float) * (size_t)(hp * wp * 3 * C));
    int* region = calloc((size_t)(hp * wp), sizeof(int));
    int cnt = 0;
    int64_t hs[3][2] = {{0, -wh}, {-wh, -sh}, {-sh, INT_MAX}}, ws[3][2] = {{0, -ww}, {-ww, -sw}, {-sw, INT_MAX}};
    for (int a = 0; a < 3; ++a)
        for (int c = 0; c < 3; ++c, ++cnt) {
            int64_t y0, y1, x0, x1;
            py_slice(hp, hs[a][0], hs[a][1], &y0, &y1);
            py_slice(wp, ws[c][0], ws[c][1], &x0, &x1);
            for (int64_t y = y0; y < y1; ++y)
                for (int64_t x = x0; x < x1; ++x) region[y * wp + x] = cnt;
        }
    float* w = expect(tc, B * H * W * C);
    double* s = malloc(sizeof(double) * (size_t)area);
    for (int64_t b = 0; b < B; ++b) {
        for (int64_t y = 0; y < hp; ++y)
            for (int64_t x = 0; x < wp; ++x)
                for (int64_t c = 0; c < 3 * C; ++c) {
                    float v = y < H && x < W ? X[((b * H + (y + sh) % H) * W + (x + sw) % W) * 3 * C + c]
                                             : has_pad ? P[c] : 0.0f;
                    grid[(y * wp + x) * 3 * C + c] = v;
                }
        for (int64_t wy = 0; wy < hp; wy += wh)
            for (int64_t wx = 0; wx < wp; wx += ww)
                for (int64_t h = 0; h < heads; ++h)
                    for (int64_t i = 0; i < area; ++i) {
                        int64_t qy = wy + i / ww, qx = wx + i % ww;
                        const float* q = grid + (qy * wp + qx) * 3 * C + h * hd;
                        double mx = -INFINITY, sum = 0;
                        for (int64_t j = 0; j < area; ++j) {
                            int64_t ky = wy + j / ww, kx = wx + j % ww;
                            const float* k = grid + (ky * wp + kx) * 3 * C + C + h * hd;
                            double acc = 0;
                            for (int64_t c = 0; c < hd; ++c) acc += (double)q[c] * k[c];
                            s[j] = acc / sqrt((double)hd) + T[index[i * area + j] * heads + h];
                            if ((sh || sw) && region[qy * wp + qx] != region[ky * wp + kx]) s[j] += mask_value;
                            mx = s[j] > mx ? s[j] : mx;
                        }
                        for (int64_t j = 0; j < area; ++j) sum += (s[j] = exp(s[j] - mx));
                        if (qy >= H || qx >= W) continue;
                        int64_t oy = (qy + sh) % H, ox = (qx + sw) % W;
                        for (int64_t c = 0; c < hd; ++c) {
                            double acc = 0;
                            for (int64_t j = 0; j < area; ++j)
                                acc += s[j] * grid[((wy + j / ww) * wp + wx + j % ww) * 3 * C + 2 * C + h * hd + c];
                            w[((b * H + oy) * W + ox) * C + h * hd + c] = (float)(acc / sum);
                        }
                    }
    }
    free(s);
    free(grid);
    free(region);
    free(index);
    xf_window_attention_params_t wp_ = {{(int)wh, (int)ww}, {(int)sh, (int)sw}, (int)heads, 0.0f, mask_value};
    xf_tensor_t* out;
    OK(xf_window_attention(tc->g, qkv, table, idx, pad, &wp_, &out));
    return out;
}

// p: N, C, H, W, O, K, stride, pad, dilation, groups, bias
static xf_tensor_t* case_conv(tc_t* tc, const int* p) {
    int64_t N = p[0], C = p[1], H = p[2], W = p[3], O = p[4], K = p[5];
    int s = p[6], pad = p[7], dl = p[8], g = p[9];
    xf_tensor_t* x = input(tc, 4, (int64_t[]){N, C, H, W}, -1, 1);
    xf_tensor_t* wt = input(tc, 4, (int64_t[]){O, C / g, K, K}, -1, 1);
    xf_tensor_t* bias = p[10] ? input(tc, 1, (int64_t[]){O}, -1, 1) : NULL;
    int64_t ho = (H + 2 * pad - dl * (K - 1) - 1) / s + 1, wo = (W + 2 * pad - dl * (K - 1) - 1) / s + 1;
    float* w = expect(tc, N * O * ho * wo);
    int64_t cg = C / g, og = O / g;
    for (int64_t n = 0; n < N; ++n)
        for (int64_t o = 0; o < O; ++o)
            for (int64_t y = 0; y < ho; ++y)
                for (int64_t xx = 0; xx < wo; ++xx) {
                    double acc = bias ? tc->host[2][o] : 0;
                    for (int64_t c = 0; c < cg; ++c)
                        for (int64_t ky = 0; ky < K; ++ky)
                            for (int64_t kx = 0; kx < K; ++kx) {
                                int64_t iy = y * s - pad + ky * dl, ix = xx * s - pad + kx * dl;
                                if (iy < 0 || iy >= H || ix < 0 || ix >= W) continue;
                                acc += (double)tc->host[0][((n * C + (o / og) * cg + c) * H + iy) * W + ix] *
                                       tc->host[1][((o * cg + c) * K + ky) * K + kx];
                            }
                    w[((n * O + o) * ho + y) * wo + xx] = (float)acc;
                }
    xf_conv2d_params_t cp = {{s, s}, {pad, pad}, {dl, dl}, g};
    xf_tensor_t* out;
    OK(xf_conv2d(tc->g, x, wt, bias, &cp, &out));
    return out;
}

static double src_coord(int64_t i, int64_t in, int64_t out, bool align) {
    if (align) return out > 1 ? (double)i * (in - 1) / (out - 1) : 0;
    double s = (i + 0.5) * (double)in / out - 0.5;
    return s < 0 ? 0 : s;
}

// p: N, C, H, W, OH, OW, align
static xf_tensor_t* case_resize(tc_t* tc, const int* p) {
    int64_t N = p[0], C = p[1], H = p[2], W = p[3], oh = p[4], ow = p[5];
    bool align = p[6];
    xf_tensor_t* x = input(tc, 4, (int64_t[]){N, C, H, W}, -1, 1);
    float* w = expect(tc, N * C * oh * ow);
    for (int64_t pl = 0; pl < N * C; ++pl)
        for (int64_t y = 0; y < oh; ++y)
            for (int64_t xx = 0; xx < ow; ++xx) {
                double sy = src_coord(y, H, oh, align), sx = src_coord(xx, W, ow, align);
                int64_t y0 = (int64_t)sy < H - 1 ? (int64_t)sy : H - 1, x0 = (int64_t)sx < W - 1 ? (int64_t)sx : W - 1;
                int64_t y1 = y0 + 1 < H ? y0 + 1 : H - 1, x1 = x0 + 1 < W ? x0 + 1 : W - 1;
                double fy = sy - y0, fx = sx - x0;
                const float* P = tc->host[0] + pl * H * W;
                w[(pl * oh + y) * ow + xx] = (float)((P[y0 * W + x0] * (1 - fx) + P[y0 * W + x1] * fx) * (1 - fy) +
                                                     (P[y1 * W + x0] * (1 - fx) + P[y1 * W + x1] * fx) * fy);
            }
    xf_tensor_t* out;
    OK(xf_resize_bilinear(tc->g, x, oh, ow, align, &out));
    return out;
}

// p: count, axis (of 4), common shape (4), sizes along axis (up to 4)
static xf_tensor_t* case_concat(tc_t* tc, const int* p) {
    int count = p[0], ax = p[1];
    xf_tensor_t* ins[4];
    int64_t so[4] = {p[2], p[3], p[4], p[5]};
    so[ax] = 0;
    for (int i = 0; i < count; ++i) {
        int64_t s[4] = {p[2], p[3], p[4], p[5]};
        s[ax] = p[6 + i];
        so[ax] += s[ax];
        ins[i] = input(tc, 4, s, -1, 1);
    }
    float* w = expect(tc, numel4(so));
    int64_t start = 0;
    for (int i = 0; i < count; ++i) {
        const int64_t* s = tc->shape[i];
        int64_t j = 0;
        for (int64_t i0 = 0; i0 < s[0]; ++i0)
            for (int64_t i1 = 0; i1 < s[1]; ++i1)
                for (int64_t i2 = 0; i2 < s[2]; ++i2)
                    for (int64_t i3 = 0; i3 < s[3]; ++i3) {
                        int64_t id[4] = {i0, i1, i2, i3};
                        id[ax] += start;
                        w[((id[0] * so[1] + id[1]) * so[2] + id[2]) * so[3] + id[3]] = tc->host[i][j++];
                    }
        start += s[ax];
    }
    xf_tensor_t* out;
    OK(xf_concat(tc->g, ins, count, ax, &out));
    return out;
}

// p: shape (3), axis, op (0 mean, 1 argmax, 2 permute 2,0,1, 3 slice last axis [1, n-2), 4 gather axis 1, 5 cast)
static xf_tensor_t* case_shape_op(tc_t* tc, const int* p) {
    int64_t s[3] = {p[0], p[1], p[2]};
    int ax = p[3], op = p[4];
    xf_tensor_t* x = input(tc, 3, s, -1, 1);
    const float* X = tc->host[0];
    xf_tensor_t* out = NULL;
    if (op == 0) {
        int64_t so[3] = {s[0], s[1], s[2]};
        so[ax] = 1;
        float* w = expect(tc, so[0] * so[1] * so[2]);
        for (int64_t a = 0; a < so[0]; ++a)
            for (int64_t b = 0; b < so[1]; ++b)
                for (int64_t c = 0; c < so[2]; ++c) {
                    double acc = 0;
                    for (int64_t j = 0; j < s[ax]; ++j) {
                        int64_t id[3] = {a, b, c};
                        id[ax] = j;
                        acc += X[(id[0] * s[1] + id[1]) * s[2] + id[2]];
                    }
                    w[(a * so[1] + b) * so[2] + c] = (float)(acc / s[ax]);
                }
        OK(xf_mean(tc->g, x, ax, false, &out));
    } else if (op == 1) {
        float* w = expect(tc, s[0] * s[1]);
        for (int64_t r = 0; r < s[0] * s[1]; ++r) {
            int64_t best = 0;
            for (int64_t j = 1; j < s[2]; ++j) best = X[r * s[2] + j] > X[r * s[2] + best] ? j : best;
            w[r] = (float)best;
        }
        OK(xf_argmax(tc->g, x, &out));
    } else if (op == 2) {
        float* w = expect(tc, s[0] * s[1] * s[2]);
        int64_t o = 0;
        for (int64_t c = 0; c < s[2]; ++c)
            for (int64_t a = 0; a < s[0]; ++a)
                for (int64_t b = 0; b < s[1]; ++b) w[o++] = X[(a * s[1] + b) * s[2] + c];
        OK(xf_permute(tc->g, x, (int[]){2, 0, 1}, &out));
    } else if (op == 3) {
        int64_t len = s[2] - 3;
        float* w = expect(tc, s[0] * s[1] * len);
        int64_t o = 0;
        for (int64_t r = 0; r < s[0] * s[1]; ++r)
            for (int64_t j = 1; j < s[2] - 2; ++j) w[o++] = X[r * s[2] + j];
        OK(xf_slice(tc->g, x, -1, 1, s[2] - 2, &out));
    } else if (op == 4) {
        int32_t idx[4] = {0, (int32_t)s[1] - 1, (int32_t)(s[1] / 2), -1};
        xf_tensor_t* it;
        OK(xf_graph_input(tc->g, "idx", XF_DTYPE_I32, 1, (int64_t[]){4}, &it));
        OK(xf_tensor_upload(it, idx, sizeof idx));
        float* w = expect(tc, s[0] * 4 * s[2]);
        for (int64_t a = 0; a < s[0]; ++a)
            for (int64_t m = 0; m < 4; ++m)
                for (int64_t c = 0; c < s[2]; ++c) {
                    w[(a * 4 + m) * s[2] + c] = idx[m] < 0 ? 0.0f : X[(a * s[1] + idx[m]) * s[2] + c];
                }
        OK(xf_gather(tc->g, x, 1, it, &out));
    } else {
        xf_dtype_t to = tc->dt == XF_DTYPE_F32 ? XF_DTYPE_F16 : XF_DTYPE_F32;
        int64_t n = s[0] * s[1] * s[2];
        float* w = expect(tc, n);
        for (int64_t i = 0; i < n; ++i) w[i] = round_to(to, X[i]);
        OK(xf_cast(tc->g, x, to, &out));
    }
    return out;
}

// A chain that exercises views between ops: ((x^T) * 2 + y) then layernorm, with reuse.
static xf_tensor_t* case_chain(tc_t* tc, const int* p) {
    int64_t r = p[0], c = p[1];
    xf_tensor_t* x = input(tc, 2, (int64_t[]){c, r}, -1, 1);
    xf_tensor_t* y = input(tc, 2, (int64_t[]){r, c}, -1, 1);
    xf_tensor_t *t, *u, *v, *out;
    OK(xf_transpose(tc->g, x, 0, 1, &t));
    OK(xf_scale(tc->g, t, 2.0f, 0.0f, &u));
    OK(xf_add(tc->g, u, y, &v));
    OK(xf_layernorm(tc->g, v, NULL, NULL, 1e-6f, &out));
    float* w = expect(tc, r * c);
    for (int64_t i = 0; i < r; ++i) {
        double mean = 0, var = 0;
        for (int64_t j = 0; j < c; ++j) mean += 2.0 * tc->host[0][j * r + i] + tc->host[1][i * c + j];
        mean /= c;
        for (int64_t j = 0; j < c; ++j) {
            double d = 2.0 * tc->host[0][j * r + i] + tc->host[1][i * c + j] - mean;
            var += d * d;
        }
        for (int64_t j = 0; j < c; ++j) {
            w[i * c + j] = (float)((2.0 * tc->host[0][j * r + i] + tc->host[1][i * c + j] - mean) / sqrt(var / c + 1e-6));
        }
    }
    return out;
}

typedef struct {
    const char* name;
    xf_tensor_t* (*build)(tc_t*, const int*);
    int p[13];
    float tol;  // scales the dtype's tolerance for ops that accumulate long sums
    bool big;   // left out of the small subset (XFORMER_TEST_SMALL=1: the oclgrind and sanitizer runs), unless |pieces|
    // An operand the operator reads whole per image is past the small binding limit of "smallbind" columns
    // (XF_TEST_SMALL_BINDING; window attention's qkv grid), so the row is left out there.
    bool whole;
    // Sized past that limit to run an op family in pieces: only the "smallbind" columns run it (elsewhere it
    // would repeat a smaller row's kernels at more cost).
    bool pieces;
} op_case_t;

enum { ACT_SHIFT = 4 };
static const op_case_t cases[] = {
    {"matmul 37x53 * 53x29", case_matmul, {1, 1, 37, 53, 29, 1, 1, 0}, 1, false, false, false},
    {"linear 197x67 * (131x67)^T + bias, gelu", case_matmul, {1, 1, 197, 67, 131, 1, 1, 1 | 2 | (XF_ACT_GELU << ACT_SHIFT)}, 1, true, false, false},
    {"linear 197x384 * (97x384)^T + bias + residual", case_matmul, {1, 1, 197, 384, 97, 1, 1, 1 | 2 | 4}, 2, true, false, false},
    {"linear 13x45 * (77x45)^T + bias, quick_gelu", case_matmul, {1, 1, 13, 45, 77, 1, 1, 1 | 2 | (XF_ACT_QUICK_GELU << ACT_SHIFT)}, 1, false, false, false},
    {"linear 1x200 * (33x200)^T, silu", case_matmul, {1, 1, 1, 200, 33, 1, 1, 1 | (XF_ACT_SILU << ACT_SHIFT)}, 1, false, false, false},
    {"batched matmul 2x3x17x19 * 1x3x19x23, relu + residual", case_matmul, {2, 3, 17, 19, 23, 1, 3, 4 | (XF_ACT_RELU << ACT_SHIFT)}, 1, false, false, false},
    {"batched matmul 2x2x65x31 * 2x1x(33x31)^T, gelu_tanh", case_matmul, {2, 2, 65, 31, 33, 2, 1, 1 | (XF_ACT_GELU_TANH << ACT_SHIFT)}, 1, true, false, false},
    // B (a weight) in its own storage type under the row's activations: vector and scalar loads, both layouts.
    {"linear 197x96 * (131x96)^T f16 weight + bias, gelu", case_matmul, {1, 1, 197, 96, 131, 1, 1, 1 | 2 | (XF_ACT_GELU << ACT_SHIFT), W_F16}, 1, true, false, false},
    {"linear 37x45 * (53x45)^T bf16 weight + bias + residual", case_matmul, {1, 1, 37, 45, 53, 1, 1, 1 | 2 | 4, W_BF16}, 1, false, false, false},
    {"matmul 65x64 * 64x36 f16 weight", case_matmul, {1, 1, 65, 64, 36, 1, 1, 0, W_F16}, 1, false, false, false},
    {"matmul 65x64 * 64x36 bf16 weight", case_matmul, {1, 1, 65, 64, 36, 1, 1, 0, W_BF16}, 1, false, false, false},
    {"batched matmul 2x3x17x19 * 1x3x19x23 bf16 weight, relu", case_matmul, {2, 3, 17, 19, 23, 1, 3, XF_ACT_RELU << ACT_SHIFT, W_BF16}, 1, false, false, false},
    {"linear 19x40 * (29x40)^T f32 weight", case_matmul, {1, 1, 19, 40, 29, 1, 1, 1, W_F32}, 1, false, false, false},
    {"linear 13x45 * (77x45)^T f16 weight", case_matmul, {1, 1, 13, 45, 77, 1, 1, 1, W_F16}, 1, false, false, false},
    {"linear 197x96 * (131x96)^T int8 weight per channel + bias, gelu", case_matmul, {1, 1, 197, 96, 131, 1, 1, 1 | 2 | (XF_ACT_GELU << ACT_SHIFT), W_Q8C}, 1, true, false, false},
    {"linear 37x45 * (53x45)^T int8 weight in blocks of 32 + bias + residual", case_matmul, {1, 1, 37, 45, 53, 1, 1, 1 | 2 | 4, W_Q8B}, 1, false, false, false},
    {"linear 2x3x17x70 * (23x70)^T int8 weight in blocks of 32", case_matmul, {2, 3, 17, 70, 23, 1, 1, 1, W_Q8B}, 1, false, false, false},
    {"linear 13x64 * (77x64)^T int8 weight per channel, f16 scales", case_matmul, {1, 1, 13, 64, 77, 1, 1, 1, W_Q8C16}, 1, false, false, false},
    {"linear 9x7 * (5x7)^T int8 weight in blocks of 32", case_matmul, {1, 1, 9, 7, 5, 1, 1, 1, W_Q8B}, 1, false, false, false},
    {"add [2,197,37] + [37]", case_binary, {1, 2, 197, 37, 1, 1, 1, 37, 0}, 1, false, false, false},
    {"add [3,1,5,1] + [1,4,1,6]", case_binary, {3, 1, 5, 1, 1, 4, 1, 6, 0}, 1, false, false, false},
    {"mul [1,13,7,9] * [1,13,1,1]", case_binary, {1, 13, 7, 9, 1, 13, 1, 1, 1}, 1, false, false, false},
    {"mul [5,5,5,5] * [5,5,5,5]", case_binary, {5, 5, 5, 5, 5, 5, 5, 5, 1}, 1, false, false, false},
    {"sub [2,197,37] - [1,1,197,1]", case_binary, {1, 2, 197, 37, 1, 1, 197, 1, 2}, 1, false, false, false},
    {"div [3,1,5,7] / [1,4,1,7]", case_binary, {3, 1, 5, 7, 1, 4, 1, 7, 3}, 1, false, false, false},
    {"pow [1,3,17,13] ^ [13]", case_binary, {1, 3, 17, 13, 1, 1, 1, 13, 4}, 2, false, false, false},
    {"pow negative base, integer exponents [2,1,9,11] ^ [2,1,9,11]", case_binary, {2, 1, 9, 11, 2, 1, 9, 11, 5}, 2, false, false, false},
    {"sqrt [197,37]", case_math, {197, 37, 0}, 1, false, false, false},
    {"exp [31,33]", case_math, {31, 33, 1}, 1, false, false, false},
    {"erf [17,45]", case_math, {17, 45, 2}, 1, false, false, false},
    {"tanh [7,129]", case_math, {7, 129, 3}, 1, false, false, false},
    {"sigmoid [197,5]", case_math, {197, 5, 4}, 1, false, false, false},
    {"neg [3,7]", case_math, {3, 7, 5}, 0, false, false, false},
    {"abs [13,17]", case_math, {13, 17, 6}, 0, false, false, false},
    {"clip [197,37] to [-0.7, 0.45]", case_math, {197, 37, 7}, 1, false, false, false},
    {"scale [3,197,11]", case_scale, {3, 197, 11}, 1, false, false, false},
    {"layernorm [197,67] weight+bias", case_norm, {197, 67, 3}, 1, false, false, false},
    {"layernorm [5,768] no affine", case_norm, {5, 768, 0}, 1, false, false, false},
    {"rmsnorm [13,130] weight", case_norm, {13, 130, 1 | 4}, 1, false, false, false},
    {"softmax [1,3,197,197]", case_softmax, {1, 3, 197, 197, 0}, 1, true, false, false},
    {"softmax [2,3,17,29] mask [1,1,17,29]", case_softmax, {2, 3, 17, 29, 1, 1, 17, 29}, 1, false, false, false},
    {"softmax [1,2,5,1001] mask [1,1,1,1001]", case_softmax, {1, 2, 5, 1001, 1, 1, 1, 1001}, 1, false, false, false},
    {"gelu [197,37]", case_unary, {197, 37, XF_ACT_GELU, 0}, 1, false, false, false},
    {"gelu_tanh [197,37]", case_unary, {197, 37, XF_ACT_GELU_TANH, 0}, 1, false, false, false},
    {"silu [31,33]", case_unary, {31, 33, XF_ACT_SILU, 0}, 1, false, false, false},
    {"relu [7,3]", case_unary, {7, 3, XF_ACT_RELU, 0}, 1, false, false, false},
    {"quick_gelu [197,37]", case_unary, {197, 37, XF_ACT_QUICK_GELU, 0}, 1, false, false, false},
    {"swiglu [17,2x45]", case_unary, {17, 45, XF_ACT_SILU, 1}, 1, false, false, false},
    {"geglu [9,2x33]", case_unary, {9, 33, XF_ACT_GELU, 1}, 1, false, false, false},
    {"attention [1,3,197,64]", case_attention, {1, 3, 197, 197, 64, 64, 0}, 1, true, false, false},
    {"attention Lq!=Lk [2,2,17|33,16], Dv 24, bias [1,H,Lq,Lk]", case_attention, {2, 2, 17, 33, 16, 24, 1}, 1, false, false, false},
    {"attention [1,1,50,13|5,8] bias [Lk]", case_attention, {1, 1, 50, 13, 8, 8, 2}, 1, false, false, false},
    {"window attention Swin-T stage 1 [1,14,14,3x96], 3 heads, window 7", case_window_attention, {1, 14, 14, 96, 3, 7, 7, 0, 0, 0, -100}, 1, true, true, false},
    {"shifted window attention [2,14,14,3x64], 2 heads, window 7 shift 3", case_window_attention, {2, 14, 14, 64, 2, 7, 7, 3, 3, 0, -100}, 1, true, true, false},
    {"shifted window attention, padded 10x13 grid, pad qkv, window 4x3 shift 2x1, mask -5", case_window_attention, {1, 10, 13, 36, 3, 4, 3, 2, 1, 2, -5}, 1, false, false, false},
    {"window attention 3x5 windows of a 9x25 grid, explicit index, shift along W only", case_window_attention, {1, 9, 25, 20, 4, 3, 5, 0, 2, 1, -100}, 1, false, false, false},
    {"shifted window attention, 5 images [5,12,12,3x24], window 4 shift 2 (split by image)", case_window_attention, {5, 12, 12, 24, 2, 4, 4, 2, 2, 2, -100}, 1, true, false, false},
    {"shifted window attention head size 130 (tiled kernels fall back), 3 windows", case_window_attention, {1, 5, 12, 130, 1, 5, 4, 2, 3, 3, -9}, 1, true, true, false},
    {"conv patch 16x16/16 [1,3,32,48] -> 19", case_conv, {1, 3, 32, 48, 19, 16, 16, 0, 1, 1, 1}, 2, false, false, false},
    {"conv 3x3 pad 1 [2,5,11,13] -> 7", case_conv, {2, 5, 11, 13, 7, 3, 1, 1, 1, 1, 1}, 1, false, false, false},
    {"conv 7x7/4 pad 3 [1,3,29,31] -> 8", case_conv, {1, 3, 29, 31, 8, 7, 4, 3, 1, 1, 0}, 1, false, false, false},
    {"depthwise 3x3 [1,12,9,7]", case_conv, {1, 12, 9, 7, 12, 3, 1, 1, 1, 12, 1}, 1, false, false, false},
    {"grouped dilated 3x3/2 [1,4,15,14] g2 -> 6", case_conv, {1, 4, 15, 14, 6, 3, 2, 2, 2, 2, 1}, 1, false, false, false},
    {"resize [1,3,7,9] -> 13x17 align", case_resize, {1, 3, 7, 9, 13, 17, 1}, 1, false, false, false},
    {"resize [1,3,7,9] -> 13x17", case_resize, {1, 3, 7, 9, 13, 17, 0}, 1, false, false, false},
    {"resize [2,2,16,16] -> 5x7", case_resize, {2, 2, 16, 16, 5, 7, 0}, 1, false, false, false},
    {"concat 3 along last", case_concat, {3, 3, 1, 1, 5, 0, 7, 3, 11}, 1, false, false, false},
    {"concat 4 along channels", case_concat, {4, 1, 2, 0, 5, 3, 3, 1, 2, 4}, 1, false, false, false},
    {"concat prepend token", case_concat, {2, 2, 1, 2, 0, 37, 1, 196}, 1, false, false, false},
    {"mean [3,197,37] axis 1", case_shape_op, {3, 197, 37, 1, 0}, 1, true, false, false},
    {"mean [3,5,37] axis 2", case_shape_op, {3, 5, 37, 2, 0}, 1, false, false, false},
    {"argmax [3,11,37]", case_shape_op, {3, 11, 37, 2, 1}, 0, false, false, false},
    {"sum [2,3,197,37] axis 2", case_reduce, {2, 3, 197, 37, 2, 0, 0}, 1, true, false, false},
    {"mean [2,3,17,37] axis 0 keepdim", case_reduce, {2, 3, 17, 37, 0, 1, 1}, 1, false, false, false},
    {"max [1,5,7,129] last axis keepdim", case_reduce, {1, 5, 7, 129, 3, 2, 1}, 0, false, false, false},
    {"min [3,13,11,5] axis 1", case_reduce, {3, 13, 11, 5, 1, 3, 0}, 0, false, false, false},
    {"roll [1,14,14,5] by (3,-3) as Swin", case_roll, {1, 14, 14, 5, 0, 3, -3, 0}, 0, false, false, false},
    {"roll [2,3,7,9] every axis, shifts beyond the size", case_roll, {2, 3, 7, 9, 1, -4, 15, 5}, 0, false, false, false},
    {"pad [3,5,7] by (0,1,2) before, (1,0,3) after", case_pad, {3, 5, 7, 0, 1, 2, 1, 0, 3}, 0, false, false, false},
    {"pad [1,197,37] tokens", case_pad, {1, 197, 37, 0, 3, 0, 0, 2, 0}, 0, false, false, false},
    {"where [1,1,17,13] ? [2,3,17,13] : [13]", case_where, {1, 1, 17, 13, 2, 3, 17, 13, 1, 1, 1, 13, 0}, 0, false, false, false},
    {"where i32 [5,1,1,9] ? [5,1,7,9] : [1,4,7,1]", case_where, {5, 1, 1, 9, 5, 1, 7, 9, 1, 4, 7, 1, 1}, 0, false, false, false},
    {"permute copy [3,5,7] (2,0,1)", case_shape_op, {3, 5, 7, 0, 2}, 0, false, false, false},
    {"slice last axis [2,3,11]", case_shape_op, {2, 3, 11, 0, 3}, 0, false, false, false},
    {"gather tokens [2,197,37]", case_shape_op, {2, 197, 37, 1, 4}, 0, false, false, false},
    {"cast [2,3,17]", case_shape_op, {2, 3, 17, 0, 5}, 0, false, false, false},
    // Past 64 KiB in f32, so the "smallbind" column runs each family in pieces (only there).
    {"linear 197x129 * (131x129)^T f16 weight (64 KiB+)", case_matmul, {1, 1, 197, 129, 131, 1, 1, 1, W_F16}, 1, true, false, true},
    {"matmul 150x72 * 72x120 bf16 weight (64 KiB+)", case_matmul, {1, 1, 150, 72, 120, 1, 1, 0, W_BF16}, 1, true, false, true},
    {"linear 197x129 * (131x129)^T int8 weight in blocks of 32 (64 KiB+)", case_matmul, {1, 1, 197, 129, 131, 1, 1, 1, W_Q8B}, 1, true, false, true},
    {"add [4,197,37] + [37] (64 KiB+)", case_binary, {1, 4, 197, 37, 1, 1, 1, 37, 0}, 1, true, false, true},
    {"erf [197,129] (64 KiB+)", case_math, {197, 129, 2}, 1, true, false, true},
    {"gelu [211,97] (64 KiB+)", case_unary, {211, 97, XF_ACT_GELU, 0}, 1, true, false, true},
    {"swiglu [197,2x64] (64 KiB+)", case_unary, {197, 64, XF_ACT_SILU, 1}, 1, true, false, true},
    {"layernorm [197,129] weight+bias (64 KiB+)", case_norm, {197, 129, 3}, 1, true, false, true},
    {"conv 3x3 pad 1 [3,8,20,22] -> 24 (64 KiB+ result)", case_conv, {3, 8, 20, 22, 24, 3, 1, 1, 1, 1, 1}, 1, true, false, true},
    {"conv 1x1 [1,64,16,20] -> 40 (64 KiB+ input)", case_conv, {1, 64, 16, 20, 40, 1, 1, 0, 1, 1, 1}, 2, true, false, true},
    {"resize [1,24,16,16] -> 37x41 (64 KiB+)", case_resize, {1, 24, 16, 16, 37, 41, 0}, 1, true, false, true},
    {"concat 2 along channels [1,40|40,20,20] (64 KiB+)", case_concat, {2, 1, 1, 0, 20, 20, 40, 40}, 1, true, false, true},
    {"argmax [2,97,131] (64 KiB+)", case_shape_op, {2, 97, 131, 2, 1}, 0, true, false, true},
    {"permute copy [64,33,17] (2,0,1) (64 KiB+)", case_shape_op, {64, 33, 17, 0, 2}, 0, true, false, true},
    {"gather tokens [4,197,37] (64 KiB+)", case_shape_op, {4, 197, 37, 1, 4}, 0, true, false, true},
    {"roll [3,40,40,7] by (5,-3) (64 KiB+)", case_roll, {3, 40, 40, 7, 0, 5, -3, 0}, 0, true, false, true},
    {"pad [4,97,51] by (0,2,1) before, (0,1,3) after (64 KiB+)", case_pad, {4, 97, 51, 0, 2, 1, 0, 1, 3}, 0, true, false, true},
    {"where [4,1,61,67] ? [4,5,61,67] : [67] (64 KiB+)", case_where, {4, 1, 61, 67, 4, 5, 61, 67, 1, 1, 1, 67, 0}, 0, true, false, true},
    {"chain transpose-scale-add-layernorm [19,45]", case_chain, {19, 45}, 1, false, false, false},
};
#define NUM_CASES (sizeof cases / sizeof cases[0])

typedef struct {
    int c;       // case index
    int column;  // index into xf_test_op_columns
} op_param_t;

static void free_params(struct criterion_test_params* params) { cr_free(params->params); }

// The node kinds a column modifier changes: "fused"/"split" attention only, "tuned" GEMM blockings only.
enum { REACH_ATTENTION = 1, REACH_GEMM = 2 };

static unsigned case_reach(const op_case_t* oc) {
    if (oc->build == case_attention) return REACH_ATTENTION | REACH_GEMM;
    return oc->build == case_matmul || oc->build == case_conv ? REACH_GEMM : 0;
}

static unsigned graph_reach(const xf_graph_t* g) {
    unsigned reach = 0;
    for (size_t i = 0; i < g->count; ++i) {
        xf_op_t op = g->nodes[i].op;
        if (op == XF_OP_ATTENTION) reach |= REACH_ATTENTION;
        if (op == XF_OP_MATMUL || op == XF_OP_CONV2D || op == XF_OP_ATTENTION) reach |= REACH_GEMM;
    }
    return reach;
}

// False when every modifier of |col| leaves the row's nodes as the base column runs them: the row would
// only repeat it there.
static bool column_reaches(const xf_test_column_t* col, const op_case_t* oc) {
    if (col->kernels != XF_KERNELS_AUTO || col->disable_features || col->max_binding_bytes) return true;
    if (col->attention == XF_ATTENTION_AUTO && col->tune == XF_TUNE_OFF) return true;
    unsigned reach = case_reach(oc);
    return (col->attention != XF_ATTENTION_AUTO && (reach & REACH_ATTENTION)) ||
           (col->tune != XF_TUNE_OFF && (reach & REACH_GEMM));
}

// One test per row and column; it runs the row in every dtype the column's backend stores, on one context.
ParameterizedTestParameters(ops, conformance) {
    xf_test_column_t cols[XF_TEST_MAX_COLUMNS];
    int ncol = xf_test_op_columns(cols, XF_TEST_MAX_COLUMNS);
    const char* small = getenv("XFORMER_TEST_SMALL");
    bool small_only = small && strcmp(small, "1") == 0;
    const char* only = getenv("XFORMER_TEST_OPS");
    size_t n = NUM_CASES * (size_t)ncol;
    op_param_t* p = cr_malloc(sizeof *p * n);
    size_t k = 0;
    for (int col = 0; col < ncol; ++col)
        for (size_t c = 0; c < NUM_CASES; ++c) {
            if (only && *only && !strstr(cases[c].name, only)) continue;
            if (cases[c].whole && cols[col].max_binding_bytes) continue;
            if (cases[c].pieces && !cols[col].max_binding_bytes) continue;
            if (!column_reaches(&cols[col], &cases[c])) continue;
            if (!small_only || !cases[c].big || cases[c].pieces) p[k++] = (op_param_t){(int)c, col};
        }
    return cr_make_param_array(op_param_t, p, k, free_params);
}

// Runs row |oc| in |dt| on |ctx| and checks it against its reference; false when the device cannot store
// the dtype the row needs (a skip, with the reason in |why|).
static bool run_row(xf_context_t* ctx, const xf_test_column_t* col, const xf_device_info_t* info,
                    const op_case_t* oc, int c, xf_dtype_t dt, char* why, size_t why_size) {
    tc_t tc = {.dt = dt, .rng = {0x9e3779b97f4a7c15ULL ^ (uint64_t)c * 7919u}};
    OK(xf_graph_create(ctx, &tc.g));
    xf_tensor_t* out = oc->build(&tc, oc->p);
    cr_assert_eq(graph_reach(tc.g), case_reach(oc), "%s: case_reach() is out of date for this row", oc->name);
    OK(xf_graph_mark_output(tc.g, out));
    xf_status_t planned = xf_graph_plan(tc.g);
    bool ran = !(planned == XF_ERR_INCOMPATIBLE && !info->fp16);
    if (!ran) {
        // The case casts to f16 on a device without f16 storage: refused with a reason, as it should be.
        snprintf(why, why_size, "%s: %s", col->name, xf_context_error(ctx));
    } else {
        cr_assert_eq(planned, XF_OK, "[%s] %s %s: plan: %s", col->name, oc->name, xf_dtype_name(dt),
                     xf_context_error(ctx));
        cr_assert(xf_test_poison(tc.g), "poisoning failed: %s", xf_context_error(ctx));
        xf_status_t st = xf_graph_compute(tc.g);
        cr_assert_eq(st, XF_OK, "[%s] %s %s: compute: %s", col->name, oc->name, xf_dtype_name(dt),
                     xf_context_error(ctx));
        cr_assert_eq(xf_tensor_elements(out), tc.want_n);
        float* got = malloc(sizeof(float) * (size_t)tc.want_n);
        if (xf_tensor_dtype(out) == XF_DTYPE_I32) {
            int32_t* gi = malloc(sizeof(int32_t) * (size_t)tc.want_n);
            OK(xf_tensor_download(out, gi, sizeof(int32_t) * (size_t)tc.want_n));
            for (int64_t i = 0; i < tc.want_n; ++i) got[i] = (float)gi[i];
            free(gi);
        } else {
            OK(xf_tensor_download_f32(out, got, (size_t)tc.want_n));
        }
        // f32: a few ulps of long sums; f16 and bf16 (8 significant bits): storage rounding of inputs,
        // intermediates and result.
        float atol = dt == XF_DTYPE_F32 ? 2e-5f : dt == XF_DTYPE_F16 ? 4e-3f : 3e-2f;
        float rtol = dt == XF_DTYPE_F32 ? 2e-4f : dt == XF_DTYPE_F16 ? 8e-3f : 3e-2f;
        bool exact = oc->tol == 0 && xf_tensor_dtype(out) != XF_DTYPE_F16;
        char diff[512];
        bool ok = xf_test_close(got, tc.want, tc.want_n, exact ? 0 : atol * oc->tol, exact ? 0 : rtol * oc->tol,
                                diff, sizeof diff);
        cr_expect(ok, "[%s, %s] %s %s: %s", col->name, info->name, oc->name, xf_dtype_name(dt), diff);
        free(got);
    }
    for (int i = 0; i < tc.nin; ++i) free(tc.host[i]);
    free(tc.want);
    xf_graph_destroy(tc.g);
    return ran;
}

ParameterizedTest(op_param_t* param, ops, conformance, .timeout = 240) {
    xf_test_column_t cols[XF_TEST_MAX_COLUMNS];
    xf_test_op_columns(cols, XF_TEST_MAX_COLUMNS);
    const xf_test_column_t* col = &cols[param->column];
    const op_case_t* oc = &cases[param->c];
    char why[512];
    bool skip;
    xf_context_t* ctx;
    if (!xf_test_open(col, &ctx, &skip, why, sizeof why)) {
        if (skip) cr_skip_test("%s", why);
        cr_assert_fail("%s", why);
    }
    xf_device_info_t info;
    OK(xf_context_device_info(ctx, &info));
    int ran = 0;
    for (size_t d = 0; d < NUM_DTYPES; ++d) {
        xf_dtype_t dt = dtypes[d];
        if (!(xf_backend_dtypes(col->backend) & (1u << dt))) continue;
        if (dt == XF_DTYPE_F16 && !info.fp16) {
            snprintf(why, sizeof why, "%s: device '%s' has no f16 storage", col->name, info.name);
            continue;
        }
        ran += run_row(ctx, col, &info, oc, param->c, dt, why, sizeof why);
    }
    xf_context_destroy(ctx);
    if (!ran) cr_skip_test("%s", why);
}

// Swin's shifted-window attention is one kernel dispatch on every column (no partition, roll, bias or
// mask passes), whatever the shift, padding or head size.
ParameterizedTestParameters(ops, window_attention_is_one_dispatch) { return xf_test_column_params(); }

ParameterizedTest(int* column, ops, window_attention_is_one_dispatch) {
    xf_test_column_t col;
    xf_context_t* ctx = xf_test_column_context(*column, &col);
    if (col.max_binding_bytes) {
        xf_context_destroy(ctx);
        cr_skip_test("%s: these grids are past the column's binding limit per image", col.name);
    }
    static const int shapes[][6] = {{14, 14, 7, 7, 3, 3}, {10, 13, 4, 3, 2, 1}, {9, 25, 3, 5, 0, 2}};
    for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; ++i) {
        const int* s = shapes[i];
        xf_graph_t* g;
        OK(xf_graph_create(ctx, &g));
        xf_tensor_t *qkv, *table, *pad, *out;
        OK(xf_graph_input(g, "qkv", XF_DTYPE_F32, 4, (int64_t[]){2, s[0], s[1], 3 * 48}, &qkv));
        OK(xf_graph_input(g, "table", XF_DTYPE_F32, 2, (int64_t[]){(2 * s[2] - 1) * (2 * s[3] - 1), 3}, &table));
        OK(xf_graph_input(g, "pad", XF_DTYPE_F32, 1, (int64_t[]){3 * 48}, &pad));
        xf_window_attention_params_t p = {{s[2], s[3]}, {s[4], s[5]}, 3, 0.0f, -100.0f};
        OK(xf_window_attention(g, qkv, table, NULL, pad, &p, &out));
        OK(xf_graph_mark_output(g, out));
        cr_assert(xf_test_poison(g));
        OK(xf_graph_compute(g));
        OK(xf_graph_compute(g));
        xf_graph_stats_t st;
        OK(xf_graph_stats(g, &st));
        cr_expect_eq(st.nodes, 1, "[%s] %zu nodes", col.name, st.nodes);
        if (col.backend != XF_BACKEND_CPU)
            cr_expect_eq(st.dispatches, 2, "[%s] grid %dx%d window %dx%d: %llu dispatches in 2 computes", col.name,
                         s[0], s[1], s[2], s[3], (unsigned long long)st.dispatches);
        xf_graph_destroy(g);
    }
    xf_context_destroy(ctx);
}
