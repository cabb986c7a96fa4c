// SPDX-License-Identifier: MIT
#include "onnx_node_runner.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "onnx.pb-c.h"

static uint8_t* slurp(const char* path, size_t* size) {
    FILE* f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long len = ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t* buf = malloc((size_t)len + 1);
    if (buf && fread(buf, 1, (size_t)len, f) != (size_t)len) {
        free(buf);
        buf = NULL;
    }
    fclose(f);
    *size = (size_t)len;
    return buf;
}

// Values of a TensorProto as doubles; NULL for element types the runner does not read.
static double* tensor_values(const Onnx__TensorProto* t, int64_t* count) {
    int64_t n = 1;
    for (size_t d = 0; d < t->n_dims; d++) n *= t->dims[d];
    double* v = malloc((size_t)(n ? n : 1) * sizeof(double));
    if (!v) return NULL;
    int ety = t->data_type;
    const uint8_t* raw = t->has_raw_data ? t->raw_data.data : NULL;
    for (int64_t k = 0; k < n; k++) {
        switch (ety) {
            case 1:
                if (raw) { float x; memcpy(&x, raw + 4 * k, 4); v[k] = x; }
                else v[k] = (size_t)k < t->n_float_data ? t->float_data[k] : NAN;
                break;
            case 6:
                if (raw) { int32_t x; memcpy(&x, raw + 4 * k, 4); v[k] = x; }
                else v[k] = (size_t)k < t->n_int32_data ? t->int32_data[k] : NAN;
                break;
            case 7:
                if (raw) { int64_t x; memcpy(&x, raw + 8 * k, 8); v[k] = (double)x; }
                else v[k] = (size_t)k < t->n_int64_data ? (double)t->int64_data[k] : NAN;
                break;
            case 9:
                if (raw) v[k] = raw[k] != 0;
                else v[k] = (size_t)k < t->n_int32_data ? t->int32_data[k] != 0 : NAN;
                break;
            default:
                free(v);
                return NULL;
        }
    }
    if (raw && t->raw_data.len != (size_t)n * (ety == 7 ? 8 : ety == 9 ? 1 : 4)) {
        free(v);
        return NULL;
    }
    *count = n;
    return v;
}

static Onnx__TensorProto* read_tensor(const char* path) {
    size_t size;
    uint8_t* buf = slurp(path, &size);
    if (!buf) return NULL;
    Onnx__TensorProto* t = onnx__tensor_proto__unpack(NULL, size, buf);
    free(buf);
    return t;
}

// Indices of the 5 largest of |v| [n], largest first (n >= 5).
static void top5(const double* v, int64_t n, int64_t* out) {
    for (int k = 0; k < 5; k++) {
        out[k] = -1;
        for (int64_t i = 0; i < n; i++) {
            bool taken = false;
            for (int j = 0; j < k; j++) taken = taken || out[j] == i;
            if (!taken && (out[k] < 0 || v[i] > v[out[k]])) out[k] = i;
        }
    }
}

// Cosine and top-5 of a model's output |got| against |want|.
static bool model_checks(const double* got, const double* want, int64_t n, const xf_model_io_t* io, int k, char* why,
                         size_t why_size) {
    double dot = 0, ng = 0, nw = 0;
    for (int64_t i = 0; i < n; i++) {
        dot += got[i] * want[i];
        ng += got[i] * got[i];
        nw += want[i] * want[i];
    }
    double cosine = ng > 0 && nw > 0 ? dot / sqrt(ng * nw) : (ng == nw ? 1.0 : 0.0);
    if (!(cosine >= 0.9999)) {
        snprintf(why, why_size, "output %d: cosine %.6f to the reference (< 0.9999)", k, cosine);
        return false;
    }
    if (io->ndim == 2 && io->shape[0] == 1 && n >= 5) {
        int64_t a[5], b[5];
        top5(got, n, a);
        top5(want, n, b);
        for (int j = 0; j < 5; j++)
            if (a[j] != b[j]) {
                snprintf(why, why_size, "output %d: top-5 class %d is %lld, the reference's %lld", k, j,
                         (long long)a[j], (long long)b[j]);
                return false;
            }
    }
    return true;
}

