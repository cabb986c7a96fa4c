// SPDX-License-Identifier: MIT
// Host preprocessing, 8-bit pixels to a model's input tensor: libxformer's tensor pipeline (tools/preprocess.py)
// and, when the config names an interpolation, timm's / Hugging Face's evaluation pipeline on Pillow, bit for bit.
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "model_internal.h"

//===----------------------------------------------------------------------===//
// The tensor pipeline: bilinear without antialiasing on f32 values (docs/MODELS.md)
//===----------------------------------------------------------------------===//
// PyTorch's F.interpolate(mode="bilinear", align_corners=False, antialias=False) source index and
// weight for one output coordinate, computed in f32 as PyTorch does for f32 tensors.
static void bilinear_coord(int64_t out_i, int64_t in_size, int64_t out_size, int64_t* i0, int64_t* i1,
                           float* l0, float* l1) {
    float scale = (float)in_size / (float)out_size;
    float src = scale * ((float)out_i + 0.5f) - 0.5f;
    if (src < 0) src = 0;
    int64_t a = (int64_t)src;
    if (a > in_size - 1) a = in_size - 1;
    *i0 = a;
    *i1 = a + (a < in_size - 1 ? 1 : 0);
    *l1 = src - (float)a;
    *l0 = 1.0f - *l1;
}

// Channel |k| of pixel |px| as the model sees it, in [0, 1].
static float pixel_value(const uint8_t* px, int channels, int64_t model_channels, int64_t k) {
    const int colour = channels >= 3;
    float v;
    if (model_channels == 1 && colour)
        v = 0.299f * px[0] + 0.587f * px[1] + 0.114f * px[2];
    else if (colour && k < 3)
        v = px[k];
    else if (!colour)
        v = px[0];
    else
        v = px[k < channels ? k : 0];
    return v / 255.0f;
}


static void preprocess_tensor(const xf_model_t* m, const uint8_t* pixels, int width, int height, int channels,
                              float* out) {
    const int64_t c = m->info.input_channels, w = width, h = height;
    const int64_t oh = m->info.input_height, ow = m->info.input_width;

    // The resized size (ViT: short side to floor(size / crop_pct); SegFormer: the input size). Only
    // the centre crop of it is computed, straight from the source pixels, so neither time nor memory
    // depends on the image size or crop_pct. Bounded sizes (65536 per side, crop_pct >= 1e-3) keep
    // every product below 2^53.
    int64_t rh = oh, rw = ow;
    if (m->info.task == XF_MODEL_TASK_CLASSIFICATION) {
        int64_t size = oh > ow ? oh : ow;
        int64_t s = (int64_t)floor((double)size / (double)m->info.crop_pct);
        if (h <= w) {
            rh = s;
            rw = (int64_t)floor((double)w * (double)s / (double)h + 0.5);
        } else {
            rw = s;
            rh = (int64_t)floor((double)h * (double)s / (double)w + 0.5);
        }
        if (rh < oh) rh = oh;
        if (rw < ow) rw = ow;
    }
    const int64_t top = (rh - oh) / 2, left = (rw - ow) / 2;
    const bool resize = rh != h || rw != w;
    for (int64_t y = 0; y < oh; y++) {
        int64_t y0 = y + top, y1 = y0;
        float ly0 = 1, ly1 = 0;
        if (resize) bilinear_coord(y + top, h, rh, &y0, &y1, &ly0, &ly1);
        for (int64_t x = 0; x < ow; x++) {
            int64_t x0 = x + left, x1 = x0;
            float lx0 = 1, lx1 = 0;
            if (resize) bilinear_coord(x + left, w, rw, &x0, &x1, &lx0, &lx1);
            const uint8_t* p00 = pixels + (y0 * w + x0) * channels;
            const uint8_t* p01 = pixels + (y0 * w + x1) * channels;
            const uint8_t* p10 = pixels + (y1 * w + x0) * channels;
            const uint8_t* p11 = pixels + (y1 * w + x1) * channels;
            for (int64_t k = 0; k < c; k++) {
                float v = pixel_value(p00, channels, c, k);
                if (resize)
                    v = ly0 * (lx0 * v + lx1 * pixel_value(p01, channels, c, k)) +
                        ly1 * (lx0 * pixel_value(p10, channels, c, k) + lx1 * pixel_value(p11, channels, c, k));
                out[(k * oh + y) * ow + x] = (v - m->info.mean[k]) / m->info.std[k];
            }
        }
    }
}

