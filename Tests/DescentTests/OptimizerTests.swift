import XCTest
@testable import Descent

final class OptimizerTests: XCTestCase {
    /// The non-finite scan (exponent-carry trick) against Swift's own isFinite, both dtypes, on
    /// every kernel path: special values at every position of buffers of 37 and 1037 elements (read
    /// as one stream) and of 2053 (read as 8 interleaved parts: every part's vector body, every
    /// part boundary and the leftover tail).
    func testAllFiniteMatchesIsFinite() throws {
        let specials: [Double] = [.nan, .infinity, -.infinity, .greatestFiniteMagnitude, -0.0,
                                  .leastNonzeroMagnitude, 1e300]
        let previous = try KernelPath.current
        defer { try? KernelPath.select(previous) }
        for path in KernelPath.available {
            try KernelPath.select(path)
            for count in [37, 1037, 2053] {
                for special in specials {
                    for position in 0..<count {
                        var doubles = [Double](repeating: 1.5, count: count)
                        doubles[position] = special
                        var floats = doubles.map { Float($0) }
                        let expectDouble = doubles.allSatisfy { $0.isFinite }
                        let expectFloat = floats.allSatisfy { $0.isFinite }
                        doubles.withUnsafeMutableBufferPointer { buffer in
                            XCTAssertEqual(allFinite(UnsafePointer(buffer.baseAddress!), 0..<count), expectDouble,
                                           "\(path) \(count) \(special) at \(position)")
                        }
                        floats.withUnsafeMutableBufferPointer { buffer in
                            XCTAssertEqual(allFinite(UnsafePointer(buffer.baseAddress!), 0..<count), expectFloat,
                                           "\(path) \(count) \(special) at \(position)")
                        }
                    }
                }
            }
        }
    }

    /// The stateful optimizer over two tensors gives the same bits as functional steps.
    func testOptimizerMatchesFunctionalSteps() throws {
        let first = try Tensor.randomNormal(seed: 1, mean: 0, std: 1, dtype: .float32, shape: [100])
        let second = try Tensor.randomNormal(seed: 2, mean: 0, std: 1, dtype: .float64, shape: [3, 7])
        let gradients = [try Tensor.randomNormal(seed: 3, mean: 0, std: 1, dtype: .float32, shape: [100]),
                         try Tensor.randomNormal(seed: 4, mean: 0, std: 1, dtype: .float64, shape: [3, 7])]
        let copies = [try first.copy(), try second.copy()]
        let moments = try copies.map { [try Tensor.zeros(dtype: $0.dtype, shape: $0.shape),
                                        try Tensor.zeros(dtype: $0.dtype, shape: $0.shape)] }
        let optimizer = Optimizer(rule: .adam)
        try optimizer.setHyperparameter(group: -1, .learningRate, 0.01)
        _ = try optimizer.addGroup([first, second])
        try optimizer.bindGradients(gradients)
        var hyper = Hyperparameters.defaults(for: .adam)
        hyper.learningRate = 0.01
        for step in 1...5 {
            XCTAssertFalse(try optimizer.step())
            for (index, copy) in copies.enumerated() {
                try FunctionalStep.apply(rule: .adam, dtype: copy.dtype, count: copy.count, param: copy.storage,
                                         grad: UnsafeRawPointer(gradients[index].storage),
                                         state: .init(moments[index][0].storage, moments[index][1].storage),
                                         step: Int64(step), hyper: hyper)
            }
        }
        XCTAssertEqual(Array(try first.elements(Float.self)), Array(try copies[0].elements(Float.self)))
        XCTAssertEqual(Array(try second.elements(Double.self)), Array(try copies[1].elements(Double.self)))
        XCTAssertEqual(try optimizer.summary.stepCount, 5)
    }

    func testInvalidHyperparametersAreRejected() {
        XCTAssertThrowsError(try Hyperparameters.defaults(for: .adam).setting(.beta1, 1.0, for: .adam))
        XCTAssertThrowsError(try Hyperparameters.defaults(for: .adam).setting(.rho, 0.5, for: .adam))
        XCTAssertThrowsError(try Hyperparameters.defaults(for: .sgd).setting(.learningRate, -1, for: .sgd))
        XCTAssertThrowsError(try StepPlan(rule: .adam, hyper: Hyperparameters.defaults(for: .adam), step: 0))
    }
}
