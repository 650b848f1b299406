/// Finite-difference gradients of a scalar function f of a tensor x.
///
/// forward:  ∂f/∂x_i ≈ (f(x + h e_i) - f(x)) / h
/// centered: ∂f/∂x_i ≈ (f(x + h e_i) - f(x - h e_i)) / 2h
///
/// x is perturbed IN PLACE one coordinate at a time (so f may read it directly) and every
/// element is restored bit for bit afterwards, also when f fails. The divisor is the step that
/// was actually taken after rounding to x's dtype ((x_i + h) - (x_i - h) in float32, say), not the
/// nominal h, which keeps float32 estimates unbiased. f's values must be finite.
/// C counterparts: `descent_numerical_gradient`, `descent_gradient_check`.
public enum FiniteDifference: Int32, Sendable {
    case forward = 0
    case centered = 1

    /// The case for a raw value from the C ABI; `.invalidArgument` for an unknown one.
    public init(checking raw: Int32) throws(DescentError) {
        guard let value = FiniteDifference(rawValue: raw) else {
            throw .argument("unknown finite-difference method \(raw) (expected 0 = forward or 1 = centered)")
        }
        self = value
    }
}

/// A scalar function of a tensor, as the numerical tools call it.
public typealias ScalarFunction = (Tensor) throws(DescentError) -> Double

/// Finite-difference gradients of a scalar function ([cs231n] "Optimization").
public enum NumericalGradient {
    /// Writes the numerical gradient of f at x into `gradient` (x's dtype and shape, a different
    /// tensor). `gradient` is written only on success.
    public static func compute(_ f: ScalarFunction, at x: Tensor, step h: Double, method: FiniteDifference,
                               into gradient: Tensor) throws(DescentError) {
        try x.requireSameLayout(as: gradient, "gradient")
        try requireDistinctStorage([(gradient, "gradient"), (x, "x")])
        let values = try partials(f, at: x, step: h, method: method, indices: Array(0..<x.count))
        for (i, value) in values.enumerated() { gradient.setValue(value, at: i) }
    }

    /// The partial derivatives at the given flat indices (in order), in double precision.
    public static func partials(_ f: ScalarFunction, at x: Tensor, step h: Double, method: FiniteDifference,
                                indices: [Int]) throws(DescentError) -> [Double] {
        guard h.isFinite, h > 0 else { throw .argument("step h must be finite and > 0, got \(h)") }
        for index in indices where index < 0 || index >= x.count {
            throw .argument("coordinate \(index) is outside the tensor's \(x.count) elements")
        }
        let snapshot = try x.copy()
        func restore() { x.storage.copyMemory(from: snapshot.storage, byteCount: x.byteCount) }
        func restore(_ index: Int) {
            let offset = index * x.dtype.size
            (x.storage + offset).copyMemory(from: snapshot.storage + offset, byteCount: x.dtype.size)
        }
        func evaluate() throws(DescentError) -> Double {
            let value = try f(x)
            guard value.isFinite else {
                throw DescentError(.nonFinite, "the function returned a non-finite value \(value)")
            }
            return value
        }
        var result: [Double] = []
        result.reserveCapacity(indices.count)
        do throws(DescentError) {
            let base = method == .forward ? try evaluate() : 0
            for index in indices {
                let original = snapshot.value(at: index)
                x.setValue(original + h, at: index)
                let up = x.value(at: index)
                let fUp = try evaluate()
                restore(index)
                var down = original, fDown = base
                if method == .centered {
                    x.setValue(original - h, at: index)
                    down = x.value(at: index)
                    fDown = try evaluate()
                    restore(index)
                }
                guard up != down else {
                    throw .argument("step h = \(h) vanishes at coordinate \(index) (x = \(original)) in \(x.dtype)")
                }
                result.append((fUp - fDown) / (up - down))
            }
        } catch {
            restore()
            throw error
        }
        restore()
        return result
    }
}
