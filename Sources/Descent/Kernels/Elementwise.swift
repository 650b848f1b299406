/// Elementwise kernels. Every function checks dtypes and shapes before touching memory, so a
/// failed call leaves all tensors as they were. Outputs may alias inputs.
/// C counterparts: `descent_tensor_add`, `_sub`, `_mul`, `_scale`, `_axpy`.
public enum BinaryOperation: Sendable {
    case add, subtract, multiply
}

extension Tensor {
    /// `out = lhs (op) rhs`, elementwise; all three tensors have one dtype and shape.
    public static func elementwise(_ operation: BinaryOperation, _ lhs: Tensor, _ rhs: Tensor,
                                   into out: Tensor) throws(DescentError) {
        try lhs.requireSameLayout(as: rhs, "right operand")
        try lhs.requireSameLayout(as: out, "output")
        switch lhs.dtype {
        case .float32: elementwiseKernel(operation, lhs.buffer(as: Float.self), rhs.buffer(as: Float.self), out.buffer(as: Float.self))
        case .float64: elementwiseKernel(operation, lhs.buffer(as: Double.self), rhs.buffer(as: Double.self), out.buffer(as: Double.self))
        }
    }

    /// `self *= alpha`, in place (BLAS ?scal).
    public func scale(by alpha: Double) throws(DescentError) {
        switch dtype {
        case .float32: inBlasChunks(count) { offset, length in
            Float.blasScale(count: length, alpha: Float(alpha), x: pointer(as: Float.self) + offset) }
        case .float64: inBlasChunks(count) { offset, length in
            Double.blasScale(count: length, alpha: alpha, x: pointer(as: Double.self) + offset) }
        }
    }

    /// `self += alpha * x`, in place (BLAS ?axpy).
    public func axpy(_ alpha: Double, _ x: Tensor) throws(DescentError) {
        try requireSameLayout(as: x, "x")
        switch dtype {
        case .float32: inBlasChunks(count) { offset, length in
            Float.blasAxpy(count: length, alpha: Float(alpha), x: x.pointer(as: Float.self) + offset,
                           y: pointer(as: Float.self) + offset) }
        case .float64: inBlasChunks(count) { offset, length in
            Double.blasAxpy(count: length, alpha: alpha, x: x.pointer(as: Double.self) + offset,
                            y: pointer(as: Double.self) + offset) }
        }
    }
}

@inline(__always)
private func elementwiseKernel<T: DescentScalar>(_ operation: BinaryOperation,
                                                 _ lhs: UnsafeMutableBufferPointer<T>,
                                                 _ rhs: UnsafeMutableBufferPointer<T>,
                                                 _ out: UnsafeMutableBufferPointer<T>) {
    guard let a = lhs.baseAddress, let b = rhs.baseAddress, let c = out.baseAddress else { return }
    let count = out.count
    switch operation {
    case .add: for i in 0..<count { c[i] = a[i] + b[i] }
    case .subtract: for i in 0..<count { c[i] = a[i] - b[i] }
    case .multiply: for i in 0..<count { c[i] = a[i] * b[i] }
    }
}

/// BLAS lengths are 32-bit: split longer vectors into chunks (the result is the same, since
/// ?axpy and ?scal are elementwise).
@inline(__always)
func inBlasChunks(_ count: Int, _ body: (_ offset: Int, _ length: Int32) -> Void) {
    let chunk = Int(Int32.max) & ~63
    var offset = 0
    while offset < count {
        let length = min(chunk, count - offset)
        body(offset, Int32(length))
        offset += length
    }
}
