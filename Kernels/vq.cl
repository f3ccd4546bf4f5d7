// VQ nearest-code search: distances and argmin in one kernel. One work-group of WG items per row
// of x: [rows, dim]; the items split codebook: [codes, dim], then a tree argmin in local memory
// (ties and NaN-free comparisons resolve to the lowest code index).
#ifndef WG
#define WG 256
#endif

// indices: int [rows] (nearest code), distances: [rows] (its squared L2 distance).
__kernel void vq_nearest(__global const float* x, __global const float* codebook, __global int* indices,
                         __global float* distances, int rows, int codes, int dim) {
    __local float bd[WG];
    __local int bi[WG];
    int row = get_group_id(0), l = get_local_id(0);
    __global const float* xr = x + (size_t)row * dim;
    float best = INFINITY;
    int bestIdx = -1;
    for (int c = l; c < codes; c += WG) {
        __global const float* cr = codebook + (size_t)c * dim;
        float d = 0.0f;
        for (int j = 0; j < dim; ++j) { float t = xr[j] - cr[j]; d += t * t; }
        if (bestIdx < 0 || d < best) { best = d; bestIdx = c; }
    }
    bd[l] = best;
    bi[l] = bestIdx;
    barrier(CLK_LOCAL_MEM_FENCE);
    for (int o = WG / 2; o > 0; o >>= 1) {
        if (l < o) {
            float d2 = bd[l + o];
            int i2 = bi[l + o];
            if (i2 >= 0 && (bi[l] < 0 || d2 < bd[l] || (d2 == bd[l] && i2 < bi[l]))) { bd[l] = d2; bi[l] = i2; }
        }
        barrier(CLK_LOCAL_MEM_FENCE);
    }
    if (l == 0) {
        indices[row] = bi[0] < 0 ? 0 : bi[0];
        distances[row] = bi[0] < 0 ? 0.0f : bd[0];
    }
}
