#if canImport(Glibc)
import Glibc
#endif

/// Gradient clipping over a list of gradient tensors, with PyTorch's `clip_grad_norm_` and
/// `clip_grad_value_` semantics. Every tensor is checked before any is modified: all share one
/// dtype and no two share memory (a tensor listed twice would be scaled twice), so a failed
/// call leaves every gradient unchanged.
/// C counterparts: `descent_clip_grad_norm`, `descent_clip_grad_norm_ex`, `descent_clip_grad_value`.
public enum GradientClipping {
    /// The small constant PyTorch adds to the norm before dividing.
    public static let normEpsilon = 1e-6

    /// The total p-norm of all gradients taken together, as if concatenated into one vector:
    /// `(sum_i sum_j |g_ij|^p)^(1/p)`, or `max_ij |g_ij|` for p = +inf.
    /// Accumulated in float64 in a fixed order (tensor by tensor, each tensor in its fixed
    /// lane order), so the result is bit-identical run to run. p = 2 uses each tensor's
    /// overflow-safe `normL2()` and combines the per-tensor norms the same way.
    public static func totalNorm(_ gradients: [Tensor], normType: Double = 2) throws(DescentError) -> Double {
        try validate(gradients)
        try validateNormType(normType)
        return norm(gradients, normType)
    }

    /// Scales every gradient by `maxNorm / (total + 1e-6)` when the total norm exceeds `maxNorm`,
    /// and returns the total norm measured before clipping.
    ///
    /// A non-finite total (a NaN or infinite gradient) throws `.nonFinite` when
    /// `errorIfNonFinite`; otherwise the gradients are left untouched and the non-finite total is
    /// returned, so the caller's non-finite policy can skip the step. (PyTorch would instead
    /// multiply the gradients by NaN or 0.)
    @discardableResult
    public static func clipByNorm(_ gradients: [Tensor], maxNorm: Double, normType: Double = 2,
                                  errorIfNonFinite: Bool = false) throws(DescentError) -> Double {
        try validate(gradients)
        try validateNormType(normType)
        guard !maxNorm.isNaN, maxNorm >= 0 else { throw .argument("max_norm must be >= 0, got \(maxNorm)") }
        let total = norm(gradients, normType)
        guard total.isFinite else {
            if errorIfNonFinite {
                throw DescentError(.nonFinite, "the total \(normType)-norm of the gradients is \(total); no gradient was changed")
            }
            return total
        }
        if total > maxNorm {
            let coefficient = maxNorm / (total + normEpsilon)
            for gradient in gradients { try gradient.scale(by: coefficient) }
        }
        return total
    }

    /// Clamps every element of every gradient into [-clipValue, clipValue] (NaN stays NaN).
    /// For float32 the bound is rounded to float.
    public static func clipByValue(_ gradients: [Tensor], clipValue: Double) throws(DescentError) {
        try validate(gradients)
        guard !clipValue.isNaN, clipValue >= 0 else { throw .argument("clip_value must be >= 0, got \(clipValue)") }
        for gradient in gradients {
            switch gradient.dtype {
            case .float32: clampKernel(gradient.pointer(as: Float.self), gradient.count, Float(clipValue))
            case .float64: clampKernel(gradient.pointer(as: Double.self), gradient.count, clipValue)
            }
        }
    }

    /// One dtype for all, and no two tensors overlapping in memory.
    static func validate(_ gradients: [Tensor]) throws(DescentError) {
        guard let first = gradients.first else { return }
        for (index, gradient) in gradients.enumerated() where gradient.dtype != first.dtype {
            throw .dtype("grads[\(index)] is \(gradient.dtype) but grads[0] is \(first.dtype); clip one dtype per call")
        }
        var ranges: [(start: UInt, end: UInt, index: Int)] = []
        for (index, gradient) in gradients.enumerated() where gradient.count > 0 {
            let start = UInt(bitPattern: gradient.storage)
            ranges.append((start, start + UInt(gradient.byteCount), index))
        }
        ranges.sort { $0.start < $1.start }
        for position in ranges.indices.dropFirst() where ranges[position].start < ranges[position - 1].end {
            let (a, b) = (min(ranges[position].index, ranges[position - 1].index),
                          max(ranges[position].index, ranges[position - 1].index))
            throw .argument("grads[\(a)] and grads[\(b)] share memory (the same tensor listed twice?)")
        }
    }

    static func validateNormType(_ normType: Double) throws(DescentError) {
        guard normType > 0, !normType.isNaN else {
            throw .argument("norm_type must be > 0 (or infinity), got \(normType)")
        }
    }

    static func norm(_ gradients: [Tensor], _ normType: Double) -> Double {
        if normType == .infinity {
            var largest = 0.0
            for gradient in gradients {
                let value = gradient.maxAbs()
                if value.isNaN { return .nan }
                largest = max(largest, value)
            }
            return largest
        }
        if normType == 2 { return euclideanNorm(gradients.map { $0.normL2() }) }
        var sum = 0.0
        for gradient in gradients {
            switch gradient.dtype {
            case .float32: sum += powerSum(gradient.pointer(as: Float.self), gradient.count, normType)
            case .float64: sum += powerSum(gradient.pointer(as: Double.self), gradient.count, normType)
            }
        }
        return normType == 1 ? sum : pow(sum, 1 / normType)
    }

    /// sqrt(sum n_i^2), rescaled by max n_i when the squares overflow.
    static func euclideanNorm(_ norms: [Double]) -> Double {
        var squares = 0.0
        for value in norms { squares += value * value }
        if squares.isFinite { return squares.squareRoot() }
        var largest = 0.0
        for value in norms {
            if value.isNaN { return .nan }
            largest = max(largest, value)
        }
        guard largest.isFinite else { return largest }
        var scaled = 0.0
        for value in norms { scaled += (value / largest) * (value / largest) }
        return largest * scaled.squareRoot()
    }
}

/// sum |x|^p in float64, eight interleaved lanes then a fixed combination (deterministic).
private func powerSum<T: DescentScalar>(_ x: UnsafeMutablePointer<T>, _ count: Int, _ p: Double) -> Double {
    var lanes = SIMD8<Double>(repeating: 0)
    var index = 0
    let absolute = p == 1
    while index + 8 <= count {
        var chunk = SIMD8<Double>(repeating: 0)
        for lane in 0..<8 {
            let magnitude = Swift.abs(x[index + lane].doubleValue)
            chunk[lane] = absolute ? magnitude : pow(magnitude, p)
        }
        lanes += chunk
        index += 8
    }
    var tail = 0.0
    while index < count {
        let magnitude = Swift.abs(x[index].doubleValue)
        tail += absolute ? magnitude : pow(magnitude, p)
        index += 1
    }
    let quads = lanes.lowHalf + lanes.highHalf
    let pairs = quads.lowHalf + quads.highHalf
    return (pairs[0] + pairs[1]) + tail
}

private func clampKernel<T: DescentScalar>(_ x: UnsafeMutablePointer<T>, _ count: Int, _ bound: T) {
    Parallel.forEachChunk(count: count, ClampJob(x: x, bound: bound))
}

/// x[i] := clamp(x[i], -bound, bound) over a range (a `Parallel` job).
private struct ClampJob<T: DescentScalar>: ChunkJob {
    let x: UnsafeMutablePointer<T>
    let bound: T

    func run(_ range: Range<Int>) {
        for index in range {
            // Written as two comparisons so NaN (which fails both) passes through unchanged.
            if x[index] > bound { x[index] = bound } else if x[index] < -bound { x[index] = -bound }
        }
    }
}
