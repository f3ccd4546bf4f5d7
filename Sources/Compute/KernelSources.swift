public enum ComputeInfo { public static let kernelFiles = EmbeddedKernels.sources.keys.sorted() }
