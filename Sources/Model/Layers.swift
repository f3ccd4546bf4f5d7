import Compute

/// y: [N, out] = x: [N, in] @ W: [in, out] + b: [out]
struct Linear {
    let w: Parameter
    let b: Parameter
    let input: Int, output: Int

    init(_ store: ParameterStore, _ name: String, _ input: Int, _ output: Int, std: Double? = nil,
         zeroInit: Bool = false, rng: inout ModelRNG) throws {
        self.input = input
        self.output = output
        let s = std ?? 0.02
        w = try store.make("\(name).weight", [input, output], zeroInit ? .zeros : .normal(std: s), decays: true, rng: &rng)
        b = try store.make("\(name).bias", [output], .zeros, decays: false, rng: &rng)
    }

    func forward(_ be: any Backend, x: any DeviceBuffer, y: any DeviceBuffer, rows: Int) throws {
        try be.gemm(m: rows, n: output, k: input, a: x, b: w.read(), c: y)
        try be.addBias(y, bias: b.read(), rows: rows, cols: output)
    }

    /// Accumulates dW, db; writes dX (or skips it when dX is nil).
    func backward(_ be: any Backend, x: any DeviceBuffer, dY: any DeviceBuffer, dX: (any DeviceBuffer)?,
                  rows: Int, accumulateDX: Bool = false) throws {
        // dW: [in, out] += x^T [in, N] @ dY [N, out]
        try w.store.accumulatingGrads([w, b]) { g in
            try be.gemm(transA: true, m: input, n: output, k: rows, a: x, b: dY, beta: 1, c: g[0])
            try be.biasBackward(dY: dY, dBias: g[1], rows: rows, cols: output)
        }
        if let dX {
            // dX: [N, in] = dY [N, out] @ W^T
            try be.gemm(transB: true, m: rows, n: input, k: output, a: dY, b: w.read(),
                        beta: accumulateDX ? 1 : 0, c: dX)
        }
    }
}

/// Row-wise LayerNorm over the last dimension with learned gain and shift.
struct LayerNormLayer {
    let gamma: Parameter
    let beta: Parameter
    let dim: Int
    static let eps: Float = 1e-5

    init(_ store: ParameterStore, _ name: String, _ dim: Int, rng: inout ModelRNG) throws {
        self.dim = dim
        gamma = try store.make("\(name).weight", [dim], .ones, decays: false, rng: &rng)
        beta = try store.make("\(name).bias", [dim], .zeros, decays: false, rng: &rng)
    }

    func forward(_ be: any Backend, x: any DeviceBuffer, y: any DeviceBuffer, mean: any DeviceBuffer,
                 rstd: any DeviceBuffer, rows: Int) throws {
        try be.layerNorm(x: x, gamma: gamma.read(), beta: beta.read(), y: y, mean: mean, rstd: rstd,
                         rows: rows, cols: dim, eps: Self.eps)
    }

    func backward(_ be: any Backend, x: any DeviceBuffer, mean: any DeviceBuffer, rstd: any DeviceBuffer,
                  dY: any DeviceBuffer, dX: any DeviceBuffer, rows: Int) throws {
        let g = try gamma.read()
        try gamma.store.accumulatingGrads([gamma, beta]) { grads in
            try be.layerNormBackward(x: x, gamma: g, mean: mean, rstd: rstd, dY: dY, dX: dX,
                                     dGamma: grads[0], dBeta: grads[1], rows: rows, cols: dim)
        }
    }
}

/// Pre-norm Transformer encoder layer: x += Attn(LN(x)); x += FFN(LN(x)).
/// Works on the batch's tokens stored back to back without padding (n rows; sequence b starts at
/// row starts[b]); activations live in the workspace under this layer's prefix.
struct EncoderLayer {
    let ln1: LayerNormLayer, ln2: LayerNormLayer
    let qkv: Linear, proj: Linear, fc1: Linear, fc2: Linear
    let dim: Int, heads: Int, hidden: Int
    let name: String

