import DescentSupport

/// The element types kernels are written once for: `Float` and `Double`.
/// Each conformance binds the matching single- or double-precision BLAS routine.
public protocol DescentScalar: BinaryFloatingPoint, SIMDScalar, Sendable, Codable {
    static var dtype: DType { get }
    init(_ value: Double)
    var doubleValue: Double { get }
    /// The IEEE square root (NaN below zero), as `squareRoot()`, but free of libm's errno path
    /// so that update loops vectorize (see `dsupport_sqrtf` in DescentSupport.h).
    var kernelSquareRoot: Self { get }

    /// y := alpha*x + y (BLAS ?axpy).
    static func blasAxpy(count: Int32, alpha: Self, x: UnsafePointer<Self>, y: UnsafeMutablePointer<Self>)
    /// x := alpha*x (BLAS ?scal).
    static func blasScale(count: Int32, alpha: Self, x: UnsafeMutablePointer<Self>)
    /// C := alpha*op(A)*op(B) + beta*C, row-major (BLAS ?gemm).
    static func blasGemm(transposeA: Bool, transposeB: Bool, m: Int32, n: Int32, k: Int32,
                         alpha: Self, a: UnsafePointer<Self>, lda: Int32,
                         b: UnsafePointer<Self>, ldb: Int32,
                         beta: Self, c: UnsafeMutablePointer<Self>, ldc: Int32)
}


extension Float: DescentScalar {
    public static var dtype: DType { .float32 }
    @inlinable public var doubleValue: Double { Double(self) }
    @inline(__always) public var kernelSquareRoot: Float { dsupport_sqrtf(self) }

    public static func blasAxpy(count: Int32, alpha: Float, x: UnsafePointer<Float>, y: UnsafeMutablePointer<Float>) {
        dsupport_saxpy(count, alpha, x, y)
    }
    public static func blasScale(count: Int32, alpha: Float, x: UnsafeMutablePointer<Float>) {
        dsupport_sscal(count, alpha, x)
    }
    public static func blasGemm(transposeA: Bool, transposeB: Bool, m: Int32, n: Int32, k: Int32,
                                alpha: Float, a: UnsafePointer<Float>, lda: Int32,
                                b: UnsafePointer<Float>, ldb: Int32,
                                beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int32) {
        dsupport_sgemm(transposeA ? 1 : 0, transposeB ? 1 : 0, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
    }
}

extension Double: DescentScalar {
    public static var dtype: DType { .float64 }
    @inlinable public var doubleValue: Double { self }
    @inline(__always) public var kernelSquareRoot: Double { dsupport_sqrt(self) }

    public static func blasAxpy(count: Int32, alpha: Double, x: UnsafePointer<Double>, y: UnsafeMutablePointer<Double>) {
        dsupport_daxpy(count, alpha, x, y)
    }
    public static func blasScale(count: Int32, alpha: Double, x: UnsafeMutablePointer<Double>) {
        dsupport_dscal(count, alpha, x)
    }
    public static func blasGemm(transposeA: Bool, transposeB: Bool, m: Int32, n: Int32, k: Int32,
                                alpha: Double, a: UnsafePointer<Double>, lda: Int32,
                                b: UnsafePointer<Double>, ldb: Int32,
                                beta: Double, c: UnsafeMutablePointer<Double>, ldc: Int32) {
        dsupport_dgemm(transposeA ? 1 : 0, transposeB ? 1 : 0, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
    }
}

