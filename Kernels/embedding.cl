// Embedding gather and a deterministic scatter-add (a counting sort of positions by id, then one
// work-item per (id, column) summing its positions in order; no atomics).

// out: [count, dim] = table: [vocab, dim] rows picked by ids: int [count]; an id outside
// 0..<vocab gives a zero row.
__kernel void embedding_gather(__global const float* table, __global const int* ids, __global float* out,
                               int count, int dim, int vocab) {
    int i = get_global_id(0);
    if (i >= count * dim) return;
    int p = i / dim, j = i % dim;
    int id = ids[p];
    out[i] = (id >= 0 && id < vocab) ? table[(size_t)id * dim + j] : 0.0f;
}

// One work-item per id v: ranges: [vocab, 2] = (start, length) of v's positions in perm: [count],
// which lists the positions of each id in increasing order. Ids outside 0..<vocab are skipped.
__kernel void embedding_bucket(__global const int* ids, int count, int vocab,
                               __global int* ranges, __global int* perm) {
    int v = get_global_id(0);
    if (v >= vocab) return;
    int start = 0;
    for (int i = 0; i < count; ++i) { int id = ids[i]; if (id >= 0 && id < v) start++; }
    int k = start;
    for (int i = 0; i < count; ++i) if (ids[i] == v) perm[k++] = i;
    ranges[2 * v] = start;
    ranges[2 * v + 1] = k - start;
}

// dTable: [vocab, dim] += dOut: [count, dim] rows, grouped by id with `ranges` and `perm`.
__kernel void embedding_scatter_add(__global const float* dOut, __global const int* ranges, __global const int* perm,
                                    __global float* dTable, int vocab, int dim) {
    int i = get_global_id(0);
    if (i >= vocab * dim) return;
    int v = i / dim, j = i % dim;
    int start = ranges[2 * v], len = ranges[2 * v + 1];
    if (len == 0) return;
    float s = 0.0f;
    for (int k = 0; k < len; ++k) s += dOut[(size_t)perm[start + k] * dim + j];
    dTable[i] += s;
}
