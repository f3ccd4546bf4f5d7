// The concept model's typed reasoner and unified decoder (Backend.reasoner; semantics in
// ReasonerSpec). One work-item per question; a line-for-line port of CPUBackend.reasonerRow, so
// the two backends agree to rounding. Sizes are runtime arguments; the private arrays are sized
// for the limits below, which the host checks before launching.
#define MAX_SLOTS 12
#define MAX_PLACES 8
#define NU 14
#define FIRST_BINARY 9
#define TOTAL_OP 13
#define TRACE 5
#define NR 9
#define STATS 10
#define RS_FLOOR 1e-4f

// Softmax of x[0..n) over the entries where mask is non-zero (all when mask is 0); zeros when
// none is left.
void rs_softmax(__global const float* x, int n, const int* mask, float* out) {
    float mx = -INFINITY;
    for (int i = 0; i < n; ++i) if (!mask || mask[i]) mx = fmax(mx, x[i]);
    if (mx == -INFINITY) { for (int i = 0; i < n; ++i) out[i] = 0.0f; return; }
    float s = 0.0f;
    for (int i = 0; i < n; ++i) {
        if (!mask || mask[i]) { out[i] = exp(x[i] - mx); s += out[i]; } else out[i] = 0.0f;
    }
    for (int i = 0; i < n; ++i) out[i] = out[i] / s;
}

// Index of the first largest entry.
int rs_argmax(const float* p, int n) {
    int best = 0;
    for (int i = 1; i < n; ++i) if (p[i] > p[best]) best = i;
    return best;
}

// One-hot at the argmax, unless the largest entry is not positive (then unchanged).
void rs_one_hot(float* p, int n) {
    int best = rs_argmax(p, n);
    if (!(p[best] > 0.0f)) return;
    for (int i = 0; i < n; ++i) p[i] = i == best ? 1.0f : 0.0f;
}

// out = d + k digit by digit (ones first) with carry/borrow; 0 when it leaves [0, 10^places).
int rs_add(const int* d, int places, int k, int* out) {
    int carry = k;
    for (int p = 0; p < places; ++p) {
        if (carry == 0) { out[p] = d[p]; continue; }
        int s = d[p] + carry;
        out[p] = ((s % 10) + 10) % 10;
        carry = s >= 0 ? s / 10 : (s - 9) / 10;
    }
    return carry == 0;
}

// out = a + sign * c place by place, carrying (sign 1) or borrowing (sign -1); 0 when the result
// leaves [0, 10^places).
int rs_combine(const int* a, const int* c, int sign, int places, int* out) {
    int carry = 0;
    for (int p = 0; p < places; ++p) {
        int s = a[p] + sign * c[p] + carry;
        if (s >= 10) { out[p] = s - 10; carry = 1; } else if (s < 0) { out[p] = s + 10; carry = -1; } else { out[p] = s; carry = 0; }
    }
    return carry == 0;
}

// Binary op k (>= FIRST_BINARY) on digit arrays a and c into out; 0 when it gives no value.
// add: a + c; subtract: a - c; next_term: 2a - c (the term after c, a of a sequence with a
// constant step); place_value: the value of digit c (1-9) at the highest place of a holding it.
int rs_binary(int k, const int* a, const int* c, int places, int* out, int* work) {
    int op = k - FIRST_BINARY;
    if (op == 0) return rs_combine(a, c, 1, places, out);
    if (op == 1) return rs_combine(a, c, -1, places, out);
    if (op == 2) return rs_combine(a, a, 1, places, work) && rs_combine(work, c, -1, places, out);
    int d = c[0];
    if (d < 1) return 0;
    for (int p = 1; p < places; ++p) if (c[p] != 0) return 0;
    int p = places - 1;
    while (p >= 0 && a[p] != d) --p;
    if (p < 0) return 0;
    for (int q = 0; q < places; ++q) out[q] = q == p ? d : 0;
    return 1;
}

// Whether relation r reads its second number (even and odd do not).
int rs_reads_b(int r) { return r < 7; }

// Whether step 1 (op k on slot i, and slot c for a binary op) reads slot j: then j cannot also be
// operand B, as no number plays two roles. total reads every slot from i to c.
int rs_reads_slot(int k, int i, int c, int j) {
    if (j == i) return 1;
    if (k == TOTAL_OP) return j > i && j <= c;
    return k >= FIRST_BINARY && j == c;
}

// -1, 0, 1 comparing from the highest place down.
int rs_compare(const int* a, const int* b, int places) {
    for (int p = places - 1; p >= 0; --p) if (a[p] != b[p]) return a[p] < b[p] ? -1 : 1;
    return 0;
}

