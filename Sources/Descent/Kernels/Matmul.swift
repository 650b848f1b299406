/// Matrix multiply through BLAS ?gemm. C counterpart: `descent_tensor_matmul`.
extension Tensor {
    /// `c = alpha * op(a) * op(b) + beta * c` for rank-2 tensors, where `op(x)` is `x` or its
    /// transpose. Shapes: op(a) is m x k, op(b) is k x n, c is m x n. With `beta == 0` the
    /// previous contents of `c` are ignored (NaN included). `c` must not alias `a` or `b`.
    public static func matmul(_ a: Tensor, _ b: Tensor, transposeA: Bool, transposeB: Bool,
                              alpha: Double, beta: Double, into c: Tensor) throws(DescentError) {
        guard a.dtype == b.dtype, a.dtype == c.dtype else {
            throw .dtype("matmul operands are \(a.dtype), \(b.dtype) and \(c.dtype); they must match")
        }
        guard a.rank == 2, b.rank == 2, c.rank == 2 else {
            throw .shape("matmul needs rank-2 tensors, got ranks \(a.rank), \(b.rank), \(c.rank)")
        }
        guard c !== a, c !== b, c.storage != a.storage, c.storage != b.storage else {
            throw .argument("matmul output must not alias an operand")
        }
        let (m, k) = transposeA ? (a.shape[1], a.shape[0]) : (a.shape[0], a.shape[1])
        let (kb, n) = transposeB ? (b.shape[1], b.shape[0]) : (b.shape[0], b.shape[1])
        guard k == kb else {
            throw .shape("matmul inner dimensions differ: op(a) is \(m)x\(k), op(b) is \(kb)x\(n)")
        }
        guard c.shape == [m, n] else {
            throw .shape("matmul output has shape \(Shape.describe(c.shape)), expected (\(m), \(n))")
        }
        let limit = Int(Int32.max)
        guard a.shape.allSatisfy({ $0 <= limit }), b.shape.allSatisfy({ $0 <= limit }) else {
            throw DescentError(.unsupported, "matmul dimensions above 2^31-1 are not supported by BLAS")
        }
        guard m > 0, n > 0 else { return }
        if k == 0 {
            // BLAS leaves C untouched when k == 0 only for some implementations; do it explicitly.
            try c.scale(by: beta)
            if beta == 0 { c.storage.initializeMemory(as: UInt8.self, repeating: 0, count: c.byteCount) }
            return
        }
        let lda = Int32(max(a.shape[1], 1)), ldb = Int32(max(b.shape[1], 1)), ldc = Int32(max(n, 1))
        switch a.dtype {
        case .float32:
            Float.blasGemm(transposeA: transposeA, transposeB: transposeB, m: Int32(m), n: Int32(n), k: Int32(k),
                           alpha: Float(alpha), a: a.pointer(as: Float.self), lda: lda,
                           b: b.pointer(as: Float.self), ldb: ldb,
                           beta: Float(beta), c: c.pointer(as: Float.self), ldc: ldc)
        case .float64:
            Double.blasGemm(transposeA: transposeA, transposeB: transposeB, m: Int32(m), n: Int32(n), k: Int32(k),
                            alpha: alpha, a: a.pointer(as: Double.self), lda: lda,
                            b: b.pointer(as: Double.self), ldb: ldb,
                            beta: beta, c: c.pointer(as: Double.self), ldc: ldc)
        }
    }
}
