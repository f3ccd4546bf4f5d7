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
public final class Parameter {
    public let name: String
    public let shape: [Int]
    public let decays: Bool
    public let value: any DeviceBuffer
    public let grad: any DeviceBuffer
    public var count: Int { shape.reduce(1, *) }

    init(backend: any Backend, name: String, shape: [Int], decays: Bool) throws {
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
        let p = try Parameter(backend: backend, name: name, shape: shape, decays: decays)
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

    public func zeroGrads() throws {
        for p in all { try backend.fill(p.grad, value: 0, offset: 0, count: p.count) }
    }

    /// Global L2 norm of all gradients: one sum of squares per tensor on the device, gathered
    /// into one buffer, so a single scalar array crosses to the host.
    public func gradNorm() throws -> Float {
        if normScratch == nil {
            normScratch = (try backend.makeBuffer(count: 1, dtype: .float32), try backend.makeBuffer(count: all.count, dtype: .float32))
        }
        let (one, perTensor) = normScratch!
        for (i, p) in all.enumerated() {
            try backend.sumOfSquares(p.grad, count: p.count, out: one)
            try backend.copy(one, srcOffset: 0, to: perTensor, dstOffset: i, count: 1)
        }
        let total = try backend.download(perTensor).reduce(0.0) { $0 + Double($1) }
        return Float(total.squareRoot())
    }
    private var normScratch: (any DeviceBuffer, any DeviceBuffer)?

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
    }
}

/// Activation buffers reused across steps, (re)made only when a size grows.
///
/// Activations a layer keeps from forward to backward go through `activation`/`keep`/`recall`.
/// Normally each layer owns fp32 buffers. With `halfStorage` (`--amp`) the fp32 working copies
/// live in scratch buffers shared by all layers and what is kept is an fp16 copy, converted back
/// to fp32 in backward: the kept activation memory halves while all arithmetic stays fp32.
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
