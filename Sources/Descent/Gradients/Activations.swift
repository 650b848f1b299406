/// Activation functions, their derivatives and their backward passes (vector-Jacobian products).
///
/// | kind       | f(x)                                  | f'(x)                                    |
/// |------------|---------------------------------------|------------------------------------------|
/// | identity   | x                                     | 1                                        |
/// | sigmoid    | σ(x) = 1 / (1 + e^{-x})               | σ(x)(1 - σ(x))                           |
/// | tanh       | tanh(x)                               | 1 - tanh²(x)                             |
/// | relu       | max(0, x)                             | 1 if x > 0 else 0 (0 at x = 0)           |
/// | leakyRelu  | x if x > 0 else αx                    | 1 if x > 0 else α (α at x = 0)           |
/// | softmax    | e^{x_i - m} / Σ_j e^{x_j - m}, m = max | Jacobian diag(y) - y yᵀ along last axis  |
///
/// Softmax works along the last axis (each row of a (batch, classes) tensor); its backward is
/// `dx = y ⊙ (dy - Σ_j dy_j y_j)` per row. Everything else is elementwise.
/// C counterparts: `descent_activation_forward`, `_derivative`, `_backward`.
public enum Activation: Int32, Sendable, CaseIterable {
    case identity = 0
    case sigmoid = 1
    case tanh = 2
    case relu = 3
    case leakyRelu = 4
    case softmax = 5

    /// The case for a raw value from the C ABI; `.invalidArgument` for an unknown one.
    public init(checking raw: Int32) throws(DescentError) {
        guard let value = Activation(rawValue: raw) else {
            throw .argument("unknown activation \(raw) (expected 0...5: identity, sigmoid, tanh, relu, leaky_relu, softmax)")
        }
        self = value
    }

    /// `y = f(x)`. `y` has x's dtype and shape and may be x itself.
    public func forward(_ x: Tensor, into y: Tensor, negativeSlope: Double = 0.01) throws(DescentError) {
        try validate(x, negativeSlope)
        try x.requireSameLayout(as: y, "output")
        switch x.dtype {
        case .float32: apply(Float.self, x, y, negativeSlope)
        case .float64: apply(Double.self, x, y, negativeSlope)
        }
    }

    /// `d = f'(x)` elementwise. Softmax has a Jacobian, not an elementwise derivative: use
    /// `backward` (this throws `.unsupported` for it).
    public func derivative(_ x: Tensor, into d: Tensor, negativeSlope: Double = 0.01) throws(DescentError) {
        try validate(x, negativeSlope)
        try x.requireSameLayout(as: d, "output")
        guard self != .softmax else {
            throw DescentError(.unsupported, "softmax has no elementwise derivative; use the backward pass (vector-Jacobian product)")
        }
        switch x.dtype {
        case .float32: elementwiseDerivative(Float.self, x, nil, d, negativeSlope)
        case .float64: elementwiseDerivative(Double.self, x, nil, d, negativeSlope)
        }
    }

    /// `dx = J_f(x)ᵀ dy`: elementwise `dy ⊙ f'(x)`, or the softmax row rule. `dx` may be `x` or `dy`.
    public func backward(_ x: Tensor, outputGradient dy: Tensor, into dx: Tensor,
                         negativeSlope: Double = 0.01) throws(DescentError) {
        try validate(x, negativeSlope)
        try x.requireSameLayout(as: dy, "output gradient")
        try x.requireSameLayout(as: dx, "input gradient")
        switch (self, x.dtype) {
        case (.softmax, .float32): softmaxBackward(Float.self, x, dy, dx)
        case (.softmax, .float64): softmaxBackward(Double.self, x, dy, dx)
        case (_, .float32): elementwiseDerivative(Float.self, x, dy, dx, negativeSlope)
        case (_, .float64): elementwiseDerivative(Double.self, x, dy, dx, negativeSlope)
        }
    }

    private func validate(_ x: Tensor, _ negativeSlope: Double) throws(DescentError) {
        if self == .leakyRelu { try requireFiniteScalar(negativeSlope, "leaky ReLU negative slope") }
        if self == .softmax && x.rank == 0 {
            throw .shape("softmax needs rank >= 1 (it normalizes along the last axis)")
        }
    }

    /// f(x) for one element (not softmax).
    @inline(__always)
    func scalar(_ x: Double, _ slope: Double) -> Double {
        switch self {
        case .identity, .softmax: return x
        case .sigmoid: return GradientMath.sigmoid(x)
        case .tanh: return GradientMath.hyperbolicTangent(x)
        case .relu: return !(x <= 0) ? x : 0  // NaN propagates
        case .leakyRelu: return x > 0 ? x : slope * x
        }
    }

