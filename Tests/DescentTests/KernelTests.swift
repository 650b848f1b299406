import Dispatch
import XCTest
@testable import Descent

/// Kernels against plain Swift loops over the same numbers.
final class KernelTests: XCTestCase {
    private func tensor(_ values: [Double], _ shape: [Int]) throws -> Tensor {
        try values.withUnsafeBytes { raw in
            try Tensor.copying(raw.baseAddress!, capacity: values.count, dtype: .float64, shape: shape)
        }
    }

    func testElementwiseAndReductions() throws {
        let a = try tensor([1, -2, 3, -4, 5, -6, 7, -8, 9], [3, 3])
        let b = try tensor([0.5, 1, 1.5, 2, 2.5, 3, 3.5, 4, 4.5], [3, 3])
        let out = try Tensor.zeros(dtype: .float64, shape: [3, 3])
        try Tensor.elementwise(.multiply, a, b, into: out)
        let av = Array(try a.elements(Double.self)), bv = Array(try b.elements(Double.self))
        XCTAssertEqual(Array(try out.elements(Double.self)), zip(av, bv).map { $0 * $1 })
        XCTAssertEqual(a.sum(), av.reduce(0, +))
        XCTAssertEqual(try a.dot(b), zip(av, bv).map { $0 * $1 }.reduce(0, +), accuracy: 1e-12)
        XCTAssertEqual(a.normL2(), av.map { $0 * $0 }.reduce(0, +).squareRoot(), accuracy: 1e-12)
        XCTAssertEqual(a.maxAbs(), 9)
        XCTAssertEqual(a.mean(), av.reduce(0, +) / 9)
    }

    func testShapeMismatchLeavesOutputAlone() throws {
        let a = try Tensor.ones(dtype: .float64, shape: [2, 2])
        let b = try Tensor.ones(dtype: .float64, shape: [4])
        let out = try Tensor.full(7, dtype: .float64, shape: [2, 2])
        XCTAssertThrowsError(try Tensor.elementwise(.add, a, b, into: out))
        XCTAssertEqual(Array(try out.elements(Double.self)), [7, 7, 7, 7])
    }

    func testMatmulWithTransposes() throws {
        let a = try tensor([1, 2, 3, 4, 5, 6], [2, 3])      // 2x3
        let b = try tensor([1, 0, -1, 2, 1, 0], [2, 3])     // 2x3, used transposed
        let c = try Tensor.zeros(dtype: .float64, shape: [2, 2])
        try Tensor.matmul(a, b, transposeA: false, transposeB: true, alpha: 1, beta: 0, into: c)
        // rows of a dotted with rows of b
        let expected: [Double] = [-2, 4, -2, 13]  // 1-3, 2+2, 4-6, 8+5
        XCTAssertEqual(Array(try c.elements(Double.self)), expected)
        XCTAssertThrowsError(try Tensor.matmul(a, b, transposeA: false, transposeB: false, alpha: 1, beta: 0, into: c))
    }

    func testGradientDescentStepAndTextbookExample() throws {
        let w = try tensor([10], [1])
        let g = try Tensor.zeros(dtype: .float64, shape: [1])
        for _ in 0..<200 {
            let current = try w.elements(Double.self)[0]
            try g.elements(Double.self)[0] = TextbookQuadratic.gradient(current)
            try GradientDescent.step(w, gradient: g, learningRate: 1)
        }
        XCTAssertEqual(try w.elements(Double.self)[0], 5, accuracy: 1e-12)
        XCTAssertThrowsError(try GradientDescent.step(w, gradient: g, learningRate: -1))
        XCTAssertThrowsError(try GradientDescent.step(w, gradient: w, learningRate: 1))
    }

    func testSplitMix64MatchesPublishedOutputs() {
        // First outputs of SplitMix64 from state 0 (Vigna's reference splitmix64.c).
        let generator = SplitMix64(seed: 0)
        XCTAssertEqual(generator.output(0), 0xE220_A839_7B1D_CDAF)
        XCTAssertEqual(generator.output(1), 0x6E78_9E6A_A1B9_65F4)
        XCTAssertEqual(generator.output(2), 0x06C4_5D18_8009_454F)
    }

    func testParallelChunksCoverEveryIndexOnce() {
        let count = 1_000_003
        let hits = UnsafeMutableBufferPointer<UInt8>.allocate(capacity: count)
        defer { hits.deallocate() }
        hits.initialize(repeating: 0)
        Parallel.forEachChunk(count: count, minimumChunk: 1000, Hits(hits: hits, base: 0, nested: false))
        XCTAssertTrue(hits.allSatisfy { $0 == 1 })
    }

    /// Counts each index of its range in `hits` (offset by `base`); `nested` runs a second
    /// `Parallel` job over the range from inside the first.
    private struct Hits: ChunkJob {
        let hits: UnsafeMutableBufferPointer<UInt8>
        let base: Int
        let nested: Bool

        func run(_ range: Range<Int>) {
            guard nested else {
                for index in range { hits[base + index] &+= 1 }
                return
            }
            Parallel.forEachChunk(count: range.count, minimumChunk: 1000,
                                  Hits(hits: hits, base: base + range.lowerBound, nested: false))
        }
    }

    func testParallelCheckedJobRunsOnlyWhenEveryChunkPasses() {
        // The two phases of forEachChunk(count:checking:): every index is checked once; the run
        // phase covers every index once when all checks pass, and no index when one fails.
        let count = 300_007
        let checks = UnsafeMutableBufferPointer<UInt8>.allocate(capacity: count)
        let runs = UnsafeMutableBufferPointer<UInt8>.allocate(capacity: count)
        defer { checks.deallocate(); runs.deallocate() }
        for failAt in [nil, 0, count / 2, count - 1] as [Int?] {
            checks.initialize(repeating: 0)
            runs.initialize(repeating: 0)
            let passed = Parallel.forEachChunk(count: count, minimumChunk: 1000,
                                               checking: Checked(checks: checks, runs: runs, failAt: failAt ?? -1))
            XCTAssertEqual(passed, failAt == nil)
            XCTAssertTrue(checks.allSatisfy { $0 == 1 })
            XCTAssertTrue(runs.allSatisfy { $0 == (failAt == nil ? 1 : 0) })
        }
    }

    private struct Checked: CheckedChunkJob {
        let checks, runs: UnsafeMutableBufferPointer<UInt8>
        let failAt: Int

        func check(_ range: Range<Int>) -> Bool {
            for index in range { checks[index] &+= 1 }
            return !range.contains(failAt)
        }

        func run(_ range: Range<Int>) {
            for index in range { runs[index] &+= 1 }
        }
    }

    func testParallelNestedAndConcurrentCallsRunEveryIndexOnce() {
        // A nested call finds the pool busy and runs inline; concurrent callers likewise.
        let count = 300_000
        nonisolated(unsafe) let hits = UnsafeMutableBufferPointer<UInt8>.allocate(capacity: count * 4)
        defer { hits.deallocate() }
        hits.initialize(repeating: 0)
        DispatchQueue.concurrentPerform(iterations: 4) { caller in
            let base = caller * count
            Parallel.forEachChunk(count: count, minimumChunk: 1000, Hits(hits: hits, base: base, nested: true))
        }
        XCTAssertTrue(hits.allSatisfy { $0 == 1 })
    }
}
