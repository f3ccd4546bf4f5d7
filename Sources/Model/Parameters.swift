import Compute
import Foundation

/// A deterministic generator for parameter init and dropout-free sampling; its whole state is one
/// UInt64 so checkpoints can store it exactly.
public struct ModelRNG: RandomNumberGenerator, Codable, Sendable {
    public var state: UInt64
    public init(seed: UInt64) { state = seed }
    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
    public mutating func uniform() -> Double { Double(next() >> 11) * 0x1.0p-53 }
    /// Standard normal by Box-Muller.
    public mutating func normal() -> Double {
        let u1 = max(uniform(), 1e-300), u2 = uniform()
        return (-2 * log(u1)).squareRoot() * cos(2 * Double.pi * u2)
    }
}

public enum ParameterInit: Sendable {
    case normal(std: Double), zeros, ones
}

/// One trainable tensor with its gradient. `decays` is false for biases, norms and codebooks.
///
/// `value` is always fp32: the weights themselves, or under half precision (`--amp`) the
/// optimizer's master copy. Under half precision the model reads `half`, an fp16 copy the
/// optimizer refreshes after every update, and `grad` is fp16 too. Layers never touch these
/// directly: they read through `ParameterStore.weights` and write through
/// `ParameterStore.accumulatingGrads`, which work in both modes.
public final class Parameter {
    public let name: String
    public let shape: [Int]
    public let decays: Bool
    public let value: any DeviceBuffer
    /// fp32, or fp16 under half precision.
    public internal(set) var grad: any DeviceBuffer
    /// The fp16 working copy of `value` under half precision; nil otherwise.
    public internal(set) var half: (any DeviceBuffer)?
    public var count: Int { shape.reduce(1, *) }
    unowned let store: ParameterStore

    /// The fp32 weights an op reads (see `ParameterStore.weights`).
    func read() throws -> any DeviceBuffer { try store.weights(self) }

    init(store: ParameterStore, backend: any Backend, name: String, shape: [Int], decays: Bool) throws {
        self.store = store
        self.name = name
        self.shape = shape
        self.decays = decays
        let n = shape.reduce(1, *)
        value = try backend.makeBuffer(count: n, dtype: .float32)
        grad = try backend.zeros(n)
    }
}

/// The model's parameters in creation order, which is also their order in checkpoints.
public final class ParameterStore {
    public let backend: any Backend
    public private(set) var all: [Parameter] = []
    private var byName: [String: Parameter] = [:]

    public init(backend: any Backend) { self.backend = backend }

    public func make(_ name: String, _ shape: [Int], _ initial: ParameterInit, decays: Bool,
                     rng: inout ModelRNG) throws -> Parameter {
        precondition(byName[name] == nil, "duplicate parameter \(name)")
        let p = try Parameter(store: self, backend: backend, name: name, shape: shape, decays: decays)
        let n = p.count
        switch initial {
        case .zeros: try backend.fill(p.value, value: 0, offset: 0, count: n)
        case .ones: try backend.fill(p.value, value: 1, offset: 0, count: n)
        case let .normal(std):
            var v = [Float](repeating: 0, count: n)
            for i in 0..<n { v[i] = Float(rng.normal() * std) }
            try backend.upload(v, to: p.value)
        }
        all.append(p)
        byName[name] = p
        return p
    }

    public subscript(name: String) -> Parameter? { byName[name] }
    public var totalCount: Int { all.reduce(0) { $0 + $1.count } }

    // MARK: half precision (--amp)

    /// Whether the model reads fp16 weights and accumulates fp16 gradients (fp32 master weights
    /// stay in `value`). Turning it on allocates the fp16 copies and drops the fp32 gradients.
    public private(set) var halfPrecision = false

    public func setHalfPrecision(_ on: Bool) throws {
        guard on != halfPrecision else { return }
        halfPrecision = on
        for p in all {
            p.grad = try backend.makeBuffer(count: p.count, dtype: on ? .float16 : .float32)
            try backend.fill(p.grad, value: 0, offset: 0, count: p.count)
            p.half = on ? try backend.makeBuffer(count: p.count, dtype: .float16) : nil
        }
        widened = []; gradScratch = []
        try syncHalf()
    }

    /// Rounds every master weight into its fp16 copy; call after anything writes `value`
    /// (an optimizer step, a checkpoint load, an EMA swap, a codebook restart).
    public func syncHalf() throws {
        guard halfPrecision else { return }
        for p in all { try backend.toHalf(p.value, p.half!, count: p.count) }
    }

