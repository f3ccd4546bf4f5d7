import Compute
import Foundation

/// Learning-rate schedule: linear warmup, then cosine decay to a floor (or constant).
public struct LRSchedule: Codable, Equatable, Sendable {
    public enum Kind: String, Codable, Sendable { case cosine, constant }
    public var kind: Kind
    public var baseLR: Float
    public var minLR: Float
    public var warmupSteps: Int
    public var totalSteps: Int

    public init(kind: Kind, baseLR: Float, minLR: Float, warmupSteps: Int, totalSteps: Int) {
        self.kind = kind; self.baseLR = baseLR; self.minLR = minLR
        self.warmupSteps = warmupSteps; self.totalSteps = totalSteps
    }

    /// LR for 1-based step `step`.
    public func lr(step: Int) -> Float {
        if warmupSteps > 0 && step <= warmupSteps { return baseLR * Float(step) / Float(warmupSteps) }
        if kind == .constant { return baseLR }
        let span = max(1, totalSteps - warmupSteps)
        let t = min(1, Float(step - warmupSteps) / Float(span))
        return minLR + 0.5 * (baseLR - minLR) * (1 + cos(Float.pi * t))
    }
}

/// AdamW with decoupled weight decay (none on biases, norms and codebooks), global-norm gradient
/// clipping, and an EMA of the parameters used for eval and for `best`.
public final class AdamW {
    public let params: ParameterStore
    public var beta1: Float = 0.9
    public var beta2: Float = 0.999
    public var eps: Float = 1e-8
    public var weightDecay: Float
    public var clipNorm: Float
    public private(set) var step = 0
    let m: [any DeviceBuffer]
    let v: [any DeviceBuffer]
    /// EMA weights, one buffer per parameter; nil when the decay is 0.
    public let ema: [any DeviceBuffer]?
    public let emaDecay: Float
    private var wideGrad: (any DeviceBuffer)?

    public init(params: ParameterStore, weightDecay: Float, clipNorm: Float, emaDecay: Float) throws {
        self.params = params
        self.weightDecay = weightDecay
        self.clipNorm = clipNorm
        self.emaDecay = emaDecay
        let be = params.backend
        m = try params.all.map { try be.zeros($0.count) }
        v = try params.all.map { try be.zeros($0.count) }
        if emaDecay > 0 {
            ema = try params.all.map { p in
                let b = try be.makeBuffer(count: p.count, dtype: .float32)
                try be.copy(p.value, srcOffset: 0, to: b, dstOffset: 0, count: p.count)
                return b
            }
        } else {
            ema = nil
        }
    }

    /// Device bytes of the optimizer: Adam's moments, the EMA weights, the widened gradient and,
    /// under half precision, the fp32 master weights.
    public var stateBytes: Int {
        let buffers = m + v + (ema ?? []) + (wideGrad.map { [$0] } ?? [])
        return buffers.reduce(0) { $0 + $1.count * $1.dtype.byteSize } + params.masterBytes
    }

    /// Applies one update from the accumulated gradients, which hold `lossScale` times the true
    /// gradient; returns the true pre-clip gradient norm. When that norm is not finite (a scaled
    /// gradient overflowed) nothing is updated and the result is nil: the caller skips the step.
    @discardableResult
    public func update(lr: Float, lossScale: Float = 1) throws -> Float? {
        let be = params.backend
        let norm = try params.gradNorm() / lossScale
        guard norm.isFinite else { return nil }
        let clip: Float = (clipNorm > 0 && norm > clipNorm) ? clipNorm / norm : 1
        let scale = clip / lossScale
        step += 1
        // Under half precision the fp16 gradients are widened one tensor at a time and the fp32
        // master weights updated; the model's fp16 copies are refreshed after.
        if params.halfPrecision && wideGrad == nil {
            wideGrad = try be.makeBuffer(count: params.all.map(\.count).max() ?? 1, dtype: .float32)
        }
        for (i, p) in params.all.enumerated() {
            let grad = try wideGrad.map { try params.fp32Grad(p, into: $0) } ?? p.grad
            try be.adamW(param: p.value, grad: grad, m: m[i], v: v[i], count: p.count, lr: lr,
                         beta1: beta1, beta2: beta2, eps: eps, weightDecay: p.decays ? weightDecay : 0,
                         step: step, gradScale: scale)
            if let ema { try be.emaUpdate(ema: ema[i], param: p.value, decay: emaDecay, count: p.count) }
        }
        try params.syncHalf()
        return norm
    }

    /// Optimizer state as named host arrays (for checkpoints).
    public func state() throws -> [String: [Float]] {
        let be = params.backend
        var out: [String: [Float]] = [:]
        for (i, p) in params.all.enumerated() {
            out["adam.m.\(p.name)"] = try be.download(m[i])
            out["adam.v.\(p.name)"] = try be.download(v[i])
            if let ema { out["ema.\(p.name)"] = try be.download(ema[i]) }
        }
        return out
    }

    public func load(state: [String: [Float]], step: Int) throws {
        let be = params.backend
        for (i, p) in params.all.enumerated() {
            guard let mv = state["adam.m.\(p.name)"], let vv = state["adam.v.\(p.name)"],
                  mv.count == p.count, vv.count == p.count else {
                throw ComputeError.invalidArgument("checkpoint optimizer state for \(p.name) is missing or the wrong size")
            }
            try be.upload(mv, to: m[i]); try be.upload(vv, to: v[i])
            if let ema {
                guard let ev = state["ema.\(p.name)"], ev.count == p.count else {
                    throw ComputeError.invalidArgument("checkpoint EMA for \(p.name) is missing or the wrong size")
                }
                try be.upload(ev, to: ema[i])
            }
        }
        self.step = step
    }

    /// Swaps live weights and EMA weights (call twice to swap back).
    public func swapEMA() throws {
        guard let ema else { return }
        let be = params.backend
        for (i, p) in params.all.enumerated() {
            let tmp = try be.download(p.value)
            try be.copy(ema[i], srcOffset: 0, to: p.value, dstOffset: 0, count: p.count)
            try be.upload(tmp, to: ema[i])
        }
        try params.syncHalf()
    }
}
