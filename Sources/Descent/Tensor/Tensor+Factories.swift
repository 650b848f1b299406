/// Constructors that fill a new tensor. C counterparts: `descent_tensor_zeros`, `_ones`, `_full`,
/// `_arange`, `_linspace`, `_from_buffer`.
extension Tensor {
    /// A tensor of `shape` with every element equal to `value` (rounded to `dtype`).
    public static func full(_ value: Double, dtype: DType, shape: [Int]) throws(DescentError) -> Tensor {
        let tensor = try Tensor(uninitialized: dtype, shape: shape)
        switch dtype {
        case .float32: tensor.buffer(as: Float.self).initialize(repeating: Float(value))
        case .float64: tensor.buffer(as: Double.self).initialize(repeating: value)
        }
        return tensor
    }

    /// A tensor of `shape` filled with zeros.
    public static func zeros(dtype: DType, shape: [Int]) throws(DescentError) -> Tensor {
        let tensor = try Tensor(uninitialized: dtype, shape: shape)
        tensor.storage.initializeMemory(as: UInt8.self, repeating: 0, count: tensor.byteCount)
        return tensor
    }

    /// A tensor of `shape` filled with ones.
    public static func ones(dtype: DType, shape: [Int]) throws(DescentError) -> Tensor {
        try full(1, dtype: dtype, shape: shape)
    }

    /// Values `start + i*step` for `i = 0 ..< ceil((stop - start) / step)`, computed in float64 and
    /// rounded to `dtype` (NumPy's `arange` length rule; empty when the range is empty).
    public static func arange(start: Double, stop: Double, step: Double, dtype: DType) throws(DescentError) -> Tensor {
        guard start.isFinite, stop.isFinite, step.isFinite else {
            throw DescentError(.nonFinite, "arange needs finite start, stop and step")
        }
        guard step != 0 else { throw .argument("arange step must not be zero") }
        let span = ((stop - start) / step).rounded(.up)
        // Compare before converting: Int(_:) traps on values outside Int's range.
        guard !span.isNaN, span < Double(Int32.max) * 64 else {
            throw .shape("arange(\(start), \(stop), \(step)) has too many elements")
        }
        let count = span > 0 ? Int(span) : 0  // an empty range may be hugely negative, even -inf
        return try filled(dtype: dtype, count: count) { start + Double($0) * step }
    }

    /// `count` evenly spaced values from `start` to `stop` (NumPy's `linspace`): the spacing is
    /// `(stop - start) / (count - 1)` with `endpoint`, else `/ count`; with `endpoint` the last
    /// value is exactly `stop`. Computed in float64, rounded to `dtype`.
    public static func linspace(start: Double, stop: Double, count: Int, endpoint: Bool,
                                dtype: DType) throws(DescentError) -> Tensor {
        guard start.isFinite, stop.isFinite else {
            throw DescentError(.nonFinite, "linspace needs finite start and stop")
        }
        guard count >= 0 else { throw .shape("linspace count \(count) is negative") }
        let divisions = endpoint ? count - 1 : count
        let step = divisions > 0 ? (stop - start) / Double(divisions) : 0
        return try filled(dtype: dtype, count: count) { index in
            if endpoint && index == count - 1 && count > 1 { return stop }
            return start + Double(index) * step
        }
    }

    /// Copies `count(shape)` elements of `dtype` from `source`, which holds `capacity` elements.
    public static func copying(_ source: UnsafeRawPointer, capacity: Int, dtype: DType,
                               shape: [Int]) throws(DescentError) -> Tensor {
        let tensor = try Tensor(uninitialized: dtype, shape: shape)
        guard capacity == tensor.count else {
            throw .shape("buffer holds \(capacity) elements, shape \(Shape.describe(shape)) needs \(tensor.count)")
        }
        tensor.storage.copyMemory(from: source, byteCount: tensor.byteCount)
        return tensor
    }

    /// A 1-D tensor whose element `i` is `value(i)` rounded to `dtype`.
    static func filled(dtype: DType, count: Int, _ value: (Int) -> Double) throws(DescentError) -> Tensor {
        let tensor = try Tensor(uninitialized: dtype, shape: [count])
        switch dtype {
        case .float32:
            let out = tensor.buffer(as: Float.self)
            for index in 0..<count { out[index] = Float(value(index)) }
        case .float64:
            let out = tensor.buffer(as: Double.self)
            for index in 0..<count { out[index] = value(index) }
        }
        return tensor
    }
}

extension Tensor {
    /// Sets every element to `value` (rounded to the dtype).
    public func fill(_ value: Double) {
        switch dtype {
        case .float32: buffer(as: Float.self).update(repeating: Float(value))
        case .float64: buffer(as: Double.self).update(repeating: value)
        }
    }
}