    /// fp32 scratch buffers the fp16 weights are widened into just before an op reads them. A
    /// ring, because an op reads at most a few weights at once (LayerNorm: gain and shift) and
    /// the queue runs in order, so a buffer is free again once the op after it was enqueued.
    private var widened: [any DeviceBuffer] = []
    private var widenedNext = 0
    static let widenedRing = 4

    /// The fp32 weights an op should read: `value`, or under half precision the fp16 copy
    /// widened into a scratch buffer (valid until `widenedRing` more weights are read).
    public func weights(_ p: Parameter) throws -> any DeviceBuffer {
        guard halfPrecision, let half = p.half else { return p.value }
        let largest = all.map(\.count).max() ?? 1
        if widened.isEmpty {
            widened = try (0..<Self.widenedRing).map { _ in try backend.makeBuffer(count: largest, dtype: .float32) }
        }
        let buffer = widened[widenedNext]
        widenedNext = (widenedNext + 1) % Self.widenedRing
        try backend.fromHalf(half, buffer, count: p.count)
        return buffer
    }

    private var gradScratch: [any DeviceBuffer] = []

    /// Runs `body` with one buffer per parameter that its ops accumulate gradients into: `grad`
    /// itself, or under half precision zeroed fp32 scratch buffers added into the fp16 `grad`
    /// afterwards (the sum is formed in fp32 and rounded once per call).
    public func accumulatingGrads(_ params: [Parameter], _ body: ([any DeviceBuffer]) throws -> Void) throws {
        guard halfPrecision else { return try body(params.map(\.grad)) }
        let largest = all.map(\.count).max() ?? 1
        while gradScratch.count < params.count {
            gradScratch.append(try backend.makeBuffer(count: largest, dtype: .float32))
        }
        for (i, p) in params.enumerated() { try backend.fill(gradScratch[i], value: 0, offset: 0, count: p.count) }
        try body(Array(gradScratch.prefix(params.count)))
        for (i, p) in params.enumerated() { try backend.accumulateHalf(gradScratch[i], into: p.grad, count: p.count) }
    }

    /// fp32 view of a gradient for the optimizer: `grad`, or its fp16 values widened into `into`.
    func fp32Grad(_ p: Parameter, into scratch: any DeviceBuffer) throws -> any DeviceBuffer {
        guard halfPrecision else { return p.grad }
        try backend.fromHalf(p.grad, scratch, count: p.count)
        return scratch
    }

    /// Bytes of weights and gradients the model reads and writes in a step (the fp32 master
    /// copy and optimizer state are counted apart, in `optimizerBytes`).
    public var weightAndGradientBytes: Int {
        all.reduce(0) { $0 + ($1.half ?? $1.value).count * ($1.half ?? $1.value).dtype.byteSize + $1.grad.count * $1.grad.dtype.byteSize }
    }

    /// Device bytes of what the model reads as weights: the fp32 weights, or under half precision
    /// the fp16 copies plus the fp32 ring they are widened into.
    public var parameterBytes: Int {
        all.reduce(0) { $0 + bytes($1.half ?? $1.value) } + widened.reduce(0) { $0 + bytes($1) }
    }

    /// Device bytes of the gradients with their working buffers (the fp32 accumulation scratch
    /// and the widened copy the norm reads under half precision).
    public var gradientBytes: Int {
        all.reduce(0) { $0 + bytes($1.grad) } + gradScratch.reduce(0) { $0 + bytes($1) }
            + (normWide.map(bytes) ?? 0)
    }

    /// Device bytes of the fp32 master weights kept apart from what the model reads (half
    /// precision only): optimizer state, counted with it.
    public var masterBytes: Int { halfPrecision ? all.reduce(0) { $0 + bytes($1.value) } : 0 }

    private func bytes(_ b: any DeviceBuffer) -> Int { b.count * b.dtype.byteSize }

    public func zeroGrads() throws {
        for p in all { try backend.fill(p.grad, value: 0, offset: 0, count: p.count) }
    }

