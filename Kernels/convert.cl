// fp32 <-> fp16 storage with vload_half / vstore_half (core OpenCL 1.2; no cl_khr_fp16 needed).

// dst: half [n] = src: float [n], round to nearest even.
__kernel void to_half(__global const float* src, __global half* dst, int n) {
    int i = get_global_id(0);
    if (i >= n) return;
    vstore_half_rte(src[i], i, dst);
}

// dst: float [n] = src: half [n]
__kernel void from_half(__global const half* src, __global float* dst, int n) {
    int i = get_global_id(0);
    if (i >= n) return;
    dst[i] = vload_half(i, src);
}

// dst: half [n] += src: float [n], added in fp32 and rounded to nearest even (fp16 gradients
// under --amp; an overflow becomes inf, which the dynamic loss scale detects).
__kernel void accumulate_half(__global const float* src, __global half* dst, int n) {
    int i = get_global_id(0);
    if (i >= n) return;
    vstore_half_rte(vload_half(i, dst) + src[i], i, dst);
}