    init(_ store: ParameterStore, _ name: String, dim: Int, heads: Int, ffnMult: Int, layers: Int,
         rng: inout ModelRNG) throws {
        self.name = name
        self.dim = dim
        self.heads = heads
        hidden = dim * ffnMult
        ln1 = try LayerNormLayer(store, "\(name).ln1", dim, rng: &rng)
        qkv = try Linear(store, "\(name).attn.qkv", dim, 3 * dim, rng: &rng)
        // GPT-2 style: residual projections scaled down with depth keep the stream's variance flat.
        let residualStd = 0.02 / Double(2 * layers).squareRoot()
        proj = try Linear(store, "\(name).attn.proj", dim, dim, std: residualStd, rng: &rng)
        ln2 = try LayerNormLayer(store, "\(name).ln2", dim, rng: &rng)
        fc1 = try Linear(store, "\(name).ffn.fc1", dim, hidden, rng: &rng)
        fc2 = try Linear(store, "\(name).ffn.fc2", hidden, dim, std: residualStd, rng: &rng)
    }

    /// Roles this layer keeps from forward to backward, with their sizes for n rows.
    func kept(_ n: Int, batch: Int, seq: Int) -> [(String, Int)] {
        [("h1", n * dim), ("qkv", n * 3 * dim), ("probs", batch * heads * seq * seq), ("att", n * dim),
         ("x1", n * dim), ("h2", n * dim), ("f1", n * hidden), ("g", n * hidden)]
    }

    /// The buffers forward writes and backward reads, each kept role fetched through `role`
    /// (`Workspace.activation` in forward, `Workspace.recall` in backward; GELU's output apart),
    /// and the LayerNorm statistics, which stay fp32.
    struct Activations {
        let h1, qkv, probs, att, x1, h2, f1: any DeviceBuffer
        let m1, r1, m2, r2: any DeviceBuffer
    }

    func activations(_ ws: Workspace, _ tag: String, rows n: Int, batch: Int, seq: Int,
                     _ role: (String, Int) throws -> any DeviceBuffer) throws -> Activations {
        let size = Dictionary(uniqueKeysWithValues: kept(n, batch: batch, seq: seq))
        func r(_ name: String) throws -> any DeviceBuffer { try role(name, size[name]!) }
        return Activations(h1: try r("h1"), qkv: try r("qkv"), probs: try r("probs"), att: try r("att"), x1: try r("x1"),
                           h2: try r("h2"), f1: try r("f1"),
                           m1: try ws.get("\(tag).m1", n), r1: try ws.get("\(tag).r1", n),
                           m2: try ws.get("\(tag).m2", n), r2: try ws.get("\(tag).r2", n))
    }

