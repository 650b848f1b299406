/// Comparing an analytic gradient with a numerical one, cs231n-style:
/// ```
/// error_i = |a_i - n_i| / max(|a_i| + |n_i|, floor)
/// ```
/// The result is the largest error, the flat index where it occurs and both values there.
/// For a large tensor, `sampleCount = k > 0` checks k coordinates drawn with replacement as
/// `index_j = output_j mod count` (j = 0 ..< k) of SplitMix64(seed); k ≤ 0 or k ≥ count checks all.
/// C counterparts: `descent_gradient_check`, `descent_gradient_compare`.
public struct GradientCheckResult: Sendable, Equatable {
    /// The largest relative error `|a - n| / max(|a| + |n|, floor)` over the checked coordinates.
    public let maxError: Double
    /// The flat index of that coordinate (-1 when nothing was checked).
    public let worstIndex: Int
    /// The analytic gradient at the worst coordinate.
    public let analytic: Double
    /// The numerical gradient at the worst coordinate.
    public let numerical: Double
    /// How many coordinates were compared.
    public let checked: Int
}

/// Analytic gradients against numerical ones ([cs231n] "Neural Networks Part 3"; [DLAI]).
public enum GradientCheck {
    /// Compares two same-layout gradients coordinate by coordinate. Any NaN gives a NaN error.
    public static func compare(analytic: Tensor, numerical: Tensor, floor: Double) throws(DescentError) -> GradientCheckResult {
        try analytic.requireSameLayout(as: numerical, "numerical gradient")
        try requireFloor(floor)
        var worst = GradientCheckResult(maxError: 0, worstIndex: -1, analytic: 0, numerical: 0, checked: analytic.count)
        for i in 0..<analytic.count {
            worst = worse(worst, i, analytic.value(at: i), numerical.value(at: i), floor, analytic.count)
        }
        return worst
    }

    /// Computes the numerical gradient of f at the sampled coordinates and compares it with
    /// `analytic` (x's dtype and shape). x is restored exactly.
    public static func check(_ f: ScalarFunction, at x: Tensor, analytic: Tensor, step h: Double,
                             method: FiniteDifference, floor: Double, sampleCount: Int,
                             seed: UInt64) throws(DescentError) -> GradientCheckResult {
        try x.requireSameLayout(as: analytic, "analytic gradient")
        try requireFloor(floor)
        let indices = sampleIndices(count: x.count, sampleCount: sampleCount, seed: seed)
        let numerical = try NumericalGradient.partials(f, at: x, step: h, method: method, indices: indices)
        var worst = GradientCheckResult(maxError: 0, worstIndex: -1, analytic: 0, numerical: 0, checked: indices.count)
        for (position, index) in indices.enumerated() {
            worst = worse(worst, index, analytic.value(at: index), numerical[position], floor, indices.count)
        }
        return worst
    }

    /// The coordinates a check visits (see the type's documentation).
    public static func sampleIndices(count: Int, sampleCount: Int, seed: UInt64) -> [Int] {
        guard sampleCount > 0, sampleCount < count else { return Array(0..<count) }
        let generator = SplitMix64(seed: seed)
        return (0..<sampleCount).map { Int(generator.output(UInt64($0)) % UInt64(count)) }
    }

    /// `|a - n| / max(|a| + |n|, floor)`.
    public static func relativeError(_ a: Double, _ n: Double, floor: Double) -> Double {
        abs(a - n) / max(abs(a) + abs(n), floor)
    }

    private static func requireFloor(_ floor: Double) throws(DescentError) {
        guard floor.isFinite, floor > 0 else { throw .argument("floor must be finite and > 0, got \(floor)") }
    }

    private static func worse(_ current: GradientCheckResult, _ index: Int, _ a: Double, _ n: Double,
                              _ floor: Double, _ checked: Int) -> GradientCheckResult {
        let error = relativeError(a, n, floor: floor)
        // NaN wins over everything so a broken gradient is never reported as fine.
        if current.worstIndex < 0 || error > current.maxError || (error.isNaN && !current.maxError.isNaN) {
            return GradientCheckResult(maxError: error, worstIndex: index, analytic: a, numerical: n, checked: checked)
        }
        return current
    }
}

/// The step-size experiment of the cs231n "Optimization" notes: from W and a gradient dW, the
/// loss after one step W - s·dW for each step size s (for example s = 10^-10 … 10^-1). W is
/// restored exactly.
/// C counterpart: `descent_step_size_sweep`.
public enum StepSizeSweep {
    /// The loss after `W - s·gradient` for each step size s; W is restored bit for bit.
    public static func run(_ loss: ScalarFunction, at weights: Tensor, gradient: Tensor,
                           stepSizes: [Double]) throws(DescentError) -> [Double] {
        try weights.requireSameLayout(as: gradient, "gradient")
        try requireDistinctStorage([(weights, "weights"), (gradient, "gradient")])
        for step in stepSizes { try requireFiniteScalar(step, "step size") }
        try gradient.requireFinite("gradient")
        let snapshot = try weights.copy()
        func restore() { weights.storage.copyMemory(from: snapshot.storage, byteCount: weights.byteCount) }
        var losses: [Double] = []
        do throws(DescentError) {
            for step in stepSizes {
                restore()
                try weights.axpy(-step, gradient)
                losses.append(try loss(weights))
            }
        } catch {
            restore()
            throw error
        }
        restore()
        return losses
    }
}