// Relation r: equal, greater, smaller, same_parity, same_tens, same_ones, makes_ten, even, odd
// (the last two read a alone, so their weight spreads over pointer B without a gradient to it).
int rs_holds(int r, const int* a, const int* b, int places) {
    switch (r) {
    case 0: return rs_compare(a, b, places) == 0;
    case 1: return rs_compare(a, b, places) > 0;
    case 2: return rs_compare(a, b, places) < 0;
    case 3: return a[0] % 2 == b[0] % 2;
    case 4: return places > 1 && a[1] == b[1];
    case 5: return a[0] == b[0];
    case 6: return a[0] + b[0] == 10;
    case 7: return a[0] % 2 == 0;
    default: return a[0] % 2 == 1;
    }
}

// u[k * MAX_PLACES + place] = one-number op k (identity, +1, -1, +2, -2, between, ones digit, tens
// digit, hundreds digit) applied to slot `slot` of nums; valid[k] says whether it exists. between
// reads the other present slots: slot + 1 when one holds slot + 2, else slot - 1 when one holds
// slot - 2, else no value. A digit op's value is that place's digit as a number (0 past the top).
void rs_unary(const int* nums, int slots, int slot, int places, const int* present, int* u, int* valid) {
    const int delta[5] = {0, 1, -1, 2, -2};
    const int* d = nums + slot * places;
    for (int k = 0; k < 5; ++k) valid[k] = rs_add(d, places, delta[k], u + k * MAX_PLACES);
    // Ops 3 (+2) and 4 (-2) hold the candidates' outer neighbours.
    valid[5] = 0;
    for (int c = 0; c < 2 && !valid[5]; ++c) {
        int outer = c == 0 ? 3 : 4, inner = c == 0 ? 1 : 2;
        if (!valid[outer]) continue;
        for (int j = 0; j < slots; ++j) {
            if (j == slot || !present[j]) continue;
            if (rs_compare(u + outer * MAX_PLACES, nums + j * places, places) == 0) {
                for (int q = 0; q < places; ++q) u[5 * MAX_PLACES + q] = u[inner * MAX_PLACES + q];
                valid[5] = 1;
                break;
            }
        }
    }
    for (int k = 6; k < FIRST_BINARY; ++k) {
        int place = k - 6;
        for (int q = 0; q < places; ++q) u[k * MAX_PLACES + q] = 0;
        u[k * MAX_PLACES] = place < places ? d[place] : 0;
        valid[k] = 1;
    }
}

// total: the sum of the numbers in slots i through c (i < c, every one present), place by place
// with carry, into out; 0 when it gives no value.
int rs_total(int i, int c, const int* nums, int PL, const int* present, int* out, int* work) {
    if (i >= c) return 0;
    for (int j = i; j <= c; ++j) if (!present[j]) return 0;
    for (int q = 0; q < PL; ++q) out[q] = nums[i * PL + q];
    for (int j = i + 1; j <= c; ++j) {
        if (!rs_combine(out, nums + j * PL, 1, PL, work)) return 0;
        for (int q = 0; q < PL; ++q) out[q] = work[q];
    }
    return 1;
}

// The result of step-1 op k on slot i (and slot c for a binary op), in u (filled by rs_unary for
// slot i) or pair; 0 where it has no value.
const int* rs_result(int k, int i, int c, const int* nums, int PL, const int* present, const int* u,
                     const int* uValid, int* pair, int* work) {
    if (k == TOTAL_OP) return rs_total(i, c, nums, PL, present, pair, work) ? pair : 0;
    if (k >= FIRST_BINARY) {
        if (!present[c] || !rs_binary(k, nums + i * PL, nums + c * PL, PL, pair, work)) return 0;
        return pair;
    }
    return uValid[k] ? u + k * MAX_PLACES : 0;
}

// out = p * (dp - sum(p * dp)): the logits' gradient of a softmax group.
void rs_softmax_backward(const float* p, const float* dp, int n, __global float* out) {
    float dot = 0.0f;
    for (int i = 0; i < n; ++i) dot += p[i] * dp[i];
    for (int i = 0; i < n; ++i) out[i] = p[i] * (dp[i] - dot);
}