//===----------------------------------------------------------------------===//
// The Pillow pipeline: Image.resize (antialiased, 8-bit fixed point) and torchvision's CenterCrop
//===----------------------------------------------------------------------===//

// Pillow's filters (libImaging/Resample.c).
static double pil_bicubic(double x) {
    const double a = -0.5;
    if (x < 0) x = -x;
    if (x < 1) return ((a + 2) * x - (a + 3)) * x * x + 1;
    if (x < 2) return (((x - 5) * x + 8) * x - 4) * a;
    return 0;
}

static double pil_triangle(double x) {
    if (x < 0) x = -x;
    return x < 1 ? 1 - x : 0;
}

enum { PIL_PRECISION_BITS = 32 - 8 - 2 };

// Taps of output positions [o0, o0 + n) of an in_size -> out_size resize, as Pillow's precompute_coeffs and
// normalize_coeffs_8bpc make them; positions outside [0, out_size) (padding) get no taps.
typedef struct pil_taps_s {
    int64_t* first;
    int* count;
    int32_t* k;  // [n][ksize]
    int ksize;
} pil_taps_t;

static void pil_taps_free(pil_taps_t* t) {
    xf_free(t->first);
    xf_free(t->count);
    xf_free(t->k);
}

static bool pil_taps(int64_t in_size, int64_t out_size, int64_t o0, int64_t n, bool cubic, pil_taps_t* t) {
    const double scale = (double)in_size / (double)out_size, filterscale = scale < 1 ? 1 : scale;
    const double support = (cubic ? 2.0 : 1.0) * filterscale;
    t->ksize = (int)ceil(support) * 2 + 1;
    t->first = xf_malloc((size_t)n * sizeof *t->first);
    t->count = xf_malloc((size_t)n * sizeof *t->count);
    t->k = xf_malloc((size_t)n * (size_t)t->ksize * sizeof *t->k);
    double* w = xf_malloc((size_t)t->ksize * sizeof *w);
    bool ok = t->first && t->count && t->k && w;
    for (int64_t i = 0; ok && i < n; i++) {
        const int64_t xx = o0 + i;
        t->first[i] = 0;
        t->count[i] = 0;
        if (xx < 0 || xx >= out_size) continue;
        const double center = ((double)xx + 0.5) * scale, ss = 1.0 / filterscale;
        int64_t lo = (int64_t)(center - support + 0.5), hi = (int64_t)(center + support + 0.5);
        if (lo < 0) lo = 0;
        if (hi > in_size) hi = in_size;
        int taps = (int)(hi - lo);
        if (taps > t->ksize) taps = t->ksize;
        double total = 0;
        for (int j = 0; j < taps; j++) {
            w[j] = (cubic ? pil_bicubic : pil_triangle)(((double)(j + lo) - center + 0.5) * ss);
            total += w[j];
        }
        int32_t* k = t->k + i * t->ksize;
        for (int j = 0; j < taps; j++) {
            double v = total != 0 ? w[j] / total : w[j];
            k[j] = (int32_t)(v < 0 ? -0.5 + v * (1 << PIL_PRECISION_BITS) : 0.5 + v * (1 << PIL_PRECISION_BITS));
        }
        t->first[i] = lo;
        t->count[i] = taps;
    }
    xf_free(w);
    return ok;
}

