#if canImport(Glibc)
import Glibc
#endif

/// Shared checks and scalar math for the gradient kernels. Every kernel in `Gradients/` reads
/// its elements as `Double`, computes in double precision and rounds once when it stores, so one
/// generic body serves float32 and float64 and float32 results are correctly rounded. (Matrix
/// products go through BLAS `Tensor.matmul` in the tensors' dtype.)
enum GradientMath {
    @inline(__always) static func sigmoid(_ x: Double) -> Double {
        // Two branches so exp never overflows: for x < 0, σ(x) = e^x / (1 + e^x).
        if x >= 0 { return 1 / (1 + exp(-x)) }
        let e = exp(x)
        return e / (1 + e)
    }

    @inline(__always) static func hyperbolicTangent(_ x: Double) -> Double { tanh(x) }

    /// log(1 + e^x) without overflow: max(x, 0) + log1p(e^{-|x|}).
    @inline(__always) static func softplus(_ x: Double) -> Double {
        max(x, 0) + log1p(exp(-abs(x)))
    }

    @inline(__always) static func naturalLog(_ x: Double) -> Double { log(x) }
    @inline(__always) static func exponential(_ x: Double) -> Double { exp(x) }
}

extension Tensor {
    /// Element `index` as a Double (kernels that already dispatched use typed buffers instead).
    func value(at index: Int) -> Double {
        switch dtype {
        case .float32: return Double(pointer(as: Float.self)[index])
        case .float64: return pointer(as: Double.self)[index]
        }
    }

    /// Stores `value` (rounded to the dtype) at `index`.
    func setValue(_ value: Double, at index: Int) {
        switch dtype {
        case .float32: pointer(as: Float.self)[index] = Float(value)
        case .float64: pointer(as: Double.self)[index] = value
        }
    }

    /// Throws `.nonFinite` if any element is NaN or infinite.
    func requireFinite(_ role: String) throws(DescentError) {
        let bad: Int?
        switch dtype {
        case .float32: bad = buffer(as: Float.self).firstIndex { !$0.isFinite }
        case .float64: bad = buffer(as: Double.self).firstIndex { !$0.isFinite }
        }
        if let bad {
            throw DescentError(.nonFinite, "\(role) has a non-finite value \(value(at: bad)) at flat index \(bad)")
        }
    }

    /// Throws `.shape` unless the shape is exactly `expected`.
    func requireShape(_ expected: [Int], _ role: String) throws(DescentError) {
        guard shape == expected else {
            throw .shape("\(role) has shape \(Shape.describe(shape)), expected \(Shape.describe(expected))")
        }
    }

    /// Throws `.dtype` unless the dtype is `expected`.
    func requireDType(_ expected: DType, _ role: String) throws(DescentError) {
        guard dtype == expected else { throw .dtype("\(role) is \(dtype), expected \(expected)") }
    }

    /// Throws `.shape` unless the tensor has rank 2; returns (rows, columns).
    public func requireMatrix(_ role: String) throws(DescentError) -> (rows: Int, columns: Int) {
        guard rank == 2 else {
            throw .shape("\(role) must have rank 2, got shape \(Shape.describe(shape))")
        }
        return (shape[0], shape[1])
    }
}

/// Throws `.invalidArgument` when two of the named tensors share storage (outputs that must not
/// alias inputs or each other).
func requireDistinctStorage(_ tensors: [(Tensor, String)]) throws(DescentError) {
    for first in 0..<tensors.count {
        for second in (first + 1)..<tensors.count where tensors[first].0.storage == tensors[second].0.storage {
            throw .argument("\(tensors[first].1) and \(tensors[second].1) must be different tensors (they share memory)")
        }
    }
}

/// Throws unless `value` is finite.
func requireFiniteScalar(_ value: Double, _ role: String) throws(DescentError) {
    guard value.isFinite else { throw DescentError(.nonFinite, "\(role) must be finite, got \(value)") }
}

/// How a loss over a batch is reduced.
public enum Reduction: Int32, Sendable {
    /// Divide the summed loss (and the gradient) by the number of samples.
    case mean = 0
    /// Plain sum over samples.
    case sum = 1

    /// The case for a raw value from the C ABI; `.invalidArgument` for an unknown one.
    public init(checking raw: Int32) throws(DescentError) {
        guard let value = Reduction(rawValue: raw) else {
            throw .argument("unknown reduction \(raw) (expected 0 = mean or 1 = sum)")
        }
        self = value
    }
}
