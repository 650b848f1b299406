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
    /// float32.
    public static var dtype: DType { .float32 }
    /// The value widened to `Double`.
    @inlinable public var doubleValue: Double { Double(self) }
    /// The IEEE square root without errno (see the protocol).
    @inline(__always) public var kernelSquareRoot: Float { dsupport_sqrtf(self) }

    /// BLAS saxpy.
    public static func blasAxpy(count: Int32, alpha: Float, x: UnsafePointer<Float>, y: UnsafeMutablePointer<Float>) {
        dsupport_saxpy(count, alpha, x, y)
    }
    /// BLAS sscal.
    public static func blasScale(count: Int32, alpha: Float, x: UnsafeMutablePointer<Float>) {
        dsupport_sscal(count, alpha, x)
    }
    /// BLAS sgemm, row-major.
    public static func blasGemm(transposeA: Bool, transposeB: Bool, m: Int32, n: Int32, k: Int32,
                                alpha: Float, a: UnsafePointer<Float>, lda: Int32,
                                b: UnsafePointer<Float>, ldb: Int32,
                                beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int32) {
        partitionedGemm(m, n, GemmBlock(transposeA: transposeA, transposeB: transposeB, k: k, alpha: alpha, a: a,
                                        lda: lda, b: b, ldb: ldb, beta: beta, c: c, ldc: ldc))
    }
}

extension Double: DescentScalar {
    /// float64.
    public static var dtype: DType { .float64 }
    /// The value itself.
    @inlinable public var doubleValue: Double { self }
    /// The IEEE square root without errno (see the protocol).
    @inline(__always) public var kernelSquareRoot: Double { dsupport_sqrt(self) }

    /// BLAS daxpy.
    public static func blasAxpy(count: Int32, alpha: Double, x: UnsafePointer<Double>, y: UnsafeMutablePointer<Double>) {
        dsupport_daxpy(count, alpha, x, y)
    }
    /// BLAS dscal.
    public static func blasScale(count: Int32, alpha: Double, x: UnsafeMutablePointer<Double>) {
        dsupport_dscal(count, alpha, x)
    }
    /// BLAS dgemm, row-major.
    public static func blasGemm(transposeA: Bool, transposeB: Bool, m: Int32, n: Int32, k: Int32,
                                alpha: Double, a: UnsafePointer<Double>, lda: Int32,
                                b: UnsafePointer<Double>, ldb: Int32,
                                beta: Double, c: UnsafeMutablePointer<Double>, ldc: Int32) {
        partitionedGemm(m, n, GemmBlock(transposeA: transposeA, transposeB: transposeB, k: k, alpha: alpha, a: a,
                                        lda: lda, b: b, ldb: ldb, beta: beta, c: c, ldc: ldc))
    }
}


/// One row-major BLAS gemm call, C = alpha op(A) op(B) + beta C, over the block of C with
/// `rows` x `columns` elements at (`i`, `j`): the arguments of the whole product, by value.
struct GemmBlock<T: DescentScalar> {
    let transposeA, transposeB: Bool
    let k: Int32
    let alpha: T
    let a: UnsafePointer<T>
    let lda: Int32
    let b: UnsafePointer<T>
    let ldb: Int32
    let beta: T
    let c: UnsafeMutablePointer<T>
    let ldc: Int32

    func callAsFunction(_ rows: Int32, _ columns: Int32, _ i: Int, _ j: Int) {
        let a = UnsafeRawPointer(self.a + (transposeA ? i : i * Int(lda)))
        let b = UnsafeRawPointer(self.b + (transposeB ? j * Int(ldb) : j))
        let c = UnsafeMutableRawPointer(self.c + i * Int(ldc) + j)
        let (ta, tb): (Int32, Int32) = (transposeA ? 1 : 0, transposeB ? 1 : 0)
        if T.self == Float.self {  // resolved when specialized; alpha and beta convert exactly
            dsupport_sgemm(ta, tb, rows, columns, k, Float(alpha.doubleValue), a.assumingMemoryBound(to: Float.self),
                           lda, b.assumingMemoryBound(to: Float.self), ldb, Float(beta.doubleValue),
                           c.assumingMemoryBound(to: Float.self), ldc)
        } else {
            dsupport_dgemm(ta, tb, rows, columns, k, alpha.doubleValue, a.assumingMemoryBound(to: Double.self), lda,
                           b.assumingMemoryBound(to: Double.self), ldb, beta.doubleValue,
                           c.assumingMemoryBound(to: Double.self), ldc)
        }
    }
}

/// Runs the m x n product `block` as `block(rows, columns, firstRow, firstColumn)` calls.
/// With a single-threaded BLAS (`dsupport_blas_partitioned`), a large product is cut along its
/// longer output side into blocks whose count and size depend only on (m, n, k) — at least 128
/// rows or columns each, at most 16 blocks, about 2^19 multiply-adds or more per block — and the
/// blocks run on the worker pool. Every block is the same BLAS call whichever thread runs it, so
/// the result is bit-identical for any thread count. Otherwise it is one call.
@inline(__always)
func partitionedGemm<T: DescentScalar>(_ m: Int32, _ n: Int32, _ block: GemmBlock<T>) {
    let (rows, columns, depth) = (Int(m), Int(n), Int(block.k))
    let work = rows * columns * depth
    guard dsupport_blas_partitioned() != 0, work >= 1 << 20 else {
        block(m, n, 0, 0)
        return
    }
    let alongColumns = columns >= rows
    let side = alongColumns ? columns : rows
    let blocks = max(1, min(16, side / 128, work >> 19))
    let size = (side + blocks - 1) / blocks
    let count = (side + size - 1) / size
    Parallel.forEachChunk(count: count, minimumChunk: 1, alignment: 1,
                          GemmBlocks(block: block, m: m, n: n, size: size, side: side, alongColumns: alongColumns))
}

/// Blocks `range` of a partitioned product (a `Parallel` job).
private struct GemmBlocks<T: DescentScalar>: ChunkJob {
    let block: GemmBlock<T>
    let m, n: Int32
    let size, side: Int
    let alongColumns: Bool

    func run(_ range: Range<Int>) {
        for index in range {
            let start = index * size, extent = min(size, side - start)
            if alongColumns {
                block(m, Int32(extent), 0, start)
            } else {
                block(Int32(extent), n, start, 0)
            }
        }
    }
}
