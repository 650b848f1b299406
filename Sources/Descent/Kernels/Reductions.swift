/// Reductions. All accumulate in float64 in a fixed order (eight interleaved partial sums,
/// combined pairwise), so results are bit-identical run to run and independent of threads.
/// C counterparts: `descent_tensor_sum`, `_mean`, `_dot`, `_norm_l2`, `_max_abs`.
extension Tensor {
    /// Sum of all elements (0 for an empty tensor).
    public func sum() -> Double {
        switch dtype {
        case .float32: return accumulate(buffer(as: Float.self), buffer(as: Float.self)) { a, _ in a.doubleValue }
        case .float64: return accumulate(buffer(as: Double.self), buffer(as: Double.self)) { a, _ in a }
        }
    }

    /// Arithmetic mean; NaN for an empty tensor, as NumPy gives.
    public func mean() -> Double {
        count == 0 ? .nan : sum() / Double(count)
    }

    /// Inner product of the flattened tensors; they share dtype and shape.
    public func dot(_ other: Tensor) throws(DescentError) -> Double {
        try requireSameLayout(as: other, "other")
        switch dtype {
        case .float32: return accumulate(buffer(as: Float.self), other.buffer(as: Float.self)) { a, b in a.doubleValue * b.doubleValue }
        case .float64: return accumulate(buffer(as: Double.self), other.buffer(as: Double.self)) { a, b in a * b }
        }
    }

    /// Euclidean norm sqrt(sum x^2) of the flattened tensor, rescaled by max |x| when the plain
    /// sum of squares overflows float64.
    public func normL2() -> Double {
        let squares: Double
        switch dtype {
        case .float32: squares = accumulate(buffer(as: Float.self), buffer(as: Float.self)) { a, _ in a.doubleValue * a.doubleValue }
        case .float64: squares = accumulate(buffer(as: Double.self), buffer(as: Double.self)) { a, _ in a * a }
        }
        if squares.isFinite { return squares.squareRoot() }
        let largest = maxAbs()
        guard largest.isFinite, largest > 0 else { return largest.isNaN ? .nan : largest }
        let scaled: Double
        switch dtype {
        case .float32: scaled = accumulate(buffer(as: Float.self), buffer(as: Float.self)) { a, _ in
            let x = a.doubleValue / largest; return x * x }
        case .float64: scaled = accumulate(buffer(as: Double.self), buffer(as: Double.self)) { a, _ in
            let x = a / largest; return x * x }
        }
        return largest * scaled.squareRoot()
    }

    /// Largest absolute value (0 for an empty tensor; NaN if any element is NaN).
    public func maxAbs() -> Double {
        switch dtype {
        case .float32: return maxAbsKernel(buffer(as: Float.self))
        case .float64: return maxAbsKernel(buffer(as: Double.self))
        }
    }
}

@inline(__always)
private func accumulate<T: DescentScalar>(_ a: UnsafeMutableBufferPointer<T>, _ b: UnsafeMutableBufferPointer<T>,
                                          _ term: (T, T) -> Double) -> Double {
    guard let x = a.baseAddress, let y = b.baseAddress else { return 0 }
    let count = a.count
    var lanes = SIMD8<Double>(repeating: 0)
    var index = 0
    while index + 8 <= count {
        lanes += SIMD8(term(x[index], y[index]), term(x[index + 1], y[index + 1]),
                       term(x[index + 2], y[index + 2]), term(x[index + 3], y[index + 3]),
                       term(x[index + 4], y[index + 4]), term(x[index + 5], y[index + 5]),
                       term(x[index + 6], y[index + 6]), term(x[index + 7], y[index + 7]))
        index += 8
    }
    var tail = 0.0
    while index < count {
        tail += term(x[index], y[index])
        index += 1
    }
    let quads = lanes.lowHalf + lanes.highHalf
    let pairs = quads.lowHalf + quads.highHalf
    return (pairs[0] + pairs[1]) + tail
}

@inline(__always)
private func maxAbsKernel<T: DescentScalar>(_ values: UnsafeMutableBufferPointer<T>) -> Double {
    var largest: T = 0
    for value in values {
        if value.isNaN { return .nan }
        let magnitude = value.magnitude
        if magnitude > largest { largest = magnitude }
    }
    return largest.doubleValue
}