    /// x: [n, D] -> y: [n, D]. `tag` names this layer's buffers for this chunk of the batch.
    func forward(_ be: any Backend, ws: Workspace, tag: String, x: any DeviceBuffer, y: any DeviceBuffer,
                 lengths: any DeviceBuffer, starts: any DeviceBuffer, rows n: Int, batch: Int, seq: Int) throws {
        let D = dim
        let a = try activations(ws, tag, rows: n, batch: batch, seq: seq) { try ws.activation(tag, $0, $1) }
        let (h1, qkvOut, probs, att, x1, h2, f1) = (a.h1, a.qkv, a.probs, a.att, a.x1, a.h2, a.f1)
        let (m1, r1, m2, r2) = (a.m1, a.r1, a.m2, a.r2)
        let g = try ws.activation(tag, "g", n * hidden), f2 = try ws.get("fwd.f2", n * D)

        try ln1.forward(be, x: x, y: h1, mean: m1, rstd: r1, rows: n)
        try qkv.forward(be, x: h1, y: qkvOut, rows: n)
        try be.attentionForward(qkv: qkvOut, lengths: lengths, starts: starts, probs: probs, out: att, rows: n,
                                batch: batch, seq: seq, heads: heads, headDim: D / heads)
        try proj.forward(be, x: att, y: f2, rows: n)
        try be.add(x, f2, x1, count: n * D)
        try ln2.forward(be, x: x1, y: h2, mean: m2, rstd: r2, rows: n)
        // f1 = h2 @ W1 (bias and GELU fused into one pass after the GEMM), g = gelu(f1 + b1)
        try be.gemm(m: n, n: hidden, k: D, a: h2, b: fc1.w.read(), c: f1)
        try be.addBiasGelu(f1, bias: fc1.b.read(), g, rows: n, cols: hidden)
        try fc2.forward(be, x: g, y: f2, rows: n)
        try be.add(x1, f2, y, count: n * D)
        // Under --amp GELU's output is not kept: backward recomputes it from its kept input.
        let buffers = [h1, qkvOut, probs, att, x1, h2, f1, g]
        for ((role, count), buffer) in zip(kept(n, batch: batch, seq: seq), buffers) where !(ws.halfStorage && role == "g") {
            try ws.keep(tag, role, buffer, count)
        }
    }

    /// dY: [n, D] -> dX: [n, D] (dX may alias dY). Needs the forward's activations.
    func backward(_ be: any Backend, ws: Workspace, tag: String, x: any DeviceBuffer, dY: any DeviceBuffer,
                  dX: any DeviceBuffer, lengths: any DeviceBuffer, starts: any DeviceBuffer, rows n: Int,
                  batch: Int, seq: Int) throws {
        let D = dim
        let a = try activations(ws, tag, rows: n, batch: batch, seq: seq) { try ws.recall(tag, $0, $1) }
        let (h1, qkvOut, probs, att, x1, h2, f1) = (a.h1, a.qkv, a.probs, a.att, a.x1, a.h2, a.f1)
        let (m1, r1, m2, r2) = (a.m1, a.r1, a.m2, a.r2)
        let g: any DeviceBuffer
        if ws.halfStorage {
            // One GELU pass over fp32 scratch costs less than keeping n × hidden more halves.
            g = try ws.activation(tag, "g", n * hidden)
            try be.gelu(f1, g, count: n * hidden)
        } else {
            g = try ws.recall(tag, "g", n * hidden)
        }
        let dg = try ws.get("bwd.dg", n * hidden), dh = try ws.get("bwd.dh", n * D)
        let dx1 = try ws.get("bwd.dx1", n * D), dAtt = try ws.get("bwd.datt", n * D)
        let dQKV = try ws.get("bwd.dqkv", n * 3 * D)

        // FFN branch: y = x1 + fc2(gelu(fc1(ln2(x1))))
        try fc2.backward(be, x: g, dY: dY, dX: dg, rows: n)
        try be.geluBackward(x: f1, dY: dg, dX: dg, count: n * hidden)
        try fc1.backward(be, x: h2, dY: dg, dX: dh, rows: n)
        try ln2.backward(be, x: x1, mean: m2, rstd: r2, dY: dh, dX: dx1, rows: n)
        try be.add(dx1, dY, dx1, count: n * D)
        // Attention branch: x1 = x + proj(attn(qkv(ln1(x))))
        try proj.backward(be, x: att, dY: dx1, dX: dAtt, rows: n)
        try be.attentionBackward(qkv: qkvOut, lengths: lengths, starts: starts, probs: probs, dOut: dAtt, dQKV: dQKV,
                                 rows: n, batch: batch, seq: seq, heads: heads, headDim: D / heads)
        try qkv.backward(be, x: h1, dY: dQKV, dX: dh, rows: n)
        try ln1.backward(be, x: x, mean: m1, rstd: r1, dY: dh, dX: dX, rows: n)
        try be.add(dX, dx1, dX, count: n * D)
    }
}
