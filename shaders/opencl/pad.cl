// SPDX-License-Identifier: MIT
// PAD: dst[c] = src[c - before] inside the source, |value| elsewhere; one work-item per dst element.

__kernel void pad(__global const st_t* src, int s_off, __global st_t* dst, int d_off, int4 sne, int4 dne,
                  int4 before, float value, int n) {
    int i = get_global_id(0);
    if (i >= n) return;
    int4 c = xf_coords(i, dne) - before;
    bool inside = all(c >= (int4)(0)) && all(c < sne);
    ST(dst, d_off + i, inside ? LD(src, s_off + ((c.x * sne.y + c.y) * sne.z + c.z) * sne.w + c.w) : value);
}
