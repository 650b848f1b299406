import XCTest
@testable import Descent

final class GradientTests: XCTestCase {
    private func vector(_ values: [Double]) throws -> Tensor {
        let tensor = try Tensor.zeros(dtype: .float64, shape: [values.count])
        for (i, value) in values.enumerated() { tensor.setValue(value, at: i) }
        return tensor
    }

    func testDeltaRuleTextbookExample() throws {
        let w = try vector([-0.8, 0.5]), x = try vector([0.1, 0.3]), dw = try vector([0, 0])
        let result = try DeltaRule.step(weights: w, inputs: x, target: 0.2, learningRate: 0.5, weightStep: dw)
        let h = -0.8 * 0.1 + 0.5 * 0.3
        let yHat = 1 / (1 + exp(-h))
        let delta = (0.2 - yHat) * yHat * (1 - yHat)
        XCTAssertEqual(result.h, h, accuracy: 1e-15)
        XCTAssertEqual(result.prediction, yHat, accuracy: 1e-15)
        XCTAssertEqual(result.delta, delta, accuracy: 1e-15)
        XCTAssertEqual(dw.value(at: 1), 0.5 * delta * 0.3, accuracy: 1e-15)
    }

    func testCenteredGradientOfCubeAndExactRestore() throws {
        let x = try vector([1.5, -2.0, 0.1])
        let before = (0..<3).map { x.value(at: $0) }
        let gradient = try vector([0, 0, 0])
        try NumericalGradient.compute({ (t: Tensor) throws(DescentError) -> Double in
            (0..<t.count).reduce(0) { $0 + pow(t.value(at: $1), 3) }
        }, at: x, step: 1e-5, method: .centered, into: gradient)
        for i in 0..<3 {
            XCTAssertEqual(gradient.value(at: i), 3 * before[i] * before[i], accuracy: 1e-8)
            XCTAssertEqual(x.value(at: i), before[i])
        }
    }

    func testFailingFunctionStopsAndRestores() throws {
        let x = try vector([1, 2, 3])
        let gradient = try vector([7, 7, 7])
        var calls = 0
        XCTAssertThrowsError(try NumericalGradient.compute({ (_: Tensor) throws(DescentError) -> Double in
            calls += 1
            if calls == 3 { throw DescentError(.callback, "boom") }
            return 1
        }, at: x, step: 1e-6, method: .centered, into: gradient)) { error in
            XCTAssertEqual((error as? DescentError)?.code, .callback)
        }
        XCTAssertEqual(calls, 3)
        XCTAssertEqual((0..<3).map { x.value(at: $0) }, [1, 2, 3])
        XCTAssertEqual((0..<3).map { gradient.value(at: $0) }, [7, 7, 7])
    }

    func testSoftmaxRowsSumToOneForHugeLogits() throws {
        let x = try Tensor.zeros(dtype: .float32, shape: [2, 3])
        for (i, value) in [1000.0, 0, -1000, 5, 5, 5].enumerated() { x.setValue(value, at: i) }
        let y = try Tensor.zeros(dtype: .float32, shape: [2, 3])
        try Activation.softmax.forward(x, into: y)
        XCTAssertEqual(y.value(at: 0), 1)
        XCTAssertEqual(y.value(at: 3), 1.0 / 3.0, accuracy: 1e-7)
    }

    func testHeNormalUsesFanIn() throws {
        XCTAssertEqual(try WeightInit.heNormal.parameter(shape: [10, 50], gain: 1), (2.0 / 50).squareRoot(), accuracy: 1e-15)
        XCTAssertThrowsError(try WeightInit.fans([]))
    }
}