    /// Global L2 norm of all gradients: one sum of squares per tensor on the device, gathered
    /// into one buffer, so a single scalar array crosses to the host. Not finite when an fp16
    /// gradient overflowed.
    public func gradNorm() throws -> Float {
        if normScratch == nil {
            normScratch = (try backend.makeBuffer(count: 1, dtype: .float32), try backend.makeBuffer(count: all.count, dtype: .float32))
        }
        let (one, perTensor) = normScratch!
        if halfPrecision && normWide == nil {
            normWide = try backend.makeBuffer(count: all.map(\.count).max() ?? 1, dtype: .float32)
        }
        let wide = halfPrecision ? normWide : nil
        for (i, p) in all.enumerated() {
            try backend.sumOfSquares(wide.map { try fp32Grad(p, into: $0) } ?? p.grad, count: p.count, out: one)
            try backend.copy(one, srcOffset: 0, to: perTensor, dstOffset: i, count: 1)
        }
        let total = try backend.download(perTensor).reduce(0.0) { $0 + Double($1) }
        return Float(total.squareRoot())
    }
    private var normScratch: (any DeviceBuffer, any DeviceBuffer)?
    private var normWide: (any DeviceBuffer)?

    /// Values of every parameter, in order, as host arrays.
    public func snapshot() throws -> [String: [Float]] {
        var out: [String: [Float]] = [:]
        for p in all { out[p.name] = try backend.download(p.value) }
        return out
    }

    public func load(_ values: [String: [Float]]) throws {
        for p in all {
            guard let v = values[p.name] else {
                throw ComputeError.invalidArgument("checkpoint has no tensor \(p.name)")
            }
            guard v.count == p.count else {
                throw ComputeError.invalidArgument("checkpoint tensor \(p.name) has \(v.count) values, model expects \(p.count) (shape \(p.shape))")
            }
            try backend.upload(v, to: p.value)
        }
        try syncHalf()
    }
}

/// Activation buffers reused across steps, (re)made only when a size grows.
///
/// Activations a layer keeps from forward to backward go through `activation`/`keep`/`recall`.
/// Normally each layer owns fp32 buffers. With `halfStorage` (`--amp`) the fp32 working copies
/// live in scratch buffers shared by all layers (and, the encoder running in chunks, sized for
/// one chunk) and what is kept is an fp16 copy, converted back to fp32 in backward: the kept
/// activation memory halves while all arithmetic stays fp32.
final class Workspace {
    let backend: any Backend
    private var buffers: [String: any DeviceBuffer] = [:]
    private var keptKeys: Set<String> = []
    var halfStorage = false
    init(backend: any Backend) { self.backend = backend }

    /// The fp32 buffer a layer computes `role` into.
    func activation(_ layer: String, _ role: String, _ count: Int) throws -> any DeviceBuffer {
        if halfStorage { return try get("scratch.\(role)", count) }
        keptKeys.insert("\(layer).\(role)")
        return try get("\(layer).\(role)", count)
    }

    /// Called once forward has finished with `role`: stores its fp16 copy under half storage.
    func keep(_ layer: String, _ role: String, _ buffer: any DeviceBuffer, _ count: Int) throws {
        guard halfStorage else { return }
        keptKeys.insert("\(layer).\(role).f16")
        try backend.toHalf(buffer, try get("\(layer).\(role).f16", count, .float16), count: count)
    }

    /// The fp32 value of a kept activation, for backward.
    func recall(_ layer: String, _ role: String, _ count: Int) throws -> any DeviceBuffer {
        guard halfStorage else { return try get("\(layer).\(role)", count) }
        let scratch = try get("scratch.\(role)", count)
        try backend.fromHalf(try get("\(layer).\(role).f16", count, .float16), scratch, count: count)
        return scratch
    }

    /// Bytes of activations kept from forward to backward (what `--amp` halves).
    var keptBytes: Int {
        keptKeys.reduce(0) { sum, key in sum + (buffers[key].map { $0.count * $0.dtype.byteSize } ?? 0) }
    }

    func get(_ name: String, _ count: Int, _ dtype: DType = .float32) throws -> any DeviceBuffer {
        if let b = buffers[name], b.count >= count, b.dtype == dtype { return b }
        let b = try backend.makeBuffer(count: max(1, count), dtype: dtype)
        buffers[name] = b
        return b
    }

    var bytes: Int { buffers.values.reduce(0) { $0 + $1.count * $1.dtype.byteSize } }

    /// Frees every activation buffer (they are remade at the next forward's sizes).
    func clear() { buffers.removeAll(); keptKeys.removeAll() }
}
