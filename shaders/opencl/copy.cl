// SPDX-License-Identifier: MIT
// COPY: dense dst = strided src, element-wise, with f32 <-> f16 conversion.
// One work-item per dst element; |nb| are the source's element strides.
#define XF_COPY(name, S, D, load, store)                                                                   \
    __kernel void name(__global const S* src, int src_off, int4 nb, __global D* dst, int dst_off, int4 ne, \
                       int n) {                                                                            \
        int i = get_global_id(0);                                                                          \
        if (i >= n) return;                                                                                \
        int s = src_off + xf_dot4i(xf_coords(i, ne), nb);                                                  \
        store;                                                                                             \
    }

XF_COPY(copy_f32_f32, float, float, , dst[dst_off + i] = src[s])
XF_COPY(copy_f32_f16, float, half, , vstore_half(src[s], dst_off + i, dst))
XF_COPY(copy_f16_f32, half, float, , dst[dst_off + i] = vload_half(s, src))
XF_COPY(copy_f16_f16, ushort, ushort, , dst[dst_off + i] = src[s])
XF_COPY(copy_i32_i32, int, int, , dst[dst_off + i] = src[s])
