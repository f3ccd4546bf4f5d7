// Optimizer updates, one work-item per parameter.

// AdamW on param, grad, m, v: [n]. bc1 = 1 - beta1^step, bc2 = 1 - beta2^step (from the host).
__kernel void adamw(__global float* param, __global const float* grad, __global float* m, __global float* v, int n,
                    float lr, float beta1, float beta2, float eps, float weightDecay, float bc1, float bc2,
                    float gradScale) {
    int i = get_global_id(0);
    if (i >= n) return;
    float g = grad[i] * gradScale;
    float mi = beta1 * m[i] + (1.0f - beta1) * g;
    float vi = beta2 * v[i] + (1.0f - beta2) * g * g;
    m[i] = mi;
    v[i] = vi;
    float p = param[i];
    p -= lr * weightDecay * p;
    p -= lr * (mi / bc1) / (sqrt(vi / bc2) + eps);
    param[i] = p;
}

// ema: [n] = decay * ema + (1 - decay) * param: [n]
__kernel void ema_update(__global float* ema, __global const float* param, float decay, int n) {
    int i = get_global_id(0);
    if (i >= n) return;
    ema[i] = decay * ema[i] + (1.0f - decay) * param[i];
}
