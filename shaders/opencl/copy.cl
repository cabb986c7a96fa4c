// SPDX-License-Identifier: MIT
// COPY: dense dst = strided src, element-wise, with f32 <-> f16 conversion.
// Work-items: dim 0 = innermost index, dim 1 = row (the three outer dims flattened), so only the
// row needs dividing and neighbours along dim 0 read with the source's innermost stride nb.w.
#define XF_COPY(name, S, D, store)                                                                         \
    __kernel void name(__global const S* src, int src_off, int4 nb, __global D* dst, int dst_off, int4 ne, \
                       int n) {                                                                            \
        int w = get_global_id(0), r = get_global_id(1);                                                    \
        if (w >= ne.w || r >= ne.x * ne.y * ne.z) return;                                                  \
        int z = r % ne.z, y = (r / ne.z) % ne.y, x = r / (ne.z * ne.y);                                    \
        int s = src_off + x * nb.x + y * nb.y + z * nb.z + w * nb.w;                                       \
        int i = r * ne.w + w;                                                                              \
        store;                                                                                             \
    }

XF_COPY(copy_f32_f32, float, float, dst[dst_off + i] = src[s])
XF_COPY(copy_f32_f16, float, half, vstore_half(src[s], dst_off + i, dst))
XF_COPY(copy_f16_f32, half, float, dst[dst_off + i] = vload_half(s, src))
XF_COPY(copy_f16_f16, ushort, ushort, dst[dst_off + i] = src[s])
XF_COPY(copy_i32_i32, int, int, dst[dst_off + i] = src[s])
