// SPDX-License-Identifier: MIT
// The dtype traits table: size, block layout, name and conversion to and from f32 of every storage
// type, and the scalar half-precision conversions.
#include <math.h>
#include <string.h>

#include "backend.h"

uint16_t xf_f32_to_f16(float value) {
    uint32_t x;
    memcpy(&x, &value, 4);
    uint32_t sign = (x >> 16) & 0x8000u;
    uint32_t exp = (x >> 23) & 0xffu;
    uint32_t mant = x & 0x7fffffu;
    if (exp == 0xff) return (uint16_t)(sign | 0x7c00u | (mant ? 0x200u : 0));
    int32_t e = (int32_t)exp - 127 + 15;
    if (e >= 31) return (uint16_t)(sign | 0x7c00u);
    if (e <= 0) {
        if (e < -10) return (uint16_t)sign;
        mant |= 0x800000u;
        uint32_t shift = (uint32_t)(14 - e);
        uint32_t half = mant >> shift;
        uint32_t rem = mant & ((1u << shift) - 1);
        uint32_t mid = 1u << (shift - 1);
        if (rem > mid || (rem == mid && (half & 1u))) half++;
        return (uint16_t)(sign | half);
    }
    uint32_t half = sign | ((uint32_t)e << 10) | (mant >> 13);
    uint32_t rem = mant & 0x1fffu;
    // Round to nearest even; a carry into the exponent is the correct result.
    if (rem > 0x1000u || (rem == 0x1000u && (half & 1u))) half++;
    return (uint16_t)half;
}

float xf_f16_to_f32(uint16_t value) {
    uint32_t sign = (uint32_t)(value & 0x8000u) << 16;
    uint32_t exp = (value >> 10) & 0x1fu;
    uint32_t mant = value & 0x3ffu;
    uint32_t x;
    if (exp == 0) {
        if (mant == 0) {
            x = sign;
        } else {
            int e = -1;
            do {
                mant <<= 1;
                e++;
            } while (!(mant & 0x400u));
            x = sign | ((uint32_t)(127 - 15 - e) << 23) | ((mant & 0x3ffu) << 13);
        }
    } else if (exp == 31) {
        x = sign | 0x7f800000u | (mant << 13);
    } else {
        x = sign | ((exp + 127 - 15) << 23) | (mant << 13);
    }
    float f;
    memcpy(&f, &x, 4);
    return f;
}

uint16_t xf_f32_to_bf16(float value) {
    uint32_t x;
    memcpy(&x, &value, 4);
    if ((x & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((x >> 16) | 0x40u);  // keep NaN quiet and NaN
    x += 0x7fffu + ((x >> 16) & 1u);  // round to nearest even
    return (uint16_t)(x >> 16);
}

float xf_bf16_to_f32(uint16_t value) {
    uint32_t x = (uint32_t)value << 16;
    float f;
    memcpy(&f, &x, 4);
    return f;
}

static void f32_to_f32(const void* src, float* dst, size_t n) { memcpy(dst, src, n * sizeof(float)); }
static void f32_from_f32(const float* src, void* dst, size_t n) { memcpy(dst, src, n * sizeof(float)); }

static void f16_to_f32(const void* src, float* dst, size_t n) {
    const uint16_t* s = src;
    for (size_t i = 0; i < n; ++i) dst[i] = xf_f16_to_f32(s[i]);
}
static void f16_from_f32(const float* src, void* dst, size_t n) {
    uint16_t* d = dst;
    for (size_t i = 0; i < n; ++i) d[i] = xf_f32_to_f16(src[i]);
}

static void bf16_to_f32(const void* src, float* dst, size_t n) {
    const uint16_t* s = src;
    for (size_t i = 0; i < n; ++i) dst[i] = xf_bf16_to_f32(s[i]);
}
static void bf16_from_f32(const float* src, void* dst, size_t n) {
    uint16_t* d = dst;
    for (size_t i = 0; i < n; ++i) d[i] = xf_f32_to_bf16(src[i]);
}

static void i32_to_f32(const void* src, float* dst, size_t n) {
    const int32_t* s = src;
    for (size_t i = 0; i < n; ++i) dst[i] = (float)s[i];
}
static void i32_from_f32(const float* src, void* dst, size_t n) {
    int32_t* d = dst;
    for (size_t i = 0; i < n; ++i) d[i] = (int32_t)src[i];
}

static void i8_to_f32(const void* src, float* dst, size_t n) {
    const int8_t* s = src;
    for (size_t i = 0; i < n; ++i) dst[i] = (float)s[i];
}
static void i8_from_f32(const float* src, void* dst, size_t n) {
    int8_t* d = dst;
    for (size_t i = 0; i < n; ++i) {
        float v = src[i] != src[i] ? 0.0f : src[i] < -128.0f ? -128.0f : src[i] > 127.0f ? 127.0f : src[i];
        d[i] = (int8_t)lrintf(v);
    }
}

static const xf_dtype_traits_t traits[XF_DTYPE_COUNT] = {
    [XF_DTYPE_F32] = {"f32", 4, 1, true, f32_to_f32, f32_from_f32},
    [XF_DTYPE_F16] = {"f16", 2, 1, true, f16_to_f32, f16_from_f32},
    [XF_DTYPE_I32] = {"i32", 4, 1, false, i32_to_f32, i32_from_f32},
    [XF_DTYPE_BF16] = {"bf16", 2, 1, true, bf16_to_f32, bf16_from_f32},
    [XF_DTYPE_I8] = {"i8", 1, 1, false, i8_to_f32, i8_from_f32},
};

void xf_quantize_int8(const float* w, int64_t n, int64_t k, int block, xf_dtype_t scale_dtype, int8_t* q,
                      float* scales) {
    int64_t group = block ? block : k, groups = k ? (k + group - 1) / group : 0;
    for (int64_t r = 0; r < n; ++r) {
        for (int64_t g = 0; g < groups; ++g) {
            const float* x = w + r * k + g * group;
            int64_t len = k - g * group < group ? k - g * group : group;
            float amax = 0.0f;
            for (int64_t i = 0; i < len; ++i) amax = fmaxf(amax, fabsf(x[i]));
            float s = amax / 127.0f;
            if (scale_dtype == XF_DTYPE_F16) s = xf_f16_to_f32(xf_f32_to_f16(s));
            scales[r * groups + g] = s;
            for (int64_t i = 0; i < len; ++i) {
                float v = s > 0.0f ? x[i] / s : 0.0f;
                v = v < -127.0f ? -127.0f : v > 127.0f ? 127.0f : v;
                q[r * k + g * group + i] = (int8_t)lrintf(v);
            }
        }
    }
}

const xf_dtype_traits_t* xf_dtype_traits(xf_dtype_t dtype) {
    return (unsigned)dtype < XF_DTYPE_COUNT && traits[dtype].name ? &traits[dtype] : NULL;
}

size_t xf_dtype_size(xf_dtype_t dtype) {
    const xf_dtype_traits_t* t = xf_dtype_traits(dtype);
    return t ? t->block_bytes / (size_t)t->block_elems : 0;
}

const char* xf_dtype_name(xf_dtype_t dtype) {
    const xf_dtype_traits_t* t = xf_dtype_traits(dtype);
    return t ? t->name : "unknown";
}