static uint8_t pil_clip8(int64_t v) {
    if (v >= ((int64_t)255 << PIL_PRECISION_BITS)) return 255;
    if (v <= 0) return 0;
    return (uint8_t)(v >> PIL_PRECISION_BITS);
}

// Channel |k| of the model's view of pixel |px|, as Pillow converts: L from RGB with its integer luma,
// grey replicated into RGB, alpha dropped.
static uint8_t pil_channel(const uint8_t* px, int channels, int64_t model_channels, int64_t k) {
    const bool colour = channels >= 3;
    if (model_channels == 1 && colour)
        return (uint8_t)(((int64_t)px[0] * 19595 + (int64_t)px[1] * 38470 + (int64_t)px[2] * 7471 + 0x8000) >> 16);
    if (!colour) return px[0];
    return px[k < channels ? k : 0];
}

// Python's round(): halves to even (the default rounding mode).
static int64_t round_half_even(double x) { return (int64_t)nearbyint(x); }

static xf_status_t preprocess_pil(const xf_model_t* m, const uint8_t* pixels, int width, int height, int channels,
                                  float* out) {
    const int64_t c = m->info.input_channels, w = width, h = height;
    const int64_t oh = m->info.input_height, ow = m->info.input_width;
    // The resized size: fixed (Hugging Face's processors), or timm's eval transform for a ViT (Resize of the short side to floor(size / crop_pct) for
    // a square input, ResizeKeepRatio otherwise, then CenterCrop); straight to the input size for SegFormer.
    int64_t rh = oh, rw = ow;
    if (m->resize_h > 0) {
        rh = m->resize_h;
        rw = m->resize_w;
    } else if (m->info.task == XF_MODEL_TASK_CLASSIFICATION) {
        const int64_t sh = (int64_t)floor((double)oh / (double)m->info.crop_pct),
                      sw = (int64_t)floor((double)ow / (double)m->info.crop_pct);
        if (sh == sw) {
            const int64_t lng = h > w ? h : w, shrt = h > w ? w : h;
            const int64_t new_long = (int64_t)((double)sh * (double)lng / (double)shrt);
            rh = h > w ? new_long : sh;
            rw = h > w ? sh : new_long;
        } else {
            const double ry = (double)h / (double)sh, rx = (double)w / (double)sw, ratio = ry < rx ? ry : rx;
            rh = round_half_even((double)h / ratio);
            rw = round_half_even((double)w / ratio);
        }
        if (rh < 1) rh = 1;
        if (rw < 1) rw = 1;
    }
    // torchvision's CenterCrop: zero padding centred (floor) when the image is smaller, else an offset
    // rounded half to even; Hugging Face's center_crop takes the floor.
    const int64_t top = rh < oh ? -((oh - rh) / 2)
                        : m->crop_floor ? (rh - oh) / 2
                                        : round_half_even((double)(rh - oh) / 2.0);
    const int64_t left = rw < ow ? -((ow - rw) / 2)
                         : m->crop_floor ? (rw - ow) / 2
                                         : round_half_even((double)(rw - ow) / 2.0);
    const bool cubic = m->info.interpolation == XF_INTERPOLATION_BICUBIC;
    const bool horizontal = rw != w, vertical = rh != h;

    pil_taps_t tx = {0}, ty = {0};
    bool ok = (!horizontal || pil_taps(w, rw, left, ow, cubic, &tx)) &&
              (!vertical || pil_taps(h, rh, top, oh, cubic, &ty));
    // Horizontally resized rows, in a ring as tall as the vertical filter (rows are needed in order).
    const int64_t cap = vertical ? ty.ksize : 1;
    uint8_t* ring = ok ? xf_malloc((size_t)(cap * ow * c)) : NULL;
    int64_t* held = ok ? xf_malloc((size_t)cap * sizeof *held) : NULL;
    if (!ring || !held) {
        pil_taps_free(&tx);
        pil_taps_free(&ty);
        xf_free(ring);
        xf_free(held);
        return xf_ctx_fail(m->ctx, XF_ERR_OUT_OF_MEMORY, "xf_model_preprocess: out of host memory");
    }
    for (int64_t i = 0; i < cap; i++) held[i] = -1;
    for (int64_t y = 0; y < oh; y++) {
        const int64_t ry = top + y;
        const bool inside_y = ry >= 0 && ry < rh;
        const int64_t r0 = !inside_y ? 0 : vertical ? ty.first[y] : ry;
        const int rn = !inside_y ? 0 : vertical ? ty.count[y] : 1;
        for (int t = 0; t < rn; t++) {
            const int64_t src_row = r0 + t, slot = src_row % cap;
            if (held[slot] == src_row) continue;
            held[slot] = src_row;
            uint8_t* dst = ring + slot * ow * c;
            const uint8_t* row = pixels + src_row * w * channels;
            for (int64_t x = 0; x < ow; x++) {
                const int64_t rx = left + x;
                for (int64_t k = 0; k < c; k++) {
                    uint8_t v = 0;
                    if (rx >= 0 && rx < rw) {
                        if (horizontal) {
                            int64_t acc = (int64_t)1 << (PIL_PRECISION_BITS - 1);
                            const int32_t* kk = tx.k + x * tx.ksize;
                            for (int j = 0; j < tx.count[x]; j++)
                                acc += (int64_t)kk[j] * pil_channel(row + (tx.first[x] + j) * channels, channels, c, k);
                            v = pil_clip8(acc);
                        } else {
                            v = pil_channel(row + rx * channels, channels, c, k);
                        }
                    }
                    dst[x * c + k] = v;
                }
            }
        }
        for (int64_t x = 0; x < ow; x++) {
            for (int64_t k = 0; k < c; k++) {
                uint8_t v = 0;
                if (inside_y && vertical) {
                    int64_t acc = (int64_t)1 << (PIL_PRECISION_BITS - 1);
                    const int32_t* kk = ty.k + y * ty.ksize;
                    for (int t = 0; t < rn; t++) acc += (int64_t)kk[t] * ring[((r0 + t) % cap * ow + x) * c + k];
                    v = pil_clip8(acc);
                } else if (inside_y) {
                    v = ring[((r0 % cap) * ow + x) * c + k];
                }
                out[(k * oh + y) * ow + x] = ((float)v / 255.0f - m->info.mean[k]) / m->info.std[k];
            }
        }
    }
    pil_taps_free(&tx);
    pil_taps_free(&ty);
    xf_free(ring);
    xf_free(held);
    return XF_OK;
}