xf_node_result_t xf_run_node_test(xf_context_t* ctx, const char* dir, bool model_checks_on, char* why,
                                  size_t why_size) {
    char path[1200];
    snprintf(path, sizeof path, "%s/model.onnx", dir);
    xf_model_t* model = NULL;
    xf_status_t st = xf_model_load(ctx, path, NULL, &model);
    if (st == XF_ERR_UNIMPLEMENTED) {
        snprintf(why, why_size, "%s", xf_context_error(ctx));
        return XF_NODE_UNSUPPORTED;
    }
    if (st != XF_OK) {
        snprintf(why, why_size, "load: %s", xf_context_error(ctx));
        return XF_NODE_FAIL;
    }
    const int nin = xf_model_io_count(model, false), nout = xf_model_io_count(model, true);
    xf_node_result_t result = XF_NODE_PASS;
    int sets = 0;
    for (int set = 0; set < 8 && result == XF_NODE_PASS; set++) {
        void* inputs[64] = {0};
        void* outputs[64] = {0};
        double* want[64] = {0};
        int64_t want_n[64] = {0};
        bool have_set = true;
        for (int k = 0; k < nin && result == XF_NODE_PASS && have_set; k++) {
            snprintf(path, sizeof path, "%s/test_data_set_%d/input_%d.pb", dir, set, k);
            Onnx__TensorProto* t = read_tensor(path);
            if (!t) {
                have_set = false;
                break;
            }
            xf_model_io_t io;
            xf_model_io_info(model, false, k, &io);
            int64_t n, expect = 1;
            for (int d = 0; d < io.ndim; d++) expect *= io.shape[d];
            double* v = tensor_values(t, &n);
            onnx__tensor_proto__free_unpacked(t, NULL);
            if (!v) {
                snprintf(why, why_size, "input %d has an element type the runner does not read", k);
                result = XF_NODE_UNSUPPORTED;
                break;
            }
            if (n != expect) {
                free(v);
                snprintf(why, why_size, "input %d has %lld values, the model wants %lld", k, (long long)n,
                         (long long)expect);
                result = XF_NODE_FAIL;
                break;
            }
            inputs[k] = malloc((size_t)(n ? n : 1) * 4);
            for (int64_t j = 0; j < n; j++) {
                if (io.dtype == XF_DTYPE_F32) ((float*)inputs[k])[j] = (float)v[j];
                else ((int32_t*)inputs[k])[j] = (int32_t)v[j];
            }
            free(v);
        }
        for (int k = 0; k < nout && result == XF_NODE_PASS && have_set; k++) {
            snprintf(path, sizeof path, "%s/test_data_set_%d/output_%d.pb", dir, set, k);
            Onnx__TensorProto* t = read_tensor(path);
            if (!t) {
                snprintf(why, why_size, "missing %s", path);
                result = XF_NODE_FAIL;
                break;
            }
            want[k] = tensor_values(t, &want_n[k]);
            onnx__tensor_proto__free_unpacked(t, NULL);
            if (!want[k]) {
                snprintf(why, why_size, "output %d has an element type libxformer does not produce", k);
                result = XF_NODE_UNSUPPORTED;
                break;
            }
            xf_model_io_t io;
            xf_model_io_info(model, true, k, &io);
            int64_t expect = 1;
            for (int d = 0; d < io.ndim; d++) expect *= io.shape[d];
            if (expect != want_n[k]) {
                snprintf(why, why_size, "output %d has %lld values, the test wants %lld", k, (long long)expect,
                         (long long)want_n[k]);
                result = XF_NODE_FAIL;
                break;
            }
            // Poisoned: an output the graph does not write cannot pass.
            outputs[k] = malloc((size_t)(expect ? expect : 1) * 4);
            for (int64_t j = 0; j < expect; j++) ((float*)outputs[k])[j] = NAN;
        }
        if (have_set && result == XF_NODE_PASS) {
            sets++;
            st = xf_model_run_io(model, (const void* const*)inputs, outputs);
            if (st != XF_OK) {
                snprintf(why, why_size, "run: %s", xf_context_error(ctx));
                result = XF_NODE_FAIL;
            }
            for (int k = 0; k < nout && result == XF_NODE_PASS; k++) {
                xf_model_io_t io;
                xf_model_io_info(model, true, k, &io);
                double* got_all = malloc((size_t)(want_n[k] ? want_n[k] : 1) * sizeof(double));
                for (int64_t j = 0; j < want_n[k]; j++)
                    got_all[j] = io.dtype == XF_DTYPE_F32 ? ((float*)outputs[k])[j] : ((int32_t*)outputs[k])[j];
                if (model_checks_on && !model_checks(got_all, want[k], want_n[k], &io, k, why, why_size))
                    result = XF_NODE_FAIL;
                for (int64_t j = 0; j < want_n[k] && result == XF_NODE_PASS; j++) {
                    double got = got_all[j];
                    double w = want[k][j];
                    bool ok = (isnan(w) && isnan(got)) || (isinf(w) && got == w) ||
                              fabs(got - w) <= 1e-4 + 1e-3 * fabs(w);
                    if (!ok) {
                        snprintf(why, why_size, "output %d [%lld]: got %.7g, want %.7g", k, (long long)j, got, w);
                        result = XF_NODE_FAIL;
                        break;
                    }
                }
                free(got_all);
            }
        }
        for (int k = 0; k < 64; k++) {
            free(inputs[k]);
            free(outputs[k]);
            free(want[k]);
        }
        if (!have_set) break;
    }
    if (result == XF_NODE_PASS && sets == 0) {
        snprintf(why, why_size, "no test data");
        result = XF_NODE_FAIL;
    }
    xf_model_destroy(model);
    return result;
}
