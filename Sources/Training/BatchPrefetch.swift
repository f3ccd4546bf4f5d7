import Curriculum
import Dispatch
import Model

/// The next training batch, generated and tokenised on a background thread while the current
/// step computes: lesson generation and batching are about 1.9 ms of a 15 ms quick CPU step
/// (Docs/BENCHMARKS.md), time the step's serial stretches leave a core free for.
///
/// Determinism: the prefetch draws from a copy of the data generator's state and is used only if
/// that state is still the trainer's when the next step asks, so the batches, the RNG state a
/// checkpoint saves and a resumed run are exactly those of generating in line.
final class BatchPrefetch {
    private let queue = DispatchQueue(label: "learner.batch-prefetch", qos: .userInitiated)
    private let done = DispatchGroup()
    private var startState: SplitMix64?
    private var result: Result<(batch: ModelBatch, rngAfter: SplitMix64), Error>?

    /// Starts making the batch that `make` draws from `rng` (a copy; the caller's is untouched).
    func start(from rng: SplitMix64, _ make: @escaping (inout SplitMix64) throws -> ModelBatch) {
        wait()
        startState = rng
        result = nil
        done.enter()
        queue.async { [self] in
            var r = rng
            let made = Result { (batch: try make(&r), rngAfter: r) }
            result = made
            done.leave()
        }
    }

    /// The prefetched batch and the generator state after it, if it was drawn from `rng`;
    /// nil (and nothing kept) otherwise. Waits for the background work to finish.
    func take(matching rng: SplitMix64) throws -> (batch: ModelBatch, rngAfter: SplitMix64)? {
        wait()
        defer { startState = nil; result = nil }
        guard let startState, startState == rng, let result else { return nil }
        return try result.get()
    }

    private func wait() { if startState != nil { done.wait() } }
}
