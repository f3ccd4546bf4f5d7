// Deterministic reductions: a fixed number of work-groups each reduce a fixed strided share of x
// into partials: [groups] with a tree in local memory, then one group reduces the partials. The
// order of additions depends only on n, WG and the group count, never on scheduling.
#ifndef WG
#define WG 256
#endif

// x: [n] -> partials: [get_num_groups(0)]; squares != 0 sums x^2.
__kernel void reduce_partial(__global const float* x, int n, int squares, __global float* partials) {
    __local float s[WG];
    int l = get_local_id(0), g = get_group_id(0), groups = get_num_groups(0);
    float acc = 0.0f;
    for (int i = g * WG + l; i < n; i += groups * WG) {
        float v = x[i];
        acc += squares ? v * v : v;
    }
    s[l] = acc;
    barrier(CLK_LOCAL_MEM_FENCE);
    for (int o = WG / 2; o > 0; o >>= 1) {
        if (l < o) s[l] += s[l + o];
        barrier(CLK_LOCAL_MEM_FENCE);
    }
    if (l == 0) partials[g] = s[0];
}

// partials: [count] -> out[0] = sum / divisor. Run as one work-group of WG items.
__kernel void reduce_final(__global const float* partials, int count, float divisor, __global float* out) {
    __local float s[WG];
    int l = get_local_id(0);
    float acc = 0.0f;
    for (int i = l; i < count; i += WG) acc += partials[i];
    s[l] = acc;
    barrier(CLK_LOCAL_MEM_FENCE);
    for (int o = WG / 2; o > 0; o >>= 1) {
        if (l < o) s[l] += s[l + o];
        barrier(CLK_LOCAL_MEM_FENCE);
    }
    if (l == 0) out[0] = divisor == 1.0f ? s[0] : s[0] / divisor;
}
