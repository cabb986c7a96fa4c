// SPDX-License-Identifier: MIT
// COPY: dense dst = strided src, element-wise, with f32 <-> f16 conversion.
// Work-items: dim 0 = position in the innermost dim (16 elements per work-item when |vec16|: the
// source's innermost dim is contiguous and ne.w % 16 == 0), dim 1 = row (the three outer dims
// flattened), so only the row needs dividing.
#define XF_COPY(name, S, D, store, store16)                                                                \
    __kernel void name(__global const S* src, int src_off, int4 nb, __global D* dst, int dst_off, int4 ne, \
                       int vec16) {                                                                        \
        int w = get_global_id(0) * (vec16 ? 16 : 1), r = get_global_id(1);                                 \
        if (w >= ne.w || r >= ne.x * ne.y * ne.z) return;                                                  \
        int z = r % ne.z, y = (r / ne.z) % ne.y, x = r / (ne.z * ne.y);                                    \
        int s = src_off + x * nb.x + y * nb.y + z * nb.z + w * nb.w;                                       \
        int i = dst_off + r * ne.w + w;                                                                    \
        if (vec16) {                                                                                       \
            store16;                                                                                       \
        } else {                                                                                           \
            store;                                                                                         \
        }                                                                                                  \
    }

XF_COPY(copy_f32_f32, float, float, dst[i] = src[s], vstore16(vload16(0, src + s), 0, dst + i))
XF_COPY(copy_f32_f16, float, half, vstore_half(src[s], i, dst),
        vstore_half16(vload16(0, src + s), 0, dst + i))
XF_COPY(copy_f16_f32, half, float, dst[i] = vload_half(s, src),
        vstore16(vload_half16(0, src + s), 0, dst + i))
XF_COPY(copy_f16_f16, ushort, ushort, dst[i] = src[s], vstore16(vload16(0, src + s), 0, dst + i))
XF_COPY(copy_i32_i32, int, int, dst[i] = src[s], vstore16(vload16(0, src + s), 0, dst + i))