//===----------------------------------------------------------------------===//

xf_status_t xf_model_preprocess(const xf_model_t* m, const uint8_t* pixels, int width, int height,
                                int channels, float* out, size_t count) {
    if (!m) return xf_set_last_error(XF_ERR_INVALID_ARGUMENT, "xf_model_preprocess: model is NULL");
    xf_alloc_use(&m->ctx->allocator);
    if (!pixels || !out || width < 1 || height < 1 || channels < 1 || channels > 4 || width > (1 << 16) ||
        height > (1 << 16))
        return xf_ctx_fail(
            m->ctx, XF_ERR_INVALID_ARGUMENT,
            "xf_model_preprocess: need pixels and out, 1..65536 pixels per side and 1..4 channels "
            "(got %dx%d, %d channels)",
            width, height, channels);
    if (count != (size_t)m->info.input_elements)
        return xf_ctx_fail(m->ctx, XF_ERR_INVALID_ARGUMENT,
                           "xf_model_preprocess: out must be %lld floats, got %zu",
                           (long long)m->info.input_elements, count);
    if (m->info.interpolation != XF_INTERPOLATION_DEFAULT)
        return preprocess_pil(m, pixels, width, height, channels, out);
    preprocess_tensor(m, pixels, width, height, channels, out);
    return XF_OK;
}
