// SPDX-License-Identifier: MIT
// ROLL: dst[c] = src[(c - shift) mod ne] per dim, one work-item per dst element; shifts in [0, ne).

__kernel void roll(__global const st_t* src, int s_off, __global st_t* dst, int d_off, int4 ne, int4 shift, int n) {
    int i = get_global_id(0);
    if (i >= n) return;
    int4 c = xf_coords(i, ne) - shift;
    c += select((int4)(0), ne, c < 0);
    ST(dst, d_off + i, LD(src, s_off + ((c.x * ne.y + c.y) * ne.z + c.z) * ne.w + c.w));
}