// logits: [rows, width], numbers: int [rows, NS, PL] (-1 for an absent slot), targets: int
// [rows, 2] (kind 0 none / 1 yes-no / 2 number, value), gain: [1]. Writes dLogits: [rows, width],
// rowStats: [rows, STATS], trace: int [rows, TRACE] in full.
__kernel void reasoner(__global const float* logits, __global const int* numbers, __global const int* targets,
                       __global const float* gainBuf, __global float* dLogits, __global float* rowStats,
                       __global int* trace, int rows, int NS, int PL, int hard, int enabled,
                       float labelSmoothing, float lambdaStop, float lambdaEntropy, float lossScale,
                       int relationMask, int boolOpMask, int offeredOps) {
    int row = get_global_id(0);
    if (row >= rows) return;
    const int oA = 0, oB = NS, oC = 2 * NS, oU = 3 * NS, oR = oU + NU, oStop = oR + NR, oYN = oStop + 1, oDig = oYN + 2;
    const int W = oDig + PL * 10;
    __global const float* x = logits + (size_t)row * W;
    __global float* d = dLogits + (size_t)row * W;
    __global float* stats = rowStats + (size_t)row * STATS;
    __global int* tr = trace + (size_t)row * TRACE;
    const float g = gainBuf[0];

    int nums[MAX_SLOTS * MAX_PLACES], present[MAX_SLOTS];
    for (int i = 0; i < NS; ++i) {
        // A slot holds a number when every place is a digit (absent slots are -1).
        int ok = 1;
        for (int q = 0; q < PL; ++q) {
            int v = numbers[((size_t)row * NS + i) * PL + q];
            nums[i * PL + q] = v;
            if (v < 0 || v > 9) ok = 0;
        }
        present[i] = ok;
    }
    float piA[MAX_SLOTS], piB[MAX_SLOTS], piC[MAX_SLOTS], wU[NU], wR[NR];
    rs_softmax(x + oA, NS, present, piA);
    rs_softmax(x + oB, NS, present, piB);
    rs_softmax(x + oC, NS, present, piC);
    // An op is offered only where it can give a value: between needs two numbers two apart.
    int opMask[NU];
    int u[NU * MAX_PLACES], uValid[NU], pair[MAX_PLACES], work[MAX_PLACES];
    for (int k = 0; k < NU; ++k) opMask[k] = (offeredOps >> k) & 1;
    opMask[5] = 0;
    for (int i = 0; i < NS && !opMask[5] && ((offeredOps >> 5) & 1); ++i) {
        if (!present[i]) continue;
        rs_unary(nums, NS, i, PL, present, u, uValid);
        opMask[5] = uValid[5];
    }
    rs_softmax(x + oU, NU, opMask, wU);
    int relMask[NR];
    for (int r = 0; r < NR; ++r) relMask[r] = (relationMask >> r) & 1;
    rs_softmax(x + oR, NR, relMask, wR);
    float pStop = 1.0f / (1.0f + exp(-x[oStop]));
    if (hard) {
        // One role per number: the argmax program uses a different number for A, C and B, and an
        // op the question has enough numbers for.
        pStop = pStop > 0.5f ? 1.0f : 0.0f;
        rs_one_hot(wR, NR);
        int needsB = pStop < 0.5f && rs_reads_b(rs_argmax(wR, NR));
        int count = 0;
        for (int i = 0; i < NS; ++i) count += present[i] ? 1 : 0;
        for (int k = 0; k < NU; ++k) if (count < (k >= FIRST_BINARY ? 2 : 1) + needsB) wU[k] = 0.0f;
        rs_one_hot(wU, NU);
        int tU = rs_argmax(wU, NU);
        rs_one_hot(piA, NS);
        int tA = rs_argmax(piA, NS);
        if (tU >= FIRST_BINARY) piC[tA] = 0.0f;
        rs_one_hot(piC, NS);
        int tC = rs_argmax(piC, NS);
        if (needsB) for (int j = 0; j < NS; ++j) if (rs_reads_slot(tU, tA, tC, j)) piB[j] = 0.0f;
        rs_one_hot(piB, NS);
    }

    // Each step-1 result v = op_k(n_i) (k < 9) or op_k(n_i, n_c) (k >= 9) has weight piA_i wU_k
    // (times piC_c for a binary op). BOOL p = sum over results and (j, r) of weight piB_j wR_r
    // [rel_r(v, n_j)], with its partials; the NUM's digit mixture is the weighted sum of the
    // results' one-hot digits.
    float p = 0.0f;
    float gA[MAX_SLOTS], gB[MAX_SLOTS], gC[MAX_SLOTS], gU[NU], gR[NR], dist[MAX_PLACES * 10];
    for (int i = 0; i < NS; ++i) { gA[i] = 0.0f; gB[i] = 0.0f; gC[i] = 0.0f; }
    for (int k = 0; k < NU; ++k) gU[k] = 0.0f;
    for (int r = 0; r < NR; ++r) gR[r] = 0.0f;
    for (int i = 0; i < PL * 10; ++i) dist[i] = 0.0f;
    if (enabled) {
        for (int i = 0; i < NS; ++i) {
            if (!(piA[i] > 0.0f || !hard) || !present[i]) continue;
            rs_unary(nums, NS, i, PL, present, u, uValid);
            for (int k = 0; k < NU; ++k) {
                int binary = k >= FIRST_BINARY;
                int cn = binary ? NS : 1;
                for (int c = 0; c < cn; ++c) {
                    if (binary && c == i) continue;
                    if (binary && hard && !(piC[c] > 0.0f)) continue;
                    const int* v = rs_result(k, i, c, nums, PL, present, u, uValid, pair, work);
                    if (!v) continue;
                    float wc = binary ? piC[c] : 1.0f;
                    float w = piA[i] * wU[k] * wc;
                    for (int pl = 0; pl < PL; ++pl) dist[pl * 10 + v[pl]] += w;
                    if (!((boolOpMask >> k) & 1)) continue;
                    for (int j = 0; j < NS; ++j) {
                        if (!present[j]) continue;
                        const int* nj = nums + j * PL;
                        int stepReadsJ = rs_reads_slot(k, i, c, j);
                        for (int r = 0; r < NR; ++r) {
                            if ((stepReadsJ && rs_reads_b(r)) || !rs_holds(r, v, nj, PL)) continue;
                            float t = piB[j] * wR[r];
                            p += w * t;
                            gA[i] += wU[k] * wc * t;
                            gU[k] += piA[i] * wc * t;
                            if (binary) gC[c] += piA[i] * wU[k] * t;
                            gB[j] += w * wR[r];
                            gR[r] += w * piB[j];
                        }
                    }
                }
            }
        }
    } else {
        p = 0.5f;
    }

    // Decoder.
    float pc = fmin(fmax(p, RS_FLOOR), 1.0f - RS_FLOOR);
    float typedYes = enabled ? log(pc) - log(1.0f - pc) : 0.0f;
    float yn0 = x[oYN], yn1 = x[oYN + 1] + g * typedYes;
    float ymx = fmax(yn0, yn1);
    float e0 = exp(yn0 - ymx), e1 = exp(yn1 - ymx), es = e0 + e1;
    float py0 = e0 / es, py1 = e1 / es;
    float probs[MAX_PLACES * 10];
    int number = 0;
    for (int pl = PL - 1; pl >= 0; --pl) {
        int base = pl * 10;
        float mx = -INFINITY;
        for (int c = 0; c < 10; ++c) {
            probs[base + c] = x[oDig + base + c] + g * log(dist[base + c] + RS_FLOOR);
            mx = fmax(mx, probs[base + c]);
        }
        float sum = 0.0f;
        for (int c = 0; c < 10; ++c) { probs[base + c] = exp(probs[base + c] - mx); sum += probs[base + c]; }
        for (int c = 0; c < 10; ++c) probs[base + c] = probs[base + c] / sum;
        number = number * 10 + rs_argmax(probs + base, 10);
    }
    tr[0] = rs_argmax(piA, NS); tr[1] = rs_argmax(piB, NS);
    tr[2] = rs_argmax(wU, NU); tr[3] = rs_argmax(wR, NR);
    tr[4] = rs_argmax(piC, NS);
    int isNumber = pStop > 0.5f;
    for (int i = 0; i < W; ++i) d[i] = 0.0f;
    for (int c = 0; c < STATS; ++c) stats[c] = 0.0f;
    stats[4] = isNumber ? 1.0f : 0.0f;
    stats[5] = py1;
    stats[6] = (float)number;
    stats[8] = pStop;
    int kind = targets[(size_t)row * 2], value = targets[(size_t)row * 2 + 1];
    if (kind != 1 && kind != 2) return;

    // Losses and gradients (soft mode only is trained; hard mode still reports the loss).
    float eps = labelSmoothing;
    float isNum = 0.0f, dP = 0.0f, dGain = 0.0f, answerLoss = 0.0f;
    int correct = 0;
    float dDist[MAX_PLACES * 10];
    for (int i = 0; i < PL * 10; ++i) dDist[i] = 0.0f;
    if (kind == 1) {
        int y = value != 0;
        float off = eps / 2.0f, on = 1.0f - eps + off;
        float q0 = y ? off : on, q1 = y ? on : off;
        answerLoss = -(q0 * log(fmax(py0, 1e-30f)) + q1 * log(fmax(py1, 1e-30f)));
        float d0 = py0 - q0, d1 = py1 - q1;
        d[oYN] = d0;
        d[oYN + 1] = d1;
        dGain += d1 * typedYes;
        if (enabled && p > RS_FLOOR && p < 1.0f - RS_FLOOR) dP = d1 * g / (p * (1.0f - p));
        correct = !isNumber && (py1 > 0.5f) == y;
    } else {
        isNum = 1.0f;
        // A number too wide for `places` (or negative) has no right digits: every class is wrong.
        int tdig[MAX_PLACES];
        int v = value;
        for (int q = 0; q < PL; ++q) { tdig[q] = v % 10; v /= 10; }
        int fits = value >= 0 && v == 0;
        float off = eps / 10.0f, on = 1.0f - eps + off;
        for (int q = 0; q < PL; ++q) {
            for (int c = 0; c < 10; ++c) {
                float t = fits ? (tdig[q] == c ? on : off) : 0.1f;
                int at = q * 10 + c;
                answerLoss -= t * log(fmax(probs[at], 1e-30f)) / (float)PL;
                float dl = (probs[at] - t) / (float)PL;
                d[oDig + at] = dl;
                dGain += dl * log(dist[at] + RS_FLOOR);
                dDist[at] = dl * g / (dist[at] + RS_FLOOR);
            }
        }
        correct = isNumber && fits && number == value;
    }
    float stopLoss = -(isNum * log(fmax(pStop, 1e-30f)) + (1.0f - isNum) * log(fmax(1.0f - pStop, 1e-30f)));
    d[oStop] = lambdaStop * (pStop - isNum);

    float entropy = 0.0f, pointerEntropy = 0.0f;
    if (enabled && !hard) {
        float dpiA[MAX_SLOTS], dpiB[MAX_SLOTS], dpiC[MAX_SLOTS], dwU[NU], dwR[NR];
        for (int i = 0; i < NS; ++i) { dpiA[i] = gA[i] * dP; dpiB[i] = gB[i] * dP; dpiC[i] = gC[i] * dP; }
        for (int k = 0; k < NU; ++k) dwU[k] = gU[k] * dP;
        for (int r = 0; r < NR; ++r) dwR[r] = gR[r] * dP;
        for (int i = 0; i < NS; ++i) {
            if (!present[i]) continue;
            rs_unary(nums, NS, i, PL, present, u, uValid);
            for (int k = 0; k < NU; ++k) {
                int binary = k >= FIRST_BINARY;
                int cn = binary ? NS : 1;
                for (int c = 0; c < cn; ++c) {
                    if (binary && c == i) continue;
                    const int* v = rs_result(k, i, c, nums, PL, present, u, uValid, pair, work);
                    if (!v) continue;
                    float wc = binary ? piC[c] : 1.0f;
                    float sum = 0.0f;
                    for (int q = 0; q < PL; ++q) sum += dDist[q * 10 + v[q]];
                    dpiA[i] += wU[k] * wc * sum;
                    dwU[k] += piA[i] * wc * sum;
                    if (binary) dpiC[c] += piA[i] * wU[k] * sum;
                }
            }
        }
        // Entropy bonus -lambda * H(w): dH/dw_k = -(log w_k + 1).
        if (lambdaEntropy > 0.0f) {
            for (int k = 0; k < NU; ++k) if (wU[k] > 0.0f) dwU[k] += lambdaEntropy * (log(wU[k]) + 1.0f);
            for (int r = 0; r < NR; ++r) if (wR[r] > 0.0f) dwR[r] += lambdaEntropy * (log(wR[r]) + 1.0f);
        }
        for (int k = 0; k < NU; ++k) if (wU[k] > 0.0f) entropy -= wU[k] * log(wU[k]);
        for (int r = 0; r < NR; ++r) if (wR[r] > 0.0f) entropy -= wR[r] * log(wR[r]);
        for (int i = 0; i < NS; ++i) if (piA[i] > 0.0f) pointerEntropy -= piA[i] * log(piA[i]);
        for (int i = 0; i < NS; ++i) if (piB[i] > 0.0f) pointerEntropy -= piB[i] * log(piB[i]);
        rs_softmax_backward(piA, dpiA, NS, d + oA);
        rs_softmax_backward(piB, dpiB, NS, d + oB);
        rs_softmax_backward(piC, dpiC, NS, d + oC);
        rs_softmax_backward(wU, dwU, NU, d + oU);
        rs_softmax_backward(wR, dwR, NR, d + oR);
    }
    for (int i = 0; i < W; ++i) d[i] *= lossScale;
    stats[0] = answerLoss;
    stats[9] = pointerEntropy;
    stats[1] = stopLoss;
    stats[2] = entropy;
    stats[3] = correct ? 1.0f : 0.0f;
    stats[7] = dGain * lossScale;
}