    /// f'(x) for one element (not softmax).
    @inline(__always)
    func scalarDerivative(_ x: Double, _ slope: Double) -> Double {
        switch self {
        case .identity, .softmax: return 1
        case .sigmoid: let s = GradientMath.sigmoid(x); return s * (1 - s)
        case .tanh: let t = GradientMath.hyperbolicTangent(x); return 1 - t * t
        case .relu: return x > 0 ? 1 : 0
        case .leakyRelu: return x > 0 ? 1 : slope
        }
    }

    private func apply<T: DescentScalar>(_: T.Type, _ x: Tensor, _ y: Tensor, _ slope: Double) {
        let input = x.buffer(as: T.self), output = y.buffer(as: T.self)
        if self == .softmax {
            let width = x.shape[x.rank - 1]
            // An empty tensor may still have a huge last extent: never size the row buffer by it.
            guard width > 0, x.count > 0 else { return }
            var row: [Double] = Array(repeating: 0, count: width)
            for start in stride(from: 0, to: x.count, by: width) {
                softmaxRow(input, start, &row)
                for j in 0..<width { output[start + j] = T(row[j]) }
            }
            return
        }
        Parallel.forEachChunk(count: x.count, minimumChunk: 1 << 14,
                              ElementwiseJob(activation: self, input: input, upstream: nil, output: output,
                                             slope: slope, derivative: false))
    }

    /// d[i] = f'(x[i]) (dy == nil) or dy[i] * f'(x[i]).
    private func elementwiseDerivative<T: DescentScalar>(_: T.Type, _ x: Tensor, _ dy: Tensor?, _ d: Tensor,
                                                          _ slope: Double) {
        let input = x.buffer(as: T.self), output = d.buffer(as: T.self)
        let upstream = dy?.buffer(as: T.self)
        Parallel.forEachChunk(count: x.count, minimumChunk: 1 << 14,
                              ElementwiseJob(activation: self, input: input, upstream: upstream, output: output,
                                             slope: slope, derivative: true))
    }

    /// An elementwise activation over a range (a `Parallel` job): output[i] = f(x[i]), or with
    /// `derivative` f'(x[i]) times upstream[i] (f'(x[i]) alone without upstream).
    private struct ElementwiseJob<T: DescentScalar>: ChunkJob {
        let activation: Activation
        let input: UnsafeMutableBufferPointer<T>
        let upstream: UnsafeMutableBufferPointer<T>?
        let output: UnsafeMutableBufferPointer<T>
        let slope: Double
        let derivative: Bool

        func run(_ range: Range<Int>) {
            guard derivative else {
                for i in range { output[i] = T(activation.scalar(input[i].doubleValue, slope)) }
                return
            }
            for i in range {
                let local = activation.scalarDerivative(input[i].doubleValue, slope)
                output[i] = T(upstream.map { $0[i].doubleValue * local } ?? local)
            }
        }
    }

    private func softmaxBackward<T: DescentScalar>(_: T.Type, _ x: Tensor, _ dy: Tensor, _ dx: Tensor) {
        let input = x.buffer(as: T.self), upstream = dy.buffer(as: T.self), output = dx.buffer(as: T.self)
        let width = x.shape[x.rank - 1]
        guard width > 0, x.count > 0 else { return }  // empty: the last extent may still be huge
        var row: [Double] = Array(repeating: 0, count: width)
        var incoming: [Double] = Array(repeating: 0, count: width)
        for start in stride(from: 0, to: x.count, by: width) {
            softmaxRow(input, start, &row)
            var dot = 0.0
            for j in 0..<width {
                incoming[j] = upstream[start + j].doubleValue
                dot += incoming[j] * row[j]
            }
            for j in 0..<width { output[start + j] = T(row[j] * (incoming[j] - dot)) }
        }
    }
}

/// Stable softmax of `input[start ..< start + row.count]` into `row` (subtracting the row max).
@inline(__always)
func softmaxRow<T: DescentScalar>(_ input: UnsafeMutableBufferPointer<T>, _ start: Int, _ row: inout [Double]) {
    let width = row.count
    var largest = -Double.infinity
    for j in 0..<width { largest = max(largest, input[start + j].doubleValue) }
    if !largest.isFinite { largest = 0 }  // all -inf (or +inf/NaN present): let IEEE propagate
    var total = 0.0
    for j in 0..<width {
        let e = GradientMath.exponential(input[start + j].doubleValue - largest)
        row[j] = e
        total += e
    }
    for j in 0..<width { row[j] /= total }
}
